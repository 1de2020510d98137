//! The serde types the API serves (and the workers publish as snapshots), one file per domain: the
//! snapshots (`inventory`, `network`, `hardware`, `ups`, `gpu`, the vitals here) and the parsed tool
//! output they embed (`pve`, `zfs`, `smart`, `storage`, `sensors`, `ipmi`, `dmi`, `net`, `nut`,
//! `services`, `wear`). The parsers in `tools/` fill them and the workers publish them; the health
//! rules, the API and `disks` read them from here. Nothing here imports a floor above. Field names
//! are the API's contract with the SPA and with scripts; optional kernel features are `Option`s that
//! are left out of the JSON when absent, so the UI can hide them.

pub mod addr;
pub mod clock;
pub mod counters;
pub mod demo;
pub mod dmi;
pub mod docker;
pub mod fleet;
pub mod gpu;
pub mod hardware;
pub mod inventory;
pub mod ipmi;
pub mod live;
pub mod monitor;
pub mod net;
pub mod network;
pub mod nut;
pub mod pve;
pub mod section;
pub mod sensors;
pub mod services;
pub mod smart;
pub mod storage;
pub mod ups;
pub mod wear;
pub mod zfs;

pub use clock::Clock;
pub use demo::DemoInfo;
pub use live::LiveSample;

use serde::Serialize;

/// The CPU as `/proc/cpuinfo` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CpuInfo {
    pub model: String,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
}

/// A Proxmox guest's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    Qemu,
    Lxc,
}

/// CPU time shares over the last interval, in percent (0–100).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CpuShare {
    pub user: f64,
    pub system: f64,
    pub iowait: f64,
    pub steal: f64,
    pub idle: f64,
    /// Everything but idle and iowait.
    pub busy: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "CpuUsage"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "CpuUsage"))]
pub struct Cpu {
    pub total: CpuShare,
    pub cores: Vec<CpuShare>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MemoryUsage"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MemoryUsage"))]
pub struct Memory {
    pub total: u64,
    /// Memory applications hold: total − available − ZFS ARC.
    pub used: u64,
    pub free: u64,
    /// Page cache plus reclaimable slab plus the ZFS ARC.
    pub cached: u64,
    pub buffers: u64,
    pub available: u64,
    /// ZFS ARC size, counted as cache rather than used; `null` without ZFS.
    pub arc: Option<u64>,
    pub used_pct: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Swap {
    pub total: u64,
    pub used: u64,
    pub used_pct: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PsiResource {
    pub some_avg10: f64,
    pub some_avg60: f64,
    pub some_avg300: f64,
    pub full_avg10: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Psi {
    pub cpu: PsiResource,
    pub memory: PsiResource,
    pub io: PsiResource,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NetRate {
    pub name: String,
    pub rx_bps: f64,
    pub tx_bps: f64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_drops: u64,
    pub tx_drops: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NetTotal {
    pub rx_bps: f64,
    pub tx_bps: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiskRate {
    pub name: String,
    pub read_bps: f64,
    pub write_bps: f64,
    pub read_iops: f64,
    pub write_iops: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiskTotal {
    pub read_bps: f64,
    pub write_bps: f64,
    pub read_iops: f64,
    pub write_iops: f64,
}

/// One vitals sample: what the sampler publishes every interval and `/api/live` pushes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Sample {
    /// Unix time in milliseconds.
    pub ts: i64,
    /// Seconds covered by the rates in this sample.
    pub interval_s: f64,
    pub cpu: Cpu,
    pub load: [f64; 3],
    pub memory: Memory,
    pub swap: Swap,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub psi: Option<Psi>,
    pub net: Vec<NetRate>,
    pub net_total: NetTotal,
    pub disks: Vec<DiskRate>,
    pub disk_total: DiskTotal,
    pub uptime_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub cpu_temp_c: Option<f64>,
    /// The cumulative counters the rates came from, for `/metrics`; not part of the JSON.
    #[serde(skip)]
    #[cfg_attr(test, ts(skip))]
    pub counters: counters::SharedCounters,
}

/// What the host is. Collected at start and refreshed rarely.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Identity {
    pub hostname: String,
    /// `pveversion`'s line, `null` when this is not a Proxmox VE host.
    pub pve_version: Option<String>,
    pub kernel: String,
    pub cpu_model: String,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
    /// Unix seconds.
    pub boot_time: Option<u64>,
    pub uptime_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Process {
    pub pid: u32,
    pub user: String,
    pub name: String,
    pub command: String,
    pub cpu_pct: f64,
    pub rss_bytes: u64,
    pub threads: u64,
    pub state: String,
    pub vmid: Option<u32>,
    pub guest_kind: Option<GuestKind>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ProcessSnapshot {
    /// Unix ms of the scan; 0 before the first scan.
    pub sampled_at: i64,
    pub processes: Vec<Process>,
}
