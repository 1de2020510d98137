//! Background loops. Each is a plain struct with a `step()` that tests call directly, wrapped here in
//! a `run` loop that production spawns on the app's `TaskTracker` and that stops on the cancellation
//! token (DESIGN.md §3.7). A failed step is logged with context and the loop goes on.

pub mod actions;
pub mod gpu;
pub mod hardware;
pub mod inventory;
pub mod journal;
pub mod network;
pub mod processes;
pub mod sampler;
pub mod ups;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::time::MissedTickBehavior;

use crate::app::{App, LiveSample};
use crate::history;

/// Wall-clock milliseconds now.
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
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

fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Spawns a background loop on the app's tracker. Release builds unwind (so that one panicking
/// health rule is isolated, not fatal); a loop that panics would then end silently and leave its data
/// frozen. Instead the panic is logged and the whole appliance stops with an error, so that systemd
/// (`Restart=on-failure`) starts it afresh, as it did when panics aborted.
pub fn spawn_loop(app: &Arc<App>, name: &'static str, fut: impl Future<Output = ()> + Send + 'static) {
    use futures_util::FutureExt;
    let owner = app.clone();
    app.tracker.spawn(async move {
        if let Err(payload) = std::panic::AssertUnwindSafe(fut).catch_unwind().await {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            tracing::error!(worker = name, error = %msg, "a background loop panicked; proxwatch stops so that it is restarted");
            let _ = owner.loop_failed.set(format!("{name}: {msg}"));
            owner.cancel.cancel();
        }
    });
}

/// Spawns every worker on the app's tracker (the health cycle, a floor above, is spawned by `app`).
pub fn spawn_all(app: &Arc<App>) {
    spawn_loop(app, "sampler", run_sampler(app.clone()));
    spawn_loop(app, "processes", run_processes(app.clone()));
    spawn_loop(app, "identity", run_identity(app.clone()));
    spawn_loop(app, "history flush", run_history_flush(app.clone()));
    spawn_loop(app, "retention", run_retention(app.clone()));
    spawn_loop(app, "auth sync", run_auth_sync(app.clone()));
    spawn_loop(
        app,
        "fail2ban",
        app.bans.clone().run(
            Duration::from_secs(app.config.auth.fail2ban_interval_s),
            app.auth.audit.failure_counter(),
            app.cancel.clone(),
        ),
    );
    spawn_loop(app, "inventory", run_inventory(app.clone()));
    spawn_loop(app, "network", network::run(app.clone()));
    spawn_loop(app, "hardware", hardware::run(app.clone()));
    spawn_loop(app, "ups", ups::run(app.clone()));
    spawn_loop(app, "gpu", gpu::run(app.clone()));
    spawn_services(app);
}

/// Starts the services request handlers hand work to (the action runner, the journal reader): the
/// only workers an API test needs. Each starts once, however often this is called.
pub fn spawn_services(app: &Arc<App>) {
    spawn_actions(app);
    spawn_loop(app, "journal", journal::run(app.clone()));
}

/// Starts the action runner (once; tests that drive the API without the other workers call it too).
pub fn spawn_actions(app: &Arc<App>) {
    let queue = app.action_queue.lock().ok().and_then(|mut q| q.take());
    if let Some(queue) = queue {
        spawn_loop(app, "actions", actions::run(app.host.clone(), queue, app.cancel.clone()));
    }
}

/// The inventory poller's loop: each source decides in `step()` whether it is due; the snapshot is
/// republished when something ran.
async fn run_inventory(app: Arc<App>) {
    let node = app.inventory.borrow().node.clone();
    let mut poller = inventory::InventoryPoller::new(node, inventory::Intervals::default());
    let mut tick = ticker(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = wall_ms();
        let mut changed = poller.step(&app.host, now).await;
        match poller.wear_step(&app.db, now).await {
            Ok(c) => changed |= c,
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot record disk wear"),
        }
        if changed {
            app.inventory.send_replace(Arc::new(poller.state.clone()));
        }
    }
}

