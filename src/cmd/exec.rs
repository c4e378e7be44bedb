//! `jit exec`: replace this process with the child (or `$SHELL`), credentials in its environment
//! and the portal token kept out of it. With `--server` jit stays the parent instead and serves
//! credentials the child's SDKs fetch and renew themselves (`credserver`).

use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::cli::ExecArgs;
use crate::model::ExitError;
use crate::{creds, credserver, envvars, supervise};

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
    let serve = args.server || (target.server && !args.no_server);
    if serve {
        credserver::check_default_profile(&name)?;
    }
    let mode = args.select.cache.mode();
    let creds = creds::get_min(&target, mode, args.min_ttl)?;
    let exports = envvars::exports(&creds, &name, target.endpoint_url.as_deref())?;
    let shell = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    // No command: a shell with the credentials, as aws-vault does.
    let (program, rest) = match args.command.split_first() {
        Some((program, rest)) => (program.clone(), rest),
        None => (shell, &[][..]),
    };
    let mut child = Command::new(&program);
    child.args(rest);
    // The portal token is the one secret a child never needs.
    let token_vars = ["JIT_TOKEN", "DUPLO_TOKEN"]
        .into_iter()
        .chain(target.token_var.as_deref());
    for var in exports.unset.iter().copied().chain(token_vars) {
        child.env_remove(var);
    }
    if exports.clear_own_endpoint && envvars::endpoint_is_ours() {
        child.env_remove(envvars::ENDPOINT);
    }
    let vars = exports.set;
    let shown = program.to_string_lossy();
    if serve {
        let server = credserver::Server::start(target, mode, creds)?;
        for var in credserver::WITHHELD {
            child.env_remove(var);
        }
        child.envs(
            vars.into_iter()
                .filter(|(k, _)| !credserver::WITHHELD.contains(k)),
        );
        child.envs(server.env());
        let code = supervise::run(&mut child).map_err(|e| cannot_run(&shown, &e))?;
        return Ok(ExitCode::from(code));
    }
    child.envs(vars);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(cannot_run(&shown, &child.exec()).into())
    }
    #[cfg(not(unix))]
    {
        let status = child.status().map_err(|e| cannot_run(&shown, &e))?;
        Ok(ExitCode::from(
            status.code().unwrap_or(1).clamp(0, 255) as u8
        ))
    }
}

/// 127 when the command is not found and 126 when it cannot be run, as shells say.
fn cannot_run(shown: &str, err: &std::io::Error) -> ExitError {
    let (code, why) = match err.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found".to_string()),
        _ => (126, err.to_string()),
    };
    ExitError {
        code,
        message: format!("cannot run '{shown}': {why}"),
    }
}
