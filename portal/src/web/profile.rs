//! The Profile page: JIT AWS Console, Copy AWS Console URL, Temporary AWS Credentials, AWS
//! access from my Workstation, and the user's own API tokens. Every key and URL is vended on a
//! POST carrying the session's CSRF token, audited like any other vend, and shown on a page
//! that is never stored (`no-store`, from `security_headers`).

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Query;
use jit_wire::shell::Shell;
use serde::Deserialize;
use serde_json::json;

use super::extract::{PageForm, SignedForm, SignedIn, last};
use super::{Chrome, Framed, PageResult, message_for, render, see_other};
use crate::db::{AuditEntry, AuditEvent, Session, TokenInfo};
use crate::domain::vend::{self, AdminRole, Asker};
use crate::domain::{self};
use crate::metrics::VendKind;
use crate::state::{ClientIp, Shared, with_who};

/// The portal's front door is the profile page.
pub async fn home() -> Response {
    see_other("/profile")
}

/// The forms that vend for one target: `admin`, or a tenant's name.
#[derive(Deserialize)]
pub struct TargetForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    target: String,
}

impl PageForm for TargetForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        "/profile".into()
    }
}

/// A new token's lifetime.
#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    lifetime: String,
}

impl PageForm for NewTokenForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        "/profile".into()
    }
}

/// The token to revoke.
#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    id: String,
}

impl PageForm for RevokeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        "/profile".into()
    }
}

/// The confirmation a change redirected here with.
#[derive(Deserialize)]
pub struct ProfileQuery {
    #[serde(default, deserialize_with = "last")]
    done: String,
}

/// Something the user may get AWS access to: the admin role, or one tenant.
struct Target {
    /// `admin`, or the tenant's name: what the forms post as `target`.
    value: String,
    /// The same, safe in an element id: `admin` or `tenant-NAME`.
    key: String,
    label: String,
    /// The `jit aws` words that select it.
    args: String,
}

/// The targets `session` may use: the admin role for admins (when one is set), then every
/// tenant they may use, by name.
async fn targets(app: &Shared, session: &Session) -> domain::Result<Vec<Target>> {
    let mut out = Vec::new();
    if session.admin {
        let settings = app
            .db
            .settings()
            .await
            .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?;
        if settings.admin_role_arn.is_some() {
            out.push(Target {
                value: "admin".into(),
                key: "admin".into(),
                label: "Admin".into(),
                args: "--admin".into(),
            });
        }
    }
    let tenants = app
        .db
        .tenants_for(&session.user, session.admin)
        .await
        .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?;
    out.extend(tenants.into_iter().map(|t| Target {
        key: format!("tenant-{}", t.name),
        label: format!("Tenant {}", t.name),
        args: format!("--tenant {}", t.name),
        value: t.name,
    }));
    // What a running grant gives beyond that (docs/access.md), with its end.
    let who = super::access::person(session, None);
    let now = jiff::Timestamp::now().as_second();
    for g in crate::domain::access::grants(&app.db, &who, now).await? {
        let (value, key, label, args) = match jit_wire::access::Target::parse(&g.target) {
            Ok(jit_wire::access::Target::Admin) => (
                "admin".to_string(),
                "admin".to_string(),
                "Admin".to_string(),
                "--admin".to_string(),
            ),
            Ok(jit_wire::access::Target::Tenant(name)) => (
                name.clone(),
                format!("tenant-{name}"),
                format!("Tenant {name}"),
                format!("--tenant {name}"),
            ),
            // duplo-ops has no button on this page.
            _ => continue,
        };
        if out.iter().any(|t| t.key == key) {
            continue;
        }
        out.push(Target {
            value,
            key,
            label: format!("{label} (granted until {})", g.end),
            args,
        });
    }
    Ok(out)
}

/// One line of the tokens table.
struct TokenRow {
    id: String,
    origin: String,
    created: String,
    expires: String,
}

