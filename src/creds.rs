//! Getting AWS credentials for a target: from the cache while they are fresh, else from the
//! portal exactly once however many processes ask at the same moment.

use anyhow::{Context, Result, bail};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::cache::{self, Cache};
use crate::host::Host;
use crate::output;
use crate::portal::{self, Token};

/// botocore refreshes from 15 minutes before expiry, so anything served must outlive that.
pub const DEFAULT_REFRESH_WINDOW_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Admin,
    DuploOps,
    Tenant(String),
}

impl Scope {
    pub fn needs_admin_login(&self) -> bool {
        !matches!(self, Scope::Tenant(_))
    }

    fn key_parts(&self) -> Vec<&str> {
        match self {
            Scope::Admin => vec!["admin"],
            Scope::DuploOps => vec!["duplo-ops"],
            Scope::Tenant(t) => vec!["tenant", t],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::Admin => "admin".into(),
            Scope::DuploOps => "duplo-ops".into(),
            Scope::Tenant(t) => format!("tenant {t}"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Auth {
    Token(Token),
    Interactive { port: Option<u16>, browser: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Use,
    Bypass,
    Refresh,
}

impl From<crate::cli::CacheArgs> for CacheMode {
    fn from(args: crate::cli::CacheArgs) -> Self {
        if args.no_cache {
            CacheMode::Bypass
        } else if args.refresh {
            CacheMode::Refresh
        } else {
            CacheMode::Use
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub host: Host,
    pub api_host: Host,
    pub scope: Scope,
    pub auth: Auth,
    /// Overrides the portal's region (from a named environment).
    pub region: Option<String>,
    /// Exported as AWS_ENDPOINT_URL (from a named environment).
    pub endpoint_url: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsCreds {
    pub console_url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub session_token: String,
    #[serde(with = "rfc3339_secs")]
    pub expiration: Timestamp,
}

impl AwsCreds {
    /// The credential_process line (DESIGN.md §3), field order as duplo-jit prints it.
    pub fn to_process_json(&self) -> Result<String> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "Version")]
            version: u8,
            #[serde(flatten)]
            creds: &'a AwsCreds,
        }
        Ok(serde_json::to_string(&Out {
            version: 1,
            creds: self,
        })?)
    }

    pub fn remaining(&self) -> SignedDuration {
        self.expiration.duration_since(Timestamp::now())
    }
}

/// What the cache holds for one (host, scope).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub version: u8,
    #[serde(flatten)]
    pub creds: AwsCreds,
    pub host: String,
    pub scope: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub fetched_at: i64,
}

impl Entry {
    /// Serve only while more than the refresh window remains, or half the lifetime for
    /// credentials so short-lived that the window would cover all of it.
    fn fresh(&self, window: i64) -> bool {
        let lifetime = self.creds.expiration.as_second() - self.fetched_at;
        let threshold = window.min(lifetime / 2);
        self.creds.remaining().as_secs() > threshold
    }
}

/// The last failed fetch for a key; its message is what was printed, so it holds no secret.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Failure {
    at: i64,
    message: String,
}

pub fn refresh_window() -> i64 {
    std::env::var("JIT_REFRESH_WINDOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(DEFAULT_REFRESH_WINDOW_SECS)
}

fn entry_key(target: &Target) -> String {
    let mut parts = vec![target.host.key()];
    parts.extend(target.scope.key_parts());
    parts.push("aws-creds");
    cache::key(&parts)
}

/// Credentials for `target`, honouring the cache mode; region override applied.
pub fn get(target: &Target, mode: CacheMode) -> Result<AwsCreds> {
    let mut creds = get_raw(target, mode)?;
    if let Some(region) = &target.region {
        creds.region = region.clone();
    }
    Ok(creds)
}

fn get_raw(target: &Target, mode: CacheMode) -> Result<AwsCreds> {
    if mode == CacheMode::Bypass {
        return fetch(target, None, None).map(|(c, _)| c);
    }
    let cache = match Cache::open() {
        Ok(c) => c,
        Err(e) => {
            output::warn(format_args!("{e:#}; continuing without the cache"));
            return fetch(target, None, None).map(|(c, _)| c);
        }
    };
    let key = entry_key(target);
    let window = refresh_window();
    if mode == CacheMode::Use
        && let Some(entry) = cache.read::<Entry>(&key)
        && entry.fresh(window)
    {
        output::debug(|| format!("cache hit {key}"));
        return Ok(entry.creds);
    }
    let waiting_since = Timestamp::now().as_millisecond();
    let _lock = match cache.lock(&key) {
        Ok(l) => Some(l),
        Err(e) => {
            output::warn(format_args!("{e:#}; fetching without the lock"));
            None
        }
    };
    let previous = cache.read::<Entry>(&key);
    if mode == CacheMode::Use
        && let Some(entry) = previous.as_ref().filter(|e| e.fresh(window))
    {
        output::debug(|| format!("cache filled by another process {key}"));
        return Ok(entry.creds.clone());
    }
    // Single flight for failures too: callers queued behind a fetch that just failed get its
    // error instead of each waiting out the same broken portal in turn.
    let failed_key = format!("{key},failed");
    if let Some(failure) = cache
        .read::<Failure>(&failed_key)
        .filter(|f| f.at >= waiting_since)
    {
        bail!("{} (from a concurrent request)", failure.message);
    }
    output::debug(|| format!("cache miss {key}"));
    let hint = previous.and_then(|e| e.tenant_id);
    let (creds, tenant_id) = match fetch(target, hint, Some(&cache)) {
        Ok(found) => found,
        Err(e) => {
            let failure = Failure {
                at: Timestamp::now().as_millisecond(),
                message: format!("{e:#}"),
            };
            let _ = cache.write(&failed_key, &failure);
            return Err(e);
        }
    };
    cache.remove(&failed_key);
    let entry = Entry {
        version: 1,
        creds,
        host: target.host.to_string(),
        scope: target.scope.describe(),
        tenant_id,
        fetched_at: Timestamp::now().as_second(),
    };
    if let Err(e) = cache.write(&key, &entry) {
        output::warn(format_args!("{e:#}; credentials not cached"));
    }
    Ok(entry.creds)
}

/// One portal round: token, tenant id (from `hint` if known), credentials.
fn fetch(
    target: &Target,
    hint: Option<String>,
    cache: Option<&Cache>,
) -> Result<(AwsCreds, Option<String>)> {
    let client = crate::login::client(target, cache)?;
    let Scope::Tenant(tenant) = &target.scope else {
        return Ok((client.aws_credentials(&target.scope, None)?, None));
    };
    if let Some(id) = hint {
        match client.aws_credentials(&target.scope, Some(&id)) {
            Ok(c) => return Ok((c, Some(id))),
            Err(e) if e.downcast_ref::<portal::HttpError>().is_some() => {
                output::debug(|| "cached tenant id rejected; looking it up again".into());
            }
            Err(e) => return Err(e),
        }
    }
    let id = client
        .resolve_tenant(tenant)
        .with_context(|| format!("cannot get credentials for {}", target.scope.describe()))?;
    Ok((client.aws_credentials(&target.scope, Some(&id))?, Some(id)))
}

pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

mod rfc3339_secs {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

pub fn cache_entries() -> Result<Vec<(String, Entry)>> {
    let Some(cache) = Cache::existing()? else {
        return Ok(Vec::new());
    };
    Ok(cache
        .keys()
        .into_iter()
        .filter(|k| k.ends_with(",aws-creds"))
        .filter_map(|k| cache.read::<Entry>(&k).map(|e| (k, e)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(expires_in: i64) -> AwsCreds {
        AwsCreds {
            console_url: "https://signin.aws.amazon.com/federation?a=1&b=2".into(),
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            region: "us-west-2".into(),
            session_token: "t".into(),
            expiration: Timestamp::from_second(Timestamp::now().as_second() + expires_in)
                .expect("ts"),
        }
    }

    #[test]
    fn process_json_matches_duplo_jit_shape() {
        let mut c = creds(0);
        c.expiration = "2026-02-27T19:04:05.123Z".parse().expect("ts");
        assert_eq!(
            c.to_process_json().expect("json"),
            r#"{"Version":1,"ConsoleUrl":"https://signin.aws.amazon.com/federation?a=1&b=2","AccessKeyId":"ASIA1","SecretAccessKey":"s","Region":"us-west-2","SessionToken":"t","Expiration":"2026-02-27T19:04:05Z"}"#
        );
    }

    #[test]
    fn freshness_respects_window_and_short_lifetimes() {
        let now = Timestamp::now().as_second();
        let entry = |expires_in, lifetime| Entry {
            version: 1,
            creds: creds(expires_in),
            host: "h".into(),
            scope: "admin".into(),
            tenant_id: None,
            fetched_at: now + expires_in - lifetime,
        };
        assert!(entry(3600, 3600).fresh(900));
        assert!(entry(905, 3600).fresh(900));
        assert!(!entry(899, 3600).fresh(900));
        // 15-minute credentials: served for their first half instead of never.
        assert!(entry(800, 900).fresh(900));
        assert!(!entry(400, 900).fresh(900));
    }
}
