//! The `users` table and `memberships`, which tenants each user may use; a user's password hash
//! and the address their notifications go to live on their row.

use std::collections::HashSet;

use anyhow::{Result, bail};

use super::{AuditEntry, Db, sessions};

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub admin: bool,
    pub tenants: Vec<String>,
    /// Where their notifications go, when set.
    pub email: Option<String>,
}

impl Db {
    pub async fn upsert_user(
        &self,
        name: &str,
        admin: bool,
        tenants: &[String],
        audit: AuditEntry,
    ) -> Result<()> {
        self.upsert_user_with_email(name, admin, tenants, audit, None)
            .await
    }

    /// As `upsert_user`, and in the same transaction the user's email address with its own
    /// audit row, when one is given.
    pub async fn upsert_user_with_email(
        &self,
        name: &str,
        admin: bool,
        tenants: &[String],
        audit: AuditEntry,
        email: Option<(&str, AuditEntry)>,
    ) -> Result<()> {
        write_tx!(self, tx, {
            for t in tenants {
                let found = sqlx::query("SELECT 1 FROM tenants WHERE name = $1")
                    .bind(t)
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_none() {
                    bail!("no tenant '{t}': add it first with `jit portal tenant add`");
                }
            }
            sqlx::query(
                "INSERT INTO users (name, admin, created) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET admin = excluded.admin",
            )
            .bind(name)
            .bind(admin)
            .bind(audit.at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM memberships WHERE user_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            for t in tenants {
                sqlx::query(
                    "INSERT INTO memberships (user_name, tenant_name) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(t)
                .execute(&mut *tx)
                .await?;
            }
            insert_audit!(&mut *tx, &audit);
            if let Some((email, email_audit)) = &email {
                sqlx::query("UPDATE users SET email = $1 WHERE name = $2")
                    .bind(*email)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                insert_audit!(&mut *tx, email_audit);
            }
        });
        Ok(())
    }

    /// Store a user's password hash (an argon2id PHC string) and end their web sessions, in one
    /// transaction with its audit row. The number of live sessions ended; None when there is no
    /// such user.
    pub async fn set_password(
        &self,
        name: &str,
        hash: &str,
        audit: AuditEntry,
    ) -> Result<Option<u64>> {
        let now = audit.at;
        let mut audit = audit;
        let ended = write_tx!(self, tx, {
            let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
                .bind(hash)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                // Whoever signed in with the old password (or took a session cookie) is out.
                let live: i64 = sqlx::query_scalar(sessions::COUNT_LIVE)
                    .bind(name)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                for sql in [sessions::END_USER_TOKENS, sessions::END_USER_SESSIONS] {
                    sqlx::query(sql).bind(name).execute(&mut *tx).await?;
                }
                let ended = sessions::sessions_ended(live);
                audit.detail = Some(match audit.detail.take() {
                    Some(d) => format!("{d}; {ended}"),
                    None => ended,
                });
                insert_audit!(&mut *tx, &audit);
                Some(u64::try_from(live).unwrap_or(0))
            } else {
                None
            }
        });
        Ok(ended)
    }

    /// Set (or clear, with None) a user's email address, in one transaction with its audit row.
    /// False when there is no such user.
    pub async fn set_email(
        &self,
        name: &str,
        email: Option<&str>,
        audit: AuditEntry,
    ) -> Result<bool> {
        let found = write_tx!(self, tx, {
            let n = sqlx::query("UPDATE users SET email = $1 WHERE name = $2")
                .bind(email)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, &audit);
            }
            n > 0
        });
        Ok(found)
    }

    /// The email address set for a user: `Some(None)` when they have none, None when there is
    /// no such user.
    pub async fn user_email(&self, name: &str) -> Result<Option<Option<String>>> {
        let sql = "SELECT email FROM users WHERE name = $1";
        with_pool!(self, p, {
            Ok(sqlx::query_scalar(sql).bind(name).fetch_optional(p).await?)
        })
    }

    /// The users who can sign in with a password.
    pub async fn users_with_password(&self) -> Result<HashSet<String>> {
        let sql = "SELECT name FROM users WHERE password_hash IS NOT NULL";
        with_pool!(self, p, {
            let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(p).await?;
            Ok(names.into_iter().collect())
        })
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

    /// Remove a user with their tokens and memberships. False when there was none.
    pub async fn remove_user(&self, name: &str, audit: AuditEntry) -> Result<bool> {
        self.delete_audited("DELETE FROM users WHERE name = $1", name, audit)
            .await
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = "SELECT u.name, u.admin, u.email, m.tenant_name FROM users u \
                   LEFT JOIN memberships m ON m.user_name = u.name ORDER BY u.name, m.tenant_name";
        // One row per membership (or one with no tenant), folded into one `User` each.
        let rows: Vec<(String, bool, Option<String>, Option<String>)> =
            with_pool!(self, p, { sqlx::query_as(sql).fetch_all(p).await? });
        let mut users: Vec<User> = Vec::new();
        for (name, admin, email, tenant) in rows {
            if users.last().is_none_or(|u| u.name != name) {
                users.push(User {
                    name,
                    admin,
                    tenants: Vec::new(),
                    email,
                });
            }
            if let (Some(t), Some(u)) = (tenant, users.last_mut()) {
                u.tenants.push(t);
            }
        }
        Ok(users)
    }

    pub async fn is_member(&self, user: &str, tenant: &str) -> Result<bool> {
        with_pool!(self, p, {
            Ok(
                sqlx::query("SELECT 1 FROM memberships WHERE user_name = $1 AND tenant_name = $2")
                    .bind(user)
                    .bind(tenant)
                    .fetch_optional(p)
                    .await?
                    .is_some(),
            )
        })
    }
}