fn when(at: i64) -> String {
    jiff::Timestamp::from_second(at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

impl From<TokenInfo> for TokenRow {
    fn from(t: TokenInfo) -> TokenRow {
        TokenRow {
            origin: match t.origin.as_str() {
                "web" => "this page",
                "login" => "CLI login",
                "admin" => "an admin",
                _ => "other",
            }
            .into(),
            created: when(t.created),
            expires: t.expires.map(when).unwrap_or_else(|| "never".into()),
            id: t.id,
        }
    }
}

#[derive(Template)]
#[template(path = "profile/page.html")]
struct ProfilePage<'a> {
    chrome: Chrome<'a>,
    user: &'a str,
    admin: bool,
    targets: &'a [Target],
    /// Whether the admin role is among them: `jit config sync --admin` writes its environment.
    has_admin: bool,
    tokens: &'a [TokenRow],
    host: &'a str,
    /// The `~/.aws/config` lines for every target.
    aws_config: &'a str,
    /// A short confirmation after a change, from the query.
    notice: Option<&'a str>,
    /// Where the keys work when it is not AWS (the demo's moto).
    aws_endpoint: Option<&'a str>,
    /// What the user may request (the access request form).
    choices: &'a [super::access::Choice],
}

/// The Profile page.
pub async fn page(
    State(app): State<Shared>,
    SignedIn(session): SignedIn,
    Query(q): Query<ProfileQuery>,
) -> PageResult {
    let targets = targets(&app, &session).await.framed(&session)?;
    let now = jiff::Timestamp::now().as_second();
    let tokens: Vec<TokenRow> = app
        .db
        .list_tokens(Some(&session.user), now)
        .await
        .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))
        .framed(&session)?
        .into_iter()
        .map(TokenRow::from)
        .collect();
    let aws_config = aws_config(&app.public_url, app.aws_endpoint.as_deref(), &targets);
    let choices = super::access::choices(&app, &session.user)
        .await
        .framed(&session)?;
    let notice = match q.done.as_str() {
        "revoked" => Some("The token is revoked."),
        _ => None,
    };
    Ok(with_who(
        render(
            StatusCode::OK,
            &ProfilePage {
                chrome: Chrome::of(&session),
                user: &session.user,
                admin: session.admin,
                targets: &targets,
                has_admin: targets.iter().any(|t| t.value == "admin"),
                tokens: &tokens,
                host: &app.public_url,
                aws_config: &aws_config,
                notice,
                aws_endpoint: app.aws_endpoint.as_deref(),
                choices: &choices,
            },
        ),
        &session.user,
    ))
}

/// `[profile NAME]` sections whose `credential_process` runs `jit aws`, as duplo-jit's
/// documentation writes them (docs/protocol.md §1), one per target.
fn aws_config(host: &str, endpoint: Option<&str>, targets: &[Target]) -> String {
    let mut out = String::new();
    for t in targets {
        out.push_str(&format!(
            "[profile {}]\nregion = us-east-1\ncredential_process = jit aws --host {host} {} --interactive\n",
            t.value, t.args
        ));
        if let Some(url) = endpoint {
            out.push_str(&format!("endpoint_url = {url}\n"));
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// Vend for the form's `target` (`admin` or a tenant's name the user may use).
async fn vend_for(
    app: &Shared,
    session: &Session,
    client: Option<String>,
    target: &str,
) -> domain::Result<jit_wire::api::AwsResponse> {
    let asker = Asker::from(session);
    if target == "admin" {
        return vend::admin(app.vendor(), asker, client, AdminRole::Admin).await;
    }
    let tenants = app
        .db
        .tenants_for(&session.user, session.admin)
        .await
        .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?;
    let granted = || async {
        // No standing access: the vend by id checks for a grant, and says what to do without one.
        let all = app
            .db
            .list_tenants()
            .await
            .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))?;
        Ok::<_, domain::Error>(all.into_iter().find(|t| t.name == target))
    };
    if let Some(t) = tenants.into_iter().find(|t| t.name == target) {
        return vend::tenant(app.vendor(), asker, client, &t).await;
    }
    match granted().await? {
        Some(t) => vend::tenant_by_id(app.vendor(), asker, client, &t.id).await,
        None => vend::counted(
            VendKind::Tenant,
            Err(domain::Error::Forbidden(
                "That tenant is missing or not yours to use".into(),
            )),
        ),
    }
}

/// The console sign-in URL of a vend, or why there is none.
fn sign_in_url(creds: jit_wire::api::AwsResponse) -> domain::Result<String> {
    creds.console_url.filter(|u| !u.is_empty()).ok_or_else(|| {
        domain::Error::Upstream(
            "The AWS sign-in endpoint gave no console URL (the portal's log says why; keys from a local STS, as in the demo, never get one). Temporary AWS Credentials still work.".into(),
        )
    })
}

/// JIT AWS Console: straight to the AWS console, signed in.
pub async fn console(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<TargetForm>,
) -> PageResult {
    let url = vend_for(&app, &session, client, &form.target)
        .await
        .and_then(sign_in_url)
        .framed(&session)?;
    Ok(with_who(see_other(&url), &session.user))
}

#[derive(Template)]
#[template(path = "profile/console_url.html")]
struct ConsoleUrlPage<'a> {
    chrome: Chrome<'a>,
    label: &'a str,
    url: &'a str,
    minutes: i64,
}

