//! `jit portal` as a service a team runs: login tokens only for a signed-in browser, revocable,
//! the audit trail, a dead sign-in endpoint, connection floods under a low descriptor limit,
//! replicas on one PostgreSQL, SIGKILL in the middle of writes, hostile request lines, TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::portal::portal_server::{
    Served, admin, get, provision, serve, spawn_served, state, strict_moto_with_portal_user, vend,
};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, SESSION_COOKIE, passwd_on, unescape};
use crate::support::{Sandbox, assert_no_secrets, finish, moto, poll, random_hex, register_secret};

const PORTAL_KEY: &str = "AKIAPORTALSERVER0000";

/// `jit portal --db DB serve ...` with the portal's AWS keys in its environment.
pub fn serve_on(sb: &Sandbox, db: &str, extra: &[&str]) -> Served {
    let mut args = vec![
        "portal",
        "--db",
        db,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sts-endpoint",
        &moto().url,
    ];
    args.extend_from_slice(extra);
    let mut cmd = sb.jit(&args);
    cmd.env("AWS_ACCESS_KEY_ID", PORTAL_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
    spawn_served(cmd)
}

pub fn admin_on(sb: &Sandbox, db: &str, args: &[&str]) -> String {
    let mut full = vec!["portal", "--db", db];
    full.extend_from_slice(args);
    sb.run(&full).ok().stdout
}

/// alice signed in on `portal` over HTTP: her session cookie and its CSRF token.
fn alice_session(portal: &Served) -> (String, String) {
    let mut b = Browser::new(portal);
    let page = b.sign_in("alice", ALICE_PASSWORD);
    assert_eq!(page.status, 303, "{}", page.body);
    let cookie = b.cookie(SESSION_COOKIE).expect("session cookie");
    register_secret(&cookie);
    (cookie, b.get("/profile").hidden("csrf"))
}

/// Authorize on the CLI login page, posted as the signed-in browser would (`session` from
/// `alice_session`); returns the status, `Location` and the page.
fn login(url: &str, session: &(String, String), extra: &[(&str, &str)]) -> (u16, String, String) {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut form = vec![
        ("csrf", session.1.as_str()),
        ("localPort", "45678"),
        ("isAdmin", "false"),
        ("action", "authorize"),
    ];
    form.extend_from_slice(extra);
    let resp = client
        .post(format!("{url}/app/user/verify-token"))
        .header("cookie", format!("{SESSION_COOKIE}={}", session.0))
        .form(&form)
        .send()
        .expect("login post");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        resp.status().as_u16(),
        location,
        resp.text().unwrap_or_default(),
    )
}

/// A `data-NAME` attribute of Authorize's hand-over page (docs/protocol.md §2).
fn handoff(page: &str, name: &str) -> String {
    let marker = format!("data-{name}=\"");
    let value = page
        .split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no data-{name} in the hand-over page: {page}"));
    unescape(value)
}

/// The token a login's hand-over page gives the CLI's callback.
fn minted(page: &str) -> String {
    let token = handoff(page, "body");
    register_secret(&token);
    token
}

fn status(url: &str, token: &str) -> u16 {
    get(&format!("{url}/v3/features/system"), token).0
}

/// The ids of the `jit portal token list` lines that contain `needle`.
fn token_ids(list: &str, needle: &str) -> Vec<String> {
    list.lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect()
}

