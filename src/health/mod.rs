//! The health monitor (issue 6): ten categories of pure rules (`rules/`, over [`model::Snapshots`]),
//! the cycle that runs them ([`cycle::Engine`]), persistence of findings and the events outbox
//! ([`store`]), and the in-process bus ([`Bus`]) the API and the notification engine use.
//!
//! Findings persist by key with `first_seen`, `last_seen`, occurrences and a state (active |
//! dismissed | resolved); every change is an event in the durable `health_events` outbox (contract:
//! `docs/health-events.md`) and on [`Bus::events`].

pub mod cycle;
pub mod facts;
pub mod model;
pub mod rules;
pub mod store;
pub mod thresholds;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, broadcast, watch};

use crate::app::App;
use model::{Category, Finding, Thresholds};
use store::{Event, Exclusions, Record};

/// One check of a category, as the rules declare it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDef {
    pub category: Category,
    pub id: &'static str,
    pub label: &'static str,
    pub rule: &'static str,
}

/// The latest evaluation, served by `GET /api/health`.
#[derive(Debug, Clone, Default)]
pub struct HealthSnapshot {
    /// The last evaluation (full or fast), unix ms; None before the first.
    pub evaluated_at: Option<i64>,
    /// The last full cycle, unix ms.
    pub full_at: Option<i64>,
    /// Every check of every rule, in category order.
    pub checks: Arc<Vec<CheckDef>>,
    /// The latest verdicts by check (ok ones included), objects excluded from health left out.
    pub results: BTreeMap<String, Vec<Finding>>,
    /// The open (active or dismissed) findings as persisted, by key.
    pub records: BTreeMap<String, Record>,
}

/// Manual runs (`POST /api/health/run`) are refused more often than this.
pub const MANUAL_RUN_EVERY: Duration = Duration::from_secs(10);

/// The health monitor's shared handles (in `App::health_bus`).
pub struct Bus {
    /// Every event, as it is written to the outbox. Lagging receivers lose events here, never in the
    /// outbox table, which is the durable copy.
    pub events: broadcast::Sender<Arc<Event>>,
    /// The effective thresholds (re-read each full cycle; `PUT /api/health/thresholds` updates it).
    pub thresholds: watch::Sender<Arc<Thresholds>>,
    pub exclusions: watch::Sender<Arc<Exclusions>>,
    /// Facts for the rules, published by the facts collector.
    pub facts: watch::Sender<Arc<facts::Facts>>,
    /// Asks the cycle for a full run now.
    pub run_now: Notify,
    last_manual: Mutex<Option<Instant>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            events: broadcast::Sender::new(256),
            thresholds: watch::Sender::new(Arc::default()),
            exclusions: watch::Sender::new(Arc::default()),
            facts: watch::Sender::new(Arc::default()),
            run_now: Notify::new(),
            last_manual: Mutex::new(None),
        }
    }
}

impl Bus {
    /// Requests a full run unless one was requested less than [`MANUAL_RUN_EVERY`] ago; `Err` holds
    /// the seconds to wait.
    pub fn request_run(&self, now: Instant) -> Result<(), u64> {
        let mut last = self.last_manual.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(prev) = *last {
            let since = now.saturating_duration_since(prev);
            if since < MANUAL_RUN_EVERY {
                return Err((MANUAL_RUN_EVERY - since).as_secs().max(1));
            }
        }
        *last = Some(now);
        self.run_now.notify_one();
        Ok(())
    }
}

/// The health cycle loop (spawned by `workers::spawn_all`): a full cycle shortly after start and
/// then every `health.interval_s` or on request, fast rules on every fresh vitals sample.
pub async fn run(app: Arc<App>) {
    let cfg = &app.config.health;
    let mut engine = cycle::Engine::new(rules::RULES, crate::workers::wall_ms(), cfg.startup_grace_s);
    let period = Duration::from_secs(cfg.interval_s.max(10));
    // Let the other workers publish their first snapshots before the first full cycle.
    let first = tokio::time::Instant::now() + Duration::from_secs(10).min(period);
    let mut tick = tokio::time::interval_at(first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut vitals = app.vitals.subscribe();
    let mut vitals_open = true;
    loop {
        let full = tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => true,
            _ = app.health_bus.run_now.notified() => true,
            r = vitals.changed(), if vitals_open => {
                if r.is_err() {
                    vitals_open = false;
                    continue;
                }
                let Some(sample) = vitals.borrow_and_update().clone() else { continue };
                engine.observe(sample);
                false
            }
        };
        if full {
            tick.reset();
        }
        let now = crate::workers::wall_ms();
        let result = if full { engine.step_full(&app, now).await } else { engine.step_fast(&app, now).await };
        if let Err(e) = result {
            tracing::error!(error = %format!("{e:#}"), full, "health evaluation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_runs_are_rate_limited() {
        let bus = Bus::default();
        let t = Instant::now();
        assert!(bus.request_run(t).is_ok());
        let wait = bus.request_run(t + Duration::from_secs(3)).unwrap_err();
        assert_eq!(wait, 7);
        assert!(bus.request_run(t + MANUAL_RUN_EVERY).is_ok());
    }
}
