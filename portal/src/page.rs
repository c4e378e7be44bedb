//! The last page of docs/protocol.md §2: where the CLI sends the browser once it has its token.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::db::Session;
use crate::web::{Chrome, render};

#[derive(Template)]
#[template(path = "done.html")]
struct Done<'a> {
    chrome: Chrome<'a>,
}

/// The page, in the frame of the browser's session when it has one.
pub fn done(session: Option<&Session>) -> Response {
    render(
        StatusCode::OK,
        &Done {
            chrome: session.map_or(Chrome::NONE, Chrome::of),
        },
    )
}
