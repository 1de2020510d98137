//! `/nodes/{node}/status` (PVE/API2/Nodes.pm `status`: CPU, memory, swap, root filesystem, load,
//! kernel and boot mode of this node) and `/version` (the pve-manager release).

#[cfg(test)]
use super::BootInfo;
use super::{NodeStatus, Version, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/status`.
pub async fn node_status(host: &Host, node: &str) -> Result<NodeStatus, ToolError> {
    parse_node_status(&get(host, &format!("/nodes/{node}/status")).await?)
}

/// `/version`.
pub async fn version(host: &Host) -> Result<Version, ToolError> {
    parse_version(&get(host, "/version").await?)
}

pub fn parse_node_status(text: &str) -> Result<NodeStatus, ToolError> {
    owned("pvesh get /nodes/{node}/status", text)
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
