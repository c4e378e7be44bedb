//! Access requests and approvals end to end: the admin CLI sets eligibility, approvers and
//! policy; the requester asks with the real `jit request` and hears from `jit aws` what it
//! waits for; approvers decide over the API; the vend against moto lasts no longer than the
//! grant; revoke, deny, a quorum, and `--wait`; on SQLite and on PostgreSQL.

use std::process::Stdio;

use jit_wire::paths;

use crate::portal::portal_browser::flow;
use crate::portal::portal_ops::Pg;
use crate::portal::portal_server::{Served, spawn_served};
use crate::portal::portal_web::{ALICE_PASSWORD, passwd_on};
use crate::support::{Moto, Sandbox, finish, register_secret, start_moto};

const BOB_PASSWORD: &str = "bob-approves-with-care";

/// `jit portal --db DB ARGS`, its stdout.
#[track_caller]
fn admin(sb: &Sandbox, db: &str, args: &[&str]) -> String {
    let mut full = vec!["portal", "--db", db];
    full.extend_from_slice(args);
    sb.run(&full).ok().stdout
}

/// Tenant `prod` (validity an hour); alice may request it, bob and carol (through the group
/// `leads`) approve. Returns the token files of alice, bob and carol.
#[track_caller]
fn provision(sb: &Sandbox, db: &str) -> [String; 3] {
    admin(
        sb,
        db,
        &[
            "tenant",
            "add",
            "prod",
            "--role-arn",
            "arn:aws:iam::111111111111:role/prod",
            "--validity",
            "3600",
        ],
    );
    for u in ["alice", "bob", "carol"] {
        admin(sb, db, &["user", "add", u]);
    }
    admin(sb, db, &["group", "add", "leads"]);
    admin(sb, db, &["group", "member", "add", "leads", "carol"]);
    admin(sb, db, &["eligible", "add", "prod", "alice"]);
    admin(sb, db, &["approver", "add", "prod", "bob"]);
    admin(sb, db, &["approver", "add", "prod", "group:leads"]);
    ["alice", "bob", "carol"].map(|u| {
        let token = admin(sb, db, &["token", "create", u]).trim().to_string();
        register_secret(&token);
        sb.token_file(&token)
    })
}

#[track_caller]
fn serve(sb: &Sandbox, db: &str, sts: &Moto) -> Served {
    serve_with(sb, db, sts, &[])
}

#[track_caller]
fn serve_with(sb: &Sandbox, db: &str, sts: &Moto, extra: &[&str]) -> Served {
    let mut args = vec![
        "portal",
        "--db",
        db,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sts-endpoint",
        &sts.url,
    ];
    args.extend_from_slice(extra);
    let mut cmd = sb.jit(&args);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret");
    spawn_served(cmd)
}

/// A call of the access API with the token in `token_file`: the status and the JSON answer.
#[track_caller]
fn call(url: &str, token_file: &str, post: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let token = std::fs::read_to_string(token_file).expect("token file");
    let client = reqwest::blocking::Client::new();
    let req = match post {
        Some(body) => client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string()),
        None => client.get(url),
    };
    let resp = req.bearer_auth(token.trim()).send().expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

#[track_caller]
fn decide(
    portal: &Served,
    token_file: &str,
    path: &str,
    id: &str,
    comment: &str,
) -> (u16, serde_json::Value) {
    let url = format!("{}{}", portal.url, paths::fill(path, id));
    call(
        &url,
        token_file,
        Some(serde_json::json!({ "comment": comment })),
    )
}

/// `jit aws --tenant prod` for alice, never from the cache.
fn vend(sb: &Sandbox, portal: &Served, alice: &str) -> crate::support::Run {
    sb.aws()
        .tenant("prod")
        .host(&portal.url)
        .token_file(alice)
        .no_cache()
        .run()
}

/// `jit request prod --for DURATION --reason ...` for alice, with `extra` flags.
fn request<'a>(
    sb: &'a Sandbox,
    portal: &Served,
    alice: &str,
    duration: &str,
    extra: &[&str],
) -> crate::support::Jit<'a> {
    sb.jit_cmd([
        "request",
        "--host",
        &portal.url,
        "--token-file",
        alice,
        "prod",
    ])
    .args(["--for", duration, "--reason", "incident 42"])
    .args(extra.iter().copied())
}

/// The one line a refused `jit aws` prints: the portal's words, not a failed request's dump.
#[track_caller]
fn refused_with(run: crate::support::Run, line: &str) {
    let run = run.fails(1, line);
    // The sandbox turns on --verbose; what a user sees is the rest.
    let said: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("jit: debug: "))
        .collect();
    assert_eq!(said, [format!("jit: {line}")], "one line, nothing else");
}

