//! The `access_grants` table: an approved request's access to one target between two times,
//! which the vend checks when standing access fails, and which a revoke ends at once.

use anyhow::Result;

use super::{AuditEntry, Db};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub request: String,
    pub user_name: String,
    pub target: String,
    pub starts: i64,
    pub ends: i64,
    pub revoked: Option<i64>,
    pub revoked_by: Option<String>,
    pub break_glass: bool,
    pub reviewed: Option<i64>,
    pub reviewed_by: Option<String>,
}

const COLUMNS: &str = "id, request, user_name, target, starts, ends, revoked, revoked_by, \
     break_glass, reviewed, reviewed_by";

/// Insert `$g` (a `&GrantRow`) through `$exec`, inside the transaction that approves it.
macro_rules! insert_grant {
    ($exec:expr, $g:expr) => {{
        let g: &$crate::db::GrantRow = $g;
        sqlx::query(
            "INSERT INTO access_grants (id, request, user_name, target, starts, ends, \
             break_glass) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&g.id)
        .bind(&g.request)
        .bind(&g.user_name)
        .bind(&g.target)
        .bind(g.starts)
        .bind(g.ends)
        .bind(g.break_glass)
        .execute($exec)
        .await?;
    }};
}
pub(super) use insert_grant;

impl Db {
    /// The grant that lets `user` use `target` at `now`, the one that lasts longest: the one
    /// query a vend adds, and only after standing access failed.
    pub async fn active_grant(
        &self,
        user: &str,
        target: &str,
        now: i64,
    ) -> Result<Option<GrantRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_grants WHERE user_name = $1 AND target = $2 \
             AND revoked IS NULL AND starts <= $3 AND ends > $3 ORDER BY ends DESC LIMIT 1"
        );
        with_pool!(self, p, {
            Ok(sqlx::query_as(&sql)
                .bind(user)
                .bind(target)
                .bind(now)
                .fetch_optional(p)
                .await?)
        })
    }

    /// The grant of `user` for `target` that ends last, whatever its state.
    pub async fn last_grant(&self, user: &str, target: &str) -> Result<Option<GrantRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_grants WHERE user_name = $1 AND target = $2 \
             ORDER BY ends DESC LIMIT 1"
        );
        with_pool!(self, p, {
            Ok(sqlx::query_as(&sql)
                .bind(user)
                .bind(target)
                .fetch_optional(p)
                .await?)
        })
    }

    /// A user's grants that have not ended or been revoked, soonest end first.
    pub async fn live_grants_of(&self, user: &str, now: i64) -> Result<Vec<GrantRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_grants WHERE user_name = $1 AND revoked IS NULL \
             AND ends > $2 ORDER BY ends, target"
        );
        with_pool!(self, p, {
            Ok(sqlx::query_as(&sql)
                .bind(user)
                .bind(now)
                .fetch_all(p)
                .await?)
        })
    }

    /// Every grant that has not ended or been revoked, soonest end first.
    pub async fn all_live_grants(&self, now: i64) -> Result<Vec<GrantRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_grants WHERE revoked IS NULL AND ends > $1 \
             ORDER BY ends, user_name, target"
        );
        with_pool!(self, p, {
            Ok(sqlx::query_as(&sql).bind(now).fetch_all(p).await?)
        })
    }

    /// The grants a request made.
    pub async fn grants_of_request(&self, request: &str) -> Result<Vec<GrantRow>> {
        let sql = format!("SELECT {COLUMNS} FROM access_grants WHERE request = $1 ORDER BY target");
        with_pool!(self, p, {
            Ok(sqlx::query_as(&sql).bind(request).fetch_all(p).await?)
        })
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRow>> {
        let sql = format!("SELECT {COLUMNS} FROM access_grants WHERE id = $1");
        with_pool!(self, p, {
            Ok(sqlx::query_as(&sql).bind(id).fetch_optional(p).await?)
        })
    }

    /// Break-glass grants no approver has reviewed yet, oldest first.
    pub async fn unreviewed_grants(&self) -> Result<Vec<GrantRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_grants WHERE break_glass AND reviewed IS NULL \
             ORDER BY starts, id"
        );
        with_pool!(self, p, { Ok(sqlx::query_as(&sql).fetch_all(p).await?) })
    }

    /// End a grant at `at` (when it has not ended). False when it had.
    pub async fn revoke_grant(&self, id: &str, by: &str, audit: AuditEntry) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(
                "UPDATE access_grants SET revoked = $2, revoked_by = $3 \
                 WHERE id = $1 AND revoked IS NULL AND ends > $2",
            )
            .bind(id)
            .bind(audit.at)
            .bind(by)
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

    /// Mark a break-glass grant reviewed. False when it was already, or is no break-glass one.
    pub async fn review_grant(&self, id: &str, by: &str, audit: AuditEntry) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(
                "UPDATE access_grants SET reviewed = $2, reviewed_by = $3 \
                 WHERE id = $1 AND break_glass AND reviewed IS NULL",
            )
            .bind(id)
            .bind(audit.at)
            .bind(by)
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
}
