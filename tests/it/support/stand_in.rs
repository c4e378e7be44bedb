//! `StandIn`: a loopback stand-in for the commercial portal (not jit's portal client, not the
//! self-hosted `jit portal`). It speaks docs/protocol.md §1 byte for byte, counts every request, and can
//! be told to misbehave. Every test that needs the commercial portal uses this one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{random_hex, register_secret};

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub admin: bool,
    pub tenants: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub plan: String,
    /// Role the stand-in assumes at STS for this tenant (account id decides moto's EC2 state).
    pub role_arn: String,
    pub validity: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct Issued {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

pub struct State {
    pub users: HashMap<String, User>,
    pub tenants: Vec<Tenant>,
    pub region: String,
    pub admin_validity: i64,
    /// `IsOtpNeeded` in the system features: admin calls then want an `Otpcode` header with a
    /// code the login page handed out for that token (`authorize_with_otp`), else answer 401.
    pub otp_needed: bool,
    /// (token, code) pairs the login page handed out.
    pub otp_codes: Vec<(String, String)>,
    /// Sent as ConsoleUrl; None leaves the field out.
    pub console_url: bool,
    /// Overrides Validity with a server Expiration.
    pub expiration: Option<String>,
    /// The access grant every vend rides on, as `jit portal` names it (docs/protocol.md §13:
    /// `JitGrant` with its id and end), the credentials cut to the grant's end as the portal cuts
    /// them. None: standing access, as the commercial portal always answers.
    pub grant: Option<(String, jiff::Timestamp)>,
    pub delay: Duration,
    /// Every API call answers with this status and body.
    pub fail: Option<(u16, String)>,
    /// Every credentials call answers 200 with this raw body.
    pub raw_body: Option<String>,
    /// Close the connection after half the body.
    pub cut_body: bool,
    /// Every API call answers 200 with this many bytes, streamed without a length.
    pub endless_body: Option<u64>,
    /// How many bytes of `endless_body` the client took before it hung up.
    pub streamed: Option<u64>,
    /// Moto endpoint for real AssumeRole; None mints synthetic keys.
    pub sts: Option<String>,
    /// The cluster the k8s endpoints describe: API server URL, base64 CA (none: insecure) and
    /// `LastTokenRefreshTime` (none: duplo-jit's 55 minutes).
    pub k8s_server: String,
    pub k8s_ca: Option<String>,
    pub k8s_refreshed: Option<String>,
    /// Every Kubernetes token handed out, in order.
    pub k8s_tokens: Vec<String>,
    pub requests: Vec<Recorded>,
    pub issued: Vec<Issued>,
    serial: u64,
}

pub struct StandIn {
    pub url: String,
    pub admin_token: String,
    pub user_token: String,
    pub tenant_id: String,
    /// The cookie its console sign-in URL (`/federation?Action=login`) sets, named for this
    /// stand-in alone, so a browser profile shows which sign-in it followed.
    pub signin_cookie: String,
    state: Arc<Mutex<State>>,
}

pub const REGION: &str = "us-west-2";

impl StandIn {
    #[track_caller]
    pub fn start() -> StandIn {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind portal stand-in");
        let port = server.server_addr().to_ip().expect("ip").port();
        let url = format!("http://127.0.0.1:{port}");
        let admin_token = format!("adm-{}", random_hex(24));
        let user_token = format!("usr-{}", random_hex(24));
        for t in [&admin_token, &user_token] {
            register_secret(t);
        }
        let tenant_id = random_hex(32);
        let signin_cookie = format!("signin-{}", random_hex(12));
        let other_id = random_hex(32);
        let mut users = HashMap::new();
        users.insert(
            admin_token.clone(),
            User {
                name: "root".into(),
                admin: true,
                tenants: vec![],
            },
        );
        users.insert(
            user_token.clone(),
            User {
                name: "alice".into(),
                admin: false,
                tenants: vec![tenant_id.clone()],
            },
        );
        let tenants = vec![
            Tenant {
                id: tenant_id.clone(),
                name: "dev01".into(),
                plan: "default".into(),
                role_arn: "arn:aws:iam::111111111111:role/duploservices-dev01".into(),
                validity: 3600,
            },
            Tenant {
                id: other_id,
                name: "prod01".into(),
                plan: "default".into(),
                role_arn: "arn:aws:iam::222222222222:role/duploservices-prod01".into(),
                validity: 3600,
            },
        ];
        let state = Arc::new(Mutex::new(State {
            users,
            tenants,
            region: REGION.into(),
            admin_validity: 3600,
            otp_needed: false,
            otp_codes: Vec::new(),
            console_url: true,
            expiration: None,
            grant: None,
            delay: Duration::ZERO,
            fail: None,
            raw_body: None,
            cut_body: false,
            endless_body: None,
            streamed: None,
            sts: None,
            k8s_server: "https://k8s.stand-in.invalid:6443".into(),
            k8s_ca: None,
            k8s_refreshed: None,
            k8s_tokens: Vec::new(),
            requests: Vec::new(),
            issued: Vec::new(),
            serial: 0,
        }));
        let shared = state.clone();
        let base = url.clone();
        let cookie = signin_cookie.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let shared = shared.clone();
                let base = base.clone();
                let cookie = cookie.clone();
                std::thread::spawn(move || handle(request, &shared, &base, &cookie));
            }
        });
        StandIn {
            url,
            admin_token,
            user_token,
            tenant_id,
            signin_cookie,
            state,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many requests hit paths containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path.contains(needle))
            .count()
    }

    /// AWS credential-vending calls only (not Kubernetes ones).
    pub fn cred_calls(&self) -> usize {
        self.count("aws/jitAccess") + self.count("GetAwsConsoleTokenUrl")
    }

    /// The access key of the newest credentials handed out.
    #[track_caller]
    pub fn last_key(&self) -> String {
        self.last_issued().access_key_id
    }

    #[track_caller]
    pub fn last_issued(&self) -> Issued {
        self.state()
            .issued
            .last()
            .cloned()
            .expect("no credentials issued yet")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The login page of an MFA portal, once its user has typed the one-time code: it mints a
    /// code for `token` and POSTs `{"token","otp"}` from the portal's origin to the
    /// `/v2/callbackWithOtp` of the listener `login` (the printed verify-token URL) names, as
    /// duplo-jit expects. Returns the code, registered as a secret.
    #[track_caller]
    pub fn authorize_with_otp(&self, login: &url::Url, token: &str) -> String {
        let port = login
            .query_pairs()
            .find(|(k, _)| k == "localPort")
            .map(|(_, v)| v.into_owned())
            .expect("localPort");
        let code = format!("otp-{}", random_hex(16));
        register_secret(&code);
        self.state()
            .otp_codes
            .push((token.to_string(), code.clone()));
        let resp = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/v2/callbackWithOtp"))
            .header("Origin", self.url.as_str())
            .body(serde_json::json!({ "token": token, "otp": code }).to_string())
            .send()
            .expect("callback");
        assert_eq!(resp.status(), 200, "the listener took the code");
        code
    }
}

