//! `jit aws`: the credential_process entry point; must stay fast on a cache hit.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::AwsArgs;
use crate::creds;

pub fn run(args: AwsArgs) -> Result<ExitCode> {
    let target = super::target(&args.scope, &args.conn, None, None)?;
    let creds = creds::get_min(&target, args.cache.mode(), args.min_ttl)?;
    crate::output::print_line(&creds.to_process_json()?)?;
    Ok(ExitCode::SUCCESS)
}