#[track_caller]
fn approve_use_and_revoke(db: &str) {
    let sb = Sandbox::new();
    let [alice, bob, _carol] = provision(&sb, db);
    // An address of bob's own (he is named by no address): stored and listed on either database.
    admin(
        &sb,
        db,
        &["user", "set", "bob", "--email", "bob@example.test"],
    );
    let users = admin(&sb, db, &["user", "list"]);
    assert!(
        users.contains("\nbob\tuser\t\tbob@example.test\n"),
        "{users}"
    );
    let mut moto = start_moto();
    let portal = serve(&sb, db, &moto);

    refused_with(
        vend(&sb, &portal, &alice),
        "no access to tenant:prod without approval: request it with `jit request prod --for 1h --reason \"...\"`",
    );
    // Over the policy's longest grant (an hour by default): refused, nothing pending.
    request(&sb, &portal, &alice, "2h", &[])
        .run()
        .fails(1, "the grant must last from 15m to 3600s");
    let asked = request(&sb, &portal, &alice, "1000s", &[]).ok();
    let id = asked.stdout.trim().to_string();
    assert!(id.starts_with("r_"), "{}", asked.stdout);
    assert!(
        asked
            .stderr
            .contains("is pending (approvers: bob, group:leads)"),
        "{}",
        asked.stderr
    );
    refused_with(
        vend(&sb, &portal, &alice),
        &format!("waiting for approval of request {id} (approvers: bob, group:leads)"),
    );

    let (status, body) = decide(&portal, &alice, paths::ACCESS_APPROVE, &id, "me");
    assert_eq!(status, 403, "nobody approves their own request: {body}");
    let (status, body) = decide(&portal, &bob, paths::ACCESS_APPROVE, &id, "go");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "approved");
    let grant = body["grants"][0].clone();
    let end: jiff::Timestamp = grant["end"].as_str().expect("end").parse().expect("time");

    // The vend inside the grant asks STS for no longer than what is left of it.
    let (creds, log) = moto.record(|_| vend(&sb, &portal, &alice).ok().json());
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));
    // moto records each request as a JSON line, a form body base64-encoded.
    let asked: Vec<i64> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| {
            use base64::Engine;
            let body = r["body"].as_str()?;
            let form = base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?;
            let form = String::from_utf8(form).ok()?;
            form.contains("Action=AssumeRole").then_some(())?;
            url::form_urlencoded::parse(form.as_bytes())
                .find(|(k, _)| k == "DurationSeconds")
                .and_then(|(_, v)| v.parse().ok())
        })
        .collect();
    assert_eq!(asked.len(), 1, "one AssumeRole: {log}");
    assert!(
        (900..=1000).contains(&asked[0]),
        "capped to the grant, not the tenant's hour: {asked:?}"
    );
    let expires: jiff::Timestamp = creds["Expiration"]
        .as_str()
        .expect("exp")
        .parse()
        .expect("time");
    assert!(
        expires <= end,
        "credentials die with the grant: {expires} > {end}"
    );
    let trail = admin(&sb, db, &["audit", "--event", "vend", "--json"]);
    let gid = grant["id"].as_str().expect("grant id");
    assert!(
        trail.contains(&format!("grant {gid}")),
        "the vend names its grant: {trail}"
    );

    // Revoked by an approver: the next vend is refused.
    let url = format!("{}{}", portal.url, paths::fill(paths::ACCESS_REVOKE, gid));
    let (status, body) = call(&url, &bob, Some(serde_json::json!({})));
    assert_eq!(status, 200, "{body}");
    assert!(body["revoked"].is_string(), "{body}");
    let revoked = body["revoked"].as_str().expect("revoked");
    refused_with(
        vend(&sb, &portal, &alice),
        &format!(
            "grant {gid} for tenant:prod was revoked by bob at {revoked}: request again with `jit request prod --for 1h --reason \"...\"`"
        ),
    );
    let events = admin(&sb, db, &["audit", "--event", "grant revoke"]);
    assert!(events.contains(gid), "{events}");
}

#[test]
fn an_approved_request_vends_within_its_grant_until_revoked() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    approve_use_and_revoke(&db);
}

#[test]
fn on_postgresql_an_approved_request_vends_within_its_grant_until_revoked() {
    let pg = Pg::start();
    approve_use_and_revoke(&pg.database("access"));
}

