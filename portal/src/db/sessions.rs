//! The `sessions` table: signed-in browsers. The cookie's secret is stored as a digest only.

use anyhow::Result;

use super::{AuditEntry, Db};
use crate::secret;

/// A signed-in browser.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    #[sqlx(rename = "user_name")]
    pub user: String,
    pub admin: bool,
    /// The token every POST form of this session carries.
    pub csrf: String,
}

impl Db {
    /// A new session for `user`: returns (cookie secret, session id, CSRF token). The secret is
    /// stored as a digest only.
    pub async fn create_session(
        &self,
        user: &str,
        ttl: i64,
        audit: AuditEntry,
    ) -> Result<(String, String, String)> {
        let now = audit.at;
        let (cookie, id, csrf) = (
            secret::new_token()?,
            secret::new_id("ses_")?,
            secret::new_token()?,
        );
        let mut audit = audit;
        // Keep what the caller said (how the user signed in), then name the session.
        audit.detail = Some(match audit.detail.take() {
            Some(how) => format!("{how}; session {id}"),
            None => format!("session {id}"),
        });
        write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO sessions (id, digest, user_name, csrf, created, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(secret::digest(&cookie))
            .bind(user)
            .bind(&csrf)
            .bind(now)
            .bind(now + ttl)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok((cookie, id, csrf))
    }

    /// The live session behind a cookie secret.
    pub async fn session(&self, cookie: &str, now: i64) -> Result<Option<Session>> {
        let sql = "SELECT s.id, s.user_name, s.csrf, u.admin FROM sessions s \
                   JOIN users u ON u.name = s.user_name \
                   WHERE s.digest = $1 AND s.expires > $2";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql)
                .bind(secret::digest(cookie))
                .bind(now)
                .fetch_optional(p)
                .await?)
        })
    }

    /// End a session (sign-out). False when it was already gone.
    pub async fn end_session(&self, id: &str, audit: AuditEntry) -> Result<bool> {
        self.delete_audited("DELETE FROM sessions WHERE id = $1", id, audit)
            .await
    }
}
