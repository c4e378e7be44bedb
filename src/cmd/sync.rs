//! `jit config sync`: one environment per tenant the portal lets the user use, written so that
//! running it again touches only what it wrote. Optionally the matching `~/.aws/config` profiles
//! and kubectl contexts, under the same rule.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ConfigSyncArgs;
use crate::config::{self, AuthMode, EnvConfig};
use crate::model::{Scope, UsageError};

/// What a sync does to one name.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Add,
    Update,
    Same,
    Remove,
    /// A same-named entry the user wrote: kept, and the tenant not written.
    Kept,
}

impl Change {
    fn mark(&self) -> &'static str {
        match self {
            Change::Add => "+",
            Change::Update => "~",
            Change::Same => "=",
            Change::Remove => "-",
            Change::Kept => "!",
        }
    }
}

/// What a sync writes for an environment it wrote before: `synced` (the portal, the scope, the
/// token source), with every other key as the user set it since (region, endpoint_url,
/// server, the console's keys). Field by field, so that a new key needs a decision here.
fn keep_users_keys(old: &EnvConfig, synced: &EnvConfig) -> EnvConfig {
    let EnvConfig {
        host: _,
        api_host: _,
        admin: _,
        duplo_ops: _,
        tenant: _,
        auth: _,
        token_file: _,
        token_env: _,
        synced_from: _,
        region,
        endpoint_url,
        server,
        console,
        container_color,
        container_icon,
        browser,
    } = old.clone();
    EnvConfig {
        region,
        endpoint_url,
        server,
        console,
        container_color,
        container_icon,
        browser,
        ..synced.clone()
    }
}

/// The plan: for each name, what happens, and the environments the config should then hold.
fn plan(
    current: &BTreeMap<String, EnvConfig>,
    wanted: &BTreeMap<String, EnvConfig>,
    host: &str,
) -> (Vec<(String, Change)>, BTreeMap<String, EnvConfig>) {
    let ours = |e: &EnvConfig| e.synced_from.as_deref() == Some(host);
    let mut result = current.clone();
    let mut changes = Vec::new();
    for (name, env) in wanted {
        let (change, env) = match current.get(name) {
            None => (Change::Add, env.clone()),
            Some(old) if !ours(old) => (Change::Kept, old.clone()),
            Some(old) => {
                let new = keep_users_keys(old, env);
                (
                    if *old == new {
                        Change::Same
                    } else {
                        Change::Update
                    },
                    new,
                )
            }
        };
        if matches!(change, Change::Add | Change::Update) {
            result.insert(name.clone(), env);
        }
        changes.push((name.clone(), change));
    }
    for (name, old) in current {
        if ours(old) && !wanted.contains_key(name) {
            result.remove(name);
            changes.push((name.clone(), Change::Remove));
        }
    }
    changes.sort();
    (changes, result)
}

/// The `jit aws` argv (after `jit`) that fetches as `env` does.
fn aws_args(env: &EnvConfig) -> Vec<String> {
    let mut args = vec!["aws".to_string()];
    match env.scope() {
        Some(Scope::Admin) => args.push("--admin".into()),
        Some(Scope::DuploOps) | None => args.push("--duplo-ops".into()),
        Some(Scope::Tenant(t)) => args.extend(["--tenant".into(), t]),
    }
    args.extend(["--host".into(), env.host.clone()]);
    if let Some(api) = &env.api_host {
        args.extend(["--api-host".into(), api.clone()]);
    }
    match &env.token_file {
        Some(file) => args.extend(["--token-file".into(), file.display().to_string()]),
        None if env.interactive() => args.push("--interactive".into()),
        None => {}
    }
    args
}

const MARKER: &str = "# written by jit config sync from ";

