//! The vend engine: who may have which credentials, for how long, and the audit row that must
//! be written before any key leaves. The API (`api/`) and the profile page (`web/`) both vend
//! through here, so a vend is checked and recorded the same way whichever door asked.

use anyhow::Context;
use jit_wire::api::{AwsResponse, ClusterConfig};
use jit_wire::console::SessionKeys;
use jit_wire::paths;

use jit_wire::access::Target;

use super::rules::{MAX_SESSION_SECS, clamp_session};
use super::{Error, Result, access};
use crate::aws::{Signin, Sts};
use crate::db::{
    AuditEntry, AuditEvent, Authed, Db, GrantRow, K8sCluster, Session, Settings, Tenant, TokenScope,
};
use crate::metrics::{self, VendKind, VendOutcome};

/// What a vend needs: the database for the rules and the trail, STS for the keys, the sign-in
/// endpoint for the console URL.
#[derive(Clone, Copy)]
pub struct Vendor<'a> {
    pub db: &'a Db,
    pub sts: &'a Sts,
    pub signin: &'a Signin,
}

/// Who asks for credentials: a token's holder or a signed-in browser.
#[derive(Clone, Copy)]
pub struct Asker<'a> {
    pub user: &'a str,
    pub admin: bool,
    /// What the token was made for; a browser session has its user's full rights.
    pub scope: TokenScope,
    /// Whether the sign-in behind the token or session used a second factor.
    pub mfa: bool,
    pub via: Via<'a>,
}

/// How a request proved who it is, for the audit trail.
#[derive(Clone, Copy)]
pub enum Via<'a> {
    /// An API token, by id.
    Token(&'a str),
    /// A web session, by id.
    Session(&'a str),
}

impl<'a> From<&'a Authed> for Asker<'a> {
    fn from(who: &'a Authed) -> Asker<'a> {
        Asker {
            user: &who.user,
            admin: who.admin,
            scope: who.scope,
            mfa: who.mfa,
            via: Via::Token(&who.token_id),
        }
    }
}

impl<'a> From<&'a Session> for Asker<'a> {
    fn from(s: &'a Session) -> Asker<'a> {
        Asker {
            user: &s.user,
            admin: s.admin,
            scope: TokenScope::Full,
            mfa: s.mfa,
            via: Via::Session(&s.id),
        }
    }
}

impl Asker<'_> {
    /// The audit row of a vend of `role_arn` for `secs` in `scope`.
    fn audit(
        &self,
        event: AuditEvent,
        client: Option<String>,
        scope: &str,
        role_arn: &str,
        secs: i64,
    ) -> AuditEntry {
        let mut audit = AuditEntry::new(event, self.user).user(self.user);
        audit.client = client;
        if let Via::Token(id) = self.via {
            audit.token_id = Some(id.into());
        }
        audit.scope = Some(scope.into());
        audit.role_arn = Some(role_arn.into());
        audit.duration_secs = Some(secs);
        audit
    }

    /// What the audit detail adds for a session, so the trail says how the keys were asked for.
    fn via_detail(&self) -> String {
        match self.via {
            Via::Token(_) => String::new(),
            Via::Session(id) => format!(" via web session {id}"),
        }
    }
}

/// The two system roles an admin may vend: `jit aws --admin` and `--duplo-ops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Admin,
    DuploOps,
}

impl AdminRole {
    /// The `{kind}` of the API path (docs/protocol.md §1).
    pub fn parse(kind: &str) -> Option<AdminRole> {
        match kind {
            paths::KIND_ADMIN => Some(AdminRole::Admin),
            paths::KIND_DUPLO_OPS => Some(AdminRole::DuploOps),
            _ => None,
        }
    }

    /// The scope the trail names, which is also the path's `{kind}`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => paths::KIND_ADMIN,
            AdminRole::DuploOps => paths::KIND_DUPLO_OPS,
        }
    }

    /// The access target this role is.
    pub fn target(self) -> Target {
        match self {
            AdminRole::Admin => Target::Admin,
            AdminRole::DuploOps => Target::DuploOps,
        }
    }

    fn metric(self) -> VendKind {
        match self {
            AdminRole::Admin => VendKind::Admin,
            AdminRole::DuploOps => VendKind::DuploOps,
        }
    }
}

