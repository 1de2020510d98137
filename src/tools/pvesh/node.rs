//! `/nodes/{node}/status` (PVE/API2/Nodes.pm `status`: CPU, memory, swap, root filesystem, load,
//! kernel and boot mode of this node) and `/version` (the pve-manager release).

use serde::{Deserialize, Serialize};

use super::{de, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/status`.
pub async fn node_status(host: &Host, node: &str) -> Result<NodeStatus, ToolError> {
    parse_node_status(&get(host, &format!("/nodes/{node}/status")).await?)
}

/// `/version`.
pub async fn version(host: &Host) -> Result<Version, ToolError> {
    parse_version(&get(host, "/version").await?)
}

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

pub fn parse_node_status(text: &str) -> Result<NodeStatus, ToolError> {
    owned("pvesh get /nodes/{node}/status", text)
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

pub fn parse_version(text: &str) -> Result<Version, ToolError> {
    owned("pvesh get /version", text)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{api, demo, fixture};
    use super::*;

    #[test]
    fn node_status_pve74_with_string_numbers() {
        let s = parse_node_status(&api(fixture!("go-proxmox_api_nodes_node1_status_pve7.4.json"))).unwrap();
        assert_eq!(s.loadavg, vec![0.0, 0.0, 0.0]);
        assert_eq!(s.cpuinfo.model, "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz");
        assert_eq!((s.cpuinfo.cores, s.cpuinfo.sockets, s.cpuinfo.cpus), (Some(4), Some(1), Some(8)));
        assert_eq!(s.cpuinfo.mhz, Some(3400.0));
        assert_eq!(s.memory.total, 65919459328);
        assert_eq!(s.memory.used + s.memory.free, 65919459328);
        assert_eq!(s.swap.total, 0);
        assert_eq!(s.rootfs.avail, Some(937851224064));
        assert_eq!(s.uptime, 2501631);
        assert_eq!(s.pveversion, "pve-manager/7.4-16/0f39f621");
        assert!(s.kversion.starts_with("Linux 5.15.108-1-pve"));
        assert_eq!(s.ksm.shared, 0);
        assert_eq!(s.current_kernel, None);
    }

    #[test]
    fn node_status_demo() {
        let s = parse_node_status(demo!("nodes_status.json")).unwrap();
        assert_eq!(s.loadavg, vec![1.12, 0.98, 0.91]);
        assert_eq!(s.cpuinfo.cpus, Some(32));
        assert_eq!(s.cpuinfo.mhz, Some(2400.0));
        assert_eq!(s.memory.total, 134850146304);
        assert_eq!(s.ksm.shared, 1073741824);
        assert_eq!(s.wait, Some(0.0021));
        assert_eq!(s.current_kernel.unwrap().release, "6.8.8-2-pve");
        assert_eq!(s.boot_info.unwrap(), BootInfo { mode: "efi".into(), secureboot: false });
    }

    #[test]
    fn version_demo() {
        let v = parse_version(demo!("version.json")).unwrap();
        assert_eq!(
            v,
            Version { version: "8.2.4".into(), release: "8.2".into(), repoid: "faa83925c9641325".into() }
        );
    }
}
