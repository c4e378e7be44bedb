//! The door for the signed, single-use links that notifications carry (`notify::links`),
//! `/link?t=TOKEN`: GET shows where the link leads behind a button, so a mail scanner that
//! fetches every link does not use it up; the button's POST spends it and redirects to the
//! page, where the reader must be signed in as always. The token rides in the query, which the
//! request log leaves out, and leaves the address bar with that redirect.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::{Form, Query};
use serde::Deserialize;

use super::extract::last;
use super::{Chrome, local_path, message, render, see_other};
use crate::notify::links::{self, LinkError};
use crate::state::Shared;

#[derive(Template)]
#[template(path = "link/open.html")]
struct OpenPage<'a> {
    chrome: Chrome<'a>,
    to: &'a str,
    path: &'a str,
    until: String,
    token: &'a str,
}

fn refused(e: &LinkError) -> Response {
    match e {
        LinkError::Failed(e) => super::internal("cannot follow the link", e),
        LinkError::Gone => message(StatusCode::FORBIDDEN, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default, deserialize_with = "last")]
    t: String,
}

/// GET /link?t=TOKEN: where the link leads, and a button to go there.
pub async fn page(State(app): State<Shared>, Query(q): Query<LinkQuery>) -> Response {
    let token = q.t;
    let now = jiff::Timestamp::now().as_second();
    let link = match links::check(&app.cookie_key, &token, now) {
        Ok(link) if local_path(&link.path) => link,
        Ok(_) => return message(StatusCode::FORBIDDEN, "This link leads outside the portal"),
        Err(e) => return refused(&e),
    };
    let until = jiff::Timestamp::from_second(link.expires)
        .map(jit_wire::time::rfc3339)
        .unwrap_or_default();
    // Not stored by the browser: `security_headers` marks every page `no-store`.
    render(
        StatusCode::OK,
        &OpenPage {
            chrome: Chrome::NONE,
            to: &link.to,
            path: &link.path,
            until,
            token: &token,
        },
    )
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default, deserialize_with = "last")]
    token: String,
}

/// POST /link: spend the link and go where it leads.
pub async fn follow(State(app): State<Shared>, Form(form): Form<LinkForm>) -> Response {
    let now = jiff::Timestamp::now().as_second();
    match links::follow(&app.db, &app.cookie_key, &form.token, now).await {
        Ok(link) if local_path(&link.path) => see_other(&link.path),
        Ok(_) => message(StatusCode::FORBIDDEN, "This link leads outside the portal"),
        Err(e) => refused(&e),
    }
}
