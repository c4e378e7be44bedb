//! The `device_logins` table: device logins (docs/protocol.md §2.1) from the code request to
//! the token. The device code and the user code are stored as digests only; a row answers one
//! token, once, minted from the session that approved it.

use anyhow::Result;

use super::{AuditEntry, Db};
use crate::secret;

/// What RFC 8628 §3.5 adds to the interval of a client that polled too soon.
pub const SLOW_DOWN_SECS: i64 = 5;

/// A device login waiting for its user, as the approval page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceLogin {
    pub id: String,
    /// `tenant` or `admin`.
    pub scope: String,
    /// The host name the CLI sent.
    pub host: String,
    /// The address the code request came from.
    pub client: Option<String>,
    pub expires: i64,
}

/// A new code request.
pub struct NewDevice<'a> {
    pub device_code: &'a str,
    pub user_code: &'a str,
    pub scope: &'a str,
    pub host: &'a str,
    pub client: Option<&'a str>,
    pub lifetime: i64,
    pub interval: i64,
}

/// What a poll finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// No such device code, or its token was handed out already.
    Unknown,
    Expired,
    /// Polled before its interval was up; the interval is longer now.
    SlowDown,
    Pending,
    Denied,
    /// Approved, and now claimed by this poll: mint from `session` for `scope`.
    Approved {
        id: String,
        session: String,
        user: String,
        scope: String,
    },
}

#[derive(sqlx::FromRow)]
struct PollRow {
    id: String,
    scope: String,
    expires: i64,
    interval_secs: i64,
    last_poll: Option<i64>,
    state: String,
    user_name: Option<String>,
    session: Option<String>,
}

impl Db {
    /// Store a code request unless `max_pending` unexpired ones wait already (then false).
    /// Rows whose codes expired go first.
    pub async fn device_start(
        &self,
        new: &NewDevice<'_>,
        max_pending: i64,
        audit: AuditEntry,
    ) -> Result<bool> {
        let now = audit.at;
        let id = secret::new_id("dev_")?;
        let mut audit = audit;
        audit.detail = Some(format!("device login {id} for host {}", new.host));
        let stored = write_tx!(self, tx, {
            sqlx::query("DELETE FROM device_logins WHERE expires <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM device_logins WHERE state = 'pending'")
                    .fetch_one(&mut *tx)
                    .await?;
            if pending >= max_pending {
                false
            } else {
                sqlx::query(
                    "INSERT INTO device_logins (id, digest, user_digest, scope, host, client, \
                     created, expires, interval_secs, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
                )
                .bind(&id)
                .bind(secret::digest(new.device_code))
                .bind(secret::digest(new.user_code))
                .bind(new.scope)
                .bind(new.host)
                .bind(new.client)
                .bind(now)
                .bind(now + new.lifetime)
                .bind(new.interval)
                .execute(&mut *tx)
                .await?;
                insert_audit!(&mut *tx, &audit);
                true
            }
        });
        Ok(stored)
    }

