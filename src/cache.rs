//! The on-disk cache shared by every `jit` process (docs/protocol.md §5).
//!
//! Entries are replaced by rename, never rewritten in place, so a reader sees the old or the new
//! file and a crash mid-write leaves at most a stray temp file. Locks are separate files that are
//! never deleted: unlinking a lock file while another process waits on it would split the flock.
//!
//! Nothing another user could have planted is trusted, as ssh does with `~/.ssh`: the dir and
//! every file read or locked must be ours, and no symlink in their last component is followed
//! (temp files are created with O_EXCL, which never follows one either).

use std::fs::{self, File};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::{limit, output, redact, trust};

/// botocore refreshes from 15 minutes before expiry, so anything served must outlive that.
pub const DEFAULT_REFRESH_WINDOW_SECS: i64 = 15 * 60;

/// Clock steps smaller than this (NTP corrections) do not spoil an entry.
pub const CLOCK_SLACK_SECS: i64 = 5 * 60;

/// The longest session AWS issues (a role's 12 h maximum), plus the slack: an entry claiming
/// longer was not what the portal said.
pub const MAX_LIFETIME_SECS: i64 = 12 * 3600 + CLOCK_SLACK_SECS;

/// Seconds before expiry from which an entry is fetched anew: `JIT_REFRESH_WINDOW`, else
/// botocore's window.
pub fn refresh_window() -> i64 {
    std::env::var("JIT_REFRESH_WINDOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(DEFAULT_REFRESH_WINDOW_SECS)
}

pub struct Cache {
    dir: PathBuf,
}

/// Holds an exclusive flock until dropped; the kernel releases it if the process dies.
pub struct Lock {
    _file: File,
}

impl Cache {
    /// `$JIT_CACHE_DIR`, else `<XDG cache dir>/jit`.
    pub fn dir() -> Result<PathBuf> {
        if let Some(dir) = std::env::var_os("JIT_CACHE_DIR").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        dirs::cache_dir()
            .map(|d| d.join("jit"))
            .ok_or_else(|| anyhow!("cannot find a cache directory (set JIT_CACHE_DIR)"))
    }

    pub fn open() -> Result<Cache> {
        let dir = Self::dir()?;
        trust::private_dir(&dir)
            .with_context(|| format!("cannot create cache dir {}", dir.display()))?;
        trust::dir(&dir, true).with_context(|| format!("cache dir {}", dir.display()))?;
        Ok(Cache { dir })
    }

    /// Open without creating or changing anything, for commands that only look; a dir we may
    /// not trust is as good as none.
    pub fn existing() -> Result<Option<Cache>> {
        let dir = Self::dir()?;
        if !dir.is_dir() {
            return Ok(None);
        }
        if let Err(e) = trust::dir(&dir, false) {
            output::warn(format_args!(
                "cache dir {}: {e}; ignoring it",
                dir.display()
            ));
            return Ok(None);
        }
        Ok(Some(Cache { dir }))
    }

    fn path(&self, key: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{key}.{ext}"))
    }

    /// A missing, unreadable or corrupt entry is a miss, never an error.
    pub fn read<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let path = self.path(key, "json");
        let read = trust::open(&path, trust::options().read(true)).and_then(limit::read);
        let bytes = match read {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                output::warn(format_args!("ignoring cache entry {}: {e}", path.display()));
                return None;
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                output::warn(format_args!(
                    "ignoring corrupt cache entry {}: {}",
                    path.display(),
                    redact::json_error(&e)
                ));
                None
            }
        }
    }

    /// Replace the entry atomically (see `atomic`); crash tests can stop us at each step.
    pub fn write<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let data = serde_json::to_vec(value)?;
        crate::atomic::write_with(&self.path(key, "json"), &data, fault_point)
    }

    pub fn remove(&self, key: &str) {
        let _ = fs::remove_file(self.path(key, "json"));
    }

    /// The lock on `key` if no other process holds it, else None at once; callers poll it
    /// (`login::wait_lock`) so that they can say what they wait for and stop waiting.
    pub fn try_lock(&self, key: &str) -> Result<Option<Lock>> {
        let path = self.path(key, "lock");
        let mut options = trust::options();
        options.read(true).write(true).truncate(false).create(true);
        let file = trust::open(&path, &options)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// Every entry key, for `jit ls`.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let key = name.strip_suffix(".json")?;
                (!key.starts_with('.')).then(|| key.to_string())
            })
            .collect();
        keys.sort();
        keys
    }

    /// Delete entries and stray temp files; lock files stay (see the module doc).
    pub fn clear(&self) -> Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") || name.ends_with(".tmp") {
                fs::remove_file(entry.path())
                    .with_context(|| format!("cannot remove {}", entry.path().display()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Keys up to this length are kept as they are: with `,failed.json` and a temp file's
/// `.` + `.XXXXXX.tmp` around them, names stay well under the 255-byte limit of file systems.
const MAX_KEY: usize = 200;

/// Build a file-name-safe key: each part percent-encoded, parts joined by `,` as duplo-jit does.
/// A key too long for a file name (a 250-character host) has its long parts replaced by `~` and
/// a digest, which `%`-encoding can never produce; every key callers build (at most five parts)
/// then fits.
pub fn key(parts: &[&str]) -> String {
    let parts: Vec<String> = parts.iter().map(|p| encode(p)).collect();
    let whole = parts.join(",");
    if whole.len() <= MAX_KEY {
        return whole;
    }
    parts
        .iter()
        .map(|p| match p.len() > HASHED_LEN {
            true => hashed(p),
            false => p.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

const HASHED_LEN: usize = 33;

/// `~` and 128 bits of SHA-256 in hex: 33 characters.
fn hashed(part: &str) -> String {
    let hex: String = Sha256::digest(part.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("~{hex}")
}

fn encode(part: &str) -> String {
    part.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Crash-safety tests SIGKILL a writer at each step: with `JIT_TEST_FAULT=<step>` the process
/// stops there (SIGSTOP) so the test can kill it at exactly that point.
fn fault_point(step: &str) {
    #[cfg(unix)]
    if std::env::var("JIT_TEST_FAULT").is_ok_and(|s| s == step) {
        let _ = std::process::Command::new("kill")
            .args(["-STOP", &std::process::id().to_string()])
            .status();
    }
    #[cfg(not(unix))]
    let _ = step;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reversible_and_safe() {
        assert_eq!(
            key(&["portal.example.com", "tenant", "dev 01/x"]),
            "portal.example.com,tenant,dev%2001%2Fx"
        );
        assert_eq!(key(&["127.0.0.1:8080", "admin"]), "127.0.0.1%3A8080,admin");
        let host = format!("{}.example.com", "a".repeat(170));
        assert_eq!(
            key(&[&host, "admin", "aws-creds"]),
            format!("{host},admin,aws-creds"),
            "a long name that still fits is kept as is"
        );
    }

    #[test]
    fn keys_too_long_for_a_file_name_are_shortened_apart() {
        let long = |c: &str| c.repeat(250);
        let a = key(&[&long("a"), "tenant", &long("t"), "aws-creds"]);
        let b = key(&[&long("b"), "tenant", &long("t"), "aws-creds"]);
        assert_ne!(a, b);
        assert!(a.len() <= MAX_KEY, "{a}");
        assert!(a.starts_with('~') && a.ends_with(",aws-creds"), "{a}");
        let five = key(&[&long("a"), &long("b"), &long("c"), &long("d"), &long("e")]);
        assert!(five.len() <= MAX_KEY, "{}", five.len());
    }

    #[test]
    fn write_read_roundtrip_and_corrupt_is_miss() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache {
            dir: dir.path().to_path_buf(),
        };
        cache
            .write("k", &serde_json::json!({"a": 1}))
            .expect("write");
        assert_eq!(
            cache.read::<serde_json::Value>("k"),
            Some(serde_json::json!({"a": 1}))
        );
        fs::write(dir.path().join("k.json"), b"{\"a\":").expect("corrupt");
        assert_eq!(cache.read::<serde_json::Value>("k"), None);
        assert_eq!(cache.keys(), vec!["k".to_string()]);
        assert_eq!(cache.clear().expect("clear"), 1);
        assert!(cache.keys().is_empty());
    }
}
