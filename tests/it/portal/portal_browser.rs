//! The portal's web side in a real browser: Chromium driven by the Playwright scripts in
//! tests/web against a real `jit portal serve` with moto as STS. The scripts report what they
//! saw as JSON; the assertions live here.

use crate::portal::portal_profile::{ROOT_PASSWORD, portal_with_console};
use crate::portal::portal_server::{admin, get, provision, serve};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, SESSION_COOKIE, passwd};
use crate::support::moto::moto;
use crate::support::{Sandbox, assert_no_secrets, finish, register_secret, venv_bin};

/// Run `node tests/web/<script>.mjs` with the sandbox's environment plus `env`; it must exit 0.
/// Returns the JSON object it printed.
#[track_caller]
pub fn flow(sb: &Sandbox, script: &str, env: &[(&str, &str)]) -> serde_json::Value {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "chromium missing: run scripts/test-deps.sh"
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web");
    let mut cmd = sb.command("node");
    cmd.current_dir(dir).arg(format!("{dir}/{script}.mjs"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Ok(shots) = std::env::var("JIT_SCREENSHOTS") {
        cmd.env("JIT_SCREENSHOTS", shots);
    }
    let run = finish(cmd.output().expect("node"));
    assert_eq!(
        run.code,
        Some(0),
        "{script}.mjs failed:\n{}\n{}",
        run.stderr,
        run.stdout
    );
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{script}.mjs printed no JSON object ({e}): {}", run.stdout))
}

/// Tenants and users from `provision`, with web passwords for alice and root. Returns their
/// API tokens (alice's, root's).
#[track_caller]
fn provision_with_passwords(sb: &Sandbox) -> (String, String) {
    let tokens = provision(sb);
    passwd(sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    passwd(sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    tokens
}

/// The Validity of credentials vended straight from the portal's API with `token`.
#[track_caller]
fn validity(url: &str, token: &str) -> i64 {
    let (status, body) = get(url, token);
    assert_eq!(status, 200, "{url}: {body}");
    register_secret(body["SecretAccessKey"].as_str().expect("secret"));
    register_secret(body["SessionToken"].as_str().expect("session token"));
    body["Validity"].as_i64().expect("validity")
}

/// Audit lines of `event` for `user`.
fn audited(sb: &Sandbox, user: &str, event: &str) -> usize {
    admin(sb, &["audit", "--user", user])
        .lines()
        .filter(|l| l.contains(&format!("\t{event}\t")))
        .count()
}

#[test]
fn password_sign_in_in_chromium_and_a_wrong_password_stays_signed_out() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let seen = flow(
        &sb,
        "signin",
        &[
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("WRONG_PASSWORD", "not-her-password"),
        ],
    );
    assert_eq!(seen["anonymous"], "/login?next=%2Fprofile", "{seen}");
    let wrong = &seen["wrong"];
    assert_eq!(
        wrong["error"], "That user name and password do not match.",
        "{seen}"
    );
    assert!(
        wrong["cookie"].is_null(),
        "no session after a wrong password"
    );
    assert_eq!(wrong["profileAfter"], "/login?next=%2Fprofile", "{seen}");
    assert_eq!(seen["url"], "/profile", "{seen}");
    assert_eq!(seen["who"], "Signed in as alice", "{seen}");
    assert_eq!(seen["cookie"], true);
    assert_eq!(seen["afterLogout"], "/login", "{seen}");
    assert_eq!(seen["profileAfterLogout"], "/login?next=%2Fprofile");
    assert_eq!(audited(&sb, "alice", "web sign-in failed"), 1);
    assert_eq!(audited(&sb, "alice", "web sign-in"), 1);
    assert_eq!(audited(&sb, "alice", "web sign-out"), 1);
    let log = portal.log();
    assert!(!log.contains(ALICE_PASSWORD), "{log}");
    assert_no_secrets(&log, "the portal's log");
}

/// `jit aws --interactive` end to end: the browser it would open is not signed in, so the CLI
/// page sends it to sign in first and back; Authorize hands `jit` its token, Cancel fails it.
#[test]
fn jit_aws_interactive_signs_in_in_chromium_then_authorizes_or_cancels() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let login = sb.aws().tenant("dev01").host(&portal.url);
    let (child, url) = login.start_login();
    let path = &url.as_str()[portal.url.len()..];
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    assert!(
        seen["landed"]
            .as_str()
            .is_some_and(|l| l.starts_with("/login?next=")),
        "{seen}"
    );
    assert_eq!(seen["next"], path, "back to the very same CLI page");
    assert_eq!(seen["back"], path, "{seen}");
    let ask = seen["ask"].as_str().expect("ask");
    assert!(ask.contains("tenant access as alice"), "{ask}");
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    assert_eq!(seen["doneWho"], "Signed in as alice", "{seen}");
    let final_url = seen["final"].as_str().expect("final url");
    assert!(
        final_url.starts_with(&format!("{}/app/user/verify-token?", portal.url))
            && final_url.contains("success=true"),
        "{final_url}"
    );
    let run = finish(child.wait_with_output().expect("jit")).ok();
    let creds = run.json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    assert!(
        creds["AccessKeyId"]
            .as_str()
            .expect("key")
            .starts_with("ASIA"),
        "{creds}"
    );
    assert_eq!(audited(&sb, "alice", "login"), 1);

    // Cancel: jit fails cleanly and nothing is minted.
    let (child, url) = login.clone().no_cache().start_login();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("ACTION", "cancel"),
        ],
    );
    let final_url = seen["final"].as_str().expect("final url");
    assert!(final_url.starts_with("http://127.0.0.1:"), "{seen}");
    assert!(!final_url.contains("t="), "no token on cancel: {final_url}");
    let run = finish(child.wait_with_output().expect("jit"));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("login cancelled in the browser"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(audited(&sb, "alice", "login"), 1, "cancel mints nothing");

    // Cancel on the sign-in page, before signing in: jit hears it at once, not after 180 s.
    let (child, url) = login.clone().no_cache().start_login();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("ACTION", "cancel-unsigned"),
        ],
    );
    assert!(
        seen["waiting"]
            .as_str()
            .is_some_and(|w| w.contains("is waiting")),
        "{seen}"
    );
    let run = finish(child.wait_with_output().expect("jit"));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("login cancelled in the browser"),
        "{}",
        run.stderr
    );
    assert_eq!(audited(&sb, "alice", "login"), 1, "cancel mints nothing");

    // Admin access: refused on the page for alice, granted to root.
    let admin_login = sb.aws().admin().host(&portal.url).no_cache();
    let (mut child, url) = admin_login.start_login();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    assert!(
        seen["ask"]
            .as_str()
            .is_some_and(|a| a.contains("admin access as alice")),
        "{seen}"
    );
    assert_eq!(seen["error"], "Your user has no admin access.", "{seen}");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(audited(&sb, "alice", "login"), 1);

    let (child, url) = admin_login.start_login();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
        ],
    );
    assert!(
        seen["ask"]
            .as_str()
            .is_some_and(|a| a.contains("admin access as root")),
        "{seen}"
    );
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    let creds = finish(child.wait_with_output().expect("jit")).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    assert_eq!(audited(&sb, "root", "login"), 1);
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// The portal token a real `jit` cached after its browser login (the sandbox's one host).
#[track_caller]
fn cached_portal_token(sb: &Sandbox) -> String {
    let entry = std::fs::read_dir(sb.cache_dir())
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(",duplo-creds.json"))
        .expect("token cache entry");
    let entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(entry).expect("read")).expect("json");
    entry["DuploToken"]
        .as_str()
        .expect("DuploToken")
        .to_string()
}

