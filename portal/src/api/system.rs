//! The token check, the tenant list and the portal's own promises (docs/protocol.md §1, §2),
//! and the liveness probe.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use jit_wire::api::{PortalFeatures, SystemFeatures, Tenant};
use serde_json::json;

use super::ApiResult;
use crate::db::Authed;
use crate::domain::{self, vend};
use crate::state::{Shared, with_who};

/// What this portal promises the CLI: its login page hands back `state`.
pub async fn features() -> Json<PortalFeatures> {
    Json(PortalFeatures { login_state: true })
}

/// Alive, and the database answers.
pub async fn health(State(app): State<Shared>) -> ApiResult<Json<&'static str>> {
    app.db
        .settings()
        .await
        .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?;
    Ok(Json("ok"))
}

/// `v3/features/system`: any valid token gets it.
pub async fn system(who: Authed) -> Response {
    with_who(Json(SystemFeatures::default()).into_response(), &who.user)
}

/// `admin/GetTenantsForUser`: the tenants this token may use.
pub async fn tenants(State(app): State<Shared>, who: Authed) -> ApiResult<Response> {
    let list: Vec<Tenant> = app
        .db
        .tenants_for(&who.user, who.admin)
        .await
        .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?
        .into_iter()
        .map(|t| Tenant {
            tenant_id: t.id,
            account_name: t.name,
            plan_id: t.plan,
        })
        .collect();
    Ok(with_who(Json(list).into_response(), &who.user))
}

/// `v3/features/tenant/{id}`.
pub async fn tenant_features(
    State(app): State<Shared>,
    Path(id): Path<String>,
    who: Authed,
) -> Response {
    let answer = vend::allowed_tenant(&app.db, (&who).into(), &id)
        .await
        .map(|t| Json(json!({ "TenantName": t.name })).into_response());
    with_who(
        answer.unwrap_or_else(|e| super::ApiError(e).into_response()),
        &who.user,
    )
}
