//! `jit portal serve`: a self-hostable JIT access portal that speaks the same API as the
//! commercial one (docs/protocol.md §1-2), vending credentials from a real STS AssumeRole.

pub mod page;
pub mod store;
pub mod sts;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use serde_json::json;

use store::{Store, User, clamp_session};

/// The self-hosted portal server: its state and how it reaches AWS.
pub struct Server {
    pub store: Store,
    pub sts_endpoint: String,
    pub signin_url: String,
    pub region: String,
    pub caller: sts::Caller,
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn header(k: &str, v: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok()
}

fn json_reply(status: u16, body: serde_json::Value) -> Response {
    let mut r = tiny_http::Response::from_string(body.to_string()).with_status_code(status);
    r.add_header(header("Content-Type", "application/json; charset=utf-8").expect("static header"));
    r
}

fn html(status: u16, body: String) -> Response {
    let mut r = tiny_http::Response::from_string(body).with_status_code(status);
    r.add_header(header("Content-Type", "text/html; charset=utf-8").expect("static header"));
    r.add_header(header("Cache-Control", "no-store").expect("static header"));
    r
}

fn redirect(location: &str) -> Response {
    let mut r = tiny_http::Response::from_string("").with_status_code(303);
    if let Some(h) = header("Location", location) {
        r.add_header(h);
    }
    r
}

/// Serve until the process is stopped. One thread per request: every handler is short.
pub fn serve(server: tiny_http::Server, portal: Server) -> Result<()> {
    let portal = Arc::new(portal);
    for request in server.incoming_requests() {
        let portal = portal.clone();
        std::thread::spawn(move || portal.handle(request));
    }
    Ok(())
}

impl Server {
    fn handle(&self, mut request: tiny_http::Request) {
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let path = path.trim_start_matches('/').to_string();
        let method = request.method().clone();
        let (response, who) = match (&method, path.as_str()) {
            (tiny_http::Method::Get, "app/user/verify-token") => {
                (self.login_page(query), String::new())
            }
            // Tells jit that this login page hands back the `state` it sends (src/login.rs).
            (tiny_http::Method::Get, ".well-known/jit-portal") => (
                json_reply(200, json!({ "loginState": true })),
                String::new(),
            ),
            (tiny_http::Method::Post, "app/user/verify-token") => {
                let mut body = String::new();
                let read = request
                    .as_reader()
                    .take(16 * 1024)
                    .read_to_string(&mut body);
                match read {
                    Ok(_) => self.login_submit(&body),
                    Err(_) => (html(400, page::message("Bad request")), String::new()),
                }
            }
            (tiny_http::Method::Get, _) => {
                let bearer = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .and_then(|h| h.value.as_str().strip_prefix("Bearer ").map(str::to_string));
                self.api(&path, bearer.as_deref())
            }
            _ => (json_reply(405, json!("method not allowed")), String::new()),
        };
        crate::output::server_log(format_args!(
            "{method} /{path} {} {who}",
            response.status_code().0
        ));
        let _ = request.respond(response);
    }

    fn login_page(&self, query: &str) -> Response {
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        if q.get("success").map(String::as_str) == Some("true") {
            return html(200, page::done());
        }
        match q
            .get("localPort")
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
        {
            Some(port) => html(
                200,
                page::authorize(
                    port,
                    q.get("isAdmin").map(String::as_str) == Some("true"),
                    login_state(&q),
                    None,
                ),
            ),
            None => html(400, page::message("Missing or invalid localPort")),
        }
    }

    fn login_submit(&self, body: &str) -> (Response, String) {
        let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let Some(port) = form
            .get("localPort")
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
        else {
            return (
                html(400, page::message("Missing or invalid localPort")),
                String::new(),
            );
        };
        let state = login_state(&form);
        // jit's one-time value goes back with the callback, so a page on another site cannot
        // forge one (src/login.rs).
        let echo = |t: Option<&str>| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(t) = t {
                q.append_pair("t", t);
            }
            if let Some(s) = state {
                q.append_pair("state", s);
            }
            let q = q.finish();
            let sep = if q.is_empty() { "" } else { "?" };
            format!("http://127.0.0.1:{port}/{sep}{q}")
        };
        if form.get("action").map(String::as_str) != Some("authorize") {
            return (redirect(&echo(None)), "cancelled".into());
        }
        let admin = form.get("isAdmin").map(String::as_str) == Some("true");
        let now = jiff::Timestamp::now().as_second();
        let token = form.get("token").map(|t| t.trim()).unwrap_or_default();
        let user = self
            .store
            .load()
            .ok()
            .and_then(|st| st.user_for_token(token, now));
        let Some((name, user)) = user else {
            return (
                html(
                    401,
                    page::authorize(port, admin, state, Some("That token is not valid.")),
                ),
                String::new(),
            );
        };
        if admin && !user.admin {
            return (
                html(
                    403,
                    page::authorize(port, admin, state, Some("Your user has no admin access.")),
                ),
                name,
            );
        }
        match self
            .store
            .update(|st| st.issue_token(&name, Some(store::TEMP_TOKEN_SECS), now))
        {
            Ok(temp) => (redirect(&echo(Some(&temp))), name),
            Err(e) => {
                crate::output::server_log(format_args!("cannot issue a login token: {e:#}"));
                (
                    html(
                        500,
                        page::message("The portal could not complete the login"),
                    ),
                    name,
                )
            }
        }
    }

