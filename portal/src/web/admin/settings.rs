//! The system config page: the admin session length and the admin and ops roles.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::{NoticeQuery, actor, done, page, shown};
use crate::domain::Outcome;
use crate::domain::admin::{self, SettingsChange};
use crate::domain::rules::{RoleArn, SessionSecs};
use crate::state::{ClientIp, Shared};
use crate::web::extract::{Admin, AdminForm, PageForm, first, first_trimmed};
use crate::web::{Chrome, PageResult, unreadable};

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage<'a> {
    chrome: Chrome<'a>,
    admin_session_secs: String,
    admin_role_arn: String,
    ops_role_arn: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// The system config form.
#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default, deserialize_with = "first")]
    csrf: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    admin_session_secs: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    admin_role_arn: String,
    #[serde(default, deserialize_with = "first_trimmed")]
    ops_role_arn: String,
}

impl PageForm for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The system config page.
pub async fn show(
    State(app): State<Shared>,
    Admin(session): Admin,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let s = app.db.settings().await.map_err(unreadable)?;
    Ok(page(
        &session,
        StatusCode::OK,
        &SettingsPage {
            chrome: Chrome::of(&session),
            admin_session_secs: s.admin_session_secs.to_string(),
            admin_role_arn: s.admin_role_arn.unwrap_or_default(),
            ops_role_arn: s.ops_role_arn.unwrap_or_default(),
            notice: q.notice(),
            error: None,
        },
    ))
}

/// Save the system config.
pub async fn save(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    AdminForm(session, form): AdminForm<SettingsForm>,
) -> PageResult {
    let back = "/admin/settings";
    let change = (|| {
        Ok(SettingsChange {
            admin_session: Some(SessionSecs::parse(
                "AdminJitSessionDuration",
                &form.admin_session_secs,
            )?),
            // An emptied role field clears that role.
            admin_role: Some(RoleArn::parse_optional(
                "Admin role ARN",
                &form.admin_role_arn,
            )?),
            ops_role: Some(RoleArn::parse_optional("Ops role ARN", &form.ops_role_arn)?),
        })
    })();
    let saved = match change {
        Ok(change) => admin::change_settings(&app.db, &actor(&session, client), change).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(Outcome::Saved) => Ok(done(&session, back, "saved")),
        Ok(Outcome::Unchanged) => Ok(done(&session, back, "unchanged")),
        Err(e) => {
            let error = shown(&session, e, "No such page")?;
            Ok(page(
                &session,
                StatusCode::BAD_REQUEST,
                &SettingsPage {
                    chrome: Chrome::of(&session),
                    admin_session_secs: form.admin_session_secs,
                    admin_role_arn: form.admin_role_arn,
                    ops_role_arn: form.ops_role_arn,
                    notice: None,
                    error: Some(error),
                },
            ))
        }
    }
}
