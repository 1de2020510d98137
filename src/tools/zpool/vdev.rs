//! The pool and vdev model that `zpool status` (text and `-j`) is parsed into: state words
//! (`zpool_state_to_name()` / `zpool_get_state_str()`), the vdev tree with its kinds (`mirror-0`,
//! `raidz2-1`, `draid1:4d:11c:1s-0`, `spare-6`, ...), READ/WRITE/CKSUM counters, the `logs`/`cache`/
//! `spares`/`special`/`dedup` groups and the `errors:` summary. `zpool list -v` shares the state words
//! and group names. No parsing of whole outputs happens here.

use std::fmt;

use serde::Serialize;

use super::scan::Scan;

/// A pool or vdev state word as `zpool` prints it (`zpool_state_to_name()` / `zpool_get_state_str()`),
/// plus the two spare states. Anything else is kept verbatim in `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VdevState {
    Online,
    Degraded,
    Faulted,
    Offline,
    Unavail,
    Removed,
    Suspended,
    Split,
    /// A hot spare that is free.
    Avail,
    /// A hot spare that is replacing a device.
    Inuse,
    Other(String),
}

impl VdevState {
    pub fn parse(s: &str) -> Self {
        match s {
            // The zpool-status(8) man page's `-j` example prints `HEALTHY` while the code
            // (`vdev_state_str[]`, zfs-2.3.0) prints `ONLINE`: they mean the same.
            "ONLINE" | "HEALTHY" => Self::Online,
            "DEGRADED" => Self::Degraded,
            "FAULTED" => Self::Faulted,
            "OFFLINE" => Self::Offline,
            "UNAVAIL" => Self::Unavail,
            "REMOVED" => Self::Removed,
            "SUSPENDED" => Self::Suspended,
            "SPLIT" => Self::Split,
            "AVAIL" => Self::Avail,
            "INUSE" => Self::Inuse,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Online => "ONLINE",
            Self::Degraded => "DEGRADED",
            Self::Faulted => "FAULTED",
            Self::Offline => "OFFLINE",
            Self::Unavail => "UNAVAIL",
            Self::Removed => "REMOVED",
            Self::Suspended => "SUSPENDED",
            Self::Split => "SPLIT",
            Self::Avail => "AVAIL",
            Self::Inuse => "INUSE",
            Self::Other(s) => s,
        }
    }

    /// Online, or a spare in one of its two normal states.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Online | Self::Avail | Self::Inuse)
    }
}

