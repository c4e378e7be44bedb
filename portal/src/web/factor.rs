//! Second factors on the web (docs/protocol.md §11): the factor page after a right password or
//! single sign-on (`/login/factor`: a TOTP code or a recovery code, throttled with the
//! passwords), the enrolment a policy asks for before the session starts (`/login/enrol`), and
//! the profile's second-factor page (`/profile/mfa`: set up, confirm, remove).
//!
//! Between the password and the factor no session exists: a sealed cookie (`MFA_PENDING`, five
//! minutes) says "the password was right for USER at T, go on to NEXT". The TOTP secret being
//! set up rides in a sealed cookie too (the pending one at sign-in, `MFA_ENROL` on the profile)
//! until a right code confirms it; only then is it stored.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};

use super::cookies::{self, LOGIN_CSRF, MFA_ENROL, MFA_PENDING};
use super::extract::{PageForm, SignedForm, SignedIn, last};
use super::signin::{known_device, login_csrf_ok, start_session};
use super::{Chrome, Framed, PageError, PageResult, render, see_other, throttle};
use crate::db::{AuditEntry, AuditEvent, Claim, NewTotp, SignInRow};
use crate::domain::{self, mfa};
use crate::metrics;
use crate::secret;
use crate::state::{ClientIp, Shared, with_who};

/// How long a right password waits for its second factor.
const PENDING_SECS: i64 = 300;
/// How long a secret being set up on the profile page waits for its code.
const ENROL_SECS: i64 = 900;
const PENDING_PURPOSE: &str = "mfa pending";
const ENROL_PURPOSE: &str = "mfa enrol";

/// A sign-in waiting for its second factor.
#[derive(Serialize, Deserialize)]
struct Pending {
    user: String,
    /// When the password (or single sign-on) was right.
    at: i64,
    next: String,
    /// How the first step went, for the audit detail: `password`, or `oidc ISSUER`.
    how: String,
    /// The secret being set up when the policy asks this user to enrol first.
    enrol: Option<String>,
    /// Whether the factor page offers a passkey (read with the password, so the page costs
    /// no query of its own).
    #[serde(default)]
    passkey: bool,
}

/// A secret being set up on the profile page.
#[derive(Serialize, Deserialize)]
struct Enrolling {
    user: String,
    at: i64,
    secret: String,
}

fn seal<T: Serialize>(app: &Shared, purpose: &str, value: &T) -> Result<String, PageError> {
    serde_json::to_vec(value)
        .map_err(anyhow::Error::new)
        .and_then(|json| secret::seal(&app.cookie_key, purpose, &json))
        .map_err(|e| PageError::Internal("cannot seal a cookie", e))
}

fn open<T: for<'de> Deserialize<'de>>(
    app: &Shared,
    headers: &HeaderMap,
    name: &str,
    purpose: &str,
) -> Option<T> {
    let sealed = cookies::get(app, headers, name)?;
    let opened = secret::open(&app.cookie_key, purpose, sealed)?;
    serde_json::from_slice(&opened).ok()
}

fn pending(app: &Shared, headers: &HeaderMap, now: i64) -> Option<Pending> {
    open::<Pending>(app, headers, MFA_PENDING, PENDING_PURPOSE)
        .filter(|p| p.at <= now && now < p.at + PENDING_SECS)
}

/// A sign-in waiting for its second factor, as the passkey step (`passkey.rs`) sees it.
pub(super) struct Waiting {
    pub user: String,
    pub how: String,
    pub next: String,
}

/// The sign-in waiting for its second factor in this browser (not one that must enrol first).
pub(super) fn waiting(app: &Shared, headers: &HeaderMap) -> Option<Waiting> {
    let now = jiff::Timestamp::now().as_second();
    pending(app, headers, now)
        .filter(|p| p.enrol.is_none())
        .map(|p| Waiting {
            user: p.user,
            how: p.how,
            next: p.next,
        })
}

