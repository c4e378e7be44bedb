//! Access requests and approvals (docs/protocol.md §13): the one spelling of a target both sides
//! use, the JSON bodies of the request API, and the 403 messages the CLI recognises and prints
//! as they are (a pending request, or how to ask for one).

use serde::{Deserialize, Serialize};

/// What access is asked for: a tenant by name, or one of the two system roles. Written
/// `tenant:NAME`, `admin` or `duplo-ops`; a bare name that is neither system role is a tenant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Tenant(String),
    Admin,
    DuploOps,
}

/// The prefix of a tenant target's canonical spelling.
pub const TENANT_PREFIX: &str = "tenant:";

impl Target {
    /// A target as typed or stored. A tenant named like a system role is `tenant:admin`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let tenant = |name: &str| {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if ok {
                Ok(Target::Tenant(name.to_string()))
            } else {
                Err(format!(
                    "'{}' is not a target: want tenant:NAME, a tenant name, admin or duplo-ops",
                    text.escape_debug()
                ))
            }
        };
        match text {
            "admin" => Ok(Target::Admin),
            "duplo-ops" => Ok(Target::DuploOps),
            _ => match text.strip_prefix(TENANT_PREFIX) {
                Some(name) => tenant(name),
                None => tenant(text),
            },
        }
    }

    /// The canonical spelling: what the database stores and the API sends.
    pub fn spelling(&self) -> String {
        match self {
            Target::Tenant(name) => format!("{TENANT_PREFIX}{name}"),
            Target::Admin => "admin".into(),
            Target::DuploOps => "duplo-ops".into(),
        }
    }

    /// What a person types on the command line: the bare tenant name when it cannot be taken
    /// for a system role.
    pub fn short(&self) -> String {
        match self {
            Target::Tenant(name) if name != "admin" && name != "duplo-ops" => name.clone(),
            other => other.spelling(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spelling())
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
    Withdrawn,
    Expired,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Withdrawn => "withdrawn",
            RequestState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<RequestState> {
        [
            RequestState::Pending,
            RequestState::Approved,
            RequestState::Denied,
            RequestState::Withdrawn,
            RequestState::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// `POST` [`crate::paths::ACCESS_REQUESTS`]: what to ask for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewRequest {
    /// Canonical or typed spellings of [`Target`].
    pub targets: Vec<String>,
    /// How long the grant should last from approval.
    pub duration_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Approve it oneself at once, where every target's policy allows break-glass.
    #[serde(default)]
    pub break_glass: bool,
}

/// The body of approve, deny and review: an optional comment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One approver's decision on a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub approver: String,
    pub approve: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// A grant: access to one target between two times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub request: String,
    pub user: String,
    pub target: String,
    /// RFC 3339.
    pub start: String,
    /// RFC 3339: no vend after it, and no credentials that outlive it.
    pub end: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default)]
    pub break_glass: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
}

/// The grant a vend rode on, as the credentials answer names it: which one, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VendGrant {
    pub id: String,
    #[serde(with = "crate::time::rfc3339_secs")]
    pub end: jiff::Timestamp,
}

/// A request as the API answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    pub user: String,
    pub targets: Vec<String>,
    pub state: RequestState,
    pub duration_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default)]
    pub break_glass: bool,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339: a pending request expires then.
    pub expires: String,
    /// Who may decide (users; a group shows as `group:NAME`).
    pub approvers: Vec<String>,
    pub approvals_needed: i64,
    #[serde(default)]
    pub decisions: Vec<Decision>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// The start of the 403 message for a target with a pending request.
pub const WAITING: &str = "waiting for approval of request ";
/// The start of the 403 message for a target one is eligible for and has not asked for.
pub const NOT_GRANTED: &str = "no access to ";
/// The start of the 403 messages about a grant: too close to its end for a 15-minute session,
/// or over (ended or revoked).
pub const GRANT_ENDING: &str = "grant ";

/// `waiting for approval of request r_... (approvers: a, b)`.
pub fn waiting(request: &str, approvers: &[String]) -> String {
    format!("{WAITING}{request} (approvers: {})", approvers.join(", "))
}

/// The command that asks for `target`, as the messages quote it.
pub fn request_command(target: &Target) -> String {
    format!("`jit request {} --for 1h --reason \"...\"`", target.short())
}

/// How to ask for `target`, which the user is eligible for.
pub fn how_to_request(target: &Target) -> String {
    format!(
        "{NOT_GRANTED}{target} without approval: request it with {}",
        request_command(target)
    )
}

/// A grant of `target` that is over: `when` it ended, and how (`ended`, `was revoked by bob`).
pub fn grant_over(grant: &str, target: &Target, how: &str, when: &str) -> String {
    format!(
        "{GRANT_ENDING}{grant} for {target} {how} at {when}: request again with {}",
        request_command(target)
    )
}

/// Whether a 403 message is one of the access messages above, which the CLI prints alone.
pub fn is_access_message(message: &str) -> bool {
    message.starts_with(WAITING)
        || ((message.starts_with(NOT_GRANTED) || message.starts_with(GRANT_ENDING))
            && message.contains("`jit request "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_have_one_spelling() {
        for (typed, canonical) in [
            ("admin", "admin"),
            ("duplo-ops", "duplo-ops"),
            ("prod", "tenant:prod"),
            ("tenant:prod", "tenant:prod"),
            ("tenant:admin", "tenant:admin"),
        ] {
            let t = Target::parse(typed).expect(typed);
            assert_eq!(t.spelling(), canonical);
            assert_eq!(Target::parse(&t.spelling()), Ok(t.clone()));
            assert_eq!(Target::parse(&t.short()), Ok(t));
        }
        for bad in ["", "tenant:", "a b", "tenant:x/y", "x\n"] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn access_messages_are_recognised() {
        let t = Target::Tenant("prod".into());
        assert!(is_access_message(&how_to_request(&t)));
        assert!(is_access_message(&waiting("r_1", &["a".into()])));
        assert!(is_access_message(&grant_over(
            "g_1",
            &t,
            "ended",
            "2026-01-01T00:00:00Z"
        )));
        assert!(!is_access_message("Forbidden"));
        assert_eq!(
            waiting("r_1", &["a".into(), "b".into()]),
            "waiting for approval of request r_1 (approvers: a, b)"
        );
    }
}
