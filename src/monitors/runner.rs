//! One check of one monitor, start to end: the probe its target asks for (bounded by its timeout),
//! the state machine with the monitor's maintenance windows and its guest's state, the incident and
//! the events written at once, the check kept in memory (its heartbeat and its open 10-minute
//! bucket) and the monitor's state published. [`Runner::check`] is what the schedule runs; a test
//! drives it directly with the clock passed in. [`Runner::persist`] writes the closed buckets (the
//! worker, every 10 minutes), and [`Runner::uptime`] keeps each monitor's uptime tallies up to date
//! from them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::maintenance::{Window, in_maintenance};
use super::probe::{self, HttpExpect};
use super::state::{Change, Context, Policy, Tracker, Transition};
use super::store::{self, StoredCheck};
use super::uptime::{WINDOWS, bucket_of};
use crate::db::Db;
use crate::host::Host;
use crate::host::pveapi::{PveLink, PveRequest};
use crate::httpc;
use crate::model::inventory::Inventory;
use crate::model::monitor::{MonitorSpec, MonitorState, Outcome, Status, Target};

/// Every monitor's state, by id (a check replaces its own entry: the others are shared).
pub type Snapshot = crate::model::monitor::MonitorStates;

/// Checks kept per monitor for its heartbeat bar.
pub const BEATS: usize = 90;
/// The most checks of one monitor held in memory before they are written (a bucket's worth at the
/// shortest interval is 60; checks on demand add to it).
const MAX_OPEN: usize = 1000;

/// Each monitor's counted checks and up ones over 24 h, 7 d, 30 d and 90 d.
pub type Tally = [(u64, u64); 4];

#[derive(Default)]
struct Uptime {
    /// The buckets before this start are tallied (`None`: not read yet).
    upto: Option<i64>,
    sums: HashMap<i64, Tally>,
}

struct Entry {
    spec: MonitorSpec,
    paused: bool,
    tracker: Tracker,
    last: Option<Outcome>,
    cert_expires: Option<i64>,
    /// The certificate expiry last warned about (one warning per certificate).
    cert_warned: Option<i64>,
    /// The newest checks, oldest first (at most [`BEATS`]).
    beats: VecDeque<StoredCheck>,
    /// The checks not written yet (the open bucket's, and a closed one's until it is written).
    open: Vec<StoredCheck>,
}

impl Entry {
    fn new(spec: MonitorSpec, paused: bool, mut beats: VecDeque<StoredCheck>) -> Entry {
        beats.reserve_exact(BEATS.saturating_sub(beats.len()));
        Entry {
            spec,
            paused,
            tracker: Tracker::default(),
            last: None,
            cert_expires: None,
            cert_warned: None,
            beats,
            open: Vec::new(),
        }
    }

    fn state(&self, id: i64) -> MonitorState {
        MonitorState {
            id,
            name: self.spec.name.clone(),
            vmid: self.spec.vmid,
            status: if self.paused { Status::Paused } else { self.tracker.status },
            since: self.tracker.since,
            flapping: self.tracker.flapping,
            last: self.last.clone(),
            cert_expires: self.cert_expires,
        }
    }
}

/// What a check needs: the definitions and their trackers, the windows, the host (ICMP), an HTTP
/// client, the inventory (guest state), the database and where to publish.
pub struct Runner {
    entries: Mutex<HashMap<i64, Entry>>,
    windows: Mutex<Vec<Window>>,
    pub host: Arc<Host>,
    pub db: Db,
    pub inventory: watch::Receiver<Arc<Inventory>>,
    /// The PVE API token (guest-agent checks).
    pub pve: PveLink,
    pub out: watch::Sender<Snapshot>,
    /// The newest `monitor_events` id written: the notification engine wakes on it.
    pub events: watch::Sender<i64>,
    /// The host's time zone: weekly windows are in local time.
    pub tz: jiff::tz::TimeZone,
    pub policy: Policy,
    /// The clock reloads read (the heartbeats of the last 24 h).
    pub clock: crate::model::clock::Clock,
    uptime: Mutex<Uptime>,
}

