//! The browser login's names (docs/protocol.md §2): the page the CLI opens, its query, and the
//! callbacks on the CLI's loopback listener that the page hands the token to.

use serde::{Deserialize, Serialize};

use crate::paths::LOGIN_PAGE;

/// The `localAppName` duplo-jit sends, which the commercial portal's page expects.
pub const APP_NAME: &str = "duplo-jit";
/// The callback that carries the bare token (`?t=TOKEN`, or the POST body).
pub const CALLBACK: &str = "/";
/// The callback that carries [`OtpCallback`] as JSON.
pub const CALLBACK_WITH_OTP: &str = "/v2/callbackWithOtp";

/// Query parameter names of the login page and the callbacks.
pub mod param {
    pub const LOCAL_APP_NAME: &str = "localAppName";
    pub const LOCAL_PORT: &str = "localPort";
    pub const IS_ADMIN: &str = "isAdmin";
    pub const REDIRECT: &str = "redirect";
    pub const SUCCESS: &str = "success";
    /// The CLI's one-time value, echoed back by a portal that promises it.
    pub const STATE: &str = "state";
    /// The token (or [`super::OtpCallback`] JSON) on a GET callback.
    pub const TOKEN: &str = "t";
}

/// What `/v2/callbackWithOtp` carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct OtpCallback {
    pub token: String,
    #[serde(default)]
    pub otp: Option<String>,
}

/// The login page on `host` for a CLI listening on `port`, with `extra` pairs after the ones
/// every login sends (`redirect=true`, `state=...`, or `success=true` for the done page).
pub fn page_url(host: &str, port: u16, admin: bool, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair(param::LOCAL_APP_NAME, APP_NAME)
        .append_pair(param::LOCAL_PORT, &port.to_string());
    if admin {
        query.append_pair(param::IS_ADMIN, "true");
    }
    query.extend_pairs(extra);
    format!("{host}{LOGIN_PAGE}?{}", query.finish())
}

/// The CLI's loopback callback for `port`, carrying `pairs` in its query.
pub fn callback_url(port: u16, pairs: &[(&str, &str)]) -> String {
    callback_url_at(port, CALLBACK, pairs)
}

/// [`callback_url`] at `path` ([`CALLBACK`] or [`CALLBACK_WITH_OTP`]).
pub fn callback_url_at(port: u16, path: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = format!("http://127.0.0.1:{port}{path}");
    if !pairs.is_empty() {
        url.push('?');
        url.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
        );
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_url_is_what_duplo_jit_opens() {
        assert_eq!(
            page_url("https://p.example.com", 4242, true, &[("redirect", "true")]),
            "https://p.example.com/app/user/verify-token?localAppName=duplo-jit&localPort=4242&isAdmin=true&redirect=true"
        );
        assert_eq!(
            page_url("http://127.0.0.1:1", 9, false, &[("success", "true")]),
            "http://127.0.0.1:1/app/user/verify-token?localAppName=duplo-jit&localPort=9&success=true"
        );
    }

    #[test]
    fn callbacks_encode_their_pairs() {
        assert_eq!(callback_url(5, &[]), "http://127.0.0.1:5/");
        assert_eq!(
            callback_url(5, &[("t", "a b&c"), ("state", "s")]),
            "http://127.0.0.1:5/?t=a+b%26c&state=s"
        );
    }
}