#[test]
fn a_login_token_needs_a_signed_in_browser_and_revoking_it_takes_effect_at_once() {
    let sb = Sandbox::new();
    let (alice, _) = provision(&sb);
    passwd_on(&sb, &state(&sb), "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let u = &portal.url;
    // An API token pasted into the form (the page's old way) mints nothing any more.
    let (code, location, _) = login(u, &(String::new(), String::new()), &[("token", &alice)]);
    assert_eq!(code, 303);
    assert!(
        location.starts_with("/login?next=%2Fapp%2Fuser%2Fverify-token"),
        "{location}"
    );

    let session = alice_session(&portal);
    let (code, _, page) = login(u, &session, &[("state", "one-time-42")]);
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        handoff(&page, "callback"),
        "http://127.0.0.1:45678/?state=one-time-42",
        "the CLI's state comes back"
    );
    let from_login = minted(&page);
    assert_eq!(status(u, &from_login), 200);

    // Revoking a login token takes effect at once; the user's own token is another.
    let list = admin(&sb, &["token", "list", "--user", "alice"]);
    assert!(
        !list.contains(&alice) && !list.contains(&from_login),
        "ids only: {list}"
    );
    let login_id = token_ids(&list, "\tlogin\t")
        .into_iter()
        .next()
        .expect("the login token");
    assert!(login_id.starts_with("tok_"), "{list}");
    sb.run(&[
        "portal",
        "--state",
        &state(&sb),
        "token",
        "revoke",
        &login_id,
    ])
    .ok()
    .warns("revoked 1 token(s)");
    assert_eq!(status(u, &from_login), 401, "revoked");
    assert_eq!(status(u, &alice), 200);
    sb.run(&[
        "portal",
        "--state",
        &state(&sb),
        "token",
        "revoke",
        &login_id,
    ])
    .fails(1, "no such token");

    // Users and tenants can go; the change holds on the next request.
    let root_admin = admin(&sb, &["token", "create", "root"]).trim().to_string();
    register_secret(&root_admin);
    let names = |token: &str| -> Vec<String> {
        let (_, list) = get(&format!("{u}/admin/GetTenantsForUser"), token);
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["AccountName"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&root_admin), ["big", "dev01"]);
    admin(&sb, &["tenant", "remove", "big"]);
    assert_eq!(names(&root_admin), ["dev01"]);
    admin(&sb, &["tenant", "set", "dev01", "--validity", "1800"]);
    assert!(admin(&sb, &["tenant", "list"]).contains("\t1800s"));
    admin(&sb, &["user", "remove", "root"]);
    assert_eq!(
        status(u, &root_admin),
        401,
        "a removed user's tokens die with them"
    );
    sb.run(&["portal", "--state", &state(&sb), "user", "remove", "root"])
        .fails(1, "no portal user 'root'");
    assert_no_secrets(&portal.log(), "the portal's log");
}

#[test]
fn every_vend_is_in_the_audit_trail_with_its_user_and_no_secret() {
    let sb = Sandbox::new();
    let (alice, root) = provision(&sb);
    let portal = serve(&sb);
    let (atf, rtf) = (sb.token_file(&alice), sb.token_file(&root));
    let mut keys = Vec::new();
    for (args, who) in [
        (
            vec!["aws", "--tenant", "dev01", "--token-file", &atf],
            "alice",
        ),
        (vec!["aws", "--admin", "--token-file", &rtf], "root"),
        (
            vec!["aws", "--tenant", "dev01", "--token-file", &atf],
            "alice",
        ),
    ] {
        let mut full = args.clone();
        full.extend_from_slice(&["--host", &portal.url, "--no-cache"]);
        let creds = sb.run(&full).ok().json();
        register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
        register_secret(creds["SessionToken"].as_str().expect("session"));
        keys.push((creds["AccessKeyId"].as_str().expect("key").to_string(), who));
    }
    let st = state(&sb);
    let text = sb
        .run(&["portal", "--db", &st, "audit", "--json", "--since", "1h"])
        .ok()
        .stdout;
    assert_no_secrets(&text, "the audit trail");
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let vends: Vec<&serde_json::Value> = entries.iter().filter(|e| e["event"] == "vend").collect();
    assert_eq!(vends.len(), 3, "{text}");
    for (e, (key, who)) in vends.iter().zip(&keys) {
        assert_eq!(e["user"], *who, "{e}");
        assert_eq!(e["detail"], format!("key {key}"), "{e}");
        assert_eq!(e["client"], "127.0.0.1");
        assert!(
            e["token_id"]
                .as_str()
                .is_some_and(|t| t.starts_with("tok_"))
        );
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    assert_eq!(vends[0]["scope"], "tenant dev01");
    assert_eq!(vends[0]["role_arn"], "arn:aws:iam::111111111111:role/dev01");
    assert_eq!(vends[0]["duration_secs"], 900);
    assert_eq!(vends[1]["scope"], "admin");
    assert_eq!(vends[1]["duration_secs"], 43200);
    assert!(
        entries
            .iter()
            .any(|e| e["event"] == "user add" && e["user"] == "alice"),
        "admin changes are there too: {text}"
    );
    let alice_only = sb
        .run(&["portal", "--db", &st, "audit", "--user", "alice"])
        .ok()
        .stdout;
    assert!(
        alice_only.lines().all(|l| l.contains("\talice\t")),
        "{alice_only}"
    );
    assert_eq!(
        alice_only
            .lines()
            .filter(|l| l.contains("\tvend\t"))
            .count(),
        2
    );
}

/// A sign-in endpoint that accepts connections and never answers.
fn black_hole() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/federation", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        listener.set_nonblocking(true).expect("nonblocking");
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (url, handle)
}

