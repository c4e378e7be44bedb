//! Portal tokens: given outright, or obtained by the browser login of docs/protocol.md §2, where the
//! portal page hands the token to a listener on loopback.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use jiff::Timestamp;
use jit_wire::api::PortalFeatures;
use jit_wire::login::{self, OtpCallback};
use jit_wire::paths;
use serde::{Deserialize, Serialize};

use crate::api::{Client, HttpError};
use crate::cache::{self, Cache};
use crate::host::Host;
use crate::http::{Reply, Request};
use crate::listener::Listener;
use crate::model::{Auth, Target, Token};
use crate::output;

const LOGIN_TIMEOUT: Duration = Duration::from_secs(180);
/// A waiter gives up this long after the holder's login must have timed out.
const WAIT_GRACE_SECS: i64 = 5;
/// Before it listens, a holder checks a cached token (20 s at most) and asks whether the portal
/// echoes `state` (5 s): how long a waiter allows a holder that has not said where its URL is.
const BEFORE_LISTENING_SECS: i64 = 30;
/// After a login, a credentials holder looks up a tenant and fetches: two 20 s portal calls.
const FETCH_SECS: i64 = 60;

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

/// The token cache file: duplo-jit's fields, plus whether the login was for admin access.
/// `jit portal` scopes a login token to what its user approved (docs/protocol.md §2), so a
/// token from a tenant login is no good for `--admin`, `--duplo-ops` or `--plan`; an admin
/// login's token serves every scope. duplo-jit keeps one token per host whatever it was asked
/// for; jit does too, and replaces a tenant login's token by an admin login's when it needs one.
#[derive(Serialize, Deserialize)]
pub(crate) struct CachedToken {
    #[serde(flatten)]
    entry: TokenEntry,
    /// Missing (an entry an older jit wrote) counts as a tenant login.
    #[serde(rename = "Admin", default)]
    admin: bool,
}

fn token_key(host: &Host) -> String {
    cache::key(&[host.key(), "duplo-creds"])
}

/// duplo-jit's words when the portal wants a one-time code and may not open the browser.
pub const MFA_REFUSED: &str = "server requires MFA but --interactive mode is disabled";

/// A portal client for `target`, logging in through the browser when that is the auth mode.
pub fn client(target: &Target, cache: Option<&Cache>) -> Result<Client> {
    Ok(session(target, cache)?.client)
}

/// A portal client from the token at hand (given, or cached by a browser login), or none: never
/// a login, never a one-time code. For background questions that may go unasked.
pub fn quiet_client(target: &Target) -> Option<Client> {
    let token = match &target.auth {
        Auth::Token(token) => token.clone(),
        Auth::Interactive { .. } => {
            let cache = Cache::existing().ok().flatten()?;
            let cached = cache.read::<CachedToken>(&token_key(&target.host))?;
            Token::new(&cached.entry.duplo_token).ok()?
        }
        Auth::Missing(_) => return None,
    };
    Client::new(&target.api_host, token, None).ok()
}

/// A portal client and what `jit duplo` prints about its token.
pub struct Session {
    pub client: Client,
    pub entry: TokenEntry,
    /// `entry.need_otp` is the portal's answer (`v3/features/system`) for this token.
    pub checked: bool,
}

