//! `jit clear-cache [ENV]`: forget every cached credential and portal token, or one
//! environment's credentials.

use std::process::ExitCode;

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::{CacheArgs, ClearCacheArgs, ConnArgs, EnvSelect, ScopeArgs};

pub fn run(args: ClearCacheArgs) -> Result<ExitCode> {
    if let Some(env) = args.env {
        let select = EnvSelect {
            env: Some(env.clone()),
            scope: ScopeArgs::default(),
            conn: ConnArgs::default(),
            cache: CacheArgs::default(),
        };
        let (_, target) = super::select(&select)?;
        let removed = crate::creds::forget(&target)?;
        crate::output::status(format_args!(
            "removed {removed} cache entries of environment '{env}'"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let removed = match Cache::existing()? {
        Some(cache) => cache.clear()?,
        None => 0,
    };
    crate::output::status(format_args!("removed {removed} cache entries"));
    Ok(ExitCode::SUCCESS)
}
