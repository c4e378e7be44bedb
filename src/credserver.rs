//! `jit exec --server`: the AWS container-credentials endpoint on loopback (docs/protocol.md §10).
//! The SDKs in the child ask it for credentials whenever theirs near expiry, so a run outlives
//! any one session; static keys in the environment would die with the session.
//!
//! Requests are answered from memory, never blocked on the portal: a refresher thread keeps the
//! credentials current through the same locked cache and single-flight fetch as `jit aws`, and
//! while the portal is down it keeps serving what it has until that expires.
//!
//! Credentials vended under an access grant (docs/protocol.md §13) are served only while the
//! grant stands. The refresher asks the portal for the live grants (a read, no STS) every
//! `GRANT_CHECK_PERIOD`, and sooner when a request comes in (at most every `GRANT_ASK_GAP`):
//! once the grant is revoked or over, the keys are dropped here and from the cache, and every
//! request gets the portal's own refusal, which names the grant, until a new grant or standing
//! access brings new ones.
//!
//! The HTTP is the shared core's (`http`): one GET with one header matters, so the head alone is
//! read, bounded in size and time (`LIMITS`, `IO_DEADLINE`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jiff::{SignedDuration, Timestamp};

use crate::http::{self, Connections, Limits, Reply, Request, Unread};
use crate::model::{AwsCreds, CacheMode, Target, VendGrant, rfc3339};
use crate::{creds, output};

/// The one path served; anything else is 404 (after the token check).
pub const PATH: &str = "/credentials";
/// A request head larger than this is refused with 431: an SDK sends a few hundred bytes.
/// Bodies are never read: only GET is served.
const LIMITS: Limits = Limits {
    max_head: 8 * 1024,
    max_headers: 32,
    max_body: None,
};
/// A client gets this long to send its request head, and its reply must be taken in this long.
const IO_DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed unanswered (50 SDKs refreshing together fit).
const MAX_CONNECTIONS: usize = 256;
/// How long a request for expired credentials waits for the refresher before it gets a 503.
const EXPIRED_WAIT: Duration = Duration::from_secs(3);
/// With no request coming in, whether the grant behind the credentials stands is asked this
/// often (and this is how often a server whose grant is over asks for new credentials).
const GRANT_CHECK_PERIOD: Duration = Duration::from_secs(30);
/// A request makes the refresher ask at once, unless it asked less than this long ago: an SDK
/// in a busy loop costs the portal one read per gap at most.
const GRANT_ASK_GAP: Duration = Duration::from_secs(5);

/// Variables that must not reach the child: static keys win over the endpoint in every SDK,
/// and expiry times of one session say nothing about credentials that keep being renewed.
pub const WITHHELD: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_SESSION_EXPIRATION",
    "JIT_EXPIRES",
    crate::envvars::GRANT_END,
    // Newer SDKs prefer a token file to the token we set.
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// Profile settings that give the `[default]` profile credentials of its own.
const PROFILE_CREDENTIALS: &[&str] = &[
    "aws_access_key_id",
    "credential_process",
    "role_arn",
    "credential_source",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
    "login_session",
];

