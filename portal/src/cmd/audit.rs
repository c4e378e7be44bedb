//! `jit portal audit`: read the audit trail, as a table or as JSON lines.

use anyhow::Result;

use crate::cli::AuditArgs;
use crate::db::Db;
use crate::domain::audit::{self, Filter};
use crate::log;

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
    let entries = audit::find(db, &filter, args.limit).await?;
    let mut out = String::new();
    for e in entries {
        if args.json {
            let mut v = serde_json::to_value(&e)?;
            if let Ok(ts) = jiff::Timestamp::from_second(e.at) {
                v["time"] = serde_json::json!(jit_wire::time::rfc3339(ts));
            }
            out.push_str(&v.to_string());
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
    crate::output::print_raw(&out)
}
