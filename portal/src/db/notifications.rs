//! The `notifications` outbox (migration 0015): what the portal must tell someone by email or
//! chat, written once per source event (`notify_once`: ids made from the event, so an event
//! seen twice writes nothing twice), leased by one process at a time while it is sent, and kept
//! until a send succeeds or it is given up. `notify/` does the sending. Also `links_spent`, the single-use record of links those messages carry.

use anyhow::Result;

use super::Db;

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// An email to the recipient's address.
    Email,
    /// A message to the configured chat webhook (the recipient names who it is for).
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// A notification to write; its id (`n_...`) is also the receiver's idempotency key.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: String,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created: i64,
}

/// A notification taken for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    pub id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created: i64,
    pub attempts: i64,
}

/// A row of `jit portal notify list`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationInfo {
    pub id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub created: i64,
    pub attempts: i64,
    pub next_at: i64,
    pub sent_at: Option<i64>,
    pub dead_at: Option<i64>,
    pub last_error: Option<String>,
}

impl Db {
    /// Write one notification (`jit portal notify test`).
    pub async fn notify(&self, n: &NewNotification) -> Result<()> {
        self.notify_once(std::slice::from_ref(n)).await
    }

    /// Whether any notification of `channel` is due at `now` (a read, so an idle portal polls
    /// without taking SQLite's write lock).
    pub async fn notification_due(&self, channel: Channel, now: i64) -> Result<bool> {
        with_pool!(self, p, {
            let due: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM notifications WHERE channel = $1 AND sent_at IS NULL \
                 AND dead_at IS NULL AND next_at <= $2 LIMIT 1",
            )
            .bind(channel.as_str())
            .bind(now)
            .fetch_optional(p)
            .await?;
            Ok(due.is_some())
        })
    }

    /// Write these notifications in one transaction, skipping any whose id is there already (a
    /// source that may see the same event twice makes the same ids).
    pub async fn notify_once(&self, notes: &[NewNotification]) -> Result<()> {
        if notes.is_empty() {
            return Ok(());
        }
        write_tx!(self, tx, {
            for n in notes {
                sqlx::query(
                    "INSERT INTO notifications \
                     (id, channel, recipient, subject, body, created, next_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&n.id)
                .bind(n.channel.as_str())
                .bind(&n.recipient)
                .bind(&n.subject)
                .bind(&n.body)
                .bind(n.created)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// Lease up to `limit` notifications of `channel` due at `now` to `owner` until `until`,
    /// oldest first: those unsent, not given up, due, and not leased by a process still
    /// renewing.
    pub async fn notifications_due(
        &self,
        channel: Channel,
        owner: &str,
        now: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        Ok(write_tx!(self, tx, {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM notifications WHERE channel = $4 AND sent_at IS NULL \
                 AND dead_at IS NULL AND next_at <= $1 \
                 AND (owner IS NULL OR owner = $2 OR lease_until < $1) \
                 ORDER BY created, id LIMIT $3",
            )
            .bind(now)
            .bind(owner)
            .bind(limit)
            .bind(channel.as_str())
            .fetch_all(&mut *tx)
            .await?;
            let mut taken = Vec::with_capacity(ids.len());
            for id in ids {
                let row: Option<Notification> = sqlx::query_as(
                    "UPDATE notifications SET owner = $2, lease_until = $3 \
                     WHERE id = $1 AND sent_at IS NULL AND dead_at IS NULL \
                     AND (owner IS NULL OR owner = $2 OR lease_until < $4) \
                     RETURNING id, channel, recipient, subject, body, created, attempts",
                )
                .bind(&id)
                .bind(owner)
                .bind(until)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                taken.extend(row);
            }
            taken
        }))
    }

    /// `id` went out at `now` (only while `owner` holds it; a row sent is never sent again).
    pub async fn notification_sent(&self, id: &str, owner: &str, now: i64) -> Result<()> {
        with_pool!(self, p, {
            sqlx::query(
                "UPDATE notifications SET sent_at = $3, attempts = attempts + 1, \
                 owner = NULL, lease_until = NULL, last_error = NULL \
                 WHERE id = $1 AND owner = $2 AND sent_at IS NULL",
            )
            .bind(id)
            .bind(owner)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// A send of `id` failed with `error`: try again at `next_at`, or never (`dead`: the
    /// receiver refused it for good, or it is too old to matter).
    pub async fn notification_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_at: i64,
        dead: bool,
    ) -> Result<()> {
        with_pool!(self, p, {
            sqlx::query(
                "UPDATE notifications SET attempts = attempts + 1, next_at = $4, \
                 last_error = $3, owner = NULL, lease_until = NULL, \
                 dead_at = CASE WHEN $5 THEN $4 ELSE NULL END \
                 WHERE id = $1 AND owner = $2 AND sent_at IS NULL",
            )
            .bind(id)
            .bind(owner)
            .bind(error)
            .bind(next_at)
            .bind(dead)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Try a given-up notification again now (`jit portal notify retry`); false when there is
    /// no such given-up row.
    pub async fn notification_retry(&self, id: &str, now: i64) -> Result<bool> {
        with_pool!(self, p, {
            let done = sqlx::query(
                "UPDATE notifications SET dead_at = NULL, next_at = $2, created = $2 \
                 WHERE id = $1 AND dead_at IS NOT NULL AND sent_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(p)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// How many notifications wait to be sent.
    pub async fn notification_backlog(&self) -> Result<i64> {
        with_pool!(self, p, {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM notifications WHERE sent_at IS NULL AND dead_at IS NULL",
            )
            .fetch_one(p)
            .await?)
        })
    }

    /// The outbox, newest first: every unsent row (waiting or given up), and sent ones too when
    /// `sent`.
    pub async fn list_notifications(
        &self,
        sent: bool,
        limit: i64,
    ) -> Result<Vec<NotificationInfo>> {
        with_pool!(self, p, {
            Ok(sqlx::query_as(
                "SELECT id, channel, recipient, subject, created, attempts, next_at, sent_at, \
                 dead_at, last_error FROM notifications WHERE ($1 OR sent_at IS NULL) \
                 ORDER BY created DESC, id DESC LIMIT $2",
            )
            .bind(sent)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }

    /// Spend a single-use link by its digest: true the first time, false ever after (until
    /// `expires`, when the link is refused for its age anyway).
    pub async fn spend_link(&self, digest: &str, expires: i64) -> Result<bool> {
        with_pool!(self, p, {
            let done = sqlx::query(
                "INSERT INTO links_spent (digest, expires) VALUES ($1, $2) \
                 ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digest)
            .bind(expires)
            .execute(p)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Forget notifications sent or given up before `before`, and links past their expiry.
    pub async fn purge_notifications(&self, before: i64, now: i64) -> Result<u64> {
        Ok(write_tx!(self, tx, {
            let sent = sqlx::query("DELETE FROM notifications WHERE sent_at < $1 OR dead_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM links_spent WHERE expires < $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sent.rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &str, created: i64) -> NewNotification {
        NewNotification {
            id: id.into(),
            channel: Channel::Email,
            recipient: "alice@example.com".into(),
            subject: "s".into(),
            body: "b".into(),
            created,
        }
    }

    const MAIL: Channel = Channel::Email;

    #[tokio::test]
    async fn a_leased_row_is_not_handed_to_another_process_until_its_lease_ends() {
        let (_dir, db) = Db::open_temp().await;
        db.notify(&note("n_1", 10)).await.expect("n_1");
        db.notify(&note("n_2", 11)).await.expect("n_2");
        assert!(db.notification_due(MAIL, 20).await.expect("due"));
        assert!(
            !db.notification_due(Channel::Webhook, 20)
                .await
                .expect("due")
        );
        assert!(
            db.notifications_due(Channel::Webhook, "a", 20, 80, 10)
                .await
                .expect("a")
                .is_empty()
        );
        let a = db
            .notifications_due(MAIL, "a", 20, 80, 10)
            .await
            .expect("a");
        assert_eq!(
            a.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["n_1", "n_2"]
        );
        assert!(
            db.notifications_due(MAIL, "b", 30, 90, 10)
                .await
                .expect("b")
                .is_empty()
        );
        // a sends one and fails the other, due again at 50.
        db.notification_sent("n_1", "a", 31).await.expect("sent");
        db.notification_failed("n_2", "a", "refused", 50, false)
            .await
            .expect("failed");
        assert!(
            db.notifications_due(MAIL, "b", 40, 100, 10)
                .await
                .expect("b")
                .is_empty()
        );
        let b = db
            .notifications_due(MAIL, "b", 50, 110, 10)
            .await
            .expect("b");
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].id.as_str(), b[0].attempts), ("n_2", 1));
        // b stops renewing; after its lease a takes the row over.
        assert!(
            db.notifications_due(MAIL, "a", 100, 160, 10)
                .await
                .expect("a")
                .is_empty()
        );
        assert_eq!(
            db.notifications_due(MAIL, "a", 111, 170, 10)
                .await
                .expect("a")
                .len(),
            1
        );
        // What b thinks it sent late counts for nothing: a holds it.
        db.notification_sent("n_2", "b", 112).await.expect("late");
        assert_eq!(db.notification_backlog().await.expect("backlog"), 1);
        db.notification_sent("n_2", "a", 113).await.expect("sent");
        assert_eq!(db.notification_backlog().await.expect("backlog"), 0);
        assert!(!db.notification_due(MAIL, 500).await.expect("due"));
        assert_eq!(db.purge_notifications(100, 500).await.expect("purge"), 1);
        assert_eq!(
            db.list_notifications(true, 10).await.expect("list").len(),
            1
        );
    }

    #[tokio::test]
    async fn a_row_given_up_leaves_the_backlog_stays_listed_and_can_be_retried() {
        let (_dir, db) = Db::open_temp().await;
        db.notify(&note("n_1", 10)).await.expect("n_1");
        assert_eq!(
            db.notifications_due(MAIL, "a", 20, 80, 10)
                .await
                .expect("a")
                .len(),
            1
        );
        db.notification_failed("n_1", "a", "550 no such user", 21, true)
            .await
            .expect("dead");
        assert_eq!(db.notification_backlog().await.expect("backlog"), 0);
        assert!(!db.notification_due(MAIL, 1000).await.expect("due"));
        let listed = db.list_notifications(false, 10).await.expect("list");
        assert_eq!(
            (listed[0].dead_at, listed[0].last_error.as_deref()),
            (Some(21), Some("550 no such user"))
        );
        assert!(db.notification_retry("n_1", 30).await.expect("retry"));
        assert!(
            !db.notification_retry("n_1", 30)
                .await
                .expect("not given up")
        );
        assert!(db.notification_due(MAIL, 30).await.expect("due"));
        assert_eq!(db.notification_backlog().await.expect("backlog"), 1);
        assert_eq!(
            db.notifications_due(MAIL, "a", 30, 90, 10)
                .await
                .expect("a")
                .len(),
            1
        );
        db.notification_failed("n_1", "a", "gone", 31, true)
            .await
            .expect("dead");
        let listed = db.list_notifications(false, 10).await.expect("list");
        assert_eq!(listed[0].dead_at, Some(31));
        assert_eq!(db.purge_notifications(32, 40).await.expect("purge"), 1);
    }

    #[tokio::test]
    async fn a_link_is_spent_once() {
        let (_dir, db) = Db::open_temp().await;
        assert!(db.spend_link("d1", 100).await.expect("first"));
        assert!(!db.spend_link("d1", 100).await.expect("second"));
        assert_eq!(db.purge_notifications(0, 101).await.expect("purge"), 0);
        assert!(db.spend_link("d1", 200).await.expect("after its expiry"));
    }
}