/// A quorum of two needs a second, distinct approver; `jit request --wait` is released by the
/// approval that completes it, and fails with the denier's words on a denial.
#[test]
fn a_quorum_needs_two_approvers_and_wait_ends_with_the_decision() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, bob, carol] = provision(&sb, &db);
    admin(
        &sb,
        &db,
        &[
            "policy",
            "set",
            "prod",
            "--approvals",
            "2",
            "--max-grant",
            "2h",
        ],
    );
    let moto = start_moto();
    let portal = serve(&sb, &db, &moto);

    let mut waiting = request(&sb, &portal, &alice, "90m", &["--wait"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jit request --wait");
    let mine = format!("{}{}", portal.url, paths::ACCESS_REQUESTS);
    let id = crate::support::poll(std::time::Duration::from_secs(20), || {
        let (_, list) = call(&mine, &alice, None);
        list[0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "no request yet".to_string())
    });
    let (status, body) = decide(&portal, &bob, paths::ACCESS_APPROVE, &id, "one");
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    let (status, body) = decide(&portal, &bob, paths::ACCESS_APPROVE, &id, "again");
    assert_eq!(status, 400, "the same approver twice is no quorum: {body}");
    assert_eq!(waiting.try_wait().expect("wait"), None, "still waiting");
    let (status, body) = decide(&portal, &carol, paths::ACCESS_APPROVE, &id, "two");
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let done = finish(waiting.wait_with_output().expect("wait")).ok();
    assert_eq!(done.stdout.trim(), id);
    assert!(
        done.stderr
            .contains(&format!("request {id} approved by bob (one), carol (two)")),
        "{}",
        done.stderr
    );
    let creds = vend(&sb, &portal, &alice).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));

    // A denial ends the wait with the denier's words.
    let waiting = request(&sb, &portal, &alice, "30m", &["--wait"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jit request --wait");
    let second = crate::support::poll(std::time::Duration::from_secs(20), || {
        let (_, list) = call(&mine, &alice, None);
        list.as_array()
            .and_then(|l| l.iter().find(|r| r["state"] == "pending"))
            .and_then(|r| r["id"].as_str().map(str::to_string))
            .ok_or_else(|| "no pending request yet".to_string())
    });
    let to_approve = format!("{}{}", portal.url, paths::ACCESS_TO_APPROVE);
    let (_, list) = call(&to_approve, &carol, None);
    assert_eq!(list[0]["id"], second.as_str(), "carol's queue: {list}");
    let (status, _) = decide(&portal, &carol, paths::ACCESS_DENY, &second, "not today");
    assert_eq!(status, 200);
    let out = waiting.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "jit: request {second} was denied by carol (not today)"
        )),
        "{stderr}"
    );
    let trail = admin(&sb, &db, &["audit", "--event", "access deny"]);
    assert!(trail.contains(&second), "{trail}");
}

/// Two Chromium contexts: alice asks on the profile page's form, bob approves with a comment
/// on the access page, alice's page shows the grant, and `jit aws` then vends within it.
#[test]
fn in_chromium_a_request_on_the_profile_is_approved_on_the_access_page() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, _bob, _carol] = provision(&sb, &db);
    passwd_on(&sb, &db, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    passwd_on(&sb, &db, "bob", &format!("{BOB_PASSWORD}\n")).ok();
    let moto = start_moto();
    let portal = serve(&sb, &db, &moto);
    let seen = flow(
        &sb,
        "access",
        &[
            ("PORTAL_URL", &portal.url),
            ("REQUESTER", "alice"),
            ("REQUESTER_PASSWORD", ALICE_PASSWORD),
            ("APPROVER", "bob"),
            ("APPROVER_PASSWORD", BOB_PASSWORD),
            ("TARGET_KEY", "tenant-prod"),
            ("REASON", "deploy 7"),
            ("COMMENT", "looks fine"),
        ],
    );
    assert_eq!(seen["formOnProfile"], 1, "{seen}");
    assert_eq!(seen["afterRequest"], "/access?done=requested", "{seen}");
    assert_eq!(seen["stateBefore"], "pending", "{seen}");
    assert_eq!(seen["ownQueue"], 0, "nobody decides their own: {seen}");
    let id = seen["requestId"].as_str().expect("id");
    assert!(id.starts_with("r_"), "{seen}");
    assert_eq!(
        seen["asked"],
        format!("{id}: alice asks for tenant:prod for 30 minutes"),
        "{seen}"
    );
    assert_eq!(seen["decided"], "Your decision is recorded.", "{seen}");
    assert_eq!(seen["queueAfter"], 0, "{seen}");
    assert_eq!(seen["stateAfter"], "approved", "{seen}");
    assert!(
        seen["grants"]
            .as_str()
            .is_some_and(|g| g.contains("tenant:prod")),
        "{seen}"
    );
    let granted = seen["grantedTarget"].as_str().expect("granted target");
    assert!(
        granted.starts_with("Tenant prod (granted until "),
        "the profile offers the grant: {seen}"
    );
    assert_eq!(seen["credsFor"], "prod", "{seen}");
    let until: jiff::Timestamp = granted
        .trim_start_matches("Tenant prod (granted until ")
        .trim_end_matches(')')
        .parse()
        .expect("the grant's end");
    let expires: jiff::Timestamp = seen["credsUntil"]
        .as_str()
        .expect("expiration")
        .parse()
        .expect("time");
    assert!(expires <= until, "{expires} after the grant's end {until}");
    let creds = vend(&sb, &portal, &alice).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));
    let trail = admin(&sb, &db, &["audit", "--event", "access approve", "--json"]);
    assert!(
        trail.contains("looks fine") && trail.contains("\"actor\":\"bob\""),
        "{trail}"
    );
}

