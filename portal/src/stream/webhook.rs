//! The audit stream's webhook: each batch one POST of JSON lines (docs/protocol.md §12), with
//! an `Idempotency-Key` and the bearer secret; a 2xx answer means the receiver has it.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::db::AuditEntry;

/// The longest a POST may take, all told.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Webhook {
    url: url::Url,
    secret: Option<String>,
    client: reqwest::Client,
}

impl Webhook {
    /// A webhook at `url` (already checked: https, or http to loopback), sending `secret` as a
    /// bearer token when there is one.
    pub fn new(url: url::Url, secret: Option<String>) -> Result<Webhook> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would carry the batch (and the secret) somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jit-portal/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Webhook {
            url,
            secret: secret.filter(|s| !s.is_empty()),
            client,
        })
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    pub async fn send(&self, stream_id: &str, rows: &[AuditEntry]) -> Result<()> {
        let (Some(first), Some(last)) = (
            rows.first().and_then(|r| r.seq),
            rows.last().and_then(|r| r.seq),
        ) else {
            return Ok(());
        };
        let mut body = String::new();
        for row in rows {
            body.push_str(&super::event_json(stream_id, row).to_string());
            body.push('\n');
        }
        let mut req = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", format!("{stream_id}-{first}-{last}"))
            .body(body);
        if let Some(secret) = &self.secret {
            req = req.bearer_auth(secret);
        }
        // The error names the URL, never the secret (it rides in a header).
        let resp = req.send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("{} answered {status}", self.url);
        }
        Ok(())
    }
}
