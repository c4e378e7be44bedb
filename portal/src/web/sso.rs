//! The single sign-on pages: the start, which sends the browser to the provider, and the
//! callback it comes back to. Logins under way are kept in the database and bound to the
//! browser that started them by a cookie; the provider itself (discovery, the code exchange,
//! the id token checks, the claim) is `crate::sso`'s.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::extract::{SESSION_COOKIE, SESSION_SECS, current, last, maybe_last};
use super::signin::NextQuery;
use super::{
    Chrome, PageError, PageResult, cookie, message, next_or_profile, render, see_other, set_cookie,
    throttle, unreadable,
};
use crate::db::{AuditEntry, AuditEvent, PendingLogin};
use crate::secret;
use crate::sso::{Oidc, SignInError};
use crate::state::{ClientIp, Shared, with_who};

/// The cookie that ties a login under way to the browser that started it.
const BINDING_COOKIE: &str = "jit_oidc";
/// How long a login may take at the provider.
const PENDING_SECS: i64 = 600;

/// The sign-in page's link to the provider, when one is configured.
pub fn sign_in_link(app: &Shared, next: &str) -> Option<(String, String)> {
    let oidc = app.oidc.as_ref()?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    Some((oidc.name.clone(), format!("/login/oidc?{query}")))
}

fn not_configured() -> PageError {
    message(
        StatusCode::NOT_FOUND,
        "Single sign-on is not set up on this portal",
    )
    .into()
}

/// Send the browser to the provider, with a fresh `state`, nonce and PKCE challenge.
pub async fn start(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let oidc = app.oidc.as_ref().ok_or_else(not_configured)?;
    let starts = throttle::key(client.as_deref(), "oidc");
    let now = jiff::Timestamp::now().as_second();
    if let Some(left) = throttle::OIDC_STARTS.blocked(&starts, now) {
        crate::metrics::throttled(crate::metrics::Limit::OidcStart);
        return Err(refused(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many sign-ins started from your address: try again in {} minutes",
                (left + 59) / 60
            ),
        )
        .into());
    }
    throttle::OIDC_STARTS.count(&starts, now);
    let next = next_or_profile(Some(&q.next));
    let fresh = || secret::new_token().map_err(|e| PageError::Internal("no randomness", e));
    let (state, nonce, binding) = (fresh()?, fresh()?, fresh()?);
    // Logins started in several tabs share the browser's binding, so each may finish.
    let binding = match cookie(&headers, BINDING_COOKIE) {
        Some(b) if b.len() == binding.len() && b.starts_with("jit_") => b.to_string(),
        _ => binding,
    };
    let authorization = oidc.authorize(&state, &nonce).await;
    let now = jiff::Timestamp::now().as_second();
    let pending = PendingLogin {
        binding: secret::digest(&binding),
        verifier: authorization.verifier,
        nonce,
        next,
        expires: now + PENDING_SECS,
    };
    let started = app
        .db
        .start_oidc_login(&state, &pending, now)
        .await
        .map_err(|e| PageError::Internal("cannot start the single sign-on", e))?;
    if !started {
        return Err(message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins are under way: try again in a few minutes",
        )
        .into());
    }
    let mut r = see_other(&authorization.url);
    set_cookie(&app, &mut r, BINDING_COOKIE, &binding, PENDING_SECS);
    Ok(r)
}

/// A page that explains a refused sign-in and offers to start again. The binding cookie stays:
/// other logins of this browser may still be under way, and it is worthless on its own.
fn refused(status: StatusCode, title: &str) -> Response {
    render(
        status,
        &RefusedPage {
            chrome: Chrome::NONE,
            title,
        },
    )
}

#[derive(askama::Template)]
#[template(path = "sso/refused.html")]
struct RefusedPage<'a> {
    chrome: Chrome<'a>,
    title: &'a str,
}

/// Why a callback signs nobody in: what the audit trail and the page say.
struct Failure {
    status: StatusCode,
    why: String,
    title: String,
    /// No login of ours was under way: a log line only, so nobody can fill the audit trail
    /// with requests that cost them nothing.
    stray: bool,
}

fn fail(status: StatusCode, why: impl Into<String>, title: impl Into<String>) -> Failure {
    Failure {
        status,
        why: why.into(),
        title: title.into(),
        stray: false,
    }
}

/// What the provider sends the browser back with.
#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default, deserialize_with = "last")]
    state: String,
    #[serde(default, deserialize_with = "last")]
    code: String,
    #[serde(default, deserialize_with = "maybe_last")]
    error: Option<String>,
    #[serde(default, deserialize_with = "maybe_last")]
    iss: Option<String>,
}

