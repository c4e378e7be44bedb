//! The client of the portal's HTTP API (docs/protocol.md §1): the only code that talks to it.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::host::Host;
use jit_wire::access;
use jit_wire::api::{AwsResponse, ClusterConfig, SystemFeatures};
use jit_wire::paths;

use crate::model::{AwsCreds, ClusterScope, Scope, TenantRef, Token};
use crate::{limit, output, redact};
pub use jit_wire::api::Tenant;

const TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_VALIDITY_SECS: i64 = 3600;

pub struct Client {
    api: Host,
    token: Token,
    otp: Option<String>,
    http: reqwest::blocking::Client,
}

/// What went wrong talking to the portal, so callers can tell a dead token from the rest.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub status: u16,
    pub message: String,
}

/// The portal could not be reached (refused, DNS, timeout) or the connection broke mid-answer:
/// the portal said nothing about the token, so cached credentials may stand in.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

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

/// Why a connection failed, in the user's terms: a name that does not resolve is not a portal
/// that refuses connections.
fn connect_failure(err: &reqwest::Error, api: &Host) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let name = url::Url::parse(api.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    if chain.iter().any(|c| c.contains("dns error")) {
        return format!("cannot resolve host '{name}' (check --host / --api-host)");
    }
    if chain.iter().any(|c| c.contains("invalid peer certificate")) {
        let cause = chain.last().map(String::as_str).unwrap_or_default();
        return format!(
            "cannot connect: {cause} (the portal's certificate is not one this machine trusts: add its CA to the system's store, or point SSL_CERT_FILE at it)"
        );
    }
    match chain.last() {
        Some(cause) if chain.len() > 1 => format!("cannot connect: {cause}"),
        _ => "cannot connect".to_string(),
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

    /// What an error about a call must never quote: the token and the one-time code.
    fn secrets(&self) -> Vec<&str> {
        std::iter::once(self.token.expose())
            .chain(self.otp.as_deref())
            .collect()
    }

    fn get(&self, path: &str) -> Result<(String, Option<String>)> {
        self.call(reqwest::Method::GET, path, None)
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(String, Option<String>)> {
        let url = format!("{}{}", self.api, path);
        output::debug(|| format!("{method} {url}"));
        let mut req = self
            .http
            .request(method, &url)
            .header("Authorization", format!("Bearer {}", self.token.expose()))
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some(otp) = &self.otp {
            req = req.header("otpcode", otp);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let secrets = self.secrets();
        let resp = req.send().map_err(|e| {
            let why = if e.is_timeout() {
                "timed out after 20 s".to_string()
            } else if e.is_connect() {
                connect_failure(&e, &self.api)
            } else {
                redact::literal(&e.without_url().to_string(), &secrets)
            };
            Unreachable(format!("portal unreachable: {url}: {why}"))
        })?;
        let status = resp.status().as_u16();
        let date = resp
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .map(str::to_string);
        // A declared length over the ceiling is refused before reading; a streamed one at it.
        let read = match resp.content_length() {
            Some(n) if n > limit::MAX_BYTES => Err(limit::too_large()),
            _ => limit::read_lossy(resp),
        };
        let body = match read {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge && status >= 300 => None,
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                bail!("portal response from {url} is {e}: refused")
            }
            Err(e) => {
                return Err(Unreachable(format!(
                    "portal response cut off: {url}: {}",
                    redact::literal(&e.to_string(), &secrets)
                ))
                .into());
            }
        };
        output::debug(|| {
            let len = body
                .as_ref()
                .map_or("over 1 MiB".into(), |b| b.len().to_string());
            format!("{url}: status {status}, {len} bytes")
        });
        if status == 403
            && let Some(message) = body.as_deref().and_then(access_message)
        {
            // The portal's own words on access one may request: said alone, not as a failure.
            return Err(HttpError { status, message }.into());
        }
        if status >= 300 {
            let hint = match status {
                401 => " (the token is invalid or expired)",
                403 => " (the token is not allowed this access)",
                404 => " (check --host / --api-host and the tenant)",
                500..=599 => " (the portal failed)",
                _ => "",
            };
            let body = body.map_or("larger than 1 MiB, not shown".into(), |b| {
                redact::literal(&redact::body(&b), &secrets)
            });
            return Err(HttpError {
                status,
                message: format!(
                    "portal request failed{hint}: url {url}, status {status}, body {body}"
                ),
            }
            .into());
        }
        Ok((body.unwrap_or_default(), date))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<(T, Option<String>)> {
        let (body, date) = self.get(path)?;
        let value = serde_json::from_str(&body).map_err(|e| {
            anyhow!(
                "portal sent malformed JSON: {}{path}: {}: body {}",
                self.api,
                redact::json_error(&e),
                redact::literal(&redact::body(&body), &self.secrets())
            )
        })?;
        Ok((value, date))
    }

    /// Validates the token; returns whether the portal wants an OTP for admin calls.
    pub fn otp_needed(&self) -> Result<bool> {
        Ok(self
            .get_json::<SystemFeatures>(paths::SYSTEM_FEATURES)?
            .0
            .is_otp_needed)
    }

    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        Ok(self.get_json(paths::TENANTS)?.0)
    }

    /// The id of the tenant `--tenant` names (a name, or an id: `TenantRef`).
    pub fn resolve_tenant(&self, name_or_id: &str) -> Result<String> {
        let tenants = self.tenants()?;
        let found = match TenantRef::of(name_or_id) {
            TenantRef::Name(name) => tenants.into_iter().find(|t| t.account_name == name),
            TenantRef::Id(id) => tenants.into_iter().find(|t| t.tenant_id == id),
        };
        found
            .map(|t| t.tenant_id)
            .ok_or_else(|| anyhow!("tenant '{name_or_id}' missing or not allowed"))
    }

    pub fn aws_credentials(&self, scope: &Scope, tenant_id: Option<&str>) -> Result<AwsCreds> {
        let path = match (scope, tenant_id) {
            (Scope::Admin, _) => paths::fill(paths::AWS_ADMIN, paths::KIND_ADMIN),
            (Scope::DuploOps, _) => paths::fill(paths::AWS_ADMIN, paths::KIND_DUPLO_OPS),
            (Scope::Tenant(_), Some(id)) => paths::fill(paths::AWS_TENANT, id),
            (Scope::Tenant(t), None) => bail!("tenant '{t}' has no id"),
        };
        let (body, date) = self.get(&path)?;
        let url = format!("{}{path}", self.api);
        creds_from_body(&body, &url, date.as_deref(), jiff::Timestamp::now())
            .map_err(|e| anyhow!(redact::literal(&format!("{e:#}"), &self.secrets())))
    }

    fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let body = serde_json::to_string(body).context("cannot encode the request")?;
        let (text, _) = self.call(reqwest::Method::POST, path, Some(body))?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "portal sent malformed JSON: {}{path}: {}",
                self.api,
                redact::json_error(&e)
            )
        })
    }

    /// Ask for access (docs/protocol.md §13).
    pub fn request_access(&self, new: &access::NewRequest) -> Result<access::Request> {
        self.send_json(paths::ACCESS_REQUESTS, new)
    }

    /// One access request, as its requester sees it.
    pub fn access_request(&self, id: &str) -> Result<access::Request> {
        Ok(self.get_json(&paths::fill(paths::ACCESS_REQUEST, id))?.0)
    }

    /// The asker's grants that have not ended or been revoked.
    pub fn live_grants(&self) -> Result<Vec<access::Grant>> {
        Ok(self.get_json(paths::ACCESS_GRANTS)?.0)
    }

    /// A cluster's API server, CA and a bearer token (docs/protocol.md §9): by plan id (admin)
    /// or by tenant id.
    pub fn k8s_config(
        &self,
        scope: &ClusterScope,
        tenant_id: Option<&str>,
    ) -> Result<ClusterConfig> {
        let path = match (scope, tenant_id) {
            (ClusterScope::Plan(plan), _) => paths::fill(paths::K8S_PLAN, plan),
            (ClusterScope::Tenant(_), Some(id)) => paths::fill(paths::K8S_TENANT, id),
            (ClusterScope::Tenant(t), None) => bail!("tenant '{t}' has no id"),
        };
        Ok(self.get_json(&path)?.0)
    }
}