/// After a right password (or single sign-on) for a user with a second factor, or one the
/// policy covers (enrolment, for a user with none): no session yet, the factor page (or the
/// enrolment) next.
pub fn ask(app: &Shared, user: &str, how: &str, next: &str, row: &SignInRow) -> PageResult {
    let enrol = !row.has_factor();
    let p = Pending {
        passkey: row.passkey,
        user: user.to_string(),
        at: jiff::Timestamp::now().as_second(),
        next: next.to_string(),
        how: how.to_string(),
        enrol: if enrol {
            Some(mfa::new_secret().map_err(|e| PageError::Internal("no randomness", e))?)
        } else {
            None
        },
    };
    let sealed = seal(app, PENDING_PURPOSE, &p)?;
    let to = if enrol {
        "/login/enrol"
    } else {
        "/login/factor"
    };
    let mut r = with_who(see_other(to), user);
    cookies::set(app, &mut r, MFA_PENDING, &sealed, PENDING_SECS);
    Ok(r)
}

/// Without a sign-in waiting: back to the sign-in page.
fn expired() -> Response {
    see_other("/login")
}

#[derive(Template)]
#[template(path = "factor/code.html")]
struct CodePage<'a> {
    chrome: Chrome<'a>,
    csrf: &'a str,
    user: &'a str,
    error: Option<&'a str>,
    /// The user has a passkey: the page offers it.
    passkey: bool,
}

#[derive(Template)]
#[template(path = "factor/enrol.html")]
struct EnrolPage<'a> {
    chrome: Chrome<'a>,
    csrf: &'a str,
    /// Where the confirmation posts.
    action: &'a str,
    svg: &'a str,
    secret: &'a str,
    error: Option<&'a str>,
    /// At sign-in: the policy asks for it.
    required: bool,
}

#[derive(Template)]
#[template(path = "factor/codes.html")]
struct CodesPage<'a> {
    chrome: Chrome<'a>,
    codes: &'a [String],
    next: &'a str,
}

/// The sign-in form's CSRF token, as the sign-in page set it.
fn login_csrf<'a>(app: &Shared, headers: &'a HeaderMap) -> &'a str {
    cookies::get(app, headers, LOGIN_CSRF).unwrap_or_default()
}

/// The factor page: a code from the authenticator app, or a recovery code.
pub async fn page(State(app): State<Shared>, headers: HeaderMap) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let Some(p) = pending(&app, &headers, now).filter(|p| p.enrol.is_none()) else {
        return Ok(expired());
    };
    code_form(&app, &headers, StatusCode::OK, &p.user, None, p.passkey)
}

fn code_form(
    app: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    user: &str,
    error: Option<&str>,
    passkey: bool,
) -> PageResult {
    Ok(with_who(
        render(
            status,
            &CodePage {
                chrome: Chrome::NONE,
                csrf: login_csrf(app, headers),
                user,
                error,
                passkey,
            },
        ),
        user,
    ))
}

/// The factor form (and the enrolment's confirmation at sign-in).
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    code: String,
}

/// Take a slot for one second-factor check of `user` (a sign-in code, an enrolment's first
/// code, a passkey, or the code that removes a factor), throttled with the passwords: the
/// attempt, to settle when the check succeeds; else, counted and logged, the seconds until
/// another may be tried.
pub(super) fn reserve_check(
    app: &Shared,
    headers: &HeaderMap,
    client: Option<&str>,
    user: &str,
    now: i64,
) -> Result<throttle::Attempt, i64> {
    let device = known_device(app, headers, user);
    let attempt = throttle::Attempt::new(client, user, device.as_deref());
    match attempt.reserve(&throttle::FAILURES, now) {
        Ok(()) => Ok(attempt),
        Err((full, left)) => {
            metrics::throttled(full.metric());
            metrics::second_factor(metrics::Outcome::Throttled);
            tracing::warn!(
                "second factor throttled for {} from {}",
                crate::log::escape(user),
                client.unwrap_or("-")
            );
            Err(left)
        }
    }
}

/// What a throttled check says, `left` seconds before another may be tried.
pub(super) fn too_many(left: i64) -> String {
    format!(
        "Too many failed tries: try again in {} minutes.",
        (left + 59) / 60
    )
}

/// The throttle's answer, as for passwords.
fn throttled(app: &Shared, headers: &HeaderMap, user: &str, left: i64) -> PageResult {
    let why = too_many(left);
    code_form(
        app,
        headers,
        StatusCode::TOO_MANY_REQUESTS,
        user,
        Some(&why),
        false,
    )
}

