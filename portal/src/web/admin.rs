//! Placeholder: filled in by the admin pages.

use axum::Router;

use crate::api::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
}
