//! The whole URL map in one place, and what wraps every request: body and time limits, the
//! security headers, and one log line per request.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use jit_wire::paths;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::state::{Shared, Who};
use crate::{api, web};

/// How long a request's body, and the whole request, may take.
pub struct Timeouts {
    pub body: Duration,
    pub request: Duration,
}

/// The portal: the API, the web pages, and the layers every answer goes through.
pub fn app(state: Shared, timeouts: &Timeouts) -> Router {
    Router::new()
        // The JSON API (docs/protocol.md §1, §9).
        .route(paths::SYSTEM_FEATURES, get(api::system::system))
        .route(paths::TENANTS, get(api::system::tenants))
        .route(paths::TENANT_FEATURES, get(api::system::tenant_features))
        .route(paths::AWS_ADMIN, get(api::aws::admin))
        .route(paths::AWS_TENANT, get(api::aws::tenant))
        .route(paths::K8S_TENANT, get(api::k8s::tenant))
        .route(paths::K8S_PLAN, get(api::k8s::plan))
        .route(paths::PORTAL_FEATURES, get(api::system::features))
        .route("/healthz", get(api::system::health))
        // The CLI login page (docs/protocol.md §2).
        .route(
            paths::LOGIN_PAGE,
            get(web::cli_login::page).post(web::cli_login::submit),
        )
        // The web pages.
        .merge(web::routes())
        .fallback(api::not_found)
        .with_state(state.clone())
        .layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .layer(RequestBodyLimitLayer::new(16 * 1024))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            web::security_headers,
        ))
        .layer(axum::middleware::from_fn(log_requests))
}

/// One log line per request: method, path, status, user, client, time, in the message and as
/// fields (for the JSON log). Paths and names are escaped.
async fn log_requests(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = crate::log::escape(request.uri().path());
    let client = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    let who = response
        .extensions()
        .get::<Who>()
        .map(|w| crate::log::escape(&w.0))
        .unwrap_or_default();
    let status = response.status().as_u16();
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        %method,
        path,
        status,
        user = who,
        client,
        ms,
        "{method} {path} {status} {who} {client} {ms}ms"
    );
    response
}
