//! Single sign-on: `jit portal serve` against the real npm `oidc-provider`
//! (tests/web/oidc-provider.mjs), driven over HTTP by a cookie-keeping client: the whole code
//! flow, and the refusals (unknown user, used or tampered state, another browser's state, a
//! code from another login, the provider's own errors); and logins under way kept in their
//! browsers' cookies, so starting them without end fills nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::portal::portal_server::{Served, admin, spawn_portal, state};
use crate::portal::portal_web::{OIDC_COOKIE_PREFIX, SESSION_COOKIE};
use crate::support::{Sandbox, Stderr, assert_no_secrets, register_secret};

pub const CLIENT_ID: &str = "jit-portal-test";
pub const CLIENT_SECRET: &str = "oidc-client-secret-0123456789";

/// The provider script, stopped with the test.
pub struct Provider {
    child: Child,
    pub url: String,
    log: Stderr,
}

impl Drop for Provider {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("provider log: {}", self.log.so_far());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
pub fn start_provider(redirect: &str) -> Provider {
    start_provider_with(redirect, &[])
}

#[track_caller]
pub fn start_provider_with(redirect: &str, env: &[(&str, &str)]) -> Provider {
    let web = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("web");
    assert!(
        web.join("node_modules").join("oidc-provider").exists(),
        "oidc-provider is missing: run scripts/test-deps.sh (npm ci in tests/web)"
    );
    let mut child = Command::new("node")
        .arg(web.join("oidc-provider.mjs"))
        .env("OIDC_CLIENT_ID", CLIENT_ID)
        .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env("OIDC_REDIRECT_URI", redirect)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let log = Stderr::capture(&mut child);
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("provider stdout");
    // Keep reading, so the provider never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    assert!(
        line.starts_with("http://127.0.0.1:") || line.starts_with("https://127.0.0.1:"),
        "provider did not start: {line} {}",
        log.so_far()
    );
    Provider {
        url: line.trim().to_string(),
        child,
        log,
    }
}

