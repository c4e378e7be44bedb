//! The device login (docs/protocol.md §2.1): a real `jit` against a real `jit portal serve`,
//! approved or denied in Chromium while `jit` holds no listening socket; an expired code; a
//! poller that polls too fast; wrong user codes guessed until limited; a portal that does not
//! offer it; an admin login on a portal whose
//! second-factor policy covers the admin (duplo-jit's one-time code with the device token).

use std::process::Child;

use crate::portal::portal_browser::flow;
use crate::portal::portal_profile::ROOT_PASSWORD;
use crate::portal::portal_server::{admin, get, provision, serve};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, passwd, serve_behind_proxy};
use crate::support::stand_in::StandIn;
use crate::support::{Sandbox, Stderr, assert_no_secrets, finish, poll, register_secret, venv_bin};
use std::time::Duration;

/// The listening TCP sockets a process holds: the inodes of `/proc/<pid>/net/tcp{,6}` rows in
/// state 0A (LISTEN) that are among its open descriptors.
fn listening_sockets(pid: u32) -> Vec<String> {
    let mine: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    assert!(
        !mine.is_empty(),
        "jit holds no socket at all: is it polling?"
    );
    let mut listening = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" && mine.iter().any(|i| i == cols[9]) {
                listening.push(format!("{table} {}", cols[1]));
            }
        }
    }
    listening
}

/// The URL and user code a device login printed on stderr, once it has.
fn device_prompt(stderr: &Stderr) -> (String, String) {
    poll(Duration::from_secs(30), || {
        let text = stderr.so_far();
        let line = text
            .lines()
            .find(|l| l.contains("enter the code"))
            .ok_or_else(|| format!("no device prompt yet: {text}"))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = |after: &str| {
            words
                .iter()
                .position(|w| *w == after)
                .and_then(|i| words.get(i + 1))
                .map(|w| w.to_string())
        };
        Ok((at("open").expect("url"), at("code").expect("code")))
    })
}

