//! The words every layer shares: what to fetch (`Target`, `Scope`, `Auth`, `CacheMode`), the
//! portal `Token`, and the `AwsCreds` that come back. It sits below the API client, the login,
//! the cache logic and the command line, and depends only on `host`.

use anyhow::{Result, bail};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::host::Host;
pub use jit_wire::access::VendGrant;

/// A usage mistake that clap cannot see (it depends on config files); exits 2 like clap's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A failure that ends the run with its own exit code, such as 127 for a command that cannot be
/// found and 126 for one that cannot be run, as shells report them.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub code: u8,
    pub message: String,
}

impl ExitError {
    /// The exit code `main` returns for `err`: its own, 2 for usage, else 1.
    pub fn code_of(err: &anyhow::Error) -> u8 {
        if let Some(e) = err.downcast_ref::<ExitError>() {
            e.code
        } else if err.downcast_ref::<UsageError>().is_some() {
            2
        } else {
            1
        }
    }
}

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

    pub fn key_parts(&self) -> Vec<&str> {
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

    /// The same access as the portal's access requests name it (docs/protocol.md §13).
    pub fn access_target(&self) -> jit_wire::access::Target {
        match self {
            Scope::Admin => jit_wire::access::Target::Admin,
            Scope::DuploOps => jit_wire::access::Target::DuploOps,
            Scope::Tenant(t) => jit_wire::access::Target::Tenant(t.clone()),
        }
    }
}

/// Which cluster: a plan's (`--plan ID`, an admin login) or a tenant's (`--tenant NAME|ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterScope {
    Plan(String),
    Tenant(String),
}

impl ClusterScope {
    /// The parts of the cache key, as duplo-jit names its file `<host>,plan,<id>,k8s-creds.json`.
    pub fn key_parts(&self) -> [&str; 2] {
        match self {
            ClusterScope::Plan(id) => ["plan", id],
            ClusterScope::Tenant(t) => ["tenant", t],
        }
    }
}

/// How `--tenant` names a tenant, as duplo-jit reads it: an id is 32 characters or more (the
/// portal's ids are 32 hex digits); anything shorter is a name, matched exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantRef<'a> {
    Name(&'a str),
    Id(&'a str),
}

impl<'a> TenantRef<'a> {
    pub fn of(name_or_id: &'a str) -> TenantRef<'a> {
        if name_or_id.len() < 32 {
            TenantRef::Name(name_or_id)
        } else {
            TenantRef::Id(name_or_id)
        }
    }
}

#[derive(Debug, Clone)]
pub enum Auth {
    Token(Token),
    Interactive {
        port: Option<u16>,
        browser: bool,
        /// Log in on another device (docs/protocol.md §2.1) instead of through a listener.
        device: bool,
    },
    /// No token source was given: a fresh cache entry is still served (as duplo-jit does), and
    /// anything that must reach the portal fails with this usage message.
    Missing(String),
}

/// How a browser login runs (docs/protocol.md §2): the loopback port and whether to open a
/// browser or only print the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserLogin {
    pub port: Option<u16>,
    pub browser: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Use,
    Bypass,
    Refresh,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub host: Host,
    pub api_host: Host,
    pub scope: Scope,
    pub auth: Auth,
    /// `--interactive` given: with a token too, the browser login to run when the portal wants
    /// a one-time code for admin access (docs/protocol.md §1), as duplo-jit does.
    pub otp_login: Option<BrowserLogin>,
    /// Overrides the portal's region (from a named environment).
    pub region: Option<String>,
    /// Exported as AWS_ENDPOINT_URL (from a named environment).
    pub endpoint_url: Option<String>,
    /// The environment's `token_env`: like JIT_TOKEN, never passed on to a child.
    pub token_var: Option<String>,
    /// The environment's `server = true`: `jit exec` serves credentials on loopback.
    pub server: bool,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsCreds {
    pub console_url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub session_token: String,
    #[serde(with = "jit_wire::time::rfc3339_secs")]
    pub expiration: Timestamp,
    /// The access grant these were vended under (`jit portal`, docs/protocol.md §13): kept in
    /// the cache for `jit ls` and the credentials server, never printed for an SDK.
    #[serde(rename = "JitGrant", default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<VendGrant>,
}

impl AwsCreds {
    /// The credential_process line (docs/protocol.md §3), fields and order as duplo-jit prints
    /// them.
    pub fn to_process_json(&self) -> Result<String> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out<'a> {
            version: u8,
            console_url: &'a str,
            access_key_id: &'a str,
            secret_access_key: &'a str,
            region: &'a str,
            session_token: &'a str,
            #[serde(with = "jit_wire::time::rfc3339_secs")]
            expiration: Timestamp,
        }
        Ok(serde_json::to_string(&Out {
            version: 1,
            console_url: &self.console_url,
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            region: &self.region,
            session_token: &self.session_token,
            expiration: self.expiration,
        })?)
    }

    pub fn remaining(&self) -> SignedDuration {
        self.expiration.duration_since(Timestamp::now())
    }
}

/// A portal token. Its Debug output is redacted so it cannot leak through `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            bail!("the portal token is empty");
        }
        if trimmed.chars().any(|c| c.is_control()) {
            bail!("the portal token contains control characters");
        }
        Ok(Token(trimmed.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Lowercase hex SHA-256: how tokens are kept where only equality matters.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` random bytes from the OS, as lowercase hex: one-time values and tokens.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("cannot get random bytes: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub use jit_wire::time::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_json_matches_duplo_jit_shape() {
        let c = AwsCreds {
            console_url: "https://signin.aws.amazon.com/federation?a=1&b=2".into(),
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            region: "us-west-2".into(),
            session_token: "t".into(),
            expiration: "2026-02-27T19:04:05.123Z".parse().expect("ts"),
            grant: Some(VendGrant {
                id: "g_1".into(),
                end: "2026-02-27T20:00:00Z".parse().expect("ts"),
            }),
        };
        // The grant stays in the cache: an SDK reads exactly duplo-jit's fields.
        assert_eq!(
            c.to_process_json().expect("json"),
            r#"{"Version":1,"ConsoleUrl":"https://signin.aws.amazon.com/federation?a=1&b=2","AccessKeyId":"ASIA1","SecretAccessKey":"s","Region":"us-west-2","SessionToken":"t","Expiration":"2026-02-27T19:04:05Z"}"#
        );
    }

    #[test]
    fn token_debug_is_redacted() {
        let token = Token::new(" abcdef \n").expect("token");
        assert_eq!(token.expose(), "abcdef");
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert!(Token::new("  ").is_err());
    }
}
