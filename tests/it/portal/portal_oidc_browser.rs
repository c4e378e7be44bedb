//! Single sign-on in a real browser: headless Chromium (tests/web/oidc.mjs) clicks the portal's
//! "Sign in with ..." button and signs in through the real npm `oidc-provider`
//! (tests/web/oidc-provider.mjs), on its own and inside `jit aws --interactive`; an unknown user
//! and Cancel at the provider end on clear pages without a session; two tabs' sign-ins each
//! finish, and a planted twin of a login's cookie is refused (tests/web/oidc-twins.mjs); the
//! provider's second factor (`amr`) trusted with `--oidc-trust-amr`, and the portal's own TOTP
//! step after the provider otherwise.

use crate::portal::portal_browser::flow;
use crate::portal::portal_oidc::{
    Browser, CLIENT_ID, CLIENT_SECRET, Provider, free_port, oidc_cookie, portal_with_sso,
    start_provider, start_provider_with, state_of,
};
use crate::portal::portal_server::{Served, admin, provision, spawn_portal, state};
use crate::portal::portal_web::{OIDC_COOKIE_PREFIX, SESSION_COOKIE};
use crate::support::moto::moto;
use crate::support::{Sandbox, assert_no_secrets, finish, register_secret, venv_bin};

/// Audit lines of `event` (for `user`, if given).
fn audited(sb: &Sandbox, user: Option<&str>, event: &str) -> Vec<String> {
    let mut args = vec!["audit"];
    if let Some(u) = user {
        args.extend(["--user", u]);
    }
    admin(sb, &args)
        .lines()
        .filter(|l| l.contains(&format!("\t{event}\t")))
        .map(str::to_string)
        .collect()
}

/// `provision`'s tenants and users behind a portal with moto as STS and single sign-on, the
/// provider's `preferred_username` naming the portal user (so its alice is the portal's alice).
#[track_caller]
fn sso_portal_with_sts(sb: &Sandbox) -> (Served, Provider) {
    sso_portal_with_sts_as(sb, &[], &[])
}

/// As `sso_portal_with_sts`, the provider started with `provider_env` (its `OIDC_USERS`) and
/// the portal served with `extra` arguments.
#[track_caller]
fn sso_portal_with_sts_as(
    sb: &Sandbox,
    provider_env: &[(&str, &str)],
    extra: &[&str],
) -> (Served, Provider) {
    provision(sb);
    register_secret(CLIENT_SECRET);
    let listen = format!("127.0.0.1:{}", free_port());
    let redirect = format!("http://{listen}/login/oidc/callback");
    let provider = if provider_env.is_empty() {
        start_provider(&redirect)
    } else {
        start_provider_with(&redirect, provider_env)
    };
    let secret_file = sb.dir.path().join("oidc-secret");
    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).expect("secret file");
    let (st, secret) = (state(sb), secret_file.display().to_string());
    let sts = moto();
    let args = [
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            &listen,
            "--sts-endpoint",
            &sts.url,
            "--oidc-issuer",
            &provider.url,
            "--oidc-client-id",
            CLIENT_ID,
            "--oidc-client-secret-file",
            &secret,
            "--oidc-user-claim",
            "preferred_username",
            "--oidc-name",
            "Test IdP",
        ][..],
        extra,
    ]
    .concat();
    let served = spawn_portal(sb, &args);
    (served, provider)
}

#[test]
fn chromium_signs_in_through_the_oidc_provider_and_lands_on_the_profile() {
    let sb = Sandbox::new();
    let (portal, provider) = portal_with_sso(&sb);
    let seen = flow(
        &sb,
        "oidc",
        &[
            ("PORTAL_URL", &portal.url),
            ("OIDC_LOGIN", "alice"),
            ("NEXT", "/profile"),
        ],
    );
    assert_eq!(seen["start"], "/login?next=%2Fprofile", "{seen}");
    assert_eq!(seen["button"], "Sign in with Test IdP", "{seen}");
    assert_eq!(seen["providerOrigin"], provider.url.as_str(), "{seen}");
    assert_eq!(seen["consent"], true, "a first sign-in asks for consent");
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["path"], "/profile", "{seen}");
    assert_eq!(seen["who"], "Signed in as alice@example.com", "{seen}");
    assert!(seen["message"].is_null(), "{seen}");
    assert_eq!(
        seen["cookie"],
        serde_json::json!({
            "name": SESSION_COOKIE, "path": "/", "httpOnly": true, "sameSite": "Lax",
            "secure": true,
        }),
        "the session cookie (plain HTTP, but loopback, which browsers treat as secure): {seen}"
    );

    let signed_in = audited(&sb, Some("alice@example.com"), "web sign-in");
    let expected = format!("oidc {}", provider.url);
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert!(signed_in[0].contains(&expected), "{signed_in:?}");
    assert!(audited(&sb, None, "web sign-in failed").is_empty());
    assert_no_secrets(&portal.log(), "the portal log");
}

