//! Passkeys on the web (docs/protocol.md §11): register and remove them on the profile's
//! second-factor page, and use one on the factor page after the password. The ceremonies are
//! JSON endpoints the portal's script (`/static/portal.js`) calls around
//! `navigator.credentials.create` / `.get`; each carries the page's CSRF token in its body (and a
//! JSON body cannot be sent cross-site without a preflight the portal never answers).
//!
//! A ceremony's state (webauthn-rs's, with its challenge) rides in a sealed cookie for five
//! minutes; the digest of that sealed value is spent in the transaction that stores the passkey
//! or starts the session, so a challenge is answered once.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::cookies::{self, PASSKEY_REG, PASSKEY_USE};
use super::extract::{PageForm, SignedForm, SignedIn, csrf_ok, last};
use super::signin::{login_csrf_ok, start_session};
use super::{Framed, PageError, factor, see_other, throttle};
use crate::db::{AuditEntry, AuditEvent, Claim, PasskeyRow};
use crate::domain;
use crate::domain::passkey::{self as pk, CEREMONY_SECS};
use crate::metrics;
use crate::secret;
use crate::state::{ClientIp, Shared, with_who};

const REG_PURPOSE: &str = "passkey register";
const USE_PURPOSE: &str = "passkey use";
/// A signed-in user's passkey check before a passkey goes.
const CONFIRM_PURPOSE: &str = "passkey confirm";

/// A ceremony under way, sealed in its cookie.
#[derive(Serialize, Deserialize)]
struct Ceremony<S> {
    user: String,
    at: i64,
    state: S,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn json_error(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({ "error": why }))).into_response()
}

fn internal(what: &'static str, e: anyhow::Error) -> PageError {
    PageError::Internal(what, e)
}

/// The relying party, or none (logged) when `--public-url` is an IP address.
fn relying_party(app: &Shared) -> Option<webauthn_rs::Webauthn> {
    pk::relying_party(&app.public_url)
        .map_err(|e| tracing::warn!("passkeys unavailable: {e:#}"))
        .ok()
}

/// The answer when there is no relying party.
fn no_relying_party() -> Response {
    json_error(
        StatusCode::CONFLICT,
        "passkeys need the portal's public URL to have a host name, not an IP address",
    )
}

fn seal<S: Serialize>(app: &Shared, purpose: &str, c: &Ceremony<S>) -> Result<String, PageError> {
    serde_json::to_vec(c)
        .map_err(anyhow::Error::new)
        .and_then(|json| secret::seal(&app.cookie_key, purpose, &json))
        .map_err(|e| internal("cannot seal a cookie", e))
}

/// The ceremony of `user` under way in this browser, with its sealed value (what is spent).
fn open<S: for<'de> Deserialize<'de>>(
    app: &Shared,
    headers: &HeaderMap,
    name: &str,
    purpose: &str,
    user: &str,
) -> Option<(Ceremony<S>, String)> {
    let sealed = cookies::get(app, headers, name)?;
    let opened = secret::open(&app.cookie_key, purpose, sealed)?;
    let c: Ceremony<S> = serde_json::from_slice(&opened).ok()?;
    let t = now();
    (c.user == user && c.at <= t && t < c.at + CEREMONY_SECS).then(|| (c, sealed.to_string()))
}

/// A user's stored passkeys, parsed (a row that does not parse is skipped, and logged).
async fn stored(app: &Shared, user: &str) -> Result<Vec<(PasskeyRow, Passkey)>, PageError> {
    let rows = app.db.passkeys(user).await.map_err(super::unreadable)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match serde_json::from_str::<Passkey>(&r.passkey) {
            Ok(p) => Some((r, p)),
            Err(e) => {
                tracing::error!("passkey {} unreadable: {e}", r.credential_id);
                None
            }
        })
        .collect())
}

/// A passkey as the profile lists it.
pub struct Listed {
    pub name: String,
    pub created: String,
    pub last_used: String,
}

