//! The `settings` table: one row of system-wide settings, written by `jit portal set` and the
//! admin pages alike.

use anyhow::Result;

use super::{AuditEntry, Db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Settings {
    pub admin_session_secs: i64,
    pub admin_role_arn: Option<String>,
    pub ops_role_arn: Option<String>,
    /// Who must sign in with a second factor: `none`, `admins` or `all`.
    pub require_mfa: String,
    /// Whether admin-scope vends need a session or token whose sign-in used a second factor.
    pub admin_vends_need_mfa: bool,
}

/// The second-factor settings to change; `None` keeps one.
#[derive(Debug, Clone, Copy, Default)]
pub struct MfaSettings<'a> {
    pub require_mfa: Option<&'a str>,
    pub admin_vends_need_mfa: Option<bool>,
}

impl Db {
    pub async fn settings(&self) -> Result<Settings> {
        let sql = "SELECT admin_session_secs, admin_role_arn, ops_role_arn, require_mfa, \
                   admin_vends_need_mfa FROM settings \
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
            MfaSettings::default(),
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
        mfa: MfaSettings<'_>,
        audit: AuditEntry,
    ) -> Result<()> {
        write_tx!(self, tx, {
            sqlx::query(
                "UPDATE settings SET admin_session_secs = COALESCE($1, admin_session_secs), \
                 admin_role_arn = CASE WHEN $2 THEN $3 ELSE admin_role_arn END, \
                 ops_role_arn = CASE WHEN $4 THEN $5 ELSE ops_role_arn END, \
                 require_mfa = COALESCE($6, require_mfa), \
                 admin_vends_need_mfa = COALESCE($7, admin_vends_need_mfa) WHERE id = 1",
            )
            .bind(admin_session_secs)
            .bind(admin_role_arn.is_some())
            .bind(admin_role_arn.flatten())
            .bind(ops_role_arn.is_some())
            .bind(ops_role_arn.flatten())
            .bind(mfa.require_mfa)
            .bind(mfa.admin_vends_need_mfa)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok(())
    }
}
