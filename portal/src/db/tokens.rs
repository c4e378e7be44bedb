//! The `tokens` table: API tokens, stored as SHA-256 digests only. A token minted from another
//! token or from a browser session goes when its parent does.

use anyhow::{Result, bail};

use super::{AuditEntry, Db, Session};
use crate::secret;

/// A token minted by the browser login lasts as long as the CLI expects a portal token to, and
/// never longer than the token that minted it.
pub const LOGIN_TOKEN_SECS: i64 = 3600;

/// What a token was made for. A login token carries the access its user approved on the
/// CLI-login page (docs/protocol.md §2, §11); a token an admin or the profile page made carries
/// all its user's rights. Stored in `tokens.scope`: NULL, `tenant` or `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// An API token (`jit portal token create`, the profile page): whatever its user may do.
    Full,
    /// A CLI login approved for tenant access.
    Tenant,
    /// A CLI login approved for admin access.
    Admin,
}

impl TokenScope {
    /// The scope a CLI login asked for and its user approved.
    pub fn of_login(admin: bool) -> TokenScope {
        if admin {
            TokenScope::Admin
        } else {
            TokenScope::Tenant
        }
    }

    /// The `tokens.scope` value.
    fn stored(self) -> Option<&'static str> {
        match self {
            TokenScope::Full => None,
            TokenScope::Tenant => Some("tenant"),
            TokenScope::Admin => Some("admin"),
        }
    }
}

/// A stored value read back; one the portal never writes counts as the lesser login scope.
impl From<Option<String>> for TokenScope {
    fn from(stored: Option<String>) -> TokenScope {
        match stored.as_deref() {
            None => TokenScope::Full,
            Some("admin") => TokenScope::Admin,
            Some(_) => TokenScope::Tenant,
        }
    }
}

/// Who a valid token belongs to, and what it was made for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Authed {
    #[sqlx(rename = "id")]
    pub token_id: String,
    #[sqlx(rename = "user_name")]
    pub user: String,
    pub admin: bool,
    #[sqlx(try_from = "Option<String>")]
    pub scope: TokenScope,
    /// Whether the sign-in behind the token used a second factor: a login token minted from a
    /// session that did. Tokens made by an admin or on the profile page have no sign-in.
    pub mfa: bool,
    /// The system's second-factor policy (`settings`), read in the token's own query so that
    /// answering `IsOtpNeeded` on every token check costs no second round trip.
    pub require_mfa: String,
    pub admin_vends_need_mfa: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: String,
    #[sqlx(rename = "user_name")]
    pub user: String,
    pub origin: String,
    pub parent: Option<String>,
    pub created: i64,
    pub expires: Option<i64>,
}

