//! Admin changes to tenants, users and the system settings, the same from `jit portal` and from
//! the admin pages: check the values (already typed by `rules`), diff them against what is
//! stored, write one audit detail, and commit the change with its audit row in one transaction.
//! A change that changes nothing writes nothing and is not audited.

use std::fmt::Display;

use super::rules::{ClusterCa, ClusterName, ClusterServer, Email, Name, RoleArn, SessionSecs};
use super::{Actor, Error, Outcome, Result};
use crate::db::{AuditEvent, Db, K8sChange, MfaSettings, SessionInfo, Settings, Tenant, User};

/// `old -> new` for the audit detail, `-` standing for nothing.
fn arrow(field: &str, old: impl Display, new: impl Display) -> String {
    format!("{field} {old} -> {new}")
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

async fn tenant(db: &Db, name: &str) -> Result<Tenant> {
    db.list_tenants()
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::NotFound(format!("no tenant '{}'", crate::log::escape(name))))
}

async fn user(db: &Db, name: &str) -> Result<User> {
    db.list_users()
        .await?
        .into_iter()
        .find(|u| u.name == name)
        .ok_or_else(|| Error::NotFound(format!("no portal user '{}'", crate::log::escape(name))))
}

// ---- tenants ----

/// A tenant to add.
pub struct NewTenant {
    pub name: Name,
    pub role_arn: RoleArn,
    pub validity: SessionSecs,
    pub max_session: SessionSecs,
}

/// Adds a tenant and returns its id. An existing tenant is changed with [`change_tenant`],
/// never replaced by an add.
pub async fn add_tenant(db: &Db, actor: &Actor, new: NewTenant) -> Result<String> {
    let name = new.name.as_str();
    if db.list_tenants().await?.iter().any(|t| t.name == name) {
        return Err(Error::Invalid(format!(
            "tenant '{name}' already exists: change it with `jit portal tenant set {name}` or on its admin page"
        )));
    }
    let (validity, max) = (new.validity.get(), new.max_session.get());
    let mut audit = actor.audit(AuditEvent::TenantAdd).detail(format!(
        "tenant {name} validity={validity} max_session={max}"
    ));
    audit.role_arn = Some(new.role_arn.as_str().into());
    audit.scope = Some(format!("tenant {name}"));
    Ok(db
        .upsert_tenant(name, new.role_arn.as_str(), validity, max, audit)
        .await?)
}

/// What to do with a tenant's Kubernetes cluster.
#[derive(Debug, Default)]
pub enum ClusterChange {
    #[default]
    Keep,
    Clear,
    /// Set these; what is `None` stays. A tenant without a cluster needs a name and a server.
    Set {
        cluster: Option<ClusterName>,
        server: Option<ClusterServer>,
        ca: Option<ClusterCa>,
    },
}

/// A change to some of a tenant's settings; `None` keeps a setting.
#[derive(Debug, Default)]
pub struct TenantChange {
    pub role_arn: Option<RoleArn>,
    pub validity: Option<SessionSecs>,
    pub max_session: Option<SessionSecs>,
    pub cluster: ClusterChange,
}

