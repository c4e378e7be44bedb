//! `jit ls`: what is cached and for how long, without touching the network.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::LsArgs;
use crate::creds;

pub fn run(args: LsArgs) -> Result<ExitCode> {
    let entries = creds::cache_entries()?;
    if args.json {
        let rows: Vec<_> = entries
            .iter()
            .map(|(_, e)| {
                serde_json::json!({
                    "host": e.host,
                    "scope": e.scope,
                    "region": e.creds.region,
                    "expiration": crate::model::rfc3339(e.creds.expiration),
                    "remaining_secs": e.creds.remaining().as_secs().max(0),
                })
            })
            .collect();
        crate::output::print_line(&serde_json::Value::Array(rows).to_string())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{:<40} {:<24} {:<14} {}\n",
        "HOST", "SCOPE", "REGION", "LEFT"
    );
    for (_, e) in &entries {
        let secs = e.creds.remaining().as_secs();
        let left = if secs <= 0 {
            "expired".to_string()
        } else {
            format!("{}m{:02}s", secs / 60, secs % 60)
        };
        out.push_str(&format!(
            "{:<40} {:<24} {:<14} {left}\n",
            e.host, e.scope, e.creds.region
        ));
    }
    crate::output::print_raw(&out)?;
    Ok(ExitCode::SUCCESS)
}