/// `r`, counted in the vend metrics as a vend of `kind`: keys out, refused by a rule, or failed
/// (STS, or the portal's own trouble).
pub fn counted<T>(kind: VendKind, r: Result<T>) -> Result<T> {
    let outcome = match &r {
        Ok(_) => VendOutcome::Ok,
        Err(Error::Invalid(_) | Error::Unauthorized | Error::Forbidden(_) | Error::NotFound(_)) => {
            VendOutcome::Refused
        }
        Err(Error::Upstream(_) | Error::Failed(_)) => VendOutcome::Failed,
    };
    metrics::vend(kind, outcome);
    r
}

/// Why an asker may not have what needs admin rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdminRefusal {
    /// The user is no admin.
    NotAdmin,
    /// An admin's CLI login that the admin approved for tenant access only.
    TenantLogin,
    /// The system asks admin vends for a second factor (`--admin-vends-need-mfa`), and the
    /// sign-in behind this token or session used none.
    NoMfa,
}

/// The one rule for everything that needs admin rights (the admin and duplo-ops roles, a plan's
/// cluster): the user is an admin, and a login token was approved for admin access. A login
/// approved for tenant access gets what a tenant login gets and no more; admin approval, an API
/// token and a browser session carry all the user's rights. When `need_mfa` (the system
/// setting), the sign-in behind the token or session must also have used a second factor: an
/// API token made by an admin or on the profile page had no sign-in, so it is refused too.
fn admin_refusal(who: &Asker<'_>, need_mfa: bool) -> Option<AdminRefusal> {
    if !who.admin {
        Some(AdminRefusal::NotAdmin)
    } else if who.scope == TokenScope::Tenant {
        Some(AdminRefusal::TenantLogin)
    } else if need_mfa && !who.mfa {
        Some(AdminRefusal::NoMfa)
    } else {
        None
    }
}

/// [`admin_refusal`] applied before anything that needs admin rights; the system settings,
/// read for it, go back to the caller. Refusing an admin's tenant-access login, or a sign-in
/// without the second factor the settings ask for, goes in the trail as `refused`, with the
/// reason, for `scope` (best effort: the asker is refused either way).
async fn need_admin(
    db: &Db,
    who: Asker<'_>,
    client: Option<String>,
    refused: AuditEvent,
    scope: &str,
) -> Result<Settings> {
    if !who.admin {
        return Err(Error::Forbidden("Forbidden".into()));
    }
    let settings = db.settings().await.map_err(unreadable)?;
    let (why, answer) = match admin_refusal(&who, settings.admin_vends_need_mfa) {
        None => return Ok(settings),
        Some(AdminRefusal::NotAdmin) => return Err(Error::Forbidden("Forbidden".into())),
        Some(AdminRefusal::TenantLogin) => (
            "a CLI login approved for tenant access, not admin",
            "Forbidden: this login was approved for tenant access only; log in with admin access",
        ),
        Some(AdminRefusal::NoMfa) => (
            "admin credentials need a sign-in with a second factor",
            "Forbidden: admin credentials need a sign-in with a second factor; sign in to the \
             portal with one and log in again",
        ),
    };
    let mut audit = AuditEntry::new(refused, who.user).user(who.user);
    audit.client = client;
    audit.scope = Some(scope.into());
    if let Via::Token(id) = who.via {
        audit.token_id = Some(id.into());
    }
    audit.detail = Some(format!("{why}{}", who.via_detail()));
    if let Err(e) = db.audit(&audit).await {
        crate::log::failure("cannot record a refused vend", &e);
    }
    Err(Error::Forbidden(answer.into()))
}

fn unreadable(e: anyhow::Error) -> Error {
    Error::Failed(e.context("portal state unreadable"))
}