/// `jit aws --interactive` end to end through single sign-on: the CLI page sends the browser
/// to /login, the SSO button goes through the provider and back to the very same CLI page,
/// Authorize hands `jit` its credentials.
#[test]
fn jit_aws_interactive_through_oidc_sign_in_in_chromium_prints_credentials() {
    let sb = Sandbox::new();
    let (portal, _provider) = sso_portal_with_sts(&sb);
    let login = sb.aws().tenant("dev01").host(&portal.url);
    let (child, url) = login.start_login();
    let path = &url.as_str()[portal.url.len()..];
    let seen = flow(
        &sb,
        "oidc",
        &[
            ("PORTAL_URL", &portal.url),
            ("START_URL", url.as_str()),
            ("OIDC_LOGIN", "alice"),
            ("AUTHORIZE", "1"),
        ],
    );
    let start = seen["start"].as_str().expect("start");
    let next = url::Url::parse(&format!("{}{start}", portal.url))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    assert_eq!(next.as_deref(), Some(path), "sent to sign in: {seen}");
    assert_eq!(seen["path"], path, "back on the very same CLI page: {seen}");
    assert_eq!(seen["who"], "Signed in as alice", "{seen}");
    let cli = &seen["cli"];
    assert!(
        cli["ask"]
            .as_str()
            .is_some_and(|a| a.contains("tenant access as alice")),
        "{seen}"
    );
    assert_eq!(cli["done"], "You are signed in", "{seen}");
    let final_url = cli["final"].as_str().expect("final url");
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
    assert_eq!(audited(&sb, Some("alice"), "web sign-in").len(), 1);
    assert_eq!(audited(&sb, Some("alice"), "login").len(), 1);
    assert_no_secrets(&portal.log(), "the portal log");
}

#[test]
fn oidc_in_chromium_refuses_an_unknown_user_and_a_cancel_without_a_session() {
    let sb = Sandbox::new();
    let (portal, _provider) = portal_with_sso(&sb);

    // mallory signs in at the provider but is no portal user.
    let seen = flow(
        &sb,
        "oidc",
        &[("PORTAL_URL", &portal.url), ("OIDC_LOGIN", "mallory")],
    );
    assert_eq!(seen["status"], 403, "{seen}");
    assert_eq!(
        seen["message"], "no portal user for mallory@example.com: ask an admin",
        "{seen}"
    );
    assert_eq!(seen["startAgain"], true, "{seen}");
    assert!(seen["cookie"].is_null(), "no session: {seen}");
    assert!(seen["who"].is_null(), "{seen}");

    // alice cancels at the provider.
    let seen = flow(
        &sb,
        "oidc",
        &[
            ("PORTAL_URL", &portal.url),
            ("OIDC_LOGIN", "alice"),
            ("NEXT", "/profile"),
            ("ACTION", "cancel"),
        ],
    );
    assert_eq!(seen["status"], 403, "{seen}");
    assert_eq!(
        seen["message"], "The sign-in with Test IdP was cancelled or refused",
        "{seen}"
    );
    assert_eq!(seen["startAgain"], true, "{seen}");
    assert!(seen["cookie"].is_null(), "no session: {seen}");

    let failed = audited(&sb, None, "web sign-in failed");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|l| l.contains("no portal user mallory@example.com")),
        "{failed:?}"
    );
    assert!(
        audited(&sb, None, "web sign-in").is_empty(),
        "nobody got in"
    );
    assert_no_secrets(&portal.log(), "the portal log");
}

