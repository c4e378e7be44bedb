//! The access admin page: local groups and their members, who is eligible for each target and
//! who approves it, and each target's policy. Every change goes through `domain::access`, the
//! functions `jit portal group|eligible|approver|policy` call.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::{NoticeQuery, actor, done, page};
use crate::db::{Group, Policy, Principal};
use crate::domain::access::{self, Member, PolicyChange, Role};
use crate::domain::rules::{Name, SessionSecs};
use crate::domain::{self, Outcome};
use crate::state::{ClientIp, Shared};
use crate::web::extract::{Admin, AdminForm, PageForm, first, first_trimmed, ticked};
use crate::web::{Chrome, Framed, PageResult, unreadable};

const PAGE: &str = "/admin/access";

#[derive(Template)]
#[template(path = "admin/access.html")]
struct AccessAdminPage<'a> {
    chrome: Chrome<'a>,
    groups: &'a [Group],
    rules: &'a [Principal],
    policies: &'a [Policy],
    notice: Option<&'static str>,
    error: Option<String>,
}

/// Every form of the page: which one it is says `form`; the others' fields stay empty.
#[derive(Deserialize)]
pub struct AccessForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
    /// `add` or `remove`.
    #[serde(default, deserialize_with = "first_trimmed")]
    action: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    group: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    user: String,
    /// `eligible` or `approver`.
    #[serde(default, deserialize_with = "first_trimmed")]
    role: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    target: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    member: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    approvals: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    max_grant: String,
    #[serde(default, deserialize_with = "ticked")]
    reason_required: bool,
    #[serde(default, deserialize_with = "ticked")]
    ticket_required: bool,
    #[serde(default, deserialize_with = "ticked")]
    break_glass: bool,
}

impl PageForm for AccessForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        PAGE.into()
    }
}

/// The page.
pub async fn show(
    State(app): State<Shared>,
    Admin(session): Admin,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let groups = app.db.list_groups().await.map_err(unreadable)?;
    let rules = app.db.list_principals().await.map_err(unreadable)?;
    let policies = app.db.list_policies().await.map_err(unreadable)?;
    Ok(page(
        &session,
        StatusCode::OK,
        &AccessAdminPage {
            chrome: Chrome::of(&session),
            groups: &groups,
            rules: &rules,
            policies: &policies,
            notice: q.notice(),
            error: None,
        },
    ))
}

fn adding(action: &str) -> domain::Result<bool> {
    match action {
        "add" => Ok(true),
        "remove" => Ok(false),
        _ => Err(domain::Error::Invalid("add or remove".into())),
    }
}

fn outcome(o: Outcome, add: bool) -> &'static str {
    match (o, add) {
        (Outcome::Unchanged, _) => "unchanged",
        (Outcome::Saved, true) => "added",
        (Outcome::Saved, false) => "removed",
    }
}

/// `POST /admin/access/group`: add or remove a local group.
pub async fn group(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<AccessForm>,
) -> PageResult {
    let who = actor(&session, client);
    let did = async {
        let add = adding(&form.action)?;
        if add {
            let name = Name::parse("group", &form.group)?;
            Ok(outcome(
                access::group_add(&app.db, &who, &name).await?,
                true,
            ))
        } else {
            access::group_remove(&app.db, &who, &form.group).await?;
            Ok("removed")
        }
    };
    let what = did.await.framed(&session)?;
    Ok(done(&session, PAGE, what))
}

/// `POST /admin/access/member`: put a user in a local group or take them out.
pub async fn member(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<AccessForm>,
) -> PageResult {
    let who = actor(&session, client);
    let did = async {
        let add = adding(&form.action)?;
        let o = access::group_member(&app.db, &who, &form.group, &form.user, add).await?;
        Ok::<_, domain::Error>(outcome(o, add))
    };
    let what = did.await.framed(&session)?;
    Ok(done(&session, PAGE, what))
}

/// `POST /admin/access/rule`: a user or group eligible for, or approving, a target.
pub async fn rule(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<AccessForm>,
) -> PageResult {
    let who = actor(&session, client);
    let did = async {
        let add = adding(&form.action)?;
        let role = match form.role.as_str() {
            "eligible" => Role::Eligible,
            "approver" => Role::Approver,
            _ => return Err(domain::Error::Invalid("eligible or approver".into())),
        };
        let target = match add {
            true => access::target(&app.db, &form.target).await?,
            false => {
                jit_wire::access::Target::parse(&form.target).map_err(domain::Error::Invalid)?
            }
        };
        let member = Member::parse(&form.member)?;
        let o = access::rule(&app.db, &who, &target, role, &member, add).await?;
        Ok(outcome(o, add))
    };
    let what = did.await.framed(&session)?;
    Ok(done(&session, PAGE, what))
}

/// `POST /admin/access/policy`: a target's whole policy.
pub async fn policy(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<AccessForm>,
) -> PageResult {
    let who = actor(&session, client);
    let did = async {
        let target = access::target(&app.db, &form.target).await?;
        let approvals = form
            .approvals
            .parse::<i64>()
            .map_err(|_| domain::Error::Invalid("approvals must be 1 or 2".into()))?;
        let change = PolicyChange {
            approvals: Some(approvals),
            max_grant: Some(SessionSecs::parse("Longest grant", &form.max_grant)?),
            reason: Some(form.reason_required),
            ticket: Some(form.ticket_required),
            break_glass: Some(form.break_glass),
        };
        let o = access::set_policy(&app.db, &who, &target, change).await?;
        Ok::<_, domain::Error>(match o {
            Outcome::Saved => "saved",
            Outcome::Unchanged => "unchanged",
        })
    };
    let what = did.await.framed(&session)?;
    Ok(done(&session, PAGE, what))
}
