//! Getting AWS credentials for a target: from the cache while they are fresh, else from the
//! portal exactly once however many processes ask at the same moment.

use anyhow::{Context, Result, bail};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::api;
use crate::cache::{self, Cache};
use crate::host::Host;
use crate::model::{Auth, AwsCreds, CacheMode, Scope, Target};
use crate::{duration, output};

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
    /// credentials so short-lived that the window would cover all of it. An entry fetched "in
    /// the future" was written while the clock ran ahead, so its expiry is as wrong as its
    /// fetch time; one whose lifetime is negative or longer than any session is not to be
    /// trusted either.
    fn fresh(&self, window: i64) -> bool {
        self.fresh_at(window, Timestamp::now().as_second())
    }

    fn fresh_at(&self, window: i64, now: i64) -> bool {
        let expires = self.creds.expiration.as_second();
        let lifetime = expires - self.fetched_at;
        if self.fetched_at > now + cache::CLOCK_SLACK_SECS
            || !(1..=cache::MAX_LIFETIME_SECS).contains(&lifetime)
        {
            return false;
        }
        expires - now > window.min(lifetime / 2)
    }
}

/// The last failed fetch for a key; its message is what was printed, so it holds no secret.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Failure {
    at: i64,
    message: String,
    /// The portal was down rather than saying no: cached credentials may stand in.
    #[serde(default)]
    unavailable: bool,
    /// `caller_id` of who failed: only a caller asking the same way may share the failure.
    #[serde(default)]
    caller: String,
}

/// Who asks, as a digest: the API host and the token (a browser login shares the host's cached
/// token, so all interactive callers of a host are one). A wrong token's 401 is not a right
/// one's answer.
fn caller_id(target: &Target) -> String {
    let token = match &target.auth {
        Auth::Token(t) => t.expose(),
        Auth::Interactive { .. } => "",
        // Never reaches the portal: its usage error is not shared (see `get_raw`).
        Auth::Missing(_) => "\n",
    };
    crate::model::sha256_hex(&format!("{}\n{token}", target.api_host))
}

fn entry_key(target: &Target) -> String {
    let mut parts = vec![target.host.key()];
    parts.extend(target.scope.key_parts());
    parts.push("aws-creds");
    cache::key(&parts)
}

/// Credentials for `target`, honouring the cache mode; region override applied.
pub fn get(target: &Target, mode: CacheMode) -> Result<AwsCreds> {
    get_min(target, mode, None)
}

/// As `get`, with at least `min_ttl` left (`--min-ttl`). While the portal is down, cached
/// credentials that have not expired are served with a warning.
pub fn get_min(
    target: &Target,
    mode: CacheMode,
    min_ttl: Option<SignedDuration>,
) -> Result<AwsCreds> {
    let got = get_quiet(target, mode, min_ttl)?;
    if let Some(why) = &got.stale {
        output::warn(stale_warning(why, &got.creds));
    }
    Ok(got.creds)
}

/// Credentials, and why they are cached ones past their refresh point if they are.
pub struct Got {
    pub creds: AwsCreds,
    /// The portal error that made cached, not yet expired, credentials stand in.
    pub stale: Option<String>,
}

pub fn stale_warning(why: &str, creds: &AwsCreds) -> String {
    format!(
        "{why}; using cached credentials, valid for {} more",
        duration::human(creds.remaining())
    )
}

/// As `get_min` without the warning, for callers that decide how often to say it.
pub fn get_quiet(target: &Target, mode: CacheMode, min_ttl: Option<SignedDuration>) -> Result<Got> {
    let mut got = get_raw(target, mode, min_ttl)?;
    if let Some(region) = &target.region {
        got.creds.region = region.clone();
    }
    Ok(got)
}

/// Fetched credentials must cover `min_ttl`, counted from when the fetch began.
fn check_min_ttl(
    target: &Target,
    creds: AwsCreds,
    started: Timestamp,
    min_ttl: Option<SignedDuration>,
) -> Result<Got> {
    // Whole seconds: what the portal gives at least, however long the fetch took.
    let given = SignedDuration::from_secs(creds.expiration.duration_since(started).as_secs());
    if let Some(min) = min_ttl.filter(|m| given < *m) {
        bail!(
            "the portal gives {} credentials for {} at most, less than --min-ttl {}",
            target.scope.describe(),
            duration::human(given),
            duration::human(min)
        );
    }
    Ok(Got { creds, stale: None })
}

