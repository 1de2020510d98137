//! Block storage as LVM and lsblk report it (the parsers are `tools::storage`): logical volumes and
//! volume groups, the block device tree flattened with each physical disk's kind, and how a ZFS
//! member name resolves to the disk (and partition) it lives on.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a logical volume is, from the first letter of `lv_attr` (lvs(8), "lv_attr bits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LvKind {
    /// `-`: a plain linear/striped volume.
    Plain,
    /// `t`: an LVM-thin pool (PVE's `local-lvm` is one).
    ThinPool,
    /// `V`: a thin volume inside a pool (a guest disk on `lvmthin` storage).
    Thin,
    /// `s`/`S`: a snapshot.
    Snapshot,
    /// `e`: pool metadata or its spare; `T`: thin pool data; `i`/`I`/`l`: mirror/RAID parts.
    Internal,
    Other,
}

impl LvKind {
    pub(crate) fn from_attr(attr: &str) -> Self {
        match attr.chars().next() {
            Some('-') => Self::Plain,
            Some('t') => Self::ThinPool,
            Some('V') => Self::Thin,
            Some('s' | 'S') => Self::Snapshot,
            Some('e' | 'T' | 'i' | 'I' | 'l') => Self::Internal,
            _ => Self::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogicalVolume {
    pub name: String,
    pub vg: String,
    /// The 10-letter `lv_attr`, e.g. `twi-aotz--`.
    pub attr: String,
    pub kind: LvKind,
    /// Fifth attr letter `a`: the volume is active.
    pub active: bool,
    /// Ninth attr letter when not `-`: `p`artial, `r`efresh needed, `m`ismatches, `w`ritemostly,
    /// `X` unknown; for thin pools `F`ailed, out of `D`ata space, `M`etadata read only.
    pub health_flag: Option<char>,
    pub size: Option<u64>,
    /// Thin pools and thin volumes: percent of data space used (`""` elsewhere → `None`).
    pub data_percent: Option<f64>,
    /// Thin pools: percent of metadata space used.
    pub metadata_percent: Option<f64>,
    /// Thin volumes: the pool they live in.
    pub pool_lv: Option<String>,
    /// Thin pools: size of the metadata volume.
    pub metadata_size: Option<u64>,
}

impl LogicalVolume {
    pub fn is_thin_pool(&self) -> bool {
        self.kind == LvKind::ThinPool
    }

    /// Bytes of pool data in use (thin pools), from size × data percent.
    pub fn data_used(&self) -> Option<u64> {
        Some((self.size? as f64 * self.data_percent? / 100.0).round() as u64)
    }
}

/// The thin pools among `lvs`.
pub fn thin_pools(lvs: &[LogicalVolume]) -> Vec<&LogicalVolume> {
    lvs.iter().filter(|lv| lv.is_thin_pool()).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeGroup {
    pub name: String,
    pub size: Option<u64>,
    pub free: Option<u64>,
    pub pv_count: Option<u32>,
    pub lv_count: Option<u32>,
}

/// What kind of physical disk a `disk` row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DiskKind {
    Nvme,
    Usb,
    Ssd,
    Hdd,
    /// Neither transport nor rotation told us.
    Unknown,
}

/// One row of `lsblk`, flattened out of the tree; `parent` links a partition (or LV, ...) to its
/// device as lsblk's `PKNAME` does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockDevice {
    pub name: String,
    pub kname: String,
    pub path: Option<String>,
    /// `disk`, `part`, `lvm`, `loop`, `rom`, `raid1`, `crypt`, ...
    #[serde(rename = "type")]
    pub dev_type: String,
    pub size: Option<u64>,
    pub rotational: Option<bool>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// `sata`, `sas`, `nvme`, `usb`, ...
    pub transport: Option<String>,
    pub fstype: Option<String>,
    pub mountpoint: Option<String>,
    /// The parent's kernel name.
    pub parent: Option<String>,
    /// Set for physical disks only (see [`BlockDevice::disk_kind`]).
    pub disk_kind: Option<DiskKind>,
}

/// Kernel name prefixes of `disk` rows that are not hardware: ZFS zvols (`zd*`), Ceph RBD, network
/// block devices, DRBD, RAM disks and zram.
const VIRTUAL_DISK_PREFIXES: [&str; 6] = ["zd", "rbd", "nbd", "drbd", "ram", "zram"];

impl BlockDevice {
    /// The kind of a physical disk; `None` for partitions, LVs, loops and virtual disks such as zvols.
    pub fn disk_kind(&self) -> Option<DiskKind> {
        if self.dev_type != "disk" || VIRTUAL_DISK_PREFIXES.iter().any(|p| self.kname.starts_with(p)) {
            return None;
        }
        Some(if self.kname.starts_with("nvme") {
            DiskKind::Nvme
        } else if self.transport.as_deref() == Some("usb") {
            DiskKind::Usb
        } else {
            match self.rotational {
                Some(false) => DiskKind::Ssd,
                Some(true) => DiskKind::Hdd,
                None => DiskKind::Unknown,
            }
        })
    }
}

/// The physical disks among `lsblk` rows.
pub fn physical_disks(devs: &[BlockDevice]) -> Vec<&BlockDevice> {
    devs.iter().filter(|d| d.disk_kind.is_some()).collect()
}

/// The whole disk (kernel name) a block device name belongs to: itself for a disk, its parent for a
/// partition.
fn whole_disk<'a>(devs: &'a [BlockDevice], kname: &str) -> Option<&'a BlockDevice> {
    let d = devs.iter().find(|d| d.kname == kname || d.name == kname)?;
    if d.dev_type == "part" {
        let parent = d.parent.as_deref()?;
        return devs.iter().find(|p| p.kname == parent);
    }
    Some(d)
}

