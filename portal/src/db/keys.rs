//! The `server_keys` table: the portal's own secret keys, each made once at random and shared by
//! every process that opens the database.

use anyhow::{Context, Result, anyhow};

use super::Db;
use crate::secret;

impl Db {
    /// The key named `name`, made at random the first time any process asks for it; every
    /// replica gets the same one.
    pub async fn server_key(&self, name: &str, now: i64) -> Result<[u8; 32]> {
        let fresh = secret::hex(&secret::random::<32>()?);
        let stored: String = write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO server_keys (name, key, created) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(&fresh)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query_scalar("SELECT key FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?
        });
        secret::unhex::<32>(&stored)
            .ok_or_else(|| anyhow!("the stored key {name} is not 32 bytes of hex"))
            .context("server_keys")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;

    #[tokio::test]
    async fn a_key_is_made_once_and_then_the_same() {
        let (_dir, db) = open_temp().await;
        let a = db.server_key("cookies", 1).await.expect("key");
        let b = db.server_key("cookies", 2).await.expect("key");
        let other = db.server_key("other", 2).await.expect("key");
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_ne!(a, [0u8; 32]);
        db.close().await;
    }
}
