//! The portal's web side: local passwords, sessions, CSRF, security headers, the profile page
//! and the signed-in CLI login page, driven over HTTP and in headless Chromium.

use std::io::Write;
use std::process::Stdio;

use crate::portal::portal_server::{Served, admin, get, provision, serve, spawn_portal, state};
use crate::support::{Run, Sandbox, finish, register_secret};

pub const ALICE_PASSWORD: &str = "alice-web-password-7";

/// The portal's cookie names on a loopback URL (docs/protocol.md §11), spelled here on their
/// own so the tests stay an oracle: `__Host-`, so Secure, `Path=/` and no `Domain`.
pub const SESSION_COOKIE: &str = "__Host-jit_session";
pub const LOGIN_CSRF_COOKIE: &str = "__Host-jit_login_csrf";
/// A single sign-on login under way: this and 16 hex digits of its `state`'s SHA-256.
pub const OIDC_COOKIE_PREFIX: &str = "__Host-jit_oidc_";

/// `jit portal user passwd NAME` with `stdin` as its standard input.
#[track_caller]
pub fn passwd(sb: &Sandbox, name: &str, stdin: &str) -> Run {
    passwd_on(sb, &state(sb), name, stdin)
}

/// `jit portal --db DB user passwd NAME` with `stdin` as its standard input.
#[track_caller]
pub fn passwd_on(sb: &Sandbox, db: &str, name: &str, stdin: &str) -> Run {
    let mut child = sb
        .jit(&["portal", "--db", db, "user", "passwd", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jit");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    finish(child.wait_with_output().expect("wait jit"))
}

/// Everything SQLite holds for the sandbox's portal (the file and its write-ahead log).
fn db_bytes(sb: &Sandbox) -> String {
    let st = state(sb);
    let mut all = Vec::new();
    for path in [st.clone(), format!("{st}-wal")] {
        all.extend(std::fs::read(&path).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn passwd_reads_stdin_stores_only_an_argon2id_hash_and_is_audited() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\r\n"))
        .ok()
        .warns("set the password of portal user 'alice'");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(state(&sb))
            .expect("database")
            .permissions(),
    );
    assert_eq!(
        mode & 0o077,
        0,
        "the database is its owner's alone: {mode:o}"
    );
    let stored = db_bytes(&sb);
    assert!(stored.contains("$argon2id$v=19$"), "no argon2id hash");
    assert!(
        !stored.contains(ALICE_PASSWORD),
        "the password itself is stored"
    );
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    assert!(
        audit.lines().any(|l| l.contains("\tuser passwd\t")),
        "{audit}"
    );
    assert!(!audit.contains(ALICE_PASSWORD), "{audit}");

    passwd(&sb, "nobody", "some-long-password\n").fails(1, "no portal user 'nobody'");
    passwd(&sb, "alice", "").fails(1, "no password on standard input");
    passwd(&sb, "alice", "short\n").fails(1, "too short");
    let argv = sb.run(&[
        "portal",
        "--db",
        &state(&sb),
        "user",
        "passwd",
        "alice",
        "pw-in-argv",
    ]);
    assert_eq!(
        argv.code,
        Some(2),
        "a password in argv is refused: {}",
        argv.stderr
    );
}

/// An attribute value as a browser reads it (the escapes askama and page.rs write).
pub fn unescape(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser without JavaScript: cookies by hand, redirects not followed.
pub struct Browser {
    http: reqwest::blocking::Client,
    base: String,
    cookies: Vec<(String, String)>,
    /// The client address a proxy in front of the portal would name (`X-Forwarded-For`).
    forwarded_for: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The value of the first `data-NAME` attribute.
    #[track_caller]
    pub fn data(&self, name: &str) -> String {
        let marker = format!("data-{name}=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no data-{name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("closing quote");
        unescape(&self.body[start..start + end])
    }

    /// The value of the hidden input `name`.
    #[track_caller]
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("closing quote");
        unescape(&self.body[start..start + end])
    }
}

impl Browser {
    pub fn new(portal: &Served) -> Browser {
        Browser::connecting(portal, reqwest::blocking::Client::builder())
    }

    fn connecting(portal: &Served, builder: reqwest::blocking::ClientBuilder) -> Browser {
        Browser {
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: portal.url.clone(),
            cookies: Vec::new(),
            forwarded_for: None,
        }
    }

    /// From now on, reach the portal as a proxy would for a client at `addr`.
    pub fn behind_proxy_as(&mut self, addr: &str) {
        self.forwarded_for = Some(addr.to_string());
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        match &self.forwarded_for {
            Some(addr) => r.header("x-forwarded-for", addr),
            None => r,
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn take(&mut self, resp: reqwest::blocking::Response) -> Page {
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().expect("ascii cookie");
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (k, val) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(n, _)| n != k);
            if !text.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
        Page {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().expect("body"),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&mut self, path: &str) -> Page {
        let resp = self
            .request(reqwest::Method::GET, path)
            .send()
            .expect("GET");
        self.take(resp)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_accepting(path, form, "text/html")
    }

    /// A form POST that asks for `accept` (what a page's script sends).
    pub fn post_accepting(&mut self, path: &str, form: &[(&str, &str)], accept: &str) -> Page {
        let resp = self
            .request(reqwest::Method::POST, path)
            .header("accept", accept)
            .form(form)
            .send()
            .expect("POST");
        self.take(resp)
    }

    /// Open the sign-in page and submit it.
    pub fn sign_in(&mut self, user: &str, password: &str) -> Page {
        self.sign_in_via("/login?next=/profile", user, password)
    }

    /// Open a sign-in page (with its `next`) and submit it.
    pub fn sign_in_via(&mut self, login: &str, user: &str, password: &str) -> Page {
        let form = self.get(login);
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.hidden("csrf");
        let next = form.hidden("next");
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", &next),
                ("username", user),
                ("password", password),
            ],
        )
    }
}

#[test]
fn sign_in_sets_a_fresh_http_only_session_checks_csrf_and_sends_security_headers() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let mut b = Browser::new(&portal);

    let anonymous = b.get("/profile");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), "/login?next=%2Fprofile");

    let form = b.get("/login");
    let csrf_line = form.header("set-cookie");
    assert!(
        csrf_line.starts_with(&format!("{LOGIN_CSRF_COOKIE}=")) && csrf_line.ends_with("; Secure"),
        "{csrf_line}"
    );
    assert_eq!(form.header("cache-control"), "no-store");
    let csp = form.header("content-security-policy");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(form.header("x-content-type-options"), "nosniff");
    assert_eq!(form.header("referrer-policy"), "no-referrer");
    assert_eq!(
        form.header("strict-transport-security"),
        "",
        "plain HTTP: no HSTS"
    );

    // A sign-in form without its CSRF token is refused even with the right password.
    let forged = b.post(
        "/login",
        &[("username", "alice"), ("password", ALICE_PASSWORD)],
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(b.cookie(SESSION_COOKIE).is_none());

    // A second sign-in page (another tab; a CLI login opens one) leaves the first one usable.
    let first_tab = b.get("/login").hidden("csrf");
    let second_tab = b.get("/login").hidden("csrf");
    assert_eq!(first_tab, second_tab);
    // An Authorize click whose session has ended goes to sign in, then back to the same CLI
    // login.
    let expired = b.post(
        "/app/user/verify-token",
        &[
            ("csrf", "stale"),
            ("localPort", "4321"),
            ("isAdmin", "false"),
            ("state", "s-1"),
            ("action", "authorize"),
        ],
    );
    assert_eq!(expired.status, 303);
    let to = expired.header("location");
    assert!(
        to.starts_with("/login?next=%2Fapp%2Fuser%2Fverify-token%3F")
            && to.contains("localPort%3D4321")
            && to.contains("state%3Ds-1"),
        "{to}"
    );

    let wrong = b.sign_in("alice", "not-her-password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("do not match"), "{}", wrong.body);
    let unknown = b.sign_in("mallory", ALICE_PASSWORD);
    assert_eq!(unknown.status, 401);

    // A session id planted before sign-in is replaced by a new one.
    b.cookies
        .push((SESSION_COOKIE.into(), "jit_planted".into()));
    let ok = b.sign_in("alice", ALICE_PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.header("location"), "/profile");
    let set = ok.header("set-cookie");
    let session_line = set
        .lines()
        .find(|l| l.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("session cookie");
    // Plain HTTP, but on loopback, which browsers treat as secure: `__Host-` and Secure.
    for attr in ["; HttpOnly", "; SameSite=Lax", "; Path=/;", "; Secure"] {
        assert!(session_line.contains(attr), "{session_line}");
    }
    assert!(!session_line.contains("Domain"), "{session_line}");
    let first = b.cookie(SESSION_COOKIE).expect("session");
    assert_ne!(first, "jit_planted");
    let profile = b.get("/profile");
    assert_eq!(profile.status, 200);
    assert!(
        profile.body.contains("<strong id=\"user\">alice</strong>"),
        "{}",
        profile.body
    );
    assert_eq!(profile.header("cache-control"), "no-store");
    // `next` never leads off the portal, however it is spelled: browsers drop tabs and newlines
    // and read a backslash as a slash.
    for next in [
        "//evil.example/",
        "/%09/evil.example/",
        "/%0A/evil.example/",
        "/%5Cevil.example/",
        "https://evil.example/",
    ] {
        let away = b.get(&format!("/login?next={next}"));
        assert_eq!(away.status, 303, "{next}");
        assert_eq!(away.header("location"), "/profile", "{next}");
    }

    // Signing in again over a live session gives another session and ends the first one.
    let mut b2 = Browser::new(&portal);
    let csrf = b2.get("/login").hidden("csrf");
    b2.cookies.push((SESSION_COOKIE.into(), first.clone()));
    let again = b2.post(
        "/login",
        &[
            ("csrf", &csrf),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
        ],
    );
    assert_eq!(again.status, 303);
    let second = b2.cookie(SESSION_COOKIE).expect("session");
    assert_ne!(first, second, "the session id changes on sign-in");
    assert_eq!(
        b.get("/profile").status,
        303,
        "the replaced session is over"
    );
    let mut b = b2;

    // Sign-out wants the session's CSRF token.
    let csrf = b.get("/profile").hidden("csrf");
    assert_eq!(b.post("/logout", &[]).status, 403);
    assert_eq!(b.post("/logout", &[("csrf", "jit_wrong")]).status, 403);
    assert_eq!(b.get("/profile").status, 200, "still signed in");
    let out = b.post("/logout", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    let mut stale = Browser::new(&portal);
    stale.cookies.push((SESSION_COOKIE.into(), second));
    assert_eq!(stale.get("/profile").status, 303, "signed out for good");

    let audit = admin(&sb, &["audit"]);
    for event in [
        "\tweb sign-in\t",
        "\tweb sign-in failed\t",
        "\tweb sign-out\t",
    ] {
        assert!(audit.contains(event), "{event} missing: {audit}");
    }
    assert!(!audit.contains(ALICE_PASSWORD));
    assert!(!portal.log().contains(ALICE_PASSWORD));
}

/// The page a request carrying one of the portal's cookies twice gets.
const TWICE: &str = "clear this site&#39;s cookies";

/// A request carrying one of the portal's cookies twice, in either spelling, is refused with a
/// page that says what to do; an unprefixed one left from before is dropped as it comes.
#[test]
fn a_portal_cookie_sent_twice_in_either_spelling_is_refused() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let mut b = Browser::new(&portal);
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
    let own = b.cookie(SESSION_COOKIE).expect("session");
    register_secret(&own);

    // The old spelling, alone: not read, and dropped.
    let mut old = Browser::new(&portal);
    old.cookies.push(("jit_session".into(), own.clone()));
    let page = old.get("/profile");
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        page.header("set-cookie")
            .lines()
            .any(|l| l.starts_with("jit_session=;") && l.contains("Max-Age=0")),
        "{}",
        page.header("set-cookie")
    );

    for (name, value) in [
        ("jit_session", "jit_planted"),
        (SESSION_COOKIE, "jit_planted"),
        ("jit_login_csrf", "jit_planted"),
        ("jit_oidc", "x"),
    ] {
        let mut twice = Browser::new(&portal);
        if name.ends_with("jit_session") {
            twice.cookies.push((name.into(), value.into()));
            twice.cookies.push((SESSION_COOKIE.into(), own.clone()));
        } else {
            twice.cookies.push((name.into(), value.into()));
            twice.cookies.push((name.into(), value.into()));
        }
        let page = twice.get("/profile");
        assert_eq!(page.status, 400, "{name}: {}", page.body);
        assert!(page.body.contains(TWICE), "{}", page.body);
        assert!(!page.body.contains(&own), "{}", page.body);
    }
    // Other sites' cookies are theirs to repeat.
    let mut others = Browser::new(&portal);
    others.cookies.push(("theme".into(), "dark".into()));
    others.cookies.push(("theme".into(), "light".into()));
    others.cookies.push((SESSION_COOKIE.into(), own.clone()));
    assert_eq!(others.get("/profile").status, 200);
}

/// Plain HTTP at a name browsers do not treat as secure: a browser would keep no `__Host-`
/// cookie from it, so the names are plain and not Secure, and the portal warns at start.
#[test]
fn plain_http_at_a_public_name_gets_plain_cookie_names_and_a_warning() {
    let sb = Sandbox::new();
    provision(&sb);
    let st = state(&sb);
    let portal = spawn_portal(
        &sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "http://portal.example",
            "--sts-endpoint",
            "http://127.0.0.1:9",
        ],
    );
    let mut b = Browser::new(&portal);
    let form = b.get("/login");
    let set = form.header("set-cookie");
    assert!(
        set.starts_with("jit_login_csrf=") && !set.contains("Secure"),
        "{set}"
    );
    assert!(
        portal
            .log()
            .contains("the portal's cookies go without the __Host- prefix and Secure"),
        "{}",
        portal.log()
    );
    b.cookies
        .push(("jit_login_csrf".into(), "jit_planted".into()));
    let page = b.get("/login");
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains(TWICE), "{}", page.body);
}

#[test]
fn a_signed_in_browser_authorizes_the_cli_with_one_click_and_sign_out_revokes_the_token() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let mut b = Browser::new(&portal);
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);

    let (child, url) = sb.aws().tenant("dev01").host(&portal.url).start_login();
    let path = &url.as_str()[portal.url.len()..];
    let page = b.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("as <strong>alice</strong>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"token\""),
        "no token field when signed in"
    );
    let field = |name: &str| page.hidden(name);
    let (csrf, port, state) = (field("csrf"), field("localPort"), field("state"));

    let forged = b.post(
        "/app/user/verify-token",
        &[
            ("csrf", "jit_forged"),
            ("localPort", &port),
            ("isAdmin", "false"),
            ("state", &state),
            ("action", "authorize"),
        ],
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    let admin_try = b.post(
        "/app/user/verify-token",
        &[
            ("csrf", &csrf),
            ("localPort", &port),
            ("isAdmin", "true"),
            ("state", &state),
            ("action", "authorize"),
        ],
    );
    assert_eq!(admin_try.status, 403, "alice is no admin");

    let ok = b.post(
        "/app/user/verify-token",
        &[
            ("csrf", &csrf),
            ("localPort", &port),
            ("isAdmin", "false"),
            ("state", &state),
            ("action", "authorize"),
        ],
    );
    // Authorize answers a page, never stored, whose script POSTs the token to the CLI's
    // listener (docs/protocol.md §2): the token is in no URL but the no-script link's.
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("location"), "");
    assert_eq!(ok.header("cache-control"), "no-store");
    let csp = ok.header("content-security-policy");
    assert!(
        csp.contains("connect-src 'self' http://127.0.0.1:* http://localhost:* http://[::1]:*;")
            && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert!(
        !b.get("/profile")
            .header("content-security-policy")
            .contains("connect-src"),
        "only the hand-over page may connect to loopback"
    );
    let minted = ok.data("body");
    register_secret(&minted);
    let callback = ok.data("callback");
    let callback_url = url::Url::parse(&callback).expect("callback url");
    assert_eq!(callback_url.host_str(), Some("127.0.0.1"));
    assert_eq!(
        callback_url.port().map(|p| p.to_string()),
        Some(port.clone())
    );
    let pairs: Vec<(String, String)> = callback_url.query_pairs().into_owned().collect();
    assert_eq!(pairs, [("state".to_string(), state.clone())], "no token");
    assert_eq!(
        ok.data("done"),
        format!("/app/user/verify-token?localAppName=duplo-jit&localPort={port}&success=true")
    );
    let fallback = url::Url::parse(&unescape(
        ok.body
            .split("id=\"handoff-link\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the no-script link"),
    ))
    .expect("fallback url");
    let pairs: Vec<(String, String)> = fallback.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [
            ("t".to_string(), minted.clone()),
            ("state".to_string(), state.clone())
        ]
    );
    let noscript = ok.body.split("<noscript>").nth(1).unwrap_or_default();
    assert!(
        noscript.contains("id=\"handoff-link\""),
        "the link is for no-script only"
    );
    // The page's script POSTs the token, with the portal's Origin, to the CLI's listener.
    let answer = reqwest::blocking::Client::new()
        .post(&callback)
        .header("Origin", &portal.url)
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(minted.clone())
        .send()
        .expect("callback");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().expect("body"), "\"done\"\n");
    let run = finish(child.wait_with_output().expect("jit")).ok();
    let creds = run.json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    assert!(
        creds["AccessKeyId"]
            .as_str()
            .expect("key")
            .starts_with("ASIA")
    );

    let system = format!("{}/v3/features/system", portal.url);
    assert_eq!(get(&system, &minted).0, 200);
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    assert!(audit.lines().any(|l| l.contains("\tlogin\t")), "{audit}");
    let list = admin(&sb, &["token", "list", "--user", "alice"]);
    assert!(list.contains("login"), "{list}");

    // Signing out ends the session and the token it authorized.
    let csrf = b.get("/profile").hidden("csrf");
    assert_eq!(b.post("/logout", &[("csrf", &csrf)]).status, 303);
    assert_eq!(get(&system, &minted).0, 401);

    // Signed out, the page sends the browser to sign in first and back.
    let (mut child, url) = sb
        .aws()
        .tenant("dev01")
        .host(&portal.url)
        .no_cache()
        .start_login();
    let path = &url.as_str()[portal.url.len()..];
    let page = b.get(path);
    assert_eq!(page.status, 303, "{}", page.body);
    let link = page.header("location");
    let next = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", path)
        .finish();
    assert_eq!(link, format!("/login?{next}"));
    let signed_in_again = b.sign_in_via(&link, "alice", ALICE_PASSWORD);
    assert_eq!(signed_in_again.status, 303);
    let back = signed_in_again.header("location");
    assert!(back.starts_with("/app/user/verify-token?"), "{back}");
    let again = b.get(&back);
    assert!(
        again.body.contains("as <strong>alice</strong>"),
        "back on the CLI page: {back} {} {}",
        again.status,
        again.body
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Online guessing: five wrong passwords for a user from one address, and that address is
/// refused for that user, the right password too, without a check, for the rest of the window.
#[test]
fn wrong_passwords_are_throttled_per_address_and_user() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    passwd(&sb, "root", "root-web-password-9\n").ok();
    let portal = serve(&sb);
    let mut b = Browser::new(&portal);
    for _ in 0..5 {
        assert_eq!(b.sign_in("alice", "guess-guess-guess").status, 401);
    }
    let refused = b.sign_in("alice", ALICE_PASSWORD);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("Too many wrong passwords"),
        "{}",
        refused.body
    );
    assert!(b.cookie(SESSION_COOKIE).is_none());
    // Another user from the same address is not held up.
    assert_eq!(b.sign_in("root", "root-web-password-9").status, 303);
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    let failed = audit
        .lines()
        .filter(|l| l.contains("\tweb sign-in failed\t"))
        .count();
    assert_eq!(failed, 5, "the throttled try is not even checked: {audit}");
    assert!(portal.log().contains("sign-in throttled for alice"));
}

