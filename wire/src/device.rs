//! The device login (docs/protocol.md §2.1, RFC 8628 semantics): the CLI asks for a code, the
//! user approves it in a browser on any device, and the CLI polls for the token. Nothing
//! listens on the CLI's side.

use serde::{Deserialize, Serialize};

/// The form fields of [`crate::paths::DEVICE_CODE`] and [`crate::paths::DEVICE_TOKEN`].
pub mod param {
    /// `tenant` or `admin`: the access asked for.
    pub const SCOPE: &str = "scope";
    /// The requesting machine's host name, shown on the approval page.
    pub const HOST: &str = "host";
    pub const DEVICE_CODE: &str = "device_code";
    /// The user code on the approval page's URL and form.
    pub const CODE: &str = "code";
}

/// The `scope` values.
pub const SCOPE_TENANT: &str = "tenant";
pub const SCOPE_ADMIN: &str = "admin";

/// The `error` values of a 400 answer to a poll (RFC 8628 §3.5), and of a refused code request.
pub mod error {
    pub const PENDING: &str = "authorization_pending";
    pub const SLOW_DOWN: &str = "slow_down";
    pub const DENIED: &str = "access_denied";
    pub const EXPIRED: &str = "expired_token";
    /// An unknown or already used device code, or a malformed request.
    pub const INVALID_GRANT: &str = "invalid_grant";
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// Too many code requests from one address (429).
    pub const TOO_MANY: &str = "too_many_requests";
}

/// The answer to a code request (RFC 8628 §3.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCode {
    /// The CLI's secret for polling; the portal keeps only its digest.
    pub device_code: String,
    /// What the user types on the approval page: 8 letters as `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    /// Seconds the codes are good for.
    pub expires_in: i64,
    /// Seconds to wait between polls.
    pub interval: i64,
}

/// The answer to a poll once the user approved (200).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceToken {
    pub token: String,
    /// [`SCOPE_TENANT`] or [`SCOPE_ADMIN`].
    pub scope: String,
    pub expires_in: i64,
    /// duplo-jit's one-time code for admin calls (`Otpcode`, docs/protocol.md §1), as the
    /// browser login hands it on `/v2/callbackWithOtp`: only for an admin login the portal's
    /// second-factor policy covers, approved from a sign-in that used the factor. The CLI keeps
    /// it in memory for the one run and never caches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
}

/// Any refusal (400, 429): one of [`error`]'s values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The letters of a user code (RFC 8628 §6.1): consonants only, so no word is spelled and no
/// two look alike; 20^8 codes.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const USER_CODE_LEN: usize = 8;

/// A user code as typed (any case, dashes or spaces anywhere) in its one stored form: the
/// letters uppercased, or None when that is not exactly a code's length of the alphabet.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == USER_CODE_LEN && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(letters)
}

/// A normalized user code as shown: `XXXX-XXXX`.
pub fn show_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_read_as_typed_and_show_with_a_dash() {
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code(" BCDF GHJK ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(
            normalize_user_code("ABCD-EFGH"),
            None,
            "vowels are not in it"
        );
        assert_eq!(normalize_user_code("BCDF-GHJKL"), None);
        assert_eq!(show_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn a_poll_refusal_reads_without_a_description() {
        let e: DeviceError = serde_json::from_str(r#"{"error":"slow_down"}"#).expect("parse");
        assert_eq!(e.error, error::SLOW_DOWN);
    }
}
