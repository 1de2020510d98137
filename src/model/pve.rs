//! Proxmox VE's own view of the host as `pvesh` reports it (the parsers are `tools::pvesh`): node
//! status, cluster resources and status, guests and their configs, storages and disks, tasks, backup
//! and replication jobs, RRD rows. The API is loosely typed (Perl scalars), so every number and
//! boolean is read through the lenient helpers in [`de`], and no type here denies unknown fields.

pub mod de;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `/nodes/{node}/status` (PVE/API2/Nodes.pm `status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// CPU usage of the node, 0..=1 (fraction of all logical CPUs).
    #[serde(default, deserialize_with = "de::f64")]
    pub cpu: f64,
    /// I/O wait fraction, 0..=1.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub wait: Option<f64>,
    pub cpuinfo: CpuInfo,
    pub memory: Usage,
    #[serde(default)]
    pub swap: Usage,
    #[serde(default)]
    pub rootfs: Usage,
    /// Seconds.
    #[serde(default, deserialize_with = "de::u64")]
    pub uptime: u64,
    /// 1, 5 and 15 minute load averages; Nodes.pm sends them as strings (`["0.00","0.00","0.00"]`).
    #[serde(default, deserialize_with = "de::f64_list")]
    pub loadavg: Vec<f64>,
    /// `uname` line, e.g. `Linux 6.8.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.8-2 (...)`.
    #[serde(default)]
    pub kversion: String,
    /// e.g. `pve-manager/8.2.4/faa83925c9641325`.
    #[serde(default)]
    pub pveversion: String,
    #[serde(default)]
    pub ksm: Ksm,
    /// PVE 8+: structured kernel identity.
    #[serde(default, rename = "current-kernel")]
    pub current_kernel: Option<CurrentKernel>,
    /// PVE 8+: `efi` or `legacy-bios`, and whether Secure Boot is on.
    #[serde(default, rename = "boot-info")]
    pub boot_info: Option<BootInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    #[serde(default)]
    pub model: String,
    /// Physical cores (all sockets).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cores: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub sockets: Option<u64>,
    /// Logical CPUs (threads).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpus: Option<u64>,
    /// Sent as a string (`"3400.000"`).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub mhz: Option<f64>,
}

/// Bytes; `avail` only for `rootfs` (free to unprivileged users).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub free: u64,
    #[serde(default, deserialize_with = "de::opt_u64", skip_serializing_if = "Option::is_none")]
    pub avail: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ksm {
    /// Bytes shared by kernel same-page merging.
    #[serde(default, deserialize_with = "de::u64")]
    pub shared: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentKernel {
    #[serde(default)]
    pub sysname: String,
    #[serde(default)]
    pub release: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub machine: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootInfo {
    #[serde(default)]
    pub mode: String,
    #[serde(default, deserialize_with = "de::flag")]
    pub secureboot: bool,
}

/// `/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// e.g. `8.2.4`.
    pub version: String,
    /// e.g. `8.2`.
    #[serde(default)]
    pub release: String,
    #[serde(default)]
    pub repoid: String,
}

/// A cluster member as in `/cluster/resources` (`type: node`) and `/nodes`. Offline nodes carry no
/// usage (no `cpu`, `mem`, `uptime`), hence the options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResource {
    pub node: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Subscription level (`""` when none, `c`, `b`, `s`, `p`).
    #[serde(default)]
    pub level: Option<String>,
}

impl NodeResource {
    pub fn is_online(&self) -> bool {
        self.status == "online"
    }
}

/// A storage as seen from one node in `/cluster/resources` (`id: storage/<node>/<storeid>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageResource {
    /// The storage id (`local-zfs`).
    pub storage: String,
    #[serde(default)]
    pub node: String,
    /// `dir`, `zfspool`, `lvmthin`, `nfs`, `pbs`, ...
    #[serde(default)]
    pub plugintype: String,
    #[serde(default, deserialize_with = "de::comma_list")]
    pub content: Vec<String>,
    /// `available`, or `unknown` when the storage reported no RRD update (not active / unreachable).
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: bool,
    /// Bytes used; absent when `status` is `unknown`.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
}

/// One `/cluster/resources` entry, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterResource {
    Guest(Guest),
    Node(NodeResource),
    Storage(StorageResource),
    /// Types this monitor does not use (`pool`, `sdn`, and whatever later releases add), kept by name.
    Other {
        kind: String,
        id: String,
    },
}

