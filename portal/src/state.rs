//! What every request can see: the portal's shared state (`App`), the client's address (from
//! the connection, as axum's `ConnectInfo`), and the name the request log line gives the asker.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

use crate::aws::{Signin, Sts};
use crate::db::Db;
use crate::domain;
use crate::domain::vend::Vendor;

pub struct App {
    pub db: Db,
    /// What the portal seals the values it leaves with browsers with (`secret::seal`).
    pub cookie_key: [u8; 32],
    /// Served over TLS, here or at a proxy: browsers are told to keep to HTTPS.
    pub tls: bool,
    /// The portal's cookies are `__Host-` and `Secure` (over TLS, or at a loopback URL):
    /// `web::cookies`.
    pub host_cookies: bool,
    /// Where users reach the portal, without a trailing slash.
    pub public_url: String,
    /// The AWS endpoint vended keys work at, when it is not AWS itself (the demo's moto).
    pub aws_endpoint: Option<String>,
    pub sts: Sts,
    pub signin: Signin,
    /// Single sign-on through an OpenID Connect provider, when configured.
    pub oidc: Option<crate::sso::Oidc>,
}

impl App {
    /// What the vend engine needs of the state.
    pub fn vendor(&self) -> Vendor<'_> {
        Vendor {
            db: &self.db,
            sts: &self.sts,
            signin: &self.signin,
        }
    }
}

pub type Shared = Arc<App>;

/// The client's IP address, for the audit trail and the throttles: the connection's peer as
/// the listener recorded it (`ConnectInfo`), absent when a request came another way (a test
/// driving the router in process).
#[derive(Debug, Clone, Default)]
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string()),
        ))
    }
}

/// Who a request was for, for the request's log line.
#[derive(Clone)]
pub struct Who(pub String);

/// `response`, marked with the user it answered.
pub fn with_who(mut response: Response, who: &str) -> Response {
    response.extensions_mut().insert(Who(who.to_string()));
    response
}

/// The status a domain refusal or failure answers with, the same from the API and the pages.
pub fn status_of(e: &domain::Error) -> StatusCode {
    match e {
        domain::Error::Invalid(_) => StatusCode::BAD_REQUEST,
        domain::Error::Unauthorized => StatusCode::UNAUTHORIZED,
        domain::Error::Forbidden(_) => StatusCode::FORBIDDEN,
        domain::Error::NotFound(_) => StatusCode::NOT_FOUND,
        domain::Error::Upstream(_) => StatusCode::BAD_GATEWAY,
        domain::Error::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