/// The client plus what `jit duplo` prints about it. An admin scope on a portal that wants a
/// one-time code (docs/protocol.md §1) needs the browser login's code: a token alone is refused
/// with duplo-jit's message unless `--interactive` lets the browser ask for it.
pub fn session(target: &Target, cache: Option<&Cache>) -> Result<Session> {
    let admin = target.scope.needs_admin_login();
    match &target.auth {
        Auth::Token(token) => {
            let client = Client::new(&target.api_host, token.clone(), None)?;
            let entry = TokenEntry {
                version: 1,
                duplo_token: token.expose().into(),
                need_otp: false,
            };
            // Tenant access never needs the code; admin access asks first, as duplo-jit does.
            if !admin || !client.otp_needed()? {
                return Ok(Session {
                    client,
                    entry,
                    checked: admin,
                });
            }
            let Some(via) = target.otp_login else {
                bail!(MFA_REFUSED);
            };
            output::debug(|| "the portal wants a one-time code for admin access".into());
            // One browser login per host at a time; its token and code are this process's
            // alone: a given token is never cached, nor is the one the login hands back.
            let _lock = match cache {
                Some(c) => Some(wait_for_login(c, &target.host)?),
                None => None,
            };
            let echoes_state = portal_features(&target.host).login_state;
            let (token, otp) = browser_login(
                &target.host,
                true,
                via.port,
                via.browser,
                echoes_state,
                cache,
            )?;
            if otp.is_none() {
                bail!(
                    "the portal's login page handed back no one-time code, which this portal wants for admin access"
                );
            }
            let client = Client::new(&target.api_host, token.clone(), otp)?;
            let entry = TokenEntry {
                version: 1,
                duplo_token: token.expose().into(),
                need_otp: true,
            };
            Ok(Session {
                client,
                entry,
                checked: false,
            })
        }
        Auth::Missing(why) => Err(crate::model::UsageError(why.clone()).into()),
        Auth::Interactive {
            port,
            browser,
            device,
        } => {
            let key = token_key(&target.host);
            let cached = |cache: &Cache| -> Result<Option<Session>> {
                let Some(CachedToken {
                    entry,
                    admin: admin_login,
                }) = cache.read::<CachedToken>(&key)
                else {
                    return Ok(None);
                };
                if admin && (entry.need_otp || !admin_login) {
                    return Ok(None);
                }
                let Ok(token) = Token::new(&entry.duplo_token) else {
                    return Ok(None);
                };
                let client = Client::new(&target.api_host, token, None)?;
                match client.otp_needed() {
                    Ok(need_otp) if !(admin && need_otp) => Ok(Some(Session {
                        client,
                        entry: TokenEntry { need_otp, ..entry },
                        checked: true,
                    })),
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
                Some(c) => Some(wait_for_login(c, &target.host)?),
                None => None,
            };
            if let Some(cache) = cache
                && let Some(found) = cached(cache)?
            {
                return Ok(found);
            }
            let how = How {
                port: *port,
                browser: *browser,
                device: *device,
            };
            let (client, entry) = fresh_login(target, admin, how, cache)?;
            Ok(Session {
                client,
                entry,
                checked: false,
            })
        }
    }
}

/// How an interactive login goes: `Auth::Interactive`'s fields.
#[derive(Clone, Copy)]
struct How {
    port: Option<u16>,
    browser: bool,
    device: bool,
}

/// `jit login`: a new interactive login for `target`, whatever is cached, which then replaces
/// the cached token. A target with a token of its own has nothing to log in to.
pub fn login(target: &Target, cache: Option<&Cache>) -> Result<TokenEntry> {
    let Auth::Interactive {
        port,
        browser,
        device,
    } = &target.auth
    else {
        return Err(crate::model::UsageError(
            "this environment uses a token, not a login (drop --token/--token-file/token_env)"
                .into(),
        )
        .into());
    };
    let _lock = match cache {
        Some(c) => Some(wait_for_login(c, &target.host)?),
        None => None,
    };
    let how = How {
        port: *port,
        browser: *browser,
        device: *device,
    };
    Ok(fresh_login(target, target.scope.needs_admin_login(), how, cache)?.1)
}

/// Log in (through a browser and the loopback listener, or on another device) and cache the
/// token under the host's entry, with its admin flag.
fn fresh_login(
    target: &Target,
    admin: bool,
    how: How,
    cache: Option<&Cache>,
) -> Result<(Client, TokenEntry)> {
    let features = portal_features(&target.host);
    let on_device = how.device || crate::device::no_browser_here();
    let (token, otp) = if on_device && features.device_login {
        crate::device::login(&target.host, admin)?
    } else {
        if on_device {
            let why = if how.device {
                "--device was asked for"
            } else {
                "no browser can be opened here (SSH_CONNECTION without DISPLAY or BROWSER)"
            };
            output::warn(format_args!(
                "{why}, but the portal at {} does not offer device login; using the browser login",
                target.host
            ));
        }
        browser_login(
            &target.host,
            admin,
            how.port,
            how.browser,
            features.login_state,
            cache,
        )?
    };
    let client = Client::new(&target.api_host, token.clone(), otp.clone())?;
    let entry = TokenEntry {
        version: 1,
        duplo_token: token.expose().into(),
        need_otp: otp.is_some(),
    };
    let cached = CachedToken { entry, admin };
    if let Some(cache) = cache
        && let Err(e) = cache.write(&token_key(&target.host), &cached)
    {
        output::warn(format_args!("{e:#}; portal token not cached"));
    }
    Ok((client, cached.entry))
}

fn verify_url(host: &Host, port: u16, admin: bool, extra: &[(&str, &str)]) -> String {
    login::page_url(host.as_str(), port, admin, extra)
}

/// `JIT_LOGIN_TIMEOUT` seconds (1 to a day), else 180.
fn login_timeout() -> Duration {
    std::env::var("JIT_LOGIN_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(LOGIN_TIMEOUT, |s| Duration::from_secs(s.min(86_400)))
}

/// Who holds a host's login lock and where its URL is, for the callers waiting on it. Written
/// beside the lock (0600, like every cache file) once the listener is up; removed when done.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Holder {
    pid: u32,
    url: String,
    /// Unix seconds when its login times out.
    deadline: i64,
}

fn lock_key(host: &Host) -> String {
    cache::key(&[host.key(), "login"])
}

fn holder_key(host: &Host) -> String {
    cache::key(&[host.key(), "login", "holder"])
}

/// Removes the holder file when the login ends, however it ends.
struct Announced<'a> {
    cache: &'a Cache,
    key: String,
}

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        self.cache.remove(&self.key);
    }
}