fn when(t: Option<i64>) -> String {
    t.and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map_or_else(
            || "never".into(),
            |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

/// A user's passkeys for the profile's second-factor page.
pub async fn listed(app: &Shared, user: &str) -> Result<Vec<Listed>, PageError> {
    let rows = app.db.passkeys(user).await.map_err(super::unreadable)?;
    Ok(rows
        .into_iter()
        .map(|r| Listed {
            name: r.name,
            created: when(Some(r.created)),
            last_used: when(r.last_used),
        })
        .collect())
}

/// Start an assertion ceremony over `user`'s passkeys, sealed for `purpose` in
/// `__Host-jit_passkey`: the request options for `navigator.credentials.get` (the sign-in's
/// passkey step, and the check before a passkey is removed).
async fn start_assertion(app: &Shared, user: &str, purpose: &str) -> Result<Response, PageError> {
    let keys: Vec<Passkey> = stored(app, user)
        .await?
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    if keys.is_empty() {
        return Ok(json_error(StatusCode::NOT_FOUND, "you have no passkey"));
    }
    let Some(rp) = relying_party(app) else {
        return Ok(no_relying_party());
    };
    let (options, state) =
        pk::start_use(&rp, &keys).map_err(|e| internal("cannot start a passkey check", e))?;
    let sealed = seal(
        app,
        purpose,
        &Ceremony::<PasskeyAuthentication> {
            user: user.to_string(),
            at: now(),
            state,
        },
    )?;
    let mut r = with_who(Json(options).into_response(), user);
    cookies::set(app, &mut r, PASSKEY_USE, &sealed, CEREMONY_SECS);
    Ok(r)
}

/// An assertion that answers the ceremony under way in this browser.
struct Asserted {
    /// The stored passkey that made it.
    row: PasskeyRow,
    /// That passkey with its new counter and backup flags, to store.
    key: Passkey,
    /// The ceremony's digest, to spend until `expires`.
    challenge: String,
    expires: i64,
}

/// The assertion `credential`, checked against the ceremony of `user` sealed for `purpose` in
/// this browser and against the user's stored passkeys; None when any of it fails.
async fn verify_assertion(
    app: &Shared,
    headers: &HeaderMap,
    rp: &webauthn_rs::Webauthn,
    user: &str,
    purpose: &str,
    credential: &PublicKeyCredential,
) -> Result<Option<Asserted>, PageError> {
    let Some((c, sealed)) = open::<PasskeyAuthentication>(app, headers, PASSKEY_USE, purpose, user)
    else {
        return Ok(None);
    };
    let Some(result) = pk::finish_use(rp, credential, &c.state) else {
        return Ok(None);
    };
    let found = stored(app, user)
        .await?
        .into_iter()
        .find(|(_, k)| k.cred_id() == result.cred_id());
    Ok(found.map(|(row, mut key)| {
        // The counter and backup flags, as webauthn-rs advises: stored after every use.
        key.update_credential(&result);
        Asserted {
            row,
            key,
            challenge: pk::spent_digest(&sealed),
            expires: c.at + CEREMONY_SECS,
        }
    }))
}

/// The body of a ceremony's start: the page's CSRF token.
#[derive(Deserialize)]
pub struct Start {
    #[serde(default)]
    csrf: String,
}

/// Start registering a passkey: the options for `navigator.credentials.create`.
pub async fn register_options(
    State(app): State<Shared>,
    SignedIn(session): SignedIn,
    Json(body): Json<Start>,
) -> Result<Response, PageError> {
    if !csrf_ok(&session.csrf, &body.csrf) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "reload the page and try again",
        ));
    }
    let Some(rp) = relying_party(&app) else {
        return Ok(no_relying_party());
    };
    let existing: Vec<Passkey> = stored(&app, &session.user)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let (options, state) = pk::start_register(&rp, &session.user, &existing)
        .map_err(|e| internal("cannot start a passkey registration", e))?;
    let sealed = seal(
        &app,
        REG_PURPOSE,
        &Ceremony::<PasskeyRegistration> {
            user: session.user.clone(),
            at: now(),
            state,
        },
    )?;
    let mut r = with_who(Json(options).into_response(), &session.user);
    cookies::set(&app, &mut r, PASSKEY_REG, &sealed, CEREMONY_SECS);
    Ok(r)
}

/// The browser's new credential, named.
#[derive(Deserialize)]
pub struct Register {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// Verify and store a new passkey (audited `mfa enrol`, detail `passkey NAME`).
pub async fn register(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    SignedIn(session): SignedIn,
    Json(body): Json<Register>,
) -> Result<Response, PageError> {
    let user = session.user.as_str();
    if !csrf_ok(&session.csrf, &body.csrf) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "reload the page and try again",
        ));
    }
    let name = match pk::valid_name(&body.name) {
        Ok(n) => n,
        Err(why) => return Ok(json_error(StatusCode::BAD_REQUEST, &why)),
    };
    let Some((c, sealed)) =
        open::<PasskeyRegistration>(&app, &headers, PASSKEY_REG, REG_PURPOSE, user)
    else {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "the registration expired: try again",
        ));
    };
    let Some(rp) = relying_party(&app) else {
        return Ok(no_relying_party());
    };
    let passkey = match pk::finish_register(&rp, &body.credential, &c.state) {
        Ok(p) => p,
        Err(why) => return Ok(json_error(StatusCode::BAD_REQUEST, &why)),
    };
    let row = PasskeyRow {
        credential_id: pk::credential_key(&passkey),
        name: name.clone(),
        passkey: serde_json::to_string(&passkey)
            .map_err(|e| internal("cannot store a passkey", e.into()))?,
        created: 0,
        last_used: None,
    };
    let mut audit = AuditEntry::new(AuditEvent::MfaEnrol, user)
        .user(user)
        .detail(format!("passkey {name}"));
    audit.client = client;
    let added = app
        .db
        .add_passkey(
            user,
            &row,
            &pk::spent_digest(&sealed),
            c.at + CEREMONY_SECS,
            audit,
        )
        .await
        .map_err(|e| internal("cannot store a passkey", e))?;
    let mut r = if added {
        Json(json!({ "next": "/profile/mfa?done=passkey-added" })).into_response()
    } else {
        json_error(
            StatusCode::CONFLICT,
            "a passkey of that name (or that passkey) is registered already",
        )
    };
    cookies::set(&app, &mut r, PASSKEY_REG, "", 0);
    Ok(with_who(r, user))
}

