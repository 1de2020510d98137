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
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, broadcast, watch};

use tokio_util::sync::CancellationToken;

use crate::config::HealthCfg;
use crate::db::Db;
use crate::model::gpu::GpuSnapshot;
use crate::model::hardware::HardwareSnapshot;
use crate::model::inventory::Inventory;
use crate::model::network::NetworkSnapshot;
use crate::model::ups::UpsSnapshot;
use crate::model::{Clock, Identity, LiveSample};
use model::{Category, Finding, Severity, Thresholds};
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

/// How many active problems of each severity (and how many are dismissed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthCounts"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthCounts"))]
pub struct Counts {
    pub critical: usize,
    pub warning: usize,
    pub unknown: usize,
    pub info: usize,
    pub dismissed: usize,
}

impl Counts {
    /// Counts one non-ok finding: dismissed ones apart.
    pub fn add(&mut self, severity: Severity, active: bool) {
        if !active {
            self.dismissed += 1;
            return;
        }
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::Warning => self.warning += 1,
            Severity::Unknown => self.unknown += 1,
            Severity::Info => self.info += 1,
            Severity::Ok => {}
        }
    }

    /// Active problems: critical, warning and unknown (notices are not problems).
    pub fn problems(&self) -> usize {
        self.critical + self.warning + self.unknown
    }
}

/// The verdict in one line, as the health pill, the Overview and the live stream show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthSummary"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthSummary"))]
pub struct Summary {
    /// The worst active severity, or `pending` before anything is known.
    #[cfg_attr(
        test,
        ts(type = "\"ok\" | \"info\" | \"unknown\" | \"warning\" | \"critical\" | \"pending\"")
    )]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "info", "unknown", "warning", "critical", "pending"])))]
    pub status: &'static str,
    /// "3 active problems: 1 critical, 2 warning", "all 37 checks pass", ...
    pub summary: String,
    pub counts: Counts,
    /// How many checks the rules declare.
    pub checks: usize,
    /// The last evaluation (full or fast), unix ms.
    pub evaluated_at: Option<i64>,
    /// The last full cycle, unix ms.
    pub full_at: Option<i64>,
    /// No cycle has run since proxwatch started: the counts are the findings it persisted before,
    /// as of `restored_at` (unix ms, their newest `last_seen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub restored_at: Option<i64>,
}

impl HealthSnapshot {
    /// Whether a finding (by its persisted record) is active rather than dismissed.
    pub fn active(&self, key: &str) -> bool {
        self.records.get(key).is_none_or(|r| r.state == store::State::Active)
    }

    /// The counts and the one-line verdict. After a full cycle they come from its results; before
    /// the first cycle since a restart, from the findings the database kept (`restored_at`).
    pub fn summary(&self) -> Summary {
        let mut counts = Counts::default();
        let mut worst = Severity::Ok;
        let mut restored_at = None;
        if self.full_at.is_some() {
            for f in self.results.values().flatten().filter(|f| f.severity != Severity::Ok) {
                let active = self.active(&f.key);
                counts.add(f.severity, active);
                if active {
                    worst = worst.max(f.severity);
                }
            }
        } else if !self.records.is_empty() {
            for r in self.records.values().filter(|r| r.severity != Severity::Ok) {
                let active = r.state == store::State::Active;
                counts.add(r.severity, active);
                if active {
                    worst = worst.max(r.severity);
                }
            }
            restored_at = self.records.values().map(|r| r.last_seen).max();
        }
        let known = self.full_at.is_some() || restored_at.is_some();
        let problems = counts.problems();
        let summary = if !known {
            "waiting for the first health cycle".to_string()
        } else if problems == 0 {
            let mut s = format!("all {} checks pass", self.checks.len());
            if restored_at.is_some() {
                s = "no active problem".to_string();
            }
            if counts.info > 0 {
                s += &format!(" ({} notices)", counts.info);
            }
            if counts.dismissed > 0 {
                s += &format!("; {} dismissed", counts.dismissed);
            }
            s
        } else {
            let parts: Vec<String> =
                [(counts.critical, "critical"), (counts.warning, "warning"), (counts.unknown, "unknown")]
                    .into_iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, what)| format!("{n} {what}"))
                    .collect();
            format!(
                "{problems} active {}: {}",
                if problems == 1 { "problem" } else { "problems" },
                parts.join(", ")
            )
        };
        Summary {
            status: if known { worst.as_str() } else { "pending" },
            summary,
            counts,
            checks: self.checks.len(),
            evaluated_at: self.evaluated_at,
            full_at: self.full_at,
            restored_at,
        }
    }
}

/// Manual runs (`POST /api/health/run`) are refused more often than this.
pub const MANUAL_RUN_EVERY: Duration = Duration::from_secs(10);

