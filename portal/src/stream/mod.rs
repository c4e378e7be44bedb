//! The audit stream: every audit row also goes to the configured sinks (an HTTPS webhook, a
//! syslog receiver), in order and at least once, from a task in the portal process.
//!
//! The outbox is the audit table itself. Rows are append-only and their seq grows in commit
//! order (SQLite has one writer at a time; on PostgreSQL the 0010 migration's trigger draws
//! each seq under a transaction-scoped advisory lock, so seq 11 never commits before seq 10),
//! so "every row after the last one a sink was sent" is exactly what it still needs, and a row
//! is in the outbox by the same commit that writes it. `audit_sinks` keeps, per sink, the seq
//! it has been sent through; it moves only after the sink took the batch (a 2xx answer, a
//! datagram sent, or TCP frames written on a connection still open at the next round), so a
//! sink that is down, a portal that is killed or restarted loses nothing: delivery resumes
//! from the stored seq. A batch sent but not yet recorded is sent again after a crash; each
//! event carries an id, `<stream id>-<seq>`, that lets a receiver drop it the second time.
//!
//! Nothing waits on a sink: requests write their row and go on; the task polls the table.
//! Several processes on one database (replicas, a second `serve`) take a lease on each sink
//! (`audit_sinks.owner`, renewed every round, [`LEASE_SECS`]): one delivers at a time, and
//! another takes over when a holder stops renewing (killed) or gives it up (stopped).

mod syslog;
mod webhook;

use std::time::Duration;

use anyhow::Result;

use crate::db::{AuditEntry, Db};
use crate::secret;

pub use syslog::Syslog;
pub use webhook::Webhook;

/// Rows per batch (one webhook POST, one burst of syslog lines).
const BATCH: i64 = 100;
/// How often an idle sink looks for new rows.
const POLL: Duration = Duration::from_millis(500);
/// How long a lease on a sink holds without renewal: longer than one send may take.
pub const LEASE_SECS: i64 = 20;
/// The longest wait between attempts while a sink is down.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// One configured sink.
pub enum Sink {
    Webhook(Webhook),
    Syslog(Syslog),
    /// Access notifications: rows of the notifications outbox (`notify/`), composed from the
    /// access rows of the trail.
    Notices(crate::notify::Notices),
}

impl Sink {
    /// The sink's row in `audit_sinks`: a new target is a new sink, sent the whole trail.
    pub fn name(&self) -> String {
        match self {
            Sink::Webhook(w) => format!("webhook {}", w.url()),
            Sink::Syslog(s) => format!("syslog {}", s.target()),
            Sink::Notices(n) => n.name(),
        }
    }

    /// Whether a new sink starts at the end of the trail: one that tells of what happens from
    /// now on, not of the past.
    fn starts_at_end(&self) -> bool {
        matches!(self, Sink::Notices(_))
    }

    /// Send a batch. Ok(true): it arrived (as far as the transport can tell); Ok(false): it
    /// was written and is known to have arrived once [`Sink::check`] passes later.
    async fn send(&mut self, db: &Db, id: &str, rows: &[AuditEntry]) -> Result<bool> {
        match self {
            Sink::Webhook(w) => w.send(id, rows).await.map(|()| true),
            Sink::Syslog(s) => s.send(id, rows).await,
            Sink::Notices(n) => n.send(db, id, rows).await.map(|()| true),
        }
    }

    /// Whether what the last `send` wrote is still on its way (the connection did not break).
    fn check(&mut self) -> Result<()> {
        match self {
            Sink::Webhook(_) | Sink::Notices(_) => Ok(()),
            Sink::Syslog(s) => s.check(),
        }
    }
}

/// One event as the sinks carry it: the `jit portal audit --json` object and its `id`.
pub fn event_json(stream_id: &str, row: &AuditEntry) -> serde_json::Value {
    let mut v = row.json();
    v["id"] = serde_json::json!(event_id(stream_id, row.seq.unwrap_or(0)));
    v
}

fn event_id(stream_id: &str, seq: i64) -> String {
    format!("{stream_id}-{seq}")
}

/// The database's stream id: the same in every replica and after every restart, different
/// between databases, so event ids never collide at a receiver fed by several portals.
pub async fn stream_id(db: &Db) -> Result<String> {
    let key = db
        .server_key("audit-stream-id", jiff::Timestamp::now().as_second())
        .await?;
    Ok(secret::hex(&key[..8]))
}

/// A name for this process's leases.
pub fn owner() -> Result<String> {
    Ok(secret::hex(&secret::random::<12>()?))
}

enum Round {
    /// A full batch went: there may be more at once.
    More,
    /// Caught up, or another process delivers this sink.
    Idle,
}

/// Deliver to `sink` for as long as the portal runs.
pub async fn deliver(db: &Db, mut sink: Sink, stream_id: &str, owner: &str) {
    let name = sink.name();
    let mut failing = false;
    let mut backoff = Duration::ZERO;
    let mut pending = None;
    loop {
        let wait = match round(db, &mut sink, &name, stream_id, owner, &mut pending).await {
            Ok(r) => {
                if failing {
                    tracing::info!("audit stream: delivering to {} again", esc(&name));
                    failing = false;
                }
                backoff = Duration::ZERO;
                match r {
                    Round::More => continue,
                    Round::Idle => POLL,
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(
                        "audit stream: cannot deliver to {} (retrying, nothing is lost): {}",
                        esc(&name),
                        esc(&format!("{e:#}"))
                    );
                    failing = true;
                }
                backoff = (backoff * 2).clamp(Duration::from_millis(500), MAX_BACKOFF);
                backoff
            }
        };
        tokio::time::sleep(wait).await;
    }
}

fn esc(text: &str) -> String {
    crate::log::escape(text)
}

/// One round: renew the lease, settle what the last round left pending, send the next batch.
async fn round(
    db: &Db,
    sink: &mut Sink,
    name: &str,
    stream_id: &str,
    owner: &str,
    pending: &mut Option<i64>,
) -> Result<Round> {
    let now = jiff::Timestamp::now().as_second();
    let Some(mut through) = db
        .sink_claim(name, owner, now, now + LEASE_SECS, sink.starts_at_end())
        .await?
    else {
        *pending = None;
        return Ok(Round::Idle);
    };
    if let Some(seq) = pending.take() {
        // The connection broke: what was written on it may be lost; send again from `through`.
        sink.check()?;
        db.sink_advance(name, owner, seq).await?;
        through = through.max(seq);
    }
    let rows = db.audit_after(through, None, None, BATCH).await?;
    let Some(last) = rows.last().and_then(|r| r.seq) else {
        return Ok(Round::Idle);
    };
    match sink.send(db, stream_id, &rows).await? {
        true => db.sink_advance(name, owner, last).await?,
        false => *pending = Some(last),
    }
    Ok(match rows.len() as i64 == BATCH {
        true => Round::More,
        false => Round::Idle,
    })
}

/// Give up this process's leases (a clean stop): another replica takes over at once.
pub async fn release(db: &Db, names: &[String], owner: &str) {
    for name in names {
        let _ = db.sink_release(name, owner).await;
    }
}
