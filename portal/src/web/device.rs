//! The device login (docs/protocol.md §2.1, RFC 8628 semantics) for a CLI with no browser of
//! its own: the two JSON endpoints the CLI calls (the code request and the poll) and the
//! `/device` page, where a signed-in user types the user code, sees the host, address and
//! access asked for, and approves or denies. The approval mints nothing; the poll that finds it
//! mints a login token from the approving session (`Db::mint_session_token`), so signing out or
//! revoking the session ends it like any login token. Admin access the second-factor policy
//! covers is approved only from a session that used its factor, and its token comes with
//! duplo-jit's one-time code, as the browser login's `/v2/callbackWithOtp` does.
//!
//! Limits: code requests per address (`MAX_CODES_PER_ADDRESS` per `CODE_WINDOW_SECS`, and
//! `MAX_PENDING` waiting in all, so nobody fills the table); wrong user codes per session and
//! per address (`MAX_GUESSES_PER_SESSION`, `MAX_GUESSES_PER_ADDRESS` per `GUESS_WINDOW_SECS`)
//! against 20^8 codes of which a handful are live for ten minutes.

use std::sync::LazyLock;

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::{Form, Query};
use jit_wire::device::{
    self, DeviceCode, DeviceError, DeviceToken, error, normalize_user_code, show_user_code,
};
use jit_wire::paths;
use serde::Deserialize;

use super::extract::{PageForm, SignedForm, SignedIn, last, maybe_last};
use super::throttle::Throttle;
use super::{Chrome, Framed, PageError, PageResult, internal, message_for, render};
use crate::db::{AuditEntry, AuditEvent, LOGIN_TOKEN_SECS, NewDevice, Poll, Session, TokenScope};
use crate::domain::mfa;
use crate::secret;
use crate::state::{ClientIp, Shared, with_who};

/// How long the codes are good for (RFC 8628 suggests minutes; the issue asks for ten).
pub const CODE_SECS: i64 = 600;
/// The poll interval the portal asks for.
pub const INTERVAL_SECS: i64 = 5;
pub const MAX_CODES_PER_ADDRESS: u32 = 10;
pub const CODE_WINDOW_SECS: i64 = 600;
/// Device logins waiting at once, from everyone.
pub const MAX_PENDING: i64 = 10_000;
pub const MAX_GUESSES_PER_SESSION: u32 = 10;
pub const MAX_GUESSES_PER_ADDRESS: u32 = 30;
pub const GUESS_WINDOW_SECS: i64 = 900;
/// The most of a host name the page shows.
const MAX_HOST: usize = 64;

static CODES: LazyLock<Throttle> = LazyLock::new(|| Throttle::new(CODE_WINDOW_SECS));
static GUESSES: LazyLock<Throttle> = LazyLock::new(|| Throttle::new(GUESS_WINDOW_SECS));

/// Seconds from the environment variable `var` (1 to an hour), else `default`. Only the tests
/// set them (`JIT_PORTAL_DEVICE_CODE_SECS`, `JIT_PORTAL_DEVICE_INTERVAL_SECS`): an expiry or
/// a slow_down is seen without waiting ten minutes.
fn secs(var: &str, default: i64) -> i64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|s| (1..=3600).contains(s))
        .unwrap_or(default)
}

fn refuse(status: StatusCode, code: &str, description: Option<&str>) -> Response {
    (
        status,
        Json(DeviceError {
            error: code.into(),
            error_description: description.map(str::to_string),
        }),
    )
        .into_response()
}

