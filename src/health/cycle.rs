//! The health cycle: assembles [`Snapshots`] from the workers' watch channels, runs the rules with
//! panics isolated, applies the three-cycle rule for `unknown`, persists the outcome through
//! [`store::reconcile`] and publishes a [`HealthSnapshot`]. Time is always a parameter (`now`, unix
//! ms), so tests drive cycles with [`Engine::step_full`] / [`Engine::step_fast`] and no sleeps.
//!
//! Two kinds of evaluation:
//! - a *full* cycle (every `health.interval_s`, and on demand) runs every rule, counts an occurrence
//!   for each open finding and resolves what cleared;
//! - a *fast* evaluation (on every fresh vitals sample) runs only the `fast` rules and touches the
//!   database only when their verdict changed (a new key, a severity change, a clearance) or a
//!   dismissal ran out, so a 1 s sampler does not mean a write per second.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::Io;
use super::model::{Category, Finding, RecentPoint, Rule, Severity, Snapshots, Thresholds};
use super::store::{self, Evaluation, Exclusions, Scope};
use super::{CheckDef, HealthSnapshot};
use crate::model::LiveSample;

/// Recent vitals are kept this long (a true 5-minute window, plus slack for late samples).
pub const RING_MS: i64 = 330_000;
/// And at most this many samples (a 1 s sampler fills 330).
pub const RING_MAX: usize = 400;
/// An unknown verdict is shown only after this many consecutive full cycles of it.
pub const UNKNOWN_AFTER: u32 = 3;
/// Retention runs at most this often.
const RETENTION_EVERY_MS: i64 = 3_600_000;
/// A fast run whose findings changed only in their numbers republishes at most this often.
const REASON_REFRESH_MS: i64 = 5_000;

pub struct Engine {
    rules: Vec<Rule>,
    started_ms: i64,
    grace_ms: i64,
    ring: VecDeque<RecentPoint>,
    /// The latest verdict of each rule (after the unknown rule), by rule id.
    outputs: BTreeMap<&'static str, Vec<Finding>>,
    /// Consecutive full cycles each (rule, key) has come back `unknown`.
    unknown_streak: HashMap<(&'static str, String), u32>,
    /// Rules whose panic was logged (logged once until the rule runs cleanly again).
    panicked: HashSet<&'static str>,
    fast_checks: HashSet<String>,
    last_fast_sig: Vec<(String, Severity)>,
    last_publish_ms: Option<i64>,
    last_full_ms: Option<i64>,
    last_retention_ms: Option<i64>,
    checks: Arc<Vec<CheckDef>>,
}

impl Engine {
    /// `rules` is `rules::RULES` in production; tests pass their own.
    pub fn new(rules: &[Rule], started_ms: i64, grace_s: u64) -> Engine {
        let mut checks = Vec::new();
        for cat in Category::ALL {
            for r in rules.iter().filter(|r| r.category == cat) {
                for (id, label) in r.checks {
                    if !checks.iter().any(|c: &CheckDef| c.id == *id) {
                        checks.push(CheckDef { category: cat, id, label, rule: r.id });
                    }
                }
            }
        }
        let fast_checks = rules
            .iter()
            .filter(|r| r.fast)
            .flat_map(|r| r.checks.iter().map(|(c, _)| c.to_string()))
            .collect();
        Engine {
            rules: rules.to_vec(),
            started_ms,
            grace_ms: grace_s as i64 * 1000,
            ring: VecDeque::new(),
            outputs: BTreeMap::new(),
            unknown_streak: HashMap::new(),
            panicked: HashSet::new(),
            fast_checks,
            last_fast_sig: Vec::new(),
            last_publish_ms: None,
            last_full_ms: None,
            last_retention_ms: None,
            checks: Arc::new(checks),
        }
    }

    /// Adds a vitals sample to the ring (ignores one it already has).
    pub fn observe(&mut self, sample: Arc<LiveSample>) {
        let ts = sample.sample.ts;
        if self.ring.back().is_some_and(|b| b.ts >= ts) {
            return;
        }
        self.ring.push_back(RecentPoint::of(&sample.sample));
        while self.ring.front().is_some_and(|f| f.ts < ts - RING_MS) || self.ring.len() > RING_MAX {
            self.ring.pop_front();
        }
    }

    pub fn ring_len(&self) -> usize {
        self.ring.len()
    }