/// With no AWS_PROFILE (jit clears it) every SDK asks the `[default]` profile before a
/// credentials endpoint, so one with credentials would quietly win over ours: refuse to start
/// rather than run the command with some other account's keys.
pub fn check_default_profile(env_name: &str) -> Result<()> {
    let home = dirs::home_dir();
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let files = [
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ),
        ("AWS_CONFIG_FILE", file("AWS_CONFIG_FILE", "config")),
    ];
    for (var, path) in files {
        let Some(text) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else {
            continue;
        };
        let Some(profile) = crate::config::aws_profile(&text, "default") else {
            continue;
        };
        if let Some(key) = PROFILE_CREDENTIALS
            .iter()
            .find(|k| profile.contains_key(**k))
        {
            bail!(
                "the [default] profile in {} sets {key}, and AWS SDKs take it before jit's credentials endpoint: the command would not run with '{env_name}' credentials; run without --server, or hide the file from it ({var}=/dev/null)",
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub struct Server {
    addr: SocketAddr,
    token: String,
}

struct Shared {
    target: Target,
    mode: CacheMode,
    token: String,
    state: Mutex<State>,
    /// Refresher and waiting requests signal each other through this.
    changed: Condvar,
}

enum Said {
    Warn(String),
    Status(String),
}

struct State {
    creds: AwsCreds,
    /// When these credentials reached us (their lifetime, for `--no-cache` runs).
    since: Timestamp,
    /// The last refresh error, shown once and returned to requests that find nothing valid.
    error: Option<String>,
    /// Cached credentials stand in for fresh ones: said once per outage.
    stale: bool,
    /// A request found the credentials expired and is waiting for a refresh.
    nudged: bool,
    /// When the portal last said the credentials' grant stands (or the grant came).
    grant_checked: Instant,
    /// A request asks whether the grant still stands.
    grant_nudged: bool,
    /// The credentials' grant is over and no new ones came.
    withdrawn: Option<Withdrawn>,
}

/// A grant found over, and what requests get instead of keys until new ones come.
struct Withdrawn {
    /// The grant, whose keys are never served again.
    grant: String,
    /// The portal's refusal (or, while it is asked, that it is being asked).
    why: String,
}

impl Server {
    /// Listen on 127.0.0.1 (a random port) and serve `creds`, already fetched so the child
    /// starts with valid credentials, then keep them fresh for `target`.
    pub fn start(target: Target, mode: CacheMode, creds: AwsCreds) -> Result<Server> {
        let first_grant = creds.grant.clone();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .context("cannot listen on 127.0.0.1 for the credentials server")?;
        let addr = listener.local_addr()?;
        let token = random_token()?;
        let shared = Arc::new(Shared {
            target,
            // `--refresh` was for the first fetch; later ones refresh only when due.
            mode: if mode == CacheMode::Bypass {
                CacheMode::Bypass
            } else {
                CacheMode::Use
            },
            token: token.clone(),
            state: Mutex::new(State {
                creds,
                since: Timestamp::now(),
                error: None,
                stale: false,
                nudged: false,
                grant_checked: Instant::now(),
                grant_nudged: false,
                withdrawn: None,
            }),
            changed: Condvar::new(),
        });
        let refresher = shared.clone();
        std::thread::Builder::new()
            .name("jit-refresh".into())
            .spawn(move || refresher.refresh_forever())
            .context("cannot start the credentials refresher")?;
        let acceptor = shared;
        std::thread::Builder::new()
            .name("jit-listen".into())
            .spawn(move || acceptor.accept_forever(&listener))
            .context("cannot start the credentials server")?;
        output::debug(|| format!("credentials server on {addr}"));
        if let Some(line) = grant_line(&first_grant) {
            output::status(line);
        }
        Ok(Server { addr, token })
    }

    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// What the child needs to find us: the URL and the per-run token the SDKs send back.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", self.url()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", self.token.clone()),
        ]
    }
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot get random bytes for the server token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compare without an early exit, so response timing says nothing about how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn accept_forever(self: Arc<Self>, listener: &TcpListener) {
        let connections = Connections::new(MAX_CONNECTIONS);
        for stream in listener.incoming() {
            let Ok(stream) = stream else {
                // Out of file descriptors, say: let some close instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let shared = self.clone();
            connections.spawn(move || shared.serve(stream));
        }
    }

    /// One request per connection, then close: SDKs reconnect for each refresh anyway.
    fn serve(&self, mut stream: TcpStream) {
        let deadline = Instant::now() + IO_DEADLINE;
        let (reply, unread) = match http::read_request(&mut stream, &LIMITS, deadline) {
            Ok(request) => (self.respond(&request), false),
            Err(Unread::Answer(431)) => (
                error_reply(431, "RequestTooLarge", "request head too large"),
                true,
            ),
            Err(Unread::Answer(_)) => (error_reply(400, "BadRequest", "malformed request"), true),
            Err(Unread::HangUp) => return,
        };
        let _ = http::write_reply(&mut stream, &reply, IO_DEADLINE);
        if unread {
            http::close_unread(&stream);
        } else {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    }

    fn respond(&self, request: &Request) -> Reply {
        let authorized = request
            .header_bytes("authorization")
            .is_some_and(|given| same(given, self.token.as_bytes()));
        if !authorized {
            output::debug(|| "credentials server: 401, missing or wrong token".into());
            return error_reply(401, "Unauthorized", "missing or wrong authorization token");
        }
        if request.method != "GET" {
            return error_reply(405, "MethodNotAllowed", "only GET is served");
        }
        if request.path != PATH {
            return error_reply(404, "NotFound", "no such path");
        }
        match self.current() {
            Ok(creds) => reply(200, &creds_json(&creds)),
            Err(Refused::GrantOver(why)) => error_reply(403, "GrantOver", &why),
            Err(Refused::Unavailable(why)) => error_reply(503, "CredentialsUnavailable", &why),
        }
    }

    /// The credentials in memory while they are valid and their grant stands; once expired, a
    /// short wait for the refresher, then the error that keeps it from getting new ones.
    fn current(&self) -> Result<AwsCreds, Refused> {
        let mut state = self.lock();
        if let Some(w) = &state.withdrawn {
            return Err(Refused::GrantOver(w.why.clone()));
        }
        // Answered from memory all the same; the next request hears what the portal says.
        if state.creds.grant.is_some()
            && !state.grant_nudged
            && state.grant_checked.elapsed() >= GRANT_ASK_GAP
        {
            state.grant_nudged = true;
            self.changed.notify_all();
        }
        let started = Instant::now();
        while !state.creds.remaining().is_positive() {
            let left = EXPIRED_WAIT.saturating_sub(started.elapsed());
            if left.is_zero() {
                // Credentials end with their grant: past its end, the grant is what is over.
                if let Some(g) = state
                    .creds
                    .grant
                    .as_ref()
                    .filter(|g| g.end <= Timestamp::now())
                {
                    return Err(Refused::GrantOver(match &state.error {
                        Some(e) if e.contains(&g.id) => e.clone(),
                        _ => jit_wire::access::grant_over(
                            &g.id,
                            &self.target.scope.access_target(),
                            "ended",
                            &rfc3339(g.end),
                        ),
                    }));
                }
                return Err(Refused::Unavailable(state.error.clone().unwrap_or_else(
                    || "the credentials expired and no new ones came yet".into(),
                )));
            }
            state.nudged = true;
            self.changed.notify_all();
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(state.creds.clone())
    }

    /// Ask the cache (a file read while fresh, one fetch for everyone when not) on a period
    /// that shrinks with the credentials' remaining life; and, when they ride a grant and it is
    /// time to ask, whether the grant stands, before the refresh (never instead of it).
    fn refresh_forever(&self) {
        loop {
            let (grant, refresh) = {
                let state = self.lock();
                let period = match state.withdrawn {
                    // Nothing to keep fresh: ask now and then whether new access came.
                    Some(_) => GRANT_CHECK_PERIOD,
                    None => poll_period(state.creds.remaining()),
                };
                let mut state = self
                    .changed
                    .wait_timeout_while(state, period, |s| !s.nudged && !s.grant_nudged)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                state.nudged = false;
                let ask = std::mem::take(&mut state.grant_nudged)
                    || state.grant_checked.elapsed() >= GRANT_CHECK_PERIOD;
                let grant = state
                    .creds
                    .grant
                    .clone()
                    .filter(|_| ask && state.withdrawn.is_none());
                let refresh =
                    self.mode != CacheMode::Bypass || state.withdrawn.is_some() || due(&state);
                if grant.is_none() && !refresh {
                    continue;
                }
                (grant, refresh)
            };
            let said = match grant {
                Some(grant) if !self.grant_stands(&grant) => self.withdraw(&grant),
                _ if refresh => {
                    let result = creds::get_quiet(&self.target, self.mode, None);
                    self.update(result)
                }
                _ => None,
            };
            self.changed.notify_all();
            // Said after the lock is released: a stalled stderr must not stall the requests.
            match said {
                Some(Said::Warn(line)) => output::warn(line),
                Some(Said::Status(line)) => output::status(line),
                None => {}
            }
        }
    }

    /// Whether the portal lists `grant` among the asker's live ones. A portal that cannot
    /// answer (or no token at hand) changes nothing: the grant is taken to stand until it can.
    fn grant_stands(&self, grant: &VendGrant) -> bool {
        let answer = crate::login::quiet_client(&self.target).map(|c| c.live_grants());
        self.lock().grant_checked = Instant::now();
        match answer {
            Some(Ok(live)) => live.iter().any(|g| g.id == grant.id),
            Some(Err(e)) => {
                output::debug(|| format!("cannot ask whether grant {} stands: {e:#}", grant.id));
                true
            }
            None => true,
        }
    }

    /// `grant` is over: its keys stop being served at once, here and from the cache, and the
    /// portal is asked for new ones (another grant, standing access); its refusal, which names
    /// the grant, is what requests get from then on.
    fn withdraw(&self, grant: &VendGrant) -> Option<Said> {
        let served = {
            let mut state = self.lock();
            state.withdrawn = Some(Withdrawn {
                grant: grant.id.clone(),
                why: format!(
                    "grant {} is over; asking the portal for new credentials",
                    grant.id
                ),
            });
            state.creds.access_key_id.clone()
        };
        self.changed.notify_all();
        creds::forget_grant(&self.target, &served, &grant.id);
        let mode = match self.mode {
            CacheMode::Bypass => CacheMode::Bypass,
            _ => CacheMode::Refresh,
        };
        match creds::get_quiet(&self.target, mode, None) {
            Ok(got) => self.update(Ok(got)),
            Err(e) => {
                let message = over_message(&grant.id, &format!("{e:#}"));
                let mut state = self.lock();
                state.withdrawn = Some(Withdrawn {
                    grant: grant.id.clone(),
                    why: message.clone(),
                });
                state.error = Some(message.clone());
                Some(Said::Warn(format!(
                    "{message} (the command's next request for credentials is refused)"
                )))
            }
        }
    }

    /// Take a refresh's outcome; what to tell the person at the terminal, once per change.
    fn update(&self, result: Result<creds::Got>) -> Option<Said> {
        let mut state = self.lock();
        let mut said = None;
        match result {
            Ok(got) => {
                // Keys of the grant that is over, which another process had cached: not served.
                if let Some(w) = &state.withdrawn
                    && got.creds.grant.as_ref().is_some_and(|g| g.id == w.grant)
                {
                    creds::forget_grant(&self.target, &got.creds.access_key_id, &w.grant);
                    return None;
                }
                match &got.stale {
                    Some(why) if !state.stale => {
                        said = Some(Said::Warn(creds::stale_warning(why, &got.creds)));
                        state.stale = true;
                    }
                    None if state.stale || state.error.is_some() => {
                        said = Some(Said::Status(
                            "the portal answers again; serving new credentials".into(),
                        ));
                        state.stale = false;
                    }
                    _ => {}
                }
                if state.withdrawn.take().is_some() {
                    said = Some(Said::Status("new credentials came; serving them".into()));
                }
                if got.creds.grant != state.creds.grant
                    && let Some(line) = grant_line(&got.creds.grant)
                {
                    said = Some(Said::Status(line));
                }
                if got.creds.access_key_id != state.creds.access_key_id {
                    state.grant_checked = Instant::now();
                }
                if got.creds.expiration != state.creds.expiration {
                    output::debug(|| {
                        format!(
                            "credentials server: now serving credentials valid until {}",
                            rfc3339(got.creds.expiration)
                        )
                    });
                    state.since = Timestamp::now();
                }
                state.creds = got.creds;
                state.error = None;
            }
            Err(e) => {
                let message = match &state.withdrawn {
                    Some(w) => over_message(&w.grant, &format!("{e:#}")),
                    None => format!("{e:#}"),
                };
                if state.error.as_ref() != Some(&message) {
                    let left = state.creds.remaining();
                    said = Some(Said::Warn(if state.withdrawn.is_some() {
                        format!("{message} (the command's requests for credentials are refused)")
                    } else if left.is_positive() {
                        format!(
                            "cannot refresh the credentials: {message}; serving the current ones for {} more",
                            crate::duration::human(left)
                        )
                    } else {
                        format!(
                            "cannot refresh the credentials: {message}; they have expired, and requests fail until the portal answers"
                        )
                    }));
                }
                // Still refused: what requests hear follows what the portal says now.
                if let Some(w) = &mut state.withdrawn {
                    w.why.clone_from(&message);
                }
                state.error = Some(message);
            }
        }
        said
    }
}

/// Without the cache the server decides itself, by the rule the cache uses (see `creds`).
fn due(state: &State) -> bool {
    let lifetime = state.creds.expiration.duration_since(state.since).as_secs();
    let threshold = crate::cache::refresh_window().min(lifetime / 2);
    state.creds.remaining().as_secs() <= threshold
}

/// What a person should know of the grant behind the credentials served: its end.
fn grant_line(grant: &Option<VendGrant>) -> Option<String> {
    grant.as_ref().map(|g| {
        format!(
            "these credentials come from grant {}, which ends at {} (in {}); none are served after it",
            g.id,
            rfc3339(g.end),
            crate::duration::human(g.end.duration_since(Timestamp::now()))
        )
    })
}

/// The portal's refusal of a fetch after `grant` was found over, naming the grant if it does
/// not (a timeout, say).
fn over_message(grant: &str, message: &str) -> String {
    if message.contains(grant) {
        message.to_string()
    } else {
        format!("grant {grant} is over, and no new credentials came: {message}")
    }
}

/// Why a request gets no credentials.
enum Refused {
    /// The grant behind them is over: the portal's refusal.
    GrantOver(String),
    /// Expired, and no new ones yet: the last refresh error.
    Unavailable(String),
}

/// A twentieth of what is left, between 1 and 30 seconds: a file read each time.
fn poll_period(remaining: SignedDuration) -> Duration {
    let secs = (remaining.as_secs() / 20).clamp(1, 30);
    Duration::from_secs(secs.unsigned_abs())
}

fn creds_json(creds: &AwsCreds) -> String {
    serde_json::json!({
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": rfc3339(creds.expiration),
    })
    .to_string()
}

fn error_reply(status: u16, code: &str, message: &str) -> Reply {
    reply(
        status,
        &serde_json::json!({ "Code": code, "Message": message }).to_string(),
    )
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: body.to_string(),
        headers: vec![
            ("Cache-Control", "no-store".to_string()),
            ("Connection", "close".to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with these credentials in memory and no refresher behind it.
    fn serving(creds: AwsCreds, error: Option<&str>) -> Shared {
        let host = crate::host::Host::parse("https://portal.example.com").expect("host");
        Shared {
            target: Target {
                host: host.clone(),
                api_host: host,
                scope: crate::model::Scope::Tenant("prod".into()),
                auth: crate::model::Auth::Missing("no token".into()),
                otp_login: None,
                region: None,
                endpoint_url: None,
                token_var: None,
                server: true,
            },
            mode: CacheMode::Use,
            token: "t".into(),
            state: Mutex::new(State {
                creds,
                since: Timestamp::now(),
                error: error.map(str::to_string),
                stale: false,
                nudged: false,
                grant_checked: Instant::now(),
                grant_nudged: false,
                withdrawn: None,
            }),
            changed: Condvar::new(),
        }
    }

    #[test]
    fn past_the_grants_end_a_request_hears_that_the_grant_ended() {
        let end = Timestamp::now() - SignedDuration::from_secs(10);
        let creds = AwsCreds {
            console_url: String::new(),
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            region: "us-west-2".into(),
            session_token: "t".into(),
            expiration: end,
            grant: Some(VendGrant {
                id: "g_1".into(),
                end,
            }),
        };
        // The refresher's last word names another thing: the grant's own end is said.
        let server = serving(creds.clone(), Some("portal unreachable: timed out"));
        match server.current() {
            Err(Refused::GrantOver(why)) => assert_eq!(
                why,
                format!(
                    "grant g_1 for tenant:prod ended at {}: request again with `jit request prod --for 1h --reason \"...\"`",
                    rfc3339(end)
                )
            ),
            _ => panic!("expected GrantOver"),
        }
        let without = AwsCreds {
            grant: None,
            ..creds
        };
        assert!(matches!(
            serving(without, None).current(),
            Err(Refused::Unavailable(_))
        ));
    }

    #[test]
    fn a_refusal_after_the_grant_is_over_names_it() {
        assert_eq!(
            over_message("g_1", "portal unreachable: timed out"),
            "grant g_1 is over, and no new credentials came: portal unreachable: timed out"
        );
        let portal = "grant g_1 for tenant:prod was revoked by bob at T: request again";
        assert_eq!(over_message("g_1", portal), portal);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
        let t = random_token().expect("token");
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token().expect("token"));
    }

    #[test]
    fn poll_period_shrinks_with_what_is_left() {
        assert_eq!(
            poll_period(SignedDuration::from_secs(3600)),
            Duration::from_secs(30)
        );
        assert_eq!(
            poll_period(SignedDuration::from_secs(100)),
            Duration::from_secs(5)
        );
        assert_eq!(
            poll_period(SignedDuration::from_secs(10)),
            Duration::from_secs(1)
        );
        assert_eq!(
            poll_period(SignedDuration::from_secs(-10)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn replies_carry_the_container_credentials_shape() {
        let creds = AwsCreds {
            console_url: String::new(),
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            region: "us-west-2".into(),
            session_token: "t".into(),
            expiration: "2026-11-25T12:00:00.5Z".parse().expect("ts"),
            grant: None,
        };
        assert_eq!(
            creds_json(&creds),
            r#"{"AccessKeyId":"ASIA1","Expiration":"2026-11-25T12:00:00Z","SecretAccessKey":"s","Token":"t"}"#
        );
        let text =
            String::from_utf8(http::render(&error_reply(401, "Unauthorized", "no"))).expect("utf8");
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n{\"Code\":\"Unauthorized\",\"Message\":\"no\"}"),
            "{text}"
        );
    }

    #[test]
    fn requests_keep_to_the_server_bounds() {
        use crate::http::tests::read;
        let within = Duration::from_secs(5);
        let pad = |n: usize| format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(n));
        assert!(read(pad(8 * 1024 - 23).as_bytes(), &LIMITS, within).is_ok());
        let over = read(pad(8 * 1024 - 22).as_bytes(), &LIMITS, within);
        assert_eq!(over.err(), Some(Unread::Answer(431)));
        let headers = |n: usize| format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(n));
        assert!(read(headers(32).as_bytes(), &LIMITS, within).is_ok());
        let many = read(headers(33).as_bytes(), &LIMITS, within);
        assert_eq!(many.err(), Some(Unread::Answer(431)));
        // The head alone is read: a body, however framed, is no reason to refuse.
        for framing in ["Content-Length: 1000000", "Transfer-Encoding: chunked"] {
            let head = format!("GET {PATH} HTTP/1.1\r\n{framing}\r\n\r\n");
            let got = read(head.as_bytes(), &LIMITS, within).expect(framing);
            assert!(got.body.is_empty());
        }
        let text = String::from_utf8(http::render(&reply(200, "{}"))).expect("utf8");
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{}"
        );
        let text = String::from_utf8(http::render(&reply(503, "{}"))).expect("utf8");
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{text}"
        );
    }
}
