//! Access notifications (docs/access.md): the audit stream's rows about requests, decisions,
//! break-glass, expiry and revokes, turned into rows of the notifications outbox that `notify/`
//! sends. A new request or a break-glass goes to the approvers of its targets (never the
//! requester), by email, each with a link of their own that opens the access page once; a
//! decision, an expiry or a revoke to the requester; every one of them to the chat. Riding the
//! audit stream, every such row is seen at least once and in order, across restarts; each
//! notification's id is made from the row's seq (zero-padded, so ids sort as the trail does) and
//! its recipient, so a row seen twice (a crash
//! between the outbox write and the cursor's move) queues nothing twice. Mail goes to a user's
//! email address (set by an admin with `jit portal user set NAME --email`, on their admin page,
//! or by a single sign-on whose `email` claim is verified), else to their sign-in name when that
//! is an address (the usual single sign-on claim); a user with neither gets no mail. An
//! approver's link names the user, not the address. This sink starts at the end of the trail:
//! configuring notifications tells nobody about what happened before.

use anyhow::Result;
use lettre::message::Mailbox;

use super::links;
use crate::db::{AuditEntry, AuditEvent, Channel, Db, NewNotification};
use crate::secret;

/// How long an approver's link works.
const LINK_SECS: i64 = 24 * 3600;

/// What the portal is set up to send.
pub struct Notices {
    pub email: bool,
    pub chat: bool,
    /// The portal's public URL, for the links.
    pub portal: String,
    /// The key links are sealed with.
    pub key: [u8; 32],
}

impl Notices {
    pub fn name(&self) -> String {
        "notifications".into()
    }

    /// Queue what `rows` tell of; the outbox ignores a notification it has already.
    pub async fn send(&self, db: &Db, stream_id: &str, rows: &[AuditEntry]) -> Result<()> {
        let now = jiff::Timestamp::now().as_second();
        let portal = self.portal.trim_end_matches('/');
        let mut notes = Vec::new();
        for row in rows {
            let Some(text) = message(row, portal) else {
                continue;
            };
            let seq = row.seq.unwrap_or(0);
            let subject = subject(row);
            if self.chat {
                notes.push(NewNotification {
                    id: format!("n_{stream_id}_{seq:012}_chat"),
                    channel: Channel::Webhook,
                    recipient: "chat".into(),
                    subject: subject.clone(),
                    body: text.clone(),
                    created: now,
                });
            }
            if !self.email {
                continue;
            }
            let to_approvers = matches!(
                AuditEvent::parse(&row.event),
                Some(AuditEvent::AccessRequest | AuditEvent::BreakGlass)
            );
            for Recipient { user, to } in recipients(db, row).await? {
                let mut body = format!("{text}\n");
                if to_approvers {
                    let token = links::issue(&self.key, "/access", &user, now, now + LINK_SECS)?;
                    body.push_str(&format!(
                        "\nOpen it in the portal (this link is yours alone and works once, for a day; sign in as always): {portal}/link?t={token}\n"
                    ));
                }
                // One per user, not per address: each user's link is their own.
                let digest = secret::digest(&user);
                notes.push(NewNotification {
                    id: format!(
                        "n_{stream_id}_{seq:012}_{}",
                        &digest[..12.min(digest.len())]
                    ),
                    channel: Channel::Email,
                    recipient: to,
                    subject: subject.clone(),
                    body,
                    created: now,
                });
            }
        }
        db.notify_once(&notes).await
    }
}

