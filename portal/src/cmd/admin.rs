//! `jit portal user|tenant|token|set`: changes to the portal's users, tenants, tokens and
//! settings, each recorded in the audit trail in the same transaction.

use anyhow::{Context, Result, bail};

use crate::cli::{SetArgs, TenantCommand, TokenCommand, UserCommand};
use crate::db::{AuditEntry, AuditEvent, Db};
use crate::domain::admin::{
    self, ClusterChange, NewTenant, SettingsChange, TenantChange, UserChange,
};
use crate::domain::rules::{
    ClusterCa, ClusterName, ClusterServer, DEFAULT_VALIDITY_SECS, Email, MAX_SESSION_SECS, Name,
    RoleArn, SessionSecs,
};
use crate::domain::{self, Actor, Outcome};
use crate::output;

fn change(what: AuditEvent) -> AuditEntry {
    AuditEntry::new(what, &Actor::cli().name)
}

fn print(text: &str) -> Result<()> {
    crate::output::print_raw(text)
}

pub(super) fn when(secs: Option<i64>) -> String {
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
    let actor = Actor::cli();
    match command {
        UserCommand::Add {
            name,
            admin,
            tenants,
            email,
        } => {
            let name = Name::parse("user", &name)?;
            let email = email.map(|e| Email::parse("--email", &e)).transpose()?;
            admin::add_user(
                db,
                &actor,
                &name,
                admin,
                &tenant_names(&tenants)?,
                email.as_ref(),
            )
            .await?;
            output::status(format_args!(
                "saved portal user '{}' in {}",
                name.as_str(),
                db.location
            ));
        }
        UserCommand::Set {
            name,
            admin,
            tenants,
            no_tenants,
            email,
            no_email,
        } => {
            if admin.is_none() && tenants.is_empty() && !no_tenants && email.is_none() && !no_email
            {
                bail!(
                    "nothing to change: pass --admin true|false, --tenant, --no-tenants, --email or --no-email"
                );
            }
            // Every value is checked before anything is written.
            let email = email.map(|e| Email::parse("--email", &e)).transpose()?;
            let change = UserChange {
                admin,
                tenants: (no_tenants || !tenants.is_empty())
                    .then(|| tenant_names(&tenants))
                    .transpose()?,
            };
            let mut outcome = Outcome::Unchanged;
            if change.admin.is_some() || change.tenants.is_some() {
                outcome = admin::change_user(db, &actor, &name, change).await?;
            }
            if (email.is_some() || no_email)
                && admin::set_email(db, &actor, &name, email.as_ref()).await? == Outcome::Saved
            {
                outcome = Outcome::Saved;
            }
            report(outcome, "portal user", &name);
        }
        UserCommand::List => {
            let mut out = String::new();
            for u in db.list_users().await? {
                // The address last, and only when set (as `tenant list` does its cluster).
                let email = u.email.map(|e| format!("\t{e}")).unwrap_or_default();
                out.push_str(&format!(
                    "{}\t{}\t{}{email}\n",
                    u.name,
                    if u.admin { "admin" } else { "user" },
                    u.tenants.join(",")
                ));
            }
            print(&out)?;
        }
        UserCommand::Remove { name } => {
            admin::remove_user(db, &actor, &name).await?;
            output::status(format_args!(
                "removed portal user '{name}' and their tokens"
            ));
        }
        UserCommand::Passwd { name } => {
            let password = read_password()?;
            let ended = admin::set_password(db, &actor, &name, password).await?;
            output::status(format_args!(
                "set the password of portal user '{name}'; {}",
                sessions_ended(ended)
            ));
        }
        UserCommand::Sessions {
            name,
            revoke: false,
        } => {
            let now = jiff::Timestamp::now().as_second();
            let mut out = String::new();
            for s in admin::live_sessions(db, &name, now).await? {
                out.push_str(&format!(
                    "{}\t{}\t{}\n",
                    s.id,
                    when(Some(s.created)),
                    when(Some(s.expires))
                ));
            }
            print(&out)?;
        }
        UserCommand::Mfa { name, reset: false } => {
            let f = domain::mfa::factors(db, &name).await?;
            let mut out = String::new();
            if let Some(created) = f.totp {
                out.push_str(&format!("totp\tenrolled {}\n", when(Some(created))));
            }
            if f.recovery_left > 0 {
                out.push_str(&format!("recovery\t{} unused\n", f.recovery_left));
            }
            for k in domain::passkey::of_user(db, &name).await? {
                out.push_str(&format!(
                    "passkey\t{}\tregistered {}\tlast used {}\n",
                    crate::log::escape(&k.name),
                    when(Some(k.created)),
                    when(k.last_used)
                ));
            }
            if out.is_empty() {
                output::status(format_args!("portal user '{name}' has no second factor"));
            }
            print(&out)?;
        }
        UserCommand::Mfa { name, reset: true } => {
            let (removed, ended) = domain::mfa::reset(db, &actor, &name).await?;
            output::status(format_args!(
                "{} of portal user '{name}'; {}",
                if removed > 0 {
                    "removed the second factors"
                } else {
                    "no second factor to remove"
                },
                sessions_ended(ended)
            ));
        }
        UserCommand::Sessions { name, revoke: true } => {
            let ended = admin::end_sessions(db, &actor, &name).await?;
            output::status(format_args!(
                "signed out portal user '{name}' everywhere; {}",
                sessions_ended(ended)
            ));
        }
    }
    Ok(())
}

