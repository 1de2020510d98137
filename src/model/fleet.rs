//! The fleet (issue 19): other proxwatch appliances this one shows beside itself. [`Summary`] is the
//! wire format between appliances (`GET /api/fleet/summary`, one compact answer polled every 10 s);
//! [`Peer`] is what this appliance knows of one peer, as published for the API and the health rules.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The summary's format version: a peer answering another `api` is reported as incompatible.
pub const SUMMARY_API: u32 = 1;

/// One appliance at a glance: what the Fleet page shows per host.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetSummary"))]
#[cfg_attr(test, schemars(rename = "FleetSummary"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SUMMARY_API`].
    pub api: u32,
    /// proxwatch's version.
    pub version: String,
    /// The caller's token scope (`read`, `operate`, `admin`); `None` for a browser session.
    #[serde(default)]
    pub scope: Option<String>,
    pub host: HostIdent,
    /// `None` before the appliance's first vitals sample (a second after its start).
    pub vitals: Option<Vitals>,
    pub guests: GuestCounts,
    pub health: HealthBrief,
    #[serde(default)]
    pub ups: Option<UpsBrief>,
    /// What else this appliance watches: `ups`, `gpu`, `ipmi`, `zfs`, `smart`, `monitors`, `docker`,
    /// `notifications`.
    #[serde(default)]
    pub domains: Vec<String>,
    /// When it was built (unix s).
    pub ts: i64,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetHost"))]
#[cfg_attr(test, schemars(rename = "FleetHost"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostIdent {
    pub hostname: String,
    /// The PVE node name (the hostname where PVE is absent).
    pub node: String,
    #[serde(default)]
    pub pve_version: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    pub kernel: String,
    pub uptime_s: u64,
    pub cpus: u32,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetVitals"))]
#[cfg_attr(test, schemars(rename = "FleetVitals"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Vitals {
    pub cpu_pct: f64,
    pub load1: f64,
    pub mem_used: u64,
    pub mem_total: u64,
    /// Over the host's active storages (shared ones counted once).
    pub storage_used: u64,
    pub storage_total: u64,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetGuests"))]
#[cfg_attr(test, schemars(rename = "FleetGuests"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GuestCounts {
    pub running: u32,
    pub total: u32,
    pub vms_running: u32,
    pub vms: u32,
    pub cts_running: u32,
    pub cts: u32,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetHealth"))]
#[cfg_attr(test, schemars(rename = "FleetHealth"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthBrief {
    /// `ok`, `warning`, `critical`, or `pending` before the first cycle.
    pub status: String,
    pub critical: u32,
    pub warning: u32,
    /// Each category's worst status.
    pub categories: Vec<CategoryBrief>,
    /// The worst findings, at most five, worst first.
    pub worst: Vec<FindingBrief>,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetCategory"))]
#[cfg_attr(test, schemars(rename = "FleetCategory"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CategoryBrief {
    pub id: String,
    pub name: String,
    pub status: String,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetFinding"))]
#[cfg_attr(test, schemars(rename = "FleetFinding"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FindingBrief {
    pub severity: String,
    pub category: String,
    pub title: String,
}

#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetUps"))]
#[cfg_attr(test, schemars(rename = "FleetUps"))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpsBrief {
    pub name: String,
    /// NUT's status words (`OL`, `OB LB`, …).
    pub status: String,
    pub on_battery: bool,
    pub charge_pct: Option<f64>,
    pub runtime_s: Option<u64>,
    pub load_pct: Option<f64>,
}

/// How a peer stands.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "PeerStatus"))]
#[cfg_attr(test, schemars(rename = "PeerStatus"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not polled yet since it was added or since proxwatch started.
    Pending,
    /// The last poll answered.
    Ok,
    /// The last poll failed; the data is the last good one, not stale yet.
    Error,
    /// No good answer for three intervals.
    Stale,
    /// A hard failure (token refused, certificate changed): not polled until the admin re-tests it.
    Blocked,
}

/// One row of a capability check.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "PeerCheck"))]
#[cfg_attr(test, schemars(rename = "PeerCheck"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `reachable`, `tls`, `token`, `version`, `domains`.
    pub id: String,
    /// `ok`, `warn`, `fail`, or `skip` (an earlier row failed).
    pub status: String,
    pub detail: String,
}

/// A peer as this appliance knows it.
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetPeer"))]
#[cfg_attr(test, schemars(rename = "FleetPeer"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// The pinned certificate's SHA-256 (`AB:CD:…`); `None` over plain HTTP.
    pub fingerprint: Option<String>,
    pub status: Status,
    /// The last poll's failure.
    pub error: Option<String>,
    /// Why polling stopped (a hard failure), until the admin re-tests the peer.
    pub blocked: Option<String>,
    /// On a changed certificate: the one the peer shows now, for the admin to accept.
    pub seen_fingerprint: Option<String>,
    pub last_ok: Option<i64>,
    pub last_poll: Option<i64>,
    pub rtt_ms: Option<f64>,
    /// The last good summary (kept through failures).
    pub summary: Option<Summary>,
    /// The last capability check.
    pub checks: Vec<Check>,
    pub checked_at: Option<i64>,
}

/// Every peer, as published.
pub type Peers = Arc<Vec<Arc<Peer>>>;
