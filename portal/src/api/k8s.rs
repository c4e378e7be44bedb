//! Kubernetes cluster configs with an EKS token (docs/protocol.md §9).

use axum::extract::{Path, State};
use axum::response::Response;

use super::aws::answer as json_for;
use crate::db::Authed;
use crate::domain::vend;
use crate::state::{ClientIp, Shared};

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
    who: Authed,
) -> Response {
    json_for(
        vend::k8s_plan(app.vendor(), (&who).into(), client, &plan).await,
        &who,
    )
}
