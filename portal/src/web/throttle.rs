//! Online password guessing and password-check floods. A sign-in takes a slot in each of its
//! limits (`Throttle::reserve_all`) before its check, counted as a failure until it succeeds, so
//! guesses sent at once are never more than a limit. The limits, each per `WINDOW_SECS`, are
//! chosen so that no stranger can lock a user out (the device-cookie design of OWASP's
//! authentication guidance):
//! - a browser that has signed in as the user before (a sealed "known browser" cookie naming
//!   the user) has `MAX_FAILURES` wrong passwords of its own, and no other limit: nothing
//!   anyone else does counts against it;
//! - any other browser has `MAX_FAILURES` per (address, user), and shares two wider limits: all
//!   such attempts for one user (`MAX_USER_FAILURES`, which stops guessing from many addresses)
//!   and all attempts from one address (`MAX_ADDRESS_FAILURES`, which stops one address trying
//!   many users or made-up names).
//!
//! The address is the client's, through trusted proxies (`state::ClientAddr`). And only a few
//! argon2 checks (19 MiB each) run at once, so a flood of sign-ins queues instead of eating the
//! machine's memory; each address queues first on its own, so one address's flood leaves checks
//! free for the others. All of it lives in this process: each replica counts for itself.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

pub const MAX_FAILURES: u32 = 5;
/// Wrong passwords for one user from browsers that have not signed in as that user before.
pub const MAX_USER_FAILURES: u32 = 20;
/// Wrong passwords from one address, whatever the user name, from unknown browsers.
pub const MAX_ADDRESS_FAILURES: u32 = 30;
pub const WINDOW_SECS: i64 = 900;
/// Past this many keys the expired ones go; past it still, the oldest half.
const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    /// Key -> (failures, when the first of them was).
    failures: Mutex<HashMap<String, (u32, i64)>>,
    window: i64,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(WINDOW_SECS)
    }
}

impl Throttle {
    /// Failures counted per key over `window` seconds; each limit names its own most.
    pub fn new(window: i64) -> Throttle {
        Throttle {
            failures: Mutex::new(HashMap::new()),
            window,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, i64)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until `key` may try again under a limit of `max`, when it may not now.
    #[cfg(test)]
    pub fn blocked(&self, key: &str, max: u32, now: i64) -> Option<i64> {
        let map = self.lock();
        let (count, since) = map.get(key)?;
        let left = since + self.window - now;
        (*count >= max && left > 0).then_some(left)
    }

    /// One more failure (or event) for `key`.
    #[cfg(test)]
    pub fn count(&self, key: &str, now: i64) {
        Self::add(&mut self.lock(), self.window, key, now);
    }

    /// Take one of `key`'s slots (at most `max` in the window), as `reserve_all` does.
    #[cfg(test)]
    fn reserve(&self, key: &str, max: u32, now: i64) -> Result<(), i64> {
        self.reserve_all(&[(key.to_string(), max)], now)
            .map_err(|(_, left)| left)
    }

    /// Take a slot in each of `limits` (key, most failures), all or none, under one lock; or
    /// the index of the first limit that is full and the seconds until it is not.
    pub fn reserve_all(&self, limits: &[(String, u32)], now: i64) -> Result<(), (usize, i64)> {
        let mut map = self.lock();
        for (i, (key, max)) in limits.iter().enumerate() {
            if let Some((count, since)) = map.get(key) {
                let left = since + self.window - now;
                if count >= max && left > 0 {
                    return Err((i, left));
                }
            }
        }
        for (key, _) in limits {
            Self::add(&mut map, self.window, key, now);
        }
        Ok(())
    }

    /// An attempt reserved under `key` was no failure after all.
    pub fn release(&self, key: &str) {
        let mut map = self.lock();
        if let Some(entry) = map.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                map.remove(key);
            }
        }
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

/// Which limit refused a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This browser's own (a known browser), or this address's for this user.
    Mine,
    /// Every unknown browser's, for this user.
    User,
    /// Every unknown browser's at this address.
    Address,
}

impl Full {
    /// The limit's name in the metrics.
    pub fn metric(self) -> crate::metrics::Limit {
        match self {
            Full::Mine => crate::metrics::Limit::Own,
            Full::User => crate::metrics::Limit::User,
            Full::Address => crate::metrics::Limit::Address,
        }
    }
}

/// A sign-in about to be checked, and the limits it counts against.
pub struct Attempt {
    limits: Vec<(String, u32)>,
    kinds: Vec<Full>,
}

impl Attempt {
    /// A sign-in as `user` from `client`; `device` is the id of this browser's known-browser
    /// cookie when that cookie names `user`.
    pub fn new(client: Option<&str>, user: &str, device: Option<&str>) -> Attempt {
        match device {
            Some(id) => Attempt {
                limits: vec![(format!("device\n{id}\n{user}"), MAX_FAILURES)],
                kinds: vec![Full::Mine],
            },
            None => Attempt {
                limits: vec![
                    (
                        format!("address\n{}", client.unwrap_or("-")),
                        MAX_ADDRESS_FAILURES,
                    ),
                    (format!("user\n{user}"), MAX_USER_FAILURES),
                    (key(client, user), MAX_FAILURES),
                ],
                kinds: vec![Full::Address, Full::User, Full::Mine],
            },
        }
    }

