//! Queries only the admin pages need: the audit trail filtered by event as well, and which
//! users have a password.

use std::collections::HashSet;

use anyhow::Result;
use sqlx::Row;

use super::{AuditEntry, Db, Pool};

impl Db {
    /// Audit entries, oldest first: the newest `limit` of those for one user, of one event
    /// and from a time on (each filter optional).
    pub async fn audit_find(
        &self,
        user: Option<&str>,
        event: Option<&str>,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let sql = "SELECT * FROM (SELECT seq, at, event, actor, user_name, scope, role_arn, \
                   duration_secs, client, token_id, detail FROM audit \
                   WHERE ($1 IS NULL OR user_name = $1) AND ($2 IS NULL OR event = $2) \
                   AND ($3 IS NULL OR at >= $3) \
                   ORDER BY seq DESC LIMIT $4) AS recent ORDER BY seq";
        with_pool!(self, p, {
            let rows = sqlx::query(sql)
                .bind(user)
                .bind(event)
                .bind(since)
                .bind(limit)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(AuditEntry {
                        seq: r.try_get("seq")?,
                        at: r.try_get("at")?,
                        event: r.try_get("event")?,
                        actor: r.try_get("actor")?,
                        user: r.try_get("user_name")?,
                        scope: r.try_get("scope")?,
                        role_arn: r.try_get("role_arn")?,
                        duration_secs: r.try_get("duration_secs")?,
                        client: r.try_get("client")?,
                        token_id: r.try_get("token_id")?,
                        detail: r.try_get("detail")?,
                    })
                })
                .collect()
        })
    }

    /// The users who can sign in with a password.
    pub async fn users_with_password(&self) -> Result<HashSet<String>> {
        let sql = "SELECT name FROM users WHERE password_hash IS NOT NULL";
        with_pool!(self, p, {
            let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(p).await?;
            Ok(names.into_iter().collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_trail_filters_by_event_user_and_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async {
                let db = Db::open(path.to_str().expect("utf8")).await.expect("open");
                let mut old = AuditEntry::new("tenant set", "root");
                old.at -= 7200;
                for e in [
                    old,
                    AuditEntry::new("user add", "root").user("bob"),
                    AuditEntry::new("tenant set", "root"),
                    AuditEntry::new("user add", "root").user("carol"),
                ] {
                    db.audit(&e).await.expect("insert");
                }
                let now = jiff::Timestamp::now().as_second();
                let events = |v: Vec<AuditEntry>| {
                    v.into_iter()
                        .map(|e| format!("{} {}", e.event, e.user.unwrap_or_default()))
                        .collect::<Vec<_>>()
                };
                let adds = db.audit_find(None, Some("user add"), None, 10).await;
                assert_eq!(
                    events(adds.expect("find")),
                    ["user add bob", "user add carol"]
                );
                let bob = db.audit_find(Some("bob"), Some("user add"), None, 10).await;
                assert_eq!(events(bob.expect("find")), ["user add bob"]);
                let recent = db
                    .audit_find(None, Some("tenant set"), Some(now - 60), 10)
                    .await;
                assert_eq!(recent.expect("find").len(), 1, "the old one is left out");
                let newest = db.audit_find(None, None, None, 2).await.expect("find");
                assert_eq!(events(newest), ["tenant set ", "user add carol"]);
                db.close().await;
            });
    }
}