/// The cookie that holds the login started with `state`: its name carries 16 hex digits of
/// the state's SHA-256.
pub fn oidc_cookie(state: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(state.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{OIDC_COOKIE_PREFIX}{hex}")
}

/// The `state` a callback URL carries.
pub fn state_of(callback: &url::Url) -> String {
    callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A portal with single sign-on through a fresh provider. Portal users: alice@example.com and
/// bob@example.com (the provider also knows mallory, who is no portal user).
#[track_caller]
pub fn portal_with_sso(sb: &Sandbox) -> (Served, Provider) {
    portal_with_sso_users(sb, &[])
}

/// As [`portal_with_sso`], the provider started with `env` (its `OIDC_USERS`).
#[track_caller]
fn portal_with_sso_users(sb: &Sandbox, env: &[(&str, &str)]) -> (Served, Provider) {
    admin(sb, &["user", "add", "alice@example.com"]);
    admin(sb, &["user", "add", "bob@example.com"]);
    portal_with_sso_serving(sb, env, &[])
}

/// A portal with single sign-on through a provider started with `env`, served with `extra`
/// flags; the portal's users are the caller's to add.
#[track_caller]
fn portal_with_sso_serving(
    sb: &Sandbox,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Served, Provider) {
    register_secret(CLIENT_SECRET);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let provider = start_provider_with(&format!("http://{listen}/login/oidc/callback"), env);
    let secret_file = sb.dir.path().join("oidc-secret");
    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).expect("secret file");
    let st = state(sb);
    let secret_path = secret_file.display().to_string();
    let mut args = vec![
        "portal",
        "--state",
        &st,
        "serve",
        "--listen",
        &listen,
        "--sts-endpoint",
        "http://127.0.0.1:9",
        "--oidc-issuer",
        &provider.url,
        "--oidc-client-id",
        CLIENT_ID,
        "--oidc-client-secret-file",
        &secret_path,
        "--oidc-name",
        "Test IdP",
    ];
    args.extend_from_slice(extra);
    let served = spawn_portal(sb, &args);
    (served, provider)
}

/// An attribute value as a browser reads it.
fn unescape(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

pub struct Page {
    pub status: u16,
    pub url: url::Url,
    pub location: Option<url::Url>,
    pub body: String,
}

impl Page {
    /// The `attr` of the element with `id`.
    #[track_caller]
    fn attr(&self, id: &str, attr: &str) -> String {
        let start = self
            .body
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in {}", self.body));
        let tag_start = self.body[..start].rfind('<').expect("tag");
        let tag_end = start + self.body[start..].find('>').expect("tag end");
        let tag = &self.body[tag_start..tag_end];
        let marker = format!("{attr}=\"");
        let at = tag
            .find(&marker)
            .unwrap_or_else(|| panic!("no {attr} in {tag}"))
            + marker.len();
        let end = tag[at..].find('"').expect("quote");
        unescape(&tag[at..at + end])
    }

    fn link(&self, id: &str) -> url::Url {
        self.url.join(&self.attr(id, "href")).expect("href")
    }

    fn action(&self, id: &str) -> url::Url {
        self.url.join(&self.attr(id, "action")).expect("action")
    }
}

/// A browser without JavaScript that keeps cookies for 127.0.0.1 (cookies ignore the port, as
/// in a real browser) and follows redirects only when told to.
pub struct Browser {
    http: reqwest::blocking::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::trusting(None)
    }

    /// A browser that also trusts the certificate `pem`.
    fn trusting(pem: Option<&[u8]>) -> Browser {
        let mut http =
            reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = pem {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(pem).expect("pem"));
        }
        Browser {
            http: http.build().expect("client"),
            cookies: Vec::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn set(&mut self, name: &str, value: Option<String>) {
        self.cookies.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.cookies.push((name.into(), v));
        }
    }

    fn send(&mut self, req: reqwest::blocking::RequestBuilder, url: url::Url) -> Page {
        let header = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let resp = req.header("cookie", header).send().expect("request");
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().expect("ascii cookie");
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (k, val) = pair.split_once('=').expect("name=value");
            let gone = val.is_empty()
                || attrs.contains("Max-Age=0")
                || attrs
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970");
            self.set(k, (!gone).then(|| val.to_string()));
        }
        let location = resp
            .headers()
            .get("location")
            .map(|l| url.join(l.to_str().expect("ascii")).expect("location"));
        Page {
            status: resp.status().as_u16(),
            url,
            location,
            body: resp.text().expect("body"),
        }
    }

    pub fn get(&mut self, url: &url::Url) -> Page {
        let req = self.http.get(url.clone());
        self.send(req, url.clone())
    }

    fn post(&mut self, url: &url::Url, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(url.clone()).form(form);
        self.send(req, url.clone())
    }

    /// Follow redirects from `page` until one would go to a URL `stop` picks (returned unvisited
    /// as the page's `location`) or there are none left.
    #[track_caller]
    fn follow_until(&mut self, mut page: Page, stop: impl Fn(&url::Url) -> bool) -> Page {
        for _ in 0..20 {
            match page.location.clone() {
                Some(next) if (300..400).contains(&page.status) && !stop(&next) => {
                    // Only this machine's servers are ever asked.
                    assert_eq!(next.host_str(), Some("127.0.0.1"), "sent off-site: {next}");
                    page = self.get(&next);
                }
                _ => return page,
            }
        }
        panic!("too many redirects: {}", page.url)
    }

    fn follow(&mut self, page: Page) -> Page {
        self.follow_until(page, |_| false)
    }

    /// From `/login/oidc` with `next` (the sign-in page's button), through the provider's
    /// sign-in (and its consent page, the first time), up to the redirect to the portal's
    /// callback, which is returned unvisited.
    #[track_caller]
    pub fn until_callback(&mut self, portal: &str, next: &str, login: &str) -> url::Url {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        let start = url::Url::parse(&format!("{portal}/login/oidc?{q}")).expect("url");
        let page = self.get(&start);
        assert_eq!(page.status, 303, "{}", page.body);
        let callback = self.through_provider(page, portal, login);
        assert!(
            self.cookie(&oidc_cookie(&state_of(&callback))).is_some(),
            "the login's cookie is set"
        );
        callback
    }

    /// The provider's pages, from the redirect to it up to the one back to the portal.
    #[track_caller]
    fn through_provider(&mut self, page: Page, portal: &str, login: &str) -> url::Url {
        let at_portal = |u: &url::Url| u.as_str().starts_with(portal);
        let mut page = self.follow_until(page, at_portal);
        for _ in 0..3 {
            if let Some(loc) = page.location.clone().filter(|u| at_portal(u)) {
                return loc;
            }
            let next = if page.body.contains("id=\"login\"") {
                let action = page.action("login");
                self.post(&action, &[("login", login), ("password", "pw")])
            } else {
                let action = page.action("consent");
                self.post(&action, &[])
            };
            page = self.follow_until(next, at_portal);
        }
        panic!("never sent back to the portal: {}", page.body)
    }

    /// Start at the portal and land where it finally sends the browser.
    #[track_caller]
    fn sign_in(&mut self, portal: &str, next: &str, login: &str) -> Page {
        let callback = self.until_callback(portal, next, login);
        let page = self.get(&callback);
        self.follow(page)
    }
}