impl ClusterResource {
    pub fn as_guest(&self) -> Option<&Guest> {
        match self {
            ClusterResource::Guest(g) => Some(g),
            _ => None,
        }
    }
    pub fn as_node(&self) -> Option<&NodeResource> {
        match self {
            ClusterResource::Node(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_storage(&self) -> Option<&StorageResource> {
        match self {
            ClusterResource::Storage(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for ClusterResource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Dispatch on `type` by hand rather than with `#[serde(tag = "type")]`: unknown types keep
        // their name, and a bad field is reported together with the entry's id.
        let v = Value::deserialize(d)?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let id = v.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let typed = match kind.as_str() {
            "qemu" | "lxc" => Guest::deserialize(&v).map(ClusterResource::Guest),
            "node" => NodeResource::deserialize(&v).map(ClusterResource::Node),
            "storage" => StorageResource::deserialize(&v).map(ClusterResource::Storage),
            _ => return Ok(ClusterResource::Other { kind, id }),
        };
        typed.map_err(|e| serde::de::Error::custom(format!("entry {id:?}: {e}")))
    }
}

/// `/cluster/status`: one `cluster` entry when clustered, then one entry per node. A standalone node
/// lists only itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterStatus {
    pub cluster: Option<ClusterInfo>,
    pub nodes: Vec<ClusterNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    pub name: String,
    pub quorate: bool,
    /// Configured member count.
    pub nodes: Option<u64>,
    /// corosync config version.
    pub version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClusterNode {
    pub name: String,
    pub nodeid: Option<u64>,
    pub online: bool,
    /// The node this API call was answered by.
    pub local: bool,
    pub ip: Option<String>,
}

impl ClusterStatus {
    /// A standalone node has no cluster entry and is trivially quorate.
    pub fn quorate(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.quorate)
    }
    pub fn local_node(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.local)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "PveGuestKind"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "PveGuestKind"))]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    #[default]
    Qemu,
    Lxc,
}

impl GuestKind {
    /// The path segment and `type` value: `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

/// A VM or container as listed by `/cluster/resources` or `/nodes/{node}/{qemu|lxc}`
/// (the lists say `cpus` where cluster resources say `maxcpu`, and omit `node`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guest {
    /// `qemu` unless the entry says otherwise (`/nodes/{node}/qemu` has no `type` field).
    #[serde(rename = "type", default)]
    pub kind: GuestKind,
    /// A string in some releases (`"vmid":"106"` from `/nodes/{node}/lxc` in PVE 7.4).
    #[serde(deserialize_with = "de::u64")]
    pub vmid: u64,
    #[serde(default)]
    pub name: String,
    /// Empty when the endpoint does not say (the per-node lists); `tools::pvesh::guests` fills it in.
    #[serde(default)]
    pub node: String,
    /// From the RRD: `running`, `stopped`, `paused`, ... or `unknown` when there is no RRD data yet.
    #[serde(default)]
    pub status: String,
    /// Usage as a fraction of `maxcpu`.
    #[serde(default, deserialize_with = "de::f64")]
    pub cpu: f64,
    /// Assigned CPUs; fractional for containers with a `cpulimit`.
    #[serde(default, alias = "cpus", deserialize_with = "de::f64")]
    pub maxcpu: f64,
    #[serde(default, deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub maxmem: u64,
    /// Only meaningful for containers; VMs report 0 (the host cannot see inside the guest's disk).
    #[serde(default, deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub maxdisk: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub netin: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub netout: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub diskread: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub diskwrite: u64,
    /// Seconds; absent (or 0) when stopped.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Only in the per-node lists, and only while running.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    /// The lists only carry `template` when it is 1.
    #[serde(default, deserialize_with = "de::flag")]
    pub template: bool,
    #[serde(default, deserialize_with = "de::tags")]
    pub tags: Vec<String>,
    /// `backup`, `migrate`, `snapshot`, ... while an operation holds the guest (or left stale).
    #[serde(default)]
    pub lock: Option<String>,
    /// HA resource state when HA-managed: `started`, `stopped`, `error`, `fence`, `recovery`, ...
    #[serde(default)]
    pub hastate: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
}

impl Guest {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    /// `VM 104 (ha-app)`, `CT 201 (nextcloud)`: how findings, cards and messages name a guest.
    pub fn label(&self) -> String {
        format!("{} {} ({})", if self.kind == GuestKind::Lxc { "CT" } else { "VM" }, self.vmid, self.name)
    }
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/config`: the whole map (keys differ per guest and per release),
/// plus the few values the monitor uses, typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuestConfig {
    /// Start at boot; absent means no.
    pub onboot: bool,
    /// `name` for VMs, `hostname` for containers.
    pub name: Option<String>,
    pub cores: Option<u64>,
    pub sockets: Option<u64>,
    /// MiB.
    pub memory: Option<u64>,
    pub template: bool,
    pub lock: Option<String>,
    pub tags: Vec<String>,
    pub raw: BTreeMap<String, Value>,
    /// Snapshot names, in file order (from the config file; `pvesh`'s config answer has none).
    pub snapshots: Vec<String>,
    /// Keys with a pending change (set or deleted), applied at the next start.
    pub pending: Vec<String>,
}

/// One storage as seen by this node. Inactive or disabled storages carry no sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NodeStorage {
    pub storage: String,
    /// Plugin type: `dir`, `zfspool`, `lvmthin`, `nfs`, `cifs`, `pbs`, `rbd`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, deserialize_with = "de::comma_list")]
    pub content: Vec<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub active: bool,
    #[serde(default, deserialize_with = "de::flag")]
    pub enabled: bool,
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: bool,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
}

/// Disk class as decided by pve-storage's Diskmanage.pm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", from = "String")]
pub enum DiskType {
    Ssd,
    Hdd,
    Nvme,
    Usb,
    Unknown,
}

impl From<String> for DiskType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "ssd" => DiskType::Ssd,
            "hdd" => DiskType::Hdd,
            "nvme" => DiskType::Nvme,
            "usb" => DiskType::Usb,
            _ => DiskType::Unknown,
        }
    }
}

/// One physical disk (`PVE::Diskmanage::get_disks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskInfo {
    pub devpath: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub wwn: Option<String>,
    /// Bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(rename = "type", default = "unknown_disk")]
    pub kind: DiskType,
    /// 0 for SSDs; -1 or absent when unknown.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub rpm: Option<i64>,
    /// SMART verdict as Diskmanage words it: `PASSED`, `OK` (SAS), `FAILED`, `UNKNOWN`.
    #[serde(default)]
    pub health: Option<String>,
    /// Percent of life left (100 = new). `"N/A"` for HDDs and disks without the attribute → `None`.
    #[serde(default, deserialize_with = "de::u64_or_na")]
    pub wearout: Option<u64>,
    /// What occupies the disk: `partitions`, `LVM`, `ZFS`, `mounted`, `Device Mapper`, a filesystem ...
    #[serde(default)]
    pub used: Option<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub gpt: bool,
    /// Ceph OSD id, -1 when none (a string in some Diskmanage paths: `"osdid":"444"`).
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub osdid: Option<i64>,
    #[serde(default)]
    pub by_id_link: Option<String>,
}

fn unknown_disk() -> DiskType {
    DiskType::Unknown
}

/// One task from `/nodes/{node}/tasks` (PVE/API2/Tasks.pm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub upid: String,
    #[serde(default)]
    pub node: String,
    #[serde(default, deserialize_with = "de::u64")]
    pub pid: u64,
    /// Process start time in clock ticks since boot (with pid, identifies the worker process).
    #[serde(default, deserialize_with = "de::u64")]
    pub pstart: u64,
    /// Seconds since the epoch.
    #[serde(default, deserialize_with = "de::u64")]
    pub starttime: u64,
    /// Absent while running.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub endtime: Option<u64>,
    /// `vzdump`, `qmstart`, `aptupdate`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The object: a VMID, a storage, ... empty for node-wide tasks (a scheduled vzdump).
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub user: String,
    /// `OK`, `WARNINGS: <n>`, `unexpected status`, or the error text; absent while running.
    #[serde(default)]
    pub status: Option<String>,
}

impl Task {
    pub fn outcome(&self) -> TaskOutcome {
        classify_task_status(self.status.as_deref())
    }
}

/// What a task's `status` means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    Ok,
    /// Finished, but logged this many `WARN:` lines.
    Warnings(u64),
    Running,
    /// The error text (the last `TASK ERROR: <msg>`), e.g. `job errors` for a vzdump run in which any
    /// guest failed (PVE/VZDump.pm), or `unexpected status` when the worker died without a verdict.
    Failed(String),
}

