//! Notifications out of the portal (approvers told of a request, everyone told of a
//! break-glass): email over SMTP (`lettre`) and a Slack-compatible chat webhook, delivered at
//! least once from the `notifications` outbox by a task in the portal process.
//!
//! A notification is a row written in the same transaction as what it tells of, so nothing is
//! told that did not happen and nothing that happened goes untold. The task leases due rows
//! (replicas never send one at the same time: each send is cut off well inside the lease), sends
//! each, and marks it sent. A failed send is tried again with a growing pause (up to
//! [`MAX_PAUSE_SECS`]), across restarts, until it goes, the receiver refuses it for good (no such
//! mailbox, a webhook that is gone), or [`GIVE_UP_SECS`] pass; a row given up stays listed
//! (`jit portal notify list`) and leaves the backlog. A send that went out but was not recorded
//! (the portal killed in between) goes out again: the row's id rides as the mail's Message-ID
//! and the webhook's Idempotency-Key so a receiver can drop the second copy. Each channel has a
//! task of its own, which only reads while nothing is due.

mod chat;
pub mod links;
mod mail;
mod notices;

use std::time::Duration;

use anyhow::Result;

use crate::db::{Channel, Db, Notification};

pub use chat::Chat;
pub use mail::Mail;
pub use notices::Notices;

/// Rows leased per round: few enough that all of them can take [`SEND_MAX`] within the lease.
const BATCH: i64 = 3;
/// How often an idle channel looks for due rows (a read only).
const POLL: Duration = Duration::from_secs(1);
/// The longest one send may take, all told (lettre's timeout is per step of the conversation).
const SEND_MAX: Duration = Duration::from_secs(30);
/// How long a lease holds: longer than a batch of sends can take, so no other replica takes a
/// row while it is being sent.
const LEASE_SECS: i64 = 120;
/// The longest pause between two tries of one notification.
pub const MAX_PAUSE_SECS: i64 = 15 * 60;
/// A notification still unsent after this long is given up: what it says is stale by then.
pub const GIVE_UP_SECS: i64 = 3 * 24 * 3600;
/// Sent and given-up rows are kept this long (for `jit portal notify list`), then purged.
pub const KEEP_SENT_SECS: i64 = 7 * 24 * 3600;

/// Why a send did not go through.
#[derive(Debug)]
pub enum Failure {
    /// Worth another try: the receiver is down, slow or busy.
    Retry(anyhow::Error),
    /// Never going through: the receiver refused this message for good (no such mailbox, a
    /// webhook that is gone, a message it cannot read).
    Final(anyhow::Error),
}

/// The configured ways out; a channel without one is not sent from this process.
#[derive(Default)]
pub struct Senders {
    pub mail: Option<Mail>,
    pub chat: Option<Chat>,
}

/// A channel's sender.
pub enum Sender {
    Mail(Mail),
    Chat(Chat),
}

impl Sender {
    fn channel(&self) -> Channel {
        match self {
            Sender::Mail(_) => Channel::Email,
            Sender::Chat(_) => Channel::Webhook,
        }
    }

    async fn send(&self, n: &Notification) -> Result<(), Failure> {
        let sent = async {
            match self {
                Sender::Mail(m) => m.send(n).await,
                Sender::Chat(c) => c.send(n).await,
            }
        };
        match tokio::time::timeout(SEND_MAX, sent).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Retry(anyhow::anyhow!(
                "no answer within {} s",
                SEND_MAX.as_secs()
            ))),
        }
    }
}

impl Senders {
    /// One sender per configured channel, each delivered by a task of its own, so a mail
    /// server that hangs holds up no chat message.
    pub fn into_channels(self) -> Vec<Sender> {
        let mut out = Vec::new();
        out.extend(self.mail.map(Sender::Mail));
        out.extend(self.chat.map(Sender::Chat));
        out
    }
}

/// The pause before try `attempts + 1`: 5 s, doubling, at most [`MAX_PAUSE_SECS`].
pub fn pause_secs(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    (5_i64 << doublings).min(MAX_PAUSE_SECS)
}

/// Send what is due on one channel, for as long as the portal runs.
pub async fn deliver(db: &Db, sender: Sender, owner: &str) {
    let mut idle_rounds = 0u32;
    loop {
        match round(db, &sender, owner).await {
            Ok(true) => {
                idle_rounds = 0;
                continue;
            }
            Ok(false) => {}
            Err(e) => crate::log::failure("notifications: cannot read the outbox", &e),
        }
        // The backlog gauge, now and then while idle (other replicas move it too).
        idle_rounds += 1;
        if idle_rounds % 15 == 1 {
            match db.notification_backlog().await {
                Ok(n) => crate::metrics::notification_backlog(usize::try_from(n).unwrap_or(0)),
                Err(e) => crate::log::failure("notifications: cannot count the outbox", &e),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One round: if anything is due, lease it, send it, record each outcome, publish the backlog.
/// True when a full batch went (there may be more at once).
async fn round(db: &Db, sender: &Sender, owner: &str) -> Result<bool> {
    let channel = sender.channel();
    let now = jiff::Timestamp::now().as_second();
    if !db.notification_due(channel, now).await? {
        return Ok(false);
    }
    let due = db
        .notifications_due(channel, owner, now, now + LEASE_SECS, BATCH)
        .await?;
    for n in &due {
        let outcome = sender.send(n).await;
        let now = jiff::Timestamp::now().as_second();
        let (error, dead) = match outcome {
            Ok(()) => {
                db.notification_sent(&n.id, owner, now).await?;
                tracing::info!(
                    "notification {} sent by {} to {}",
                    n.id,
                    n.channel,
                    crate::log::escape(&n.recipient)
                );
                continue;
            }
            Err(Failure::Final(e)) => (format!("{e:#}"), true),
            Err(Failure::Retry(e)) if now - n.created >= GIVE_UP_SECS => (
                format!("still unsent after {} days: {e:#}", GIVE_UP_SECS / 86400),
                true,
            ),
            Err(Failure::Retry(e)) => (format!("{e:#}"), false),
        };
        let pause = pause_secs(n.attempts);
        let at = if dead { now } else { now + pause };
        db.notification_failed(&n.id, owner, &error, at, dead)
            .await?;
        let next = if dead {
            "given up (jit portal notify retry ID sends it again)".to_string()
        } else {
            format!("again in {pause} s; nothing is lost")
        };
        tracing::warn!(
            "notification {} by {} to {} not sent (try {}, {next}): {}",
            n.id,
            n.channel,
            crate::log::escape(&n.recipient),
            n.attempts + 1,
            crate::log::escape(&error)
        );
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
