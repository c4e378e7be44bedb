//! Notifications out of the portal: email to a real SMTP server (aiosmtpd) and a chat webhook
//! (a receiver here in the test), delivered at least once from the outbox while both are down,
//! across a SIGKILL of the portal, with the row's id as Message-ID and Idempotency-Key; and the
//! single-use link a message carries.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::portal::portal_metrics::{metrics_url, scrape};
use crate::portal::portal_oidc::free_port;
use crate::portal::portal_server::{Served, admin, provision, spawn_portal, state};
use crate::portal::portal_stream::{Kind, Receiver};
use crate::portal::portal_web::Browser;
use crate::support::{
    Sandbox, assert_no_secrets, moto, poll, random_hex, register_secret, venv_bin,
};

/// aiosmtpd on `port`, keeping each message as a file in `maildir`; stopped when dropped.
struct Smtp(Child);

impl Smtp {
    fn start(port: u16, maildir: &std::path::Path) -> Smtp {
        let child = Command::new(venv_bin("python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd");
        poll(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .map(drop)
                .map_err(|e| format!("aiosmtpd not up: {e}"))
        });
        Smtp(child)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every message in the maildir, read by Python's `email` package (an independent parser):
/// its headers and its decoded body.
fn mails(maildir: &std::path::Path) -> Vec<serde_json::Value> {
    const READ: &str = r#"
import email, email.policy, json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    m = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    out.append({k: str(m[k]) for k in ("To", "From", "Subject", "Message-ID")}
               | {"body": m.get_content()})
print(json.dumps(out))
"#;
    if !maildir.join("new").exists() {
        return Vec::new();
    }
    let out = Command::new(venv_bin("python"))
        .args(["-c", READ])
        .arg(maildir)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("mails")
}

/// `jit portal serve` with mail through `smtp_port` and the chat webhook in `hook_file`.
fn serve(sb: &Sandbox, smtp_port: u16, hook_file: &std::path::Path) -> Served {
    let st = state(sb);
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let hook = hook_file.display().to_string();
    spawn_portal(
        sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            &moto().url,
            "--smtp-url",
            &smtp,
            "--mail-from",
            "JIT portal <jit@example.com>",
            "--notify-webhook-file",
            &hook,
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
}

/// The outbox as `notify list --sent` prints it: one line per notification.
fn outbox(sb: &Sandbox) -> Vec<Vec<String>> {
    admin(sb, &["notify", "list", "--sent"])
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn mail_and_chat_notifications_arrive_once_through_outages_and_a_kill_and_their_link_works_once() {
    let sb = Sandbox::new();
    provision(&sb);
    let maildir = sb.dir.path().join("maildir");
    let smtp_port = free_port();
    let mut hook = Receiver::start(Kind::Webhook);
    hook.stop();
    // A Slack-style webhook URL: its path is its key, so it must show up nowhere.
    let key = random_hex(24);
    register_secret(&key);
    let hook_file = sb.dir.path().join("chat-webhook");
    std::fs::write(
        &hook_file,
        format!("http://127.0.0.1:{}/services/T0/B0/{key}\n", hook.port),
    )
    .expect("webhook file");

    // Both down: the portal serves, tries, and keeps both rows with the error.
    let portal = serve(&sb, smtp_port, &hook_file);
    let queued = admin(
        &sb,
        &[
            "notify",
            "test",
            "--to",
            "alice@example.com",
            "--portal-url",
            &portal.url,
        ],
    );
    let mail_id = queued.trim().to_string();
    let portal_first_url = portal.url.clone();
    let chat_id = admin(&sb, &["notify", "test", "--chat"]).trim().to_string();
    assert!(
        mail_id.starts_with("n_") && chat_id.starts_with("n_"),
        "{mail_id} {chat_id}"
    );
    poll(Duration::from_secs(30), || {
        let rows = outbox(&sb);
        match rows.len() == 2 && rows.iter().all(|r| r[6] != "0 tries" && r[7] != "-") {
            true => Ok(()),
            false => Err(format!("{rows:?}")),
        }
    });
    // The backlog gauge, once the round that recorded the failures has published it.
    let backlog = |portal: &Served, want: f64| {
        let url = metrics_url(portal);
        poll(Duration::from_secs(10), || {
            let got = scrape(&url).value("jit_portal_notification_backlog", &[]);
            match got == want {
                true => Ok(()),
                false => Err(format!("the backlog gauge says {got}, not {want}")),
            }
        })
    };
    backlog(&portal, 2.0);
    let rows = outbox(&sb);
    let mail_row = rows.iter().find(|r| r[0] == mail_id).expect("mail row");
    assert_eq!(mail_row[1], "email");
    assert!(mail_row[7].contains("127.0.0.1"), "{mail_row:?}");
    let chat_row = rows.iter().find(|r| r[0] == chat_id).expect("chat row");
    assert_eq!(chat_row[1], "webhook");
    assert!(chat_row[7].contains("http://127.0.0.1"), "{chat_row:?}");

    // SIGKILL, both receivers come back, a new portal process sends what the first could not.
    let mut portal = portal;
    portal.child.kill().expect("SIGKILL");
    let _ = portal.child.wait();
    let first_log = portal.log();
    drop(portal);
    let _smtp = Smtp::start(smtp_port, &maildir);
    hook.run();
    let portal = serve(&sb, smtp_port, &hook_file);
    let (mail, event) = poll(Duration::from_secs(60), || {
        let got = mails(&maildir);
        let events = hook.got.lock().expect("lock").events.clone();
        match (got.as_slice(), events.as_slice()) {
            ([m], [e]) => Ok((m.clone(), e.clone())),
            _ => Err(format!(
                "{} mails, {} chat messages",
                got.len(),
                events.len()
            )),
        }
    });

    // The mail: to alice, from the portal, its Message-ID the row's id, with a link.
    assert_eq!(mail["To"], "alice@example.com", "{mail}");
    assert_eq!(mail["From"], "JIT portal <jit@example.com>", "{mail}");
    assert_eq!(mail["Subject"], "jit portal: a test notification", "{mail}");
    assert_eq!(
        mail["Message-ID"],
        format!("<{mail_id}@jit-portal>"),
        "{mail}"
    );
    let body = mail["body"].as_str().expect("body");
    let link = format!("{}/link?t=", portal_first_url);
    let at = body
        .find(&link)
        .unwrap_or_else(|| panic!("no link in {body}"))
        + link.len();
    let token: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    register_secret(&token);

    // The chat message: Slack's shape, the row's id as Idempotency-Key, the key path kept.
    assert_eq!(
        event["text"],
        "*jit portal: a test notification*\nThis is a test from the JIT access portal: notifications reach you."
    );
    let head = hook.got.lock().expect("lock").headers[0].to_ascii_lowercase();
    assert!(
        head.starts_with(&format!(
            "post /services/t0/b0/{}",
            key.to_ascii_lowercase()
        )),
        "{head}"
    );
    assert!(
        head.contains(&format!("idempotency-key: {chat_id}\r\n")),
        "{head}"
    );
    assert!(head.contains("content-type: application/json"), "{head}");

    // Both rows are sent; nothing goes twice in the seconds after.
    poll(Duration::from_secs(10), || {
        let rows = outbox(&sb);
        match rows.iter().all(|r| r[5].starts_with("sent ")) {
            true => Ok(()),
            false => Err(format!("{rows:?}")),
        }
    });
    std::thread::sleep(Duration::from_secs(3));
    backlog(&portal, 0.0);
    assert_eq!(mails(&maildir).len(), 1, "one mail");
    assert_eq!(
        hook.got.lock().expect("lock").events.len(),
        1,
        "one chat message"
    );

    // The link: GET shows where it leads and spends nothing (mail scanners fetch links);
    // the button's POST spends it and lands on the page; a second POST is refused.
    let mut b = Browser::new(&portal);
    for _ in 0..2 {
        let page = b.get(&format!("/link?t={token}"));
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("/profile"), "{}", page.body);
        assert_eq!(page.header("cache-control"), "no-store");
    }
    let used = b.post("/link", &[("token", &token)]);
    assert_eq!(used.status, 303, "{}", used.body);
    assert_eq!(used.header("location"), "/profile");
    let again = b.post("/link", &[("token", &token)]);
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(again.body.contains("was used already"), "{}", again.body);
    let forged = b.get(&format!("/link?t={}x", &token[..token.len() - 1]));
    assert_eq!(forged.status, 403);

    let log = format!("{first_log}{}", portal.log());
    assert!(
        log.contains("chat notifications to http://127.0.0.1"),
        "{log}"
    );
    assert!(log.contains("not sent (try 1"), "{log}");
    assert_no_secrets(&log, "the portal's log");
    assert_no_secrets(&admin(&sb, &["notify", "list", "--sent"]), "notify list");
}

#[test]
fn a_chat_webhook_or_mail_server_that_would_leak_is_refused_at_start() {
    let sb = Sandbox::new();
    let st = state(&sb);
    let key = random_hex(24);
    register_secret(&key);
    let hook_file = sb.dir.path().join("chat-webhook");
    std::fs::write(
        &hook_file,
        format!("http://hooks.example.com/services/{key}\n"),
    )
    .expect("file");
    let hook = hook_file.display().to_string();
    let refused = |args: &[&str]| {
        let out = sb
            .jit(
                &[
                    &[
                        "portal",
                        "--state",
                        st.as_str(),
                        "serve",
                        "--listen",
                        "127.0.0.1:0",
                    ],
                    args,
                ]
                .concat(),
            )
            .output()
            .expect("serve");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = refused(&["--notify-webhook-file", &hook]);
    assert!(err.contains("the chat webhook: want https://"), "{err}");
    assert_no_secrets(&err, "the refusal");
    let err = refused(&[
        "--smtp-url",
        "smtp://bob:hunter2@mail.example.com",
        "--mail-from",
        "j@example.com",
    ]);
    assert!(err.contains("want no password in the URL"), "{err}");
    let err = refused(&["--smtp-url", "smtp://mail.example.com"]);
    assert!(err.contains("--mail-from"), "{err}");
}