impl Db {
    /// The user behind a token that exists and has not expired. A token minted for a web
    /// session also needs that session alive: the purge sweep that deletes an expired session
    /// (and so its tokens) runs only now and then.
    pub async fn authenticate(&self, token: &str, now: i64) -> Result<Option<Authed>> {
        let digest = secret::digest(token);
        let sql = "SELECT t.id, t.user_name, u.admin, t.scope, t.mfa, st.require_mfa, \
                   st.admin_vends_need_mfa FROM tokens t \
                   JOIN users u ON u.name = t.user_name \
                   JOIN settings st ON st.id = 1 \
                   LEFT JOIN sessions s ON s.id = t.session \
                   WHERE t.digest = $1 AND (t.expires IS NULL OR t.expires > $2) \
                   AND (t.session IS NULL OR s.expires > $2)";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql)
                .bind(&digest)
                .bind(now)
                .fetch_optional(p)
                .await?)
        })
    }

    /// A token for `user` that expires after `ttl` seconds (never, without one). Returns the
    /// clear text, which is stored nowhere, and the token's id.
    pub async fn create_token(
        &self,
        user: &str,
        ttl: Option<i64>,
        audit: AuditEntry,
    ) -> Result<(String, String)> {
        self.create_token_from(user, ttl, "admin", audit).await
    }

    /// As `create_token`, saying where the token was made: `admin` (the command line) or
    /// `web` (the user's own profile page).
    pub async fn create_token_from(
        &self,
        user: &str,
        ttl: Option<i64>,
        origin: &str,
        audit: AuditEntry,
    ) -> Result<(String, String)> {
        let now = audit.at;
        let (token, id) = (secret::new_token()?, secret::new_id("tok_")?);
        let mut audit = audit;
        audit.token_id = Some(id.clone());
        audit.user = Some(user.into());
        write_tx!(self, tx, {
            let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                bail!("no portal user '{user}'");
            }
            sqlx::query(
                "INSERT INTO tokens (id, digest, user_name, parent, origin, created, expires) \
                 VALUES ($1, $2, $3, NULL, $6, $4, $5)",
            )
            .bind(&id)
            .bind(secret::digest(&token))
            .bind(user)
            .bind(now)
            .bind(ttl.map(|t| now + t))
            .bind(origin)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok((token, id))
    }

    /// A token the signed-in `session` authorized for the CLI, for the `scope` its user approved:
    /// an hour at most, revoked with the session. Returns the clear text and the token's id.
    pub async fn mint_session_token(
        &self,
        session: &Session,
        scope: TokenScope,
        audit: AuditEntry,
    ) -> Result<(String, String)> {
        let now = audit.at;
        let (token, id) = (secret::new_token()?, secret::new_id("tok_")?);
        let mut audit = audit;
        audit.token_id = Some(id.clone());
        audit.detail = Some(format!("minted {id} from {}", session.id));
        write_tx!(self, tx, {
            // The session may have ended since it was checked: then nothing is minted.
            let inserted = sqlx::query(
                "INSERT INTO tokens (id, digest, user_name, parent, origin, created, expires, session, scope, mfa) \
                 SELECT $1, $2, user_name, NULL, 'login', $3, $4, id, $6, mfa FROM sessions \
                 WHERE id = $5 AND expires > $3",
            )
            .bind(&id)
            .bind(secret::digest(&token))
            .bind(now)
            .bind(now + LOGIN_TOKEN_SECS)
            .bind(&session.id)
            .bind(scope.stored())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                bail!("the session has ended");
            }
            insert_audit!(&mut *tx, &audit);
        });
        Ok((token, id))
    }

    pub async fn list_tokens(&self, user: Option<&str>, now: i64) -> Result<Vec<TokenInfo>> {
        let sql = "SELECT id, user_name, origin, parent, created, expires FROM tokens \
                   WHERE ($1 IS NULL OR user_name = $1) AND (expires IS NULL OR expires > $2) \
                   ORDER BY created, id";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql)
                .bind(user)
                .bind(now)
                .fetch_all(p)
                .await?)
        })
    }

    /// Revoke tokens by id, or all of a user's; tokens they minted go with them. Returns how
    /// many were revoked, the minted ones included.
    pub async fn revoke_tokens(
        &self,
        ids: &[String],
        user: Option<&str>,
        audit: AuditEntry,
    ) -> Result<u64> {
        const COUNT: &str = "SELECT COUNT(*) FROM tokens";
        let gone = write_tx!(self, tx, {
            let before: i64 = sqlx::query_scalar(COUNT).fetch_one(&mut *tx).await?;
            for id in ids {
                sqlx::query("DELETE FROM tokens WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(user) = user {
                sqlx::query("DELETE FROM tokens WHERE user_name = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            let after: i64 = sqlx::query_scalar(COUNT).fetch_one(&mut *tx).await?;
            let gone = u64::try_from(before - after).unwrap_or(0);
            let mut audit = audit;
            audit.detail = Some(format!(
                "{}; {gone} revoked",
                audit.detail.as_deref().unwrap_or("token revoke")
            ));
            if gone > 0 {
                insert_audit!(&mut *tx, &audit);
            }
            gone
        });
        Ok(gone)
    }

    /// Forget tokens that have expired (the minted ones expire no later than their parents),
    /// and the expired sessions with theirs.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        with_pool!(self, p, {
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
                .bind(now)
                .execute(p)
                .await?
                .rows_affected();
            let tokens =
                sqlx::query("DELETE FROM tokens WHERE expires IS NOT NULL AND expires <= $1")
                    .bind(now)
                    .execute(p)
                    .await?
                    .rows_affected();
            Ok(sessions + tokens)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::db::AuditEvent;

    #[tokio::test]
    async fn expired_tokens_are_purged_and_live_ones_stay() {
        let (_dir, db) = open_temp().await;
        db.upsert_user(
            "bob",
            false,
            &[],
            AuditEntry::new(AuditEvent::UserAdd, "test"),
        )
        .await
        .expect("user");
        for ttl in [Some(10), Some(1000), None] {
            db.create_token("bob", ttl, AuditEntry::new(AuditEvent::TokenCreate, "test"))
                .await
                .expect("token");
        }
        let now = jiff::Timestamp::now().as_second();
        assert_eq!(db.purge_expired(now + 11).await.expect("purge"), 1);
        assert_eq!(db.purge_expired(now + 11).await.expect("purge"), 0);
        assert_eq!(
            db.list_tokens(Some("bob"), now).await.expect("list").len(),
            2
        );
        db.close().await;
    }

    /// A CLI token lives no longer than the web session that minted it, even before the purge
    /// sweep removes the session.
    #[tokio::test]
    async fn a_session_token_dies_with_its_expired_session() {
        let (_dir, db) = open_temp().await;
        db.upsert_user(
            "bob",
            false,
            &[],
            AuditEntry::new(AuditEvent::UserAdd, "test"),
        )
        .await
        .expect("user");
        let (cookie, _, _) = db
            .create_session("bob", 600, AuditEntry::new(AuditEvent::WebSignIn, "test"))
            .await
            .expect("session");
        let now = jiff::Timestamp::now().as_second();
        let session = db.session(&cookie, now).await.expect("read").expect("live");
        let (token, _) = db
            .mint_session_token(
                &session,
                TokenScope::Tenant,
                AuditEntry::new(AuditEvent::Login, "test"),
            )
            .await
            .expect("mint");
        assert!(db.authenticate(&token, now).await.expect("auth").is_some());
        with_pool!(db, p, {
            sqlx::query("UPDATE sessions SET expires = $1 WHERE id = $2")
                .bind(now - 1)
                .bind(&session.id)
                .execute(p)
                .await
                .expect("expire");
        });
        assert!(
            db.authenticate(&token, now).await.expect("auth").is_none(),
            "the token outlived its session"
        );
        db.close().await;
    }

    /// A login token carries the access its user approved; an API token carries none, so all
    /// its user's rights.
    #[tokio::test]
    async fn a_login_token_keeps_the_scope_approved_and_an_api_token_has_none() {
        let (_dir, db) = open_temp().await;
        db.upsert_user(
            "root",
            true,
            &[],
            AuditEntry::new(AuditEvent::UserAdd, "test"),
        )
        .await
        .expect("user");
        let (cookie, _, _) = db
            .create_session("root", 600, AuditEntry::new(AuditEvent::WebSignIn, "test"))
            .await
            .expect("session");
        let now = jiff::Timestamp::now().as_second();
        let session = db.session(&cookie, now).await.expect("read").expect("live");
        for scope in [TokenScope::Tenant, TokenScope::Admin] {
            let (token, _) = db
                .mint_session_token(&session, scope, AuditEntry::new(AuditEvent::Login, "test"))
                .await
                .expect("mint");
            let who = db
                .authenticate(&token, now)
                .await
                .expect("auth")
                .expect("valid");
            assert_eq!((who.scope, who.admin), (scope, true));
        }
        let (token, _) = db
            .create_token(
                "root",
                None,
                AuditEntry::new(AuditEvent::TokenCreate, "test"),
            )
            .await
            .expect("token");
        let who = db
            .authenticate(&token, now)
            .await
            .expect("auth")
            .expect("valid");
        assert_eq!(who.scope, TokenScope::Full);
        assert_eq!(TokenScope::from(Some("other".into())), TokenScope::Tenant);
        db.close().await;
    }
}
