//! `jit console`: the AWS console, signed in, in a browser or on stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ConsoleArgs;
use crate::creds;

pub fn run(args: ConsoleArgs) -> Result<ExitCode> {
    let (_, target) = super::select(&args.select)?;
    let creds = creds::get(&target, args.select.cache.mode())?;
    let url = crate::console::url(&creds, args.destination.as_deref(), target.host.as_str())?;
    let open = args.open || (!args.print && std::io::stdout().is_terminal());
    if open {
        open::that_detached(&url).context("cannot open a browser; use --print")?;
        crate::output::status(format_args!(
            "opened the AWS console ({}) in your browser",
            target.scope.describe()
        ));
    } else {
        crate::output::print_line(&url)?;
    }
    Ok(ExitCode::SUCCESS)
}
