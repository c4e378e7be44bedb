//! Access notifications to a chat (a Slack-compatible incoming webhook, docs/access.md): the
//! audit stream's rows about requests, decisions, break-glass and revokes, each one POST of
//! `{"text": ...}` with `Idempotency-Key: <stream id>-<seq>`. Riding the audit stream, they
//! are as durable as it is: a chat that is down gets every message once it is back, in order,
//! and a message sent again after a failure carries the same key.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::db::{AuditEntry, AuditEvent};

const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Chat {
    /// A secret: an incoming webhook's URL is its own credential, so it is never logged.
    url: url::Url,
    /// The portal's public URL, for the link to the access page.
    portal: String,
    client: reqwest::Client,
}

impl Chat {
    pub fn new(url: url::Url, portal: &str) -> Result<Chat> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jit-portal/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Chat {
            url,
            portal: portal.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The sink's name: a digest of the URL, which must not be shown.
    pub fn name(&self) -> String {
        let digest = crate::secret::digest(self.url.as_str());
        format!("chat webhook {}", &digest[..16.min(digest.len())])
    }

    pub async fn send(&self, stream_id: &str, rows: &[AuditEntry]) -> Result<()> {
        for row in rows {
            let Some(text) = message(row, &self.portal) else {
                continue;
            };
            let key = format!("{stream_id}-{}", row.seq.unwrap_or(0));
            let resp = self
                .client
                .post(self.url.clone())
                .header("idempotency-key", key)
                .header("content-type", "application/json")
                .body(serde_json::json!({ "text": text }).to_string())
                .send()
                .await
                // reqwest names the URL in its errors: this one must not be logged.
                .map_err(|e| anyhow::anyhow!("the chat webhook: {}", e.without_url()))?;
            let status = resp.status();
            if !status.is_success() {
                bail!("the chat webhook answered {status}");
            }
        }
        Ok(())
    }
}

/// The chat's line (and the mail's body) for an audit row, if it is one they tell of.
pub(super) fn message(row: &AuditEntry, portal: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
