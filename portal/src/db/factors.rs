//! The `totp_factors` and `recovery_codes` tables: second factors for the web sign-in. A TOTP
//! secret is stored as base32 text (the portal has no key from outside the database to seal it
//! with: see `domain/mfa.rs`); recovery codes as SHA-256 digests, deleted when used. A code is
//! spent inside the transaction that starts the session (`create_session_with`), so a second
//! factor adds one read (the secret) to a sign-in and no more.

use std::collections::HashMap;

use anyhow::Result;

use super::{AuditEntry, Db, sessions};

/// What the sign-in form needs about a user, read in one query: the password hash, the admin
/// flag, whether a second factor (TOTP or a passkey) is set up, and the system's second-factor policy.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignInRow {
    pub password_hash: Option<String>,
    pub admin: bool,
    pub totp: bool,
    pub passkey: bool,
    pub require_mfa: String,
}

impl SignInRow {
    /// Whether the user has a second factor of any kind.
    pub fn has_factor(&self) -> bool {
        self.totp || self.passkey
    }
}

/// A user's second factors, as the users page and `jit portal user mfa` show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Factors {
    /// When the TOTP factor was enrolled.
    pub totp: Option<i64>,
    /// Unused recovery codes.
    pub recovery_left: i64,
    /// Passkeys registered.
    pub passkeys: i64,
}

/// What a sign-in spends for its second factor, in the session's own transaction: when it
/// cannot be spent (a code already used, a race with another tab), no session starts.
pub enum Claim<'a> {
    /// No second factor.
    None,
    /// The identity provider's, trusted (`--oidc-trust-amr`): nothing to spend.
    Trusted,
    /// A TOTP code accepted for `step`: the factor's last step moves up to it, only forwards.
    Totp { step: i64 },
    /// A recovery code, by digest: deleted, with its own audit row.
    Recovery { digest: &'a str, audit: AuditEntry },
    /// A factor enrolled at sign-in (the policy required one): stored with its codes.
    Enrol(&'a NewTotp<'a>, AuditEntry),
    /// A passkey's assertion: its challenge spent (once), the passkey's new counter and flags
    /// stored.
    Passkey {
        challenge: &'a str,
        expires: i64,
        credential_id: &'a str,
        passkey: &'a str,
    },
}

/// A TOTP factor to store, with the step of the code that confirmed it.
pub struct NewTotp<'a> {
    pub secret: &'a str,
    pub step: i64,
    pub recovery_digests: &'a [String],
}

/// Spend `$claim` for `$user` through `$tx`: true when it was spent (or there was nothing to
/// spend).
macro_rules! spend {
    ($tx:ident, $user:expr, $claim:expr, $now:expr) => {{
        use $crate::db::factors::Claim;
        match $claim {
            Claim::None | Claim::Trusted => true,
            Claim::Totp { step } => sqlx::query(
                "UPDATE totp_factors SET last_step = $1 WHERE user_name = $2 AND last_step < $1",
            )
            .bind(*step)
            .bind($user)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
                == 1,
            Claim::Recovery { digest, audit } => {
                let spent =
                    sqlx::query("DELETE FROM recovery_codes WHERE user_name = $1 AND digest = $2")
                        .bind($user)
                        .bind(*digest)
                        .execute(&mut *$tx)
                        .await?
                        .rows_affected()
                        == 1;
                if spent {
                    insert_audit!(&mut *$tx, audit);
                }
                spent
            }
            Claim::Passkey {
                challenge,
                expires,
                credential_id,
                passkey,
            } => {
                $crate::db::passkeys::spend_challenge!($tx, *challenge, *expires, $now)
                    && sqlx::query(
                        "UPDATE passkeys SET passkey = $1, last_used = $2 \
                         WHERE credential_id = $3 AND user_name = $4",
                    )
                    .bind(*passkey)
                    .bind($now)
                    .bind(*credential_id)
                    .bind($user)
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected()
                        == 1
            }
            Claim::Enrol(new, audit) => {
                let added = $crate::db::factors::insert_totp!($tx, $user, new, $now);
                if added {
                    insert_audit!(&mut *$tx, audit);
                }
                added
            }
        }
    }};
}

/// Store a TOTP factor and its recovery codes through `$tx`, unless the user has one already.
macro_rules! insert_totp {
    ($tx:ident, $user:expr, $new:expr, $now:expr) => {{
        let new: &$crate::db::factors::NewTotp<'_> = $new;
        let n = sqlx::query(
            "INSERT INTO totp_factors (user_name, secret, last_step, created) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_name) DO NOTHING",
        )
        .bind($user)
        .bind(new.secret)
        .bind(new.step)
        .bind($now)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if n == 1 {
            sqlx::query("DELETE FROM recovery_codes WHERE user_name = $1")
                .bind($user)
                .execute(&mut *$tx)
                .await?;
            for d in new.recovery_digests {
                sqlx::query(
                    "INSERT INTO recovery_codes (user_name, digest, created) VALUES ($1, $2, $3)",
                )
                .bind($user)
                .bind(d)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            }
        }
        n == 1
    }};
}

