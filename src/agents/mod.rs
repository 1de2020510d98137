//! Docker push agents (issue 19): a shell script in a VM or container with Docker (`docker.sh`,
//! served at `/agent/docker.sh`) posts `docker ps`/`inspect`/`stats` as one report with its own
//! `ingest` token; this module takes the report in (parsed and masked by `tools::docker`, whatever the
//! agent sent), links it to the Proxmox guest it came from, keeps the latest report per agent and a
//! short history of container state changes, and publishes every agent for the API and the health
//! rules (containers unhealthy or restarting in a loop, a stale agent).
//!
//! Writes stay small: a report that changes no container's state rewrites nothing but, once an hour,
//! the latest report (so a restart shows recent figures); state changes are written at once, each as
//! one history row beside the report.

pub mod demo;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rusqlite::params;
use tokio::sync::watch;

use crate::config::AgentsCfg;
use crate::db::Db;
use crate::error::ApiError;
use crate::model::clock::Clock;
use crate::model::docker::{Agent, Agents as Published, Container, Counts, MappedBy, Report};
use crate::model::inventory::Inventory;
use crate::model::pve::GuestKind;

/// The agent script, served at `/agent/docker.sh`.
pub const SCRIPT: &str = include_str!("docker.sh");
/// The longest agent name.
pub const MAX_NAME: usize = 64;
/// The latest report is rewritten this often while no container's state changes (s): a report is
/// ~24 KiB of WAL, so an agent costs ~0.6 MiB a day when nothing happens.
const PERSIST_EVERY_S: i64 = 3600;
/// Restarts within this window (s) that make a loop.
const LOOP_WINDOW_S: i64 = 900;
/// Restarts within the window that make a loop.
const LOOP_RESTARTS: usize = 3;

/// One container state change, as the history keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "ContainerChange"))]
#[cfg_attr(test, schemars(rename = "ContainerChange"))]
pub struct Change {
    pub ts: i64,
    pub container: String,
    pub state: String,
    pub health: Option<String>,
    pub restarts: u64,
}

/// What an accepted report answers.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "ReportAck"))]
#[cfg_attr(test, schemars(rename = "ReportAck"))]
pub struct Ack {
    pub containers: usize,
    /// The guest the report was linked to.
    pub vmid: Option<u64>,
    pub mapped_by: Option<MappedBy>,
}

struct Held {
    agent: Agent,
    /// When the latest report was last written.
    persisted: i64,
    /// When each container's restart count rose lately (unix s), by name.
    restarts: HashMap<String, VecDeque<i64>>,
}

/// The agents' handle.
pub struct Agents {
    db: Db,
    cfg: AgentsCfg,
    clock: Clock,
    inventory: watch::Receiver<Arc<Inventory>>,
    held: Mutex<BTreeMap<String, Held>>,
    /// Agents whose report is being taken in: one at a time per agent (a token cannot fill memory
    /// with parallel reports of `agents.max_report` each).
    busy: Mutex<std::collections::HashSet<String>>,
    pub out: watch::Sender<Published>,
}

/// An agent's slot for the report it is sending ([`Agents::slot`]), released on drop.
pub struct Slot<'a>(&'a Agents, String);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.1);
    }
}

fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{field}: {why}"))
}

/// The agent's name, checked.
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(bad("name", format!("1 to {MAX_NAME} characters on one line")));
    }
    Ok(n.to_string())
}

/// The interval given at creation, checked.
pub fn check_interval(s: u64) -> Result<u64, ApiError> {
    if !(10..=86_400).contains(&s) {
        return Err(bad("interval_s", "between 10 and 86400 seconds"));
    }
    Ok(s)
}

/// MAC addresses on a guest's network devices (`virtio=BC:24:…` of a VM, `hwaddr=BC:24:…` of a
/// container), lower case.
pub fn config_macs(inv: &Inventory, vmid: u64, kind: GuestKind) -> Vec<String> {
    let Some(cfg) = inv.configs.get(&vmid) else { return Vec::new() };
    cfg.raw
        .iter()
        .filter(|(k, _)| k.strip_prefix("net").is_some_and(|n| n.parse::<u32>().is_ok()))
        .filter_map(|(_, v)| v.as_str())
        .flat_map(|line| line.split(','))
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            let is_mac = v.len() == 17 && v.split(':').count() == 6;
            let wanted = if kind == GuestKind::Lxc { k == "hwaddr" } else { k != "bridge" && k != "tag" };
            (wanted && is_mac).then(|| v.to_ascii_lowercase())
        })
        .collect()
}

