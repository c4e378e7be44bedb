//! The admin pages: tenants, users, system config and the audit trail. Every page wants an
//! admin session and every change a CSRF token; the change itself is the domain's
//! (`domain::admin`), the same function `jit portal` calls, so both doors accept the same
//! values, say the same thing and write the same audit row.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};

use super::internal;
use super::{Chrome, message_for, render, require_admin, require_form, see_other};
use crate::db::{AuditEntry, AuditEvent, Session, Tenant, User};
use crate::domain::admin::{
    self, ClusterChange, NewTenant, SettingsChange, TenantChange, UserChange,
};
use crate::domain::rules::{
    ClusterCa, ClusterName, ClusterServer, DEFAULT_VALIDITY_SECS, MAX_SESSION_SECS, Name, RoleArn,
    SessionSecs,
};
use crate::domain::{self, Actor, Outcome, audit};
use crate::state::{ClientIp, Shared, with_who};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(|| async { see_other("/admin/tenants") }))
        .route("/admin/tenants", get(tenants_page).post(tenant_add))
        .route("/admin/tenants/{name}", get(tenant_page).post(tenant_save))
        .route("/admin/tenants/{name}/remove", post(tenant_remove))
        .route("/admin/users", get(users_page).post(user_add))
        .route("/admin/users/{name}", get(user_page).post(user_save))
        .route("/admin/users/{name}/remove", post(user_remove))
        .route("/admin/settings", get(settings_page).post(settings_save))
        .route("/admin/audit", get(audit_page))
}

/// The most rows the audit page shows.
const AUDIT_MAX_LIMIT: i64 = 1000;

/// A submitted form, in order, so repeated checkboxes (`tenant`) all arrive.
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; empty when absent.
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or_default()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of the given names, without repeats.
    fn all(&self, names: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.0 {
            let v = v.trim();
            if names.contains(&k.as_str()) && !v.is_empty() && !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
        out
    }

    fn map(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        for (k, v) in &self.0 {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map
    }
}

/// The admin session behind a form: signed in, the form's CSRF token matches, and an admin.
async fn admin_form(
    app: &Shared,
    headers: &HeaderMap,
    fields: &Fields,
    back: &str,
) -> Result<Session, Response> {
    let session = require_form(app, headers, &fields.map(), back).await?;
    if !session.admin {
        return Err(not_admin(&session));
    }
    Ok(session)
}

fn not_admin(session: &Session) -> Response {
    message_for(
        session,
        StatusCode::FORBIDDEN,
        "This page is for portal admins",
    )
}

fn not_found(session: &Session, what: &str) -> Response {
    message_for(session, StatusCode::NOT_FOUND, what)
}

/// The signed-in admin making a change from `client`.
fn actor(session: &Session, client: Option<String>) -> Actor {
    Actor::web(&session.user, client)
}

/// A domain message as a sentence on a page: capitalized, with its full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A refusal the page shows beside the form it came from; anything else is answered here.
fn shown(session: &Session, e: domain::Error, missing: &str) -> Result<String, Box<Response>> {
    match e {
        domain::Error::Invalid(m) => Ok(sentence(&m)),
        domain::Error::NotFound(_) => Err(Box::new(not_found(session, missing))),
        other => Err(Box::new(super::error_page(session, other))),
    }
}

/// Where to go back to after a change: the page with its confirmation.
fn done(session: &Session, path: &str, what: &str) -> Response {
    with_who(see_other(&format!("{path}?{what}=1")), &session.user)
}

/// The confirmation a page shows after a change redirected to it.
fn notice(q: &HashMap<String, String>) -> Option<&'static str> {
    [
        ("saved", "Changes saved."),
        ("added", "Added."),
        ("removed", "Removed."),
        ("unchanged", "Nothing changed."),
    ]
    .into_iter()
    .find(|(key, _)| q.contains_key(*key))
    .map(|(_, text)| text)
}

/// A name as one path segment of a link.
fn segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

fn page(session: &Session, status: StatusCode, tpl: &impl Template) -> Response {
    with_who(render(status, tpl), &session.user)
}

fn path_of(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/admin", |p| p.as_str())
}

// ---- tenants ----

