//! Login throttling: a growing back-off per user name and per client address,
//! kept in memory.
//!
//! Each key may fail a few times freely; after that every failure locks it
//! out for a time that doubles with each further failure, up to a ceiling.
//! While locked out, a login is refused before its password is even checked,
//! so guessing gets no faster by sending more. A key is forgotten once it has
//! not failed for a while. A success clears the user's count, not the
//! address's: one valid account must not reset the budget for guessing others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginThrottle;

/// At most this many keys are tracked; beyond it, stale keys are dropped
/// first, and new keys go untracked until there is room (the per-address
/// limit still applies to them).
const MAX_KEYS: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

pub struct Throttle {
    policy: LoginThrottle,
    keys: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    pub fn new(policy: LoginThrottle) -> Self {
        Throttle {
            policy,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` if `user` or `addr` is locked out at `now`.
    pub fn check(&self, user: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let keys = self.lock();
        let wait = self
            .keys_of(user, addr)
            .filter_map(|k| keys.get(&k))
            .filter_map(|e| e.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed login against `user` and `addr`.
    pub fn failed(&self, user: &str, addr: Option<IpAddr>, now: Instant) {
        let mut keys = self.lock();
        if keys.len() >= MAX_KEYS {
            let forget = self.policy.forget_after;
            keys.retain(|_, e| {
                now.duration_since(e.last_failure) < forget
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        for key in self.keys_of(user, addr) {
            let free = match key {
                Key::User(_) => self.policy.free_per_user,
                Key::Addr(_) => self.policy.free_per_address,
            };
            if !keys.contains_key(&key) && keys.len() >= MAX_KEYS {
                continue;
            }
            let entry = keys.entry(key).or_insert(Entry {
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
            if now.duration_since(entry.last_failure) >= self.policy.forget_after {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            if entry.failures > free {
                entry.locked_until = Some(now + self.backoff(entry.failures - free));
            }
        }
    }

    /// Clears the user's count after a successful login.
    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&Key::User(user.to_owned()));
    }

    /// The lock-out after the `n`th failure beyond the free ones (n >= 1):
    /// `base`, doubling each time, capped at `max`.
    fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n - 1).unwrap_or(u32::MAX);
        self.policy
            .base
            .checked_mul(factor)
            .unwrap_or(self.policy.max)
            .min(self.policy.max)
    }

    fn keys_of(&self, user: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(user.to_owned())).chain(addr.map(Key::Addr))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // The map stays coherent even if a holder panicked.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LoginThrottle {
        LoginThrottle {
            free_per_user: 3,
            free_per_address: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
            forget_after: Duration::from_secs(60),
        }
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn the_lockout_doubles_with_each_failure_up_to_the_ceiling() {
        let t = Throttle::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            t.failed("alice", A, t0);
        }
        assert_eq!(t.check("alice", B, t0), Ok(()), "three failures are free");
        let mut waits = Vec::new();
        let mut now = t0;
        for _ in 0..6 {
            t.failed("alice", B, now);
            let wait = t.check("alice", B, now).expect_err("locked out");
            waits.push(wait.as_secs());
            now += wait;
            assert_eq!(t.check("alice", B, now), Ok(()), "free again once it ends");
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn an_address_is_throttled_across_user_names_and_a_success_clears_only_the_user() {
        let t = Throttle::new(policy());
        let now = Instant::now();
        for i in 0..5 {
            t.failed(&format!("user{i}"), A, now);
        }
        assert_eq!(t.check("someone", A, now), Ok(()));
        t.failed("user5", A, now);
        assert!(t.check("someone", A, now).is_err(), "address locked");
        assert_eq!(
            t.check("someone", B, now),
            Ok(()),
            "other addresses are not"
        );

        for _ in 0..4 {
            t.failed("bob", B, now);
        }
        assert!(t.check("bob", None, now).is_err());
        t.succeeded("bob");
        assert_eq!(t.check("bob", None, now), Ok(()));
        assert!(
            t.check("someone", A, now).is_err(),
            "the address stays locked"
        );
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_while() {
        let t = Throttle::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            t.failed("carol", None, t0);
        }
        let later = t0 + Duration::from_secs(61);
        t.failed("carol", None, later);
        assert_eq!(
            t.check("carol", None, later),
            Ok(()),
            "count restarted at 1"
        );
    }
}
