//! `jit ls`: what is cached, for which environments and for how long (and, for credentials
//! vended under an access grant, until when the grant lasts), without the network.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::LsArgs;
use crate::creds;
use crate::host::Host;

/// The config's environment names that fetch `host` + `scope` (an entry can serve several).
fn env_names(config: &crate::config::Config, host: &str, scope: &str) -> Vec<String> {
    config
        .envs
        .iter()
        .filter(|(_, env)| {
            let Some(env_scope) = env.scope() else {
                return false;
            };
            Host::parse(&env.host).is_ok_and(|h| h.as_str() == host)
                && env_scope.describe() == scope
        })
        .map(|(name, _)| name.clone())
        .collect()
}

pub fn run(args: LsArgs) -> Result<ExitCode> {
    let entries = creds::cache_entries()?;
    // A broken config file must not hide what is cached.
    let config = crate::config::load().unwrap_or_default();
    if args.json {
        let rows: Vec<_> = entries
            .iter()
            .map(|(_, e)| {
                serde_json::json!({
                    "envs": env_names(&config, &e.host, &e.scope),
                    "host": e.host,
                    "scope": e.scope,
                    "region": e.creds.region,
                    "expiration": crate::model::rfc3339(e.creds.expiration),
                    "remaining_secs": e.creds.remaining().as_secs().max(0),
                    "grant": e.creds.grant.as_ref().map(|g| serde_json::json!({
                        "id": g.id,
                        "end": crate::model::rfc3339(g.end),
                        "remaining_secs": left_secs(g.end),
                    })),
                })
            })
            .collect();
        crate::output::print_line(&serde_json::Value::Array(rows).to_string())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{:<16} {:<40} {:<24} {:<14} {:<9} {}\n",
        "ENV", "HOST", "SCOPE", "REGION", "LEFT", "GRANT"
    );
    for (_, e) in &entries {
        let creds_left = left(left_secs(e.creds.expiration), "expired");
        // Credentials never outlive their grant; the grant may outlive them, and then says how
        // long `jit` may keep renewing.
        let grant = match &e.creds.grant {
            Some(g) => format!("{} {}", g.id, left(left_secs(g.end), "ended")),
            None => "-".to_string(),
        };
        let names = env_names(&config, &e.host, &e.scope);
        let names = if names.is_empty() {
            "-".to_string()
        } else {
            names.join(",")
        };
        out.push_str(&format!(
            "{names:<16} {:<40} {:<24} {:<14} {creds_left:<9} {grant}\n",
            e.host, e.scope, e.creds.region
        ));
    }
    crate::output::print_raw(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Whole seconds from now until `end`, never below zero.
fn left_secs(end: jiff::Timestamp) -> i64 {
    end.duration_since(jiff::Timestamp::now()).as_secs().max(0)
}

/// `42m05s`, or `over` once nothing is left.
fn left(secs: i64, over: &str) -> String {
    if secs <= 0 {
        over.to_string()
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}
