//! The one place that turns what the user typed (flags, a named environment, or an
//! `~/.aws/config` profile's credential_process words) into a `Target` to fetch for.

use anyhow::{Context, Result, anyhow};

use super::UsageError;
use crate::cli::{ConnArgs, EnvSelect, ScopeArgs};
use crate::config::{EnvConfig, Found};
use crate::host::Host;
use crate::model::{Auth, BrowserLogin, Scope, Target, Token};

/// Where flags that exclude each other are all given, duplo-jit takes the first of them in its
/// order of precedence; so does jit, and says so once on stderr. `flags` is in that order.
pub fn warn_precedence(flags: &[(bool, &str)]) {
    let given: Vec<&str> = flags
        .iter()
        .filter_map(|&(on, name)| on.then_some(name))
        .collect();
    if given.len() > 1 {
        crate::output::warn(format_args!(
            "{} given; using {} (as duplo-jit does)",
            given.join(" and "),
            given[0]
        ));
    }
}

/// duplo-jit's precedence when several are given: `--admin` > `--duplo-ops` > `--tenant`.
fn scope(args: &ScopeArgs) -> Result<Scope> {
    warn_precedence(&[
        (args.admin, "--admin"),
        (args.duplo_ops, "--duplo-ops"),
        (args.tenant.is_some(), "--tenant"),
    ]);
    match (args.admin, args.duplo_ops, &args.tenant) {
        (true, _, _) => Ok(Scope::Admin),
        (_, true, _) => Ok(Scope::DuploOps),
        (_, _, Some(t)) if !t.trim().is_empty() => Ok(Scope::Tenant(t.trim().to_string())),
        (_, _, Some(_)) => Err(UsageError("--tenant needs a name or id".into()).into()),
        _ => Err(UsageError("must specify --admin, --duplo-ops or --tenant NAME|ID".into()).into()),
    }
}

fn read_token_file(path: &std::path::Path) -> Result<Token> {
    let text = crate::limit::read_to_string(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    Token::new(&text).with_context(|| format!("token file {}", path.display()))
}

fn env_token(var: &str) -> Option<Result<Token>> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty())?;
    Some(Token::new(&value).with_context(|| format!("${var}")))
}

/// Token precedence: --token, --token-file, the environment's token_env, then --interactive,
/// then $JIT_TOKEN / $DUPLO_TOKEN.
fn auth(conn: &ConnArgs, token_env: Option<&str>) -> Result<Auth> {
    if let Some(t) = &conn.token {
        return Ok(Auth::Token(Token::new(t).context("--token")?));
    }
    if let Some(path) = &conn.token_file {
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
    if conn.interactive || conn.device {
        return Ok(Auth::Interactive {
            port: conn.port,
            browser: !conn.no_browser,
            device: conn.device,
        });
    }
    for var in ["JIT_TOKEN", "DUPLO_TOKEN"] {
        if let Some(t) = env_token(var) {
            return Ok(Auth::Token(t?));
        }
    }
    Ok(Auth::Missing(
        "no portal token: pass --token-file PATH, set JIT_TOKEN, or use --interactive".into(),
    ))
}

pub fn target(
    scope_args: &ScopeArgs,
    conn: &ConnArgs,
    token_env: Option<&str>,
    region: Option<String>,
) -> Result<Target> {
    target_for(scope(scope_args)?, conn, token_env, region)
}

pub fn target_for(
    scope: Scope,
    conn: &ConnArgs,
    token_env: Option<&str>,
    region: Option<String>,
) -> Result<Target> {
    let raw_host = conn
        .host
        .as_deref()
        .ok_or_else(|| UsageError("--host must be present".into()))?;
    let host = Host::parse(raw_host)?;
    let api_host = match &conn.api_host {
        Some(h) => Host::parse(h).context("--api-host")?,
        None => host.clone(),
    };
    Ok(Target {
        host,
        api_host,
        scope,
        auth: auth(conn, token_env)?,
        otp_login: conn.interactive.then_some(BrowserLogin {
            port: conn.port,
            browser: !conn.no_browser,
        }),
        region,
        endpoint_url: None,
        token_var: token_env.map(str::to_string),
        server: false,
    })
}

/// Resolve `<env>` or ad-hoc flags into a target; flags given on the command line override the
/// environment's. Returns the name to show in JIT_ENV.
pub fn select(sel: &EnvSelect) -> Result<(String, Target)> {
    let Some(name) = &sel.env else {
        let t = target(&sel.scope, &sel.conn, None, None)?;
        let name = match &t.scope {
            Scope::Tenant(n) => n.clone(),
            other => other.describe(),
        };
        return Ok((name, t));
    };
    let env = from_config(name, crate::config::resolve(name)?)?;
    let scope = if sel.scope.admin || sel.scope.duplo_ops || sel.scope.tenant.is_some() {
        sel.scope.clone()
    } else {
        env.scope
    };
    let mut conn = env.conn;
    let cli = &sel.conn;
    conn.host = cli.host.clone().or(conn.host);
    conn.api_host = cli.api_host.clone().or(conn.api_host);
    conn.token = cli.token.clone().or(conn.token);
    conn.token_file = cli.token_file.clone().or(conn.token_file);
    conn.interactive |= cli.interactive;
    conn.port = cli.port.or(conn.port);
    conn.no_browser |= cli.no_browser;
    conn.device |= cli.device;
    let token_env = if cli.token.is_some() || cli.token_file.is_some() {
        None
    } else {
        env.token_env
    };
    let mut target = target(&scope, &conn, token_env.as_deref(), env.region)?;
    target.endpoint_url = env.endpoint_url;
    target.server = env.server;
    Ok((name.clone(), target))
}

/// A named environment as the flags a user would type for `jit aws`, plus what only an
/// environment can say.
struct EnvFlags {
    scope: ScopeArgs,
    conn: ConnArgs,
    region: Option<String>,
    token_env: Option<String>,
    endpoint_url: Option<String>,
    server: bool,
}

fn from_config(name: &str, found: Found) -> Result<EnvFlags> {
    match found {
        Found::Env(env) => Ok(env_flags(&env)),
        Found::Profile(profile) => {
            let argv = crate::argv::normalize(profile.words.iter().map(Into::into), || {
                <crate::cli::Cli as clap::CommandFactory>::command()
            });
            let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv).map_err(|e| {
                anyhow!(
                    "profile '{name}' in {}: {}",
                    profile.path.display(),
                    e.kind()
                )
            })?;
            let crate::cli::Command::Aws(aws) = cli.command else {
                return Err(anyhow!(
                    "profile '{name}' in {} does not run `jit aws`",
                    profile.path.display()
                ));
            };
            Ok(EnvFlags {
                scope: aws.scope,
                conn: aws.conn,
                region: profile.region,
                token_env: None,
                endpoint_url: profile.endpoint_url,
                server: false,
            })
        }
    }
}

fn env_flags(env: &EnvConfig) -> EnvFlags {
    EnvFlags {
        scope: ScopeArgs {
            admin: env.admin,
            duplo_ops: env.duplo_ops,
            tenant: env.tenant.clone(),
        },
        conn: ConnArgs {
            host: Some(env.host.clone()),
            api_host: env.api_host.clone(),
            token: None,
            token_file: env.token_file.clone(),
            interactive: env.interactive(),
            port: None,
            no_browser: false,
            device: false,
        },
        region: env.region.clone(),
        token_env: env.token_env.clone(),
        endpoint_url: env.endpoint_url.clone(),
        server: env.server,
    }
}