/// The tenant with this id when `who` may use it.
pub async fn allowed_tenant(db: &Db, who: Asker<'_>, id: &str) -> Result<Tenant> {
    Ok(tenant_access(db, who, id).await?.0)
}

/// The tenant with this id and, when `who` has no standing access to it, the grant that lets
/// them use it now. Standing access (admin, membership) costs what it always did; the grant
/// is looked up only when it fails, and its absence explains itself (`access::refusal`).
async fn tenant_access(db: &Db, who: Asker<'_>, id: &str) -> Result<(Tenant, Option<GrantRow>)> {
    let tenant = db
        .tenant_by_id(id)
        .await
        .map_err(unreadable)?
        .ok_or_else(|| Error::NotFound("tenant not found".into()))?;
    if who.admin
        || db
            .is_member(who.user, &tenant.name)
            .await
            .map_err(unreadable)?
    {
        return Ok((tenant, None));
    }
    let target = Target::Tenant(tenant.name.clone());
    let grant = granted(db, who, &target).await?;
    Ok((tenant, Some(grant)))
}

/// The grant that lets `who` use `target` now, or the refusal that says what to do.
async fn granted(db: &Db, who: Asker<'_>, target: &Target) -> Result<GrantRow> {
    let now = jiff::Timestamp::now().as_second();
    match db
        .active_grant(who.user, &target.spelling(), now)
        .await
        .map_err(unreadable)?
    {
        Some(g) => Ok(g),
        None => Err(access::refusal(db, who.user, target, now).await),
    }
}

/// `secs` cut to what is left of `grant`, if the vend rides on one.
fn within(secs: i64, grant: Option<&GrantRow>) -> Result<i64> {
    match grant {
        // Now rounded up: STS counts the session from its own, later, clock reading, and the
        // credentials' end must not pass the grant's by a fraction of a second.
        Some(g) => {
            let now = (jiff::Timestamp::now().as_millisecond() + 999) / 1000;
            access::grant_secs(secs, g, now)
        }
        None => Ok(secs),
    }
}

/// The credentials of the tenant with this id, when `who` may use it.
pub async fn tenant_by_id(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    id: &str,
) -> Result<AwsResponse> {
    let vended = async {
        let (t, grant) = tenant_access(v.db, who, id).await?;
        tenant_vend(v, who, client, &t, grant.as_ref()).await
    };
    counted(VendKind::Tenant, vended.await)
}

/// A tenant's credentials for `who`, who may use the tenant.
pub async fn tenant(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    t: &Tenant,
) -> Result<AwsResponse> {
    counted(VendKind::Tenant, tenant_vend(v, who, client, t, None).await)
}

async fn tenant_vend(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    t: &Tenant,
    grant: Option<&GrantRow>,
) -> Result<AwsResponse> {
    let secs = within(clamp_session(t.validity_secs, t.max_session_secs), grant)?;
    let scope = format!("tenant {}", t.name);
    vend(v, who, client, &scope, &t.role_arn, secs, grant).await
}

/// An admin's credentials for one of the system roles.
pub async fn admin(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    role: AdminRole,
) -> Result<AwsResponse> {
    counted(role.metric(), admin_vend(v, who, client, role).await)
}

async fn admin_vend(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    role: AdminRole,
) -> Result<AwsResponse> {
    // A user who is no admin may have a grant for the role; with it, the admin rule (token
    // scope, second factor) applies as it does to an admin.
    let (asker, grant) = match who.admin {
        true => (who, None),
        false => {
            let grant = granted(v.db, who, &role.target()).await?;
            (Asker { admin: true, ..who }, Some(grant))
        }
    };
    let settings = need_admin(
        v.db,
        asker,
        client.clone(),
        AuditEvent::VendRefused,
        role.as_str(),
    )
    .await?;
    let arn = match role {
        AdminRole::Admin => settings.admin_role_arn,
        AdminRole::DuploOps => settings.ops_role_arn,
    };
    let Some(arn) = arn else {
        return Err(Error::NotFound(format!(
            "no {} role configured",
            role.as_str()
        )));
    };
    let secs = within(
        clamp_session(settings.admin_session_secs, MAX_SESSION_SECS),
        grant.as_ref(),
    )?;
    vend(v, who, client, role.as_str(), &arn, secs, grant.as_ref()).await
}

