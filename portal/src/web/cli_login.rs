//! The CLI login page (docs/protocol.md §2): a browser that is not signed in signs in first and
//! comes back; a signed-in one sees who is signed in and the access asked for, with only
//! Authorize or Cancel. Authorize mints a login token tied to the session and answers a page
//! whose script POSTs it to the CLI's loopback callback (a link with it only without scripts);
//! Cancel sends the browser to the callback without a token.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum_extra::extract::{Form, Query};
use jit_wire::{login, paths};
use serde::Deserialize;

use super::extract::{csrf_ok, csrf_refused, current, last, maybe_last, sign_in_first};
use super::{
    Chrome, ConnectsToLoopback, Framed, PageError, PageResult, internal, message, render, see_other,
};
use crate::db::{AuditEntry, AuditEvent, Session, TokenScope};
use crate::domain::mfa;
use crate::state::{ClientIp, Shared, with_who};

/// What the CLI's login URL carries (docs/protocol.md §2), and the page's form with it.
#[derive(Default, Deserialize)]
pub struct CliLogin {
    #[serde(rename = "localPort", default, deserialize_with = "maybe_last")]
    local_port: Option<String>,
    #[serde(rename = "isAdmin", default, deserialize_with = "maybe_last")]
    is_admin: Option<String>,
    #[serde(default, deserialize_with = "maybe_last")]
    state: Option<String>,
    /// Where the CLI sends the browser once it has its token.
    #[serde(default, deserialize_with = "maybe_last")]
    success: Option<String>,
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    /// `authorize`, or anything else for Cancel.
    #[serde(default, deserialize_with = "maybe_last")]
    action: Option<String>,
}

impl CliLogin {
    /// The login a URL's query names (the last value of a repeated key wins, as for a page).
    pub fn of_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> CliLogin {
        let mut login = CliLogin::default();
        for (k, v) in pairs {
            let slot = match k.as_ref() {
                "localPort" => &mut login.local_port,
                "isAdmin" => &mut login.is_admin,
                "state" => &mut login.state,
                _ => continue,
            };
            *slot = Some(v.into());
        }
        login
    }

    /// The CLI's loopback port.
    pub fn port(&self) -> Option<u16> {
        self.local_port
            .as_deref()
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
    }

    /// The CLI's one-time `state`, when it sent a sane one.
    pub fn state(&self) -> Option<&str> {
        self.state
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() <= 512)
    }

    /// Whether admin access is asked for.
    fn admin(&self) -> bool {
        self.is_admin.as_deref() == Some("true")
    }
}

/// The CLI login page (docs/protocol.md §2). A browser that is not signed in signs in first
/// and comes back here; a signed-in one sees Authorize and Cancel.
pub async fn page(
    State(app): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<CliLogin>,
) -> PageResult {
    let session = current(&app, &headers).await;
    if q.success.as_deref() == Some("true") {
        return Ok(done(session.as_ref().ok().and_then(Option::as_ref)));
    }
    let Some(port) = q.port() else {
        return Err(message(StatusCode::BAD_REQUEST, "Missing or invalid localPort").into());
    };
    match session? {
        Some(session) => Ok(cli_login(&session, port, q.admin(), q.state(), None)),
        None => {
            let back = uri
                .path_and_query()
                .map_or(paths::LOGIN_PAGE, |p| p.as_str());
            Err(sign_in_first(back))
        }
    }
}

/// Authorize or Cancel: only a signed-in browser's form, with its session's CSRF token, counts.
pub async fn submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(form): Form<CliLogin>,
) -> PageResult {
    cli_login_submit(&app, &headers, client, &form).await
}

#[derive(Template)]
#[template(path = "cli_login/authorize.html")]
struct CliLoginPage<'a> {
    chrome: Chrome<'a>,
    user: &'a str,
    port: u16,
    admin: bool,
    scope: &'a str,
    state: Option<&'a str>,
    error: Option<&'a str>,
}

/// The CLI login page (docs/protocol.md §2) for a signed-in browser: who is signed in, and
/// only Authorize or Cancel.
fn cli_login(
    session: &Session,
    port: u16,
    admin: bool,
    state: Option<&str>,
    error: Option<&str>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    with_who(
        render(
            status,
            &CliLoginPage {
                chrome: Chrome::of(session),
                user: &session.user,
                port,
                admin,
                scope: if admin { "admin" } else { "tenant" },
                state,
                error,
            },
        ),
        &session.user,
    )
}

/// The CLI's callback on its loopback listener.
pub fn callback(port: u16, pairs: &[(&str, &str)]) -> String {
    jit_wire::login::callback_url(port, pairs)
}

