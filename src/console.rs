//! AWS console sign-in URLs (docs/protocol.md §6), for portals that send no ConsoleUrl or when the user
//! wants a different landing page: the federation calls, over the builders of `jit_wire::console`,
//! at the sign-in endpoint of the credentials' partition. The resulting URL is a bearer secret.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use jit_wire::console::{Partition, SessionKeys, SigninResponse, login_url, signin_token_request};

use crate::model::AwsCreds;
use crate::output;

/// `JIT_SIGNIN_URL` (tests, private endpoints), else the partition's federation endpoint.
fn signin_endpoint(partition: Partition, region: &str) -> String {
    std::env::var("JIT_SIGNIN_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| partition.federation_endpoint(region))
}

/// The portal's ConsoleUrl when it fits, else a federation sign-in URL built from the keys.
pub fn url(creds: &AwsCreds, destination: Option<&str>, issuer: &str) -> Result<String> {
    // The portal's own URL is passed on as it came: the portal knows its partition.
    if destination.is_none() && !creds.console_url.is_empty() {
        return Ok(creds.console_url.clone());
    }
    let partition = Partition::of_region(&creds.region);
    if let Some(d) = destination {
        partition
            .check_destination(d)
            .map_err(|why| crate::model::UsageError(format!("--destination {d}: {why}")))?;
    }
    let why = if destination.is_some() {
        "cannot build a console sign-in URL for --destination"
    } else {
        "the portal sent no ConsoleUrl and building one failed"
    };
    let endpoint = signin_endpoint(partition, &creds.region);
    federation_url(creds, destination, issuer, &endpoint, None).context(why)
}

/// A federation sign-in URL via `endpoint` (docs/protocol.md §6), landing on `destination` or
/// the console of the credentials' partition.
pub fn federation_url(
    creds: &AwsCreds,
    destination: Option<&str>,
    issuer: &str,
    endpoint: &str,
    session_duration: Option<i64>,
) -> Result<String> {
    let destination = destination
        .map(str::to_string)
        .unwrap_or_else(|| Partition::of_region(&creds.region).default_destination(&creds.region));
    output::debug(|| format!("GET {endpoint}?Action=getSigninToken"));
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .context("cannot set up the HTTP client")?;
    let resp = http
        .get(signin_token_request(
            &SessionKeys {
                access_key_id: &creds.access_key_id,
                secret_access_key: &creds.secret_access_key,
                session_token: &creds.session_token,
            },
            endpoint,
            session_duration,
        ))
        .send()
        .map_err(|e| {
            let why = if e.is_timeout() {
                "timed out after 20 s".to_string()
            } else if e.is_connect() {
                "cannot connect".to_string()
            } else {
                e.without_url().to_string()
            };
            anyhow!("console sign-in endpoint unreachable: {endpoint}: {why}")
        })?;
    let status = resp.status().as_u16();
    let body = crate::limit::read_lossy(resp).unwrap_or_default();
    if status >= 300 {
        // One line, whatever the endpoint sent.
        let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(anyhow!(
            "console sign-in failed: url {endpoint}, status {status}, body {}",
            crate::redact::body(&body)
        ));
    }
    let token: SigninResponse = serde_json::from_str(&body).map_err(|e| {
        anyhow!(
            "console sign-in endpoint sent malformed JSON: {endpoint}: {}",
            crate::redact::json_error(&e)
        )
    })?;
    Ok(login_url(
        endpoint,
        issuer,
        &destination,
        &token.signin_token,
    ))
}
