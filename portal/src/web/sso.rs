//! The single sign-on pages: the start, which sends the browser to the provider, and the
//! callback it comes back to. A login under way lives in the browser that started it, in a
//! cookie of its own named after its `state` and sealed with the portal's key (the browser can
//! neither read nor change it), so starting logins fills nothing the portal keeps and logins in
//! several tabs each finish. The provider itself (discovery, the code exchange, the id token
//! checks, the claim) is `crate::sso`'s.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Query;
use serde::{Deserialize, Serialize};

use super::cookies::{self, SESSION};
use super::extract::{SESSION_SECS, current, last, maybe_last};
use super::signin::NextQuery;
use super::{
    Chrome, PageError, PageResult, factor, message, next_or_profile, render, see_other, unreadable,
};
use crate::db::{AuditEntry, AuditEvent, Claim};
use crate::domain::mfa::Policy;
use crate::secret;
use crate::sso::{Oidc, SignInError};
use crate::state::{App, ClientIp, Shared, with_who};

/// How long a login may take at the provider.
const PENDING_SECS: i64 = 600;
/// Logins one browser may have under way; starting one more forgets the others, so a browser
/// that starts without end still sends the portal headers of a bounded size.
const MAX_UNDER_WAY: usize = 8;

/// What the callback needs from the start of a login, sealed in its cookie.
#[derive(Serialize, Deserialize)]
struct SealedLogin {
    /// PKCE.
    verifier: String,
    nonce: String,
    next: String,
    expires: i64,
}

/// What a login's cookie is sealed for: its own `state`, so it opens for no other login.
fn purpose(state: &str) -> String {
    format!("jit-portal oidc login {state}")
}

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

/// Send the browser to the provider, with a fresh `state`, nonce and PKCE challenge, and the
/// login in a cookie of its own.
pub async fn start(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let oidc = app.oidc.as_ref().ok_or_else(not_configured)?;
    let next = next_or_profile(Some(&q.next));
    let fresh = || secret::new_token().map_err(|e| PageError::Internal("no randomness", e));
    let (state, nonce) = (fresh()?, fresh()?);
    let authorization = oidc.authorize(&state, &nonce).await;
    let pending = SealedLogin {
        verifier: authorization.verifier,
        nonce,
        next,
        expires: jiff::Timestamp::now().as_second() + PENDING_SECS,
    };
    let sealed = serde_json::to_vec(&pending)
        .map_err(anyhow::Error::from)
        .and_then(|json| secret::seal(&app.cookie_key, &purpose(&state), &json))
        .map_err(|e| PageError::Internal("cannot start the single sign-on", e))?;
    let mut r = see_other(&authorization.url);
    let under_way = cookies::oidc_logins(&app, &headers);
    if under_way.len() >= MAX_UNDER_WAY {
        for base in under_way {
            cookies::set(&app, &mut r, &base, "", 0);
        }
    }
    cookies::set(
        &app,
        &mut r,
        &cookies::oidc_login(&state),
        &sealed,
        PENDING_SECS,
    );
    Ok(r)
}

/// The login started with `state` in this browser, when its cookie came back unchanged and in
/// time.
fn pending(app: &App, headers: &HeaderMap, state: &str, now: i64) -> Option<SealedLogin> {
    if state.is_empty() {
        return None;
    }
    let sealed = cookies::get(app, headers, &cookies::oidc_login(state))?;
    let json = secret::open(&app.cookie_key, &purpose(state), sealed)?;
    serde_json::from_slice::<SealedLogin>(&json)
        .ok()
        .filter(|p| p.expires > now)
}

/// A page that explains a refused sign-in and offers to start again.
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
    /// No login of ours was under way in this browser: a log line only, so nobody can fill
    /// the audit trail with requests that cost them nothing.
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
/// The login's cookie goes, whatever the outcome: a login is used once.
pub async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Query(q): Query<CallbackQuery>,
) -> PageResult {
    let oidc = app.oidc.as_ref().ok_or_else(not_configured)?;
    let mut r = finish(&app, oidc, &headers, client, &q)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if !q.state.is_empty() {
        let login = cookies::oidc_login(&q.state);
        if cookies::get(&app, &headers, &login).is_some() {
            cookies::set(&app, &mut r, &login, "", 0);
        }
    }
    Ok(r)
}