/// The guest a report came from: its declared vmid when the inventory knows it, else the guest one
/// of its addresses or MACs belongs to.
pub fn map_guest(inv: &Inventory, report: &Report) -> Option<(u64, String, MappedBy)> {
    let guests: Vec<_> = inv.guests().filter(|g| g.node == inv.node || inv.node.is_empty()).collect();
    let name = |g: &crate::model::pve::Guest| g.name.clone();
    if let Some(v) = report.agent.vmid
        && let Some(g) = guests.iter().find(|g| g.vmid == v)
    {
        return Some((v, name(g), MappedBy::Declared));
    }
    for g in &guests {
        let addrs = crate::monitors::suggest::config_addresses(inv, g.vmid, g.kind);
        if report.agent.ips.iter().any(|ip| addrs.iter().any(|a| a == ip)) {
            return Some((g.vmid, name(g), MappedBy::Ip));
        }
    }
    for g in &guests {
        let macs = config_macs(inv, g.vmid, g.kind);
        if report.agent.macs.iter().any(|m| macs.iter().any(|a| a.eq_ignore_ascii_case(m))) {
            return Some((g.vmid, name(g), MappedBy::Mac));
        }
    }
    None
}

/// The state changes between two reports' containers.
fn changes(before: &[Container], after: &[Container], ts: i64) -> Vec<Change> {
    let old: HashMap<&str, &Container> = before.iter().map(|c| (c.name.as_str(), c)).collect();
    after
        .iter()
        .filter(|c| match old.get(c.name.as_str()) {
            None => true,
            Some(o) => o.state != c.state || o.health != c.health || c.restart_count > o.restart_count,
        })
        .map(|c| Change {
            ts,
            container: c.name.clone(),
            state: c.state.clone(),
            health: c.health.clone(),
            restarts: c.restart_count,
        })
        .chain(before.iter().filter(|o| !after.iter().any(|c| c.name == o.name)).map(|o| Change {
            ts,
            container: o.name.clone(),
            state: "removed".into(),
            health: None,
            restarts: o.restart_count,
        }))
        .collect()
}

impl Agents {
    /// Loads the agents and their latest reports.
    pub fn load(
        db: Db,
        cfg: AgentsCfg,
        clock: Clock,
        inventory: watch::Receiver<Arc<Inventory>>,
    ) -> anyhow::Result<Arc<Agents>> {
        let rows = db
            .call_blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT id, name, vmid, interval_s, created, last_report, report FROM docker_agents ORDER BY name",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })?;
        let mut held = BTreeMap::new();
        for (id, name, vmid, interval_s, created, last_report, report) in rows {
            let report: Option<Report> = report.and_then(|r| serde_json::from_str(&r).ok());
            let mut agent = Agent {
                id: id.clone(),
                name,
                vmid_hint: vmid.map(|v| v as u64),
                created,
                info: None,
                vmid: None,
                guest_name: None,
                mapped_by: None,
                last_report,
                interval_s: interval_s.max(1) as u64,
                stale: false,
                counts: Counts::default(),
                containers: Vec::new(),
                looping: Vec::new(),
            };
            if let Some(r) = report {
                agent.interval_s = r.agent.interval_s.max(1);
                agent.counts = Counts::of(&r.containers);
                agent.containers = r.containers;
                agent.info = Some(r.agent);
            }
            held.insert(id, Held { agent, persisted: last_report.unwrap_or(0), restarts: HashMap::new() });
        }
        let agents = Arc::new(Agents {
            db,
            cfg,
            clock,
            inventory,
            held: Mutex::new(held),
            busy: Mutex::default(),
            out: watch::Sender::new(Arc::new(Vec::new())),
        });
        agents.remap();
        Ok(agents)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.now_ms() / 1000
    }

