//! The `sessions` table: signed-in browsers. The cookie's secret is stored as a digest only.

use anyhow::Result;

use super::factors::Claim;
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
    /// Whether its sign-in used a second factor (the portal's, or the identity provider's when
    /// trusted).
    pub mfa: bool,
    /// When it began.
    pub created: i64,
}

/// A live session as an admin sees it: its id and times, never the cookie's secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfo {
    pub id: String,
    pub created: i64,
    pub expires: i64,
}

/// How many of a user's sessions are still live (`$1` the user, `$2` now).
pub(super) const COUNT_LIVE: &str =
    "SELECT COUNT(*) FROM sessions WHERE user_name = $1 AND expires > $2";
/// The CLI tokens a user's sessions minted. The foreign key cascades too; saying it here keeps
/// the revocation from hanging on a pragma.
pub(super) const END_USER_TOKENS: &str =
    "DELETE FROM tokens WHERE session IN (SELECT id FROM sessions WHERE user_name = $1)";
/// Every session of a user.
pub(super) const END_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_name = $1";

impl Db {
    /// A new session for `user`: returns (cookie secret, session id, CSRF token). The secret is
    /// stored as a digest only.
    #[cfg(test)]
    pub async fn create_session(
        &self,
        user: &str,
        ttl: i64,
        audit: AuditEntry,
    ) -> Result<(String, String, String)> {
        self.create_session_with(user, ttl, &Claim::None, audit)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the session was refused"))
    }

    /// As `create_session`, spending `claim` (a second factor's code) in the same transaction:
    /// None, and no session, when it cannot be spent (used already). A session whose claim is a
    /// second factor is marked `mfa`.
    pub async fn create_session_with(
        &self,
        user: &str,
        ttl: i64,
        claim: &Claim<'_>,
        audit: AuditEntry,
    ) -> Result<Option<(String, String, String)>> {
        let now = audit.at;
        let mfa = !matches!(claim, Claim::None);
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
        let started = write_tx!(self, tx, {
            if !super::factors::spend!(tx, user, claim, now) {
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO sessions (id, digest, user_name, csrf, created, expires, mfa) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(secret::digest(&cookie))
            .bind(user)
            .bind(&csrf)
            .bind(now)
            .bind(now + ttl)
            .bind(mfa)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
            Some((cookie, id, csrf))
        });
        Ok(started)
    }

    /// The live session behind a cookie secret.
    pub async fn session(&self, cookie: &str, now: i64) -> Result<Option<Session>> {
        let sql = "SELECT s.id, s.user_name, s.csrf, s.mfa, s.created, u.admin FROM sessions s \
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

    /// The user's live sessions, oldest first.
    pub async fn list_sessions(&self, user: &str, now: i64) -> Result<Vec<SessionInfo>> {
        let sql = "SELECT id, created, expires FROM sessions \
                   WHERE user_name = $1 AND expires > $2 ORDER BY created, id";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql)
                .bind(user)
                .bind(now)
                .fetch_all(p)
                .await?)
        })
    }

    /// End every session of `user` and the CLI tokens they minted ("sign out everywhere").
    /// The audit row, written in the same transaction whatever the count, gets `detail` and
    /// the number of live sessions that ended. Returns that number.
    pub async fn end_user_sessions(
        &self,
        user: &str,
        detail: &str,
        audit: AuditEntry,
    ) -> Result<u64> {
        let now = audit.at;
        let mut audit = audit;
        let n = write_tx!(self, tx, {
            let live: i64 = sqlx::query_scalar(COUNT_LIVE)
                .bind(user)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            for sql in [END_USER_TOKENS, END_USER_SESSIONS] {
                sqlx::query(sql).bind(user).execute(&mut *tx).await?;
            }
            audit.detail = Some(format!("{detail}; {}", sessions_ended(live)));
            insert_audit!(&mut *tx, &audit);
            live
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The audit detail's count of ended sessions.
pub(super) fn sessions_ended(n: i64) -> String {
    match n {
        1 => "1 web session ended".into(),
        n => format!("{n} web sessions ended"),
    }
}