/// Copy AWS Console URL: JSON `{"url", "validity"}` for the page's script, or a page with the
/// URL to copy by hand when scripts are off.
pub async fn console_url(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<TargetForm>,
) -> PageResult {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let vended = vend_for(&app, &session, client, &form.target).await;
    let validity = vended
        .as_ref()
        .ok()
        .and_then(|c| c.validity)
        .unwrap_or_default();
    let url = vended.and_then(sign_in_url);
    let response = match (url, wants_json) {
        (Ok(url), true) => Json(json!({ "url": url, "validity": validity })).into_response(),
        (Err(e), true) => (
            crate::state::status_of(&e),
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        (Ok(url), false) => render(
            StatusCode::OK,
            &ConsoleUrlPage {
                chrome: Chrome::of(&session),
                label: &form.target,
                url: &url,
                minutes: validity / 60,
            },
        ),
        (Err(e), false) => return Err(e).framed(&session),
    };
    Ok(with_who(response, &session.user))
}

#[derive(Template)]
#[template(path = "profile/credentials.html")]
struct CredentialsPage<'a> {
    chrome: Chrome<'a>,
    label: &'a str,
    access_key_id: &'a str,
    region: &'a str,
    expiration: &'a str,
    minutes: i64,
    posix: &'a str,
    fish: &'a str,
    powershell: &'a str,
    credentials_file: &'a str,
}

/// Temporary AWS Credentials: vended now, shown once on a page nothing stores.
pub async fn credentials(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<TargetForm>,
) -> PageResult {
    let creds = vend_for(&app, &session, client, &form.target)
        .await
        .framed(&session)?;
    let key = creds.access_key_id.unwrap_or_default();
    let secret = creds.secret_access_key.unwrap_or_default();
    let token = creds.session_token.unwrap_or_default();
    let region = creds.region.unwrap_or_default();
    // To the second: STS (and moto) may add microseconds nobody needs to read.
    let expiration = creds
        .expiration
        .as_deref()
        .and_then(|e| e.parse::<jiff::Timestamp>().ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    // Both region names: AWS CLI v1 reads only the older one. The expiry lets SDKs refresh.
    let vars = [
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_SESSION_TOKEN", token.as_str()),
        ("AWS_REGION", region.as_str()),
        ("AWS_DEFAULT_REGION", region.as_str()),
        ("AWS_CREDENTIAL_EXPIRATION", expiration.as_str()),
        (
            "AWS_ENDPOINT_URL",
            app.aws_endpoint.as_deref().unwrap_or_default(),
        ),
    ];
    let lines = |shell: Shell| -> String {
        vars.iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| shell.set_env(name, value))
            .collect()
    };
    let label = form.target;
    // A profile named after what they are for, so no `[default]` is overwritten.
    let mut credentials_file = format!(
        "[{label}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\naws_session_token = {token}\n"
    );
    if let Some(url) = &app.aws_endpoint {
        credentials_file.push_str(&format!("endpoint_url = {url}\n"));
    }
    Ok(with_who(
        render(
            StatusCode::OK,
            &CredentialsPage {
                chrome: Chrome::of(&session),
                label: &label,
                access_key_id: &key,
                region: &region,
                expiration: if expiration.is_empty() {
                    "unknown"
                } else {
                    &expiration
                },
                minutes: creds.validity.unwrap_or_default() / 60,
                posix: &lines(Shell::Bash),
                fish: &lines(Shell::Fish),
                powershell: &lines(Shell::Powershell),
                credentials_file: &credentials_file,
            },
        ),
        &session.user,
    ))
}