    /// Links every agent to its guest again (the inventory changed) and publishes.
    pub fn remap(&self) {
        let inv = self.inventory.borrow().clone();
        {
            let mut held = self.held();
            for h in held.values_mut() {
                let report =
                    Report { agent: h.agent.info.clone().unwrap_or_default(), containers: Vec::new() };
                let mut report = report;
                if report.agent.vmid.is_none() {
                    report.agent.vmid = h.agent.vmid_hint;
                }
                let m = map_guest(&inv, &report);
                h.agent.vmid = m.as_ref().map(|m| m.0).or(report.agent.vmid);
                h.agent.guest_name = m.as_ref().map(|m| m.1.clone());
                h.agent.mapped_by = m.map(|m| m.2);
            }
        }
        self.publish();
    }

    /// Publishes every agent as of now.
    pub fn publish(&self) {
        let now = self.now();
        let v: Vec<Arc<Agent>> = self
            .held()
            .values()
            .map(|h| {
                let mut a = h.agent.clone();
                a.stale = a.stale_at(now);
                Arc::new(a)
            })
            .collect();
        self.out.send_replace(Arc::new(v));
    }

    /// The published agents with `stale` as of now.
    pub fn list(&self) -> Vec<Agent> {
        let now = self.now();
        self.out
            .borrow()
            .iter()
            .map(|a| {
                let mut a = (**a).clone();
                a.stale = a.stale_at(now);
                a
            })
            .collect()
    }

    pub fn count(&self) -> usize {
        self.held().len()
    }

    pub fn max(&self) -> usize {
        self.cfg.max
    }

    pub fn max_report(&self) -> usize {
        self.cfg.max_report
    }

