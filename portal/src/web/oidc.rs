//! Single sign-on through an OpenID Connect provider: the authorization code flow with PKCE
//! (S256), `state` and `nonce`. The `openidconnect` crate does discovery, the code exchange and
//! the id token checks (signature against the provider's JWKS, issuer, audience, expiry, nonce);
//! this module keeps logins under way in the database, binds each to the browser that started
//! it, and maps one claim to an existing portal user.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
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

use super::internal;
use super::{
    SESSION_COOKIE, SESSION_SECS, cookie, current, message, next_of, render, see_other, set_cookie,
};
use crate::db::{AuditEntry, AuditEvent, PendingLogin};
use crate::secret;
use crate::state::{ClientIp, Shared, with_who};

/// The cookie that ties a login under way to the browser that started it.
const BINDING_COOKIE: &str = "jit_oidc";
/// How long a login may take at the provider.
const PENDING_SECS: i64 = 600;
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
    user_claim: String,
    pub name: String,
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
    ) -> Result<Result<String, Refusal>, ClaimsVerificationError> {
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
        Ok(claim(claims, &self.user_claim).ok_or(Refusal::NoClaim))
    }
}

/// Why a verified sign-in names nobody.
enum Refusal {
    NoIdToken,
    NoClaim,
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

#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

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

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/login/oidc", get(start))
        .route("/login/oidc/callback", get(callback))
}

/// The sign-in page's link to the provider, when one is configured.
pub(super) fn sign_in_link(app: &Shared, next: &str) -> Option<(String, String)> {
    let oidc = app.oidc.as_ref()?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    Some((oidc.name.clone(), format!("/login/oidc?{query}")))
}

fn not_configured() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Single sign-on is not set up on this portal",
    )
}

/// Send the browser to the provider, with a fresh `state`, nonce and PKCE challenge.
async fn start(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oidc) = app.oidc.as_ref() else {
        return not_configured();
    };
    let starts = super::throttle::key(client.as_deref(), "oidc");
    let now = jiff::Timestamp::now().as_second();
    if let Some(left) = super::throttle::OIDC_STARTS.blocked(&starts, now) {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many sign-ins started from your address: try again in {} minutes",
                (left + 59) / 60
            ),
        );
    }
    super::throttle::OIDC_STARTS.count(&starts, now);
    let next = next_of(&q);
    let (state, nonce, binding) = match (
        secret::new_token(),
        secret::new_token(),
        secret::new_token(),
    ) {
        (Ok(s), Ok(n), Ok(b)) => (s, n, b),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return internal("no randomness", &e),
    };
    // Logins started in several tabs share the browser's binding, so each may finish.
    let binding = match cookie(&headers, BINDING_COOKIE) {
        Some(b) if b.len() == binding.len() && b.starts_with("jit_") => b.to_string(),
        _ => binding,
    };
    let discovered = oidc.metadata(REFRESH_AFTER).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (state_value, nonce_value) = (state.clone(), nonce.clone());
    let (url, _, _) = oidc
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
    let now = jiff::Timestamp::now().as_second();
    let pending = PendingLogin {
        binding: secret::digest(&binding),
        verifier: verifier.secret().clone(),
        nonce,
        next,
        expires: now + PENDING_SECS,
    };
    match app.db.start_oidc_login(&state, &pending, now).await {
        Ok(true) => {}
        Ok(false) => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins are under way: try again in a few minutes",
            );
        }
        Err(e) => return internal("cannot start the single sign-on", &e),
    }
    let mut r = see_other(url.as_str());
    set_cookie(&app, &mut r, BINDING_COOKIE, &binding, PENDING_SECS);
    r
}

/// A page that explains a refused sign-in and offers to start again. The binding cookie stays:
/// other logins of this browser may still be under way, and it is worthless on its own.
fn refused(status: StatusCode, title: &str) -> Response {
    render(
        status,
        &RefusedPage {
            chrome: super::Chrome::NONE,
            title,
        },
    )
}

#[derive(askama::Template)]
#[template(path = "oidc_refused.html")]
struct RefusedPage<'a> {
    chrome: super::Chrome<'a>,
    title: &'a str,
}

/// Why a callback signs nobody in: what the audit trail and the page say.
struct Failure {
    status: StatusCode,
    why: String,
    title: String,
    /// No login of ours was under way: a log line only, so nobody can fill the audit trail
    /// with requests that cost them nothing.
    stray: bool,
}

fn fail(status: StatusCode, why: impl Into<String>, title: impl Into<String>) -> Failure {
    Failure {
        status,
        why: why.into(),
        title: title.into(),
        stray: false,
    }
}

/// The provider sends the browser back here with a one-time code (or an error) and our `state`.
async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oidc) = app.oidc.as_ref() else {
        return not_configured();
    };
    let (user, next) =
        match verify(&app, oidc, &headers, &q).await {
            Ok(Ok(signed_in)) => signed_in,
            Ok(Err(failure)) if failure.stray => {
                tracing::warn!(
                    "oidc callback refused: {}",
                    crate::log::escape(&failure.why)
                );
                return refused(failure.status, &failure.title);
            }
            Ok(Err(failure)) => {
                let mut audit = AuditEntry::new(AuditEvent::WebSignInFailed, "web")
                    .detail(format!("oidc {}: {}", oidc.issuer(), failure.why));
                audit.client = client;
                if let Err(e) = app.db.audit(&audit).await {
                    return internal("cannot record the sign-in", &e);
                }
                return refused(failure.status, &failure.title);
            }
            Err(r) => return r,
        };
    // A fresh session on every sign-in, as with a password.
    if let Ok(Some(old)) = current(&app, &headers).await {
        let audit = AuditEntry::new(AuditEvent::WebSignOut, &old.user).user(&old.user);
        if let Err(e) = app.db.end_session(&old.id, audit).await {
            return internal("cannot end the previous session", &e);
        }
    }
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, &user)
        .user(&user)
        .detail(format!("oidc {}", oidc.issuer()));
    audit.client = client;
    let (value, _, _) = match app.db.create_session(&user, SESSION_SECS, audit).await {
        Ok(s) => s,
        Err(e) => return internal("cannot start a session", &e),
    };
    let mut r = with_who(see_other(&next), &user);
    set_cookie(&app, &mut r, SESSION_COOKIE, &value, SESSION_SECS);
    r
}

