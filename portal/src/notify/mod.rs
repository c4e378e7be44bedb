//! Notifications out of the portal (approvers told of a request, everyone told of a
//! break-glass): email over SMTP (`lettre`) and a Slack-compatible chat webhook, delivered at
//! least once from the `notifications` outbox by a task in the portal process.
//!
//! A notification is a row written in the same transaction as what it tells of, so nothing is
//! told that did not happen and nothing that happened goes untold. The task leases due rows
//! (replicas never send one at the same time), sends each, and marks it sent; a failed send is
//! tried again with a growing pause (up to [`MAX_PAUSE_SECS`]) for as long as it takes, across
//! restarts. A send that went out but was not recorded (the portal killed in between) goes out
//! again: the row's id rides as the mail's Message-ID and the webhook's Idempotency-Key so a
//! receiver can drop the second copy.

mod chat;
mod mail;

use std::time::Duration;

use anyhow::Result;

use crate::db::{Channel, Db, Notification};

pub use chat::Chat;
pub use mail::Mail;

/// Rows leased per round.
const BATCH: i64 = 20;
/// How often the task looks for due rows.
const POLL: Duration = Duration::from_secs(1);
/// How long a lease holds: longer than a round of sends may take (each send times out sooner).
const LEASE_SECS: i64 = 120;
/// The longest pause between two tries of one notification.
pub const MAX_PAUSE_SECS: i64 = 15 * 60;
/// Sent rows are kept this long (for `jit portal notify list --sent`), then purged.
pub const KEEP_SENT_SECS: i64 = 7 * 24 * 3600;

/// The configured ways out; a channel without one keeps its rows until one is configured.
#[derive(Default)]
pub struct Senders {
    pub mail: Option<Mail>,
    pub chat: Option<Chat>,
}

impl Senders {
    async fn send(&self, n: &Notification) -> Result<()> {
        match Channel::parse(&n.channel) {
            Some(Channel::Email) => match &self.mail {
                Some(mail) => mail.send(n).await,
                None => anyhow::bail!("no mail server configured (--smtp-url)"),
            },
            Some(Channel::Webhook) => match &self.chat {
                Some(chat) => chat.send(n).await,
                None => anyhow::bail!("no chat webhook configured (--notify-webhook-file)"),
            },
            None => anyhow::bail!("unknown channel '{}'", n.channel),
        }
    }
}

/// The pause before try `attempts + 1`: 5 s, doubling, at most [`MAX_PAUSE_SECS`].
pub fn pause_secs(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    (5_i64 << doublings).min(MAX_PAUSE_SECS)
}

/// Send what is due, for as long as the portal runs.
pub async fn deliver(db: &Db, senders: Senders, owner: &str) {
    loop {
        match round(db, &senders, owner).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => crate::log::failure("notifications: cannot read the outbox", &e),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One round: lease what is due, send it, record each outcome, publish the backlog. True when
/// a full batch went (there may be more at once).
async fn round(db: &Db, senders: &Senders, owner: &str) -> Result<bool> {
    let now = jiff::Timestamp::now().as_second();
    let due = db
        .notifications_due(owner, now, now + LEASE_SECS, BATCH)
        .await?;
    for n in &due {
        let now = jiff::Timestamp::now().as_second();
        match senders.send(n).await {
            Ok(()) => {
                db.notification_sent(&n.id, owner, now).await?;
                tracing::info!(
                    "notification {} sent by {} to {}",
                    n.id,
                    n.channel,
                    crate::log::escape(&n.recipient)
                );
            }
            Err(e) => {
                let error = format!("{e:#}");
                let pause = pause_secs(n.attempts);
                db.notification_failed(&n.id, owner, &error, now + pause)
                    .await?;
                tracing::warn!(
                    "notification {} by {} to {} not sent (try {}, again in {pause} s; nothing is lost): {}",
                    n.id,
                    n.channel,
                    crate::log::escape(&n.recipient),
                    n.attempts + 1,
                    crate::log::escape(&error)
                );
            }
        }
    }
    let backlog = db.notification_backlog().await?;
    crate::metrics::notification_backlog(usize::try_from(backlog).unwrap_or(0));
    Ok(due.len() as i64 == BATCH)
}

#[cfg(test)]
mod tests {
    use super::pause_secs;

    #[test]
    fn the_pause_doubles_from_five_seconds_to_a_quarter_hour() {
        let pauses: Vec<i64> = (0..10).map(pause_secs).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(pause_secs(-1), 5);
        assert_eq!(pause_secs(i64::MAX), 900);
    }
}
