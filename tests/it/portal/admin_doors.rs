//! One rule, two doors: each admin rule driven through `jit portal` and through the admin pages
//! with the same input, on twin portals, must give the same outcome, the same message and the
//! same audit row (all but who made it and from where).

use crate::portal::portal_admin::{
    ROOT_PASSWORD, audit_json, redirected, refused, signed_in, snapshot, submit,
};
use crate::portal::portal_server::{Served, admin, get, provision, serve, state};
use crate::portal::portal_web::{Browser, cli_token, passwd, signed_out};
use crate::support::Sandbox;

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBdoors\n-----END CERTIFICATE-----\n";

/// Two portals provisioned alike: one changed through the CLI, one through the pages.
struct Twins {
    cli: Sandbox,
    web: Sandbox,
    _portal: Served,
    browser: Browser,
}

fn twins() -> Twins {
    let (cli, web) = (Sandbox::new(), Sandbox::new());
    provision(&cli);
    provision(&web);
    passwd(&web, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let portal = serve(&web);
    let browser = signed_in(&portal, "root", ROOT_PASSWORD);
    Twins {
        cli,
        web,
        _portal: portal,
        browser,
    }
}

/// `jit portal ARGS` on the CLI twin, expected to fail; its one-line message.
#[track_caller]
fn cli_refused(sb: &Sandbox, args: &[&str], needle: &str) -> String {
    let st = state(sb);
    let mut full = vec!["portal", "--state", st.as_str()];
    full.extend_from_slice(args);
    let run = sb.run(&full).fails(1, needle);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    run.stderr.trim().to_string()
}

/// The newest audit row, without what differs between the doors by design: who made the
/// change and from where, and when.
#[track_caller]
fn last_change(sb: &Sandbox) -> serde_json::Value {
    let mut row = audit_json(sb).pop().expect("an audit row");
    if let Some(o) = row.as_object_mut() {
        for key in ["seq", "at", "time", "actor", "client"] {
            o.remove(key);
        }
    }
    row
}

#[test]
fn out_of_range_durations_are_refused_at_both_doors_with_one_message() {
    let mut t = twins();
    let (before_cli, before_web) = (snapshot(&t.cli), snapshot(&t.web));
    let rule = "must be a whole number of seconds from 900 to 43200";
    let arn = "arn:aws:iam::555555555555:role/qa";
    let cli = cli_refused(
        &t.cli,
        &["tenant", "add", "qa", "--role-arn", arn, "--validity", "60"],
        rule,
    );
    assert_eq!(cli, format!("jit: --validity {rule}"));
    let page = submit(
        &mut t.browser,
        "/admin/tenants",
        "/admin/tenants",
        &[
            ("name", "qa"),
            ("role_arn", arn),
            ("validity_secs", "60"),
            ("max_session_secs", "43200"),
        ],
    );
    refused(&page, &format!("AWS Access Token Validity {rule}."));

    cli_refused(&t.cli, &["set", "--admin-session", "50000"], rule);
    let page = submit(
        &mut t.browser,
        "/admin/settings",
        "/admin/settings",
        &[
            ("admin_session_secs", "50000"),
            ("admin_role_arn", "arn:aws:iam::333333333333:role/admin"),
            ("ops_role_arn", ""),
        ],
    );
    refused(&page, &format!("AdminJitSessionDuration {rule}."));
    cli_refused(
        &t.cli,
        &["tenant", "set", "dev01", "--max-session", "899"],
        rule,
    );
    assert_eq!(snapshot(&t.cli), before_cli, "the CLI changed nothing");
    assert_eq!(snapshot(&t.web), before_web, "the pages changed nothing");
}

#[test]
fn an_existing_tenant_or_user_is_not_replaced_by_an_add_at_either_door() {
    let mut t = twins();
    let (before_cli, before_web) = (snapshot(&t.cli), snapshot(&t.web));
    let arn = "arn:aws:iam::555555555555:role/other";
    let cli = cli_refused(
        &t.cli,
        &["tenant", "add", "dev01", "--role-arn", arn],
        "already exists",
    );
    assert!(
        cli.starts_with("jit: tenant 'dev01' already exists: "),
        "{cli}"
    );
    let page = submit(
        &mut t.browser,
        "/admin/tenants",
        "/admin/tenants",
        &[
            ("name", "dev01"),
            ("role_arn", arn),
            ("validity_secs", "3600"),
            ("max_session_secs", "43200"),
        ],
    );
    refused(&page, "Tenant 'dev01' already exists: ");
    let cli = cli_refused(
        &t.cli,
        &["user", "add", "alice", "--admin"],
        "already exists",
    );
    assert!(
        cli.starts_with("jit: user 'alice' already exists: "),
        "{cli}"
    );
    let page = submit(
        &mut t.browser,
        "/admin/users",
        "/admin/users",
        &[("name", "alice"), ("admin", "on")],
    );
    refused(&page, "User 'alice' already exists: ");
    assert_eq!(snapshot(&t.cli), before_cli);
    assert_eq!(snapshot(&t.web), before_web);
}

#[test]
fn a_tenant_change_writes_the_same_audit_row_from_both_doors() {
    let mut t = twins();
    let pem = t.cli.dir.path().join("ca.pem");
    std::fs::write(&pem, PEM).expect("pem");
    let pem = pem.display().to_string();
    admin(
        &t.cli,
        &[
            "tenant",
            "set",
            "dev01",
            "--validity",
            "1800",
            "--k8s-cluster",
            "eks-1",
            "--k8s-server",
            "https://k8s.example:6443",
            "--k8s-ca-file",
            &pem,
        ],
    );
    let page = submit(
        &mut t.browser,
        "/admin/tenants/dev01",
        "/admin/tenants/dev01",
        &[
            ("role_arn", "arn:aws:iam::111111111111:role/dev01"),
            ("validity_secs", "1800"),
            ("max_session_secs", "43200"),
            ("k8s_cluster", "eks-1"),
            ("k8s_server", "https://k8s.example:6443"),
            ("k8s_ca", PEM),
        ],
    );
    redirected(&mut t.browser, &page, "/admin/tenants/dev01?saved=1");
    let row = last_change(&t.cli);
    assert_eq!(row, last_change(&t.web));
    assert_eq!(row["event"], "tenant set");
    let detail = row["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(
            "tenant dev01: validity 900 -> 1800, k8s_cluster - -> eks-1, \
             k8s_server - -> https://k8s.example:6443, k8s_ca - -> sha256:"
        ),
        "{detail}"
    );
    assert!(!detail.contains("BEGIN"), "the CA by fingerprint only");
    assert!(
        t.browser
            .get("/admin/tenants/dev01")
            .body
            .contains(&detail[detail.len() - "sha256:".len() - 16..]),
        "the page shows the fingerprint the trail names"
    );
}