/// Break-glass on the admin role for a user who is no admin: refused until the policy allows
/// it, then granted at once with a reason, vended within the grant, and queued for an
/// approver's review (never the user's own).
#[test]
fn break_glass_on_the_admin_role_is_granted_at_once_and_queued_for_review() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, bob, _carol] = provision(&sb, &db);
    admin(
        &sb,
        &db,
        &[
            "set",
            "--admin-session",
            "43200",
            "--admin-role-arn",
            "arn:aws:iam::333333333333:role/admin",
        ],
    );
    admin(&sb, &db, &["eligible", "add", "admin", "alice"]);
    admin(&sb, &db, &["approver", "add", "admin", "bob"]);
    let moto = start_moto();
    let portal = serve(&sb, &db, &moto);
    let glass = |sb: &Sandbox| {
        sb.jit_cmd([
            "request",
            "--host",
            &portal.url,
            "--token-file",
            &alice,
            "admin",
        ])
        .args(["--for", "30m", "--reason", "database down", "--break-glass"])
        .run()
    };
    glass(&sb).fails(1, "break-glass is not allowed for admin");
    admin(
        &sb,
        &db,
        &["policy", "set", "admin", "--break-glass", "true"],
    );
    let run = glass(&sb).ok();
    assert!(
        run.stderr.contains("for admin is approved"),
        "{}",
        run.stderr
    );

    let started = jiff::Timestamp::now();
    let creds = sb
        .aws()
        .admin()
        .host(&portal.url)
        .token_file(&alice)
        .no_cache()
        .ok()
        .json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));
    let expires: jiff::Timestamp = creds["Expiration"]
        .as_str()
        .expect("exp")
        .parse()
        .expect("time");
    assert!(
        expires.duration_since(started).as_secs() <= 30 * 60 + 5,
        "the admin session setting is 12 h; the grant is 30 minutes: {expires}"
    );

    let reviews = format!("{}{}", portal.url, paths::ACCESS_REVIEWS);
    let (_, own) = call(&reviews, &alice, None);
    assert_eq!(own, serde_json::json!([]), "nobody reviews their own");
    let (_, queue) = call(&reviews, &bob, None);
    let gid = queue[0]["id"]
        .as_str()
        .expect("a grant to review")
        .to_string();
    assert_eq!(queue[0]["break_glass"], true, "{queue}");
    let (status, _) = decide(&portal, &alice, paths::ACCESS_REVIEW, &gid, "fine by me");
    assert_eq!(status, 403);
    let (status, body) = decide(
        &portal,
        &bob,
        paths::ACCESS_REVIEW,
        &gid,
        "saw the incident",
    );
    assert_eq!(
        (status, body["reviewed_by"].as_str()),
        (200, Some("bob")),
        "{body}"
    );
    let (_, queue) = call(&reviews, &bob, None);
    assert_eq!(queue, serde_json::json!([]));
    // An admin at the database's shell lists the running grants and ends this one.
    let list = admin(&sb, &db, &["grant", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("{gid}\talice\tadmin\t"))
                && l.ends_with("\tbreak-glass")),
        "{list}"
    );
    admin(&sb, &db, &["grant", "revoke", &gid]);
    assert_eq!(admin(&sb, &db, &["grant", "list"]), "");
    let run = sb
        .aws()
        .admin()
        .host(&portal.url)
        .token_file(&alice)
        .no_cache()
        .run()
        .fails(1, &format!("grant {gid} for admin was revoked by cli:"));
    assert!(
        run.stderr.contains("`jit request admin --for 1h"),
        "{}",
        run.stderr
    );
    for event in ["break-glass", "break-glass review"] {
        let trail = admin(&sb, &db, &["audit", "--event", event]);
        assert!(trail.contains("alice"), "{event}: {trail}");
    }
}

