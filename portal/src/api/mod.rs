//! The JSON API the CLI and duplo-jit call (docs/protocol.md §1, §9): thin handlers that check
//! the token (the `Authed` extractor), ask the domain, and answer through `ApiError`, so each
//! reads top to bottom with `?`.

pub mod access;
pub mod aws;
pub mod k8s;
pub mod system;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::{AuditEntry, AuditEvent, Authed};
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

/// Whether a token of `who` answers `IsOtpNeeded` under the current settings (docs/protocol.md
/// §1).
pub(crate) fn otp_needed(who: &Authed) -> bool {
    domain::mfa::token_needs_otp(who)
}

/// Before an admin call (docs/protocol.md §1): an admin whose token answers `IsOtpNeeded` must
/// send, as `Otpcode`, the one-time code the CLI-login page handed out with that very token,
/// unexpired; else 401, as duplo-jit expects, with a `refused` row (`event`, `scope`) in the
/// trail (best effort). Anyone else goes on (a user who is no admin is refused by the vend with
/// 403).
pub(crate) async fn otp_checked(
    app: &Shared,
    who: &Authed,
    headers: &HeaderMap,
    (event, scope): (AuditEvent, &str),
    client: Option<String>,
) -> ApiResult<()> {
    if !who.admin || !otp_needed(who) {
        return Ok(());
    }
    let now = jiff::Timestamp::now().as_second();
    let sent = headers.get(OTP_HEADER).and_then(|v| v.to_str().ok());
    if sent.is_some_and(|p| domain::mfa::otp_proof_ok(&app.cookie_key, &who.token_id, p, now)) {
        return Ok(());
    }
    let mut audit = AuditEntry::new(event, &who.user).user(&who.user);
    audit.client = client;
    audit.scope = Some(scope.into());
    audit.token_id = Some(who.token_id.clone());
    audit.detail = Some(
        "admin credentials need the one-time code of a login with a second factor (Otpcode \
         missing, expired or not this token's)"
            .into(),
    );
    if let Err(e) = app.db.audit(&audit).await {
        crate::log::failure("cannot record a refused vend", &e);
    }
    Err(ApiError::unauthorized())
}

/// duplo-jit's one-time code header.
const OTP_HEADER: &str = "otpcode";

/// The answer to a path nobody serves.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!("not found"))).into_response()
}
