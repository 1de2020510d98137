//! What a node stores on, both as pve-storage reports it: `/nodes/{node}/storage` (each configured
//! storage with its state and sizes) and `/nodes/{node}/disks/list` (the physical disks, as
//! `PVE::Diskmanage::get_disks` classifies them, with SMART verdict and wearout).

use std::collections::BTreeMap;

#[cfg(test)]
use super::DiskType;
use super::{DiskInfo, NodeStorage, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/storage`.
pub async fn node_storage(host: &Host, node: &str) -> Result<Vec<NodeStorage>, ToolError> {
    parse_node_storage(&get(host, &format!("/nodes/{node}/storage")).await?)
}

/// `/nodes/{node}/disks/list`.
pub async fn disks(host: &Host, node: &str) -> Result<Vec<DiskInfo>, ToolError> {
    parse_disks(&get(host, &format!("/nodes/{node}/disks/list")).await?)
}

pub fn parse_node_storage(text: &str) -> Result<Vec<NodeStorage>, ToolError> {
    owned("pvesh get /nodes/{node}/storage", text)
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/disks/list
// ---------------------------------------------------------------------------------------------------

/// The API returns an array; `PVE::Diskmanage::get_disks` (and pve-storage's test expectations)
/// return the same objects in a hash keyed by device name: both are accepted, the hash in key order.
pub fn parse_disks(text: &str) -> Result<Vec<DiskInfo>, ToolError> {
    const WHAT: &str = "pvesh get /nodes/{node}/disks/list";
    if text.trim_start().starts_with('{') {
        let map: BTreeMap<String, DiskInfo> = owned(WHAT, text)?;
        Ok(map.into_values().collect())
    } else {
        owned(WHAT, text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{demo, fixture};
    use super::*;

    #[test]
    fn demo_node_storage() {
        let s = parse_node_storage(demo!("nodes_storage.json")).unwrap();
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|s| s.active && s.enabled));
        assert_eq!((s[3].storage.as_str(), s[3].kind.as_str()), ("local-lvm", "lvmthin"));
        assert_eq!((s[4].storage.as_str(), s[4].kind.as_str(), s[4].shared), ("pbs-backup", "pbs", true));
        let nfs = &s[2];
        assert_eq!((nfs.storage.as_str(), nfs.kind.as_str(), nfs.shared), ("backup-nfs", "nfs", true));
        assert_eq!(
            (nfs.total, nfs.used, nfs.avail),
            (Some(7999376490496), Some(5314782138368), Some(2684594352128))
        );
        assert_eq!(s[0].content, ["iso", "vztmpl", "backup"]);
        let inactive = parse_node_storage(
            r#"[{"storage":"usb","type":"dir","content":"backup","active":0,"enabled":1}]"#,
        )
        .unwrap();
        assert_eq!((inactive[0].active, inactive[0].total), (false, None));
    }

    #[test]
    fn demo_disks() {
        let d = parse_disks(demo!("nodes_disks_list.json")).unwrap();
        assert_eq!(d.len(), 8);
        assert_eq!(d.iter().filter(|d| d.kind == DiskType::Hdd).count(), 4);
        assert_eq!(d[1].wearout, Some(10), "sdb is wearing out");
        let hdd = &d[2];
        assert_eq!((hdd.devpath.as_str(), hdd.wearout, hdd.rpm), ("/dev/sdc", None, Some(7200)));
        assert_eq!(hdd.used.as_deref(), Some("ZFS"));
        assert_eq!((d[0].wearout, d[0].kind, d[0].gpt), (Some(99), DiskType::Ssd, true));
        let nvme = &d[7];
        assert_eq!((nvme.kind, nvme.wearout, nvme.osdid), (DiskType::Nvme, Some(100), Some(-1)));
        assert_eq!(nvme.health.as_deref(), Some("PASSED"));
    }

    #[test]
    fn pve_storage_disklists() {
        let ssd = parse_disks(fixture!("pve-storage_disklist_ssd_wearout_expected.json")).unwrap();
        assert_eq!(ssd.len(), 5);
        assert!(ssd.iter().all(|d| d.kind == DiskType::Ssd && d.rpm == Some(0)));
        // Wearout arrives as a string ("97") from Diskmanage.
        let wear: Vec<Option<u64>> = ssd.iter().map(|d| d.wearout).collect();
        assert_eq!(wear, [Some(100), Some(97), Some(99), Some(100), Some(91)]);
        assert_eq!(ssd[1].model.as_deref(), Some("INTEL_SSDSC2BB080G6"));

        let usages = parse_disks(fixture!("pve-storage_disklist_usages_expected.json")).unwrap();
        assert_eq!(usages.len(), 14);
        assert!(usages.iter().all(|d| d.wearout.is_none() && d.health.as_deref() == Some("UNKNOWN")));
        let by = |dev: &str| usages.iter().find(|d| d.devpath == dev).unwrap();
        assert_eq!(by("/dev/sdf").osdid, Some(444)); // "444" as a string
        assert_eq!(by("/dev/sde").used.as_deref(), Some("Device Mapper"));
        assert!(!by("/dev/sdn").gpt);
        let unknown =
            parse_disks(r#"[{"devpath":"/dev/sdz","type":"tape","size":"1024","wearout":"N/A"}]"#).unwrap();
        assert_eq!((unknown[0].kind, unknown[0].size, unknown[0].wearout), (DiskType::Unknown, 1024, None));
    }
}
