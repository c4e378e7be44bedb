//! The users pages: the list with its Add form, and each user's page with their admin flag,
//! their tenants, the email address their notifications go to, their live web sessions ("Sign
//! out everywhere") and their removal.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::{NoticeQuery, RemoveForm, actor, done, not_found, page, segment, shown};
use crate::db::{Session, Tenant, User};
use crate::domain::admin::{self, UserChange};
use crate::domain::rules::{Email, Name};
use crate::domain::{self, Outcome};
use crate::state::{ClientIp, Shared};
use crate::web::extract::{
    Admin, AdminForm, PageForm, all_trimmed, distinct, first, first_trimmed, ticked,
};
use crate::web::{Chrome, PageError, PageResult, unreadable};

/// One tenant checkbox.
struct Choice {
    name: String,
    checked: bool,
}

fn choices(tenants: &[Tenant], chosen: &[String]) -> Vec<Choice> {
    tenants
        .iter()
        .map(|t| Choice {
            name: t.name.clone(),
            checked: chosen.contains(&t.name),
        })
        .collect()
}

struct UserRow {
    name: String,
    admin: bool,
    tenants: String,
    /// The address their notifications go to, or `-`.
    email: String,
    password: bool,
    /// Its second factors, in words: `TOTP, 9 recovery codes`, or `-`.
    factors: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage<'a> {
    chrome: Chrome<'a>,
    users: Vec<UserRow>,
    name: String,
    admin: bool,
    email: String,
    tenants: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// A user's form: the Add form posts `tenants`, a user's page `tenant`, one per ticked box.
#[derive(Default, Deserialize)]
pub struct UserForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    name: String,
    #[serde(default, deserialize_with = "ticked")]
    admin: bool,
    #[serde(default, deserialize_with = "all_trimmed")]
    tenant: Vec<String>,
    #[serde(default, deserialize_with = "all_trimmed")]
    tenants: Vec<String>,
    /// The Add form's address: none when left empty.
    #[serde(default, deserialize_with = "first_trimmed")]
    email: String,
}

impl PageForm for UserForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl UserForm {
    /// The ticked tenants, without repeats.
    fn chosen(&self) -> Vec<String> {
        distinct(self.tenant.iter().chain(&self.tenants).map(String::as_str))
    }
}

/// The users and tenants every user page needs.
async fn people(app: &Shared) -> Result<(Vec<User>, Vec<Tenant>), PageError> {
    let users = app.db.list_users().await;
    let tenants = app.db.list_tenants().await;
    match (users, tenants) {
        (Ok(u), Ok(t)) => Ok((u, t)),
        (Err(e), _) | (_, Err(e)) => Err(unreadable(e)),
    }
}

/// A user's second factors, in words.
fn factors_shown(f: Option<&crate::db::Factors>) -> String {
    let Some(f) = f else {
        return "-".into();
    };
    let mut out = Vec::new();
    if f.totp.is_some() {
        out.push("TOTP".to_string());
    }
    if f.recovery_left > 0 {
        out.push(format!("{} recovery codes", f.recovery_left));
    }
    match f.passkeys {
        0 => {}
        1 => out.push("1 passkey".to_string()),
        n => out.push(format!("{n} passkeys")),
    }
    if out.is_empty() {
        "-".into()
    } else {
        out.join(", ")
    }
}

/// What the Add form shows.
struct AddView {
    name: String,
    admin: bool,
    tenants: Vec<String>,
    email: String,
}

/// An email field: empty means none.
fn email_field(text: &str) -> domain::Result<Option<Email>> {
    if text.is_empty() {
        return Ok(None);
    }
    Email::parse("Email", text).map(Some)
}

async fn users_view(
    app: &Shared,
    session: &Session,
    status: StatusCode,
    form: AddView,
    notice: Option<&'static str>,
    error: Option<String>,
) -> PageResult {
    let (users, tenants) = people(app).await?;
    let with_password = app.db.users_with_password().await.map_err(unreadable)?;
    let factors = app.db.all_factors().await.map_err(unreadable)?;
    let users = users
        .into_iter()
        .map(|u| UserRow {
            password: with_password.contains(&u.name),
            factors: factors_shown(factors.get(&u.name)),
            tenants: if u.tenants.is_empty() {
                "-".into()
            } else {
                u.tenants.join(", ")
            },
            email: u.email.unwrap_or_else(|| "-".into()),
            name: u.name,
            admin: u.admin,
        })
        .collect();
    Ok(page(
        session,
        status,
        &UsersPage {
            chrome: Chrome::of(session),
            users,
            tenants: choices(&tenants, &form.tenants),
            name: form.name,
            admin: form.admin,
            email: form.email,
            notice,
            error,
        },
    ))
}

