//! A small in-memory cache of rendered `/api/vms/{vmid}/rrd` answers. RRD history is served by
//! `pvesh` on demand (it is not a snapshot the inventory poller keeps), so without a cache every open
//! guest page would cost the host a `pvesh` process per refresh. With it a busy dashboard costs at most
//! one `pvesh` per (guest, timeframe) per [`TTL`], and the cache never holds more than [`CAPACITY`]
//! answers.
//!
//! Misses are filled one at a time (the `fill` lock): a burst of requests for the same guest waits for
//! the first one's answer instead of queueing N identical `pvesh` runs on the action runner.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// How long an answer is served from memory. PVE's finest RRD step is one minute.
pub const TTL: Duration = Duration::from_secs(60);
/// At most this many answers are kept (7 guests x 5 timeframes is 35; a large host stays bounded).
pub const CAPACITY: usize = 256;

/// The RRD timeframes PVE knows (`pvesh ... rrddata --timeframe`).
pub const TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year"];

type Key = (u64, &'static str);

pub struct RrdCache {
    entries: Mutex<HashMap<Key, (Instant, Bytes)>>,
    fill: tokio::sync::Mutex<()>,
    fills: AtomicU64,
    ttl: Duration,
    capacity: usize,
}

impl Default for RrdCache {
    fn default() -> Self {
        Self::new(TTL, CAPACITY)
    }
}

impl RrdCache {
    pub fn new(ttl: Duration, capacity: usize) -> RrdCache {
        RrdCache {
            entries: Mutex::new(HashMap::new()),
            fill: tokio::sync::Mutex::new(()),
            fills: AtomicU64::new(0),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// The canonical `&'static str` for a timeframe, or `None` if PVE does not know it.
    pub fn timeframe(tf: &str) -> Option<&'static str> {
        TIMEFRAMES.iter().copied().find(|t| *t == tf)
    }

    /// How many times an answer had to be produced (each one a `pvesh` run).
    pub fn fills(&self) -> u64 {
        self.fills.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, key: Key, now: Instant) -> Option<Bytes> {
        let entries = self.entries.lock().ok()?;
        entries.get(&key).filter(|(at, _)| now.duration_since(*at) < self.ttl).map(|(_, b)| b.clone())
    }

    fn store(&self, key: Key, now: Instant, body: Bytes) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            while entries.len() >= self.capacity {
                let oldest = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k);
                match oldest {
                    Some(k) => entries.remove(&k),
                    None => break,
                };
            }
        }
        entries.insert(key, (now, body));
    }

    /// The cached answer for (`vmid`, `timeframe`), or `produce`'s, which is cached when it succeeds
    /// (failures are not: the next request tries again).
    pub async fn get_or_fill<E, F, Fut>(
        &self,
        vmid: u64,
        timeframe: &'static str,
        produce: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let key = (vmid, timeframe);
        if let Some(hit) = self.lookup(key, Instant::now()) {
            return Ok(hit);
        }
        let _filling = self.fill.lock().await;
        // Another request may have filled it while this one waited.
        if let Some(hit) = self.lookup(key, Instant::now()) {
            return Ok(hit);
        }
        self.fills.fetch_add(1, Ordering::Relaxed);
        let body = produce().await?;
        self.store(key, Instant::now(), body.clone());
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fresh_answer_is_served_from_memory_and_an_old_one_refetched() {
        let cache = RrdCache::new(Duration::from_millis(50), 8);
        let make = |s: &'static str| move || async move { Ok::<_, ()>(Bytes::from_static(s.as_bytes())) };
        assert_eq!(cache.get_or_fill(101, "hour", make("a")).await.unwrap(), "a");
        assert_eq!(cache.get_or_fill(101, "hour", make("b")).await.unwrap(), "a");
        assert_eq!(cache.get_or_fill(101, "day", make("c")).await.unwrap(), "c");
        assert_eq!(cache.fills(), 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(cache.get_or_fill(101, "hour", make("d")).await.unwrap(), "d");
        assert_eq!(cache.fills(), 3);
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_the_size_is_bounded() {
        let cache = RrdCache::new(TTL, 3);
        let r = cache.get_or_fill(100, "hour", || async { Err::<Bytes, _>("boom") }).await;
        assert_eq!(r, Err("boom"));
        assert!(cache.is_empty());
        for vmid in 100..110 {
            cache
                .get_or_fill(vmid, "hour", || async { Ok::<_, ()>(Bytes::from_static(b"x")) })
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(RrdCache::timeframe("week"), Some("week"));
        assert_eq!(RrdCache::timeframe("decade"), None);
    }
}
