//! The portal's web pages: password sign-in, sessions held in the database, CSRF tokens on
//! every form and security headers on every answer. Pages are askama templates, so every
//! value is escaped by the engine.

use std::collections::HashMap;
use std::sync::LazyLock;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::db::{AuditEntry, AuditEvent, Session};
use crate::state::{ClientIp, Shared, with_who};
use crate::{domain, log, password, secret};

/// How long a web sign-in lasts.
const SESSION_SECS: i64 = 12 * 3600;
const SESSION_COOKIE: &str = "jit_session";
/// The CSRF token of the sign-in form, before there is a session to hold one.
const LOGIN_CSRF_COOKIE: &str = "jit_login_csrf";

mod admin;
pub(crate) mod cli_login;
pub(crate) mod oidc;
mod profile;
pub(crate) mod throttle;

pub fn routes() -> Router<Shared> {
    Router::new()
        .merge(admin::routes())
        .merge(oidc::routes())
        .merge(profile::routes())
        .route("/", get(|| async { see_other("/profile") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/login/cancel-cli", post(cancel_cli))
        .route("/logout", post(logout))
        .route(
            "/static/portal.css",
            get(|| async { asset(include_str!("../../static/portal.css"), "text/css") }),
        )
        .route(
            "/static/portal.js",
            get(|| async { asset(include_str!("../../static/portal.js"), "text/javascript") }),
        )
        // No icon, said once and cached, instead of a 404 on every page.
        .route(
            "/favicon.ico",
            get(|| async {
                (
                    StatusCode::NO_CONTENT,
                    [(header::CACHE_CONTROL, "public, max-age=86400")],
                )
            }),
        )
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => message(StatusCode::BAD_REQUEST, "Bad request"),
    }
}

/// The status a domain refusal or failure answers with on a page.
pub(crate) fn status_of(e: &domain::Error) -> StatusCode {
    match e {
        domain::Error::Invalid(_) => StatusCode::BAD_REQUEST,
        domain::Error::Unauthorized => StatusCode::UNAUTHORIZED,
        domain::Error::Forbidden(_) => StatusCode::FORBIDDEN,
        domain::Error::NotFound(_) => StatusCode::NOT_FOUND,
        domain::Error::Upstream(_) => StatusCode::BAD_GATEWAY,
        domain::Error::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A domain refusal as a page in the session's frame; a failure is logged in full and shown
/// by its outermost context only.
pub(crate) fn error_page(session: &Session, e: domain::Error) -> Response {
    let status = status_of(&e);
    let text = match e {
        domain::Error::Failed(e) => {
            let what = e.to_string();
            log::failure(&what, &e);
            what
        }
        other => other.to_string(),
    };
    message_for(session, status, &text)
}

/// Headers every answer carries. Pages may show secrets, so nothing but the stylesheet is
/// cached.
pub async fn security_headers(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let cacheable = path.starts_with("/static/") || path == "/favicon.ico";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if app.tls {
        // Reached over HTTPS (here or at a proxy): browsers keep to it for a year.
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A file served from `static/`, cached for an hour.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// What every page's frame shows: who is signed in, the sign-out form's CSRF token, and the
/// admin pages' link for admins.
#[derive(Clone, Copy)]
pub(crate) struct Chrome<'a> {
    pub user: Option<&'a str>,
    pub csrf: &'a str,
    pub admin: bool,
}

impl<'a> Chrome<'a> {
    pub const NONE: Chrome<'static> = Chrome {
        user: None,
        csrf: "",
        admin: false,
    };

    pub fn of(session: &'a Session) -> Chrome<'a> {
        Chrome {
            user: Some(&session.user),
            csrf: &session.csrf,
            admin: session.admin,
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
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

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    chrome: Chrome<'a>,
    title: &'a str,
}

pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => internal("cannot render the page", &anyhow::Error::new(e)),
    }
}

pub(crate) fn message(status: StatusCode, title: &str) -> Response {
    render(
        status,
        &MessagePage {
            chrome: Chrome::NONE,
            title,
        },
    )
}

/// A failure inside the portal, for a browser: logged in full, a page without the detail.
pub(crate) fn internal(what: &str, e: &anyhow::Error) -> Response {
    log::failure(what, e);
    message(StatusCode::INTERNAL_SERVER_ERROR, what)
}

/// A message page inside a signed-in session's frame.
pub(crate) fn message_for(session: &Session, status: StatusCode, title: &str) -> Response {
    with_who(
        render(
            status,
            &MessagePage {
                chrome: Chrome::of(session),
                title,
            },
        ),
        &session.user,
    )
}

/// A cookie's value from the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn set_cookie(app: &Shared, response: &mut Response, name: &str, value: &str, max_age: i64) {
    let secure = if app.tls { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    if let Ok(v) = HeaderValue::from_str(&text) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The signed-in session of a request, if any.
pub(crate) async fn current(
    app: &Shared,
    headers: &HeaderMap,
) -> Result<Option<Session>, Response> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    app.db
        .session(value, jiff::Timestamp::now().as_second())
        .await
        .map_err(|e| internal("portal state unreadable", &e))
}

/// The session of a request to a page that needs one, or the answer that sends the browser to
/// sign in and come back to `path_and_query`.
pub(crate) async fn require_session(
    app: &Shared,
    headers: &HeaderMap,
    path_and_query: &str,
) -> Result<Session, Response> {
    match current(app, headers).await? {
        Some(s) => Ok(s),
        None => Err(sign_in_first(path_and_query)),
    }
}

/// The session of a request to an admin page: signed in, and an admin.
pub(crate) async fn require_admin(
    app: &Shared,
    headers: &HeaderMap,
    path_and_query: &str,
) -> Result<Session, Response> {
    let session = require_session(app, headers, path_and_query).await?;
    if !session.admin {
        return Err(with_who(
            message(StatusCode::FORBIDDEN, "This page is for portal admins"),
            &session.user,
        ));
    }
    Ok(session)
}

/// The session of a form submission whose CSRF token matches it. A POST without a session
/// goes to the sign-in page (and back to `back` after it).
pub(crate) async fn require_form(
    app: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    back: &str,
) -> Result<Session, Response> {
    let session = require_session(app, headers, back).await?;
    if !csrf_ok(&session.csrf, form) {
        return Err(with_who(csrf_refused(), &session.user));
    }
    Ok(session)
}

/// Whether a submitted form token is the expected one (compared as digests, in constant time
/// with respect to where they differ).
pub(crate) fn csrf_ok(expected: &str, form: &HashMap<String, String>) -> bool {
    let given = form.get("csrf").map(String::as_str).unwrap_or_default();
    !expected.is_empty() && secret::digest(given) == secret::digest(expected)
}

pub(crate) fn csrf_refused() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this portal: reload the page and try again",
    )
}

/// The local path to return to after signing in (never another site).
fn next_of(q: &HashMap<String, String>) -> String {
    q.get("next")
        .filter(|n| local_path(n))
        .cloned()
        .unwrap_or_else(|| "/profile".into())
}

/// A path on this portal, and nothing a browser could read as another site: browsers drop
/// tabs and newlines from URLs (so `/<TAB>/evil.example` is `//evil.example`) and read `\` as
/// `/`, so only visible ASCII is taken, and no `//` or `\` at all. Short, too: it is stored
/// with a pending sign-in.
pub(crate) fn local_path(n: &str) -> bool {
    n.len() <= 2048
        && n.starts_with('/')
        && n.bytes().all(|b| b.is_ascii_graphic())
        && !n.starts_with("//")
        && !n.contains('\\')
}

/// Where to send a browser that must sign in first.
pub(crate) fn sign_in_first(path_and_query: &str) -> Response {
    let next = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", path_and_query)
        .finish();
    see_other(&format!("/login?{next}"))
}

async fn login_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = next_of(&q);
    match current(&app, &headers).await {
        Ok(Some(s)) => return with_who(see_other(&next), &s.user),
        Ok(None) => {}
        Err(r) => return r,
    }
    login_form(&app, &headers, StatusCode::OK, &next, "", None)
}

/// The CLI login behind a `next` that is its page (docs/protocol.md §2): its port and `state`.
fn cli_login_of(next: &str) -> Option<(u16, Option<String>)> {
    let url = url::Url::parse(&format!("http://portal{next}")).ok()?;
    if url.path() != "/app/user/verify-token" {
        return None;
    }
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let port = cli_login::port_of(&q)?;
    Some((port, cli_login::state_of(&q).map(str::to_string)))
}

fn login_form(
    app: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    // The browser's sign-in token, when it has one, so a sign-in page open in another tab
    // still works (a command-line login opens one more).
    let kept = cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|t| {
            t.len() == 68
                && t.starts_with("jit_")
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .map(str::to_string);
    let csrf = match kept.map_or_else(secret::new_token, Ok) {
        Ok(t) => t,
        Err(e) => return internal("no randomness", &e),
    };
    let mut r = render(
        status,
        &LoginPage {
            chrome: Chrome::NONE,
            csrf: &csrf,
            next,
            username,
            error,
            sso: oidc::sign_in_link(app, next),
            cli_port: cli_login_of(next).map(|(port, _)| port),
        },
    );
    set_cookie(app, &mut r, LOGIN_CSRF_COOKIE, &csrf, 3600);
    r
}

/// Cancel, on the sign-in page a command-line login sent the browser to: the CLI hears at once
/// that the user said no, instead of waiting out its timeout.
async fn cancel_cli(headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    if !csrf_ok(
        cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default(),
        &form,
    ) {
        return csrf_refused();
    }
    let Some((port, state)) = cli_login_of(&next_of(&form)) else {
        return message(StatusCode::BAD_REQUEST, "No command-line login to cancel");
    };
    let pairs: Vec<(&str, &str)> = state.as_deref().map(|s| ("state", s)).into_iter().collect();
    with_who(see_other(&cli_login::callback(port, &pairs)), "cancelled")
}

/// Checked against unknown users too, so a wrong name costs as long as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| password::hash("not a real password").unwrap_or_default());

async fn login_submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let next = next_of(&form);
    if !csrf_ok(
        cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default(),
        &form,
    ) {
        return csrf_refused();
    }
    let name = form.get("username").map(|n| n.trim()).unwrap_or_default();
    let given = form.get("password").cloned().unwrap_or_default();
    let now = jiff::Timestamp::now().as_second();
    let throttle_key = throttle::key(client.as_deref(), name);
    if let Some(left) = throttle::FAILURES.blocked(&throttle_key, now) {
        tracing::warn!(
            "sign-in throttled for {} from {}",
            crate::log::escape(name),
            client.as_deref().unwrap_or("-")
        );
        return login_form(
            &app,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            name,
            Some(&format!(
                "Too many wrong passwords: try again in {} minutes.",
                (left + 59) / 60
            )),
        );
    }
    let stored = match app.db.password_hash(name).await {
        Ok(h) => h,
        Err(e) => return internal("portal state unreadable", &e),
    };
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
    // A flood of sign-ins waits here rather than hashing all at once.
    let Ok(_permit) = throttle::CHECKS.acquire().await else {
        return internal("cannot check the password", &anyhow::anyhow!("closed"));
    };
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, &stored))
        .await
        .unwrap_or(false);
    if !(ok && known) {
        throttle::FAILURES.count(&throttle_key, now);
        let mut audit = AuditEntry::new(AuditEvent::WebSignInFailed, "web");
        if known {
            audit.user = Some(name.into());
        }
        audit.client = client;
        if let Err(e) = app.db.audit(&audit).await {
            return internal("cannot record the sign-in", &e);
        }
        return login_form(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            name,
            Some("That user name and password do not match."),
        );
    }
    throttle::FAILURES.succeeded(&throttle_key);
    // A fresh session on every sign-in: an id planted before it is worth nothing after.
    if let Ok(Some(old)) = current(&app, &headers).await {
        let audit = AuditEntry::new(AuditEvent::WebSignOut, &old.user).user(&old.user);
        if let Err(e) = app.db.end_session(&old.id, audit).await {
            return internal("cannot end the previous session", &e);
        }
    }
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, name).user(name);
    audit.client = client;
    let (value, _, _) = match app.db.create_session(name, SESSION_SECS, audit).await {
        Ok(s) => s,
        Err(e) => return internal("cannot start a session", &e),
    };
    let mut r = with_who(see_other(&next), name);
    set_cookie(&app, &mut r, SESSION_COOKIE, &value, SESSION_SECS);
    set_cookie(&app, &mut r, LOGIN_CSRF_COOKIE, "", 0);
    r
}

async fn logout(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match current(&app, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/login"),
        Err(r) => return r,
    };
    if !csrf_ok(&session.csrf, &form) {
        return with_who(csrf_refused(), &session.user);
    }
    let audit = AuditEntry::new(AuditEvent::WebSignOut, &session.user).user(&session.user);
    if let Err(e) = app.db.end_session(&session.id, audit).await {
        return internal("cannot end the session", &e);
    }
    let mut r = with_who(see_other("/login"), &session.user);
    set_cookie(&app, &mut r, SESSION_COOKIE, "", 0);
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed() {
        for ok in [
            "/profile",
            "/app/user/verify-token?localPort=1&state=a%2Fb",
            "/",
        ] {
            assert!(super::local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r/evil.example/",
            "/ /evil.example/",
            "/\\evil.example/",
            "https://evil.example/",
            "evil",
            "/\u{e9}",
            "",
        ] {
            assert!(!super::local_path(bad), "{bad:?}");
        }
        assert!(!super::local_path(&format!("/{}", "a".repeat(2048))));
    }
}