#[test]
fn a_black_holed_signin_endpoint_costs_no_credentials() {
    let sb = Sandbox::new();
    let (alice, _) = provision(&sb);
    let (signin, _hole) = black_hole();
    let portal = serve_on(&sb, &state(&sb), &["--signin-url", &signin]);
    let tf = sb.token_file(&alice);
    for _ in 0..2 {
        let start = Instant::now();
        let creds = vend(&sb, &portal.url, &tf);
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "a vend waited {:?} on the sign-in endpoint",
            start.elapsed()
        );
        assert_eq!(creds["ConsoleUrl"], "", "no console URL, but the keys");
    }
    assert!(portal.log().contains("no ConsoleUrl"), "{}", portal.log());
}

/// Raise this process's own descriptor limit as far as it goes, so it can hold the connections
/// it opens with room to spare: the other tests run in this process at the same time, and a
/// limit set just above this test's own need once starved them (EMFILE on spawn).
fn raise_own_fd_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let soft = hard.max(limit.current.unwrap_or(0));
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(soft),
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(soft)
}

#[test]
fn ten_thousand_idle_connections_under_a_1024_descriptor_limit_neither_stop_nor_starve_it() {
    let room = raise_own_fd_limit();
    assert!(
        room >= 16_000,
        "this test holds 12,000 connections beside the other tests: it needs a hard descriptor limit of 16,000 at least, have {room}"
    );
    let sb = Sandbox::new();
    let (alice, _) = provision(&sb);
    let st = state(&sb);
    let mut cmd = sb.command("sh");
    cmd.args([
        "-c",
        "ulimit -n 1024 && exec \"$0\" \"$@\"",
        crate::support::JIT,
    ])
    .args(["portal", "--db", &st, "serve", "--listen", "127.0.0.1:0"])
    .args(["--sts-endpoint", &moto().url])
    .env("AWS_ACCESS_KEY_ID", PORTAL_KEY)
    .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
    let mut portal = spawn_served(cmd);
    assert!(
        portal.log().contains("under a descriptor limit of 1024"),
        "{}",
        portal.log()
    );
    let addr = portal.url.trim_start_matches("http://").to_string();
    let target: std::net::SocketAddr = addr.parse().expect("addr");
    let start = Instant::now();
    let mut idle = Vec::with_capacity(10_000);
    let mut failed = 0;
    while idle.len() + failed < 10_000 && start.elapsed() < Duration::from_secs(60) {
        match TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
            Ok(s) => idle.push(s),
            Err(_) => failed += 1,
        }
    }
    assert_eq!(idle.len() + failed, 10_000, "opened within a minute");
    // Authenticated requests still go through while all of them are held.
    let mut ok = 0;
    for _ in 0..20 {
        if status(&portal.url, &alice) == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 20, "requests starved behind idle connections");
    assert!(
        portal.child.try_wait().expect("wait").is_none(),
        "the portal exited"
    );
    // A second wave, and every connection of the first dropped at once.
    let mut wave = Vec::new();
    for _ in 0..2_000 {
        if let Ok(s) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
            wave.push(s);
        }
    }
    drop(idle);
    assert_eq!(status(&portal.url, &alice), 200);
    drop(wave);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&portal.url, &alice), 200);
    assert!(
        portal.child.try_wait().expect("wait").is_none(),
        "the portal exited"
    );
    let _ = portal.child.kill();
    assert_no_secrets(&portal.log(), "the portal's log");
}

