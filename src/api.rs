//! The client of the portal's HTTP API (docs/protocol.md §1): the only code that talks to it.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::host::Host;
use crate::model::{AwsCreds, Scope, Token};
use crate::output;

const TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_VALIDITY_SECS: i64 = 3600;

pub struct Client {
    api: Host,
    token: Token,
    otp: Option<String>,
    http: reqwest::blocking::Client,
}

#[derive(Debug, Deserialize)]
pub struct Tenant {
    #[serde(rename = "TenantId")]
    pub tenant_id: String,
    #[serde(rename = "AccountName", default)]
    pub account_name: String,
}

#[derive(Deserialize)]
struct SystemFeatures {
    #[serde(rename = "IsOtpNeeded", default)]
    is_otp_needed: bool,
}

#[derive(Deserialize)]
struct AwsResponse {
    #[serde(rename = "ConsoleUrl", default)]
    console_url: Option<String>,
    #[serde(rename = "AccessKeyId")]
    access_key_id: Option<String>,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: Option<String>,
    #[serde(rename = "SessionToken")]
    session_token: Option<String>,
    #[serde(rename = "Region", default)]
    region: Option<String>,
    #[serde(rename = "Validity", default)]
    validity: Option<i64>,
    #[serde(rename = "Expiration", default)]
    expiration: Option<String>,
}

/// What went wrong talking to the portal, so callers can tell a dead token from the rest.
#[derive(Debug)]
pub struct HttpError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// The portal could not be reached (refused, DNS, timeout) or the connection broke mid-answer:
/// the portal said nothing about the token, so cached credentials may stand in.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// Connection refused, DNS, timeout, a broken answer or a 5xx: the portal is down rather than
/// saying no.
pub fn is_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<Unreachable>()
            || cause
                .downcast_ref::<HttpError>()
                .is_some_and(|e| e.status >= 500)
    })
}

impl HttpError {
    pub fn is_auth(err: &anyhow::Error) -> bool {
        err.downcast_ref::<HttpError>()
            .is_some_and(|e| e.status == 401 || e.status == 403)
    }
}

impl Client {
    pub fn new(api: &Host, token: Token, otp: Option<String>) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("jit/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Client {
            api: api.clone(),
            token,
            otp,
            http,
        })
    }

    fn get(&self, path: &str) -> Result<(String, Option<String>)> {
        let url = format!("{}/{}", self.api, path);
        output::debug(|| format!("GET {url}"));
        let mut req = self
            .http
            .get(&url)
            .header("Authorization", format!("Bearer {}", self.token.expose()))
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some(otp) = &self.otp {
            req = req.header("otpcode", otp);
        }
        let resp = req.send().map_err(|e| {
            let why = if e.is_timeout() {
                "timed out after 20 s".to_string()
            } else if e.is_connect() {
                "cannot connect".to_string()
            } else {
                redact(&e.without_url().to_string(), &[self.token.expose()])
            };
            Unreachable(format!("portal unreachable: {url}: {why}"))
        })?;
        let status = resp.status().as_u16();
        let date = resp
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .map(str::to_string);
        let body = resp.text().map_err(|e| {
            Unreachable(format!(
                "portal response cut off: {url}: {}",
                e.without_url()
            ))
        })?;
        output::debug(|| format!("{url}: status {status}, {} bytes", body.len()));
        if status >= 300 {
            let hint = match status {
                401 => " (the token is invalid or expired)",
                403 => " (the token is not allowed this access)",
                404 => " (check --host / --api-host and the tenant)",
                500..=599 => " (the portal failed)",
                _ => "",
            };
            let body = redact(&redact_json(&body), &[self.token.expose()]);
            return Err(HttpError {
                status,
                message: format!(
                    "portal request failed{hint}: url {url}, status {status}, body {body}"
                ),
            }
            .into());
        }
        Ok((body, date))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<(T, Option<String>)> {
        let (body, date) = self.get(path)?;
        let value = serde_json::from_str(&body).map_err(|e| {
            anyhow!(
                "portal sent malformed JSON: {}/{path}: {e}: body {}",
                self.api,
                redact(&redact_json(&body), &[self.token.expose()])
            )
        })?;
        Ok((value, date))
    }

    /// Validates the token; returns whether the portal wants an OTP for admin calls.
    pub fn otp_needed(&self) -> Result<bool> {
        Ok(self
            .get_json::<SystemFeatures>("v3/features/system")?
            .0
            .is_otp_needed)
    }

    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        Ok(self.get_json("admin/GetTenantsForUser")?.0)
    }

    /// Tenant ids are 32+ characters; anything shorter is a name to look up.
    pub fn resolve_tenant(&self, name_or_id: &str) -> Result<String> {
        let tenants = self.tenants()?;
        let found = if name_or_id.len() < 32 {
            tenants.into_iter().find(|t| t.account_name == name_or_id)
        } else {
            tenants.into_iter().find(|t| t.tenant_id == name_or_id)
        };
        found
            .map(|t| t.tenant_id)
            .ok_or_else(|| anyhow!("tenant '{name_or_id}' missing or not allowed"))
    }

    pub fn aws_credentials(&self, scope: &Scope, tenant_id: Option<&str>) -> Result<AwsCreds> {
        let path = match (scope, tenant_id) {
            (Scope::Admin, _) => "v3/admin/aws/jitAccess/admin".to_string(),
            (Scope::DuploOps, _) => "v3/admin/aws/jitAccess/duplo-ops".to_string(),
            (Scope::Tenant(_), Some(id)) => format!("subscriptions/{id}/GetAwsConsoleTokenUrl"),
            (Scope::Tenant(t), None) => bail!("tenant '{t}' has no id"),
        };
        let (body, date) = self.get(&path)?;
        let url = format!("{}/{path}", self.api);
        creds_from_body(&body, &url, date.as_deref(), jiff::Timestamp::now())
            .map_err(|e| anyhow!(redact(&format!("{e:#}"), &[self.token.expose()])))
    }
}

