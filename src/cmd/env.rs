//! `jit env`: print the variables of a session for a shell to evaluate (the hooks use this).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::EnvArgs;
use crate::{creds, envvars};

pub fn run(args: EnvArgs) -> Result<ExitCode> {
    let (name, target) = super::select(&args.select)?;
    let creds = creds::get_min(&target, args.select.cache.mode(), args.min_ttl)?;
    crate::output::print_raw(&envvars::render(
        args.format,
        &envvars::set(&creds, &name, target.endpoint_url.as_deref()),
    ))?;
    Ok(ExitCode::SUCCESS)
}