/// `jit portal serve` behind a proxy on this machine: `--trusted-proxy 127.0.0.1`.
#[track_caller]
pub fn serve_behind_proxy(sb: &Sandbox) -> Served {
    let st = state(sb);
    let sts = crate::support::moto::moto();
    crate::portal::portal_server::spawn_portal(
        sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            &sts.url,
            "--trusted-proxy",
            "127.0.0.1",
        ],
    )
}

/// The client addresses of `event` rows in the audit trail, oldest first.
fn audited_clients(sb: &Sandbox, event: &str) -> Vec<String> {
    admin(sb, &["audit", "--json", "--event", event])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .map(|r| r["client"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Behind a proxy the README recommends, the client is the address the proxy names, and only
/// a configured proxy is believed: anyone else's X-Forwarded-For is ignored.
#[test]
fn the_client_address_comes_from_trusted_proxies_only() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve_behind_proxy(&sb);
    let mut b = Browser::new(&portal);
    b.behind_proxy_as("192.0.2.66, 198.51.100.7");
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
    assert_eq!(audited_clients(&sb, "web sign-in"), ["198.51.100.7"]);
    assert!(
        portal.log().contains(" alice 198.51.100.7 "),
        "the request log names the client: {}",
        portal.log()
    );
    drop(portal);

    let plain = serve(&sb);
    let mut b = Browser::new(&plain);
    b.behind_proxy_as("198.51.100.8");
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
    assert_eq!(
        audited_clients(&sb, "web sign-in"),
        ["198.51.100.7", "127.0.0.1"],
        "without --trusted-proxy the header is not believed"
    );
}

/// Nobody can lock a user out: behind the proxy one address's guesses hold up only that
/// address; guesses from many addresses stop strangers' browsers, never a browser that has
/// signed in as the user before; and one address trying many names is stopped by itself.
#[test]
fn strangers_cannot_lock_a_user_out() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve_behind_proxy(&sb);

    // Alice signs in once from her own browser, which the portal then knows.
    let mut alice = Browser::new(&portal);
    alice.behind_proxy_as("198.51.100.7");
    assert_eq!(alice.sign_in("alice", ALICE_PASSWORD).status, 303);
    let csrf = csrf_of(&mut alice);
    assert_eq!(alice.post("/logout", &[("csrf", &csrf)]).status, 303);

    // One attacker behind the same proxy: five guesses lock only the attacker's address.
    let mut attacker = Browser::new(&portal);
    attacker.behind_proxy_as("203.0.113.5");
    for _ in 0..5 {
        assert_eq!(attacker.sign_in("alice", "guess-guess-guess").status, 401);
    }
    assert_eq!(attacker.sign_in("alice", ALICE_PASSWORD).status, 429);
    let mut fresh = Browser::new(&portal);
    fresh.behind_proxy_as("198.51.100.20");
    assert_eq!(
        fresh.sign_in("alice", ALICE_PASSWORD).status,
        303,
        "alice from another address, in a browser the portal does not know yet"
    );

    // Guesses from many addresses fill the user's shared limit: strangers' browsers wait ...
    for i in 0..20 {
        let mut guesser = Browser::new(&portal);
        guesser.behind_proxy_as(&format!("203.0.113.{}", 100 + i));
        let status = guesser.sign_in("alice", "guess-guess-guess").status;
        assert!(status == 401 || status == 429, "{status}");
    }
    let mut stranger = Browser::new(&portal);
    stranger.behind_proxy_as("203.0.113.250");
    let refused = stranger.sign_in("alice", ALICE_PASSWORD);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("sign in from a browser you have signed in with before"),
        "{}",
        refused.body
    );
    // ... and alice's own browser signs in, at the attacker's address even.
    alice.behind_proxy_as("203.0.113.5");
    assert_eq!(alice.sign_in("alice", ALICE_PASSWORD).status, 303);

    // One address trying many names stops itself after 30, and nobody else.
    let mut sprayer = Browser::new(&portal);
    sprayer.behind_proxy_as("192.0.2.99");
    let mut refused_at = None;
    for i in 0..40 {
        if sprayer.sign_in(&format!("made-up-{i}"), "guess").status == 429 {
            refused_at = Some(i);
            break;
        }
    }
    assert_eq!(refused_at, Some(30));
    let mut bob = Browser::new(&portal);
    bob.behind_proxy_as("192.0.2.100");
    assert_eq!(
        bob.sign_in("root", "not-set").status,
        401,
        "another address is checked"
    );
}

