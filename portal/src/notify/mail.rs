//! Notifications by email: one plain-text message per row through an SMTP server (`lettre`),
//! over implicit TLS (`smtps://`), STARTTLS that must succeed (`smtp://` to anywhere but this
//! machine) or plain SMTP to a loopback relay. The row's id is the Message-ID.

use std::time::Duration;

use anyhow::{Context, Result};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Failure;
use crate::db::Notification;

/// The longest one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(15);

pub struct Mail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `smtp[s]://host:port`, for the log (never the password).
    server: String,
}

impl Mail {
    /// A sender through the server at `url` (`smtps://` or `smtp://`, checked by the CLI: no
    /// password in it), as `from`, logging in as the URL's user with `password` when given.
    /// `smtp://` is plain SMTP when `loopback` (the relay is this machine), else STARTTLS that
    /// must succeed.
    pub fn new(
        url: &url::Url,
        password: Option<String>,
        from: &str,
        loopback: bool,
    ) -> Result<Mail> {
        let host = url.host_str().context("the SMTP URL has no host")?;
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("--mail-from '{from}' is not a mail address"))?;
        let mut builder = match url.scheme() {
            "smtps" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            _ if loopback => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
        };
        if let Some(port) = url.port() {
            builder = builder.port(port);
        } else if url.scheme() == "smtp" && loopback {
            builder = builder.port(25);
        }
        if !url.username().is_empty() {
            let user = percent_encoding::percent_decode_str(url.username())
                .decode_utf8()
                .context("the SMTP user is not UTF-8")?
                .into_owned();
            builder = builder.credentials(Credentials::new(user, password.unwrap_or_default()));
        }
        let server = format!(
            "{}://{host}{}",
            url.scheme(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        Ok(Mail {
            transport: builder.timeout(Some(TIMEOUT)).build(),
            from,
            server,
        })
    }

    /// `smtp[s]://host[:port]`, for the start-up log.
    pub fn server(&self) -> &str {
        &self.server
    }

    pub async fn send(&self, n: &Notification) -> Result<(), Failure> {
        let to: Mailbox = n.recipient.parse().map_err(|_| {
            Failure::Final(anyhow::anyhow!("'{}' is not a mail address", n.recipient))
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&n.subject)
            .message_id(Some(format!("<{}@jit-portal>", n.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(n.body.clone())
            .map_err(|e| Failure::Final(anyhow::anyhow!("cannot build the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let permanent = e.is_permanent();
                let e = anyhow::Error::new(e).context(format!("{} did not take it", self.server));
                Err(if permanent {
                    Failure::Final(e)
                } else {
                    Failure::Retry(e)
                })
            }
        }
    }
}