#[test]
fn a_user_change_writes_the_same_audit_row_from_both_doors() {
    let mut t = twins();
    admin(
        &t.cli,
        &["user", "set", "alice", "--admin", "true", "--tenant", "big"],
    );
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice",
        &[("admin", "on"), ("tenant", "big")],
    );
    redirected(&mut t.browser, &page, "/admin/users/alice?saved=1");
    let row = last_change(&t.cli);
    assert_eq!(row, last_change(&t.web));
    assert_eq!(row["event"], "user set");
    assert_eq!(row["detail"], "admin false -> true, tenants dev01 -> big");
    assert_eq!(
        admin(&t.cli, &["user", "list"]),
        admin(&t.web, &["user", "list"])
    );
}

/// A user's email address: set, refused, set again and cleared through `user set --email` /
/// `--no-email` and through the user's Email form, and given at an add, with the same rows.
#[test]
fn an_email_is_set_refused_and_cleared_alike_at_both_doors() {
    let mut t = twins();
    admin(
        &t.cli,
        &["user", "set", "alice", "--email", " alice@example.test "],
    );
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/email",
        &[("email", " alice@example.test ")],
    );
    redirected(&mut t.browser, &page, "/admin/users/alice?saved=1");
    let row = last_change(&t.cli);
    assert_eq!(row, last_change(&t.web));
    assert_eq!(row["event"], "user email");
    assert_eq!(row["user"], "alice");
    assert_eq!(row["detail"], "alice@example.test", "stored trimmed");
    let page = t.browser.get("/admin/users/alice");
    assert!(
        page.body.contains("value=\"alice@example.test\""),
        "the form shows it: {}",
        page.body
    );

    let (before_cli, before_web) = (snapshot(&t.cli), snapshot(&t.web));
    let rule = "must be an email address of at most 254 bytes (name@example.com), not 'alice'";
    let cli = cli_refused(&t.cli, &["user", "set", "alice", "--email", "alice"], rule);
    assert_eq!(cli, format!("jit: --email {rule}"));
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/email",
        &[("email", "alice")],
    );
    refused(&page, &format!("Email {rule}."));
    assert!(page.body.contains("value=\"alice\""), "kept: {}", page.body);
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/email",
        &[("email", "alice@example.test\r\nBcc: eve@example.test")],
    );
    assert_eq!(page.status, 400, "a header smuggled in: {}", page.body);
    let cli = cli_refused(
        &t.cli,
        &["user", "add", "erin", "--email", "erin@"],
        "must be an email address",
    );
    assert!(cli.starts_with("jit: --email must be"), "{cli}");
    let page = submit(
        &mut t.browser,
        "/admin/users",
        "/admin/users",
        &[("name", "erin"), ("email", "erin@")],
    );
    refused(&page, "Email must be an email address");
    // The same address again changes nothing at either door.
    let run = t.cli.run(&[
        "portal",
        "--state",
        &state(&t.cli),
        "user",
        "set",
        "alice",
        "--email",
        "alice@example.test",
    ]);
    assert!(run.ok().stderr.contains("already is so"));
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/email",
        &[("email", "alice@example.test")],
    );
    redirected(&mut t.browser, &page, "/admin/users/alice?unchanged=1");
    assert_eq!(snapshot(&t.cli), before_cli, "the CLI changed nothing");
    assert_eq!(snapshot(&t.web), before_web, "the pages changed nothing");

    admin(&t.cli, &["user", "set", "alice", "--no-email"]);
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/email",
        &[("email", "")],
    );
    redirected(&mut t.browser, &page, "/admin/users/alice?saved=1");
    let row = last_change(&t.cli);
    assert_eq!(row, last_change(&t.web));
    assert_eq!(row["detail"], "cleared");

    admin(
        &t.cli,
        &["user", "add", "erin", "--email", "erin@example.test"],
    );
    let page = submit(
        &mut t.browser,
        "/admin/users",
        "/admin/users",
        &[("name", "erin"), ("email", "erin@example.test")],
    );
    redirected(&mut t.browser, &page, "/admin/users?added=1");
    assert_eq!(last_change(&t.cli), last_change(&t.web));
    let list = admin(&t.cli, &["user", "list"]);
    assert!(list.contains("erin\tuser\t\terin@example.test\n"), "{list}");
    assert_eq!(list, admin(&t.web, &["user", "list"]));
    assert!(
        t.browser
            .get("/admin/users")
            .body
            .contains("<td class=\"email\">erin@example.test</td>"),
        "the users page shows it"
    );
}

