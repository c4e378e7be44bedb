//! The SQLite database's files against other local users: the data dir and the database are
//! made private and must be ours, and the migration lock is opened without following links and
//! waited for only so long, so nobody else can plant, read or hold them to hang the portal.

use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::OFlags;

/// How long a process waits for another's migration lock: a real migration takes well under a
/// second, so a holder this slow is stuck or hostile.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Seconds to wait instead of `LOCK_TIMEOUT`, so a test need not wait half a minute.
const LOCK_TIMEOUT_VAR: &str = "JIT_PORTAL_LOCK_TIMEOUT_SECS";

fn refuse(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}

/// Ours, or root's (root could change it anyway, and owns `/tmp`): a file or dir another user
/// owns could have been planted or be changed under us.
fn trusted(meta: &Metadata) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    match meta.uid() == me || meta.uid() == 0 {
        true => Ok(()),
        false => Err(refuse(format!(
            "not owned by you (owner uid {}, you are uid {me})",
            meta.uid()
        ))),
    }
}

/// The database's dir: made 0700 where it is created (whatever the umask), refused when
/// another user owns it. An existing dir keeps its mode: it may hold more than the portal's.
pub fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::metadata(dir)
        .and_then(|meta| trusted(&meta))
        .with_context(|| format!("database dir {}", dir.display()))
}

/// The database holds password hashes, token digests and the audit trail: only its owner may
/// read it. A new file is made 0600 (SQLite gives its -wal and -shm files the same mode); an
/// existing one that others may read is made so, with a log line; one another user owns is
/// refused.
pub fn private_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            trusted(&meta).with_context(|| format!("database {}", path.display()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
                tracing::warn!("made {} readable by its owner only", path.display());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    Ok(())
}

fn flags(f: OFlags) -> i32 {
    i32::try_from(f.bits()).unwrap_or(0)
}

/// The lock file: created 0600, never through a symlink (nor blocking on a FIFO), a regular
/// file we own.
fn open_lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(flags(OFlags::NOFOLLOW | OFlags::NONBLOCK))
        .open(path)
        .map_err(
            |e| match e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                true => refuse("it is a symbolic link, not followed".into()),
                false => e,
            },
        )?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    trusted(&meta)?;
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Hold the migration lock `path` until the returned file is dropped; gives up after
/// `LOCK_TIMEOUT` with an error naming the file, instead of waiting for ever on a holder.
pub async fn migrate_lock(path: &Path) -> Result<File> {
    let file = open_lock(path)
        .with_context(|| format!("cannot open the migration lock {}", path.display()))?;
    let limit = std::env::var(LOCK_TIMEOUT_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(LOCK_TIMEOUT, Duration::from_secs);
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + limit;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => bail!(
                    "timed out after {} s waiting for the migration lock {shown}: another process holds it (a portal command still starting, or someone else's); stop it, or remove the file if no jit-portal runs",
                    limit.as_secs()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(anyhow!(e).context(format!("cannot lock {shown}")));
                }
            }
        }
    })
    .await?
}
