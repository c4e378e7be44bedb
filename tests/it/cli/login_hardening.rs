//! The login listener and `jit console` under attack: cross-site requests from a page open in
//! the user's browser (headless Chromium and hand-made header sets), stalled connections, a
//! second caller waiting on the login lock, a captured stderr, and sign-in URLs kept out of
//! argv.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::support::stand_in::User;
use crate::support::{
    JIT, Sandbox, StandIn, assert_no_secrets, finish, login_url, random_hex, register_secret,
    venv_bin,
};

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

fn port_of(login: &url::Url) -> u16 {
    login
        .query_pairs()
        .find(|(k, _)| k == "localPort")
        .expect("localPort")
        .1
        .parse()
        .expect("port")
}

fn param(login: &url::Url, name: &str) -> Option<String> {
    login
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A second admin on the stand-in: the attacker's own, valid token.
fn mallory(portal: &StandIn) -> String {
    let token = format!("mal-{}", random_hex(24));
    register_secret(&token);
    let user = User {
        name: "mallory".into(),
        admin: true,
        tenants: vec![],
    };
    portal.state().users.insert(token.clone(), user);
    token
}

/// `jit aws --admin` logging in interactively on `host`, plus `extra`.
fn login_args<'a>(host: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = scoped_login("--admin", host);
    args.extend_from_slice(extra);
    args
}

fn scoped_login<'a>(scope: &'a str, host: &'a str) -> Vec<&'a str> {
    vec![
        "aws",
        scope,
        "--host",
        host,
        "--interactive",
        "--no-browser",
    ]
}

/// Start `cmd` with stdout and stderr piped.
fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// What the portal page does with redirect=true: navigate to the callback with the token.
#[track_caller]
fn hand_over(login: &url::Url, token: &str) {
    let resp = http()
        .get(format!("http://127.0.0.1:{}/?t={token}", port_of(login)))
        .send()
        .expect("the callback is answered");
    assert_eq!(resp.status(), 302);
}

#[track_caller]
fn assert_waiting(child: &mut Child, after: &str) {
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "jit stopped waiting for the login after {after}"
    );
}

/// The file of the portal token jit cached for its one host.
fn token_entry(sb: &Sandbox) -> PathBuf {
    let dir = std::fs::read_dir(sb.cache_dir()).expect("cache dir");
    dir.flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(",duplo-creds.json"))
        .expect("token cache entry")
}

/// The portal token jit cached for its one host.
fn cached_token(sb: &Sandbox) -> String {
    let path = token_entry(sb);
    let entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    entry["DuploToken"]
        .as_str()
        .expect("DuploToken")
        .to_string()
}

/// No request the stand-in saw was signed with `token`.
#[track_caller]
fn never_used(portal: &StandIn, token: &str) {
    for r in portal.requests() {
        assert!(
            !r.headers.iter().any(|(_, v)| v.contains(token)),
            "the attacker's token reached the portal: {} {}",
            r.method,
            r.path
        );
    }
}

/// Every line a child writes to stderr, as it comes; the whole text when it closes.
struct Lines {
    rx: Receiver<String>,
    seen: String,
}

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let stderr = child.stderr.take().expect("piped stderr");
        Lines::from(stderr)
    }

    fn from(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                if tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: String::new(),
        }
    }

    /// The first line matching `pred` within `timeout`.
    #[track_caller]
    fn until(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no {what} within {timeout:?}; got:\n{}", self.seen),
            }
        }
    }

    /// Everything up to the end of the stream.
    fn rest(mut self) -> String {
        while let Ok(line) = self.rx.recv_timeout(Duration::from_secs(30)) {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        assert_no_secrets(&self.seen, "stderr");
        self.seen
    }
}

/// Wait for `child` to exit within `timeout`, killing it (and failing) past that.
#[track_caller]
fn exit_within(child: &mut Child, timeout: Duration, what: &str) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: jit still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// A. Login CSRF