/// A user code: `USER_CODE_LEN` letters of the alphabet, each drawn without bias.
fn new_user_code() -> anyhow::Result<String> {
    let alphabet = device::USER_CODE_ALPHABET;
    // The largest multiple of the alphabet's size below 256: bytes above it are skipped.
    let limit = 256 - 256 % alphabet.len();
    let mut code = String::new();
    while code.len() < device::USER_CODE_LEN {
        for b in secret::random::<32>()? {
            if usize::from(b) < limit && code.len() < device::USER_CODE_LEN {
                code.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(code)
}

/// The host name as the page shows it: printable, at most `MAX_HOST` characters.
fn host_name(raw: &str) -> String {
    let shown: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(MAX_HOST)
        .collect();
    if shown.is_empty() {
        "(unnamed)".into()
    } else {
        shown
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default, deserialize_with = "maybe_last")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "maybe_last")]
    host: Option<String>,
}

/// `POST /login/device/code`: a device code for the CLI and a user code for its user.
pub async fn code(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Form(form): Form<CodeForm>,
) -> Response {
    let scope = match form.scope.as_deref() {
        None | Some(device::SCOPE_TENANT) => device::SCOPE_TENANT,
        Some(device::SCOPE_ADMIN) => device::SCOPE_ADMIN,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                error::INVALID_REQUEST,
                Some("scope is tenant or admin"),
            );
        }
    };
    let now = jiff::Timestamp::now().as_second();
    let address = format!("address\n{}", client.as_deref().unwrap_or("-"));
    if let Err((_, left)) = CODES.reserve_all(&[(address, MAX_CODES_PER_ADDRESS)], now) {
        let why = format!("too many device logins from this address; try again in {left} s");
        return refuse(StatusCode::TOO_MANY_REQUESTS, error::TOO_MANY, Some(&why));
    }
    let host = host_name(form.host.as_deref().unwrap_or_default());
    let lifetime = secs("JIT_PORTAL_DEVICE_CODE_SECS", CODE_SECS);
    let interval = secs("JIT_PORTAL_DEVICE_INTERVAL_SECS", INTERVAL_SECS);
    let made = (|| -> anyhow::Result<(String, String)> {
        Ok((secret::hex(&secret::random::<32>()?), new_user_code()?))
    })();
    let Ok((device_code, user_code)) = made else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
    };
    let mut audit = AuditEntry::new(AuditEvent::DeviceCode, "device");
    audit.scope = Some(scope.into());
    audit.client = client.clone();
    let new = NewDevice {
        device_code: &device_code,
        user_code: &user_code,
        scope,
        host: &host,
        client: client.as_deref(),
        lifetime,
        interval,
    };
    match app.db.device_start(&new, MAX_PENDING, audit).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                error::TOO_MANY,
                Some("too many device logins are waiting; try again later"),
            );
        }
        Err(e) => {
            crate::log::failure("device login: cannot store the codes", &e);
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
        }
    }
    let shown = show_user_code(&user_code);
    let page = format!("{}{}", app.public_url, paths::DEVICE_PAGE);
    let complete = format!(
        "{page}?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair(device::param::CODE, &shown)
            .finish()
    );
    Json(DeviceCode {
        device_code,
        user_code: shown,
        verification_uri: page,
        verification_uri_complete: complete,
        expires_in: lifetime,
        interval,
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default, deserialize_with = "maybe_last")]
    device_code: Option<String>,
}

