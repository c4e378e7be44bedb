//! One module per subcommand, each with a `run`; shared flag-to-target plumbing lives here.

mod aws;
mod clear_cache;
mod completions;
mod config;
mod console;
mod duplo;
mod env;
mod exec;
mod init;
mod ls;
mod portal;

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Command, EnvSelect, PortalArgs, ScopeArgs};
use crate::creds::{Auth, Scope, Target};
use crate::host::Host;
use crate::portal::Token;

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Aws(args) => aws::run(args),
        Command::Duplo(args) => duplo::run(args),
        Command::Exec(args) => exec::run(args),
        Command::Env(args) => env::run(args),
        Command::Console(args) => console::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Config(args) => config::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Portal(args) => portal::run(args),
        Command::ClearCache(_) => clear_cache::run(),
        Command::Version => {
            crate::output::print_line(&format!("jit version {}", env!("CARGO_PKG_VERSION")))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A usage mistake that clap cannot see (it depends on config files); exits 2 like clap's.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn scope(args: &ScopeArgs) -> Result<Scope> {
    match (args.admin, args.duplo_ops, &args.tenant) {
        (true, _, _) => Ok(Scope::Admin),
        (_, true, _) => Ok(Scope::DuploOps),
        (_, _, Some(t)) if !t.trim().is_empty() => Ok(Scope::Tenant(t.trim().to_string())),
        (_, _, Some(_)) => Err(UsageError("--tenant needs a name or id".into()).into()),
        _ => Err(UsageError("must specify --admin, --duplo-ops or --tenant NAME|ID".into()).into()),
    }
}

fn read_token_file(path: &std::path::Path) -> Result<Token> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    Token::new(&text).with_context(|| format!("token file {}", path.display()))
}

fn env_token(var: &str) -> Option<Result<Token>> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty())?;
    Some(Token::new(&value).with_context(|| format!("${var}")))
}

/// Token precedence: --token, --token-file, the environment's token_env, then --interactive,
/// then $JIT_TOKEN / $DUPLO_TOKEN.
pub fn auth(portal: &PortalArgs, token_env: Option<&str>) -> Result<Auth> {
    if let Some(t) = &portal.token {
        return Ok(Auth::Token(Token::new(t).context("--token")?));
    }
    if let Some(path) = &portal.token_file {
        return Ok(Auth::Token(read_token_file(path)?));
    }
    if let Some(var) = token_env {
        return match env_token(var) {
            Some(t) => Ok(Auth::Token(t?)),
            None => Err(anyhow::anyhow!(
                "environment variable {var} (token_env) is not set"
            )),
        };
    }
    if portal.interactive {
        return Ok(Auth::Interactive {
            port: portal.port,
            browser: !portal.no_browser,
        });
    }
    for var in ["JIT_TOKEN", "DUPLO_TOKEN"] {
        if let Some(t) = env_token(var) {
            return Ok(Auth::Token(t?));
        }
    }
    Err(UsageError(
        "no portal token: pass --token-file PATH, set JIT_TOKEN, or use --interactive".into(),
    )
    .into())
}

pub fn target(
    scope_args: &ScopeArgs,
    portal: &PortalArgs,
    token_env: Option<&str>,
    region: Option<String>,
) -> Result<Target> {
    target_for(scope(scope_args)?, portal, token_env, region)
}

pub fn target_for(
    scope: Scope,
    portal: &PortalArgs,
    token_env: Option<&str>,
    region: Option<String>,
) -> Result<Target> {
    let raw_host = portal
        .host
        .as_deref()
        .ok_or_else(|| UsageError("--host must be present".into()))?;
    let host = Host::parse(raw_host)?;
    let api_host = match &portal.api_host {
        Some(h) => Host::parse(h).context("--api-host")?,
        None => host.clone(),
    };
    Ok(Target {
        host,
        api_host,
        scope,
        auth: auth(portal, token_env)?,
        region,
        endpoint_url: None,
    })
}

/// Resolve `<env>` or ad-hoc flags into a target; flags given on the command line override the
/// environment's. Returns the name to show in JIT_ENV.
pub fn select(sel: &EnvSelect) -> Result<(String, Target)> {
    let Some(name) = &sel.env else {
        let t = target(&sel.scope, &sel.portal, None, None)?;
        let name = match &t.scope {
            Scope::Tenant(n) => n.clone(),
            other => other.describe(),
        };
        return Ok((name, t));
    };
    let resolved = crate::config::resolve(name)?;
    let mut scope = resolved.scope;
    if sel.scope.admin || sel.scope.duplo_ops || sel.scope.tenant.is_some() {
        scope = sel.scope.clone();
    }
    let mut portal = resolved.portal;
    let cli = &sel.portal;
    portal.host = cli.host.clone().or(portal.host);
    portal.api_host = cli.api_host.clone().or(portal.api_host);
    portal.token = cli.token.clone().or(portal.token);
    portal.token_file = cli.token_file.clone().or(portal.token_file);
    portal.interactive |= cli.interactive;
    portal.port = cli.port.or(portal.port);
    portal.no_browser |= cli.no_browser;
    let token_env = if cli.token.is_some() || cli.token_file.is_some() {
        None
    } else {
        resolved.token_env
    };
    let mut target = target(&scope, &portal, token_env.as_deref(), resolved.region)?;
    target.endpoint_url = resolved.endpoint_url;
    Ok((name.clone(), target))
}