/// AssumeRole for `who`, recorded in the audit trail before the keys leave. The console URL is
/// best effort: without it the answer still carries the keys.
async fn vend(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    scope: &str,
    role_arn: &str,
    secs: i64,
    grant: Option<&GrantRow>,
) -> Result<AwsResponse> {
    let mut audit = who.audit(AuditEvent::Vend, client, scope, role_arn, secs);
    let granted = grant
        .map(|g| format!(" grant {}", g.id))
        .unwrap_or_default();
    let creds = match v.sts.assume_role(role_arn, who.user, secs).await {
        Ok(c) => c,
        Err(e) => {
            let message = format!("{e:#}");
            let detail = format!("{message}{}{granted}", who.via_detail());
            return Err(aws_refused(v.db, audit, AuditEvent::VendFailed, detail, message).await);
        }
    };
    audit.detail = Some(format!(
        "key {}{}{granted}",
        creds.access_key_id,
        who.via_detail()
    ));
    // No record, no keys: the trail must hold every vend.
    v.db.audit(&audit).await.context("cannot record the vend")?;
    let keys = SessionKeys {
        access_key_id: &creds.access_key_id,
        secret_access_key: &creds.secret_access_key,
        session_token: &creds.session_token,
    };
    let console_url = match v
        .signin
        .console_url(&keys, &v.sts.region, role_arn, secs)
        .await
    {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::warn!("no ConsoleUrl: {}", crate::log::escape(&format!("{e:#}")));
            None
        }
    };
    Ok(AwsResponse {
        console_url,
        access_key_id: Some(creds.access_key_id),
        secret_access_key: Some(creds.secret_access_key),
        session_token: Some(creds.session_token),
        region: Some(v.sts.region.clone()),
        validity: Some(secs),
        expiration: creds.expiration,
        grant: grant.and_then(|g| {
            Some(jit_wire::access::VendGrant {
                id: g.id.clone(),
                end: jiff::Timestamp::from_second(g.ends).ok()?,
            })
        }),
    })
}

/// AWS said no (or could not be reached): the attempt goes in the trail as `failed`, best effort
/// (the asker gets the refusal either way), and the refusal carries AWS's message.
async fn aws_refused(
    db: &Db,
    mut audit: AuditEntry,
    failed: AuditEvent,
    detail: String,
    message: String,
) -> Error {
    tracing::warn!("{}", crate::log::escape(&message));
    audit.event = failed.as_str().into();
    audit.detail = Some(detail);
    if let Err(e) = db.audit(&audit).await {
        crate::log::failure("cannot record a failed vend", &e);
    }
    Error::Upstream(message)
}

/// How long the CLI may use a k8s token before asking again. EKS accepts a token for 15 minutes
/// after its X-Amz-Date whatever X-Amz-Expires says, and the role session behind it lasts 15
/// minutes at least; a minute less leaves room for clock skew and the trip to the API server.
const K8S_TOKEN_REFRESH_SECS: i64 = 14 * 60;

/// A tenant's cluster and a token for it.
pub async fn k8s_tenant(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    id: &str,
) -> Result<ClusterConfig> {
    let vended = async {
        let (t, grant) = tenant_access(v.db, who, id).await?;
        k8s_tenant_vend(v, who, client, &t, grant.as_ref()).await
    };
    counted(VendKind::K8sTenant, vended.await)
}

async fn k8s_tenant_vend(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    t: &Tenant,
    grant: Option<&GrantRow>,
) -> Result<ClusterConfig> {
    let Some(cluster) = &t.k8s else {
        return Err(Error::NotFound(format!(
            "tenant {} has no Kubernetes cluster (an admin sets one with `jit portal tenant set {} --k8s-cluster NAME --k8s-server URL`)",
            t.name, t.name
        )));
    };
    let secs = within(clamp_session(t.validity_secs, t.max_session_secs), grant)?;
    let scope = format!("tenant {}", t.name);
    let vend = (&scope[..], &t.role_arn[..], secs, grant);
    k8s_vend(v, who, client, vend, cluster).await
}