/// Every way a browser marks a request as coming from another site or page, sent by hand:
/// none of them may log jit in or cancel the login; the portal's own navigation then does.
#[test]
fn cross_site_requests_neither_complete_nor_cancel_the_login() {
    let portal = StandIn::start();
    let evil = mallory(&portal);
    let sb = Sandbox::new();
    let (mut child, login) = start_login(&sb, &login_args(&portal.url, &[]));
    let port = port_of(&login);
    let base = format!("http://127.0.0.1:{port}");
    let c = http();
    let cases: &[&[(&str, &str)]] = &[
        &[("Origin", "https://evil.example")],
        &[("Origin", "null")],
        &[("Referer", "https://evil.example/page")],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "no-cors"),
            ("Sec-Fetch-Dest", "image"),
        ],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "no-cors"),
            ("Sec-Fetch-Dest", "empty"),
        ],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "cors"),
            ("Sec-Fetch-Dest", "empty"),
        ],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "navigate"),
            ("Sec-Fetch-Dest", "iframe"),
        ],
        &[("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "script")],
        &[("Sec-Fetch-Mode", "no-cors")],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "navigate"),
            ("Sec-Fetch-Dest", "document"),
            ("Referer", "https://evil.example/"),
        ],
        // DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
        &[("Host", "evil.example")],
        &[("Host", &format!("evil.example:{port}"))],
    ];
    let otp = serde_json::json!({ "token": evil }).to_string();
    for headers in cases {
        for (path, t) in [
            ("/", Some(evil.as_str())),
            ("/", None),
            ("/v2/callbackWithOtp", Some(otp.as_str())),
            ("/v2/callbackWithOtp", None),
        ] {
            let mut req = c.get(format!("{base}{path}"));
            if let Some(t) = t {
                req = req.query(&[("t", t)]);
            }
            for (k, v) in *headers {
                req = req.header(*k, *v);
            }
            let resp = req.send().expect("request");
            assert_eq!(resp.status(), 403, "GET {path} {headers:?}");
            assert_waiting(&mut child, &format!("GET {path} with {headers:?}"));
        }
    }
    for origin in [None, Some("null"), Some("https://evil.example")] {
        let mut req = c.post(format!("{base}/")).body(evil.clone());
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        assert_eq!(req.send().expect("post").status(), 403, "POST {origin:?}");
        assert_waiting(&mut child, &format!("POST with Origin {origin:?}"));
    }
    // The portal page's top-level navigation, as Chromium sends it.
    let resp = c
        .get(format!("{base}/?t={}", portal.admin_token))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "navigate")
        .header("Sec-Fetch-Dest", "document")
        .header("Sec-Fetch-User", "?1")
        .header("Referer", format!("{}/app/user/verify-token", portal.url))
        .send()
        .expect("callback");
    assert_eq!(resp.status(), 302);
    let run = finish(child.wait_with_output().expect("wait")).ok();
    assert_eq!(run.key(), portal.last_key());
    assert!(
        run.stderr
            .contains("ignored a request to the login listener"),
        "the user is told once: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("ignored a request").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(cached_token(&sb), portal.admin_token);
    never_used(&portal, &evil);
}

/// Requests a browser makes without naming another site still work: typed in the address bar,
/// a plain client, and the portal's own CORS request.
#[test]
fn same_site_and_typed_callbacks_still_log_in() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let c = http();
    let typed: &[(&str, &str)] = &[
        ("Sec-Fetch-Site", "none"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "document"),
    ];
    let origin = portal.url.clone();
    let cors: &[(&str, &str)] = &[
        ("Origin", &origin),
        ("Sec-Fetch-Site", "same-site"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Dest", "empty"),
    ];
    for headers in [typed, cors, &[("Host", "localhost")][..]] {
        let (child, login) = start_login(&sb, &login_args(&portal.url, &["--no-cache"]));
        let base = format!("http://127.0.0.1:{}", port_of(&login));
        let mut req = c.get(format!("{base}/?t={}", portal.admin_token));
        for (k, v) in headers {
            let v = if *k == "Host" {
                format!("{v}:{}", port_of(&login))
            } else {
                v.to_string()
            };
            req = req.header(*k, v);
        }
        assert_eq!(req.send().expect("callback").status(), 302, "{headers:?}");
        finish(child.wait_with_output().expect("wait")).ok();
    }
}