/// Parse a credentials response; pure so it can be fuzzed. Errors never quote secret fields.
pub fn creds_from_body(
    body: &str,
    url: &str,
    date: Option<&str>,
    now: jiff::Timestamp,
) -> Result<AwsCreds> {
    let resp: AwsResponse = serde_json::from_str(body).map_err(|e| {
        anyhow!(
            "portal sent malformed JSON: {url}: {e}: body {}",
            redact_json(body)
        )
    })?;
    let field = |v: Option<String>, name: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("portal response from {url} has no {name}"))
    };
    let expiration = match resp.expiration.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => raw
            .parse::<jiff::Timestamp>()
            .map_err(|e| anyhow!("portal response has an invalid Expiration '{raw}': {e}"))?,
        None => {
            let secs = resp
                .validity
                .filter(|v| *v > 0)
                .unwrap_or(DEFAULT_VALIDITY_SECS);
            now.checked_add(jiff::SignedDuration::from_secs(secs))
                .map_err(|_| anyhow!("portal response has an out-of-range Validity {secs}"))?
        }
    };
    if expiration <= now {
        let server = date
            .map(|d| format!("; the portal's clock says {d}"))
            .unwrap_or_default();
        bail!(
            "the portal sent credentials that expire at {} which is already past on this machine's clock ({}){server}: check the system clock",
            crate::model::rfc3339(expiration),
            crate::model::rfc3339(now)
        );
    }
    Ok(AwsCreds {
        console_url: resp.console_url.unwrap_or_default(),
        access_key_id: field(resp.access_key_id, "AccessKeyId")?,
        secret_access_key: field(resp.secret_access_key, "SecretAccessKey")?,
        region: resp.region.unwrap_or_default(),
        session_token: field(resp.session_token, "SessionToken")?,
        expiration,
    })
}

const SECRET_KEYS: &[&str] = &[
    "AccessKeyId",
    "SecretAccessKey",
    "SessionToken",
    "ConsoleUrl",
    "Token",
    "DuploToken",
    "token",
    "otp",
    "SigninToken",
];

/// Replace the values of secret-bearing fields in a JSON body; a non-JSON body is cut short.
pub fn redact_json(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut value) => {
            scrub(&mut value);
            truncate(&value.to_string())
        }
        Err(_) => truncate(&scrub_text(body.trim())),
    }
}

/// For bodies that are not valid JSON (cut off, say): blank the string value after any
/// secret-bearing key, up to its closing quote or the end of the text.
fn scrub_text(text: &str) -> String {
    let mut out = text.to_string();
    for key in SECRET_KEYS {
        let needle = format!("\"{key}\"");
        let mut from = 0;
        while let Some(pos) = out[from..].find(&needle).map(|p| p + from) {
            let after = pos + needle.len();
            let rest = &out[after..];
            let trimmed = rest.trim_start();
            let Some(value) = trimmed.strip_prefix(':').map(str::trim_start) else {
                from = after;
                continue;
            };
            let Some(body) = value.strip_prefix('"') else {
                from = after;
                continue;
            };
            let start = out.len() - body.len();
            let mut end = out.len();
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = start + i;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            out.replace_range(start..end, "<redacted>");
            from = start + "<redacted>".len();
        }
    }
    out
}

fn scrub(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) {
                    *v = serde_json::Value::String("<redacted>".into());
                } else {
                    scrub(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Remove literal secrets from text that is about to reach stderr.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |acc, s| acc.replace(s, "<redacted>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_secrets_are_redacted_and_rest_kept() {
        let body = r#"{"Message":"boom","SessionToken":"SECRETTOKEN","nested":[{"SecretAccessKey":"S3"}]}"#;
        let out = redact_json(body);
        assert!(out.contains("boom"), "{out}");
        assert!(
            !out.contains("SECRETTOKEN") && !out.contains("S3\""),
            "{out}"
        );
    }

    #[test]
    fn cut_off_json_is_scrubbed_too() {
        let out = redact_json(
            r#"{"AccessKeyId":"AKIA","SecretAccessKey" : "abc\"def","SessionToken":"tok"#,
        );
        assert!(
            !out.contains("AKIA") && !out.contains("def") && !out.contains("tok"),
            "{out}"
        );
        assert_eq!(out.matches("<redacted>").count(), 3, "{out}");
    }

    #[test]
    fn long_plain_bodies_are_cut_on_a_char_boundary() {
        let body = "é".repeat(400);
        let out = redact_json(&body);
        assert!(out.ends_with("...") && out.len() < 320);
    }
}