#[test]
fn raw_control_characters_in_a_request_never_reach_the_log() {
    let sb = Sandbox::new();
    let _ = provision(&sb);
    let portal = serve(&sb);
    let addr = portal.url.trim_start_matches("http://").to_string();
    for line in [
        "GET /x\njit portal: GET /admin/GetTenantsForUser 200 root HTTP/1.1\r\n\r\n",
        "GET /\x1b[2J\x1b[31mred HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: \x1b]0;title\x07\r\n\r\n",
        "GET /ok%0Ajit%20portal:%20forged HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(line.as_bytes()).expect("send");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
    assert_eq!(status(&portal.url, "nope"), 401, "still serving");
    poll(Duration::from_secs(5), || {
        let log = portal.log();
        log.contains("GET /ok%0Ajit%20portal:%20forged 404")
            .then_some(())
            .ok_or(log)
    });
    let log = portal.log();
    assert!(!log.contains('\x1b') && !log.contains('\x07'), "{log:?}");
    assert!(
        log.lines()
            .all(|l| !l.starts_with("jit portal: GET /admin")),
        "a forged line: {log}"
    );
}

/// 50 processes adding users at once, with a database named like a lock file.
#[test]
fn parallel_admin_changes_are_all_kept() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("state.lock").display().to_string();
    admin_on(&sb, &db, &["user", "list"]);
    let children: Vec<Child> = (0..50)
        .map(|i| {
            sb.jit(&["portal", "--db", &db, "user", "add", &format!("user{i:02}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        finish(child.wait_with_output().expect("wait")).ok();
    }
    let list = admin_on(&sb, &db, &["user", "list"]);
    assert_eq!(list.lines().count(), 50, "{list}");
}

#[test]
fn it_serves_tls_directly_and_warns_about_plain_http_off_loopback() {
    let sb = Sandbox::new();
    let (alice, _) = provision(&sb);
    let (cert, key) = (
        sb.dir.path().join("cert.pem"),
        sb.dir.path().join("key.pem"),
    );
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
    let portal = serve_on(&sb, &state(&sb), &["--tls-cert", &c, "--tls-key", &k]);
    assert!(
        portal.url.starts_with("https://127.0.0.1:"),
        "{}",
        portal.url
    );
    let pem = std::fs::read(&cert).expect("cert");
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .build()
        .expect("client");
    let resp = client
        .get(format!("{}/v3/features/system", portal.url))
        .bearer_auth(&alice)
        .send()
        .expect("https request");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(!portal.log().contains("WARNING"), "{}", portal.log());
    // jit trusts the system's CA store as well as the public roots, as duplo-jit (Go) does:
    // a portal behind a company CA works once that CA is there (SSL_CERT_FILE here), and
    // fails with a line that says so until then.
    let tf = sb.token_file(&alice);
    let call = || {
        sb.aws()
            .tenant("dev01")
            .host(&portal.url)
            .token_file(&tf)
            .no_cache()
    };
    call().env("SSL_CERT_FILE", "/nonexistent").fails(
        1,
        "add its CA to the system's store, or point SSL_CERT_FILE at it",
    );
    let creds = call().env("SSL_CERT_FILE", &c).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));
    drop(portal);

    let mut cmd = sb.jit(&[
        "portal",
        "--db",
        &state(&sb),
        "serve",
        "--listen",
        "0.0.0.0:0",
    ]);
    cmd.args(["--sts-endpoint", &moto().url])
        .env("AWS_ACCESS_KEY_ID", PORTAL_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
    let open = spawn_served(cmd);
    assert!(
        open.log()
            .contains("WARNING: serving plain HTTP on 0.0.0.0:"),
        "{}",
        open.log()
    );
}

/// The portal's own AWS credentials from a profile's `credential_process` (no AWS_* keys in
/// its environment), checked by moto in strict SigV4 mode; AssumeRole names the user as
/// SourceIdentity.
#[test]
fn portal_credentials_come_from_the_aws_chain_and_assume_role_carries_source_identity() {
    let sb = Sandbox::new();
    let (strict, key, secret) = strict_moto_with_portal_user(&sb);
    let c = reqwest::blocking::Client::new();
    // The keys reach the portal only through a program the profile names.
    let helper = sb.dir.path().join("portal-creds.sh");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nprintf '{{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\"}}' {key} \"$(cat '{}')\"\n",
            sb.dir.path().join("portal-secret").display()
        ),
    )
    .expect("helper");
    std::fs::write(sb.dir.path().join("portal-secret"), secret).expect("secret file");
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let portal_config = sb.dir.path().join("portal-aws-config");
    std::fs::write(
        &portal_config,
        format!(
            "[profile portal]\nregion = us-east-1\ncredential_process = {}\n",
            helper.display()
        ),
    )
    .expect("aws config");

    let (alice, _) = provision(&sb);
    let st = state(&sb);
    let mut cmd = sb.jit(&["portal", "--db", &st, "serve", "--listen", "127.0.0.1:0"]);
    cmd.args(["--sts-endpoint", &strict.url])
        .env("AWS_PROFILE", "portal")
        .env("AWS_CONFIG_FILE", &portal_config);
    let portal = spawn_served(cmd);
    let rec = format!("{}/moto-api/recorder", strict.url);
    c.post(format!("{rec}/start-recording"))
        .send()
        .expect("start");
    let tf = sb.token_file(&alice);
    vend(&sb, &portal.url, &tf);
    c.post(format!("{rec}/stop-recording"))
        .send()
        .expect("stop");
    let recording = c
        .get(format!("{rec}/download-recording"))
        .send()
        .expect("recording")
        .text()
        .expect("text");
    // moto keeps one recording file for every instance: pick this one's AssumeRole.
    let host = strict.url.trim_start_matches("http://").to_string();
    let (line, body) = recording
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["headers"]["Host"].as_str() == Some(host.as_str()))
        .map(|r| {
            let body = r["body"].as_str().map(base64_decode).unwrap_or_default();
            (r, body)
        })
        .find(|(_, body)| body.contains("Action=AssumeRole"))
        .unwrap_or_else(|| panic!("no AssumeRole recorded for {host}: {recording}"));
    let auth = line["headers"]["Authorization"]
        .as_str()
        .unwrap_or_default();
    assert!(
        auth.contains(&format!("Credential={key}/")),
        "signed with the profile's key: {auth}"
    );
    assert!(body.contains("&SourceIdentity=alice"), "{body}");
    assert_no_secrets(&portal.log(), "the portal's log");
}