/// What a code typed between the password and the session goes through first, on the factor
/// page and on the enrolment the policy asks for (`enrol`): the sign-in form's CSRF token, the
/// sign-in waiting in this browser (of the right kind), and a slot of the throttle. An `Err`
/// is the answer instead: refused, expired, the other page, or throttled.
fn code_step(
    app: &Shared,
    headers: &HeaderMap,
    client: Option<&str>,
    csrf: &str,
    enrol: bool,
    now: i64,
) -> Result<(Pending, throttle::Attempt), PageError> {
    if !login_csrf_ok(app, headers, csrf) {
        return Err(super::extract::csrf_refused().into());
    }
    let Some(p) = pending(app, headers, now) else {
        return Err(expired().into());
    };
    match (enrol, p.enrol.is_some()) {
        (false, true) => return Err(expired().into()),
        (true, false) => return Err(see_other("/login/factor").into()),
        _ => {}
    }
    match reserve_check(app, headers, client, &p.user, now) {
        Ok(attempt) => Ok((p, attempt)),
        Err(left) => Err(match throttled(app, headers, &p.user, left) {
            Ok(r) => r.into(),
            Err(e) => e,
        }),
    }
}

/// A code accepted and its session started: the throttle settles, and the sign-in waiting in
/// this browser goes.
fn passed(app: &Shared, attempt: &throttle::Attempt, r: &mut Response) {
    attempt.succeeded(&throttle::FAILURES);
    metrics::second_factor(metrics::Outcome::Ok);
    cookies::set(app, r, MFA_PENDING, "", 0);
}

/// Check a TOTP or recovery code (throttled with the passwords) and start the session.
pub async fn submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let (p, attempt) = code_step(&app, &headers, client.as_deref(), &form.csrf, false, now)?;
    let user = p.user.as_str();
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, user).user(user);
    audit.client.clone_from(&client);
    let started = if mfa::is_totp_code(&form.code) {
        let stored = app.db.totp_secret(user).await.map_err(super::unreadable)?;
        match stored.and_then(|(secret, last)| mfa::accept(&secret, &form.code, now, last)) {
            Some(step) => {
                audit.detail = Some(format!("{}; second factor totp", p.how));
                start_session(&app, &headers, user, &p.next, &Claim::Totp { step }, audit).await?
            }
            None => None,
        }
    } else if let Some(digest) = mfa::recovery_digest(&form.code) {
        audit.detail = Some(format!("{}; second factor recovery code", p.how));
        let mut used = AuditEntry::new(AuditEvent::MfaRecoveryUsed, user).user(user);
        used.client.clone_from(&client);
        let claim = Claim::Recovery {
            digest: &digest,
            audit: used,
        };
        start_session(&app, &headers, user, &p.next, &claim, audit).await?
    } else {
        None
    };
    let Some(mut r) = started else {
        let mut audit = AuditEntry::new(AuditEvent::MfaFailed, "web")
            .user(user)
            .detail(p.how.clone());
        audit.client = client;
        app.db
            .audit(&audit)
            .await
            .map_err(|e| PageError::Internal("cannot record the sign-in", e))?;
        metrics::second_factor(metrics::Outcome::Wrong);
        return code_form(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            user,
            Some("That code is not right, or was used already."),
            p.passkey,
        );
    };
    passed(&app, &attempt, &mut r);
    Ok(r)
}

/// The enrolment a policy asks for, between the password and the session.
pub async fn enrol_page(State(app): State<Shared>, headers: HeaderMap) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let Some(p) = pending(&app, &headers, now) else {
        return Ok(expired());
    };
    let Some(secret) = p.enrol.as_deref() else {
        return Ok(see_other("/login/factor"));
    };
    enrol_form(&app, &headers, StatusCode::OK, &p.user, secret, None)
}

fn enrol_form(
    app: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    user: &str,
    secret: &str,
    error: Option<&str>,
) -> PageResult {
    let e = mfa::enrolment(secret, user)
        .map_err(|e| PageError::Internal("cannot draw the enrolment", e))?;
    Ok(with_who(
        render(
            status,
            &EnrolPage {
                chrome: Chrome::NONE,
                csrf: login_csrf(app, headers),
                action: "/login/enrol",
                svg: &e.svg,
                secret: &e.secret,
                error,
                required: true,
            },
        ),
        user,
    ))
}

