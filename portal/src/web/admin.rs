//! The admin pages: tenants, users, system config and the audit trail. Every page wants an
//! admin session, every change a CSRF token, and every change lands in the audit trail with
//! the admin as actor, in the same transaction. The checks are the CLI's (`cmd`), so both
//! accept the same values.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};

use super::internal;
use super::{Chrome, message_for, render, require_admin, require_form};
use crate::api::{ClientAddr, Shared, client_of, see_other, with_who};
use crate::cmd;
use crate::db::{self, AuditEntry, K8sChange, Session, Tenant, User};
use crate::secret;

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

/// The audit page's row cap when none is asked for, and the most it shows.
const AUDIT_DEFAULT_LIMIT: i64 = 200;
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

/// An audit entry for a change by the signed-in admin from `client`.
fn change(event: &str, session: &Session, client: Option<String>) -> AuditEntry {
    let mut audit = AuditEntry::new(event, &session.user);
    audit.client = client;
    audit
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

/// A duration field: whole seconds in the range STS allows.
fn secs(label: &str, text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|s| (db::MIN_SESSION_SECS..=db::MAX_SESSION_SECS).contains(s))
        .ok_or_else(|| {
            format!(
                "{label} must be a whole number of seconds from {} to {}.",
                db::MIN_SESSION_SECS,
                db::MAX_SESSION_SECS
            )
        })
}

fn role(label: &str, arn: &str) -> Result<(), String> {
    cmd::check_role(label, arn).map_err(|e| format!("{e}."))
}

