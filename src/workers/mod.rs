//! Background loops. Each is a plain struct with a `step()` that tests call directly, wrapped here in
//! a `run` loop that production spawns on the app's `TaskTracker` and that stops on the cancellation
//! token (DESIGN.md §3.7). A failed step is logged with context and the loop goes on.

pub mod actions;
pub mod clusterfs;
pub mod gpu;
pub mod hardware;
pub mod inventory;
pub mod journal;
pub mod network;
pub mod processes;
pub mod pve;
pub mod sampler;
pub mod ups;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::db::Db;
use crate::history::{self, History};
use crate::host::{Host, ToolError};
use crate::model::section::Section;
use crate::model::{Clock, Identity, LiveSample, ProcessSnapshot};
use crate::series::Series;

/// Wall-clock milliseconds now.
pub fn wall_ms() -> i64 {
    Clock::system().now_ms()
}

/// A wall clock that advances with the monotonic clock, so rates are not distorted when NTP steps the
/// system time; it re-anchors when the two drift more than a second apart.
struct SteadyClock {
    anchor_wall: i64,
    anchor: Instant,
}

impl SteadyClock {
    fn new() -> Self {
        SteadyClock { anchor_wall: wall_ms(), anchor: Instant::now() }
    }
    fn now_ms(&mut self) -> i64 {
        let steady = self.anchor_wall + self.anchor.elapsed().as_millis() as i64;
        let wall = wall_ms();
        if (wall - steady).abs() > 1000 {
            *self = SteadyClock::new();
            return wall;
        }
        steady
    }
}

/// The one fold of a tool's result into a section: a good result is the new data; a missing tool or
/// file makes the section unavailable (`missing` words why, given what is missing); any other failure
/// keeps the last good data and is logged once when it starts.
pub fn fold<T>(
    sec: &mut Section<T>,
    what: &str,
    result: Result<T, ToolError>,
    now_s: i64,
    missing: impl FnOnce(&str) -> String,
) {
    match result {
        Ok(v) => sec.ok(v, now_s),
        Err(e) => fold_err(sec, what, e, missing),
    }
}

/// [`fold`]'s failure half: unavailable when the tool or file is missing, else the last good data
/// kept (stale) and the failure logged once when it starts.
pub fn fold_err<T>(sec: &mut Section<T>, what: &str, e: ToolError, missing: impl FnOnce(&str) -> String) {
    match e {
        ToolError::Missing { what: tool } => sec.unavailable(missing(&tool)),
        e => {
            if sec.failed(e.to_string()) {
                tracing::warn!(source = what, error = %e, "source failed; keeping the last good data");
            }
        }
    }
}

/// Why a missing tool or file leaves a section empty.
pub fn missing_reason(what: &str) -> String {
    if what.starts_with('/') {
        format!("{what} does not exist on this host")
    } else {
        format!("{what} is not installed")
    }
}

/// Where background loops run: the tracker that graceful shutdown waits for, the token that stops
/// them, the slot that records the first loop that panicked, and the clock they read. Cheap to
/// clone; one per process.
#[derive(Clone, Default)]
pub struct Loops {
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
    pub failed: Arc<OnceLock<String>>,
    pub clock: Clock,
}

impl Loops {
    /// Spawns a background loop. Release builds unwind (so that one panicking health rule is
    /// isolated, not fatal); a loop that panics would then end silently and leave its data frozen.
    /// Instead the panic is logged and the whole appliance stops with an error, so that systemd
    /// (`Restart=on-failure`) starts it afresh, as it did when panics aborted.
    pub fn spawn(&self, name: &'static str, fut: impl Future<Output = ()> + Send + 'static) {
        use futures_util::FutureExt;
        let (failed, cancel) = (self.failed.clone(), self.cancel.clone());
        self.tracker.spawn(async move {
            if let Err(payload) = std::panic::AssertUnwindSafe(fut).catch_unwind().await {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                tracing::error!(worker = name, error = %msg, "a background loop panicked; proxwatch stops so that it is restarted");
                let _ = failed.set(format!("{name}: {msg}"));
                cancel.cancel();
            }
        });
    }

