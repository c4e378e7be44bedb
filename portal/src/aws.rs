//! The portal's calls to AWS: STS AssumeRole through the AWS SDK, signed with the portal's own
//! credentials (from the standard AWS chain: environment, profile, `credential_process`, SSO,
//! container or instance role), the EKS token (a presigned URL the SDK does not make, so signed
//! here with `aws-sigv4`), the best-effort console sign-in URL, and the optional cut-off on
//! revoke (an inline deny policy through `aws-sdk-iam`, docs/access.md).
//!
//! The SDK's identity cache keeps the portal's credentials: they are fetched once, and again
//! 2.5 to 5 minutes (jittered) before they expire, not once per vend, so the portal keeps no
//! cache of its own.

use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use aws_sdk_sts::config::{BehaviorVersion, IdentityCache, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use jit_wire::console::{self, SessionKeys};

pub struct StsCreds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Option<String>,
}

/// The cut-off on revoke: an inline policy on a role that denies everything to the sessions a
/// user started before a time.
pub struct Iam {
    client: aws_sdk_iam::Client,
    /// Whether vends send SourceIdentity: the deny matches on it, else on the session name.
    source_identity: bool,
}

/// The inline policy that cuts `user` off `role_arn`: its role name, the policy's name and its
/// document. Sessions are recognised by their SourceIdentity (which the portal sets to the
/// session name) or, when the portal sends none, by the session name in `aws:userid`
/// (`ROLEID:alice`); tokens issued before `before` are denied everything.
pub fn cut_off_policy(
    role_arn: &str,
    user: &str,
    before: &str,
    source_identity: bool,
) -> Result<(String, String, String)> {
    let role = role_arn
        .rsplit_once('/')
        .map(|(_, name)| name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| anyhow!("'{role_arn}' is no role ARN"))?;
    let name = session_name(user);
    let who = match source_identity {
        true => serde_json::json!({ "StringEquals": { "aws:SourceIdentity": name } }),
        false => serde_json::json!({ "StringLike": { "aws:userid": format!("*:{name}") } }),
    };
    let mut condition = who;
    condition["DateLessThan"] = serde_json::json!({ "aws:TokenIssueTime": before });
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "JitCutOff",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": condition,
        }],
    });
    Ok((
        role.to_string(),
        format!("jit-cut-off-{name}"),
        doc.to_string(),
    ))
}

impl Iam {
    /// Write the cut-off of `user` from `role_arn` for tokens issued before `before` (RFC
    /// 3339). Returns the role and policy names. A later cut-off of the same user replaces the
    /// earlier one, whose time it covers.
    pub async fn cut_off(
        &self,
        role_arn: &str,
        user: &str,
        before: &str,
    ) -> Result<(String, String)> {
        let (role, policy, doc) = cut_off_policy(role_arn, user, before, self.source_identity)?;
        self.client
            .put_role_policy()
            .role_name(&role)
            .policy_name(&policy)
            .policy_document(doc)
            .send()
            .await
            .map_err(|e| anyhow!("IAM PutRolePolicy on {role}: {}", error_chain(&e)))?;
        Ok((role, policy))
    }
}

/// Credentials are fetched again up to this long before they expire (the SDK takes off a
/// random part of up to half, so replicas do not all refresh at once).
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// Bounds on one AssumeRole: connecting, and the whole call with its retries.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Sts {
    /// `--sts-endpoint`; the SDK's regional endpoint when absent.
    endpoint: Option<String>,
    pub region: String,
    /// Sent as SourceIdentity so CloudTrail names the person; a role's trust policy must allow
    /// `sts:SetSourceIdentity`.
    source_identity: bool,
    client: aws_sdk_sts::Client,
    /// Where the client's credentials come from, asked directly by readiness checks.
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    /// The last readiness check of the credentials, shared by probes for `READY_FOR`.
    ready: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
}

/// How long one check of the portal's own credentials answers readiness probes: a probe
/// (anyone may send one) never runs a `credential_process` or asks the instance metadata more
/// often than this.
const READY_FOR: Duration = Duration::from_secs(10);