fn base64_decode(text: &str) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let Some(v) = alphabet.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- PostgreSQL ----

/// Debian's server binaries (initdb, postgres) are off PATH, under /usr/lib/postgresql/N/bin.
fn pg_bin(name: &str) -> PathBuf {
    if let Ok(p) = which::which(name) {
        return p;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} missing: run scripts/test-deps.sh (apt postgresql)"))
}

/// A throwaway PostgreSQL cluster on loopback. As root it runs as the `postgres` user.
pub struct Pg {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
}

fn as_postgres(cmd: &mut Command) {
    if rustix::process::geteuid().is_root() {
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .expect("id");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("postgres user")
        };
        std::os::unix::process::CommandExt::uid(
            std::os::unix::process::CommandExt::gid(cmd, id("-g")),
            id("-u"),
        );
    }
}

impl Pg {
    pub fn start() -> Pg {
        let dir = tempfile::tempdir().expect("tempdir");
        if rustix::process::geteuid().is_root() {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let mut initdb = Command::new(pg_bin("initdb"));
        initdb
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .env("LANG", "C.UTF-8")
            .stdout(Stdio::null());
        as_postgres(&mut initdb);
        let out = initdb.output().expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut pg = Pg {
            dir,
            port,
            server: None,
        };
        pg.run_server();
        pg
    }

    fn run_server(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut cmd = Command::new(pg_bin("postgres"));
            cmd.arg("-D")
                .arg(self.dir.path().join("data"))
                .arg("-k")
                .arg(self.dir.path())
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-c", "fsync=on", "-c", "max_connections=200"])
                .stdout(log.try_clone().expect("log"))
                .stderr(log.try_clone().expect("log"));
            as_postgres(&mut cmd);
            let mut child = cmd.spawn().expect("postgres");
            // Up when it answers; a restart after a crash may have to wait for old backends.
            let up = poll_until(Duration::from_secs(15), || {
                child.try_wait().ok().flatten().is_none() && self.ready()
            });
            if up {
                self.server = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "postgres did not start: {log}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn ready(&self) -> bool {
        Command::new(pg_bin("pg_isready"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A fresh database; its URL.
    pub fn database(&self, name: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// SIGKILL the postmaster: a crash, with recovery on the next start.
    fn crash(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(child) = self.server.take() {
            // Immediate shutdown of the whole cluster: SIGQUIT to the postmaster.
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let mut child = child;
            let _ = child.wait();
        }
    }
}

fn poll_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub fn provision_on(sb: &Sandbox, db: &str) -> String {
    admin_on(
        sb,
        db,
        &[
            "tenant",
            "add",
            "dev01",
            "--role-arn",
            "arn:aws:iam::111111111111:role/dev01",
        ],
    );
    admin_on(sb, db, &["user", "add", "alice", "--tenant", "dev01"]);
    let token = admin_on(sb, db, &["token", "create", "alice"])
        .trim()
        .to_string();
    register_secret(&token);
    token
}

#[test]
fn two_replicas_on_one_postgresql_see_every_change_at_once() {
    let pg = Pg::start();
    let sb = Sandbox::new();
    let db = pg.database("replicas");
    let alice = provision_on(&sb, &db);
    let (a, b) = (serve_on(&sb, &db, &[]), serve_on(&sb, &db, &[]));
    assert!(
        a.log().contains("database postgres://postgres@127.0.0.1:"),
        "{}",
        a.log()
    );
    assert_eq!((status(&a.url, &alice), status(&b.url, &alice)), (200, 200));
    // A login on replica A mints a token replica B honours, until it is revoked.
    passwd_on(&sb, &db, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let (_, _, page) = login(&a.url, &alice_session(&a), &[]);
    let minted_on_a = minted(&page);
    assert_eq!(status(&b.url, &minted_on_a), 200);
    let list = admin_on(&sb, &db, &["token", "list"]);
    let login_id = token_ids(&list, "\tlogin\t")
        .into_iter()
        .next()
        .expect("the login token");
    admin_on(&sb, &db, &["token", "revoke", &login_id]);
    assert_eq!(status(&a.url, &minted_on_a), 401);
    assert_eq!(
        status(&b.url, &minted_on_a),
        401,
        "revoked on A, refused by B"
    );
    let alices = token_ids(&list, "\tadmin\t");
    admin_on(&sb, &db, &["token", "revoke", &alices[0]]);
    assert_eq!(status(&b.url, &alice), 401);
    let fresh = admin_on(&sb, &db, &["token", "create", "alice"])
        .trim()
        .to_string();
    register_secret(&fresh);
    let tf = sb.token_file(&fresh);
    for replica in [&a, &b] {
        vend(&sb, &replica.url, &tf);
    }
    let audit = admin_on(&sb, &db, &["audit", "--user", "alice", "--json"]);
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"event\":\"vend\""))
            .count(),
        2
    );
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"event\":\"login\""))
            .count(),
        1
    );
}

/// libpq's URLs carry a password in the userinfo or in the query (`password=`, and
/// `sslpassword=` for the client key): none of them may reach a terminal or the log, in the
/// start-up line, the admin commands' "saved ... in" lines or a connection error.
#[test]
fn a_postgresql_password_in_any_part_of_the_url_is_never_shown() {
    let pg = Pg::start();
    let sb = Sandbox::new();
    let secret = random_hex(24);
    register_secret(&secret);
    let base = pg.database("pw_forms");
    let userinfo = base.replacen("postgres@", &format!("postgres:{secret}@"), 1);
    let forms = [
        format!("{base}?password={secret}"),
        format!("{base}?sslmode=disable&sslpassword={secret}&password={secret}"),
        format!("{userinfo}?password={secret}"),
    ];
    for (i, db) in forms.iter().enumerate() {
        let run = sb
            .run(&["portal", "--db", db, "user", "add", &format!("u{i}")])
            .ok();
        assert!(run.stderr.contains("****"), "{}", run.stderr);
        assert_no_secrets(&run.stdout, "jit portal user add's stdout");
        let portal = serve_on(&sb, db, &[]);
        assert!(
            portal.log().contains("database postgres://"),
            "{}",
            portal.log()
        );
        assert_no_secrets(&portal.log(), "the portal's log");
    }
    let unreachable = format!("postgres://postgres@127.0.0.1:1/x?password={secret}");
    let run = sb.run(&["portal", "--db", &unreachable, "user", "list"]);
    let run = run.fails(
        1,
        "cannot connect to postgres://postgres@127.0.0.1:1/x?password=****",
    );
    assert_no_secrets(&run.stdout, "jit portal user list's stdout");
}

/// Logins (each one writes a token and an audit row) as fast as they go, then SIGKILL: every
/// login that was answered is still there after a restart.
fn logins_until_killed(sb: &Sandbox, db: &str, crash: impl FnOnce()) -> Vec<String> {
    passwd_on(sb, db, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve_on(sb, db, &[]);
    let url = portal.url.clone();
    let (cookie, csrf) = alice_session(&portal);
    let writer = std::thread::spawn(move || {
        let mut answered = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let client = reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            let sent = client
                .post(format!("{url}/app/user/verify-token"))
                .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("localPort", "45678"),
                    ("action", "authorize"),
                ])
                .send();
            match sent {
                Ok(r) if r.status().as_u16() == 200 => match r.text() {
                    Ok(page) => answered.push(minted(&page)),
                    Err(_) => break,
                },
                _ => break,
            }
        }
        answered
    });
    std::thread::sleep(Duration::from_millis(1500));
    // The database goes first (a no-op for SQLite, which lives in the portal), then the portal.
    crash();
    let mut portal = portal;
    let _ = portal.child.kill();
    let answered = writer.join().expect("writer");
    assert!(
        answered.len() > 5,
        "too few writes before the kill: {}",
        answered.len()
    );
    answered
}

