//! `jit kubeconfig ENV`: a kubectl context whose user runs `jit k8s` the way the environment logs
//! in, merged into the kubeconfig (or printed).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{CacheArgs, ConnArgs, EnvSelect, KubeconfigArgs, ScopeArgs};
use crate::config::{EnvConfig, Found};
use crate::k8s;
use crate::kubeconfig::{self, KubeContext};
use crate::model::{CacheMode, ClusterScope, Scope, UsageError};

/// The `jit k8s` argv that logs in as `env` does (never a token itself: a file or a login).
fn plugin_args(env: &EnvConfig, which: &ClusterScope) -> Vec<String> {
    let mut args = vec!["k8s".to_string()];
    match which {
        ClusterScope::Plan(p) => args.extend(["--plan".into(), p.clone()]),
        ClusterScope::Tenant(t) => args.extend(["--tenant".into(), t.clone()]),
    }
    args.extend(["--host".into(), env.host.clone()]);
    if let Some(api) = &env.api_host {
        args.extend(["--api-host".into(), api.clone()]);
    }
    if let Some(file) = &env.token_file {
        args.extend(["--token-file".into(), file.display().to_string()]);
    } else if env.interactive() {
        args.push("--interactive".into());
    } else if let Some(var) = &env.token_env {
        crate::output::warn(format_args!(
            "kubectl runs `jit k8s` with its own environment: it reads JIT_TOKEN or DUPLO_TOKEN, not {var}"
        ));
    }
    args
}

pub fn run(args: KubeconfigArgs) -> Result<ExitCode> {
    let Found::Env(env) = crate::config::resolve(&args.env)? else {
        return Err(UsageError(format!(
            "'{}' is an ~/.aws/config profile; `jit kubeconfig` needs an environment of jit's own (`jit config add`)",
            args.env
        ))
        .into());
    };
    let which = match (&args.plan, env.scope()) {
        (Some(plan), _) => ClusterScope::Plan(plan.clone()),
        (None, Some(Scope::Tenant(tenant))) => ClusterScope::Tenant(tenant),
        _ => {
            return Err(UsageError(format!(
                "environment '{}' is an admin one: name the cluster's plan with --plan ID",
                args.env
            ))
            .into());
        }
    };
    let select = EnvSelect {
        env: Some(args.env.clone()),
        scope: ScopeArgs::default(),
        conn: ConnArgs::default(),
        cache: CacheArgs::default(),
    };
    let (_, mut target) = super::select(&select)?;
    if let ClusterScope::Plan(_) = which {
        target.scope = Scope::Admin;
    }
    let ctx = KubeContext {
        name: args.context.clone().unwrap_or_else(|| args.env.clone()),
        credential: k8s::get(&target, &which, CacheMode::Use)?,
        command: if args.bare_command {
            "jit".to_string()
        } else {
            kubeconfig::own_command()?
        },
        args: plugin_args(&env, &which),
    };
    if args.print {
        crate::output::print_raw(&kubeconfig::merge("", &ctx)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = match args.kubeconfig {
        Some(p) => p,
        None => kubeconfig::default_path()?,
    };
    let changed = kubeconfig::write(&path, &ctx)?;
    crate::output::status(format_args!(
        "{} context '{}' in {}",
        if changed { "wrote" } else { "unchanged:" },
        ctx.name,
        path.display()
    ));
    Ok(ExitCode::SUCCESS)
}