/// A local HTTP server that answers every request with `page`.
fn serve_page(page: String) -> u16 {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = server.server_addr().to_ip().expect("ip").port();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let mut resp = tiny_http::Response::from_string(page.clone());
            resp.add_header(
                tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html"[..])
                    .expect("header"),
            );
            let _ = request.respond(resp);
        }
    });
    port
}

/// The attacker's page: no-cors GETs and POSTs, a CORS GET, img, script, iframe and a form
/// POST at the listener's port and its neighbours, with and without a token (a login and a
/// cancel). With `top_level`, also a top-level navigation that sends no Referer.
fn attack_page(port: u16, token: &str, top_level: bool) -> String {
    let ports: Vec<u16> = (port.saturating_sub(3)..=port.saturating_add(3)).collect();
    let js = r#"
const jobs = [];
const settle = (p) => jobs.push(Promise.race([Promise.resolve(p).catch(() => 0),
                                              new Promise(r => setTimeout(r, 4000))]));
const element = (tag, attrs) => new Promise(r => {
  const el = document.createElement(tag);
  el.onload = el.onerror = r;
  Object.assign(el, attrs);
  document.body.appendChild(el);
});
for (const port of PORTS) {
  const base = `http://127.0.0.1:${port}`;
  const t = encodeURIComponent(TOKEN);
  const otp = encodeURIComponent(JSON.stringify({token: TOKEN, otp: ""}));
  settle(fetch(`${base}/?t=${t}`, {mode: "no-cors"}));
  settle(fetch(`${base}/`, {mode: "no-cors"}));
  settle(fetch(`${base}/v2/callbackWithOtp?t=${otp}`, {mode: "no-cors"}));
  settle(fetch(`${base}/v2/callbackWithOtp`, {mode: "no-cors", referrerPolicy: "no-referrer"}));
  settle(fetch(`${base}/?t=${t}&cors`));
  settle(fetch(`${base}/?t=${t}&noref`, {mode: "no-cors", referrerPolicy: "no-referrer"}));
  settle(fetch(`${base}/`, {method: "POST", mode: "no-cors", body: TOKEN}));
  settle(element("img", {src: `${base}/?t=${t}&img`}));
  settle(element("img", {src: `${base}/?img`}));
  settle(element("script", {src: `${base}/?t=${t}&script`}));
  settle(element("iframe", {src: `${base}/?t=${t}&frame`}));
  settle(element("iframe", {src: `${base}/?frame`, referrerPolicy: "no-referrer"}));
  const frame = document.createElement("iframe");
  frame.name = `f${port}`;
  document.body.appendChild(frame);
  const form = document.createElement("form");
  form.method = "POST"; form.action = `${base}/`; form.target = frame.name;
  form.enctype = "text/plain";
  const field = document.createElement("input");
  field.name = TOKEN; field.value = "";
  form.appendChild(field);
  document.body.appendChild(form);
  settle(new Promise(r => { frame.onload = r; form.submit(); }));
  if (TOP_LEVEL) {
    settle(new Promise(r => { window.open(`${base}/?t=${t}&top`, "_blank", "noreferrer"); setTimeout(r, 1500); }));
    settle(new Promise(r => { window.open(`${base}/?top`, "_blank", "noreferrer"); setTimeout(r, 1500); }));
  }
}
Promise.all(jobs).then(() => { document.title = "fired"; });
"#
    .replace("PORTS", &serde_json::to_string(&ports).expect("json"))
    .replace("TOKEN", &serde_json::to_string(token).expect("json"))
    .replace("TOP_LEVEL", if top_level { "true" } else { "false" });
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>loading</title></head><body><script>{js}</script></body></html>"
    )
}

struct Browser {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Browser {
    /// attack.py: the attack, then (on `go`) the portal page's own hand-over in `mode`.
    fn attack(
        sb: &Sandbox,
        attack: &str,
        portal_page: &str,
        base: &str,
        mode: &str,
        token: &str,
    ) -> Browser {
        assert!(
            Path::new("/usr/bin/chromium").exists(),
            "chromium missing: run scripts/test-deps.sh"
        );
        let mut child = sb
            .command(venv_bin("python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/browser/attack.py"
            ))
            .args([attack, portal_page, base, mode, token])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Browser { child, out }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read");
        line.trim().to_string()
    }