/// The users and the Add form.
pub async fn list(
    State(app): State<Shared>,
    Admin(session): Admin,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let blank = AddView {
        name: String::new(),
        admin: false,
        tenants: Vec::new(),
        email: String::new(),
    };
    users_view(&app, &session, StatusCode::OK, blank, q.notice(), None).await
}

/// Ticked tenants as names.
fn names(tenants: &[String]) -> domain::Result<Vec<Name>> {
    tenants.iter().map(|t| Name::parse("tenant", t)).collect()
}

/// Add a user.
pub async fn add(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<UserForm>,
) -> PageResult {
    let chosen = form.chosen();
    let parsed = (
        Name::parse("user", &form.name),
        names(&chosen),
        email_field(&form.email),
    );
    let added = match parsed {
        (Ok(name), Ok(tenants), Ok(email)) => {
            let actor = actor(&session, client);
            admin::add_user(&app.db, &actor, &name, form.admin, &tenants, email.as_ref()).await
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
    };
    match added {
        Ok(()) => Ok(done(&session, "/admin/users", "added")),
        Err(e) => {
            let error = shown(&session, e, "No such user")?;
            let view = AddView {
                name: form.name,
                admin: form.admin,
                tenants: chosen,
                email: form.email,
            };
            let status = StatusCode::BAD_REQUEST;
            users_view(&app, &session, status, view, None, Some(error)).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    chrome: Chrome<'a>,
    name: String,
    path: String,
    admin: bool,
    tenants: Vec<Choice>,
    email: String,
    password: bool,
    factors: String,
    sessions: usize,
    me: bool,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct UserView {
    status: StatusCode,
    admin: bool,
    tenants: Vec<String>,
    /// The email field as typed; None shows the stored address.
    email: Option<String>,
    confirm: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

impl UserView {
    /// The page with `admin` and `tenants` in the form, nothing typed, nothing to say.
    fn of(admin: bool, tenants: Vec<String>) -> UserView {
        UserView {
            status: StatusCode::OK,
            admin,
            tenants,
            email: None,
            confirm: String::new(),
            notice: None,
            error: None,
        }
    }
}

/// The user's page again after the domain refused a change (`e`), the form as `v` has it.
async fn refused(
    app: &Shared,
    session: &Session,
    name: &str,
    v: UserView,
    e: domain::Error,
) -> PageResult {
    let error = shown(session, e, "No such user")?;
    let v = UserView {
        status: StatusCode::BAD_REQUEST,
        error: Some(error),
        ..v
    };
    user_view(app, session, name, v).await
}

async fn user_view(app: &Shared, session: &Session, name: &str, v: UserView) -> PageResult {
    let tenants = app.db.list_tenants().await.map_err(unreadable)?;
    let password = app
        .db
        .users_with_password()
        .await
        .map_err(unreadable)?
        .contains(name);
    let factors = factors_shown(app.db.all_factors().await.map_err(unreadable)?.get(name));
    let email = match v.email {
        Some(typed) => typed,
        None => app
            .db
            .user_email(name)
            .await
            .map_err(unreadable)?
            .flatten()
            .unwrap_or_default(),
    };
    let now = jiff::Timestamp::now().as_second();
    let sessions = app
        .db
        .list_sessions(name, now)
        .await
        .map_err(unreadable)?
        .len();
    Ok(page(
        session,
        v.status,
        &UserPage {
            chrome: Chrome::of(session),
            name: name.into(),
            path: format!("/admin/users/{}", segment(name)),
            admin: v.admin,
            tenants: choices(&tenants, &v.tenants),
            email,
            password,
            factors,
            sessions,
            me: name == session.user,
            confirm: v.confirm,
            notice: v.notice,
            error: v.error,
        },
    ))
}

/// The user named `name`, or the page that says there is none.
async fn find_user(app: &Shared, session: &Session, name: &str) -> Result<User, PageError> {
    let users = app.db.list_users().await.map_err(unreadable)?;
    users
        .into_iter()
        .find(|u| u.name == name)
        .ok_or_else(|| not_found(session, "No such user"))
}

/// One user's page.
pub async fn show(
    State(app): State<Shared>,
    Path(name): Path<String>,
    Admin(session): Admin,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let user = find_user(&app, &session, &name).await?;
    let view = UserView {
        notice: q.notice(),
        ..UserView::of(user.admin, user.tenants)
    };
    user_view(&app, &session, &name, view).await
}

/// Save a user's admin flag and tenants.
pub async fn save(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, form): AdminForm<UserForm>,
) -> PageResult {
    let back = format!("/admin/users/{}", segment(&name));
    let chosen = form.chosen();
    let saved = match names(&chosen) {
        Ok(tenants) => {
            let change = UserChange {
                admin: Some(form.admin),
                tenants: Some(tenants),
            };
            admin::change_user(&app.db, &actor(&session, client), &name, change).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(Outcome::Saved) => Ok(done(&session, &back, "saved")),
        Ok(Outcome::Unchanged) => Ok(done(&session, &back, "unchanged")),
        Err(e) => refused(&app, &session, &name, UserView::of(form.admin, chosen), e).await,
    }
}

/// The form of a user's Email: the address, or nothing to clear it.
#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    email: String,
}

impl PageForm for EmailForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The page of `/admin/users/NAME/email` is `/admin/users/NAME`.
    fn page(path: &str) -> String {
        path.strip_suffix("/email").unwrap_or(path).to_string()
    }
}

/// Set or clear the address a user's notifications go to, as `jit portal user set NAME
/// --email ADDR` (or `--no-email`) does.
pub async fn save_email(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, form): AdminForm<EmailForm>,
) -> PageResult {
    let user = find_user(&app, &session, &name).await?;
    let back = format!("/admin/users/{}", segment(&name));
    let saved = match email_field(&form.email) {
        Ok(email) => {
            admin::set_email(&app.db, &actor(&session, client), &name, email.as_ref()).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(Outcome::Saved) => Ok(done(&session, &back, "saved")),
        Ok(Outcome::Unchanged) => Ok(done(&session, &back, "unchanged")),
        Err(e) => {
            let view = UserView {
                email: Some(form.email),
                ..UserView::of(user.admin, user.tenants)
            };
            refused(&app, &session, &name, view, e).await
        }
    }
}

/// Remove a user, once their name is typed again.
pub async fn remove(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, form): AdminForm<RemoveForm>,
) -> PageResult {
    let user = find_user(&app, &session, &name).await?;
    let removed = if form.confirm == name {
        admin::remove_user(&app.db, &actor(&session, client), &name).await
    } else {
        Err(domain::Error::Invalid(format!(
            "to remove the user, type their name ({name}) into the confirmation field"
        )))
    };
    match removed {
        Ok(()) => Ok(done(&session, "/admin/users", "removed")),
        Err(e) => {
            let view = UserView {
                confirm: form.confirm,
                ..UserView::of(user.admin, user.tenants)
            };
            refused(&app, &session, &name, view, e).await
        }
    }
}

/// The form of the "Sign out everywhere" button: its CSRF token only.
#[derive(Deserialize)]
pub struct SessionsForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
}

impl PageForm for SessionsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Remove every second factor of the user and end their sessions, as `jit portal user mfa NAME
/// --reset` does.
pub async fn reset_mfa(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, _form): AdminForm<SessionsForm>,
) -> PageResult {
    let user = find_user(&app, &session, &name).await?;
    match crate::domain::mfa::reset(&app.db, &actor(&session, client), &name).await {
        Ok(_) => Ok(done(
            &session,
            &format!("/admin/users/{}", segment(&name)),
            "saved",
        )),
        Err(e) => {
            refused(
                &app,
                &session,
                &name,
                UserView::of(user.admin, user.tenants),
                e,
            )
            .await
        }
    }
}

/// End every web session of the user ("Sign out everywhere"), as `jit portal user sessions
/// NAME --revoke` does.
pub async fn end_sessions(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    AdminForm(session, _form): AdminForm<SessionsForm>,
) -> PageResult {
    let user = find_user(&app, &session, &name).await?;
    match admin::end_sessions(&app.db, &actor(&session, client), &name).await {
        Ok(_) => Ok(done(
            &session,
            &format!("/admin/users/{}", segment(&name)),
            "saved",
        )),
        Err(e) => {
            refused(
                &app,
                &session,
                &name,
                UserView::of(user.admin, user.tenants),
                e,
            )
            .await
        }
    }
}
