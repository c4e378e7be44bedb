//! The audit trail page: the newest entries first, filtered by user, event and time.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::{page, shown};
use crate::db::{AuditEntry, AuditEvent};
use crate::domain::{self, audit};
use crate::state::Shared;
use crate::web::extract::{Admin, first_trimmed};
use crate::web::{Chrome, PageResult};

/// The most rows the audit page shows.
const AUDIT_MAX_LIMIT: i64 = 1000;

struct AuditRow {
    time: String,
    event: String,
    actor: String,
    user: String,
    scope: String,
    role: String,
    duration: String,
    client: String,
    token: String,
    detail: String,
}

impl AuditRow {
    fn of(e: AuditEntry) -> AuditRow {
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        AuditRow {
            time: jiff::Timestamp::from_second(e.at)
                .map(jit_wire::time::rfc3339)
                .unwrap_or_else(|_| e.at.to_string()),
            event: e.event,
            actor: e.actor,
            user: dash(e.user),
            scope: dash(e.scope),
            role: dash(e.role_arn),
            duration: e
                .duration_secs
                .map(|d| format!("{d}s"))
                .unwrap_or_else(|| "-".into()),
            client: dash(e.client),
            token: dash(e.token_id),
            detail: dash(e.detail),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    chrome: Chrome<'a>,
    user: String,
    event: String,
    since: String,
    limit: String,
    /// Every event name, and whether the filter names it.
    events: Vec<(&'static str, bool)>,
    entries: Vec<AuditRow>,
    error: Option<String>,
}

/// The audit page's filter, as typed.
#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default, deserialize_with = "first_trimmed")]
    user: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    event: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    since: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    limit: String,
}

impl AuditQuery {
    /// The filter and the row limit, checked.
    fn checked(&self) -> domain::Result<(audit::Filter, i64)> {
        let now = jiff::Timestamp::now().as_second();
        let given = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        let filter = audit::Filter {
            user: given(&self.user),
            event: given(&self.event)
                .map(|e| audit::parse_event("Event", &e))
                .transpose()?,
            since: given(&self.since)
                .map(|s| audit::parse_since("Since", &s, now))
                .transpose()?,
        };
        let limit = if self.limit.is_empty() {
            audit::DEFAULT_LIMIT
        } else {
            self.limit
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=AUDIT_MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    domain::Error::Invalid(format!(
                        "limit must be a number from 1 to {AUDIT_MAX_LIMIT}"
                    ))
                })?
        };
        Ok((filter, limit))
    }
}

/// The audit trail.
pub async fn show(
    State(app): State<Shared>,
    Admin(session): Admin,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let found = match q.checked() {
        Ok((filter, limit)) => audit::find(&app.db, &filter, limit).await,
        Err(e) => Err(e),
    };
    let (status, entries, error) = match found {
        // Newest first on the page.
        Ok(list) => (
            StatusCode::OK,
            list.into_iter().rev().map(AuditRow::of).collect(),
            None,
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Vec::new(),
            Some(shown(&session, e, "No such page")?),
        ),
    };
    Ok(page(
        &session,
        status,
        &AuditPage {
            chrome: Chrome::of(&session),
            events: AuditEvent::ALL
                .map(|e| (e.as_str(), e.as_str() == q.event))
                .to_vec(),
            limit: if q.limit.is_empty() {
                audit::DEFAULT_LIMIT.to_string()
            } else {
                q.limit
            },
            user: q.user,
            event: q.event,
            since: q.since,
            entries,
            error,
        },
    ))
}
