//! Access notifications by email over SMTP (lettre, docs/access.md): a new request goes to its
//! approvers, a break-glass to the target's approvers at once, a decision, expiry or revoke to
//! the requester. Riding the audit stream like the chat, they are sent at least once and in
//! order; a message sent again after a failure has the same `Message-ID`, by which mail
//! systems drop the copy. Portal users are named by their sign-in name: mail goes to those
//! whose name is an email address (the usual single sign-on claim); others are skipped.

use anyhow::{Context, Result, anyhow};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::db::{AuditEntry, AuditEvent, Db};

pub struct Mail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// A digest of the SMTP URL, which may hold a password.
    id: String,
    portal: String,
}

impl Mail {
    /// `url` as lettre reads it: `smtps://user:pass@host:465`, `smtp://host:587?tls=required`,
    /// or plain `smtp://` to a loopback address only.
    pub fn new(url: &str, from: &str, portal: &str) -> Result<Mail> {
        let parsed = url::Url::parse(url).map_err(|_| anyhow!("the SMTP URL is not a URL"))?;
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            // smtp:// is no special scheme to the URL parser: an address is a name here.
            Some(url::Host::Domain(d)) => {
                d == "localhost"
                    || d.trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            None => false,
        };
        let tls = parsed.scheme() == "smtps"
            || parsed
                .query_pairs()
                .any(|(k, v)| k == "tls" && v == "required");
        if !tls && !loopback {
            anyhow::bail!(
                "the SMTP URL must use smtps:// or ?tls=required (plain smtp:// only to a loopback address)"
            );
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow!("the SMTP URL: {e}"))?
            .build();
        let digest = crate::secret::digest(url);
        Ok(Mail {
            transport,
            from: from
                .parse()
                .with_context(|| format!("--notify-email-from '{from}' is no email address"))?,
            id: digest[..16.min(digest.len())].to_string(),
            portal: portal.trim_end_matches('/').to_string(),
        })
    }

    pub fn name(&self) -> String {
        format!("mail {}", self.id)
    }

    pub async fn send(&self, db: &Db, stream_id: &str, rows: &[AuditEntry]) -> Result<()> {
        for row in rows {
            let Some(text) = super::chat::message(row, &self.portal) else {
                continue;
            };
            let to = recipients(db, row).await?;
            if to.is_empty() {
                continue;
            }
            let mut msg = Message::builder()
                .from(self.from.clone())
                .subject(subject(row))
                .message_id(Some(format!(
                    "<{stream_id}-{}@jit-portal>",
                    row.seq.unwrap_or(0)
                )));
            for m in to {
                msg = msg.to(m);
            }
            let msg = msg
                .header(ContentType::TEXT_PLAIN)
                .body(format!("{text}\n"))
                .context("cannot build the notification")?;
            self.transport
                .send(msg)
                .await
                .map_err(|e| anyhow!("SMTP: {e}"))?;
        }
        Ok(())
    }
}

fn subject(row: &AuditEntry) -> String {
    let user = row.user.as_deref().unwrap_or("-");
    let scope = row.scope.as_deref().unwrap_or("-");
    match AuditEvent::parse(&row.event) {
        Some(AuditEvent::AccessRequest) => format!("[jit] {user} asks for {scope}"),
        Some(AuditEvent::BreakGlass) => format!("[jit] BREAK-GLASS: {user} on {scope}"),
        Some(AuditEvent::AccessApproved) => format!("[jit] approved: {scope} for {user}"),
        Some(AuditEvent::AccessDeny) => format!("[jit] denied: {scope} for {user}"),
        Some(AuditEvent::AccessExpire) => format!("[jit] expired: a request of {user}"),
        _ => format!("[jit] {}: {scope} of {user}", row.event),
    }
}

/// Who hears of `row`: the approvers of its targets for a request or a break-glass (never the
/// requester), the requester for the rest; those named by an email address.
async fn recipients(db: &Db, row: &AuditEntry) -> Result<Vec<Mailbox>> {
    let user = row.user.clone().unwrap_or_default();
    let names: Vec<String> = match AuditEvent::parse(&row.event) {
        Some(AuditEvent::AccessRequest | AuditEvent::BreakGlass) => {
            let mut names = Vec::new();
            for target in row.scope.as_deref().unwrap_or("").split_whitespace() {
                for p in db.principals(target, "approver").await? {
                    match p.kind.as_str() {
                        "group" => names.extend(db.group_members(&p.name).await?),
                        _ => names.push(p.name),
                    }
                }
            }
            names.retain(|n| *n != user);
            names
        }
        Some(_) => vec![user],
        None => Vec::new(),
    };
    let mut out: Vec<Mailbox> = Vec::new();
    for n in names {
        if let Ok(m) = n.parse::<Mailbox>()
            && !out.contains(&m)
        {
            out.push(m);
        }
    }
    Ok(out)
}