/// Confirm the enrolment the policy asked for: the factor is stored and the session starts in
/// one transaction, and the recovery codes are shown once.
pub async fn enrol_submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let (p, attempt) = code_step(&app, &headers, client.as_deref(), &form.csrf, true, now)?;
    let (user, secret) = (p.user.as_str(), p.enrol.as_deref().unwrap_or_default());
    let Ok((step, codes, digests)) = mfa::confirm_at_sign_in(secret, &form.code, now) else {
        metrics::second_factor(metrics::Outcome::Wrong);
        return enrol_form(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            user,
            secret,
            Some("That code is not right: try the next one."),
        );
    };
    let new = NewTotp {
        secret,
        step,
        recovery_digests: &digests,
    };
    let mut audit = AuditEntry::new(AuditEvent::WebSignIn, user)
        .user(user)
        .detail(format!("{}; second factor totp, enrolled", p.how));
    audit.client.clone_from(&client);
    let claim = Claim::Enrol(&new, mfa::enrol_audit(user, client));
    let Some(started) = start_session(&app, &headers, user, &p.next, &claim, audit).await? else {
        // Enrolled meanwhile in another tab: sign in with that factor.
        let mut r = see_other("/login");
        cookies::set(&app, &mut r, MFA_PENDING, "", 0);
        return Ok(r);
    };
    // The session's cookies, on the page that shows the codes instead of the redirect.
    let mut r = render(
        StatusCode::OK,
        &CodesPage {
            chrome: Chrome::NONE,
            codes: &codes,
            next: &p.next,
        },
    );
    for v in started.headers().get_all(axum::http::header::SET_COOKIE) {
        r.headers_mut()
            .append(axum::http::header::SET_COOKIE, v.clone());
    }
    passed(&app, &attempt, &mut r);
    Ok(with_who(r, user))
}

// ---- the profile's second-factor page ----

#[derive(Template)]
#[template(path = "factor/profile.html")]
struct ProfileMfaPage<'a> {
    chrome: Chrome<'a>,
    /// When the TOTP factor was set up.
    enrolled: Option<String>,
    recovery_left: i64,
    /// The user's passkeys (`passkey.rs`).
    passkeys: Vec<super::passkey::Listed>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

/// A form with a code and the session's CSRF token.
#[derive(Deserialize)]
pub struct ProfileCodeForm {
    #[serde(default, deserialize_with = "last")]
    csrf: String,
    #[serde(default, deserialize_with = "last")]
    code: String,
}

impl PageForm for ProfileCodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn page(_: &str) -> String {
        "/profile/mfa".into()
    }
}

/// The confirmation a change redirected here with.
#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default, deserialize_with = "last")]
    done: String,
}

