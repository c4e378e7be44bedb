//! The portal's routes (docs/protocol.md §1-2), thin: check the token, ask the database, vend.
//! Every vend and login is in the audit trail before its answer leaves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use jit_wire::api::{
    AwsResponse, ClusterConfig, PortalFeatures, SystemFeatures, Tenant as WireTenant,
};
use jit_wire::console::SessionKeys;
use jit_wire::paths;
use serde_json::json;

use crate::db::{AuditEntry, Authed, Db};
use crate::domain::rules::clamp_session;
use crate::log;
use crate::page;
use crate::sts::{Signin, Sts};

pub struct App {
    pub db: Db,
    /// Served over TLS, here or at a proxy: session cookies get `Secure`.
    pub tls: bool,
    /// Where users reach the portal, without a trailing slash.
    pub public_url: String,
    /// The AWS endpoint vended keys work at, when it is not AWS itself (the demo's moto).
    pub aws_endpoint: Option<String>,
    pub sts: Sts,
    pub signin: Signin,
    /// Single sign-on through an OpenID Connect provider, when configured.
    pub oidc: Option<crate::web::oidc::Oidc>,
}

pub type Shared = Arc<App>;

/// The peer of a connection, put on each request by the listener.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// Who a request was for, for the log line.
#[derive(Clone)]
struct Who(String);

pub fn router(app: Shared) -> Router {
    Router::new()
        .route(paths::LOGIN_PAGE, get(login_page).post(login_submit))
        .route(paths::SYSTEM_FEATURES, get(system))
        .route(paths::TENANTS, get(tenants))
        .route(paths::TENANT_FEATURES, get(tenant_features))
        .route(paths::AWS_ADMIN, get(admin_creds))
        .route(paths::AWS_TENANT, get(tenant_creds))
        .route(paths::K8S_TENANT, get(tenant_k8s))
        .route(paths::K8S_PLAN, get(plan_k8s))
        .route("/healthz", get(health))
        .route(paths::PORTAL_FEATURES, get(features))
        .merge(crate::web::routes())
        .fallback(|| async { reply(StatusCode::NOT_FOUND, json!("not found")) })
        .with_state(app)
}

/// What this portal promises the CLI (docs/protocol.md §2): its login page hands back `state`.
async fn features() -> Response {
    Json(PortalFeatures { login_state: true }).into_response()
}

/// One log line per request: method, path, status, user, client, time, in the message and as
/// fields (for the JSON log). Paths and names are escaped.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = log::escape(request.uri().path());
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    let who = response
        .extensions()
        .get::<Who>()
        .map(|w| log::escape(&w.0))
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

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

pub(crate) fn with_who(mut response: Response, who: &str) -> Response {
    response.extensions_mut().insert(Who(who.to_string()));
    response
}

pub(crate) fn internal(what: &str, e: &anyhow::Error) -> Response {
    log::failure(what, e);
    reply(StatusCode::INTERNAL_SERVER_ERROR, json!(what))
}

pub(crate) fn client_of(addr: Option<Extension<ClientAddr>>) -> Option<String> {
    addr.map(|Extension(ClientAddr(a))| a.ip().to_string())
}

/// A handler that takes `Authed` runs only for a valid token; otherwise the answer is 401, or
/// 500 when the database fails.
impl FromRequestParts<Shared> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Response> {
        authenticate(app, &parts.headers).await
    }
}

async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Authed, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(reply(StatusCode::UNAUTHORIZED, json!("Unauthorized")));
    };
    match app
        .db
        .authenticate(token, jiff::Timestamp::now().as_second())
        .await
    {
        Ok(Some(who)) => Ok(who),
        Ok(None) => Err(reply(StatusCode::UNAUTHORIZED, json!("Unauthorized"))),
        Err(e) => Err(internal("portal state unreadable", &e)),
    }
}

