//! Passkeys (WebAuthn) as a second factor (docs/protocol.md §11) against a real `jit portal
//! serve` at `http://localhost:PORT`, in Chromium with its virtual authenticators: registered
//! and removed on the profile (with a passkey check, or a TOTP code when the user has one, never
//! with the session alone), used after the password, a removed one and a replayed assertion
//! refused; audited, listed by `jit portal user mfa` and removed by its `--reset`.

use crate::portal::portal_browser::flow;
use crate::portal::portal_oidc::free_port;
use crate::portal::portal_server::{admin, provision, spawn_portal, state};
use crate::portal::portal_web::{ALICE_PASSWORD, passwd};
use crate::support::moto::moto;
use crate::support::{Sandbox, venv_bin};

/// Audit lines of `event` for `user`.
fn audited(sb: &Sandbox, user: &str, event: &str) -> Vec<String> {
    admin(sb, &["audit", "--user", user])
        .lines()
        .filter(|l| l.contains(&format!("\t{event}\t")))
        .map(str::to_string)
        .collect()
}

#[test]
fn passkeys_register_remove_and_sign_in_after_the_password_in_chromium() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://localhost:{port}");
    let st = state(&sb);
    let sts = moto();
    let _portal = spawn_portal(
        &sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            &listen,
            "--public-url",
            &public,
            "--sts-endpoint",
            &sts.url,
        ],
    );
    let python = venv_bin("python");
    let pythonpath = std::env::var("PYTHONPATH").unwrap_or_default();
    let seen = flow(
        &sb,
        "passkeys",
        &[
            ("PORTAL_URL", &public),
            ("USERNAME", "alice"),
            ("PASSWORD", ALICE_PASSWORD),
            ("PYTHON", python.to_str().expect("utf8")),
            ("PYTHONPATH", &pythonpath),
        ],
    );
    assert_eq!(
        seen["laptop"]["url"], "/profile/mfa?done=passkey-added",
        "{seen}"
    );
    assert_eq!(seen["laptopCredentials"], 1, "{seen}");
    assert_eq!(
        seen["phone"]["url"], "/profile/mfa?done=passkey-added",
        "{seen}"
    );
    assert_eq!(
        seen["listed"],
        serde_json::json!(["laptop", "phone"]),
        "{seen}"
    );
    assert_eq!(
        seen["sessionOnly"], 400,
        "the session alone removes nothing: {seen}"
    );
    // A passkey added in this session proves nothing (a stolen session could add one).
    assert!(
        seen["tooNew"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("added since you signed in")),
        "{seen}"
    );
    assert_eq!(seen["viaPhone"]["url"], "/profile", "{seen}");
    assert_eq!(seen["removed"], "The passkey is removed.", "{seen}");
    assert_eq!(seen["listedAfter"], serde_json::json!(["laptop"]), "{seen}");
    assert_eq!(seen["factorUrl"], "/login/factor", "{seen}");
    assert_eq!(seen["removedPasskey"]["url"], "/login/factor", "{seen}");
    assert!(
        seen["removedPasskey"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not accepted")),
        "{seen}"
    );
    assert_eq!(seen["sessionAfterRefusal"], false, "{seen}");
    assert_eq!(seen["kept"]["url"], "/profile", "{seen}");
    assert_eq!(seen["sessionAfterPasskey"], true, "{seen}");
    assert_eq!(seen["replay"]["haveAssertion"], true, "{seen}");
    assert_eq!(seen["replay"]["ceremonyCookie"], true, "{seen}");
    assert_eq!(seen["replay"]["status"], 401, "{seen}");
    assert_eq!(seen["sessionAfterReplay"], false, "{seen}");

    let enrolled = audited(&sb, "alice", "mfa enrol");
    assert_eq!(
        enrolled.len(),
        4,
        "laptop, phone, totp, spare: {enrolled:?}"
    );
    assert!(
        enrolled.iter().any(|l| l.contains("passkey laptop")),
        "{enrolled:?}"
    );
    // With TOTP beside it, a passkey goes with a right code only.
    assert!(
        seen["totpWrong"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not right")),
        "{seen}"
    );
    assert!(
        seen["totpTooNew"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("added since you signed in")),
        "a TOTP factor enrolled in this session removes nothing: {seen}"
    );
    assert_eq!(seen["viaRecovery"], "/profile", "{seen}");
    assert_eq!(seen["totpRemoved"], "The passkey is removed.", "{seen}");
    assert_eq!(seen["listedAtEnd"], serde_json::json!(["laptop"]), "{seen}");
    let removed = audited(&sb, "alice", "mfa remove");
    assert!(
        removed.len() == 2
            && removed[0].contains("passkey phone")
            && removed[1].contains("passkey spare"),
        "{removed:?}"
    );
    // The removed passkey, the replay, and the wrong code that tried to remove `spare`.
    let failed = audited(&sb, "alice", "mfa failed");
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|l| l.contains("removing passkey spare: wrong code")),
        "{failed:?}"
    );
    let signed_in = audited(&sb, "alice", "web sign-in");
    assert!(
        signed_in
            .iter()
            .any(|l| l.contains("second factor passkey laptop")),
        "{signed_in:?}"
    );

    let listed = admin(&sb, &["user", "mfa", "alice"]);
    assert!(
        listed.lines().any(|l| l.starts_with("passkey\tlaptop\t")) && !listed.contains("phone"),
        "{listed}"
    );
    admin(&sb, &["user", "mfa", "alice", "--reset"]);
    let after = admin(&sb, &["user", "mfa", "alice"]);
    assert!(!after.contains("passkey"), "{after}");
}
