//! The `audit_sinks` table: per sink of the audit stream, the seq it has been sent through and
//! which process holds the lease to send it more (`stream/` does the sending).

use anyhow::Result;

use super::{AuditEntry, Db};

impl Db {
    /// Take (or keep) the lease on sink `name` for `owner` until `until`, if no other process
    /// holds an unexpired one; the seq the sink has been sent through, or None when another
    /// process delivers to it. A sink seen for the first time starts at the beginning of the
    /// trail, or at its end when `from_end` (one that tells of what happens from now on).
    pub async fn sink_claim(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        until: i64,
        from_end: bool,
    ) -> Result<Option<i64>> {
        Ok(write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO audit_sinks (name, delivered_through) \
                 SELECT $1, CASE WHEN $2 THEN COALESCE(MAX(seq), 0) ELSE 0 END FROM audit WHERE TRUE \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(from_end)
            .execute(&mut *tx)
            .await?;
            sqlx::query_scalar(
                "UPDATE audit_sinks SET owner = $2, lease_until = $3 WHERE name = $1 \
                 AND (owner IS NULL OR owner = $2 OR lease_until < $4) \
                 RETURNING delivered_through",
            )
            .bind(name)
            .bind(owner)
            .bind(until)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        }))
    }

    /// Record that sink `name` has been sent every row through `seq` (only forward, and only
    /// while `owner` still holds the lease).
    pub async fn sink_advance(&self, name: &str, owner: &str, seq: i64) -> Result<()> {
        with_pool!(self, p, {
            sqlx::query(
                "UPDATE audit_sinks SET delivered_through = $3 \
                 WHERE name = $1 AND owner = $2 AND delivered_through < $3",
            )
            .bind(name)
            .bind(owner)
            .bind(seq)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Give the lease up (a clean stop), so another process can take over at once.
    pub async fn sink_release(&self, name: &str, owner: &str) -> Result<()> {
        with_pool!(self, p, {
            sqlx::query("UPDATE audit_sinks SET owner = NULL WHERE name = $1 AND owner = $2")
                .bind(name)
                .bind(owner)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The audit entries after `seq`, oldest first, at most `limit`; for one user and of one
    /// event when given. Seqs grow in commit order (see the 0010 migration), so a reader that
    /// remembers the last seq it saw misses nothing.
    pub async fn audit_after(
        &self,
        seq: i64,
        user: Option<&str>,
        event: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let sql = "SELECT seq, at, event, actor, user_name, scope, role_arn, duration_secs, \
                   client, token_id, detail FROM audit \
                   WHERE seq > $1 AND ($2 IS NULL OR user_name = $2) \
                   AND ($3 IS NULL OR event = $3) ORDER BY seq LIMIT $4";
        with_pool!(self, p, {
            Ok(sqlx::query_as(sql)
                .bind(seq)
                .bind(user)
                .bind(event)
                .bind(limit)
                .fetch_all(p)
                .await?)
        })
    }

    /// The newest seq in the trail (0 when it is empty).
    pub async fn audit_last_seq(&self) -> Result<i64> {
        with_pool!(self, p, {
            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit")
                .fetch_one(p)
                .await?;
            Ok(last.unwrap_or(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::AuditEvent;
    use super::super::tests::open_temp;
    use super::*;

    #[tokio::test]
    async fn one_owner_holds_a_sink_until_its_lease_runs_out_and_the_cursor_only_moves_on() {
        let (_dir, db) = open_temp().await;
        for _ in 0..3 {
            db.audit(&AuditEntry::new(AuditEvent::Settings, "me"))
                .await
                .expect("insert");
        }
        assert_eq!(
            db.sink_claim("s", "a", 100, 120, false)
                .await
                .expect("claim"),
            Some(0)
        );
        assert_eq!(
            db.sink_claim("s", "b", 110, 130, false)
                .await
                .expect("claim"),
            None
        );
        let rows = db.audit_after(0, None, None, 2).await.expect("rows");
        assert_eq!(rows.len(), 2);
        let last = rows[1].seq.expect("seq");
        db.sink_advance("s", "a", last).await.expect("advance");
        db.sink_advance("s", "a", 1).await.expect("no step back");
        db.sink_advance("s", "b", last + 1).await.expect("not b's");
        assert_eq!(
            db.sink_claim("s", "a", 115, 135, false)
                .await
                .expect("claim"),
            Some(last)
        );
        assert_eq!(
            db.sink_claim("s", "b", 136, 150, false)
                .await
                .expect("claim"),
            Some(last),
            "the lease ran out: b takes over where a stopped"
        );
        db.sink_release("s", "b").await.expect("release");
        assert_eq!(
            db.sink_claim("s", "c", 137, 150, false)
                .await
                .expect("claim"),
            Some(last)
        );
        assert_eq!(
            db.audit_after(last, None, None, 10)
                .await
                .expect("rest")
                .len(),
            1
        );
        assert_eq!(db.audit_last_seq().await.expect("last"), last + 1);
        db.close().await;
    }
}