    /// Take this attempt's slots in `t`; or which limit is full and for how many seconds.
    pub fn reserve(&self, t: &Throttle, now: i64) -> Result<(), (Full, i64)> {
        t.reserve_all(&self.limits, now)
            .map_err(|(i, left)| (self.kinds[i], left))
    }

    /// The password was right: this browser's (or address's) own count starts again, and the
    /// shared ones lose the slot this attempt took, keeping everyone else's failures.
    pub fn succeeded(&self, t: &Throttle) {
        for ((key, _), kind) in self.limits.iter().zip(&self.kinds) {
            match kind {
                Full::Mine => t.succeeded(key),
                Full::User | Full::Address => t.release(key),
            }
        }
    }
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
        assert_eq!(t.blocked(&k, MAX_FAILURES, 1000), None, "not yet");
        t.count(&k, 1000);
        assert_eq!(t.blocked(&k, MAX_FAILURES, 1010), Some(WINDOW_SECS - 10));
        assert_eq!(
            t.blocked(&other, MAX_FAILURES, 1010),
            None,
            "another address is not blocked"
        );
        assert_eq!(
            t.blocked(&k, MAX_FAILURES, 1000 + WINDOW_SECS),
            None,
            "the window ends"
        );
        t.count(&k, 1000 + WINDOW_SECS);
        assert_eq!(
            t.blocked(&k, MAX_FAILURES, 1000 + WINDOW_SECS),
            None,
            "a new window"
        );
        t.succeeded(&k);
        assert!(t.lock().is_empty());
    }

    #[test]
    fn reserving_counts_before_the_check_and_success_clears() {
        let t = Throttle::new(10);
        assert_eq!(t.reserve("a", 2, 0), Ok(()));
        assert_eq!(t.reserve("a", 2, 0), Ok(()));
        assert_eq!(
            t.reserve("a", 2, 1),
            Err(9),
            "two unsettled attempts fill the window"
        );
        assert_eq!(
            t.reserve("b", 2, 1),
            Ok(()),
            "another key has its own slots"
        );
        t.succeeded("a");
        assert_eq!(t.reserve("a", 2, 1), Ok(()));
        assert_eq!(t.reserve("a", 2, 20), Ok(()), "a new window");
        assert_eq!(t.reserve("a", 2, 20), Ok(()));
        assert_eq!(t.reserve("a", 2, 20), Err(10));
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
    fn strangers_cannot_use_up_a_known_browsers_attempts() {
        let t = Throttle::default();
        let now = 1000;
        // Guessing from many addresses fills the user's shared limit ...
        for i in 0..MAX_USER_FAILURES {
            let ip = format!("198.51.100.{i}");
            assert_eq!(
                Attempt::new(Some(&ip), "alice", None).reserve(&t, now),
                Ok(())
            );
        }
        let stranger = Attempt::new(Some("203.0.113.9"), "alice", None);
        assert_eq!(
            stranger.reserve(&t, now).map_err(|(full, _)| full),
            Err(Full::User)
        );
        // ... and leaves alice's own browser, even at a guesser's address, its own attempts.
        let known = Attempt::new(Some("198.51.100.0"), "alice", Some("d1"));
        for _ in 0..MAX_FAILURES {
            assert_eq!(known.reserve(&t, now), Ok(()));
        }
        assert_eq!(
            known.reserve(&t, now).map_err(|(full, _)| full),
            Err(Full::Mine),
            "a known browser still has a limit of its own"
        );
        assert_eq!(
            Attempt::new(Some("198.51.100.0"), "alice", Some("d2")).reserve(&t, now),
            Ok(()),
            "another known browser is not held up by the first"
        );
        assert_eq!(
            Attempt::new(Some("203.0.113.9"), "bob", None).reserve(&t, now),
            Ok(()),
            "another user is not held up"
        );
    }

    #[test]
    fn one_address_trying_many_names_is_stopped_and_success_settles_its_slot() {
        let t = Throttle::default();
        for i in 0..MAX_ADDRESS_FAILURES - 1 {
            let name = format!("made-up-{i}");
            assert_eq!(
                Attempt::new(Some("192.0.2.1"), &name, None).reserve(&t, 0),
                Ok(())
            );
        }
        let real = Attempt::new(Some("192.0.2.1"), "alice", None);
        assert_eq!(real.reserve(&t, 0), Ok(()), "the last free slot");
        real.succeeded(&t);
        assert_eq!(
            real.reserve(&t, 1),
            Ok(()),
            "a right password gave its slot back"
        );
        assert_eq!(
            Attempt::new(Some("192.0.2.1"), "carol", None)
                .reserve(&t, 2)
                .map_err(|(full, _)| full),
            Err(Full::Address)
        );
        assert_eq!(
            Attempt::new(Some("192.0.2.2"), "carol", None).reserve(&t, 2),
            Ok(()),
            "another address is not held up"
        );
        // None of a refused attempt's slots were taken: carol's own count is still empty.
        assert_eq!(
            t.blocked(&key(Some("192.0.2.1"), "carol"), MAX_FAILURES, 2),
            None
        );
        assert!(!t.lock().contains_key(&key(Some("192.0.2.1"), "carol")));
    }

    #[test]
    fn a_throttle_takes_its_own_limits() {
        let t = Throttle::new(10);
        t.count("a", 0);
        assert_eq!(t.blocked("a", 2, 0), None);
        t.count("a", 1);
        assert_eq!(t.blocked("a", 2, 1), Some(9));
        assert_eq!(t.blocked("a", 2, 10), None);
    }
}
