//! One check of one monitor, start to end: the probe its target asks for (bounded by its timeout),
//! the state machine with the monitor's maintenance windows and its guest's state, the result and the
//! incident written, the monitor's state published. [`Runner::check`] is what the schedule runs; a
//! test drives it directly with the clock passed in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::maintenance::{Window, in_maintenance};
use super::probe::{self, HttpExpect};
use super::state::{Change, Context, Policy, Tracker, Transition};
use super::store;
use crate::db::Db;
use crate::host::Host;
use crate::httpc;
use crate::model::inventory::Inventory;
use crate::model::monitor::{MonitorSpec, Outcome, Status, Target};

/// One monitor's state, as the page and the other readers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorState {
    pub id: i64,
    pub name: String,
    pub vmid: Option<u64>,
    pub status: Status,
    /// Since when (unix ms).
    pub since: Option<i64>,
    pub flapping: bool,
    /// The last check.
    pub last: Option<Outcome>,
}

/// Every monitor's state, by id.
pub type Snapshot = Arc<HashMap<i64, MonitorState>>;

struct Entry {
    spec: MonitorSpec,
    paused: bool,
    tracker: Tracker,
    last: Option<Outcome>,
}

/// What a check needs: the definitions and their trackers, the windows, the host (ICMP), an HTTP
/// client, the inventory (guest state), the database and where to publish.
pub struct Runner {
    entries: Mutex<HashMap<i64, Entry>>,
    windows: Mutex<Vec<Window>>,
    pub host: Arc<Host>,
    pub db: Db,
    pub inventory: watch::Receiver<Arc<Inventory>>,
    pub out: watch::Sender<Snapshot>,
    /// The host's offset from UTC (seconds), for weekly windows.
    pub utc_offset_s: i32,
    pub policy: Policy,
}

