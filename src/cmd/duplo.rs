//! `jit duplo`: print the portal token as duplo-jit does, logging in if needed.

use std::process::ExitCode;

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::DuploArgs;
use crate::model::{CacheMode, Scope};

pub fn run(args: DuploArgs) -> Result<ExitCode> {
    // Only the admin/non-admin distinction matters for a login; the tenant is never used.
    let scope = if args.admin {
        Scope::Admin
    } else {
        Scope::Tenant(String::new())
    };
    let target = super::target_for(scope, &args.conn, None, None)?;
    let cache = match args.cache.mode() {
        CacheMode::Bypass => None,
        _ => Cache::open()
            .map_err(|e| crate::output::warn(format_args!("{e:#}")))
            .ok(),
    };
    let (client, mut entry) = crate::login::session(&target, cache.as_ref())?;
    if args.admin && !entry.need_otp {
        entry.need_otp = client.otp_needed()?;
    }
    crate::output::print_line(&serde_json::to_string(&entry)?)?;
    Ok(ExitCode::SUCCESS)
}