#[test]
fn oidc_sign_in_through_a_real_provider_lands_on_the_profile() {
    let sb = Sandbox::new();
    let (portal, provider) = portal_with_sso(&sb);
    let mut b = Browser::new();

    let login = b.get(
        &url::Url::parse(&format!(
            "{}/login?next=/profile%3Ftab%3Dtokens",
            portal.url
        ))
        .expect("url"),
    );
    assert!(
        login.body.contains("Sign in with Test IdP"),
        "{}",
        login.body
    );
    assert_eq!(
        login.link("oidc-sign-in").as_str(),
        format!("{}/login/oidc?next=%2Fprofile%3Ftab%3Dtokens", portal.url)
    );

    // A session from before is ended, not reused.
    b.set(SESSION_COOKIE, Some("planted-by-someone-else".into()));
    let callback = b.until_callback(&portal.url, "/profile?tab=tokens", "alice");
    let state = state_of(&callback);
    assert!(
        callback
            .query_pairs()
            .any(|(k, v)| k == "iss" && v == provider.url.as_str()),
        "{callback}"
    );
    for (k, v) in callback.query_pairs() {
        if k == "code" || k == "state" {
            register_secret(&v);
        }
    }
    let login = oidc_cookie(&state);
    let kept = b.cookie(&login).expect("the login's cookie");
    let landed = b.get(&callback);
    assert_eq!(landed.status, 303, "{}", landed.body);
    assert_eq!(
        landed.location.as_ref().map(url::Url::path),
        Some("/profile"),
        "next kept"
    );
    assert_eq!(
        landed.location.as_ref().and_then(|u| u.query()),
        Some("tab=tokens")
    );
    let session = b.cookie(SESSION_COOKIE).expect("session cookie");
    assert!(
        b.cookie(&login).is_none(),
        "the login's cookie goes when used"
    );
    assert_ne!(session, "planted-by-someone-else");
    let profile = b.follow(landed);
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert!(
        profile.body.contains("alice@example.com"),
        "{}",
        profile.body
    );

    // The same callback again: used. And with a copy of the login's cookie kept from before,
    // the provider's code is spent: nobody is signed in anew.
    let replay = b.get(&callback);
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains(USED), "{}", replay.body);
    b.set(&login, Some(kept));
    let replay = b.get(&callback);
    assert_eq!(replay.status, 502, "{}", replay.body);
    assert!(b.cookie(&login).is_none());
    assert_eq!(b.cookie(SESSION_COOKIE).as_deref(), Some(session.as_str()));

    // `next` to another site is ignored; a second sign-in needs no consent page.
    for evil in [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let mut other = Browser::new();
        let page = other.sign_in(&portal.url, evil, "bob");
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.url.path(), "/profile", "{evil}");
        assert_eq!(page.url.host_str(), Some("127.0.0.1"));
        assert!(page.body.contains("bob@example.com"), "{}", page.body);
    }

    // Two logins started in two tabs of one browser may both finish, each with its own
    // cookie.
    let mut tabs = Browser::new();
    let one = tabs.until_callback(&portal.url, "/profile", "bob");
    let two = tabs.until_callback(&portal.url, "/profile", "bob");
    assert_ne!(oidc_cookie(&state_of(&one)), oidc_cookie(&state_of(&two)));
    for callback in [one, two] {
        let page = tabs.get(&callback);
        assert_eq!(page.status, 303, "{}", page.body);
    }

    let audit = admin(&sb, &["audit", "--user", "alice@example.com"]);
    let expected = format!("oidc {}", provider.url);
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\tweb sign-in\t") && l.contains(&expected)),
        "{audit}"
    );
    let log = portal.log();
    assert!(!log.contains(&state), "state not logged: {log}");
    assert_no_secrets(&log, "the portal log");
    drop(portal);
    drop(provider);
}

