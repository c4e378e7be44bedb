//! The whole URL map in one place, and what wraps every request: body and time limits, the
//! refusal of a repeated portal cookie, the security headers, and one log line per request.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use jit_wire::paths;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::state::{ClientAddr, ClientIp, Shared, Who};
use crate::web::admin::{self, audit, settings, tenants, users};
use crate::web::{factor, passkey, profile, signin};
use crate::{api, web};

/// How long a request's body, and the whole request, may take.
pub struct Timeouts {
    pub body: Duration,
    pub request: Duration,
}

/// The metrics listener's one page (`--metrics-listen`): `GET /metrics`, and 404 for anything
/// else. The public listener never serves it.
pub fn metrics(timeouts: &Timeouts) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        crate::metrics::CONTENT_TYPE,
                    )],
                    crate::metrics::encode(),
                )
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(RequestBodyLimitLayer::new(1024))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
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
        // Access requests and approvals (docs/protocol.md §13).
        .route(
            paths::ACCESS_REQUESTS,
            get(api::access::mine).post(api::access::create),
        )
        .route(paths::ACCESS_TO_APPROVE, get(api::access::to_approve))
        .route(paths::ACCESS_REQUEST, get(api::access::get))
        .route(paths::ACCESS_APPROVE, post(api::access::approve))
        .route(paths::ACCESS_DENY, post(api::access::deny))
        .route(paths::ACCESS_WITHDRAW, post(api::access::withdraw))
        .route(paths::ACCESS_GRANTS, get(api::access::grants))
        .route(paths::ACCESS_REVIEWS, get(api::access::reviews))
        .route(paths::ACCESS_REVOKE, post(api::access::revoke))
        .route(paths::ACCESS_REVIEW, post(api::access::review))
        .route("/healthz", get(api::system::health))
        .route("/readyz", get(api::system::ready))
        // The CLI login page (docs/protocol.md §2).
        .route(
            paths::LOGIN_PAGE,
            get(web::cli_login::page).post(web::cli_login::submit),
        )
        // The device login (docs/protocol.md §2.1).
        .route(paths::DEVICE_CODE, post(web::device::code))
        .route(paths::DEVICE_TOKEN, post(web::device::token))
        .route(
            paths::DEVICE_PAGE,
            get(web::device::page).post(web::device::submit),
        )
        // Signing in and out.
        .route("/login", get(signin::page).post(signin::submit))
        .route("/login/cancel-cli", post(signin::cancel_cli))
        .route("/login/factor", get(factor::page).post(factor::submit))
        .route(
            "/login/enrol",
            get(factor::enrol_page).post(factor::enrol_submit),
        )
        .route("/logout", post(signin::logout))
        // Single sign-on through the OpenID Connect provider.
        .route("/login/oidc", get(web::sso::start))
        .route("/login/oidc/callback", get(web::sso::callback))
        // The Profile page and what its forms vend.
        .route("/", get(profile::home))
        .route("/profile", get(profile::page))
        .route("/profile/console", post(profile::console))
        .route("/profile/console-url", post(profile::console_url))
        .route("/profile/credentials", post(profile::credentials))
        .route("/profile/tokens", post(profile::create_token))
        .route("/profile/tokens/revoke", post(profile::revoke_token))
        .route(web::access::PAGE, get(web::access::page))
        .route("/access/request", post(web::access::request))
        .route("/access/decide", post(web::access::decide))
        .route("/access/withdraw", post(web::access::withdraw))
        .route("/access/revoke", post(web::access::revoke))
        .route("/access/review", post(web::access::review))
        .route("/profile/mfa", get(factor::profile))
        .route("/profile/mfa/start", post(factor::profile_start))
        .route("/profile/mfa/enrol", get(factor::profile_enrol))
        .route("/profile/mfa/confirm", post(factor::profile_confirm))
        .route("/profile/mfa/remove", post(factor::profile_remove))
        .route("/profile/passkeys/options", post(passkey::register_options))
        .route("/profile/passkeys", post(passkey::register))
        .route("/profile/passkeys/remove", post(passkey::remove))
        .route(
            "/profile/passkeys/remove/options",
            post(passkey::remove_options),
        )
        .route(
            "/profile/passkeys/remove/confirm",
            post(passkey::remove_confirm),
        )
        .route("/login/passkey/options", post(passkey::use_options))
        .route("/login/passkey", post(passkey::use_passkey))
        // The single-use links that notifications carry.
        .route("/link", get(web::link::page).post(web::link::follow))
        // The admin pages.
        .route("/admin", get(admin::index))
        .route("/admin/tenants", get(tenants::list).post(tenants::add))
        .route(
            "/admin/tenants/{name}",
            get(tenants::show).post(tenants::save),
        )
        .route("/admin/tenants/{name}/remove", post(tenants::remove))
        .route("/admin/users", get(users::list).post(users::add))
        .route("/admin/users/{name}", get(users::show).post(users::save))
        .route("/admin/users/{name}/remove", post(users::remove))
        .route("/admin/users/{name}/sessions", post(users::end_sessions))
        .route("/admin/users/{name}/mfa-reset", post(users::reset_mfa))
        .route("/admin/users/{name}/email", post(users::save_email))
        .route("/admin/settings", get(settings::show).post(settings::save))
        .route("/admin/audit", get(audit::show))
        .route("/admin/access", get(admin::access::show))
        .route("/admin/access/group", post(admin::access::group))
        .route("/admin/access/member", post(admin::access::member))
        .route("/admin/access/rule", post(admin::access::rule))
        .route("/admin/access/policy", post(admin::access::policy))
        // The pages' stylesheet and script; no icon.
        .route("/static/portal.css", get(web::stylesheet))
        .route("/static/portal.js", get(web::script))
        .route("/favicon.ico", get(web::no_favicon))
        .fallback(api::not_found)
        .with_state(state.clone())
        .layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .layer(RequestBodyLimitLayer::new(16 * 1024))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::cookies::one_of_each,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::security_headers,
        ))
        .layer(axum::middleware::from_fn(log_requests))
        .layer(axum::middleware::from_fn_with_state(state, client_address))
}

/// Resolve the client's address once, for every layer and handler after this one.
async fn client_address(
    axum::extract::State(app): axum::extract::State<Shared>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    if let Some(peer) = peer {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let client = ClientAddr::resolve(peer, forwarded, &app.trusted_proxies);
        request.extensions_mut().insert(client);
    }
    next.run(request).await
}

/// One log line per request: method, path, status, user, client, time, in the message and as
/// fields (for the JSON log). Paths and names are escaped.
async fn log_requests(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = crate::log::escape(request.uri().path());
    let client = ClientIp::of(request.extensions()).0.unwrap_or_default();
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
