//! `jit portal audit`: read the audit trail, as a table or as JSON lines, and with `--follow`
//! keep printing the rows committed after, until interrupted.

use std::time::Duration;

use anyhow::Result;

use crate::cli::AuditArgs;
use crate::db::{AuditEntry, Db};
use crate::domain::audit::{self, Filter};
use crate::log;

/// How often `--follow` looks for new rows, and at most how many it reads at a time.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);
const FOLLOW_BATCH: i64 = 1000;

pub async fn run(db: &Db, args: AuditArgs) -> Result<()> {
    let now = jiff::Timestamp::now().as_second();
    let filter = Filter {
        user: args.user,
        event: args
            .event
            .map(|e| audit::parse_event("--event", &e))
            .transpose()?,
        since: args
            .since
            .map(|s| audit::parse_since("--since", &s, now))
            .transpose()?,
    };
    // Read first, so that a row committed while the trail is read is printed once: by `find`
    // or by the first round of `--follow`, never by neither.
    let mut last = match args.follow {
        true => db.audit_last_seq().await?,
        false => 0,
    };
    let entries = audit::find(db, &filter, args.limit).await?;
    print(&entries, args.json, &mut last)?;
    if !args.follow {
        return Ok(());
    }
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            _ = &mut interrupted => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
        // Seqs grow in commit order on both backends (the 0010 migration), so nothing
        // committed behind `last` can still appear.
        let fresh = audit::after(db, &filter, last, FOLLOW_BATCH).await?;
        print(&fresh, args.json, &mut last)?;
    }
}

/// Print entries (flushed at once, so a closed pipe ends `--follow`) and note the last seq.
fn print(entries: &[AuditEntry], json: bool, last: &mut i64) -> Result<()> {
    let mut out = String::new();
    for e in entries {
        *last = (*last).max(e.seq.unwrap_or(0));
        if json {
            out.push_str(&e.json().to_string());
            out.push('\n');
            continue;
        }
        let dash = |v: &Option<String>| v.as_deref().map(log::escape).unwrap_or_else(|| "-".into());
        let time = jiff::Timestamp::from_second(e.at)
            .map(jit_wire::time::rfc3339)
            .unwrap_or_else(|_| e.at.to_string());
        out.push_str(&format!(
            "{time}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            log::escape(&e.event),
            log::escape(&e.actor),
            dash(&e.user),
            dash(&e.scope),
            dash(&e.role_arn),
            e.duration_secs
                .map(|d| format!("{d}s"))
                .unwrap_or_else(|| "-".into()),
            dash(&e.client),
            dash(&e.token_id),
            dash(&e.detail),
        ));
    }
    if out.is_empty() {
        return Ok(());
    }
    crate::output::print_raw(&out)
}
