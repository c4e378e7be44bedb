//! AWS credentials for a tenant or for an admin role (docs/protocol.md §1).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::db::{AuditEvent, Authed};
use crate::domain::vend::{self, AdminRole};
use crate::domain::{self};
use crate::state::{ClientIp, Shared, with_who};

/// `subscriptions/{id}/GetAwsConsoleTokenUrl`.
pub async fn tenant(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
) -> Response {
    answer(
        vend::tenant_by_id(app.vendor(), (&who).into(), client, &id).await,
        &who,
    )
}

/// `v3/admin/aws/jitAccess/{kind}`: `admin` or `duplo-ops`.
pub async fn admin(
    State(app): State<Shared>,
    Path(kind): Path<String>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    who: Authed,
) -> Response {
    let Some(role) = AdminRole::parse(&kind) else {
        return answer::<()>(Err(domain::Error::NotFound("not found".into())), &who);
    };
    let refused = (AuditEvent::VendRefused, role.as_str());
    if let Err(e) = super::otp_checked(&app, &who, &headers, refused, client.clone()).await {
        return with_who(e.into_response(), &who.user);
    }
    let vended = vend::admin(app.vendor(), (&who).into(), client, role).await;
    answer(vended, &who)
}

pub(super) fn answer<T: serde::Serialize>(r: domain::Result<T>, who: &Authed) -> Response {
    let response = match r {
        Ok(body) => Json(body).into_response(),
        Err(e) => ApiError(e).into_response(),
    };
    with_who(response, &who.user)
}
