//! Single sign-on, the provider side: an OpenID Connect client for the authorization code flow
//! with PKCE (S256), `state` and `nonce`. The `openidconnect` crate does discovery, the code
//! exchange and the id token checks (signature against the provider's JWKS, issuer, audience,
//! expiry, nonce); this module keeps the discovered metadata fresh, reads the provider through a
//! bounded HTTP client, and maps one claim to a portal user name. The pages, the logins under
//! way and their browser binding are `web::sso`'s.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IdTokenClaims, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
};

/// Discovery and keys are fetched again after this, so rotated keys are picked up.
const REFRESH_AFTER: Duration = Duration::from_secs(3600);
/// A failed signature check fetches the keys again, but not more often than this.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
/// Most bytes read from the provider in one answer.
const MAX_BODY: usize = 1024 * 1024;
/// What `jit-portal serve` was told about the provider.
pub struct Config {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The id token claim that names the portal user: `email`, `preferred_username`, `sub`...
    pub user_claim: String,
    /// The sign-in button says "Sign in with {name}".
    pub name: String,
    /// CA certificates (PEM) trusted for the provider beside the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Whether an id token whose `amr` names a second factor counts as one (`MFA_AMR`).
    pub trust_amr: bool,
}

/// The `amr` values (RFC 8176) that say the provider asked for more than a password: a
/// second factor, a one-time code, a key held in hardware or software, or biometrics.
pub const MFA_AMR: &[&str] = &[
    "mfa", "otp", "hwk", "swk", "fido", "sms", "face", "fpt", "iris", "retina", "pin",
];

/// Whether an id token's `amr` values say a second factor was used.
pub fn amr_is_mfa<'a>(amr: impl IntoIterator<Item = &'a str>) -> bool {
    amr.into_iter().any(|m| MFA_AMR.contains(&m))
}

/// Claims beyond the standard ones, so any claim may name the user.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Extra(HashMap<String, serde_json::Value>);
impl AdditionalClaims for Extra {}

type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type Client = openidconnect::Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider's discovery document and keys, and when they were fetched.
struct Discovered {
    at: Instant,
    metadata: CoreProviderMetadata,
}

/// A configured provider.
pub struct Oidc {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    pub user_claim: String,
    pub name: String,
    pub trust_amr: bool,
    http: Http,
    discovered: RwLock<Arc<Discovered>>,
}

