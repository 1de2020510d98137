//! A monitor's state from its checks' outcomes: retries before down, slow is degraded, recovery with
//! the outage's length, maintenance (recorded, never notified), a stopped guest (not the service's
//! failure), and flap suppression: a monitor that changes state more than `flap_changes` times within
//! `flap_window_ms` is flapping, which notifies once, and stays quiet until it has not changed for a
//! whole window, which notifies once more with the state it settled in.

use std::collections::VecDeque;

use crate::model::monitor::{Outcome, Status};

/// How a monitor turns outcomes into states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Failed checks in a row that are still not down.
    pub retries: u32,
    /// Slower than this is degraded.
    pub degraded_ms: Option<u64>,
    /// More state changes than this within `flap_window_ms` is flapping.
    pub flap_changes: usize,
    pub flap_window_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { retries: 1, degraded_ms: None, flap_changes: 4, flap_window_ms: 10 * 60_000 }
    }
}

/// What else is true at the check's time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Context {
    /// A maintenance window covers the monitor.
    pub maintenance: bool,
    /// Its guest is stopped and does not start on boot.
    pub guest_stopped: bool,
}

/// A change worth an incident line or a notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Down after the retries: the first error.
    Down { error: String },
    /// Up, but slower than allowed.
    Degraded { latency_ms: f64 },
    /// Up again after being down or degraded for this long.
    Recovered { outage_ms: i64 },
    /// Changing state too often: notified once.
    Flapping { changes: usize },
    /// No change for a whole flap window: notified once, with the state it settled in.
    Settled { status: Status },
}

/// A change at a time, and whether it should reach the notification engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub ts: i64,
    pub change: Change,
    pub notify: bool,
}

/// One monitor's state between checks.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub status: Status,
    /// When `status` began (unix ms).
    pub since: Option<i64>,
    /// Failed checks in a row.
    pub failures: u32,
    pub flapping: bool,
    /// The open incident (down or degraded): when it began and its first error.
    pub incident: Option<(i64, String)>,
    /// Times of the recent changes between up, degraded and down.
    changes: VecDeque<i64>,
    /// The last of up, degraded and down (what maintenance and a stopped guest hide).
    health: Status,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            status: Status::Pending,
            since: None,
            failures: 0,
            flapping: false,
            incident: None,
            changes: VecDeque::new(),
            health: Status::Pending,
        }
    }
}

impl Tracker {
    /// Paused by an operator: no checks, no incident left open.
    pub fn pause(&mut self, now: i64) {
        self.set(Status::Paused, now);
        self.failures = 0;
        self.incident = None;
        self.health = Status::Pending;
    }

    fn set(&mut self, status: Status, now: i64) {
        if self.status != status {
            self.status = status;
            self.since = Some(now);
        }
    }

