//! The portal's one storage layer: users, tenants, tokens and the audit trail in SQLite (the
//! default: one file, WAL) or PostgreSQL (a URL; several replicas share it). The same SQL runs on
//! both; only the migrations differ per backend. Nothing is cached in the process, so a change
//! made through any replica or `jit portal` command holds at once everywhere.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sqlx::Row;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::secret;

pub const MIN_SESSION_SECS: i64 = 900;
pub const MAX_SESSION_SECS: i64 = 43200;
pub const DEFAULT_VALIDITY_SECS: i64 = 3600;
/// A token minted by the browser login lasts as long as the CLI expects a portal token to, and
/// never longer than the token that minted it.
pub const LOGIN_TOKEN_SECS: i64 = 3600;

/// Session length for a role: the wanted validity, clamped to 900 s and to what the role allows.
pub fn clamp_session(wanted: i64, role_max: i64) -> i64 {
    let ceiling = role_max.clamp(MIN_SESSION_SECS, MAX_SESSION_SECS);
    wanted.clamp(MIN_SESSION_SECS, ceiling)
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub struct Db {
    pool: Pool,
    /// Where the data lives, without any password: safe to log.
    pub location: String,
}

/// The database holds password hashes, token digests and the audit trail: only its owner may
/// read it. A new file is made 0600 (SQLite gives its -wal and -shm files the same mode); an
/// existing one that others may read is made so, with a log line.
fn private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::metadata(path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
                tracing::warn!("made {} readable by its owner only", path.display());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
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

/// Run `$body` with `$p` bound to whichever pool this is; the SQL is the same for both.
macro_rules! with_pool {
    ($db:expr, $p:ident, $body:block) => {
        match &$db.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// A write transaction as `$tx`, committed when `$body` finishes and rolled back when it
/// returns early. SQLite takes the write lock up front, so a read inside never goes stale.
macro_rules! write_tx {
    ($db:expr, $tx:ident, $body:block) => {
        match &$db.pool {
            Pool::Sqlite(p) => {
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Pool::Postgres(p) => {
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub admin: bool,
    pub tenants: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub name: String,
    pub id: String,
    pub role_arn: String,
    pub validity_secs: i64,
    pub max_session_secs: i64,
    pub plan: String,
    pub k8s: Option<K8sCluster>,
}

/// A tenant's Kubernetes cluster, set by an admin.
#[derive(Debug, Clone, Default)]
pub struct K8sCluster {
    /// The EKS cluster name: what the token names in `x-k8s-aws-id`.
    pub name: String,
    pub server: String,
    /// Base64 of the CA's PEM, as kubeconfig's `certificate-authority-data`.
    pub ca: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub admin_session_secs: i64,
    pub admin_role_arn: Option<String>,
    pub ops_role_arn: Option<String>,
}

/// A change to a tenant's cluster: fields to set, or `clear` to drop the cluster.
#[derive(Debug, Clone, Default)]
pub struct K8sChange {
    pub cluster: Option<String>,
    pub server: Option<String>,
    pub ca: Option<String>,
    pub clear: bool,
}

impl K8sChange {
    pub fn is_empty(&self) -> bool {
        !self.clear && self.cluster.is_none() && self.server.is_none() && self.ca.is_none()
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone)]
pub struct Authed {
    pub token_id: String,
    pub user: String,
    pub admin: bool,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user: String,
    pub admin: bool,
    /// The token every POST form of this session carries.
    pub csrf: String,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub origin: String,
    pub parent: Option<String>,
    pub created: i64,
    pub expires: Option<i64>,
}

/// One line of the audit trail. Never holds a secret: tokens appear by id only.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    pub at: i64,
    pub event: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEntry {
    pub fn new(event: &str, actor: &str) -> AuditEntry {
        AuditEntry {
            at: jiff::Timestamp::now().as_second(),
            event: event.into(),
            actor: actor.into(),
            ..AuditEntry::default()
        }
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

const INSERT_AUDIT: &str = "INSERT INTO audit (at, event, actor, user_name, scope, role_arn, \
     duration_secs, client, token_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

macro_rules! insert_audit {
    ($exec:expr, $a:expr) => {{
        let a: &AuditEntry = $a;
        sqlx::query(INSERT_AUDIT)
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

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "k8s",
        include_str!("../../migrations/sqlite/0002_k8s.sql"),
    ),
    (
        3,
        "password",
        include_str!("../../migrations/sqlite/0003_password.sql"),
    ),
    (
        4,
        "sessions",
        include_str!("../../migrations/sqlite/0004_sessions.sql"),
    ),
    (
        5,
        "session_tokens",
        include_str!("../../migrations/sqlite/0005_session_tokens.sql"),
    ),
    (
        6,
        "oidc_logins",
        include_str!("../../migrations/sqlite/0006_oidc_logins.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "k8s",
        include_str!("../../migrations/postgres/0002_k8s.sql"),
    ),
    (
        3,
        "password",
        include_str!("../../migrations/postgres/0003_password.sql"),
    ),
    (
        4,
        "sessions",
        include_str!("../../migrations/postgres/0004_sessions.sql"),
    ),
    (
        5,
        "session_tokens",
        include_str!("../../migrations/postgres/0005_session_tokens.sql"),
    ),
    (
        6,
        "oidc_logins",
        include_str!("../../migrations/postgres/0006_oidc_logins.sql"),
    ),
];

/// Migrations compiled into the binary, per backend.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<
        's,
        std::result::Result<Vec<Migration>, sqlx::error::BoxDynError>,
    > {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*name),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

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

/// A PostgreSQL URL with its password blanked, for logs and messages.
pub fn redact_url(target: &str) -> String {
    match url::Url::parse(target) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable database URL)".into(),
    }
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
            Migrator::new(Embedded(POSTGRES_MIGRATIONS))
                .await
                .map_err(|e| anyhow!("{e}"))?
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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        private_file(path)?;
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
        let lock_path = PathBuf::from(format!("{location}.migrate-lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await?
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Migrator::new(Embedded(SQLITE_MIGRATIONS))
            .await
            .map_err(|e| anyhow!("{e}"))?
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

    // ---- tokens ----

    /// The user behind a token that exists and has not expired.
    pub async fn authenticate(&self, token: &str, now: i64) -> Result<Option<Authed>> {
        let digest = secret::digest(token);
        let sql = "SELECT t.id, t.user_name, u.admin FROM tokens t \
                   JOIN users u ON u.name = t.user_name \
                   WHERE t.digest = $1 AND (t.expires IS NULL OR t.expires > $2)";
        with_pool!(self, p, {
            let row = sqlx::query(sql)
                .bind(&digest)
                .bind(now)
                .fetch_optional(p)
                .await?;
            row.map(|r| {
                Ok(Authed {
                    token_id: r.try_get("id")?,
                    user: r.try_get("user_name")?,
                    admin: r.try_get("admin")?,
                })
            })
            .transpose()
        })
    }

    /// A token for `user` that expires after `ttl` seconds (never, without one). Returns the
    /// clear text, which is stored nowhere, and the token's id.
    pub async fn create_token(
        &self,
        user: &str,
        ttl: Option<i64>,
        audit: AuditEntry,
    ) -> Result<(String, String)> {
        self.create_token_from(user, ttl, "admin", audit).await
    }

    /// As `create_token`, saying where the token was made: `admin` (the command line) or
    /// `web` (the user's own profile page).
    pub async fn create_token_from(
        &self,
        user: &str,
        ttl: Option<i64>,
        origin: &str,
        audit: AuditEntry,
    ) -> Result<(String, String)> {
        let now = audit.at;
        let (token, id) = (secret::new_token()?, secret::new_id("tok_")?);
        let mut audit = audit;
        audit.token_id = Some(id.clone());
        audit.user = Some(user.into());
        write_tx!(self, tx, {
            let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                bail!("no portal user '{user}'");
            }
            sqlx::query(
                "INSERT INTO tokens (id, digest, user_name, parent, origin, created, expires) \
                 VALUES ($1, $2, $3, NULL, $6, $4, $5)",
            )
            .bind(&id)
            .bind(secret::digest(&token))
            .bind(user)
            .bind(now)
            .bind(ttl.map(|t| now + t))
            .bind(origin)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok((token, id))
    }

    pub async fn list_tokens(&self, user: Option<&str>, now: i64) -> Result<Vec<TokenInfo>> {
        let sql = "SELECT id, user_name, origin, parent, created, expires FROM tokens \
                   WHERE ($1 IS NULL OR user_name = $1) AND (expires IS NULL OR expires > $2) \
                   ORDER BY created, id";
        with_pool!(self, p, {
            let rows = sqlx::query(sql).bind(user).bind(now).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(TokenInfo {
                        id: r.try_get("id")?,
                        user: r.try_get("user_name")?,
                        origin: r.try_get("origin")?,
                        parent: r.try_get("parent")?,
                        created: r.try_get("created")?,
                        expires: r.try_get("expires")?,
                    })
                })
                .collect()
        })
    }

    /// Revoke tokens by id, or all of a user's; tokens they minted go with them. Returns how
    /// many were revoked, the minted ones included.
    pub async fn revoke_tokens(
        &self,
        ids: &[String],
        user: Option<&str>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let gone = write_tx!(self, tx, {
            let before: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tokens")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            for id in ids {
                sqlx::query("DELETE FROM tokens WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(user) = user {
                sqlx::query("DELETE FROM tokens WHERE user_name = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            let after: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tokens")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            let gone = u64::try_from(before - after).unwrap_or(0);
            let mut audit = audit;
            audit.detail = Some(format!(
                "{}; {gone} revoked",
                audit.detail.as_deref().unwrap_or("token revoke")
            ));
            if gone > 0 {
                insert_audit!(&mut *tx, &audit);
            }
            gone
        });
        Ok(gone)
    }

    /// Forget tokens that have expired (the minted ones expire no later than their parents).
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        with_pool!(self, p, {
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
                .bind(now)
                .execute(p)
                .await?
                .rows_affected();
            let tokens =
                sqlx::query("DELETE FROM tokens WHERE expires IS NOT NULL AND expires <= $1")
                    .bind(now)
                    .execute(p)
                    .await?
                    .rows_affected();
            Ok(sessions + tokens)
        })
    }

    // ---- users ----

    pub async fn upsert_user(
        &self,
        name: &str,
        admin: bool,
        tenants: &[String],
        audit: AuditEntry,
    ) -> Result<()> {
        write_tx!(self, tx, {
            for t in tenants {
                let found = sqlx::query("SELECT 1 FROM tenants WHERE name = $1")
                    .bind(t)
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_none() {
                    bail!("no tenant '{t}': add it first with `jit portal tenant add`");
                }
            }
            sqlx::query(
                "INSERT INTO users (name, admin, created) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET admin = excluded.admin",
            )
            .bind(name)
            .bind(admin)
            .bind(audit.at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM memberships WHERE user_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            for t in tenants {
                sqlx::query(
                    "INSERT INTO memberships (user_name, tenant_name) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(t)
                .execute(&mut *tx)
                .await?;
            }
            insert_audit!(&mut *tx, &audit);
        });
        Ok(())
    }

    /// Store a user's password hash (an argon2id PHC string). False when there is no such user.
    pub async fn set_password(&self, name: &str, hash: &str, audit: AuditEntry) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
                .bind(hash)
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

    /// A user's stored password hash, when they have one.
    pub async fn password_hash(&self, name: &str) -> Result<Option<String>> {
        let sql = "SELECT password_hash FROM users WHERE name = $1";
        with_pool!(self, p, {
            let hash: Option<Option<String>> =
                sqlx::query_scalar(sql).bind(name).fetch_optional(p).await?;
            Ok(hash.flatten())
        })
    }

    // ---- web sessions ----

    /// A new session for `user`: returns (cookie secret, session id, CSRF token). The secret is
    /// stored as a digest only.
    pub async fn create_session(
        &self,
        user: &str,
        ttl: i64,
        audit: AuditEntry,
    ) -> Result<(String, String, String)> {
        let now = audit.at;
        let (cookie, id, csrf) = (
            secret::new_token()?,
            secret::new_id("ses_")?,
            secret::new_token()?,
        );
        let mut audit = audit;
        // Keep what the caller said (how the user signed in), then name the session.
        audit.detail = Some(match audit.detail.take() {
            Some(how) => format!("{how}; session {id}"),
            None => format!("session {id}"),
        });
        write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO sessions (id, digest, user_name, csrf, created, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(secret::digest(&cookie))
            .bind(user)
            .bind(&csrf)
            .bind(now)
            .bind(now + ttl)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok((cookie, id, csrf))
    }

    /// The live session behind a cookie secret.
    pub async fn session(&self, cookie: &str, now: i64) -> Result<Option<Session>> {
        let sql = "SELECT s.id, s.user_name, s.csrf, u.admin FROM sessions s \
                   JOIN users u ON u.name = s.user_name \
                   WHERE s.digest = $1 AND s.expires > $2";
        with_pool!(self, p, {
            let row = sqlx::query(sql)
                .bind(secret::digest(cookie))
                .bind(now)
                .fetch_optional(p)
                .await?;
            row.map(|r| {
                Ok(Session {
                    id: r.try_get("id")?,
                    user: r.try_get("user_name")?,
                    csrf: r.try_get("csrf")?,
                    admin: r.try_get("admin")?,
                })
            })
            .transpose()
        })
    }

    /// A token the signed-in `session` authorized for the CLI: an hour at most, revoked with
    /// the session. Returns the clear text and the token's id.
    pub async fn mint_session_token(
        &self,
        session: &Session,
        audit: AuditEntry,
    ) -> Result<(String, String)> {
        let now = audit.at;
        let (token, id) = (secret::new_token()?, secret::new_id("tok_")?);
        let mut audit = audit;
        audit.token_id = Some(id.clone());
        audit.detail = Some(format!("minted {id} from {}", session.id));
        write_tx!(self, tx, {
            // The session may have ended since it was checked: then nothing is minted.
            let inserted = sqlx::query(
                "INSERT INTO tokens (id, digest, user_name, parent, origin, created, expires, session) \
                 SELECT $1, $2, user_name, NULL, 'login', $3, $4, id FROM sessions \
                 WHERE id = $5 AND expires > $3",
            )
            .bind(&id)
            .bind(secret::digest(&token))
            .bind(now)
            .bind(now + LOGIN_TOKEN_SECS)
            .bind(&session.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                bail!("the session has ended");
            }
            insert_audit!(&mut *tx, &audit);
        });
        Ok((token, id))
    }

    /// End a session (sign-out). False when it was already gone.
    pub async fn end_session(&self, id: &str, audit: AuditEntry) -> Result<bool> {
        self.delete_audited("DELETE FROM sessions WHERE id = $1", id, audit)
            .await
    }

    /// Remove a user with their tokens and memberships. False when there was none.
    pub async fn remove_user(&self, name: &str, audit: AuditEntry) -> Result<bool> {
        self.delete_audited("DELETE FROM users WHERE name = $1", name, audit)
            .await
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

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = "SELECT u.name, u.admin, m.tenant_name FROM users u \
                   LEFT JOIN memberships m ON m.user_name = u.name ORDER BY u.name, m.tenant_name";
        let rows: Vec<(String, bool, Option<String>)> = with_pool!(self, p, {
            let rows = sqlx::query(sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_>>()?
        });
        let mut users: Vec<User> = Vec::new();
        for (name, admin, tenant) in rows {
            if users.last().is_none_or(|u| u.name != name) {
                users.push(User {
                    name,
                    admin,
                    tenants: Vec::new(),
                });
            }
            if let (Some(t), Some(u)) = (tenant, users.last_mut()) {
                u.tenants.push(t);
            }
        }
        Ok(users)
    }

    // ---- tenants ----

    /// Add a tenant, or replace its role and durations (its id stays). Returns the id.
    pub async fn upsert_tenant(
        &self,
        name: &str,
        role_arn: &str,
        validity_secs: i64,
        max_session_secs: i64,
        audit: AuditEntry,
    ) -> Result<String> {
        let fresh = secret::new_tenant_id()?;
        let id = write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO tenants (name, id, role_arn, validity_secs, max_session_secs, plan) \
                 VALUES ($1, $2, $3, $4, $5, 'default') ON CONFLICT (name) DO UPDATE SET \
                 role_arn = excluded.role_arn, validity_secs = excluded.validity_secs, \
                 max_session_secs = excluded.max_session_secs",
            )
            .bind(name)
            .bind(&fresh)
            .bind(role_arn)
            .bind(validity_secs)
            .bind(max_session_secs)
            .execute(&mut *tx)
            .await?;
            let id: String = sqlx::query("SELECT id FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
            insert_audit!(&mut *tx, &audit);
            id
        });
        Ok(id)
    }

    /// Change some of a tenant's settings. False when there is no such tenant.
    pub async fn set_tenant(
        &self,
        name: &str,
        role_arn: Option<&str>,
        validity_secs: Option<i64>,
        max_session_secs: Option<i64>,
        k8s: &K8sChange,
        audit: AuditEntry,
    ) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(
                "UPDATE tenants SET role_arn = COALESCE($2, role_arn), \
                 validity_secs = COALESCE($3, validity_secs), \
                 max_session_secs = COALESCE($4, max_session_secs), \
                 k8s_cluster = CASE WHEN $8 THEN NULL ELSE COALESCE($5, k8s_cluster) END, \
                 k8s_server = CASE WHEN $8 THEN NULL ELSE COALESCE($6, k8s_server) END, \
                 k8s_ca = CASE WHEN $8 THEN NULL ELSE COALESCE($7, k8s_ca) END \
                 WHERE name = $1",
            )
            .bind(name)
            .bind(role_arn)
            .bind(validity_secs)
            .bind(max_session_secs)
            .bind(&k8s.cluster)
            .bind(&k8s.server)
            .bind(&k8s.ca)
            .bind(k8s.clear)
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

    /// Remove a tenant; users lose their membership. False when there was none.
    pub async fn remove_tenant(&self, name: &str, audit: AuditEntry) -> Result<bool> {
        self.delete_audited("DELETE FROM tenants WHERE name = $1", name, audit)
            .await
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.tenants_where("", None).await
    }

    /// The tenants a user may use: every one for an admin.
    pub async fn tenants_for(&self, user: &str, admin: bool) -> Result<Vec<Tenant>> {
        if admin {
            return self.list_tenants().await;
        }
        self.tenants_where(
            "WHERE name IN (SELECT tenant_name FROM memberships WHERE user_name = $1)",
            Some(user),
        )
        .await
    }

    pub async fn tenant_by_id(&self, id: &str) -> Result<Option<Tenant>> {
        Ok(self
            .tenants_where("WHERE id = $1", Some(id))
            .await?
            .into_iter()
            .next())
    }

    pub async fn is_member(&self, user: &str, tenant: &str) -> Result<bool> {
        with_pool!(self, p, {
            Ok(
                sqlx::query("SELECT 1 FROM memberships WHERE user_name = $1 AND tenant_name = $2")
                    .bind(user)
                    .bind(tenant)
                    .fetch_optional(p)
                    .await?
                    .is_some(),
            )
        })
    }

    async fn tenants_where(&self, filter: &str, arg: Option<&str>) -> Result<Vec<Tenant>> {
        let sql = format!(
            "SELECT name, id, role_arn, validity_secs, max_session_secs, plan, k8s_cluster, \
             k8s_server, k8s_ca FROM tenants {filter} ORDER BY name"
        );
        with_pool!(self, p, {
            let mut q = sqlx::query(&sql);
            if let Some(a) = arg {
                q = q.bind(a);
            }
            let rows = q.fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let cluster: Option<String> = r.try_get("k8s_cluster")?;
                    let server: Option<String> = r.try_get("k8s_server")?;
                    let k8s = match (cluster, server) {
                        (Some(name), Some(server)) => Some(K8sCluster {
                            name,
                            server,
                            ca: r.try_get("k8s_ca")?,
                        }),
                        _ => None,
                    };
                    Ok(Tenant {
                        name: r.try_get("name")?,
                        id: r.try_get("id")?,
                        role_arn: r.try_get("role_arn")?,
                        validity_secs: r.try_get("validity_secs")?,
                        max_session_secs: r.try_get("max_session_secs")?,
                        plan: r.try_get("plan")?,
                        k8s,
                    })
                })
                .collect()
        })
    }

    // ---- settings ----

    pub async fn settings(&self) -> Result<Settings> {
        with_pool!(self, p, {
            let r = sqlx::query(
                "SELECT admin_session_secs, admin_role_arn, ops_role_arn FROM settings WHERE id = 1",
            )
            .fetch_one(p)
            .await?;
            Ok(Settings {
                admin_session_secs: r.try_get("admin_session_secs")?,
                admin_role_arn: r.try_get("admin_role_arn")?,
                ops_role_arn: r.try_get("ops_role_arn")?,
            })
        })
    }

    /// Settings from `jit portal set`: what is given is set, the rest kept.
    pub async fn update_settings(
        &self,
        admin_session_secs: Option<i64>,
        admin_role_arn: Option<&str>,
        ops_role_arn: Option<&str>,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_settings(
            admin_session_secs,
            admin_role_arn.map(Some),
            ops_role_arn.map(Some),
            audit,
        )
        .await
    }

    /// System settings: each role is left as it is (`None`), set
    /// (`Some(Some(arn))`) or cleared (`Some(None)`).
    pub async fn write_settings(
        &self,
        admin_session_secs: Option<i64>,
        admin_role_arn: Option<Option<&str>>,
        ops_role_arn: Option<Option<&str>>,
        audit: AuditEntry,
    ) -> Result<()> {
        write_tx!(self, tx, {
            sqlx::query(
                "UPDATE settings SET admin_session_secs = COALESCE($1, admin_session_secs), \
                 admin_role_arn = CASE WHEN $2 THEN $3 ELSE admin_role_arn END, \
                 ops_role_arn = CASE WHEN $4 THEN $5 ELSE ops_role_arn END WHERE id = 1",
            )
            .bind(admin_session_secs)
            .bind(admin_role_arn.is_some())
            .bind(admin_role_arn.flatten())
            .bind(ops_role_arn.is_some())
            .bind(ops_role_arn.flatten())
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit);
        });
        Ok(())
    }

    // ---- audit ----

    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        with_pool!(self, p, {
            insert_audit!(p, entry);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_clamped_to_the_role() {
        assert_eq!(clamp_session(60, 43200), 900);
        assert_eq!(clamp_session(3600, 43200), 3600);
        assert_eq!(clamp_session(100_000, 43200), 43200);
        assert_eq!(
            clamp_session(7200, 3600),
            3600,
            "role MaxSessionDuration wins"
        );
        assert_eq!(clamp_session(7200, 10), 900, "never below STS's minimum");
    }

    #[test]
    fn passwords_never_reach_a_log() {
        let shown = redact_url("postgres://portal:hunter2@db.example:5432/jit");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn expired_tokens_are_purged_and_live_ones_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        run(async {
            let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
            db.upsert_user("bob", false, &[], AuditEntry::new("user add", "test"))
                .await
                .expect("user");
            for ttl in [Some(10), Some(1000), None] {
                db.create_token("bob", ttl, AuditEntry::new("token create", "test"))
                    .await
                    .expect("token");
            }
            let now = jiff::Timestamp::now().as_second();
            assert_eq!(db.purge_expired(now + 11).await.expect("purge"), 1);
            assert_eq!(db.purge_expired(now + 11).await.expect("purge"), 0);
            assert_eq!(
                db.list_tokens(Some("bob"), now).await.expect("list").len(),
                2
            );
            db.close().await;
        });
    }

    #[test]
    fn the_audit_trail_refuses_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        run(async {
            let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
            db.audit(&AuditEntry::new("test", "me"))
                .await
                .expect("insert");
            let Pool::Sqlite(p) = &db.pool else {
                panic!("sqlite")
            };
            let err = sqlx::query("DELETE FROM audit").execute(p).await;
            assert!(
                err.is_err_and(|e| e.to_string().contains("append-only")),
                "rows stay"
            );
            assert_eq!(
                db.audit_find(None, None, None, 10)
                    .await
                    .expect("log")
                    .len(),
                1
            );
            db.close().await;
        });
    }
}

mod admin;
mod oidc;
pub use oidc::PendingLogin;