/// The callback's answer: a fresh session and the page to go on to, or a refusal.
async fn finish(
    app: &Shared,
    oidc: &Oidc,
    headers: &HeaderMap,
    client: Option<String>,
    q: &CallbackQuery,
) -> PageResult {
    let mut counted = crate::metrics::SignIn::begin(crate::metrics::Method::Oidc);
    let (signed_in, next) =
        match verify(app, oidc, headers, q).await? {
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
    // The provider says which groups the user is in now: eligibility and approval by group
    // follow it from this sign-in on.
    let crate::sso::SignedIn {
        user,
        mfa: amr_mfa,
        groups,
        email,
    } = signed_in;
    crate::domain::access::sso_groups(&app.db, &user, &groups, client.clone())
        .await
        .map_err(|e| PageError::Internal("cannot record the groups", anyhow::anyhow!("{e}")))?;
    // A verified address from the provider is where the user's notifications go from now on.
    if let Some(email) = email {
        crate::domain::admin::sso_email(&app.db, &user, &email, client.clone())
            .await
            .map_err(|e| PageError::Internal("cannot record the email", anyhow::anyhow!("{e}")))?;
    }
    let how = format!("oidc {}", oidc.issuer());
    // The provider's second factor, when trusted (`--oidc-trust-amr`); else the portal's own,
    // when the user has one or the policy covers them.
    let trusted = oidc.trust_amr && amr_mfa;
    let mut claim = Claim::None;
    if trusted {
        claim = Claim::Trusted;
    } else if let Some(row) = app.db.sign_in_row(&user).await.map_err(unreadable)?
        && (row.has_factor() || Policy::stored(&row.require_mfa).covers(row.admin))
    {
        counted.ok();
        return factor::ask(app, &user, &how, &next, &row);
    }
    // A fresh session on every sign-in, as with a password.
    if let Ok(Some(old)) = current(app, headers).await {
        let audit = AuditEntry::new(AuditEvent::WebSignOut, &old.user).user(&old.user);
        app.db
            .end_session(&old.id, audit)
            .await
            .map_err(|e| PageError::Internal("cannot end the previous session", e))?;
    }
    let detail = if trusted {
        format!("{how}; second factor at the provider (amr)")
    } else {
        how
    };
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, &user)
        .user(&user)
        .detail(detail);
    audit.client = client;
    let (value, _, _) = app
        .db
        .create_session_with(&user, SESSION_SECS, &claim, audit)
        .await
        .map_err(|e| PageError::Internal("cannot start a session", e))?
        .ok_or_else(|| PageError::Internal("cannot start a session", anyhow::anyhow!("refused")))?;
    let mut r = with_who(see_other(&next), &user);
    cookies::set(app, &mut r, SESSION, &value, SESSION_SECS);
    counted.ok();
    Ok(r)
}

/// The portal user a callback signs in and where to send them, or a failure to show.
async fn verify(
    app: &Shared,
    oidc: &Oidc,
    headers: &HeaderMap,
    q: &CallbackQuery,
) -> Result<Result<(crate::sso::SignedIn, String), Failure>, PageError> {
    let now = jiff::Timestamp::now().as_second();
    let pending = pending(app, headers, &q.state, now);
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
        // Made up, used, expired, or started in another browser (an attacker's state and code
        // planted in a victim's browser): this browser holds no login for it.
        let mut failure = fail(
            StatusCode::BAD_REQUEST,
            "no login under way for this state in this browser",
            "This sign-in has expired, was already used, or was started in another browser: \
             start again",
        );
        failure.stray = true;
        return Ok(Err(failure));
    };
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
    let signed_in = match oidc
        .sign_in(&q.code, &pending.verifier, &pending.nonce)
        .await
    {
        Ok(signed_in) => signed_in,
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
    let user = &signed_in.user;
    let known = app.db.user_exists(user).await.map_err(unreadable)?;
    if !known {
        return Ok(Err(fail(
            StatusCode::FORBIDDEN,
            format!("no portal user {user}"),
            format!("no portal user for {user}: ask an admin"),
        )));
    }
    Ok(Ok((signed_in, pending.next)))
}
