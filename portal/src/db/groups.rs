//! The `access_groups` and `access_group_members` tables: local groups an admin keeps, and the
//! groups a single sign-on's `groups` claim names, which eligibility and approval rules name.

use anyhow::Result;

use super::{AuditEntry, Db};

/// A group and its members, as `jit portal group list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Whether an admin made it (else only single sign-on names it).
    pub local: bool,
    /// `(user, source)`, source `local` or `sso`.
    pub members: Vec<(String, String)>,
}

impl Db {
    /// Make a local group. False when it exists.
    pub async fn add_group(&self, name: &str, audit: AuditEntry) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query(
                "INSERT INTO access_groups (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(name)
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

    /// Remove a local group with its local members. False when there was none.
    pub async fn remove_group(&self, name: &str, audit: AuditEntry) -> Result<bool> {
        let n = write_tx!(self, tx, {
            let n = sqlx::query("DELETE FROM access_groups WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                sqlx::query(
                    "DELETE FROM access_group_members WHERE group_name = $1 AND source = 'local'",
                )
                .bind(name)
                .execute(&mut *tx)
                .await?;
                insert_audit!(&mut *tx, &audit);
            }
            n
        });
        Ok(n > 0)
    }

    /// Put a user in a local group (`add`) or take them out. False when nothing changed.
    pub async fn set_group_member(
        &self,
        group: &str,
        user: &str,
        add: bool,
        audit: AuditEntry,
    ) -> Result<bool> {
        let sql = if add {
            "INSERT INTO access_group_members (group_name, user_name, source) \
             VALUES ($1, $2, 'local') ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM access_group_members WHERE group_name = $1 AND user_name = $2 \
             AND source = 'local'"
        };
        let n = write_tx!(self, tx, {
            let n = sqlx::query(sql)
                .bind(group)
                .bind(user)
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

    /// Replace a user's single sign-on groups with `groups` (sorted, distinct), with `audit`
    /// when they changed. Returns the groups before.
    pub async fn replace_sso_groups(
        &self,
        user: &str,
        groups: &[String],
        audit: AuditEntry,
    ) -> Result<Vec<String>> {
        let old = write_tx!(self, tx, {
            let old: Vec<String> = sqlx::query_scalar(
                "SELECT group_name FROM access_group_members WHERE user_name = $1 \
                 AND source = 'sso' ORDER BY group_name",
            )
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
            if old != groups {
                sqlx::query(
                    "DELETE FROM access_group_members WHERE user_name = $1 AND source = 'sso'",
                )
                .bind(user)
                .execute(&mut *tx)
                .await?;
                for g in groups {
                    sqlx::query(
                        "INSERT INTO access_group_members (group_name, user_name, source) \
                         VALUES ($1, $2, 'sso') ON CONFLICT DO NOTHING",
                    )
                    .bind(g)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                }
                insert_audit!(&mut *tx, &audit);
            }
            old
        });
        Ok(old)
    }

    /// Every group, local or named by single sign-on, with its members.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        let sql = "SELECT g.name, TRUE AS local, m.user_name, m.source FROM access_groups g \
                   LEFT JOIN access_group_members m ON m.group_name = g.name \
                   UNION ALL \
                   SELECT m.group_name, FALSE, m.user_name, m.source FROM access_group_members m \
                   WHERE m.group_name NOT IN (SELECT name FROM access_groups) \
                   ORDER BY 1, 3, 4";
        let rows: Vec<(String, bool, Option<String>, Option<String>)> =
            with_pool!(self, p, { sqlx::query_as(sql).fetch_all(p).await? });
        let mut groups: Vec<Group> = Vec::new();
        for (name, local, user, source) in rows {
            if groups.last().is_none_or(|g| g.name != name) {
                groups.push(Group {
                    name,
                    local,
                    members: Vec::new(),
                });
            }
            if let (Some(u), Some(s), Some(g)) = (user, source, groups.last_mut()) {
                g.members.push((u, s));
            }
        }
        Ok(groups)
    }

    /// Whether a local group of this name exists.
    pub async fn group_exists(&self, name: &str) -> Result<bool> {
        with_pool!(self, p, {
            Ok(sqlx::query("SELECT 1 FROM access_groups WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?
                .is_some())
        })
    }

    /// The users in a group, from either source.
    pub async fn group_members(&self, group: &str) -> Result<Vec<String>> {
        with_pool!(self, p, {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT user_name FROM access_group_members WHERE group_name = $1 \
                 ORDER BY user_name",
            )
            .bind(group)
            .fetch_all(p)
            .await?)
        })
    }
}