pub async fn change_tenant(
    db: &Db,
    actor: &Actor,
    name: &str,
    change: TenantChange,
) -> Result<Outcome> {
    let t = tenant(db, name).await?;
    let mut changes = Vec::new();
    let role_arn = change
        .role_arn
        .filter(|r| r.as_str() != t.role_arn)
        .inspect(|r| changes.push(arrow("role_arn", &t.role_arn, r.as_str())));
    let validity = change
        .validity
        .map(SessionSecs::get)
        .filter(|v| *v != t.validity_secs)
        .inspect(|v| changes.push(arrow("validity", t.validity_secs, v)));
    let max = change
        .max_session
        .map(SessionSecs::get)
        .filter(|m| *m != t.max_session_secs)
        .inspect(|m| changes.push(arrow("max_session", t.max_session_secs, m)));
    let old = t.k8s.as_ref();
    let k8s = match change.cluster {
        ClusterChange::Keep => K8sChange::default(),
        ClusterChange::Clear => K8sChange {
            clear: old.is_some(),
            ..K8sChange::default()
        },
        ClusterChange::Set {
            cluster,
            server,
            ca,
        } => {
            if old.is_none() && (cluster.is_none() || server.is_none()) {
                return Err(Error::Invalid(format!(
                    "a cluster name and an API server URL go together: tenant '{name}' has no cluster yet"
                )));
            }
            let cluster = cluster.filter(|c| old.is_none_or(|k| k.name != c.as_str()));
            let server = server.filter(|s| old.is_none_or(|k| k.server != s.as_str()));
            let ca = ca.filter(|c| old.is_none_or(|k| k.ca.as_deref() != Some(c.as_str())));
            let was = |f: fn(&crate::db::K8sCluster) -> Option<String>| old.and_then(f);
            if let Some(c) = &cluster {
                let before = was(|k| Some(k.name.clone()));
                changes.push(arrow("k8s_cluster", or_dash(before.as_deref()), c.as_str()));
            }
            if let Some(s) = &server {
                let before = was(|k| Some(k.server.clone()));
                changes.push(arrow("k8s_server", or_dash(before.as_deref()), s.as_str()));
            }
            if let Some(c) = &ca {
                let before = was(|k| {
                    k.ca.as_deref()
                        .map(|ca| ClusterCa::stored(ca).fingerprint())
                });
                changes.push(arrow("k8s_ca", or_dash(before.as_deref()), c.fingerprint()));
            }
            K8sChange {
                cluster: cluster.map(|c| c.as_str().into()),
                server: server.map(|s| s.as_str().into()),
                ca: ca.map(|c| c.as_str().into()),
                clear: false,
            }
        }
    };
    if k8s.clear {
        changes.push("k8s cleared".into());
    }
    if changes.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let mut audit = actor
        .audit(AuditEvent::TenantSet)
        .detail(format!("tenant {name}: {}", changes.join(", ")));
    audit.role_arn = role_arn.as_ref().map(|r| r.as_str().into());
    audit.scope = Some(format!("tenant {name}"));
    let role = role_arn.as_ref().map(RoleArn::as_str);
    if !db
        .set_tenant(name, role, validity, max, &k8s, audit)
        .await?
    {
        return Err(Error::NotFound(format!("no tenant '{name}'")));
    }
    Ok(Outcome::Saved)
}

/// Removes a tenant; its users lose access to it.
pub async fn remove_tenant(db: &Db, actor: &Actor, name: &str) -> Result<()> {
    let t = tenant(db, name).await?;
    let mut audit = actor
        .audit(AuditEvent::TenantRemove)
        .detail(format!("tenant {name} (id {})", t.id));
    audit.scope = Some(format!("tenant {name}"));
    if !db.remove_tenant(name, audit).await? {
        return Err(Error::NotFound(format!("no tenant '{name}'")));
    }
    Ok(())
}

// ---- users ----

async fn known_tenants(db: &Db, wanted: &[Name]) -> Result<Vec<String>> {
    let tenants = db.list_tenants().await?;
    let mut names: Vec<String> = Vec::new();
    for w in wanted {
        if !tenants.iter().any(|t| t.name == w.as_str()) {
            return Err(Error::Invalid(format!(
                "there is no tenant '{}': add it first",
                w.as_str()
            )));
        }
        if !names.iter().any(|n| n == w.as_str()) {
            names.push(w.as_str().into());
        }
    }
    names.sort();
    Ok(names)
}

/// Adds a user. An existing user is changed with [`change_user`], never replaced by an add.
pub async fn add_user(
    db: &Db,
    actor: &Actor,
    name: &Name,
    admin: bool,
    tenants: &[Name],
    email: Option<&Email>,
) -> Result<()> {
    let name = name.as_str();
    if db.list_users().await?.iter().any(|u| u.name == name) {
        return Err(Error::Invalid(format!(
            "user '{name}' already exists: change them with `jit portal user set {name}` or on their admin page"
        )));
    }
    let tenants = known_tenants(db, tenants).await?;
    let audit = actor
        .audit(AuditEvent::UserAdd)
        .user(name)
        .detail(format!("admin={admin} tenants={}", tenants.join(",")));
    // The address goes in with the user, with its own row, in the one transaction.
    let email = email.map(|e| (e.as_str(), email_audit(actor, name, Some(e.as_str()))));
    db.upsert_user_with_email(name, admin, &tenants, audit, email)
        .await?;
    Ok(())
}

/// A change to a user; `None` keeps a setting. `tenants` replaces the whole list.
#[derive(Debug, Default)]
pub struct UserChange {
    pub admin: Option<bool>,
    pub tenants: Option<Vec<Name>>,
}

pub async fn change_user(
    db: &Db,
    actor: &Actor,
    name: &str,
    change: UserChange,
) -> Result<Outcome> {
    let u = user(db, name).await?;
    let admin = change.admin.unwrap_or(u.admin);
    if actor.is(name) && u.admin && !admin {
        return Err(Error::Invalid(
            "you cannot drop your own admin flag: ask another admin to do it".into(),
        ));
    }
    let mut old_tenants = u.tenants.clone();
    old_tenants.sort();
    let tenants = match &change.tenants {
        Some(t) => known_tenants(db, t).await?,
        None => old_tenants.clone(),
    };
    let mut changes = Vec::new();
    if admin != u.admin {
        changes.push(arrow("admin", u.admin, admin));
    }
    if tenants != old_tenants {
        let show = |t: &[String]| {
            if t.is_empty() {
                "-".to_string()
            } else {
                t.join(",")
            }
        };
        changes.push(arrow("tenants", show(&old_tenants), show(&tenants)));
    }
    if changes.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let audit = actor
        .audit(AuditEvent::UserSet)
        .user(name)
        .detail(changes.join(", "));
    db.upsert_user(name, admin, &tenants, audit).await?;
    Ok(Outcome::Saved)
}