/// The chat hears of a request, its approval and a break-glass, through a Slack-compatible
/// webhook that is down when they happen: once it is up, every message arrives, in order, each
/// with its own idempotency key; its URL (its own secret) never reaches the portal's log.
#[test]
fn the_chat_hears_of_requests_and_decisions_made_while_it_was_down() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, bob, _carol] = provision(&sb, &db);
    admin(
        &sb,
        &db,
        &["policy", "set", "prod", "--break-glass", "true"],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let secret = crate::support::random_hex(16);
    register_secret(&secret);
    let hook = sb.dir.path().join("chat-webhook");
    std::fs::write(
        &hook,
        format!("http://127.0.0.1:{port}/services/T0/B0/{secret}\n"),
    )
    .expect("hook file");
    let moto = start_moto();
    let file = hook.display().to_string();
    let portal = serve_with(&sb, &db, &moto, &["--notify-webhook-file", &file]);

    // Nothing listens on the chat's port while these happen.
    let id = request(&sb, &portal, &alice, "1h", &[])
        .ok()
        .stdout
        .trim()
        .to_string();
    let (status, _) = decide(&portal, &bob, paths::ACCESS_APPROVE, &id, "go");
    assert_eq!(status, 200);
    request(&sb, &portal, &alice, "30m", &["--break-glass"]).ok();

    let chat = tiny_http::Server::http(("127.0.0.1", port)).expect("the chat receiver");
    let mut got: Vec<(String, String)> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while got
        .iter()
        .filter(|(_, t)| t.starts_with("BREAK-GLASS"))
        .count()
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "the chat got {got:?}");
        let Ok(Some(mut req)) = chat.recv_timeout(std::time::Duration::from_millis(200)) else {
            continue;
        };
        let key = req
            .headers()
            .iter()
            .find(|h| h.field.equiv("idempotency-key"))
            .map(|h| h.value.to_string())
            .unwrap_or_default();
        let mut body = String::new();
        req.as_reader().read_to_string(&mut body).expect("body");
        assert!(req.url().ends_with(&secret), "{}", req.url());
        // `*subject*` on the first line, the message below it.
        let text = serde_json::from_str::<serde_json::Value>(&body).expect("json")["text"]
            .as_str()
            .expect("text")
            .split_once('\n')
            .map(|(_, message)| message.to_string())
            .expect("subject and message");
        req.respond(tiny_http::Response::empty(200))
            .expect("answer");
        // A message sent again carries its key again: the receiver keeps the first.
        if !got.iter().any(|(k, _)| *k == key) {
            got.push((key, text));
        }
    }
    let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(
        texts[0].starts_with(&format!(
            "alice asks for tenant:prod for 60 minutes: request {id}; approvers: bob, group:leads; reason: incident 42"
        )) && texts[0].ends_with(&format!("Decide at {}/access", portal.url)),
        "{texts:?}"
    );
    assert_eq!(
        texts[1],
        format!("tenant:prod for alice: request {id} approved")
    );
    assert!(
        texts[2].starts_with("BREAK-GLASS: alice approved their own access to tenant:prod"),
        "{texts:?}"
    );
    crate::support::assert_no_secrets(&portal.log(), "the portal's log");
}

/// `python -c SCRIPT ARGS` from the test venv, its stdout.
#[track_caller]
fn python(sb: &Sandbox, script: &str, args: &[&str]) -> String {
    let mut py = sb.command(crate::support::venv_bin("python"));
    py.arg("-c").arg(script).args(args);
    finish(py.output().expect("python")).ok().stdout
}

/// With `--cut-off-on-revoke`, a revoke also writes an inline deny on the tenant's role for
/// the user's sessions issued before it, read back from moto's IAM with GetRolePolicy.
#[test]
fn a_revoke_cuts_off_the_users_sessions_on_the_role() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, bob, _carol] = provision(&sb, &db);
    let moto = start_moto();
    let iam = r#"
import boto3, json, sys
iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1',
    aws_access_key_id='bootstrap', aws_secret_access_key='bootstrap')
if sys.argv[2] == 'create':
    iam.create_role(RoleName='prod', AssumeRolePolicyDocument=json.dumps(
        {'Version': '2012-10-17', 'Statement': []}))
else:
    doc = iam.get_role_policy(RoleName='prod', PolicyName=sys.argv[3])['PolicyDocument']
    print(json.dumps(doc))
"#;
    python(&sb, iam, &[&moto.url, "create"]);
    let portal = serve_with(
        &sb,
        &db,
        &moto,
        &["--cut-off-on-revoke", "--iam-endpoint", &moto.url],
    );
    let id = request(&sb, &portal, &alice, "1h", &[])
        .ok()
        .stdout
        .trim()
        .to_string();
    let (_, body) = decide(&portal, &bob, paths::ACCESS_APPROVE, &id, "go");
    let gid = body["grants"][0]["id"].as_str().expect("grant").to_string();
    let creds = vend(&sb, &portal, &alice).ok().json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));

    let url = format!("{}{}", portal.url, paths::fill(paths::ACCESS_REVOKE, &gid));
    let (status, body) = call(&url, &alice, Some(serde_json::json!({})));
    assert_eq!(status, 200, "{body}");
    let revoked = body["revoked"].as_str().expect("revoked").to_string();
    let written = python(&sb, iam, &[&moto.url, "get", "jit-cut-off-alice"]);
    let doc: serde_json::Value = serde_json::from_str(written.trim()).expect("policy json");
    assert_eq!(
        doc["Statement"][0],
        serde_json::json!({
            "Sid": "JitCutOff",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringEquals": { "aws:SourceIdentity": "alice" },
                "DateLessThan": { "aws:TokenIssueTime": revoked },
            },
        })
    );
    let trail = admin(&sb, &db, &["audit", "--event", "grant cut-off", "--json"]);
    assert!(
        trail.contains(&gid) && trail.contains("arn:aws:iam::111111111111:role/prod"),
        "{trail}"
    );
}

/// An SMTP server here in the test (aiosmtpd), started on a fixed port, that prints each
/// message it takes as a JSON line: `{"to": [...], "data": "..."}`.
const SMTP_SERVER: &str = r#"
import json, sys
from aiosmtpd.controller import Controller
class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({"to": envelope.rcpt_tos, "data": envelope.content.decode()}), flush=True)
        return '250 OK'