/// Where a vdev lives: the whole disk's kernel name and, when the member is a partition, its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub disk: String,
    pub partition: Option<String>,
}

/// Resolves a ZFS member name to the disk it lives on. `links` maps `by-id/<name>` (any of
/// [`LINK_DIRS`]) to the kernel name the link points at; `wwns` maps a disk's kernel name to its WWN
/// (with or without `0x`, from SMART). Tried in order: a kernel name (or `/dev/` path), a by-* link, then
/// the by-id naming rules (`ata-<model>_<serial>[-partN]`, `nvme-…`, `scsi-…`, `wwn-0x…[-partN]`),
/// so a recording without links still maps.
pub fn resolve(
    name: &str,
    devs: &[BlockDevice],
    links: &BTreeMap<String, String>,
    wwns: &BTreeMap<String, String>,
) -> Option<Placement> {
    let placed = |kname: &str| {
        let d = devs.iter().find(|d| d.kname == kname || d.name == kname)?;
        let disk = whole_disk(devs, kname)?;
        Some(Placement {
            disk: disk.kname.clone(),
            partition: (d.kname != disk.kname).then(|| d.kname.clone()),
        })
    };
    let bare = name.trim_start_matches("/dev/");
    if let Some(p) = placed(bare) {
        return Some(p);
    }
    // `/dev/disk/by-id/X` or plain `X`: look the link up in every folder.
    let (dir, leaf) = match bare.strip_prefix("disk/").and_then(|r| r.split_once('/')) {
        Some((dir, leaf)) => (Some(dir), leaf),
        None => (None, bare),
    };
    for d in LINK_DIRS.iter().filter(|d| dir.is_none_or(|want| want == **d)) {
        if let Some(p) = links.get(&format!("{d}/{leaf}")).and_then(|k| placed(k)) {
            return Some(p);
        }
    }
    // The by-id naming rules (udev's 60-persistent-storage.rules): `<bus>-<model>_<serial>` with an
    // optional `-partN`, or `wwn-0x<wwn>`.
    let (base, part) = match leaf.rsplit_once("-part") {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => (b, Some(n)),
        _ => (leaf, None),
    };
    let disk = if let Some(w) = base.strip_prefix("wwn-") {
        let w = w.trim_start_matches("0x");
        wwns.iter()
            .find(|(_, v)| v.trim_start_matches("0x").eq_ignore_ascii_case(w))
            .and_then(|(k, _)| devs.iter().find(|d| &d.kname == k))
    } else {
        let serial = base.rsplit_once('_').map(|(_, s)| s)?;
        devs.iter().find(|d| {
            d.dev_type == "disk" && d.serial.as_deref().is_some_and(|s| !s.is_empty() && s == serial)
        })
    }?;
    // The partition's kernel name: `sde` + `1`, `nvme0n1` + `p1`.
    let partition = part.and_then(|n| {
        children_of(devs, &disk.kname)
            .into_iter()
            .find(|c| c.kname.strip_prefix(&disk.kname).map(|r| r.trim_start_matches('p')) == Some(n))
            .map(|c| c.kname.clone())
    });
    Some(Placement { disk: disk.kname.clone(), partition })
}

/// The `/dev/disk/by-*` folders whose names ZFS may use for a pool member.
pub const LINK_DIRS: &[&str] = &["by-id", "by-partuuid", "by-path", "by-vdev", "by-partlabel", "by-uuid"];

/// The rows whose parent is `kname`.
pub fn children_of<'a>(devs: &'a [BlockDevice], kname: &str) -> Vec<&'a BlockDevice> {
    devs.iter().filter(|d| d.parent.as_deref() == Some(kname)).collect()
}