/// A short, non-secret fingerprint of a CA for the audit trail and the page.
fn ca_fingerprint(ca: &str) -> String {
    format!("sha256:{}", &secret::digest(ca)[..16])
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
            validity_secs: db::DEFAULT_VALIDITY_SECS.to_string(),
            max_session_secs: db::MAX_SESSION_SECS.to_string(),
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
    addr: Option<Extension<ClientAddr>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = "/admin/tenants";
    let session = match admin_form(&app, &headers, &fields, back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = TenantForm::read(&fields);
    let existing = match app.db.list_tenants().await {
        Ok(t) => t,
        Err(e) => return internal("portal state unreadable", &e),
    };
    let checked = (|| {
        cmd::check_name("tenant", &form.name).map_err(|e| format!("{e}."))?;
        if existing.iter().any(|t| t.name == form.name) {
            return Err(format!(
                "Tenant '{}' already exists: change it on its own page.",
                form.name
            ));
        }
        role("Role ARN", &form.role_arn)?;
        let validity = secs("AWS Access Token Validity", &form.validity_secs)?;
        let max = secs("Max session", &form.max_session_secs)?;
        Ok((validity, max))
    })();
    let (validity, max) = match checked {
        Ok(v) => v,
        Err(e) => {
            return tenants_view(&app, &session, StatusCode::BAD_REQUEST, form, None, Some(e))
                .await;
        }
    };
    let name = &form.name;
    let mut audit = change("tenant add", &session, client_of(addr)).detail(format!(
        "tenant {name} validity={validity} max_session={max}"
    ));
    audit.role_arn = Some(form.role_arn.clone());
    audit.scope = Some(format!("tenant {name}"));
    match app
        .db
        .upsert_tenant(name, &form.role_arn, validity, max, audit)
        .await
    {
        Ok(_) => done(&session, back, "added"),
        Err(e) => internal("cannot save the tenant", &e),
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
                .map(ca_fingerprint),
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

/// The cluster part of the tenant form as a change to `t`'s cluster.
fn k8s_of(form: &TenantForm, t: &Tenant) -> Result<K8sChange, String> {
    let (cluster, server, ca) = (&form.k8s_cluster, &form.k8s_server, &form.k8s_ca);
    if form.clear_k8s || (cluster.is_empty() && server.is_empty() && ca.is_empty()) {
        return Ok(K8sChange {
            clear: t.k8s.is_some(),
            ..K8sChange::default()
        });
    }
    if cluster.is_empty() || server.is_empty() {
        return Err(
            "Kubernetes cluster name and API server URL go together: fill in both, or tick \
             Remove the cluster."
                .into(),
        );
    }
    cmd::check_k8s_cluster("Kubernetes cluster name", cluster).map_err(|e| format!("{e}."))?;
    cmd::check_k8s_server("Kubernetes API server URL", server).map_err(|e| format!("{e}."))?;
    let ca = if ca.is_empty() {
        None
    } else {
        // A pasted PEM is taken as it is; anything else must be base64 of one.
        let pem = if ca.contains("-----BEGIN") {
            ca.as_bytes().to_vec()
        } else {
            cmd::decode_k8s_ca("Cluster CA", ca).map_err(|e| format!("{e}."))?
        };
        Some(cmd::k8s_ca_data(&pem).map_err(|e| format!("{e}."))?)
    };
    let old = t.k8s.as_ref();
    Ok(K8sChange {
        cluster: Some(cluster.clone()).filter(|c| old.is_none_or(|k| &k.name != c)),
        server: Some(server.clone()).filter(|s| old.is_none_or(|k| &k.server != s)),
        ca: ca.filter(|c| old.is_none_or(|k| k.ca.as_ref() != Some(c))),
        clear: false,
    })
}

async fn tenant_save(
    State(app): State<Shared>,
    headers: HeaderMap,
    addr: Option<Extension<ClientAddr>>,
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
    let checked = (|| {
        role("Role ARN", &form.role_arn)?;
        let validity = secs("AWS Access Token Validity", &form.validity_secs)?;
        let max = secs("Max session", &form.max_session_secs)?;
        Ok((validity, max, k8s_of(&form, &t)?))
    })();
    let (validity, max, k8s) = match checked {
        Ok(v) => v,
        Err(e) => {
            let view = TenantView {
                status: StatusCode::BAD_REQUEST,
                form: Some(form),
                confirm: String::new(),
                notice: None,
                error: Some(e),
            };
            return tenant_view(&session, &t, view);
        }
    };
    let mut changes = Vec::new();
    let role_arn = Some(form.role_arn.as_str()).filter(|r| *r != t.role_arn);
    if let Some(r) = role_arn {
        changes.push(format!("role_arn {} -> {r}", t.role_arn));
    }
    let validity = Some(validity).filter(|v| *v != t.validity_secs);
    if let Some(v) = validity {
        changes.push(format!("validity {} -> {v}", t.validity_secs));
    }
    let max = Some(max).filter(|m| *m != t.max_session_secs);
    if let Some(m) = max {
        changes.push(format!("max_session {} -> {m}", t.max_session_secs));
    }
    if k8s.clear {
        changes.push("k8s cleared".into());
    }
    if let Some(c) = &k8s.cluster {
        changes.push(format!("k8s_cluster={c}"));
    }
    if let Some(s) = &k8s.server {
        changes.push(format!("k8s_server={s}"));
    }
    if let Some(ca) = &k8s.ca {
        changes.push(format!("k8s_ca={}", ca_fingerprint(ca)));
    }
    if changes.is_empty() {
        return done(&session, &back, "unchanged");
    }
    let mut audit = change("tenant set", &session, client_of(addr))
        .detail(format!("tenant {name}: {}", changes.join(", ")));
    audit.role_arn = role_arn.map(str::to_string);
    audit.scope = Some(format!("tenant {name}"));
    match app
        .db
        .set_tenant(&name, role_arn, validity, max, &k8s, audit)
        .await
    {
        Ok(true) => done(&session, &back, "saved"),
        Ok(false) => not_found(&session, "No such tenant"),
        Err(e) => internal("cannot save the tenant", &e),
    }
}

async fn tenant_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    addr: Option<Extension<ClientAddr>>,
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
    let mut audit = change("tenant remove", &session, client_of(addr))
        .detail(format!("tenant {name} (id {})", t.id));
    audit.scope = Some(format!("tenant {name}"));
    match app.db.remove_tenant(&name, audit).await {
        Ok(true) => done(&session, "/admin/tenants", "removed"),
        Ok(false) => not_found(&session, "No such tenant"),
        Err(e) => internal("cannot remove the tenant", &e),
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

/// Tenants a form names that do not exist.
fn unknown_tenants(wanted: &[String], tenants: &[Tenant]) -> Result<(), String> {
    match wanted
        .iter()
        .find(|w| !tenants.iter().any(|t| &t.name == *w))
    {
        Some(w) => Err(format!("There is no tenant '{w}'.")),
        None => Ok(()),
    }
}

async fn user_add(
    State(app): State<Shared>,
    headers: HeaderMap,
    addr: Option<Extension<ClientAddr>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = "/admin/users";
    let session = match admin_form(&app, &headers, &fields, back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = UserForm::read(&fields);
    let (users, tenants) = match people(&app).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let checked = (|| {
        cmd::check_name("user", &form.name).map_err(|e| format!("{e}."))?;
        if users.iter().any(|u| u.name == form.name) {
            return Err(format!(
                "User '{}' already exists: change them on their own page.",
                form.name
            ));
        }
        unknown_tenants(&form.tenants, &tenants)
    })();
    if let Err(e) = checked {
        return users_view(&app, &session, StatusCode::BAD_REQUEST, form, None, Some(e)).await;
    }
    let detail = format!("admin={} tenants={}", form.admin, form.tenants.join(","));
    let audit = change("user add", &session, client_of(addr))
        .user(&form.name)
        .detail(detail);
    match app
        .db
        .upsert_user(&form.name, form.admin, &form.tenants, audit)
        .await
    {
        Ok(()) => done(&session, back, "added"),
        Err(e) => internal("cannot save the user", &e),
    }
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
    addr: Option<Extension<ClientAddr>>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let back = format!("/admin/users/{}", segment(&name));
    let session = match admin_form(&app, &headers, &fields, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (users, tenants) = match people(&app).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(user) = users.into_iter().find(|u| u.name == name) else {
        return not_found(&session, "No such user");
    };
    let form = UserForm::read(&fields);
    let checked = if name == session.user && user.admin && !form.admin {
        Err("You cannot drop your own admin flag: ask another admin to do it.".to_string())
    } else {
        unknown_tenants(&form.tenants, &tenants)
    };
    if let Err(e) = checked {
        let view = UserView {
            status: StatusCode::BAD_REQUEST,
            admin: form.admin,
            tenants: form.tenants,
            confirm: String::new(),
            notice: None,
            error: Some(e),
        };
        return user_view(&app, &session, &name, view).await;
    }
    let mut old_tenants = user.tenants.clone();
    let mut new_tenants = form.tenants.clone();
    old_tenants.sort();
    new_tenants.sort();
    let mut changes = Vec::new();
    if form.admin != user.admin {
        changes.push(format!("admin {} -> {}", user.admin, form.admin));
    }
    if old_tenants != new_tenants {
        changes.push(format!(
            "tenants {} -> {}",
            old_tenants.join(","),
            new_tenants.join(",")
        ));
    }
    if changes.is_empty() {
        return done(&session, &back, "unchanged");
    }
    let audit = change("user set", &session, client_of(addr))
        .user(&name)
        .detail(changes.join(", "));
    match app
        .db
        .upsert_user(&name, form.admin, &new_tenants, audit)
        .await
    {
        Ok(()) => done(&session, &back, "saved"),
        Err(e) => internal("cannot save the user", &e),
    }
}

async fn user_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    addr: Option<Extension<ClientAddr>>,
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
    let refused = if name == session.user {
        Some("You cannot remove yourself: ask another admin to do it.".to_string())
    } else if confirm != name {
        Some(format!(
            "To remove the user, type their name ({name}) into the confirmation field."
        ))
    } else {
        None
    };
    if let Some(e) = refused {
        let view = UserView {
            status: StatusCode::BAD_REQUEST,
            admin: user.admin,
            tenants: user.tenants,
            confirm: confirm.into(),
            notice: None,
            error: Some(e),
        };
        return user_view(&app, &session, &name, view).await;
    }
    let audit = change("user remove", &session, client_of(addr))
        .user(&name)
        .detail(format!(
            "admin={} tenants={}",
            user.admin,
            user.tenants.join(",")
        ));
    match app.db.remove_user(&name, audit).await {
        Ok(true) => done(&session, "/admin/users", "removed"),
        Ok(false) => not_found(&session, "No such user"),
        Err(e) => internal("cannot remove the user", &e),
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
    addr: Option<Extension<ClientAddr>>,
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
    let checked = (|| {
        let s = secs("AdminJitSessionDuration", secs_text)?;
        if !admin_arn.is_empty() {
            role("Admin role ARN", admin_arn)?;
        }
        if !ops_arn.is_empty() {
            role("Ops role ARN", ops_arn)?;
        }
        Ok(s)
    })();
    let current = match app.db.settings().await {
        Ok(s) => s,
        Err(e) => return internal("portal state unreadable", &e),
    };
    let wanted = match checked {
        Ok(s) => s,
        Err(e) => {
            return page(
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
            );
        }
    };
    // An emptied role field clears that role.
    let new_secs = Some(wanted).filter(|s| *s != current.admin_session_secs);
    let changed = |new: &str, old: &Option<String>| -> Option<Option<String>> {
        let new = Some(new.to_string()).filter(|n| !n.is_empty());
        (new != *old).then_some(new)
    };
    let new_admin = changed(admin_arn, &current.admin_role_arn);
    let new_ops = changed(ops_arn, &current.ops_role_arn);
    let mut changes = Vec::new();
    if let Some(s) = new_secs {
        changes.push(format!(
            "admin_session {} -> {s}",
            current.admin_session_secs
        ));
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    if let Some(a) = &new_admin {
        changes.push(format!(
            "admin_role_arn {} -> {}",
            show(&current.admin_role_arn),
            show(a)
        ));
    }
    if let Some(o) = &new_ops {
        changes.push(format!(
            "ops_role_arn {} -> {}",
            show(&current.ops_role_arn),
            show(o)
        ));
    }
    if changes.is_empty() {
        return done(&session, back, "unchanged");
    }
    let audit = change("settings", &session, client_of(addr)).detail(changes.join(", "));
    match app
        .db
        .write_settings(
            new_secs,
            new_admin.as_ref().map(Option::as_deref),
            new_ops.as_ref().map(Option::as_deref),
            audit,
        )
        .await
    {
        Ok(()) => done(&session, back, "saved"),
        Err(e) => internal("cannot save the settings", &e),
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
        let since = Some(since)
            .filter(|s| !s.is_empty())
            .map(|s| {
                cmd::audit::parse_since(s, now).map_err(|_| {
                    "Since wants an RFC 3339 time (2026-01-31T08:00:00Z) or an age such as \
                     90s, 30m, 12h or 7d."
                        .to_string()
                })
            })
            .transpose()?;
        let limit = if limit.is_empty() {
            AUDIT_DEFAULT_LIMIT
        } else {
            limit
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=AUDIT_MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("Limit must be a number from 1 to {AUDIT_MAX_LIMIT}."))?
        };
        Ok::<_, String>((since, limit))
    })();
    let (status, entries, error) = match checked {
        Ok((since, limit)) => {
            let opt = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
            let found = app
                .db
                .audit_find(opt(user).as_deref(), opt(event).as_deref(), since, limit)
                .await;
            match found {
                // Newest first on the page.
                Ok(list) => (
                    StatusCode::OK,
                    list.into_iter().rev().map(AuditRow::of).collect(),
                    None,
                ),
                Err(e) => return internal("portal state unreadable", &e),
            }
        }
        Err(e) => (StatusCode::BAD_REQUEST, Vec::new(), Some(e)),
    };
    page(
        &session,
        status,
        &AuditPage {
            chrome: Chrome::of(&session),
            user: user.into(),
            event: event.into(),
            since: since.into(),
            limit: if limit.is_empty() {
                AUDIT_DEFAULT_LIMIT.to_string()
            } else {
                limit.into()
            },
            entries,
            error,
        },
    )
}