impl TaskOutcome {
    pub fn is_failed(&self) -> bool {
        matches!(self, TaskOutcome::Failed(_))
    }
}

pub fn classify_task_status(status: Option<&str>) -> TaskOutcome {
    let Some(s) = status.map(str::trim).filter(|s| !s.is_empty()) else {
        return TaskOutcome::Running;
    };
    if s == "OK" {
        return TaskOutcome::Ok;
    }
    // Active tasks (source=active) are reported as RUNNING by Tasks.pm.
    if s.eq_ignore_ascii_case("running") {
        return TaskOutcome::Running;
    }
    if let Some(n) = s.strip_prefix("WARNINGS:").and_then(|n| n.trim().parse().ok()) {
        return TaskOutcome::Warnings(n);
    }
    TaskOutcome::Failed(s.to_string())
}

/// A scheduled backup job (`/cluster/backup`, stored in `/etc/pve/jobs.cfg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupJob {
    pub id: String,
    /// systemd-like calendar event (`02:00`, `sun 04:30`). Jobs from before PVE 7.1 have
    /// `starttime` + `dow` instead.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub starttime: Option<String>,
    #[serde(default)]
    pub dow: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    /// Absent means enabled (the schema default).
    #[serde(default = "yes", deserialize_with = "de::flag")]
    pub enabled: bool,
    /// Back up every guest (minus `exclude`).
    #[serde(default, deserialize_with = "de::flag")]
    pub all: bool,
    /// The selected VMIDs when neither `all` nor `pool` is set (`"100,101,200"`).
    #[serde(default, rename = "vmid", deserialize_with = "de::vmid_list")]
    pub vmids: Vec<u64>,
    /// Back up the members of this pool.
    #[serde(default)]
    pub pool: Option<String>,
    #[serde(default, deserialize_with = "de::vmid_list")]
    pub exclude: Vec<u64>,
    /// `snapshot`, `suspend` or `stop`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Only run on this node.
    #[serde(default)]
    pub node: Option<String>,
    /// Seconds since the epoch.
    #[serde(default, rename = "next-run", deserialize_with = "de::opt_u64")]
    pub next_run: Option<u64>,
    #[serde(default)]
    pub comment: Option<String>,
}