/// An admin who approves tenant access on the CLI-login page gives `jit` a token for tenant
/// access only: the admin routes answer it 403 and the trail says why. `jit aws --admin` then
/// opens an admin login instead of reusing it, and that login's token vends admin keys.
#[test]
fn an_admin_login_approved_for_tenant_access_gets_no_admin_keys_in_chromium() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let u = &portal.url;
    let (child, url) = sb.aws().tenant("dev01").host(u).start_login();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
        ],
    );
    let ask = seen["ask"].as_str().expect("ask");
    assert!(ask.contains("tenant access as root"), "{ask}");
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    let creds = finish(child.wait_with_output().expect("jit")).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));

    let tenant_login = cached_portal_token(&sb);
    register_secret(&tenant_login);
    for path in [
        "/v3/admin/aws/jitAccess/admin",
        "/v3/admin/aws/jitAccess/duplo-ops",
        "/v3/admin/plans/default/k8sConfig",
    ] {
        let (status, body) = get(&format!("{u}{path}"), &tenant_login);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.as_str()
                .is_some_and(|m| m.contains("approved for tenant access only")),
            "{path}: {body}"
        );
    }
    let (tenants, _) = get(&format!("{u}/admin/GetTenantsForUser"), &tenant_login);
    assert_eq!(tenants, 200, "tenant access still works");
    let trail = admin(&sb, &["audit", "--user", "root"]);
    let refused: Vec<&str> = trail
        .lines()
        .filter(|l| l.contains("\tvend refused\t") || l.contains("\tk8s vend refused\t"))
        .collect();
    assert_eq!(refused.len(), 3, "{trail}");
    for line in &refused {
        assert!(
            line.contains("a CLI login approved for tenant access, not admin")
                && line.contains("\ttok_"),
            "{line}"
        );
    }
    assert!(
        refused[0].contains("\tadmin\t")
            && refused[1].contains("\tduplo-ops\t")
            && refused[2].contains("\tplan default\t"),
        "{trail}"
    );
    assert_eq!(
        audited(&sb, "root", "vend"),
        1,
        "only the tenant vend: {trail}"
    );

    // `jit aws --admin` after the tenant login: a fresh admin login, not the cached token.
    let (child, url) = sb.aws().admin().host(u).start_login();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "isAdmin" && v == "true"),
        "{url}"
    );
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "root"),
            ("PASSWORD", ROOT_PASSWORD),
        ],
    );
    let ask = seen["ask"].as_str().expect("ask");
    assert!(ask.contains("admin access as root"), "{ask}");
    let creds = finish(child.wait_with_output().expect("jit")).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    let key = creds["AccessKeyId"].as_str().expect("key");
    assert!(key.starts_with("ASIA"), "{creds}");
    let trail = admin(&sb, &["audit", "--user", "root", "--event", "vend"]);
    assert!(
        trail
            .lines()
            .any(|l| l.contains("\tadmin\t") && l.contains(&format!("key {key}"))),
        "the admin login vended admin keys: {trail}"
    );
    let admin_login = cached_portal_token(&sb);
    register_secret(&admin_login);
    assert_ne!(admin_login, tenant_login);
    assert_eq!(
        validity(&format!("{u}/v3/admin/aws/jitAccess/admin"), &admin_login),
        43200
    );
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// Forms auto-submitted from other origins change nothing for a signed-in victim.
#[test]
fn forms_posted_from_other_origins_neither_sign_out_nor_authorize() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let seen = flow(
        &sb,
        "csrf",
        &[
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    let attacks = seen["attacks"].as_array().expect("attacks");
    assert_eq!(attacks.len(), 8, "{seen}");
    for a in attacks {
        let status = a["status"].as_u64().expect("status");
        if a["attacker"] == "same-site" {
            // The session cookie went along; the missing CSRF token is what stops it.
            assert_eq!(status, 403, "{a}");
        } else {
            // SameSite=Lax keeps the cookie home: the portal sees no session at all.
            assert!(
                status == 403
                    || (status == 303
                        && a["location"]
                            .as_str()
                            .is_some_and(|l| l == "/login" || l.starts_with("/login?next=%2F"))),
                "{a}"
            );
        }
        let location = a["location"].as_str().unwrap_or_default();
        assert!(
            !location.contains("?t=") && !location.contains("&t="),
            "a token went out: {a}"
        );
    }
    assert_eq!(seen["after"], "/profile", "still signed in: {seen}");
    assert_eq!(seen["who"], "Signed in as alice");
    assert_eq!(seen["sameCookie"], true);
    assert_eq!(audited(&sb, "alice", "login"), 0, "no token minted");
    assert_eq!(audited(&sb, "alice", "web sign-out"), 0, "not signed out");
    let tokens = admin(&sb, &["token", "list", "--user", "alice"]);
    assert!(!tokens.contains("login"), "{tokens}");
}

/// A session id planted before sign-in is replaced, and is worth nothing afterwards: a made-up
/// one, and root's real one.
#[test]
fn a_session_cookie_planted_before_sign_in_is_replaced_and_gives_no_access() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let mut root = Browser::new(&portal);
    assert_eq!(root.sign_in("root", ROOT_PASSWORD).status, 303);
    let roots = root.cookie(SESSION_COOKIE).expect("root's session");
    register_secret(&roots);
    assert_eq!(root.get("/profile").status, 200);

    for planted in ["jit_made-up-session-value", roots.as_str()] {
        let seen = flow(
            &sb,
            "fixation",
            &[
                ("PORTAL_URL", &portal.url),
                ("USERNAME", "alice"),
                ("PASSWORD", ALICE_PASSWORD),
                ("PLANTED", planted),
            ],
        );
        assert_eq!(seen["plantedBefore"], true, "{seen}");
        assert_eq!(seen["url"], "/profile", "{seen}");
        assert_eq!(seen["who"], "Signed in as alice", "{seen}");
        assert_eq!(seen["cookieSet"], true, "{seen}");
        assert_eq!(seen["cookieChanged"], true, "{seen}");
        assert_eq!(seen["readableByScript"], false, "HttpOnly: {seen}");
        assert_eq!(
            seen["plantedProfile"], "/login?next=%2Fprofile",
            "the planted value opens nothing: {seen}"
        );
    }
    assert_eq!(
        root.get("/profile").status,
        303,
        "root's planted session ended with alice's sign-in"
    );
}