    /// Takes one check's outcome; returns what changed.
    pub fn observe(&mut self, o: &Outcome, p: &Policy, ctx: Context) -> Vec<Transition> {
        let now = o.ts;
        let mut out = Vec::new();
        if ctx.guest_stopped {
            // Not the service's failure: no incident, no retry count, no notification.
            self.set(Status::GuestStopped, now);
            self.failures = 0;
            self.incident = None;
            self.health = Status::Pending;
            return out;
        }
        // What the outcome says, after the retries.
        let health = if o.ok {
            self.failures = 0;
            match (p.degraded_ms, o.latency_ms) {
                (Some(limit), Some(ms)) if ms > limit as f64 => Status::Degraded,
                _ => Status::Up,
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            if self.failures > p.retries {
                Status::Down
            } else if self.health == Status::Pending {
                // Not down yet, and never seen up: still pending.
                Status::Pending
            } else {
                self.health
            }
        };
        let quiet = ctx.maintenance;
        if health != self.health && health != Status::Pending {
            let was = self.health;
            self.health = health;
            if was != Status::Pending {
                self.changes.push_back(now);
            }
            let change = match health {
                Status::Down => {
                    let error = o.error.clone().unwrap_or_else(|| "check failed".into());
                    if self.incident.is_none() {
                        self.incident = Some((now, error.clone()));
                    }
                    Some(Change::Down { error })
                }
                Status::Degraded => {
                    let first = was != Status::Down;
                    if self.incident.is_none() {
                        let ms = o.latency_ms.unwrap_or_default();
                        self.incident = Some((now, format!("slow: {ms:.0} ms")));
                    }
                    first.then(|| Change::Degraded { latency_ms: o.latency_ms.unwrap_or_default() })
                }
                _ => self.incident.take().map(|(start, _)| Change::Recovered { outage_ms: now - start }),
            };
            if let Some(change) = change {
                out.push(Transition { ts: now, change, notify: !quiet && !self.flapping });
            }
        }
        // Flap suppression over the recent changes.
        while self.changes.front().is_some_and(|t| now - t >= p.flap_window_ms) {
            self.changes.pop_front();
        }
        if !self.flapping && self.changes.len() > p.flap_changes {
            self.flapping = true;
            for t in out.iter_mut() {
                t.notify = false;
            }
            out.push(Transition {
                ts: now,
                change: Change::Flapping { changes: self.changes.len() },
                notify: !quiet,
            });
        } else if self.flapping && self.changes.is_empty() {
            self.flapping = false;
            out.push(Transition { ts: now, change: Change::Settled { status: self.health }, notify: !quiet });
        }
        let shown = if ctx.maintenance { Status::Maintenance } else { self.health };
        self.set(shown, now);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn ok(ts: i64, ms: f64) -> Outcome {
        Outcome {
            ts,
            ok: true,
            latency_ms: Some(ms),
            error: None,
            status_code: Some(200),
            cert_expires: None,
        }
    }

    fn fail(ts: i64, why: &str) -> Outcome {
        Outcome {
            ts,
            ok: false,
            latency_ms: None,
            error: Some(why.into()),
            status_code: None,
            cert_expires: None,
        }
    }

    fn kinds(ts: &[Transition]) -> Vec<(&'static str, bool)> {
        ts.iter()
            .map(|t| {
                let k = match t.change {
                    Change::Down { .. } => "down",
                    Change::Degraded { .. } => "degraded",
                    Change::Recovered { .. } => "recovered",
                    Change::Flapping { .. } => "flapping",
                    Change::Settled { .. } => "settled",
                };
                (k, t.notify)
            })
            .collect()
    }

    #[test]
    fn retries_then_down_then_recovered_with_the_outage_length() {
        let p = Policy { retries: 2, ..Policy::default() };
        let mut t = Tracker::default();
        assert!(t.observe(&ok(0, 20.0), &p, Context::default()).is_empty());
        assert_eq!(t.status, Status::Up);
        assert!(t.observe(&fail(30 * S, "HTTP 500"), &p, Context::default()).is_empty());
        assert!(t.observe(&fail(60 * S, "HTTP 502"), &p, Context::default()).is_empty());
        assert_eq!(t.status, Status::Up, "two failures are within the retries");
        let down = t.observe(&fail(90 * S, "timeout after 5000 ms"), &p, Context::default());
        assert_eq!(kinds(&down), [("down", true)]);
        assert_eq!(down[0].change, Change::Down { error: "timeout after 5000 ms".into() });
        assert_eq!(t.status, Status::Down);
        assert_eq!(t.incident.as_ref().map(|i| i.1.as_str()), Some("timeout after 5000 ms"));
        let up = t.observe(&ok(300 * S, 25.0), &p, Context::default());
        assert_eq!(up[0].change, Change::Recovered { outage_ms: 210 * S });
        assert_eq!((t.status, t.since), (Status::Up, Some(300 * S)));
        assert!(t.incident.is_none());
    }

    #[test]
    fn slow_is_degraded_and_a_first_failure_never_seen_up_stays_pending() {
        let p = Policy { retries: 1, degraded_ms: Some(500), ..Policy::default() };
        let mut t = Tracker::default();
        assert!(t.observe(&fail(0, "refused"), &p, Context::default()).is_empty());
        assert_eq!(t.status, Status::Pending);
        assert_eq!(kinds(&t.observe(&fail(30 * S, "refused"), &p, Context::default())), [("down", true)]);
        let back = t.observe(&ok(60 * S, 800.0), &p, Context::default());
        assert!(back.is_empty(), "down to degraded: still the same incident");
        assert_eq!(t.status, Status::Degraded);
        assert_eq!(kinds(&t.observe(&ok(90 * S, 100.0), &p, Context::default())), [("recovered", true)]);
        assert_eq!(kinds(&t.observe(&ok(120 * S, 900.0), &p, Context::default())), [("degraded", true)]);
    }

    #[test]
    fn maintenance_records_but_does_not_notify() {
        let p = Policy { retries: 0, ..Policy::default() };
        let mut t = Tracker::default();
        t.observe(&ok(0, 10.0), &p, Context::default());
        let m = Context { maintenance: true, ..Context::default() };
        let down = t.observe(&fail(30 * S, "refused"), &p, m);
        assert_eq!(kinds(&down), [("down", false)]);
        assert_eq!(t.status, Status::Maintenance);
        assert!(t.incident.is_some(), "the outage is still recorded");
        // Still down when the window ends: the state shows it; the change was already recorded.
        assert!(t.observe(&fail(60 * S, "refused"), &p, Context::default()).is_empty());
        assert_eq!(t.status, Status::Down);
    }

    #[test]
    fn a_stopped_guest_is_not_a_failure() {
        let p = Policy { retries: 0, ..Policy::default() };
        let mut t = Tracker::default();
        t.observe(&ok(0, 10.0), &p, Context::default());
        let stopped = Context { guest_stopped: true, ..Context::default() };
        assert!(t.observe(&fail(30 * S, "no route to host"), &p, stopped).is_empty());
        assert_eq!(t.status, Status::GuestStopped);
        assert!(t.incident.is_none());
        // Started again and answering: up, with nothing to recover from.
        assert!(t.observe(&ok(60 * S, 10.0), &p, Context::default()).is_empty());
        assert_eq!(t.status, Status::Up);
    }

    #[test]
    fn flapping_notifies_once_until_it_settles() {
        let p = Policy { retries: 0, flap_changes: 3, flap_window_ms: 10 * 60 * S, ..Policy::default() };
        let mut t = Tracker::default();
        t.observe(&ok(0, 10.0), &p, Context::default());
        let mut notified = Vec::new();
        // Down and up every 30 s.
        for i in 1..=10 {
            let o = if i % 2 == 1 { fail(i * 30 * S, "refused") } else { ok(i * 30 * S, 10.0) };
            for tr in t.observe(&o, &p, Context::default()) {
                if tr.notify {
                    notified.push(kinds(std::slice::from_ref(&tr))[0].0);
                }
            }
        }
        assert_eq!(
            notified,
            ["down", "recovered", "down", "flapping"],
            "three changes notify, the fourth flaps"
        );
        assert!(t.flapping);
        // Quiet and up for a whole window: settled, notified once.
        let mut settled = Vec::new();
        for i in 11..=32 {
            settled.extend(t.observe(&ok(i * 30 * S, 10.0), &p, Context::default()));
        }
        assert_eq!(kinds(&settled), [("settled", true)]);
        assert_eq!(settled[0].change, Change::Settled { status: Status::Up });
        assert!(!t.flapping);
    }

    #[test]
    fn pausing_closes_the_incident() {
        let p = Policy { retries: 0, ..Policy::default() };
        let mut t = Tracker::default();
        t.observe(&ok(0, 10.0), &p, Context::default());
        t.observe(&fail(S, "refused"), &p, Context::default());
        t.pause(2 * S);
        assert_eq!((t.status, t.incident.is_none()), (Status::Paused, true));
    }
}
