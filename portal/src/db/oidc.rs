//! Single sign-on logins under way, kept in the database so the callback may reach any replica.

use anyhow::Result;
use sqlx::Row;

use super::{Db, Pool};
use crate::secret;

/// Most logins under way at once: past it new ones are refused until some expire, so
/// unauthenticated requests cannot grow the table without end.
const MAX_PENDING: i64 = 10_000;

/// What the callback needs from the start of a login.
#[derive(Debug, Clone)]
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
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM oidc_logins")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
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
        let row = with_pool!(self, p, {
            sqlx::query(
                "DELETE FROM oidc_logins WHERE state_digest = $1 \
                 RETURNING binding, verifier, nonce, next, expires",
            )
            .bind(secret::digest(state))
            .fetch_optional(p)
            .await?
            .map(|r| {
                Ok::<_, sqlx::Error>(PendingLogin {
                    binding: r.try_get("binding")?,
                    verifier: r.try_get("verifier")?,
                    nonce: r.try_get("nonce")?,
                    next: r.try_get("next")?,
                    expires: r.try_get("expires")?,
                })
            })
            .transpose()?
        });
        Ok(row.filter(|l| l.expires > now))
    }

    /// Whether a portal user of this name exists.
    pub async fn user_exists(&self, name: &str) -> Result<bool> {
        with_pool!(self, p, {
            Ok(sqlx::query("SELECT 1 FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?
                .is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_taken_once_and_not_after_it_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async {
                let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
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
            });
    }
}