fn yes() -> bool {
    true
}

impl BackupJob {
    /// Whether this job backs up `vmid`, whose pool (from cluster resources) is `pool`.
    pub fn covers(&self, vmid: u64, pool: Option<&str>) -> bool {
        if self.all {
            !self.exclude.contains(&vmid)
        } else if let Some(p) = &self.pool {
            pool == Some(p.as_str()) && !self.exclude.contains(&vmid)
        } else {
            self.vmids.contains(&vmid)
        }
    }
}

/// What one run of a backup job did to one guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestBackupResult {
    pub ok: bool,
    /// The error (`CT is locked (backup)`), or why no verdict was logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ReplicationJob {
    /// `<vmid>-<jobnum>`, e.g. `100-0`.
    pub id: String,
    #[serde(default, deserialize_with = "de::u64")]
    pub guest: u64,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub last_sync: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub last_try: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub next_sync: Option<u64>,
    /// Seconds the last run took.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub duration: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub fail_count: Option<u64>,
    /// The last error, while the job is failing.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub disable: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

impl ReplicationJob {
    pub fn failing(&self) -> bool {
        self.fail_count.unwrap_or(0) > 0 || self.error.as_deref().is_some_and(|e| !e.trim().is_empty())
    }
}

/// One RRD row. Rows from before the guest existed or while it was off carry only `time`; values are
/// averages over the step, hence floats (bytes/s for the rates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RrdPoint {
    /// Seconds since the epoch (start of the step).
    #[serde(deserialize_with = "de::u64")]
    pub time: u64,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub mem: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxmem: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub disk: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxdisk: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub diskread: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub diskwrite: Option<f64>,
}

/// One entry of the cluster log (`/etc/pve/.clusterlog`, pve-cluster `clog_dump_json`: the newest 50,
/// newest first; what `GET /cluster/log` answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ClusterLogEntry {
    pub uid: u64,
    /// Unix seconds.
    pub time: i64,
    /// syslog priority (0 emerg … 7 debug).
    pub pri: u8,
    pub tag: String,
    pub pid: u64,
    pub node: String,
    pub user: String,
    pub msg: String,
}

/// A tag's colours from `datacenter.cfg`'s `tag-style: color-map=…` (hex without `#`): the admin's
/// choice in PVE's own UI, shown the same way here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TagColor {
    pub bg: String,
    /// The text colour, where set (else PVE picks black or white for contrast).
    pub fg: Option<String>,
}