/// `POST /login/device/token`: the CLI's poll. 400 with an RFC 8628 error until the user
/// approved; then, once, the token.
pub async fn token(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(device_code) = form.device_code.filter(|c| !c.is_empty() && c.len() <= 256) else {
        return refuse(StatusCode::BAD_REQUEST, error::INVALID_REQUEST, None);
    };
    let now = jiff::Timestamp::now().as_second();
    let poll = match app.db.device_poll(&device_code, now).await {
        Ok(p) => p,
        Err(e) => {
            crate::log::failure("device login: cannot read the codes", &e);
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
        }
    };
    let (id, session, user, scope) = match poll {
        Poll::Unknown => return refuse(StatusCode::BAD_REQUEST, error::INVALID_GRANT, None),
        Poll::Expired => return refuse(StatusCode::BAD_REQUEST, error::EXPIRED, None),
        Poll::SlowDown => return refuse(StatusCode::BAD_REQUEST, error::SLOW_DOWN, None),
        Poll::Pending => return refuse(StatusCode::BAD_REQUEST, error::PENDING, None),
        Poll::Denied => return refuse(StatusCode::BAD_REQUEST, error::DENIED, None),
        Poll::Approved {
            id,
            session,
            user,
            scope,
        } => (id, session, user, scope),
    };
    let admin = scope == device::SCOPE_ADMIN;
    let mut audit = AuditEntry::new(AuditEvent::Login, &user).user(&user);
    audit.scope = Some(scope.clone());
    audit.client = client;
    // Only the session's id is read to mint: the token belongs to that session.
    let approving = Session {
        id: session,
        user: user.clone(),
        admin,
        csrf: String::new(),
        // The token takes the session row's own flag (`mint_session_token` reads it there).
        mfa: false,
        created: 0,
    };
    match app
        .db
        .mint_session_token(&approving, TokenScope::of_login(admin), audit)
        .await
    {
        Ok((token, token_id)) => {
            tracing::info!("device login {id} for {user}: {token_id}");
            // The token read back as the API reads it: duplo-jit's one-time code comes with it
            // under the same rule as `IsOtpNeeded` (docs/protocol.md §2.1).
            let otp = match app.db.authenticate(&token, now).await {
                Ok(Some(who)) => mfa::login_otp(&app.cookie_key, &who, now),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            let otp = match otp {
                Ok(otp) => otp,
                Err(e) => {
                    crate::log::failure("device login: cannot make the one-time code", &e);
                    // The token will never be handed over: it must not outlive this answer.
                    let audit = AuditEntry::new(AuditEvent::TokenRevoke, "portal")
                        .user(&user)
                        .detail(format!(
                            "device login {id}: the token minted for it, never handed over"
                        ));
                    if let Err(e) = app
                        .db
                        .revoke_tokens(std::slice::from_ref(&token_id), None, audit)
                        .await
                    {
                        crate::log::failure("device login: cannot revoke the unsent token", &e);
                    }
                    return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
                }
            };
            with_who(
                Json(DeviceToken {
                    token,
                    scope,
                    expires_in: LOGIN_TOKEN_SECS,
                    otp,
                })
                .into_response(),
                &user,
            )
        }
        // The approving session ended before the poll: the approval went with it.
        Err(_) => refuse(
            StatusCode::BAD_REQUEST,
            error::DENIED,
            Some("the approving session has ended"),
        ),
    }
}

#[derive(Template)]
#[template(path = "device/enter.html")]
struct EnterPage<'a> {
    chrome: Chrome<'a>,
    code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device/confirm.html")]
struct ConfirmPage<'a> {
    chrome: Chrome<'a>,
    user: &'a str,
    code: &'a str,
    host: &'a str,
    client: &'a str,
    scope: &'a str,
    minutes: i64,
    /// Admin access asked of a user without it, or without the second factor it wants: only
    /// Deny.
    error: Option<&'a str>,
}

fn enter(session: &Session, status: StatusCode, code: &str, error: Option<&str>) -> Response {
    with_who(
        render(
            status,
            &EnterPage {
                chrome: Chrome::of(session),
                code,
                error,
            },
        ),
        &session.user,
    )
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default, deserialize_with = "maybe_last")]
    code: Option<String>,
}

/// `GET /device`: the form for the user code, filled from `?code=` when it is one.
pub async fn page(SignedIn(session): SignedIn, Query(q): Query<PageQuery>) -> Response {
    let code = q
        .code
        .as_deref()
        .and_then(normalize_user_code)
        .map(|c| show_user_code(&c))
        .unwrap_or_default();
    enter(&session, StatusCode::OK, &code, None)
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    code: String,
    /// `approve`, `deny`, or anything else to be shown what the code asks for.
    #[serde(default, deserialize_with = "maybe_last")]
    action: Option<String>,
}