impl fmt::Display for VdevState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VdevState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One pool of `zpool status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStatus {
    pub name: String,
    pub state: VdevState,
    /// The `status:` paragraph, joined into one line (absent on a healthy pool).
    pub status: Option<String>,
    pub action: Option<String>,
    /// The `see:` URL (a ZFS-8000-xx message page).
    pub see: Option<String>,
    pub scan: Scan,
    /// The vdev tree: the root node is the pool itself (its counters are the pool's), its children the
    /// top-level vdevs. `None` when no config table was printed.
    pub root: Option<Vdev>,
    /// `logs`, `cache`, `spares`, `special` and `dedup` groups, in output order.
    pub sections: Vec<VdevSection>,
    /// The `errors:` line(s); `None` when the output had none.
    pub errors: Option<DataErrors>,
}

impl PoolStatus {
    pub fn section(&self, class: VdevClass) -> Option<&VdevSection> {
        self.sections.iter().find(|s| s.class == class)
    }

    /// Every node (root, interior vdevs, leaves, group members), depth first, with its depth below the
    /// root or group (top-level vdevs are 1).
    pub fn vdevs(&self) -> Vec<(usize, &Vdev)> {
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            root.walk(0, &mut out);
        }
        for s in &self.sections {
            for v in &s.vdevs {
                v.walk(1, &mut out);
            }
        }
        out
    }

    /// Finds a node by name anywhere in the tree or groups.
    pub fn find(&self, name: &str) -> Option<&Vdev> {
        self.vdevs().into_iter().map(|(_, v)| v).find(|v| v.name == name)
    }

    /// Known data errors (0 when `No known data errors` or no `errors:` line).
    pub fn data_errors(&self) -> u64 {
        self.errors.as_ref().and_then(|e| e.count).unwrap_or(0)
    }
}

/// A vdev group below the main tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VdevClass {
    Logs,
    Cache,
    Spares,
    Special,
    Dedup,
}

impl VdevClass {
    /// The group header words of `zpool status`/`zpool list -v` (and of the JSON keys).
    pub(super) fn from_section(word: &str) -> Option<Self> {
        match word {
            "logs" | "log" => Some(Self::Logs),
            "cache" | "l2cache" => Some(Self::Cache),
            "spares" | "spare" => Some(Self::Spares),
            "special" => Some(Self::Special),
            "dedup" => Some(Self::Dedup),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VdevSection {
    pub class: VdevClass,
    /// Usually absent; a group header can carry a state, e.g. `logs FAULTED 0 0 0 bad intent log`
    /// (ZFS-8000-K4).
    pub state: Option<VdevState>,
    pub errors: Option<ErrorCounts>,
    pub note: Option<String>,
    pub vdevs: Vec<Vdev>,
}

/// READ / WRITE / CKSUM counters (abbreviated counters such as `1.88K` are expanded, base 1024 as
/// `zfs_nicenum()` prints them, so they are approximate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    pub read: u64,
    pub write: u64,
    pub checksum: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.read.saturating_add(self.write).saturating_add(self.checksum)
    }
}

/// One node of the vdev tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vdev {
    pub name: String,
    pub kind: VdevKind,
    /// Absent only on a line without columns.
    pub state: Option<VdevState>,
    /// Absent for spares (`AVAIL`/`INUSE` rows have no counters).
    pub errors: Option<ErrorCounts>,
    /// Free text after the counters: `(resilvering)`, `was /dev/sdb`, `too many errors`,
    /// `corrupted data`, `58.5K resilvered`, `currently in use`, ...
    pub note: Option<String>,
    pub children: Vec<Vdev>,
}

impl Vdev {
    fn walk<'a>(&'a self, depth: usize, out: &mut Vec<(usize, &'a Vdev)>) {
        out.push((depth, self));
        for c in &self.children {
            c.walk(depth + 1, out);
        }
    }

    /// The leaves (devices) below this node, or the node itself when it is one.
    pub fn leaves(&self) -> Vec<&Vdev> {
        let mut all = Vec::new();
        self.walk(0, &mut all);
        all.into_iter().filter(|(_, v)| v.children.is_empty()).map(|(_, v)| v).collect()
    }

    /// The device path from a `was /dev/...` note (a device zpool now names by GUID).
    pub fn was(&self) -> Option<&str> {
        self.note.as_deref()?.strip_prefix("was ").map(str::trim)
    }
}

/// What a node is, from its name (`mirror-0`, `raidz2-1`, `draid1:4d:11c:1s-0`, `spare-6`,
/// `replacing-0`, `draid1-0-0`, `indirect-2`) or, in JSON, its `vdev_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VdevKind {
    /// The pool itself (the first row of the config table).
    Root,
    Mirror,
    Raidz {
        parity: u8,
    },
    /// `draid<parity>[:<data>d][:<children>c][:<spares>s]`.
    Draid {
        parity: u8,
        data: Option<u32>,
        children: Option<u32>,
        spares: Option<u32>,
    },
    /// A hot spare standing in for a device (`spare-N`).
    Spare,
    /// A device being replaced (`replacing-N`).
    Replacing,
    /// A dRAID distributed spare (`draid<parity>-<vdev>-<spare>`).
    DraidSpare,
    /// The remains of a removed top-level vdev.
    Indirect,
    /// A leaf: disk, partition or file.
    Device,
}

impl VdevKind {
    pub fn classify(name: &str) -> Self {
        // Interior vdevs are named `<type>-<top-level id>`; old releases (and the ZFS-8000 message
        // pages) print the bare type: `mirror`, `replacing`, `raidz`.
        let base = match name.rsplit_once('-') {
            Some((b, id)) if !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()) => b,
            _ => name,
        };
        match base {
            "mirror" => return Self::Mirror,
            "raidz" | "raidz1" => return Self::Raidz { parity: 1 },
            "raidz2" => return Self::Raidz { parity: 2 },
            "raidz3" => return Self::Raidz { parity: 3 },
            "spare" => return Self::Spare,
            "replacing" => return Self::Replacing,
            "indirect" => return Self::Indirect,
            _ => {}
        }
        if let Some(rest) = base.strip_prefix("draid") {
            let mut parts = rest.split(':');
            let parity = parts.next().unwrap_or("");
            if let Ok(parity) = parity.parse::<u8>() {
                if base.contains(':') || rest.len() == parity.to_string().len() {
                    let (mut data, mut children, mut spares) = (None, None, None);
                    for p in parts {
                        let (num, unit) = p.split_at(p.len().saturating_sub(1));
                        let v = num.parse().ok();
                        match unit {
                            "d" => data = v,
                            "c" => children = v,
                            "s" => spares = v,
                            _ => {}
                        }
                    }
                    return Self::Draid { parity, data, children, spares };
                }
            }
            // Distributed spares are `draid<parity>-<top-level vdev>-<spare index>` (vdev_draid.c).
            let ids: Vec<&str> = name["draid".len()..].split('-').collect();
            if ids.len() == 3 && ids.iter().all(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())) {
                return Self::DraidSpare;
            }
        }
        Self::Device
    }
}

