//! The last page of docs/protocol.md §2: where the CLI sends the browser once it has its token.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::web::{Chrome, render};

#[derive(Template)]
#[template(path = "done.html")]
struct Done<'a> {
    chrome: Chrome<'a>,
}

pub fn done() -> Response {
    render(
        StatusCode::OK,
        &Done {
            chrome: Chrome::NONE,
        },
    )
}
