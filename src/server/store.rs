//! The portal's state: users, tenants and API tokens in one TOML file, replaced atomically and
//! guarded by a lock file so `jit portal user add` and a running server never lose each other's
//! writes. Tokens are stored as SHA-256 digests, never in clear.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

pub const MIN_SESSION_SECS: i64 = 900;
pub const MAX_SESSION_SECS: i64 = 43200;
pub const DEFAULT_VALIDITY_SECS: i64 = 3600;
/// Temporary tokens from the browser login last as long as the CLI expects a portal token to.
pub const TEMP_TOKEN_SECS: i64 = 3600;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Admin and duplo-ops JIT session length, system-wide.
    #[serde(default = "default_validity")]
    pub admin_session_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_role_arn: Option<String>,
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    #[serde(default)]
    pub tenants: BTreeMap<String, Tenant>,
    #[serde(default)]
    pub tokens: Vec<TokenRecord>,
}

fn default_validity() -> i64 {
    DEFAULT_VALIDITY_SECS
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    #[serde(default)]
    pub admin: bool,
    /// Tenant names the user may access.
    #[serde(default)]
    pub tenants: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    pub role_arn: String,
    /// "AWS access token validity" in seconds.
    #[serde(default = "default_validity")]
    pub validity_secs: i64,
    /// The role's MaxSessionDuration; sessions are clamped to it.
    #[serde(default = "max_session")]
    pub max_session_secs: i64,
    #[serde(default = "default_plan")]
    pub plan: String,
}

fn max_session() -> i64 {
    MAX_SESSION_SECS
}

fn default_plan() -> String {
    "default".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    pub user: String,
    pub sha256: String,
    /// Unix seconds; absent for permanent tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

/// Session length for a role: the wanted validity, clamped to 900 s and to what the role allows.
pub fn clamp_session(wanted: i64, role_max: i64) -> i64 {
    let ceiling = role_max.clamp(MIN_SESSION_SECS, MAX_SESSION_SECS);
    wanted.clamp(MIN_SESSION_SECS, ceiling)
}

pub fn digest(token: &str) -> String {
    crate::model::sha256_hex(token)
}

pub fn new_token() -> Result<String> {
    Ok(format!("jit_{}", crate::model::random_hex(32)?))
}

pub fn new_tenant_id() -> Result<String> {
    Ok(new_token()?.trim_start_matches("jit_")[..32].to_string())
}

impl State {
    pub fn user_for_token(&self, token: &str, now: i64) -> Option<(String, User)> {
        let hash = digest(token);
        let record = self
            .tokens
            .iter()
            .find(|t| t.sha256 == hash && t.expires.is_none_or(|e| e > now))?;
        self.users
            .get(&record.user)
            .map(|u| (record.user.clone(), u.clone()))
    }

    pub fn tenant_by_id(&self, id: &str) -> Option<(String, Tenant)> {
        self.tenants
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(n, t)| (n.clone(), t.clone()))
    }

    /// Add a token for `user`; returns the clear text, which is never stored.
    pub fn issue_token(&mut self, user: &str, ttl: Option<i64>, now: i64) -> Result<String> {
        if !self.users.contains_key(user) {
            bail!("no portal user '{user}'");
        }
        let token = new_token()?;
        self.tokens.retain(|t| t.expires.is_none_or(|e| e > now));
        self.tokens.push(TokenRecord {
            user: user.into(),
            sha256: digest(&token),
            expires: ttl.map(|t| now + t),
        });
        Ok(token)
    }
}

pub struct Store {
    path: PathBuf,
}

impl Store {
    pub fn new(path: Option<PathBuf>) -> Result<Store> {
        let path = match path {
            Some(p) => p,
            None => dirs::data_dir()
                .map(|d| d.join("jit").join("portal.toml"))
                .ok_or_else(|| anyhow!("cannot find a data directory (pass --state)"))?,
        };
        Ok(Store { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> Result<State> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                anyhow!(
                    "invalid portal state {}: {}",
                    self.path.display(),
                    e.message()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
                admin_session_secs: DEFAULT_VALIDITY_SECS,
                ..State::default()
            }),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Read, change and write the state under the store's lock.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let dir = self.path.parent().context("state path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let mut state = self.load()?;
        let out = change(&mut state)?;
        crate::atomic::write(&self.path, toml::to_string_pretty(&state)?.as_bytes())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_clamped_to_the_role() {
        assert_eq!(clamp_session(60, 43200), 900);
        assert_eq!(clamp_session(3600, 43200), 3600);
        assert_eq!(clamp_session(100_000, 43200), 43200);
        assert_eq!(
            clamp_session(7200, 3600),
            3600,
            "role MaxSessionDuration wins"
        );
        assert_eq!(clamp_session(7200, 10), 900, "never below STS's minimum");
    }

    #[test]
    fn tokens_are_hashed_and_expire() {
        let mut st = State::default();
        st.users.insert("alice".into(), User::default());
        let perm = st.issue_token("alice", None, 100).expect("token");
        let temp = st.issue_token("alice", Some(10), 100).expect("token");
        assert!(
            st.tokens
                .iter()
                .all(|t| t.sha256 != perm && t.sha256 != temp)
        );
        assert!(st.user_for_token(&perm, 1_000_000).is_some());
        assert!(st.user_for_token(&temp, 105).is_some());
        assert!(st.user_for_token(&temp, 110).is_none());
        assert!(st.user_for_token("nope", 0).is_none());
        assert!(st.issue_token("bob", None, 0).is_err());
    }
}