/// The workers' feeds the health cycle reads (receivers: it never publishes on them).
#[derive(Clone)]
pub struct Feeds {
    pub vitals: watch::Receiver<Option<Arc<LiveSample>>>,
    pub identity: watch::Receiver<Option<Arc<Identity>>>,
    pub inventory: watch::Receiver<Arc<Inventory>>,
    pub network: watch::Receiver<Arc<NetworkSnapshot>>,
    pub hardware: watch::Receiver<Arc<HardwareSnapshot>>,
    pub ups: watch::Receiver<Arc<UpsSnapshot>>,
    pub gpu: watch::Receiver<Arc<GpuSnapshot>>,
    /// The service monitors' states (their down ones are findings of the VMs & CTs category).
    pub monitors: watch::Receiver<crate::model::monitor::MonitorStates>,
    /// The fleet's peers (a stale or blocked one is a finding of the Network category).
    pub fleet: watch::Receiver<crate::model::fleet::Peers>,
    /// The Docker agents (unhealthy or looping containers, stale agents: VMs & CTs).
    pub agents: watch::Receiver<crate::model::docker::Agents>,
}

/// What the health cycle reads and writes: the workers' feeds, the database (findings and the
/// outbox) and the bus (thresholds, exclusions, facts in; events and the published snapshot out).
#[derive(Clone)]
pub struct Io {
    pub feeds: Feeds,
    pub db: Db,
    pub bus: Arc<Bus>,
}

/// The health monitor's shared handles (the API, the cycle and the facts collector share one).
pub struct Bus {
    /// The latest evaluation (`GET /api/health`), published by the cycle and by dismissals.
    pub snapshot: watch::Sender<Arc<HealthSnapshot>>,
    /// Every event, as it is written to the outbox. Lagging receivers lose events here, never in the
    /// outbox table, which is the durable copy.
    pub events: broadcast::Sender<Arc<Event>>,
    /// The effective thresholds (re-read each full cycle; `PUT /api/health/thresholds` updates it).
    pub thresholds: watch::Sender<Arc<Thresholds>>,
    pub exclusions: watch::Sender<Arc<Exclusions>>,
    /// Facts for the rules, published by the facts collector.
    pub facts: watch::Sender<Arc<facts::Facts>>,
    /// New journal hits worth a notification (OOM kills, disk I/O and filesystem errors, PVE daemon
    /// crashes, failed logins), sent by the facts collector as it reads the journal. A hint channel:
    /// lossy (a lagging receiver loses hits) but bounded; the facts keep the exact counts.
    pub log_hits: broadcast::Sender<Arc<facts::logscan::LogHit>>,
    /// Asks the cycle for a full run now.
    pub run_now: Notify,
    /// The open findings as persisted: the one copy the cycle and the operators' dismissals share.
    pub ledger: Arc<Ledger>,
    last_manual: Mutex<Option<Instant>>,
}

/// The open (active or dismissed) findings as the database holds them, shared by the cycle and by
/// dismissals. Each change is applied inside the database call that made it (the connection is one,
/// behind a mutex, so the ledger follows the database's order of writes), and every publish of a
/// [`HealthSnapshot`] reads the ledger under its lock: an older copy can never overwrite a newer
/// dismissal, which is how a dismissed finding came back as active after the next fast run.
#[derive(Debug, Default)]
pub struct Ledger {
    records: Mutex<BTreeMap<String, Record>>,
}

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces every record (after a reconcile, inside its database call).
    pub fn replace(&self, records: BTreeMap<String, Record>) {
        *self.lock() = records;
    }

    /// Applies one changed record (a dismissal or its end), inside its database call.
    pub fn apply(&self, rec: &Record) {
        let mut g = self.lock();
        if rec.state == store::State::Resolved {
            g.remove(&rec.key);
        } else {
            g.insert(rec.key.clone(), rec.clone());
        }
    }

    /// Whether a timed dismissal has run out by `now` (the cycle then writes its expiry at once).
    pub fn any_expired(&self, now: i64) -> bool {
        self.lock().values().any(|r| r.dismissed && r.dismissed_until.is_some_and(|u| u <= now))
    }

    /// Publishes `snap` with the current records, under the ledger's lock.
    pub fn publish(&self, health: &watch::Sender<Arc<HealthSnapshot>>, mut snap: HealthSnapshot) {
        let g = self.lock();
        snap.records = g.clone();
        health.send_replace(Arc::new(snap));
    }

    /// Puts the current records into the published snapshot, under the ledger's lock.
    pub fn republish(&self, health: &watch::Sender<Arc<HealthSnapshot>>) {
        let g = self.lock();
        health.send_modify(|snap| Arc::make_mut(snap).records = g.clone());
    }
}

