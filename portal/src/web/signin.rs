//! The sign-in page: its form (with a cookie-held CSRF token, as there is no session yet), the
//! password check behind the throttle, a fresh session on success (or, for a user with a second
//! factor or one the policy covers, the factor page first: `factor.rs`), sign-out, and Cancel
//! for a command-line login that sent the browser here.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::{Form, Query};
use serde::Deserialize;

use super::cookies::{self, LOGIN_CSRF, SESSION};
use super::extract::{MaybeSignedIn, SESSION_SECS, csrf_ok, csrf_refused, current, last};
use super::{
    Chrome, PageError, PageResult, cli_login, factor, message, next_or_profile, render, see_other,
    sso, throttle,
};
use crate::db::{AuditEntry, AuditEvent, Claim};
use crate::domain::mfa::Policy;
use crate::state::{ClientIp, Shared, with_who};
use crate::{metrics, password, secret};

/// A browser that has signed in with a password before: the user and a random id, sealed, so
/// the sign-in limits know it (`throttle::Attempt`). It proves nothing else.
const DEVICE_SECS: i64 = 400 * 86400;
const DEVICE_PURPOSE: &str = "known browser";

/// What the known-browser cookie holds.
#[derive(serde::Serialize, Deserialize)]
struct Device {
    user: String,
    id: String,
}

/// The id of this browser's known-browser cookie, when it names `user`.
pub(super) fn known_device(app: &Shared, headers: &HeaderMap, user: &str) -> Option<String> {
    let sealed = cookies::get(app, headers, cookies::DEVICE)?;
    let opened = secret::open(&app.cookie_key, DEVICE_PURPOSE, sealed)?;
    let device: Device = serde_json::from_slice(&opened).ok()?;
    (device.user == user).then_some(device.id)
}

#[derive(Template)]
#[template(path = "signin/login.html")]
struct LoginPage<'a> {
    chrome: Chrome<'a>,
    csrf: &'a str,
    next: &'a str,
    /// What was typed, kept after a failed sign-in.
    username: &'a str,
    error: Option<&'a str>,
    /// Single sign-on: the provider's name and the link that starts it.
    sso: Option<(String, String)>,
    /// The local port of a command-line login waiting for this sign-in, when `next` is its page.
    cli_port: Option<u16>,
}

/// Where to go after signing in, from the page's query.
#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default, deserialize_with = "last")]
    pub next: String,
}

/// The sign-in page; a browser already signed in goes straight on.
pub async fn page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
    MaybeSignedIn(session): MaybeSignedIn,
) -> PageResult {
    let next = next_or_profile(Some(&q.next));
    if let Some(s) = session {
        return Ok(with_who(see_other(&next), &s.user));
    }
    login_form(&app, &headers, StatusCode::OK, &next, "", None)
}

/// The CLI login behind a `next` that is its page (docs/protocol.md §2): its port and `state`.
fn cli_login_of(next: &str) -> Option<(u16, Option<String>)> {
    let url = url::Url::parse(&format!("http://portal{next}")).ok()?;
    if url.path() != "/app/user/verify-token" {
        return None;
    }
    let login = cli_login::CliLogin::of_pairs(url.query_pairs());
    Some((login.port()?, login.state().map(str::to_string)))
}