fn json_response(status: u16, body: String) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
    resp.add_header(
        tiny_http::Header::from_bytes(
            &b"Content-Type"[..],
            &b"application/json; charset=utf-8"[..],
        )
        .expect("header"),
    );
    resp
}

fn handle(
    mut request: tiny_http::Request,
    shared: &Arc<Mutex<State>>,
    base: &str,
    signin_cookie: &str,
) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = path.trim_start_matches('/').to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let (delay, fail, cut, endless) = {
        let mut st = shared.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(Recorded {
            method: request.method().to_string(),
            path: path.clone(),
            headers: headers.clone(),
        });
        (st.delay, st.fail.clone(), st.cut_body, st.endless_body)
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    if path == "federation" {
        let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        // Following a sign-in URL signs the browser in: a persistent cookie of this stand-in's.
        if params.get("Action").map(String::as_str) == Some("login")
            && let Some(token) = params.get("SigninToken")
        {
            let mut resp = tiny_http::Response::from_string(
                "<!doctype html><title>Console</title><p>signed in</p>",
            );
            for (k, v) in [
                ("Content-Type", "text/html; charset=utf-8".to_string()),
                (
                    "Set-Cookie",
                    format!("{signin_cookie}={token}; Path=/; Max-Age=3600; HttpOnly"),
                ),
            ] {
                resp.add_header(
                    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("header"),
                );
            }
            let _ = request.respond(resp);
            return;
        }
        let ok = params.get("Action").map(String::as_str) == Some("getSigninToken")
            && params
                .get("Session")
                .is_some_and(|s| serde_json::from_str::<serde_json::Value>(s).is_ok());
        let (status, body) = if ok {
            let token = format!("signin-{}", random_hex(16));
            register_secret(&token);
            (200, serde_json::json!({ "SigninToken": token }).to_string())
        } else {
            (400, "bad federation request".to_string())
        };
        let _ = request.respond(json_response(status, body));
        return;
    }
    if let Some((status, body)) = fail {
        let _ = request.respond(json_response(status, body));
        return;
    }
    if let Some(len) = endless {
        let mut body = Endless { left: len, sent: 0 };
        let resp = tiny_http::Response::new(200.into(), vec![], &mut body, None, None);
        let _ = request.respond(resp);
        shared.lock().unwrap_or_else(|e| e.into_inner()).streamed = Some(body.sent);
        return;
    }
    let token = header("Authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_string));
    let content_type_ok =
        header("Content-Type").as_deref() == Some("application/json; charset=utf-8");
    let otpcode = header("Otpcode");
    let (user, otp_ok) = {
        let st = shared.lock().unwrap_or_else(|e| e.into_inner());
        let otp_ok = !st.otp_needed
            || st
                .otp_codes
                .iter()
                .any(|(t, c)| Some(t) == token.as_ref() && Some(c) == otpcode.as_ref());
        (token.and_then(|t| st.users.get(&t).cloned()), otp_ok)
    };
    let Some(user) = user else {
        let _ = request.respond(json_response(401, "\"Unauthorized\"".into()));
        return;
    };
    if !content_type_ok {
        let _ = request.respond(json_response(400, "\"bad content type\"".into()));
        return;
    }
    let _ = &mut request;
    let (status, body) = route(&path, &user, otp_ok, shared, base);
    if cut && status == 200 {
        // Promise a longer body than we send, then hang up.
        let bytes = body.into_bytes();
        let half = bytes.len() / 2;
        let resp = tiny_http::Response::new(
            tiny_http::StatusCode(200),
            vec![],
            std::io::Cursor::new(bytes[..half].to_vec()),
            Some(half * 2),
            None,
        );
        let _ = request.respond(resp);
        return;
    }
    let _ = request.respond(json_response(status, body));
}

/// A body made on the fly, so the stand-in can send more than it could hold.
struct Endless {
    left: u64,
    sent: u64,
}

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].fill(b'x');
        self.left -= n as u64;
        self.sent += n as u64;
        Ok(n)
    }
}