c = Controller(Handler(), hostname='127.0.0.1', port=int(sys.argv[1]))
c.start()
print('ready', flush=True)
sys.stdin.read()
c.stop()
"#;

/// [`SMTP_SERVER`] on `port`: the messages it takes, in order; stopped when dropped.
struct MailServer {
    child: std::process::Child,
    messages: std::sync::mpsc::Receiver<String>,
}

impl MailServer {
    #[track_caller]
    fn start(sb: &Sandbox, port: &str) -> MailServer {
        use std::io::BufRead;
        let mut child = sb
            .command(crate::support::venv_bin("python"))
            .args(["-c", SMTP_SERVER, port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("aiosmtpd");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        assert_eq!(lines.next().expect("a line").expect("ready"), "ready");
        // Read on a thread, so a message that never comes fails the test instead of hanging it.
        let (tx, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        MailServer { child, messages }
    }

    /// The next message, its body's quoted-printable soft line breaks and `=3D` undone.
    #[track_caller]
    fn next(&self) -> serde_json::Value {
        let line = self
            .messages
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a message within a minute");
        let mut m: serde_json::Value = serde_json::from_str(&line).expect("json");
        let data = m["data"]
            .as_str()
            .unwrap_or_default()
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        m["data"] = serde_json::json!(data);
        m
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1, as text.
fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
        .to_string()
}

/// Email: a request made while the mail server is down reaches the approvers named by an
/// email address (directly or through a group, never the requester) once it is up, and the
/// approval reaches the requester; each message once, with its own Message-ID.
#[test]
fn mail_reaches_the_approvers_and_then_the_requester_after_the_server_was_down() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    provision(&sb, &db);
    for u in ["dev@example.com", "lead@example.com", "ops@example.com"] {
        admin(&sb, &db, &["user", "add", u]);
    }
    admin(
        &sb,
        &db,
        &["group", "member", "add", "leads", "ops@example.com"],
    );
    admin(&sb, &db, &["eligible", "add", "prod", "dev@example.com"]);
    admin(&sb, &db, &["approver", "add", "prod", "lead@example.com"]);
    let token = |u: &str| {
        let t = admin(&sb, &db, &["token", "create", u]).trim().to_string();
        register_secret(&t);
        sb.token_file(&t)
    };
    let (dev, lead) = (token("dev@example.com"), token("lead@example.com"));
    let port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let moto = start_moto();
    let portal = serve_with(
        &sb,
        &db,
        &moto,
        &["--smtp-url", &smtp_url, "--mail-from", "jit@example.com"],
    );

    // The mail server is down while the request is made.
    let url = format!("{}{}", portal.url, paths::ACCESS_REQUESTS);
    let body = serde_json::json!({"targets": ["prod"], "duration_secs": 3600, "reason": "deploy"});
    let (status, r) = call(&url, &dev, Some(body));
    assert_eq!(status, 200, "{r}");
    let id = r["id"].as_str().expect("id").to_string();

    let server = MailServer::start(&sb, &port);
    let next = || server.next();
    // One message per approver with an address (one through the group), each with a link of
    // its own.
    let mut asked = [next(), next()];
    asked.sort_by_key(|m| m["to"].to_string());
    assert_eq!(
        asked.iter().map(|m| m["to"].clone()).collect::<Vec<_>>(),
        [
            serde_json::json!(["lead@example.com"]),
            serde_json::json!(["ops@example.com"])
        ],
        "the approvers with an address, one through the group: {asked:?}"
    );
    let mut links = Vec::new();
    for m in &asked {
        let data = m["data"].as_str().expect("data");
        assert!(
            data.contains("Subject: [jit] dev@example.com asks for tenant:prod"),
            "{data}"
        );
        assert!(data.contains(&format!("request {id}")), "{data}");
        assert!(
            data.contains(&format!("Decide at {}/access", portal.url)),
            "{data}"
        );
        let at = data
            .find("/link?t=")
            .unwrap_or_else(|| panic!("a link in {data}"));
        let token: String = data[at + 8..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        register_secret(&token);
        links.push(token);
    }
    assert_ne!(links[0], links[1], "a link for each approver");

    let (status, _) = decide(&portal, &lead, paths::ACCESS_APPROVE, &id, "ok");
    assert_eq!(status, 200);
    let approved = next();
    assert_eq!(
        approved["to"],
        serde_json::json!(["dev@example.com"]),
        "{approved}"
    );
    let data = approved["data"].as_str().expect("data");
    assert!(
        data.contains("Subject: [jit] approved: tenant:prod for dev@example.com"),
        "{data}"
    );
    let ids: Vec<&str> = [&asked[0], &asked[1], &approved]
        .iter()
        .filter_map(|m| m["data"].as_str())
        .filter_map(|d| d.lines().find(|l| l.starts_with("Message-ID:")))
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
}

/// Users named by no address get mail at the address an admin gave them (`user set --email`,
/// `user add --email`): the approver bob directly, dave through the group; carol, with none,
/// gets nothing; the approval reaches the requester at hers. The approver's link still names
/// the user, so it opens for bob signed in as bob.
#[test]
fn mail_reaches_users_named_by_no_address_at_the_email_an_admin_set() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, bob, _carol] = provision(&sb, &db);
    admin(
        &sb,
        &db,
        &["user", "set", "bob", "--email", "bob@example.test"],
    );
    admin(
        &sb,
        &db,
        &["user", "set", "alice", "--email", "alice@example.test"],
    );
    admin(
        &sb,
        &db,
        &["user", "add", "dave", "--email", " dave@example.test "],
    );
    admin(&sb, &db, &["group", "member", "add", "leads", "dave"]);
    let users = admin(&sb, &db, &["user", "list"]);
    assert_eq!(
        users,
        "alice\tuser\t\talice@example.test\nbob\tuser\t\tbob@example.test\n\
         carol\tuser\t\ndave\tuser\t\tdave@example.test\n",
        "stored trimmed, listed last when set"
    );
    let trail = admin(&sb, &db, &["audit", "--event", "user email", "--json"]);
    let rows: Vec<serde_json::Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let said: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap_or_default(),
                r["detail"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("bob", "bob@example.test"),
            ("alice", "alice@example.test"),
            ("dave", "dave@example.test")
        ],
        "{trail}"
    );
    let port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let server = MailServer::start(&sb, &port);
    let moto = start_moto();
    let portal = serve_with(
        &sb,
        &db,
        &moto,
        &["--smtp-url", &smtp_url, "--mail-from", "jit@example.com"],
    );
    let url = format!("{}{}", portal.url, paths::ACCESS_REQUESTS);
    let body = serde_json::json!({"targets": ["prod"], "duration_secs": 3600, "reason": "deploy"});
    let (status, r) = call(&url, &alice, Some(body));
    assert_eq!(status, 200, "{r}");
    let id = r["id"].as_str().expect("id").to_string();

    let mut asked = [server.next(), server.next()];
    asked.sort_by_key(|m| m["to"].to_string());
    assert_eq!(
        asked.iter().map(|m| m["to"].clone()).collect::<Vec<_>>(),
        [
            serde_json::json!(["bob@example.test"]),
            serde_json::json!(["dave@example.test"])
        ],
        "bob directly, dave through the group, not carol: {asked:?}"
    );
    for (m, user) in asked.iter().zip(["bob", "dave"]) {
        let data = m["data"].as_str().expect("data");
        assert!(
            data.contains("Subject: [jit] alice asks for tenant:prod"),
            "{data}"
        );
        assert!(data.contains(&format!("request {id}")), "{data}");
        let at = data
            .find("/link?t=")
            .unwrap_or_else(|| panic!("a link in {data}"));
        let token: String = data[at + 8..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        register_secret(&token);
        let page = reqwest::blocking::get(format!("{}/link?t={token}", portal.url))
            .and_then(|r| r.text())
            .expect("the link's page");
        assert!(
            page.contains(&format!("<strong id=\"to\">{user}</strong>")),
            "the link names the user, not the address: {data}\n{page}"
        );
    }
    let (status, _) = decide(&portal, &bob, paths::ACCESS_APPROVE, &id, "ok");
    assert_eq!(status, 200);
    let approved = server.next();
    assert_eq!(
        approved["to"],
        serde_json::json!(["alice@example.test"]),
        "{approved}"
    );
    assert!(
        approved["data"]
            .as_str()
            .is_some_and(|d| d.contains("Subject: [jit] approved: tenant:prod for alice")),
        "{approved}"
    );
}

/// `jit request --wait` is released by an approval clicked in Chromium, and by a denial there
/// fails with the approver's words.
#[test]
fn jit_request_wait_is_released_by_a_decision_in_chromium() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, _bob, _carol] = provision(&sb, &db);
    passwd_on(&sb, &db, "bob", &format!("{BOB_PASSWORD}\n")).ok();
    let moto = start_moto();
    let portal = serve(&sb, &db, &moto);
    let mine = format!("{}{}", portal.url, paths::ACCESS_REQUESTS);
    for (decision, comment) in [("approve", "go ahead"), ("deny", "not during the freeze")] {
        let waiting = request(&sb, &portal, &alice, "30m", &["--wait"])
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("jit request --wait");
        let id = crate::support::poll(std::time::Duration::from_secs(20), || {
            let (_, list) = call(&mine, &alice, None);
            list.as_array()
                .and_then(|l| l.iter().find(|r| r["state"] == "pending"))
                .and_then(|r| r["id"].as_str().map(str::to_string))
                .ok_or_else(|| "no pending request yet".to_string())
        });
        let seen = flow(
            &sb,
            "access",
            &[
                ("PORTAL_URL", &portal.url),
                ("APPROVER", "bob"),
                ("APPROVER_PASSWORD", BOB_PASSWORD),
                ("REQUEST_ID", &id),
                ("DECISION", decision),
                ("COMMENT", comment),
            ],
        );
        assert_eq!(seen["queueAfter"], 0, "{seen}");
        let out = finish(waiting.wait_with_output().expect("wait"));
        match decision {
            "approve" => {
                let out = out.ok();
                assert!(
                    out.stderr
                        .contains(&format!("request {id} approved by bob (go ahead)")),
                    "{}",
                    out.stderr
                );
            }
            _ => {
                out.fails(1, &format!("request {id} was denied by bob ({comment})"));
            }
        }
    }
}

