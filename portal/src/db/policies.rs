//! The `access_policies` and `access_principals` tables: per target, who may ask for it, who
//! approves, and the rules a request must meet (approvals, longest grant, reason, ticket,
//! break-glass).

use anyhow::Result;

use super::{AuditEntry, Db};

/// A target's policy; [`Policy::default_for`] when none is stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Policy {
    pub target: String,
    pub approvals_needed: i64,
    pub max_grant_secs: i64,
    pub reason_required: bool,
    pub ticket_required: bool,
    pub break_glass: bool,
}

impl Policy {
    /// What a target without a stored policy has: one approval, an hour, a reason.
    pub fn default_for(target: &str) -> Policy {
        Policy {
            target: target.into(),
            approvals_needed: 1,
            max_grant_secs: 3600,
            reason_required: true,
            ticket_required: false,
            break_glass: false,
        }
    }
}

/// One row of `access_principals`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Principal {
    pub target: String,
    /// `eligible` or `approver`.
    pub role: String,
    /// `user` or `group`.
    pub kind: String,
    pub name: String,
}

impl Principal {
    /// `alice` or `group:ops`.
    pub fn shown(&self) -> String {
        match self.kind.as_str() {
            "group" => format!("group:{}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// The rows of `access_principals` that name `$1` (a user) directly or through a group.
const NAMES_USER: &str = "((kind = 'user' AND name = $1) OR (kind = 'group' AND name IN \
     (SELECT group_name FROM access_group_members WHERE user_name = $1)))";

impl Db {
    pub async fn policy(&self, target: &str) -> Result<Policy> {
        let found: Option<Policy> = with_pool!(self, p, {
            sqlx::query_as(
                "SELECT target, approvals_needed, max_grant_secs, reason_required, \
                 ticket_required, break_glass FROM access_policies WHERE target = $1",
            )
            .bind(target)
            .fetch_optional(p)
            .await?
        });
        Ok(found.unwrap_or_else(|| Policy::default_for(target)))
    }

    /// The stored policies, by target.
    pub async fn list_policies(&self) -> Result<Vec<Policy>> {
        with_pool!(self, p, {
            Ok(sqlx::query_as(
                "SELECT target, approvals_needed, max_grant_secs, reason_required, \
                 ticket_required, break_glass FROM access_policies ORDER BY target",
            )
            .fetch_all(p)
            .await?)
        })
    }

    pub async fn set_policy(&self, policy: &Policy, audit: AuditEntry) -> Result<()> {
        write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO access_policies (target, approvals_needed, max_grant_secs, \
                 reason_required, ticket_required, break_glass) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (target) DO UPDATE SET approvals_needed = excluded.approvals_needed, \
                 max_grant_secs = excluded.max_grant_secs, \
                 reason_required = excluded.reason_required, \
                 ticket_required = excluded.ticket_required, break_glass = excluded.break_glass",
            )
            .bind(&policy.target)
            .bind(policy.approvals_needed)
            .bind(policy.max_grant_secs)
            .bind(policy.reason_required)
            .bind(policy.ticket_required)
            .bind(policy.break_glass)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok(())
    }

    /// Add (`add`) or remove a principal. False when nothing changed.
    pub async fn set_principal(&self, p: &Principal, add: bool, audit: AuditEntry) -> Result<bool> {
        let sql = if add {
            "INSERT INTO access_principals (target, role, kind, name) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM access_principals WHERE target = $1 AND role = $2 AND kind = $3 \
             AND name = $4"
        };
        let n = write_tx!(self, tx, {
            let n = sqlx::query(sql)
                .bind(&p.target)
                .bind(&p.role)
                .bind(&p.kind)
                .bind(&p.name)
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

    /// Every principal, by target, role, kind and name.
    pub async fn list_principals(&self) -> Result<Vec<Principal>> {
        with_pool!(self, p, {
            Ok(sqlx::query_as(
                "SELECT target, role, kind, name FROM access_principals \
                 ORDER BY target, role, kind, name",
            )
            .fetch_all(p)
            .await?)
        })
    }

    /// The principals of one role for a target.
    pub async fn principals(&self, target: &str, role: &str) -> Result<Vec<Principal>> {
        with_pool!(self, p, {
            Ok(sqlx::query_as(
                "SELECT target, role, kind, name FROM access_principals \
                 WHERE target = $1 AND role = $2 ORDER BY kind DESC, name",
            )
            .bind(target)
            .bind(role)
            .fetch_all(p)
            .await?)
        })
    }

    /// The targets for which `user` holds `role`, directly or through a group.
    pub async fn targets_of(&self, user: &str, role: &str) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT DISTINCT target FROM access_principals WHERE role = $2 AND {NAMES_USER} \
             ORDER BY target"
        );
        with_pool!(self, p, {
            Ok(sqlx::query_scalar(&sql)
                .bind(user)
                .bind(role)
                .fetch_all(p)
                .await?)
        })
    }
}
