//! Access requests and approvals (docs/access.md), below every door (`jit portal`, the API, the
//! pages): groups, who is eligible for a target and who approves it, each target's policy,
//! requests, decisions with a quorum of distinct approvers, break-glass, grants, revoke and
//! review. Each change checks its rule, writes its audit rows and commits in one transaction.
//! The vend (`vend.rs`) asks here only after standing access failed.

use jit_wire::access::{self as wire, RequestState, Target};

use super::rules::{MIN_SESSION_SECS, Name, SessionSecs};
use super::{Actor, Error, Outcome, Result};
use crate::aws::Iam;
use crate::db::{
    AuditEntry, AuditEvent, Db, Decided, GrantRow, NewDecision, Policy, Principal, RequestRow,
};
use crate::secret;

/// How long after its end a grant is still named when a vend is refused.
const RECENT_GRANT_SECS: i64 = 24 * 3600;

/// How long a request waits for its decision before it expires.
pub const PENDING_SECS: i64 = 3 * 3600;
/// The most targets one request may name.
const MAX_TARGETS: usize = 16;
/// The longest reason, ticket or comment kept.
const MAX_TEXT: usize = 500;

/// What an eligibility or approval rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Eligible,
    Approver,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Eligible => "eligible",
            Role::Approver => "approver",
        }
    }
}

/// A user (`alice`) or a group (`group:ops`) in a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    User(Name),
    Group(Name),
}

impl Member {
    pub fn parse(text: &str) -> Result<Member> {
        match text.strip_prefix("group:") {
            Some(g) => Ok(Member::Group(Name::parse("group", g)?)),
            None => Ok(Member::User(Name::parse("user", text)?)),
        }
    }

    fn shown(&self) -> String {
        match self {
            Member::User(n) => n.as_str().into(),
            Member::Group(n) => format!("group:{}", n.as_str()),
        }
    }
}

/// A target typed at a door, checked to exist: a tenant must be one the portal has.
pub async fn target(db: &Db, text: &str) -> Result<Target> {
    let t = Target::parse(text).map_err(Error::Invalid)?;
    if let Target::Tenant(name) = &t
        && !db.list_tenants().await?.iter().any(|x| &x.name == name)
    {
        return Err(Error::Invalid(format!(
            "there is no tenant '{}'",
            crate::log::escape(name)
        )));
    }
    Ok(t)
}

fn text(label: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "the {label} must be one line of at most {MAX_TEXT} characters"
        )));
    }
    Ok(Some(v.into()))
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(jit_wire::time::rfc3339)
        .unwrap_or_default()
}

// ---- groups ----

pub async fn group_add(db: &Db, actor: &Actor, name: &Name) -> Result<Outcome> {
    let audit = actor
        .audit(AuditEvent::GroupAdd)
        .detail(format!("group {}", name.as_str()));
    Ok(match db.add_group(name.as_str(), audit).await? {
        true => Outcome::Saved,
        false => Outcome::Unchanged,
    })
}

pub async fn group_remove(db: &Db, actor: &Actor, name: &str) -> Result<()> {
    let audit = actor
        .audit(AuditEvent::GroupRemove)
        .detail(format!("group {name}"));
    if !db.remove_group(name, audit).await? {
        return Err(Error::NotFound(format!(
            "no group '{}'",
            crate::log::escape(name)
        )));
    }
    Ok(())
}

/// Put a user in a local group (`add`) or take them out.
pub async fn group_member(
    db: &Db,
    actor: &Actor,
    group: &str,
    user: &str,
    add: bool,
) -> Result<Outcome> {
    if !db.group_exists(group).await? {
        return Err(Error::NotFound(format!(
            "no group '{}': add it first with `jit portal group add`",
            crate::log::escape(group)
        )));
    }
    if !db.user_exists(user).await? {
        return Err(Error::NotFound(format!(
            "no portal user '{}'",
            crate::log::escape(user)
        )));
    }
    let event = match add {
        true => AuditEvent::GroupMemberAdd,
        false => AuditEvent::GroupMemberRemove,
    };
    let audit = actor
        .audit(event)
        .user(user)
        .detail(format!("group {group}"));
    Ok(match db.set_group_member(group, user, add, audit).await? {
        true => Outcome::Saved,
        false => Outcome::Unchanged,
    })
}