fn all_still_valid(sb: &Sandbox, db: &str, answered: &[String]) {
    let portal = serve_on(sb, db, &[]);
    let refused: Vec<usize> = answered
        .iter()
        .enumerate()
        .filter(|(_, t)| status(&portal.url, t) != 200)
        .map(|(i, _)| i)
        .collect();
    assert!(
        refused.is_empty(),
        "lost {} of {} answered logins",
        refused.len(),
        answered.len()
    );
    let audit = admin_on(
        sb,
        db,
        &["audit", "--user", "alice", "--json", "--limit", "100000"],
    );
    let logins = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"login\""))
        .count();
    assert!(
        logins >= answered.len(),
        "{logins} logins audited, {} answered",
        answered.len()
    );
}

#[test]
fn sigkill_during_writes_loses_nothing_committed_on_sqlite() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("crash.db").display().to_string();
    provision_on(&sb, &db);
    let answered = logins_until_killed(&sb, &db, || {});
    all_still_valid(&sb, &db, &answered);
}

#[test]
fn sigkill_of_portal_and_postgresql_during_writes_loses_nothing_committed() {
    let mut pg = Pg::start();
    let sb = Sandbox::new();
    let db = pg.database("crash");
    provision_on(&sb, &db);
    let pg_ref = &mut pg;
    let answered = logins_until_killed(&sb, &db, || pg_ref.crash());
    pg.run_server();
    all_still_valid(&sb, &db, &answered);
}