/// How many web sessions a change ended, for its status line.
fn sessions_ended(n: u64) -> String {
    match n {
        0 => "no web session was live".into(),
        1 => "1 web session ended".into(),
        n => format!("{n} web sessions ended"),
    }
}

fn tenant_names(names: &[String]) -> Result<Vec<Name>> {
    Ok(names
        .iter()
        .map(|t| Name::parse("tenant", t))
        .collect::<domain::Result<_>>()?)
}

/// The status line after a change.
fn report(outcome: Outcome, what: &str, name: &str) {
    match outcome {
        Outcome::Saved => output::status(format_args!("changed {what} '{name}'")),
        Outcome::Unchanged => output::status(format_args!(
            "{what} '{name}' already is so; nothing changed"
        )),
    }
}

/// A duration flag, checked as the admin pages check the same field.
fn secs(flag: &str, value: Option<i64>) -> Result<Option<SessionSecs>> {
    Ok(value.map(|v| SessionSecs::new(flag, v)).transpose()?)
}

pub async fn tenant(db: &Db, command: TenantCommand) -> Result<()> {
    let actor = Actor::cli();
    match command {
        TenantCommand::Add {
            name,
            role_arn,
            validity,
            max_session,
        } => {
            let new = NewTenant {
                name: Name::parse("tenant", &name)?,
                role_arn: RoleArn::parse("--role-arn", &role_arn)?,
                validity: SessionSecs::new(
                    "--validity",
                    validity.unwrap_or(DEFAULT_VALIDITY_SECS),
                )?,
                max_session: SessionSecs::new(
                    "--max-session",
                    max_session.unwrap_or(MAX_SESSION_SECS),
                )?,
            };
            let id = admin::add_tenant(db, &actor, new).await?;
            output::status(format_args!("saved tenant '{name}' (id {id})"));
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
            let ca = match (k8s_ca_file, k8s_ca) {
                (Some(path), _) => Some(ClusterCa::from_pem(
                    &std::fs::read(&path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                )?),
                (None, Some(text)) => Some(ClusterCa::parse("--k8s-ca", &text)?),
                (None, None) => None,
            };
            let cluster = if k8s_clear {
                ClusterChange::Clear
            } else if k8s_cluster.is_none() && k8s_server.is_none() && ca.is_none() {
                ClusterChange::Keep
            } else {
                ClusterChange::Set {
                    cluster: k8s_cluster
                        .map(|c| ClusterName::parse("--k8s-cluster", &c))
                        .transpose()?,
                    server: k8s_server
                        .map(|s| ClusterServer::parse("--k8s-server", &s))
                        .transpose()?,
                    ca,
                }
            };
            let change = TenantChange {
                role_arn: role_arn
                    .map(|r| RoleArn::parse("--role-arn", &r))
                    .transpose()?,
                validity: secs("--validity", validity)?,
                max_session: secs("--max-session", max_session)?,
                cluster,
            };
            if change.role_arn.is_none()
                && change.validity.is_none()
                && change.max_session.is_none()
                && matches!(change.cluster, ClusterChange::Keep)
            {
                bail!(
                    "nothing to change: pass --role-arn, --validity, --max-session or a --k8s-* option"
                );
            }
            report(
                admin::change_tenant(db, &actor, &name, change).await?,
                "tenant",
                &name,
            );
        }
        TenantCommand::List => {
            let mut out = String::new();
            for t in db.list_tenants().await? {
                let secs = crate::domain::rules::clamp_session(t.validity_secs, t.max_session_secs);
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
            admin::remove_tenant(db, &actor, &name).await?;
            output::status(format_args!("removed tenant '{name}'"));
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
                .create_token(&user, ttl, change(AuditEvent::TokenCreate).detail(detail))
                .await?;
            output::status(format_args!("created token {id} for '{user}'"));
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
            let mut audit = change(AuditEvent::TokenRevoke).detail(format!(
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
            output::status(format_args!("revoked {gone} token(s)"));
            // Tokens are not sessions: a signed-in browser still mints new ones.
            if let Some(user) = user {
                let live = db.list_sessions(&user, now).await?.len();
                if live > 0 {
                    output::status(format_args!(
                        "{live} web session(s) of '{user}' remain: end them with `jit portal user sessions {user} --revoke`"
                    ));
                }
            }
        }
    }
    Ok(())
}

pub async fn set(db: &Db, args: SetArgs) -> Result<()> {
    let role = |flag: &str, arn: Option<String>| {
        arn.map(|a| RoleArn::parse_optional(flag, &a)).transpose()
    };
    let change = SettingsChange {
        admin_session: secs("--admin-session", args.admin_session)?,
        admin_role: role("--admin-role-arn", args.admin_role_arn)?,
        ops_role: role("--ops-role-arn", args.ops_role_arn)?,
        require_mfa: args
            .require_mfa
            .as_deref()
            .map(|p| {
                domain::mfa::Policy::parse(p)
                    .ok_or_else(|| anyhow::anyhow!("--require-mfa is none, admins or all"))
            })
            .transpose()?,
        admin_vends_need_mfa: args.admin_vends_need_mfa,
    };
    match admin::change_settings(db, &Actor::cli(), change).await? {
        Outcome::Saved => output::status("changed the system settings"),
        Outcome::Unchanged => output::status("the system settings already are so; nothing changed"),
    }
    Ok(())
}