    /// The snapshots for a run of `rules` (their own previous findings only: a fast run every second
    /// should not copy every other rule's findings).
    fn snapshots(&self, io: &Io, now: i64, rules: &[Rule]) -> Snapshots {
        let previous = rules
            .iter()
            .filter_map(|r| self.outputs.get(r.id))
            .flatten()
            .filter(|f| f.severity != Severity::Ok)
            .map(|f| (f.key.clone(), f.clone()))
            .collect();
        Snapshots {
            now_ms: now,
            started_ms: self.started_ms,
            grace_ms: self.grace_ms,
            vitals: io.feeds.vitals.borrow().clone(),
            recent: self.ring.iter().copied().collect(),
            identity: io.feeds.identity.borrow().clone(),
            inventory: io.feeds.inventory.borrow().clone(),
            network: io.feeds.network.borrow().clone(),
            hardware: io.feeds.hardware.borrow().clone(),
            ups: io.feeds.ups.borrow().clone(),
            gpu: io.feeds.gpu.borrow().clone(),
            facts: io.bus.facts.borrow().clone(),
            monitors: io.feeds.monitors.borrow().clone(),
            fleet: io.feeds.fleet.borrow().clone(),
            agents: io.feeds.agents.borrow().clone(),
            previous,
        }
    }

    /// Runs one rule; a panic becomes `unknown` for each of its checks (logged once per episode).
    fn run_rule(
        &mut self,
        rule: &Rule,
        snaps: &Snapshots,
        th: &Thresholds,
        now: i64,
    ) -> (Vec<Finding>, bool) {
        match catch_unwind(AssertUnwindSafe(|| (rule.run)(snaps, th, now))) {
            Ok(found) => {
                self.panicked.remove(rule.id);
                (found, false)
            }
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                if self.panicked.insert(rule.id) {
                    tracing::error!(rule = rule.id, error = %msg, "health rule panicked; its checks report unknown");
                }
                let found = rule
                    .checks
                    .iter()
                    .map(|(check, label)| {
                        Finding::new(
                            rule.category,
                            format!("{check}:rule"),
                            Severity::Unknown,
                            format!("{label}: the check failed internally ({msg})"),
                        )
                    })
                    .collect();
                (found, true)
            }
        }
    }