async fn health(State(app): State<Shared>) -> Response {
    match app.db.settings().await {
        Ok(_) => reply(StatusCode::OK, json!("ok")),
        Err(e) => internal("portal state unreadable", &e),
    }
}

async fn system(who: Authed) -> Response {
    with_who(Json(SystemFeatures::default()).into_response(), &who.user)
}

async fn tenants(State(app): State<Shared>, who: Authed) -> Response {
    match app.db.tenants_for(&who.user, who.admin).await {
        Ok(list) => {
            let list: Vec<WireTenant> = list
                .into_iter()
                .map(|t| WireTenant {
                    tenant_id: t.id,
                    account_name: t.name,
                    plan_id: t.plan,
                })
                .collect();
            with_who(Json(list).into_response(), &who.user)
        }
        Err(e) => internal("portal state unreadable", &e),
    }
}

/// Who asks for credentials: a token's holder or a signed-in browser.
#[derive(Clone, Copy)]
pub(crate) struct Asker<'a> {
    pub user: &'a str,
    pub admin: bool,
    pub via: Via<'a>,
}

/// How a request proved who it is, for the audit trail.
#[derive(Clone, Copy)]
pub(crate) enum Via<'a> {
    /// An API token, by id.
    Token(&'a str),
    /// A web session, by id.
    Session(&'a str),
}

impl<'a> From<&'a Authed> for Asker<'a> {
    fn from(who: &'a Authed) -> Asker<'a> {
        Asker {
            user: &who.user,
            admin: who.admin,
            via: Via::Token(&who.token_id),
        }
    }
}

impl<'a> From<&'a crate::db::Session> for Asker<'a> {
    fn from(s: &'a crate::db::Session) -> Asker<'a> {
        Asker {
            user: &s.user,
            admin: s.admin,
            via: Via::Session(&s.id),
        }
    }
}

impl Asker<'_> {
    fn audit(&self, event: &str, client: Option<String>) -> AuditEntry {
        let mut audit = AuditEntry::new(event, self.user).user(self.user);
        audit.client = client;
        if let Via::Token(id) = self.via {
            audit.token_id = Some(id.into());
        }
        audit
    }

    /// What the audit detail adds for a session, so the trail says how the keys were asked for.
    fn via_detail(&self) -> String {
        match self.via {
            Via::Token(_) => String::new(),
            Via::Session(id) => format!(" via web session {id}"),
        }
    }
}

/// A refusal with its status and message: JSON for the API, a page for the web side.
#[derive(Debug)]
pub(crate) struct Refused(pub StatusCode, pub String);

impl Refused {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refused {
        Refused(status, message.into())
    }

