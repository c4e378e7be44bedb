//! The `audit` table: the append-only trail of logins, credential vends and admin changes
//! (the database's triggers refuse any change to a written row).

use anyhow::Result;

use super::{AuditEvent, Db};

/// One line of the audit trail. Never holds a secret: tokens appear by id only.
#[derive(Debug, Clone, Default, serde::Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    pub at: i64,
    pub event: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[sqlx(rename = "user_name")]
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
    pub fn new(event: AuditEvent, actor: &str) -> AuditEntry {
        AuditEntry {
            at: jiff::Timestamp::now().as_second(),
            event: event.as_str().into(),
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

    /// The entry as one JSON object: its columns (those set) and `time`, `at` in RFC 3339.
    /// `jit portal audit --json` prints it; the audit stream sends it (docs/protocol.md §12).
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Ok(ts) = jiff::Timestamp::from_second(self.at) {
            v["time"] = serde_json::json!(jit_wire::time::rfc3339(ts));
        }
        v
    }
}

/// What `insert_audit!` runs: every write in `db/` appends its audit row with it.
pub(super) const INSERT: &str = "INSERT INTO audit (at, event, actor, user_name, scope, \
     role_arn, duration_secs, client, token_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

impl Db {
    /// Append one entry on its own: an event that changes nothing else in the database (a vend,
    /// a refused sign-in).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        with_pool!(self, p, {
            insert_audit!(p, entry);
        });
        Ok(())
    }

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
            Ok(sqlx::query_as(sql)
                .bind(user)
                .bind(event)
                .bind(since)
                .bind(limit)
                .fetch_all(p)
                .await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pool;
    use super::super::tests::open_temp;
    use super::*;

    #[tokio::test]
    async fn the_audit_trail_refuses_changes() {
        let (_dir, db) = open_temp().await;
        db.audit(&AuditEntry::new(AuditEvent::Settings, "me"))
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
    }

    #[tokio::test]
    async fn the_audit_trail_filters_by_event_user_and_time() {
        let (_dir, db) = open_temp().await;
        let mut old = AuditEntry::new(AuditEvent::TenantSet, "root");
        old.at -= 7200;
        for e in [
            old,
            AuditEntry::new(AuditEvent::UserAdd, "root").user("bob"),
            AuditEntry::new(AuditEvent::TenantSet, "root"),
            AuditEntry::new(AuditEvent::UserAdd, "root").user("carol"),
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
    }
}