/// Two tabs of one browser start a sign-in each and both reach the provider: each login has a
/// cookie of its own, and each tab finishes its own, first one and then the other.
#[test]
fn two_tabs_each_finish_their_own_oidc_sign_in_in_chromium() {
    let sb = Sandbox::new();
    let (portal, _provider) = portal_with_sso(&sb);
    let seen = flow(
        &sb,
        "oidc-twins",
        &[
            ("PORTAL_URL", &portal.url),
            ("MODE", "tabs"),
            ("OIDC_LOGIN", "alice"),
        ],
    );
    let under_way = seen["underWay"].as_array().expect("underWay");
    assert_eq!(under_way.len(), 2, "one cookie per login: {seen}");
    assert_ne!(under_way[0]["name"], under_way[1]["name"], "{seen}");
    for c in under_way {
        assert!(
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(OIDC_COOKIE_PREFIX)),
            "{seen}"
        );
        assert_eq!(c["secure"], true, "{seen}");
        assert_eq!(c["path"], "/", "{seen}");
    }
    let tabs = seen["tabs"].as_array().expect("tabs");
    assert_eq!(tabs.len(), 2, "{seen}");
    for tab in tabs {
        assert_eq!(tab["status"], 200, "{seen}");
        assert_eq!(tab["path"], "/profile", "{seen}");
        assert_eq!(tab["who"], "Signed in as alice@example.com", "{seen}");
    }
    assert_eq!(
        seen["left"],
        serde_json::json!([]),
        "used logins go: {seen}"
    );
    assert_eq!(
        audited(&sb, Some("alice@example.com"), "web sign-in").len(),
        2
    );
    assert_no_secrets(&portal.log(), "the portal log");
}

/// Login CSRF by cookie tossing: the attacker starts a sign-in of their own and stops before its
/// callback; another server on the portal's host plants the attacker's login cookie in the
/// victim's browser as a twin of the victim's own (narrower path, so sent first) and sends the
/// victim to the attacker's callback. The portal refuses the pair: nobody is signed in as the
/// attacker.
#[test]
fn a_planted_twin_of_a_login_cookie_is_refused_in_chromium() {
    let sb = Sandbox::new();
    let (portal, _provider) = portal_with_sso(&sb);
    let mut attacker = Browser::new();
    let callback = attacker.until_callback(&portal.url, "/profile", "bob");
    for (k, v) in callback.query_pairs() {
        if k == "code" || k == "state" {
            register_secret(&v);
        }
    }
    let theirs = attacker
        .cookie(&oidc_cookie(&state_of(&callback)))
        .expect("the attacker's login cookie");
    register_secret(&theirs);
    let seen = flow(
        &sb,
        "oidc-twins",
        &[
            ("PORTAL_URL", &portal.url),
            ("MODE", "planted"),
            ("ATTACKER_COOKIE", &theirs),
            ("ATTACK_CALLBACK", callback.as_str()),
        ],
    );
    assert!(seen["who"].is_null(), "signed in: {seen}");
    assert_eq!(seen["session"], false, "{seen}");
    assert_eq!(seen["status"], 400, "{seen}");
    assert!(
        seen["message"]
            .as_str()
            .is_some_and(|m| m.contains("clear this site's cookies")),
        "{seen}"
    );
    let own = &seen["victimLogin"];
    assert!(
        own["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(OIDC_COOKIE_PREFIX)),
        "{seen}"
    );
    assert_eq!(own["secure"], true, "{seen}");
    assert_eq!(own["httpOnly"], true, "{seen}");
    assert!(
        audited(&sb, None, "web sign-in").is_empty(),
        "nobody got in"
    );
    assert_no_secrets(&portal.log(), "the portal log");
}

/// The provider's users for the second-factor tests: root signs in there with a second factor
/// (`amr` ["pwd", "mfa"] in its id tokens), alice with a password only (["pwd"]).
const AMR_USERS: &str = r#"{
    "root": {"password": "pw", "email": "root@example.com", "preferred_username": "root",
             "amr": ["pwd", "mfa"]},
    "alice": {"password": "pw", "email": "alice@example.com", "preferred_username": "alice",
              "amr": ["pwd"]}
}"#;

/// `$PYTHON` (pyotp from tests/requirements.txt) and the `PYTHONPATH` given to the test run.
fn pyotp() -> (String, String) {
    let python = venv_bin("python").to_str().expect("utf8").to_string();
    (python, std::env::var("PYTHONPATH").unwrap_or_default())
}

/// `jit aws --admin --interactive` through single sign-on in Chromium; the flow's findings
/// and jit's run.
#[track_caller]
fn admin_login_through_sso(
    sb: &Sandbox,
    portal: &Served,
    login: &str,
    factor: &[(&str, &str)],
) -> (serde_json::Value, crate::support::Run) {
    let (child, url) = sb.aws().admin().host(&portal.url).start_login();
    let env = [
        &[
            ("PORTAL_URL", portal.url.as_str()),
            ("START_URL", url.as_str()),
            ("OIDC_LOGIN", login),
            ("AUTHORIZE", "1"),
        ][..],
        factor,
    ]
    .concat();
    let seen = flow(sb, "oidc", &env);
    (seen, finish(child.wait_with_output().expect("jit")))
}

