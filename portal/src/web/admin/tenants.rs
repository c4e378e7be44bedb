//! The tenants pages: the list with its Add form, and each tenant's page with its settings,
//! its Kubernetes cluster and its removal.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::{NoticeQuery, RemoveForm, actor, done, not_found, page, segment, shown};
use crate::db::{Session, Tenant};
use crate::domain::admin::{self, ClusterChange, NewTenant, TenantChange};
use crate::domain::rules::{
    ClusterCa, ClusterName, ClusterServer, DEFAULT_VALIDITY_SECS, MAX_SESSION_SECS, Name, RoleArn,
    SessionSecs,
};
use crate::domain::{self, Outcome};
use crate::state::{ClientIp, Shared};
use crate::web::extract::{Admin, AdminForm, PageForm, first, first_trimmed, ticked};
use crate::web::{Chrome, PageError, PageResult, unreadable};

/// A tenant's form, as posted and as shown again.
#[derive(Clone, Default, Deserialize)]
pub struct TenantForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    name: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    role_arn: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    validity_secs: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    max_session_secs: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    k8s_cluster: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    k8s_server: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    k8s_ca: String,
    #[serde(default, deserialize_with = "ticked")]
    clear_k8s: bool,
}

impl PageForm for TenantForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
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
            ..TenantForm::default()
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
#[template(path = "admin/tenants.html")]
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
) -> PageResult {
    let tenants = app.db.list_tenants().await.map_err(unreadable)?;
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
    Ok(page(
        session,
        status,
        &TenantsPage {
            chrome: Chrome::of(session),
            tenants,
            form,
            notice,
            error,
        },
    ))
}

/// The tenants and the Add form.
pub async fn list(
    State(app): State<Shared>,
    Admin(session): Admin,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let form = TenantForm::blank();
    tenants_view(&app, &session, StatusCode::OK, form, q.notice(), None).await
}

/// Add a tenant.
pub async fn add(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<TenantForm>,
) -> PageResult {
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
        Ok(_) => Ok(done(&session, "/admin/tenants", "added")),
        Err(e) => {
            let error = shown(&session, e, "No such tenant")?;
            let status = StatusCode::BAD_REQUEST;
            tenants_view(&app, &session, status, form, None, Some(error)).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/tenant.html")]
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

/// The tenant named `name`, or the page that says there is none.
async fn find_tenant(app: &Shared, session: &Session, name: &str) -> Result<Tenant, PageError> {
    let tenants = app.db.list_tenants().await.map_err(unreadable)?;
    tenants
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| not_found(session, "No such tenant"))
}

struct TenantView {
    status: StatusCode,
    form: Option<TenantForm>,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

impl TenantView {
    fn refused(error: String) -> TenantView {
        TenantView {
            status: StatusCode::BAD_REQUEST,
            form: None,
            confirm: String::new(),
            notice: None,
            error: Some(error),
        }
    }
}

fn tenant_view(session: &Session, t: &Tenant, v: TenantView) -> PageResult {
    Ok(page(
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
    ))
}

/// One tenant's page.
pub async fn show(
    State(app): State<Shared>,
    Path(name): Path<String>,
    Admin(session): Admin,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let t = find_tenant(&app, &session, &name).await?;
    let view = TenantView {
        status: StatusCode::OK,
        form: None,
        confirm: String::new(),
        notice: q.notice(),
        error: None,
    };
    tenant_view(&session, &t, view)
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

/// Save a tenant's settings and cluster.
pub async fn save(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, mut form): AdminForm<TenantForm>,
) -> PageResult {
    let back = format!("/admin/tenants/{}", segment(&name));
    let t = find_tenant(&app, &session, &name).await?;
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
        Ok(Outcome::Saved) => Ok(done(&session, &back, "saved")),
        Ok(Outcome::Unchanged) => Ok(done(&session, &back, "unchanged")),
        Err(e) => {
            let error = shown(&session, e, "No such tenant")?;
            let view = TenantView {
                form: Some(form),
                ..TenantView::refused(error)
            };
            tenant_view(&session, &t, view)
        }
    }
}

/// Remove a tenant, once its name is typed again.
pub async fn remove(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, form): AdminForm<RemoveForm>,
) -> PageResult {
    let t = find_tenant(&app, &session, &name).await?;
    if form.confirm != t.name {
        let view = TenantView {
            confirm: form.confirm,
            ..TenantView::refused(format!(
                "To remove the tenant, type its name ({}) into the confirmation field.",
                t.name
            ))
        };
        return tenant_view(&session, &t, view);
    }
    match admin::remove_tenant(&app.db, &actor(&session, client), &name).await {
        Ok(()) => Ok(done(&session, "/admin/tenants", "removed")),
        Err(domain::Error::Failed(e)) => Err(PageError::Internal("cannot remove the tenant", e)),
        Err(_) => Err(not_found(&session, "No such tenant")),
    }
}
