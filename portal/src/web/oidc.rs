//! Placeholder: filled in by the oidc pages.

use axum::Router;

use crate::api::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
}