impl PageForm for DecideForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /device`: look a code up (each wrong one counts against the session and the address),
/// then show what it asks for, or approve or deny it.
pub async fn submit(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<DecideForm>,
) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let limits = [
        (format!("session\n{}", session.id), MAX_GUESSES_PER_SESSION),
        (
            format!("address\n{}", client.as_deref().unwrap_or("-")),
            MAX_GUESSES_PER_ADDRESS,
        ),
    ];
    if let Err((_, left)) = GUESSES.reserve_all(&limits, now) {
        let minutes = (left + 59) / 60;
        return Ok(message_for(
            &session,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many codes tried: wait {minutes} min and try again"),
        ));
    }
    let typed = form.code.trim();
    let found = match normalize_user_code(typed) {
        Some(code) => app
            .db
            .device_pending(&code, now)
            .await
            .map_err(|e| PageError::from(internal("The portal could not read the codes", &e)))?
            .map(|login| (code, login)),
        None => None,
    };
    let Some((code, login)) = found else {
        return Ok(enter(
            &session,
            StatusCode::BAD_REQUEST,
            typed,
            Some("No login waits for that code: check it, or start again from jit"),
        ));
    };
    // A right code is no guess.
    for (key, _) in &limits {
        GUESSES.release(key);
    }
    let shown = show_user_code(&code);
    let admin = login.scope == device::SCOPE_ADMIN;
    // Admin access that wants duplo-jit's one-time code is approved only from a sign-in with the
    // second factor, as on the browser's CLI-login page: the poll then hands the code over.
    let no_factor = !session.mfa
        && mfa::login_needs_otp(&app.db, &session, admin)
            .await
            .framed(&session)?;
    let no_admin = if admin && !session.admin {
        Some("Your user has no admin access.")
    } else {
        no_factor.then_some(mfa::LOGIN_NEEDS_FACTOR)
    };
    let client_shown = login.client.as_deref().unwrap_or("unknown");
    let confirm = |status| {
        with_who(
            render(
                status,
                &ConfirmPage {
                    chrome: Chrome::of(&session),
                    user: &session.user,
                    code: &shown,
                    host: &login.host,
                    client: client_shown,
                    scope: &login.scope,
                    minutes: ((login.expires - now).max(0) + 59) / 60,
                    error: no_admin,
                },
            ),
            &session.user,
        )
    };
    let approve = match form.action.as_deref() {
        Some("approve") if no_admin.is_some() => return Ok(confirm(StatusCode::FORBIDDEN)),
        Some("approve") => true,
        Some("deny") => false,
        _ => return Ok(confirm(StatusCode::OK)),
    };
    let event = if approve {
        AuditEvent::DeviceApproved
    } else {
        AuditEvent::DeviceDenied
    };
    let mut audit = AuditEntry::new(event, &session.user).user(&session.user);
    audit.scope = Some(login.scope.clone());
    audit.client = client;
    audit.detail = Some(format!(
        "device login {} for host {} from {client_shown}",
        login.id, login.host
    ));
    let decided = app
        .db
        .device_decide(&login.id, &session, approve, audit)
        .await
        .map_err(|e| PageError::from(internal("The portal could not record the answer", &e)))?;
    let title = match (decided, approve) {
        (false, _) => "That login was answered already or has expired",
        (true, true) => "Approved: jit on that host is signed in. You can close this page.",
        (true, false) => "Denied: jit on that host gets no access.",
    };
    Ok(message_for(&session, StatusCode::OK, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_codes_and_differ() {
        let a = new_user_code().expect("code");
        let b = new_user_code().expect("code");
        assert_eq!(normalize_user_code(&a).as_deref(), Some(a.as_str()));
        assert_ne!(a, b);
    }

    #[test]
    fn host_names_are_shown_printable_and_short() {
        assert_eq!(host_name("box\n1"), "box?1");
        assert_eq!(host_name(&"a".repeat(100)).len(), MAX_HOST);
        assert_eq!(host_name(" "), "(unnamed)");
    }
}