/// The SDK's HTTP client on rustls with ring, the provider the rest of the portal uses.
fn http_client() -> aws_sdk_sts::config::SharedHttpClient {
    use aws_smithy_http_client::{Builder, tls};
    Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

fn identity_cache() -> aws_sdk_sts::config::SharedIdentityCache {
    IdentityCache::lazy()
        .buffer_time(REFRESH_BEFORE)
        .load_timeout(CALL_TIMEOUT)
        .build()
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_timeout(CALL_TIMEOUT)
        .build()
}

impl Sts {
    /// Signing with fixed keys (the demo's, which moto accepts); no AWS configuration is read.
    pub fn with_keys(
        endpoint: Option<String>,
        region: String,
        access_key_id: &str,
        secret_access_key: &str,
        source_identity: bool,
    ) -> Sts {
        let keys = aws_credential_types::provider::SharedCredentialsProvider::new(
            Credentials::new(access_key_id, secret_access_key, None, None, "jit-portal"),
        );
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(keys.clone())
            .http_client(http_client())
            .identity_cache(identity_cache())
            .region(Region::new(region.clone()))
            .retry_config(RetryConfig::standard())
            .timeout_config(timeouts());
        Sts::build(config, keys, endpoint, region, source_identity)
    }

    /// Signing with the standard AWS credential chain, as the AWS CLI and SDKs resolve it.
    pub async fn from_chain(
        endpoint: Option<String>,
        region: String,
        source_identity: bool,
    ) -> Result<Sts> {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .identity_cache(identity_cache())
            .region(Region::new(region.clone()))
            .retry_config(RetryConfig::standard())
            .timeout_config(timeouts())
            .load()
            .await;
        let provider = shared
            .credentials_provider()
            .context("no AWS credential provider is configured")?;
        // Fail at start, not on the first vend, when there are no credentials at all.
        provider.provide_credentials().await.map_err(|e| {
            anyhow!(
                "the portal needs AWS credentials to call STS (environment, AWS_PROFILE, credential_process, SSO, or a container or instance role): {}",
                error_chain(&e)
            )
        })?;
        let config = aws_sdk_sts::config::Builder::from(&shared);
        Ok(Sts::build(
            config,
            provider,
            endpoint,
            region,
            source_identity,
        ))
    }

    fn build(
        mut config: aws_sdk_sts::config::Builder,
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
        endpoint: Option<String>,
        region: String,
        source_identity: bool,
    ) -> Sts {
        if let Some(url) = &endpoint {
            config = config.endpoint_url(url);
        }
        Sts {
            endpoint,
            region,
            source_identity,
            client: aws_sdk_sts::Client::from_conf(config.build()),
            credentials,
            ready: tokio::sync::Mutex::new(None),
        }
    }

    /// An IAM client with the same credentials and region, at `endpoint` when given (the
    /// partition's global IAM endpoint otherwise), for the cut-off on revoke.
    pub fn iam(&self, endpoint: Option<String>) -> Iam {
        let mut config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .credentials_provider(self.credentials.clone())
            .http_client(http_client())
            .region(aws_sdk_iam::config::Region::new(self.region.clone()))
            .retry_config(RetryConfig::standard())
            .timeout_config(timeouts());
        if let Some(url) = &endpoint {
            config = config.endpoint_url(url);
        }
        Iam {
            client: aws_sdk_iam::Client::from_conf(config.build()),
            source_identity: self.source_identity,
        }
    }

    /// Whether the portal's own AWS credentials can be had now (for `/readyz`), or why not.
    /// Checked at most every `READY_FOR`; probes meanwhile share the answer.
    pub async fn credentials_ready(&self) -> Result<(), String> {
        let mut last = self.ready.lock().await;
        if let Some((at, answer)) = last.as_ref()
            && at.elapsed() < READY_FOR
        {
            return answer.clone();
        }
        let answer = self
            .credentials
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| error_chain(&e));
        *last = Some((std::time::Instant::now(), answer.clone()));
        answer
    }

    /// Where AssumeRole goes: `--sts-endpoint`, else the region's endpoint.
    pub fn endpoint(&self) -> String {
        match &self.endpoint {
            Some(url) => url.clone(),
            None => self.endpoint_of_region(),
        }
    }

    /// The region's STS endpoint, in its partition's domain (`amazonaws.com.cn` in China).
    fn endpoint_of_region(&self) -> String {
        format!(
            "https://sts.{}.{}",
            self.region,
            console::Partition::of_region(&self.region).dns_suffix()
        )
    }

    /// AssumeRole for `user` (the session name, and SourceIdentity unless switched off).
    pub async fn assume_role(
        &self,
        role_arn: &str,
        user: &str,
        duration_secs: i64,
    ) -> Result<StsCreds> {
        let name = session_name(user);
        let duration = i32::try_from(duration_secs)
            .with_context(|| format!("session duration {duration_secs} s is out of range"))?;
        let started = std::time::Instant::now();
        let sent = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&name)
            .duration_seconds(duration)
            .set_source_identity(self.source_identity.then(|| name.clone()))
            .send()
            .await;
        crate::metrics::sts_call(started.elapsed());
        let out = match sent {
            Ok(out) => out,
            Err(e) => return Err(self.failure(role_arn, e)),
        };
        let c = out
            .credentials()
            .context("STS sent an AssumeRole response without credentials")?;
        Ok(StsCreds {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().to_string(),
            expiration: c
                .expiration()
                .fmt(aws_sdk_sts::primitives::DateTimeFormat::DateTime)
                .ok(),
        })
    }

    /// What went wrong, in words for the log, the audit trail and the refused user: STS's own
    /// message when it answered, else why it could not be asked. No secret is in any of them.
    fn failure(&self, role_arn: &str, e: SdkError<AssumeRoleError, HttpResponse>) -> anyhow::Error {
        let endpoint = self.endpoint();
        match &e {
            SdkError::ServiceError(s) => {
                let status = s.raw().status().as_u16();
                let message = s.err().message().or(s.err().code()).unwrap_or("no message");
                anyhow!("STS AssumeRole {role_arn} failed with status {status}: {message}")
            }
            SdkError::ConstructionFailure(_) => anyhow!(
                "cannot get the portal's AWS credentials: {}",
                error_chain(&e)
            ),
            SdkError::TimeoutError(_) => anyhow!(
                "STS at {endpoint} did not answer within {} s",
                CALL_TIMEOUT.as_secs()
            ),
            SdkError::DispatchFailure(_) => {
                anyhow!("STS unreachable at {endpoint}: {}", error_chain(&e))
            }
            _ => anyhow!(
                "STS sent an unexpected AssumeRole response: {}",
                error_chain(&e)
            ),
        }
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

/// How long an EKS token's presigned URL is valid: what aws-iam-authenticator and `aws eks
/// get-token` sign (docs/protocol.md §9). EKS itself accepts such a token for 15 minutes.
pub const EKS_PRESIGN_SECS: u64 = 60;

impl Sts {
    /// Where an EKS token sends the API server: the regional STS endpoint, as `aws eks
    /// get-token` signs it, also for a configured global endpoint, or the configured endpoint
    /// otherwise (tests point it at moto).
    pub fn token_endpoint(&self) -> String {
        let endpoint = self.endpoint();
        let endpoint = endpoint.trim_end_matches('/');
        if endpoint == "https://sts.amazonaws.com" {
            self.endpoint_of_region()
        } else {
            endpoint.to_string()
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
/// their credentials (docs/protocol.md §6). The endpoint and the console follow the partition of
/// the role (its ARN, else the region), unless `--signin-url` names one endpoint for all.
pub struct Signin {
    /// `--signin-url`; the partition's federation endpoint when absent.
    pub endpoint: Option<String>,
    pub timeout: Duration,
    /// Per endpoint, unix seconds before which it is not tried again.
    resting_until: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    http: reqwest::Client,
}

const REST_AFTER_FAILURE_SECS: i64 = 60;

impl Signin {
    pub fn new(endpoint: Option<String>, timeout: Duration) -> Result<Signin> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Signin {
            endpoint,
            timeout,
            resting_until: Default::default(),
            http,
        })
    }

    /// The federation endpoint and the landing page for a role in `region`.
    pub fn target(&self, region: &str, role_arn: &str) -> (String, String) {
        let partition = console::Partition::of(region, Some(role_arn));
        let endpoint = match &self.endpoint {
            Some(url) => url.clone(),
            None => partition.federation_endpoint(region),
        };
        (endpoint, partition.default_destination(region))
    }

    fn resting(&self, endpoint: &str, now: i64) -> bool {
        self.resting_until
            .lock()
            .map(|m| m.get(endpoint).is_some_and(|&until| until > now))
            .unwrap_or(false)
    }

    fn rest(&self, endpoint: &str, until: i64) {
        if let Ok(mut m) = self.resting_until.lock() {
            m.retain(|_, &mut t| t > until - REST_AFTER_FAILURE_SECS);
            m.insert(endpoint.to_string(), until);
        }
    }

    /// The URL, or why there is none (no secret in the reason).
    pub async fn console_url(
        &self,
        keys: &SessionKeys<'_>,
        region: &str,
        role_arn: &str,
        secs: i64,
    ) -> Result<String> {
        let now = jiff::Timestamp::now().as_second();
        let (endpoint, destination) = self.target(region, role_arn);
        if self.resting(&endpoint, now) {
            bail!("the sign-in endpoint {endpoint} failed recently; not asked again until later");
        }
        let got = tokio::time::timeout(
            self.timeout,
            self.fetch(keys, &endpoint, &destination, secs),
        )
        .await;
        let result = match got {
            Ok(r) => r,
            Err(_) => Err(anyhow!(
                "the sign-in endpoint did not answer within {} ms",
                self.timeout.as_millis()
            )),
        };
        if result.is_err() {
            self.rest(&endpoint, now + REST_AFTER_FAILURE_SECS);
        }
        result
    }

    async fn fetch(
        &self,
        keys: &SessionKeys<'_>,
        endpoint: &str,
        destination: &str,
        secs: i64,
    ) -> Result<String> {
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
            destination,
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

#[cfg(test)]
mod tests {
    fn sts(endpoint: Option<&str>) -> super::Sts {
        super::Sts::with_keys(
            endpoint.map(str::to_string),
            "eu-west-1".into(),
            "AKIAEXAMPLE000000000",
            "secret",
            true,
        )
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
            (None, "https://sts.eu-west-1.amazonaws.com/?"),
            (
                Some("https://sts.amazonaws.com"),
                "https://sts.eu-west-1.amazonaws.com/?",
            ),
            (Some("http://127.0.0.1:5000/"), "http://127.0.0.1:5000/?"),
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

    /// The console sign-in follows the role's partition (its ARN, else the region); an explicit
    /// --signin-url wins, and the landing page stays in the role's partition.
    #[test]
    fn console_sign_in_follows_the_partition() {
        let signin = |e: Option<&str>| {
            super::Signin::new(e.map(str::to_string), std::time::Duration::from_secs(1))
                .expect("signin")
        };
        let gov = "arn:aws-us-gov:iam::123456789012:role/dev";
        let cases = [
            (
                "us-east-1",
                "arn:aws:iam::123456789012:role/dev",
                "https://signin.aws.amazon.com/federation",
                "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1",
            ),
            (
                "us-gov-west-1",
                gov,
                "https://signin.amazonaws-us-gov.com/federation",
                "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
            ),
            (
                "us-east-1",
                gov,
                "https://signin.amazonaws-us-gov.com/federation",
                "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
            ),
            (
                "cn-northwest-1",
                "arn:aws-cn:iam::123456789012:role/dev",
                "https://signin.amazonaws.cn/federation",
                "https://console.amazonaws.cn/console/home?region=cn-northwest-1",
            ),
            (
                "eusc-de-east-1",
                "arn:aws-eusc:iam::123456789012:role/dev",
                "https://eusc-de-east-1.signin.amazonaws-eusc.eu/federation",
                "https://eusc-de-east-1.console.amazonaws-eusc.eu/console/home?region=eusc-de-east-1",
            ),
        ];
        for (region, arn, endpoint, destination) in cases {
            assert_eq!(
                signin(None).target(region, arn),
                (endpoint.to_string(), destination.to_string()),
                "{region} {arn}"
            );
        }
        let (endpoint, destination) =
            signin(Some("http://127.0.0.1:9/federation")).target("us-gov-west-1", gov);
        assert_eq!(endpoint, "http://127.0.0.1:9/federation");
        assert_eq!(
            destination,
            "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"
        );
    }

    #[test]
    fn sts_endpoints_use_the_partition_domain() {
        let china =
            super::Sts::with_keys(None, "cn-north-1".into(), "AKIAEXAMPLE000000000", "s", true);
        assert_eq!(china.endpoint(), "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(sts(None).endpoint(), "https://sts.eu-west-1.amazonaws.com");
    }

    #[test]
    fn a_cut_off_denies_the_users_older_sessions_only() {
        let (role, name, doc) = super::cut_off_policy(
            "arn:aws:iam::111111111111:role/team/prod",
            "alice",
            "2026-12-05T00:00:00Z",
            true,
        )
        .expect("policy");
        assert_eq!(
            (role.as_str(), name.as_str()),
            ("prod", "jit-cut-off-alice")
        );
        let doc: serde_json::Value = serde_json::from_str(&doc).expect("json");
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(
            statement["Condition"],
            serde_json::json!({
                "StringEquals": { "aws:SourceIdentity": "alice" },
                "DateLessThan": { "aws:TokenIssueTime": "2026-12-05T00:00:00Z" },
            })
        );
        let (_, _, doc) =
            super::cut_off_policy("arn:aws:iam::1:role/x", "bob", "t", false).expect("policy");
        assert!(doc.contains("\"aws:userid\":\"*:bob\""), "{doc}");
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(super::session_name("alice"), "alice");
        assert_eq!(super::session_name("a"), "a-");
        assert_eq!(super::session_name("bob smith/x"), "bob-smith-x");
        assert_eq!(super::session_name(&"x".repeat(80)).len(), 64);
    }
}
