//! Kubernetes credentials (docs/protocol.md §9): the portal's cluster config turned into the
//! `ExecCredential` that kubectl's exec plugin reads, field for field as duplo-jit prints it, so
//! a kubeconfig written for duplo-jit works unchanged.

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::cache::{self, Cache};
use jit_wire::api::ClusterConfig;

use crate::model::{CacheMode, ClusterScope, Target};
use crate::output;

/// When the portal gives no `LastTokenRefreshTime`, duplo-jit assumes 55 minutes.
const DEFAULT_LIFETIME: SignedDuration = SignedDuration::from_secs(55 * 60);

/// `client.authentication.k8s.io/v1beta1` ExecCredential, fields in the order Go encodes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecCredential {
    pub kind: String,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub spec: Spec,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Spec {
    pub cluster: Cluster,
    pub interactive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cluster {
    pub server: String,
    #[serde(
        rename = "insecure-skip-tls-verify",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub insecure_skip_tls_verify: bool,
    #[serde(
        rename = "certificate-authority-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_authority_data: Option<String>,
    /// Go's `runtime.RawExtension` with nothing in it encodes as `null`.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    #[serde(rename = "expirationTimestamp")]
    pub expiration_timestamp: String,
    pub token: String,
}

impl ExecCredential {
    pub fn from_cluster(config: &ClusterConfig, now: Timestamp) -> Result<Self> {
        let ca = config
            .certificate_authority_data_base64
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                let engine = base64::engine::general_purpose::STANDARD;
                engine
                    .decode(c.trim())
                    .map(|der| engine.encode(der))
                    .context("the portal's CertificateAuthorityDataBase64 is not base64")
            })
            .transpose()?;
        let expiration = match config.last_token_refresh_time.as_deref() {
            Some(t) if !t.is_empty() => t.parse::<Timestamp>().map_err(|e| {
                anyhow!("the portal's LastTokenRefreshTime '{t}' is not a time: {e}")
            })?,
            _ => now + DEFAULT_LIFETIME,
        };
        if config.token.is_empty() {
            return Err(anyhow!("the portal sent no Kubernetes token"));
        }
        Ok(ExecCredential {
            kind: "ExecCredential".into(),
            api_version: "client.authentication.k8s.io/v1beta1".into(),
            spec: Spec {
                cluster: Cluster {
                    server: config.api_server.clone(),
                    insecure_skip_tls_verify: ca.is_none(),
                    certificate_authority_data: ca,
                    config: None,
                },
                interactive: false,
            },
            status: Status {
                expiration_timestamp: jit_wire::time::rfc3339(expiration),
                token: config.token.clone(),
            },
        })
    }

    pub fn expiration(&self) -> Option<Timestamp> {
        self.status.expiration_timestamp.parse().ok()
    }

    /// Served while more than `window` seconds remain, and never when the expiration lies
    /// further ahead than any portal gives (a clock that ran ahead wrote it).
    pub fn fresh(&self, window: i64, now: Timestamp) -> bool {
        let Some(expiration) = self.expiration() else {
            return false;
        };
        let left = expiration.as_second() - now.as_second();
        left > window && left <= cache::MAX_LIFETIME_SECS
    }
}

fn entry_key(target: &Target, scope: &ClusterScope) -> String {
    let mut parts = vec![target.host.key()];
    parts.extend(scope.key_parts());
    parts.push("k8s-creds");
    cache::key(&parts)
}