fn get_raw(target: &Target, mode: CacheMode, min_ttl: Option<SignedDuration>) -> Result<Got> {
    let started = Timestamp::now();
    let long_enough = |c: &AwsCreds| min_ttl.is_none_or(|m| c.remaining() >= m);
    if mode == CacheMode::Bypass {
        let (creds, _) = fetch(target, None, None)?;
        return check_min_ttl(target, creds, started, min_ttl);
    }
    let cache = match Cache::open() {
        Ok(c) => c,
        Err(e) => {
            output::warn(format_args!("{e:#}; continuing without the cache"));
            let (creds, _) = fetch(target, None, None)?;
            return check_min_ttl(target, creds, started, min_ttl);
        }
    };
    let key = entry_key(target);
    let window = cache::refresh_window();
    if mode == CacheMode::Use
        && let Some(entry) = cache.read::<Entry>(&key)
        && entry.fresh(window)
        && long_enough(&entry.creds)
    {
        output::debug(|| format!("cache hit {key}"));
        return Ok(Got {
            creds: entry.creds,
            stale: None,
        });
    }
    let waiting_since = Timestamp::now().as_millisecond();
    let _lock = crate::login::lock_for_fetch(&cache, &key, target)?;
    let previous = cache.read::<Entry>(&key);
    if mode == CacheMode::Use
        && let Some(entry) = previous
            .as_ref()
            .filter(|e| e.fresh(window) && long_enough(&e.creds))
    {
        output::debug(|| format!("cache filled by another process {key}"));
        return Ok(Got {
            creds: entry.creds.clone(),
            stale: None,
        });
    }
    // While the portal is down, credentials that have not expired beat an error.
    let fallback = |why: String| {
        previous
            .as_ref()
            .filter(|e| {
                mode == CacheMode::Use && e.creds.remaining().is_positive() && long_enough(&e.creds)
            })
            .map(|e| Got {
                creds: e.creds.clone(),
                stale: Some(why),
            })
    };
    // Single flight for failures too: callers queued behind a fetch that just failed get its
    // error instead of each waiting out the same broken portal in turn.
    let failed_key = format!("{key},failed");
    let caller = caller_id(target);
    if let Some(failure) = cache
        .read::<Failure>(&failed_key)
        .filter(|f| f.at >= waiting_since && f.caller == caller)
    {
        if failure.unavailable
            && let Some(got) = fallback(failure.message.clone())
        {
            return Ok(got);
        }
        bail!("{} (from a concurrent request)", failure.message);
    }
    output::debug(|| format!("cache miss {key}"));
    let hint = previous.as_ref().and_then(|e| e.tenant_id.clone());
    let (creds, tenant_id) = match fetch(target, hint, Some(&cache)) {
        Ok(found) => found,
        // A usage mistake is each caller's own to hear, with its own exit code.
        Err(e) if e.downcast_ref::<crate::model::UsageError>().is_some() => return Err(e),
        Err(e) => {
            let unavailable = crate::api::is_unavailable(&e);
            let failure = Failure {
                at: Timestamp::now().as_millisecond(),
                message: format!("{e:#}"),
                caller,
                unavailable,
            };
            let _ = cache.write(&failed_key, &failure);
            if unavailable && let Some(got) = fallback(failure.message) {
                return Ok(got);
            }
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
    check_min_ttl(target, entry.creds, started, min_ttl)
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
            Err(e) if e.downcast_ref::<api::HttpError>().is_some() && !api::is_unavailable(&e) => {
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

/// Drop every cached credential and token of `host` (a restarted demo portal mints new ones).
pub fn forget_host(host: &Host) -> Result<usize> {
    let Some(cache) = Cache::existing()? else {
        return Ok(0);
    };
    let prefix = format!("{},", cache::key(&[host.key()]));
    let keys: Vec<String> = cache
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&prefix))
        .collect();
    for key in &keys {
        cache.remove(key);
    }
    Ok(keys.len())
}

/// Drop the cached credentials (and a recorded failure) of one target, for `jit clear-cache ENV`.
pub fn forget(target: &Target) -> Result<usize> {
    let Some(cache) = Cache::existing()? else {
        return Ok(0);
    };
    let key = entry_key(target);
    let found = cache.keys().contains(&key);
    cache.remove(&key);
    cache.remove(&format!("{key},failed"));
    Ok(usize::from(found))
}

/// Drop the cached credentials of `target` if they are these keys or ride `grant`, which is
/// over: nobody is to be handed them again (another grant's, or standing access's, stay).
pub fn forget_grant(target: &Target, access_key_id: &str, grant: &str) {
    let Ok(Some(cache)) = Cache::existing() else {
        return;
    };
    let key = entry_key(target);
    if cache.read::<Entry>(&key).is_some_and(|e| {
        e.creds.access_key_id == access_key_id
            || e.creds.grant.as_ref().is_some_and(|g| g.id == grant)
    }) {
        cache.remove(&key);
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

    fn creds(expires_at: i64) -> AwsCreds {
        AwsCreds {
            console_url: "https://signin.aws.amazon.com/federation?a=1&b=2".into(),
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            region: "us-west-2".into(),
            session_token: "t".into(),
            expiration: Timestamp::from_second(expires_at).expect("ts"),
            grant: None,
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn entry(expires_in: i64, lifetime: i64) -> Entry {
        Entry {
            version: 1,
            creds: creds(NOW + expires_in),
            host: "h".into(),
            scope: "admin".into(),
            tenant_id: None,
            fetched_at: NOW + expires_in - lifetime,
        }
    }

    #[test]
    fn freshness_respects_window_and_short_lifetimes() {
        let fresh = |expires_in, lifetime| entry(expires_in, lifetime).fresh_at(900, NOW);
        assert!(fresh(3600, 3600));
        assert!(fresh(905, 3600));
        assert!(!fresh(899, 3600));
        // 15-minute credentials: served for their first half instead of never.
        assert!(fresh(800, 900));
        assert!(!fresh(400, 900));
        // 12-hour sessions are real.
        assert!(fresh(12 * 3600, 12 * 3600));
    }

    #[test]
    fn entries_a_skewed_clock_wrote_are_stale() {
        let fresh = |expires_in, lifetime| entry(expires_in, lifetime).fresh_at(900, NOW);
        // Fetched while the clock ran 8 h ahead, an hour's credentials: "9 h left" is a lie.
        assert!(!fresh(9 * 3600, 3600));
        // A step of a minute or two is not skew worth refetching for.
        assert!(fresh(3600 + 120, 3600));
        // Lifetimes no portal hands out: a day long, or expiring before they were fetched.
        assert!(!fresh(20 * 3600, 24 * 3600));
        assert!(!fresh(3600, -60));
        assert!(!fresh(3600, 0));
    }
}
