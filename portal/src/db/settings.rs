//! The `settings` table: one row of system-wide settings, written by `jit portal set` and the
//! admin pages alike.

use anyhow::Result;

use super::{AuditEntry, Db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Settings {
    pub admin_session_secs: i64,
    pub admin_role_arn: Option<String>,
    pub ops_role_arn: Option<String>,
}

impl Db {
    pub async fn settings(&self) -> Result<Settings> {
        let sql = "SELECT admin_session_secs, admin_role_arn, ops_role_arn FROM settings \
                   WHERE id = 1";
        with_pool!(self, p, { Ok(sqlx::query_as(sql).fetch_one(p).await?) })
    }

    /// Settings from `jit portal set`: what is given is set, the rest kept.
    pub async fn update_settings(
        &self,
        admin_session_secs: Option<i64>,
        admin_role_arn: Option<&str>,
        ops_role_arn: Option<&str>,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_settings(
            admin_session_secs,
            admin_role_arn.map(Some),
            ops_role_arn.map(Some),
            audit,
        )
        .await
    }

    /// System settings: each role is left as it is (`None`), set
    /// (`Some(Some(arn))`) or cleared (`Some(None)`).
    pub async fn write_settings(
        &self,
        admin_session_secs: Option<i64>,
        admin_role_arn: Option<Option<&str>>,
        ops_role_arn: Option<Option<&str>>,
        audit: AuditEntry,
    ) -> Result<()> {
        write_tx!(self, tx, {
            sqlx::query(
                "UPDATE settings SET admin_session_secs = COALESCE($1, admin_session_secs), \
                 admin_role_arn = CASE WHEN $2 THEN $3 ELSE admin_role_arn END, \
                 ops_role_arn = CASE WHEN $4 THEN $5 ELSE ops_role_arn END WHERE id = 1",
            )
            .bind(admin_session_secs)
            .bind(admin_role_arn.is_some())
            .bind(admin_role_arn.flatten())
            .bind(ops_role_arn.is_some())
            .bind(ops_role_arn.flatten())
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok(())
    }
}