/// Which lock a caller waits on, and so how long its holder may rightly keep it.
#[derive(Clone, Copy, PartialEq)]
enum Waiting {
    /// The host's login lock: its holder checks a token, then runs one browser login.
    Login,
    /// A credentials entry's lock: its holder may first wait on, or run, a login, then fetch.
    Fetch,
}

/// Take a lock another process may hold for a browser login of `host`. While waiting, say whose
/// login it is and where its URL is (from the holder file), and give up once that login must be
/// over: a stopped or hung holder must not keep every other caller waiting in silence.
fn wait_lock(cache: &Cache, key: &str, host: &Host, waiting: Waiting) -> Result<cache::Lock> {
    let since = Timestamp::now().as_second();
    let timeout = login_timeout().as_secs() as i64;
    let fetch = if waiting == Waiting::Fetch {
        FETCH_SECS
    } else {
        0
    };
    let mut told = String::new();
    loop {
        if let Some(lock) = cache.try_lock(key)? {
            return Ok(lock);
        }
        // What to tell the user, and when the holder must be done.
        let holder = running_login(cache, host, waiting);
        let named = holder.is_some();
        let (what, give_up) = match holder {
            Some(h) => (
                format!(
                    "the browser login of jit process {} (its URL: {})",
                    h.pid, h.url
                ),
                h.deadline + WAIT_GRACE_SECS + fetch,
            ),
            None if waiting == Waiting::Login => (
                "another jit process's browser login".to_string(),
                since + BEFORE_LISTENING_SECS + timeout,
            ),
            None => (
                "another jit process fetching the same credentials".to_string(),
                since + 2 * (BEFORE_LISTENING_SECS + timeout) + fetch,
            ),
        };
        let now = Timestamp::now().as_second();
        if now > give_up {
            let why = format!("gave up after {} s waiting for {what}", now - since);
            return Err(GaveUp(why).into());
        }
        // Name a login as soon as its holder does; a fetch alone is nothing the user can act on,
        // and once a login was named, its end needs no line of its own.
        if what != told && (named || (waiting == Waiting::Login && told.is_empty())) {
            output::prompt(format_args!("waiting for {what}"));
            told = what;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The browser login running for `host`, from its holder file. A file whose login lock is free
/// was left by a holder that died: it is removed, not believed.
fn running_login(cache: &Cache, host: &Host, waiting: Waiting) -> Option<Holder> {
    let holder = cache.read::<Holder>(&holder_key(host))?;
    // Waiting on the login lock itself, we already know it is taken.
    if waiting == Waiting::Fetch
        && let Ok(Some(_free)) = cache.try_lock(&lock_key(host))
    {
        cache.remove(&holder_key(host));
        return None;
    }
    Some(holder)
}

/// Waiting on a lock took longer than its holder could rightly keep it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GaveUp(String);

fn wait_for_login(cache: &Cache, host: &Host) -> Result<cache::Lock> {
    let lock = wait_lock(cache, &lock_key(host), host, Waiting::Login)?;
    // Whatever a crashed holder left is stale now.
    cache.remove(&holder_key(host));
    Ok(lock)
}

/// The lock on a credentials entry of `target`'s host, for `creds`: like `Cache::lock`, but it
/// names the browser login it waits for and gives up on a stuck holder. None when the lock
/// file cannot be used (warned): the caller fetches without it.
pub fn lock_for_fetch(cache: &Cache, key: &str, target: &Target) -> Result<Option<cache::Lock>> {
    match wait_lock(cache, key, &target.host, Waiting::Fetch) {
        Ok(lock) => Ok(Some(lock)),
        Err(e) if e.is::<GaveUp>() => Err(e),
        Err(e) => {
            output::warn(format_args!("{e:#}; fetching without the lock"));
            Ok(None)
        }
    }
}

/// What the portal promises: the self-hosted `jit portal` says at
/// `<host>/.well-known/jit-portal` whether its login page hands back the `state` jit sends
/// (`loginState`) and whether it offers the device login (`deviceLogin`). A portal that says
/// nothing (the commercial one) is asked for neither, so its logins keep working.
/// Bounded: 5 s, 4 KiB, no redirects, no token sent.
fn portal_features(host: &Host) -> PortalFeatures {
    let url = format!("{host}{}", paths::PORTAL_FEATURES);
    let asked = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .and_then(|c| c.get(&url).send());
    let mut body = Vec::new();
    let features = match asked {
        Ok(resp) if resp.status().is_success() => resp
            .take(4096)
            .read_to_end(&mut body)
            .ok()
            .and_then(|_| serde_json::from_slice::<PortalFeatures>(&body).ok())
            .unwrap_or_default(),
        Ok(_) => PortalFeatures::default(),
        Err(e) => {
            output::debug(|| format!("GET {url}: {}", e.without_url()));
            PortalFeatures::default()
        }
    };
    output::debug(|| format!("portal promises {features:?}"));
    features
}

enum Outcome {
    Token(Token, Option<String>),
    Cancel,
}

/// Run the loopback listener until the portal page hands over a token, the user cancels, or
/// the login times out (180 s). `announce` is the cache to tell waiting processes through.
fn browser_login(
    host: &Host,
    admin: bool,
    port: Option<u16>,
    browser: bool,
    echoes_state: bool,
    announce: Option<&Cache>,
) -> Result<(Token, Option<String>)> {
    let state = if echoes_state {
        Some(crate::model::random_hex(16)?)
    } else {
        None
    };
    let listener = Listener::bind(port.unwrap_or(0))?;
    let port = listener.port();
    let mut extra = vec![(login::param::REDIRECT, "true")];
    if let Some(state) = &state {
        extra.push((login::param::STATE, state));
    }
    let url = verify_url(host, port, admin, &extra);
    let timeout = login_timeout();
    let _announced = match announce {
        Some(cache) => {
            let holder = Holder {
                pid: std::process::id(),
                url: url.clone(),
                deadline: Timestamp::now().as_second() + timeout.as_secs() as i64,
            };
            let key = holder_key(host);
            if let Err(e) = cache.write(&key, &holder) {
                output::debug(|| format!("cannot tell other processes about this login: {e:#}"));
            }
            Some(Announced { cache, key })
        }
        None => None,
    };
    if browser && open::that_detached(&url).is_ok() {
        output::prompt(format_args!(
            "opened {url} in your browser; waiting for you to authorize"
        ));
    } else {
        output::prompt(format_args!("open this URL in a browser to log in: {url}"));
    }
    let callback = Callback {
        host: host.clone(),
        port,
        admin,
        state,
        warned: AtomicBool::new(false),
    };
    match listener.serve(Instant::now() + timeout, move |req| callback.handle(req))? {
        Some(Outcome::Token(token, otp)) => Ok((token, otp)),
        Some(Outcome::Cancel) => bail!("login cancelled in the browser"),
        None => bail!("browser login timed out after {} s", timeout.as_secs()),
    }
}

/// What the listener accepts. Only the portal's page may complete or cancel a login: a
/// top-level navigation (or redirect) to the callback, or a POST carrying the portal's Origin.
/// Whatever a browser marks as coming from another site or as a subresource is refused without
/// ending the login, so a web page open during the login can neither log jit in with its own
/// token nor cancel it; and when the portal echoes `state`, every callback must carry it.
struct Callback {
    host: Host,
    port: u16,
    admin: bool,
    state: Option<String>,
    warned: AtomicBool,
}

impl Callback {
    fn reply(&self, status: u16, content_type: &'static str, body: &str) -> Reply {
        Reply {
            status,
            content_type,
            body: body.to_string(),
            headers: vec![
                // The origin a browser sends for the host's page (the host itself for any
                // host without a path, as duplo-jit answers), so that page can read the answer.
                ("Access-Control-Allow-Origin", self.host.origin()),
                (
                    "Access-Control-Allow-Headers",
                    "X-Requested-With, Accept, Content-Type".to_string(),
                ),
            ],
        }
    }

    /// duplo-jit's replies to a POST: a JSON string, then a newline.
    fn json(&self, status: u16, word: &str) -> Reply {
        self.reply(status, "application/json", &format!("\"{word}\"\n"))
    }

    fn handle(&self, req: &Request) -> (Reply, Option<Outcome>) {
        const TEXT: &str = "text/plain; charset=utf-8";
        let otp_route = req.path == login::CALLBACK_WITH_OTP;
        if req.path != login::CALLBACK && !otp_route {
            return (self.reply(404, TEXT, "not found"), None);
        }
        if req.method == "OPTIONS" {
            return (self.reply(204, TEXT, ""), None);
        }
        if let Err(why) = self.check_sender(req) {
            if self.warned.swap(true, Ordering::SeqCst) {
                output::debug(|| format!("ignored a login callback ({why})"));
            } else {
                output::warn(format_args!(
                    "ignored a request to the login listener that did not come from the portal's page ({why}); still waiting"
                ));
            }
            return (self.json(403, "failed"), None);
        }
        match req.method.as_str() {
            "GET" => {
                let t = req.param(login::param::TOKEN).unwrap_or_default();
                match parse_token(&t, otp_route) {
                    Some((token, otp)) => {
                        let mut reply = self.reply(302, TEXT, "");
                        let done = verify_url(
                            &self.host,
                            self.port,
                            self.admin,
                            &[(login::param::SUCCESS, "true")],
                        );
                        reply.headers.push(("Location", done));
                        (reply, Some(Outcome::Token(token, otp)))
                    }
                    None => (self.reply(200, TEXT, "cancelled"), Some(Outcome::Cancel)),
                }
            }
            "POST" => {
                let body = std::str::from_utf8(&req.body).ok();
                match body.and_then(|b| parse_token(b, otp_route)) {
                    Some((token, otp)) => {
                        (self.json(200, "done"), Some(Outcome::Token(token, otp)))
                    }
                    None => (self.json(500, "failed"), None),
                }
            }
            _ => (self.json(405, "failed"), None),
        }
    }

    /// Err(why) when a browser marked the request as not the portal page's own doing.
    fn check_sender(&self, req: &Request) -> Result<(), String> {
        let host = req.header("Host");
        // A DNS-rebound name reaches us with its own Host.
        if host != Some(&format!("127.0.0.1:{}", self.port))
            && host != Some(&format!("localhost:{}", self.port))
        {
            return Err(format!("Host {}", shown(host)));
        }
        let portal = self.host.origin();
        let is_portal = |o: &str| o == portal || o == self.host.as_str();
        let origin = req.header("Origin");
        match (req.method.as_str(), origin) {
            (_, Some(o)) if is_portal(o) => {}
            ("POST", _) | (_, Some(_)) => return Err(format!("Origin {}", shown(origin))),
            _ => {
                let mode = req.header("Sec-Fetch-Mode");
                if mode.is_some_and(|m| m != "navigate") {
                    return Err(format!("Sec-Fetch-Mode {}", shown(mode)));
                }
                let dest = req.header("Sec-Fetch-Dest");
                if dest.is_some_and(|d| d != "document") {
                    return Err(format!("Sec-Fetch-Dest {}", shown(dest)));
                }
                let referer = req.header("Referer");
                let referer_origin = referer
                    .and_then(|r| url::Url::parse(r).ok())
                    .map(|u| u.origin().ascii_serialization());
                if referer.is_some() && !referer_origin.as_deref().is_some_and(is_portal) {
                    return Err(format!(
                        "Referer {}",
                        shown(referer_origin.as_deref().or(referer))
                    ));
                }
            }
        }
        if let Some(state) = &self.state
            && req.param(login::param::STATE).as_deref() != Some(state)
        {
            return Err("no or wrong state".into());
        }
        Ok(())
    }
}

/// A header value fit for one line of stderr: control characters out, at most 80 characters.
fn shown(value: Option<&str>) -> String {
    match value {
        None => "missing".into(),
        Some(v) => {
            let mut out: String = v
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .take(80)
                .collect();
            if v.chars().count() > 80 {
                out.push_str("...");
            }
            out
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
    fn answers_let_the_hosts_page_read_them() {
        let callback = |host: &str| Callback {
            host: Host::parse(host).expect("host"),
            port: 4242,
            admin: false,
            state: None,
            warned: AtomicBool::new(false),
        };
        let allowed = |host: &str| {
            let reply = callback(host).json(200, "done");
            reply
                .headers
                .into_iter()
                .find(|(k, _)| *k == "Access-Control-Allow-Origin")
                .map(|(_, v)| v)
        };
        assert_eq!(
            allowed("https://p.example.com/").as_deref(),
            Some("https://p.example.com")
        );
        assert_eq!(
            allowed("https://P.example.com:443/portal").as_deref(),
            Some("https://p.example.com")
        );
        assert_eq!(
            allowed("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn verify_url_shape() {
        let host = Host::parse("https://p.example.com/").expect("host");
        assert_eq!(
            verify_url(&host, 4242, true, &[("redirect", "true")]),
            "https://p.example.com/app/user/verify-token?localAppName=duplo-jit&localPort=4242&isAdmin=true&redirect=true"
        );
    }
}