fn login_form(
    app: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> PageResult {
    // The browser's sign-in token, when it has one, so a sign-in page open in another tab
    // still works (a command-line login opens one more).
    let kept = cookies::get(app, headers, LOGIN_CSRF)
        .filter(|t| {
            t.len() == 68
                && t.starts_with("jit_")
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .map(str::to_string);
    let csrf = kept
        .map_or_else(secret::new_token, Ok)
        .map_err(|e| PageError::Internal("no randomness", e))?;
    let mut r = render(
        status,
        &LoginPage {
            chrome: Chrome::NONE,
            csrf: &csrf,
            next,
            username,
            error,
            sso: sso::sign_in_link(app, next),
            cli_port: cli_login_of(next).map(|(port, _)| port),
        },
    );
    cookies::set(app, &mut r, LOGIN_CSRF, &csrf, 3600);
    Ok(r)
}

/// The sign-in form's token checked against the browser's sign-in cookie.
pub(super) fn login_csrf_ok(app: &Shared, headers: &HeaderMap, given: &str) -> bool {
    csrf_ok(
        cookies::get(app, headers, LOGIN_CSRF).unwrap_or_default(),
        given,
    )
}

/// The Cancel button of the sign-in page.
#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    next: String,
}

/// Cancel, on the sign-in page a command-line login sent the browser to: the CLI hears at once
/// that the user said no, instead of waiting out its timeout.
pub async fn cancel_cli(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CancelForm>,
) -> PageResult {
    if !login_csrf_ok(&app, &headers, &form.csrf) {
        return Err(csrf_refused().into());
    }
    let Some((port, state)) = cli_login_of(&next_or_profile(Some(&form.next))) else {
        return Err(message(StatusCode::BAD_REQUEST, "No command-line login to cancel").into());
    };
    let pairs: Vec<(&str, &str)> = state.as_deref().map(|s| ("state", s)).into_iter().collect();
    Ok(with_who(
        see_other(&cli_login::callback(port, &pairs)),
        "cancelled",
    ))
}

/// Checked against unknown users too, so a wrong name costs as long as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| password::hash("not a real password").unwrap_or_default());

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    next: String,
    #[serde(default, deserialize_with = "last")]
    username: String,
    #[serde(default, deserialize_with = "last")]
    password: String,
}

/// Check the password (throttled, and as slow for unknown users) and start a fresh session.
pub async fn submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let next = next_or_profile(Some(&form.next));
    if !login_csrf_ok(&app, &headers, &form.csrf) {
        return Err(csrf_refused().into());
    }
    let mut counted = metrics::SignIn::begin(metrics::Method::Password);
    let name = form.username.trim();
    let given = form.password;
    let now = jiff::Timestamp::now().as_second();
    let device = known_device(&app, &headers, name);
    let attempt = throttle::Attempt::new(client.as_deref(), name, device.as_deref());
    // The attempt counts as a failure from here until it succeeds, so that guesses sent at
    // once cannot all pass this before the first of them is counted.
    if let Err((full, left)) = attempt.reserve(&throttle::FAILURES, now) {
        counted.throttled(full.metric());
        tracing::warn!(
            "sign-in throttled for {} from {} ({})",
            crate::log::escape(name),
            client.as_deref().unwrap_or("-"),
            match full {
                throttle::Full::Mine => "its own limit",
                throttle::Full::User => "the user's limit for unknown browsers",
                throttle::Full::Address => "the address's limit",
            }
        );
        let minutes = (left + 59) / 60;
        let why = match full {
            throttle::Full::Mine => {
                format!("Too many wrong passwords: try again in {minutes} minutes.")
            }
            throttle::Full::User => format!(
                "Too many wrong passwords for this user from elsewhere: sign in from a browser \
                 you have signed in with before, or try again in {minutes} minutes."
            ),
            throttle::Full::Address => format!(
                "Too many wrong passwords from your address: try again in {minutes} minutes."
            ),
        };
        return login_form(
            &app,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            name,
            Some(&why),
        );
    }
    let row = app.db.sign_in_row(name).await.map_err(super::unreadable)?;
    let stored = row.as_ref().and_then(|r| r.password_hash.clone());
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
    // A flood of sign-ins waits here rather than hashing all at once.
    let _permit = throttle::check_permit(client.as_deref())
        .await
        .map_err(|e| PageError::Internal("cannot check the password", e))?;
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, &stored))
        .await
        .unwrap_or(false);
    let row = match row {
        Some(row) if ok && known => row,
        _ => {
            if known {
                let mut audit = AuditEntry::new(AuditEvent::WebSignInFailed, "web").user(name);
                audit.client = client;
                app.db
                    .audit(&audit)
                    .await
                    .map_err(|e| PageError::Internal("cannot record the sign-in", e))?;
            } else {
                // Made-up names are an attacker's to choose without end: each one a row in the
                // append-only audit table filled it and held up real sign-ins behind its writes.
                // The throttle has counted this one; the log says it.
                tracing::warn!(
                    "sign-in failed for unknown user {} from {}",
                    crate::log::escape(name),
                    client.as_deref().unwrap_or("-")
                );
            }
            counted.wrong();
            return login_form(
                &app,
                &headers,
                StatusCode::UNAUTHORIZED,
                &next,
                name,
                Some("That user name and password do not match."),
            );
        }
    };
    // A second factor to ask for, or to enrol (the policy covers this user): no session yet.
    // The attempt stays counted until the factor is right, so a known password does not reset
    // the count of wrong codes.
    let policy = Policy::stored(&row.require_mfa);
    // The password was right: the sign-in counts as such; the factor is counted by itself.
    counted.ok();
    if row.has_factor() || policy.covers(row.admin) {
        return factor::ask(&app, name, "password", &next, &row);
    }
    attempt.succeeded(&throttle::FAILURES);
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, name).user(name);
    audit.client = client;
    start_session(&app, &headers, name, &next, &Claim::None, audit)
        .await?
        .ok_or_else(|| PageError::Internal("cannot start a session", anyhow::anyhow!("refused")))
}

