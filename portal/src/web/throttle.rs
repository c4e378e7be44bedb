//! Online password guessing and password-check floods. Each (client address, user name) gets
//! `MAX_FAILURES` wrong passwords per `WINDOW_SECS`; past that its sign-ins are refused, without
//! a check, until the window ends. A sign-in takes its slot (`reserve`) before its check, so
//! guesses sent at once are never more than the limit. And only a few argon2 checks (19 MiB
//! each) run at once, so a flood of sign-ins queues instead of eating the machine's memory; each
//! address queues first on its own, so one address's flood leaves checks free for the others.
//! All of it lives in this process: each replica counts for itself.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW_SECS: i64 = 900;
/// Past this many keys the expired ones go; past it still, the oldest half.
const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    /// Key -> (failures, when the first of them was).
    failures: Mutex<HashMap<String, (u32, i64)>>,
    max: u32,
    window: i64,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(MAX_FAILURES, WINDOW_SECS)
    }
}

impl Throttle {
    /// At most `max` events per key in `window` seconds.
    pub fn new(max: u32, window: i64) -> Throttle {
        Throttle {
            failures: Mutex::new(HashMap::new()),
            max,
            window,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, i64)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until `key` may try again, when it may not now.
    #[cfg(test)]
    pub fn blocked(&self, key: &str, now: i64) -> Option<i64> {
        let map = self.lock();
        let (count, since) = map.get(key)?;
        let left = since + self.window - now;
        (*count >= self.max && left > 0).then_some(left)
    }

    /// One more failure (or event) for `key`.
    #[cfg(test)]
    pub fn count(&self, key: &str, now: i64) {
        Self::add(&mut self.lock(), self.window, key, now);
    }

    /// Take one of `key`'s slots for an attempt about to be checked, counting it as failed until
    /// it is settled (`succeeded` clears the count); or the seconds until `key` may try again.
    /// Check and count under one lock: concurrent attempts cannot all see a free slot.
    pub fn reserve(&self, key: &str, now: i64) -> Result<(), i64> {
        let mut map = self.lock();
        if let Some((count, since)) = map.get(key) {
            let left = since + self.window - now;
            if *count >= self.max && left > 0 {
                return Err(left);
            }
        }
        Self::add(&mut map, self.window, key, now);
        Ok(())
    }

    fn add(map: &mut HashMap<String, (u32, i64)>, window: i64, key: &str, now: i64) {
        if map.len() >= MAX_KEYS {
            map.retain(|_, (_, since)| *since + window > now);
            if map.len() >= MAX_KEYS {
                let mut ages: Vec<i64> = map.values().map(|(_, s)| *s).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, (_, since)| *since > cut);
            }
        }
        let entry = map.entry(key.to_string()).or_insert((0, now));
        if entry.1 + window <= now {
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
static CHECK_SLOTS: LazyLock<usize> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).max(2)
});

static CHECKS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(*CHECK_SLOTS));

/// Each address's own queue for password checks: one address may run at most half of them, so
/// a flood from it (made-up names need no throttle slot of a real user) waits in its own queue
/// while sign-ins from elsewhere still find a check free.
static PER_CLIENT: LazyLock<Mutex<HashMap<String, Arc<Semaphore>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The right to run one password check, for as long as it is held.
pub struct CheckPermit {
    client: String,
    /// Dropped before `mine`'s entry is looked at, hence `Option`.
    mine: Option<OwnedSemaphorePermit>,
    _all: SemaphorePermit<'static>,
}

impl Drop for CheckPermit {
    fn drop(&mut self) {
        let mut map = PER_CLIENT.lock().unwrap_or_else(|e| e.into_inner());
        self.mine = None;
        // New holders clone the entry only under this lock: one reference left is the map's.
        if map
            .get(&self.client)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            map.remove(&self.client);
        }
    }
}

/// Wait for a password check: first in `client`'s own queue, then in everyone's.
pub async fn check_permit(client: Option<&str>) -> anyhow::Result<CheckPermit> {
    let client = client.unwrap_or("-").to_string();
    let queue = {
        let mut map = PER_CLIENT.lock().unwrap_or_else(|e| e.into_inner());
        // A request dropped while it waited lets go of its queue outside the lock, which can
        // leave an idle entry behind: those go before the map grows past its bound.
        if map.len() >= MAX_KEYS {
            map.retain(|_, q| Arc::strong_count(q) > 1);
        }
        map.entry(client.clone())
            .or_insert_with(|| Arc::new(Semaphore::new((*CHECK_SLOTS / 2).max(1))))
            .clone()
    };
    let mine = queue.acquire_owned().await?;
    let all = CHECKS.acquire().await?;
    Ok(CheckPermit {
        client,
        mine: Some(mine),
        _all: all,
    })
}

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
            t.count(&k, 1000);
        }
        assert_eq!(t.blocked(&k, 1000), None, "not yet");
        t.count(&k, 1000);
        assert_eq!(t.blocked(&k, 1010), Some(WINDOW_SECS - 10));
        assert_eq!(
            t.blocked(&other, 1010),
            None,
            "another address is not blocked"
        );
        assert_eq!(t.blocked(&k, 1000 + WINDOW_SECS), None, "the window ends");
        t.count(&k, 1000 + WINDOW_SECS);
        assert_eq!(t.blocked(&k, 1000 + WINDOW_SECS), None, "a new window");
        t.succeeded(&k);
        assert!(t.lock().is_empty());
    }

    #[test]
    fn reserving_counts_before_the_check_and_success_clears() {
        let t = Throttle::new(2, 10);
        assert_eq!(t.reserve("a", 0), Ok(()));
        assert_eq!(t.reserve("a", 0), Ok(()));
        assert_eq!(
            t.reserve("a", 1),
            Err(9),
            "two unsettled attempts fill the window"
        );
        assert_eq!(t.reserve("b", 1), Ok(()), "another key has its own slots");
        t.succeeded("a");
        assert_eq!(t.reserve("a", 1), Ok(()));
        assert_eq!(t.reserve("a", 20), Ok(()), "a new window");
        assert_eq!(t.reserve("a", 20), Ok(()));
        assert_eq!(t.reserve("a", 20), Err(10));
    }

    #[tokio::test]
    async fn one_address_runs_at_most_half_the_checks_and_its_queue_goes_when_idle() {
        use std::time::Duration;
        let client = Some("192.0.2.7");
        let mut held = Vec::new();
        for _ in 0..(*CHECK_SLOTS / 2).max(1) {
            held.push(check_permit(client).await.expect("permit"));
        }
        let more = tokio::time::timeout(Duration::from_millis(50), check_permit(client)).await;
        assert!(more.is_err(), "the address's own queue is full");
        let other = check_permit(Some("192.0.2.8"))
            .await
            .expect("another address");
        drop(other);
        drop(held);
        let map = PER_CLIENT.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!map.contains_key("192.0.2.7") && !map.contains_key("192.0.2.8"));
    }

    #[test]
    fn a_throttle_takes_its_own_limits() {
        let t = Throttle::new(2, 10);
        t.count("a", 0);
        assert_eq!(t.blocked("a", 0), None);
        t.count("a", 1);
        assert_eq!(t.blocked("a", 1), Some(9));
        assert_eq!(t.blocked("a", 10), None);
    }
}