    /// The pending, unexpired device login a (normalized) user code names.
    pub async fn device_pending(&self, user_code: &str, now: i64) -> Result<Option<DeviceLogin>> {
        let sql = "SELECT id, scope, host, client, expires FROM device_logins \
                   WHERE user_digest = $1 AND state = 'pending' AND expires > $2";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql)
                .bind(secret::digest(user_code))
                .bind(now)
                .fetch_optional(p)
                .await?)
        })
    }

    /// Approve (for `session`) or deny a pending device login; false when it is no longer
    /// pending (decided in another tab, or expired). The user code is spent either way.
    pub async fn device_decide(
        &self,
        id: &str,
        session: &super::Session,
        approve: bool,
        audit: AuditEntry,
    ) -> Result<bool> {
        let now = audit.at;
        let state = if approve { "approved" } else { "denied" };
        let decided = write_tx!(self, tx, {
            let changed = sqlx::query(
                "UPDATE device_logins SET state = $1, user_name = $2, session = $3 \
                 WHERE id = $4 AND state = 'pending' AND expires > $5",
            )
            .bind(state)
            .bind(&session.user)
            .bind(if approve { Some(&session.id) } else { None })
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                insert_audit!(&mut *tx, &audit);
            }
            changed > 0
        });
        Ok(decided)
    }

    /// One poll with a device code (RFC 8628 §3.4, §3.5): a poll before the interval is up
    /// lengthens it by `SLOW_DOWN_SECS`; an approved login is claimed, so only one poll gets it.
    pub async fn device_poll(&self, device_code: &str, now: i64) -> Result<Poll> {
        let digest = secret::digest(device_code);
        let poll = write_tx!(self, tx, {
            let row: Option<PollRow> = sqlx::query_as(
                "SELECT id, scope, expires, interval_secs, last_poll, state, user_name, session \
                 FROM device_logins WHERE digest = $1",
            )
            .bind(&digest)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => Poll::Unknown,
                Some(r) if r.state == "done" => Poll::Unknown,
                Some(r) if r.expires <= now => Poll::Expired,
                Some(r) if r.last_poll.is_some_and(|l| now - l < r.interval_secs) => {
                    sqlx::query(
                        "UPDATE device_logins SET interval_secs = interval_secs + $1, \
                         last_poll = $2 WHERE id = $3",
                    )
                    .bind(SLOW_DOWN_SECS)
                    .bind(now)
                    .bind(&r.id)
                    .execute(&mut *tx)
                    .await?;
                    Poll::SlowDown
                }
                Some(r) => {
                    let claim = r.state == "approved";
                    sqlx::query(
                        "UPDATE device_logins SET last_poll = $1, \
                         state = CASE WHEN $2 THEN 'done' ELSE state END WHERE id = $3",
                    )
                    .bind(now)
                    .bind(claim)
                    .bind(&r.id)
                    .execute(&mut *tx)
                    .await?;
                    match (r.state.as_str(), r.session, r.user_name) {
                        ("pending", _, _) => Poll::Pending,
                        ("approved", Some(session), Some(user)) => Poll::Approved {
                            id: r.id,
                            session,
                            user,
                            scope: r.scope,
                        },
                        // Denied, or approved by a session that has ended since.
                        _ => Poll::Denied,
                    }
                }
            }
        });
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::db::AuditEvent;

    fn new<'a>(device: &'a str, user: &'a str) -> NewDevice<'a> {
        NewDevice {
            device_code: device,
            user_code: user,
            scope: "tenant",
            host: "box",
            client: Some("192.0.2.1"),
            lifetime: 600,
            interval: 5,
        }
    }

    /// A code is one-time: once decided it names nothing, and an approval gives one token.
    #[tokio::test]
    async fn a_device_login_is_decided_once_and_claimed_once() {
        let (_dir, db) = open_temp().await;
        db.upsert_user("bob", false, &[], AuditEntry::new(AuditEvent::UserAdd, "t"))
            .await
            .expect("user");
        let (cookie, _, _) = db
            .create_session("bob", 600, AuditEntry::new(AuditEvent::WebSignIn, "t"))
            .await
            .expect("session");
        let now = jiff::Timestamp::now().as_second();
        let session = db.session(&cookie, now).await.expect("read").expect("live");
        let audit = || AuditEntry::new(AuditEvent::DeviceCode, "t");
        assert!(
            db.device_start(&new("dc", "BCDFGHJK"), 10, audit())
                .await
                .expect("start")
        );
        assert!(
            !db.device_start(&new("dc2", "BCDFGHJL"), 1, audit())
                .await
                .expect("full")
        );
        assert_eq!(
            db.device_poll("dc", now).await.expect("poll"),
            Poll::Pending
        );
        assert_eq!(
            db.device_poll("dc", now + 1).await.expect("poll"),
            Poll::SlowDown
        );
        // The interval is 10 s now.
        assert_eq!(
            db.device_poll("dc", now + 6).await.expect("poll"),
            Poll::SlowDown
        );
        let found = db
            .device_pending("BCDFGHJK", now)
            .await
            .expect("find")
            .expect("pending");
        assert!(
            db.device_decide(&found.id, &session, true, audit())
                .await
                .expect("approve")
        );
        assert!(
            !db.device_decide(&found.id, &session, false, audit())
                .await
                .expect("again")
        );
        assert!(
            db.device_pending("BCDFGHJK", now)
                .await
                .expect("find")
                .is_none()
        );
        let got = db.device_poll("dc", now + 30).await.expect("poll");
        assert!(
            matches!(got, Poll::Approved { ref user, .. } if user == "bob"),
            "{got:?}"
        );
        assert_eq!(
            db.device_poll("dc", now + 60).await.expect("poll"),
            Poll::Unknown
        );
        assert_eq!(
            db.device_poll("other", now).await.expect("poll"),
            Poll::Unknown
        );
        db.close().await;
    }
}
