//! `jit duplo`: print the portal token as duplo-jit does, logging in as an admin if needed and
//! checking the token with the portal.

use std::process::ExitCode;

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::DuploArgs;
use crate::model::{CacheMode, Scope};

pub fn run(args: DuploArgs) -> Result<ExitCode> {
    // duplo-jit's `duplo` always asks for an admin login (isAdmin=true).
    let target = super::target_for(Scope::Admin, &args.conn, None, None)?;
    let cache = match args.cache.mode() {
        CacheMode::Bypass => None,
        _ => Cache::open()
            .map_err(|e| crate::output::warn(format_args!("{e:#}")))
            .ok(),
    };
    let mut session = crate::login::session(&target, cache.as_ref())?;
    // Every token is checked, so a bad one exits 1 as in duplo-jit; once is enough.
    if !session.checked {
        session.entry.need_otp = session.client.otp_needed()?;
    }
    crate::output::print_line(&serde_json::to_string(&session.entry)?)?;
    Ok(ExitCode::SUCCESS)
}