/// `otp_ok`: no code is needed, or the request carries one handed out for its token.
fn route(
    path: &str,
    user: &User,
    otp_ok: bool,
    shared: &Arc<Mutex<State>>,
    base: &str,
) -> (u16, String) {
    let parts: Vec<&str> = path.split('/').collect();
    let st = || shared.lock().unwrap_or_else(|e| e.into_inner());
    match parts.as_slice() {
        ["v3", "features", "system"] => (
            200,
            serde_json::json!({ "IsOtpNeeded": st().otp_needed, "AppName": "stand-in" })
                .to_string(),
        ),
        ["admin", "GetTenantsForUser"] => {
            let st = st();
            let list: Vec<_> = st
                .tenants
                .iter()
                .filter(|t| user.admin || user.tenants.contains(&t.id))
                .map(|t| serde_json::json!({ "TenantId": t.id, "AccountName": t.name, "PlanID": t.plan }))
                .collect();
            (200, serde_json::Value::Array(list).to_string())
        }
        ["v3", "features", "tenant", id] => {
            let known = st().tenants.iter().any(|t| t.id == *id);
            if known {
                (200, "{}".into())
            } else {
                (404, "\"tenant not found\"".into())
            }
        }
        [
            "v3",
            "admin",
            "aws",
            "jitAccess",
            kind @ ("admin" | "duplo-ops"),
        ] => {
            if !user.admin {
                return (403, "\"Forbidden\"".into());
            }
            if !otp_ok {
                return (401, "\"Unauthorized\"".into());
            }
            let validity = st().admin_validity;
            let role = format!("arn:aws:iam::333333333333:role/{kind}");
            vend(shared, user, &role, validity, base)
        }
        ["subscriptions", id, "GetAwsConsoleTokenUrl"] => {
            let tenant = st().tenants.iter().find(|t| t.id == *id).cloned();
            match tenant {
                None => (404, "\"tenant not found\"".into()),
                Some(t) if !user.admin && !user.tenants.contains(&t.id) => {
                    (403, "\"Forbidden\"".into())
                }
                Some(t) => vend(shared, user, &t.role_arn, t.validity, base),
            }
        }
        ["v3", "admin", "plans", plan, "k8sConfig"] => {
            if !user.admin {
                return (403, "\"Forbidden\"".into());
            }
            if !otp_ok {
                return (401, "\"Unauthorized\"".into());
            }
            k8s_config(shared, &format!("plan-{plan}"))
        }
        ["v3", "subscriptions", id, "k8s", "jitAccess"] => {
            let tenant = st().tenants.iter().find(|t| t.id == *id).cloned();
            match tenant {
                None => (404, "\"tenant not found\"".into()),
                Some(t) if !user.admin && !user.tenants.contains(&t.id) => {
                    (403, "\"Forbidden\"".into())
                }
                Some(t) => k8s_config(shared, &t.name),
            }
        }
        _ => (404, format!("\"no route {path}\"")),
    }
}

