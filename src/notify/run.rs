//! The engine's loops in production: one intake loop (sources, summaries, retention; it wakes on a
//! health event, a settings change, the next due time, or once a minute for the
//! polled sources) and one delivery worker per channel (it sleeps until its queue has something due).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::engine::{Engine, Step};
use super::store;
use crate::model::inventory::Inventory;
use crate::workers::Loops;

/// The polled sources' cadence and the idle engine's only wake-up.
pub const POLL: Duration = Duration::from_secs(60);
/// Retention runs at most this often.
const HOUSEKEEPING: Duration = Duration::from_secs(3600);

/// What the engine reads: narrow handles, not the app.
pub struct Inputs {
    /// Wake-ups from the health outbox (the table is the durable copy).
    pub health: broadcast::Receiver<Arc<crate::health::store::Event>>,
    pub inventory: watch::Receiver<Arc<Inventory>>,
    /// Journal hits from the health cycle's journal scan (lossy hints: a lagged receiver loses some).
    pub log_hits: broadcast::Receiver<Arc<crate::health::facts::logscan::LogHit>>,
    /// The newest `monitor_events` id: a wake-up when the monitors wrote one (the table is the
    /// durable copy, read each pass).
    pub monitor_events: watch::Receiver<i64>,
}

/// Runs the intake loop and the channel workers until cancelled.
pub async fn run(engine: Arc<Engine>, mut inputs: Inputs, loops: Loops) {
    let mut workers: HashMap<i64, CancellationToken> = HashMap::new();
    let mut last_poll: Option<tokio::time::Instant> = None;
    let cancel = loops.cancel.clone();
    let (mut hits_open, mut health_open, mut monitors_open) = (true, true, true);
    let mut early_hit: Option<Arc<crate::health::facts::logscan::LogHit>> = None;
    match engine.on_start().await {
        Ok(n) if n > 0 => tracing::info!(events = n, "lifecycle notifications queued"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %format!("{e:#}"), "lifecycle notifications failed"),
    }
    loop {
        engine.passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let node = inputs.inventory.borrow().node.clone();
        if !node.is_empty() {
            engine.set_hostname(&node);
        }
        // Channels added or removed since the last pass.
        match engine.db.call(|c| Ok(store::channel_ids(c)?)).await {
            Ok(ids) => {
                workers.retain(|id, token| {
                    let keep = ids.contains(id);
                    if !keep {
                        token.cancel();
                    }
                    keep
                });
                for id in ids {
                    workers.entry(id).or_insert_with(|| {
                        let token = cancel.child_token();
                        loops.spawn("notify channel", worker(engine.clone(), id, token.clone()));
                        token
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "notification channels unreadable"),
        }
        if let Err(e) = engine.take_health().await {
            tracing::error!(error = %format!("{e:#}"), "taking health events failed");
        }
        inputs.monitor_events.mark_unchanged();
        let inv = inputs.inventory.borrow().clone();
        if let Err(e) = engine.take_monitors(&inv).await {
            tracing::error!(error = %format!("{e:#}"), "taking monitor events failed");
        }
        let mut hits: Vec<_> = early_hit.take().into_iter().collect();
        loop {
            match inputs.log_hits.try_recv() {
                Ok(h) => hits.push(h),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::warn!(lost = n, "journal hints lost (the engine was busy)");
                }
                Err(_) => break,
            }
        }
        if !hits.is_empty() {
            let inv = inputs.inventory.borrow().clone();
            let events = hits.iter().filter_map(|h| super::sources::journal::event_in(h, &inv)).collect();
            if let Err(e) = engine.take(events).await {
                tracing::error!(error = %format!("{e:#}"), "taking journal events failed");
            }
        }
        if last_poll.is_none_or(|t| t.elapsed() >= POLL) {
            last_poll = Some(tokio::time::Instant::now());
            let inv = inputs.inventory.borrow().clone();
            if let Err(e) = engine.poll_sources(&inv).await {
                tracing::error!(error = %format!("{e:#}"), "notification sources failed");
            }
        }
        let next = match engine.maintain_every(HOUSEKEEPING).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "notification housekeeping failed");
                None
            }
        };
        let now = engine.clock.now_ms();
        let until_poll = last_poll.map(|t| POLL.saturating_sub(t.elapsed())).unwrap_or(POLL);
        let until_due = next.map(|t| Duration::from_millis((t - now).max(0) as u64 + 50)).unwrap_or(POLL);
        let sleep = until_poll.min(until_due).max(Duration::from_millis(200));
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(sleep) => {}
            _ = engine.wake.notified() => {}
            r = inputs.log_hits.recv(), if hits_open => {
                match r {
                    // Taken on the next pass (with whatever else arrived).
                    Ok(h) => early_hit = Some(h),
                    Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(lost = n, "journal hints lost"),
                    Err(broadcast::error::RecvError::Closed) => hits_open = false,
                }
            }
            r = inputs.monitor_events.changed(), if monitors_open => {
                monitors_open = r.is_ok();
            }
            r = inputs.health.recv(), if health_open => {
                // No more wake-ups from health once closed; the table is still read each pass.
                health_open = !matches!(r, Err(broadcast::error::RecvError::Closed));
            }
        }
    }
    engine.on_clean_stop().await;
}

/// One channel's delivery loop.
async fn worker(engine: Arc<Engine>, id: i64, cancel: CancellationToken) {
    let wake = engine.channel_wake(id);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let wait = match engine.deliver(id).await {
            Ok(Step::Sent { .. } | Step::Expired { .. } | Step::Retry { .. } | Step::Failed { .. }) => {
                continue;
            }
            Ok(Step::Idle | Step::Paused) => None,
            Ok(Step::Wait(at)) => Some(Duration::from_millis((at - engine.clock.now_ms()).max(0) as u64)),
            Err(e) => {
                if e.downcast_ref::<store::StoreError>()
                    .is_some_and(|e| matches!(e, store::StoreError::NotFound(_)))
                {
                    return;
                }
                tracing::error!(channel = id, error = %format!("{e:#}"), "notification delivery step failed");
                Some(Duration::from_secs(30))
            }
        };
        match wait {
            None => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wake.notified() => {}
                }
            }
            Some(d) => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(d) => {}
                }
            }
        }
    }
}