/// Picks up changes another process made to the database (the `proxwatch user` command recovering
/// a locked-out host): SQLite's `data_version` changes only on other connections' commits, so this
/// costs one pragma every few seconds and a reload only when something really changed.
async fn run_auth_sync(app: Arc<App>) {
    let mut tick = ticker(Duration::from_secs(3));
    let mut sync = AuthSync::default();
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = sync.step(&app).await {
            tracing::error!(error = %format!("{e:#}"), "cannot sync users from the database");
        }
        // Bursts of repeated failures whose minute is over get their summary line.
        app.auth.audit.close_bursts(app.auth.db(), false).await;
    }
    // A stop writes the counts of the bursts still open.
    app.auth.audit.close_bursts(app.auth.db(), true).await;
}

#[derive(Default)]
pub struct AuthSync {
    seen: Option<i64>,
}

impl AuthSync {
    /// Reloads users, sessions and tokens if another connection committed since the last step.
    /// Returns whether it reloaded.
    pub async fn step(&mut self, app: &App) -> anyhow::Result<bool> {
        let v = app.db.call(|c| Ok(c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))?)).await?;
        let changed = self.seen.is_some_and(|s| s != v);
        self.seen = Some(v);
        if changed {
            app.auth.reload().await?;
            tracing::info!("users, sessions and tokens reloaded after an outside change");
        }
        Ok(changed)
    }
}

async fn run_sampler(app: Arc<App>) {
    let mut sampler = sampler::Sampler::new();
    let mut clock = SteadyClock::new();
    let mut tick = ticker(Duration::from_millis(app.config.sampler.interval_ms));
    let mut failing = false;
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        match sampler.step(&app.host, clock.now_ms()) {
            Ok(Some(sample)) => {
                failing = false;
                app.history.record(&sample);
                match LiveSample::new(sample) {
                    Ok(live) => {
                        app.vitals.send_replace(Some(Arc::new(live)));
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

async fn run_processes(app: Arc<App>) {
    let mut scanner = processes::ProcessScanner::new();
    let cfg = &app.config.sampler;
    let mut tick = ticker(Duration::from_secs(cfg.processes_interval_s.max(1)));
    let mut first = true;
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
            _ = app.process_wakeup.notified() => {}
        }
        let now = wall_ms();
        let wanted =
            now - app.process_demand_ms.load(Ordering::Relaxed) < cfg.processes_demand_s as i64 * 1000;
        // Scan twice at start (CPU % needs two scans) and then only while someone is looking.
        if !(first || wanted) {
            continue;
        }
        let host = app.host.clone();
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
                first = app.processes.borrow().sampled_at == 0;
                app.processes.send_replace(Arc::new(snap));
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "process scan failed"),
        }
    }
}

async fn run_identity(app: Arc<App>) {
    let mut tick = ticker(Duration::from_secs(app.config.sampler.identity_refresh_s.max(60)));
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        match sampler::identity(&app.host).await {
            Ok(id) => {
                app.identity.send_replace(Some(Arc::new(id)));
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot read the host identity"),
        }
    }
}

/// Writes closed history buckets once per flush interval; at shutdown also the open ones.
pub async fn flush_history(app: &App, partial: bool) {
    let series = app.series.clone();
    match app.db.call(move |c| series.flush(c, partial)).await {
        Ok(n) if n > 0 => tracing::debug!(rows = n, "series flushed"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %format!("{e:#}"), "series flush failed; will retry"),
    }
    let rows = app.history.take_pending(partial);
    if rows.is_empty() {
        return;
    }
    let n = rows.len();
    let history = app.history.clone();
    let result = app
        .db
        .call(move |c| match history::write_rows(c, &rows) {
            Ok(()) => Ok(()),
            Err(e) => {
                history.restore_pending(rows);
                Err(e)
            }
        })
        .await;
    match result {
        Ok(()) => tracing::debug!(rows = n, "history flushed"),
        Err(e) => tracing::error!(error = %format!("{e:#}"), rows = n, "history flush failed; will retry"),
    }
}

async fn run_history_flush(app: Arc<App>) {
    let period = Duration::from_secs(app.config.history.flush_interval_s);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => flush_history(&app, false).await,
        }
    }
    flush_history(&app, true).await;
}

async fn run_retention(app: Arc<App>) {
    let cfg = &app.config.history;
    let days = [cfg.retain_1m_days, cfg.retain_10m_days, cfg.retain_1h_days];
    let mut tick = ticker(Duration::from_secs(cfg.retention_interval_s));
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now_s = wall_ms() / 1000;
        match app.db.call(move |c| history::apply_retention(c, now_s, days)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "old history deleted"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "history retention failed"),
        }
    }
}