    /// A failure inside the portal: logged in full, answered without detail.
    pub(crate) fn internal(what: &str, e: &anyhow::Error) -> Refused {
        log::failure(what, e);
        Refused(StatusCode::INTERNAL_SERVER_ERROR, what.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::BAD_GATEWAY {
            // STS refused: its message travels as `{"Message": ...}`, as a vend's does.
            return reply(self.0, json!({ "Message": self.1 }));
        }
        reply(self.0, json!(self.1))
    }
}

/// The tenant with this id when `who` may use it.
pub(crate) async fn allowed_tenant(
    app: &App,
    who: Asker<'_>,
    id: &str,
) -> Result<crate::db::Tenant, Refused> {
    let tenant = match app.db.tenant_by_id(id).await {
        Ok(Some(t)) => t,
        Ok(None) => return Err(Refused::new(StatusCode::NOT_FOUND, "tenant not found")),
        Err(e) => return Err(Refused::internal("portal state unreadable", &e)),
    };
    if who.admin {
        return Ok(tenant);
    }
    match app.db.is_member(who.user, &tenant.name).await {
        Ok(true) => Ok(tenant),
        Ok(false) => Err(Refused::new(StatusCode::FORBIDDEN, "Forbidden")),
        Err(e) => Err(Refused::internal("portal state unreadable", &e)),
    }
}

async fn tenant_features(
    State(app): State<Shared>,
    Path(id): Path<String>,
    who: Authed,
) -> Response {
    let response = match allowed_tenant(&app, (&who).into(), &id).await {
        Ok(t) => Json(json!({ "TenantName": t.name })).into_response(),
        Err(r) => r.into_response(),
    };
    with_who(response, &who.user)
}

async fn tenant_creds(
    State(app): State<Shared>,
    Path(id): Path<String>,
    addr: Option<Extension<ClientAddr>>,
    who: Authed,
) -> Response {
    let asker = Asker::from(&who);
    let response = match allowed_tenant(&app, asker, &id).await {
        Ok(t) => vend_tenant(&app, asker, client_of(addr), &t).await,
        Err(r) => Err(r),
    };
    with_who(json_or_refusal(response), &who.user)
}

async fn admin_creds(
    State(app): State<Shared>,
    Path(kind): Path<String>,
    addr: Option<Extension<ClientAddr>>,
    who: Authed,
) -> Response {
    let response = vend_admin(&app, (&who).into(), client_of(addr), &kind).await;
    with_who(json_or_refusal(response), &who.user)
}

fn json_or_refusal(r: Result<AwsResponse, Refused>) -> Response {
    match r {
        Ok(body) => Json(body).into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// A tenant's credentials for `who`, who may use the tenant.
pub(crate) async fn vend_tenant(
    app: &App,
    who: Asker<'_>,
    client: Option<String>,
    t: &crate::db::Tenant,
) -> Result<AwsResponse, Refused> {
    let secs = clamp_session(t.validity_secs, t.max_session_secs);
    let scope = format!("tenant {}", t.name);
    vend(app, who, client, &scope, &t.role_arn, secs).await
}

/// The admin (`admin`) or operations (`duplo-ops`) role's credentials for an admin.
pub(crate) async fn vend_admin(
    app: &App,
    who: Asker<'_>,
    client: Option<String>,
    kind: &str,
) -> Result<AwsResponse, Refused> {
    if kind != "admin" && kind != "duplo-ops" {
        return Err(Refused::new(StatusCode::NOT_FOUND, "not found"));
    }
    if !who.admin {
        return Err(Refused::new(StatusCode::FORBIDDEN, "Forbidden"));
    }
    let settings = app
        .db
        .settings()
        .await
        .map_err(|e| Refused::internal("portal state unreadable", &e))?;
    let role = if kind == "admin" {
        settings.admin_role_arn
    } else {
        settings.ops_role_arn
    };
    let Some(role) = role else {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            format!("no {kind} role configured"),
        ));
    };
    let secs = clamp_session(
        settings.admin_session_secs,
        crate::domain::rules::MAX_SESSION_SECS,
    );
    vend(app, who, client, kind, &role, secs).await
}

/// AssumeRole for `who`, recorded in the audit trail before the keys leave. The console URL is
/// best effort: without it the answer still carries the keys.
async fn vend(
    app: &App,
    who: Asker<'_>,
    client: Option<String>,
    scope: &str,
    role_arn: &str,
    secs: i64,
) -> Result<AwsResponse, Refused> {
    let mut audit = who.audit("vend", client);
    audit.scope = Some(scope.into());
    audit.role_arn = Some(role_arn.into());
    audit.duration_secs = Some(secs);
    let creds = match app.sts.assume_role(role_arn, who.user, secs).await {
        Ok(c) => c,
        Err(e) => {
            let message = format!("{e:#}");
            tracing::warn!("{}", crate::log::escape(&message));
            audit.event = "vend failed".into();
            audit.detail = Some(format!("{message}{}", who.via_detail()));
            if let Err(e) = app.db.audit(&audit).await {
                tracing::error!(
                    "cannot record a failed vend: {}",
                    crate::log::escape(&format!("{e:#}"))
                );
            }
            return Err(Refused(StatusCode::BAD_GATEWAY, message));
        }
    };
    audit.detail = Some(format!("key {}{}", creds.access_key_id, who.via_detail()));
    if let Err(e) = app.db.audit(&audit).await {
        // No record, no keys: the trail must hold every vend.
        return Err(Refused::internal("cannot record the vend", &e));
    }
    let keys = SessionKeys {
        access_key_id: &creds.access_key_id,
        secret_access_key: &creds.secret_access_key,
        session_token: &creds.session_token,
    };
    let console_url = match app.signin.console_url(&keys, &app.sts.region, secs).await {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::warn!("no ConsoleUrl: {}", crate::log::escape(&format!("{e:#}")));
            None
        }
    };
    Ok(AwsResponse {
        console_url,
        access_key_id: Some(creds.access_key_id),
        secret_access_key: Some(creds.secret_access_key),
        session_token: Some(creds.session_token),
        region: Some(app.sts.region.clone()),
        validity: Some(secs),
        expiration: creds.expiration,
    })
}

