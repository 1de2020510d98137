//! The monitors' loop in production: the schedule over the [`Runner`], planned again whenever a
//! definition or a window changes ([`Monitors::changed`]), and, once each 10-minute bucket has
//! closed, its checks written with their rollups (with the retention of checks, rollups and events)
//! and the uptime tallies brought up to date. At a stop the open buckets are written too. The API and the other readers hold the
//! same [`Monitors`] handle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::runner::Runner;
use super::schedule::{self, Plan};
use super::uptime::{BUCKET_MS, bucket_of};
use crate::model::clock::Clock;

/// The monitors' shared handle: the runner (states, checks), the change signal and the bounds.
pub struct Monitors {
    pub runner: Arc<Runner>,
    /// Notified after a definition, a pause or a window changed: the schedule is planned again.
    pub changed: Notify,
    /// Monitors one host may define at most (`monitors.max`).
    pub max: usize,
    /// Checks in flight at most (`monitors.in_flight`).
    pub in_flight: usize,
    /// Whether the loop runs (`monitors.enabled`).
    pub enabled: bool,
    /// Monitors being checked on demand (one at a time each).
    running: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// A suggestion scan in progress (one at a time).
    scanning: std::sync::atomic::AtomicBool,
}

/// A check on demand in progress; ends when dropped.
pub struct RunSlot<'a> {
    m: &'a Monitors,
    id: i64,
}

impl Drop for RunSlot<'_> {
    fn drop(&mut self) {
        self.m.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

/// A scan in progress; ends when dropped.
pub struct ScanSlot<'a>(&'a Monitors);

impl Drop for ScanSlot<'_> {
    fn drop(&mut self) {
        self.0.scanning.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Monitors {
    pub fn new(runner: Runner, cfg: &crate::config::MonitorsCfg) -> Arc<Monitors> {
        Arc::new(Monitors {
            runner: Arc::new(runner),
            changed: Notify::new(),
            max: cfg.max,
            in_flight: cfg.in_flight,
            enabled: cfg.enabled,
            running: Default::default(),
            scanning: Default::default(),
        })
    }

    /// The right to check monitor `id` on demand now; `None` while another such check of it runs.
    pub fn run_now_slot(&self, id: i64) -> Option<RunSlot<'_>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.insert(id).then_some(RunSlot { m: self, id })
    }

    /// The right to scan a guest for web services now; `None` while another scan runs.
    pub fn scan_slot(&self) -> Option<ScanSlot<'_>> {
        use std::sync::atomic::Ordering;
        (!self.scanning.swap(true, Ordering::AcqRel)).then_some(ScanSlot(self))
    }
}

/// A check's result comes at most this long after its bucket closed (the longest timeout, 60 s, and
/// a margin): a bucket is written then.
pub const WRITE_DELAY_MS: i64 = 65_000;

/// Writes the buckets closed by `now` (with the retention) and brings the uptime tallies up to them.
/// Returns the rows written.
pub async fn roll_up(m: &Monitors, now: i64) -> anyhow::Result<usize> {
    let upto = bucket_of(now - WRITE_DELAY_MS);
    let n = m.runner.persist(now, Some(upto)).await?;
    m.runner.tally_upto(upto).await?;
    // The writes and the tally (at start: every stored bucket) went through SQLite's page cache;
    // hand it back until the next bucket (the allocator's trim returns it to the system).
    m.runner.db.call(|c| Ok(c.execute_batch("PRAGMA shrink_memory")?)).await?;
    Ok(n)
}

