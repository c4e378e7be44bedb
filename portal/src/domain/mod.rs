//! The portal's rules, written once below both doors: the admin CLI (`cmd/`) and the web pages
//! (`web/`) call the same functions with the same input and get the same outcome, the same
//! message and the same audit row. No axum and no clap here: a door turns flags or form fields
//! into the typed values of `rules`, calls a function of `admin`, and presents the result.

pub mod access;
pub mod admin;
pub mod audit;
pub mod mfa;
pub mod passkey;
pub mod rules;
pub mod vend;

use crate::db::{AuditEntry, AuditEvent};

/// Why something was not done. A door shows the refusals to the person who asked (a CLI error
/// line, a page with the form kept, an API status); `Failed` is the portal's own trouble.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// No valid credential came with the request.
    #[error("unauthorized")]
    Unauthorized,
    /// The asker may not have this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// AWS refused or failed; its message, which holds no secret.
    #[error("{0}")]
    Upstream(String),
    /// The portal's own trouble (its database), with context saying what failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Who makes a change, for the audit trail and for the rules that protect a signed-in admin
/// from locking themselves out.
#[derive(Debug, Clone)]
pub struct Actor {
    /// What the trail names: the portal user, or `cli:<login name>` for a shell with the
    /// database.
    pub name: String,
    pub client: Option<String>,
    /// The portal user making the change, when it is one (the web pages); the CLI acts with
    /// the database's own authority and is no portal user.
    pub portal_user: Option<String>,
}

impl Actor {
    /// The person at a `jit portal` command line.
    pub fn cli() -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Actor {
            name: format!("cli:{user}"),
            client: None,
            portal_user: None,
        }
    }

    /// A signed-in portal admin, from `client`.
    pub fn web(user: &str, client: Option<String>) -> Actor {
        Actor {
            name: user.into(),
            client,
            portal_user: Some(user.into()),
        }
    }

    /// The single sign-on, writing what a provider said at a user's sign-in.
    pub fn sso(client: Option<String>) -> Actor {
        Actor {
            name: "sso".into(),
            client,
            portal_user: None,
        }
    }

    pub(crate) fn audit(&self, event: AuditEvent) -> AuditEntry {
        let mut audit = AuditEntry::new(event, &self.name);
        audit.client.clone_from(&self.client);
        audit
    }

    fn is(&self, user: &str) -> bool {
        self.portal_user.as_deref() == Some(user)
    }
}

/// What a change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Saved,
    /// Everything asked for was already so: nothing written, nothing audited.
    Unchanged,
}