    fn go(&mut self) -> String {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("go");
        stdin.flush().expect("flush");
        self.line()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.wait();
    }
}

/// A page on another site, open in the user's browser during a login, fires everything a page
/// can at the listener; jit neither logs in with the attacker's token nor gives up. Then the
/// portal's page navigates to the callback (and, in a second login, POSTs to it) and both work.
#[test]
fn a_page_on_another_site_cannot_log_jit_in_or_cancel_in_chromium() {
    let portal = StandIn::start();
    let evil = mallory(&portal);
    let sb = Sandbox::new();
    let portal_page = format!("{}/app/user/verify-token", portal.url);
    for mode in ["navigate", "post"] {
        let (mut child, login) = start_login(&sb, &login_args(&portal.url, &["--no-cache"]));
        let port = port_of(&login);
        let base = format!("http://127.0.0.1:{port}");
        let evil_port = serve_page(attack_page(port, &evil, false));
        let attack = format!("http://evil.example:{evil_port}/");
        let mut browser =
            Browser::attack(&sb, &attack, &portal_page, &base, mode, &portal.admin_token);
        assert_eq!(browser.line(), "fired");
        assert_waiting(&mut child, "the attack page");
        never_used(&portal, &evil);
        let result = browser.go();
        if mode == "navigate" {
            assert!(
                result.starts_with(&format!("landed {portal_page}?")),
                "{result}"
            );
        } else {
            // C: the reply duplo-jit sends, readable by the portal's page through CORS.
            assert_eq!(result, r#"posted [200, "\"done\"\n"]"#);
        }
        let run = finish(child.wait_with_output().expect("wait")).ok();
        assert_eq!(run.key(), portal.last_key());
        never_used(&portal, &evil);
    }
}

/// C: the POST reply is the JSON string duplo-jit sends, quotes and newline included.
#[test]
fn post_callback_replies_json_done_or_failed() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = start_login(&sb, &login_args(&portal.url, &[]));
    let base = format!("http://127.0.0.1:{}", port_of(&login));
    let c = http();
    let post = |body: &str| {
        let resp = c
            .post(format!("{base}/v2/callbackWithOtp"))
            .header("Origin", portal.url.as_str())
            .body(body.to_string())
            .send()
            .expect("post");
        let ct = resp.headers()["content-type"]
            .to_str()
            .expect("ct")
            .to_string();
        (resp.status().as_u16(), ct, resp.text().expect("body"))
    };
    let (status, ct, body) = post("not json");
    assert_eq!((status, body.as_str()), (500, "\"failed\"\n"));
    assert!(ct.starts_with("application/json"), "{ct}");
    let payload = serde_json::json!({ "token": portal.admin_token }).to_string();
    let (status, ct, body) = post(&payload);
    assert_eq!((status, body.as_str()), (200, "\"done\"\n"));
    assert!(ct.starts_with("application/json"), "{ct}");
    finish(child.wait_with_output().expect("wait")).ok();
}

/// A child killed when the test ends, passed or not.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `jit portal serve` on a fresh state file with an admin `root` and an admin `mallory`;
/// returns the server, its URL and both tokens.
fn self_hosted(sb: &Sandbox) -> (Reaped, String, String, String) {
    let state = sb.dir.path().join("portal.db").display().to_string();
    let admin = |args: &[&str]| {
        let mut full = vec!["portal", "--state", &state];
        full.extend_from_slice(args);
        sb.run(&full).ok().stdout.trim().to_string()
    };
    admin(&["user", "add", "root", "--admin"]);
    admin(&["user", "add", "mallory", "--admin"]);
    let root = admin(&["token", "create", "root"]);
    let mal = admin(&["token", "create", "mallory"]);
    register_secret(&root);
    register_secret(&mal);
    let mut child = sb
        .jit(&[
            "portal",
            "--state",
            &state,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            "http://127.0.0.1:9",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portal");
    let mut log = Lines::of(&mut child);
    let line = log.until("serving line", Duration::from_secs(20), |l| {
        l.starts_with("jit portal: serving ")
    });
    let url = line.split_whitespace().nth(3).expect("url").to_string();
    std::thread::spawn(move || log.rest());
    (Reaped(child), url, root, mal)
}

/// With `jit portal` as the portal, the callback must echo the one-time state jit put in the
/// login URL: the attacker's valid token without it, with a wrong one, or through a top-level
/// navigation that sends no Referer, or a POST with the portal's Origin, is ignored; the real
/// page round-trips it (its script POSTs to `/?state=...`).
#[test]
fn jit_portal_login_requires_the_state_it_sent() {
    let sb = Sandbox::new();
    let (_server, url, _root, evil) = self_hosted(&sb);
    let args = [
        "duplo",
        "--host",
        url.as_str(),
        "--interactive",
        "--no-browser",
    ];
    let (mut child, login) = start_login(&sb, &args);
    let state = param(&login, "state").expect("a state in the login URL");
    assert!(
        state.len() >= 32 && state.chars().all(|c| c.is_ascii_alphanumeric()),
        "{state}"
    );
    let base = format!("http://127.0.0.1:{}", port_of(&login));
    let c = http();
    for query in [
        format!("t={evil}"),
        format!("t={evil}&state=wrong"),
        format!("t={evil}&state="),
        String::new(),
        "state=wrong".to_string(),
    ] {
        let resp = c.get(format!("{base}/?{query}")).send().expect("get");
        assert_eq!(resp.status(), 403, "{query}");
        assert_waiting(&mut child, &format!("GET /?{query}"));
    }
    // A POST carries the state in its URL's query, the token as its body (what the portal's
    // page sends): even with the portal's Origin, no or a wrong state is ignored.
    let origin = url::Url::parse(url.as_str())
        .expect("portal url")
        .origin()
        .ascii_serialization();
    for query in ["", "?state=wrong", "?state="] {
        let resp = c
            .post(format!("{base}/{query}"))
            .header("Origin", &origin)
            .body(evil.clone())
            .send()
            .expect("post");
        assert_eq!(resp.status(), 403, "POST /{query}");
        assert_waiting(&mut child, &format!("POST /{query}"));
    }
    let evil_port = serve_page(attack_page(port_of(&login), &evil, true));
    let attack = format!("http://evil.example:{evil_port}/");
    let mut browser = Browser::attack(&sb, &attack, "", &base, "none", "");
    assert_eq!(browser.line(), "fired");
    drop(browser);
    assert_waiting(&mut child, "the attack page");

    // The real page, clicked in Chromium after signing in, passes the state back.
    let password = "root-web-password-9";
    crate::portal::portal_web::passwd(&sb, "root", &format!("{password}\n")).ok();
    let seen = crate::portal::portal_browser::flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", login.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", password),
        ],
    );
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    let run = finish(child.wait_with_output().expect("wait")).ok();
    let token = run.json()["DuploToken"]
        .as_str()
        .expect("token")
        .to_string();
    register_secret(&token);
    assert_ne!(token, evil);
}

