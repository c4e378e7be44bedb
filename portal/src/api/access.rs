//! The access request API (docs/protocol.md §13) for the CLI, chat bots and automation: thin
//! handlers over `domain::access`, with the same rules, messages and audit rows as the pages.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use jit_wire::access::{Comment, NewRequest};

use super::{ApiError, ApiResult};
use crate::db::Authed;
use crate::domain::access::{self, Person};
use crate::domain::{self};
use crate::state::{ClientIp, Shared, with_who};

fn person(who: &Authed, client: Option<String>) -> Person {
    Person {
        user: who.user.clone(),
        admin: who.admin,
        client,
        token_id: Some(who.token_id.clone()),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(t)| t).map_err(|e| {
        ApiError(domain::Error::Invalid(format!(
            "bad request body: {}",
            e.body_text()
        )))
    })
}

fn answer<T: serde::Serialize>(r: domain::Result<T>, who: &Authed) -> ApiResult<Response> {
    Ok(with_who(Json(r?).into_response(), &who.user))
}

/// `POST` [`jit_wire::paths::ACCESS_REQUESTS`]: ask (or break the glass).
pub async fn create(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    who: Authed,
    new: Result<Json<NewRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let new = body(new)?;
    answer(
        access::create(&app.db, &person(&who, client), &new, now()).await,
        &who,
    )
}

/// `GET` [`jit_wire::paths::ACCESS_REQUESTS`]: the asker's requests.
pub async fn mine(State(app): State<Shared>, who: Authed) -> ApiResult<Response> {
    answer(
        access::mine(&app.db, &person(&who, None), now()).await,
        &who,
    )
}

/// `GET` [`jit_wire::paths::ACCESS_TO_APPROVE`].
pub async fn to_approve(State(app): State<Shared>, who: Authed) -> ApiResult<Response> {
    answer(
        access::to_approve(&app.db, &person(&who, None), now()).await,
        &who,
    )
}

/// `GET` [`jit_wire::paths::ACCESS_REQUEST`].
pub async fn get(
    State(app): State<Shared>,
    Path(id): Path<String>,
    who: Authed,
) -> ApiResult<Response> {
    answer(
        access::get(&app.db, &person(&who, None), &id, now()).await,
        &who,
    )
}

async fn decide(
    app: Shared,
    id: String,
    client: Option<String>,
    who: Authed,
    approve: bool,
    c: Result<Json<Comment>, JsonRejection>,
) -> ApiResult<Response> {
    let c = body(c)?;
    let who_ = person(&who, client);
    let r = access::decide(&app.db, &who_, &id, approve, c.comment.as_deref(), now()).await;
    answer(r, &who)
}

/// `POST` [`jit_wire::paths::ACCESS_APPROVE`].
pub async fn approve(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
    c: Result<Json<Comment>, JsonRejection>,
) -> ApiResult<Response> {
    decide(app, id, client, who, true, c).await
}

/// `POST` [`jit_wire::paths::ACCESS_DENY`].
pub async fn deny(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
    c: Result<Json<Comment>, JsonRejection>,
) -> ApiResult<Response> {
    decide(app, id, client, who, false, c).await
}

/// `POST` [`jit_wire::paths::ACCESS_WITHDRAW`].
pub async fn withdraw(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
) -> ApiResult<Response> {
    let r = access::withdraw(&app.db, &person(&who, client), &id, now()).await;
    answer(r, &who)
}

/// `GET` [`jit_wire::paths::ACCESS_GRANTS`].
pub async fn grants(State(app): State<Shared>, who: Authed) -> ApiResult<Response> {
    answer(
        access::grants(&app.db, &person(&who, None), now()).await,
        &who,
    )
}

/// `GET` [`jit_wire::paths::ACCESS_REVIEWS`].
pub async fn reviews(State(app): State<Shared>, who: Authed) -> ApiResult<Response> {
    answer(access::reviews(&app.db, &person(&who, None)).await, &who)
}

/// `POST` [`jit_wire::paths::ACCESS_REVOKE`].
pub async fn revoke(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
) -> ApiResult<Response> {
    answer(
        access::revoke(&app.db, &person(&who, client), &id, app.cut_off.as_ref()).await,
        &who,
    )
}

/// `POST` [`jit_wire::paths::ACCESS_REVIEW`].
pub async fn review(
    State(app): State<Shared>,
    Path(id): Path<String>,
    ClientIp(client): ClientIp,
    who: Authed,
    c: Result<Json<Comment>, JsonRejection>,
) -> ApiResult<Response> {
    let c = body(c)?;
    let r = access::review(&app.db, &person(&who, client), &id, c.comment.as_deref()).await;
    answer(r, &who)
}