#[derive(Clone, Default)]
struct TenantForm {
    name: String,
    role_arn: String,
    validity_secs: String,
    max_session_secs: String,
    k8s_cluster: String,
    k8s_server: String,
    k8s_ca: String,
    clear_k8s: bool,
}

impl TenantForm {
    fn blank() -> TenantForm {
        TenantForm {
            validity_secs: DEFAULT_VALIDITY_SECS.to_string(),
            max_session_secs: MAX_SESSION_SECS.to_string(),
            ..TenantForm::default()
        }
    }

    fn of(t: &Tenant) -> TenantForm {
        TenantForm {
            name: t.name.clone(),
            role_arn: t.role_arn.clone(),
            validity_secs: t.validity_secs.to_string(),
            max_session_secs: t.max_session_secs.to_string(),
            k8s_cluster: t.k8s.as_ref().map(|k| k.name.clone()).unwrap_or_default(),
            k8s_server: t.k8s.as_ref().map(|k| k.server.clone()).unwrap_or_default(),
            k8s_ca: String::new(),
            clear_k8s: false,
        }
    }

    fn read(f: &Fields) -> TenantForm {
        TenantForm {
            name: f.get("name").into(),
            role_arn: f.get("role_arn").into(),
            validity_secs: f.get("validity_secs").into(),
            max_session_secs: f.get("max_session_secs").into(),
            k8s_cluster: f.get("k8s_cluster").into(),
            k8s_server: f.get("k8s_server").into(),
            k8s_ca: f.get("k8s_ca").into(),
            clear_k8s: f.checked("clear_k8s"),
        }
    }
}

struct TenantRow {
    name: String,
    id: String,
    role_arn: String,
    validity_secs: i64,
    max_session_secs: i64,
    plan: String,
    k8s: String,
}

#[derive(Template)]
#[template(path = "admin_tenants.html")]
struct TenantsPage<'a> {
    chrome: Chrome<'a>,
    tenants: Vec<TenantRow>,
    form: TenantForm,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn tenants_view(
    app: &Shared,
    session: &Session,
    status: StatusCode,
    form: TenantForm,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let tenants = match app.db.list_tenants().await {
        Ok(t) => t,
        Err(e) => return internal("portal state unreadable", &e),
    };
    let tenants = tenants
        .into_iter()
        .map(|t| TenantRow {
            k8s: t
                .k8s
                .as_ref()
                .map(|k| format!("{} ({})", k.name, k.server))
                .unwrap_or_else(|| "-".into()),
            name: t.name,
            id: t.id,
            role_arn: t.role_arn,
            validity_secs: t.validity_secs,
            max_session_secs: t.max_session_secs,
            plan: t.plan,
        })
        .collect();
    page(
        session,
        status,
        &TenantsPage {
            chrome: Chrome::of(session),
            tenants,
            form,
            notice,
            error,
        },
    )
}

async fn tenants_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = match require_admin(&app, &headers, path_of(&uri)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    tenants_view(
        &app,
        &session,
        StatusCode::OK,
        TenantForm::blank(),
        notice(&q),
        None,
    )
    .await
}