/// `jit portal backup` while the portal serves and users are being added: the copy is private,
/// opens as a database of its own, and holds every change committed before the backup began.
#[test]
fn a_backup_taken_under_load_opens_with_every_committed_row() {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let sb = Sandbox::new();
    let db = sb.dir.path().join("live.db").display().to_string();
    provision_on(&sb, &db);
    let portal = serve_on(&sb, &db, &[]);
    let committed = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (committed, stop, db) = (committed.clone(), stop.clone(), db.clone());
        let jit = sb.jit(&["portal"]).get_program().to_owned();
        let envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = sb
            .jit(&["portal"])
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
            .collect();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("load{i}");
                let mut cmd = Command::new(&jit);
                for (k, v) in &envs {
                    match v {
                        Some(v) => cmd.env(k, v),
                        None => cmd.env_remove(k),
                    };
                }
                let out = cmd
                    .args(["portal", "--db", &db, "user", "add", &name])
                    .output()
                    .expect("jit portal user add");
                assert!(out.status.success(), "{out:?}");
                committed.lock().expect("lock").push(name);
                i += 1;
            }
        })
    };
    poll(Duration::from_secs(30), || {
        let n = committed.lock().expect("lock").len();
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} users added"))
        }
    });
    let before = committed.lock().expect("lock").clone();
    let copy = sb.dir.path().join("backups").join("portal-copy.db");
    let copy_text = copy.display().to_string();
    let run = sb.run(&["portal", "--db", &db, "backup", &copy_text]).ok();
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("integrity ok") && run.stderr.contains("portal-copy.db"),
        "{}",
        run.stderr
    );
    let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(copy.parent().expect("dir"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("portal-copy.db")]);

    let users = admin_on(&sb, &copy_text, &["user", "list"]);
    for name in &before {
        assert!(
            users.contains(name.as_str()),
            "{name} missing from the copy: {users}"
        );
    }
    assert!(users.contains("alice"), "{users}");
    let audit = admin_on(&sb, &copy_text, &["audit", "--json", "--limit", "100000"]);
    assert!(
        audit.lines().count() > before.len(),
        "the copy's audit trail: {audit}"
    );

    // An existing file is never replaced.
    let size = std::fs::metadata(&copy).expect("copy").len();
    let again = sb.run(&["portal", "--db", &db, "backup", &copy_text]);
    again.fails(1, "exists: give a new file name");
    assert_eq!(std::fs::metadata(&copy).expect("copy").len(), size);
    drop(portal);
}

