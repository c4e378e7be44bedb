//! The `passkeys` and `webauthn_spent` tables (migration 0013): a user's passkeys, by
//! credential id, each named, stored as webauthn-rs's `Passkey` JSON (public material); and the
//! digests of answered challenges, so that a challenge is accepted once (`domain/passkey.rs`).

use anyhow::Result;

use super::{AuditEntry, Db};

/// A stored passkey.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// What proves, in the transaction that removes a passkey, that the user is at the keyboard.
/// The factor that proves it must be older than the session asking (`before`, the session's
/// start): a factor a stolen session added itself proves nothing.
pub enum RemovalProof<'a> {
    /// A TOTP code accepted for `step`: the factor's last step moves up to it.
    Totp { step: i64, before: i64 },
    /// A passkey assertion by the passkey `credential`: its ceremony's digest, spent until
    /// `expires`.
    Passkey {
        challenge: &'a str,
        expires: i64,
        credential: &'a str,
        before: i64,
    },
}

/// What a removal did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NoSuchPasskey,
    /// The proof was spent already (a code or challenge used twice): nothing removed.
    Refused,
    /// The factor that proved it was added after this session began: nothing removed.
    TooNew,
}

/// Spend an answered challenge's digest through `$tx` (expired ones go): true the first time.
macro_rules! spend_challenge {
    ($tx:ident, $digest:expr, $expires:expr, $now:expr) => {{
        sqlx::query("DELETE FROM webauthn_spent WHERE expires < $1")
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(
            "INSERT INTO webauthn_spent (digest, expires) VALUES ($1, $2) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind($digest)
        .bind($expires)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            == 1
    }};
}

pub(super) use spend_challenge;

impl Db {
    /// A user's passkeys, oldest first.
    pub async fn passkeys(&self, user: &str) -> Result<Vec<PasskeyRow>> {
        let sql = "SELECT credential_id, name, passkey, created, last_used FROM passkeys \
                   WHERE user_name = $1 ORDER BY created, name";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql).bind(user).fetch_all(p).await?)
        })
    }

    /// Store a registered passkey, spending its challenge, audited: false when the challenge was
    /// answered already, or the name or credential is taken.
    pub async fn add_passkey(
        &self,
        user: &str,
        row: &PasskeyRow,
        challenge: &str,
        expires: i64,
        audit: AuditEntry,
    ) -> Result<bool> {
        let now = audit.at;
        let added = write_tx!(self, tx, {
            if spend_challenge!(tx, challenge, expires, now) {
                let n = sqlx::query(
                    "INSERT INTO passkeys (credential_id, user_name, name, passkey, created) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&row.credential_id)
                .bind(user)
                .bind(&row.name)
                .bind(&row.passkey)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    insert_audit!(&mut *tx, &audit);
                }
                n == 1
            } else {
                false
            }
        });
        Ok(added)
    }

    /// Remove a user's passkey by name, audited, once `proof` is spent in the same transaction
    /// (a TOTP step moved up, or a passkey challenge answered once).
    pub async fn remove_passkey(
        &self,
        user: &str,
        name: &str,
        proof: &RemovalProof<'_>,
        audit: AuditEntry,
    ) -> Result<Removal> {
        let now = audit.at;
        let out = write_tx!(self, tx, {
            let exists = sqlx::query("SELECT 1 FROM passkeys WHERE user_name = $1 AND name = $2")
                .bind(user)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            // The proving factor's age first: one added in this session proves nothing.
            let old_enough = match *proof {
                RemovalProof::Totp { before, .. } => {
                    sqlx::query("SELECT 1 FROM totp_factors WHERE user_name = $1 AND created < $2")
                        .bind(user)
                        .bind(before)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some()
                }
                RemovalProof::Passkey {
                    credential, before, ..
                } => sqlx::query(
                    "SELECT 1 FROM passkeys WHERE user_name = $1 AND credential_id = $2 \
                     AND created < $3",
                )
                .bind(user)
                .bind(credential)
                .bind(before)
                .fetch_optional(&mut *tx)
                .await?
                .is_some(),
            };
            let proven = exists
                && old_enough
                && match *proof {
                    RemovalProof::Totp { step, .. } => {
                        sqlx::query(
                            "UPDATE totp_factors SET last_step = $2 \
                             WHERE user_name = $1 AND last_step < $2",
                        )
                        .bind(user)
                        .bind(step)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                            == 1
                    }
                    RemovalProof::Passkey {
                        challenge, expires, ..
                    } => {
                        spend_challenge!(tx, challenge, expires, now)
                    }
                };
            // Two removals at once: only the one whose DELETE took the row writes the trail.
            let removed = proven
                && sqlx::query("DELETE FROM passkeys WHERE user_name = $1 AND name = $2")
                    .bind(user)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
            if removed {
                insert_audit!(&mut *tx, &audit);
            }
            match (exists, old_enough, removed) {
                (false, _, _) => Removal::NoSuchPasskey,
                (true, false, _) => Removal::TooNew,
                (true, true, false) => Removal::Refused,
                (true, true, true) => Removal::Removed,
            }
        });
        Ok(out)
    }
}
