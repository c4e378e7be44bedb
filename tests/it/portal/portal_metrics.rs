//! The portal's Prometheus metrics (`--metrics-listen`) after real traffic, read with the
//! Python client's OpenMetrics parser (an independent reader of the exposition), and the JSON
//! log of the same run.

use std::io::Write;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use crate::portal::portal_profile::ROOT_PASSWORD;
use crate::portal::portal_server::{Served, get, provision, spawn_portal, state, vend};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, SESSION_COOKIE, passwd};
use crate::support::{Sandbox, assert_no_secrets, moto, poll, register_secret, venv_bin};

/// The exposition as Python's `prometheus_client` reads it: one JSON object per sample, with
/// its family's name and type.
const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

/// One sample of a scrape.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Sample {
    family: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

pub(crate) struct Scrape(Vec<Sample>);

impl Scrape {
    /// The value of the sample `name` with exactly these labels.
    #[track_caller]
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in {:#?}", self.0))
            .value
    }

    /// The type of the family `name`, when the scrape has it.
    fn family(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|s| s.family == name)
            .map(|s| s.kind.as_str())
    }
}

/// The metrics listener's address, from the start-up log (text or JSON).
pub(crate) fn metrics_url(portal: &Served) -> String {
    poll(Duration::from_secs(10), || {
        let log = portal.log();
        log.lines()
            .find_map(|l| {
                let message = match serde_json::from_str::<serde_json::Value>(l) {
                    Ok(v) => v["message"].as_str()?.to_string(),
                    Err(_) => l.strip_prefix("jit portal: ")?.to_string(),
                };
                Some(message.strip_prefix("metrics on ")?.to_string())
            })
            .ok_or(log)
    })
}

/// GET /metrics and parse it with Python's parser.
#[track_caller]
pub(crate) fn scrape(url: &str) -> Scrape {
    let resp = reqwest::blocking::get(url).expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = resp.text().expect("body");
    let mut child = std::process::Command::new(venv_bin("python"))
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "prometheus_client could not parse the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Scrape(serde_json::from_slice(&out.stdout).expect("samples"))
}

const CAP: usize = 8;

/// What the run left behind: the portal, and scrapes before and after its traffic.
struct Run {
    portal: Served,
    metrics: String,
    before: Scrape,
    after: Scrape,
}

/// A portal with metrics (and a connection cap of `CAP`) and real traffic through it: a vend
/// and a refused one, a good password sign-in, wrong ones until throttled, a database error,
/// and a flood past the connection cap.
fn traffic(log_format: &str) -> Run {
    let sb = Sandbox::new();
    let (alice, _) = provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    register_secret(ALICE_PASSWORD);
    let st = state(&sb);
    let cap = CAP.to_string();
    let portal = spawn_portal(
        &sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            &moto().url,
            "--metrics-listen",
            "127.0.0.1:0",
            "--max-connections",
            &cap,
            "--log-format",
            log_format,
        ],
    );
    let metrics = metrics_url(&portal);
    let before = scrape(&metrics);

    // Vends: alice's tenant, and the admin role she may not have.
    vend(&sb, &portal.url, &sb.token_file(&alice));
    assert_eq!(
        get(
            &format!("{}/v3/admin/aws/jitAccess/admin", portal.url),
            &alice
        )
        .0,
        403
    );

    // Sign-ins: a good one, then wrong ones from another browser until its limit is full.
    let mut known = Browser::new(&portal);
    assert_eq!(known.sign_in("alice", ALICE_PASSWORD).status, 303);
    register_secret(&known.cookie(SESSION_COOKIE).expect("session"));
    let mut stranger = Browser::new(&portal);
    for i in 0..5 {
        let wrong = format!("wrong-password-{i}");
        register_secret(&wrong);
        assert_eq!(stranger.sign_in("alice", &wrong).status, 401);
    }
    register_secret("wrong-password-5");
    assert_eq!(stranger.sign_in("alice", "wrong-password-5").status, 429);

    // The known browser signs out, and keeps its known-browser cookie (its own limit).
    let csrf = known.get("/profile").hidden("csrf");
    assert_eq!(known.post("/logout", &[("csrf", &csrf)]).status, 303);
    // A database error: the audit trail's table is gone, so a wrong password cannot be
    // recorded.
    let gone = std::process::Command::new(venv_bin("python"))
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('ALTER TABLE audit RENAME TO audit_gone'); c.commit()",
            &st,
        ])
        .status()
        .expect("python");
    assert!(gone.success());
    register_secret("wrong-password-6");
    assert_eq!(known.sign_in("alice", "wrong-password-6").status, 500);
    drop((known, stranger));

    // A flood past the cap: the longest-idle connections make room.
    let addr = portal.url.trim_start_matches("http://").to_string();
    let held: Vec<TcpStream> = (0..=CAP)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let after = poll(Duration::from_secs(20), || {
        let now = scrape(&metrics);
        let open = now.value("jit_portal_open_connections", &[]);
        let shed = now.value(
            "jit_portal_shed_connections_total",
            &[("reason", "longest_idle")],
        );
        (open == CAP as f64 && shed >= 1.0)
            .then_some(now)
            .ok_or(format!("{open} open, {shed} shed"))
    });
    drop(held);
    poll(Duration::from_secs(20), || {
        let open = scrape(&metrics).value("jit_portal_open_connections", &[]);
        (open == 0.0).then_some(()).ok_or(format!("{open} open"))
    });
    Run {
        portal,
        metrics,
        before,
        after,
    }
}