/// `contrib/jit-portal.service`: systemd accepts it, rates its sandbox "OK" or better, and its
/// command line and environment start a portal (on a free port and a scratch database here).
#[test]
fn the_systemd_unit_verifies_is_sandboxed_and_its_command_line_serves() {
    let unit = include_str!("../../../contrib/jit-portal.service");
    let bin = std::path::Path::new(crate::support::JIT).with_file_name("jit-portal");
    assert!(
        bin.exists(),
        "{} missing: build the workspace",
        bin.display()
    );
    let sb = Sandbox::new();
    // The unit as shipped, with the binary where this build has it.
    let path = sb.dir.path().join("jit-portal.service");
    let local = unit.replace("/usr/local/bin/jit-portal", &bin.display().to_string());
    std::fs::write(&path, &local).expect("unit");
    let verify = finish(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .expect("systemd-analyze (apt install systemd)"),
    );
    assert_eq!(verify.code, Some(0), "{}{}", verify.stdout, verify.stderr);
    assert_eq!(verify.stderr.trim(), "", "warnings from verify");
    // An exposure above 2.0 of systemd's 10 fails the threshold.
    let security = finish(
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(&path)
            .output()
            .expect("systemd-analyze"),
    );
    assert_eq!(
        security.code,
        Some(0),
        "{}{}",
        security.stdout,
        security.stderr
    );

    // Its ExecStart= and Environment= lines, run as they are but for the port and database.
    let exec = local
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut words: Vec<String> = exec.split_whitespace().map(str::to_string).collect();
    let listen = words
        .iter()
        .position(|w| w == "--listen")
        .expect("--listen");
    words[listen + 1] = "127.0.0.1:0".into();
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .args(["--sts-endpoint", &moto().url])
        .env("AWS_ACCESS_KEY_ID", PORTAL_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
    for env in local.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (k, v) = env.split_once('=').expect("K=V");
        cmd.env(k, v);
    }
    cmd.env(
        "JIT_PORTAL_DB",
        sb.dir.path().join("state").join("portal.db"),
    );
    let portal = spawn_served(cmd);
    let line = portal.log().lines().next().unwrap_or_default().to_string();
    let first: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the unit's log is JSON ({e}): {line}"));
    assert!(first["message"].is_string(), "{line}");
    let health = reqwest::blocking::get(format!("{}/healthz", portal.url)).expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
}

/// `GET` `path` on `url`: the status and the JSON body.
fn probe(url: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
        .get(format!("{url}{path}"))
        .send()
        .expect("probe");
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// `/readyz` answers 503 while PostgreSQL is down and 200 once it is back; `/healthz`, the
/// liveness probe, answers 200 throughout, so an orchestrator waits rather than restarts.
#[test]
fn readyz_follows_the_database_and_healthz_stays_alive() {
    let mut pg = Pg::start();
    let sb = Sandbox::new();
    let db = pg.database("ready");
    let portal = serve_on(&sb, &db, &[]);
    assert_eq!(
        probe(&portal.url, "/readyz"),
        (
            200,
            serde_json::json!({"database": "ok", "aws_credentials": "ok"})
        )
    );
    pg.crash();
    let down = poll(Duration::from_secs(30), || {
        let (status, body) = probe(&portal.url, "/readyz");
        match status {
            503 => Ok(body),
            other => Err(format!("{other} {body}")),
        }
    });
    assert_eq!(
        down,
        serde_json::json!({"database": "unavailable", "aws_credentials": "ok"})
    );
    assert_eq!(probe(&portal.url, "/healthz").0, 200);
    assert!(
        portal.log().contains("readiness: database unavailable"),
        "{}",
        portal.log()
    );
    pg.run_server();
    poll(Duration::from_secs(30), || {
        match probe(&portal.url, "/readyz").0 {
            200 => Ok(()),
            other => Err(format!("{other}")),
        }
    });
}

/// `/readyz` answers 503 while the portal's own AWS credentials cannot be had (here its
/// `credential_process` starts failing), and says nothing of why to the prober.
#[test]
fn readyz_follows_the_portals_own_aws_credentials() {
    let sb = Sandbox::new();
    let broken = sb.dir.path().join("broken");
    let helper = sb.dir.path().join("portal-creds.sh");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nif [ -e '{}' ]; then echo 'the vault is sealed' >&2; exit 1; fi\nprintf '{{\"Version\":1,\"AccessKeyId\":\"{PORTAL_KEY}\",\"SecretAccessKey\":\"portal-secret\"}}'\n",
            broken.display()
        ),
    )
    .expect("helper");
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let config = sb.dir.path().join("portal-aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile portal]\nregion = us-east-1\ncredential_process = {}\n",
            helper.display()
        ),
    )
    .expect("aws config");
    let st = state(&sb);
    let mut cmd = sb.jit(&["portal", "--db", &st, "serve", "--listen", "127.0.0.1:0"]);
    cmd.args(["--sts-endpoint", &moto().url])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "portal")
        .env("AWS_CONFIG_FILE", &config);
    let portal = spawn_served(cmd);
    std::fs::write(&broken, "").expect("flag");
    let (status, body) = probe(&portal.url, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"database": "ok", "aws_credentials": "unavailable"})
    );
    assert!(!body.to_string().contains("sealed"), "{body}");
    assert_eq!(probe(&portal.url, "/healthz").0, 200);
    assert!(
        portal.log().contains("AWS credentials unavailable"),
        "{}",
        portal.log()
    );
}