#[test]
fn oidc_refuses_unknown_users_used_or_foreign_state_and_says_why() {
    let sb = Sandbox::new();
    let (portal, provider) = portal_with_sso(&sb);
    let p = portal.url.as_str();

    // Signed in at the provider, but no portal user: a clear page, and audited.
    let mut m = Browser::new();
    let page = m.sign_in(p, "/profile", "mallory");
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body
            .contains("no portal user for mallory@example.com: ask an admin"),
        "{}",
        page.body
    );
    assert!(m.cookie(SESSION_COOKIE).is_none());
    let audit = admin(&sb, &["audit"]);
    assert!(
        audit.lines().any(|l| l.contains("\tweb sign-in failed\t")
            && l.contains("no portal user mallory@example.com")),
        "{audit}"
    );

    // A callback without the cookie of the browser that started it is refused.
    let mut a = Browser::new();
    let callback = a.until_callback(p, "/profile", "alice");
    a.set(&oidc_cookie(&state_of(&callback)), None);
    let page = a.get(&callback);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains(USED), "{}", page.body);
    assert!(a.cookie(SESSION_COOKIE).is_none());

    // Another browser's callback (login CSRF: an attacker's state and code planted in a
    // victim's browser) is refused even though the victim has a login under way.
    let mut attacker = Browser::new();
    let planted = attacker.until_callback(p, "/profile", "bob");
    let mut victim = Browser::new();
    let _own = victim.until_callback(p, "/profile", "alice");
    let page = victim.get(&planted);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(victim.cookie(SESSION_COOKIE).is_none());

    // A tampered state names no login.
    let mut t = Browser::new();
    let callback = t.until_callback(p, "/profile", "alice");
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let page = t.get(&tampered);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains(USED), "{}", page.body);
    assert!(t.cookie(SESSION_COOKIE).is_none());

    // An answer that names another issuer (RFC 9207, a mix-up) is refused.
    let mut x = Browser::new();
    let callback = x.until_callback(p, "/profile", "alice");
    let mut mixed = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://other-idp.example".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let page = x.get(&mixed);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("another provider"), "{}", page.body);
    assert!(x.cookie(SESSION_COOKIE).is_none());

    // One login's code under another login's state: PKCE (and the nonce) tie a code to the
    // login that asked for it, so the exchange fails.
    let mut one = Browser::new();
    let first = one.until_callback(p, "/profile", "alice");
    let mut two = Browser::new();
    let second = two.until_callback(p, "/profile", "bob");
    let code_of = |u: &url::Url| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code")
    };
    let mut swapped = first.clone();
    let pairs: Vec<(String, String)> = first
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code" {
                code_of(&second)
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    swapped.query_pairs_mut().clear().extend_pairs(pairs);
    let page = one.get(&swapped);
    assert!(
        page.status == 502 || page.status == 403,
        "{} {}",
        page.status,
        page.body
    );
    assert!(one.cookie(SESSION_COOKIE).is_none());

    // A nonce that does not match the id token's (as when a token minted for another login
    // is slipped in) is refused: the login's cookie is resealed, with the portal's own key from
    // its database, around another nonce.
    let mut n = Browser::new();
    let callback = n.until_callback(p, "/profile", "alice");
    let name = oidc_cookie(&state_of(&callback));
    let sealed = n.cookie(&name).expect("the login's cookie");
    let forged = reseal(&sb, &state_of(&callback), &sealed, |login| {
        login["nonce"] = "forged".into();
    });
    n.set(&name, Some(forged));
    let page = n.get(&callback);
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("did not pass the portal"),
        "{}",
        page.body
    );
    assert!(n.cookie(SESSION_COOKIE).is_none());
    assert!(
        portal.log().contains("Invalid nonce: nonce mismatch"),
        "{}",
        portal.log()
    );

    // The user says no at the provider: a clear page, not the provider's error code.
    let mut d = Browser::new();
    let q = url::Url::parse(&format!("{p}/login/oidc?next=/profile")).expect("url");
    let page = d.get(&q);
    let page = d.follow_until(page, |u| u.as_str().starts_with(p));
    let cancel = page.link("cancel");
    let page = d.get(&cancel);
    let page = d.follow(page);
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("cancelled or refused"), "{}", page.body);
    assert!(!page.body.contains("access_denied"), "{}", page.body);
    assert!(page.body.contains("id=\"start-again\""), "{}", page.body);

    let audit = admin(&sb, &["audit"]);
    let failures = audit
        .lines()
        .filter(|l| l.contains("\tweb sign-in failed\t"))
        .count();
    // Callbacks for a login that is not under way in that browser (used, made up, another
    // browser's) are only logged: anyone can send those, at no cost, and the audit trail is not
    // theirs to fill.
    assert!(failures >= 5, "{audit}");
    assert!(
        !audit.contains("no login under way"),
        "stray callbacks audited: {audit}"
    );
    assert!(
        portal
            .log()
            .contains("oidc callback refused: no login under way for this state in this browser")
    );
    assert!(
        !audit.lines().any(|l| l.contains("\tweb sign-in\t")),
        "nobody got in: {audit}"
    );
    assert_no_secrets(&portal.log(), "the portal log");
    drop(provider);
}