/// The chat's line (and the mail's body) for an audit row, if it is one they tell of.
fn message(row: &AuditEntry, portal: &str) -> Option<String> {
    let event = AuditEvent::parse(&row.event)?;
    let user = row.user.as_deref().unwrap_or("-");
    let scope = row.scope.as_deref().unwrap_or("-");
    let detail = row.detail.as_deref().unwrap_or("");
    let page = format!("{portal}/access");
    let minutes = row.duration_secs.map(|s| s / 60).unwrap_or_default();
    Some(match event {
        // A break-glass request needs no decision: its `break-glass` row says it all.
        AuditEvent::AccessRequest if detail.contains(" (break-glass);") => return None,
        AuditEvent::AccessRequest => {
            format!("{user} asks for {scope} for {minutes} minutes: {detail}. Decide at {page}")
        }
        AuditEvent::BreakGlass => format!(
            "BREAK-GLASS: {user} approved their own access to {scope}: {detail}. Review at {page}"
        ),
        AuditEvent::AccessApproved => format!("{scope} for {user}: {detail} approved"),
        AuditEvent::AccessDeny => format!("{} denied {scope} for {user}: {detail}", row.actor),
        AuditEvent::AccessExpire => format!("{user}: {detail}"),
        AuditEvent::GrantRevoke => format!("{} ended {user}'s {scope}: {detail}", row.actor),
        _ => return None,
    })
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

/// A user who hears of a row by mail, and the address it goes to.
#[derive(Debug, PartialEq, Eq)]
struct Recipient {
    user: String,
    to: String,
}

/// Who hears of `row` by mail: the approvers of its targets for a request or a break-glass
/// (never the requester), the requester for the rest; each at their email address, else at
/// their name when it is one; one message per user (named twice, as a user and through a
/// group, still one), even where two share an address.
async fn recipients(db: &Db, row: &AuditEntry) -> Result<Vec<Recipient>> {
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
    let mut out: Vec<Recipient> = Vec::new();
    for user in names {
        let to = match db.user_email(&user).await?.flatten() {
            Some(email) => email,
            None => user.clone(),
        };
        if to.parse::<Mailbox>().is_ok() && !out.iter().any(|r| r.user == user) {
            out.push(Recipient { user, to });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Principal;

    #[tokio::test]
    async fn mail_goes_to_a_users_email_else_to_a_name_that_is_an_address() {
        let (_dir, db) = Db::open_temp().await;
        let audit = || AuditEntry::new(AuditEvent::UserAdd, "test");
        for name in [
            "alice",
            "bob",
            "carol",
            "dave@example.com",
            "erin@example.com",
        ] {
            db.upsert_user(name, false, &[], audit())
                .await
                .expect("user");
        }
        db.set_email("bob", Some("bob@example.test"), audit())
            .await
            .expect("bob's email");
        db.set_email("erin@example.com", Some("erin@work.example"), audit())
            .await
            .expect("erin's email");
        for name in [
            "bob",
            "carol",
            "dave@example.com",
            "erin@example.com",
            "alice",
        ] {
            let p = Principal {
                target: "tenant:prod".into(),
                role: "approver".into(),
                kind: "user".into(),
                name: name.into(),
            };
            db.set_principal(&p, true, audit()).await.expect("approver");
        }
        let mut row = AuditEntry::new(AuditEvent::AccessRequest, "alice").user("alice");
        row.scope = Some("tenant:prod".into());
        // frank shares bob's address and gets a message (and a link) of his own; bob, an
        // approver by name and through a group, gets one.
        db.upsert_user("frank", false, &[], audit())
            .await
            .expect("frank");
        db.set_email("frank", Some("bob@example.test"), audit())
            .await
            .expect("frank's email");
        db.add_group("leads", audit()).await.expect("group");
        for member in ["bob", "frank"] {
            db.set_group_member("leads", member, true, audit())
                .await
                .expect("member");
        }
        let leads = Principal {
            target: "tenant:prod".into(),
            role: "approver".into(),
            kind: "group".into(),
            name: "leads".into(),
        };
        db.set_principal(&leads, true, audit())
            .await
            .expect("group approver");
        let mut got = recipients(&db, &row).await.expect("recipients");
        got.sort_by(|a, b| a.user.cmp(&b.user));
        let want = [
            ("bob", "bob@example.test"),
            ("dave@example.com", "dave@example.com"),
            ("erin@example.com", "erin@work.example"),
            ("frank", "bob@example.test"),
        ]
        .map(|(user, to)| Recipient {
            user: user.into(),
            to: to.into(),
        });
        assert_eq!(got, want, "carol has no address; alice asked");
        db.set_email("alice", Some("alice@example.test"), audit())
            .await
            .expect("alice's email");
        let decided = AuditEntry::new(AuditEvent::AccessApproved, "bob").user("alice");
        assert_eq!(
            recipients(&db, &decided).await.expect("requester"),
            [Recipient {
                user: "alice".into(),
                to: "alice@example.test".into()
            }]
        );
    }

    #[test]
    fn the_chat_hears_about_requests_and_decisions_only() {
        let mut row = AuditEntry::new(AuditEvent::AccessRequest, "alice").user("alice");
        row.scope = Some("tenant:prod".into());
        row.duration_secs = Some(3600);
        row.detail = Some("request r_1; approvers: bob; reason: x; ticket: -".into());
        let text = message(&row, "https://portal.example").expect("a message");
        assert_eq!(
            text,
            "alice asks for tenant:prod for 60 minutes: request r_1; approvers: bob; reason: x; ticket: -. Decide at https://portal.example/access"
        );
        assert_eq!(
            message(&AuditEntry::new(AuditEvent::Vend, "alice"), "x"),
            None
        );
    }
}
