//! The on-disk cache shared by every `jit` process (DESIGN.md §5).
//!
//! Entries are replaced by rename, never rewritten in place, so a reader sees the old or the new
//! file and a crash mid-write leaves at most a stray temp file. Locks are separate files that are
//! never deleted: unlinking a lock file while another process waits on it would split the flock.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::output;

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
        create_private_dir(&dir)
            .with_context(|| format!("cannot create cache dir {}", dir.display()))?;
        Ok(Cache { dir })
    }

    /// Open without creating anything, for commands that only look.
    pub fn existing() -> Result<Option<Cache>> {
        let dir = Self::dir()?;
        Ok(dir.is_dir().then_some(Cache { dir }))
    }

    fn path(&self, key: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{key}.{ext}"))
    }

    /// A missing, unreadable or corrupt entry is a miss, never an error.
    pub fn read<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let path = self.path(key, "json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                output::warn(format_args!(
                    "cannot read cache entry {}: {e}",
                    path.display()
                ));
                return None;
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                output::warn(format_args!(
                    "ignoring corrupt cache entry {}: {e}",
                    path.display()
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
        let file = private_options()
            .read(true)
            .write(true)
            .truncate(false)
            .create(true)
            .open(&path)
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

/// Build a file-name-safe key: each part percent-encoded, parts joined by `,` as duplo-jit does.
pub fn key(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = fs::metadata(dir)?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir)
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
