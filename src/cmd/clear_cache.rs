//! `jit clear-cache`: forget every cached credential and portal token.

use std::process::ExitCode;

use anyhow::Result;

use crate::cache::Cache;

pub fn run() -> Result<ExitCode> {
    let removed = match Cache::existing()? {
        Some(cache) => cache.clear()?,
        None => 0,
    };
    crate::output::status(format_args!("removed {removed} cache entries"));
    Ok(ExitCode::SUCCESS)
}
