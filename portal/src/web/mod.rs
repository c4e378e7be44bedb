//! What every web page shares: the frame (`Chrome`), rendering, message and error pages, the
//! typed error a handler returns (`PageError`), the security headers on every answer, and the
//! static assets. Pages are askama templates, so every value is escaped
//! by the engine. The URL map is `router.rs`'s; each page family has its own file here.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::db::Session;
use crate::state::{Shared, with_who};
use crate::{domain, log};

pub mod access;
pub mod admin;
pub mod cli_login;
pub mod cookies;
pub mod device;
pub mod extract;
pub mod factor;
pub mod link;
pub mod passkey;
pub mod profile;
pub mod signin;
pub mod sso;
pub mod throttle;

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => message(StatusCode::BAD_REQUEST, "Bad request"),
    }
}

/// A domain refusal as a page in the session's frame; a failure is logged in full and shown
/// by its outermost context only.
pub fn error_page(session: &Session, e: domain::Error) -> Response {
    let status = crate::state::status_of(&e);
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

/// Why a page handler stops early, so it reads top to bottom with `?`.
pub enum PageError {
    /// A failure inside the portal: logged in full, a page without the detail.
    Internal(&'static str, anyhow::Error),
    /// A domain refusal or failure, shown in the frame of the session that met it.
    Refused(Box<Session>, domain::Error),
    /// An answer ready to send: a redirect, a refusal page.
    Answer(Box<Response>),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Internal(what, e) => internal(what, &e),
            PageError::Refused(session, e) => error_page(&session, e),
            PageError::Answer(r) => *r,
        }
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> PageError {
        PageError::Answer(Box::new(r))
    }
}

/// A page handler's result.
pub type PageResult = Result<Response, PageError>;

/// The portal's state could not be read.
pub fn unreadable(e: anyhow::Error) -> PageError {
    PageError::Internal("portal state unreadable", e)
}

/// A domain result, its refusal to be shown in `session`'s frame.
pub trait Framed<T> {
    fn framed(self, session: &Session) -> Result<T, PageError>;
}

impl<T> Framed<T> for domain::Result<T> {
    fn framed(self, session: &Session) -> Result<T, PageError> {
        self.map_err(|e| PageError::Refused(Box::new(session.clone()), e))
    }
}

/// Every page's policy: scripts, styles and connections from the portal only.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
/// The same, plus connections to a loopback listener, for the one page whose script hands a
/// token to the CLI (docs/protocol.md §2).
const CSP_LOOPBACK: &str = "default-src 'self'; connect-src 'self' http://127.0.0.1:* http://localhost:* http://[::1]:*; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Marks an answer (in its extensions) whose page's script POSTs to the CLI's loopback
/// listener: `security_headers` gives it `CSP_LOOPBACK`.
#[derive(Clone, Copy)]
pub struct ConnectsToLoopback;

/// Headers every answer carries. Pages may show secrets, so nothing but the stylesheet is
/// cached.
pub async fn security_headers(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let cacheable = path.starts_with("/static/") || path == "/favicon.ico";
    let mut response = next.run(request).await;
    if app.tls {
        // Reached over HTTPS (here or at a proxy): browsers keep to it for a year.
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let loopback = response.extensions().get::<ConnectsToLoopback>().is_some();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if loopback { CSP_LOOPBACK } else { CSP }),
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

pub async fn stylesheet() -> Response {
    asset(include_str!("../../static/portal.css"), "text/css")
}

pub async fn script() -> Response {
    asset(include_str!("../../static/portal.js"), "text/javascript")
}

/// No icon, said once and cached, instead of a 404 on every page.
pub async fn no_favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

/// What every page's frame shows: who is signed in, the sign-out form's CSRF token, and the
/// admin pages' link for admins.
#[derive(Clone, Copy)]
pub struct Chrome<'a> {
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
#[template(path = "message.html")]
struct MessagePage<'a> {
    chrome: Chrome<'a>,
    title: &'a str,
}

pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => internal("cannot render the page", &anyhow::Error::new(e)),
    }
}

pub fn message(status: StatusCode, title: &str) -> Response {
    render(
        status,
        &MessagePage {
            chrome: Chrome::NONE,
            title,
        },
    )
}

/// A failure inside the portal, for a browser: logged in full, a page without the detail.
pub fn internal(what: &str, e: &anyhow::Error) -> Response {
    log::failure(what, e);
    message(StatusCode::INTERNAL_SERVER_ERROR, what)
}

/// A message page inside a signed-in session's frame.
pub fn message_for(session: &Session, status: StatusCode, title: &str) -> Response {
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

/// A path on this portal, and nothing a browser could read as another site: browsers drop
/// tabs and newlines from URLs (so `/<TAB>/evil.example` is `//evil.example`) and read `\` as
/// `/`, so only visible ASCII is taken, and no `//` or `\` at all. Short, too: it is stored
/// with a pending sign-in.
pub fn local_path(n: &str) -> bool {
    n.len() <= 2048
        && n.starts_with('/')
        && n.bytes().all(|b| b.is_ascii_graphic())
        && !n.starts_with("//")
        && !n.contains('\\')
}

/// The local path to return to after signing in (never another site).
pub fn next_or_profile(next: Option<&str>) -> String {
    next.filter(|n| local_path(n))
        .map_or_else(|| "/profile".into(), str::to_string)
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