// ---------------------------------------------------------------------------------------------
// B. Hangs

/// A local process that promises a large POST body with the portal's Origin and stalls, or
/// stalls mid-headers, must not hold up the portal's callback.
#[test]
fn a_stalled_connection_does_not_block_the_callback() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = start_login(&sb, &login_args(&portal.url, &[]));
    let port = port_of(&login);
    let mut stalled = Vec::new();
    for head in [
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {}\r\nContent-Length: 60000\r\n\r\nabc",
            portal.url
        ),
        format!("GET /?t=x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"),
        "GE".to_string(),
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(head.as_bytes()).expect("write");
        stalled.push(s);
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = Instant::now();
    hand_over(&login, &portal.admin_token);
    assert!(started.elapsed() < Duration::from_secs(5));
    finish(child.wait_with_output().expect("wait")).ok();
    drop(stalled);
}

/// With a stalled connection open, the login still times out on time (JIT_LOGIN_TIMEOUT
/// shortens the 180 s), with one clear line.
#[test]
fn a_stalled_connection_does_not_stop_the_login_timing_out() {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_LOGIN_TIMEOUT", "3");
    let (mut child, login) = start_login(&sb, &login_args(&portal.url, &[]));
    let port = port_of(&login);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {}\r\nContent-Length: 60000\r\n\r\nabc",
        portal.url
    );
    s.write_all(head.as_bytes()).expect("write");
    let started = Instant::now();
    let code = exit_within(&mut child, Duration::from_secs(20), "stalled POST");
    assert_eq!(code, Some(1));
    assert!(started.elapsed() < Duration::from_secs(8));
    let run = finish(child.wait_with_output().expect("wait"));
    assert!(
        run.stderr.contains("browser login timed out after 3 s"),
        "{}",
        run.stderr
    );
    drop(s);
}

