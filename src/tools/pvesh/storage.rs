//! What a node stores on, both as pve-storage reports it: `/nodes/{node}/storage` (each configured
//! storage with its state and sizes) and `/nodes/{node}/disks/list` (the physical disks, as
//! `PVE::Diskmanage::get_disks` classifies them, with SMART verdict and wearout).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{de, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/storage`.
pub async fn node_storage(host: &Host, node: &str) -> Result<Vec<NodeStorage>, ToolError> {
    parse_node_storage(&get(host, &format!("/nodes/{node}/storage")).await?)
}

/// `/nodes/{node}/disks/list`.
pub async fn disks(host: &Host, node: &str) -> Result<Vec<DiskInfo>, ToolError> {
    parse_disks(&get(host, &format!("/nodes/{node}/disks/list")).await?)
}

/// One storage as seen by this node. Inactive or disabled storages carry no sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

pub fn parse_node_storage(text: &str) -> Result<Vec<NodeStorage>, ToolError> {
    owned("pvesh get /nodes/{node}/storage", text)
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/disks/list
// ---------------------------------------------------------------------------------------------------

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