/// The ExecCredential for `scope`: from the cache while more than the refresh window remains
/// (no network call at all), else fetched once however many kubectl processes ask at once.
pub fn get(target: &Target, scope: &ClusterScope, mode: CacheMode) -> Result<ExecCredential> {
    if mode == CacheMode::Bypass {
        return fetch(target, scope, None);
    }
    let cache = match Cache::open() {
        Ok(c) => c,
        Err(e) => {
            output::warn(format_args!("{e:#}; continuing without the cache"));
            return fetch(target, scope, None);
        }
    };
    let key = entry_key(target, scope);
    let window = cache::refresh_window();
    let fresh = |cred: &ExecCredential| cred.fresh(window, Timestamp::now());
    if mode == CacheMode::Use
        && let Some(cred) = cache.read::<ExecCredential>(&key).filter(fresh)
    {
        output::debug(|| format!("cache hit {key}"));
        return Ok(cred);
    }
    let _lock = crate::login::lock_for_fetch(&cache, &key, target)?;
    if mode == CacheMode::Use
        && let Some(cred) = cache.read::<ExecCredential>(&key).filter(fresh)
    {
        output::debug(|| format!("cache filled by another process {key}"));
        return Ok(cred);
    }
    output::debug(|| format!("cache miss {key}"));
    let cred = fetch(target, scope, Some(&cache))?;
    if let Err(e) = cache.write(&key, &cred) {
        output::warn(format_args!("{e:#}; credentials not cached"));
    }
    Ok(cred)
}

fn fetch(target: &Target, scope: &ClusterScope, cache: Option<&Cache>) -> Result<ExecCredential> {
    let client = crate::login::client(target, cache)?;
    let tenant_id = match scope {
        ClusterScope::Plan(_) => None,
        ClusterScope::Tenant(t) => Some(
            client
                .resolve_tenant(t)
                .with_context(|| format!("cannot get Kubernetes credentials for tenant {t}"))?,
        ),
    };
    let config = client.k8s_config(scope, tenant_id.as_deref())?;
    ExecCredential::from_cluster(&config, Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(ca: Option<&str>, refreshed: Option<&str>) -> ClusterConfig {
        ClusterConfig {
            api_server: "https://k8s.example.com:6443".into(),
            token: "k8s-token".into(),
            certificate_authority_data_base64: ca.map(str::to_string),
            last_token_refresh_time: refreshed.map(str::to_string),
            ..ClusterConfig::default()
        }
    }

    #[test]
    fn exec_credential_is_byte_for_byte_duplo_jits() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().expect("ts");
        let with_ca = ExecCredential::from_cluster(
            &cluster(Some("Q0EtREFUQQ=="), Some("2026-11-25T13:04:05.25+01:00")),
            now,
        )
        .expect("cred");
        assert_eq!(
            serde_json::to_string(&with_ca).expect("json"),
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://k8s.example.com:6443","certificate-authority-data":"Q0EtREFUQQ==","config":null},"interactive":false},"status":{"expirationTimestamp":"2026-11-25T12:04:05Z","token":"k8s-token"}}"#
        );
        let insecure = ExecCredential::from_cluster(&cluster(None, None), now).expect("cred");
        assert_eq!(
            serde_json::to_string(&insecure).expect("json"),
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://k8s.example.com:6443","insecure-skip-tls-verify":true,"config":null},"interactive":false},"status":{"expirationTimestamp":"2026-11-25T12:55:00Z","token":"k8s-token"}}"#
        );
        let back: ExecCredential =
            serde_json::from_str(&serde_json::to_string(&insecure).expect("json")).expect("read");
        assert_eq!(back, insecure);
    }

    #[test]
    fn bad_portal_values_are_errors_and_freshness_is_bounded() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().expect("ts");
        assert!(ExecCredential::from_cluster(&cluster(Some("%%%"), None), now).is_err());
        assert!(ExecCredential::from_cluster(&cluster(None, Some("yesterday")), now).is_err());
        let cred = ExecCredential::from_cluster(&cluster(None, None), now).expect("cred");
        assert!(cred.fresh(900, now));
        assert!(!cred.fresh(900, now + SignedDuration::from_secs(41 * 60)));
        let far = ExecCredential::from_cluster(&cluster(None, Some("2026-11-27T12:00:00Z")), now)
            .expect("cred");
        assert!(
            !far.fresh(900, now),
            "an expiration two days ahead is not believed"
        );
    }
}