/// Cookie tossing: another server on the portal's host plants a session cookie at a narrower
/// path beside the victim's own, which the browser then sends first. The CLI login page refuses
/// the pair and says what to do, instead of asking to authorize as the attacker; and on loopback
/// the session cookie Chromium stored is `__Host-` and Secure.
#[test]
fn a_session_cookie_planted_at_a_narrower_path_is_refused_not_used() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let mut root = Browser::new(&portal);
    assert_eq!(root.sign_in("root", ROOT_PASSWORD).status, 303);
    let roots = root.cookie(SESSION_COOKIE).expect("root's session");
    register_secret(&roots);

    let seen = flow(
        &sb,
        "planted",
        &[
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("PLANTED", &roots),
            (
                "LOGIN_PATH",
                "/app/user/verify-token?localAppName=duplo-jit&localPort=45678&isAdmin=false&state=s-1",
            ),
        ],
    );
    let login = &seen["login"];
    assert!(login["ask"].is_null(), "asked to authorize: {seen}");
    assert_eq!(login["status"], 400, "{seen}");
    assert!(
        login["message"]
            .as_str()
            .is_some_and(|m| m.contains("clear this site's cookies")),
        "{seen}"
    );
    assert_eq!(seen["who"], "Signed in as alice", "{seen}");
    // The session, and the known-browser cookie a password sign-in leaves.
    assert_eq!(
        seen["stored"],
        serde_json::json!([{
            "name": SESSION_COOKIE, "path": "/", "secure": true, "httpOnly": true,
            "sameSite": "Lax",
        }, {
            "name": "__Host-jit_device", "path": "/", "secure": true, "httpOnly": true,
            "sameSite": "Lax",
        }]),
        "plain HTTP on loopback, which browsers treat as secure: {seen}"
    );
    assert_eq!(audited(&sb, "root", "login"), 0, "nothing minted for root");
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// The profile page clicked in Chromium: the console opens on AWS's federation sign-in, the
/// copied console URL is on the clipboard, an API token is made and revoked, and the temporary
/// credentials work with the AWS CLI against moto.
#[test]
fn the_profile_page_in_chromium_console_clipboard_tokens_and_credentials() {
    let sb = Sandbox::new();
    let (portal, stand_in, _, _) = portal_with_console(&sb);
    let seen = flow(
        &sb,
        "profile",
        &[
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    for secret in [
        &seen["console"],
        &seen["copiedUrl"],
        &seen["token"]["value"],
        &seen["credentials"]["posix"],
    ] {
        register_secret(secret.as_str().unwrap_or_default());
    }
    assert_eq!(seen["user"], "alice");
    assert_eq!(seen["targets"], serde_json::json!(["tenant-dev01"]));
    let federation = format!("{}/federation?Action=login", stand_in.url);
    let console = seen["console"].as_str().expect("console url");
    assert!(
        console.starts_with(&federation) && console.contains("SigninToken=signin-"),
        "{console}"
    );
    let copied = seen["copiedUrl"].as_str().expect("clipboard");
    assert!(
        copied.starts_with(&federation) && copied.contains("SigninToken=signin-"),
        "the clipboard holds the URL: {copied}"
    );
    assert_ne!(copied, console, "each click vends anew");
    assert!(
        seen["copyStatus"]
            .as_str()
            .is_some_and(|s| s.starts_with("Copied. The URL signs in for 15 minutes")),
        "{seen}"
    );
    assert_eq!(seen["stillOn"], "/profile");

    let token = &seen["token"];
    assert_eq!(token["copied"], true, "{token}");
    assert_eq!(token["statusBefore"], 200, "the new token works");
    assert_eq!(token["listed"], true);
    assert_eq!(token["listedAfter"], false, "{token}");
    let value = token["value"].as_str().expect("token");
    let tenants = format!("{}/admin/GetTenantsForUser", portal.url);
    assert_eq!(get(&tenants, value).0, 401, "revoked");

    let phone = &seen["phone"];
    assert_eq!(
        phone["scrollWidth"], phone["width"],
        "the profile scrolls sideways on a phone: {phone}"
    );

    let creds = &seen["credentials"];
    assert_eq!(creds["heading"], "Temporary AWS Credentials");
    assert_eq!(
        creds["copied"], true,
        "Copy put the exports on the clipboard"
    );
    let posix = creds["posix"].as_str().expect("exports");
    let vars: Vec<(&str, &str)> = posix
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.trim_end_matches(';').split_once('='))
        .map(|(k, v)| (k, v.trim_matches('\'')))
        .collect();
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {name} in {posix}"))
    };
    assert_eq!(var("AWS_ACCESS_KEY_ID"), creds["accessKeyId"]);
    let mut aws = sb.command(venv_bin("aws"));
    aws.env("AWS_ENDPOINT_URL", &moto().url).args([
        "sts",
        "get-caller-identity",
        "--output",
        "json",
    ]);
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
    ] {
        aws.env(name, var(name));
    }
    let who = finish(aws.output().expect("aws")).ok().json();
    let arn = who["Arn"].as_str().expect("arn");
    assert!(
        arn.starts_with("arn:aws:sts::111111111111:assumed-role/dev01/") && arn.ends_with("alice"),
        "{arn}"
    );
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    let vends = audit
        .lines()
        .filter(|l| l.contains("\tvend\t") && l.contains("via web session ses_"))
        .count();
    assert_eq!(vends, 3, "console, console URL, credentials: {audit}");
    assert_no_secrets(&audit, "the audit trail");
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// An admin changes a tenant's AWS Access Token Validity and the admin session length on the
/// admin pages in Chromium, and sets a user's email address; the next vends last the new times.
#[test]
fn admin_pages_in_chromium_change_the_next_vends_duration() {
    let sb = Sandbox::new();
    let (alice, root) = provision_with_passwords(&sb);
    let portal = serve(&sb);
    let u = &portal.url;
    let (_, tenants) = get(&format!("{u}/admin/GetTenantsForUser"), &alice);
    let dev01 = tenants[0]["TenantId"]
        .as_str()
        .expect("dev01's id")
        .to_string();
    let tenant_creds = format!("{u}/subscriptions/{dev01}/GetAwsConsoleTokenUrl");
    let admin_creds = format!("{u}/v3/admin/aws/jitAccess/admin");
    assert_eq!(validity(&tenant_creds, &alice), 900, "60 s raised to 900");
    assert_eq!(validity(&admin_creds, &root), 43200, "50000 s clamped");

    let seen = flow(
        &sb,
        "admin",
        &[
            ("PORTAL_URL", u),
            ("ADMIN_USERNAME", "root"),
            ("ADMIN_PASSWORD", ROOT_PASSWORD),
            ("TENANT", "dev01"),
            ("VALIDITY", "1800"),
            ("ADMIN_SESSION", "3600"),
            ("EMAIL_USER", "alice"),
            ("EMAIL", "alice@example.test"),
        ],
    );
    assert_eq!(seen["url"], "/admin/tenants", "{seen}");
    let tenant = &seen["tenant"];
    assert_eq!(tenant["url"], "/admin/tenants/dev01", "{seen}");
    assert_eq!(tenant["id"], dev01.as_str());
    assert_eq!(tenant["validityBefore"], "900");
    assert!(tenant["error"].is_null(), "{seen}");
    assert!(!tenant["notice"].is_null(), "a saved notice: {seen}");
    assert_eq!(tenant["validityAfter"], "1800");
    assert!(
        tenant["row"].as_str().is_some_and(|r| r.contains("1800")),
        "{seen}"
    );
    let settings = &seen["settings"];
    assert_eq!(
        settings["before"], "43200",
        "50000 shown as what it gives: {seen}"
    );
    assert!(settings["error"].is_null(), "{seen}");
    assert_eq!(settings["after"], "3600");
    assert_eq!(
        seen["users"],
        serde_json::json!(["user-alice", "user-root"])
    );
    let email = &seen["email"];
    assert_eq!(email["url"], "/admin/users/alice", "{seen}");
    assert_eq!(email["before"], "", "{seen}");
    assert!(email["error"].is_null(), "{seen}");
    assert_eq!(email["notice"], "Changes saved.", "{seen}");
    assert_eq!(email["after"], "alice@example.test", "{seen}");
    assert_eq!(email["row"], "alice@example.test", "{seen}");
    assert!(
        admin(&sb, &["user", "list"]).contains("\talice@example.test\n"),
        "stored"
    );
    assert_eq!(seen["audit"]["heading"], "Audit");
    let rows = seen["audit"]["rows"].as_array().expect("audit rows");
    assert!(
        rows.iter().any(|r| r
            .as_str()
            .is_some_and(|r| r.contains("tenant set") && r.contains("root"))),
        "{seen}"
    );

    assert_eq!(validity(&tenant_creds, &alice), 1800, "the new validity");
    assert_eq!(validity(&admin_creds, &root), 3600, "the new admin session");
    let tf = sb.token_file(&alice);
    let creds = crate::portal::portal_server::vend(&sb, u, &tf);
    let expires: jiff::Timestamp = creds["Expiration"]
        .as_str()
        .expect("expiration")
        .parse()
        .expect("rfc 3339");
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((1700..=1800).contains(&left), "jit aws gets {left} s");
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// With scripts off the profile still works: no dead Copy buttons, and Copy AWS Console URL
/// shows the URL on a page to copy by hand.
#[test]
fn the_profile_without_javascript_shows_the_console_url_to_copy() {
    let sb = Sandbox::new();
    let (portal, stand_in, _, _) = portal_with_console(&sb);
    let seen = flow(
        &sb,
        "nojs",
        &[
            ("PORTAL_URL", &portal.url),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    let page = &seen["consoleUrlPage"];
    let url = page["value"].as_str().expect("console url");
    register_secret(url);
    assert_eq!(seen["who"], "Signed in as alice", "{seen}");
    assert!(
        seen["copyButtons"].as_u64().is_some_and(|n| n > 0),
        "{seen}"
    );
    assert_eq!(seen["copyButtonsVisible"], 0, "hidden without scripts");
    assert_eq!(page["url"], "/profile/console-url", "{seen}");
    assert_eq!(page["heading"], "AWS Console URL");
    assert!(
        url.starts_with(&format!("{}/federation?Action=login", stand_in.url))
            && url.contains("SigninToken=signin-"),
        "{url}"
    );
}

/// The portal token `jit` cached for its one host (what the browser handed it).
#[track_caller]
fn cached_token(sb: &Sandbox) -> String {
    let entry = std::fs::read_dir(sb.cache_dir())
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(",duplo-creds.json"))
        .expect("token cache entry");
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry).expect("read")).expect("json");
    entry["DuploToken"]
        .as_str()
        .expect("DuploToken")
        .to_string()
}