#[test]
fn oidc_settings_are_checked_at_start_up() {
    let sb = Sandbox::new();
    let st = state(&sb);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let run = |args: &[&str], secret: Option<&str>| {
        let mut cmd = sb.jit(
            &[
                &[
                    "portal",
                    "--state",
                    st.as_str(),
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                ][..],
                &["--sts-endpoint", "http://127.0.0.1:9"][..],
                args,
            ]
            .concat(),
        );
        cmd.env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
            .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
        if let Some(s) = secret {
            cmd.env("JIT_PORTAL_OIDC_CLIENT_SECRET", s);
        }
        cmd.output().expect("serve")
    };
    register_secret(CLIENT_SECRET);
    let out = run(
        &["--oidc-issuer", &closed, "--oidc-client-id", CLIENT_ID],
        Some(CLIENT_SECRET),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "cannot discover the OpenID Connect provider at {closed}"
        )),
        "{err}"
    );
    assert_no_secrets(&err, "stderr");

    let out = run(
        &["--oidc-issuer", &closed, "--oidc-client-id", CLIENT_ID],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("needs the client secret"), "{err}");

    // The secret is read from the environment too; a portal without single sign-on shows no
    // button and answers its routes with a clear page.
    let port = free_port();
    let provider = start_provider(&format!("http://127.0.0.1:{port}/login/oidc/callback"));
    let mut cmd = sb.jit(&[
        "portal",
        "--state",
        &st,
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--sts-endpoint",
        "http://127.0.0.1:9",
        "--oidc-issuer",
        &provider.url,
        "--oidc-client-id",
        CLIENT_ID,
    ]);
    cmd.env("JIT_PORTAL_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
    let served = crate::portal::portal_server::spawn_served(cmd);
    let mut b = Browser::new();
    let page = b.get(&url::Url::parse(&format!("{}/login", served.url)).expect("url"));
    assert!(
        page.body.contains("Sign in with single sign-on"),
        "{}",
        page.body
    );
    drop(served);

    let plain = spawn_portal(
        &sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            "http://127.0.0.1:9",
        ],
    );
    let page = b.get(&url::Url::parse(&format!("{}/login", plain.url)).expect("url"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("oidc-sign-in"), "{}", page.body);
    let page = b.get(&url::Url::parse(&format!("{}/login/oidc", plain.url)).expect("url"));
    assert_eq!(page.status, 404, "{}", page.body);
}

