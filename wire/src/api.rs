//! The portal API's JSON bodies (docs/protocol.md §1, §2 and §9): the CLI reads them and
//! `jit-portal` writes them, so the two sides cannot drift apart.

use serde::{Deserialize, Serialize};

/// `v3/features/system`: answered to any valid token.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SystemFeatures {
    #[serde(rename = "IsOtpNeeded", default)]
    pub is_otp_needed: bool,
}

/// One entry of `admin/GetTenantsForUser`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    #[serde(rename = "TenantId")]
    pub tenant_id: String,
    #[serde(rename = "AccountName", default)]
    pub account_name: String,
    #[serde(rename = "PlanID", default)]
    pub plan_id: String,
}

/// The AWS credentials answer of the three credential paths. Every field is optional on the
/// way in: the CLI names the missing one instead of failing on the whole body.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AwsResponse {
    #[serde(
        rename = "ConsoleUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub console_url: Option<String>,
    #[serde(rename = "AccessKeyId")]
    pub access_key_id: Option<String>,
    #[serde(rename = "SecretAccessKey")]
    pub secret_access_key: Option<String>,
    #[serde(rename = "SessionToken")]
    pub session_token: Option<String>,
    #[serde(rename = "Region", default)]
    pub region: Option<String>,
    #[serde(rename = "Validity", default)]
    pub validity: Option<i64>,
    #[serde(
        rename = "Expiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration: Option<String>,
    /// The grant the vend rode on (`jit portal`, docs/protocol.md §13): the credentials die with
    /// it. Absent for standing access, and from the commercial portal.
    #[serde(rename = "JitGrant", default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::access::VendGrant>,
}

/// A cluster's API server, CA and bearer token (`DuploPlanK8ClusterConfig`, docs/protocol.md
/// §9), in the commercial portal's field order. Only `ApiServer` and `Token` are required on the
/// way in; the CLI ignores what it does not use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterConfig {
    #[serde(default)]
    pub name: String,
    pub api_server: String,
    pub token: String,
    /// DuploCloud's provider enum: 0 is EKS.
    #[serde(default)]
    pub k8_provider: i64,
    #[serde(default)]
    pub aws_region: String,
    #[serde(default)]
    pub k8s_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data_base64: Option<String>,
    /// RFC 3339; the CLI keeps the credential until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_token_refresh_time: Option<String>,
}

/// What `jit portal` promises the CLI at `/.well-known/jit-portal` (docs/protocol.md §2). A
/// portal that does not answer promises nothing.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortalFeatures {
    /// The login page echoes the CLI's one-time `state` on every callback.
    #[serde(rename = "loginState", default)]
    pub login_state: bool,
    /// The device login of §2.1: [`crate::paths::DEVICE_CODE`] and its poll.
    #[serde(rename = "deviceLogin", default)]
    pub device_login: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_config_reads_the_commercial_portals_body_and_writes_its_field_order() {
        let body = r#"{"Name":"c","ApiServer":"https://k","Token":"t","K8Provider":0,"AwsRegion":"us-west-2","K8sVersion":"","CertificateAuthorityDataBase64":"Y2E=","LastTokenRefreshTime":"2026-01-01T00:00:00Z"}"#;
        let parsed: ClusterConfig = serde_json::from_str(body).expect("parse");
        assert_eq!(parsed.api_server, "https://k");
        assert_eq!(serde_json::to_string(&parsed).expect("write"), body);
        let minimal: ClusterConfig =
            serde_json::from_str(r#"{"ApiServer":"https://k","Token":"t"}"#).expect("minimal");
        assert_eq!(minimal.certificate_authority_data_base64, None);
        assert!(serde_json::from_str::<ClusterConfig>(r#"{"Token":"t"}"#).is_err());
    }

    #[test]
    fn portal_features_spell_login_state_as_the_cli_reads_it() {
        let f = PortalFeatures {
            login_state: true,
            device_login: true,
        };
        assert_eq!(
            serde_json::to_string(&f).expect("write"),
            r#"{"loginState":true,"deviceLogin":true}"#
        );
        let none: PortalFeatures = serde_json::from_str("{}").expect("empty");
        assert!(!none.login_state);
        assert!(!none.device_login);
    }
}
