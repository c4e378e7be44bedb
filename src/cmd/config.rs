//! `jit config`: add, list and remove named environments without hand-editing TOML.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::{ConfigArgs, ConfigCommand};
use crate::config::{self, AuthMode, EnvConfig};

pub fn run(args: ConfigArgs) -> Result<ExitCode> {
    match args.command {
        ConfigCommand::Add(add) => {
            let env = EnvConfig {
                host: add.host,
                api_host: add.api_host,
                admin: add.scope.admin,
                duplo_ops: add.scope.duplo_ops,
                tenant: add.scope.tenant,
                auth: Some(if add.token_file.is_some() || add.token_env.is_some() {
                    AuthMode::Token
                } else {
                    AuthMode::Interactive
                }),
                token_file: add.token_file,
                token_env: add.token_env,
                region: add.region,
                endpoint_url: add.endpoint_url,
                synced_from: None,
                server: add.server,
                console: add.console.map(|c| c.0),
                container_color: add.container_color,
                container_icon: add.container_icon,
                browser: add.browser,
            };
            config::check_name(&add.name)
                .map_err(|e| crate::model::UsageError(format!("{e:#}")))?;
            env.validate(&add.name)?;
            let mut cfg = config::load()?;
            cfg.envs.insert(add.name.clone(), env);
            let path = config::save(&cfg)?;
            crate::output::status(format_args!(
                "saved environment '{}' to {}",
                add.name,
                path.display()
            ));
        }
        ConfigCommand::List { json: true } => {
            crate::output::print_line(&serde_json::to_string(&config::load()?.envs)?)?;
        }
        ConfigCommand::List { json: false } => {
            let cfg = config::load()?;
            let mut out = String::new();
            for (name, env) in &cfg.envs {
                let scope = env.scope().map(|s| s.describe()).unwrap_or_default();
                out.push_str(&format!("{name}\t{scope}\t{}\n", env.host));
            }
            crate::output::print_raw(&out)?;
        }
        ConfigCommand::Remove { name } => {
            let mut cfg = config::load()?;
            if cfg.envs.remove(&name).is_none() {
                bail!(
                    "no environment named '{name}' in {}",
                    config::path()?.display()
                );
            }
            config::save(&cfg)?;
            crate::output::status(format_args!("removed environment '{name}'"));
        }
        ConfigCommand::Path => crate::output::print_line(&config::path()?.display().to_string())?,
        ConfigCommand::Sync(sync) => return super::sync::run(sync),
    }
    Ok(ExitCode::SUCCESS)
}
