//! Notifications to a chat room through a Slack-compatible incoming webhook (Slack,
//! Mattermost, Rocket.Chat, Google Chat's and Discord's Slack modes): one POST of
//! `{"text": ...}` per row, with the row's id as `Idempotency-Key`. The webhook's URL is itself
//! the secret (Slack's carries its key in the path), so it comes from a file or the
//! environment, and only its host is ever logged.

use std::time::Duration;

use anyhow::Result;

use super::Failure;
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

    pub async fn send(&self, n: &Notification) -> Result<(), Failure> {
        // Slack's markup: `&`, `<` and `>` escaped, so text from a request (a reason, a name)
        // cannot make a mention (`<!channel>`) or a link that says something else.
        let text = format!("*{}*\n{}", escape(&n.subject), escape(&n.body));
        let resp = self
            .client
            .post(self.url.clone())
            .header("idempotency-key", &n.id)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "text": text }).to_string())
            .send()
            .await
            // reqwest's error names the URL, which holds the webhook's key; its causes do not.
            .map_err(|e| {
                Failure::Retry(anyhow::Error::new(e.without_url()).context(self.host()))
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        // What the receiver said, bounded: Slack says why in the body (`invalid_payload`,
        // `no_service`).
        let mut said = Vec::new();
        let mut resp = resp;
        while said.len() < 512 {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    said.extend_from_slice(&chunk[..chunk.len().min(512 - said.len())])
                }
                _ => break,
            }
        }
        let e = anyhow::anyhow!(
            "{} answered {status}: {}",
            self.host(),
            String::from_utf8_lossy(&said).trim()
        );
        // A 4xx says the message or the webhook is wrong, and will stay so; 408 and 429 say
        // try later.
        Err(match status.as_u16() {
            408 | 429 => Failure::Retry(e),
            400..=499 => Failure::Final(e),
            _ => Failure::Retry(e),
        })
    }
}

/// Text as Slack-compatible markup shows it literally.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_shown_literally() {
        assert_eq!(
            super::escape("<!channel> & <https://evil|Approve>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|Approve&gt;"
        );
    }
}
