//! Attacks on what jit reads and keeps: hostile portal bodies, endless files, a clock that ran
//! ahead, a cache dir someone else planted, callers with different tokens, overlong keys.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::cache::entry_path;
use crate::support::{
    JIT, Run, Sandbox, StandIn, assert_no_secrets, finish, poll, register_secret,
};

const NOBODY: u32 = 65534;

/// Every file the cache holds, checked like stderr: no secret may be written into a failure.
fn assert_cache_holds_no_secrets(sb: &Sandbox) {
    for entry in std::fs::read_dir(sb.cache_dir()).into_iter().flatten() {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json")
            && path.to_string_lossy().contains("failed")
        {
            let text = std::fs::read_to_string(&path).expect("read failure record");
            assert_no_secrets(&text, &path.display().to_string());
        }
    }
}

/// Run `cmd` to completion, or kill it after `limit` and fail: a watchdog, not a speed test.
#[track_caller]
fn finish_within(mut cmd: Command, limit: Duration, what: &str) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    finish(child.wait_with_output().expect("output"))
}

/// `jit` under a 1 GiB address-space limit, so an unbounded read fails fast instead of eating
/// the machine.
fn jit_limited(sb: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sb.command("sh");
    cmd.args(["-c", r#"ulimit -v 1048576; exec jit "$@""#, "sh"])
        .args(args);
    cmd
}

fn secret(prefix: &str) -> String {
    let s = format!("{prefix}-{}", crate::support::random_hex(24));
    register_secret(&s);
    s
}

#[test]
fn double_encoded_and_camel_case_bodies_leak_nothing() {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    let args = ["aws", "--admin", "--host", portal.url.as_str()];
    let creds = serde_json::json!({
        "AccessKeyId": "ASIADOUBLE",
        "SecretAccessKey": secret("sk"),
        "SessionToken": secret("st"),
        "ConsoleUrl": format!("https://signin.aws.amazon.com/federation?SigninToken={}", secret("si")),
        "Validity": 3600,
    })
    .to_string();
    // 200 with the credentials JSON inside a JSON string: serde quotes the string it rejects.
    portal.state().raw_body = Some(serde_json::Value::String(creds.clone()).to_string());
    sb.run(&args).fails(1, "malformed JSON");
    assert_cache_holds_no_secrets(&sb);
    portal.state().raw_body = None;

    let camel = serde_json::json!({
        "message": "assume role failed",
        "secretAccessKey": secret("sk"),
        "sessionToken": secret("st"),
        "session_token": secret("st"),
        "Session-Token": secret("st"),
        "details": { "credentials": { "SECRET_ACCESS_KEY": secret("sk") } },
    })
    .to_string();
    let double = serde_json::Value::String(camel.clone()).to_string();
    let cut = camel[..camel.len() - 20].to_string();
    for body in [
        camel,
        double,
        cut.clone(),
        serde_json::Value::String(cut).to_string(),
    ] {
        portal.state().fail = Some((500, body));
        let run = sb.run(&args).fails(1, "status 500");
        assert!(run.stderr.contains("<redacted>"), "{}", run.stderr);
        assert_cache_holds_no_secrets(&sb);
    }
}

#[test]
fn endless_portal_body_is_cut_at_a_mebibyte() {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    portal.state().endless_body = Some(64 << 20);
    let run = sb
        .run(&["aws", "--admin", "--host", &portal.url])
        .fails(1, "larger than 1 MiB");
    assert!(
        run.stderr.len() < 2048,
        "{} bytes of stderr",
        run.stderr.len()
    );
    let sent = poll(Duration::from_secs(20), || {
        portal
            .state()
            .streamed
            .ok_or_else(|| "stand-in still sending".into())
    });
    assert!(sent < 16 << 20, "jit read {sent} bytes of a 64 MiB body");
}

#[test]
fn big_non_json_error_bodies_are_redacted_in_one_pass() {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    let token = secret("st");
    let unit = format!("\"SessionToken\" : \"{token}\", ");
    // Just under the ceiling, then 24 MB: both are redacted or refused without rescanning.
    for size in [(1 << 20) - 64, 24_000_000] {
        let body: String = unit.repeat(size / unit.len());
        portal.state().fail = Some((500, body));
        let run = finish_within(
            sb.jit(&["aws", "--admin", "--host", &portal.url]),
            Duration::from_secs(60),
            &format!("redacting a {size}-byte body"),
        );
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert!(run.stderr.contains("status 500"), "{}", run.stderr);
        assert!(
            run.stderr.len() < 2048,
            "{} bytes of stderr",
            run.stderr.len()
        );
    }
}

#[test]
fn token_config_and_aws_config_files_are_read_with_a_ceiling() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let run = finish(
        jit_limited(
            &sb,
            &[
                "aws",
                "--admin",
                "--host",
                &portal.url,
                "--token-file",
                "/dev/zero",
            ],
        )
        .output()
        .expect("spawn"),
    );
    run.fails(1, "token file /dev/zero").warns("larger than");

    let zero = Sandbox::new().env("JIT_CONFIG", "/dev/zero");
    let run = finish(jit_limited(&zero, &["env", "dev"]).output().expect("spawn"));
    run.fails(1, "config file /dev/zero").warns("larger than");

    let aws = Sandbox::new().env("AWS_CONFIG_FILE", "/dev/zero");
    let run = finish(jit_limited(&aws, &["env", "dev"]).output().expect("spawn"));
    run.fails(1, "/dev/zero").warns("larger than");
    assert_eq!(portal.requests().len(), 0);
}

fn plant(path: &Path, change: impl FnOnce(&mut serde_json::Value)) {
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("entry")).expect("json");
    change(&mut entry);
    std::fs::write(path, entry.to_string()).expect("plant");
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("ts")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A portal, a sandbox whose admin credentials are cached, and that entry's path.
fn cached_admin() -> (StandIn, Sandbox, PathBuf) {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    sb.run(&["aws", "--admin", "--host", &portal.url]).ok();
    let path = entry_path(&sb.cache_dir(), &portal, "admin");
    (portal, sb, path)
}

#[test]
fn entries_from_a_clock_that_ran_ahead_are_stale() {
    let (portal, sb, path) = cached_admin();
    let args = ["aws", "--admin", "--host", portal.url.as_str()];
    let now = jiff::Timestamp::now().as_second();
    // Written while the clock was 8 h ahead: fetched "in 8 h", valid for an hour after that.
    // (fetched in the future, lifetime beyond 12 h, lifetime negative)
    for (fetched, expires) in [
        (now + 8 * 3600, now + 9 * 3600),
        (now - 60, now + 20 * 3600),
        (now + 3 * 3600, now + 2 * 3600),
    ] {
        plant(&path, |e| {
            e["AccessKeyId"] = "ASIAPLANTED".into();
            e["FetchedAt"] = fetched.into();
            e["Expiration"] = rfc3339(expires).into();
        });
        let run = sb.run(&args).ok();
        assert_eq!(
            run.key(),
            portal.last_key(),
            "fetched {fetched}, expires {expires}"
        );
    }
    assert_eq!(portal.cred_calls(), 4);
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown (tests run as root)");
}

#[test]
fn cache_dir_owned_by_another_user_is_refused() {
    let (portal, sb, path) = cached_admin();
    let args = ["aws", "--admin", "--host", portal.url.as_str()];
    let dir = sb.cache_dir();
    plant(&path, |e| e["AccessKeyId"] = "ASIAPLANTED".into());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for entry in std::fs::read_dir(&dir).expect("ls") {
        chown(&entry.expect("entry").path(), NOBODY);
    }
    chown(&dir, NOBODY);
    let run = sb.run(&args).ok();
    assert_eq!(
        run.warns("not owned by you")
            .warns("continuing without the cache")
            .key(),
        portal.last_key()
    );
    let meta = std::fs::metadata(&dir).expect("stat");
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (NOBODY, 0o755),
        "left as found"
    );

    // Our own dir, one planted entry: that entry is ignored, the rest of the cache works.
    chown(&dir, 0);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let run = sb.run(&args).ok();
    assert_eq!(run.warns("not owned by you").key(), portal.last_key());
    assert_eq!(portal.cred_calls(), 3);
}