/// How long the CLI may use a k8s token before asking again. EKS accepts a token for 15 minutes
/// after its X-Amz-Date whatever X-Amz-Expires says, and the role session behind it lasts 15
/// minutes at least; a minute less leaves room for clock skew and the trip to the API server.
const K8S_TOKEN_REFRESH_SECS: i64 = 14 * 60;

async fn tenant_k8s(
    State(app): State<Shared>,
    Path(id): Path<String>,
    addr: Option<Extension<ClientAddr>>,
    who: Authed,
) -> Response {
    let response = match allowed_tenant(&app, (&who).into(), &id).await {
        Ok(t) => match &t.k8s {
            None => reply(
                StatusCode::NOT_FOUND,
                json!(format!(
                    "tenant {} has no Kubernetes cluster (an admin sets one with `jit portal tenant set {} --k8s-cluster NAME --k8s-server URL`)",
                    t.name, t.name
                )),
            ),
            Some(cluster) => {
                let secs = clamp_session(t.validity_secs, t.max_session_secs);
                let scope = format!("tenant {}", t.name);
                k8s_vend(
                    &app,
                    &who,
                    client_of(addr),
                    &scope,
                    &t.role_arn,
                    secs,
                    cluster,
                )
                .await
            }
        },
        Err(r) => r.into_response(),
    };
    with_who(response, &who.user)
}

/// An admin's cluster config for a plan: the cluster of the plan's first tenant (by name) that
/// has one, with a token from the admin role.
async fn plan_k8s(
    State(app): State<Shared>,
    Path(plan): Path<String>,
    addr: Option<Extension<ClientAddr>>,
    who: Authed,
) -> Response {
    if !who.admin {
        return with_who(reply(StatusCode::FORBIDDEN, json!("Forbidden")), &who.user);
    }
    let (tenants, settings) = match (app.db.list_tenants().await, app.db.settings().await) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(e), _) | (_, Err(e)) => return internal("portal state unreadable", &e),
    };
    let cluster = tenants
        .into_iter()
        .filter(|t| t.plan == plan)
        .find_map(|t| t.k8s);
    let response = match (cluster, settings.admin_role_arn) {
        (None, _) => reply(
            StatusCode::NOT_FOUND,
            json!(format!(
                "plan {plan} has no tenant with a Kubernetes cluster"
            )),
        ),
        (Some(_), None) => reply(StatusCode::NOT_FOUND, json!("no admin role configured")),
        (Some(cluster), Some(role)) => {
            let secs = clamp_session(
                settings.admin_session_secs,
                crate::domain::rules::MAX_SESSION_SECS,
            );
            let scope = format!("plan {plan}");
            k8s_vend(&app, &who, client_of(addr), &scope, &role, secs, &cluster).await
        }
    };
    with_who(response, &who.user)
}

