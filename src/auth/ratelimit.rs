//! Attempt limits: at most N attempts that did not succeed per key (client IP, user name, ...) in a
//! sliding window; after that the caller is told how long to wait (`Retry-After`).
//!
//! An attempt is *reserved* before the secret is checked and counts as a failure until the check
//! succeeds ([`Limiter::reserve`] then [`Reservation::succeeded`]): checking first and recording the
//! failure after a ~100 ms password hash would let N parallel guesses all pass the check.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Bound on tracked keys, so a flood of distinct IPs cannot grow memory without limit.
const MAX_KEYS: usize = 100_000;

/// An attempt counted against its keys. Dropped, it stays counted (a failure); [`Self::succeeded`]
/// takes it back.
#[must_use = "an attempt is a failure unless it is marked as succeeded"]
pub struct Reservation<'a> {
    limiter: &'a Limiter,
    keys: Vec<String>,
    at: Instant,
}

impl Reservation<'_> {
    /// The attempt succeeded: it no longer counts against its keys.
    pub fn succeeded(self) {
        let mut hits = self.limiter.hits.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.keys {
            if let Some(q) = hits.get_mut(k) {
                if let Some(i) = q.iter().rposition(|t| *t == self.at) {
                    q.remove(i);
                }
                if q.is_empty() {
                    hits.remove(k);
                }
            }
        }
    }
}

impl Limiter {
    pub fn new(max: u32, window: Duration) -> Limiter {
        Limiter { max: max as usize, window, hits: Mutex::new(HashMap::new()) }
    }

    fn over(&self, hits: &mut HashMap<String, VecDeque<Instant>>, keys: &[String], now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        for k in keys {
            if let Some(q) = hits.get_mut(k) {
                while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window) {
                    q.pop_front();
                }
                if q.len() >= self.max {
                    if let Some(oldest) = q.front() {
                        let left = self.window.saturating_sub(now.saturating_duration_since(*oldest));
                        wait = wait.max(left.max(Duration::from_secs(1)));
                    }
                }
            }
        }
        wait
    }

    /// `Err(retry_after)` when any of `keys` is over its limit at `now`.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let wait = self.over(&mut hits, keys, now);
        if wait > Duration::ZERO { Err(wait) } else { Ok(()) }
    }

    /// Atomically checks `keys` and, when none is over its limit, counts one attempt against each.
    pub fn reserve(&self, keys: &[String], now: Instant) -> Result<Reservation<'_>, Duration> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let wait = self.over(&mut hits, keys, now);
        if wait > Duration::ZERO {
            return Err(wait);
        }
        self.push(&mut hits, keys, now);
        Ok(Reservation { limiter: self, keys: keys.to_vec(), at: now })
    }

    /// Records a failed attempt for each key.
    pub fn fail(&self, keys: &[String], now: Instant) {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        self.push(&mut hits, keys, now);
    }

    fn push(&self, hits: &mut HashMap<String, VecDeque<Instant>>, keys: &[String], now: Instant) {
        if hits.len() > MAX_KEYS {
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| now.saturating_duration_since(*t) < window));
        }
        for k in keys {
            hits.entry(k.clone()).or_default().push_back(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_then_wait_for_the_oldest_to_expire() {
        let l = Limiter::new(5, Duration::from_secs(300));
        let t0 = Instant::now();
        let keys = vec!["ip:203.0.113.5".to_string(), "user:root".to_string()];
        for i in 0..5 {
            assert!(l.check(&keys, t0 + Duration::from_secs(i)).is_ok());
            l.fail(&keys, t0 + Duration::from_secs(i));
        }
        let wait = l.check(&keys, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(290));
        // Another IP for the same user is also held back (per-user limit).
        assert!(
            l.check(&["ip:198.51.100.1".into(), "user:root".into()], t0 + Duration::from_secs(10)).is_err()
        );
        assert!(
            l.check(&["ip:198.51.100.1".into(), "user:bob".into()], t0 + Duration::from_secs(10)).is_ok()
        );
        assert!(l.check(&keys, t0 + Duration::from_secs(300)).is_ok());
    }

    #[test]
    fn reservations_count_until_they_succeed() {
        let l = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let keys = vec!["ip:a".to_string()];
        // Three in flight at once: the fourth is refused before any of them finished.
        let r1 = l.reserve(&keys, t0).unwrap();
        let r2 = l.reserve(&keys, t0).unwrap();
        let _r3 = l.reserve(&keys, t0).unwrap();
        assert!(l.reserve(&keys, t0).is_err());
        // A success gives its attempt back; a failure (drop) keeps it.
        r1.succeeded();
        drop(r2);
        let _r4 = l.reserve(&keys, t0).unwrap();
        assert!(l.reserve(&keys, t0).is_err());
    }
}