/// The profile's form that removes a passkey by name, with a current TOTP code (a user with
/// that factor; one with passkeys only confirms with one, `remove_confirm`).
#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    name: String,
    #[serde(default, deserialize_with = "last")]
    code: String,
}

impl PageForm for RemoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        "/profile/mfa".into()
    }
}

/// Where the profile goes after a removal, or what it says instead.
async fn removed(
    app: &Shared,
    session: &crate::db::Session,
    outcome: domain::Result<()>,
) -> Result<Response, PageError> {
    let done = match outcome {
        Ok(()) => "passkey-removed",
        Err(domain::Error::NotFound(_)) => "passkey-none",
        Err(domain::Error::Invalid(why)) => {
            metrics::second_factor(metrics::Outcome::Wrong);
            return factor::profile_page(app, session, StatusCode::BAD_REQUEST, None, Some(&why))
                .await;
        }
        Err(e) => return Err(e).framed(session),
    };
    Ok(with_who(
        see_other(&format!("/profile/mfa?done={done}")),
        &session.user,
    ))
}

/// Remove one of the user's passkeys, proven by a current TOTP code (throttled with the
/// sign-in codes; audited `mfa remove`, detail `passkey NAME`).
pub async fn remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<RemoveForm>,
) -> Result<Response, PageError> {
    let user = session.user.as_str();
    let t = now();
    let attempt = match factor::reserve_check(&app, &headers, client.as_deref(), user, t) {
        Ok(attempt) => attempt,
        Err(left) => {
            let why = factor::too_many(left);
            return factor::profile_page(
                &app,
                &session,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                Some(&why),
            )
            .await;
        }
    };
    let outcome = pk::remove(
        &app.db,
        &session,
        client,
        &form.name,
        pk::Proof::Code(&form.code),
        t,
    )
    .await;
    if outcome.is_ok() {
        attempt.succeeded(&throttle::FAILURES);
    }
    removed(&app, &session, outcome).await
}

/// Start confirming a passkey's removal with a passkey (a user without TOTP): the request
/// options for the user's passkeys, the ceremony sealed as a sign-in's is.
pub async fn remove_options(
    State(app): State<Shared>,
    SignedIn(session): SignedIn,
    Json(body): Json<Start>,
) -> Result<Response, PageError> {
    if !csrf_ok(&session.csrf, &body.csrf) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "reload the page and try again",
        ));
    }
    start_assertion(&app, &session.user, CONFIRM_PURPOSE).await
}

/// A passkey's removal confirmed by an assertion of one of the user's passkeys.
#[derive(Deserialize)]
pub struct RemoveConfirm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    credential: PublicKeyCredential,
}

/// Verify the assertion (throttled with the sign-in codes) and remove the passkey, the
/// ceremony spent in the same transaction: the answer names where to go.
pub async fn remove_confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    SignedIn(session): SignedIn,
    Json(body): Json<RemoveConfirm>,
) -> Result<Response, PageError> {
    let user = session.user.as_str();
    if !csrf_ok(&session.csrf, &body.csrf) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "reload the page and try again",
        ));
    }
    let t = now();
    let attempt = match factor::reserve_check(&app, &headers, client.as_deref(), user, t) {
        Ok(attempt) => attempt,
        Err(left) => {
            return Ok(with_who(
                json_error(StatusCode::TOO_MANY_REQUESTS, &factor::too_many(left)),
                user,
            ));
        }
    };
    let Some(rp) = relying_party(&app) else {
        return Ok(no_relying_party());
    };
    let verified = verify_assertion(&app, &headers, &rp, user, CONFIRM_PURPOSE, &body.credential)
        .await?
        .map(|a| (a.challenge, a.expires, a.row.credential_id));
    let Some((challenge, expires, credential)) = verified else {
        metrics::second_factor(metrics::Outcome::Wrong);
        let mut r = json_error(
            StatusCode::UNAUTHORIZED,
            "That passkey was not accepted: try again.",
        );
        cookies::set(&app, &mut r, PASSKEY_USE, "", 0);
        return Ok(with_who(r, user));
    };
    let proof = pk::Proof::Assertion {
        challenge: &challenge,
        expires,
        credential: &credential,
    };
    let outcome = pk::remove(&app.db, &session, client, &body.name, proof, t).await;
    let mut r = match outcome {
        Ok(()) => {
            attempt.succeeded(&throttle::FAILURES);
            Json(json!({ "next": "/profile/mfa?done=passkey-removed" })).into_response()
        }
        Err(domain::Error::NotFound(_)) => {
            Json(json!({ "next": "/profile/mfa?done=passkey-none" })).into_response()
        }
        Err(domain::Error::Invalid(why)) => json_error(StatusCode::BAD_REQUEST, &why),
        Err(e) => return Err(e).framed(&session),
    };
    cookies::set(&app, &mut r, PASSKEY_USE, "", 0);
    Ok(with_who(r, user))
}