/// The config names the portal jit sends its token to: its dir is made private whatever the
/// umask, and a config another user owns (root with `HOME` still pointing at a user's home,
/// or a file planted in a shared dir) is refused rather than obeyed.
#[test]
fn config_dir_is_private_and_another_users_config_is_refused() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let mut cmd = sb.command("sh");
    cmd.args(["-c", "umask 000; exec \"$0\" \"$@\"", JIT])
        .args(["config", "add", "dev", "--tenant", "dev01", "--host"])
        .arg(&stand_in.url);
    finish(cmd.output().expect("sh")).ok();
    let file = sb.config_file();
    let dir = file.parent().expect("dir").to_path_buf();
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    if !rustix::process::geteuid().is_root() {
        println!("skipped the ownership half: chown needs root");
        return;
    }
    let refused = "not owned by you (owner uid 65534, you are uid 0)";
    chown(&file, NOBODY);
    sb.run(&["config", "list"]).fails(1, refused);
    sb.run(&["env", "dev"]).fails(1, refused);
    chown(&file, 0);
    sb.run(&["config", "list"]).ok();
    chown(&dir, NOBODY);
    sb.run(&["config", "list"]).fails(1, refused);
    sb.jit_cmd(["config", "add", "ops", "--duplo-ops"])
        .host(&stand_in.url)
        .fails(1, refused);
}