/// A 403 body that is one of the access messages (docs/protocol.md §13): a JSON string the
/// contract recognises, one line, with no control character.
fn access_message(body: &str) -> Option<String> {
    let message: String = serde_json::from_str(body).ok()?;
    (jit_wire::access::is_access_message(&message)
        && message.len() <= 1024
        && !message.chars().any(char::is_control))
    .then_some(message)
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
            "portal sent malformed JSON: {url}: {}: body {}",
            redact::json_error(&e),
            redact::body(body)
        )
    })?;
    let field = |v: Option<String>, name: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("portal response from {url} has no {name}"))
    };
    let expiration = match resp.expiration.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => raw.parse::<jiff::Timestamp>().map_err(|e| {
            anyhow!(
                "portal response has an invalid Expiration '{}': {e}",
                redact::body(raw)
            )
        })?,
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
        grant: resp.grant,
    })
}

#[cfg(test)]
mod tests {
    use super::access_message;

    #[test]
    fn only_the_portals_access_messages_are_said_alone() {
        let waiting = "waiting for approval of request r_1 (approvers: bob)";
        assert_eq!(
            access_message(&serde_json::json!(waiting).to_string()).as_deref(),
            Some(waiting)
        );
        for body in [
            "\"Forbidden\"",
            "{\"Message\": \"waiting for approval of request r_1\"}",
            "waiting for approval of request r_1",
            "\"waiting for approval of request r_1\\n\\u001b[31mforged\"",
        ] {
            assert_eq!(access_message(body), None, "{body}");
        }
    }
}
