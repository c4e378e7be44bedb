//! `jit init <shell>`: print the hook that defines `jitnow`, `jitoff` and the prompt indicator.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::InitArgs;

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the path of this jit binary")?;
    let script = crate::shell::hook(args.shell.0, &exe.to_string_lossy(), !args.no_prompt);
    crate::output::print_raw(&script)?;
    Ok(ExitCode::SUCCESS)
}
