//! The portal's values, each with one parser and one message: a door passes the words its user
//! typed the value under (`--validity`, "AWS Access Token Validity") and gets back the value or
//! the message, the same at every door. Once parsed, a value cannot break its rule.

use base64::Engine as _;

use super::{Error, Result};
use crate::log::escape;

/// STS's shortest session.
pub const MIN_SESSION_SECS: i64 = 900;
/// STS's longest role session (a role's MaxSessionDuration at its highest).
pub const MAX_SESSION_SECS: i64 = 43200;
/// A new tenant's AWS Access Token Validity.
pub const DEFAULT_VALIDITY_SECS: i64 = 3600;

/// The session a vend asks STS for: the wanted validity held to 900 s and to what the role
/// allows. Values stored before out-of-range input was refused are held here too.
pub fn clamp_session(wanted: i64, role_max: i64) -> i64 {
    let ceiling = role_max.clamp(MIN_SESSION_SECS, MAX_SESSION_SECS);
    wanted.clamp(MIN_SESSION_SECS, ceiling)
}

fn invalid(message: String) -> Error {
    Error::Invalid(message)
}

/// A user or tenant name. Names end up in STS session names, logs and the audit trail, so
/// they are kept plain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// `kind` is what the name names: "user" or "tenant".
    pub fn parse(kind: &str, raw: &str) -> Result<Name> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !ok {
            return Err(invalid(format!(
                "invalid {kind} name '{}': use 1-64 of A-Z a-z 0-9 _ + = , . @ -",
                escape(raw)
            )));
        }
        Ok(Name(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address a user's notifications go to: what `lettre` will send to, stored as given
/// once trimmed. At most 254 bytes (RFC 5321's longest path) and no control characters, so it
/// prints as one line in the trail and the user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(label: &str, raw: &str) -> Result<Email> {
        let text = raw.trim();
        let ok = !text.is_empty()
            && text.len() <= Email::MAX_LEN
            && !text.chars().any(char::is_control)
            && text.parse::<lettre::Address>().is_ok();
        if !ok {
            return Err(invalid(format!(
                "{label} must be an email address of at most {} bytes (name@example.com), not '{}'",
                Email::MAX_LEN,
                escape(truncated(text, 80))
            )));
        }
        Ok(Email(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first `max` bytes of `text` or fewer, on a character boundary: a refused value is
/// echoed, not a page of it.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn(String);

impl RoleArn {
    pub fn parse(label: &str, arn: &str) -> Result<RoleArn> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = arn.len() <= 2048
            && matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && partition.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| {
                    !name.is_empty()
                        && !name.ends_with('/')
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
                }));
        if !ok {
            return Err(invalid(format!(
                "{label} must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )));
        }
        Ok(RoleArn(arn.into()))
    }

    /// An optional role: empty means none (an emptied field, or `--admin-role-arn ''`).
    pub fn parse_optional(label: &str, arn: &str) -> Result<Option<RoleArn>> {
        if arn.is_empty() {
            return Ok(None);
        }
        RoleArn::parse(label, arn).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A session length STS accepts: whole seconds from 900 to 43200. Out-of-range values are
/// refused, not clamped, at every door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSecs(i64);

impl SessionSecs {
    pub fn new(label: &str, secs: i64) -> Result<SessionSecs> {
        if !(MIN_SESSION_SECS..=MAX_SESSION_SECS).contains(&secs) {
            return Err(Self::refused(label));
        }
        Ok(SessionSecs(secs))
    }

    /// From a form field's text.
    pub fn parse(label: &str, text: &str) -> Result<SessionSecs> {
        let secs = text
            .trim()
            .parse::<i64>()
            .map_err(|_| Self::refused(label))?;
        SessionSecs::new(label, secs)
    }

    fn refused(label: &str) -> Error {
        invalid(format!(
            "{label} must be a whole number of seconds from {MIN_SESSION_SECS} to {MAX_SESSION_SECS}"
        ))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A Kubernetes cluster name: it is signed into tokens, so no spaces or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterName(String);

impl ClusterName {
    pub fn parse(label: &str, name: &str) -> Result<ClusterName> {
        if name.is_empty()
            || name.len() > 255
            || name.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(invalid(format!(
                "{label} must be a cluster name without spaces"
            )));
        }
        Ok(ClusterName(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cluster's API server: an http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterServer(String);

impl ClusterServer {
    pub fn parse(label: &str, server: &str) -> Result<ClusterServer> {
        let ok = server.len() <= 2048
            && url::Url::parse(server).is_ok_and(|u| {
                (u.scheme() == "https" || u.scheme() == "http") && u.host_str().is_some()
            });
        if !ok {
            return Err(invalid(format!(
                "{label} must be an https:// URL, not '{}'",
                escape(server)
            )));
        }
        Ok(ClusterServer(server.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cluster CA as kubeconfig's `certificate-authority-data` wants it: base64 of a PEM
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterCa(String);

impl ClusterCa {
    /// From the PEM itself (a file's bytes, or what was pasted). Line ends and surrounding
    /// blank space are made canonical first (a browser sends a pasted PEM with CRLF and a form
    /// field loses its last newline), so one certificate is stored, and fingerprinted, alike
    /// whichever door it came through.
    pub fn from_pem(pem: &[u8]) -> Result<ClusterCa> {
        let text = String::from_utf8_lossy(pem).replace("\r\n", "\n");
        let text = text.trim();
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid(
                "the cluster CA must be a PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        Ok(ClusterCa(
            base64::engine::general_purpose::STANDARD.encode(format!("{text}\n")),
        ))
    }

    /// From what a person typed or pasted: the PEM itself, or base64 of it.
    pub fn parse(label: &str, text: &str) -> Result<ClusterCa> {
        if text.contains("-----BEGIN") {
            return ClusterCa::from_pem(text.as_bytes());
        }
        let pem = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| invalid(format!("{label} must be base64 of a PEM certificate")))?;
        ClusterCa::from_pem(&pem)
    }

    /// Stored form: base64 of the PEM.
    pub fn stored(stored: &str) -> ClusterCa {
        ClusterCa(stored.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short, non-secret fingerprint for the audit trail and the tenant page.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", &crate::secret::digest(&self.0)[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn sessions_are_clamped_to_the_role() {
        assert_eq!(clamp_session(60, 43200), 900);
        assert_eq!(clamp_session(3600, 43200), 3600);
        assert_eq!(clamp_session(100_000, 43200), 43200);
        assert_eq!(
            clamp_session(7200, 3600),
            3600,
            "role MaxSessionDuration wins"
        );
        assert_eq!(clamp_session(7200, 10), 900, "never below STS's minimum");
    }

    #[test]
    fn role_arns_must_have_the_iam_role_shape() {
        for good in [
            "arn:aws:iam::111111111111:role/dev01",
            "arn:aws-us-gov:iam::123456789012:role/team/path/Name_+=,.@-",
        ] {
            assert!(RoleArn::parse("--role-arn", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "arn:",
            "arn:aws:iam::1111:role/dev01",
            "arn:aws:iam::111111111111:user/dev01",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:sts::111111111111:role/dev01",
            "arn:aws:iam::111111111111:role/with space",
        ] {
            let err = message(RoleArn::parse("Role ARN", bad));
            assert!(err.starts_with("Role ARN must be an IAM role ARN"), "{err}");
        }
        assert_eq!(RoleArn::parse_optional("x", "").expect("empty"), None);
    }

    #[test]
    fn sessions_are_refused_outside_what_sts_allows() {
        assert_eq!(SessionSecs::new("v", 900).expect("min").get(), 900);
        assert_eq!(
            SessionSecs::parse("v", " 43200 ").expect("max").get(),
            43200
        );
        for bad in ["899", "43201", "60", "-1", "abc", "", "1e3"] {
            assert_eq!(
                message(SessionSecs::parse("--validity", bad)),
                "--validity must be a whole number of seconds from 900 to 43200",
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_plain() {
        assert!(Name::parse("tenant", "dev-01.a@b").is_ok());
        assert_eq!(
            message(Name::parse("tenant", "bad/name")),
            "invalid tenant name 'bad/name': use 1-64 of A-Z a-z 0-9 _ + = , . @ -"
        );
        assert!(Name::parse("user", &"x".repeat(65)).is_err());
        assert!(message(Name::parse("user", "a\nb")).contains("a\\nb"));
    }

    #[test]
    fn emails_are_addresses_lettre_takes_trimmed_one_line_and_short() {
        let e = Email::parse("--email", "  bob@example.test\t").expect("trimmed");
        assert_eq!(e.as_str(), "bob@example.test");
        assert!(Email::parse("--email", "o'neil+jit@sub.example.com").is_ok());
        // 254 bytes: `bob@` and four labels of 61 and 60 with their dots and `.com`.
        let labels = [
            "a".repeat(61),
            "b".repeat(61),
            "c".repeat(61),
            "d".repeat(60),
        ];
        let longest = format!("bob@{}.com", labels.join("."));
        assert_eq!(longest.len(), Email::MAX_LEN);
        assert!(Email::parse("e", &longest).is_ok(), "254 bytes");
        let over = format!("bob@{}x.com", labels.join("."));
        assert!(
            message(Email::parse("e", &over)).starts_with("e must be"),
            "255 bytes"
        );
        let rule = "--email must be an email address of at most 254 bytes (name@example.com)";
        for bad in [
            "",
            "   ",
            "bob",
            "bob@",
            "@example.com",
            "bob example@example.com",
            "Bob <bob@example.com>",
            "bob@example.com\nBcc: eve@example.com",
            "bob\u{7}@example.com",
        ] {
            let err = message(Email::parse("--email", bad));
            assert!(err.starts_with(rule), "{bad:?}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
        }
        let over = format!("{}@example.com", "a".repeat(250));
        let err = message(Email::parse("--email", &over));
        assert!(err.starts_with(rule), "{err}");
        assert!(err.len() < 200, "the value cut short: {err}");
        assert!(message(Email::parse("Email", "\u{e9}\u{e9}")).starts_with("Email must be"));
    }

    #[test]
    fn cluster_checks() {
        assert!(ClusterName::parse("c", "prod-1").is_ok());
        assert!(ClusterName::parse("c", "two words").is_err());
        assert!(ClusterServer::parse("s", "https://k8s.example:6443").is_ok());
        assert!(ClusterServer::parse("s", "ftp://k8s.example").is_err());
        assert!(ClusterServer::parse("s", "k8s.example").is_err());
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let from_pem = ClusterCa::from_pem(pem.as_bytes()).expect("pem");
        assert_eq!(ClusterCa::parse("ca", pem).expect("pasted"), from_pem);
        assert_eq!(
            ClusterCa::parse("ca", from_pem.as_str()).expect("base64"),
            from_pem
        );
        assert!(ClusterCa::from_pem(b"not a cert").is_err());
        let pasted = format!("  {}\r\n", pem.trim_end().replace('\n', "\r\n"));
        assert_eq!(
            ClusterCa::parse("ca", &pasted).expect("pasted with CRLF"),
            from_pem,
            "one certificate, one stored form"
        );
        assert!(message(ClusterCa::parse("ca", "%%%")).starts_with("ca must be base64"));
        assert!(from_pem.fingerprint().starts_with("sha256:"));
        assert_eq!(from_pem.fingerprint().len(), "sha256:".len() + 16);
    }
}