/// The lifetimes a user may give a token they make: `never` or seconds.
const TOKEN_LIFETIMES: &[(&str, Option<i64>)] = &[
    ("3600", Some(3600)),
    ("86400", Some(86400)),
    ("604800", Some(7 * 86400)),
    ("2592000", Some(30 * 86400)),
    ("7776000", Some(90 * 86400)),
    ("never", None),
];

#[derive(Template)]
#[template(path = "profile/token_created.html")]
struct TokenCreatedPage<'a> {
    chrome: Chrome<'a>,
    token: &'a str,
    id: &'a str,
    expires: &'a str,
    host: &'a str,
}

/// A new API token of the user's own, shown once.
pub async fn create_token(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<NewTokenForm>,
) -> PageResult {
    let Some((_, ttl)) = TOKEN_LIFETIMES.iter().find(|(v, _)| *v == form.lifetime) else {
        return Err(
            message_for(&session, StatusCode::BAD_REQUEST, "Choose a token lifetime").into(),
        );
    };
    let mut audit = AuditEntry::new(AuditEvent::TokenCreate, &session.user).user(&session.user);
    audit.client = client;
    audit = audit.detail(format!(
        "on the profile page, {}, session {}",
        ttl.map(|t| format!("for {t} s"))
            .unwrap_or_else(|| "permanent".into()),
        session.id
    ));
    let (token, id) = app
        .db
        .create_token_from(&session.user, *ttl, "web", audit)
        .await
        .map_err(|e| domain::Error::Failed(e.context("cannot make the token")))
        .framed(&session)?;
    let expires = ttl
        .map(|t| when(jiff::Timestamp::now().as_second() + t))
        .unwrap_or_else(|| "never".into());
    Ok(with_who(
        render(
            StatusCode::OK,
            &TokenCreatedPage {
                chrome: Chrome::of(&session),
                token: &token,
                id: &id,
                expires: &expires,
                host: &app.public_url,
            },
        ),
        &session.user,
    ))
}

/// Revoke one of the user's own tokens (and what it minted).
pub async fn revoke_token(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<RevokeForm>,
) -> PageResult {
    let id = form.id;
    let now = jiff::Timestamp::now().as_second();
    let own = app
        .db
        .list_tokens(Some(&session.user), now)
        .await
        .map_err(|e| domain::Error::Failed(e.context("portal state unreadable")))
        .framed(&session)?
        .iter()
        .any(|t| t.id == id);
    if !own {
        return Err(message_for(&session, StatusCode::NOT_FOUND, "No such token of yours").into());
    }
    let mut audit = AuditEntry::new(AuditEvent::TokenRevoke, &session.user).user(&session.user);
    audit.client = client;
    audit.token_id = Some(id.clone());
    audit = audit.detail(format!("on the profile page, session {}", session.id));
    app.db
        .revoke_tokens(&[id], None, audit)
        .await
        .map_err(|e| domain::Error::Failed(e.context("cannot revoke the token")))
        .framed(&session)?;
    Ok(with_who(
        see_other("/profile?done=revoked#tokens"),
        &session.user,
    ))
}