/// Removes a user and every token of theirs. Nobody removes themselves.
pub async fn remove_user(db: &Db, actor: &Actor, name: &str) -> Result<()> {
    if actor.is(name) {
        return Err(Error::Invalid(
            "you cannot remove yourself: ask another admin to do it".into(),
        ));
    }
    let u = user(db, name).await?;
    let audit = actor
        .audit(AuditEvent::UserRemove)
        .user(name)
        .detail(format!("admin={} tenants={}", u.admin, u.tenants.join(",")));
    if !db.remove_user(name, audit).await? {
        return Err(Error::NotFound(format!("no portal user '{name}'")));
    }
    Ok(())
}

/// Sets (`Some`) or clears (`None`) the address a user's notifications go to, with a `user
/// email` audit row (the new address, or `cleared`) in the same transaction. The admin CLI, the
/// admin pages and a single sign-on with a verified `email` claim all come here; the same
/// address again changes nothing and is not audited.
pub async fn set_email(
    db: &Db,
    actor: &Actor,
    name: &str,
    email: Option<&Email>,
) -> Result<Outcome> {
    let Some(old) = db.user_email(name).await? else {
        return Err(no_user(name));
    };
    let new = email.map(Email::as_str);
    if old.as_deref() == new {
        return Ok(Outcome::Unchanged);
    }
    if !db
        .set_email(name, new, email_audit(actor, name, new))
        .await?
    {
        return Err(no_user(name));
    }
    Ok(Outcome::Saved)
}

/// The `user email` row: the new address, or `cleared`.
fn email_audit(actor: &Actor, name: &str, new: Option<&str>) -> crate::db::AuditEntry {
    actor
        .audit(AuditEvent::UserEmail)
        .user(name)
        .detail(new.unwrap_or("cleared"))
}

fn no_user(name: &str) -> Error {
    Error::NotFound(format!("no portal user '{}'", crate::log::escape(name)))
}

/// What a single sign-on's verified `email` claim does: it becomes the user's address when
/// mail would otherwise go elsewhere (a user named by that same address keeps none: their name
/// already is it). One the portal cannot send to is left out. Audited as `sso`, from `client`.
pub async fn sso_email(db: &Db, user: &str, claim: &str, client: Option<String>) -> Result<()> {
    let Ok(email) = Email::parse("email", claim) else {
        return Ok(());
    };
    let Some(old) = db.user_email(user).await? else {
        return Err(no_user(user));
    };
    let mail_to = old.as_deref().unwrap_or(user);
    if mail_to != email.as_str() {
        set_email(db, &Actor::sso(client), user, Some(&email)).await?;
    }
    Ok(())
}

/// Sets a user's web sign-in password (hashed with argon2id off the async threads) and ends
/// every web session of theirs, with the CLI tokens those sessions minted: a session taken
/// before the change must not outlive it. Returns how many live sessions ended.
pub async fn set_password(db: &Db, actor: &Actor, name: &str, password: String) -> Result<u64> {
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(&password))
        .await
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))??;
    let audit = actor.audit(AuditEvent::UserPasswd).user(name);
    db.set_password(name, &hash, audit)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no portal user '{}'", crate::log::escape(name))))
}

/// A user's live web sessions, oldest first.
pub async fn live_sessions(db: &Db, name: &str, now: i64) -> Result<Vec<SessionInfo>> {
    user(db, name).await?;
    Ok(db.list_sessions(name, now).await?)
}

/// Signs a user out everywhere: every web session ends, with the CLI tokens those sessions
/// minted. Audited even when none was live, so the trail shows the order was given. Returns
/// how many live sessions ended.
pub async fn end_sessions(db: &Db, actor: &Actor, name: &str) -> Result<u64> {
    user(db, name).await?;
    let audit = actor.audit(AuditEvent::WebSignOut).user(name);
    Ok(db
        .end_user_sessions(name, &format!("every session of {name}"), audit)
        .await?)
}

// ---- system settings ----

/// A change to the system settings; `None` keeps a setting, `Some(None)` clears a role.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub admin_session: Option<SessionSecs>,
    pub admin_role: Option<Option<RoleArn>>,
    pub ops_role: Option<Option<RoleArn>>,
    pub require_mfa: Option<super::mfa::Policy>,
    pub admin_vends_need_mfa: Option<bool>,
}