/// Two replicas on one PostgreSQL database behind one public URL: a login started on one may
/// come back to the other, and is still used only once.
#[test]
fn oidc_login_started_on_one_replica_finishes_on_another() {
    use crate::portal::portal_ops::{Pg, admin_on};
    let sb = Sandbox::new();
    let pg = Pg::start();
    let db = pg.database("oidc");
    admin_on(&sb, &db, &["user", "add", "alice@example.com"]);
    register_secret(CLIENT_SECRET);
    let (port_a, port_b) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{port_a}");
    let provider = start_provider(&format!("{public}/login/oidc/callback"));
    let replica = |port: u16| {
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = sb.jit(&[
            "portal",
            "--db",
            &db,
            "serve",
            "--listen",
            &listen,
            "--public-url",
            &public,
            "--sts-endpoint",
            "http://127.0.0.1:9",
            "--oidc-issuer",
            &provider.url,
            "--oidc-client-id",
            CLIENT_ID,
        ]);
        cmd.env("JIT_PORTAL_OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
            .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
        crate::portal::portal_server::spawn_served(cmd)
    };
    let a = replica(port_a);
    let b = replica(port_b);

    let mut browser = Browser::new();
    let callback = browser.until_callback(&a.url, "/profile", "alice");
    assert_eq!(callback.port(), Some(port_a));
    let mut elsewhere = callback.clone();
    elsewhere.set_port(Some(port_b)).expect("port");
    let page = browser.get(&elsewhere);
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_ref().map(url::Url::path), Some("/profile"));
    let again = browser.get(&callback);
    assert_eq!(
        again.status, 400,
        "used once, on any replica: {}",
        again.body
    );
    let profile = browser.get(&url::Url::parse(&format!("{}/profile", a.url)).expect("url"));
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert!(profile.body.contains("alice@example.com"));
    assert_no_secrets(&a.log(), "replica a's log");
    assert_no_secrets(&b.log(), "replica b's log");
}

/// A provider on HTTPS with a certificate no public root vouches for: trusted only through
/// `--oidc-ca-file`.
#[test]
fn oidc_provider_behind_a_private_ca_needs_oidc_ca_file() {
    let sb = Sandbox::new();
    admin(&sb, &["user", "add", "alice@example.com"]);
    register_secret(CLIENT_SECRET);
    let (cert, key) = (sb.dir.path().join("idp.pem"), sb.dir.path().join("idp.key"));
    let openssl = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        openssl.status.success(),
        "{}",
        String::from_utf8_lossy(&openssl.stderr)
    );
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let port = free_port();
    let provider = start_provider_with(
        &format!("http://127.0.0.1:{port}/login/oidc/callback"),
        &[("OIDC_TLS_CERT", &c), ("OIDC_TLS_KEY", &k)],
    );
    assert!(provider.url.starts_with("https://"), "{}", provider.url);
    let st = state(&sb);
    let listen = format!("127.0.0.1:{port}");
    let serve = |extra: &[&str]| {
        let mut cmd = sb.jit(
            &[
                &[
                    "portal",
                    "--state",
                    st.as_str(),
                    "serve",
                    "--listen",
                    listen.as_str(),
                    "--sts-endpoint",
                    "http://127.0.0.1:9",
                    "--oidc-issuer",
                    provider.url.as_str(),
                    "--oidc-client-id",
                    CLIENT_ID,
                ][..],
                extra,
            ]
            .concat(),
        );
        cmd.env("JIT_PORTAL_OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
            .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
        cmd
    };
    let out = serve(&[]).output().expect("serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot discover the OpenID Connect provider"),
        "{err}"
    );

    let portal = crate::portal::portal_server::spawn_served(serve(&["--oidc-ca-file", &c]));
    let pem = std::fs::read(&cert).expect("cert");
    let mut b = Browser::trusting(Some(&pem));
    let page = b.sign_in(&portal.url, "/profile", "alice");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice@example.com"), "{}", page.body);
}

