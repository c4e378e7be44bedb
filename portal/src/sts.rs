//! The portal's calls to AWS: STS AssumeRole, SigV4-signed with the portal's own credentials
//! (from the standard AWS chain: environment, profile, `credential_process`, SSO, container or
//! instance role), and the best-effort console sign-in URL.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use jit_wire::console::{self, SessionKeys};
use serde::Deserialize;
use tokio::sync::Mutex;

pub struct StsCreds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Option<String>,
}

/// The portal's identity toward STS. Credentials that expire are fetched again five minutes
/// before they do; the chain is asked once per refresh, not once per vend.
pub struct Caller {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

const REFRESH_BEFORE: Duration = Duration::from_secs(300);

impl Caller {
    /// Fixed keys (the demo's, which moto accepts).
    pub fn fixed(access_key_id: &str, secret_access_key: &str) -> Caller {
        let creds = Credentials::new(access_key_id, secret_access_key, None, None, "jit-portal");
        Caller {
            provider: SharedCredentialsProvider::new(creds),
            cached: Mutex::new(None),
        }
    }

    /// The standard AWS credential chain, as the AWS CLI and SDKs resolve it.
    pub async fn from_chain(region: &str) -> Result<Caller> {
        use aws_smithy_http_client::{Builder, tls};
        let http = Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        let provider = config
            .credentials_provider()
            .context("no AWS credential provider is configured")?;
        let caller = Caller {
            provider,
            cached: Mutex::new(None),
        };
        // Fail at start, not on the first vend, when there are no credentials at all.
        caller.credentials().await.context(
            "the portal needs AWS credentials to call STS (environment, AWS_PROFILE, credential_process, SSO, or a container or instance role)",
        )?;
        Ok(caller)
    }

    async fn credentials(&self) -> Result<Credentials> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE)
        });
        if !fresh {
            let creds = self.provider.provide_credentials().await.map_err(|e| {
                anyhow!(
                    "cannot get the portal's AWS credentials: {}",
                    error_chain(&e)
                )
            })?;
            *cached = Some(creds);
        }
        cached
            .clone()
            .ok_or_else(|| anyhow!("no AWS credentials for the portal"))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

pub struct Sts {
    pub endpoint: String,
    pub region: String,
    pub caller: Caller,
    /// Sent as SourceIdentity so CloudTrail names the person; a role's trust policy must allow
    /// `sts:SetSourceIdentity`.
    pub source_identity: bool,
    http: reqwest::Client,
}

impl Sts {
    pub fn new(
        endpoint: String,
        region: String,
        caller: Caller,
        source_identity: bool,
    ) -> Result<Sts> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Sts {
            endpoint,
            region,
            caller,
            source_identity,
            http,
        })
    }

    /// AssumeRole for `user` (the session name, and SourceIdentity unless switched off).
    pub async fn assume_role(
        &self,
        role_arn: &str,
        user: &str,
        duration_secs: i64,
    ) -> Result<StsCreds> {
        let name = session_name(user);
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "AssumeRole")
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", role_arn)
                .append_pair("RoleSessionName", &name)
                .append_pair("DurationSeconds", &duration_secs.to_string());
            if self.source_identity {
                form.append_pair("SourceIdentity", &name);
            }
            form.finish()
        };
        let creds = self.caller.credentials().await?;
        let endpoint = &self.endpoint;
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        // Signing borrows values that are not Send: it finishes before the first await.
        let signed: Vec<(String, String)> = {
            let identity = creds.into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(&self.region)
                .name("sts")
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .map_err(|e| anyhow!("cannot sign the STS request: {e}"))?
                .into();
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
            instructions
                .headers()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut req = self
            .http
            .post(endpoint)
            .header("content-type", content_type)
            .body(body);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow!("STS unreachable at {endpoint}: {}", e.without_url()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
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
}

/// How long an EKS token's presigned URL is valid: what aws-iam-authenticator and `aws eks
/// get-token` sign (docs/protocol.md §9). EKS itself accepts such a token for 15 minutes.
pub const EKS_PRESIGN_SECS: u64 = 60;

impl Sts {
    /// Where an EKS token sends the API server: the regional STS endpoint, as `aws eks
    /// get-token` signs it, or the configured endpoint when it is not the AWS default (tests
    /// point it at moto).
    pub fn token_endpoint(&self) -> String {
        let default = self.endpoint.trim_end_matches('/') == "https://sts.amazonaws.com";
        if default {
            format!("https://sts.{}.amazonaws.com", self.region)
        } else {
            self.endpoint.trim_end_matches('/').to_string()
        }
    }

    /// An EKS bearer token made from `creds`: `k8s-aws-v1.` and the unpadded base64url of a
    /// SigV4 query-presigned `GetCallerIdentity` URL that signs `x-k8s-aws-id: <cluster>`. The
    /// API server's authenticator GETs that URL with the header and maps the ARN STS returns.
    pub fn eks_token(&self, creds: &StsCreds, cluster: &str, now: SystemTime) -> Result<String> {
        use aws_sigv4::http_request::SignatureLocation;
        use base64::Engine as _;
        let base = format!(
            "{}/?Action=GetCallerIdentity&Version=2011-06-15",
            self.token_endpoint()
        );
        let host = url::Url::parse(&base)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .context("invalid STS endpoint")?;
        let identity = Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            Some(creds.session_token.clone()),
            None,
            "jit-portal-eks",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(EKS_PRESIGN_SECS));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("sts")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| anyhow!("cannot presign the EKS token: {e}"))?
            .into();
        let headers = [("host", host.as_str()), ("x-k8s-aws-id", cluster)];
        let signable =
            SignableRequest::new("GET", &base, headers.into_iter(), SignableBody::Bytes(&[]))
                .map_err(|e| anyhow!("cannot presign the EKS token: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| anyhow!("cannot presign the EKS token: {e}"))?
            .into_parts();
        let mut url = url::Url::parse(&base).context("invalid STS endpoint")?;
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in instructions.params() {
                query.append_pair(k, v);
            }
        }
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url.as_str());
        Ok(format!("k8s-aws-v1.{encoded}"))
    }
}

