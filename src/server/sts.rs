//! The portal's one call to AWS: STS AssumeRole, SigV4-signed with the portal's own credentials.

use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::Deserialize;

pub struct StsCreds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Option<String>,
}

/// The portal's identity toward STS: the usual AWS_* variables of the portal process.
pub struct Caller {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Caller {
    pub fn from_env() -> Result<Caller> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(Caller {
            access_key_id: var("AWS_ACCESS_KEY_ID").context(
                "the portal needs AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) to call STS",
            )?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                .context("the portal needs AWS_SECRET_ACCESS_KEY")?,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

pub fn assume_role(
    endpoint: &str,
    region: &str,
    caller: &Caller,
    role_arn: &str,
    session_name: &str,
    duration_secs: i64,
) -> Result<StsCreds> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRole")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session_name)
        .append_pair("DurationSeconds", &duration_secs.to_string())
        .finish();
    let identity = aws_credential_types::Credentials::new(
        &caller.access_key_id,
        &caller.secret_access_key,
        caller.session_token.clone(),
        None,
        "jit-portal",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| anyhow!("cannot sign the STS request: {e}"))?
        .into();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let host = url::Url::parse(endpoint)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .context("invalid STS endpoint")?;
    let headers = [("content-type", content_type), ("host", host.as_str())];
    let signable = SignableRequest::new(
        "POST",
        endpoint,
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| anyhow!("cannot sign the STS request: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| anyhow!("cannot sign the STS request: {e}"))?
        .into_parts();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let mut req = client
        .post(endpoint)
        .header("content-type", content_type)
        .body(body);
    for (k, v) in instructions.headers() {
        req = req.header(k, v);
    }
    let resp = req
        .send()
        .map_err(|e| anyhow!("STS unreachable at {endpoint}: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let text = crate::limit::read_lossy(resp).unwrap_or_default();
    if status >= 300 {
        let message = quick_xml::de::from_str::<ErrorResponse>(&text)
            .map(|e| e.error.message)
            .unwrap_or_else(|_| "no message".into());
        bail!("STS AssumeRole {role_arn} failed with status {status}: {message}");
    }
    let resp: AssumeRoleResponse = quick_xml::de::from_str(&text)
        .map_err(|e| anyhow!("STS sent an unexpected AssumeRole response: {e}"))?;
    let c = resp.result.credentials;
    Ok(StsCreds {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
    })
}

#[derive(Deserialize)]
struct AssumeRoleResponse {
    #[serde(rename = "AssumeRoleResult")]
    result: AssumeRoleResult,
}

#[derive(Deserialize)]
struct AssumeRoleResult {
    #[serde(rename = "Credentials")]
    credentials: XmlCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    #[serde(default)]
    expiration: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    #[serde(rename = "Error")]
    error: XmlError,
}

#[derive(Deserialize)]
struct XmlError {
    #[serde(rename = "Message", default)]
    message: String,
}