impl Runner {
    pub fn new(
        host: Arc<Host>,
        db: Db,
        inventory: watch::Receiver<Arc<Inventory>>,
        utc_offset_s: i32,
    ) -> Runner {
        Runner {
            entries: Mutex::default(),
            windows: Mutex::default(),
            host,
            db,
            inventory,
            out: watch::Sender::new(Arc::default()),
            utc_offset_s,
            policy: Policy::default(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<i64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the definitions and windows again: new monitors start pending, changed ones keep their
    /// state, deleted ones go. Returns the ids and intervals to plan.
    pub async fn reload(&self) -> anyhow::Result<Vec<(i64, u64)>> {
        let (rows, windows) = self.db.call(|c| Ok((store::list(c)?, store::windows(c)?))).await?;
        *self.windows.lock().unwrap_or_else(|e| e.into_inner()) =
            windows.into_iter().map(|(_, w)| w).collect();
        let mut entries = self.entries();
        entries.retain(|id, _| rows.iter().any(|r| r.id == *id));
        let mut plan = Vec::new();
        for r in rows {
            if !r.paused {
                plan.push((r.id, r.spec.interval_s));
            }
            match entries.get_mut(&r.id) {
                Some(e) => {
                    e.spec = r.spec;
                    e.paused = r.paused;
                }
                None => {
                    entries.insert(
                        r.id,
                        Entry { spec: r.spec, paused: r.paused, tracker: Tracker::default(), last: None },
                    );
                }
            }
            if r.paused
                && let Some(e) = entries.get_mut(&r.id)
                && e.tracker.status != Status::Paused
            {
                e.tracker.pause(r.updated_ms);
            }
        }
        drop(entries);
        self.publish();
        Ok(plan)
    }

    fn publish(&self) {
        let entries = self.entries();
        let snap: HashMap<i64, MonitorState> = entries
            .iter()
            .map(|(id, e)| {
                let state = MonitorState {
                    id: *id,
                    name: e.spec.name.clone(),
                    vmid: e.spec.vmid,
                    status: if e.paused { Status::Paused } else { e.tracker.status },
                    since: e.tracker.since,
                    flapping: e.tracker.flapping,
                    last: e.last.clone(),
                };
                (*id, state)
            })
            .collect();
        self.out.send_replace(Arc::new(snap));
    }

    /// Whether the monitor's guest is stopped and does not start on boot.
    fn guest_stopped(&self, vmid: Option<u64>) -> bool {
        let Some(vmid) = vmid else { return false };
        let inv = self.inventory.borrow().clone();
        let guest = inv.guest(vmid);
        let onboot = inv.configs.get(&vmid).is_some_and(|c| c.onboot);
        guest.is_some_and(|g| g.status == "stopped") && !onboot
    }

    /// Runs the probe a target asks for at `ts`.
    async fn probe(&self, spec: &MonitorSpec, ts: i64, seed: u64) -> Outcome {
        let timeout = Duration::from_millis(spec.timeout_ms);
        match &spec.target {
            Target::Tcp { host, port } => probe::tcp(ts, host, *port, timeout).await,
            Target::Ping { host } => probe::ping(ts, &self.host, host, timeout, seed).await,
            Target::Http {
                url,
                status,
                keyword,
                json_path,
                json_expect,
                follow_redirects,
                verify_tls,
                ..
            } => {
                let client = httpc::Client::new("proxwatch-monitor", timeout);
                let expect = HttpExpect {
                    status: *status,
                    keyword: keyword.as_deref(),
                    json: json_path.as_deref().zip(json_expect.as_deref()),
                    follow_redirects: *follow_redirects,
                    verify_tls: *verify_tls,
                };
                probe::http(ts, &client, url, &expect, timeout).await
            }
            Target::Dns { name, record, server, expect } => {
                let expect = expect.as_deref().and_then(|e| e.parse().ok());
                probe::dns(ts, name, record, server.as_deref(), expect, timeout).await
            }
            Target::Agent { vmid } => Outcome {
                ts,
                ok: false,
                latency_ms: None,
                error: Some(format!("guest agent checks of {vmid} are not available in this version")),
                status_code: None,
                cert_expires: None,
            },
        }
    }

    /// One check of monitor `id` starting at `now` (unix ms): probe, state, result, incident,
    /// published. Returns the transitions for the notification engine; none for an unknown or
    /// paused monitor.
    pub async fn check(&self, id: i64, now: i64) -> anyhow::Result<Vec<Transition>> {
        let Some(spec) = self.entries().get(&id).filter(|e| !e.paused).map(|e| e.spec.clone()) else {
            return Ok(Vec::new());
        };
        let outcome = self.probe(&spec, now, now as u64 ^ id as u64).await;
        let maintenance = {
            let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            in_maintenance(&windows, id, spec.vmid, now, self.utc_offset_s)
        };
        let ctx = Context { maintenance, guest_stopped: self.guest_stopped(spec.vmid) };
        let policy = Policy { retries: spec.retries, degraded_ms: spec.degraded_ms, ..self.policy };
        let (transitions, status, incident) = {
            let mut entries = self.entries();
            let Some(e) = entries.get_mut(&id) else { return Ok(Vec::new()) };
            let t = e.tracker.observe(&outcome, &policy, ctx);
            e.last = Some(outcome.clone());
            // What this one check found (the state may still be up within the retries).
            let slow = matches!((spec.degraded_ms, outcome.latency_ms), (Some(limit), Some(ms)) if ms > limit as f64);
            let found = match (outcome.ok, slow) {
                (false, _) => Status::Down,
                (true, true) => Status::Degraded,
                (true, false) => Status::Up,
            };
            (t, found, e.tracker.incident.clone())
        };
        let writes = transitions.clone();
        self.db
            .call(move |c| {
                store::record(c, id, &outcome, status, maintenance)?;
                for t in &writes {
                    match &t.change {
                        Change::Down { error } => {
                            let start = incident.as_ref().map_or(t.ts, |i| i.0);
                            store::open_incident(c, id, Status::Down, start, error)?;
                        }
                        Change::Degraded { .. } => {
                            let (start, first) = incident.clone().unwrap_or((t.ts, "slow".into()));
                            store::open_incident(c, id, Status::Degraded, start, &first)?;
                        }
                        Change::Recovered { .. } => {
                            store::close_incident(c, id, t.ts)?;
                        }
                        Change::Flapping { .. } | Change::Settled { .. } => {}
                    }
                }
                Ok(())
            })
            .await?;
        self.publish();
        Ok(transitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::monitor::Target;
    use crate::monitors::maintenance::{Scope, When};

    fn tcp(name: &str, port: u16) -> MonitorSpec {
        MonitorSpec {
            name: name.into(),
            target: Target::Tcp { host: "127.0.0.1".into(), port },
            interval_s: 30,
            timeout_ms: 2000,
            retries: 0,
            degraded_ms: None,
            vmid: None,
        }
    }

    fn runner(db: Db) -> Runner {
        let (_tx, inv) = watch::channel(Arc::new(Inventory::default()));
        // The receiver keeps the last value after the sender is gone.
        Runner::new(Arc::new(Host::system(Duration::from_secs(2))), db, inv, 0)
    }

    #[tokio::test]
    async fn a_tcp_service_goes_down_and_comes_back_as_one_incident() {
        let db = Db::open_in_memory().unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let id = db.call(move |c| store::create(c, &tcp("db", port), 0)).await.unwrap();
        let r = runner(db.clone());
        assert_eq!(r.reload().await.unwrap(), vec![(id, 30)]);
        assert!(r.check(id, 1000).await.unwrap().is_empty());
        assert_eq!(r.out.borrow()[&id].status, Status::Up);
        drop(l);
        let down = r.check(id, 31_000).await.unwrap();
        assert!(
            matches!(&down[..], [Transition { change: Change::Down { .. }, notify: true, .. }]),
            "{down:?}"
        );
        // Back: one incident from the first failure to the recovery, its first error kept.
        let _l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let up = r.check(id, 61_000).await.unwrap();
        assert_eq!(up[0].change, Change::Recovered { outage_ms: 30_000 });
        let (incidents, results) = db
            .call(move |c| Ok((store::incidents(c, Some(id), 10)?, store::results(c, id, None, 10)?)))
            .await
            .unwrap();
        assert_eq!(incidents.len(), 1);
        assert_eq!((incidents[0].started_ms, incidents[0].ended_ms), (31_000, Some(61_000)));
        assert!(incidents[0].first_error.starts_with("connection refused"), "{}", incidents[0].first_error);
        assert_eq!(results.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["up", "down", "up"]);
    }

    #[tokio::test]
    async fn maintenance_and_pause_are_honoured() {
        let db = Db::open_in_memory().unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let id = db.call(move |c| store::create(c, &tcp("web", port), 0)).await.unwrap();
        let w = Window {
            scope: Scope::Monitor { id },
            when: When::Once { start: 0, end: 100_000 },
            note: String::new(),
        };
        db.call(move |c| store::add_window(c, &w, "alice", 0)).await.unwrap();
        let r = runner(db.clone());
        r.reload().await.unwrap();
        let t = r.check(id, 1000).await.unwrap();
        assert!(t.iter().all(|t| !t.notify), "failures in maintenance notify no one: {t:?}");
        assert_eq!(r.out.borrow()[&id].status, Status::Maintenance);
        let stored = db.call(move |c| store::results(c, id, None, 1)).await.unwrap();
        assert!(stored[0].maintenance, "recorded as made in maintenance");
        db.call(move |c| store::set_paused(c, id, true, 2000)).await.unwrap();
        assert!(r.reload().await.unwrap().is_empty(), "a paused monitor is not planned");
        assert!(r.check(id, 3000).await.unwrap().is_empty());
        assert_eq!(r.out.borrow()[&id].status, Status::Paused);
    }
}
