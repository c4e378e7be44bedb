//! The portal API's JSON bodies (docs/protocol.md §1), in one place: the CLI reads them and
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
}
