//! `jit portal notify test|list`: a test notification through the serving portal's mail
//! server or chat webhook, and the outbox with each row's tries and last error. Not audited:
//! neither changes who may do what.

use anyhow::{Result, bail};

use super::admin::when;
use crate::cli::NotifyCommand;
use crate::db::{Channel, Db, NewNotification};
use crate::notify::links;

/// `jit portal notify ...`: queue a test notification, or list the outbox.
pub async fn run(db: &Db, c: NotifyCommand) -> Result<()> {
    let now = jiff::Timestamp::now().as_second();
    match c {
        NotifyCommand::Test {
            to,
            chat,
            portal_url,
        } => {
            let (channel, recipient) = match (to, chat) {
                (Some(addr), _) => {
                    if addr.parse::<lettre::message::Mailbox>().is_err() {
                        bail!("'{addr}' is not a mail address");
                    }
                    (Channel::Email, addr)
                }
                (None, _) => (Channel::Webhook, "chat".to_string()),
            };
            let mut body =
                "This is a test from the JIT access portal: notifications reach you.".to_string();
            if let Some(url) = portal_url {
                let key = db.server_key("cookies", now).await?;
                let token = links::issue(&key, "/profile", &recipient, now, now + 3600)?;
                let base = url.as_str().trim_end_matches('/');
                body.push_str(&format!(
                    "\n\nOpen your profile (this link works once, for an hour): {base}/link?t={token}"
                ));
            }
            let n = NewNotification {
                id: crate::secret::new_id("n_")?,
                channel,
                recipient,
                subject: "jit portal: a test notification".into(),
                body,
                created: now,
            };
            db.notify(&n).await?;
            crate::output::print_raw(&format!("{}\n", n.id))?;
            crate::output::status(format_args!(
                "queued {}: a serving portal sends it (jit portal notify list shows it until then)",
                n.id
            ));
        }
        NotifyCommand::List { sent } => {
            let mut out = String::new();
            for n in db.list_notifications(sent, 1000).await? {
                let state = match (n.sent_at, n.dead_at) {
                    (Some(at), _) => format!("sent {}", when(Some(at))),
                    (None, Some(at)) => format!("given up {}", when(Some(at))),
                    (None, None) => format!("next try {}", when(Some(n.next_at))),
                };
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{} tries\t{}\n",
                    n.id,
                    n.channel,
                    crate::log::escape(&n.recipient),
                    crate::log::escape(&n.subject),
                    when(Some(n.created)),
                    state,
                    n.attempts,
                    crate::log::escape(n.last_error.as_deref().unwrap_or("-")),
                ));
            }
            crate::output::print_raw(&out)?;
        }
        NotifyCommand::Retry { id } => {
            if !db.notification_retry(&id, now).await? {
                bail!("no given-up notification {id} (notify list shows them)");
            }
            crate::output::status(format_args!("{id} will be sent again"));
        }
    }
    Ok(())
}