#[test]
fn every_metric_is_there_and_moves_with_real_traffic_on_its_own_listener_only() {
    let run = traffic("text");
    let (before, after) = (&run.before, &run.after);
    for (family, kind) in [
        ("jit_portal_vends", "counter"),
        ("jit_portal_sts_assume_role_duration_seconds", "histogram"),
        ("jit_portal_sign_ins", "counter"),
        ("jit_portal_second_factor_checks", "counter"),
        ("jit_portal_throttled_requests", "counter"),
        ("jit_portal_open_connections", "gauge"),
        ("jit_portal_shed_connections", "counter"),
        ("jit_portal_database_errors", "counter"),
        ("jit_portal_notification_backlog", "gauge"),
    ] {
        assert_eq!(before.family(family), Some(kind), "{family} before traffic");
        assert_eq!(after.family(family), Some(kind), "{family} after traffic");
    }
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let vends = "jit_portal_vends_total";
    assert_eq!(moved(vends, &[("kind", "tenant"), ("outcome", "ok")]), 1.0);
    assert_eq!(
        moved(vends, &[("kind", "admin"), ("outcome", "refused")]),
        1.0
    );
    assert_eq!(
        moved(vends, &[("kind", "tenant"), ("outcome", "failed")]),
        0.0
    );
    let sts = "jit_portal_sts_assume_role_duration_seconds";
    assert_eq!(moved(&format!("{sts}_count"), &[]), 1.0, "one AssumeRole");
    assert!(moved(&format!("{sts}_sum"), &[]) > 0.0);
    assert_eq!(
        moved(&format!("{sts}_bucket"), &[("le", "+Inf")]),
        1.0,
        "the histogram's buckets"
    );
    let sign_ins = "jit_portal_sign_ins_total";
    for (outcome, n) in [
        ("ok", 1.0),
        ("wrong", 5.0),
        ("throttled", 1.0),
        ("error", 1.0),
    ] {
        assert_eq!(
            moved(sign_ins, &[("method", "password"), ("outcome", outcome)]),
            n,
            "password sign-ins {outcome}"
        );
        assert_eq!(
            moved(sign_ins, &[("method", "oidc"), ("outcome", outcome)]),
            0.0
        );
    }
    assert_eq!(
        moved(
            "jit_portal_throttled_requests_total",
            &[("limit", "sign_in_own")]
        ),
        1.0
    );
    assert_eq!(moved("jit_portal_database_errors_total", &[]), 1.0);
    assert!(
        moved(
            "jit_portal_shed_connections_total",
            &[("reason", "longest_idle")]
        ) >= 1.0
    );
    assert_eq!(after.value("jit_portal_open_connections", &[]), CAP as f64);
    // Registered, and still: second factors and notifications do not exist yet.
    for outcome in ["ok", "wrong", "throttled", "error"] {
        assert_eq!(
            after.value(
                "jit_portal_second_factor_checks_total",
                &[("outcome", outcome)]
            ),
            0.0
        );
    }
    assert_eq!(after.value("jit_portal_notification_backlog", &[]), 0.0);

    // Only on its own listener, and only GET /metrics there.
    let public = reqwest::blocking::get(format!("{}/metrics", run.portal.url)).expect("public");
    assert_eq!(public.status().as_u16(), 404);
    assert!(!public.text().unwrap_or_default().contains("jit_portal_"));
    let other = reqwest::blocking::get(run.metrics.replace("/metrics", "/login")).expect("other");
    assert_eq!(other.status().as_u16(), 404);
    assert_no_secrets(&run.portal.log(), "the portal's log");
}

