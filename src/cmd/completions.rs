//! `jit completions <shell>`: clap_complete's registration script, which asks jit itself for
//! candidates so environment names come from the local config.

use std::process::ExitCode;

use anyhow::{Result, anyhow};

use crate::cli::CompletionsArgs;

pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let name = args.shell.name();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or_else(|| anyhow!("no completer for {name}"))?;
    let mut buf = Vec::new();
    completer.write_registration(crate::COMPLETE_VAR, "jit", "jit", "jit", &mut buf)?;
    crate::output::print_raw(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}