/// `~/.aws/config` with a `[profile NAME]` per wanted environment: sections this sync wrote
/// (they carry the marker line) are replaced or removed, the user's own are never touched.
fn sync_aws_config(
    text: &str,
    wanted: &BTreeMap<String, EnvConfig>,
    host: &str,
) -> (String, Vec<(String, Change)>) {
    let marker = format!("{MARKER}{host}");
    // Sections as (header name or None for the preamble, lines).
    let mut sections: Vec<(Option<String>, Vec<String>)> = vec![(None, Vec::new())];
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(inner) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = inner
                .trim()
                .strip_prefix("profile")
                .map(str::trim)
                .unwrap_or(inner.trim())
                .to_string();
            sections.push((Some(name), vec![line.to_string()]));
        } else if let Some(last) = sections.last_mut() {
            last.1.push(line.to_string());
        }
    }
    let ours = |lines: &[String]| lines.iter().any(|l| l.trim() == marker);
    let block = |name: &str, env: &EnvConfig| -> Vec<String> {
        let argv = std::iter::once("jit".to_string())
            .chain(aws_args(env))
            .map(|a| shell_words::quote(&a).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut lines = vec![format!("[profile {name}]"), marker.clone()];
        lines.push(format!("credential_process = {argv}"));
        if let Some(region) = &env.region {
            lines.push(format!("region = {region}"));
        }
        lines
    };
    let mut changes = Vec::new();
    let mut out: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for (name, lines) in sections {
        let Some(n) = name.clone() else {
            out.push((name, lines));
            continue;
        };
        if !ours(&lines) {
            if wanted.contains_key(&n) {
                changes.push((n, Change::Kept));
            }
            out.push((name, lines));
            continue;
        }
        match wanted.get(&n) {
            Some(env) => {
                let new = block(&n, env);
                let body: Vec<String> = lines
                    .iter()
                    .filter(|l| !l.trim().is_empty())
                    .cloned()
                    .collect();
                changes.push((
                    n.clone(),
                    if body == new {
                        Change::Same
                    } else {
                        Change::Update
                    },
                ));
                out.push((name, new));
            }
            None => changes.push((n, Change::Remove)),
        }
    }
    for (name, env) in wanted {
        if !changes.iter().any(|(n, _)| n == name) {
            changes.push((name.clone(), Change::Add));
            out.push((Some(name.clone()), block(name, env)));
        }
    }
    let mut text = String::new();
    for (name, lines) in &out {
        let body: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
        if name.is_none() && body.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        for l in body {
            text.push_str(l);
            text.push('\n');
        }
    }
    changes.sort();
    (text, changes)
}

