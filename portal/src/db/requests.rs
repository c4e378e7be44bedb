//! The `access_requests`, `access_request_targets` and `access_decisions` tables: what a user
//! asked for, and each approver's decision; an approval that reaches the quorum makes the
//! grants in the same transaction.

use anyhow::Result;

use super::grants::insert_grant;
use super::{AuditEntry, Db, GrantRow};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RequestRow {
    pub id: String,
    pub user_name: String,
    pub created: i64,
    pub expires: i64,
    pub duration_secs: i64,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub break_glass: bool,
    pub state: String,
    pub decided: Option<i64>,
    #[sqlx(skip)]
    pub targets: Vec<String>,
    #[sqlx(skip)]
    pub decisions: Vec<DecisionRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DecisionRow {
    pub request: String,
    pub approver: String,
    pub approve: bool,
    pub comment: Option<String>,
    pub at: i64,
}

/// A decision to record.
pub struct NewDecision<'a> {
    pub request: &'a str,
    pub approver: &'a str,
    pub approve: bool,
    pub comment: Option<&'a str>,
    pub at: i64,
    /// Approvals (this one included) that approve the request.
    pub needed: i64,
    /// The grants to make when this approval reaches the quorum, each with its audit row.
    pub grants: Vec<(GrantRow, AuditEntry)>,
    /// The row that says the request was approved (or denied).
    pub outcome: AuditEntry,
}

/// What recording a decision came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Recorded; the request waits for this many more approvals.
    Waiting(i64),
    Approved,
    Denied,
    /// The request is no longer pending.
    NotPending,
    /// This approver has decided already.
    Twice,
}

const COLUMNS: &str = "id, user_name, created, expires, duration_secs, reason, ticket, \
     break_glass, state, decided";