fn spawn(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> (Child, Stderr) {
    let mut cmd = sb.jit(args);
    cmd.envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn jit");
    let stderr = Stderr::capture(&mut child);
    (child, stderr)
}

fn audit_count(sb: &Sandbox, event: &str) -> usize {
    admin(sb, &["audit", "--event", event])
        .lines()
        .filter(|l| l.contains(&format!("\t{event}\t")))
        .count()
}

/// `jit aws --interactive` over SSH with no display logs in on another device: it prints a URL
/// and a code, holds no listening socket while it waits, and gets its token once the user
/// approves in Chromium; the next `jit aws` vends with the cached token.
#[test]
fn device_login_approved_in_chromium_with_no_listener_then_the_cached_token_vends() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let ssh = [("SSH_CONNECTION", "192.0.2.9 50000 192.0.2.1 22")];
    let (child, stderr) = spawn(
        &sb,
        &[
            "aws",
            "--tenant",
            "dev01",
            "--host",
            &portal.url,
            "--interactive",
        ],
        &ssh,
    );
    let (url, code) = device_prompt(&stderr);
    assert_eq!(url, format!("{}/device", portal.url));
    assert!(!url.contains(&code), "the code is in no URL jit prints");
    let listening = listening_sockets(child.id());
    assert!(listening.is_empty(), "jit listens: {listening:?}");

    let seen = flow(
        &sb,
        "device",
        &[
            ("DEVICE_URL", url.as_str()),
            ("CODE", code.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    assert_eq!(seen["landed"], "/login?next=%2Fdevice", "{seen}");
    assert_eq!(seen["back"], "/device", "{seen}");
    assert_eq!(seen["scope"], "tenant", "{seen}");
    assert_eq!(seen["client"], "127.0.0.1", "{seen}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(seen["host"], host.trim(), "{seen}");
    assert!(
        seen["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Approved")),
        "{seen}"
    );
    assert!(
        seen["again"]
            .as_str()
            .is_some_and(|m| m.contains("No login waits")),
        "a code is one-time: {seen}"
    );

    let output = child.wait_with_output().expect("jit");
    let said = stderr.all();
    assert_eq!(output.status.code(), Some(0), "{said}");
    let creds: serde_json::Value = serde_json::from_slice(&output.stdout).expect("creds json");
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    assert!(said.contains("device login approved"), "{said}");
    assert!(!said.contains("verify-token"), "no browser login: {said}");

    // The token is cached as the browser login caches it: the next run vends without a login
    // (a login would time out at once with no browser and no device prompt).
    let run = sb
        .aws()
        .tenant("dev01")
        .host(&portal.url)
        .interactive()
        .refresh()
        .env("JIT_LOGIN_TIMEOUT", "1")
        .env("BROWSER", "true")
        .ok();
    register_secret(run.json()["SecretAccessKey"].as_str().expect("secret"));
    assert!(!run.stderr.contains("enter the code"), "{}", run.stderr);
    assert_eq!(audit_count(&sb, "device code"), 1);
    assert_eq!(audit_count(&sb, "device approved"), 1);
    assert_eq!(audit_count(&sb, "login"), 1);
}

/// Deny in Chromium: `jit login --device` exits 1 and says so; nothing is minted.
#[test]
fn device_login_denied_in_chromium_fails_jit_with_a_clear_line() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let (child, stderr) = spawn(&sb, &["login", "--host", &portal.url, "--device"], &[]);
    let (url, code) = device_prompt(&stderr);
    let seen = flow(
        &sb,
        "device",
        &[
            ("DEVICE_URL", url.as_str()),
            ("CODE", code.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("ACTION", "deny"),
        ],
    );
    assert!(
        seen["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Denied")),
        "{seen}"
    );
    let output = child.wait_with_output().expect("jit");
    let said = stderr.all();
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the device login was denied in the browser"),
        "{said}"
    );
    assert_eq!(audit_count(&sb, "device denied"), 1);
    assert_eq!(audit_count(&sb, "login"), 0);
}

/// A code nobody approves expires (a portal told to expire codes after 2 s, for the test): jit
/// says so and exits 1.
#[test]
fn an_expired_device_code_fails_jit_with_a_clear_line() {
    let sb = Sandbox::new()
        .env("JIT_PORTAL_DEVICE_CODE_SECS", "2")
        .env("JIT_PORTAL_DEVICE_INTERVAL_SECS", "1");
    provision(&sb);
    let portal = serve(&sb);
    let run = finish(
        sb.jit(&["login", "--host", &portal.url, "--device"])
            .output()
            .expect("jit"),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the device login code expired before it was approved"),
        "{}",
        run.stderr
    );
}

fn post(url: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let resp = reqwest::blocking::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// A poller that does not wait its interval is told `slow_down`, and its interval grows by 5 s:
/// polling again sooner is slowed down again, polling after the new interval is answered. Code
/// requests from one address are limited.
#[test]
fn polling_too_fast_is_slowed_down_and_code_requests_are_limited_per_address() {
    let sb = Sandbox::new().env("JIT_PORTAL_DEVICE_INTERVAL_SECS", "2");
    provision(&sb);
    let portal = serve(&sb);
    let code_url = format!("{}/login/device/code", portal.url);
    let token_url = format!("{}/login/device/token", portal.url);
    let (status, code) = post(&code_url, &[("scope", "tenant"), ("host", "ci-runner")]);
    assert_eq!(status, 200, "{code}");
    assert_eq!(code["interval"], 2);
    assert_eq!(code["expires_in"], 600);
    let device_code = code["device_code"]
        .as_str()
        .expect("device code")
        .to_string();
    register_secret(&device_code);
    let poll_once = || post(&token_url, &[("device_code", &device_code)]);
    assert_eq!(poll_once().1["error"], "authorization_pending");
    // At once again (less than 2 s, whole seconds counted): too soon.
    assert_eq!(poll_once().1["error"], "slow_down");
    // The interval is 7 s now: waiting the old one is still too soon.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(poll_once().1["error"], "slow_down");
    // 12 s now: waiting it out is answered.
    std::thread::sleep(Duration::from_secs(13));
    assert_eq!(poll_once().1["error"], "authorization_pending");
    assert_eq!(
        post(&token_url, &[("device_code", "made-up")]).1["error"],
        "invalid_grant"
    );

    // Ten code requests per address in ten minutes; this test has made one.
    for _ in 1..10 {
        assert_eq!(post(&code_url, &[("host", "h")]).0, 200);
    }
    let (status, refused) = post(&code_url, &[("host", "h")]);
    assert_eq!(
        (status, refused["error"].as_str()),
        (429, Some("too_many_requests"))
    );
}

/// A portal that does not offer the device login (the stand-in answers no
/// `/.well-known/jit-portal`): `--device` says so and the browser login goes on as before.
#[test]
fn a_portal_without_device_login_says_so_and_keeps_the_browser_login() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let (mut child, stderr) = spawn(
        &sb,
        &[
            "aws",
            "--tenant",
            "dev01",
            "--host",
            &stand_in.url,
            "--interactive",
            "--device",
            "--no-browser",
        ],
        &[],
    );
    let said = poll(Duration::from_secs(30), || {
        let text = stderr.so_far();
        text.contains("/app/user/verify-token")
            .then_some(text.clone())
            .ok_or(text)
    });
    child.kill().expect("kill jit");
    child.wait().expect("reap jit");
    assert!(
        said.contains("does not offer device login; using the browser login"),
        "{said}"
    );
    assert!(!said.contains("enter the code"), "{said}");
}

/// `$PYTHON` (pyotp from tests/requirements.txt) and the `PYTHONPATH` given to the test run.
fn pyotp() -> (String, String) {
    let python = venv_bin("python").to_str().expect("utf8").to_string();
    (python, std::env::var("PYTHONPATH").unwrap_or_default())
}

/// An admin the second-factor policy covers (`--require-mfa admins`) approves `jit aws --admin
/// --device` in Chromium after signing in with a TOTP code (from pyotp): the device token comes
/// with duplo-jit's one-time code (docs/protocol.md §2.1), so the admin vend, which wants
/// `Otpcode`, works in that run; the code is in none of jit's output, nor in the portal's log.
#[test]
fn a_device_login_approved_with_the_second_factor_vends_admin_credentials() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let (python, pythonpath) = pyotp();
    let secret_file = sb.home().join("totp-secret");
    let secret_file = secret_file.to_str().expect("utf8");
    let seen = flow(
        &sb,
        "cli-login-mfa",
        &[
            ("PHASE", "enrol"),
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
            ("PYTHON", &python),
            ("PYTHONPATH", &pythonpath),
            ("SECRET_FILE", secret_file),
        ],
    );
    assert_eq!(seen["enrolled"], "Your second factor is on.", "{seen}");
    admin(&sb, &["set", "--require-mfa", "admins"]);

    let (child, stderr) = spawn(
        &sb,
        &[
            "aws",
            "--admin",
            "--host",
            &portal.url,
            "--interactive",
            "--device",
            "-v",
        ],
        &[],
    );
    let (url, code) = device_prompt(&stderr);
    let seen = flow(
        &sb,
        "device",
        &[
            ("DEVICE_URL", url.as_str()),
            ("CODE", code.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
            ("PYTHON", &python),
            ("PYTHONPATH", &pythonpath),
            ("SECRET_FILE", secret_file),
        ],
    );
    assert_eq!(seen["factor"], "/login/factor", "{seen}");
    assert_eq!(seen["scope"], "admin", "{seen}");
    assert_eq!(seen["refused"], serde_json::Value::Null, "{seen}");
    assert!(
        seen["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Approved")),
        "{seen}"
    );
    let output = child.wait_with_output().expect("jit");
    let said = stderr.all();
    assert_eq!(output.status.code(), Some(0), "{said}");
    let creds: serde_json::Value = serde_json::from_slice(&output.stdout).expect("creds json");
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    assert!(
        creds["AccessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{creds}"
    );
    assert!(
        said.contains("device login approved (admin access)"),
        "{said}"
    );
    assert!(!said.to_lowercase().contains("otpcode:"), "{said}");
    assert_no_secrets(&said, "jit's stderr");
    assert_no_secrets(&portal.log(), "the portal's log");
    // The cached entry keeps the token, never the code: the token alone is 401 at the admin
    // route, as after a browser login.
    let cached = std::fs::read_dir(sb.cache_dir())
        .expect("cache")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .find_map(|t| {
            let v: serde_json::Value = serde_json::from_str(&t).ok()?;
            v["DuploToken"].as_str().map(str::to_string)
        })
        .expect("the login's token cached");
    let admin_url = format!("{}/v3/admin/aws/jitAccess/admin", portal.url);
    assert_eq!(get(&admin_url, &cached).0, 401);
    assert_eq!(audit_count(&sb, "device approved"), 1);
}

/// The same admin device login approved from a session that signed in without the second
/// factor (`--admin-vends-need-mfa`, root has none): the page offers only Deny and refuses an
/// Approve posted anyway, so no token is minted with or without the code (docs/protocol.md
/// §2.1); jit keeps waiting until its code expires.
#[test]
fn a_device_login_for_admin_access_is_refused_from_a_sign_in_without_the_factor() {
    let sb = Sandbox::new()
        .env("JIT_PORTAL_DEVICE_CODE_SECS", "20")
        .env("JIT_PORTAL_DEVICE_INTERVAL_SECS", "1");
    provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    admin(&sb, &["set", "--admin-vends-need-mfa", "true"]);
    let portal = serve(&sb);
    let (child, stderr) = spawn(
        &sb,
        &[
            "aws",
            "--admin",
            "--host",
            &portal.url,
            "--interactive",
            "--device",
        ],
        &[],
    );
    let (url, code) = device_prompt(&stderr);
    let seen = flow(
        &sb,
        "device",
        &[
            ("DEVICE_URL", url.as_str()),
            ("CODE", code.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
        ],
    );
    assert!(
        seen["refused"]
            .as_str()
            .is_some_and(|e| e.contains("second factor")),
        "{seen}"
    );
    assert_eq!(seen["forced"], 403, "{seen}");
    let output = child.wait_with_output().expect("jit");
    let said = stderr.all();
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("expired before it was approved"), "{said}");
    assert_eq!(audit_count(&sb, "device approved"), 0);
    assert_eq!(audit_count(&sb, "login"), 0);
}

/// User code number `i` (base 20 in the code alphabet), as typed: never `real`.
fn guess(i: usize, real: &str) -> String {
    let alphabet = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut n = i;
    let code: String = (0..8)
        .map(|_| {
            let c = char::from(alphabet[n % 20]);
            n /= 20;
            c
        })
        .collect();
    let shown = format!("{}-{}", &code[..4], &code[4..]);
    if shown == real {
        guess(i + 1_000_000, real)
    } else {
        shown
    }
}

/// `POST /device` with `code` from `b`'s session: the status and the page.
#[track_caller]
fn type_code(b: &mut Browser, code: &str) -> (u16, String) {
    let form = b.get("/device");
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.hidden("csrf");
    let page = b.post(
        "/device",
        &[("csrf", &csrf), ("code", code), ("action", "show")],
    );
    (page.status, page.body)
}

/// Wrong user codes from one address (behind a trusted proxy) are limited: 10 per web session,
/// then 30 in all from the address, whoever signs in there, so even the right code is refused
/// from it; the right code from another browser at another address still shows the login and
/// approves it, and jit gets its token.
#[test]
fn wrong_user_codes_from_one_address_are_limited_and_another_browser_still_approves() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve_behind_proxy(&sb);
    let (child, stderr) = spawn(&sb, &["login", "--host", &portal.url, "--device"], &[]);
    let (url, code) = device_prompt(&stderr);

    let mut tried = 0;
    for session in 0..3 {
        let mut b = Browser::new(&portal);
        b.behind_proxy_as("198.51.100.66");
        assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
        for _ in 0..10 {
            let (status, body) = type_code(&mut b, &guess(tried, &code));
            assert_eq!(status, 400, "guess {tried}: {body}");
            assert!(body.contains("No login waits for that code"), "{body}");
            tried += 1;
        }
        let (status, body) = type_code(&mut b, &guess(tried, &code));
        assert_eq!(status, 429, "session {session}, past its 10: {body}");
        assert!(body.contains("Too many codes tried"), "{body}");
    }
    // 30 from the address: a fresh session there is refused at once, even the right code.
    let mut b = Browser::new(&portal);
    b.behind_proxy_as("198.51.100.66");
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
    let (status, body) = type_code(&mut b, &code);
    assert_eq!(status, 429, "{body}");

    // Chromium, at the proxy's own address, types the right code and approves.
    let seen = flow(
        &sb,
        "device",
        &[
            ("DEVICE_URL", url.as_str()),
            ("CODE", code.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    assert_eq!(seen["client"], "127.0.0.1", "{seen}");
    assert!(
        seen["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Approved")),
        "{seen}"
    );
    let output = child.wait_with_output().expect("jit");
    let said = stderr.all();
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains("device login approved"), "{said}");
    assert_eq!(audit_count(&sb, "device approved"), 1);
}
