//! The system config page: the admin session length, the admin and ops roles, and the
//! second-factor policy.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::Query;
use serde::Deserialize;

use super::{NoticeQuery, actor, done, page, shown};
use crate::domain::admin::{self, SettingsChange};
use crate::domain::mfa::Policy;
use crate::domain::rules::{RoleArn, SessionSecs};
use crate::domain::{self, Outcome};
use crate::state::{ClientIp, Shared};
use crate::web::extract::{Admin, AdminForm, PageForm, first, first_trimmed, ticked};
use crate::web::{Chrome, PageResult, unreadable};

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage<'a> {
    chrome: Chrome<'a>,
    admin_session_secs: String,
    admin_role_arn: String,
    ops_role_arn: String,
    require_mfa: String,
    admin_vends_need_mfa: bool,
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
    /// none, admins or all; absent keeps the setting.
    #[serde(default, deserialize_with = "first_trimmed")]
    require_mfa: String,
    #[serde(default, deserialize_with = "ticked")]
    admin_vends_need_mfa: bool,
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
            require_mfa: s.require_mfa,
            admin_vends_need_mfa: s.admin_vends_need_mfa,
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
            require_mfa: match form.require_mfa.as_str() {
                "" => None,
                p => Some(Policy::parse(p).ok_or_else(|| {
                    domain::Error::Invalid("Require a second factor: none, admins or all".into())
                })?),
            },
            admin_vends_need_mfa: Some(form.admin_vends_need_mfa),
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
                    require_mfa: form.require_mfa,
                    admin_vends_need_mfa: form.admin_vends_need_mfa,
                    notice: None,
                    error: Some(error),
                },
            ))
        }
    }
}
