//! Docker containers inside the guests (issue 19): what a push agent reports (`agents/`), as the API,
//! the health rules and the Containers page read it. The wire format of a report (the agent's raw
//! `docker ps`/`inspect`/`stats` JSON) is parsed by `tools::docker`; these are its normalized types.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One container, as the latest report saw it.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// The short id (12 hex digits).
    pub id: String,
    pub name: String,
    pub image: String,
    /// Docker's state: `running`, `exited`, `restarting`, `paused`, `created`, `dead`, `removing`.
    pub state: String,
    /// The healthcheck's verdict (`healthy`, `unhealthy`, `starting`); `None` without a healthcheck.
    pub health: Option<String>,
    /// How often Docker restarted it (its restart policy).
    pub restart_count: u64,
    /// When it last started / stopped (unix s).
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub exit_code: Option<i64>,
    /// Published ports, `0.0.0.0:8080->80/tcp`.
    pub ports: Vec<String>,
    pub mounts: Vec<Mount>,
    /// From `docker stats` (running containers only).
    pub cpu_pct: Option<f64>,
    pub mem_used: Option<u64>,
    pub mem_limit: Option<u64>,
    pub net_rx: Option<u64>,
    pub net_tx: Option<u64>,
    pub block_read: Option<u64>,
    pub block_write: Option<u64>,
    /// `NAME=value`, values of secret-looking names replaced by `***` (by the agent and again here).
    pub env: Vec<String>,
    /// `com.docker.compose.project`, when it is part of a compose project.
    pub compose_project: Option<String>,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "ContainerMount"))]
#[cfg_attr(test, schemars(rename = "ContainerMount"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs`.
    pub kind: String,
    pub source: String,
    pub destination: String,
    pub rw: bool,
}

/// Who the agent says it is (the report's `agent` object).
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent script's version.
    pub version: String,
    pub hostname: String,
    /// The Proxmox guest the admin declared (`PROXWATCH_VMID`).
    pub vmid: Option<u64>,
    /// How often it reports (s); stale after three of these.
    pub interval_s: u64,
    pub ips: Vec<String>,
    pub macs: Vec<String>,
    pub docker_version: Option<String>,
}

/// A parsed, masked report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Report {
    pub agent: AgentInfo,
    pub containers: Vec<Container>,
}

/// How a report was linked to a guest.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappedBy {
    /// The agent's declared vmid, which the inventory knows.
    Declared,
    /// One of the agent's addresses is the guest's.
    Ip,
    /// One of the agent's MAC addresses is on the guest's network device.
    Mac,
}

/// Counts over an agent's containers.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "ContainerCounts"))]
#[cfg_attr(test, schemars(rename = "ContainerCounts"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub total: u32,
    pub running: u32,
    pub unhealthy: u32,
    pub restarting: u32,
    pub exited: u32,
}

/// One agent: its ingest token, what it last reported and which guest it runs in.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "DockerAgent"))]
#[cfg_attr(test, schemars(rename = "DockerAgent"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The id of its ingest token.
    pub id: String,
    pub name: String,
    /// The guest's vmid the admin gave when creating it (the report's own is `info.vmid`).
    pub vmid_hint: Option<u64>,
    pub created: i64,
    /// The latest report's agent object (`None` before the first report).
    pub info: Option<AgentInfo>,
    /// The guest it runs in and how that was found.
    pub vmid: Option<u64>,
    pub guest_name: Option<String>,
    pub mapped_by: Option<MappedBy>,
    /// When the latest report arrived (unix s).
    pub last_report: Option<i64>,
    /// How often it reports (s): the report's own interval, else the one given at creation.
    pub interval_s: u64,
    /// No report for three of its intervals (or none yet after creation).
    pub stale: bool,
    pub counts: Counts,
    pub containers: Vec<Container>,
    /// Containers whose restart count rose in at least 3 of the last reports: restarting in a loop.
    pub looping: Vec<String>,
}

/// Every agent, as published for the API and the health rules.
pub type Agents = Arc<Vec<Arc<Agent>>>;

impl Agent {
    /// No report for three of its intervals (counted from its creation before the first report).
    pub fn stale_at(&self, now: i64) -> bool {
        now - self.last_report.unwrap_or(self.created) > 3 * self.interval_s as i64
    }
}

impl Counts {
    pub fn of(containers: &[Container]) -> Counts {
        let mut c = Counts { total: containers.len() as u32, ..Counts::default() };
        for k in containers {
            match k.state.as_str() {
                "running" => c.running += 1,
                "restarting" => c.restarting += 1,
                "exited" | "dead" => c.exited += 1,
                _ => {}
            }
            if k.health.as_deref() == Some("unhealthy") {
                c.unhealthy += 1;
            }
        }
        c
    }
}