async fn tenant_add(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = "/admin/tenants";
    let session = match admin_form(&app, &headers, &fields, back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = TenantForm::read(&fields);
    let new = (|| {
        Ok(NewTenant {
            name: Name::parse("tenant", &form.name)?,
            role_arn: RoleArn::parse("Role ARN", &form.role_arn)?,
            validity: SessionSecs::parse("AWS Access Token Validity", &form.validity_secs)?,
            max_session: SessionSecs::parse("Max session", &form.max_session_secs)?,
        })
    })();
    let added = match new {
        Ok(new) => admin::add_tenant(&app.db, &actor(&session, client), new).await,
        Err(e) => Err(e),
    };
    match added {
        Ok(_) => done(&session, back, "added"),
        Err(e) => match shown(&session, e, "No such tenant") {
            Ok(e) => {
                tenants_view(&app, &session, StatusCode::BAD_REQUEST, form, None, Some(e)).await
            }
            Err(r) => *r,
        },
    }
}

#[derive(Template)]
#[template(path = "admin_tenant.html")]
struct TenantPage<'a> {
    chrome: Chrome<'a>,
    name: String,
    id: String,
    path: String,
    form: TenantForm,
    ca: Option<String>,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn find_tenant(app: &Shared, name: &str) -> Result<Option<Tenant>, Response> {
    match app.db.list_tenants().await {
        Ok(t) => Ok(t.into_iter().find(|t| t.name == name)),
        Err(e) => Err(internal("portal state unreadable", &e)),
    }
}

struct TenantView {
    status: StatusCode,
    form: Option<TenantForm>,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn tenant_view(session: &Session, t: &Tenant, v: TenantView) -> Response {
    page(
        session,
        v.status,
        &TenantPage {
            chrome: Chrome::of(session),
            name: t.name.clone(),
            id: t.id.clone(),
            path: format!("/admin/tenants/{}", segment(&t.name)),
            form: v.form.unwrap_or_else(|| TenantForm::of(t)),
            ca: t
                .k8s
                .as_ref()
                .and_then(|k| k.ca.as_deref())
                .map(|ca| ClusterCa::stored(ca).fingerprint()),
            confirm: v.confirm,
            notice: v.notice,
            error: v.error,
        },
    )
}

async fn tenant_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = match require_admin(&app, &headers, path_of(&uri)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match find_tenant(&app, &name).await {
        Ok(Some(t)) => tenant_view(
            &session,
            &t,
            TenantView {
                status: StatusCode::OK,
                form: None,
                confirm: String::new(),
                notice: notice(&q),
                error: None,
            },
        ),
        Ok(None) => not_found(&session, "No such tenant"),
        Err(r) => r,
    }
}

/// The cluster part of the tenant form: all blank (or Remove ticked) drops the cluster; a
/// blank field otherwise keeps what is stored.
fn cluster_of(form: &TenantForm) -> domain::Result<ClusterChange> {
    let (cluster, server, ca) = (&form.k8s_cluster, &form.k8s_server, &form.k8s_ca);
    if form.clear_k8s || (cluster.is_empty() && server.is_empty() && ca.is_empty()) {
        return Ok(ClusterChange::Clear);
    }
    let given = |v: &String| Some(v.clone()).filter(|v| !v.is_empty());
    Ok(ClusterChange::Set {
        cluster: given(cluster)
            .map(|c| ClusterName::parse("Kubernetes cluster name", &c))
            .transpose()?,
        server: given(server)
            .map(|s| ClusterServer::parse("Kubernetes API server URL", &s))
            .transpose()?,
        ca: given(ca)
            .map(|c| ClusterCa::parse("Cluster CA", &c))
            .transpose()?,
    })
}

async fn tenant_save(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = format!("/admin/tenants/{}", segment(&name));
    let session = match admin_form(&app, &headers, &fields, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = match find_tenant(&app, &name).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(&session, "No such tenant"),
        Err(r) => return r,
    };
    let mut form = TenantForm::read(&fields);
    form.name.clone_from(&t.name);
    let change = (|| {
        Ok(TenantChange {
            role_arn: Some(RoleArn::parse("Role ARN", &form.role_arn)?),
            validity: Some(SessionSecs::parse(
                "AWS Access Token Validity",
                &form.validity_secs,
            )?),
            max_session: Some(SessionSecs::parse("Max session", &form.max_session_secs)?),
            cluster: cluster_of(&form)?,
        })
    })();
    let saved = match change {
        Ok(change) => admin::change_tenant(&app.db, &actor(&session, client), &name, change).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(Outcome::Saved) => done(&session, &back, "saved"),
        Ok(Outcome::Unchanged) => done(&session, &back, "unchanged"),
        Err(e) => match shown(&session, e, "No such tenant") {
            Ok(e) => {
                let view = TenantView {
                    status: StatusCode::BAD_REQUEST,
                    form: Some(form),
                    confirm: String::new(),
                    notice: None,
                    error: Some(e),
                };
                tenant_view(&session, &t, view)
            }
            Err(r) => *r,
        },
    }
}

async fn tenant_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = format!("/admin/tenants/{}", segment(&name));
    let session = match admin_form(&app, &headers, &fields, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = match find_tenant(&app, &name).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(&session, "No such tenant"),
        Err(r) => return r,
    };
    let confirm = fields.get("confirm");
    if confirm != t.name {
        let view = TenantView {
            status: StatusCode::BAD_REQUEST,
            form: None,
            confirm: confirm.into(),
            notice: None,
            error: Some(format!(
                "To remove the tenant, type its name ({}) into the confirmation field.",
                t.name
            )),
        };
        return tenant_view(&session, &t, view);
    }
    match admin::remove_tenant(&app.db, &actor(&session, client), &name).await {
        Ok(()) => done(&session, "/admin/tenants", "removed"),
        Err(domain::Error::Failed(e)) => internal("cannot remove the tenant", &e),
        Err(_) => not_found(&session, "No such tenant"),
    }
}

// ---- users ----

/// One tenant checkbox.
struct Choice {
    name: String,
    checked: bool,
}

fn choices(tenants: &[Tenant], chosen: &[String]) -> Vec<Choice> {
    tenants
        .iter()
        .map(|t| Choice {
            name: t.name.clone(),
            checked: chosen.contains(&t.name),
        })
        .collect()
}

struct UserRow {
    name: String,
    admin: bool,
    tenants: String,
    password: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    chrome: Chrome<'a>,
    users: Vec<UserRow>,
    name: String,
    admin: bool,
    tenants: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct UserForm {
    name: String,
    admin: bool,
    tenants: Vec<String>,
}

impl UserForm {
    fn read(f: &Fields) -> UserForm {
        UserForm {
            name: f.get("name").into(),
            admin: f.checked("admin"),
            tenants: f.all(&["tenant", "tenants"]),
        }
    }
}

/// The users and tenants every user page needs.
async fn people(app: &Shared) -> Result<(Vec<User>, Vec<Tenant>), Response> {
    let users = app.db.list_users().await;
    let tenants = app.db.list_tenants().await;
    match (users, tenants) {
        (Ok(u), Ok(t)) => Ok((u, t)),
        (Err(e), _) | (_, Err(e)) => Err(internal("portal state unreadable", &e)),
    }
}

async fn users_view(
    app: &Shared,
    session: &Session,
    status: StatusCode,
    form: UserForm,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let (users, tenants) = match people(app).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let with_password = match app.db.users_with_password().await {
        Ok(p) => p,
        Err(e) => return internal("portal state unreadable", &e),
    };
    let users = users
        .into_iter()
        .map(|u| UserRow {
            password: with_password.contains(&u.name),
            tenants: if u.tenants.is_empty() {
                "-".into()
            } else {
                u.tenants.join(", ")
            },
            name: u.name,
            admin: u.admin,
        })
        .collect();
    page(
        session,
        status,
        &UsersPage {
            chrome: Chrome::of(session),
            users,
            tenants: choices(&tenants, &form.tenants),
            name: form.name,
            admin: form.admin,
            notice,
            error,
        },
    )
}

async fn users_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = match require_admin(&app, &headers, path_of(&uri)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let blank = UserForm {
        name: String::new(),
        admin: false,
        tenants: Vec::new(),
    };
    users_view(&app, &session, StatusCode::OK, blank, notice(&q), None).await
}

async fn user_add(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = "/admin/users";
    let session = match admin_form(&app, &headers, &fields, back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = UserForm::read(&fields);
    let added = match (Name::parse("user", &form.name), names(&form.tenants)) {
        (Ok(name), Ok(tenants)) => {
            admin::add_user(
                &app.db,
                &actor(&session, client),
                &name,
                form.admin,
                &tenants,
            )
            .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match added {
        Ok(()) => done(&session, back, "added"),
        Err(e) => match shown(&session, e, "No such user") {
            Ok(e) => users_view(&app, &session, StatusCode::BAD_REQUEST, form, None, Some(e)).await,
            Err(r) => *r,
        },
    }
}

/// Ticked tenants as names.
fn names(tenants: &[String]) -> domain::Result<Vec<Name>> {
    tenants.iter().map(|t| Name::parse("tenant", t)).collect()
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage<'a> {
    chrome: Chrome<'a>,
    name: String,
    path: String,
    admin: bool,
    tenants: Vec<Choice>,
    password: bool,
    me: bool,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct UserView {
    status: StatusCode,
    admin: bool,
    tenants: Vec<String>,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn user_view(app: &Shared, session: &Session, name: &str, v: UserView) -> Response {
    let tenants = match app.db.list_tenants().await {
        Ok(t) => t,
        Err(e) => return internal("portal state unreadable", &e),
    };
    let password = match app.db.users_with_password().await {
        Ok(p) => p.contains(name),
        Err(e) => return internal("portal state unreadable", &e),
    };
    page(
        session,
        v.status,
        &UserPage {
            chrome: Chrome::of(session),
            name: name.into(),
            path: format!("/admin/users/{}", segment(name)),
            admin: v.admin,
            tenants: choices(&tenants, &v.tenants),
            password,
            me: name == session.user,
            confirm: v.confirm,
            notice: v.notice,
            error: v.error,
        },
    )
}

async fn find_user(app: &Shared, name: &str) -> Result<Option<User>, Response> {
    match app.db.list_users().await {
        Ok(u) => Ok(u.into_iter().find(|u| u.name == name)),
        Err(e) => Err(internal("portal state unreadable", &e)),
    }
}

async fn user_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = match require_admin(&app, &headers, path_of(&uri)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = match find_user(&app, &name).await {
        Ok(Some(u)) => u,
        Ok(None) => return not_found(&session, "No such user"),
        Err(r) => return r,
    };
    let view = UserView {
        status: StatusCode::OK,
        admin: user.admin,
        tenants: user.tenants,
        confirm: String::new(),
        notice: notice(&q),
        error: None,
    };
    user_view(&app, &session, &name, view).await
}

async fn user_save(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = format!("/admin/users/{}", segment(&name));
    let session = match admin_form(&app, &headers, &fields, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = UserForm::read(&fields);
    let saved = match names(&form.tenants) {
        Ok(tenants) => {
            let change = UserChange {
                admin: Some(form.admin),
                tenants: Some(tenants),
            };
            admin::change_user(&app.db, &actor(&session, client), &name, change).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(Outcome::Saved) => done(&session, &back, "saved"),
        Ok(Outcome::Unchanged) => done(&session, &back, "unchanged"),
        Err(e) => match shown(&session, e, "No such user") {
            Ok(e) => {
                let view = UserView {
                    status: StatusCode::BAD_REQUEST,
                    admin: form.admin,
                    tenants: form.tenants,
                    confirm: String::new(),
                    notice: None,
                    error: Some(e),
                };
                user_view(&app, &session, &name, view).await
            }
            Err(r) => *r,
        },
    }
}

async fn user_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = format!("/admin/users/{}", segment(&name));
    let session = match admin_form(&app, &headers, &fields, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = match find_user(&app, &name).await {
        Ok(Some(u)) => u,
        Ok(None) => return not_found(&session, "No such user"),
        Err(r) => return r,
    };
    let confirm = fields.get("confirm");
    let removed = if confirm == name {
        admin::remove_user(&app.db, &actor(&session, client), &name).await
    } else {
        Err(domain::Error::Invalid(format!(
            "to remove the user, type their name ({name}) into the confirmation field"
        )))
    };
    match removed {
        Ok(()) => done(&session, "/admin/users", "removed"),
        Err(e) => match shown(&session, e, "No such user") {
            Ok(e) => {
                let view = UserView {
                    status: StatusCode::BAD_REQUEST,
                    admin: user.admin,
                    tenants: user.tenants,
                    confirm: confirm.into(),
                    notice: None,
                    error: Some(e),
                };
                user_view(&app, &session, &name, view).await
            }
            Err(r) => *r,
        },
    }
}

// ---- system config ----

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage<'a> {
    chrome: Chrome<'a>,
    admin_session_secs: String,
    admin_role_arn: String,
    ops_role_arn: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn settings_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = match require_admin(&app, &headers, path_of(&uri)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let s = match app.db.settings().await {
        Ok(s) => s,
        Err(e) => return internal("portal state unreadable", &e),
    };
    page(
        &session,
        StatusCode::OK,
        &SettingsPage {
            chrome: Chrome::of(&session),
            admin_session_secs: s.admin_session_secs.to_string(),
            admin_role_arn: s.admin_role_arn.unwrap_or_default(),
            ops_role_arn: s.ops_role_arn.unwrap_or_default(),
            notice: notice(&q),
            error: None,
        },
    )
}

async fn settings_save(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = "/admin/settings";
    let session = match admin_form(&app, &headers, &fields, back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (secs_text, admin_arn, ops_arn) = (
        fields.get("admin_session_secs"),
        fields.get("admin_role_arn"),
        fields.get("ops_role_arn"),
    );
    let change = (|| {
        Ok(SettingsChange {
            admin_session: Some(SessionSecs::parse("AdminJitSessionDuration", secs_text)?),
            // An emptied role field clears that role.
            admin_role: Some(RoleArn::parse_optional("Admin role ARN", admin_arn)?),
            ops_role: Some(RoleArn::parse_optional("Ops role ARN", ops_arn)?),
        })
    })();
    let saved = match change {
        Ok(change) => admin::change_settings(&app.db, &actor(&session, client), change).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(Outcome::Saved) => done(&session, back, "saved"),
        Ok(Outcome::Unchanged) => done(&session, back, "unchanged"),
        Err(e) => match shown(&session, e, "No such page") {
            Ok(e) => page(
                &session,
                StatusCode::BAD_REQUEST,
                &SettingsPage {
                    chrome: Chrome::of(&session),
                    admin_session_secs: secs_text.into(),
                    admin_role_arn: admin_arn.into(),
                    ops_role_arn: ops_arn.into(),
                    notice: None,
                    error: Some(e),
                },
            ),
            Err(r) => *r,
        },
    }
}

// ---- audit ----

struct AuditRow {
    time: String,
    event: String,
    actor: String,
    user: String,
    scope: String,
    role: String,
    duration: String,
    client: String,
    token: String,
    detail: String,
}

impl AuditRow {
    fn of(e: AuditEntry) -> AuditRow {
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        AuditRow {
            time: jiff::Timestamp::from_second(e.at)
                .map(jit_wire::time::rfc3339)
                .unwrap_or_else(|_| e.at.to_string()),
            event: e.event,
            actor: e.actor,
            user: dash(e.user),
            scope: dash(e.scope),
            role: dash(e.role_arn),
            duration: e
                .duration_secs
                .map(|d| format!("{d}s"))
                .unwrap_or_else(|| "-".into()),
            client: dash(e.client),
            token: dash(e.token_id),
            detail: dash(e.detail),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage<'a> {
    chrome: Chrome<'a>,
    user: String,
    event: String,
    since: String,
    limit: String,
    /// Every event name, and whether the filter names it.
    events: Vec<(&'static str, bool)>,
    entries: Vec<AuditRow>,
    error: Option<String>,
}

async fn audit_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let session = match require_admin(&app, &headers, path_of(&uri)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = Fields(q);
    let (user, event, since, limit) = (
        q.get("user"),
        q.get("event"),
        q.get("since"),
        q.get("limit"),
    );
    let checked = (|| {
        let now = jiff::Timestamp::now().as_second();
        let given = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        let filter = audit::Filter {
            user: given(user),
            event: given(event)
                .map(|e| audit::parse_event("Event", &e))
                .transpose()?,
            since: given(since)
                .map(|s| audit::parse_since("Since", &s, now))
                .transpose()?,
        };
        let limit = if limit.is_empty() {
            audit::DEFAULT_LIMIT
        } else {
            limit
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=AUDIT_MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    domain::Error::Invalid(format!(
                        "limit must be a number from 1 to {AUDIT_MAX_LIMIT}"
                    ))
                })?
        };
        Ok::<_, domain::Error>((filter, limit))
    })();
    let (status, entries, error) = match checked {
        Ok((filter, limit)) => match audit::find(&app.db, &filter, limit).await {
            // Newest first on the page.
            Ok(list) => (
                StatusCode::OK,
                list.into_iter().rev().map(AuditRow::of).collect(),
                None,
            ),
            Err(e) => match shown(&session, e, "No such page") {
                Ok(e) => (StatusCode::BAD_REQUEST, Vec::new(), Some(e)),
                Err(r) => return *r,
            },
        },
        Err(e) => match shown(&session, e, "No such page") {
            Ok(e) => (StatusCode::BAD_REQUEST, Vec::new(), Some(e)),
            Err(r) => return *r,
        },
    };
    page(
        &session,
        status,
        &AuditPage {
            chrome: Chrome::of(&session),
            user: user.into(),
            event: event.into(),
            since: since.into(),
            events: AuditEvent::ALL
                .map(|e| (e.as_str(), e.as_str() == event))
                .to_vec(),
            limit: if limit.is_empty() {
                audit::DEFAULT_LIMIT.to_string()
            } else {
                limit.into()
            },
            entries,
            error,
        },
    )
}
