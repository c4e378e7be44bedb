//! Second factors for the web sign-in (docs/protocol.md §11) against a real `jit portal serve`:
//! TOTP enrolled and used in Chromium with codes from pyotp, recovery codes, replay and the
//! throttle, the policy that sends a covered user to enrol, `user mfa --reset`, and admin vends
//! that need a sign-in with a second factor.

use crate::portal::portal_browser::flow;
use crate::portal::portal_profile::ROOT_PASSWORD;
use crate::portal::portal_server::{admin, get, provision, serve};
use crate::portal::portal_web::{ALICE_PASSWORD, passwd};
use crate::support::{Sandbox, venv_bin};

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
    let (status, body) = get(&url, &root);
    assert_eq!(status, 403, "{body}");
    let refused = admin(&sb, &["audit", "--user", "root", "--event", "vend refused"]);
    assert!(refused.contains("second factor"), "{refused}");
    admin(&sb, &["set", "--admin-vends-need-mfa", "false"]);
    assert_eq!(get(&url, &root).0, 200);
}