/// Start the passkey step of a sign-in waiting for its second factor: the options for
/// `navigator.credentials.get`.
pub async fn use_options(
    State(app): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Start>,
) -> Result<Response, PageError> {
    if !login_csrf_ok(&app, &headers, &body.csrf) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "reload the page and try again",
        ));
    }
    let Some(p) = factor::waiting(&app, &headers) else {
        return Ok(json_error(StatusCode::UNAUTHORIZED, "sign in again"));
    };
    start_assertion(&app, &p.user, USE_PURPOSE).await
}

/// The browser's assertion.
#[derive(Deserialize)]
pub struct Assertion {
    #[serde(default)]
    csrf: String,
    credential: PublicKeyCredential,
}

/// Verify a passkey's assertion and start the session (throttled with the passwords, as codes
/// are): the answer names where to go, and sets the session's cookies.
pub async fn use_passkey(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Json(body): Json<Assertion>,
) -> Result<Response, PageError> {
    if !login_csrf_ok(&app, &headers, &body.csrf) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "reload the page and try again",
        ));
    }
    let Some(p) = factor::waiting(&app, &headers) else {
        return Ok(json_error(StatusCode::UNAUTHORIZED, "sign in again"));
    };
    let user = p.user.as_str();
    let t = now();
    let attempt = match factor::reserve_check(&app, &headers, client.as_deref(), user, t) {
        Ok(attempt) => attempt,
        Err(left) => {
            return Ok(with_who(
                json_error(StatusCode::TOO_MANY_REQUESTS, &factor::too_many(left)),
                user,
            ));
        }
    };
    let Some(rp) = relying_party(&app) else {
        return Ok(no_relying_party());
    };
    let mut started = None;
    if let Some(a) =
        verify_assertion(&app, &headers, &rp, user, USE_PURPOSE, &body.credential).await?
    {
        let json = serde_json::to_string(&a.key)
            .map_err(|e| internal("cannot store a passkey", e.into()))?;
        let mut audit = AuditEntry::new(AuditEvent::WebSignIn, user)
            .user(user)
            .detail(format!("{}; second factor passkey {}", p.how, a.row.name));
        audit.client.clone_from(&client);
        let claim = Claim::Passkey {
            challenge: &a.challenge,
            expires: a.expires,
            credential_id: &a.row.credential_id,
            passkey: &json,
        };
        started = start_session(&app, &headers, user, &p.next, &claim, audit).await?;
    }
    let Some(session) = started else {
        let mut audit = AuditEntry::new(AuditEvent::MfaFailed, "web")
            .user(user)
            .detail(format!("{}; passkey", p.how));
        audit.client = client;
        app.db
            .audit(&audit)
            .await
            .map_err(|e| internal("cannot record the sign-in", e))?;
        metrics::second_factor(metrics::Outcome::Wrong);
        let mut r = json_error(
            StatusCode::UNAUTHORIZED,
            "That passkey was not accepted: try again, or type a code.",
        );
        cookies::set(&app, &mut r, PASSKEY_USE, "", 0);
        return Ok(with_who(r, user));
    };
    attempt.succeeded(&throttle::FAILURES);
    metrics::second_factor(metrics::Outcome::Ok);
    let mut r = Json(json!({ "next": p.next })).into_response();
    for v in session.headers().get_all(header::SET_COOKIE) {
        r.headers_mut().append(header::SET_COOKIE, v.clone());
    }
    cookies::set(&app, &mut r, PASSKEY_USE, "", 0);
    cookies::set(&app, &mut r, cookies::MFA_PENDING, "", 0);
    Ok(with_who(r, user))
}