impl Runner {
    pub fn new(
        host: Arc<Host>,
        db: Db,
        inventory: watch::Receiver<Arc<Inventory>>,
        pve: PveLink,
        tz: jiff::tz::TimeZone,
    ) -> Runner {
        Runner {
            entries: Mutex::default(),
            windows: Mutex::default(),
            host,
            db,
            inventory,
            pve,
            out: watch::Sender::new(Arc::default()),
            events: watch::Sender::new(0),
            tz,
            policy: Policy::default(),
            clock: crate::model::clock::Clock::system(),
            uptime: Mutex::default(),
        }
    }

    /// The host's offset from UTC at `now_ms` (seconds).
    pub fn utc_offset_s(&self, now_ms: i64) -> i32 {
        jiff::Timestamp::from_millisecond(now_ms).map(|t| self.tz.to_offset(t).seconds()).unwrap_or(0)
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<i64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The same runner reading `clock`.
    pub fn with_clock(mut self, clock: crate::model::clock::Clock) -> Runner {
        self.clock = clock;
        self
    }

    /// Reads the definitions and windows again: new monitors start pending (with their stored
    /// heartbeats), changed ones keep their state, deleted ones go. Returns the ids and intervals to
    /// plan.
    pub async fn reload(&self) -> anyhow::Result<Vec<(i64, u64)>> {
        let known: Vec<i64> = self.entries().keys().copied().collect();
        let now = self.clock.now_ms();
        let (rows, windows, mut beats) = self
            .db
            .call(move |c| {
                let rows = store::list(c)?;
                let mut beats = HashMap::new();
                for r in rows.iter().filter(|r| !known.contains(&r.id)) {
                    let b = store::results(c, r.id, None, BEATS, now)?;
                    let mut d = VecDeque::with_capacity(BEATS);
                    d.extend(b.into_iter().rev());
                    beats.insert(r.id, d);
                }
                Ok((rows, store::windows(c)?, beats))
            })
            .await?;
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
                    if e.paused && !r.paused {
                        // Resumed: pending until its next check.
                        e.tracker = Tracker::default();
                    }
                    e.spec = r.spec;
                    e.paused = r.paused;
                }
                None => {
                    let b = beats.remove(&r.id).unwrap_or_default();
                    entries.insert(r.id, Entry::new(r.spec, r.paused, b));
                }
            }
            if r.paused
                && let Some(e) = entries.get_mut(&r.id)
                && e.tracker.status != Status::Paused
            {
                e.tracker.pause(r.updated_ms);
            }
        }
        let snap: HashMap<i64, Arc<MonitorState>> =
            entries.iter().map(|(id, e)| (*id, Arc::new(e.state(*id)))).collect();
        drop(entries);
        self.out.send_replace(Arc::new(snap));
        Ok(plan)
    }

    /// Publishes one monitor's state (the others' are shared, not copied).
    fn publish_one(&self, id: i64) {
        let state = self.entries().get(&id).map(|e| Arc::new(e.state(id)));
        self.out.send_modify(|snap| {
            let map = Arc::make_mut(snap);
            match state {
                Some(s) => {
                    map.insert(id, s);
                }
                None => {
                    map.remove(&id);
                }
            }
        });
    }

    /// A monitor's heartbeats, oldest first.
    pub fn beats(&self, id: i64) -> Vec<StoredCheck> {
        self.entries().get(&id).map(|e| e.beats.iter().cloned().collect()).unwrap_or_default()
    }

    /// A monitor's checks, newest first: `limit` of them older than `before`, the ones not written
    /// yet first, then the stored ones of the last 24 h.
    pub async fn results(
        &self,
        id: i64,
        before: Option<i64>,
        limit: usize,
    ) -> anyhow::Result<Vec<StoredCheck>> {
        let cut = before.unwrap_or(i64::MAX);
        let mut out: Vec<StoredCheck> = self
            .entries()
            .get(&id)
            .map(|e| e.open.iter().filter(|c| c.ts < cut).cloned().collect())
            .unwrap_or_default();
        out.sort_by_key(|c| std::cmp::Reverse(c.ts));
        out.truncate(limit);
        if out.len() < limit {
            let before = out.last().map_or(cut, |c| c.ts.min(cut));
            let (left, now) = (limit - out.len(), self.clock.now_ms());
            let stored = self.db.call(move |c| store::results(c, id, Some(before), left, now)).await?;
            out.extend(stored);
        }
        Ok(out)
    }

    /// Writes the checks of the buckets that start before `upto` (all of them when `None`: at a
    /// stop) and applies the retention. One transaction, the rows of a bucket together; on failure the checks stay in memory
    /// for the next try. Returns the rows written.
    pub async fn persist(&self, now: i64, upto: Option<i64>) -> anyhow::Result<usize> {
        let mut rows: Vec<(i64, i64, Vec<StoredCheck>)> = Vec::new();
        {
            let mut entries = self.entries();
            for (id, e) in entries.iter_mut() {
                let (take, keep): (Vec<StoredCheck>, Vec<StoredCheck>) =
                    e.open.drain(..).partition(|c| upto.is_none_or(|u| bucket_of(c.ts) < u));
                e.open = keep;
                let mut by: std::collections::BTreeMap<i64, Vec<StoredCheck>> = Default::default();
                for c in take {
                    by.entry(bucket_of(c.ts)).or_default().push(c);
                }
                rows.extend(by.into_iter().map(|(start, checks)| (*id, start, checks)));
            }
        }
        rows.sort_by_key(|(id, start, _)| (*start, *id));
        let n = rows.len();
        let written = rows.clone();
        let result = self
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                for (id, start, checks) in &written {
                    // A monitor deleted meanwhile: its checks go with it.
                    if store::get(&tx, *id)?.is_some() {
                        store::write_bucket(&tx, *id, *start, checks, now)?;
                    }
                }
                store::expire(&tx, now)?;
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = result {
            let mut entries = self.entries();
            for (id, _, checks) in rows {
                if let Some(e) = entries.get_mut(&id) {
                    let mut back = checks;
                    back.append(&mut e.open);
                    let excess = back.len().saturating_sub(MAX_OPEN);
                    back.drain(..excess);
                    e.open = back;
                }
            }
            return Err(e);
        }
        Ok(n)
    }

    /// Brings the uptime tallies up to the buckets that start before `upto` (all written): the first
    /// time from every stored bucket, then by adding the new buckets and taking off those that left
    /// each window.
    pub async fn tally_upto(&self, upto: i64) -> anyhow::Result<()> {
        let from = self.uptime.lock().unwrap_or_else(|e| e.into_inner()).upto;
        if from.is_some_and(|f| f >= upto) {
            return Ok(());
        }
        let changes = self
            .db
            .call(move |c| {
                let mut out = Vec::new();
                for (i, (_, w)) in WINDOWS.iter().enumerate() {
                    match from {
                        None => out.push((i, true, store::tally(c, upto - w, upto)?)),
                        Some(f) => {
                            // In: the new buckets still inside the window; out: those that left it.
                            out.push((i, true, store::tally(c, f.max(upto - w), upto)?));
                            out.push((i, false, store::tally(c, f - w, (upto - w).min(f))?));
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        let mut u = self.uptime.lock().unwrap_or_else(|e| e.into_inner());
        if u.upto != from {
            // Another caller got there first.
            return Ok(());
        }
        for (i, add, t) in changes {
            for (id, (n, up)) in t {
                let e = &mut u.sums.entry(id).or_default()[i];
                if add {
                    e.0 += n;
                    e.1 += up;
                } else {
                    e.0 = e.0.saturating_sub(n);
                    e.1 = e.1.saturating_sub(up);
                }
            }
        }
        u.upto = Some(upto);
        Ok(())
    }

    /// A monitor's uptime tallies (zeros before the first tally or without a closed bucket).
    pub fn uptime(&self, id: i64) -> Tally {
        self.uptime.lock().unwrap_or_else(|e| e.into_inner()).sums.get(&id).copied().unwrap_or_default()
    }

    /// Whether the tallies have been read at all.
    pub fn tallied(&self) -> bool {
        self.uptime.lock().unwrap_or_else(|e| e.into_inner()).upto.is_some()
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
            Target::Agent { vmid } => self.agent(ts, *vmid, timeout).await,
        }
    }

    /// The guest answers: a container runs (Proxmox's view), a VM's QEMU guest agent answers a ping
    /// through the PVE API (`POST /nodes/{node}/qemu/{vmid}/agent/ping`).
    async fn agent(&self, ts: i64, vmid: u64, timeout: Duration) -> Outcome {
        let fail = |error: String| Outcome {
            ts,
            ok: false,
            latency_ms: None,
            error: Some(error),
            status_code: None,
            cert_expires: None,
        };
        let inv = self.inventory.borrow().clone();
        let Some(guest) = inv.guest(vmid) else {
            return fail(format!("guest {vmid} is not in the inventory"));
        };
        if guest.status != "running" {
            return fail(format!("guest {vmid} is {}", guest.status));
        }
        let node = if guest.node.is_empty() { inv.node.clone() } else { guest.node.clone() };
        if guest.kind == crate::model::pve::GuestKind::Lxc {
            return Outcome {
                ts,
                ok: true,
                latency_ms: None,
                error: None,
                status_code: None,
                cert_expires: None,
            };
        }
        let Some(token) = self.pve.token() else {
            return fail("not connected to the PVE API (Settings → Proxmox VE)".into());
        };
        let req = PveRequest::post(format!("/nodes/{node}/qemu/{vmid}/agent/ping")).auth(token.header());
        let started = std::time::Instant::now();
        match tokio::time::timeout(timeout, self.host.pve_api(req)).await {
            Err(_) => fail(format!("timeout after {} ms", timeout.as_millis())),
            Ok(Err(e)) => fail(format!("PVE API: {e}")),
            Ok(Ok(a)) if a.status == 200 => Outcome {
                ts,
                ok: true,
                latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
                error: None,
                status_code: None,
                cert_expires: None,
            },
            Ok(Ok(a)) => {
                // PVE says why in the reason phrase: "QEMU guest agent is not running".
                let why = a.reason.unwrap_or_else(|| format!("HTTP {}", a.status));
                fail(format!("guest agent: {why}"))
            }
        }
    }

    /// One check of monitor `id` starting at `now` (unix ms): probe, state, the check kept in memory,
    /// the incident and the events for the notification engine written (only when something
    /// changed: a check that changes nothing writes nothing), published. Returns the transitions; none for an unknown
    /// or paused monitor.
    pub async fn check(&self, id: i64, now: i64) -> anyhow::Result<Vec<Transition>> {
        let Some(spec) = self.entries().get(&id).filter(|e| !e.paused).map(|e| e.spec.clone()) else {
            return Ok(Vec::new());
        };
        let guest_stopped = self.guest_stopped(spec.vmid);
        // A stopped guest's services are not probed (nothing would answer); the check is recorded.
        let outcome = if guest_stopped {
            Outcome {
                ts: now,
                ok: false,
                latency_ms: None,
                error: Some(format!("guest {} is stopped", spec.vmid.unwrap_or_default())),
                status_code: None,
                cert_expires: None,
            }
        } else {
            self.probe(&spec, now, now as u64 ^ id as u64).await
        };
        let maintenance = {
            let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            in_maintenance(&windows, id, spec.vmid, now, self.utc_offset_s(now))
        };
        let ctx = Context { maintenance, guest_stopped };
        let policy = Policy { retries: spec.retries, degraded_ms: spec.degraded_ms, ..self.policy };
        let (transitions, incident, cert_warning) = {
            let mut entries = self.entries();
            let Some(e) = entries.get_mut(&id) else { return Ok(Vec::new()) };
            let t = e.tracker.observe(&outcome, &policy, ctx);
            e.last = Some(outcome.clone());
            if outcome.cert_expires.is_some() {
                e.cert_expires = outcome.cert_expires;
            }
            // What this one check found (the state may still be up within the retries).
            let slow = matches!((spec.degraded_ms, outcome.latency_ms), (Some(limit), Some(ms)) if ms > limit as f64);
            let found = match (outcome.ok, slow) {
                _ if guest_stopped => Status::GuestStopped,
                (false, _) => Status::Down,
                (true, true) => Status::Degraded,
                (true, false) => Status::Up,
            };
            let warn_days = match &spec.target {
                Target::Http { cert_warn_days, .. } => *cert_warn_days,
                _ => 0,
            };
            let cert_warning = match outcome.cert_expires {
                Some(exp) if warn_days > 0 && exp * 1000 - now < i64::from(warn_days) * 86_400_000 => {
                    (e.cert_warned != Some(exp)).then(|| {
                        e.cert_warned = Some(exp);
                        exp
                    })
                }
                _ => None,
            };
            // The check itself: its heartbeat, and its bucket's until the bucket is written. A stopped
            // guest's checks are left out of uptime, as maintenance is.
            let stored = StoredCheck::of(&outcome, found, maintenance || guest_stopped);
            if e.beats.len() >= BEATS {
                e.beats.pop_front();
            }
            e.beats.push_back(stored.clone());
            if e.open.len() >= MAX_OPEN {
                e.open.remove(0);
            }
            e.open.push(stored);
            (t, e.tracker.incident.clone(), cert_warning)
        };
        if transitions.is_empty() && cert_warning.is_none() {
            self.publish_one(id);
            return Ok(transitions);
        }
        let status = self.entries().get(&id).map_or(Status::Pending, |e| e.tracker.status);
        let writes = transitions.clone();
        let base = serde_json::json!({
            "name": spec.name,
            "vmid": spec.vmid,
            "target": spec.target.describe(),
        });
        let last_event = self
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                let mut last_event = None;
                let mut push = |tx: &rusqlite::Transaction,
                                incident: Option<i64>,
                                t: &Transition,
                                kind: &str,
                                extra: serde_json::Value|
                 -> anyhow::Result<()> {
                    let mut detail = base.clone();
                    if let (Some(d), serde_json::Value::Object(x)) = (detail.as_object_mut(), extra) {
                        d.extend(x);
                    }
                    last_event = Some(store::push_event(tx, id, incident, t.ts, kind, t.notify, &detail)?);
                    Ok(())
                };
                for t in &writes {
                    match &t.change {
                        Change::Down { error } => {
                            let start = incident.as_ref().map_or(t.ts, |i| i.0);
                            let inc = store::open_incident(&tx, id, Status::Down, start, error)?;
                            push(&tx, Some(inc), t, "down", serde_json::json!({ "error": error }))?;
                        }
                        Change::Degraded { latency_ms } => {
                            let (start, first) = incident.clone().unwrap_or((t.ts, "slow".into()));
                            let inc = store::open_incident(&tx, id, Status::Degraded, start, &first)?;
                            push(
                                &tx,
                                Some(inc),
                                t,
                                "degraded",
                                serde_json::json!({ "latency_ms": latency_ms }),
                            )?;
                        }
                        Change::Recovered { outage_ms } => {
                            let inc = store::close_incident(&tx, id, t.ts)?;
                            push(&tx, inc, t, "recovered", serde_json::json!({ "outage_ms": outage_ms }))?;
                        }
                        Change::Flapping { changes } => {
                            let inc = store::open_incident_id(&tx, id)?;
                            push(&tx, inc, t, "flapping", serde_json::json!({ "changes": changes }))?;
                        }
                        Change::Settled { status } => {
                            let inc = store::open_incident_id(&tx, id)?;
                            push(&tx, inc, t, "settled", serde_json::json!({ "status": status.as_str() }))?;
                        }
                    }
                }
                if let Some(exp) = cert_warning {
                    let days = (exp * 1000 - now).div_euclid(86_400_000);
                    let t = Transition { ts: now, change: Change::Settled { status }, notify: !maintenance };
                    push(
                        &tx,
                        None,
                        &t,
                        "cert_expiring",
                        serde_json::json!({ "expires": exp, "days": days }),
                    )?;
                }
                tx.commit()?;
                Ok(last_event)
            })
            .await?;
        if let Some(n) = last_event {
            self.events.send_replace(n);
        }
        self.publish_one(id);
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
        Runner::new(
            Arc::new(Host::system(Duration::from_secs(2))),
            db,
            inv,
            PveLink::default(),
            jiff::tz::TimeZone::UTC,
        )
        // The checks below run at 1 s, 31 s and 61 s after 1970: the stored day is read from there.
        .with_clock(crate::model::clock::Clock::manual(61_000))
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
        let incidents = db.call(move |c| store::incidents(c, Some(id), 10)).await.unwrap();
        let results = r.results(id, None, 10).await.unwrap();
        assert_eq!(incidents.len(), 1);
        assert_eq!((incidents[0].started_ms, incidents[0].ended_ms), (31_000, Some(61_000)));
        assert!(incidents[0].first_error.starts_with("connection refused"), "{}", incidents[0].first_error);
        assert_eq!(results.iter().map(|r| r.status).collect::<Vec<_>>(), ["up", "down", "up"]);
        // Written when their bucket is closed (all of them here: at a stop), and read back the same.
        assert_eq!(r.persist(61_000, None).await.unwrap(), 1);
        assert_eq!(r.results(id, None, 10).await.unwrap(), results);
        r.tally_upto(600_000).await.unwrap();
        assert_eq!(r.uptime(id)[0], (3, 2));
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
        let stored = r.results(id, None, 1).await.unwrap();
        assert!(stored[0].maintenance, "recorded as made in maintenance");
        db.call(move |c| store::set_paused(c, id, true, 2000)).await.unwrap();
        assert!(r.reload().await.unwrap().is_empty(), "a paused monitor is not planned");
        assert!(r.check(id, 3000).await.unwrap().is_empty());
        assert_eq!(r.out.borrow()[&id].status, Status::Paused);
        db.call(move |c| store::set_paused(c, id, false, 4000)).await.unwrap();
        assert_eq!(r.reload().await.unwrap(), vec![(id, 30)]);
        assert_eq!(r.out.borrow()[&id].status, Status::Pending, "resumed: pending until checked");
    }

    #[tokio::test]
    async fn uptime_tallies_brought_forward_equal_a_fresh_count() {
        use crate::monitors::uptime::{BUCKET_MS, Bucket};
        let db = Db::open_in_memory().unwrap();
        let id = db.call(move |c| store::create(c, &tcp("db", 9), 0)).await.unwrap();
        // 40 days of buckets, every 7th one with a failure.
        let day = 86_400_000;
        db.call(move |c| {
            for k in 0..(40 * 144) {
                let up = if k % 7 == 0 { 19 } else { 20 };
                let b = Bucket {
                    start: k * BUCKET_MS,
                    checks: 20,
                    up,
                    degraded: 0,
                    maintenance: 0,
                    latency_avg: None,
                    latency_p95: None,
                };
                store::put_rollup(c, id, &b)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let moving = runner(db.clone());
        let mut upto = 31 * day;
        moving.tally_upto(upto).await.unwrap();
        // Forward a bucket at a time, then by more than a day, then by more than a month.
        for step in [BUCKET_MS, BUCKET_MS, 3 * BUCKET_MS, day + BUCKET_MS, 8 * day] {
            upto += step;
            moving.tally_upto(upto).await.unwrap();
            let fresh = runner(db.clone());
            fresh.tally_upto(upto).await.unwrap();
            assert_eq!(moving.uptime(id), fresh.uptime(id), "at {upto}");
        }
        // The data ends at day 40: the last six buckets of the 24 h window are empty.
        assert_eq!(moving.uptime(id)[0].0, (144 - 6) * 20);
    }
}
