//! The shared cache: single flight under concurrency, crash safety, corruption, permissions.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, StandIn, finish, poll, unique};

pub fn entry_path(cache_dir: &Path, stand_in: &StandIn, scope: &str) -> PathBuf {
    let host = stand_in
        .url
        .trim_start_matches("http://")
        .replace(':', "%3A");
    cache_dir.join(format!("{host},{scope},aws-creds.json"))
}

#[test]
fn fifty_concurrent_callers_on_a_cold_cache_make_one_portal_request() {
    let stand_in = StandIn::start();
    stand_in.state().delay = Duration::from_millis(300);
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.user_token);
    let aws = sb.aws().tenant("dev01").host(&stand_in.url);
    let children: Vec<_> = (0..50).map(|_| aws.spawn()).collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| finish(c.wait_with_output().expect("wait")).ok().stdout)
        .collect();
    assert_eq!(
        stand_in.cred_calls(),
        1,
        "single flight: one credentials request for 50 callers"
    );
    assert_eq!(stand_in.count("GetTenantsForUser"), 1);
    assert_eq!(
        unique(outs.iter()),
        1,
        "every caller got the same credentials"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&outs[0]).expect("json")["AccessKeyId"],
        stand_in.last_issued().access_key_id.as_str()
    );
}

#[test]
fn cache_files_are_private() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    sb.aws().admin().host(&stand_in.url).ok();
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&sb.cache_dir()), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(sb.cache_dir()).expect("ls") {
        let path = entry.expect("entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert_eq!(files, 2, "one entry and its lock");
}

#[test]
fn corrupt_or_unreadable_entries_are_misses() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let aws = sb.aws().admin().host(&stand_in.url);
    aws.ok();
    let path = entry_path(&sb.cache_dir(), &stand_in, "admin");
    for garbage in [
        &b""[..],
        b"{\"Version\":1,",
        b"\x00\xff\xfe",
        b"[]",
        b"{\"Version\":1,\"Expiration\":\"yesterday\"}",
    ] {
        std::fs::write(&path, garbage).expect("corrupt");
        let run = aws.ok();
        assert_eq!(
            run.warns("ignoring corrupt cache entry").key(),
            stand_in.last_key()
        );
        let healed: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("entry rewritten");
        assert_eq!(
            healed["AccessKeyId"],
            stand_in.last_issued().access_key_id.as_str()
        );
    }
    assert_eq!(stand_in.cred_calls(), 6);
}

#[test]
fn read_only_cache_dir_degrades_to_no_cache_with_a_warning() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    // Tests may run as root, which ignores directory modes; a file in the way fails for anyone.
    let blocked = sb.dir.path().join("blocked");
    std::fs::write(&blocked, b"not a dir").expect("file");
    let sb = sb.env("JIT_CACHE_DIR", &blocked.join("jit").display().to_string());
    let run = sb.aws().admin().host(&stand_in.url).ok();
    assert_eq!(
        run.warns("continuing without the cache").key(),
        stand_in.last_key()
    );
}

/// SIGKILL a writer stopped at each step of a cache write; the entry must be the old or the new.
#[test]
fn killed_writer_leaves_old_or_new_entry() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let aws = sb.aws().admin().host(&stand_in.url);
    let old = aws.ok().json();
    let path = entry_path(&sb.cache_dir(), &stand_in, "admin");
    for step in ["temp-create", "temp-write", "fsync", "rename"] {
        let mut child = aws.clone().refresh().env("JIT_TEST_FAULT", step).spawn();
        let stat = format!("/proc/{}/stat", child.id());
        poll(Duration::from_secs(20), || {
            let state = std::fs::read_to_string(&stat).unwrap_or_default();
            let stopped = state.split(") ").nth(1).is_some_and(|s| s.starts_with('T'));
            stopped
                .then_some(())
                .ok_or_else(|| format!("writer never reached {step}"))
        });
        child.kill().expect("kill");
        let _ = child.wait();
        let entry: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("entry survives"))
                .unwrap_or_else(|e| panic!("torn entry after kill at {step}: {e}"));
        let key = entry["AccessKeyId"].as_str().expect("key").to_string();
        let newest = stand_in.last_key();
        if step == "rename" {
            assert_eq!(
                key, newest,
                "killed after rename: the new entry is in place"
            );
        } else {
            assert!(
                key == old["AccessKeyId"].as_str().expect("old") || key == newest,
                "{step}: {key}"
            );
        }
        // The lock died with the writer: the next caller is not blocked.
        let after = aws.ok().json();
        assert_eq!(after["AccessKeyId"].as_str(), Some(key.as_str()), "{step}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(sb.cache_dir())
        .expect("ls")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    // Temp files of killed writers are stray but harmless; clear-cache removes them.
    sb.run(&["clear-cache"]).ok();
    let after_clear = std::fs::read_dir(sb.cache_dir())
        .expect("ls")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".json"))
        .count();
    assert_eq!(
        after_clear,
        0,
        "clear-cache removed entries and {} temp files",
        leftovers.len()
    );
}

