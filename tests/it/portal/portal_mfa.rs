//! Second factors for the web sign-in (docs/protocol.md §11) against a real `jit portal serve`:
//! TOTP enrolled and used in Chromium with codes from pyotp, recovery codes, replay and the
//! throttle, the policy that sends a covered user to enrol, `user mfa --reset`, and admin vends
//! that need a sign-in with a second factor, and duplo-jit's one-time code (`IsOtpNeeded`,
//! `/v2/callbackWithOtp`, `Otpcode`) for an admin the policy covers.

use crate::portal::portal_browser::flow;
use crate::portal::portal_profile::ROOT_PASSWORD;
use crate::portal::portal_server::{admin, get, provision, serve};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, passwd};
use crate::support::{Sandbox, assert_no_secrets, finish, register_secret, venv_bin};

/// Audit lines of `event` for `user`.
fn audited(sb: &Sandbox, user: &str, event: &str) -> usize {
    admin(sb, &["audit", "--user", user])
        .lines()
        .filter(|l| l.contains(&format!("\t{event}\t")))
        .count()
}

#[test]
fn totp_enrols_then_signs_in_with_a_code_or_a_recovery_code_once_and_is_throttled() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    admin(&sb, &["set", "--require-mfa", "admins"]);
    let portal = serve(&sb);
    let python = venv_bin("python");
    let python = python.to_str().expect("utf8");
    // pyotp comes from tests/requirements.txt; a PYTHONPATH given to the test run reaches it.
    let pythonpath = std::env::var("PYTHONPATH").unwrap_or_default();
    let seen = flow(
        &sb,
        "mfa",
        &[
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("PYTHON", python),
            ("PYTHONPATH", &pythonpath),
            ("ENROL_USER", "root"),
            ("ENROL_PASSWORD", ROOT_PASSWORD),
        ],
    );
    // Enrolment: an inline SVG QR code, a wrong code refused, a right one turns it on.
    assert_eq!(seen["before"], "/profile", "{seen}");
    assert_eq!(seen["enrolUrl"], "/profile/mfa/enrol", "{seen}");
    assert_eq!(seen["qr"], 1, "{seen}");
    assert!(seen["wrongEnrol"].as_str().is_some(), "{seen}");
    assert_eq!(seen["enrolled"], "Your second factor is on.", "{seen}");
    assert_eq!(seen["recoveryCount"], 10, "{seen}");
    // The password alone starts no session.
    assert_eq!(seen["factorUrl"], "/login/factor", "{seen}");
    assert_eq!(seen["sessionBeforeCode"], false, "{seen}");
    // The code the enrolment used, and a wrong one, are refused; the next one signs in.
    assert_eq!(seen["reused"]["status"], 401, "{seen}");
    assert_eq!(seen["reused"]["url"], "/login/factor", "{seen}");
    assert_eq!(seen["wrong"]["status"], 401, "{seen}");
    assert_eq!(seen["code"]["url"], "/profile", "{seen}");
    assert_eq!(seen["sessionAfterCode"], true, "{seen}");
    // A recovery code signs in once (typed in upper case), and never again.
    assert_eq!(seen["recovery"]["url"], "/profile", "{seen}");
    assert_eq!(seen["recoveryAgain"]["status"], 401, "{seen}");
    // The password took one of the browser's five attempts and the reused recovery code one:
    // three wrong codes more are answered 401, the next 429.
    assert_eq!(
        seen["throttle"],
        serde_json::json!([401, 401, 401, 429]),
        "{seen}"
    );
    // The policy covers root (an admin without a factor): enrol first, no session before.
    assert_eq!(seen["required"]["url"], "/login/enrol", "{seen}");
    assert_eq!(seen["required"]["session"], false, "{seen}");
    assert!(
        seen["required"]["profile"]
            .as_str()
            .is_some_and(|p| p.starts_with("/login")),
        "{seen}"
    );

    assert_eq!(audited(&sb, "alice", "mfa enrol"), 1);
    assert_eq!(audited(&sb, "alice", "mfa recovery used"), 1);
    // The reused and wrong codes, the reused recovery code, the three before the throttle.
    assert_eq!(audited(&sb, "alice", "mfa failed"), 6);
    let trail = admin(&sb, &["audit", "--user", "alice", "--event", "web sign-in"]);
    assert!(trail.contains("password; second factor totp"), "{trail}");
    assert!(
        trail.contains("password; second factor recovery code"),
        "{trail}"
    );

    // `user mfa` lists the factors; `--reset` removes them and ends the session left open.
    let listed = admin(&sb, &["user", "mfa", "alice"]);
    assert!(listed.contains("totp\tenrolled"), "{listed}");
    assert!(listed.contains("recovery\t9 unused"), "{listed}");
    assert_eq!(
        admin(&sb, &["user", "sessions", "alice"]).lines().count(),
        1
    );
    admin(&sb, &["user", "mfa", "alice", "--reset"]);
    assert_eq!(
        admin(&sb, &["user", "sessions", "alice"]).lines().count(),
        0
    );
    assert_eq!(admin(&sb, &["user", "mfa", "alice"]), "");
    let reset = admin(&sb, &["audit", "--user", "alice", "--event", "mfa reset"]);
    assert!(reset.contains("1 web session ended"), "{reset}");
    let log = portal.log();
    assert!(!log.contains(ALICE_PASSWORD), "{log}");
}