/// The refusal page of a callback with no login under way in its browser.
const USED: &str =
    "This sign-in has expired, was already used, or was started in another browser: start again";

/// The login sealed in `sealed` (the cookie of the login started with `state`), changed by
/// `change` and sealed again with the portal's key, read from its database: what only someone
/// holding that key could make.
fn reseal(
    sb: &Sandbox,
    login_state: &str,
    sealed: &str,
    change: impl FnOnce(&mut serde_json::Value),
) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             print(c.execute(\"SELECT key FROM server_keys WHERE name = 'cookies'\").fetchone()[0])",
            &state(sb),
        ])
        .output()
        .expect("python3");
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let key: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex key"))
        .collect();
    assert_eq!(key.len(), 32, "the cookie key: {hex}");
    let cipher = XChaCha20Poly1305::new_from_slice(&key).expect("key");
    let aad = format!("jit-portal oidc login {login_state}");
    let bytes = URL_SAFE_NO_PAD.decode(sealed).expect("base64url");
    let (nonce, ciphertext) = bytes.split_at(24);
    let json = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .expect("the login's cookie opens with the portal's key");
    let mut login: serde_json::Value = serde_json::from_slice(&json).expect("json");
    change(&mut login);
    let nonce = [7u8; 24];
    let resealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: login.to_string().as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .expect("seal");
    URL_SAFE_NO_PAD.encode([&nonce[..], &resealed].concat())
}

/// Rows per table of the sandbox's portal database.
fn table_rows(sb: &Sandbox) -> serde_json::Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             names = [r[0] for r in c.execute(\"SELECT name FROM sqlite_master WHERE type = 'table'\")]; \
             print(json.dumps({n: c.execute('SELECT COUNT(*) FROM \"%s\"' % n).fetchone()[0] for n in names}))",
            &state(sb),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("table rows")
}

/// A login under way lives in a sealed cookie of the browser that started it (`__Host-`,
/// Secure on loopback, ten minutes): thousands of starts from one address fill nothing the
/// portal keeps, refuse nobody, and a new browser's sign-in works right after.
#[test]
fn thousands_of_sign_in_starts_fill_nothing_and_leave_sign_in_working() {
    let sb = Sandbox::new();
    let (portal, _provider) = portal_with_sso(&sb);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let start = format!("{}/login/oidc?next=/profile", portal.url);
    let before = table_rows(&sb);
    for i in 0..12_000 {
        let status = http.get(&start).send().expect("start").status().as_u16();
        assert_eq!(status, 303, "start {i}");
    }
    let after = table_rows(&sb);
    assert_eq!(after, before, "the starts left rows behind");
    assert!(
        after.get("oidc_logins").is_none(),
        "no table for logins under way: {after}"
    );

    let mut b = Browser::new();
    let page = b.sign_in(&portal.url, "/profile", "alice");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice@example.com"), "{}", page.body);

    // One browser that starts without end holds eight logins at most: the ninth start forgets
    // the eight, so what it sends the portal stays small.
    let mut many = Browser::new();
    let start_url = url::Url::parse(&start).expect("url");
    let held = |b: &Browser| {
        b.cookies
            .iter()
            .filter(|(k, _)| k.starts_with(OIDC_COOKIE_PREFIX))
            .count()
    };
    for _ in 0..8 {
        assert_eq!(many.get(&start_url).status, 303);
    }
    assert_eq!(held(&many), 8);
    assert_eq!(many.get(&start_url).status, 303);
    assert_eq!(held(&many), 1);

    // Each start's cookie: `__Host-` (Secure, Path=/) on loopback, for ten minutes.
    let one = http.get(&start).send().expect("start");
    assert_eq!(one.status().as_u16(), 303);
    let set: Vec<&str> = one
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].starts_with(OIDC_COOKIE_PREFIX), "{set:?}");
    for attr in [
        "; Path=/;",
        "; HttpOnly",
        "; SameSite=Lax",
        "; Max-Age=600",
        "; Secure",
    ] {
        assert!(set[0].contains(attr), "{attr} in {set:?}");
    }
}