/// A second caller says whose login it waits for and where its URL is, reuses its token, and
/// gives up with a clear error when the holder never finishes.
#[test]
fn a_second_caller_says_whose_login_it_waits_for() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let (holder, login) = start_login(&sb, &login_args(&portal.url, &[]));
    // The same credentials: it waits on their lock, held through the holder's login.
    let mut waiter = spawn(sb.jit(&login_args(&portal.url, &[])));
    let mut lines = Lines::of(&mut waiter);
    let line = lines.until("waiting line", Duration::from_secs(20), |l| {
        l.contains("waiting for")
    });
    assert!(
        line.contains(&format!("jit process {}", holder.id())),
        "{line}"
    );
    assert!(line.contains(login.as_str()), "{line}");
    hand_over(&login, &portal.admin_token);
    finish(holder.wait_with_output().expect("wait")).ok();
    assert_eq!(
        exit_within(&mut waiter, Duration::from_secs(20), "waiter"),
        Some(0)
    );
    let rest = lines.rest();
    assert_eq!(rest.matches("verify-token").count(), 1, "{rest}");

    // A holder that never finishes (stopped): a caller for other credentials waits on the
    // login lock and gives up a few seconds after that login must have timed out.
    let sb = Sandbox::new().env("JIT_LOGIN_TIMEOUT", "3");
    let (holder, login) = start_login(&sb, &login_args(&portal.url, &[]));
    let pid = holder.id();
    let _holder = Reaped(holder);
    let _ = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status();
    let started = Instant::now();
    let mut waiter = spawn(sb.jit(&scoped_login("--duplo-ops", &portal.url)));
    let code = exit_within(
        &mut waiter,
        Duration::from_secs(40),
        "waiter on a stopped holder",
    );
    let run = finish(waiter.wait_with_output().expect("wait"));
    assert_eq!(code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("jit: gave up after")
            && last.contains(&format!("jit process {pid}"))
            && last.contains(login.as_str()),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A holder file left by a login that died (SIGKILL leaves it) names no one: a caller waiting
/// on an ordinary slow fetch neither quotes it nor gives up because of it.
#[test]
fn a_stale_holder_file_is_not_believed() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = start_login(&sb, &login_args(&portal.url, &[]));
    hand_over(&login, &portal.admin_token);
    finish(child.wait_with_output().expect("wait")).ok();
    let stale = token_entry(&sb)
        .to_string_lossy()
        .replace(",duplo-creds.json", ",login,holder.json");
    std::fs::write(
        &stale,
        r#"{"Pid":1,"Url":"http://stale.example/","Deadline":0}"#,
    )
    .expect("stale holder");
    portal.state().delay = Duration::from_secs(2);
    let first = spawn(sb.jit(&login_args(&portal.url, &["--refresh"])));
    std::thread::sleep(Duration::from_millis(500));
    let second = sb.run(&login_args(&portal.url, &["--refresh"])).ok();
    assert!(
        !second.stderr.contains("stale.example"),
        "{}",
        second.stderr
    );
    finish(first.wait_with_output().expect("wait")).ok();
    assert!(!Path::new(&stale).exists(), "the stale file is removed");
}

// ---------------------------------------------------------------------------------------------
// D. A captured stderr (credential_process)

