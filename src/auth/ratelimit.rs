//! Attempt limits for login and setup: at most N failed attempts per key (client IP, user name) in a
//! sliding window; after that the caller is told how long to wait (`Retry-After`).

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

impl Limiter {
    pub fn new(max: u32, window: Duration) -> Limiter {
        Limiter { max: max as usize, window, hits: Mutex::new(HashMap::new()) }
    }

    /// `Err(retry_after)` when any of `keys` is over its limit at `now`.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for k in keys {
            if let Some(q) = hits.get_mut(k) {
                while q.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    q.pop_front();
                }
                if q.len() >= self.max {
                    if let Some(oldest) = q.front() {
                        wait = wait.max(self.window - now.duration_since(*oldest));
                    }
                }
            }
        }
        if wait > Duration::ZERO { Err(wait) } else { Ok(()) }
    }

    /// Records a failed attempt for each key.
    pub fn fail(&self, keys: &[String], now: Instant) {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > MAX_KEYS {
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
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
}
