//! Portal tokens: given outright, or obtained by the browser login of docs/protocol.md §2, where the
//! portal page hands the token to a listener on loopback.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::api::{Client, HttpError};
use crate::cache::{self, Cache};
use crate::host::Host;
use crate::model::{Auth, Target, Token};
use crate::output;

const LOGIN_TIMEOUT: Duration = Duration::from_secs(180);
const APP_NAME: &str = "duplo-jit";

/// The token cache entry; same fields duplo-jit keeps in `<host>,duplo-creds.json`.
#[derive(Serialize, Deserialize)]
pub struct TokenEntry {
    #[serde(rename = "Version")]
    pub version: u8,
    #[serde(rename = "DuploToken")]
    pub duplo_token: String,
    #[serde(rename = "NeedOTP")]
    pub need_otp: bool,
}

fn token_key(host: &Host) -> String {
    cache::key(&[host.key(), "duplo-creds"])
}

/// A portal client for `target`, logging in through the browser when that is the auth mode.
pub fn client(target: &Target, cache: Option<&Cache>) -> Result<Client> {
    Ok(session(target, cache)?.0)
}

/// The client plus what `jit duplo` prints about it.
pub fn session(target: &Target, cache: Option<&Cache>) -> Result<(Client, TokenEntry)> {
    let admin = target.scope.needs_admin_login();
    match &target.auth {
        Auth::Token(token) => {
            let client = Client::new(&target.api_host, token.clone(), None)?;
            let entry = TokenEntry {
                version: 1,
                duplo_token: token.expose().into(),
                need_otp: false,
            };
            Ok((client, entry))
        }
        Auth::Missing(why) => Err(crate::model::UsageError(why.clone()).into()),
        Auth::Interactive { port, browser } => {
            let key = token_key(&target.host);
            let cached = |cache: &Cache| -> Result<Option<(Client, TokenEntry)>> {
                let Some(entry) = cache.read::<TokenEntry>(&key) else {
                    return Ok(None);
                };
                if admin && entry.need_otp {
                    return Ok(None);
                }
                let Ok(token) = Token::new(&entry.duplo_token) else {
                    return Ok(None);
                };
                let client = Client::new(&target.api_host, token, None)?;
                match client.otp_needed() {
                    Ok(need_otp) if !(admin && need_otp) => {
                        Ok(Some((client, TokenEntry { need_otp, ..entry })))
                    }
                    Ok(_) => Ok(None),
                    Err(e) if HttpError::is_auth(&e) => {
                        output::debug(|| "cached portal token expired".into());
                        cache.remove(&key);
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            };
            if let Some(cache) = cache
                && let Some(found) = cached(cache)?
            {
                return Ok(found);
            }
            // One browser login per host across processes; whoever waited reuses its token.
            let _lock = match cache {
                Some(c) => Some(c.lock(&cache::key(&[target.host.key(), "login"]))?),
                None => None,
            };
            if let Some(cache) = cache
                && let Some(found) = cached(cache)?
            {
                return Ok(found);
            }
            let (token, otp) = browser_login(&target.host, admin, *port, *browser)?;
            let client = Client::new(&target.api_host, token.clone(), otp.clone())?;
            let entry = TokenEntry {
                version: 1,
                duplo_token: token.expose().into(),
                need_otp: otp.is_some(),
            };
            if let Some(cache) = cache
                && let Err(e) = cache.write(&key, &entry)
            {
                output::warn(format_args!("{e:#}; portal token not cached"));
            }
            Ok((client, entry))
        }
    }
}

fn verify_url(host: &Host, port: u16, admin: bool, extra: &str) -> String {
    let admin = if admin { "&isAdmin=true" } else { "" };
    format!("{host}/app/user/verify-token?localAppName={APP_NAME}&localPort={port}{admin}{extra}")
}

#[derive(Deserialize)]
struct OtpCallback {
    token: String,
    #[serde(default)]
    otp: Option<String>,
}

enum Outcome {
    Token(Token, Option<String>),
    Cancel,
    Continue,
}

/// Run the loopback listener until the portal page hands over a token, the user cancels, or
/// 180 s pass.
pub fn browser_login(
    host: &Host,
    admin: bool,
    port: Option<u16>,
    browser: bool,
) -> Result<(Token, Option<String>)> {
    let server = tiny_http::Server::http(("127.0.0.1", port.unwrap_or(0)))
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{}: {e}", port.unwrap_or(0)))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .context("login listener has no port")?;
    let url = verify_url(host, port, admin, "&redirect=true");
    if browser && open::that_detached(&url).is_ok() {
        crate::output::status(format_args!(
            "opened {url} in your browser; waiting for you to authorize"
        ));
    } else {
        crate::output::status(format_args!("open this URL in a browser to log in: {url}"));
    }
    let deadline = Instant::now() + LOGIN_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "browser login timed out after {} s",
                LOGIN_TIMEOUT.as_secs()
            );
        }
        let Some(request) = server.recv_timeout(left).context("login listener failed")? else {
            continue;
        };
        match handle(request, host, port, admin) {
            Outcome::Token(token, otp) => return Ok((token, otp)),
            Outcome::Cancel => bail!("login cancelled in the browser"),
            Outcome::Continue => {}
        }
    }
}