/// `script` gives jit a terminal while its stderr goes to a file, as under the AWS CLI.
fn under_terminal(sb: &Sandbox, args: &[&str], err: &Path) -> (Child, Lines) {
    let words: Vec<String> = std::iter::once(JIT)
        .chain(args.iter().copied())
        .map(|w| format!("'{w}'"))
        .collect();
    let out = err.with_extension("out");
    let cmd = format!(
        "{} >'{}' 2>'{}'",
        words.join(" "),
        out.display(),
        err.display()
    );
    let mut child = sb
        .command("/usr/bin/script")
        .args(["-qefc", &cmd, "/dev/null"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    let out = child.stdout.take().expect("stdout");
    (child, Lines::from(out))
}

#[test]
fn login_url_reaches_the_terminal_when_stderr_is_captured() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let err = sb.dir.path().join("stderr.txt");
    let args = login_args(&portal.url, &[]);
    let (mut child, mut tty) = under_terminal(&sb, &args, &err);
    let line = tty.until("login URL on the terminal", Duration::from_secs(20), |l| {
        l.contains("/app/user/verify-token")
    });
    let word = line
        .split_whitespace()
        .find(|w| w.contains("verify-token"))
        .expect("url");
    let login = url::Url::parse(word).expect("url");

    // A second caller, also captured, tells the terminal whose login it waits for.
    let err2 = sb.dir.path().join("stderr2.txt");
    let ops = scoped_login("--duplo-ops", &portal.url);
    let (mut waiter, mut tty2) = under_terminal(&sb, &ops, &err2);
    let waiting = tty2.until(
        "waiting line on the terminal",
        Duration::from_secs(20),
        |l| l.contains("waiting for"),
    );
    assert!(waiting.contains(login.as_str()), "{waiting}");
    hand_over(&login, &portal.admin_token);
    for c in [&mut child, &mut waiter] {
        assert_eq!(
            exit_within(c, Duration::from_secs(20), "captured jit"),
            Some(0)
        );
    }
    for tty in [tty, tty2] {
        tty.rest();
    }
    let captured = std::fs::read_to_string(&err).expect("stderr file");
    assert!(captured.contains("verify-token"), "{captured}");
    assert_no_secrets(&captured, "stderr");
}

// ---------------------------------------------------------------------------------------------
// E. Console sign-in URLs stay out of argv

/// A directory of fake programs that record their argv, stdin and environment.
fn fakes(sb: &Sandbox, names: &[(&str, i32)]) -> PathBuf {
    let bin = sb.dir.path().join("fakes");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let log = sb.dir.path().join("calls");
    std::fs::create_dir_all(&log).expect("mkdir");
    for (name, code) in names {
        let path = bin.join(name);
        let script = format!(
            "#!/bin/sh\nd='{log}/{name}'\n/bin/mkdir -p \"$d\"\nprintf '%s\\n' \"$@\" > \"$d/argv\"\n\
             /usr/bin/env > \"$d/env\"\n[ -f \"$1\" ] && /bin/cat \"$1\" > \"$d/file\" 2>/dev/null\n\
             [ -t 0 ] || /bin/cat > \"$d/stdin\"\nexit {code}\n",
            log = log.display()
        );
        std::fs::write(&path, script).expect("write fake");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

fn recorded(sb: &Sandbox, name: &str, what: &str) -> Option<String> {
    std::fs::read_to_string(sb.dir.path().join("calls").join(name).join(what)).ok()
}

#[test]
fn console_open_hands_the_browser_a_private_file_not_the_url() {
    let portal = StandIn::start();
    let decoy = format!("decoy-{}", random_hex(16));
    register_secret(&decoy);
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    let bin = fakes(&sb, &[("xdg-open", 0)]);
    let sb = sb
        .env("PATH", &bin.display().to_string())
        .env("JIT_TOKEN", &decoy);
    let run = sb.run(&["console", "dev", "--open"]).ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("opened the AWS console"),
        "{}",
        run.stderr
    );
    let argv = recorded(&sb, "xdg-open", "argv").expect("xdg-open ran");
    assert_no_secrets(&argv, "the browser launcher's argv");
    assert!(
        !argv.contains("SigninToken") && !argv.contains("federation"),
        "{argv}"
    );
    let file = PathBuf::from(argv.trim());
    assert!(file.is_absolute() && argv.lines().count() == 1, "{argv}");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().expect("dir")), 0o700);
    let html = recorded(&sb, "xdg-open", "file").expect("the launcher could read the file");
    assert!(
        html.contains(&format!("{}/federation?Action=login&", portal.url))
            && html.contains("location.replace(")
            && html.contains("http-equiv=\"refresh\""),
        "{html}"
    );
    let env = recorded(&sb, "xdg-open", "env").expect("env");
    assert_no_secrets(&env, "the browser launcher's environment");

    // An old page is removed on the next run.
    let old = Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(&file)
        .status()
        .expect("touch");
    assert!(old.success());
    sb.run(&["console", "dev", "--open"]).ok();
    assert!(!file.exists(), "the old page is gone");
}