/// Runs the schedule until `cancel`: planned from the stored definitions, planned again after each
/// change; rolls up every 10 minutes (just after each bucket closes).
pub async fn run(m: Arc<Monitors>, clock: Clock, cancel: CancellationToken) {
    // A bucket is written once its last check's result is in.
    let next_rollup = |now: i64| bucket_of(now - WRITE_DELAY_MS) + BUCKET_MS + WRITE_DELAY_MS;
    let mut rollup_at = clock.now_ms();
    loop {
        let planned = match m.runner.reload().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "monitors: reading the definitions failed");
                Vec::new()
            }
        };
        let now = clock.now_ms();
        let mut plan = Plan::default();
        for (id, interval_s) in planned {
            plan.add(id, interval_s as i64 * 1000, now);
        }
        let round = cancel.child_token();
        let runner = m.runner.clone();
        let check_clock = clock.clone();
        let sched = schedule::run(
            plan,
            m.in_flight,
            || clock.now_ms(),
            move |id| {
                let runner = runner.clone();
                let now = check_clock.now_ms();
                async move {
                    if let Err(e) = runner.check(id, now).await {
                        tracing::error!(monitor = id, error = %format!("{e:#}"), "monitor check failed");
                    }
                }
            },
            round.clone(),
        );
        tokio::pin!(sched);
        loop {
            let until_rollup = Duration::from_millis((rollup_at - clock.now_ms()).max(0) as u64);
            tokio::select! {
                _ = &mut sched => break,
                _ = m.changed.notified() => round.cancel(),
                _ = tokio::time::sleep(until_rollup) => {
                    let now = clock.now_ms();
                    if let Err(e) = roll_up(&m, now).await {
                        tracing::error!(error = %format!("{e:#}"), "monitors: writing the checks failed");
                    }
                    rollup_at = next_rollup(now);
                }
            }
        }
        if cancel.is_cancelled() {
            // The open buckets' checks, so that a restart loses none (the next write merges them).
            if let Err(e) = m.runner.persist(clock.now_ms(), None).await {
                tracing::error!(error = %format!("{e:#}"), "monitors: writing the checks at stop failed");
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::host::Host;
    use crate::model::monitor::{MonitorSpec, Target};
    use crate::monitors::runner::Runner;
    use crate::monitors::store;
    use tokio::sync::watch;

    #[tokio::test]
    async fn closed_buckets_are_written_together_once_and_tallied() {
        let db = Db::open_in_memory().unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let spec = |name: &str| MonitorSpec {
            name: name.into(),
            target: Target::Tcp { host: "127.0.0.1".into(), port },
            interval_s: 60,
            timeout_ms: 2000,
            retries: 0,
            degraded_ms: None,
            vmid: None,
        };
        let (a, b) = (spec("a"), spec("b"));
        let ids = db.call(move |c| Ok((store::create(c, &a, 0)?, store::create(c, &b, 0)?))).await.unwrap();
        let t0 = 100 * BUCKET_MS;
        let clock = Clock::manual(t0);
        let (_tx, inv) = watch::channel(std::sync::Arc::default());
        let host = std::sync::Arc::new(Host::system(std::time::Duration::from_secs(2)));
        let runner = Runner::new(host, db.clone(), inv, Default::default(), jiff::tz::TimeZone::UTC)
            .with_clock(clock.clone());
        let m = Monitors::new(runner, &crate::config::MonitorsCfg::default());
        m.runner.reload().await.unwrap();
        // Ten checks each in the first bucket, one in the second.
        for k in 0..10 {
            m.runner.check(ids.0, t0 + k * 60_000).await.unwrap();
            m.runner.check(ids.1, t0 + k * 60_000 + 1).await.unwrap();
        }
        m.runner.check(ids.0, t0 + BUCKET_MS + 1000).await.unwrap();
        let rows = || {
            db.call(|c| Ok(c.query_row("SELECT COUNT(*) FROM monitor_buckets", [], |r| r.get::<_, i64>(0))?))
        };
        assert_eq!(rows().await.unwrap(), 0, "nothing is written per check");
        // Before the write delay has passed, the first bucket is not written yet.
        assert_eq!(roll_up(&m, t0 + BUCKET_MS + 30_000).await.unwrap(), 0);
        assert_eq!(roll_up(&m, t0 + BUCKET_MS + WRITE_DELAY_MS).await.unwrap(), 2);
        assert_eq!(rows().await.unwrap(), 2);
        assert_eq!(m.runner.uptime(ids.0)[0], (10, 10));
        assert_eq!(roll_up(&m, t0 + BUCKET_MS + WRITE_DELAY_MS + 1000).await.unwrap(), 0, "once");
        // The checks read back the same, from the database and from memory.
        clock.set(t0 + BUCKET_MS + WRITE_DELAY_MS + 1000);
        let all = m.runner.results(ids.0, None, 100).await.unwrap();
        assert_eq!(all.len(), 11);
        assert!(all.iter().all(|c| c.status == "up"), "{all:?}");
        // At a stop the open bucket is written too; a restart's runner reads the beats back.
        assert_eq!(m.runner.persist(t0 + BUCKET_MS + 90_000, None).await.unwrap(), 1);
        let (_tx, inv) = watch::channel(std::sync::Arc::default());
        let host = std::sync::Arc::new(Host::system(std::time::Duration::from_secs(2)));
        let again = Runner::new(host, db.clone(), inv, Default::default(), jiff::tz::TimeZone::UTC)
            .with_clock(Clock::manual(t0 + BUCKET_MS + 120_000));
        again.reload().await.unwrap();
        assert_eq!(again.beats(ids.0).len(), 11);
        drop(l);
    }
}