    fn api(&self, path: &str, bearer: Option<&str>) -> (Response, String) {
        let state = match self.store.load() {
            Ok(s) => s,
            Err(e) => {
                crate::output::server_log(format_args!("{e:#}"));
                return (
                    json_reply(500, json!("portal state unreadable")),
                    String::new(),
                );
            }
        };
        let now = jiff::Timestamp::now().as_second();
        let Some((name, user)) = bearer.and_then(|t| state.user_for_token(t, now)) else {
            return (json_reply(401, json!("Unauthorized")), String::new());
        };
        let may =
            |user: &User, tenant: &str| user.admin || user.tenants.iter().any(|t| t == tenant);
        let parts: Vec<&str> = path.split('/').collect();
        let reply = match parts.as_slice() {
            ["v3", "features", "system"] => json_reply(200, json!({ "IsOtpNeeded": false })),
            ["admin", "GetTenantsForUser"] => {
                let list: Vec<_> = state
                    .tenants
                    .iter()
                    .filter(|(n, _)| may(&user, n))
                    .map(|(n, t)| json!({ "TenantId": t.id, "AccountName": n, "PlanID": t.plan }))
                    .collect();
                json_reply(200, serde_json::Value::Array(list))
            }
            ["v3", "features", "tenant", id] => match state.tenant_by_id(id) {
                Some((n, _)) if may(&user, &n) => json_reply(200, json!({ "TenantName": n })),
                Some(_) => json_reply(403, json!("Forbidden")),
                None => json_reply(404, json!("tenant not found")),
            },
            [
                "v3",
                "admin",
                "aws",
                "jitAccess",
                kind @ ("admin" | "duplo-ops"),
            ] => {
                let role = if *kind == "admin" {
                    &state.admin_role_arn
                } else {
                    &state.ops_role_arn
                };
                match (user.admin, role) {
                    (false, _) => json_reply(403, json!("Forbidden")),
                    (true, None) => json_reply(404, json!(format!("no {kind} role configured"))),
                    (true, Some(role)) => {
                        let secs = clamp_session(state.admin_session_secs, store::MAX_SESSION_SECS);
                        self.vend(&name, role, secs)
                    }
                }
            }
            ["subscriptions", id, "GetAwsConsoleTokenUrl"] => match state.tenant_by_id(id) {
                Some((n, t)) if may(&user, &n) => self.vend(
                    &name,
                    &t.role_arn,
                    clamp_session(t.validity_secs, t.max_session_secs),
                ),
                Some(_) => json_reply(403, json!("Forbidden")),
                None => json_reply(404, json!("tenant not found")),
            },
            _ => json_reply(404, json!("not found")),
        };
        (reply, name)
    }

    fn vend(&self, user: &str, role_arn: &str, secs: i64) -> Response {
        let session = session_name(user);
        let creds = match sts::assume_role(
            &self.sts_endpoint,
            &self.region,
            &self.caller,
            role_arn,
            &session,
            secs,
        ) {
            Ok(c) => c,
            Err(e) => {
                crate::output::server_log(format_args!("{e:#}"));
                return json_reply(502, json!({ "Message": format!("{e:#}") }));
            }
        };
        let mut body = json!({
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "SessionToken": creds.session_token,
            "Region": self.region,
            "Validity": secs,
        });
        if let Some(exp) = &creds.expiration {
            body["Expiration"] = json!(exp);
        }
        let aws = crate::model::AwsCreds {
            console_url: String::new(),
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            region: self.region.clone(),
            session_token: creds.session_token,
            expiration: jiff::Timestamp::now(),
        };
        match crate::console::federation_url(&aws, None, "jit-portal", &self.signin_url, Some(secs))
        {
            Ok(url) => body["ConsoleUrl"] = json!(url),
            Err(e) => crate::output::server_log(format_args!("no ConsoleUrl: {}", anyhow!(e))),
        }
        json_reply(200, body)
    }
}

/// jit's login `state`, if it is one jit could have made (up to 128 of `[A-Za-z0-9_-]`): it is
/// put into the page and a URL, so nothing else passes.
fn login_state(q: &HashMap<String, String>) -> Option<&str> {
    q.get("state").map(String::as_str).filter(|s| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// STS RoleSessionName: 2-64 of `[\w+=,.@-]`.
fn session_name(user: &str) -> String {
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
    #[test]
    fn session_names_fit_sts() {
        assert_eq!(super::session_name("alice"), "alice");
        assert_eq!(super::session_name("a"), "a-");
        assert_eq!(super::session_name("bob smith/x"), "bob-smith-x");
        assert_eq!(super::session_name(&"x".repeat(80)).len(), 64);
    }
}
