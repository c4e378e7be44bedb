//! The access pages (docs/access.md): the request form (also on the profile page), the
//! requester's requests and grants, and the approver's queue (approve or deny with a comment,
//! review break-glass). Every action is a POST with the session's CSRF token through the same
//! `domain::access` functions as the API and `jit request`, then back to the page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::extract::{PageForm, SignedForm, SignedIn, last};
use super::{Chrome, Framed, PageResult, render, see_other};
use crate::db::Session;
use crate::domain::access::{self, Person};
use crate::domain::{self};
use crate::state::{ClientIp, Shared, with_who};

/// Where the pages live.
pub const PAGE: &str = "/access";

pub(super) fn person(session: &Session, client: Option<String>) -> Person {
    Person {
        user: session.user.clone(),
        admin: session.admin,
        client,
        token_id: None,
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A target the user may request, for the form's checkboxes.
pub struct Choice {
    /// The canonical spelling the form posts.
    pub value: String,
    /// Safe in an element id.
    pub key: String,
    pub label: String,
}

/// The targets `user` is eligible for.
pub async fn choices(app: &Shared, user: &str) -> domain::Result<Vec<Choice>> {
    Ok(app
        .db
        .targets_of(user, "eligible")
        .await?
        .into_iter()
        .map(|t| Choice {
            key: t.replace(':', "-"),
            label: t
                .strip_prefix("tenant:")
                .map_or(t.clone(), |n| format!("Tenant {n}")),
            value: t,
        })
        .collect())
}

/// The request form.
#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default, deserialize_with = "last")]
    duration: String,
    #[serde(default, deserialize_with = "last")]
    reason: String,
    #[serde(default, deserialize_with = "last")]
    ticket: String,
    #[serde(default, deserialize_with = "last")]
    break_glass: String,
}

impl PageForm for RequestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        PAGE.into()
    }
}

/// A decision, a withdrawal, a revoke or a review: one id, maybe a comment.
#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    id: String,
    #[serde(default, deserialize_with = "last")]
    comment: String,
    #[serde(default, deserialize_with = "last")]
    decision: String,
}

impl PageForm for ActForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        PAGE.into()
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default, deserialize_with = "last")]
    done: String,
}

/// A request as a row of the page.
pub struct Row {
    pub id: String,
    pub user: String,
    pub targets: String,
    pub state: String,
    pub minutes: i64,
    pub reason: String,
    pub ticket: String,
    pub approvals: String,
    pub expires: String,
    pub break_glass: bool,
    pub pending: bool,
}

impl From<jit_wire::access::Request> for Row {
    fn from(r: jit_wire::access::Request) -> Row {
        let yes = r.decisions.iter().filter(|d| d.approve).count();
        let said: Vec<String> = r
            .decisions
            .iter()
            .map(|d| {
                let verb = if d.approve { "approved" } else { "denied" };
                match &d.comment {
                    Some(c) => format!("{} {verb}: {c}", d.approver),
                    None => format!("{} {verb}", d.approver),
                }
            })
            .collect();
        Row {
            pending: r.state == jit_wire::access::RequestState::Pending,
            state: r.state.as_str().into(),
            approvals: format!(
                "{yes} of {}{}",
                r.approvals_needed,
                match said.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", said.join("; ")),
                }
            ),
            id: r.id,
            user: r.user,
            targets: r.targets.join(", "),
            minutes: r.duration_secs / 60,
            reason: r.reason.unwrap_or_default(),
            ticket: r.ticket.unwrap_or_default(),
            expires: r.expires,
            break_glass: r.break_glass,
        }
    }
}

#[derive(Template)]
#[template(path = "access/page.html")]
struct AccessPage<'a> {
    chrome: Chrome<'a>,
    choices: &'a [Choice],
    mine: &'a [Row],
    grants: &'a [jit_wire::access::Grant],
    to_approve: &'a [Row],
    reviews: &'a [jit_wire::access::Grant],
    notice: Option<&'a str>,
}