/// Start a fresh session for `name` (spending `claim`, a second factor, in the same
/// transaction) and send the browser to `next`; None when the claim could not be spent (a code
/// used meanwhile). An earlier session of this browser ends: an id planted before it is worth
/// nothing after. The browser becomes a known one for `name`.
pub(super) async fn start_session(
    app: &Shared,
    headers: &HeaderMap,
    name: &str,
    next: &str,
    claim: &Claim<'_>,
    audit: AuditEntry,
) -> Result<Option<axum::response::Response>, PageError> {
    if let Ok(Some(old)) = current(app, headers).await {
        let audit = AuditEntry::new(AuditEvent::WebSignOut, &old.user).user(&old.user);
        app.db
            .end_session(&old.id, audit)
            .await
            .map_err(|e| PageError::Internal("cannot end the previous session", e))?;
    }
    let Some((value, _, _)) = app
        .db
        .create_session_with(name, SESSION_SECS, claim, audit)
        .await
        .map_err(|e| PageError::Internal("cannot start a session", e))?
    else {
        return Ok(None);
    };
    let mut r = with_who(see_other(next), name);
    cookies::set(app, &mut r, SESSION, &value, SESSION_SECS);
    cookies::set(app, &mut r, LOGIN_CSRF, "", 0);
    if known_device(app, headers, name).is_none() {
        // From now on this browser is known for this user (the last user to sign in here).
        let device = Device {
            user: name.to_string(),
            id: secret::new_id("dev_").map_err(|e| PageError::Internal("no randomness", e))?,
        };
        let sealed = serde_json::to_vec(&device)
            .map_err(anyhow::Error::new)
            .and_then(|json| secret::seal(&app.cookie_key, DEVICE_PURPOSE, &json))
            .map_err(|e| PageError::Internal("cannot seal the known-browser cookie", e))?;
        cookies::set(app, &mut r, cookies::DEVICE, &sealed, DEVICE_SECS);
    }
    Ok(Some(r))
}

/// A form whose only field is its CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
}

/// Sign out: the session ends in the database, and its cookie goes.
pub async fn logout(
    State(app): State<Shared>,
    MaybeSignedIn(session): MaybeSignedIn,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    let Some(session) = session else {
        return Ok(see_other("/login"));
    };
    if !csrf_ok(&session.csrf, &form.csrf) {
        return Err(with_who(csrf_refused(), &session.user).into());
    }
    let audit = AuditEntry::new(AuditEvent::WebSignOut, &session.user).user(&session.user);
    app.db
        .end_session(&session.id, audit)
        .await
        .map_err(|e| PageError::Internal("cannot end the session", e))?;
    let mut r = with_who(see_other("/login"), &session.user);
    cookies::set(&app, &mut r, SESSION, "", 0);
    Ok(r)
}
