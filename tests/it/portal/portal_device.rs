//! The device login (docs/protocol.md §2.1): a real `jit` against a real `jit portal serve`,
//! approved or denied in Chromium while `jit` holds no listening socket; an expired code; a
//! poller that polls too fast; a portal that does not offer it.

use std::process::Child;

use crate::portal::portal_browser::flow;
use crate::portal::portal_server::{admin, provision, serve};
use crate::portal::portal_web::{ALICE_PASSWORD, passwd};
use crate::support::stand_in::StandIn;
use crate::support::{Sandbox, Stderr, finish, poll, register_secret};
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