#[test]
fn admin_vends_that_need_a_second_factor_refuse_a_token_without_one() {
    let sb = Sandbox::new();
    let (_, root) = provision(&sb);
    let portal = serve(&sb);
    let url = format!("{}/v3/admin/aws/jitAccess/admin", portal.url);
    let (status, body) = get(&url, &root);
    assert_eq!(status, 200, "{body}");
    admin(&sb, &["set", "--admin-vends-need-mfa", "true"]);
    // An API token never gets duplo-jit's one-time code: 401, as duplo-jit expects (§1).
    let (status, body) = get(&url, &root);
    assert_eq!(status, 401, "{body}");
    let refused = admin(&sb, &["audit", "--user", "root", "--event", "vend refused"]);
    assert!(refused.contains("second factor"), "{refused}");
    admin(&sb, &["set", "--admin-vends-need-mfa", "false"]);
    assert_eq!(get(&url, &root).0, 200);
}

/// duplo-jit's wire for an admin the policy covers (docs/protocol.md §1, §2): the portal says
/// `IsOtpNeeded`, a token alone is refused by `jit` as duplo-jit does, and `jit aws --admin
/// --interactive` signs in with the factor in Chromium, gets the token with a one-time proof on
/// `/v2/callbackWithOtp`, and vends; the same token without the proof is 401 at the admin route.
#[test]
fn an_admin_the_policy_covers_logs_in_with_the_factor_and_vends_with_the_portals_code() {
    let sb = Sandbox::new();
    let (_, root) = provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let python = venv_bin("python");
    let python = python.to_str().expect("utf8");
    let pythonpath = std::env::var("PYTHONPATH").unwrap_or_default();
    let secret_file = sb.home().join("totp-secret");
    let secret_file = secret_file.to_str().expect("utf8");
    let common = [
        ("USERNAME", "root"),
        ("PASSWORD", ROOT_PASSWORD),
        ("PYTHON", python),
        ("PYTHONPATH", pythonpath.as_str()),
        ("SECRET_FILE", secret_file),
    ];
    let enrol = [
        &common[..],
        &[("PHASE", "enrol"), ("PORTAL_URL", &portal.url)],
    ]
    .concat();
    let seen = flow(&sb, "cli-login-mfa", &enrol);
    assert_eq!(seen["enrolled"], "Your second factor is on.", "{seen}");
    admin(&sb, &["set", "--require-mfa", "admins"]);

    // A token alone: the portal wants the code, and jit says so as duplo-jit does.
    let (status, body) = get(&format!("{}/v3/features/system", portal.url), &root);
    assert_eq!(
        (status, &body["IsOtpNeeded"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );
    let token_file = sb.token_file(&root);
    sb.jit_cmd(["duplo"])
        .host(&portal.url)
        .token_file(&token_file)
        .fails(1, "server requires MFA but --interactive mode is disabled");
    let admin_url = format!("{}/v3/admin/aws/jitAccess/admin", portal.url);
    assert_eq!(
        get(&admin_url, &root).0,
        401,
        "no code, no admin credentials"
    );

    let (child, login) = sb.aws().admin().host(&portal.url).start_login();
    let log_in = [
        &common[..],
        &[("PHASE", "login"), ("LOGIN_URL", login.as_str())],
    ]
    .concat();
    let seen = flow(&sb, "cli-login-mfa", &log_in);
    assert_eq!(seen["factor"], "/login/factor", "{seen}");
    assert_eq!(seen["error"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    let run = finish(child.wait_with_output().expect("jit")).ok();
    let creds = run.json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    assert!(
        creds["AccessKeyId"]
            .as_str()
            .expect("key")
            .starts_with("ASIA"),
        "{creds}"
    );
    // The token the login handed over (cached; the code is not): 401 at the admin route
    // without the code.
    let cached = std::fs::read_dir(sb.cache_dir())
        .expect("cache")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .find_map(|t| {
            let v: serde_json::Value = serde_json::from_str(&t).ok()?;
            v["DuploToken"].as_str().map(str::to_string)
        })
        .expect("the login's token cached");
    assert_eq!(get(&admin_url, &cached).0, 401);
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// An admin login the settings want a one-time code for, approved from a sign-in without the
/// second factor: the page refuses it and says to sign in with the factor; nothing is handed
/// over (docs/protocol.md §2).
#[test]
fn an_admin_login_that_needs_the_code_is_refused_from_a_sign_in_without_the_factor() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    admin(&sb, &["set", "--admin-vends-need-mfa", "true"]);
    let portal = serve(&sb);
    let (mut child, url) = sb.aws().admin().host(&portal.url).start_login();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen["error"]
            .as_str()
            .is_some_and(|e| e.contains("sign in again with your code")),
        "{seen}"
    );
    assert_eq!(audited(&sb, "root", "login"), 0, "no token minted");
}

/// The TOTP code of `secret` at now + `offset` seconds, from pyotp (the secret on stdin).
#[track_caller]
fn totp(secret: &str, offset: i64) -> String {
    use std::io::Write;
    let script = "import pyotp, sys, time\n\
                  print(pyotp.TOTP(sys.stdin.read().strip()).at(time.time() + float(sys.argv[1])))";
    let mut child = std::process::Command::new(venv_bin("python"))
        .args(["-c", script, &offset.to_string()])
        .env(
            "PYTHONPATH",
            std::env::var("PYTHONPATH").unwrap_or_default(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(secret.as_bytes())
        .expect("secret");
    let out = child.wait_with_output().expect("pyotp");
    assert!(out.status.success(), "pyotp failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The value of the input with `id` on a page.
#[track_caller]
fn input_value(body: &str, id: &str) -> String {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[at..];
    let start = rest.find("value=\"").expect("value") + "value=\"".len();
    let end = rest[start..].find('"').expect("closing quote");
    rest[start..start + end].to_string()
}

/// `b` (signed in) sets up TOTP on the profile: the secret.
#[track_caller]
fn enrol_on_profile(b: &mut Browser) -> String {
    let page = b.get("/profile/mfa");
    let csrf = page.hidden("csrf");
    assert_eq!(b.post("/profile/mfa/start", &[("csrf", &csrf)]).status, 303);
    let secret = input_value(&b.get("/profile/mfa/enrol").body, "secret");
    let done = b.post(
        "/profile/mfa/confirm",
        &[("csrf", &csrf), ("code", &totp(&secret, 0))],
    );
    assert!(
        done.body.contains("Your second factor is on."),
        "{}",
        done.body
    );
    secret
}

/// Wrong codes on the profile's remove-TOTP form are throttled as sign-in codes are: five
/// wrong ones (400), then 429 even for the right code, and the factor stays on.
#[test]
fn wrong_codes_removing_totp_on_the_profile_are_throttled() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let mut b = Browser::new(&portal);
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
    let secret = enrol_on_profile(&mut b);
    let csrf = b.get("/profile/mfa").hidden("csrf");
    let remove = |b: &mut Browser, code: &str| {
        b.post("/profile/mfa/remove", &[("csrf", &csrf), ("code", code)])
            .status
    };
    let wrong = totp(&secret, 600);
    let statuses: Vec<u16> = (0..6).map(|_| remove(&mut b, &wrong)).collect();
    assert_eq!(statuses, [400, 400, 400, 400, 400, 429]);
    assert_eq!(
        remove(&mut b, &totp(&secret, 30)),
        429,
        "throttled, even right"
    );
    let status = b.get("/profile/mfa").body;
    assert!(
        status.contains("An authenticator app is set up"),
        "{status}"
    );
    assert_eq!(audited(&sb, "alice", "mfa remove"), 0);
    // Each wrong code that reached the check is on record, as at sign-in; the throttled ones
    // did not reach it.
    assert_eq!(audited(&sb, "alice", "mfa failed"), 5);
}