    /// The three-cycle rule: an `unknown` verdict stands only once its key has been unknown for
    /// [`UNKNOWN_AFTER`] consecutive full cycles; before that the previous verdict for the key is
    /// kept (or nothing, i.e. ok). `count` is true for full cycles.
    fn settle_unknowns(&mut self, rule_id: &'static str, found: Vec<Finding>, count: bool) -> Vec<Finding> {
        let previous = self.outputs.get(rule_id);
        let raw_keys: HashSet<String> = found.iter().map(|f| f.key.clone()).collect();
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            if f.severity != Severity::Unknown {
                if count {
                    self.unknown_streak.remove(&(rule_id, f.key.clone()));
                }
                out.push(f);
                continue;
            }
            let streak = self.unknown_streak.entry((rule_id, f.key.clone())).or_insert(0);
            if count {
                *streak = streak.saturating_add(1);
            }
            if *streak >= UNKNOWN_AFTER {
                out.push(f);
            } else if let Some(prev) =
                previous.and_then(|p| p.iter().find(|p| p.key == f.key && p.severity != Severity::Unknown))
            {
                out.push(prev.clone());
            }
        }
        if count {
            // A key the rule no longer reports at all starts its count afresh.
            self.unknown_streak.retain(|(rid, k), _| *rid != rule_id || raw_keys.contains(k));
        }
        out
    }

    /// Runs the rules (only the fast ones when `fast_only`); returns whether any verdict changed.
    fn evaluate(&mut self, io: &Io, now: i64, fast_only: bool) -> bool {
        let th = io.bus.thresholds.borrow().clone();
        let rules: Vec<Rule> = self.rules.iter().filter(|r| !fast_only || r.fast).copied().collect();
        let snaps = self.snapshots(io, now, &rules);
        let mut changed = false;
        for rule in rules {
            let (found, panicked) = self.run_rule(&rule, &snaps, &th, now);
            let found = if panicked { found } else { self.settle_unknowns(rule.id, found, !fast_only) };
            changed |= self.outputs.get(rule.id) != Some(&found);
            self.outputs.insert(rule.id, found);
        }
        changed
    }

    /// Before the first cycle: publishes the checks and the findings persisted before a restart, so
    /// that the verdict (and the health pill's count) is there from the first request, not only after
    /// the first cycle.
    pub async fn restore(&mut self, io: &Io) -> anyhow::Result<usize> {
        let ledger = io.bus.ledger.clone();
        let n = io
            .db
            .call(move |c| {
                let records = store::open(c)?;
                let n = records.len();
                ledger.replace(records);
                Ok(n)
            })
            .await?;
        let snap = HealthSnapshot {
            evaluated_at: None,
            full_at: None,
            checks: self.checks.clone(),
            results: BTreeMap::new(),
            records: BTreeMap::new(),
        };
        io.bus.ledger.publish(&io.bus.snapshot, snap);
        Ok(n)
    }

    /// A full cycle at `now`: every rule, an occurrence counted for each open finding, retention
    /// once an hour. Thresholds and exclusions are re-read from the database first.
    pub async fn step_full(&mut self, io: &Io, now: i64) -> anyhow::Result<()> {
        let (th, ex) = io.db.call(|c| Ok((store::load_thresholds(c)?, store::load_exclusions(c)?))).await?;
        io.bus.thresholds.send_replace(Arc::new(th));
        io.bus.exclusions.send_replace(Arc::new(ex));
        self.evaluate(io, now, false);
        self.last_full_ms = Some(now);
        self.last_fast_sig = self.fast_signature();
        self.persist(io, now, true).await?;
        if self.last_retention_ms.is_none_or(|t| now - t >= RETENTION_EVERY_MS) {
            self.last_retention_ms = Some(now);
            let n = io.db.call(move |c| store::retention(c, now)).await?;
            if n > 0 {
                tracing::info!(rows = n, "old health findings and events deleted");
            }
        }
        Ok(())
    }

    /// A fast evaluation at `now` (after a fresh vitals sample): only the fast rules; the database is
    /// written only when their verdict changed or a dismissal ran out.
    pub async fn step_fast(&mut self, io: &Io, now: i64) -> anyhow::Result<()> {
        if self.fast_checks.is_empty() {
            return Ok(());
        }
        let changed = self.evaluate(io, now, true);
        let sig = self.fast_signature();
        let expiring = io.bus.ledger.any_expired(now);
        if sig != self.last_fast_sig || expiring {
            self.last_fast_sig = sig;
            self.persist(io, now, false).await?;
        } else if changed && self.last_publish_ms.is_none_or(|t| now - t >= REASON_REFRESH_MS) {
            // Same problems, new numbers in the reasons: shown (at most every few seconds, the page
            // polls far less often), not written.
            self.publish(io, now);
        }
        Ok(())
    }

    fn fast_signature(&self) -> Vec<(String, Severity)> {
        let fast: HashSet<&str> = self.rules.iter().filter(|r| r.fast).map(|r| r.id).collect();
        let mut sig: Vec<(String, Severity)> = self
            .outputs
            .iter()
            .filter(|(id, _)| fast.contains(*id))
            .flat_map(|(_, v)| v.iter())
            .filter(|f| f.severity != Severity::Ok)
            .map(|f| (f.key.clone(), f.severity))
            .collect();
        sig.sort();
        sig
    }

    async fn persist(&mut self, io: &Io, now: i64, full: bool) -> anyhow::Result<()> {
        let ex: Arc<Exclusions> = io.bus.exclusions.borrow().clone();
        let mut health_excluded = HashSet::new();
        let mut notify_excluded = HashSet::new();
        let mut findings = Vec::new();
        for f in self.outputs.values().flatten().filter(|f| f.severity != Severity::Ok) {
            if ex.health(f) {
                health_excluded.insert(f.key.clone());
                continue;
            }
            if ex.notifications(f) {
                notify_excluded.insert(f.key.clone());
            }
            findings.push(f.clone());
        }
        let fast_checks = self.fast_checks.clone();
        let ledger = io.bus.ledger.clone();
        let events = io
            .db
            .call(move |c| {
                let ev = Evaluation {
                    now,
                    findings: &findings,
                    scope: if full { Scope::All } else { Scope::Checks(&fast_checks) },
                    health_excluded: &health_excluded,
                    notify_excluded: &notify_excluded,
                    touch: full,
                };
                let (events, records) = store::reconcile(c, &ev)?;
                // In the same call as the write: a dismissal is ordered before or after, never lost.
                ledger.replace(records);
                Ok(events)
            })
            .await?;
        for e in events {
            // Nobody listening is fine: the outbox table is the durable copy.
            let _ = io.bus.events.send(Arc::new(e));
        }
        self.publish(io, now);
        Ok(())
    }

    /// Publishes the current verdicts with their persisted state.
    fn publish(&mut self, io: &Io, now: i64) {
        self.last_publish_ms = Some(now);
        let ex = io.bus.exclusions.borrow().clone();
        let mut results: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
        for f in self.outputs.values().flatten() {
            if f.severity != Severity::Ok && ex.health(f) {
                continue;
            }
            results.entry(f.check.clone()).or_default().push(f.clone());
        }
        let snap = HealthSnapshot {
            evaluated_at: Some(now),
            full_at: self.last_full_ms,
            checks: self.checks.clone(),
            results,
            records: BTreeMap::new(),
        };
        io.bus.ledger.publish(&io.bus.snapshot, snap);
    }
}
