//! The `tenants` table: each tenant maps to an IAM role (and maybe a Kubernetes cluster), with
//! the session lengths its users may ask for.

use anyhow::Result;

use super::{AuditEntry, Db};
use crate::secret;

#[derive(Debug, Clone)]
pub struct Tenant {
    pub name: String,
    pub id: String,
    pub role_arn: String,
    pub validity_secs: i64,
    pub max_session_secs: i64,
    pub plan: String,
    pub k8s: Option<K8sCluster>,
}

/// A tenant's Kubernetes cluster, set by an admin.
#[derive(Debug, Clone, Default)]
pub struct K8sCluster {
    /// The EKS cluster name: what the token names in `x-k8s-aws-id`.
    pub name: String,
    pub server: String,
    /// Base64 of the CA's PEM, as kubeconfig's `certificate-authority-data`.
    pub ca: Option<String>,
}

/// A change to a tenant's cluster: fields to set, or `clear` to drop the cluster.
#[derive(Debug, Clone, Default)]
pub struct K8sChange {
    pub cluster: Option<String>,
    pub server: Option<String>,
    pub ca: Option<String>,
    pub clear: bool,
}

/// A row as stored: the cluster is three nullable columns, and a tenant has one only when both
/// its name and its server are set.
#[derive(sqlx::FromRow)]
struct TenantRow {
    name: String,
    id: String,
    role_arn: String,
    validity_secs: i64,
    max_session_secs: i64,
    plan: String,
    k8s_cluster: Option<String>,
    k8s_server: Option<String>,
    k8s_ca: Option<String>,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Tenant {
        let k8s = match (r.k8s_cluster, r.k8s_server) {
            (Some(name), Some(server)) => Some(K8sCluster {
                name,
                server,
                ca: r.k8s_ca,
            }),
            _ => None,
        };
        Tenant {
            name: r.name,
            id: r.id,
            role_arn: r.role_arn,
            validity_secs: r.validity_secs,
            max_session_secs: r.max_session_secs,
            plan: r.plan,
            k8s,
        }
    }
}

impl Db {
    /// Add a tenant, or replace its role and durations (its id stays). Returns the id.
    pub async fn upsert_tenant(
        &self,
        name: &str,
        role_arn: &str,
        validity_secs: i64,
        max_session_secs: i64,
        audit: AuditEntry,
    ) -> Result<String> {
        let fresh = secret::new_tenant_id()?;
        let id = write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO tenants (name, id, role_arn, validity_secs, max_session_secs, plan) \
                 VALUES ($1, $2, $3, $4, $5, 'default') ON CONFLICT (name) DO UPDATE SET \
                 role_arn = excluded.role_arn, validity_secs = excluded.validity_secs, \
                 max_session_secs = excluded.max_session_secs",
            )
            .bind(name)
            .bind(&fresh)
            .bind(role_arn)
            .bind(validity_secs)
            .bind(max_session_secs)
            .execute(&mut *tx)
            .await?;
            let id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, &audit);
            id
        });
        Ok(id)
    }

    /// Change some of a tenant's settings. False when there is no such tenant.
    pub async fn set_tenant(
        &self,
        name: &str,
        role_arn: Option<&str>,
        validity_secs: Option<i64>,
        max_session_secs: Option<i64>,
        k8s: &K8sChange,
        audit: AuditEntry,
    ) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(
                "UPDATE tenants SET role_arn = COALESCE($2, role_arn), \
                 validity_secs = COALESCE($3, validity_secs), \
                 max_session_secs = COALESCE($4, max_session_secs), \
                 k8s_cluster = CASE WHEN $8 THEN NULL ELSE COALESCE($5, k8s_cluster) END, \
                 k8s_server = CASE WHEN $8 THEN NULL ELSE COALESCE($6, k8s_server) END, \
                 k8s_ca = CASE WHEN $8 THEN NULL ELSE COALESCE($7, k8s_ca) END \
                 WHERE name = $1",
            )
            .bind(name)
            .bind(role_arn)
            .bind(validity_secs)
            .bind(max_session_secs)
            .bind(&k8s.cluster)
            .bind(&k8s.server)
            .bind(&k8s.ca)
            .bind(k8s.clear)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, &audit);
            }
            n
        });
        Ok(n > 0)
    }

    /// Remove a tenant; users lose their membership. False when there was none.
    pub async fn remove_tenant(&self, name: &str, audit: AuditEntry) -> Result<bool> {
        self.delete_audited("DELETE FROM tenants WHERE name = $1", name, audit)
            .await
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.tenants_where("", None).await
    }

    /// The tenants a user may use: every one for an admin.
    pub async fn tenants_for(&self, user: &str, admin: bool) -> Result<Vec<Tenant>> {
        if admin {
            return self.list_tenants().await;
        }
        self.tenants_where(
            "WHERE name IN (SELECT tenant_name FROM memberships WHERE user_name = $1)",
            Some(user),
        )
        .await
    }

    /// What `admin/GetTenantsForUser` lists: the tenants a user may use, and those they may
    /// request (docs/access.md), so a client can resolve the name and hear from the vend how to
    /// ask for it. The vend decides; this list grants nothing.
    pub async fn tenants_listed_for(&self, user: &str, admin: bool) -> Result<Vec<Tenant>> {
        if admin {
            return self.list_tenants().await;
        }
        self.tenants_where(
            "WHERE name IN (SELECT tenant_name FROM memberships WHERE user_name = $1) \
             OR 'tenant:' || name IN (SELECT target FROM access_principals \
             WHERE role = 'eligible' AND ((kind = 'user' AND name = $1) OR (kind = 'group' \
             AND name IN (SELECT group_name FROM access_group_members WHERE user_name = $1))))",
            Some(user),
        )
        .await
    }

    pub async fn tenant_by_id(&self, id: &str) -> Result<Option<Tenant>> {
        Ok(self
            .tenants_where("WHERE id = $1", Some(id))
            .await?
            .into_iter()
            .next())
    }

    async fn tenants_where(&self, filter: &str, arg: Option<&str>) -> Result<Vec<Tenant>> {
        let sql = format!(
            "SELECT name, id, role_arn, validity_secs, max_session_secs, plan, k8s_cluster, \
             k8s_server, k8s_ca FROM tenants {filter} ORDER BY name"
        );
        let rows: Vec<TenantRow> = with_pool!(self, p, {
            let mut q = sqlx::query_as(&sql);
            if let Some(a) = arg {
                q = q.bind(a);
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(Tenant::from).collect())
    }
}
