//! Getting AWS credentials for a target: from the cache while they are fresh, else from the
//! portal exactly once however many processes ask at the same moment.

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api;
use crate::cache::{self, Cache};
use crate::model::{AwsCreds, CacheMode, Scope, Target};
use crate::output;

/// botocore refreshes from 15 minutes before expiry, so anything served must outlive that.
pub const DEFAULT_REFRESH_WINDOW_SECS: i64 = 15 * 60;

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
    let _lock = crate::login::lock_for_fetch(&cache, &key, target)?;
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
            Err(e) if e.downcast_ref::<api::HttpError>().is_some() => {
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
