//! `jit aws`: the credential_process contract, duplo-jit's flags, and every way the portal fails.

use std::process::Command;

use crate::support::{Sandbox, StandIn, stand_in::REGION};

#[test]
fn prints_credential_process_json_for_a_tenant() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let tf = sb.token_file(&stand_in.user_token);
    let run = sb
        .aws()
        .tenant("dev01")
        .host(&stand_in.url)
        .token_file(&tf)
        .ok();
    let issued = stand_in.last_issued();
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "exactly one line: {}",
        run.stdout
    );
    let order = [
        "Version",
        "ConsoleUrl",
        "AccessKeyId",
        "SecretAccessKey",
        "Region",
        "SessionToken",
        "Expiration",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| {
            run.stdout
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "duplo-jit's field order: {}",
        run.stdout
    );
    assert!(run.stdout.starts_with("{\"Version\":1,"), "{}", run.stdout);
    let json = run.json();
    assert_eq!(json["Version"], 1);
    assert_eq!(json["AccessKeyId"], issued.access_key_id.as_str());
    assert_eq!(json["SecretAccessKey"], issued.secret_access_key.as_str());
    assert_eq!(json["SessionToken"], issued.session_token.as_str());
    assert_eq!(json["Region"], REGION);
    let console = json["ConsoleUrl"].as_str().expect("console url");
    assert!(
        console.contains("&SigninToken=") && !run.stdout.contains("\\u0026"),
        "URL unescaped: {console}"
    );
    let exp = json["Expiration"].as_str().expect("expiration");
    assert!(
        exp.len() == 20 && exp.ends_with('Z'),
        "RFC 3339 UTC seconds: {exp}"
    );
    let exp: jiff::Timestamp = exp.parse().expect("parse expiration");
    let left = exp.as_second() - jiff::Timestamp::now().as_second();
    assert!(
        (3590..=3600).contains(&left),
        "Validity 3600 => about an hour left, got {left}"
    );
    // Protocol: tenant name looked up once, then the tenant's credentials, with the right headers.
    let reqs = stand_in.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "admin/GetTenantsForUser",
            &format!("subscriptions/{}/GetAwsConsoleTokenUrl", stand_in.tenant_id)
        ]
    );
    for r in &reqs {
        let h = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            h("Authorization"),
            Some(format!("Bearer {}", stand_in.user_token))
        );
        assert_eq!(
            h("Content-Type").as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(r.method, "GET");
    }
}

#[test]
fn accepts_duplo_jit_flag_spellings() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.user_token);
    let tf = sb.token_file(&stand_in.admin_token);
    // Spelled out by hand: the spellings are what this test is about.
    let url = stand_in.url.as_str();
    let host_eq = format!("-host={url}");
    for args in [
        ["-tenant", "dev01", "-host", url, "-no-cache"].as_slice(),
        &["--tenant=dev01", &host_eq, "--no-cache"],
        &["-tenant", &stand_in.tenant_id, "-host", url, "-no-cache"],
    ] {
        let json = sb.aws().args(args).ok().json();
        assert_eq!(
            json["AccessKeyId"],
            stand_in.last_issued().access_key_id.as_str(),
            "{args:?}"
        );
    }
    let json = sb
        .aws()
        .args(["-admin=true", "-host", url, "-token-file", &tf, "-no-cache"])
        .ok()
        .json();
    assert_eq!(
        json["AccessKeyId"],
        stand_in.last_issued().access_key_id.as_str()
    );
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/admin"), 1);
    // Names and ids alike are checked against the user's tenant list (docs/protocol.md §1).
    assert_eq!(stand_in.count("GetTenantsForUser"), 3);
}

#[test]
fn duplo_ops_and_api_host() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    // The UI host is only a name here: all calls must go to --api-host.
    sb.aws()
        .duplo_ops()
        .host("https://portal.invalid")
        .api_host(&stand_in.url)
        .ok();
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/duplo-ops"), 1);
    assert!(
        sb.cache_dir()
            .join("portal.invalid,duplo-ops,aws-creds.json")
            .exists()
    );
}

#[test]
fn cache_hit_makes_no_network_call_and_no_cache_bypasses() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let tf = sb.token_file(&stand_in.user_token);
    let aws = sb.aws().tenant("dev01").host(&stand_in.url).token_file(&tf);
    let first = aws.ok().stdout;
    let total = stand_in.requests().len();
    for _ in 0..3 {
        assert_eq!(aws.ok().stdout, first);
    }
    assert_eq!(
        stand_in.requests().len(),
        total,
        "cache hits must not touch the network"
    );

    let fresh = aws.clone().no_cache().ok().json();
    assert_ne!(
        fresh["AccessKeyId"].as_str(),
        serde_json::from_str::<serde_json::Value>(&first)
            .ok()
            .as_ref()
            .and_then(|v| v["AccessKeyId"].as_str())
    );
    assert_eq!(
        aws.ok().stdout,
        first,
        "--no-cache must not write the cache"
    );

    let refreshed = aws.clone().refresh().ok().stdout;
    assert_ne!(refreshed, first);
    assert_eq!(
        aws.ok().stdout,
        refreshed,
        "--refresh writes what it fetched"
    );
    assert_eq!(stand_in.cred_calls(), 3);
    // The tenant id was cached with the entry: --refresh did not look the name up again.
    assert_eq!(stand_in.count("GetTenantsForUser"), 2);
}