    /// A periodic tick that ends when the loops are cancelled (see [`Periodic`]).
    pub fn every(&self, period: Duration) -> Periodic {
        Periodic::new(period, self.cancel.clone()).with_clock(self.clock.clone())
    }
}

/// The tick of a background loop: `while tick.next().await { … }` runs the body once at once, then
/// once per period (a late tick delays the next instead of bursting), and ends when the token is
/// cancelled. One shape for every loop instead of a hand-written `select!` in each.
pub struct Periodic {
    tick: tokio::time::Interval,
    cancel: CancellationToken,
    clock: Clock,
}

impl Periodic {
    pub fn new(period: Duration, cancel: CancellationToken) -> Periodic {
        Periodic::starting(tokio::time::Instant::now(), period, cancel)
    }

    /// The first tick at `start` instead of at once.
    pub fn starting(start: tokio::time::Instant, period: Duration, cancel: CancellationToken) -> Periodic {
        let mut tick = tokio::time::interval_at(start, period.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Periodic { tick, cancel, clock: Clock::system() }
    }

    /// Reads `clock` for [`Periodic::now_ms`].
    pub fn with_clock(mut self, clock: Clock) -> Periodic {
        self.clock = clock;
        self
    }

    /// The loop's wall clock, unix ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Waits for the next tick; `false` once cancelled.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = self.tick.tick() => true,
        }
    }

    /// Waits for the next tick or for `wake`, whichever comes first; `false` once cancelled.
    pub async fn next_or(&mut self, wake: &Notify) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = self.tick.tick() => true,
            _ = wake.notified() => true,
        }
    }

    /// Sleeps `d` unless cancelled first; `false` once cancelled.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }

    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// The inventory poller's loop: each source decides in `step()` whether it is due; the snapshot is
/// republished when something ran.
pub async fn run_inventory(
    host: Arc<Host>,
    db: Db,
    out: watch::Sender<Arc<inventory::Inventory>>,
    pve: crate::host::pveapi::PveLink,
    mut tick: Periodic,
) {
    let node = out.borrow().node.clone();
    let mut poller = inventory::InventoryPoller::new(node, inventory::Intervals::default()).with_pve(pve);
    while tick.next().await {
        let now = tick.now_ms();
        let mut changed = poller.step(&host, now).await;
        match poller.wear_step(&db, now).await {
            Ok(c) => changed |= c,
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot record disk wear"),
        }
        if changed {
            out.send_replace(Arc::new(poller.state.clone()));
        }
    }
}

/// The vitals sampler's loop: one sample per tick into the live history and the vitals feed.
pub async fn run_sampler(
    host: Arc<Host>,
    history: Arc<History>,
    out: watch::Sender<Option<Arc<LiveSample>>>,
    mut tick: Periodic,
) {
    let mut sampler = sampler::Sampler::new();
    let mut clock = SteadyClock::new();
    let mut failing = false;
    while tick.next().await {
        match sampler.step(&host, clock.now_ms()) {
            Ok(Some(sample)) => {
                failing = false;
                history.record(&sample);
                match LiveSample::new(sample) {
                    Ok(live) => {
                        out.send_replace(Some(Arc::new(live)));
                    }
                    Err(e) => tracing::error!(error = %e, "cannot serialise a vitals sample"),
                }
            }
            Ok(None) => {}
            Err(e) if !failing => {
                // Log the first failure of a run of failures, not one line per second.
                failing = true;
                tracing::error!(error = %format!("{e:#}"), "vitals sampling failed");
            }
            Err(_) => {}
        }
    }
}

/// Who wants processes, and when they last asked: the scanner runs only while someone looks.
#[derive(Debug, Default)]
pub struct ProcessDemand {
    /// When the API last asked for processes (unix ms).
    last_ms: AtomicI64,
    wakeup: Notify,
}

