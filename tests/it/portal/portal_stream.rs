//! The audit stream: a webhook receiver and syslog receivers (TCP and UDP) here in the test get
//! every audit event of a run, in order, while one of them is stopped, across a SIGKILL of the
//! portal, and on PostgreSQL with a transaction that commits out of its seq order;
//! `jit portal audit --follow` prints rows as they are committed.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::portal::portal_ops::{Pg, admin_on, provision_on};
use crate::portal::portal_server::{Served, get, provision, spawn_served, state};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, passwd};
use crate::support::{Sandbox, assert_no_secrets, moto, poll, random_hex, register_secret};

/// What a receiver got: each event's JSON, in arrival order, and the webhook's request headers.
#[derive(Default)]
pub(crate) struct Got {
    pub(crate) events: Vec<serde_json::Value>,
    pub(crate) headers: Vec<String>,
}

/// A receiver on a fixed port that can be stopped (its port then refuses) and started again.
/// The notifications' tests use its webhook kind for the chat webhook.
pub(crate) struct Receiver {
    pub(crate) port: u16,
    pub(crate) got: Arc<Mutex<Got>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    kind: Kind,
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Webhook,
    SyslogTcp,
    SyslogUdp,
}

impl Receiver {
    pub(crate) fn start(kind: Kind) -> Receiver {
        let mut r = Receiver {
            port: 0,
            got: Arc::default(),
            stop: Arc::default(),
            thread: None,
            kind,
        };
        r.run();
        r
    }

    pub(crate) fn run(&mut self) {
        self.stop = Arc::new(AtomicBool::new(false));
        let (stop, got) = (self.stop.clone(), self.got.clone());
        let addr = format!("127.0.0.1:{}", self.port);
        self.thread = Some(match self.kind {
            Kind::SyslogUdp => {
                let sock = UdpSocket::bind(&addr).expect("bind udp");
                self.port = sock.local_addr().expect("addr").port();
                sock.set_read_timeout(Some(Duration::from_millis(50)))
                    .expect("timeout");
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while !stop.load(Ordering::SeqCst) {
                        if let Ok(n) = sock.recv(&mut buf) {
                            let event = syslog_event(&buf[..n]);
                            got.lock().expect("lock").events.push(event);
                        }
                    }
                })
            }
            kind => {
                let listener = TcpListener::bind(&addr).expect("bind");
                self.port = listener.local_addr().expect("addr").port();
                listener.set_nonblocking(true).expect("nonblocking");
                std::thread::spawn(move || {
                    let mut conns = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((conn, _)) => {
                                conn.set_nonblocking(false).expect("blocking");
                                let (stop, got) = (stop.clone(), got.clone());
                                conns.push(std::thread::spawn(move || match kind {
                                    Kind::Webhook => webhook_conn(conn, &got),
                                    _ => syslog_conn(conn, &stop, &got),
                                }));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(10)),
                        }
                    }
                    // Stopped: the listener closes, and so does every connection.
                    drop(listener);
                    for c in conns {
                        let _ = c.join();
                    }
                })
            }
        });
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("receiver");
        }
    }

    /// The seqs received, first arrival of each id only (a repeat is a duplicate to drop).
    fn seqs(&self) -> Vec<i64> {
        let got = self.got.lock().expect("lock");
        let mut seen = HashSet::new();
        got.events
            .iter()
            .filter(|e| seen.insert(e["id"].as_str().unwrap_or_default().to_string()))
            .map(|e| e["seq"].as_i64().expect("seq"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP/1.1 request, answered 200 and closed.
fn webhook_conn(mut conn: TcpStream, got: &Mutex<Got>) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().expect("length");
        }
        head.push_str(&line);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("body");
    let body = String::from_utf8(body).expect("utf8");
    {
        let mut got = got.lock().expect("lock");
        got.headers.push(head);
        for line in body.lines() {
            got.events
                .push(serde_json::from_str(line).expect("a JSON line"));
        }
    }
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

/// Octet-counted frames (RFC 6587) until the sender closes or the receiver stops.
fn syslog_conn(conn: TcpStream, stop: &AtomicBool, got: &Mutex<Got>) {
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut reader = BufReader::new(conn);
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while !stop.load(Ordering::SeqCst) {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(_) => continue,
        }
        while let Some(space) = pending.iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&pending[..space])
                .expect("ascii")
                .parse()
                .expect("an octet count");
            if pending.len() < space + 1 + len {
                break;
            }
            let frame: Vec<u8> = pending.drain(..space + 1 + len).skip(space + 1).collect();
            let event = syslog_event(&frame);
            got.lock().expect("lock").events.push(event);
        }
    }
}

