//! Notifications to a chat room through a Slack-compatible incoming webhook (Slack,
//! Mattermost, Rocket.Chat, Google Chat's and Discord's Slack modes): one POST of
//! `{"text": ...}` per row, with the row's id as `Idempotency-Key`. The webhook's URL is itself
//! the secret (Slack's carries its key in the path), so it comes from a file or the
//! environment, and only its host is ever logged.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::db::Notification;

const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Chat {
    url: url::Url,
    client: reqwest::Client,
}

impl Chat {
    /// A sender to `url` (https, or http to a loopback address: checked by the caller).
    pub fn new(url: url::Url) -> Result<Chat> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would carry the message somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jit-portal/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Chat { url, client })
    }

    /// The webhook's scheme and host, what the log may say of it.
    pub fn host(&self) -> String {
        format!(
            "{}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default()
        )
    }

    pub async fn send(&self, n: &Notification) -> Result<()> {
        let text = format!("*{}*\n{}", n.subject, n.body);
        let resp = self
            .client
            .post(self.url.clone())
            .header("idempotency-key", &n.id)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "text": text }).to_string())
            .send()
            .await
            // reqwest's error names the URL, which holds the webhook's key.
            .map_err(|e| anyhow::anyhow!("{}: {}", self.host(), e.without_url()))?;
        let status = resp.status();
        if !status.is_success() {
            bail!("{} answered {status}", self.host());
        }
        Ok(())
    }
}
