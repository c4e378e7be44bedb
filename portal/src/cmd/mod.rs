//! One module per `jit-portal` subcommand, each with a `run`.

mod access;
mod admin;
pub(crate) mod audit;
mod notify;
mod serve;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::db::Db;
use crate::domain::access::Role;

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
                Command::Group(c) => access::group(&db, c).await,
                Command::Eligible(c) => access::rule(&db, Role::Eligible, c).await,
                Command::Approver(c) => access::rule(&db, Role::Approver, c).await,
                Command::Policy(c) => access::policy(&db, c).await,
                Command::Grant(c) => access::grant(&db, c).await,
                Command::Audit(a) => audit::run(&db, a).await,
                Command::Backup { file } => backup(&db, &file).await,
                Command::Notify(c) => notify::run(&db, c).await,
                Command::Serve(_) => Ok(()),
            };
            db.close().await;
            result.map(|()| ExitCode::SUCCESS)
        }
    }
}

/// `jit portal backup FILE`: what the copy holds, on stderr.
async fn backup(db: &Db, file: &std::path::Path) -> Result<()> {
    let b = db.backup_to(file).await?;
    crate::output::status(format_args!(
        "backed up {} users, {} tenants and {} audit rows ({} KiB, integrity ok) to {}",
        b.users,
        b.tenants,
        b.audit_rows,
        b.bytes.div_ceil(1024),
        file.display()
    ));
    Ok(())
}

/// The database named by --db / JIT_PORTAL_DB, else the default file.
pub async fn open(target: Option<String>, demo: bool) -> Result<Db> {
    let target = match target.filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => crate::db::default_path(demo)?.display().to_string(),
    };
    Db::open(&target).await
}
