//! Interactive login (docs/protocol.md §2): the test plays the portal's browser page against the real
//! loopback listener.

use crate::support::{Sandbox, StandIn, Stderr, finish, poll};

#[track_caller]
fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[track_caller]
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
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = sb.aws().admin().host(&stand_in.url).start_login();
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
        stand_in.url.as_str()
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
        .body(stand_in.admin_token.clone())
        .send()
        .expect("evil");
    assert_eq!(evil.status(), 403);

    let resp = c
        .get(format!("{base}/?t={}", stand_in.admin_token))
        .send()
        .expect("callback");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        stand_in.url.as_str()
    );
    let done = resp.headers()["location"].to_str().expect("location");
    assert_eq!(
        done,
        format!(
            "{}/app/user/verify-token?localAppName=duplo-jit&localPort={}&isAdmin=true&success=true",
            stand_in.url,
            port(&login)
        )
    );
    let run = finish(child.wait_with_output().expect("wait")).ok();
    assert_eq!(run.key(), stand_in.last_key());
    // A second token is refused: the listener is gone.
    assert!(c.get(format!("{base}/?t=again")).send().is_err());

    // The token is cached: another scope on the same host needs no browser.
    let ops = sb.aws().duplo_ops().host(&stand_in.url);
    let run = ops.clone().interactive().ok();
    assert!(!run.stderr.contains("verify-token"), "{}", run.stderr);
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/duplo-ops"), 1);
    // An expired portal token means a new login, not a failure.
    stand_in.state().users.remove(&stand_in.admin_token);
    let (child, login) = ops.refresh().start_login();
    let fresh = format!("adm2-{}", crate::support::random_hex(20));
    crate::support::register_secret(&fresh);
    let root = crate::support::stand_in::User {
        name: "root".into(),
        admin: true,
        tenants: vec![],
    };
    stand_in.state().users.insert(fresh.clone(), root);
    let base = format!("http://127.0.0.1:{}", port(&login));
    let ok = c
        .post(format!("{base}/"))
        .header("Origin", stand_in.url.as_str())
        .body(fresh.clone())
        .send()
        .expect("post");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().expect("body"), "\"done\"\n");
    finish(child.wait_with_output().expect("wait")).ok();
}

#[test]
fn otp_callback_sends_the_otp_header() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = sb
        .aws()
        .admin()
        .host(&stand_in.url)
        .no_cache()
        .start_login();
    let base = format!("http://127.0.0.1:{}", port(&login));
    let payload = serde_json::json!({"token": stand_in.admin_token, "otp": "123456"}).to_string();
    let resp = http()
        .get(format!("{base}/v2/callbackWithOtp"))
        .query(&[("t", payload)])
        .send()
        .expect("otp");
    assert_eq!(resp.status(), 302);
    finish(child.wait_with_output().expect("wait")).ok();
    let creds = stand_in
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
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = sb.aws().tenant("dev01").host(&stand_in.url).start_login();
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
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.aws().admin().host(&stand_in.url).interactive();
    let ops = sb.aws().duplo_ops().host(&stand_in.url).interactive();
    let mut procs = Vec::new();
    for jit in [&admin, &admin, &ops, &ops, &ops] {
        let mut child = jit.spawn();
        let stderr = Stderr::capture(&mut child);
        procs.push((child, stderr));
    }
    let found = poll(std::time::Duration::from_secs(20), || {
        procs
            .iter()
            .find_map(|(_, stderr)| {
                stderr
                    .so_far()
                    .split_whitespace()
                    .find(|w| w.contains("verify-token"))
                    .map(str::to_string)
            })
            .ok_or_else(|| "no login URL printed".to_string())
    });
    let login = url::Url::parse(&found).expect("url");
    let base = format!("http://127.0.0.1:{}", port(&login));
    assert_eq!(
        http()
            .get(format!("{base}/?t={}", stand_in.admin_token))
            .send()
            .expect("login")
            .status(),
        302
    );
    let mut urls = 0;
    for (child, stderr) in procs {
        let out = child.wait_with_output().expect("wait");
        let stderr = stderr.all();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        urls += stderr.matches("to log in: ").count();
    }
    assert_eq!(
        urls, 1,
        "one browser login; the others waited and reused its token"
    );
    assert_eq!(stand_in.cred_calls(), 2, "one fetch per scope");
}

/// A tenant login's cached token is not reused for admin credentials: `jit portal` scopes a
/// login token to what its user approved, so `--admin` opens an admin login (`isAdmin=true`),
/// whose token then serves tenant requests too, without a browser.
#[test]
fn a_cached_tenant_login_is_not_reused_for_admin_and_an_admin_login_serves_both() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let (child, login) = sb.aws().tenant("dev01").host(&stand_in.url).start_login();
    assert!(!login.query_pairs().any(|(k, _)| k == "isAdmin"));
    let base = format!("http://127.0.0.1:{}", port(&login));
    let resp = http()
        .get(format!("{base}/?t={}", stand_in.admin_token))
        .send()
        .expect("tenant login");
    assert_eq!(resp.status(), 302);
    finish(child.wait_with_output().expect("wait")).ok();

    let (child, login) = sb.aws().admin().host(&stand_in.url).start_login();
    assert!(
        login
            .query_pairs()
            .any(|(k, v)| k == "isAdmin" && v == "true"),
        "{login}"
    );
    let base = format!("http://127.0.0.1:{}", port(&login));
    let resp = http()
        .get(format!("{base}/?t={}", stand_in.admin_token))
        .send()
        .expect("admin login");
    assert_eq!(resp.status(), 302);
    finish(child.wait_with_output().expect("wait")).ok();
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/admin"), 1);

    for jit in [
        sb.aws().tenant("prod01").host(&stand_in.url),
        sb.aws().duplo_ops().host(&stand_in.url),
    ] {
        let run = jit.interactive().ok();
        assert!(!run.stderr.contains("verify-token"), "{}", run.stderr);
    }
}
