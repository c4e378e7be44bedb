//! Interactive login (DESIGN.md §2): the test plays the portal's browser page against the real
//! loopback listener.

use std::process::Stdio;

use crate::support::{Portal, Sandbox, finish, poll, start_login as start};

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn port(url: &url::Url) -> u16 {
    url.query_pairs()
        .find(|(k, _)| k == "localPort")
        .expect("localPort")
        .1
        .parse()
        .expect("port")
}

#[test]
fn get_callback_logs_in_and_token_is_cached() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let args = [
        "aws",
        "--admin",
        "--host",
        portal.url.as_str(),
        "--interactive",
        "--no-browser",
    ];
    let (child, login) = start(&sb, &args);
    assert_eq!(login.path(), "/app/user/verify-token");
    let q: Vec<(String, String)> = login.query_pairs().into_owned().collect();
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["localAppName", "localPort", "isAdmin", "redirect"]);
    assert_eq!(q[0].1, "duplo-jit");
    let base = format!("http://127.0.0.1:{}", port(&login));
    let c = http();

    // Preflight, a stray request and a POST from a foreign origin must not end the login.
    let pre = c
        .request(reqwest::Method::OPTIONS, format!("{base}/"))
        .send()
        .expect("options");
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        portal.url.as_str()
    );
    assert_eq!(
        pre.headers()["access-control-allow-headers"],
        "X-Requested-With, Accept, Content-Type"
    );
    assert_eq!(
        c.get(format!("{base}/favicon.ico"))
            .send()
            .expect("stray")
            .status(),
        404
    );
    let evil = c
        .post(format!("{base}/"))
        .header("Origin", "http://evil.example")
        .body(portal.admin_token.clone())
        .send()
        .expect("evil");
    assert_eq!(evil.status(), 403);

    let resp = c
        .get(format!("{base}/?t={}", portal.admin_token))
        .send()
        .expect("callback");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        portal.url.as_str()
    );
    let done = resp.headers()["location"].to_str().expect("location");
    assert_eq!(
        done,
        format!(
            "{}/app/user/verify-token?localAppName=duplo-jit&localPort={}&isAdmin=true&success=true",
            portal.url,
            port(&login)
        )
    );
    let run = finish(child.wait_with_output().expect("wait")).ok();
    assert_eq!(run.key(), portal.last_key());
    // A second token is refused: the listener is gone.
    assert!(c.get(format!("{base}/?t=again")).send().is_err());

    // The token is cached: another scope on the same host needs no browser.
    let run = sb
        .run(&[
            "aws",
            "--duplo-ops",
            "--host",
            &portal.url,
            "--interactive",
            "--no-browser",
        ])
        .ok();
    assert!(!run.stderr.contains("verify-token"), "{}", run.stderr);
    assert_eq!(portal.count("v3/admin/aws/jitAccess/duplo-ops"), 1);
    // An expired portal token means a new login, not a failure.
    portal.state().users.remove(&portal.admin_token);
    let (child, login) = start(
        &sb,
        &[
            "aws",
            "--duplo-ops",
            "--host",
            &portal.url,
            "--interactive",
            "--no-browser",
            "--refresh",
        ],
    );
    let fresh = format!("adm2-{}", crate::support::random_hex(20));
    crate::support::register_secret(&fresh);
    let root = crate::support::portal::User {
        name: "root".into(),
        admin: true,
        tenants: vec![],
    };
    portal.state().users.insert(fresh.clone(), root);
    let base = format!("http://127.0.0.1:{}", port(&login));
    let ok = c
        .post(format!("{base}/"))
        .header("Origin", portal.url.as_str())
        .body(fresh.clone())
        .send()
        .expect("post");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().expect("body"), "done");
    finish(child.wait_with_output().expect("wait")).ok();
}

#[test]
fn otp_callback_sends_the_otp_header() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let (child, login) = start(
        &sb,
        &[
            "aws",
            "--admin",
            "--host",
            &portal.url,
            "--interactive",
            "--no-browser",
            "--no-cache",
        ],
    );
    let base = format!("http://127.0.0.1:{}", port(&login));
    let payload = serde_json::json!({"token": portal.admin_token, "otp": "123456"}).to_string();
    let resp = http()
        .get(format!("{base}/v2/callbackWithOtp"))
        .query(&[("t", payload)])
        .send()
        .expect("otp");
    assert_eq!(resp.status(), 302);
    finish(child.wait_with_output().expect("wait")).ok();
    let creds = portal
        .requests()
        .into_iter()
        .find(|r| r.path.contains("jitAccess"))
        .expect("creds call");
    assert!(
        creds
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("otpcode") && v == "123456")
    );
    assert!(
        !sb.cache_dir().exists(),
        "--no-cache writes nothing, not even the token"
    );
}

#[test]
fn cancel_in_the_browser_fails_cleanly() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let (child, login) = start(
        &sb,
        &[
            "aws",
            "--tenant",
            "dev01",
            "--host",
            &portal.url,
            "--interactive",
            "--no-browser",
        ],
    );
    assert!(
        !login.query_pairs().any(|(k, _)| k == "isAdmin"),
        "tenant logins are not admin"
    );
    let base = format!("http://127.0.0.1:{}", port(&login));
    crate::support::assert_loopback_only(port(&login));
    let _ = http().get(format!("{base}/")).send().expect("cancel");
    let run = finish(child.wait_with_output().expect("wait"));
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("login cancelled in the browser"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn concurrent_logins_for_one_host_open_one_browser() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let portal = Portal::start();
    let sb = Sandbox::new();
    let scopes = [
        "--admin",
        "--admin",
        "--duplo-ops",
        "--duplo-ops",
        "--duplo-ops",
    ];
    let mut procs = Vec::new();
    for scope in scopes {
        let mut child = sb
            .jit(&[
                "aws",
                scope,
                "--host",
                &portal.url,
                "--interactive",
                "--no-browser",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let buf = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = buf.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 512];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        procs.push((child, buf, reader));
    }
    let found = poll(std::time::Duration::from_secs(20), || {
        procs
            .iter()
            .find_map(|(_, buf, _)| {
                let text = buf.lock().expect("lock").clone();
                text.split_whitespace()
                    .find(|w| w.contains("verify-token"))
                    .map(str::to_string)
            })
            .ok_or_else(|| "no login URL printed".to_string())
    });
    let login = url::Url::parse(&found).expect("url");
    let base = format!("http://127.0.0.1:{}", port(&login));
    assert_eq!(
        http()
            .get(format!("{base}/?t={}", portal.admin_token))
            .send()
            .expect("login")
            .status(),
        302
    );
    let mut urls = 0;
    for (child, buf, reader) in procs {
        let out = child.wait_with_output().expect("wait");
        reader.join().expect("reader");
        let stderr = buf.lock().expect("lock").clone();
        crate::support::assert_no_secrets(&stderr, "stderr");
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        urls += stderr.matches("verify-token").count();
    }
    assert_eq!(
        urls, 1,
        "one browser login; the others waited and reused its token"
    );
    assert_eq!(portal.cred_calls(), 2, "one fetch per scope");
}
