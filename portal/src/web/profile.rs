//! The Profile page: JIT AWS Console, Copy AWS Console URL, Temporary AWS Credentials, AWS
//! access from my Workstation, and the user's API tokens.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

use super::{Chrome, render, require_session};
use crate::api::{Shared, with_who};

pub fn routes() -> Router<Shared> {
    Router::new().route("/profile", get(profile))
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    chrome: Chrome<'a>,
    user: &'a str,
    admin: bool,
}

async fn profile(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let session = match require_session(&app, &headers, "/profile").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    with_who(
        render(
            StatusCode::OK,
            &ProfilePage {
                chrome: Chrome::of(&session),
                user: &session.user,
                admin: session.admin,
            },
        ),
        &session.user,
    )
}
