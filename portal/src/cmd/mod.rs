//! One module per `jit-portal` subcommand, each with a `run`.

mod admin;
mod audit;
mod serve;

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::{Cli, Command};
use crate::db::Db;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(*args, cli.db).await,
        command => {
            let db = open(cli.db, false).await?;
            let result = match command {
                Command::User(c) => admin::user(&db, c).await,
                Command::Tenant(c) => admin::tenant(&db, c).await,
                Command::Token(c) => admin::token(&db, c).await,
                Command::Set(a) => admin::set(&db, a).await,
                Command::Audit(a) => audit::run(&db, a).await,
                Command::Serve(_) => Ok(()),
            };
            db.close().await;
            result.map(|()| ExitCode::SUCCESS)
        }
    }
}

/// The database named by --db / JIT_PORTAL_DB, else the default file.
pub async fn open(target: Option<String>, demo: bool) -> Result<Db> {
    let target = match target.filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => crate::db::default_path(demo)?.display().to_string(),
    };
    Db::open(&target).await
}

/// Names end up in STS session names, logs and the audit trail: keep them plain.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !ok {
        bail!(
            "invalid {kind} name '{}': use 1-64 of A-Z a-z 0-9 _ + = , . @ -",
            crate::log::escape(name)
        );
    }
    Ok(())
}

/// Who makes an admin change from the command line, for the audit trail.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
