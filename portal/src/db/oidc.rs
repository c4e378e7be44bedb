//! The `oidc_logins` table: single sign-on logins under way, kept in the database so the
//! callback may reach any replica.

use anyhow::Result;

use super::Db;
use crate::secret;

/// Most logins under way at once: past it new ones are refused until some expire, so
/// unauthenticated requests cannot grow the table without end.
const MAX_PENDING: i64 = 10_000;

/// What the callback needs from the start of a login.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingLogin {
    /// Digest of the cookie that binds the login to one browser.
    pub binding: String,
    pub verifier: String,
    pub nonce: String,
    pub next: String,
    pub expires: i64,
}

impl Db {
    /// Record a login under way, keyed by its `state`; false when too many are. Expired ones
    /// go at the same time.
    pub async fn start_oidc_login(
        &self,
        state: &str,
        login: &PendingLogin,
        now: i64,
    ) -> Result<bool> {
        write_tx!(self, tx, {
            sqlx::query("DELETE FROM oidc_logins WHERE expires <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_logins")
                .fetch_one(&mut *tx)
                .await?;
            if n >= MAX_PENDING {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO oidc_logins (state_digest, binding, verifier, nonce, next, created, \
                 expires) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(secret::digest(state))
            .bind(&login.binding)
            .bind(&login.verifier)
            .bind(&login.nonce)
            .bind(&login.next)
            .bind(now)
            .bind(login.expires)
            .execute(&mut *tx)
            .await?;
        });
        Ok(true)
    }

    /// Take the login started with `state`: it is gone after this, used or not. None when
    /// there is none or it has expired.
    pub async fn take_oidc_login(&self, state: &str, now: i64) -> Result<Option<PendingLogin>> {
        let row: Option<PendingLogin> = with_pool!(self, p, {
            sqlx::query_as(
                "DELETE FROM oidc_logins WHERE state_digest = $1 \
                 RETURNING binding, verifier, nonce, next, expires",
            )
            .bind(secret::digest(state))
            .fetch_optional(p)
            .await?
        });
        Ok(row.filter(|l| l.expires > now))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;

    #[tokio::test]
    async fn a_login_is_taken_once_and_not_after_it_expires() {
        let (_dir, db) = open_temp().await;
        let login = PendingLogin {
            binding: "b".into(),
            verifier: "v".into(),
            nonce: "n".into(),
            next: "/profile".into(),
            expires: 110,
        };
        assert!(db.start_oidc_login("s1", &login, 100).await.expect("start"));
        assert!(db.start_oidc_login("s2", &login, 100).await.expect("start"));
        let got = db.take_oidc_login("s1", 105).await.expect("take");
        assert_eq!(got.expect("pending").verifier, "v");
        assert!(db.take_oidc_login("s1", 105).await.expect("take").is_none());
        assert!(db.take_oidc_login("s2", 110).await.expect("take").is_none());
        assert!(
            db.take_oidc_login("nope", 100)
                .await
                .expect("take")
                .is_none()
        );
        db.close().await;
    }
}