/// AssumeRole for `who` and turn the credentials into an EKS token for `cluster`
/// (docs/protocol.md §9), recorded in the audit trail as a `k8s vend` before the token leaves.
async fn k8s_vend(
    app: &App,
    who: &Authed,
    client: Option<String>,
    scope: &str,
    role_arn: &str,
    secs: i64,
    cluster: &crate::db::K8sCluster,
) -> Response {
    let mut audit = AuditEntry::new("k8s vend", &who.user).user(&who.user);
    audit.scope = Some(scope.into());
    audit.role_arn = Some(role_arn.into());
    audit.duration_secs = Some(secs);
    audit.client = client;
    audit.token_id = Some(who.token_id.clone());
    let now = std::time::SystemTime::now();
    let made = match app.sts.assume_role(role_arn, &who.user, secs).await {
        Ok(creds) => app
            .sts
            .eks_token(&creds, &cluster.name, now)
            .map(|token| (token, creds.access_key_id)),
        Err(e) => Err(e),
    };
    let (token, key) = match made {
        Ok(made) => made,
        Err(e) => {
            let message = format!("{e:#}");
            tracing::warn!("{}", crate::log::escape(&message));
            audit.event = "k8s vend failed".into();
            audit.detail = Some(format!("cluster {}: {message}", cluster.name));
            if let Err(e) = app.db.audit(&audit).await {
                tracing::error!(
                    "cannot record a failed k8s vend: {}",
                    crate::log::escape(&format!("{e:#}"))
                );
            }
            return reply(StatusCode::BAD_GATEWAY, json!({ "Message": message }));
        }
    };
    audit.detail = Some(format!("cluster {} key {key}", cluster.name));
    if let Err(e) = app.db.audit(&audit).await {
        return internal("cannot record the vend", &e);
    }
    let refresh = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(K8S_TOKEN_REFRESH_SECS))
        .unwrap_or_else(|_| jiff::Timestamp::now());
    Json(ClusterConfig {
        name: cluster.name.clone(),
        api_server: cluster.server.clone(),
        token,
        // DuploCloud's provider enum: 0 is EKS.
        k8_provider: 0,
        aws_region: app.sts.region.clone(),
        k8s_version: String::new(),
        certificate_authority_data_base64: Some(cluster.ca.clone().unwrap_or_default()),
        last_token_refresh_time: Some(jit_wire::time::rfc3339(refresh)),
    })
    .into_response()
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => crate::web::message(StatusCode::BAD_REQUEST, "Bad request"),
    }
}

pub(crate) fn port_of(q: &HashMap<String, String>) -> Option<u16> {
    q.get("localPort")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
}

/// The CLI's one-time `state`, when it sent a sane one.
pub(crate) fn state_of(q: &HashMap<String, String>) -> Option<&str> {
    q.get("state")
        .map(String::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 512)
}

/// The CLI login page (docs/protocol.md §2). A browser that is not signed in signs in first
/// and comes back here; a signed-in one sees Authorize and Cancel.
async fn login_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = crate::web::current(&app, &headers).await;
    if q.get("success").map(String::as_str) == Some("true") {
        return page::done(session.as_ref().ok().and_then(Option::as_ref));
    }
    let Some(port) = port_of(&q) else {
        return crate::web::message(StatusCode::BAD_REQUEST, "Missing or invalid localPort");
    };
    match session {
        Ok(Some(session)) => {
            let admin = q.get("isAdmin").map(String::as_str) == Some("true");
            crate::web::cli_login(&session, port, admin, state_of(&q), None)
        }
        Ok(None) => {
            let back = uri
                .path_and_query()
                .map_or("/app/user/verify-token", |p| p.as_str());
            crate::web::sign_in_first(back)
        }
        Err(r) => r,
    }
}

/// Authorize or Cancel: only a signed-in browser's form, with its session's CSRF token, counts.
async fn login_submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    addr: Option<Extension<ClientAddr>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    crate::web::cli_login_submit(&app, &headers, client_of(addr), &form).await
}