#[test]
fn ls_and_clear_cache() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
    sb.run(&["env", "dev"]).ok();
    sb.run(&["env", "admin"]).ok();
    let rows = sb.run(&["ls", "--json"]).ok().json();
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 2);
    let scopes: Vec<&str> = rows.iter().filter_map(|r| r["scope"].as_str()).collect();
    assert_eq!(scopes, ["admin", "tenant dev01"]);
    for r in rows {
        let left = r["remaining_secs"].as_i64().expect("secs");
        assert!((3500..=3600).contains(&left), "{left}");
    }
    let table = sb.run(&["ls"]).ok().stdout;
    assert!(
        table.contains("tenant dev01") && table.contains(&stand_in.url) && table.contains("59m"),
        "{table}"
    );
    let cleared = sb.run(&["clear-cache"]).ok();
    assert!(
        cleared.stderr.contains("removed 2 cache entries"),
        "{}",
        cleared.stderr
    );
    assert_eq!(sb.run(&["ls", "--json"]).ok().stdout.trim(), "[]");
    assert_eq!(stand_in.cred_calls(), 2);
}

/// A caller SIGKILLed while it holds the lock mid-fetch must not block the next one: the kernel
/// drops its flock.
#[test]
fn killed_lock_holder_does_not_block_others() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    stand_in.state().delay = Duration::from_secs(30);
    let aws = sb.aws().admin().host(&stand_in.url);
    let mut holder = aws
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    poll(Duration::from_secs(20), || {
        // Its first call (for an admin token, `v3/features/system`) is made under the lock.
        (!stand_in.requests().is_empty())
            .then_some(())
            .ok_or_else(|| "holder never reached the portal".to_string())
    });
    holder.kill().expect("kill");
    let _ = holder.wait();
    stand_in.state().delay = Duration::ZERO;
    let start = Instant::now();
    let run = aws.ok();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(run.key(), stand_in.last_key());
}

/// A write that the kernel refuses half way (the file size limit, which fails `write` like a full
/// disk and works without privileges) keeps the old entry and still prints credentials.
#[test]
fn failing_cache_write_keeps_the_old_entry_and_still_prints() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let aws = sb.aws().admin().host(&stand_in.url);
    let first = aws.ok();
    let path = entry_path(&sb.cache_dir(), &stand_in, "admin");
    let before = std::fs::read(&path).expect("entry");

    // `trap '' XFSZ` makes the over-limit write fail with EFBIG instead of killing jit.
    let script = r#"trap '' XFSZ; ulimit -f 0; exec jit "$@""#;
    let mut cmd = sb.command("sh");
    cmd.args(["-c", script, "sh"]).args(aws.refresh().argv());
    let run = finish(cmd.output().expect("spawn sh")).ok();
    assert_eq!(
        run.warns("credentials not cached").key(),
        stand_in.last_key()
    );
    assert_ne!(run.key(), first.key());
    assert_eq!(
        std::fs::read(&path).expect("entry"),
        before,
        "old entry kept whole"
    );
    let leftovers: Vec<_> = std::fs::read_dir(sb.cache_dir())
        .expect("cache dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// A small tmpfs as the cache dir: filled to the last byte (ENOSPC), then remounted read-only
/// (EROFS). Needs `mount`, which root in a container usually has; otherwise it says so and stops.
#[test]
fn full_disk_and_read_only_cache_dir_degrade_with_a_warning() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &stand_in.admin_token);
    let mnt = sb.dir.path().join("small");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let Some(_mount) = Tmpfs::mount(&mnt) else {
        eprintln!("cannot mount a tmpfs here; full disk covered by the file size limit test only");
        return;
    };
    let cache = mnt.join("jit");
    let sb = sb.env("JIT_CACHE_DIR", &cache.display().to_string());
    let aws = sb.aws().admin().host(&stand_in.url);
    let first = aws.ok();
    let entry = entry_path(&cache, &stand_in, "admin");
    let before = std::fs::read(&entry).expect("entry");

    // Fill the filesystem to the last block.
    let fill = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=4096"])
        .arg(format!("of={}", mnt.join("fill").display()))
        .output()
        .expect("dd");
    assert!(String::from_utf8_lossy(&fill.stderr).contains("No space left"));

    let full = aws.clone().refresh().ok();
    full.warns("credentials not cached").warns("No space left");
    assert_ne!(full.key(), first.key());
    assert_eq!(
        std::fs::read(&entry).expect("entry"),
        before,
        "old entry kept whole"
    );
    // The old entry is still served from the full disk.
    let hit = aws.ok();
    assert_eq!(hit.key(), first.key());

    Tmpfs::remount_read_only(&mnt);
    let calls = stand_in.cred_calls();
    let hit = aws.ok();
    assert_eq!(hit.key(), first.key());
    assert_eq!(
        stand_in.cred_calls(),
        calls,
        "read-only cache still serves hits"
    );
    let refresh = aws.refresh().ok();
    assert_eq!(
        refresh.warns("Read-only file system").key(),
        stand_in.last_key()
    );
    assert_eq!(std::fs::read(&entry).expect("entry"), before);
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Option<Tmpfs> {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }

    #[track_caller]
    fn remount_read_only(at: &Path) {
        let status = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(status.success(), "remount read-only");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