impl Oidc {
    /// Fetch the provider's discovery document and keys; an unreachable or wrong issuer fails
    /// here, at start-up, rather than at the first sign-in.
    pub async fn discover(config: Config, public_url: &str) -> Result<Oidc> {
        // As given: some providers' issuers end in a slash, and discovery must match it exactly.
        let issuer = IssuerUrl::new(config.issuer.clone())
            .with_context(|| format!("invalid OpenID Connect issuer URL {}", config.issuer))?;
        let redirect = RedirectUrl::new(format!("{public_url}/login/oidc/callback"))
            .context("invalid OpenID Connect redirect URL")?;
        let http = Http::new(config.ca_pem.as_deref())?;
        let metadata = fetch(&issuer, &http).await?;
        Ok(Oidc {
            issuer,
            client_id: ClientId::new(config.client_id),
            client_secret: ClientSecret::new(config.client_secret),
            redirect,
            user_claim: config.user_claim,
            name: config.name,
            trust_amr: config.trust_amr,
            http,
            discovered: RwLock::new(Arc::new(Discovered {
                at: Instant::now(),
                metadata,
            })),
        })
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    fn snapshot(&self) -> Arc<Discovered> {
        match self.discovered.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The provider's metadata, fetched again when older than `max_age`. When that fails the
    /// old copy stays in use and the failure is logged.
    async fn metadata(&self, max_age: Duration) -> Arc<Discovered> {
        let now = self.snapshot();
        if now.at.elapsed() < max_age {
            return now;
        }
        match fetch(&self.issuer, &self.http).await {
            Ok(metadata) => {
                let fresh = Arc::new(Discovered {
                    at: Instant::now(),
                    metadata,
                });
                match self.discovered.write() {
                    Ok(mut d) => *d = fresh.clone(),
                    Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
                }
                fresh
            }
            Err(e) => {
                tracing::warn!(
                    "keeping the old OpenID Connect metadata: {}",
                    crate::log::escape(&format!("{e:#}"))
                );
                now
            }
        }
    }

    fn client(&self, discovered: &Discovered) -> Client {
        Client::from_provider_metadata(
            discovered.metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Verify the id token of `tokens` and return the claim that names the user.
    fn user_of(
        &self,
        client: &Client,
        tokens: &Tokens,
        nonce: &Nonce,
    ) -> Result<Result<SignedIn, Refusal>, ClaimsVerificationError> {
        let Some(id_token) = tokens.id_token() else {
            return Ok(Err(Refusal::NoIdToken));
        };
        let verifier = client.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            CoreJwsSigningAlgorithm::RsaSsaPssSha384,
            CoreJwsSigningAlgorithm::RsaSsaPssSha512,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
            CoreJwsSigningAlgorithm::EdDsa,
        ]);
        let claims = id_token.claims(&verifier, nonce)?;
        let mfa = claims
            .auth_method_refs()
            .is_some_and(|amr| amr_is_mfa(amr.iter().map(|m| m.as_str())));
        let groups = groups(claims);
        let email = claim(claims, "email");
        Ok(claim(claims, &self.user_claim)
            .map(|user| SignedIn {
                user,
                mfa,
                groups,
                email,
            })
            .ok_or(Refusal::NoClaim))
    }
}

/// Who a verified id token names, whether its `amr` says a second factor was used, the
/// groups its `groups` claim lists (none when it has no such claim), and its `email` when the
/// provider says it is verified.
pub struct SignedIn {
    pub user: String,
    pub mfa: bool,
    pub groups: Vec<String>,
    pub email: Option<String>,
}

/// The strings of the `groups` claim: an array of names (anything else counts as none).
fn groups(claims: &IdTokenClaims<Extra, CoreGenderClaim>) -> Vec<String> {
    match claims.additional_claims().0.get("groups") {
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a verified sign-in names nobody.
enum Refusal {
    NoIdToken,
    NoClaim,
}

/// Why a returning browser's code signs nobody in.
pub enum SignInError {
    /// The provider would not trade the code for tokens (logged here).
    Exchange,
    NoIdToken,
    /// The id token does not say the configured claim (or an unverified email).
    NoClaim,
    /// The id token failed a check (logged here).
    Refused,
}

/// What the browser is sent to the provider with, and what its return is checked against.
pub struct Authorization {
    pub url: String,
    /// The PKCE verifier, kept with the login under way.
    pub verifier: String,
}

impl Oidc {
    /// The provider's sign-in URL for a login with this `state` and `nonce`, with a fresh PKCE
    /// challenge.
    pub async fn authorize(&self, state: &str, nonce: &str) -> Authorization {
        let discovered = self.metadata(REFRESH_AFTER).await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (state_value, nonce_value) = (state.to_string(), nonce.to_string());
        let (url, _, _) = self
            .client(&discovered)
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_value.clone()),
                move || Nonce::new(nonce_value.clone()),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            verifier: verifier.secret().clone(),
        }
    }

    /// The user name the provider vouches for: trade `code` (with the login's PKCE `verifier`)
    /// for tokens, check the id token against `nonce`, and read the configured claim; and
    /// whether its `amr` says a second factor was used.
    pub async fn sign_in(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignedIn, SignInError> {
        let discovered = self.metadata(REFRESH_AFTER).await;
        let exchanged = match self
            .client(&discovered)
            .exchange_code(AuthorizationCode::new(code.to_string()))
        {
            Ok(request) => request
                .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
                .request_async(&self.http)
                .await
                .map_err(|e| chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        let tokens = exchanged.map_err(|e| {
            tracing::warn!(
                "single sign-on code exchange failed: {}",
                crate::log::escape(&e)
            );
            SignInError::Exchange
        })?;
        let nonce = Nonce::new(nonce.to_string());
        let mut verified = self.user_of(&self.client(&discovered), &tokens, &nonce);
        if matches!(
            verified,
            Err(ClaimsVerificationError::SignatureVerification(_))
        ) {
            // The provider may have rotated its keys since we fetched them.
            let fresh = self.metadata(REFETCH_AT_MOST_EVERY).await;
            verified = self.user_of(&self.client(&fresh), &tokens, &nonce);
        }
        match verified {
            Ok(Ok(user)) => Ok(user),
            Ok(Err(Refusal::NoIdToken)) => Err(SignInError::NoIdToken),
            Ok(Err(Refusal::NoClaim)) => Err(SignInError::NoClaim),
            Err(e) => {
                tracing::warn!(
                    "single sign-on id token refused: {}",
                    crate::log::escape(&chain(&e))
                );
                Err(SignInError::Refused)
            }
        }
    }
}

/// The value of the claim `name`. An `email` the provider says is not verified counts as none.
fn claim(claims: &IdTokenClaims<Extra, CoreGenderClaim>, name: &str) -> Option<String> {
    let value = match name {
        "sub" => Some(claims.subject().to_string()),
        "email" => {
            // Only an address the provider vouches for: some providers send none of
            // `email_verified` and let users set `email` themselves.
            if claims.email_verified() != Some(true) {
                return None;
            }
            claims.email().map(|e| e.to_string())
        }
        "preferred_username" => claims.preferred_username().map(|u| u.to_string()),
        "name" => claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
        "nickname" => claims
            .nickname()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
        other => claims
            .additional_claims()
            .0
            .get(other)
            .and_then(|v| v.as_str())
            .map(str::to_string),
    };
    value.filter(|v| !v.is_empty())
}

async fn fetch(issuer: &IssuerUrl, http: &Http) -> Result<CoreProviderMetadata> {
    CoreProviderMetadata::discover_async(issuer.clone(), http)
        .await
        .map_err(|e| anyhow!("{}", chain(&e)))
        .with_context(|| {
            format!(
                "cannot discover the OpenID Connect provider at {}",
                issuer.as_str()
            )
        })
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The HTTP client for the provider: no redirects (they would let a provider answer point us
/// anywhere), time limits, and answers cut off at `MAX_BODY`.
struct Http(reqwest::Client);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

impl Http {
    fn new(ca_pem: Option<&[u8]>) -> Result<Http> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .context("--oidc-ca-file holds no PEM certificate")?;
            if certs.is_empty() {
                bail!("--oidc-ca-file holds no PEM certificate");
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Http(
            builder
                .build()
                .context("cannot build the OpenID Connect HTTP client")?,
        ))
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| HttpError(format!("bad request: {e}")))?;
        let url = request.url().clone();
        let mut response = self
            .0
            .execute(request)
            .await
            .map_err(|e| HttpError(format!("{url}: {}", chain(&e))))?;
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError(format!("{url}: {}", chain(&e))))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError(format!(
                    "{url}: answer larger than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| HttpError(format!("{url}: {e}")))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> IdTokenClaims<Extra, CoreGenderClaim> {
        let mut all = serde_json::json!({
            "iss": "https://id.example", "aud": ["jit"], "exp": 2000000000, "iat": 1700000000,
            "sub": "u-123",
        });
        if let (Some(all), Some(more)) = (all.as_object_mut(), json.as_object()) {
            all.extend(more.clone());
        }
        serde_json::from_value(all).expect("claims")
    }

    #[test]
    fn the_user_claim_is_read_and_an_unverified_email_names_nobody() {
        let c = claims(serde_json::json!({
            "email": "alice@example.com", "preferred_username": "alice", "upn": "alice@corp",
            "groups": ["a"],
        }));
        assert_eq!(claim(&c, "sub").as_deref(), Some("u-123"));
        assert_eq!(
            claim(&c, "email"),
            None,
            "an email nobody says is verified names nobody"
        );
        assert_eq!(claim(&c, "preferred_username").as_deref(), Some("alice"));
        assert_eq!(claim(&c, "upn").as_deref(), Some("alice@corp"));
        assert_eq!(claim(&c, "groups"), None, "not a string");
        assert_eq!(claim(&c, "missing"), None);
        let unverified = claims(serde_json::json!({
            "email": "alice@example.com", "email_verified": false,
        }));
        assert_eq!(claim(&unverified, "email"), None);
        let verified = claims(serde_json::json!({
            "email": "alice@example.com", "email_verified": true,
        }));
        assert_eq!(
            claim(&verified, "email").as_deref(),
            Some("alice@example.com")
        );
    }

    #[tokio::test]
    async fn provider_answers_are_cut_off() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = vec![b'x'; MAX_BODY + 10];
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        });
        let http = Http::new(None).expect("client");
        let request = openidconnect::http::Request::builder()
            .uri(format!("http://{addr}/"))
            .body(Vec::new())
            .expect("request");
        let err = http.send(request).await.expect_err("too large");
        assert!(err.0.contains("larger than"), "{err}");
    }
}