#[test]
fn settings_and_removals_write_the_same_audit_rows_from_both_doors() {
    let mut t = twins();
    let ops = "arn:aws:iam::444444444444:role/ops";
    admin(
        &t.cli,
        &["set", "--admin-session", "3600", "--ops-role-arn", ops],
    );
    let page = submit(
        &mut t.browser,
        "/admin/settings",
        "/admin/settings",
        &[
            ("admin_session_secs", "3600"),
            ("admin_role_arn", "arn:aws:iam::333333333333:role/admin"),
            ("ops_role_arn", ops),
        ],
    );
    redirected(&mut t.browser, &page, "/admin/settings?saved=1");
    assert_eq!(last_change(&t.cli), last_change(&t.web));
    assert_eq!(
        last_change(&t.cli)["detail"],
        format!("admin_session 43200 -> 3600, ops_role_arn - -> {ops}")
    );
    // An emptied role clears it, at both doors.
    admin(&t.cli, &["set", "--ops-role-arn", ""]);
    let page = submit(
        &mut t.browser,
        "/admin/settings",
        "/admin/settings",
        &[
            ("admin_session_secs", "3600"),
            ("admin_role_arn", "arn:aws:iam::333333333333:role/admin"),
            ("ops_role_arn", ""),
        ],
    );
    redirected(&mut t.browser, &page, "/admin/settings?saved=1");
    assert_eq!(last_change(&t.cli), last_change(&t.web));
    assert_eq!(
        last_change(&t.cli)["detail"],
        format!("ops_role_arn {ops} -> -")
    );

    admin(&t.cli, &["tenant", "remove", "big"]);
    let page = submit(
        &mut t.browser,
        "/admin/tenants/big",
        "/admin/tenants/big/remove",
        &[("confirm", "big")],
    );
    redirected(&mut t.browser, &page, "/admin/tenants?removed=1");
    let (cli, web) = (last_change(&t.cli), last_change(&t.web));
    assert_eq!(cli["event"], "tenant remove");
    // The tenant's id is random per portal; everything else is the same.
    let without_id = |v: &serde_json::Value| {
        let d = v["detail"].as_str().unwrap_or_default();
        d.split(" (id ").next().unwrap_or_default().to_string()
    };
    assert_eq!(without_id(&cli), "tenant big");
    assert_eq!(without_id(&cli), without_id(&web));
    assert_eq!(cli["scope"], web["scope"]);

    admin(&t.cli, &["user", "remove", "alice"]);
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/remove",
        &[("confirm", "alice")],
    );
    redirected(&mut t.browser, &page, "/admin/users?removed=1");
    assert_eq!(last_change(&t.cli), last_change(&t.web));
    assert_eq!(last_change(&t.cli)["detail"], "admin=false tenants=dev01");
}