/// The bytes of a Chromium profile's History database, its journal and write-ahead log.
#[track_caller]
fn history(profile: &std::path::Path) -> Vec<u8> {
    let dir = profile.join("Default");
    let mut bytes = std::fs::read(dir.join("History")).expect("the profile's History file");
    for extra in ["History-journal", "History-wal"] {
        if let Ok(more) = std::fs::read(dir.join(extra)) {
            bytes.extend(more);
        }
    }
    bytes
}

/// Every file under `dir`, however deep.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A real `jit aws --interactive` login in a persistent Chromium profile. Authorize hands the
/// token to jit with a POST from the page's script (docs/protocol.md §2), so neither the
/// profile's History nor any URL the browser went to or asked for holds it; with scripts off the
/// page's no-script link still finishes the login; with jit gone the page says so. (Nothing
/// else in the profile holds the token either.)
#[test]
fn the_cli_login_token_stays_out_of_chromium_history_and_urls() {
    let sb = Sandbox::new();
    provision_with_passwords(&sb);
    let portal = serve(&sb);
    let login = sb.aws().tenant("dev01").host(&portal.url);
    let run_in = |profile: &std::path::Path, url: &url::Url, javascript: &str| {
        flow(
            &sb,
            "cli-login-history",
            &[
                ("LOGIN_URL", url.as_str()),
                ("USERNAME", "alice"),
                ("PASSWORD", ALICE_PASSWORD),
                ("PROFILE_DIR", profile.to_str().expect("utf-8 path")),
                ("JAVASCRIPT", javascript),
            ],
        )
    };
    let urls = |seen: &serde_json::Value| -> Vec<String> {
        ["navigations", "requests"]
            .iter()
            .flat_map(|k| seen[k].as_array().expect("list").clone())
            .map(|u| u.as_str().expect("url").to_string())
            .collect()
    };

    let profile = sb.dir.path().join("chromium-profile");
    let (child, url) = login.clone().start_login();
    let seen = run_in(&profile, &url, "on");
    let run = finish(child.wait_with_output().expect("jit")).ok();
    let creds = run.json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    let token = cached_token(&sb);
    register_secret(&token);
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    assert_eq!(seen["fallback"], false, "{seen}");
    let kept = history(&profile);
    assert!(
        holds(&kept, b"/app/user/verify-token"),
        "the History file holds the portal's pages"
    );
    assert!(
        !holds(&kept, token.as_bytes()),
        "the token is in Chromium's History file"
    );
    for file in files_under(&profile) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !holds(&bytes, token.as_bytes()),
            "the token is in the profile's {}",
            file.display()
        );
    }
    let seen_urls = urls(&seen);
    for u in &seen_urls {
        assert!(
            !u.contains(&token),
            "the token in a URL: {}",
            u.replace(&token, "<token>")
        );
    }
    let callback = format!("POST http://127.0.0.1:{}/?state=", url_port(&url));
    assert!(
        seen_urls.iter().any(|u| u.starts_with(&callback)),
        "the page POSTs to jit's listener: {seen_urls:?}"
    );

    // Scripts off: the no-script link hands the token over in a GET, as before.
    let profile = sb.dir.path().join("chromium-profile-nojs");
    let (child, url) = login.clone().no_cache().start_login();
    let seen = run_in(&profile, &url, "off");
    let run = finish(child.wait_with_output().expect("jit")).ok();
    let creds = run.json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    register_secret(&cached_token(&sb));
    assert_eq!(seen["done"], "You are signed in", "{seen}");
    assert_eq!(seen["fallback"], true, "{seen}");

    // jit no longer listening: the page says the hand-over failed, and stays put.
    let (mut child, url) = login.no_cache().start_login();
    let _ = child.kill();
    let _ = child.wait();
    let seen = flow(
        &sb,
        "cli-login",
        &[
            ("LOGIN_URL", url.as_str()),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
        ],
    );
    let failed = seen["handoffFailed"].as_str().unwrap_or_default();
    assert!(failed.contains("did not get the credentials"), "{seen}");
    let final_url = seen["final"].as_str().expect("final url");
    assert!(final_url.ends_with("/app/user/verify-token"), "{final_url}");
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// The `localPort` of a CLI login URL.
fn url_port(url: &url::Url) -> String {
    url.query_pairs()
        .find(|(k, _)| k == "localPort")
        .map(|(_, v)| v.into_owned())
        .expect("localPort")
}
