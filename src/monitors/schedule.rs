//! When each monitor is checked: every `interval` from a fixed per-monitor offset within the
//! interval (so 100 monitors with the same interval do not fire in the same millisecond), never
//! drifting (the next time is the last planned time plus the interval, not the last start plus it;
//! slots missed while the pool was busy are skipped, not bunched), at most `limit` checks in flight,
//! and never two checks of one monitor at once.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The checks in flight by default.
pub const DEFAULT_IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Entry {
    interval_ms: i64,
    next_ms: i64,
}

/// Each monitor's next check time.
#[derive(Debug, Default)]
pub struct Plan {
    entries: BTreeMap<i64, Entry>,
}

/// A fixed offset in `[0, interval)` for monitor `id` (a hash, so neighbours spread apart).
pub fn offset(id: i64, interval_ms: i64) -> i64 {
    let mut x = id as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x % interval_ms.max(1) as u64) as i64
}

impl Plan {
    /// Plans monitor `id` every `interval_ms` from `now_ms`: its first check within one interval.
    pub fn add(&mut self, id: i64, interval_ms: i64, now_ms: i64) {
        let interval_ms = interval_ms.max(1);
        let base = now_ms - now_ms.rem_euclid(interval_ms);
        let mut next_ms = base + offset(id, interval_ms);
        if next_ms < now_ms {
            next_ms += interval_ms;
        }
        self.entries.insert(id, Entry { interval_ms, next_ms });
    }

    pub fn remove(&mut self, id: i64) {
        self.entries.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The monitors due at `now_ms`, each planned again one interval later (slots already past are
    /// skipped).
    pub fn due(&mut self, now_ms: i64) -> Vec<i64> {
        let mut out = Vec::new();
        for (id, e) in self.entries.iter_mut() {
            if e.next_ms <= now_ms {
                out.push(*id);
                e.next_ms += e.interval_ms;
                if e.next_ms <= now_ms {
                    let behind = (now_ms - e.next_ms) / e.interval_ms + 1;
                    e.next_ms += behind * e.interval_ms;
                }
            }
        }
        out
    }

    /// When the next check is due.
    pub fn next_ms(&self) -> Option<i64> {
        self.entries.values().map(|e| e.next_ms).min()
    }
}

/// What a run did, for the self-monitoring and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub started: u64,
    /// Due while the monitor's previous check was still running.
    pub skipped: u64,
}

/// Runs `check(id)` for each monitor as `plan` says, at most `limit` at once, until `cancel`.
/// `now_ms()` is the clock (unix ms). Returns what it did.
pub async fn run<F, Fut>(
    mut plan: Plan,
    limit: usize,
    now_ms: impl Fn() -> i64,
    check: F,
    cancel: CancellationToken,
) -> Tally
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limit.max(1)));
    let mut running: HashSet<i64> = HashSet::new();
    let mut tasks: JoinSet<i64> = JoinSet::new();
    let mut tally = Tally::default();
    loop {
        while let Some(done) = tasks.try_join_next() {
            if let Ok(id) = done {
                running.remove(&id);
            }
        }
        for id in plan.due(now_ms()) {
            if running.contains(&id) {
                tally.skipped += 1;
                continue;
            }
            let permit = tokio::select! {
                _ = cancel.cancelled() => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            running.insert(id);
            tally.started += 1;
            let fut = check(id);
            tasks.spawn(async move {
                fut.await;
                drop(permit);
                id
            });
        }
        if cancel.is_cancelled() {
            break;
        }
        let wait = plan.next_ms().map(|n| (n - now_ms()).max(0) as u64).unwrap_or(60_000);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(id) = done {
                    running.remove(&id);
                }
            }
        }
    }
    tasks.abort_all();
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn the_plan_spreads_and_never_drifts() {
        let mut p = Plan::default();
        for id in 1..=100 {
            p.add(id, 30_000, 1_000_000);
        }
        // Spread over the interval: no millisecond holds more than a few first checks.
        let mut firsts: Vec<i64> = p.entries.values().map(|e| e.next_ms).collect();
        firsts.sort();
        assert!(firsts[0] >= 1_000_000 && firsts[99] < 1_030_000, "{firsts:?}");
        let mut same = std::collections::HashMap::new();
        for f in &firsts {
            *same.entry(*f).or_insert(0) += 1;
        }
        assert!(same.values().all(|n| *n <= 2), "bunched: {same:?}");
        // Late by 95 s: each is due once, and planned on its own grid again.
        let before: BTreeMap<i64, i64> = p.entries.iter().map(|(k, e)| (*k, e.next_ms)).collect();
        assert_eq!(p.due(1_000_000 + 125_000).len(), 100);
        for (id, e) in &p.entries {
            assert_eq!((e.next_ms - before[id]) % 30_000, 0, "on the grid");
            assert!(e.next_ms > 1_125_000 && e.next_ms <= 1_155_000);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_hundred_monitors_run_on_time_within_the_bound() {
        const N: i64 = 200;
        const INTERVAL: i64 = 30_000;
        let t0 = tokio::time::Instant::now();
        let base = 1_700_000_000_000i64;
        let now = move || base + t0.elapsed().as_millis() as i64;
        let mut plan = Plan::default();
        for id in 1..=N {
            plan.add(id, INTERVAL, now());
        }
        let firsts: BTreeMap<i64, i64> = plan.entries.iter().map(|(k, e)| (*k, e.next_ms)).collect();
        let starts: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let cancel = CancellationToken::new();
        let (s, f, pk) = (starts.clone(), in_flight.clone(), peak.clone());
        let check = move |id: i64| {
            let (s, f, pk) = (s.clone(), f.clone(), pk.clone());
            let started = now();
            async move {
                s.lock().unwrap().push((id, started));
                let n = f.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(n, Ordering::SeqCst);
                // A check takes from 0.1 to 2.4 s, some of them long.
                tokio::time::sleep(Duration::from_millis(100 + (id as u64 * 37) % 2300)).await;
                f.fetch_sub(1, Ordering::SeqCst);
            }
        };
        let stop = cancel.clone();
        let ten_minutes = async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            stop.cancel();
        };
        let (tally, ()) = tokio::join!(run(plan, DEFAULT_IN_FLIGHT, now, check, cancel), ten_minutes);
        assert!(peak.load(Ordering::SeqCst) <= DEFAULT_IN_FLIGHT, "peak {}", peak.load(Ordering::SeqCst));
        assert_eq!(tally.skipped, 0);
        let starts = starts.lock().unwrap();
        for id in 1..=N {
            let mine: Vec<i64> = starts.iter().filter(|(i, _)| *i == id).map(|(_, t)| *t).collect();
            assert!(mine.len() >= 19, "monitor {id} ran {} times in 10 minutes", mine.len());
            for (k, t) in mine.iter().enumerate() {
                let planned = firsts[&id] + k as i64 * INTERVAL;
                assert!(
                    (t - planned).abs() < INTERVAL,
                    "monitor {id} check {k} at {t}, planned {planned}: drift"
                );
            }
        }
    }
}