#[test]
fn a_change_that_changes_nothing_writes_nothing_at_either_door() {
    let mut t = twins();
    let (before_cli, before_web) = (snapshot(&t.cli), snapshot(&t.web));
    let st = state(&t.cli);
    let run = t
        .cli
        .run(&[
            "portal",
            "--state",
            &st,
            "tenant",
            "set",
            "dev01",
            "--validity",
            "900",
        ])
        .ok();
    assert!(run.stderr.contains("nothing changed"), "{}", run.stderr);
    let page = submit(
        &mut t.browser,
        "/admin/tenants/dev01",
        "/admin/tenants/dev01",
        &[
            ("role_arn", "arn:aws:iam::111111111111:role/dev01"),
            ("validity_secs", "900"),
            ("max_session_secs", "43200"),
        ],
    );
    redirected(&mut t.browser, &page, "/admin/tenants/dev01?unchanged=1");
    assert_eq!(snapshot(&t.cli), before_cli);
    assert_eq!(snapshot(&t.web), before_web);
}

#[test]
fn sign_out_everywhere_ends_sessions_and_their_cli_tokens_at_both_doors_alike() {
    const ALICE: &str = "alice-doors-password-5";
    let mut t = twins();
    let cli_portal = serve(&t.cli);
    // One stolen session per twin, each with a CLI token it minted.
    let mut stolen = Vec::new();
    for (sb, portal) in [(&t.cli, &cli_portal), (&t.web, &t._portal)] {
        passwd(sb, "alice", &format!("{ALICE}\n")).ok();
        let mut b = signed_in(portal, "alice", ALICE);
        let token = cli_token(&mut b);
        let system = format!("{}/v3/features/system", portal.url);
        assert_eq!(get(&system, &token).0, 200);
        stolen.push((b, token, system));
    }

    let page = t.browser.get("/admin/users/alice");
    assert!(page.body.contains("1 live web session."), "{}", page.body);
    let st = state(&t.cli);
    t.cli
        .run(&[
            "portal", "--state", &st, "user", "sessions", "alice", "--revoke",
        ])
        .ok();
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/sessions",
        &[],
    );
    redirected(&mut t.browser, &page, "/admin/users/alice?saved=1");
    let page = t.browser.get("/admin/users/alice");
    assert!(page.body.contains("0 live web sessions."), "{}", page.body);

    for (mut b, token, system) in stolen {
        signed_out(&mut b);
        assert_eq!(get(&system, &token).0, 401, "the session's CLI token ended");
    }
    let (cli, web) = (last_change(&t.cli), last_change(&t.web));
    assert_eq!(cli, web, "one audit row for one rule");
    assert_eq!(cli["event"], "web sign-out");
    assert_eq!(cli["user"], "alice");
    assert_eq!(cli["detail"], "every session of alice; 1 web session ended");

    // A forged form ends nothing.
    let mut again = signed_in(&t._portal, "alice", ALICE);
    let forged = t
        .browser
        .post("/admin/users/alice/sessions", &[("csrf", "jit_forged")]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(again.get("/profile").status, 200);
}

#[test]
fn a_second_factor_reset_ends_sessions_and_writes_one_audit_row_at_both_doors() {
    const ALICE: &str = "alice-doors-password-6";
    let mut t = twins();
    let cli_portal = serve(&t.cli);
    let mut sessions = Vec::new();
    for (sb, portal) in [(&t.cli, &cli_portal), (&t.web, &t._portal)] {
        passwd(sb, "alice", &format!("{ALICE}\n")).ok();
        sessions.push(signed_in(portal, "alice", ALICE));
    }
    let st = state(&t.cli);
    t.cli
        .run(&["portal", "--state", &st, "user", "mfa", "alice", "--reset"])
        .ok();
    let page = submit(
        &mut t.browser,
        "/admin/users/alice",
        "/admin/users/alice/mfa-reset",
        &[],
    );
    redirected(&mut t.browser, &page, "/admin/users/alice?saved=1");
    for mut b in sessions {
        signed_out(&mut b);
    }
    let (cli, web) = (last_change(&t.cli), last_change(&t.web));
    assert_eq!(cli, web, "one audit row for one rule");
    assert_eq!(cli["event"], "mfa reset");
    assert_eq!(cli["user"], "alice");
    assert_eq!(
        cli["detail"],
        "totp none, 0 recovery codes, 0 passkeys removed; 1 web session ended"
    );
}
