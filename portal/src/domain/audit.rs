//! Reading the audit trail, the same from `jit portal audit` and the audit page: what a filter
//! may say and what it means.

use super::{Error, Result};
use crate::db::{AuditEntry, AuditEvent, Db};

/// The audit page's row cap when none is asked for; the CLI's `--limit` default too.
pub const DEFAULT_LIMIT: i64 = 200;

/// A filter on the trail, each part optional.
#[derive(Debug, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub event: Option<AuditEvent>,
    pub since: Option<i64>,
}

/// `--since` / the Since field: an RFC 3339 time, or an age (`90s`, `30m`, `12h`, `7d`) before
/// `now`. `label` names the input in the message.
pub fn parse_since(label: &str, text: &str, now: i64) -> Result<i64> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    let wanted = || {
        Error::Invalid(format!(
            "{label} wants an RFC 3339 time (2026-01-31T08:00:00Z) or an age such as 90s, 30m, 12h or 7d"
        ))
    };
    let cut = text.char_indices().last().map_or(0, |(i, _)| i);
    let (digits, unit) = text.split_at(cut);
    let n: i64 = digits.parse().map_err(|_| wanted())?;
    if n < 0 {
        return Err(wanted());
    }
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(wanted()),
    };
    Ok(now.saturating_sub(n.saturating_mul(secs)))
}

/// An event name from a filter: one the trail knows, or a message listing them.
pub fn parse_event(label: &str, name: &str) -> Result<AuditEvent> {
    AuditEvent::parse(name).ok_or_else(|| {
        Error::Invalid(format!(
            "{label} must be one of the trail's events: {}",
            AuditEvent::names()
        ))
    })
}

/// The newest `limit` entries that pass `filter`, oldest first.
pub async fn find(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(db
        .audit_find(
            filter.user.as_deref(),
            filter.event.map(AuditEvent::as_str),
            filter.since,
            limit,
        )
        .await?)
}

/// The entries after `seq` that pass `filter` (its user and event; the rows after a seq are
/// newer than any `since`), oldest first, at most `limit`.
pub async fn after(db: &Db, filter: &Filter, seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(db
        .audit_after(
            seq,
            filter.user.as_deref(),
            filter.event.map(AuditEvent::as_str),
            limit,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn since(text: &str, now: i64) -> Result<i64> {
        parse_since("--since", text, now)
    }

    #[test]
    fn since_takes_times_and_ages() {
        assert_eq!(since("30m", 10_000).expect("age"), 10_000 - 1800);
        assert_eq!(since("2d", 200_000).expect("age"), 200_000 - 172_800);
        assert_eq!(
            since("2026-01-01T00:00:00Z", 0).expect("time"),
            1_767_225_600
        );
        assert!(since("soon", 0).is_err());
        assert!(since("", 0).is_err());
        // Hostile input from the audit page's filter: an error, never a panic.
        assert!(since("5\u{e9}", 0).is_err());
        assert!(since("\u{e9}", 0).is_err());
        assert!(since("-9223372036854775808s", 0).is_err());
        assert_eq!(
            since("9223372036854775807d", 0).expect("huge"),
            -i64::MAX,
            "clamped, not wrapped"
        );
        assert!(
            since("3w", 0)
                .expect_err("unit")
                .to_string()
                .starts_with("--since wants an RFC 3339 time")
        );
    }

    #[test]
    fn events_are_the_trails_own() {
        assert_eq!(
            parse_event("--event", "tenant set").expect("known"),
            AuditEvent::TenantSet
        );
        let err = parse_event("--event", "tenant sett")
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("tenant set") && err.starts_with("--event must be one of"),
            "{err}"
        );
    }
}
