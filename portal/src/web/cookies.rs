//! The portal's cookies: every name written once here, how they are read and set, and the
//! refusal of a request that carries one of them twice.
//!
//! Browsers keep cookies per host, not per port or scheme, so any other server on the portal's
//! host could set cookies the portal then reads. Where the browser treats the portal's origin as
//! secure (HTTPS, or a loopback URL), the names carry the `__Host-` prefix: the browser keeps
//! such a cookie only with `Secure`, `Path=/` and no `Domain`, so there is at most one of each
//! name and a sibling domain cannot set it. On plain HTTP at any other name they cannot, and the
//! portal starts with a warning. Either way a request with two cookies of one of the portal's
//! names (a planted one with a narrower path is sent first) is refused instead of guessing.
//!
//! Read and written by hand rather than through axum-extra's `CookieJar`, which would change
//! what browsers and tests see: the jar lets the last of a repeated name win, percent-decodes
//! values, writes the attributes in another order, and adds an `Expires` in the past to a
//! removal.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::message;
use crate::secret;
use crate::state::{App, Shared};

/// The web session.
pub const SESSION: &str = "jit_session";
/// The sign-in form's CSRF token, before there is a session to hold one.
pub const LOGIN_CSRF: &str = "jit_login_csrf";
/// A browser that has signed in with a password before (`signin.rs`), for the sign-in limits.
pub const DEVICE: &str = "jit_device";
/// A sign-in whose password (or single sign-on) was right, waiting for its second factor
/// (`factor.rs`): sealed, five minutes.
pub const MFA_PENDING: &str = "jit_mfa";
/// A second factor being set up on the profile page: its secret, sealed, until confirmed.
pub const MFA_ENROL: &str = "jit_mfa_enrol";
/// A passkey registration under way on the profile page (`passkey.rs`): sealed, five minutes.
pub const PASSKEY_REG: &str = "jit_passkey_reg";
/// A passkey sign-in step under way (`passkey.rs`): sealed, five minutes.
pub const PASSKEY_USE: &str = "jit_passkey";
/// A single sign-on login under way: this, `_` and 16 hex digits of its `state`'s digest.
const OIDC_LOGIN: &str = "jit_oidc";
/// Names the portal no longer sets but browsers may still hold (the single sign-on binding).
const RETIRED: &[&str] = &[OIDC_LOGIN];
const HOST_PREFIX: &str = "__Host-";

/// Whether a portal at `public_url` gives its cookies `__Host-` names and `Secure`: served over
/// TLS (here or at a proxy), or at a loopback address, which browsers treat as secure even over
/// plain HTTP (Chromium keeps `__Host-` cookies from `http://127.0.0.1`).
pub fn host_cookies(tls: bool, public_url: &str) -> bool {
    if tls {
        return true;
    }
    let Ok(url) = url::Url::parse(public_url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// The name this portal gives the cookie `base`.
pub fn name(app: &App, base: &str) -> String {
    if app.host_cookies {
        format!("{HOST_PREFIX}{base}")
    } else {
        base.to_string()
    }
}

/// The cookie (without prefix) of the single sign-on login started with `state`.
pub fn oidc_login(state: &str) -> String {
    format!("{OIDC_LOGIN}_{}", &secret::digest(state)[..16])
}

/// Whether `base`, a name without its prefix, is one of the portal's (now or before).
fn ours(base: &str) -> bool {
    base == SESSION
        || base == LOGIN_CSRF
        || base == DEVICE
        || base == MFA_PENDING
        || base == MFA_ENROL
        || RETIRED.contains(&base)
        || is_oidc_login(base)
}

fn is_oidc_login(base: &str) -> bool {
    base.strip_prefix(OIDC_LOGIN)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every cookie of the request, as (name, value), in the order the browser sent them.
fn pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The value of the portal's cookie `base` in the request, when not empty.
pub fn get<'a>(app: &App, headers: &'a HeaderMap, base: &str) -> Option<&'a str> {
    let name = name(app, base);
    pairs(headers)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The single sign-on logins under way in this browser, by cookie name without prefix.
pub fn oidc_logins(app: &App, headers: &HeaderMap) -> Vec<String> {
    pairs(headers)
        .filter_map(|(k, _)| {
            let base = if app.host_cookies {
                k.strip_prefix(HOST_PREFIX)?
            } else {
                k
            };
            is_oidc_login(base).then(|| base.to_string())
        })
        .collect()
}

/// Set the portal's cookie `base` for the whole portal (with `max_age` 0, drop it).
pub fn set(app: &App, response: &mut Response, base: &str, value: &str, max_age: i64) {
    let secure = if app.host_cookies { "; Secure" } else { "" };
    let name = name(app, base);
    append(
        response,
        &format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"),
    );
}

fn append(response: &mut Response, text: &str) {
    if let Ok(v) = HeaderValue::from_str(text) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Refuse a request that carries one of the portal's cookies twice, in either spelling: the
/// browser sends a cookie with a narrower path first, so another server on this host could
/// otherwise choose which session or sign-in the portal sees. Unprefixed names a `__Host-`
/// portal no longer reads (set before it used the prefix) are dropped as they come.
pub async fn one_of_each(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let mut seen: Vec<String> = Vec::new();
    let mut twice = false;
    let mut stale: Vec<String> = Vec::new();
    for (k, _) in pairs(request.headers()) {
        let (base, prefixed) = match k.strip_prefix(HOST_PREFIX) {
            Some(base) => (base, true),
            None => (k, false),
        };
        if !ours(base) {
            continue;
        }
        if seen.iter().any(|s| s == base) {
            twice = true;
        } else {
            seen.push(base.to_string());
        }
        let unread = !prefixed && (app.host_cookies || RETIRED.contains(&base));
        if unread && !stale.iter().any(|s| s == base) {
            stale.push(base.to_string());
        }
    }
    let mut response = if twice {
        tracing::warn!("refused a request carrying one of the portal's cookies twice");
        message(
            StatusCode::BAD_REQUEST,
            "Your browser sent one of this portal's cookies twice, so the portal cannot tell \
             which is yours: clear this site's cookies in your browser's settings, then sign in \
             again",
        )
    } else {
        next.run(request).await
    };
    for base in stale {
        append(
            &mut response,
            &format!("{base}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_origins_get_host_cookies() {
        for (tls, url) in [
            (true, "http://portal.example"),
            (false, "https://portal.example"),
            (false, "http://127.0.0.1:8480"),
            (false, "http://127.1.2.3"),
            (false, "http://localhost:8480"),
            (false, "http://jit.localhost"),
            (false, "http://[::1]:8480"),
        ] {
            assert!(host_cookies(tls || url.starts_with("https:"), url), "{url}");
        }
        for url in [
            "http://portal.example",
            "http://10.0.0.1:8480",
            "http://0.0.0.0:8480",
            "http://localhost.example",
            "not a url",
        ] {
            assert!(!host_cookies(false, url), "{url}");
        }
    }

    #[test]
    fn the_portals_names_in_either_spelling_and_no_others() {
        let login = oidc_login("jit_state");
        assert_eq!(login.len(), "jit_oidc_".len() + 16);
        for base in [SESSION, LOGIN_CSRF, "jit_oidc", login.as_str()] {
            assert!(ours(base), "{base}");
        }
        for other in [
            "jit_sessions",
            "jit_oidc_",
            "jit_oidc_xyz",
            "jit_oidc_0123456789abcdeg",
        ] {
            assert!(!ours(other), "{other}");
        }
    }
}