pub(super) async fn profile_page(
    app: &Shared,
    session: &crate::db::Session,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult {
    let f = mfa::factors(&app.db, &session.user).await.framed(session)?;
    let enrolled = f.totp.map(|at| {
        jiff::Timestamp::from_second(at)
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    });
    Ok(with_who(
        render(
            status,
            &ProfileMfaPage {
                chrome: Chrome::of(session),
                enrolled,
                recovery_left: f.recovery_left,
                passkeys: super::passkey::listed(app, &session.user).await?,
                notice,
                error,
            },
        ),
        &session.user,
    ))
}

/// The profile's second-factor page: what is set up, and a way to set one up or remove it.
pub async fn profile(
    State(app): State<Shared>,
    SignedIn(session): SignedIn,
    axum_extra::extract::Query(q): axum_extra::extract::Query<NoticeQuery>,
) -> PageResult {
    let notice = match q.done.as_str() {
        "removed" => Some("Your second factor is removed."),
        "passkey-added" => Some("Your passkey is registered."),
        "passkey-removed" => Some("The passkey is removed."),
        "passkey-none" => Some("There is no passkey of that name."),
        _ => None,
    };
    profile_page(&app, &session, StatusCode::OK, notice, None).await
}

/// Start setting up a TOTP factor: a new secret, held in a sealed cookie until confirmed.
pub async fn profile_start(
    State(app): State<Shared>,
    SignedForm(session, _): SignedForm<ProfileCodeForm>,
) -> PageResult {
    let e = Enrolling {
        user: session.user.clone(),
        at: jiff::Timestamp::now().as_second(),
        secret: mfa::new_secret().map_err(|e| PageError::Internal("no randomness", e))?,
    };
    let sealed = seal(&app, ENROL_PURPOSE, &e)?;
    let mut r = with_who(see_other("/profile/mfa/enrol"), &session.user);
    cookies::set(&app, &mut r, MFA_ENROL, &sealed, ENROL_SECS);
    Ok(r)
}

fn enrolling(app: &Shared, headers: &HeaderMap, user: &str, now: i64) -> Option<Enrolling> {
    open::<Enrolling>(app, headers, MFA_ENROL, ENROL_PURPOSE)
        .filter(|e| e.user == user && e.at <= now && now < e.at + ENROL_SECS)
}

fn profile_enrol_form(
    session: &crate::db::Session,
    status: StatusCode,
    secret: &str,
    error: Option<&str>,
) -> PageResult {
    let e = mfa::enrolment(secret, &session.user)
        .map_err(|e| PageError::Internal("cannot draw the enrolment", e))?;
    Ok(with_who(
        render(
            status,
            &EnrolPage {
                chrome: Chrome::of(session),
                csrf: &session.csrf,
                action: "/profile/mfa/confirm",
                svg: &e.svg,
                secret: &e.secret,
                error,
                required: false,
            },
        ),
        &session.user,
    ))
}

/// The QR code and secret of the factor being set up, and the form for its first code.
pub async fn profile_enrol(
    State(app): State<Shared>,
    headers: HeaderMap,
    SignedIn(session): SignedIn,
) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let Some(e) = enrolling(&app, &headers, &session.user, now) else {
        return Ok(with_who(see_other("/profile/mfa"), &session.user));
    };
    profile_enrol_form(&session, StatusCode::OK, &e.secret, None)
}

/// Confirm the factor being set up with a right code: stored, and the recovery codes shown once.
pub async fn profile_confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<ProfileCodeForm>,
) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let Some(e) = enrolling(&app, &headers, &session.user, now) else {
        return Ok(with_who(see_other("/profile/mfa"), &session.user));
    };
    match mfa::enrol(&app.db, &session.user, client, &e.secret, &form.code, now).await {
        Ok(codes) => {
            let mut r = with_who(
                render(
                    StatusCode::OK,
                    &CodesPage {
                        chrome: Chrome::of(&session),
                        codes: &codes,
                        next: "/profile/mfa",
                    },
                ),
                &session.user,
            );
            cookies::set(&app, &mut r, MFA_ENROL, "", 0);
            Ok(r)
        }
        Err(domain::Error::Invalid(why)) => {
            profile_enrol_form(&session, StatusCode::BAD_REQUEST, &e.secret, Some(&why))
        }
        Err(e) => Err(e).framed(&session),
    }
}

/// Remove the TOTP factor and the recovery codes, proven by a current code.
/// Wrong codes count against the sign-in throttle, as at sign-in.
pub async fn profile_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
    SignedForm(session, form): SignedForm<ProfileCodeForm>,
) -> PageResult {
    let now = jiff::Timestamp::now().as_second();
    let attempt = match reserve_check(&app, &headers, client.as_deref(), &session.user, now) {
        Ok(attempt) => attempt,
        Err(left) => {
            let why = too_many(left);
            return profile_page(
                &app,
                &session,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                Some(&why),
            )
            .await;
        }
    };
    match mfa::remove(&app.db, &session.user, client, &form.code, now).await {
        Ok(()) => {
            attempt.succeeded(&throttle::FAILURES);
            Ok(with_who(
                see_other("/profile/mfa?done=removed"),
                &session.user,
            ))
        }
        Err(domain::Error::Invalid(why)) => {
            metrics::second_factor(metrics::Outcome::Wrong);
            profile_page(&app, &session, StatusCode::BAD_REQUEST, None, Some(&why)).await
        }
        Err(e) => Err(e).framed(&session),
    }
}