/// The sign-out form's CSRF token on the profile page.
fn csrf_of(b: &mut Browser) -> String {
    let page = b.get("/profile");
    assert_eq!(page.status, 200, "{}", page.body);
    page.hidden("csrf")
}

/// A CLI token the signed-in browser authorizes on the CLI-login page (the token a `jit login`
/// listener would receive); the listener itself is not needed to mint it.
#[track_caller]
pub fn cli_token(b: &mut Browser) -> String {
    let page = b.get(
        "/app/user/verify-token?localAppName=duplo-jit&localPort=4242&redirect=true&state=st-1",
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let (csrf, state) = (page.hidden("csrf"), page.hidden("state"));
    let ok = b.post(
        "/app/user/verify-token",
        &[
            ("csrf", &csrf),
            ("localPort", "4242"),
            ("isAdmin", "false"),
            ("state", &state),
            ("action", "authorize"),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let token = ok.data("body");
    register_secret(&token);
    token
}

/// The browser is signed out: its next profile request is sent to sign in.
#[track_caller]
pub fn signed_out(b: &mut Browser) {
    let page = b.get("/profile");
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        page.header("location").starts_with("/login"),
        "{}",
        page.header("location")
    );
}

#[test]
fn a_password_change_ends_every_web_session_and_the_cli_tokens_they_minted() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let system = format!("{}/v3/features/system", portal.url);
    let mut thief = Browser::new(&portal);
    assert_eq!(thief.sign_in("alice", ALICE_PASSWORD).status, 303);
    assert_eq!(thief.get("/profile").status, 200);
    let token = cli_token(&mut thief);
    assert_eq!(get(&system, &token).0, 200);

    let new_password = "alice-new-password-8";
    let run = passwd(&sb, "alice", &format!("{new_password}\n")).ok();
    assert!(run.stderr.contains("1 web session ended"), "{}", run.stderr);

    signed_out(&mut thief);
    assert_eq!(
        get(&system, &token).0,
        401,
        "the session's CLI token died with it"
    );
    let audit = admin(&sb, &["audit", "--user", "alice", "--event", "user passwd"]);
    assert!(
        audit.lines().any(|l| l.contains("1 web session ended")),
        "{audit}"
    );

    let mut owner = Browser::new(&portal);
    assert_eq!(owner.sign_in("alice", ALICE_PASSWORD).status, 401);
    assert_eq!(owner.sign_in("alice", new_password).status, 303);
    assert_eq!(owner.get("/profile").status, 200);
}

#[test]
fn user_sessions_lists_live_sessions_and_revoke_ends_them_where_token_revoke_does_not() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let system = format!("{}/v3/features/system", portal.url);
    let (mut one, mut two) = (Browser::new(&portal), Browser::new(&portal));
    assert_eq!(one.sign_in("alice", ALICE_PASSWORD).status, 303);
    assert_eq!(two.sign_in("alice", ALICE_PASSWORD).status, 303);

    let list = admin(&sb, &["user", "sessions", "alice"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.lines().all(|l| l.starts_with("ses_")), "{list}");
    for b in [&one, &two] {
        let cookie = b.cookie(SESSION_COOKIE).expect("session cookie");
        assert!(!list.contains(&cookie), "no cookie value listed");
    }

    // Revoking the user's tokens leaves the sessions, and says so.
    let token = cli_token(&mut one);
    let st = state(&sb);
    let run = sb
        .run(&[
            "portal", "--state", &st, "token", "revoke", "--user", "alice",
        ])
        .ok();
    assert!(
        run.stderr
            .contains("remain: end them with `jit portal user sessions alice --revoke`"),
        "{}",
        run.stderr
    );
    assert_eq!(get(&system, &token).0, 401);
    assert_eq!(
        one.get("/profile").status,
        200,
        "token revoke keeps sessions"
    );

    let token = cli_token(&mut two);
    assert_eq!(get(&system, &token).0, 200);
    let run = sb
        .run(&[
            "portal", "--state", &st, "user", "sessions", "alice", "--revoke",
        ])
        .ok();
    assert!(
        run.stderr.contains("2 web sessions ended"),
        "{}",
        run.stderr
    );
    signed_out(&mut one);
    signed_out(&mut two);
    assert_eq!(get(&system, &token).0, 401);
    assert_eq!(admin(&sb, &["user", "sessions", "alice"]), "");
    let audit = admin(
        &sb,
        &["audit", "--user", "alice", "--event", "web sign-out"],
    );
    assert!(
        audit.contains("every session of alice; 2 web sessions ended"),
        "{audit}"
    );
}

#[test]
fn concurrent_wrong_passwords_are_checked_at_most_the_limit() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    // Each guess its own browser (its own connection); the portal's cap on argon2 checks
    // running at once makes them queue together past the throttle's check.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let guesses: Vec<_> = (0..40)
            .map(|i| {
                let portal = &portal;
                s.spawn(move || {
                    Browser::new(portal)
                        .sign_in("alice", &format!("guess-guess-{i}"))
                        .status
                })
            })
            .collect();
        guesses
            .into_iter()
            .map(|g| g.join().expect("guess thread"))
            .collect()
    });
    let checked = statuses.iter().filter(|&&s| s != 429).count();
    assert!(
        statuses.iter().all(|&s| s == 401 || s == 429),
        "{statuses:?}"
    );
    assert!(checked <= 5, "{checked} guesses checked: {statuses:?}");
    let right = Browser::new(&portal).sign_in("alice", ALICE_PASSWORD);
    assert_eq!(right.status, 429, "{}", right.body);
}