/// A grant revoked while `jit exec --server` runs the real AWS CLI: the CLI's next request for
/// credentials is refused with the portal's line naming the grant, the keys leave the cache too,
/// and `jit ls` and the server had shown when the grant ends.
#[test]
fn a_grant_revoked_under_jit_exec_server_fails_the_sdks_next_request_naming_the_grant() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("portal.db").display().to_string();
    let [alice, bob, _carol] = provision(&sb, &db);
    let moto = start_moto();
    let portal = serve(&sb, &db, &moto);
    let id = request(&sb, &portal, &alice, "1h", &[]).ok().stdout;
    let (status, body) = decide(&portal, &bob, paths::ACCESS_APPROVE, id.trim(), "go");
    assert_eq!(status, 200, "{body}");
    let gid = body["grants"][0]["id"]
        .as_str()
        .expect("grant id")
        .to_string();
    let end = body["grants"][0]["end"].as_str().expect("end").to_string();

    let dir = sb.dir.path().join("run");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // The first call works; after `go`, calls go on until one is refused (exit 3), at most 60.
    let script = r#"
        export AWS_ENDPOINT_URL="$2"
        aws sts get-caller-identity --query Arn --output text >"$1/first" || exit 8
        touch "$1/ready"
        while [ ! -e "$1/go" ]; do sleep 0.1; done
        i=0
        while aws sts get-caller-identity --output text >/dev/null 2>"$1/err"; do
            i=$((i + 1)); [ "$i" -ge 60 ] && exit 9; sleep 0.5
        done
        exit 3
    "#;
    let path = format!(
        "{}:{}",
        crate::support::venv_bin("aws")
            .parent()
            .expect("bin")
            .display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let stderr = dir.join("jit-stderr");
    let mut jit = sb
        .jit(&[
            "exec",
            "--host",
            &portal.url,
            "--tenant",
            "prod",
            "--token-file",
            &alice,
            "--server",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&dir)
        .arg(&moto.url)
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("spawn jit exec --server");
    let ready = dir.join("ready");
    crate::support::poll(std::time::Duration::from_secs(60), || {
        if ready.exists() {
            Ok(())
        } else {
            Err(format!(
                "the child is not ready: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            ))
        }
    });
    let first = std::fs::read_to_string(dir.join("first")).expect("first");
    assert!(first.contains("assumed-role/prod/"), "{first}");

    // `jit ls` says which grant the cached keys ride on, and when it ends.
    let rows = sb.run(&["ls", "--json"]).ok().json();
    let row = &rows[0];
    assert_eq!(row["scope"], "tenant prod", "{rows}");
    assert_eq!(row["grant"]["id"], gid.as_str(), "{rows}");
    assert_eq!(row["grant"]["end"], end.as_str(), "{rows}");
    let table = sb.run(&["ls"]).ok().stdout;
    assert!(table.contains(&format!(" {gid} ")), "{table}");

    let url = format!("{}{}", portal.url, paths::fill(paths::ACCESS_REVOKE, &gid));
    let (status, body) = call(&url, &bob, Some(serde_json::json!({})));
    assert_eq!(status, 200, "{body}");
    let revoked = body["revoked"].as_str().expect("revoked").to_string();
    std::fs::write(dir.join("go"), "").expect("go");
    let status = jit.wait().expect("wait for jit");
    let said = std::fs::read_to_string(&stderr).expect("stderr");
    crate::support::assert_no_secrets(&said, "jit exec --server");
    let err = std::fs::read_to_string(dir.join("err")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(3),
        "the AWS CLI was refused: {err}\n{said}"
    );
    let line = format!(
        "grant {gid} for tenant:prod was revoked by bob at {revoked}: request again with `jit request prod --for 1h --reason"
    );
    assert!(err.contains(&line), "the CLI names the grant: {err}");
    assert!(
        said.contains(&format!(
            "jit: these credentials come from grant {gid}, which ends at {end} (in "
        )),
        "the server shows the grant's end: {said}"
    );
    assert!(
        said.contains(&format!(
            "jit: warning: {line} \"...\"` (the command's next request for credentials is refused)"
        )),
        "{said}"
    );
    // The cache no longer hands the keys out either: `jit aws` asks and hears the same.
    assert_eq!(sb.run(&["ls", "--json"]).ok().stdout.trim(), "[]");
    refused_with(
        sb.aws()
            .tenant("prod")
            .host(&portal.url)
            .token_file(&alice)
            .run(),
        &format!("{line} \"...\"`"),
    );
}