/// Dismisses the finding `key` until `until` (None: permanently) on behalf of `actor`: written, put
/// in the ledger, published and announced. `Ok(None)` for an unknown key.
pub async fn dismiss(
    db: &Db,
    bus: &Bus,
    key: String,
    until: Option<i64>,
    now: i64,
    actor: String,
) -> anyhow::Result<Option<Record>> {
    let ledger = bus.ledger.clone();
    let out = db
        .call(move |c| {
            let out = store::dismiss(c, &key, until, now, &actor)?;
            if let Some((rec, _)) = &out {
                ledger.apply(rec);
            }
            Ok(out)
        })
        .await?;
    let Some((rec, ev)) = out else { return Ok(None) };
    bus.ledger.republish(&bus.snapshot);
    // Nobody listening is fine: the outbox table is the durable copy.
    let _ = bus.events.send(Arc::new(ev));
    Ok(Some(rec))
}

/// Ends the dismissal of `key`: an ongoing condition is active again. `Ok(None)` for an unknown
/// key; the bool says whether anything changed (a key that was not dismissed is left alone).
pub async fn undismiss(
    db: &Db,
    bus: &Bus,
    key: String,
    now: i64,
    actor: String,
) -> anyhow::Result<Option<(Record, bool)>> {
    let ledger = bus.ledger.clone();
    let out = db
        .call(move |c| {
            let out = store::undismiss(c, &key, now, &actor)?;
            if let Some((rec, Some(_))) = &out {
                ledger.apply(rec);
            }
            Ok(out)
        })
        .await?;
    let Some((rec, ev)) = out else { return Ok(None) };
    let Some(ev) = ev else { return Ok(Some((rec, false))) };
    bus.ledger.republish(&bus.snapshot);
    let _ = bus.events.send(Arc::new(ev));
    Ok(Some((rec, true)))
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            snapshot: watch::Sender::new(Arc::default()),
            events: broadcast::Sender::new(256),
            thresholds: watch::Sender::new(Arc::default()),
            exclusions: watch::Sender::new(Arc::default()),
            facts: watch::Sender::new(Arc::default()),
            log_hits: broadcast::Sender::new(256),
            run_now: Notify::new(),
            ledger: Arc::default(),
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

/// The health cycle loop (spawned by `app::run` after the workers): a full cycle shortly after start and
/// then every `health.interval_s` or on request, fast rules on every fresh vitals sample.
/// The longest the first full cycle waits for the workers' first snapshots.
const FIRST_CYCLE_WAIT: Duration = Duration::from_secs(10);

/// Returns once every feed the rules read holds a first reading (a worker that has gone away counts as
/// done), and the facts collector has collected. Judged by the values, not by a change since
/// subscribing: a worker may publish before this loop subscribes.
async fn first_snapshots(io: &Io) {
    use crate::model::section::SectionState::Pending;
    let f = &io.feeds;
    let _ = f.identity.clone().wait_for(|i| i.is_some()).await;
    let _ = f.inventory.clone().wait_for(|i| i.resources.state != Pending).await;
    let _ = f.network.clone().wait_for(|n| n.interfaces.state != Pending).await;
    let _ = f.hardware.clone().wait_for(|h| h.sensors.state != Pending).await;
    let _ = f.ups.clone().wait_for(|u| u.state != crate::model::ups::State::Pending).await;
    let _ = f.gpu.clone().wait_for(|g| g.state != crate::model::gpu::State::Pending).await;
    let _ = io.bus.facts.subscribe().wait_for(|facts| facts.collected_ms != 0).await;
}

pub async fn run(io: Io, cfg: HealthCfg, clock: Clock, cancel: CancellationToken) {
    let mut engine = cycle::Engine::new(rules::RULES, clock.now_ms(), cfg.startup_grace_s);
    if let Err(e) = engine.restore(&io).await {
        tracing::warn!(error = %format!("{e:#}"), "could not read the persisted health findings");
    }
    let period = Duration::from_secs(cfg.interval_s.max(10));
    // The first full cycle runs as soon as the other workers (and the facts) have published their
    // first snapshots, and 10 s after start at the latest.
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = tokio::time::timeout(FIRST_CYCLE_WAIT.min(period), first_snapshots(&io)) => {}
    }
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut vitals = io.feeds.vitals.clone();
    vitals.mark_unchanged();
    let mut vitals_open = true;
    loop {
        let full = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => true,
            _ = io.bus.run_now.notified() => true,
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
        let now = clock.now_ms();
        let result = if full { engine.step_full(&io, now).await } else { engine.step_fast(&io, now).await };
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
