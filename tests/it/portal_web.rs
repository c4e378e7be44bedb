//! The portal's web side: local passwords, sessions, CSRF, security headers, the profile page
//! and the signed-in CLI login page, driven over HTTP and in headless Chromium.

use std::io::Write;
use std::process::Stdio;

use crate::portal_server::{admin, provision, state};
use crate::support::{Run, Sandbox, finish};

pub const ALICE_PASSWORD: &str = "alice-web-password-7";

/// `jit portal user passwd NAME` with `stdin` as its standard input.
#[track_caller]
pub fn passwd(sb: &Sandbox, name: &str, stdin: &str) -> Run {
    let st = state(sb);
    let mut child = sb
        .jit(&["portal", "--db", &st, "user", "passwd", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jit");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    finish(child.wait_with_output().expect("wait jit"))
}

/// Everything SQLite holds for the sandbox's portal (the file and its write-ahead log).
fn db_bytes(sb: &Sandbox) -> String {
    let st = state(sb);
    let mut all = Vec::new();
    for path in [st.clone(), format!("{st}-wal")] {
        all.extend(std::fs::read(&path).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn passwd_reads_stdin_stores_only_an_argon2id_hash_and_is_audited() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\r\n"))
        .ok()
        .warns("set the password of portal user 'alice'");
    let stored = db_bytes(&sb);
    assert!(stored.contains("$argon2id$v=19$"), "no argon2id hash");
    assert!(
        !stored.contains(ALICE_PASSWORD),
        "the password itself is stored"
    );
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    assert!(
        audit.lines().any(|l| l.contains("\tuser passwd\t")),
        "{audit}"
    );
    assert!(!audit.contains(ALICE_PASSWORD), "{audit}");

    passwd(&sb, "nobody", "some-long-password\n").fails(1, "no portal user 'nobody'");
    passwd(&sb, "alice", "").fails(1, "no password on standard input");
    passwd(&sb, "alice", "short\n").fails(1, "too short");
    let argv = sb.run(&[
        "portal",
        "--db",
        &state(&sb),
        "user",
        "passwd",
        "alice",
        "pw-in-argv",
    ]);
    assert_eq!(
        argv.code,
        Some(2),
        "a password in argv is refused: {}",
        argv.stderr
    );
}
