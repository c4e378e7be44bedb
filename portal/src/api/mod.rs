//! The JSON API the CLI and duplo-jit call (docs/protocol.md §1, §9): thin handlers that check
//! the token (the `Authed` extractor), ask the domain, and answer through `ApiError`, so each
//! reads top to bottom with `?`.

pub mod aws;
pub mod k8s;
pub mod system;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::Authed;
use crate::domain;
use crate::state::{Shared, status_of};

/// A refusal or failure as the API answers it: the status and a JSON string (or, for a refusal
/// from STS, `{"Message": ...}`, as the commercial portal sends).
#[derive(Debug)]
pub struct ApiError(pub domain::Error);

impl From<domain::Error> for ApiError {
    fn from(e: domain::Error) -> ApiError {
        ApiError(e)
    }
}

impl ApiError {
    fn unauthorized() -> ApiError {
        ApiError(domain::Error::Unauthorized)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let body = match self.0 {
            domain::Error::Unauthorized => json!("Unauthorized"),
            // A refusal from AWS travels as `{"Message": ...}`, as the commercial portal sends it.
            domain::Error::Upstream(m) => json!({ "Message": m }),
            domain::Error::Failed(e) => {
                // Logged in full; answered with its outermost context only.
                let what = e.to_string();
                crate::log::failure(&what, &e);
                json!(what)
            }
            domain::Error::Invalid(m)
            | domain::Error::Forbidden(m)
            | domain::Error::NotFound(m) => {
                json!(m)
            }
        };
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A handler that takes `Authed` runs only for a valid bearer token; otherwise the answer is
/// 401, or 500 when the database fails.
impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        app.db
            .authenticate(token, jiff::Timestamp::now().as_second())
            .await
            .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The answer to a path nobody serves.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!("not found"))).into_response()
}