/// The access page: the form, one's requests and grants, and what one may decide.
pub async fn page(
    State(app): State<Shared>,
    SignedIn(session): SignedIn,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let who = person(&session, None);
    let loaded = async {
        let choices = choices(&app, &session.user).await?;
        let mine: Vec<Row> = access::mine(&app.db, &who, now())
            .await?
            .into_iter()
            .map(Row::from)
            .collect();
        let grants = access::grants(&app.db, &who, now()).await?;
        let to_approve: Vec<Row> = access::to_approve(&app.db, &who, now())
            .await?
            .into_iter()
            .map(Row::from)
            .collect();
        let reviews = access::reviews(&app.db, &who).await?;
        Ok::<_, domain::Error>((choices, mine, grants, to_approve, reviews))
    };
    let (choices, mine, grants, to_approve, reviews) = loaded.await.framed(&session)?;
    let notice = match q.done.as_str() {
        "requested" => Some("Your request is sent: an approver decides."),
        "granted" => Some("Break-glass: access granted now; approvers will review it."),
        "approved" => Some("Your decision is recorded."),
        "denied" => Some("The request is denied."),
        "withdrawn" => Some("The request is withdrawn."),
        "revoked" => Some("The grant has ended."),
        "reviewed" => Some("The break-glass grant is reviewed."),
        _ => None,
    };
    Ok(with_who(
        render(
            StatusCode::OK,
            &AccessPage {
                chrome: Chrome::of(&session),
                choices: &choices,
                mine: &mine,
                grants: &grants,
                to_approve: &to_approve,
                reviews: &reviews,
                notice,
            },
        ),
        &session.user,
    ))
}

fn back(session: &Session, done: &str) -> Response {
    with_who(see_other(&format!("{PAGE}?done={done}")), &session.user)
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// `POST /access/request`.
pub async fn request(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<RequestForm>,
) -> PageResult {
    let duration_secs = form
        .duration
        .trim()
        .parse::<i64>()
        .map_err(|_| domain::Error::Invalid("choose how long you need the access".into()))
        .framed(&session)?;
    let new = jit_wire::access::NewRequest {
        targets: form.target,
        duration_secs,
        reason: optional(&form.reason),
        ticket: optional(&form.ticket),
        break_glass: !form.break_glass.is_empty(),
    };
    let r = access::create(&app.db, &person(&session, client), &new, now())
        .await
        .framed(&session)?;
    let done = match r.state {
        jit_wire::access::RequestState::Approved => "granted",
        _ => "requested",
    };
    Ok(back(&session, done))
}

/// `POST /access/decide`: `decision` is `approve` or `deny`.
pub async fn decide(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<ActForm>,
) -> PageResult {
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(domain::Error::Invalid("approve or deny".into())).framed(&session),
    };
    let comment = optional(&form.comment);
    access::decide(
        &app.db,
        &person(&session, client),
        &form.id,
        approve,
        comment.as_deref(),
        now(),
    )
    .await
    .framed(&session)?;
    Ok(back(&session, if approve { "approved" } else { "denied" }))
}

/// `POST /access/withdraw`.
pub async fn withdraw(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<ActForm>,
) -> PageResult {
    access::withdraw(&app.db, &person(&session, client), &form.id, now())
        .await
        .framed(&session)?;
    Ok(back(&session, "withdrawn"))
}

/// `POST /access/revoke`.
pub async fn revoke(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<ActForm>,
) -> PageResult {
    access::revoke(
        &app.db,
        &person(&session, client),
        &form.id,
        app.cut_off.as_ref(),
    )
    .await
    .framed(&session)?;
    Ok(back(&session, "revoked"))
}

/// `POST /access/review`.
pub async fn review(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<ActForm>,
) -> PageResult {
    let comment = optional(&form.comment);
    access::review(
        &app.db,
        &person(&session, client),
        &form.id,
        comment.as_deref(),
    )
    .await
    .framed(&session)?;
    Ok(back(&session, "reviewed"))
}