impl Db {
    /// Store a new request with its audit rows; a break-glass request comes approved, with its
    /// grants and their rows.
    pub async fn insert_request(
        &self,
        r: &RequestRow,
        audits: &[AuditEntry],
        grants: &[(GrantRow, AuditEntry)],
    ) -> Result<()> {
        write_tx!(self, tx, {
            sqlx::query(
                "INSERT INTO access_requests (id, user_name, created, expires, duration_secs, \
                 reason, ticket, break_glass, state, decided) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&r.id)
            .bind(&r.user_name)
            .bind(r.created)
            .bind(r.expires)
            .bind(r.duration_secs)
            .bind(&r.reason)
            .bind(&r.ticket)
            .bind(r.break_glass)
            .bind(&r.state)
            .bind(r.decided)
            .execute(&mut *tx)
            .await?;
            for t in &r.targets {
                sqlx::query("INSERT INTO access_request_targets (request, target) VALUES ($1, $2)")
                    .bind(&r.id)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?;
            }
            for a in audits {
                insert_audit!(&mut *tx, a);
            }
            for (g, a) in grants {
                insert_grant!(&mut *tx, g);
                insert_audit!(&mut *tx, a);
            }
        });
        Ok(())
    }

    /// One request with its targets and decisions.
    pub async fn request(&self, id: &str) -> Result<Option<RequestRow>> {
        let rows = self.requests_where("WHERE id = $1", &[id], None).await?;
        Ok(rows.into_iter().next())
    }

    /// A user's requests, newest first.
    pub async fn requests_of(&self, user: &str, limit: i64) -> Result<Vec<RequestRow>> {
        self.requests_where("WHERE user_name = $1", &[user], Some(limit))
            .await
    }

    /// Every pending request, newest first.
    pub async fn pending_requests(&self) -> Result<Vec<RequestRow>> {
        self.requests_where("WHERE state = 'pending'", &[], None)
            .await
    }

    /// The newest pending request of `user` for `target` not expired at `now`.
    pub async fn pending_for(&self, user: &str, target: &str, now: i64) -> Result<Option<String>> {
        with_pool!(self, p, {
            Ok(sqlx::query_scalar(
                "SELECT r.id FROM access_requests r JOIN access_request_targets t \
                 ON t.request = r.id WHERE r.user_name = $1 AND t.target = $2 \
                 AND r.state = 'pending' AND r.expires > $3 ORDER BY r.created DESC LIMIT 1",
            )
            .bind(user)
            .bind(target)
            .bind(now)
            .fetch_optional(p)
            .await?)
        })
    }

    async fn requests_where(
        &self,
        filter: &str,
        args: &[&str],
        limit: Option<i64>,
    ) -> Result<Vec<RequestRow>> {
        let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!(
            "SELECT {COLUMNS} FROM access_requests {filter} ORDER BY created DESC, id{limit}"
        );
        let (mut rows, targets, decisions): (
            Vec<RequestRow>,
            Vec<(String, String)>,
            Vec<DecisionRow>,
        ) = with_pool!(self, p, {
            let mut q = sqlx::query_as(&sql);
            for a in args {
                q = q.bind(*a);
            }
            let rows: Vec<RequestRow> = q.fetch_all(p).await?;
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let mut targets = Vec::new();
            let mut decisions = Vec::new();
            // Few rows at a time (a page, a user's list): one query per request is clear
            // and cheap, and none runs on the vend path.
            for id in &ids {
                let t: Vec<(String, String)> = sqlx::query_as(
                    "SELECT request, target FROM access_request_targets WHERE request = $1 \
                         ORDER BY target",
                )
                .bind(id)
                .fetch_all(p)
                .await?;
                targets.extend(t);
                let d: Vec<DecisionRow> = sqlx::query_as(
                    "SELECT request, approver, approve, comment, at FROM access_decisions \
                         WHERE request = $1 ORDER BY at, approver",
                )
                .bind(id)
                .fetch_all(p)
                .await?;
                decisions.extend(d);
            }
            (rows, targets, decisions)
        });
        for r in &mut rows {
            r.targets = targets
                .iter()
                .filter(|(id, _)| *id == r.id)
                .map(|(_, t)| t.clone())
                .collect();
            r.decisions = decisions
                .iter()
                .filter(|d| d.request == r.id)
                .cloned()
                .collect();
        }
        Ok(rows)
    }

    /// Record one approver's decision and, when it denies or completes the quorum, the
    /// request's outcome (and its grants), all in one transaction.
    pub async fn decide(&self, d: NewDecision<'_>, audit: AuditEntry) -> Result<Decided> {
        let decided = write_tx!(self, tx, {
            // Touch the row first: on PostgreSQL this locks it against a concurrent decision.
            let pending = sqlx::query(
                "UPDATE access_requests SET state = state WHERE id = $1 AND state = 'pending' \
                 AND expires > $2",
            )
            .bind(d.request)
            .bind(d.at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if pending == 0 {
                Decided::NotPending
            } else {
                let n = sqlx::query(
                    "INSERT INTO access_decisions (request, approver, approve, comment, at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(d.request)
                .bind(d.approver)
                .bind(d.approve)
                .bind(d.comment)
                .bind(d.at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    Decided::Twice
                } else {
                    insert_audit!(&mut *tx, &audit);
                    let approvals: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM access_decisions WHERE request = $1 AND approve",
                    )
                    .bind(d.request)
                    .fetch_one(&mut *tx)
                    .await?;
                    let outcome = if !d.approve {
                        Some("denied")
                    } else if approvals >= d.needed {
                        Some("approved")
                    } else {
                        None
                    };
                    match outcome {
                        None => Decided::Waiting(d.needed - approvals),
                        Some(state) => {
                            sqlx::query(
                                "UPDATE access_requests SET state = $2, decided = $3 WHERE id = $1",
                            )
                            .bind(d.request)
                            .bind(state)
                            .bind(d.at)
                            .execute(&mut *tx)
                            .await?;
                            insert_audit!(&mut *tx, &d.outcome);
                            if d.approve {
                                for (g, a) in &d.grants {
                                    insert_grant!(&mut *tx, g);
                                    insert_audit!(&mut *tx, a);
                                }
                                Decided::Approved
                            } else {
                                Decided::Denied
                            }
                        }
                    }
                }
            }
        });
        Ok(decided)
    }

    /// Move a pending request to `state` (withdrawn) with its audit row. False when it was
    /// not pending.
    pub async fn end_request(&self, id: &str, state: &str, audit: AuditEntry) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(
                "UPDATE access_requests SET state = $2, decided = $3 \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(state)
            .bind(audit.at)
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

    /// Mark the pending requests past their expiry as expired, each with the row `audit`
    /// makes for it (id, user). Returns how many.
    pub async fn expire_requests(
        &self,
        now: i64,
        audit: impl Fn(&str, &str) -> AuditEntry,
    ) -> Result<usize> {
        let due: Vec<(String, String)> = with_pool!(self, p, {
            sqlx::query_as(
                "SELECT id, user_name FROM access_requests WHERE state = 'pending' \
                 AND expires <= $1",
            )
            .bind(now)
            .fetch_all(p)
            .await?
        });
        let mut n = 0;
        for (id, user) in due {
            // Another process may decide or expire it meanwhile: `end_request` moves it once.
            if self.end_request(&id, "expired", audit(&id, &user)).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}
