//! `jit k8s`: kubectl's exec credential plugin, as duplo-jit's `k8s`; a cache hit makes no
//! network call.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::K8sArgs;
use crate::k8s;
use crate::model::{ClusterScope, Scope, UsageError};

pub fn run(args: K8sArgs) -> Result<ExitCode> {
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    // The login is an admin one for a plan's cluster and a user's for a tenant's, as duplo-jit;
    // given both, it takes the plan.
    super::select::warn_precedence(&[
        (args.plan.is_some(), "--plan"),
        (args.tenant.is_some(), "--tenant"),
    ]);
    let (which, login) = match (nonempty(&args.plan), nonempty(&args.tenant)) {
        (Some(plan), _) => (ClusterScope::Plan(plan), Scope::Admin),
        (None, Some(tenant)) => (ClusterScope::Tenant(tenant.clone()), Scope::Tenant(tenant)),
        (None, None) => {
            return Err(UsageError("must specify --plan ID or --tenant NAME|ID".into()).into());
        }
    };
    let target = super::target_for(login, &args.conn, None, None)?;
    let cred = k8s::get(&target, &which, args.cache.mode())?;
    crate::output::print_line(&serde_json::to_string(&cred)?)?;
    Ok(ExitCode::SUCCESS)
}