/// A single sign-on's `groups` claim at a sign-in: the user's `sso` memberships become exactly
/// these (names that are no valid group name are dropped). Audited when they change.
pub async fn sso_groups(
    db: &Db,
    user: &str,
    claim: &[String],
    client: Option<String>,
) -> Result<()> {
    let mut groups: Vec<String> = claim
        .iter()
        .filter(|g| Name::parse("group", g).is_ok())
        .cloned()
        .collect();
    groups.sort();
    groups.dedup();
    let mut audit = AuditEntry::new(AuditEvent::SsoGroups, "sso")
        .user(user)
        .detail(format!("groups {}", or_dash(&groups.join(","))));
    audit.client = client;
    db.replace_sso_groups(user, &groups, audit).await?;
    Ok(())
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

// ---- eligibility, approvers, policy ----

/// Add or remove `member` as `role` of `target`.
pub async fn rule(
    db: &Db,
    actor: &Actor,
    target: &Target,
    role: Role,
    member: &Member,
    add: bool,
) -> Result<Outcome> {
    if add
        && let Member::User(u) = member
        && !db.user_exists(u.as_str()).await?
    {
        return Err(Error::NotFound(format!("no portal user '{}'", u.as_str())));
    }
    let (kind, name) = match member {
        Member::User(n) => ("user", n),
        Member::Group(n) => ("group", n),
    };
    let p = Principal {
        target: target.spelling(),
        role: role.as_str().into(),
        kind: kind.into(),
        name: name.as_str().into(),
    };
    let event = match (role, add) {
        (Role::Eligible, true) => AuditEvent::EligibleAdd,
        (Role::Eligible, false) => AuditEvent::EligibleRemove,
        (Role::Approver, true) => AuditEvent::ApproverAdd,
        (Role::Approver, false) => AuditEvent::ApproverRemove,
    };
    let mut audit = actor
        .audit(event)
        .detail(format!("{} {}", role.as_str(), member.shown()));
    audit.scope = Some(target.spelling());
    if let Member::User(u) = member {
        audit.user = Some(u.as_str().into());
    }
    Ok(match db.set_principal(&p, add, audit).await? {
        true => Outcome::Saved,
        false => Outcome::Unchanged,
    })
}

/// A change to a target's policy; `None` keeps a setting.
#[derive(Debug, Default, Clone)]
pub struct PolicyChange {
    pub approvals: Option<i64>,
    pub max_grant: Option<SessionSecs>,
    pub reason: Option<bool>,
    pub ticket: Option<bool>,
    pub break_glass: Option<bool>,
}

pub async fn set_policy(
    db: &Db,
    actor: &Actor,
    target: &Target,
    change: PolicyChange,
) -> Result<Outcome> {
    if let Some(n) = change.approvals
        && !(1..=2).contains(&n)
    {
        return Err(Error::Invalid("approvals must be 1 or 2".into()));
    }
    let old = db.policy(&target.spelling()).await?;
    let new = Policy {
        target: old.target.clone(),
        approvals_needed: change.approvals.unwrap_or(old.approvals_needed),
        max_grant_secs: change
            .max_grant
            .map(SessionSecs::get)
            .unwrap_or(old.max_grant_secs),
        reason_required: change.reason.unwrap_or(old.reason_required),
        ticket_required: change.ticket.unwrap_or(old.ticket_required),
        break_glass: change.break_glass.unwrap_or(old.break_glass),
    };
    let mut changes = Vec::new();
    let mut diff = |field: &str, a: String, b: String| {
        if a != b {
            changes.push(format!("{field} {a} -> {b}"));
        }
    };
    diff(
        "approvals",
        old.approvals_needed.to_string(),
        new.approvals_needed.to_string(),
    );
    diff(
        "max_grant",
        old.max_grant_secs.to_string(),
        new.max_grant_secs.to_string(),
    );
    diff(
        "reason_required",
        old.reason_required.to_string(),
        new.reason_required.to_string(),
    );
    diff(
        "ticket_required",
        old.ticket_required.to_string(),
        new.ticket_required.to_string(),
    );
    diff(
        "break_glass",
        old.break_glass.to_string(),
        new.break_glass.to_string(),
    );
    if changes.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let mut audit = actor
        .audit(AuditEvent::PolicySet)
        .detail(changes.join(", "));
    audit.scope = Some(target.spelling());
    db.set_policy(&new, audit).await?;
    Ok(Outcome::Saved)
}

// ---- requests ----

/// Who acts on a request: a token's holder or a signed-in user.
#[derive(Debug, Clone)]
pub struct Person {
    pub user: String,
    pub admin: bool,
    pub client: Option<String>,
    pub token_id: Option<String>,
}

impl Person {
    fn audit(&self, event: AuditEvent, user: &str, scope: Option<String>) -> AuditEntry {
        let mut a = AuditEntry::new(event, &self.user).user(user);
        a.client.clone_from(&self.client);
        a.token_id.clone_from(&self.token_id);
        a.scope = scope;
        a
    }
}

/// The policy that governs a request for several targets: the strictest of theirs.
fn combined(policies: &[Policy]) -> Policy {
    let mut all = Policy::default_for("");
    all.approvals_needed = policies
        .iter()
        .map(|p| p.approvals_needed)
        .max()
        .unwrap_or(1);
    all.max_grant_secs = policies.iter().map(|p| p.max_grant_secs).min().unwrap_or(0);
    all.reason_required = policies.iter().any(|p| p.reason_required);
    all.ticket_required = policies.iter().any(|p| p.ticket_required);
    all.break_glass = !policies.is_empty() && policies.iter().all(|p| p.break_glass);
    all
}

fn grants_for(r: &RequestRow, now: i64, who: &Person) -> Result<Vec<(GrantRow, AuditEntry)>> {
    r.targets
        .iter()
        .map(|t| {
            let g = GrantRow {
                id: secret::new_id("g_")?,
                request: r.id.clone(),
                user_name: r.user_name.clone(),
                target: t.clone(),
                starts: now,
                ends: now + r.duration_secs,
                revoked: None,
                revoked_by: None,
                break_glass: r.break_glass,
                reviewed: None,
                reviewed_by: None,
            };
            let mut a = who.audit(AuditEvent::GrantStart, &r.user_name, Some(t.clone()));
            a.duration_secs = Some(r.duration_secs);
            a.detail = Some(format!(
                "grant {} of request {} until {}{}",
                g.id,
                r.id,
                rfc3339(g.ends),
                if g.break_glass { " (break-glass)" } else { "" }
            ));
            Ok((g, a))
        })
        .collect::<anyhow::Result<_>>()
        .map_err(Error::Failed)
}

/// Ask for access to one or more targets. A break-glass request, where every target's policy
/// allows it, is approved by its own requester at once (with a mandatory reason) and its grants
/// wait in the review queue.
pub async fn create(
    db: &Db,
    who: &Person,
    new: &wire::NewRequest,
    now: i64,
) -> Result<wire::Request> {
    let mut targets: Vec<Target> = Vec::new();
    for t in &new.targets {
        let t = target(db, t).await?;
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    if targets.is_empty() || targets.len() > MAX_TARGETS {
        return Err(Error::Invalid(format!(
            "name 1 to {MAX_TARGETS} targets (tenant names, admin, duplo-ops)"
        )));
    }
    let eligible = db.targets_of(&who.user, "eligible").await?;
    let mut policies = Vec::new();
    for t in &targets {
        let standing = match t {
            Target::Tenant(name) => who.admin || db.is_member(&who.user, name).await?,
            Target::Admin | Target::DuploOps => who.admin,
        };
        if standing {
            return Err(Error::Invalid(format!(
                "you already have standing access to {t}: there is nothing to request"
            )));
        }
        if !eligible.contains(&t.spelling()) {
            return Err(Error::Forbidden(format!(
                "you are not eligible for {t}: ask an admin (`jit portal eligible add {} {}`)",
                t.short(),
                who.user
            )));
        }
        policies.push(db.policy(&t.spelling()).await?);
    }
    let policy = combined(&policies);
    let reason = text("reason", new.reason.as_deref())?;
    let ticket = text("ticket", new.ticket.as_deref())?;
    if new.duration_secs < MIN_SESSION_SECS || new.duration_secs > policy.max_grant_secs {
        return Err(Error::Invalid(format!(
            "the grant must last from 15m to {}s (the longest the policy of {} allows)",
            policy.max_grant_secs,
            shown(&targets)
        )));
    }
    if (policy.reason_required || new.break_glass) && reason.is_none() {
        return Err(Error::Invalid(format!(
            "a reason is required for {}{}",
            shown(&targets),
            if new.break_glass {
                " (break-glass)"
            } else {
                ""
            }
        )));
    }
    if policy.ticket_required && ticket.is_none() {
        return Err(Error::Invalid(format!(
            "a ticket is required for {}",
            shown(&targets)
        )));
    }
    if new.break_glass && !policy.break_glass {
        return Err(Error::Forbidden(format!(
            "break-glass is not allowed for {}",
            shown(&targets)
        )));
    }
    let mut r = RequestRow {
        id: secret::new_id("r_")?,
        user_name: who.user.clone(),
        created: now,
        expires: now + PENDING_SECS,
        duration_secs: new.duration_secs,
        reason,
        ticket,
        break_glass: new.break_glass,
        state: RequestState::Pending.as_str().into(),
        decided: None,
        targets: targets.iter().map(Target::spelling).collect(),
        decisions: Vec::new(),
    };
    let scope = Some(r.targets.join(" "));
    let mut audit = who.audit(AuditEvent::AccessRequest, &who.user, scope.clone());
    audit.duration_secs = Some(r.duration_secs);
    let approvers = approvers_of(db, &r.targets).await?;
    audit.detail = Some(format!(
        "request {}{}; approvers: {}; reason: {}; ticket: {}",
        r.id,
        if r.break_glass { " (break-glass)" } else { "" },
        or_dash(&approvers.join(", ")),
        r.reason.as_deref().unwrap_or("-"),
        r.ticket.as_deref().unwrap_or("-"),
    ));
    let mut audits = vec![audit];
    let mut grants = Vec::new();
    if r.break_glass {
        r.state = RequestState::Approved.as_str().into();
        r.decided = Some(now);
        let mut glass = who.audit(AuditEvent::BreakGlass, &who.user, scope);
        glass.detail = Some(format!(
            "request {} approved by its requester; reason: {}",
            r.id,
            r.reason.as_deref().unwrap_or("-")
        ));
        audits.push(glass);
        grants = grants_for(&r, now, who)?;
    }
    db.insert_request(&r, &audits, &grants).await?;
    view(db, r).await
}

fn shown(targets: &[Target]) -> String {
    targets
        .iter()
        .map(Target::short)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The approvers of a target, as shown: users, and groups as `group:NAME`.
async fn approvers_of(db: &Db, targets: &[String]) -> Result<Vec<String>> {
    let mut all: Vec<String> = Vec::new();
    for t in targets {
        for p in db.principals(t, "approver").await? {
            let s = p.shown();
            if !all.contains(&s) {
                all.push(s);
            }
        }
    }
    Ok(all)
}

/// Whether `user` approves every one of `targets`.
async fn approves_all(db: &Db, user: &str, targets: &[String]) -> Result<bool> {
    let mine = db.targets_of(user, "approver").await?;
    Ok(!targets.is_empty() && targets.iter().all(|t| mine.contains(t)))
}

async fn view(db: &Db, r: RequestRow) -> Result<wire::Request> {
    let mut policies = Vec::new();
    for t in &r.targets {
        policies.push(db.policy(t).await?);
    }
    let approvers = approvers_of(db, &r.targets).await?;
    let grants = db.grants_of_request(&r.id).await?;
    Ok(wire::Request {
        state: RequestState::parse(&r.state).unwrap_or(RequestState::Pending),
        approvals_needed: combined(&policies).approvals_needed,
        approvers,
        created: rfc3339(r.created),
        expires: rfc3339(r.expires),
        decisions: r
            .decisions
            .iter()
            .map(|d| wire::Decision {
                approver: d.approver.clone(),
                approve: d.approve,
                comment: d.comment.clone(),
                at: rfc3339(d.at),
            })
            .collect(),
        grants: grants.into_iter().map(grant_view).collect(),
        id: r.id,
        user: r.user_name,
        targets: r.targets,
        duration_secs: r.duration_secs,
        reason: r.reason,
        ticket: r.ticket,
        break_glass: r.break_glass,
    })
}

pub fn grant_view(g: GrantRow) -> wire::Grant {
    wire::Grant {
        id: g.id,
        request: g.request,
        user: g.user_name,
        target: g.target,
        start: rfc3339(g.starts),
        end: rfc3339(g.ends),
        revoked: g.revoked.map(rfc3339),
        revoked_by: g.revoked_by,
        break_glass: g.break_glass,
        reviewed_by: g.reviewed_by,
    }
}

/// Pending requests past their time become expired (audited), before anything reads them.
pub async fn expire(db: &Db, now: i64) -> Result<usize> {
    Ok(db
        .expire_requests(now, |id, user| {
            AuditEntry::new(AuditEvent::AccessExpire, "portal")
                .user(user)
                .detail(format!("request {id} expired undecided"))
        })
        .await?)
}

async fn request_row(db: &Db, id: &str) -> Result<RequestRow> {
    db.request(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no request '{}'", crate::log::escape(id))))
}

/// One request, for its requester, an approver of one of its targets, or an admin.
pub async fn get(db: &Db, who: &Person, id: &str, now: i64) -> Result<wire::Request> {
    expire(db, now).await?;
    let r = request_row(db, id).await?;
    let mine = db.targets_of(&who.user, "approver").await?;
    if r.user_name != who.user && !who.admin && !r.targets.iter().any(|t| mine.contains(t)) {
        return Err(Error::NotFound(format!(
            "no request '{}'",
            crate::log::escape(id)
        )));
    }
    view(db, r).await
}

/// The asker's own requests, newest first.
pub async fn mine(db: &Db, who: &Person, now: i64) -> Result<Vec<wire::Request>> {
    expire(db, now).await?;
    let mut out = Vec::new();
    for r in db.requests_of(&who.user, 50).await? {
        out.push(view(db, r).await?);
    }
    Ok(out)
}

/// The pending requests the asker may decide and has not: others' requests for targets they
/// approve, every one of them.
pub async fn to_approve(db: &Db, who: &Person, now: i64) -> Result<Vec<wire::Request>> {
    expire(db, now).await?;
    let mine = db.targets_of(&who.user, "approver").await?;
    let mut out = Vec::new();
    for r in db.pending_requests().await? {
        let decided = r.decisions.iter().any(|d| d.approver == who.user);
        if r.user_name != who.user && !decided && r.targets.iter().all(|t| mine.contains(t)) {
            out.push(view(db, r).await?);
        }
    }
    Ok(out)
}

/// Approve (`approve`) or deny a request. Nobody decides their own; the approver must approve
/// every target of it; a quorum counts distinct approvers, and one denial denies.
pub async fn decide(
    db: &Db,
    who: &Person,
    id: &str,
    approve: bool,
    comment: Option<&str>,
    now: i64,
) -> Result<wire::Request> {
    expire(db, now).await?;
    let r = request_row(db, id).await?;
    if r.user_name == who.user {
        return Err(Error::Forbidden(
            "nobody approves or denies their own request: ask an approver (or use break-glass where the policy allows it)".into(),
        ));
    }
    if !approves_all(db, &who.user, &r.targets).await? {
        return Err(Error::Forbidden(format!(
            "you are not an approver of every target of request {id} ({})",
            r.targets.join(", ")
        )));
    }
    if r.state != RequestState::Pending.as_str() {
        return Err(Error::Invalid(format!("request {id} is {}", r.state)));
    }
    let comment = text("comment", comment)?;
    let mut policies = Vec::new();
    for t in &r.targets {
        policies.push(db.policy(t).await?);
    }
    let needed = combined(&policies).approvals_needed;
    let scope = Some(r.targets.join(" "));
    let event = match approve {
        true => AuditEvent::AccessApprove,
        false => AuditEvent::AccessDeny,
    };
    let mut audit = who.audit(event, &r.user_name, scope.clone());
    audit.detail = Some(format!(
        "request {id}; comment: {}",
        comment.as_deref().unwrap_or("-")
    ));
    let mut outcome = who.audit(AuditEvent::AccessApproved, &r.user_name, scope);
    outcome.detail = Some(format!("request {id}"));
    let grants = match approve {
        true => grants_for(&r, now, who)?,
        false => Vec::new(),
    };
    let decided = db
        .decide(
            NewDecision {
                request: id,
                approver: &who.user,
                approve,
                comment: comment.as_deref(),
                at: now,
                needed,
                grants,
                outcome,
            },
            audit,
        )
        .await?;
    match decided {
        Decided::NotPending => Err(Error::Invalid(format!("request {id} is no longer pending"))),
        Decided::Twice => Err(Error::Invalid(format!(
            "you have already decided request {id}: a quorum needs another approver"
        ))),
        Decided::Waiting(_) | Decided::Approved | Decided::Denied => {
            view(db, request_row(db, id).await?).await
        }
    }
}

/// The requester takes a pending request back.
pub async fn withdraw(db: &Db, who: &Person, id: &str, now: i64) -> Result<wire::Request> {
    expire(db, now).await?;
    let r = request_row(db, id).await?;
    if r.user_name != who.user {
        return Err(Error::Forbidden(
            "only the requester withdraws a request".into(),
        ));
    }
    let mut audit = who.audit(
        AuditEvent::AccessWithdraw,
        &r.user_name,
        Some(r.targets.join(" ")),
    );
    audit.detail = Some(format!("request {id}"));
    if !db
        .end_request(id, RequestState::Withdrawn.as_str(), audit)
        .await?
    {
        return Err(Error::Invalid(format!("request {id} is {}", r.state)));
    }
    view(db, request_row(db, id).await?).await
}

async fn grant_row(db: &Db, id: &str) -> Result<GrantRow> {
    db.grant(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no grant '{}'", crate::log::escape(id))))
}

/// End a grant now: its user, an approver of its target, or an admin. The next vend is
/// refused; credentials already out last until their own end, at most the grant's.
pub async fn revoke(db: &Db, who: &Person, id: &str, cut: Option<&Iam>) -> Result<wire::Grant> {
    let g = grant_row(db, id).await?;
    let approver = db
        .targets_of(&who.user, "approver")
        .await?
        .contains(&g.target);
    if g.user_name != who.user && !who.admin && !approver {
        return Err(Error::Forbidden(format!(
            "only its user, an approver of {} or an admin ends grant {id}",
            g.target
        )));
    }
    let mut audit = who.audit(
        AuditEvent::GrantRevoke,
        &g.user_name,
        Some(g.target.clone()),
    );
    audit.detail = Some(format!("grant {id} of request {}", g.request));
    let at = audit.at;
    if !db.revoke_grant(id, &who.user, audit).await? {
        return Err(Error::Invalid(format!("grant {id} has already ended")));
    }
    if let Some(iam) = cut {
        cut_off(db, iam, who, &g, at).await;
    }
    Ok(grant_view(grant_row(db, id).await?))
}

/// The role a target's credentials come from, if it has one now.
async fn role_of(db: &Db, target: &str) -> anyhow::Result<Option<String>> {
    Ok(match Target::parse(target).map_err(anyhow::Error::msg)? {
        Target::Tenant(name) => db
            .list_tenants()
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .map(|t| t.role_arn),
        Target::Admin => db.settings().await?.admin_role_arn,
        Target::DuploOps => db.settings().await?.ops_role_arn,
    })
}

/// After a revoke, with `--cut-off-on-revoke`: deny the role to the sessions the grant's user
/// started before now, so credentials already handed out stop working too. The revoke stands
/// whatever happens here; the trail says whether the cut-off was written.
async fn cut_off(db: &Db, iam: &Iam, who: &Person, g: &GrantRow, at: i64) {
    let before = rfc3339(at);
    let written = async {
        let role = role_of(db, &g.target)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{} has no role now", g.target))?;
        let (name, policy) = iam.cut_off(&role, &g.user_name, &before).await?;
        Ok::<_, anyhow::Error>((role, name, policy))
    };
    let audit = match written.await {
        Ok((role, name, policy)) => {
            let mut a = who.audit(
                AuditEvent::GrantCutOff,
                &g.user_name,
                Some(g.target.clone()),
            );
            a.role_arn = Some(role);
            a.detail = Some(format!(
                "grant {}: inline policy {policy} on role {name} denies the sessions of source identity {} issued before {before}",
                g.id,
                crate::aws::session_name(&g.user_name)
            ));
            a
        }
        Err(e) => {
            let message = format!("{e:#}");
            tracing::warn!(
                "the cut-off of grant {} failed (the grant is revoked): {}",
                g.id,
                crate::log::escape(&message)
            );
            let mut a = who.audit(
                AuditEvent::GrantCutOffFailed,
                &g.user_name,
                Some(g.target.clone()),
            );
            a.detail = Some(format!("grant {}: {message}", g.id));
            a
        }
    };
    if let Err(e) = db.audit(&audit).await {
        crate::log::failure("cannot record the cut-off", &e);
    }
}

/// Break-glass grants waiting for a review by the asker (an approver of their target, not
/// their user).
pub async fn reviews(db: &Db, who: &Person) -> Result<Vec<wire::Grant>> {
    let mine = db.targets_of(&who.user, "approver").await?;
    Ok(db
        .unreviewed_grants()
        .await?
        .into_iter()
        .filter(|g| g.user_name != who.user && mine.contains(&g.target))
        .map(grant_view)
        .collect())
}

/// An approver of its target (not its user) marks a break-glass grant reviewed.
pub async fn review(db: &Db, who: &Person, id: &str, comment: Option<&str>) -> Result<wire::Grant> {
    let g = grant_row(db, id).await?;
    if g.user_name == who.user {
        return Err(Error::Forbidden(
            "nobody reviews their own break-glass grant".into(),
        ));
    }
    if !db
        .targets_of(&who.user, "approver")
        .await?
        .contains(&g.target)
    {
        return Err(Error::Forbidden(format!(
            "only an approver of {} reviews grant {id}",
            g.target
        )));
    }
    let comment = text("comment", comment)?;
    let mut audit = who.audit(
        AuditEvent::BreakGlassReview,
        &g.user_name,
        Some(g.target.clone()),
    );
    audit.detail = Some(format!(
        "grant {id}; comment: {}",
        comment.as_deref().unwrap_or("-")
    ));
    if !db.review_grant(id, &who.user, audit).await? {
        return Err(Error::Invalid(format!(
            "grant {id} is no break-glass grant waiting for review"
        )));
    }
    Ok(grant_view(grant_row(db, id).await?))
}

/// The asker's grants that have not ended.
pub async fn grants(db: &Db, who: &Person, now: i64) -> Result<Vec<wire::Grant>> {
    Ok(db
        .live_grants_of(&who.user, now)
        .await?
        .into_iter()
        .map(grant_view)
        .collect())
}

/// Every grant that has not ended, for an admin.
pub async fn live_grants(db: &Db, now: i64) -> Result<Vec<wire::Grant>> {
    Ok(db
        .all_live_grants(now)
        .await?
        .into_iter()
        .map(grant_view)
        .collect())
}

// ---- the vend's side ----

/// Why a vend without standing access or a grant is refused: the pending request and its
/// approvers, how to ask for a target the user is eligible for, or a plain `Forbidden`.
pub async fn refusal(db: &Db, user: &str, target: &Target, now: i64) -> Error {
    let found = async {
        let spelled = target.spelling();
        if !db.targets_of(user, "eligible").await?.contains(&spelled) {
            return Ok::<_, anyhow::Error>(None);
        }
        if let Some(id) = db.pending_for(user, &spelled, now).await? {
            let approvers: Vec<String> = db
                .principals(&spelled, "approver")
                .await?
                .iter()
                .map(Principal::shown)
                .collect();
            return Ok(Some(wire::waiting(&id, &approvers)));
        }
        // A grant that ended or was revoked lately is what the user remembers: name it.
        if let Some(g) = db.last_grant(user, &spelled).await?
            && now - g.revoked.unwrap_or(g.ends).min(g.ends) < RECENT_GRANT_SECS
        {
            let (how, when) = match (&g.revoked, &g.revoked_by) {
                (Some(at), Some(by)) if *at < g.ends => (format!("was revoked by {by}"), *at),
                _ => ("ended".to_string(), g.ends),
            };
            return Ok(Some(wire::grant_over(&g.id, target, &how, &rfc3339(when))));
        }
        Ok(Some(wire::how_to_request(target)))
    };
    match found.await {
        Ok(Some(message)) => Error::Forbidden(message),
        Ok(None) => Error::Forbidden("Forbidden".into()),
        Err(e) => Error::Failed(e.context("portal state unreadable")),
    }
}

/// How long credentials vended inside `grant` may last: the session the target gives
/// (`session`, already within the role's limits), cut to the time left in the grant. Less
/// than STS's 15 minutes left refuses, naming the grant's end, rather than outlive it.
pub fn grant_secs(session: i64, grant: &GrantRow, now: i64) -> Result<i64> {
    let left = grant.ends - now;
    if left < MIN_SESSION_SECS {
        let target = Target::parse(&grant.target).map_err(Error::Invalid)?;
        return Err(Error::Forbidden(format!(
            "{}{} for {target} ends at {}: less than the 15 minutes AWS credentials last; request again with {}",
            wire::GRANT_ENDING,
            grant.id,
            rfc3339(grant.ends),
            wire::request_command(&target)
        )));
    }
    Ok(session.min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn audit() -> AuditEntry {
        AuditEntry::new(AuditEvent::UserAdd, "test")
    }

    fn person(user: &str) -> Person {
        Person {
            user: user.into(),
            admin: false,
            client: None,
            token_id: None,
        }
    }

    /// A portal with tenant `prod`, requester alice, approvers bob and carol (carol through
    /// group `leads`), alice eligible for prod.
    async fn portal() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path().join("p.db").to_str().expect("utf8"))
            .await
            .expect("open");
        db.upsert_tenant(
            "prod",
            "arn:aws:iam::111111111111:role/prod",
            3600,
            43200,
            audit(),
        )
        .await
        .expect("tenant");
        for u in ["alice", "bob", "carol"] {
            db.upsert_user(u, false, &[], audit()).await.expect("user");
        }
        let cli = Actor::cli();
        let prod = Target::Tenant("prod".into());
        let leads = Name::parse("group", "leads").expect("name");
        group_add(&db, &cli, &leads).await.expect("group");
        group_member(&db, &cli, "leads", "carol", true)
            .await
            .expect("member");
        for (role, who) in [
            (Role::Eligible, "alice"),
            (Role::Approver, "bob"),
            (Role::Approver, "group:leads"),
        ] {
            let m = Member::parse(who).expect("member");
            rule(&db, &cli, &prod, role, &m, true).await.expect("rule");
        }
        (dir, db)
    }

    fn ask(secs: i64) -> wire::NewRequest {
        wire::NewRequest {
            targets: vec!["prod".into()],
            duration_secs: secs,
            reason: Some("incident 42".into()),
            ticket: None,
            break_glass: false,
        }
    }

    #[tokio::test]
    async fn nobody_approves_their_own_request_and_a_quorum_needs_two_distinct_approvers() {
        let (_dir, db) = portal().await;
        let prod = Target::Tenant("prod".into());
        let change = PolicyChange {
            approvals: Some(2),
            ..PolicyChange::default()
        };
        set_policy(&db, &Actor::cli(), &prod, change)
            .await
            .expect("policy");
        let r = create(&db, &person("alice"), &ask(3600), NOW)
            .await
            .expect("ask");
        assert_eq!(r.state, RequestState::Pending);
        assert_eq!(r.approvers, ["bob", "group:leads"]);
        let own = decide(&db, &person("alice"), &r.id, true, None, NOW).await;
        assert!(matches!(own, Err(Error::Forbidden(_))), "{own:?}");
        let one = decide(&db, &person("bob"), &r.id, true, Some("ok"), NOW + 10)
            .await
            .expect("bob");
        assert_eq!(one.state, RequestState::Pending, "one of two approvals");
        let twice = decide(&db, &person("bob"), &r.id, true, None, NOW + 20).await;
        assert!(matches!(twice, Err(Error::Invalid(_))), "{twice:?}");
        assert!(
            db.active_grant("alice", "tenant:prod", NOW + 30)
                .await
                .expect("read")
                .is_none()
        );
        let two = decide(&db, &person("carol"), &r.id, true, None, NOW + 30)
            .await
            .expect("carol through her group");
        assert_eq!(two.state, RequestState::Approved);
        assert_eq!(two.grants.len(), 1);
        let g = db
            .active_grant("alice", "tenant:prod", NOW + 31)
            .await
            .expect("read")
            .expect("granted");
        assert_eq!((g.starts, g.ends), (NOW + 30, NOW + 30 + 3600));
        // Revoked by its user: the next vend finds nothing.
        revoke(&db, &person("alice"), &g.id, None)
            .await
            .expect("revoke");
        assert!(
            db.active_grant("alice", "tenant:prod", NOW + 40)
                .await
                .expect("read")
                .is_none()
        );
        let events: Vec<String> = db
            .audit_find(None, None, None, 100)
            .await
            .expect("trail")
            .into_iter()
            .map(|a| a.event)
            .filter(|e| e.starts_with("access") || e.starts_with("grant"))
            .collect();
        assert_eq!(
            events,
            [
                "access request",
                "access approve",
                "access approve",
                "access approved",
                "grant start",
                "grant revoke"
            ]
        );
    }

    #[tokio::test]
    async fn one_denial_denies_and_strangers_neither_decide_nor_see() {
        let (_dir, db) = portal().await;
        let r = create(&db, &person("alice"), &ask(3600), NOW)
            .await
            .expect("ask");
        let stranger = decide(&db, &person("dave"), &r.id, true, None, NOW).await;
        assert!(matches!(stranger, Err(Error::Forbidden(_))), "{stranger:?}");
        assert!(matches!(
            get(&db, &person("dave"), &r.id, NOW).await,
            Err(Error::NotFound(_))
        ));
        let denied = decide(&db, &person("bob"), &r.id, false, Some("not now"), NOW)
            .await
            .expect("deny");
        assert_eq!(denied.state, RequestState::Denied);
        assert!(denied.grants.is_empty());
        let late = decide(&db, &person("carol"), &r.id, true, None, NOW).await;
        assert!(matches!(late, Err(Error::Invalid(_))), "{late:?}");
    }

    #[tokio::test]
    async fn a_pending_request_expires_and_the_vend_names_it_until_then() {
        let (_dir, db) = portal().await;
        let prod = Target::Tenant("prod".into());
        let before = refusal(&db, "alice", &prod, NOW).await.to_string();
        assert!(before.contains("jit request prod --for 1h"), "{before}");
        assert!(
            refusal(&db, "bob", &prod, NOW).await.to_string() == "Forbidden",
            "not eligible: nothing to say"
        );
        let r = create(&db, &person("alice"), &ask(3600), NOW)
            .await
            .expect("ask");
        let waiting = refusal(&db, "alice", &prod, NOW + 1).await.to_string();
        assert_eq!(
            waiting,
            format!(
                "waiting for approval of request {} (approvers: bob, group:leads)",
                r.id
            )
        );
        let later = NOW + PENDING_SECS;
        assert_eq!(expire(&db, later).await.expect("expire"), 1);
        let r = get(&db, &person("alice"), &r.id, later).await.expect("get");
        assert_eq!(r.state, RequestState::Expired);
        let after = refusal(&db, "alice", &prod, later).await.to_string();
        assert!(after.contains("jit request"), "{after}");
        let late = decide(&db, &person("bob"), &r.id, true, None, later).await;
        assert!(matches!(late, Err(Error::Invalid(_))), "{late:?}");
    }

    #[tokio::test]
    async fn break_glass_needs_the_policy_and_a_reason_and_waits_for_review() {
        let (_dir, db) = portal().await;
        let glass = wire::NewRequest {
            break_glass: true,
            ..ask(1800)
        };
        let refused = create(&db, &person("alice"), &glass, NOW).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
        let prod = Target::Tenant("prod".into());
        let change = PolicyChange {
            break_glass: Some(true),
            ..PolicyChange::default()
        };
        set_policy(&db, &Actor::cli(), &prod, change)
            .await
            .expect("policy");
        let no_reason = wire::NewRequest {
            reason: None,
            ..glass.clone()
        };
        let refused = create(&db, &person("alice"), &no_reason, NOW).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
        let r = create(&db, &person("alice"), &glass, NOW)
            .await
            .expect("glass");
        assert_eq!(r.state, RequestState::Approved);
        let g = &r.grants[0];
        assert!(g.break_glass);
        assert!(reviews(&db, &person("alice")).await.expect("q").is_empty());
        let queue = reviews(&db, &person("bob")).await.expect("queue");
        assert_eq!(queue.len(), 1);
        let own = review(&db, &person("alice"), &g.id, None).await;
        assert!(matches!(own, Err(Error::Forbidden(_))), "{own:?}");
        review(&db, &person("bob"), &g.id, Some("seen"))
            .await
            .expect("review");
        assert!(reviews(&db, &person("carol")).await.expect("q").is_empty());
    }

    #[tokio::test]
    async fn a_request_keeps_to_the_policy() {
        let (_dir, db) = portal().await;
        let long = create(&db, &person("alice"), &ask(7200), NOW).await;
        assert!(
            matches!(long, Err(Error::Invalid(_))),
            "over the 1h default"
        );
        let short = create(&db, &person("alice"), &ask(60), NOW).await;
        assert!(matches!(short, Err(Error::Invalid(_))), "under 15 minutes");
        let no_reason = wire::NewRequest {
            reason: None,
            ..ask(3600)
        };
        let refused = create(&db, &person("alice"), &no_reason, NOW).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
        let admin = Person {
            admin: true,
            ..person("alice")
        };
        let standing = create(&db, &admin, &ask(3600), NOW).await;
        assert!(
            matches!(&standing, Err(Error::Invalid(m)) if m.contains("standing access")),
            "{standing:?}"
        );
        let not_eligible = create(&db, &person("bob"), &ask(3600), NOW).await;
        assert!(
            matches!(not_eligible, Err(Error::Forbidden(_))),
            "{not_eligible:?}"
        );
    }

    #[test]
    fn credentials_never_outlive_the_grant() {
        let g = GrantRow {
            id: "g_1".into(),
            request: "r_1".into(),
            user_name: "alice".into(),
            target: "tenant:prod".into(),
            starts: NOW,
            ends: NOW + 3600,
            revoked: None,
            revoked_by: None,
            break_glass: false,
            reviewed: None,
            reviewed_by: None,
        };
        assert_eq!(grant_secs(3600, &g, NOW).ok(), Some(3600));
        assert_eq!(
            grant_secs(43200, &g, NOW).ok(),
            Some(3600),
            "the grant's end wins"
        );
        assert_eq!(
            grant_secs(900, &g, NOW + 1000).ok(),
            Some(900),
            "the session wins"
        );
        assert_eq!(grant_secs(3600, &g, NOW + 2700).ok(), Some(900));
        let late = grant_secs(3600, &g, NOW + 2701);
        assert!(
            matches!(&late, Err(Error::Forbidden(m)) if m.contains("ends at") && wire::is_access_message(m)),
            "{late:?}"
        );
    }
}
