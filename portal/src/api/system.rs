//! The token check, the tenant list and the portal's own promises (docs/protocol.md §1, §2),
//! and the probes: liveness (`/healthz`) and readiness (`/readyz`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jit_wire::api::{PortalFeatures, SystemFeatures, Tenant};
use serde_json::json;

use super::ApiResult;
use crate::db::Authed;
use crate::domain::{self, vend};
use crate::state::{Shared, with_who};

/// What this portal promises the CLI: its login page hands back `state`, and it offers the
/// device login (docs/protocol.md §2.1).
pub async fn features() -> Json<PortalFeatures> {
    Json(PortalFeatures {
        login_state: true,
        device_login: true,
    })
}

/// Alive: the process answers. Nothing it depends on is asked, so an outage of the database
/// or of AWS does not get the portal restarted.
pub async fn health() -> Json<&'static str> {
    Json("ok")
}

/// Ready to serve: the database answers and the portal's own AWS credentials can be had; else
/// 503, saying which is not (the why goes to the log, not to whoever asked).
pub async fn ready(State(app): State<Shared>) -> Response {
    let database = app.db.settings().await.map(|_| ());
    let aws = app.sts.credentials_ready().await;
    if let Err(e) = &database {
        crate::log::failure("readiness: database unavailable", e);
    }
    if let Err(why) = &aws {
        tracing::warn!(
            "readiness: AWS credentials unavailable: {}",
            crate::log::escape(why)
        );
    }
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let status = if database.is_ok() && aws.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "database": word(database.is_ok()),
            "aws_credentials": word(aws.is_ok()),
        })),
    )
        .into_response()
}

/// `v3/features/system`: any valid token gets it, with `IsOtpNeeded` when the second-factor
/// settings cover its user (docs/protocol.md §1).
pub async fn system(who: Authed) -> Response {
    let features = SystemFeatures {
        is_otp_needed: super::otp_needed(&who),
    };
    with_who(Json(features).into_response(), &who.user)
}

/// `admin/GetTenantsForUser`: the tenants this token may use.
pub async fn tenants(State(app): State<Shared>, who: Authed) -> ApiResult<Response> {
    let list: Vec<Tenant> = app
        .db
        .tenants_listed_for(&who.user, who.admin)
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
