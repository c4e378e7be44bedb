//! Kubernetes cluster configs with an EKS token (docs/protocol.md §9).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::aws::answer as json_for;
use crate::db::{AuditEvent, Authed};
use crate::domain::vend;
use crate::state::{ClientIp, Shared, with_who};

/// `v3/subscriptions/{id}/k8s/jitAccess`: a tenant's cluster.
pub async fn tenant(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
) -> Response {
    json_for(
        vend::k8s_tenant(app.vendor(), (&who).into(), client, &id).await,
        &who,
    )
}

/// `v3/admin/plans/{plan}/k8sConfig`: a plan's cluster, for an admin.
pub async fn plan(
    State(app): State<Shared>,
    Path(plan): Path<String>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    who: Authed,
) -> Response {
    let scope = format!("plan {plan}");
    let refused = (AuditEvent::K8sVendRefused, scope.as_str());
    if let Err(e) = super::otp_checked(&app, &who, &headers, refused, client.clone()).await {
        return with_who(e.into_response(), &who.user);
    }
    json_for(
        vend::k8s_plan(app.vendor(), (&who).into(), client, &plan).await,
        &who,
    )
}
