//! `jit login`: a new interactive login for an environment's portal (or `--host`), through the
//! browser or, with `--device`, on another device; its token replaces the cached one.

use std::process::ExitCode;

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::{CacheArgs, EnvSelect, LoginArgs, ScopeArgs};
use crate::model::Scope;

pub fn run(args: LoginArgs) -> Result<ExitCode> {
    let mut conn = args.conn;
    // A login is what is asked for: the environment's tokens in JIT_TOKEN are not used.
    conn.interactive = true;
    let target = match &args.env {
        Some(_) => {
            let sel = EnvSelect {
                env: args.env.clone(),
                scope: ScopeArgs {
                    admin: args.admin,
                    ..ScopeArgs::default()
                },
                conn,
                cache: CacheArgs::default(),
            };
            super::select(&sel)?.1
        }
        None => {
            // The tenant is not asked for: a tenant login serves every tenant the user has.
            let scope = if args.admin {
                Scope::Admin
            } else {
                Scope::Tenant(String::new())
            };
            super::target_for(scope, &conn, None, None)?
        }
    };
    let cache = Cache::open()
        .map_err(|e| crate::output::warn(format_args!("{e:#}")))
        .ok();
    crate::login::login(&target, cache.as_ref())?;
    let access = if target.scope.needs_admin_login() {
        "admin"
    } else {
        "tenant"
    };
    crate::output::status(format_args!(
        "logged in to {} ({access} access)",
        target.host
    ));
    Ok(ExitCode::SUCCESS)
}