/// The JSON of one RFC 5424 message, its header checked.
fn syslog_event(msg: &[u8]) -> serde_json::Value {
    let text = String::from_utf8(msg.to_vec()).expect("utf8");
    let fields: Vec<&str> = text.splitn(8, ' ').collect();
    assert_eq!(fields.len(), 8, "{text}");
    assert_eq!(fields[0], "<86>1", "authpriv.info, version 1: {text}");
    assert_eq!(
        (fields[3], fields[5], fields[6]),
        ("jit-portal", "audit", "-"),
        "{text}"
    );
    serde_json::from_str(fields[7].trim_start_matches('\u{feff}')).expect("JSON message")
}

/// The trail's seqs, oldest first.
fn trail(sb: &Sandbox, db: &str) -> Vec<serde_json::Value> {
    admin_on(sb, db, &["audit", "--json", "--limit", "100000"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

fn seqs(rows: &[serde_json::Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["seq"].as_i64().expect("seq"))
        .collect()
}

/// Wait until `r` has every row of the trail, in order, each once after duplicates are dropped.
#[track_caller]
fn has_all(sb: &Sandbox, db: &str, r: &Receiver, what: &str) {
    poll(Duration::from_secs(90), || {
        let want = seqs(&trail(sb, db));
        let got = r.seqs();
        match got == want {
            true => Ok(()),
            false => {
                std::thread::sleep(Duration::from_millis(200));
                Err(format!("{what} has {got:?}, the trail {want:?}"))
            }
        }
    });
}

/// `jit portal serve` on `db` streaming to `extra`'s sinks, the webhook secret in its env.
fn serve_streaming(sb: &Sandbox, db: &str, extra: &[&str], secret: &str) -> Served {
    let mut args = vec![
        "portal",
        "--db",
        db,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sts-endpoint",
        &moto().url,
    ];
    args.extend_from_slice(extra);
    let mut cmd = sb.jit(&args);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIAPORTALSERVER0000")
        .env("AWS_SECRET_ACCESS_KEY", "portal-secret")
        .env("JIT_PORTAL_AUDIT_WEBHOOK_SECRET", secret);
    spawn_served(cmd)
}

/// One vend straight from the API: an audit row; the answer's status.
fn vend(url: &str, token: &str) -> u16 {
    let (status, tenants) = get(&format!("{url}/admin/GetTenantsForUser"), token);
    if status != 200 {
        return status;
    }
    let id = tenants
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["AccountName"] == "dev01"))
        .and_then(|t| t["TenantId"].as_str())
        .expect("dev01")
        .to_string();
    let (status, creds) = get(
        &format!("{url}/subscriptions/{id}/GetAwsConsoleTokenUrl"),
        token,
    );
    if let (Some(s), Some(t)) = (
        creds["SecretAccessKey"].as_str(),
        creds["SessionToken"].as_str(),
    ) {
        register_secret(s);
        register_secret(t);
    }
    status
}

/// Vends, a sign-in, a refused sign-in and an admin change: all audited.
fn traffic(sb: &Sandbox, db: &str, portal: &Served, token: &str) {
    for _ in 0..3 {
        assert_eq!(vend(&portal.url, token), 200, "{}", portal.log());
    }
    let mut b = Browser::new(portal);
    assert_eq!(b.sign_in("alice", ALICE_PASSWORD).status, 303);
    let mut wrong = Browser::new(portal);
    wrong.sign_in("alice", "not her password");
    admin_on(
        sb,
        db,
        &[
            "user",
            "add",
            &format!("u{}", random_hex(4)),
            "--tenant",
            "dev01",
        ],
    );
}

#[test]
fn a_webhook_and_a_syslog_receiver_get_every_audit_event_in_order_through_outages_and_a_kill() {
    let sb = Sandbox::new();
    let db = state(&sb);
    let (alice, _) = provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let secret = random_hex(20);
    register_secret(&secret);
    let mut hook = Receiver::start(Kind::Webhook);
    let mut syslog = Receiver::start(Kind::SyslogTcp);
    let hook_url = format!("http://127.0.0.1:{}/audit", hook.port);
    let syslog_url = format!("tcp://127.0.0.1:{}", syslog.port);
    let sinks = [
        "--audit-webhook",
        hook_url.as_str(),
        "--audit-syslog",
        syslog_url.as_str(),
    ];
    let portal = serve_streaming(&sb, &db, &sinks, &secret);
    traffic(&sb, &db, &portal, &alice);
    has_all(&sb, &db, &hook, "the webhook");
    has_all(&sb, &db, &syslog, "syslog");

    // The webhook's receiver goes away: the portal serves on, and what happens meanwhile
    // arrives once it is back. Then the same for syslog.
    hook.stop();
    traffic(&sb, &db, &portal, &alice);
    has_all(&sb, &db, &syslog, "syslog, with the webhook down");
    syslog.stop();
    traffic(&sb, &db, &portal, &alice);
    hook.run();
    has_all(&sb, &db, &hook, "the webhook, back");
    traffic(&sb, &db, &portal, &alice);
    syslog.run();
    has_all(&sb, &db, &syslog, "syslog, back");
    has_all(&sb, &db, &hook, "the webhook");

    // SIGKILL in the middle of vends: every row committed before it arrives after a restart.
    let url = portal.url.clone();
    let token = alice.clone();
    let writer = std::thread::spawn(move || {
        let mut answered = 0;
        while answered < 1000 {
            match std::panic::catch_unwind(|| vend(&url, &token)) {
                Ok(200) => answered += 1,
                _ => break,
            }
        }
        answered
    });
    std::thread::sleep(Duration::from_millis(1500));
    let mut portal = portal;
    portal.child.kill().expect("SIGKILL");
    let _ = portal.child.wait();
    assert!(writer.join().unwrap_or(0) > 3, "vends before the kill");
    let log = portal.log();
    drop(portal);
    let portal = serve_streaming(&sb, &db, &sinks, &secret);
    traffic(&sb, &db, &portal, &alice);
    has_all(&sb, &db, &hook, "the webhook, after the kill");
    has_all(&sb, &db, &syslog, "syslog, after the kill");

    // What arrived is what `jit portal audit --json` says, with one id per row and database.
    let rows = trail(&sb, &db);
    let got = hook.got.lock().expect("lock");
    let stream_id = got.events[0]["id"]
        .as_str()
        .and_then(|id| id.split_once('-'))
        .map(|(s, _)| s.to_string())
        .expect("id");
    for row in &rows {
        let seq = row["seq"].as_i64().expect("seq");
        let id = format!("{stream_id}-{seq}");
        let sent = got
            .events
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no event {id}"));
        let mut sent = sent.clone();
        sent.as_object_mut().expect("object").remove("id");
        assert_eq!(&sent, row, "the webhook's event is the trail's row");
    }
    for head in &got.headers {
        let lower = head.to_ascii_lowercase();
        assert!(head.starts_with("POST /audit HTTP/1.1"), "{head}");
        assert!(
            lower.contains(&format!("authorization: bearer {secret}\r\n")),
            "{head}"
        );
        assert!(
            lower.contains(&format!("idempotency-key: {stream_id}-")),
            "{head}"
        );
        assert!(
            lower.contains("content-type: application/x-ndjson"),
            "{head}"
        );
    }
    drop(got);
    let log = format!("{log}{}", portal.log());
    assert!(
        log.contains("audit stream to webhook http://127.0.0.1:"),
        "{log}"
    );
    assert_no_secrets(&log, "the portal's log");
}

#[test]
fn a_udp_syslog_receiver_gets_every_audit_event() {
    let sb = Sandbox::new();
    let db = state(&sb);
    let (alice, _) = provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let udp = Receiver::start(Kind::SyslogUdp);
    let target = format!("udp://127.0.0.1:{}", udp.port);
    let portal = serve_streaming(&sb, &db, &["--audit-syslog", &target], "");
    traffic(&sb, &db, &portal, &alice);
    has_all(&sb, &db, &udp, "UDP syslog");
}

#[test]
fn a_webhook_must_be_https_unless_it_is_on_loopback() {
    let sb = Sandbox::new();
    let db = state(&sb);
    for url in [
        "http://hooks.example.com/audit",
        "http://user:pw@127.0.0.1/audit",
        "ftp://hooks.example.com/audit",
    ] {
        let run = sb.run(&["portal", "--db", &db, "serve", "--audit-webhook", url]);
        assert_ne!(run.code, Some(0), "{url}");
        assert!(run.stderr.contains("--audit-webhook"), "{}", run.stderr);
    }
    let run = sb.run(&[
        "portal",
        "--db",
        &db,
        "serve",
        "--audit-syslog",
        "http://x:1",
    ]);
    assert!(run.stderr.contains("tcp://HOST:PORT"), "{}", run.stderr);
}

/// `jit portal audit --follow`: it prints what is there, then each row as it is committed.
fn follow(sb: &Sandbox, db: &str) -> (Child, Arc<Mutex<String>>) {
    let mut child = sb
        .jit(&["portal", "--db", db, "audit", "--follow", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("follow");
    let mut out = child.stdout.take().expect("stdout");
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, text)
}

#[test]
fn audit_follow_prints_rows_as_they_are_committed() {
    let sb = Sandbox::new();
    let db = state(&sb);
    admin_on(&sb, &db, &["user", "add", "before"]);
    let (mut child, text) = follow(&sb, &db);
    poll(Duration::from_secs(20), || {
        let t = text.lock().expect("lock").clone();
        t.contains("\"user\":\"before\"").then_some(()).ok_or(t)
    });
    for name in ["after1", "after2"] {
        admin_on(&sb, &db, &["user", "add", name]);
    }
    let seen = poll(Duration::from_secs(20), || {
        let t = text.lock().expect("lock").clone();
        t.contains("\"user\":\"after2\"")
            .then_some(t.clone())
            .ok_or(t)
    });
    let users: Vec<String> = seen
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .map(|v| v["user"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(users, ["before", "after1", "after2"], "each once, in order");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn on_postgresql_a_row_that_commits_late_still_reaches_the_stream_in_order() {
    let pg = Pg::start();
    let sb = Sandbox::new();
    let db = pg.database("stream");
    let alice = provision_on(&sb, &db);
    let hook = Receiver::start(Kind::Webhook);
    let hook_url = format!("http://127.0.0.1:{}/audit", hook.port);
    let sinks = ["--audit-webhook", hook_url.as_str()];
    // Two replicas deliver to the same webhook: one at a time, and nothing twice while both run.
    let (a, b) = (
        serve_streaming(&sb, &db, &sinks, ""),
        serve_streaming(&sb, &db, &sinks, ""),
    );
    for replica in [&a, &b, &a] {
        assert_eq!(vend(&replica.url, &alice), 200);
    }
    has_all(&sb, &db, &hook, "the webhook");

    // A transaction draws its seq, then waits before it commits; a later one commits first.
    // Had the later row been delivered first, the stream would have moved past the earlier.
    let mut psql = std::process::Command::new("psql")
        .args([db.as_str(), "-v", "ON_ERROR_STOP=1", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("psql");
    let mut stdin = psql.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "BEGIN; INSERT INTO audit (at, event, actor, detail) VALUES (1, 'settings', 'psql', 'slow');"
    )
    .expect("write");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    let later = {
        let (url, token) = (b.url.clone(), alice.clone());
        std::thread::spawn(move || vend(&url, &token))
    };
    std::thread::sleep(Duration::from_secs(2));
    writeln!(stdin, "COMMIT;").expect("commit");
    drop(stdin);
    assert!(psql.wait().expect("psql").success());
    assert_eq!(later.join().expect("vend"), 200);
    has_all(&sb, &db, &hook, "the webhook");
    let got = hook.got.lock().expect("lock");
    let ids: Vec<&str> = got.events.iter().filter_map(|e| e["id"].as_str()).collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no event sent twice: {ids:?}");
}