    /// Registers an agent for the ingest token `id` (made by the caller).
    pub async fn add(
        &self,
        id: &str,
        name: &str,
        vmid: Option<u64>,
        interval_s: u64,
    ) -> Result<Agent, ApiError> {
        let name = check_name(name)?;
        let interval_s = check_interval(interval_s)?;
        if self.count() >= self.cfg.max {
            return Err(ApiError::Conflict(format!("at most {} agents (agents.max)", self.cfg.max)));
        }
        self.insert(id, &name, vmid, interval_s).await.map_err(ApiError::internal)?;
        self.remap();
        self.list()
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| ApiError::internal("the new agent vanished"))
    }

    async fn insert(&self, id: &str, name: &str, vmid: Option<u64>, interval_s: u64) -> anyhow::Result<()> {
        let now = self.now();
        let (i, n) = (id.to_string(), name.to_string());
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO docker_agents (id, name, vmid, interval_s, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![i, n, vmid.map(|v| v as i64), interval_s as i64, now],
                )?;
                Ok(())
            })
            .await?;
        self.held().entry(id.to_string()).or_insert_with(|| Held {
            agent: Agent {
                id: id.to_string(),
                name: name.to_string(),
                vmid_hint: vmid,
                created: now,
                info: None,
                vmid,
                guest_name: None,
                mapped_by: None,
                last_report: None,
                interval_s,
                stale: false,
                counts: Counts::default(),
                containers: Vec::new(),
                looping: Vec::new(),
            },
            persisted: 0,
            restarts: HashMap::new(),
        });
        Ok(())
    }

    /// Forgets an agent (the caller revokes its token).
    pub async fn delete(&self, id: &str) -> Result<(), ApiError> {
        let i = id.to_string();
        let n = self
            .db
            .call(move |c| Ok(c.execute("DELETE FROM docker_agents WHERE id = ?1", [i])?))
            .await
            .map_err(ApiError::internal)?;
        let gone = self.held().remove(id).is_some();
        self.publish();
        if n == 0 && !gone {
            return Err(ApiError::not_found(format!("no agent {id}")));
        }
        Ok(())
    }

    /// An agent and its newest state changes.
    pub async fn detail(&self, id: &str) -> Result<(Agent, Vec<Change>), ApiError> {
        let agent = self
            .list()
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| ApiError::not_found(format!("no agent {id}")))?;
        let i = id.to_string();
        let history = self
            .db
            .call(move |c| {
                let mut stmt = c.prepare(
                    "SELECT ts, container, state, health, restarts FROM docker_history WHERE agent = ?1
                     ORDER BY ts DESC, rowid DESC LIMIT 200",
                )?;
                let rows = stmt.query_map([i], |r| {
                    Ok(Change {
                        ts: r.get(0)?,
                        container: r.get(1)?,
                        state: r.get(2)?,
                        health: r.get(3)?,
                        restarts: r.get::<_, i64>(4)?.max(0) as u64,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .map_err(ApiError::internal)?;
        Ok((agent, history))
    }

    /// Takes in one report from the agent whose ingest token is `id`: parsed and masked, linked to
    /// its guest, its state changes recorded, the agents published.
    pub async fn ingest(&self, id: &str, body: &[u8]) -> Result<Ack, ApiError> {
        let report =
            crate::tools::docker::parse_report(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.take(id, report).await
    }

    /// The agent's one slot for a report in progress, taken before its body is read; busy (503, retry
    /// in a second) while it is held.
    pub fn slot(&self, id: &str) -> Result<Slot<'_>, ApiError> {
        if !self.busy.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string()) {
            return Err(ApiError::busy(
                "a report from this agent is being taken in",
                std::time::Duration::from_secs(1),
            ));
        }
        Ok(Slot(self, id.to_string()))
    }

    /// [`Agents::ingest`] of a parsed report.
    pub async fn take(&self, id: &str, report: Report) -> Result<Ack, ApiError> {
        let now = self.now();
        if !self.held().contains_key(id) {
            // An ingest token made on the Security page rather than with an agent: the agent is
            // registered on its first report, named by its host.
            if self.count() >= self.cfg.max {
                return Err(ApiError::Conflict(format!("at most {} agents (agents.max)", self.cfg.max)));
            }
            let name: String = report.agent.hostname.chars().take(MAX_NAME).collect();
            let name = if name.trim().is_empty() { id.to_string() } else { name };
            self.insert(id, &name, report.agent.vmid, report.agent.interval_s)
                .await
                .map_err(ApiError::internal)?;
        }
        let inv = self.inventory.borrow().clone();
        let mapped = map_guest(&inv, &report);
        let (rows, write, json) = {
            let mut held = self.held();
            let Some(h) = held.get_mut(id) else { return Err(ApiError::not_found(format!("no agent {id}"))) };
            let rows = changes(&h.agent.containers, &report.containers, now);
            // Restart loops: each rise of a restart count is remembered for the window.
            for c in &report.containers {
                let before = h.agent.containers.iter().find(|o| o.name == c.name).map(|o| o.restart_count);
                let q = h.restarts.entry(c.name.clone()).or_default();
                if let Some(b) = before {
                    for _ in 0..c.restart_count.saturating_sub(b).min(LOOP_RESTARTS as u64 + 1) {
                        q.push_back(now);
                    }
                }
                while q.front().is_some_and(|t| now - t > LOOP_WINDOW_S) {
                    q.pop_front();
                }
            }
            h.restarts.retain(|n, _| report.containers.iter().any(|c| &c.name == n));
            let looping: Vec<String> = report
                .containers
                .iter()
                .filter(|c| h.restarts.get(&c.name).is_some_and(|q| q.len() >= LOOP_RESTARTS))
                .map(|c| c.name.clone())
                .collect();
            let first = h.agent.last_report.is_none();
            let write = first || !rows.is_empty() || now - h.persisted >= PERSIST_EVERY_S;
            let json =
                if write { Some(serde_json::to_string(&report).map_err(ApiError::internal)?) } else { None };
            if write {
                h.persisted = now;
            }
            h.agent.vmid = mapped.as_ref().map(|m| m.0).or(report.agent.vmid).or(h.agent.vmid_hint);
            h.agent.guest_name = mapped.as_ref().map(|m| m.1.clone());
            h.agent.mapped_by = mapped.as_ref().map(|m| m.2);
            h.agent.last_report = Some(now);
            h.agent.interval_s = report.agent.interval_s.max(1);
            h.agent.counts = Counts::of(&report.containers);
            h.agent.containers = report.containers;
            h.agent.info = Some(report.agent);
            h.agent.looping = looping;
            (rows, write, json)
        };
        let ack = {
            let held = self.held();
            let a = &held[id].agent;
            Ack { containers: a.containers.len(), vmid: a.vmid, mapped_by: a.mapped_by }
        };
        if write {
            let (i, keep) = (id.to_string(), self.cfg.history as i64);
            self.db
                .call(move |c| {
                    let tx = c.transaction()?;
                    tx.execute(
                        "UPDATE docker_agents SET last_report = ?2, report = ?3 WHERE id = ?1",
                        params![i, now, json],
                    )?;
                    for r in &rows {
                        tx.execute(
                            "INSERT INTO docker_history (agent, ts, container, state, health, restarts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![i, r.ts, r.container, r.state, r.health, r.restarts as i64],
                        )?;
                    }
                    if !rows.is_empty() {
                        tx.execute(
                            "DELETE FROM docker_history WHERE agent = ?1 AND rowid IN
                             (SELECT rowid FROM docker_history WHERE agent = ?1 ORDER BY ts DESC, rowid DESC LIMIT -1 OFFSET ?2)",
                            params![i, keep],
                        )?;
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
                .map_err(ApiError::internal)?;
        }
        self.publish();
        Ok(ack)
    }
}

/// Keeps the agents' guest links current as the inventory changes, until `cancel`.
pub async fn run(agents: Arc<Agents>, cancel: tokio_util::sync::CancellationToken) {
    let mut inv = agents.inventory.clone();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = inv.changed() => {
                if r.is_err() {
                    return;
                }
                agents.remap();
            }
            // Staleness moves with time alone: publish it.
            _ = tick.tick() => agents.publish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pve::{ClusterResource, Guest};

    /// An inventory with VM 101 (`virtio=` MAC, cloud-init address) and CT 200 (`hwaddr=`, static ip).
    fn inventory() -> Inventory {
        let guest = |kind: &str, vmid: u64, name: &str| -> ClusterResource {
            serde_json::from_value(serde_json::json!({
                "id": format!("{kind}/{vmid}"), "type": kind, "vmid": vmid, "name": name, "node": "pve", "status": "running"
            }))
            .unwrap()
        };
        let mut inv = Inventory { node: "pve".into(), ..Inventory::default() };
        inv.resources.data = Some(vec![guest("qemu", 101, "docker-vm"), guest("lxc", 200, "docker-ct")]);
        let vm = crate::tools::pvesh::parse_guest_config(
            r#"{"name":"docker-vm","net0":"virtio=BC:24:11:3C:41:9D,bridge=vmbr0,firewall=1","ipconfig0":"ip=192.168.10.20/24,gw=192.168.10.1"}"#,
        )
        .unwrap();
        let ct = crate::tools::pvesh::parse_guest_config(
            r#"{"hostname":"docker-ct","net0":"name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:C8,ip=192.168.10.53/24,type=veth"}"#,
        )
        .unwrap();
        inv.configs.insert(101, vm);
        inv.configs.insert(200, ct);
        inv
    }

    fn report(vmid: Option<u64>, ips: &[&str], macs: &[&str]) -> Report {
        Report {
            agent: crate::model::docker::AgentInfo {
                version: "1".into(),
                hostname: "h".into(),
                vmid,
                interval_s: 60,
                ips: ips.iter().map(|s| s.to_string()).collect(),
                macs: macs.iter().map(|s| s.to_string()).collect(),
                docker_version: None,
            },
            containers: Vec::new(),
        }
    }

    #[test]
    fn a_report_is_linked_by_vmid_then_address_then_mac() {
        let inv = inventory();
        assert!(inv.guests().any(|g: &Guest| g.vmid == 200));
        assert_eq!(config_macs(&inv, 101, GuestKind::Qemu), ["bc:24:11:3c:41:9d"]);
        assert_eq!(config_macs(&inv, 200, GuestKind::Lxc), ["bc:24:11:00:00:c8"]);
        let m = |r: &Report| map_guest(&inv, r).map(|(v, _, by)| (v, by));
        assert_eq!(m(&report(Some(200), &["192.168.10.20"], &[])), Some((200, MappedBy::Declared)));
        // A declared vmid the inventory does not know is not trusted: the address decides.
        assert_eq!(m(&report(Some(999), &["192.168.10.20"], &[])), Some((101, MappedBy::Ip)));
        assert_eq!(m(&report(None, &["10.9.9.9"], &["BC:24:11:00:00:C8"])), Some((200, MappedBy::Mac)));
        assert_eq!(m(&report(None, &["10.9.9.9"], &["02:42:ac:11:00:02"])), None);
    }

    fn container(name: &str, state: &str, health: Option<&str>, restarts: u64) -> Container {
        Container {
            id: "0123456789ab".into(),
            name: name.into(),
            image: "img".into(),
            state: state.into(),
            health: health.map(str::to_string),
            restart_count: restarts,
            started_at: None,
            finished_at: None,
            exit_code: None,
            ports: vec![],
            mounts: vec![],
            cpu_pct: None,
            mem_used: None,
            mem_limit: None,
            net_rx: None,
            net_tx: None,
            block_read: None,
            block_write: None,
            env: vec![],
            compose_project: None,
        }
    }

    #[tokio::test]
    async fn state_changes_are_kept_restart_loops_found_and_one_report_at_a_time() {
        let db = Db::open_in_memory().unwrap();
        let clock = Clock::manual(1_800_000_000_000);
        let (_tx, rx) = watch::channel(Arc::new(inventory()));
        let cfg = AgentsCfg { history: 4, ..AgentsCfg::default() };
        let agents = Agents::load(db.clone(), cfg, clock.clone(), rx).unwrap();
        agents.add("a1", "docker01", Some(101), 60).await.unwrap();
        let mut r = report(Some(101), &[], &[]);
        r.containers =
            vec![container("web", "running", Some("healthy"), 0), container("app", "running", None, 0)];
        agents.take("a1", r.clone()).await.unwrap();
        assert_eq!(agents.detail("a1").await.unwrap().1.len(), 2, "the first report records each container");
        // The same report again changes nothing: no history row.
        clock.advance(60_000);
        agents.take("a1", r.clone()).await.unwrap();
        assert_eq!(agents.detail("a1").await.unwrap().1.len(), 2);
        // app restarts once a minute: a loop after three rises within 15 minutes.
        for n in 1..=3 {
            clock.advance(60_000);
            r.containers[1].restart_count = n;
            agents.take("a1", r.clone()).await.unwrap();
            let a = agents.list().remove(0);
            assert_eq!(a.looping.is_empty(), n < 3, "after {n} restarts: {:?}", a.looping);
        }
        // The history keeps the newest `agents.history` rows, newest first.
        let h = agents.detail("a1").await.unwrap().1;
        assert_eq!(h.len(), 4);
        assert_eq!((h[0].container.as_str(), h[0].restarts), ("app", 3));
        // A container gone is recorded as removed.
        clock.advance(60_000);
        r.containers.remove(0);
        agents.take("a1", r.clone()).await.unwrap();
        assert_eq!(
            (
                agents.detail("a1").await.unwrap().1[0].container.as_str(),
                agents.detail("a1").await.unwrap().1[0].state.as_str()
            ),
            ("web", "removed")
        );
        // Stale after three intervals without a report.
        assert!(!agents.list()[0].stale);
        clock.advance(181_000);
        assert!(agents.list()[0].stale);
        // One report at a time per agent.
        let slot = agents.slot("a1").unwrap();
        assert!(agents.slot("a1").is_err());
        assert!(agents.slot("a2").is_ok());
        drop(slot);
        assert!(agents.slot("a1").is_ok());
        // Read back after a restart: the latest report, linked to its guest again.
        let (_tx2, rx2) = watch::channel(Arc::new(inventory()));
        let again = Agents::load(db, AgentsCfg::default(), clock, rx2).unwrap();
        let a = again.list().remove(0);
        assert_eq!((a.containers.len(), a.vmid, a.mapped_by), (1, Some(101), Some(MappedBy::Declared)));
    }
}