#[test]
fn symlinks_in_the_cache_are_not_followed() {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    let args = ["aws", "--admin", "--host", portal.url.as_str()];
    // A dangling lock symlink: jit must not create its target.
    let dir = sb.cache_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    let entry = entry_path(&dir, &portal, "admin");
    let lock = entry.with_extension("lock");
    let target = sb.dir.path().join("created-through-the-lock");
    std::os::unix::fs::symlink(&target, &lock).expect("symlink");
    let run = sb.run(&args).ok();
    assert_eq!(run.warns("symbolic link").key(), portal.last_key());
    assert!(!target.exists(), "jit created {}", target.display());

    // An entry symlinked to another file is not read through the link.
    std::fs::remove_file(&lock).expect("rm");
    let elsewhere = sb.dir.path().join("elsewhere.json");
    std::fs::rename(&entry, &elsewhere).expect("mv");
    plant(&elsewhere, |e| e["AccessKeyId"] = "ASIAPLANTED".into());
    std::os::unix::fs::symlink(&elsewhere, &entry).expect("symlink");
    let run = sb.run(&args).ok();
    assert_eq!(run.warns("symbolic link").key(), portal.last_key());

    // A cache dir that is a symlink to a directory others can read: not chmodded, not used.
    let victim = sb.dir.path().join("victim");
    std::fs::create_dir_all(&victim).expect("mkdir");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let link = sb.dir.path().join("link");
    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
    let linked = Sandbox::new()
        .env("JIT_TOKEN", &portal.admin_token)
        .env("JIT_CACHE_DIR", &link.display().to_string());
    let run = linked.run(&args).ok();
    assert_eq!(
        run.warns("continuing without the cache").key(),
        portal.last_key()
    );
    let mode = std::fs::metadata(&victim).expect("stat").mode() & 0o777;
    assert_eq!(mode, 0o755, "the symlink's target was chmodded");
    assert_eq!(std::fs::read_dir(&victim).expect("ls").count(), 0);

    // A symlink to a private directory of our own is a user's choice, and works.
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let first = linked.run(&args).ok();
    assert!(!first.stderr.contains("warning"), "{}", first.stderr);
    assert_eq!(linked.run(&args).ok().key(), first.key());
    assert!(std::fs::read_dir(&victim).expect("ls").count() >= 2);
}

#[test]
fn a_failure_is_shared_only_with_callers_of_the_same_token() {
    let portal = StandIn::start();
    portal.state().delay = Duration::from_secs(2);
    let sb = Sandbox::new();
    let wrong = secret("tok-wrong");
    let spawn = |token: &str| {
        sb.jit(&["aws", "--admin", "--host", &portal.url])
            .env("JIT_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    // Each round: a wrong token holds the lock while the portal stalls, a second caller queues
    // behind it; the 401 is the second caller's only if its token is the same.
    for (second, shared) in [(wrong.clone(), true), (portal.admin_token.clone(), false)] {
        let before = portal.requests().len();
        let first = spawn(&wrong);
        poll(Duration::from_secs(20), || {
            (portal.requests().len() > before)
                .then_some(())
                .ok_or_else(|| "first caller never reached the portal".to_string())
        });
        let second = spawn(&second);
        finish(first.wait_with_output().expect("wait")).fails(1, "status 401");
        let second = finish(second.wait_with_output().expect("wait"));
        if shared {
            second.fails(1, "(from a concurrent request)");
        } else {
            assert_eq!(second.ok().key(), portal.last_key());
        }
    }
    assert_cache_holds_no_secrets(&sb);
}

#[test]
fn hosts_longer_than_a_file_name_still_cache_and_lock() {
    let portal = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    let host = format!(
        "https://{}example.com",
        format!("{}.", "a".repeat(60)).repeat(4)
    );
    let args = [
        "aws",
        "--duplo-ops",
        "--host",
        &host,
        "--api-host",
        &portal.url,
    ];
    let first = sb.run(&args).ok();
    assert!(!first.stderr.contains("warning"), "{}", first.stderr);
    assert_eq!(sb.run(&args).ok().key(), first.key());
    assert_eq!(portal.cred_calls(), 1, "the second call is a cache hit");
    let names: Vec<PathBuf> = std::fs::read_dir(sb.cache_dir())
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(names.len(), 2, "an entry and its lock: {names:?}");
    assert!(sb.run(&["ls"]).ok().stdout.contains("duplo-ops"));
}

#[test]
fn complete_is_not_our_variable_but_jit_complete_is() {
    let portal = StandIn::start();
    let sb = Sandbox::new()
        .env("JIT_TOKEN", &portal.admin_token)
        .env("COMPLETE", "bash");
    let run = sb.run(&["aws", "--admin", "--host", &portal.url]).ok();
    assert_eq!(run.key(), portal.last_key());

    let completing = Sandbox::new()
        .env("JIT_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "1")
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n");
    let run = completing.run(&["--", "jit", "aw"]).ok();
    assert_eq!(run.stdout.trim(), "aws");
}
