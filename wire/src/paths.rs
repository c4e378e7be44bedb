//! The portal API's URL paths (docs/protocol.md §1, §2, §9), written once. Each is an absolute
//! path whose `{name}` segments are what the portal's router matches and what the client fills
//! in with [`fill`], percent-encoded so an id can never reach another endpoint.

/// Validates a token; answers [`crate::api::SystemFeatures`].
pub const SYSTEM_FEATURES: &str = "/v3/features/system";
/// The tenants a token may use; answers a list of [`crate::api::Tenant`].
pub const TENANTS: &str = "/admin/GetTenantsForUser";
/// A tenant's feature flags.
pub const TENANT_FEATURES: &str = "/v3/features/tenant/{id}";
/// Admin (`admin`) and duplo-ops (`duplo-ops`) credentials; answers [`crate::api::AwsResponse`].
pub const AWS_ADMIN: &str = "/v3/admin/aws/jitAccess/{kind}";
/// A tenant's credentials; answers [`crate::api::AwsResponse`].
pub const AWS_TENANT: &str = "/subscriptions/{id}/GetAwsConsoleTokenUrl";
/// A plan's cluster with an admin token; answers [`crate::api::ClusterConfig`].
pub const K8S_PLAN: &str = "/v3/admin/plans/{plan}/k8sConfig";
/// A tenant's cluster; answers [`crate::api::ClusterConfig`].
pub const K8S_TENANT: &str = "/v3/subscriptions/{id}/k8s/jitAccess";
/// The browser page the CLI login opens (docs/protocol.md §2).
pub const LOGIN_PAGE: &str = "/app/user/verify-token";
/// What a `jit portal` promises the CLI; answers [`crate::api::PortalFeatures`].
pub const PORTAL_FEATURES: &str = "/.well-known/jit-portal";
/// The device login's code request (docs/protocol.md §2.1); answers [`crate::device::DeviceCode`].
pub const DEVICE_CODE: &str = "/login/device/code";
/// The device login's poll; answers [`crate::device::DeviceToken`] or [`crate::device::DeviceError`].
pub const DEVICE_TOKEN: &str = "/login/device/token";
/// The page where a signed-in user types the user code and approves or denies.
pub const DEVICE_PAGE: &str = "/device";

/// Access requests (docs/protocol.md §13): `POST` a [`crate::access::NewRequest`] to ask,
/// `GET` the asker's own; each answers [`crate::access::Request`]s.
pub const ACCESS_REQUESTS: &str = "/jit/access/requests";
/// The pending requests the asker may decide.
pub const ACCESS_TO_APPROVE: &str = "/jit/access/approvals";
/// One request, to its requester or an approver.
pub const ACCESS_REQUEST: &str = "/jit/access/requests/{id}";
/// `POST` a [`crate::access::Comment`]: approve a request.
pub const ACCESS_APPROVE: &str = "/jit/access/requests/{id}/approve";
/// `POST` a [`crate::access::Comment`]: deny a request.
pub const ACCESS_DENY: &str = "/jit/access/requests/{id}/deny";
/// `POST`: the requester takes a pending request back.
pub const ACCESS_WITHDRAW: &str = "/jit/access/requests/{id}/withdraw";
/// The asker's grants that have not ended; answers [`crate::access::Grant`]s.
pub const ACCESS_GRANTS: &str = "/jit/access/grants";
/// Break-glass grants the asker may review; answers [`crate::access::Grant`]s.
pub const ACCESS_REVIEWS: &str = "/jit/access/reviews";
/// `POST`: end a grant now (its user, an approver of its target, or an admin).
pub const ACCESS_REVOKE: &str = "/jit/access/grants/{id}/revoke";
/// `POST` a [`crate::access::Comment`]: an approver reviews a break-glass grant.
pub const ACCESS_REVIEW: &str = "/jit/access/grants/{id}/review";

/// The `{kind}` of [`AWS_ADMIN`] for `--admin`.
pub const KIND_ADMIN: &str = "admin";
/// The `{kind}` of [`AWS_ADMIN`] for `--duplo-ops`.
pub const KIND_DUPLO_OPS: &str = "duplo-ops";

/// `pattern` with its one `{...}` segment replaced by `value`, percent-encoded as a single path
/// segment. A pattern without a placeholder comes back unchanged.
pub fn fill(pattern: &str, value: &str) -> String {
    match (pattern.find('{'), pattern.find('}')) {
        (Some(open), Some(close)) if open < close => {
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            format!("{}{encoded}{}", &pattern[..open], &pattern[close + 1..])
        }
        _ => pattern.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_one_encoded_segment() {
        assert_eq!(
            fill(AWS_TENANT, "abc"),
            "/subscriptions/abc/GetAwsConsoleTokenUrl"
        );
        assert_eq!(
            fill(K8S_PLAN, "../admin/x?y"),
            "/v3/admin/plans/..%2Fadmin%2Fx%3Fy/k8sConfig"
        );
        assert_eq!(
            fill(AWS_ADMIN, KIND_DUPLO_OPS),
            "/v3/admin/aws/jitAccess/duplo-ops"
        );
        assert_eq!(fill(TENANTS, "x"), TENANTS);
    }
}
