//! OpenZFS pools as `zpool` reports them (the parsers are `tools::zpool`): the pool and vdev model that
//! `zpool status` (text and `-j`) is parsed into: state words
//! (`zpool_state_to_name()` / `zpool_get_state_str()`), the vdev tree with its kinds (`mirror-0`,
//! `raidz2-1`, `draid1:4d:11c:1s-0`, `spare-6`, ...), READ/WRITE/CKSUM counters, the `logs`/`cache`/
//! `spares`/`special`/`dedup` groups, the `errors:` summary and the `scan:` line (the last or current
//! scrub or resilver); the pool and vdev rows of `zpool list`, which share the state words and group
//! names. No parsing of whole outputs happens here.

use std::fmt;

use serde::Serialize;

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

/// Serialized as its `zpool` word (`ONLINE`, `DEGRADED`, ..., or the text of an unknown state).
#[cfg(test)]
impl ts_rs::TS for VdevState {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(_: &ts_rs::Config) -> String {
        "string".to_owned()
    }
    fn inline(_: &ts_rs::Config) -> String {
        "string".to_owned()
    }
}

#[cfg(test)]
impl schemars::JsonSchema for VdevState {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VdevState".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "description": "The vdev or pool state as `zpool status` prints it (ONLINE, DEGRADED, FAULTED, …)." })
    }
}

impl Serialize for VdevState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One pool of `zpool status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
    pub(crate) fn from_section(word: &str) -> Option<Self> {
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

/// One pool row of `zpool list`. Sizes are bytes; every column may be `-` (a FAULTED pool prints `-`
/// everywhere but its health), hence the options.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolSummary {
    pub name: String,
    pub size: Option<u64>,
    pub alloc: Option<u64>,
    pub free: Option<u64>,
    pub checkpoint: Option<u64>,
    pub expandsz: Option<u64>,
    pub frag_percent: Option<u32>,
    pub cap_percent: Option<u32>,
    pub dedup_ratio: Option<f64>,
    pub health: VdevState,
    pub altroot: Option<String>,
    /// The vdev rows of `zpool list -v`, in output order (empty without `-v`).
    pub vdevs: Vec<ListVdev>,
}

/// One vdev row of `zpool list -v`. Rows print fewer columns than pools (the trailing ones are left
/// out), so everything is optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListVdev {
    pub name: String,
    /// 1 for a top-level vdev, 2 for its children, ...
    pub depth: usize,
    /// The `logs`/`cache`/`spares`/... group it is listed under, if any.
    pub class: Option<VdevClass>,
    pub size: Option<u64>,
    pub alloc: Option<u64>,
    pub free: Option<u64>,
    pub expandsz: Option<u64>,
    pub frag_percent: Option<u32>,
    pub cap_percent: Option<u32>,
    pub health: Option<VdevState>,
}

/// The state of the last or current scrub/resilver, decoded from the `scan:` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Scan {
    /// `none requested`, or no `scan:` line at all (a pool never scrubbed).
    None,
    InProgress(ScanProgress),
    Paused(ScanProgress),
    Finished(ScanFinished),
    Canceled {
        function: ScanFunction,
        at: Option<ScanTime>,
    },
    /// A layout this parser does not know, kept verbatim.
    Other {
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ScanFunction {
    Scrub,
    Resilver,
    /// `zpool scrub -e` (OpenZFS >= 2.2): scrubs only blocks in the error log.
    ErrorScrub,
}

/// A scrub or resilver under way. All amounts are bytes; rates bytes per second.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ScanProgress {
    pub function: Option<ScanFunction>,
    pub since: Option<ScanTime>,
    pub scanned: Option<u64>,
    pub issued: Option<u64>,
    pub total: Option<u64>,
    pub scan_rate: Option<u64>,
    pub issue_rate: Option<u64>,
    /// `repaired` for a scrub, `resilvered` for a resilver.
    pub repaired: Option<u64>,
    pub percent_done: Option<f64>,
    /// `00:03:21 to go` → `00:03:21`; `None` with `no estimated completion time`.
    pub eta: Option<String>,
    pub eta_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ScanFinished {
    pub function: ScanFunction,
    /// Bytes repaired (scrub) or resilvered.
    pub repaired: Option<u64>,
    /// As printed: `00:15:42`, `14h7m`, `1 days 02:55:32`.
    pub duration: Option<String>,
    pub duration_secs: Option<u64>,
    pub errors: u64,
    pub ended: Option<ScanTime>,
}

/// A time printed by `zpool status`. The text form is local time in ctime layout
/// (`Sun Feb 11 04:00:01 2024`), decoded into `local`; `--json-int` gives Unix seconds in `unix`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ScanTime {
    pub text: String,
    pub local: Option<CivilTime>,
    pub unix: Option<i64>,
}

/// A wall-clock time without zone (the host's local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CivilTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl CivilTime {
    /// Seconds since the epoch if this wall time were UTC; subtract the host's UTC offset to get the
    /// real instant.
    pub fn unix_as_if_utc(&self) -> i64 {
        let days = crate::civil::days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }
}