fn respond(
    request: tiny_http::Request,
    host: &Host,
    status: u16,
    body: &str,
    location: Option<&str>,
) {
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok();
    let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
    for h in [
        header("Access-Control-Allow-Origin", host.as_str()),
        header(
            "Access-Control-Allow-Headers",
            "X-Requested-With, Accept, Content-Type",
        ),
        header("Content-Type", "text/plain; charset=utf-8"),
        location.and_then(|l| header("Location", l)),
    ]
    .into_iter()
    .flatten()
    {
        resp.add_header(h);
    }
    let _ = request.respond(resp);
}

fn handle(mut request: tiny_http::Request, host: &Host, port: u16, admin: bool) -> Outcome {
    let (path, query) = match request.url().split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (request.url().to_string(), String::new()),
    };
    let otp_route = path == "/v2/callbackWithOtp";
    if path != "/" && !otp_route {
        respond(request, host, 404, "not found", None);
        return Outcome::Continue;
    }
    match request.method() {
        tiny_http::Method::Options => {
            respond(request, host, 204, "", None);
            Outcome::Continue
        }
        tiny_http::Method::Get => {
            let t = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "t")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match parse_token(&t, otp_route) {
                Some((token, otp)) => {
                    let done = verify_url(host, port, admin, "&success=true");
                    respond(request, host, 302, "", Some(&done));
                    Outcome::Token(token, otp)
                }
                None => {
                    respond(request, host, 200, "cancelled", None);
                    Outcome::Cancel
                }
            }
        }
        tiny_http::Method::Post => {
            let origin = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Origin"))
                .map(|h| h.value.as_str().to_string());
            if origin.as_deref() != Some(host.origin().as_str())
                && origin.as_deref() != Some(host.as_str())
            {
                respond(request, host, 403, "failed", None);
                return Outcome::Continue;
            }
            let mut body = String::new();
            let mut limited = std::io::Read::take(request.as_reader(), 64 * 1024);
            let read = std::io::Read::read_to_string(&mut limited, &mut body);
            match read.ok().and_then(|_| parse_token(&body, otp_route)) {
                Some((token, otp)) => {
                    respond(request, host, 200, "done", None);
                    Outcome::Token(token, otp)
                }
                None => {
                    respond(request, host, 500, "failed", None);
                    Outcome::Continue
                }
            }
        }
        _ => {
            respond(request, host, 405, "failed", None);
            Outcome::Continue
        }
    }
}

/// `/` carries the bare token; `/v2/callbackWithOtp` carries `{"token":..,"otp":..}`.
pub(crate) fn parse_token(raw: &str, with_otp: bool) -> Option<(Token, Option<String>)> {
    if with_otp {
        let cb: OtpCallback = serde_json::from_str(raw.trim()).ok()?;
        let otp = cb.otp.filter(|o| !o.is_empty());
        Some((Token::new(&cb.token).ok()?, otp))
    } else {
        Some((Token::new(raw).ok()?, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_payloads() {
        let (t, otp) = parse_token("abc", false).expect("plain");
        assert_eq!((t.expose(), otp), ("abc", None));
        let (t, otp) = parse_token(r#"{"token":"abc","otp":"123456"}"#, true).expect("otp");
        assert_eq!((t.expose(), otp.as_deref()), ("abc", Some("123456")));
        assert!(parse_token("", false).is_none());
        assert!(parse_token("", true).is_none());
        assert!(parse_token("abc", true).is_none());
    }

    #[test]
    fn verify_url_shape() {
        let host = Host::parse("https://p.example.com/").expect("host");
        assert_eq!(
            verify_url(&host, 4242, true, "&redirect=true"),
            "https://p.example.com/app/user/verify-token?localAppName=duplo-jit&localPort=4242&isAdmin=true&redirect=true"
        );
    }
}
