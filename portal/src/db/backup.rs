//! `jit portal backup`: a consistent copy of the SQLite database while the portal serves, by
//! SQLite's `VACUUM INTO` (one read transaction: writers go on, and the copy is the database as
//! of one moment). The copy is made in a private directory beside the destination, checked
//! (`PRAGMA integrity_check`, every migration there), and only then linked into place, so the
//! destination is a whole, checked backup or nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::{Db, Pool, SQLITE_MIGRATIONS, files};

/// What a backup holds, as read back from the copy.
pub struct Backup {
    pub users: i64,
    pub tenants: i64,
    pub audit_rows: i64,
    pub bytes: u64,
}

impl Db {
    /// Copy the database to `dest`, a file that must not exist yet.
    pub async fn backup_to(&self, dest: &Path) -> Result<Backup> {
        let Pool::Sqlite(pool) = &self.pool else {
            bail!(
                "jit portal backup copies an SQLite database; back up PostgreSQL with pg_dump (see docs/portal.md, Backups)"
            );
        };
        if dest.symlink_metadata().is_ok() {
            bail!("{} exists: give a new file name", dest.display());
        }
        let dir = dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        files::private_dir(dir)?;
        // A private dir of our own (0700) for the copy while it is made and checked.
        let work = tempfile::Builder::new()
            .prefix(".jit-portal-backup-")
            .tempdir_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        let copy = work.path().join("portal.db");
        let copy_text = copy
            .to_str()
            .ok_or_else(|| anyhow!("{} is not UTF-8", copy.display()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(copy_text)
            .execute(pool)
            .await
            .with_context(|| format!("cannot copy {}", self.location))?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600))?;
        let backup = check(&copy)
            .await
            .with_context(|| format!("the copy of {} does not check out", self.location))?;
        // A hard link never replaces a file: one made meanwhile at `dest` is kept, and refused.
        std::fs::hard_link(&copy, dest)
            .with_context(|| format!("cannot create {}", dest.display()))?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
        Ok(backup)
    }
}

/// Open the copy read-only and check it whole: SQLite's integrity check, every migration this
/// portal knows applied, and what it holds.
async fn check(copy: &Path) -> Result<Backup> {
    let options = SqliteConnectOptions::new().filename(copy).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    if integrity != "ok" {
        bail!("integrity check: {integrity}");
    }
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await?;
    let known = i64::try_from(SQLITE_MIGRATIONS.iter().count())?;
    if migrations != known {
        bail!("{migrations} migrations applied, {known} expected");
    }
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    let mut counts = Vec::new();
    for table in ["users", "tenants", "audit"] {
        counts.push(
            sqlx::query_scalar::<_, i64>(&count(table))
                .fetch_one(&mut conn)
                .await?,
        );
    }
    conn.close().await?;
    Ok(Backup {
        users: counts[0],
        tenants: counts[1],
        audit_rows: counts[2],
        bytes: std::fs::metadata(copy)?.len(),
    })
}