#[test]
fn refreshes_inside_the_window() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let aws = sb.aws().admin().host(&stand_in.url);
    aws.ok();
    aws.ok();
    assert_eq!(stand_in.cred_calls(), 1);
    // Narrow the window's reach: with 3599 s required, an hour-long credential is already stale.
    let strict = aws.env("JIT_REFRESH_WINDOW", "1900");
    strict.ok();
    assert_eq!(
        stand_in.cred_calls(),
        1,
        "1900 s window, 3600 s credentials: still fresh"
    );
    stand_in.state().admin_validity = 1000;
    strict.clone().refresh().ok();
    assert_eq!(stand_in.cred_calls(), 2);
    // 1000 s credentials against a 1900 s window: served for their first half, not never.
    strict.ok();
    assert_eq!(stand_in.cred_calls(), 2);
}

#[test]
fn usage_errors_exit_2() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.user_token);
    sb.aws()
        .host(&stand_in.url)
        .fails(2, "must specify --admin, --duplo-ops or --tenant");
    sb.aws()
        .no_cache()
        .refresh()
        .admin()
        .host(&stand_in.url)
        .fails(2, "cannot be used with");
    sb.aws().tenant("dev01").fails(2, "--host must be present");
    Sandbox::new()
        .aws()
        .tenant("dev01")
        .host(&stand_in.url)
        .fails(2, "no portal token");
    assert_eq!(stand_in.requests().len(), 0);
}

#[test]
fn rejects_bad_hosts_before_any_request() {
    let sb = Sandbox::new().env("JIT_TOKEN", "tok-not-sent");
    for host in [
        "http://example.com",
        "http://localhost.evil.com",
        "http://localhost@evil.com",
        "ftp://x",
        "portal",
    ] {
        sb.aws().admin().host(host).fails(1, "invalid host URL");
    }
}

#[test]
fn portal_errors_are_one_clear_line_without_secrets() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let bad = sb.token_file("tok-wrong-0123456789");
    crate::support::register_secret("tok-wrong-0123456789");
    let run = sb
        .aws()
        .admin()
        .host(&stand_in.url)
        .token_file(&bad)
        .fails(1, "status 401");
    assert!(
        run.stderr.contains("invalid or expired") && run.stderr.contains(&stand_in.url),
        "{}",
        run.stderr
    );

    let user = sb.token_file(&stand_in.user_token);
    let as_user = sb.aws().host(&stand_in.url).token_file(&user);
    as_user.clone().admin().fails(1, "status 403");
    as_user
        .clone()
        .tenant("prod01")
        .fails(1, "tenant 'prod01' missing or not allowed");
    as_user
        .tenant(&"f".repeat(32))
        .fails(1, "missing or not allowed");

    let admin = sb.token_file(&stand_in.admin_token);
    let aws = sb
        .aws()
        .admin()
        .host(&stand_in.url)
        .token_file(&admin)
        .no_cache();
    stand_in.state().fail = Some((
        503,
        format!(
            "{{\"Message\":\"down\",\"SessionToken\":\"{}\"}}",
            stand_in.admin_token
        ),
    ));
    let run = aws.fails(1, "status 503");
    assert!(
        run.stderr.contains("down") && run.stderr.contains("<redacted>"),
        "{}",
        run.stderr
    );
    stand_in.state().fail = Some((404, "nope".into()));
    aws.fails(1, "status 404");
    stand_in.state().fail = None;

    stand_in.state().raw_body = Some("{\"AccessKeyId\": 12".into());
    aws.fails(1, "malformed JSON");
    stand_in.state().raw_body = Some("{\"AccessKeyId\":\"A\",\"SessionToken\":\"T\"}".into());
    aws.fails(1, "has no SecretAccessKey");
    stand_in.state().raw_body = None;

    stand_in.state().expiration = Some("2001-01-01T00:00:00Z".into());
    aws.fails(1, "check the system clock");
    stand_in.state().expiration = Some("2099-01-01T00:00:00.5+02:00".into());
    let json = aws.ok().json();
    assert_eq!(
        json["Expiration"], "2098-12-31T22:00:00Z",
        "server Expiration wins, normalised to UTC Z"
    );
    stand_in.state().expiration = None;

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead = format!("http://127.0.0.1:{closed}");
    sb.aws()
        .admin()
        .host(&dead)
        .token_file(&admin)
        .fails(1, "portal unreachable");
}

#[test]
fn portal_dying_mid_response_is_a_clear_error() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    stand_in.state().cut_body = true;
    let aws = sb.aws().admin().host(&stand_in.url);
    let run = aws.run();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("portal"), "{}", run.stderr);
    stand_in.state().cut_body = false;
    aws.ok();
}

#[test]
fn duplo_prints_the_token_and_version_works() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let json = sb.duplo().admin().host(&stand_in.url).ok().json();
    assert_eq!(
        json,
        serde_json::json!({"Version": 1, "DuploToken": stand_in.admin_token, "NeedOTP": false})
    );
    // A portal that wants a one-time code: duplo-jit exits 1 unless it may open the browser.
    stand_in.state().otp_needed = true;
    sb.duplo()
        .admin()
        .host(&stand_in.url)
        .fails(1, "server requires MFA but --interactive mode is disabled");
    // Both name the commit the binary was built from: the checkout's HEAD.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 12, "not a git checkout: {head:?}");
    let version = sb.run(&["version"]).ok().stdout;
    assert_eq!(
        version.trim(),
        format!("jit version {} ({head})", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        sb.run(&["--version"]).ok().stdout.trim(),
        format!("jit {} ({head})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn closed_stdout_is_not_an_error() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let mut child = sb.aws().admin().host(&stand_in.url).spawn();
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
