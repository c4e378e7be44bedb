//! `jit exec`: replace this process with the child, credentials in its environment.

use std::process::{Command, ExitCode};

use anyhow::{Result, anyhow};

use crate::cli::ExecArgs;
use crate::{creds, envvars};

pub fn run(args: ExecArgs) -> Result<ExitCode> {
    if !args.force
        && let Some(current) = std::env::var("JIT_ENV").ok().filter(|v| !v.is_empty())
    {
        return Err(super::UsageError(format!(
            "already inside jit environment '{current}' (JIT_ENV is set); run `jitoff` first or pass --force"
        ))
        .into());
    }
    let (name, target) = super::select(&args.select)?;
    let creds = creds::get(&target, args.select.cache.mode())?;
    let exports = envvars::exports(&creds, &name, target.endpoint_url.as_deref())?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given"))?;
    let mut child = Command::new(program);
    child.args(rest);
    for var in &exports.unset {
        child.env_remove(var);
    }
    if exports.clear_own_endpoint && envvars::endpoint_is_ours() {
        child.env_remove(envvars::ENDPOINT);
    }
    child.envs(exports.set);
    let shown = program.to_string_lossy();
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = child.exec();
        Err(anyhow!("cannot run '{shown}': {err}"))
    }
    #[cfg(not(unix))]
    {
        let status = child
            .status()
            .map_err(|e| anyhow!("cannot run '{shown}': {e}"))?;
        Ok(ExitCode::from(
            status.code().unwrap_or(1).clamp(0, 255) as u8
        ))
    }
}