/// `--log-format json`: every line of a run with vends, sign-ins (good, wrong, throttled,
/// failing) and a connection flood is a JSON object, and none holds a secret.
#[test]
fn every_json_log_line_of_a_busy_run_parses_and_holds_no_secret() {
    let run = traffic("json");
    let log = run.portal.log();
    let mut messages = Vec::new();
    for line in log.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line:?}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        messages.push(event["message"].as_str().expect("message").to_string());
    }
    for wanted in ["metrics on http://", "sign-in throttled", "cannot record"] {
        assert!(
            messages.iter().any(|m| m.contains(wanted)),
            "no {wanted:?} line in {messages:#?}"
        );
    }
    assert_no_secrets(&log, "the portal's JSON log");
}

/// The statements the portal has run, once the count holds still (the purge task runs once at
/// start and then every minute; nothing else runs unasked).
#[track_caller]
fn statements_settled(url: &str) -> f64 {
    let count = |s: &Scrape| s.value("jit_portal_database_statement_duration_seconds_count", &[]);
    poll(Duration::from_secs(10), || {
        let first = count(&scrape(url));
        std::thread::sleep(Duration::from_millis(300));
        let second = count(&scrape(url));
        if first == second {
            Ok(second)
        } else {
            Err(format!("{first} then {second}"))
        }
    })
}

/// pyotp's TOTP code for `secret` (given on stdin, never in argv) at the step `ahead` steps
/// from now.
fn pyotp_code(secret: &str, ahead: i64) -> String {
    let script = "import pyotp, sys, time\n\
                  secret = sys.stdin.read().strip()\n\
                  print(pyotp.TOTP(secret).at(int(time.time()) + 30 * int(sys.argv[1])))";
    let mut child = std::process::Command::new(venv_bin("python"))
        .args(["-c", script, &ahead.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(secret.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("pyotp");
    assert!(out.status.success(), "pyotp failed");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// What a second factor adds to a sign-in, counted with the portal's own statement metric
/// (every statement sqlx runs) over the whole sign-in a browser makes up to its redirect: the
/// form, the password, and for root the code page and the code. The password's query already says whether the user
/// has a factor; the code step must read the TOTP key (1) and move its replay guard (1, inside
/// the session's own transaction, so no extra commit). Nothing else may be added.
#[test]
fn a_totp_sign_in_costs_two_statements_more_than_a_password_sign_in_and_no_more() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let st = state(&sb);
    let portal = spawn_portal(
        &sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            &moto().url,
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let metrics = metrics_url(&portal);

    // root turns TOTP on from the profile.
    let mut b = Browser::new(&portal);
    assert_eq!(b.sign_in("root", ROOT_PASSWORD).status, 303);
    let csrf = b.get("/profile/mfa").hidden("csrf");
    assert_eq!(b.post("/profile/mfa/start", &[("csrf", &csrf)]).status, 303);
    let enrol = b.get("/profile/mfa/enrol");
    let marker = "id=\"secret\" readonly value=\"";
    let at = enrol.body.find(marker).expect("the key on the page") + marker.len();
    let secret = enrol.body[at..].split('"').next().expect("key").to_string();
    register_secret(&secret);
    let csrf = enrol.hidden("csrf");
    let code = pyotp_code(&secret, 0);
    let confirmed = b.post("/profile/mfa/confirm", &[("csrf", &csrf), ("code", &code)]);
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);

    // A password sign-in up to its redirect, the cheapest of three (nothing else runs, but be
    // sure).
    let password = (0..3)
        .map(|_| {
            let before = statements_settled(&metrics);
            let mut b = Browser::new(&portal);
            assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
            statements_settled(&metrics) - before
        })
        .fold(f64::MAX, f64::min);

    // root signs in with the password and the next step's code (the enrolment spent this one).
    let before = statements_settled(&metrics);
    let mut b = Browser::new(&portal);
    let signed = b.sign_in("root", ROOT_PASSWORD);
    assert_eq!(signed.header("location"), "/login/factor");
    let csrf = b.get("/login/factor").hidden("csrf");
    let code = pyotp_code(&secret, 1);
    let done = b.post("/login/factor", &[("csrf", &csrf), ("code", &code)]);
    assert_eq!(done.status, 303, "{}", done.body);
    let with_factor = statements_settled(&metrics) - before;

    eprintln!("statements: password sign-in {password}, with TOTP {with_factor}");
    assert!(password > 0.0, "the metric counts statements");
    assert!(
        with_factor - password <= 2.0,
        "a TOTP sign-in ran {with_factor} statements, a password sign-in {password}"
    );
}
