//! The monitors' loop in production: the schedule over the [`Runner`], planned again whenever a
//! definition or a window changes ([`Monitors::changed`]), and the 10-minute rollups (with the
//! retention of results, rollups and events) on the side. The API and the other readers hold the
//! same [`Monitors`] handle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::runner::Runner;
use super::schedule::{self, Plan};
use super::store;
use super::uptime::BUCKET_MS;
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

/// Rolls up what has closed and drops what is past retention (results 24 h; rollups and events 90 d).
pub async fn roll_up(m: &Monitors, now: i64) -> anyhow::Result<usize> {
    m.runner.db.call(move |c| store::roll_up(c, now)).await
}

/// Runs the schedule until `cancel`: planned from the stored definitions, planned again after each
/// change; rolls up every 10 minutes (just after each bucket closes).
pub async fn run(m: Arc<Monitors>, clock: Clock, cancel: CancellationToken) {
    // The rollups are due a little after each bucket closes (late results of the bucket are in).
    let next_rollup = |now: i64| now - now.rem_euclid(BUCKET_MS) + BUCKET_MS + 5_000;
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
                        tracing::error!(error = %format!("{e:#}"), "monitors: rollup failed");
                    }
                    rollup_at = next_rollup(now);
                }
            }
        }
        if cancel.is_cancelled() {
            return;
        }
    }
}