/// docs/protocol.md §9's cluster config, with a new token each time.
fn k8s_config(shared: &Arc<Mutex<State>>, name: &str) -> (u16, String) {
    let mut st = shared.lock().unwrap_or_else(|e| e.into_inner());
    st.serial += 1;
    let token = format!("k8s-{}-{}", st.serial, random_hex(32));
    register_secret(&token);
    st.k8s_tokens.push(token.clone());
    let body = serde_json::json!({
        "Name": name,
        "ApiServer": st.k8s_server,
        "Token": token,
        "K8Provider": 0,
        "AwsRegion": st.region,
        "K8sVersion": "1.30",
        "CertificateAuthorityDataBase64": st.k8s_ca,
        "LastTokenRefreshTime": st.k8s_refreshed,
    });
    (200, body.to_string())
}

fn vend(
    shared: &Arc<Mutex<State>>,
    user: &User,
    role_arn: &str,
    validity: i64,
    base: &str,
) -> (u16, String) {
    let (sts, raw, region, console, expiration, grant, serial) = {
        let mut st = shared.lock().unwrap_or_else(|e| e.into_inner());
        st.serial += 1;
        (
            st.sts.clone(),
            st.raw_body.clone(),
            st.region.clone(),
            st.console_url,
            st.expiration.clone(),
            st.grant.clone(),
            st.serial,
        )
    };
    if let Some(raw) = raw {
        return (200, raw);
    }
    let issued = match sts {
        Some(endpoint) => match assume_role(&endpoint, role_arn, &user.name, validity) {
            Ok(i) => i,
            Err(e) => return (500, serde_json::json!({ "Message": e }).to_string()),
        },
        None => Issued {
            access_key_id: format!("ASIA{:016X}", serial),
            secret_access_key: format!("sk-{}", random_hex(20)),
            session_token: format!("st-{}", random_hex(40)),
        },
    };
    for s in [&issued.secret_access_key, &issued.session_token] {
        register_secret(s);
    }
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .issued
        .push(issued.clone());
    let mut body = serde_json::json!({
        "AccessKeyId": issued.access_key_id,
        "SecretAccessKey": issued.secret_access_key,
        "SessionToken": issued.session_token,
        "Region": region,
        "Validity": validity,
    });
    if console {
        let signin = format!("console-{}", random_hex(12));
        register_secret(&signin);
        body["ConsoleUrl"] = serde_json::Value::String(format!(
            "{base}/federation?Action=login&Issuer=stand-in&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2F&SigninToken={signin}"
        ));
    }
    if let Some((id, end)) = grant {
        let left = end.as_second() - jiff::Timestamp::now().as_second();
        if validity >= left {
            body["Validity"] = left.into();
            body["Expiration"] = serde_json::Value::String(end.to_string());
        }
        body["JitGrant"] = serde_json::json!({ "Id": id, "End": end.to_string() });
    }
    if let Some(exp) = expiration {
        body["Expiration"] = serde_json::Value::String(exp);
    }
    (200, body.to_string())
}

/// A real STS AssumeRole against moto. Moto does not check signatures by default, so a
/// well-formed SigV4 header naming any key is enough.
fn assume_role(
    endpoint: &str,
    role_arn: &str,
    session: &str,
    duration: i64,
) -> Result<Issued, String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRole")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session)
        .append_pair("DurationSeconds", &duration.to_string())
        .finish();
    let resp = reqwest::blocking::Client::new()
        .post(endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAPORTALSTANDIN000/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    let text = resp.text().map_err(|e| e.to_string())?;
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    match (
        tag("AccessKeyId"),
        tag("SecretAccessKey"),
        tag("SessionToken"),
    ) {
        (Some(a), Some(s), Some(t)) => Ok(Issued {
            access_key_id: a,
            secret_access_key: s,
            session_token: t,
        }),
        _ => Err(format!("AssumeRole failed: {text}")),
    }
}