/// An admin's cluster config for a plan: the cluster of the plan's first tenant (by name) that
/// has one, with a token from the admin role.
pub async fn k8s_plan(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    plan: &str,
) -> Result<ClusterConfig> {
    counted(VendKind::K8sPlan, k8s_plan_vend(v, who, client, plan).await)
}

async fn k8s_plan_vend(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    plan: &str,
) -> Result<ClusterConfig> {
    let scope = format!("plan {plan}");
    let settings = need_admin(
        v.db,
        who,
        client.clone(),
        AuditEvent::K8sVendRefused,
        &scope,
    )
    .await?;
    let tenants = v.db.list_tenants().await.map_err(unreadable)?;
    let cluster = tenants
        .into_iter()
        .filter(|t| t.plan == plan)
        .find_map(|t| t.k8s)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "plan {plan} has no tenant with a Kubernetes cluster"
            ))
        })?;
    let role = settings
        .admin_role_arn
        .ok_or_else(|| Error::NotFound("no admin role configured".into()))?;
    let secs = clamp_session(settings.admin_session_secs, MAX_SESSION_SECS);
    k8s_vend(v, who, client, (&scope, &role, secs, None), &cluster).await
}

/// AssumeRole for `who` and turn the credentials into an EKS token for `cluster`
/// (docs/protocol.md §9), recorded in the audit trail as a `k8s vend` before the token leaves.
async fn k8s_vend(
    v: Vendor<'_>,
    who: Asker<'_>,
    client: Option<String>,
    (scope, role_arn, secs, grant): (&str, &str, i64, Option<&GrantRow>),
    cluster: &K8sCluster,
) -> Result<ClusterConfig> {
    let mut audit = who.audit(AuditEvent::K8sVend, client, scope, role_arn, secs);
    let now = std::time::SystemTime::now();
    let made = match v.sts.assume_role(role_arn, who.user, secs).await {
        Ok(creds) => v
            .sts
            .eks_token(&creds, &cluster.name, now)
            .map(|token| (token, creds.access_key_id)),
        Err(e) => Err(e),
    };
    let (token, key) = match made {
        Ok(made) => made,
        Err(e) => {
            let message = format!("{e:#}");
            let detail = format!("cluster {}: {message}", cluster.name);
            return Err(aws_refused(v.db, audit, AuditEvent::K8sVendFailed, detail, message).await);
        }
    };
    let granted = grant
        .map(|g| format!(" grant {}", g.id))
        .unwrap_or_default();
    audit.detail = Some(format!("cluster {} key {key}{granted}", cluster.name));
    v.db.audit(&audit).await.context("cannot record the vend")?;
    let refresh = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(K8S_TOKEN_REFRESH_SECS))
        .unwrap_or_else(|_| jiff::Timestamp::now());
    Ok(ClusterConfig {
        name: cluster.name.clone(),
        api_server: cluster.server.clone(),
        token,
        // DuploCloud's provider enum: 0 is EKS.
        k8_provider: 0,
        aws_region: v.sts.region.clone(),
        k8s_version: String::new(),
        certificate_authority_data_base64: Some(cluster.ca.clone().unwrap_or_default()),
        last_token_refresh_time: Some(jit_wire::time::rfc3339(refresh)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn asker(admin: bool, scope: TokenScope) -> Asker<'static> {
        Asker {
            user: "root",
            admin,
            scope,
            mfa: false,
            via: Via::Token("tok_test"),
        }
    }

    #[test]
    fn admin_rights_need_an_admin_and_for_a_login_admin_approval() {
        use AdminRefusal::{NotAdmin, TenantLogin};
        use TokenScope::{Admin, Full, Tenant};
        for (admin, scope, refusal) in [
            (true, Full, None),
            (true, Admin, None),
            (true, Tenant, Some(TenantLogin)),
            (false, Full, Some(NotAdmin)),
            (false, Admin, Some(NotAdmin)),
            (false, Tenant, Some(NotAdmin)),
        ] {
            assert_eq!(
                admin_refusal(&asker(admin, scope), false),
                refusal,
                "admin {admin}, {scope:?}"
            );
        }
        let session = Session {
            id: "ses_test".into(),
            user: "root".into(),
            csrf: String::new(),
            admin: true,
            mfa: false,
            created: 0,
        };
        assert_eq!(
            admin_refusal(&Asker::from(&session), false),
            None,
            "a browser session has its user's rights"
        );
        // With the second-factor setting on, only a sign-in that used one passes.
        assert_eq!(
            admin_refusal(&Asker::from(&session), true),
            Some(AdminRefusal::NoMfa)
        );
        let with_mfa = Session {
            mfa: true,
            ..session
        };
        assert_eq!(admin_refusal(&Asker::from(&with_mfa), true), None);
        let mut login = asker(true, Admin);
        assert_eq!(admin_refusal(&login, true), Some(AdminRefusal::NoMfa));
        login.mfa = true;
        assert_eq!(admin_refusal(&login, true), None);
        assert_eq!(
            admin_refusal(&asker(true, Tenant), true),
            Some(TenantLogin),
            "a tenant login is refused for its scope first"
        );
    }

    /// Both admin doors go through the rule: a tenant-access login is refused, and the refusal
    /// is in the trail with its reason, before STS is asked; admin approval
    /// gets past the rule (to "no role configured", in this empty portal).
    #[tokio::test]
    async fn a_tenant_login_is_refused_admin_roles_and_plans_and_the_trail_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
        // Nothing listens here: a call to STS or the sign-in endpoint would fail, not hang.
        let sts = Sts::with_keys(
            Some("http://127.0.0.1:9".into()),
            "eu-west-1".into(),
            "AKIAEXAMPLE000000000",
            "secret",
            false,
        );
        let signin =
            Signin::new(Some("http://127.0.0.1:9".into()), Duration::from_secs(1)).expect("signin");
        let v = Vendor {
            db: &db,
            sts: &sts,
            signin: &signin,
        };
        let tenant = asker(true, TokenScope::Tenant);
        let refused = admin(v, tenant, Some("10.0.0.1".into()), AdminRole::Admin).await;
        assert!(
            matches!(&refused, Err(Error::Forbidden(m)) if m.contains("tenant access only")),
            "{:?}",
            refused.err()
        );
        let refused = k8s_plan(v, tenant, None, "prod").await;
        assert!(
            matches!(refused, Err(Error::Forbidden(_))),
            "{:?}",
            refused.err()
        );

        let rows = db
            .audit_find(Some("root"), None, None, 10)
            .await
            .expect("trail");
        let rows: Vec<_> = rows
            .iter()
            .map(|r| (r.event.as_str(), r.scope.as_deref(), r.token_id.as_deref()))
            .collect();
        assert_eq!(
            rows,
            [
                ("vend refused", Some("admin"), Some("tok_test")),
                ("k8s vend refused", Some("plan prod"), Some("tok_test")),
            ]
        );
        let detail = db
            .audit_find(None, Some("vend refused"), None, 1)
            .await
            .expect("trail");
        assert!(
            detail[0]
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("approved for tenant access")),
            "{:?}",
            detail[0].detail
        );

        for scope in [TokenScope::Admin, TokenScope::Full] {
            let past = admin(v, asker(true, scope), None, AdminRole::DuploOps).await;
            assert!(
                matches!(&past, Err(Error::NotFound(m)) if m.contains("no duplo-ops role")),
                "{scope:?}: {:?}",
                past.err()
            );
        }
        let not_admin = admin(v, asker(false, TokenScope::Full), None, AdminRole::Admin).await;
        assert!(matches!(not_admin, Err(Error::Forbidden(_))));
        assert_eq!(
            db.audit_find(None, None, None, 10)
                .await
                .expect("trail")
                .len(),
            2,
            "only the tenant login's refusals are recorded"
        );
        db.close().await;
    }
}