/// The portal user a callback signs in, and where to send them; a failure to show; or the
/// answer to an internal error.
async fn verify(
    app: &Shared,
    oidc: &Oidc,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
) -> Result<Result<(String, String), Failure>, Response> {
    let now = jiff::Timestamp::now().as_second();
    // The login is used up whatever happens next.
    let pending = match q.get("state").filter(|s| !s.is_empty()) {
        Some(state) => app
            .db
            .take_oidc_login(state, now)
            .await
            .map_err(|e| internal("portal state unreadable", &e))?,
        None => None,
    };
    if let Some(error) = q.get("error") {
        // The provider's own words are not shown: only whether the user said no.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let title = if code == "access_denied" {
            format!("The sign-in with {} was cancelled or refused", oidc.name)
        } else {
            format!(
                "{} could not sign you in: try again, or ask an admin",
                oidc.name
            )
        };
        let mut failure = fail(
            StatusCode::FORBIDDEN,
            format!("provider said {code}"),
            title,
        );
        failure.stray = pending.is_none();
        return Ok(Err(failure));
    }
    let Some(pending) = pending else {
        let mut failure = fail(
            StatusCode::BAD_REQUEST,
            "unknown or used state",
            "This sign-in has expired or was already used: start again",
        );
        failure.stray = true;
        return Ok(Err(failure));
    };
    let bound = cookie(headers, BINDING_COOKIE)
        .is_some_and(|b| secret::digest(&secret::digest(b)) == secret::digest(&pending.binding));
    if !bound {
        return Ok(Err(fail(
            StatusCode::BAD_REQUEST,
            "another browser's state",
            "This sign-in was not started in this browser: start again",
        )));
    }
    // RFC 9207: a provider that names itself must be ours.
    if q.get("iss").is_some_and(|iss| iss != oidc.issuer()) {
        return Ok(Err(fail(
            StatusCode::BAD_REQUEST,
            "answer from another issuer",
            "This answer came from another provider: start again",
        )));
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        return Ok(Err(fail(
            StatusCode::BAD_REQUEST,
            "no code",
            "The provider sent no sign-in code: start again",
        )));
    };
    let discovered = oidc.metadata(REFRESH_AFTER).await;
    let exchanged = match oidc
        .client(&discovered)
        .exchange_code(AuthorizationCode::new(code.clone()))
    {
        Ok(request) => request
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&oidc.http)
            .await
            .map_err(|e| chain(&e)),
        Err(e) => Err(e.to_string()),
    };
    let tokens = match exchanged {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(
                "single sign-on code exchange failed: {}",
                crate::log::escape(&e)
            );
            return Ok(Err(fail(
                StatusCode::BAD_GATEWAY,
                "code exchange failed",
                "The portal could not complete the sign-in with the provider: start again",
            )));
        }
    };
    let nonce = Nonce::new(pending.nonce.clone());
    let mut verified = oidc.user_of(&oidc.client(&discovered), &tokens, &nonce);
    if matches!(
        verified,
        Err(ClaimsVerificationError::SignatureVerification(_))
    ) {
        // The provider may have rotated its keys since we fetched them.
        let fresh = oidc.metadata(REFETCH_AT_MOST_EVERY).await;
        verified = oidc.user_of(&oidc.client(&fresh), &tokens, &nonce);
    }
    let user = match verified {
        Ok(Ok(user)) => user,
        Ok(Err(Refusal::NoIdToken)) => {
            return Ok(Err(fail(
                StatusCode::FORBIDDEN,
                "no id token",
                "The provider sent no identity: ask an admin",
            )));
        }
        Ok(Err(Refusal::NoClaim)) => {
            return Ok(Err(fail(
                StatusCode::FORBIDDEN,
                format!("no verified {} claim", oidc.user_claim),
                format!(
                    "The provider did not say your {}: ask an admin",
                    oidc.user_claim
                ),
            )));
        }
        Err(e) => {
            tracing::warn!(
                "single sign-on id token refused: {}",
                crate::log::escape(&chain(&e))
            );
            return Ok(Err(fail(
                StatusCode::FORBIDDEN,
                "id token refused",
                "The provider's answer did not pass the portal's checks: start again",
            )));
        }
    };
    let known = app
        .db
        .user_exists(&user)
        .await
        .map_err(|e| internal("portal state unreadable", &e))?;
    if !known {
        return Ok(Err(fail(
            StatusCode::FORBIDDEN,
            format!("no portal user {user}"),
            format!("no portal user for {user}: ask an admin"),
        )));
    }
    Ok(Ok((user, pending.next)))
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

    #[test]
    fn provider_answers_are_cut_off() {
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
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let http = Http::new(None).expect("client");
        let request = openidconnect::http::Request::builder()
            .uri(format!("http://{addr}/"))
            .body(Vec::new())
            .expect("request");
        let err = rt.block_on(http.send(request)).expect_err("too large");
        assert!(err.0.contains("larger than"), "{err}");
    }
}
