//! `jit env`: print the variables of a session for a shell to evaluate (the hooks use this).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{EnvArgs, EnvFormat};
use crate::{creds, envvars};

pub fn run(args: EnvArgs) -> Result<ExitCode> {
    let (name, target) = super::select(&args.select)?;
    let creds = creds::get_min(&target, args.select.cache.mode(), args.min_ttl)?;
    let exports = envvars::exports(&creds, &name, target.endpoint_url.as_deref())?;
    let text = match args.format {
        EnvFormat::Json => envvars::render_json(&exports),
        EnvFormat::Shell(shell) => envvars::render(shell, &exports),
    };
    crate::output::print_raw(&text)?;
    Ok(ExitCode::SUCCESS)
}