/// The `errors:` line(s).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataErrors {
    /// 0 for `No known data errors`, N for `N data errors, use '-v' for a list`, the number of files
    /// for a `-v` list; `None` when only a message was printed.
    pub count: Option<u64>,
    /// Files listed by `zpool status -v` under "Permanent errors have been detected ...".
    pub files: Vec<String>,
    /// Every `errors:` text verbatim, e.g. `List of errors unavailable: permission denied` (a non-root
    /// run, zse_02).
    pub messages: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::super::list::parse_list;
    use super::super::status::parse_status;
    use super::super::tests::{errs, fixture, one};
    use super::*;

    #[test]
    fn spares_logs_cache_and_draid() {
        let p = one("ozdocs_draid_online_spare_avail.txt");
        assert_eq!(p.errors, None);
        let draid = &p.root.as_ref().unwrap().children[0];
        assert!(matches!(draid.kind, VdevKind::Draid { parity: 1, .. }));
        assert_eq!(draid.children.len(), 11);
        let spares = p.section(VdevClass::Spares).unwrap();
        assert_eq!(
            (spares.vdevs[0].name.as_str(), spares.vdevs[0].state.clone()),
            ("draid1-0-0", Some(VdevState::Avail))
        );
        assert_eq!(spares.vdevs[0].kind, VdevKind::DraidSpare);

        let p = one("ozdocs_draid_sequential_resilver_spare_inuse.txt");
        let spares = p.section(VdevClass::Spares).unwrap();
        assert_eq!(spares.vdevs[0].state, Some(VdevState::Inuse));
        assert_eq!(spares.vdevs[0].note.as_deref(), Some("currently in use"));

        // The demo: a `cache` header with no columns, its device below it.
        let demo = parse_status(include_str!("../../../scenarios/demo/commands/zpool/status.txt")).unwrap();
        assert_eq!(demo.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["rpool", "tank"]);
        let tank = &demo[1];
        let cache = tank.section(VdevClass::Cache).unwrap();
        assert_eq!(cache.state, None);
        assert_eq!(cache.vdevs[0].name, "nvme-Samsung_SSD_970_EVO_Plus_250GB_S4EUNG0M705311");
        let raidz = &tank.root.as_ref().unwrap().children;
        assert_eq!(raidz.len(), 1, "the cache device is not a top-level vdev");
        assert_eq!(raidz[0].kind, VdevKind::Raidz { parity: 1 });
        // The demo's DEGRADED raidz: sde FAULTED by ZED after too many errors.
        assert_eq!(tank.state, VdevState::Degraded);
        assert_eq!(raidz[0].state, Some(VdevState::Degraded));
        let sde = &raidz[0].children[2];
        assert_eq!((sde.state.clone(), sde.errors), (Some(VdevState::Faulted), errs(12, 0, 87)));
        assert_eq!(sde.note.as_deref(), Some("too many errors"));
        assert_eq!(tank.see.as_deref(), Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-FD"));
        assert!(tank.action.as_deref().unwrap().contains("Replace the faulted device"));
        assert_eq!(demo[0].root.as_ref().unwrap().leaves().len(), 2);

        // Logs and cache in `zpool list -v -p`.
        let pools = parse_list(&fixture("netdata_zpool-list-vp_degraded_logs_cache_unavail.txt")).unwrap();
        assert_eq!(pools.len(), 1);
        let p = &pools[0];
        assert_eq!(
            (p.health.clone(), p.checkpoint, p.size),
            (VdevState::Degraded, None, Some(9_981_503_995_904))
        );
        let unavail: Vec<_> = p.vdevs.iter().filter(|v| v.health == Some(VdevState::Unavail)).collect();
        assert_eq!(
            unavail.iter().map(|v| (v.name.as_str(), v.class)).collect::<Vec<_>>(),
            [
                ("14807975228228307538", Some(VdevClass::Logs)),
                ("wwn-0x500151795954c095-part2", Some(VdevClass::Cache))
            ]
        );
        let sdb2 = p.vdevs.iter().find(|v| v.name == "sdb2").unwrap();
        assert_eq!((sdb2.depth, sdb2.cap_percent, sdb2.alloc), (1, Some(99), Some(98_755_866_624)));
        assert_eq!(p.vdevs.iter().find(|v| v.name == "sdc2").unwrap().depth, 2);

        let pools = parse_list(&fixture("pve-storage_zpool_list_HPLv_log_cache.txt")).unwrap();
        let p = &pools[0];
        assert_eq!((p.name.as_str(), p.frag_percent, p.cap_percent), ("testpool", Some(5), Some(28)));
        assert_eq!(
            p.vdevs.iter().map(|v| (v.name.as_str(), v.class, v.depth)).collect::<Vec<_>>(),
            [
                ("/dev/sdc", None, 1),
                ("/dev/sdd1", Some(VdevClass::Logs), 1),
                ("/dev/sdd2", Some(VdevClass::Cache), 1)
            ]
        );
    }
}