pub async fn change_settings(db: &Db, actor: &Actor, change: SettingsChange) -> Result<Outcome> {
    let current: Settings = db.settings().await?;
    let mut changes = Vec::new();
    let secs = change
        .admin_session
        .map(SessionSecs::get)
        .filter(|s| *s != current.admin_session_secs)
        .inspect(|s| changes.push(arrow("admin_session", current.admin_session_secs, s)));
    let role = |field: &str,
                wanted: Option<Option<RoleArn>>,
                old: &Option<String>,
                changes: &mut Vec<String>| {
        let new = wanted?.map(|r| r.as_str().to_string());
        (new != *old).then(|| {
            changes.push(arrow(
                field,
                or_dash(old.as_deref()),
                or_dash(new.as_deref()),
            ));
            new
        })
    };
    let admin_role = role(
        "admin_role_arn",
        change.admin_role,
        &current.admin_role_arn,
        &mut changes,
    );
    let ops_role = role(
        "ops_role_arn",
        change.ops_role,
        &current.ops_role_arn,
        &mut changes,
    );
    let require_mfa = change
        .require_mfa
        .filter(|p| p.as_str() != current.require_mfa)
        .inspect(|p| changes.push(arrow("require_mfa", &current.require_mfa, p.as_str())));
    let vends_mfa = change
        .admin_vends_need_mfa
        .filter(|v| *v != current.admin_vends_need_mfa)
        .inspect(|v| {
            changes.push(arrow(
                "admin_vends_need_mfa",
                current.admin_vends_need_mfa,
                v,
            ))
        });
    if changes.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let audit = actor.audit(AuditEvent::Settings).detail(changes.join(", "));
    db.write_settings(
        secs,
        admin_role.as_ref().map(Option::as_deref),
        ops_role.as_ref().map(Option::as_deref),
        MfaSettings {
            require_mfa: require_mfa.map(super::mfa::Policy::as_str),
            admin_vends_need_mfa: vends_mfa,
        },
        audit,
    )
    .await?;
    Ok(Outcome::Saved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::AuditEntry;

    fn email(text: &str) -> Email {
        Email::parse("--email", text).expect("an address")
    }

    /// The `user email` rows: (actor, detail).
    async fn trail(db: &Db) -> Vec<(String, String)> {
        db.audit_find(None, Some(AuditEvent::UserEmail.as_str()), None, 100)
            .await
            .expect("trail")
            .into_iter()
            .map(|e| (e.actor, e.detail.unwrap_or_default()))
            .collect()
    }

    #[tokio::test]
    async fn an_email_is_set_once_cleared_and_refused_for_nobody() {
        let (_dir, db) = Db::open_temp().await;
        let audit = || AuditEntry::new(AuditEvent::UserAdd, "test");
        for name in ["bob", "carol@example.com"] {
            db.upsert_user(name, false, &[], audit())
                .await
                .expect("user");
        }
        let cli = Actor::cli();
        let bob = email("bob@example.test");
        let set = set_email(&db, &cli, "bob", Some(&bob)).await.expect("set");
        assert_eq!(set, Outcome::Saved);
        let again = set_email(&db, &cli, "bob", Some(&bob))
            .await
            .expect("again");
        assert_eq!(
            again,
            Outcome::Unchanged,
            "the same address: nothing written"
        );
        let cleared = set_email(&db, &cli, "bob", None).await.expect("clear");
        assert_eq!(cleared, Outcome::Saved);
        assert_eq!(db.user_email("bob").await.expect("read"), Some(None));
        let nobody = set_email(&db, &cli, "dave", Some(&bob)).await;
        assert!(matches!(nobody, Err(Error::NotFound(m)) if m == "no portal user 'dave'"));

        // A verified claim: taken where mail would go elsewhere, not where the name is it.
        sso_email(&db, "bob", "bob@corp.example", None)
            .await
            .expect("sso");
        sso_email(&db, "bob", "bob@corp.example", None)
            .await
            .expect("again");
        sso_email(&db, "carol@example.com", "carol@example.com", None)
            .await
            .expect("named by it");
        sso_email(&db, "bob", "not an address", None)
            .await
            .expect("left out");
        assert_eq!(
            db.user_email("bob").await.expect("read"),
            Some(Some("bob@corp.example".into()))
        );
        assert_eq!(
            db.user_email("carol@example.com").await.expect("read"),
            Some(None)
        );
        let rows = trail(&db).await;
        let who = cli.name.as_str();
        assert_eq!(
            rows,
            [
                (who.into(), "bob@example.test".into()),
                (who.into(), "cleared".into()),
                ("sso".into(), "bob@corp.example".into()),
            ]
        );
    }
}