#[test]
fn console_open_without_a_browser_prints_instead() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    // xdg-open exits 3 as it does with no browser; with an empty PATH, nothing exists at all.
    let failing = fakes(&sb, &[("xdg-open", 3)]);
    let empty = sb.dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    for path in [failing, empty] {
        let run = sb
            .jit(&["console", "dev", "--open"])
            .env("PATH", &path)
            .env("JIT_VERBOSE", "0")
            .output()
            .expect("jit");
        let run = finish(run).ok();
        assert!(
            run.stdout
                .starts_with(&format!("{}/federation?Action=login&", portal.url)),
            "{}",
            run.stdout
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("no browser could be opened"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn console_copy_puts_the_url_on_the_clipboard_through_stdin() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    let bin = fakes(&sb, &[("xclip", 0)]);
    let run = sb
        .jit(&["console", "dev", "--copy"])
        .env("PATH", &bin)
        .output()
        .expect("jit");
    let run = finish(run).ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("clipboard"), "{}", run.stderr);
    let argv = recorded(&sb, "xclip", "argv").expect("xclip ran");
    assert_no_secrets(&argv, "xclip's argv");
    assert_eq!(
        argv.lines().collect::<Vec<_>>(),
        ["-selection", "clipboard"]
    );
    let copied = recorded(&sb, "xclip", "stdin").expect("stdin");
    assert!(
        copied.starts_with(&format!("{}/federation?Action=login&", portal.url))
            && !copied.contains('\n'),
        "{copied}"
    );

    // No clipboard tool: the terminal's OSC 52, written to the terminal, not to stdout.
    let empty = sb.dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = sb.dir.path().join("copy-err.txt");
    let inner = format!(
        "PATH='{}' '{JIT}' console dev --copy 2>'{}'",
        empty.display(),
        err.display()
    );
    let out = sb
        .command("/usr/bin/script")
        .args(["-qefc", &inner, "/dev/null"])
        .output()
        .expect("script");
    assert!(
        out.status.success(),
        "{}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = screen.find("\x1b]52;c;").expect("an OSC 52 sequence") + 7;
    let end = screen[start..].find('\x07').expect("BEL") + start;
    use base64::Engine;
    let url = base64::engine::general_purpose::STANDARD
        .decode(&screen[start..end])
        .expect("base64");
    let url = String::from_utf8(url).expect("utf8");
    register_secret(&url);
    assert!(
        url.starts_with(&format!("{}/federation?Action=login&", portal.url)),
        "{url}"
    );
    let stderr = std::fs::read_to_string(&err).expect("stderr");
    assert_no_secrets(&stderr, "stderr");
    assert!(stderr.contains("OSC 52"), "{stderr}");
}

#[test]
fn console_without_a_console_url_says_why_in_one_line() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    portal.state().console_url = false;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    for endpoint in [
        format!("http://127.0.0.1:{closed}/federation"),
        format!("{}/not-federation", portal.url),
    ] {
        let run = sb
            .jit(&["console", "admin", "--print"])
            .env("JIT_SIGNIN_URL", &endpoint)
            .env("JIT_VERBOSE", "0")
            .output()
            .expect("jit");
        let run = finish(run).fails(1, "the portal sent no ConsoleUrl");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(&endpoint), "{}", run.stderr);
    }
}

/// Start an interactive `jit` with these arguments and return it with the login URL it printed.
#[track_caller]
fn start_login(sb: &Sandbox, args: &[&str]) -> (std::process::Child, url::Url) {
    let mut child = sb
        .jit(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let url = login_url(&mut child);
    (child, url)
}