/// The `web sign-in failed` rows of the audit trail.
fn failed_sign_ins(sb: &Sandbox) -> Vec<serde_json::Value> {
    admin(sb, &["audit", "--json", "--event", "web sign-in failed"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|e| e["event"] == "web sign-in failed")
        .collect()
}

#[test]
fn failed_sign_ins_for_made_up_names_add_no_audit_rows() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    // Behind a proxy, so each flood has its own address: one address alone is stopped after
    // 30 (`strangers_cannot_lock_a_user_out`).
    let portal = serve_behind_proxy(&sb);
    // 50 made-up names from five addresses, a few at a time.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let floods: Vec<_> = (0..5)
            .map(|t| {
                let portal = &portal;
                s.spawn(move || {
                    let mut b = Browser::new(portal);
                    b.behind_proxy_as(&format!("198.51.100.{t}"));
                    (0..10)
                        .map(|i| b.sign_in(&format!("nobody-{t}-{i}"), "guess").status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        floods
            .into_iter()
            .flat_map(|f| f.join().expect("flood thread"))
            .collect()
    });
    assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    let failed = failed_sign_ins(&sb);
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        portal
            .log()
            .contains("sign-in failed for unknown user nobody-"),
        "{}",
        portal.log()
    );
    // A name that exists still leaves its row.
    let mut b = Browser::new(&portal);
    b.behind_proxy_as("198.51.100.10");
    assert_eq!(b.sign_in("alice", "guess").status, 401);
    let failed = failed_sign_ins(&sb);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["user"], "alice", "{failed:?}");
    // A made-up name is still counted by the throttle.
    let mut b = Browser::new(&portal);
    b.behind_proxy_as("198.51.100.11");
    for _ in 0..5 {
        assert_eq!(b.sign_in("nobody", "guess").status, 401);
    }
    assert_eq!(b.sign_in("nobody", "guess").status, 429);
}