/// The provider sends the browser back here with a one-time code (or an error) and our `state`.
pub async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Query(q): Query<CallbackQuery>,
) -> PageResult {
    let oidc = app.oidc.as_ref().ok_or_else(not_configured)?;
    let mut counted = crate::metrics::SignIn::begin(crate::metrics::Method::Oidc);
    let (user, next) =
        match verify(&app, oidc, &headers, &q).await? {
            Ok(signed_in) => signed_in,
            Err(failure) if failure.stray => {
                counted.wrong();
                tracing::warn!(
                    "oidc callback refused: {}",
                    crate::log::escape(&failure.why)
                );
                return Ok(refused(failure.status, &failure.title));
            }
            Err(failure) => {
                let mut audit = AuditEntry::new(AuditEvent::WebSignInFailed, "web")
                    .detail(format!("oidc {}: {}", oidc.issuer(), failure.why));
                audit.client = client;
                app.db
                    .audit(&audit)
                    .await
                    .map_err(|e| PageError::Internal("cannot record the sign-in", e))?;
                counted.wrong();
                return Ok(refused(failure.status, &failure.title));
            }
        };
    // A fresh session on every sign-in, as with a password.
    if let Ok(Some(old)) = current(&app, &headers).await {
        let audit = AuditEntry::new(AuditEvent::WebSignOut, &old.user).user(&old.user);
        app.db
            .end_session(&old.id, audit)
            .await
            .map_err(|e| PageError::Internal("cannot end the previous session", e))?;
    }
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, &user)
        .user(&user)
        .detail(format!("oidc {}", oidc.issuer()));
    audit.client = client;
    let (value, _, _) = app
        .db
        .create_session(&user, SESSION_SECS, audit)
        .await
        .map_err(|e| PageError::Internal("cannot start a session", e))?;
    let mut r = with_who(see_other(&next), &user);
    set_cookie(&app, &mut r, SESSION_COOKIE, &value, SESSION_SECS);
    counted.ok();
    Ok(r)
}

/// The portal user a callback signs in and where to send them, or a failure to show.
async fn verify(
    app: &Shared,
    oidc: &Oidc,
    headers: &HeaderMap,
    q: &CallbackQuery,
) -> Result<Result<(String, String), Failure>, PageError> {
    let now = jiff::Timestamp::now().as_second();
    // The login is used up whatever happens next.
    let pending = if q.state.is_empty() {
        None
    } else {
        app.db
            .take_oidc_login(&q.state, now)
            .await
            .map_err(unreadable)?
    };
    if let Some(error) = &q.error {
        // The provider's own words are not shown: only whether the user said no.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let title = if code == "access_denied" {
            format!("The sign-in with {} was cancelled or refused", oidc.name)
        } else {
            format!(
                "{} could not sign you in: try again, or ask an admin",
                oidc.name
            )
        };
        let mut failure = fail(
            StatusCode::FORBIDDEN,
            format!("provider said {code}"),
            title,
        );
        failure.stray = pending.is_none();
        return Ok(Err(failure));
    }
    let Some(pending) = pending else {
        let mut failure = fail(
            StatusCode::BAD_REQUEST,
            "unknown or used state",
            "This sign-in has expired or was already used: start again",
        );
        failure.stray = true;
        return Ok(Err(failure));
    };
    let bound = cookie(headers, BINDING_COOKIE)
        .is_some_and(|b| secret::digest(&secret::digest(b)) == secret::digest(&pending.binding));
    if !bound {
        return Ok(Err(fail(
            StatusCode::BAD_REQUEST,
            "another browser's state",
            "This sign-in was not started in this browser: start again",
        )));
    }
    // RFC 9207: a provider that names itself must be ours.
    if q.iss.as_ref().is_some_and(|iss| iss != oidc.issuer()) {
        return Ok(Err(fail(
            StatusCode::BAD_REQUEST,
            "answer from another issuer",
            "This answer came from another provider: start again",
        )));
    }
    if q.code.is_empty() {
        return Ok(Err(fail(
            StatusCode::BAD_REQUEST,
            "no code",
            "The provider sent no sign-in code: start again",
        )));
    }
    let user = match oidc
        .sign_in(&q.code, &pending.verifier, &pending.nonce)
        .await
    {
        Ok(user) => user,
        Err(SignInError::Exchange) => {
            return Ok(Err(fail(
                StatusCode::BAD_GATEWAY,
                "code exchange failed",
                "The portal could not complete the sign-in with the provider: start again",
            )));
        }
        Err(SignInError::NoIdToken) => {
            return Ok(Err(fail(
                StatusCode::FORBIDDEN,
                "no id token",
                "The provider sent no identity: ask an admin",
            )));
        }
        Err(SignInError::NoClaim) => {
            return Ok(Err(fail(
                StatusCode::FORBIDDEN,
                format!("no verified {} claim", oidc.user_claim),
                format!(
                    "The provider did not say your {}: ask an admin",
                    oidc.user_claim
                ),
            )));
        }
        Err(SignInError::Refused) => {
            return Ok(Err(fail(
                StatusCode::FORBIDDEN,
                "id token refused",
                "The provider's answer did not pass the portal's checks: start again",
            )));
        }
    };
    let known = app.db.user_exists(&user).await.map_err(unreadable)?;
    if !known {
        return Ok(Err(fail(
            StatusCode::FORBIDDEN,
            format!("no portal user {user}"),
            format!("no portal user for {user}: ask an admin"),
        )));
    }
    Ok(Ok((user, pending.next)))
}