/// Authorize or Cancel on the signed-in CLI login page: Authorize mints a token tied to the
/// session and answers the page that hands it to the CLI's callback (`handoff`).
async fn cli_login_submit(
    app: &Shared,
    headers: &HeaderMap,
    client: Option<String>,
    form: &CliLogin,
) -> PageResult {
    let Some(port) = form.port() else {
        return Err(message(StatusCode::BAD_REQUEST, "Missing or invalid localPort").into());
    };
    let session = match current(app, headers).await? {
        Some(s) => s,
        None => {
            // The session ended while the page was open: sign in again, then back to this
            // same CLI login, which is still waiting.
            let mut page = url::form_urlencoded::Serializer::new(String::new());
            page.append_pair("localAppName", "duplo-jit")
                .append_pair("localPort", &port.to_string())
                .append_pair("isAdmin", form.is_admin.as_deref().unwrap_or("false"));
            if let Some(state) = form.state() {
                page.append_pair("state", state);
            }
            return Err(sign_in_first(&format!(
                "/app/user/verify-token?{}",
                page.finish()
            )));
        }
    };
    if !csrf_ok(&session.csrf, &form.csrf) {
        return Err(with_who(csrf_refused(), &session.user).into());
    }
    let state = form.state();
    let state_pair: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
    if form.action.as_deref() != Some("authorize") {
        return Ok(with_who(
            see_other(&callback(port, &state_pair)),
            &session.user,
        ));
    }
    let admin = form.admin();
    if admin && !session.admin {
        return Ok(cli_login(
            &session,
            port,
            admin,
            state,
            Some("Your user has no admin access."),
        ));
    }
    // An admin login the second-factor settings cover hands duplo-jit a one-time code with
    // the token (docs/protocol.md §2): only for a sign-in that used the second factor.
    let with_otp = mfa::login_needs_otp(&app.db, &session, admin)
        .await
        .framed(&session)?;
    if with_otp && !session.mfa {
        return Ok(cli_login(
            &session,
            port,
            admin,
            state,
            Some(mfa::LOGIN_NEEDS_FACTOR),
        ));
    }
    let mut audit = AuditEntry::new(AuditEvent::Login, &session.user).user(&session.user);
    audit.scope = Some(if admin { "admin" } else { "tenant" }.into());
    audit.client = client;
    // The token may do only what the user approved here (docs/protocol.md §11).
    let scope = TokenScope::of_login(admin);
    let minted = app
        .db
        .mint_session_token(&session, scope, audit)
        .await
        .and_then(|(token, id)| {
            let otp = if with_otp {
                let now = jiff::Timestamp::now().as_second();
                Some(mfa::otp_proof(&app.cookie_key, &id, now)?)
            } else {
                None
            };
            Ok((token, otp))
        });
    match minted {
        Ok((token, otp)) => Ok(with_who(
            handoff(&session, port, admin, state, &token, otp.as_deref()),
            &session.user,
        )),
        Err(e) => Err(PageError::from(with_who(
            internal("The portal could not complete the login", &e),
            &session.user,
        ))),
    }
}

#[derive(Template)]
#[template(path = "cli_login/handoff.html")]
struct Handoff<'a> {
    chrome: Chrome<'a>,
    port: u16,
    /// The listener's POST callback: `state` only, never the token.
    callback: &'a str,
    /// What the script POSTs: the token, or `{"token","otp"}` on `/v2/callbackWithOtp`.
    body: &'a str,
    /// The GET callback with the token, for browsers without scripts only.
    fallback: &'a str,
    /// Where the listener's GET answer would send the browser.
    done: &'a str,
}

/// Authorize's answer (docs/protocol.md §2): a page (never stored, its URL the form's, without
/// the token) whose script POSTs the token to the CLI's loopback callback, so the token is in
/// no URL the browser keeps, then goes on to the done page. Only a browser without scripts is
/// offered the GET callback with `?t=`, in a link. With `otp` (duplo-jit's one-time code), the
/// callback is `/v2/callbackWithOtp` and carries `{"token","otp"}`.
fn handoff(
    session: &Session,
    port: u16,
    admin: bool,
    state: Option<&str>,
    token: &str,
    otp: Option<&str>,
) -> Response {
    let state_pair: Vec<(&str, &str)> = state
        .map(|s| (login::param::STATE, s))
        .into_iter()
        .collect();
    let (path, body) = match otp {
        Some(otp) => (
            login::CALLBACK_WITH_OTP,
            serde_json::to_string(&login::OtpCallback {
                token: token.into(),
                otp: Some(otp.into()),
            })
            .unwrap_or_default(),
        ),
        None => (login::CALLBACK, token.to_string()),
    };
    let mut with_token = vec![(login::param::TOKEN, body.as_str())];
    with_token.extend(state_pair.iter().copied());
    let mut page = render(
        StatusCode::OK,
        &Handoff {
            chrome: Chrome::of(session),
            port,
            callback: &login::callback_url_at(port, path, &state_pair),
            body: &body,
            fallback: &login::callback_url_at(port, path, &with_token),
            done: &login::page_url("", port, admin, &[(login::param::SUCCESS, "true")]),
        },
    );
    page.extensions_mut().insert(ConnectsToLoopback);
    page
}

#[derive(Template)]
#[template(path = "cli_login/done.html")]
struct Done<'a> {
    chrome: Chrome<'a>,
}

/// The last page of docs/protocol.md §2: where the CLI sends the browser once it has its token,
/// in the frame of the browser's session when it has one.
fn done(session: Option<&Session>) -> Response {
    render(
        StatusCode::OK,
        &Done {
            chrome: session.map_or(Chrome::NONE, Chrome::of),
        },
    )
}