pub(super) use {insert_totp, spend};

impl Db {
    /// The sign-in form's one read: the user's password hash, admin flag, which second factors
    /// they have, and the second-factor policy. None for no such user.
    pub async fn sign_in_row(&self, name: &str) -> Result<Option<SignInRow>> {
        let sql = "SELECT u.password_hash, u.admin, \
                   EXISTS (SELECT 1 FROM totp_factors f WHERE f.user_name = u.name) AS totp, \
                   EXISTS (SELECT 1 FROM passkeys k WHERE k.user_name = u.name) AS passkey, \
                   s.require_mfa FROM users u CROSS JOIN settings s \
                   WHERE u.name = $1 AND s.id = 1";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql).bind(name).fetch_optional(p).await?)
        })
    }

    /// A user's TOTP secret (base32) and the last step a code was accepted for.
    pub async fn totp_secret(&self, name: &str) -> Result<Option<(String, i64)>> {
        let sql = "SELECT secret, last_step FROM totp_factors WHERE user_name = $1";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql).bind(name).fetch_optional(p).await?)
        })
    }

    /// Every user's second factors, by user (users without any are absent).
    pub async fn all_factors(&self) -> Result<HashMap<String, Factors>> {
        let sql = "SELECT u.name, f.created, \
                   (SELECT COUNT(*) FROM recovery_codes r WHERE r.user_name = u.name), \
                   (SELECT COUNT(*) FROM passkeys k WHERE k.user_name = u.name) \
                   FROM users u LEFT JOIN totp_factors f ON f.user_name = u.name";
        let rows: Vec<(String, Option<i64>, i64, i64)> =
            with_pool!(self, p, { sqlx::query_as(sql).fetch_all(p).await? });
        Ok(rows
            .into_iter()
            .filter(|(_, totp, left, keys)| totp.is_some() || *left > 0 || *keys > 0)
            .map(|(name, totp, recovery_left, passkeys)| {
                (
                    name,
                    Factors {
                        totp,
                        recovery_left,
                        passkeys,
                    },
                )
            })
            .collect())
    }

    /// Store a user's TOTP factor with new recovery codes (replacing any left), audited; false
    /// when they have one already.
    pub async fn add_totp(&self, user: &str, new: &NewTotp<'_>, audit: AuditEntry) -> Result<bool> {
        let now = audit.at;
        let added = write_tx!(self, tx, {
            let added = insert_totp!(tx, user, new, now);
            if added {
                insert_audit!(&mut *tx, &audit);
            }
            added
        });
        Ok(added)
    }

    /// Remove a user's TOTP factor and recovery codes, proven by a code for `step` (refused,
    /// false, when that step or a later one was already used).
    pub async fn remove_totp(&self, user: &str, step: i64, audit: AuditEntry) -> Result<bool> {
        let removed = write_tx!(self, tx, {
            let n = sqlx::query("DELETE FROM totp_factors WHERE user_name = $1 AND last_step < $2")
                .bind(user)
                .bind(step)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                sqlx::query("DELETE FROM recovery_codes WHERE user_name = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                insert_audit!(&mut *tx, &audit);
            }
            n == 1
        });
        Ok(removed)
    }

    /// Remove every second factor of a user and end their web sessions (with the CLI tokens
    /// those minted), in one transaction with its audit row, written whatever there was. The
    /// audit detail gets what went; returns (factors removed, live sessions ended).
    pub async fn reset_factors(&self, user: &str, audit: AuditEntry) -> Result<(u64, u64)> {
        let now = audit.at;
        let mut audit = audit;
        let out = write_tx!(self, tx, {
            let totp = sqlx::query("DELETE FROM totp_factors WHERE user_name = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_name = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let keys = sqlx::query("DELETE FROM passkeys WHERE user_name = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let live: i64 = sqlx::query_scalar(sessions::COUNT_LIVE)
                .bind(user)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            for sql in [sessions::END_USER_TOKENS, sessions::END_USER_SESSIONS] {
                sqlx::query(sql).bind(user).execute(&mut *tx).await?;
            }
            audit.detail = Some(format!(
                "totp {}, {codes} recovery codes, {keys} passkeys removed; {}",
                if totp > 0 { "removed" } else { "none" },
                sessions::sessions_ended(live)
            ));
            insert_audit!(&mut *tx, &audit);
            (totp + keys, u64::try_from(live).unwrap_or(0))
        });
        Ok(out)
    }
}