pub fn run(args: ConfigSyncArgs) -> Result<ExitCode> {
    let scope = if args.admin {
        Scope::Admin
    } else {
        Scope::Tenant(String::new())
    };
    let target = super::target_for(scope, &args.conn, None, None)?;
    let host = target.host.to_string();
    let cache = crate::cache::Cache::open().ok();
    let client = crate::login::client(&target, cache.as_ref())?;
    let tenants = client.tenants().context("cannot list your tenants")?;
    if args.conn.token.is_some() {
        crate::output::warn(
            "a --token is never written to the config: the environments read JIT_TOKEN (or use --token-file)",
        );
    }
    let base = EnvConfig {
        host: host.clone(),
        api_host: args.conn.api_host.clone(),
        auth: Some(if args.conn.interactive {
            AuthMode::Interactive
        } else {
            AuthMode::Token
        }),
        token_file: args.conn.token_file.clone(),
        synced_from: Some(host.clone()),
        ..Default::default()
    };
    let mut wanted = BTreeMap::new();
    for tenant in &tenants {
        let name = &tenant.account_name;
        if let Err(e) = config::check_name(name) {
            crate::output::warn(format_args!("skipping tenant: {e:#}"));
            continue;
        }
        wanted.insert(
            name.clone(),
            EnvConfig {
                tenant: Some(name.clone()),
                ..base.clone()
            },
        );
    }
    if args.admin {
        if wanted.contains_key("admin") {
            crate::output::warn("a tenant is named 'admin': no admin environment written");
        } else {
            wanted.insert(
                "admin".into(),
                EnvConfig {
                    admin: true,
                    ..base.clone()
                },
            );
        }
    }
    let mut cfg = config::load()?;
    let (changes, envs) = plan(&cfg.envs, &wanted, &host);
    let mut report = String::new();
    for (name, change) in &changes {
        report.push_str(&format!("{} env {name}\n", change.mark()));
    }
    let aws = if args.aws_config {
        let path = config::aws_config_path()
            .ok_or_else(|| UsageError("cannot find ~/.aws/config (set AWS_CONFIG_FILE)".into()))?;
        let old = match crate::limit::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let synced: BTreeMap<String, EnvConfig> = envs
            .iter()
            .filter(|(n, e)| wanted.contains_key(*n) && e.synced_from.as_deref() == Some(&host))
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        let (text, aws_changes) = sync_aws_config(&old, &synced, &host);
        for (name, change) in &aws_changes {
            report.push_str(&format!("{} profile {name}\n", change.mark()));
        }
        Some((path, old, text))
    } else {
        None
    };
    if args.dry_run {
        crate::output::print_raw(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    cfg.envs = envs;
    let path = config::save(&cfg)?;
    if let Some((aws_path, old, text)) = aws
        && old != text
    {
        if let Some(dir) = aws_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::atomic::write(&aws_path, text.as_bytes())?;
    }
    if args.kubeconfig {
        for name in wanted.keys().filter(|n| *n != "admin") {
            if cfg.envs.get(name).and_then(|e| e.synced_from.as_deref()) != Some(host.as_str()) {
                continue;
            }
            super::kubeconfig::run(crate::cli::KubeconfigArgs {
                env: name.clone(),
                context: None,
                plan: None,
                print: false,
                kubeconfig: None,
                bare_command: false,
            })?;
        }
    }
    let count = |c: Change| changes.iter().filter(|(_, x)| *x == c).count();
    crate::output::status(format_args!(
        "synced {} environments from {host} into {}: {} added, {} updated, {} removed, {} of yours kept",
        wanted.len(),
        path.display(),
        count(Change::Add),
        count(Change::Update),
        count(Change::Remove),
        count(Change::Kept),
    ));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(tenant: &str, from: Option<&str>) -> EnvConfig {
        EnvConfig {
            host: "https://p".into(),
            tenant: Some(tenant.into()),
            auth: Some(AuthMode::Interactive),
            synced_from: from.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn a_sync_changes_only_what_it_wrote() {
        let mut current = BTreeMap::new();
        current.insert("mine".to_string(), env("dev", None));
        current.insert("dev".to_string(), env("dev", None));
        current.insert("gone".to_string(), env("gone", Some("https://p")));
        current.insert("same".to_string(), env("same", Some("https://p")));
        let wanted: BTreeMap<String, EnvConfig> = ["dev", "same", "new"]
            .into_iter()
            .map(|t| (t.to_string(), env(t, Some("https://p"))))
            .collect();
        let (changes, result) = plan(&current, &wanted, "https://p");
        let marks: Vec<String> = changes
            .iter()
            .map(|(n, c)| format!("{} {n}", c.mark()))
            .collect();
        assert_eq!(marks, ["! dev", "- gone", "+ new", "= same"]);
        assert_eq!(
            result["dev"].synced_from, None,
            "the user's own dev is kept"
        );
        assert!(result.contains_key("mine") && !result.contains_key("gone"));
        let (again, _) = plan(&result, &wanted, "https://p");
        assert!(
            again
                .iter()
                .all(|(_, c)| matches!(c, Change::Same | Change::Kept))
        );
    }

    #[test]
    fn aws_config_sections_of_the_user_are_never_touched() {
        let wanted: BTreeMap<String, EnvConfig> = ["dev", "prod"]
            .into_iter()
            .map(|t| (t.to_string(), env(t, Some("https://p"))))
            .collect();
        let text = "[default]\nregion = us-east-1\n\n[profile prod]\nregion = eu-west-1\ncredential_process = mine\n";
        let (once, changes) = sync_aws_config(text, &wanted, "https://p");
        assert!(
            once.contains("[profile prod]\nregion = eu-west-1\ncredential_process = mine\n"),
            "{once}"
        );
        assert!(once.contains("[profile dev]\n# written by jit config sync from https://p\ncredential_process = jit aws --tenant dev --host https://p --interactive\n"), "{once}");
        assert_eq!(
            changes,
            vec![
                ("dev".to_string(), Change::Add),
                ("prod".to_string(), Change::Kept)
            ]
        );
        let (twice, changes) = sync_aws_config(&once, &wanted, "https://p");
        assert_eq!(once, twice);
        assert!(
            changes
                .iter()
                .all(|(_, c)| matches!(c, Change::Same | Change::Kept))
        );
        let (removed, _) = sync_aws_config(&once, &BTreeMap::new(), "https://p");
        assert!(
            !removed.contains("[profile dev]") && removed.contains("[profile prod]"),
            "{removed}"
        );
    }
}
