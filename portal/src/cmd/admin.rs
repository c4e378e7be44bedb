//! `jit portal user|tenant|token|set`: changes to the portal's users, tenants, tokens and
//! settings, each recorded in the audit trail in the same transaction.

use anyhow::{Context, Result, bail};

use super::{
    check_k8s_cluster, check_k8s_server, check_name, check_role, cli_actor, decode_k8s_ca,
    k8s_ca_data,
};
use crate::cli::{SetArgs, TenantCommand, TokenCommand, UserCommand};
use crate::db::{self, AuditEntry, Db};
use crate::{log, password, secret};

fn change(what: &str) -> AuditEntry {
    AuditEntry::new(what, &cli_actor())
}

fn print(text: &str) -> Result<()> {
    crate::output::print_raw(text)
}

fn when(secs: Option<i64>) -> String {
    secs.and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(jit_wire::time::rfc3339)
        .unwrap_or_else(|| "never".into())
}

/// The first line of standard input, without its line ending.
fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!(
            "no password on standard input (one line, e.g. printf '%s\\n' \"$PW\" | jit portal user passwd NAME)"
        );
    }
    Ok(password.to_string())
}

pub async fn user(db: &Db, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add {
            name,
            admin,
            tenants,
        } => {
            check_name("user", &name)?;
            let detail = format!("admin={admin} tenants={}", tenants.join(","));
            db.upsert_user(
                &name,
                admin,
                &tenants,
                change("user add").user(&name).detail(detail),
            )
            .await?;
            log::status(format_args!(
                "saved portal user '{name}' in {}",
                db.location
            ));
        }
        UserCommand::List => {
            let mut out = String::new();
            for u in db.list_users().await? {
                out.push_str(&format!(
                    "{}\t{}\t{}\n",
                    u.name,
                    if u.admin { "admin" } else { "user" },
                    u.tenants.join(",")
                ));
            }
            print(&out)?;
        }
        UserCommand::Remove { name } => {
            if !db
                .remove_user(&name, change("user remove").user(&name))
                .await?
            {
                bail!("no portal user '{}' in {}", log::escape(&name), db.location);
            }
            log::status(format_args!(
                "removed portal user '{name}' and their tokens"
            ));
        }
        UserCommand::Passwd { name } => {
            let password = read_password()?;
            let hash = password::hash(&password)?;
            if !db
                .set_password(&name, &hash, change("user passwd").user(&name))
                .await?
            {
                bail!("no portal user '{}' in {}", log::escape(&name), db.location);
            }
            log::status(format_args!("set the password of portal user '{name}'"));
        }
    }
    Ok(())
}

pub async fn tenant(db: &Db, command: TenantCommand) -> Result<()> {
    match command {
        TenantCommand::Add {
            name,
            role_arn,
            validity,
            max_session,
        } => {
            check_name("tenant", &name)?;
            check_role("--role-arn", &role_arn)?;
            let validity = validity.unwrap_or(db::DEFAULT_VALIDITY_SECS);
            let max = max_session.unwrap_or(db::MAX_SESSION_SECS);
            let mut audit = change("tenant add").detail(format!(
                "tenant {name} validity={validity} max_session={max}"
            ));
            audit.role_arn = Some(role_arn.clone());
            audit.scope = Some(format!("tenant {name}"));
            let id = db
                .upsert_tenant(&name, &role_arn, validity, max, audit)
                .await?;
            log::status(format_args!("saved tenant '{name}' (id {id})"));
        }
        TenantCommand::Set {
            name,
            role_arn,
            validity,
            max_session,
            k8s_cluster,
            k8s_server,
            k8s_ca_file,
            k8s_ca,
            k8s_clear,
        } => {
            if let Some(arn) = &role_arn {
                check_role("--role-arn", arn)?;
            }
            let k8s = k8s_change(k8s_cluster, k8s_server, k8s_ca_file, k8s_ca, k8s_clear)?;
            // A cluster needs both its name and its server; the CA alone may change later.
            if !k8s.clear && (k8s.cluster.is_some() != k8s.server.is_some() || k8s.ca.is_some()) {
                let has_cluster = db
                    .list_tenants()
                    .await?
                    .iter()
                    .any(|t| t.name == name && t.k8s.is_some());
                if !has_cluster && (k8s.cluster.is_none() || k8s.server.is_none()) {
                    bail!(
                        "tenant '{}' has no cluster yet: pass --k8s-cluster and --k8s-server together",
                        log::escape(&name)
                    );
                }
            }
            if role_arn.is_none() && validity.is_none() && max_session.is_none() && k8s.is_empty() {
                bail!(
                    "nothing to change: pass --role-arn, --validity, --max-session or a --k8s-* option"
                );
            }
            let mut detail = format!(
                "tenant {name} validity={} max_session={}",
                validity
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                max_session
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
            );
            if k8s.clear {
                detail.push_str(" k8s cleared");
            } else if !k8s.is_empty() {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                detail.push_str(&format!(
                    " k8s_cluster={} k8s_server={} k8s_ca={}",
                    show(&k8s.cluster),
                    show(&k8s.server),
                    k8s.ca
                        .as_ref()
                        .map(|ca| format!("sha256:{}", &secret::digest(ca)[..16]))
                        .unwrap_or_else(|| "-".into()),
                ));
            }
            let mut audit = change("tenant set").detail(detail);
            audit.role_arn = role_arn.clone();
            audit.scope = Some(format!("tenant {name}"));
            if !db
                .set_tenant(
                    &name,
                    role_arn.as_deref(),
                    validity,
                    max_session,
                    &k8s,
                    audit,
                )
                .await?
            {
                bail!("no tenant '{}'", log::escape(&name));
            }
            log::status(format_args!("changed tenant '{name}'"));
        }
        TenantCommand::List => {
            let mut out = String::new();
            for t in db.list_tenants().await? {
                let secs = db::clamp_session(t.validity_secs, t.max_session_secs);
                let k8s = t
                    .k8s
                    .as_ref()
                    .map(|k| format!("\t{} {}", k.name, k.server))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{}\t{}\t{}\t{secs}s{k8s}\n",
                    t.name, t.id, t.role_arn
                ));
            }
            print(&out)?;
        }
        TenantCommand::Remove { name } => {
            let mut audit = change("tenant remove");
            audit.scope = Some(format!("tenant {name}"));
            if !db.remove_tenant(&name, audit).await? {
                bail!("no tenant '{}'", log::escape(&name));
            }
            log::status(format_args!("removed tenant '{name}'"));
        }
    }
    Ok(())
}

