//! `jit console`: the AWS console, signed in, in a browser, on the clipboard or on stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ConsoleArgs;
use crate::{creds, handoff, output};

pub fn run(args: ConsoleArgs) -> Result<ExitCode> {
    let (_, target) = super::select(&args.select)?;
    let creds = creds::get(&target, args.select.cache.mode())?;
    let url = crate::console::url(&creds, args.destination.as_deref(), target.host.as_str())?;
    let scope = target.scope.describe();
    if args.copy {
        let how = handoff::copy_to_clipboard(&url)?;
        output::status(format_args!(
            "copied the AWS console sign-in URL ({scope}) to the clipboard {how}; it signs in whoever has it until it expires"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if args.open || (!args.print && std::io::stdout().is_terminal()) {
        match handoff::open_in_browser(&url) {
            Ok(()) => {
                output::status(format_args!(
                    "opened the AWS console ({scope}) in your browser"
                ));
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => output::status(format_args!(
                "no browser could be opened ({e:#}); printed the URL instead"
            )),
        }
    }
    output::print_line(&url)?;
    Ok(ExitCode::SUCCESS)
}
