//! The audit stream's syslog sink: one RFC 5424 line per event (APP-NAME jit-portal, MSGID
//! audit, facility authpriv, the event's JSON as MSG), formatted by `syslog_fmt`; over TCP in
//! octet-counted frames (RFC 6587 §3.4.1) or over UDP, one datagram each. The transport is ours:
//! `syslog_fmt` formats only, and the `syslog` crate's sockets are blocking and frame TCP with
//! newlines.
//!
//! TCP has no acknowledgement, so a batch counts as delivered once the connection is still open
//! at the next round (a receiver that stopped has closed it by then: the batch is sent again).
//! UDP cannot tell at all: what the network drops is lost, so prefer TCP or the webhook.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use syslog_fmt::{Facility, Severity, v5424};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::db::AuditEntry;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Syslog {
    tcp: bool,
    addr: String,
    formatter: v5424::Formatter,
    conn: Option<TcpStream>,
    sock: Option<UdpSocket>,
}

impl Syslog {
    /// A receiver at `addr` (`host:port`), over TCP or UDP.
    pub fn new(tcp: bool, addr: String) -> Syslog {
        let host = hostname();
        let pid = std::process::id().to_string();
        let formatter = v5424::Config {
            facility: Facility::Authpriv,
            hostname: host.as_deref(),
            app_name: Some("jit-portal"),
            proc_id: Some(&pid),
        }
        .into_formatter();
        Syslog {
            tcp,
            addr,
            formatter,
            conn: None,
            sock: None,
        }
    }

    pub fn target(&self) -> String {
        let scheme = if self.tcp { "tcp" } else { "udp" };
        format!("{scheme}://{}", self.addr)
    }

    /// One event as an RFC 5424 message.
    pub fn format(&self, stream_id: &str, row: &AuditEntry) -> Result<Vec<u8>> {
        let time = jiff::Timestamp::from_second(row.at)
            .map(jit_wire::time::rfc3339)
            .unwrap_or_default();
        let msg = super::event_json(stream_id, row).to_string();
        let mut out = Vec::with_capacity(msg.len() + 96);
        self.formatter
            .write_without_data(&mut out, Severity::Info, time, msg, Some("audit"))?;
        Ok(out)
    }

    /// Write the batch. Ok(true) for UDP (sent, and nothing more is ever known); Ok(false)
    /// for TCP, settled by `check` at the next round.
    pub async fn send(&mut self, stream_id: &str, rows: &[AuditEntry]) -> Result<bool> {
        let mut messages = Vec::with_capacity(rows.len());
        for row in rows {
            messages.push(self.format(stream_id, row)?);
        }
        if !self.tcp {
            return self.send_udp(&messages).await.map(|()| true);
        }
        if self.check().is_err() {
            self.conn = None;
        }
        if self.conn.is_none() {
            let conn =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.addr.as_str()))
                    .await
                    .context("connecting timed out")?
                    .with_context(|| format!("cannot connect to {}", self.addr))?;
            self.conn = Some(conn);
        }
        let mut framed = Vec::new();
        for m in &messages {
            framed.extend_from_slice(format!("{} ", m.len()).as_bytes());
            framed.extend_from_slice(m);
        }
        let Some(conn) = self.conn.as_mut() else {
            bail!("not connected");
        };
        let written = tokio::time::timeout(WRITE_TIMEOUT, async {
            conn.write_all(&framed).await?;
            conn.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(false),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e).context("writing failed")
            }
            Err(_) => {
                self.conn = None;
                bail!("writing timed out")
            }
        }
    }

    /// Whether the TCP connection is still open: the receiver has not closed or reset it.
    pub fn check(&mut self) -> Result<()> {
        let Some(conn) = &self.conn else {
            bail!("the connection to {} closed", self.addr);
        };
        let mut buf = [0u8; 512];
        loop {
            match conn.try_read(&mut buf) {
                // A receiver may talk back; what it says does not matter.
                Ok(n) if n > 0 => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                _ => {
                    self.conn = None;
                    bail!("{} closed the connection", self.addr);
                }
            }
        }
    }

    async fn send_udp(&mut self, messages: &[Vec<u8>]) -> Result<()> {
        if self.sock.is_none() {
            let addr = tokio::net::lookup_host(self.addr.as_str())
                .await?
                .next()
                .with_context(|| format!("{} resolves to no address", self.addr))?;
            let local = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = UdpSocket::bind(local).await?;
            sock.connect(addr).await?;
            self.sock = Some(sock);
        }
        let Some(sock) = &self.sock else {
            bail!("no socket");
        };
        for m in messages {
            if let Err(e) = sock.send(m).await {
                self.sock = None;
                return Err(e).with_context(|| format!("cannot send to {}", self.addr));
            }
        }
        Ok(())
    }
}

/// This host's name as RFC 5424 allows it (printable ASCII, at most 255), else none (`-`).
fn hostname() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy();
    let ok = !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| (33..=126).contains(&b));
    ok.then(|| name.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::AuditEvent;

    #[test]
    fn an_event_is_one_rfc_5424_line_with_its_json() {
        let s = Syslog::new(true, "127.0.0.1:514".into());
        let mut row = AuditEntry::new(AuditEvent::UserAdd, "root").user("alice");
        row.seq = Some(7);
        row.at = 1_767_225_600;
        let line = String::from_utf8(s.format("abc", &row).expect("format")).expect("utf8");
        // <authpriv.info>1 TIMESTAMP HOST APP PROCID MSGID SD BOM MSG
        let fields: Vec<&str> = line.splitn(8, ' ').collect();
        assert_eq!(fields[0], "<86>1", "{line}");
        assert_eq!(fields[1], "2026-01-01T00:00:00Z");
        assert_eq!(fields[3], "jit-portal");
        assert_eq!(fields[4], std::process::id().to_string());
        assert_eq!(fields[5], "audit");
        assert_eq!(fields[6], "-");
        let msg = fields[7].trim_start_matches('\u{feff}');
        let v: serde_json::Value = serde_json::from_str(msg).expect("json");
        assert_eq!(v["id"], "abc-7");
        assert_eq!(v["event"], "user add");
        assert_eq!(v["user"], "alice");
        assert!(!line.contains('\n'));
    }
}
