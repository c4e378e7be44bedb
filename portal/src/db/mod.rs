//! The portal's one storage layer: users, tenants, tokens and the audit trail in SQLite (the
//! default: one file, WAL) or PostgreSQL (a URL; several replicas share it). The same SQL runs on
//! both; only the migrations differ per backend. Nothing is cached in the process, so a change
//! made through any replica or `jit portal` command holds at once everywhere.
//!
//! Each table has its own file: its row types, and the `Db` methods that write or read it. Rows
//! derive `sqlx::FromRow`, which is generic over the row type, so one struct reads from both.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub struct Db {
    pool: Pool,
    /// Where the data lives, without any password: safe to log.
    pub location: String,
}

/// Run `$body` with `$p` bound to whichever pool this is; the SQL is the same for both.
macro_rules! with_pool {
    ($db:expr, $p:ident, $body:block) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}

/// A write transaction as `$tx`, committed when `$body` finishes and rolled back when it
/// returns early. SQLite takes the write lock up front, so a read inside never goes stale.
macro_rules! write_tx {
    ($db:expr, $tx:ident, $body:block) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite(p) => {
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::db::Pool::Postgres(p) => {
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Append `$a` (an `&AuditEntry`) to the audit trail through `$exec`: inside a `write_tx!`, the
/// change and its audit row commit together.
macro_rules! insert_audit {
    ($exec:expr, $a:expr) => {{
        let a: &$crate::db::AuditEntry = $a;
        sqlx::query($crate::db::audit::INSERT)
            .bind(a.at)
            .bind(&a.event)
            .bind(&a.actor)
            .bind(&a.user)
            .bind(&a.scope)
            .bind(&a.role_arn)
            .bind(a.duration_secs)
            .bind(&a.client)
            .bind(&a.token_id)
            .bind(&a.detail)
            .execute($exec)
            .await?;
    }};
}

mod audit;
mod backup;
mod device;
mod event;
mod factors;
mod files;
mod grants;
mod groups;
mod keys;
mod notifications;
mod passkeys;
mod policies;
mod requests;
mod sessions;
mod settings;
mod sinks;
mod tenants;
mod tokens;
mod users;

pub use audit::AuditEntry;
pub use device::{NewDevice, Poll};
pub use event::AuditEvent;
pub use factors::{Claim, Factors, NewTotp, SignInRow};
pub use grants::GrantRow;
pub use groups::Group;
pub use notifications::{Channel, NewNotification, Notification};
pub use passkeys::{PasskeyRow, Removal, RemovalProof};
pub use policies::{Policy, Principal};
pub use requests::{Decided, NewDecision, RequestRow};
pub use sessions::{Session, SessionInfo};
pub use settings::{MfaSettings, Settings};
pub use tenants::{K8sChange, K8sCluster, Tenant};
pub use tokens::{Authed, LOGIN_TOKEN_SECS, TokenInfo, TokenScope};
pub use users::User;

/// The migrations, per backend, compiled into the binary. A database records each applied
/// one's version and checksum (SHA-384 of its SQL): a file once released never changes.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The default database: `<XDG data dir>/jit/portal.db`.
pub fn default_path(demo: bool) -> Result<PathBuf> {
    let name = if demo { "portal-demo.db" } else { "portal.db" };
    dirs::data_dir()
        .map(|d| d.join("jit").join(name))
        .ok_or_else(|| anyhow!("cannot find a data directory (pass --db)"))
}

fn is_postgres(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// A PostgreSQL URL with its password blanked, for logs and messages. A password can ride in
/// the userinfo or in the query (`password=`, `sslpassword=`, any spelling or encoding of the
/// name); a fragment is never sent to the server but may hold anything, so it goes too.
pub fn redact_url(target: &str) -> String {
    const BLANK: &str = "****";
    let Ok(mut u) = url::Url::parse(target) else {
        return "(unparsable database URL)".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some(BLANK));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| match k.to_ascii_lowercase().contains("password") {
                true => (k.into_owned(), BLANK.to_string()),
                false => (k.into_owned(), v.into_owned()),
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if u.fragment().is_some() {
        u.set_fragment(Some(BLANK));
    }
    u.to_string()
}

impl Db {
    /// Open (and create or migrate) the database: a PostgreSQL URL, or an SQLite file path
    /// (`sqlite:` prefix optional).
    pub async fn open(target: &str) -> Result<Db> {
        if is_postgres(target) {
            let location = redact_url(target);
            let options = PgConnectOptions::from_str(target)
                .map_err(|e| anyhow!("invalid PostgreSQL URL {location}: {e}"))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| anyhow!("cannot connect to {location}: {e}"))?;
            // The migrator holds a PostgreSQL advisory lock while it runs: replicas starting
            // together migrate one at a time.
            POSTGRES_MIGRATIONS
                .run(&pool)
                .await
                .with_context(|| format!("cannot migrate {location}"))?;
            return Ok(Db {
                pool: Pool::Postgres(pool),
                location,
            });
        }
        let path = Path::new(target.strip_prefix("sqlite:").unwrap_or(target));
        if path.extension().is_some_and(|e| e == "toml") {
            bail!(
                "{} looks like the old TOML state file; the portal now keeps its state in a database (pass --db PATH.db and add users, tenants and tokens again)",
                path.display()
            );
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        files::private_dir(dir)?;
        files::private_file(path)?;
        let location = path.display().to_string();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| anyhow!("cannot open {location}: {e}"))?;
        // SQLite has no advisory lock: processes that find a new file migrate one at a time.
        // The lock file's name only ever adds to the database's, so it can never be the database.
        let lock = files::migrate_lock(Path::new(&format!("{location}.migrate-lock"))).await?;
        SQLITE_MIGRATIONS
            .run(&pool)
            .await
            .with_context(|| format!("cannot migrate {location}"))?;
        drop(lock);
        Ok(Db {
            pool: Pool::Sqlite(pool),
            location,
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    pub async fn close(&self) {
        with_pool!(self, p, { p.close().await })
    }

    /// One `DELETE ... WHERE name = $1` and, when it removed something, its audit row.
    async fn delete_audited(
        &self,
        sql: &'static str,
        name: &str,
        audit: AuditEntry,
    ) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(sql)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, &audit);
            }
            n
        });
        Ok(n > 0)
    }
}

/// A fresh SQLite database in a temporary directory, for unit tests (keep the directory).
#[cfg(test)]
impl Db {
    pub async fn open_temp() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portal.db");
        let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
        (dir, db)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::migrate::{Migration, MigrationSource, MigrationType};

    use super::*;

    /// A fresh SQLite database in a directory that lives as long as the returned guard.
    pub(super) async fn open_temp() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
        (dir, db)
    }

    #[test]
    fn passwords_never_reach_a_log() {
        let shown = redact_url("postgres://portal:hunter2@db.example:5432/jit");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
    }

    /// libpq and sqlx read a password from the query as well as from the userinfo; every form
    /// is blanked, and what is not secret stays readable.
    #[test]
    fn passwords_in_every_form_of_a_url_are_blanked() {
        for url in [
            "postgres://portal:hunter2@db.example:5432/jit",
            "postgres://:hunter2@db.example/jit",
            "postgres://portal@db.example/jit?password=hunter2",
            "postgresql://portal@db.example/jit?sslmode=require&password=hunter2&application_name=x",
            "postgres://portal@db.example/jit?sslpassword=hunter2",
            "postgres://portal@db.example/jit?pass%77ord=hunter2",
            "postgres://portal@db.example/jit?PASSWORD=hunt%65r2",
            "postgres://portal@db.example/jit?password=a&password=hunter2",
            "postgres://portal:x@db.example/jit?sslpassword=hunter2&password=hunter2#password=hunter2",
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains("hunter2"), "{url} -> {shown}");
            assert!(!shown.contains("hunt%65r2"), "{url} -> {shown}");
            assert!(shown.contains("db.example"), "{url} -> {shown}");
            assert!(shown.contains("/jit"), "{url} -> {shown}");
        }
        let shown = redact_url(
            "postgres://portal@db.example/jit?sslmode=require&password=hunter2&application_name=x",
        );
        assert!(shown.contains("sslmode=require"), "{shown}");
        assert!(shown.contains("application_name=x"), "{shown}");
    }

    /// The migrations as the portal listed them by hand before `sqlx::migrate!`: databases in
    /// use recorded these versions and checksums, so they must stay the ones compiled in.
    macro_rules! old_list {
        ($dir:literal) => {
            [
                (
                    1,
                    "init",
                    include_str!(concat!("../../migrations/", $dir, "/0001_init.sql")),
                ),
                (
                    2,
                    "k8s",
                    include_str!(concat!("../../migrations/", $dir, "/0002_k8s.sql")),
                ),
                (
                    3,
                    "password",
                    include_str!(concat!("../../migrations/", $dir, "/0003_password.sql")),
                ),
                (
                    4,
                    "sessions",
                    include_str!(concat!("../../migrations/", $dir, "/0004_sessions.sql")),
                ),
                (
                    5,
                    "session_tokens",
                    include_str!(concat!(
                        "../../migrations/",
                        $dir,
                        "/0005_session_tokens.sql"
                    )),
                ),
                (
                    6,
                    "oidc_logins",
                    include_str!(concat!("../../migrations/", $dir, "/0006_oidc_logins.sql")),
                ),
            ]
            .into_iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect::<Vec<_>>()
        };
    }

    /// The old hand-written migration source, as it resolved.
    #[derive(Debug)]
    struct OldEmbedded(Vec<Migration>);

    impl<'s> MigrationSource<'s> for OldEmbedded {
        fn resolve(
            self,
        ) -> std::pin::Pin<
            Box<
                dyn std::future::Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>>
                    + Send
                    + 's,
            >,
        > {
            Box::pin(async move { Ok(self.0) })
        }
    }

    fn versions_and_checksums(m: &[Migration]) -> Vec<(i64, Vec<u8>, bool)> {
        m.iter()
            .map(|m| (m.version, m.checksum.to_vec(), m.no_tx))
            .collect()
    }

    #[test]
    fn the_compiled_migrations_are_the_ones_databases_recorded() {
        for (old, new) in [
            (old_list!("sqlite"), &SQLITE_MIGRATIONS),
            (old_list!("postgres"), &POSTGRES_MIGRATIONS),
        ] {
            // Later migrations come after these; these never change.
            let new: Vec<Migration> = new.iter().take(old.len()).cloned().collect();
            assert_eq!(versions_and_checksums(&old), versions_and_checksums(&new));
        }
    }

    #[tokio::test]
    async fn a_database_migrated_by_the_old_list_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.expect("connect");
        Migrator::new(OldEmbedded(old_list!("sqlite")))
            .await
            .expect("old source")
            .run(&pool)
            .await
            .expect("old migrate");
        sqlx::query("INSERT INTO users (name, admin, created) VALUES ('bob', TRUE, 1)")
            .execute(&pool)
            .await
            .expect("user");
        pool.close().await;

        let db = Db::open(path.to_str().expect("utf8"))
            .await
            .expect("reopen");
        let users = db.list_users().await.expect("users");
        assert_eq!(users.len(), 1);
        assert!(users[0].admin);
        let Pool::Sqlite(p) = &db.pool else {
            panic!("sqlite")
        };
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(p)
            .await
            .expect("count");
        assert_eq!(
            applied,
            SQLITE_MIGRATIONS.iter().count() as i64,
            "nothing applied twice"
        );
        db.close().await;
    }
}