/// The id token's `groups` claim makes the user a member of those groups (source `sso`) at
/// each single sign-on, audited; a group made eligible for a tenant then lets them request it.
/// A name that is no valid group name is dropped.
#[test]
fn the_groups_claim_sets_the_users_single_sign_on_groups() {
    let sb = Sandbox::new();
    admin(
        &sb,
        &[
            "tenant",
            "add",
            "prod",
            "--role-arn",
            "arn:aws:iam::111111111111:role/prod",
        ],
    );
    let users = r#"{"alice": {"password": "pw", "email": "alice@example.com",
        "preferred_username": "alice", "groups": ["oncall", "db admins", "leads"]},
        "bob": {"password": "pw", "email": "bob@example.com", "preferred_username": "bob"}}"#;
    let (portal, _provider) = portal_with_sso_users(&sb, &[("OIDC_USERS", users)]);
    admin(&sb, &["eligible", "add", "prod", "group:oncall"]);
    for who in ["alice", "bob"] {
        let page = Browser::new().sign_in(&portal.url, "/profile", who);
        assert_eq!(page.status, 200, "{}", page.body);
    }
    let groups = admin(&sb, &["group", "list"]);
    assert_eq!(
        groups,
        "leads\tsso\talice@example.com(sso)\noncall\tsso\talice@example.com(sso)\n"
    );
    let trail = admin(&sb, &["audit", "--event", "sso groups"]);
    assert_eq!(
        trail.lines().count(),
        1,
        "bob has no groups: nothing changed: {trail}"
    );
    assert!(trail.contains("groups leads,oncall"), "{trail}");
    let page = Browser::new().sign_in(&portal.url, "/profile", "alice");
    assert!(
        page.body.contains("id=\"request-tenant-prod\""),
        "eligible through her group: {}",
        page.body
    );
    assert_eq!(
        admin(&sb, &["audit", "--event", "sso groups"])
            .lines()
            .count(),
        1,
        "the same groups again: nothing to record"
    );
}

/// A verified `email` claim becomes the user's email address (where their access mail goes) at
/// a single sign-on, audited as `user email` by `sso` when it changes and only then; an email
/// the provider does not say is verified changes nothing. Users are named by
/// `preferred_username` here, so their names are no addresses.
#[test]
fn a_verified_email_claim_sets_the_users_email_at_sign_in() {
    let sb = Sandbox::new();
    for u in ["alice", "bob"] {
        admin(&sb, &["user", "add", u]);
    }
    admin(&sb, &["user", "set", "bob", "--email", "bob@example.test"]);
    let users = r#"{"alice": {"password": "pw", "email": "alice@corp.example",
        "preferred_username": "alice"},
        "bob": {"password": "pw", "email": "bob@corp.example", "email_verified": false,
        "preferred_username": "bob"}}"#;
    let (portal, _provider) = portal_with_sso_serving(
        &sb,
        &[("OIDC_USERS", users)],
        &["--oidc-user-claim", "preferred_username"],
    );
    for who in ["alice", "bob", "alice"] {
        let page = Browser::new().sign_in(&portal.url, "/profile", who);
        assert_eq!(page.status, 200, "{}", page.body);
    }
    assert_eq!(
        admin(&sb, &["user", "list"]),
        "alice\tuser\t\talice@corp.example\nbob\tuser\t\tbob@example.test\n",
        "alice's verified address set; bob's unverified one not taken"
    );
    let trail = admin(&sb, &["audit", "--event", "user email"]);
    let by_sso: Vec<&str> = trail.lines().filter(|l| l.contains("\tsso\t")).collect();
    assert_eq!(
        by_sso.len(),
        1,
        "once, though alice signed in twice: {trail}"
    );
    assert!(by_sso[0].contains("alice@corp.example"), "{trail}");
}