/// With `--oidc-trust-amr`, an id token whose `amr` names "mfa" counts as the second factor:
/// on a portal that wants it of everyone (`--require-mfa all`) and of admin vends, root's
/// single sign-on asks nothing more, and `jit aws --admin --interactive` gets duplo-jit's
/// one-time code with its token and vends. Alice's id token says only "pwd": the portal asks
/// for its own factor after the provider (to set one up, with no session before).
#[test]
fn a_trusted_amr_with_mfa_counts_as_the_second_factor_and_pwd_alone_does_not() {
    let sb = Sandbox::new();
    let (portal, _provider) =
        sso_portal_with_sts_as(&sb, &[("OIDC_USERS", AMR_USERS)], &["--oidc-trust-amr"]);
    admin(&sb, &["set", "--require-mfa", "all"]);
    admin(&sb, &["set", "--admin-vends-need-mfa", "true"]);

    let (seen, run) = admin_login_through_sso(&sb, &portal, "root", &[]);
    assert!(seen["factor"].is_null(), "no step of the portal's: {seen}");
    assert_eq!(seen["cli"]["done"], "You are signed in", "{seen}");
    let creds = run.ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    assert!(
        creds["AccessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{creds}"
    );
    let signed_in = audited(&sb, Some("root"), "web sign-in");
    assert!(
        signed_in.len() == 1 && signed_in[0].contains("second factor at the provider (amr)"),
        "{signed_in:?}"
    );

    let seen = flow(
        &sb,
        "oidc",
        &[
            ("PORTAL_URL", &portal.url),
            ("OIDC_LOGIN", "alice"),
            ("NEXT", "/profile"),
        ],
    );
    assert_eq!(seen["path"], "/login/enrol", "{seen}");
    assert_eq!(
        seen["cookie"],
        serde_json::Value::Null,
        "no session yet: {seen}"
    );
    assert!(audited(&sb, Some("alice"), "web sign-in").is_empty());
    assert_no_secrets(&portal.log(), "the portal log");
}

/// Without `--oidc-trust-amr`, a provider's "mfa" counts for nothing: on a portal with
/// `--require-mfa all`, root's single sign-on is followed by the portal's own TOTP step (set
/// up at the first sign-in, codes from pyotp; a code at the next), and only then a session;
/// `jit aws --admin --interactive` through both steps vends with duplo-jit's one-time code.
#[test]
fn without_trusting_amr_single_sign_on_is_followed_by_the_portals_totp_step() {
    let sb = Sandbox::new();
    let (portal, _provider) = sso_portal_with_sts_as(&sb, &[("OIDC_USERS", AMR_USERS)], &[]);
    admin(&sb, &["set", "--require-mfa", "all"]);
    let (python, pythonpath) = pyotp();
    let secret_file = sb.home().join("totp-secret");
    let secret_file = secret_file.to_str().expect("utf8");
    let factor = [
        ("PYTHON", python.as_str()),
        ("PYTHONPATH", pythonpath.as_str()),
        ("SECRET_FILE", secret_file),
    ];
    let first = [
        &[
            ("PORTAL_URL", portal.url.as_str()),
            ("OIDC_LOGIN", "root"),
            ("NEXT", "/profile"),
        ][..],
        &factor[..],
    ]
    .concat();
    let seen = flow(&sb, "oidc", &first);
    let step = &seen["factor"];
    assert_eq!(step["path"], "/login/enrol", "{seen}");
    assert!(step["required"].as_str().is_some(), "{seen}");
    assert_eq!(step["sessionBefore"], false, "{seen}");
    assert_eq!(step["enrolled"], "Your second factor is on.", "{seen}");
    assert_eq!(step["after"], "/profile", "{seen}");

    let (seen, run) = admin_login_through_sso(&sb, &portal, "root", &factor);
    assert_eq!(seen["factor"]["path"], "/login/factor", "{seen}");
    assert_eq!(seen["factor"]["sessionBefore"], false, "{seen}");
    assert_eq!(seen["cli"]["done"], "You are signed in", "{seen}");
    let creds = run.ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session token"));
    let signed_in = audited(&sb, Some("root"), "web sign-in");
    assert_eq!(signed_in.len(), 2, "{signed_in:?}");
    assert!(
        signed_in.iter().all(|l| !l.contains("(amr)")),
        "{signed_in:?}"
    );
    assert_no_secrets(&portal.log(), "the portal log");
}
