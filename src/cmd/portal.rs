//! `jit portal ARGS...`: the self-hosted portal lives in its own crate and binary, `jit-portal`,
//! so the CLI links none of the server stack. This hands the arguments over to it.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Result, anyhow};

use crate::cli::PortalArgs;

const PROGRAM: &str = "jit-portal";

/// `jit-portal` beside this executable (a release archive, `cargo build`), else on PATH.
fn find() -> Option<PathBuf> {
    let name = format!("{PROGRAM}{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.is_file())
        .or_else(|| which::which(PROGRAM).ok())
}

pub fn run(args: PortalArgs) -> Result<ExitCode> {
    let program = find().ok_or_else(|| {
        anyhow!(
            "`jit portal` needs the {PROGRAM} binary beside jit or on PATH (cargo install --path portal)"
        )
    })?;
    exec(Command::new(&program).args(&args.args), &program)
}

#[cfg(unix)]
fn exec(cmd: &mut Command, program: &std::path::Path) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    // Same process id: a supervisor's signals reach the portal itself.
    let err = cmd.exec();
    Err(anyhow!("cannot run {}: {err}", program.display()))
}

#[cfg(not(unix))]
fn exec(cmd: &mut Command, program: &std::path::Path) -> Result<ExitCode> {
    let status = cmd
        .status()
        .map_err(|e| anyhow!("cannot run {}: {e}", program.display()))?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}