impl ProcessDemand {
    /// Records a request at `now`; wakes the scanner when nobody had asked for `idle_ms`.
    pub fn ask(&self, now: i64, idle_ms: i64) {
        let before = self.last_ms.swap(now, Ordering::Relaxed);
        if now - before > idle_ms {
            // Nobody was looking: the scanner is idle, wake it so the next call has fresh numbers.
            self.wakeup.notify_one();
        }
    }

    fn wanted(&self, now: i64, window_ms: i64) -> bool {
        now - self.last_ms.load(Ordering::Relaxed) < window_ms
    }
}

/// The process scanner's loop: two scans at start (CPU % needs two), then only on demand.
pub async fn run_processes(
    host: Arc<Host>,
    demand: Arc<ProcessDemand>,
    out: watch::Sender<Arc<ProcessSnapshot>>,
    demand_s: u64,
    mut tick: Periodic,
) {
    let mut scanner = processes::ProcessScanner::new();
    let mut first = true;
    while tick.next_or(&demand.wakeup).await {
        let now = tick.now_ms();
        // Scan twice at start (CPU % needs two scans) and then only while someone is looking.
        if !(first || demand.wanted(now, demand_s as i64 * 1000)) {
            continue;
        }
        let host = host.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = scanner.step(&host, now);
            (scanner, r)
        })
        .await;
        let Ok((back, result)) = result else {
            tracing::error!("process scan panicked");
            return;
        };
        scanner = back;
        match result {
            Ok(snap) => {
                first = out.borrow().sampled_at == 0;
                out.send_replace(Arc::new(snap));
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "process scan failed"),
        }
    }
}

/// Re-reads the host identity (hostname, kernel, PVE version) now and then.
pub async fn run_identity(host: Arc<Host>, out: watch::Sender<Option<Arc<Identity>>>, mut tick: Periodic) {
    while tick.next().await {
        match sampler::identity(&host).await {
            Ok(id) => {
                out.send_replace(Some(Arc::new(id)));
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot read the host identity"),
        }
    }
}

/// Writes closed history buckets once per flush interval; at shutdown also the open ones.
pub async fn flush_history(db: &Db, history: &Arc<History>, series: &Arc<Series>, partial: bool) {
    let s = series.clone();
    match db.call(move |c| s.flush(c, partial)).await {
        Ok(n) if n > 0 => tracing::debug!(rows = n, "series flushed"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %format!("{e:#}"), "series flush failed; will retry"),
    }
    let rows = history.take_pending(partial);
    if rows.is_empty() {
        return;
    }
    let n = rows.len();
    let h = history.clone();
    let result = db
        .call(move |c| match history::write_rows(c, &rows) {
            Ok(()) => Ok(()),
            Err(e) => {
                h.restore_pending(rows);
                Err(e)
            }
        })
        .await;
    match result {
        Ok(()) => tracing::debug!(rows = n, "history flushed"),
        Err(e) => tracing::error!(error = %format!("{e:#}"), rows = n, "history flush failed; will retry"),
    }
}

/// Flushes history every `period` (the first flush one period after start) and once more at stop.
pub fn run_history_flush(
    db: Db,
    history: Arc<History>,
    series: Arc<Series>,
    period: Duration,
    loops: &Loops,
) -> impl Future<Output = ()> + Send + 'static {
    let mut tick = Periodic::starting(tokio::time::Instant::now() + period, period, loops.cancel.clone());
    async move {
        while tick.next().await {
            flush_history(&db, &history, &series, false).await;
        }
        flush_history(&db, &history, &series, true).await;
    }
}

/// Deletes history rollups past their retention (1-minute, 10-minute and 1-hour days).
pub async fn run_retention(db: Db, days: [u64; 3], mut tick: Periodic) {
    while tick.next().await {
        let now_s = tick.now_ms() / 1000;
        match db.call(move |c| history::apply_retention(c, now_s, days)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "old history deleted"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "history retention failed"),
        }
    }
}
