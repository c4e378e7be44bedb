//! The admin pages: tenants, users, system config and the audit trail, one file each. Every
//! page wants an admin session (`Admin`) and every change an admin's form with its CSRF token
//! (`AdminForm`); the change itself is the domain's (`domain::admin`), the same function
//! `jit portal` calls, so both doors accept the same values, say the same thing and write the
//! same audit row. What the pages share is here: refusals beside the form, the confirmation
//! after a change, and the removal form.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::extract::{PageForm, first, first_trimmed, maybe_last};
use super::{PageError, message_for, render, see_other};
use crate::db::Session;
use crate::domain::{self, Actor};
use crate::state::with_who;

pub mod access;
pub mod audit;
pub mod settings;
pub mod tenants;
pub mod users;

/// `/admin` itself is the tenants page.
pub async fn index() -> Response {
    see_other("/admin/tenants")
}

fn not_found(session: &Session, what: &str) -> PageError {
    message_for(session, StatusCode::NOT_FOUND, what).into()
}

/// The signed-in admin making a change from `client`.
fn actor(session: &Session, client: Option<String>) -> Actor {
    Actor::web(&session.user, client)
}

/// A domain message as a sentence on a page: capitalized, with its full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A refusal the page shows beside the form it came from; anything else is answered at once.
fn shown(session: &Session, e: domain::Error, missing: &str) -> Result<String, PageError> {
    match e {
        domain::Error::Invalid(m) => Ok(sentence(&m)),
        domain::Error::NotFound(_) => Err(not_found(session, missing)),
        other => Err(PageError::Refused(Box::new(session.clone()), other)),
    }
}

/// Where to go back to after a change: the page with its confirmation.
fn done(session: &Session, path: &str, what: &str) -> Response {
    with_who(see_other(&format!("{path}?{what}=1")), &session.user)
}

/// What a page is told after a change redirected to it.
#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default, deserialize_with = "maybe_last")]
    saved: Option<String>,
    #[serde(default, deserialize_with = "maybe_last")]
    added: Option<String>,
    #[serde(default, deserialize_with = "maybe_last")]
    removed: Option<String>,
    #[serde(default, deserialize_with = "maybe_last")]
    unchanged: Option<String>,
}

impl NoticeQuery {
    /// The confirmation the page shows.
    fn notice(&self) -> Option<&'static str> {
        [
            (&self.saved, "Changes saved."),
            (&self.added, "Added."),
            (&self.removed, "Removed."),
            (&self.unchanged, "Nothing changed."),
        ]
        .into_iter()
        .find(|(given, _)| given.is_some())
        .map(|(_, text)| text)
    }
}

/// A name as one path segment of a link.
fn segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

fn page(session: &Session, status: StatusCode, tpl: &impl Template) -> Response {
    with_who(render(status, tpl), &session.user)
}

/// The Remove form of a tenant's or a user's page: the name typed again.
#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    confirm: String,
}

impl PageForm for RemoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The page of `/admin/.../NAME/remove` is `/admin/.../NAME`.
    fn page(path: &str) -> String {
        path.strip_suffix("/remove").unwrap_or(path).to_string()
    }
}