pub async fn token(db: &Db, command: TokenCommand) -> Result<()> {
    let now = jiff::Timestamp::now().as_second();
    match command {
        TokenCommand::Create { user, ttl } => {
            if ttl.is_some_and(|t| t <= 0) {
                bail!("--ttl must be a positive number of seconds");
            }
            let detail = match ttl {
                Some(t) => format!("ttl={t}s"),
                None => "permanent".into(),
            };
            let (token, id) = db
                .create_token(&user, ttl, change("token create").detail(detail))
                .await?;
            log::status(format_args!("created token {id} for '{user}'"));
            crate::output::print_line(&token)?;
        }
        TokenCommand::List { user } => {
            let mut out = String::new();
            for t in db.list_tokens(user.as_deref(), now).await? {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    t.id,
                    t.user,
                    t.origin,
                    t.parent.as_deref().unwrap_or("-"),
                    when(Some(t.created)),
                    when(t.expires),
                ));
            }
            print(&out)?;
        }
        TokenCommand::Revoke { ids, user } => {
            let mut audit = change("token revoke").detail(format!(
                "token revoke {}{}",
                ids.join(","),
                user.as_deref()
                    .map(|u| format!(" user={u}"))
                    .unwrap_or_default()
            ));
            audit.user = user.clone();
            audit.token_id = ids.first().cloned();
            let gone = db.revoke_tokens(&ids, user.as_deref(), audit).await?;
            if gone == 0 {
                bail!("no such token");
            }
            log::status(format_args!("revoked {gone} token(s)"));
        }
    }
    Ok(())
}

pub async fn set(db: &Db, args: SetArgs) -> Result<()> {
    if let Some(arn) = &args.admin_role_arn {
        check_role("--admin-role-arn", arn)?;
    }
    if let Some(arn) = &args.ops_role_arn {
        check_role("--ops-role-arn", arn)?;
    }
    let secs = args
        .admin_session
        .map(|s| db::clamp_session(s, db::MAX_SESSION_SECS));
    let detail = format!(
        "admin_session={} admin_role_arn={} ops_role_arn={}",
        secs.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
        args.admin_role_arn.as_deref().unwrap_or("-"),
        args.ops_role_arn.as_deref().unwrap_or("-"),
    );
    db.update_settings(
        secs,
        args.admin_role_arn.as_deref(),
        args.ops_role_arn.as_deref(),
        change("settings").detail(detail),
    )
    .await
}

/// The cluster options of `tenant set`, checked: an http(s) server URL, a CA that is base64 of
/// a PEM certificate (read from a file, or given as base64).
fn k8s_change(
    cluster: Option<String>,
    server: Option<String>,
    ca_file: Option<std::path::PathBuf>,
    ca: Option<String>,
    clear: bool,
) -> Result<db::K8sChange> {
    if let Some(c) = &cluster {
        check_k8s_cluster("--k8s-cluster", c)?;
    }
    if let Some(s) = &server {
        check_k8s_server("--k8s-server", s)?;
    }
    let pem = match (ca_file, ca) {
        (Some(path), _) => Some(
            std::fs::read(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        ),
        (None, Some(text)) => Some(decode_k8s_ca("--k8s-ca", &text)?),
        (None, None) => None,
    };
    Ok(db::K8sChange {
        cluster,
        server,
        ca: pem.map(|p| k8s_ca_data(&p)).transpose()?,
        clear,
    })
}