/// The console sign-in URL, best effort: it has its own short timeout, and after a failure the
/// endpoint is left alone for a while, so a slow or dead sign-in endpoint never costs anyone
/// their credentials (docs/protocol.md §6).
pub struct Signin {
    pub endpoint: String,
    pub timeout: Duration,
    /// Unix seconds before which the endpoint is not tried again.
    resting_until: AtomicI64,
    http: reqwest::Client,
}

const REST_AFTER_FAILURE_SECS: i64 = 60;

impl Signin {
    pub fn new(endpoint: String, timeout: Duration) -> Result<Signin> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Signin {
            endpoint,
            timeout,
            resting_until: AtomicI64::new(0),
            http,
        })
    }

    /// The URL, or why there is none (no secret in the reason).
    pub async fn console_url(
        &self,
        keys: &SessionKeys<'_>,
        region: &str,
        secs: i64,
    ) -> Result<String> {
        let now = jiff::Timestamp::now().as_second();
        if self.resting_until.load(Ordering::Relaxed) > now {
            bail!("the sign-in endpoint failed recently; not asked again until later");
        }
        let got = tokio::time::timeout(self.timeout, self.fetch(keys, region, secs)).await;
        let result = match got {
            Ok(r) => r,
            Err(_) => Err(anyhow!(
                "the sign-in endpoint did not answer within {} ms",
                self.timeout.as_millis()
            )),
        };
        if result.is_err() {
            self.resting_until
                .store(now + REST_AFTER_FAILURE_SECS, Ordering::Relaxed);
        }
        result
    }

    async fn fetch(&self, keys: &SessionKeys<'_>, region: &str, secs: i64) -> Result<String> {
        let endpoint = &self.endpoint;
        let url = console::signin_token_request(keys, endpoint, Some(secs));
        let resp = self.http.get(url).send().await.map_err(|e| {
            anyhow!(
                "sign-in endpoint unreachable: {endpoint}: {}",
                e.without_url()
            )
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if status >= 300 {
            bail!("sign-in endpoint {endpoint} answered status {status}");
        }
        let token: console::SigninResponse = serde_json::from_str(&body)
            .map_err(|_| anyhow!("sign-in endpoint {endpoint} sent no SigninToken"))?;
        Ok(console::login_url(
            endpoint,
            "jit-portal",
            &console::default_destination(region),
            &token.signin_token,
        ))
    }
}

/// STS RoleSessionName and SourceIdentity: 2-64 of `[\w+=,.@-]`.
pub fn session_name(user: &str) -> String {
    let mut name: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
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

#[cfg(test)]
mod tests {
    fn sts(endpoint: &str) -> super::Sts {
        let caller = super::Caller::fixed("AKIAEXAMPLE000000000", "secret");
        super::Sts::new(endpoint.into(), "eu-west-1".into(), caller, true).expect("sts")
    }

    /// The AWS default (global) endpoint becomes the regional one, as `aws eks get-token`
    /// signs; a configured endpoint is kept.
    #[test]
    fn eks_tokens_name_the_regional_endpoint() {
        use base64::Engine as _;
        let creds = super::StsCreds {
            access_key_id: "ASIAEXAMPLE000000000".into(),
            secret_access_key: "s".into(),
            session_token: "t+/=".into(),
            expiration: None,
        };
        for (endpoint, host) in [
            (
                "https://sts.amazonaws.com",
                "https://sts.eu-west-1.amazonaws.com/?",
            ),
            ("http://127.0.0.1:5000/", "http://127.0.0.1:5000/?"),
        ] {
            let token = sts(endpoint)
                .eks_token(&creds, "c1", std::time::SystemTime::now())
                .expect("token");
            let b64 = token.strip_prefix("k8s-aws-v1.").expect("prefix");
            let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .expect("unpadded base64url");
            let url = String::from_utf8(url).expect("utf-8");
            assert!(url.starts_with(host), "{url}");
            assert!(
                url.contains("Action=GetCallerIdentity&Version=2011-06-15"),
                "{url}"
            );
            assert!(
                url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
                "{url}"
            );
            assert!(url.contains("X-Amz-Security-Token=t%2B%2F%3D"), "{url}");
        }
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(super::session_name("alice"), "alice");
        assert_eq!(super::session_name("a"), "a-");
        assert_eq!(super::session_name("bob smith/x"), "bob-smith-x");
        assert_eq!(super::session_name(&"x".repeat(80)).len(), 64);
    }
}
