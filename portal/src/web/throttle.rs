//! Online password guessing and password-check floods. Each (client address, user name) gets
//! `MAX_FAILURES` wrong passwords per `WINDOW_SECS`; past that its sign-ins are refused, without
//! a check, until the window ends. And only a few argon2 checks (19 MiB each) run at once, so a
//! flood of sign-ins queues instead of eating the machine's memory. Both live in this process:
//! each replica counts for itself.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW_SECS: i64 = 900;
/// Past this many keys the expired ones go; past it still, the oldest half.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    /// Key -> (failures, when the first of them was).
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, i64)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until `key` may try again, when it may not now.
    pub fn blocked(&self, key: &str, now: i64) -> Option<i64> {
        let map = self.lock();
        let (count, since) = map.get(key)?;
        let left = since + WINDOW_SECS - now;
        (*count >= MAX_FAILURES && left > 0).then_some(left)
    }

    pub fn failed(&self, key: &str, now: i64) {
        let mut map = self.lock();
        if map.len() >= MAX_KEYS {
            map.retain(|_, (_, since)| *since + WINDOW_SECS > now);
            if map.len() >= MAX_KEYS {
                let mut ages: Vec<i64> = map.values().map(|(_, s)| *s).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, (_, since)| *since > cut);
            }
        }
        let entry = map.entry(key.to_string()).or_insert((0, now));
        if entry.1 + WINDOW_SECS <= now {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.lock().remove(key);
    }
}

pub static FAILURES: LazyLock<Throttle> = LazyLock::new(Throttle::default);

/// Password checks running at once: two per core.
pub static CHECKS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::sync::Semaphore::new((cores * 2).max(2))
});

/// The throttle's key for a sign-in.
pub fn key(client: Option<&str>, user: &str) -> String {
    format!("{}\n{user}", client.unwrap_or("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_failures_block_one_key_for_the_window() {
        let t = Throttle::default();
        let (k, other) = (
            key(Some("10.0.0.1"), "alice"),
            key(Some("10.0.0.2"), "alice"),
        );
        for _ in 0..MAX_FAILURES - 1 {
            t.failed(&k, 1000);
        }
        assert_eq!(t.blocked(&k, 1000), None, "not yet");
        t.failed(&k, 1000);
        assert_eq!(t.blocked(&k, 1010), Some(WINDOW_SECS - 10));
        assert_eq!(
            t.blocked(&other, 1010),
            None,
            "another address is not blocked"
        );
        assert_eq!(t.blocked(&k, 1000 + WINDOW_SECS), None, "the window ends");
        t.failed(&k, 1000 + WINDOW_SECS);
        assert_eq!(t.blocked(&k, 1000 + WINDOW_SECS), None, "a new window");
        t.succeeded(&k);
        assert!(t.lock().is_empty());
    }
}
