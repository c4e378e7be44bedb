//! The portal's files on disk against another local user: the data dir and the database are
//! private and must be ours, and the SQLite migration lock can neither be planted nor held to
//! hang `jit portal serve` and every `jit portal` command.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{JIT, Run, Sandbox, finish};

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown (tests run as root)");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").mode() & 0o777
}

/// `jit ARGS` with a watchdog: a run that hangs is killed and fails the test instead of
/// hanging it.
#[track_caller]
fn run_within(cmd: &mut Command, limit: Duration) -> (Run, Duration) {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jit");
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    (finish(child.wait_with_output().expect("output")), took)
}

/// Another process holding an exclusive flock on `path` until dropped.
struct Holder(Child);

impl Holder {
    #[track_caller]
    fn lock(path: &Path) -> Holder {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import fcntl, sys, time\n\
                 f = open(sys.argv[1], 'a')\n\
                 fcntl.flock(f, fcntl.LOCK_EX)\n\
                 print('held', flush=True)\n\
                 time.sleep(300)",
            ])
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "held");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn db_in(sb: &Sandbox) -> PathBuf {
    sb.dir.path().join("data").join("portal.db")
}

#[test]
fn a_held_migration_lock_fails_in_time_naming_the_file() {
    let sb = Sandbox::new().env("JIT_PORTAL_LOCK_TIMEOUT_SECS", "2");
    let db = db_in(&sb).display().to_string();
    sb.run(&["portal", "--db", &db, "user", "list"]).ok();
    let lock = PathBuf::from(format!("{db}.migrate-lock"));
    let holder = Holder::lock(&lock);
    let (run, took) = run_within(
        &mut sb.jit(&["portal", "--db", &db, "user", "list"]),
        Duration::from_secs(20),
    );
    run.fails(
        1,
        &format!(
            "timed out after 2 s waiting for the migration lock {}",
            lock.display()
        ),
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    drop(holder);
    sb.run(&["portal", "--db", &db, "user", "list"]).ok();
}

#[test]
fn a_migration_lock_owned_by_another_user_is_refused() {
    if !is_root() {
        println!("skipped: chown needs root");
        return;
    }
    let sb = Sandbox::new();
    let db = db_in(&sb).display().to_string();
    sb.run(&["portal", "--db", &db, "user", "list"]).ok();
    let lock = PathBuf::from(format!("{db}.migrate-lock"));
    assert_eq!(mode(&lock), 0o600, "the lock file is private");
    chown(&lock, NOBODY);
    let (run, _) = run_within(
        &mut sb.jit(&["portal", "--db", &db, "user", "list"]),
        Duration::from_secs(20),
    );
    run.fails(1, "not owned by you (owner uid 65534, you are uid 0)");
    // A symlink planted in its place is not followed.
    std::fs::remove_file(&lock).expect("rm");
    let target = sb.dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, &lock).expect("symlink");
    sb.run(&["portal", "--db", &db, "user", "list"])
        .fails(1, "symbolic link");
    assert!(!target.exists(), "the link's target was created");
}

/// The umask of whoever runs the portal does not decide who may list its data dir.
#[test]
fn data_dirs_are_made_private_whatever_the_umask() {
    let sb = Sandbox::new();
    let db = sb.dir.path().join("srv").join("jit").join("portal.db");
    for args in [
        vec!["portal", "user", "list"],
        vec!["portal", "--db", db.to_str().expect("utf8"), "user", "list"],
    ] {
        let mut cmd = sb.command("sh");
        cmd.args(["-c", "umask 000; exec \"$0\" \"$@\"", JIT])
            .args(&args);
        finish(cmd.output().expect("sh")).ok();
    }
    let default_dir = sb.home().join(".local").join("share").join("jit");
    assert_eq!(mode(&default_dir), 0o700, "{}", default_dir.display());
    assert_eq!(mode(&default_dir.join("portal.db")), 0o600);
    assert_eq!(mode(db.parent().expect("dir")), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(
        mode(&PathBuf::from(format!("{}.migrate-lock", db.display()))),
        0o600
    );
}

#[test]
fn a_database_or_data_dir_owned_by_another_user_is_refused() {
    if !is_root() {
        println!("skipped: chown needs root");
        return;
    }
    let sb = Sandbox::new();
    let db = db_in(&sb);
    let db_arg = db.display().to_string();
    let args = ["portal", "--db", db_arg.as_str(), "user", "list"];
    sb.run(&args).ok();
    chown(&db, NOBODY);
    sb.run(&args)
        .fails(1, "not owned by you (owner uid 65534, you are uid 0)");
    chown(&db, 0);
    sb.run(&args).ok();
    let dir = db.parent().expect("dir");
    chown(dir, NOBODY);
    sb.run(&args)
        .fails(1, "not owned by you (owner uid 65534, you are uid 0)");
}
