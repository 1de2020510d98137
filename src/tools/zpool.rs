//! OpenZFS pools: `zpool list -H -p` (capacity per pool), `zpool status` (text: health, scan progress and
//! the full vdev tree) and, on OpenZFS >= 2.3, `zpool status -j --json-int` (the same as JSON). The text
//! layout follows `print_status_config()`/`print_scan_status()` in OpenZFS's cmd/zpool/zpool_main.c; the
//! quirks handled here were all seen in the recorded outputs under `tests/fixtures/upstream/zpool/` (their
//! README names each source). Parsers are pure; the readers at the top are thin wrappers over [`Host`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::host::{Host, ToolError};

// ---------------------------------------------------------------------------------------------------
// argv and readers
// ---------------------------------------------------------------------------------------------------

/// `zpool list -H -p`: tab separated, no header, exact byte counts (DESIGN.md §3.5).
pub const LIST_ARGV: &[&str] = &["zpool", "list", "-H", "-p"];
/// `zpool status`: the text form every OpenZFS version prints.
pub const STATUS_ARGV: &[&str] = &["zpool", "status"];
/// `zpool status -j --json-int` (OpenZFS >= 2.3): numbers and times as JSON integers.
pub const STATUS_JSON_ARGV: &[&str] = &["zpool", "status", "-j", "--json-int"];

/// Which form of `zpool status` this host understands; a caller learns it once from [`status_best`]
/// and passes it back so that an old `zpool` is not asked for JSON every cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFormat {
    Json,
    Text,
}

pub async fn list(host: &Host) -> Result<Vec<PoolSummary>, ToolError> {
    parse_list(&host.run_ok(LIST_ARGV).await?)
}

pub async fn status(host: &Host) -> Result<Vec<PoolStatus>, ToolError> {
    parse_status(&host.run_ok(STATUS_ARGV).await?)
}

pub async fn status_json(host: &Host) -> Result<Vec<PoolStatus>, ToolError> {
    parse_status_json(&host.run_ok(STATUS_JSON_ARGV).await?)
}

/// True when `zpool` rejected `-j`: OpenZFS < 2.3 prints `invalid option 'j'` and the usage on stderr
/// and exits 2 (as recorded in scenarios/demo/manifest.toml).
pub fn json_unsupported(err: &ToolError) -> bool {
    match err {
        ToolError::Failed { stderr, .. } => {
            stderr.contains("invalid option") || stderr.contains("unrecognized option")
        }
        _ => false,
    }
}

/// Runs `zpool status` in the best form this host supports. With `known: None` it tries JSON first and
/// falls back to text when the option is rejected; the returned [`StatusFormat`] tells the caller which
/// one worked, to pass as `known` next time.
pub async fn status_best(
    host: &Host,
    known: Option<StatusFormat>,
) -> Result<(StatusFormat, Vec<PoolStatus>), ToolError> {
    if known != Some(StatusFormat::Text) {
        match status_json(host).await {
            Ok(pools) => return Ok((StatusFormat::Json, pools)),
            Err(e) if json_unsupported(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((StatusFormat::Text, status(host).await?))
}

// ---------------------------------------------------------------------------------------------------
// shared types
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// zpool list
// ---------------------------------------------------------------------------------------------------

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

/// Column names of `zpool list` in the two layouts seen: with `CKPOINT` (OpenZFS >= 0.8, 11 columns)
/// and without (older releases and the man pages' examples, 10 columns).
const LIST_COLS_11: [&str; 11] =
    ["NAME", "SIZE", "ALLOC", "FREE", "CKPOINT", "EXPANDSZ", "FRAG", "CAP", "DEDUP", "HEALTH", "ALTROOT"];
const LIST_COLS_10: [&str; 10] =
    ["NAME", "SIZE", "ALLOC", "FREE", "EXPANDSZ", "FRAG", "CAP", "DEDUP", "HEALTH", "ALTROOT"];

/// Parses `zpool list` with or without `-H`, `-p` and `-v`. With a header line the columns come from it;
/// without (`-H`) they are inferred from the pool row's field count.
pub fn parse_list(text: &str) -> Result<Vec<PoolSummary>, ToolError> {
    const WHAT: &str = "zpool list";
    let mut header: Option<Vec<String>> = None;
    let mut pools: Vec<PoolSummary> = Vec::new();
    let mut class: Option<VdevClass> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields = list_fields(line);
        let Some(first) = fields.first().copied() else { continue };
        if first == "NAME" && header.is_none() && pools.is_empty() {
            header = Some(fields.iter().map(|f| f.to_string()).collect());
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        // `-v` prints the allocation classes as pseudo-rows (`logs`, `cache`, ...) with `-` columns
        // (netdata's zpool-list-vdev-logs-cache.txt); PVE's own fixture spells them `log`/`cache`.
        if let (false, Some(c)) = (indented, VdevClass::from_section(first)) {
            if pools.is_empty() {
                return Err(ToolError::parse(WHAT, n, line, "a vdev group before any pool"));
            }
            class = Some(c);
            continue;
        }
        let cols: Vec<&str> = match &header {
            Some(h) => h.iter().map(String::as_str).collect(),
            None if indented => {
                // Vdev rows follow the pool row's layout; guess from the pool's checkpoint column.
                match pools.last() {
                    Some(p) if p.checkpoint.is_some() || fields.len() >= 10 => LIST_COLS_11.to_vec(),
                    _ => LIST_COLS_10.to_vec(),
                }
            }
            None => match fields.len() {
                11 => LIST_COLS_11.to_vec(),
                10 => LIST_COLS_10.to_vec(),
                k => {
                    return Err(ToolError::parse(
                        WHAT,
                        n,
                        line,
                        format!("expected 10 or 11 columns without a header, found {k}"),
                    ));
                }
            },
        };
        let get = |name: &str| -> Option<&str> {
            cols.iter().position(|c| *c == name).and_then(|ix| fields.get(ix).copied())
        };
        let size = |name: &str| -> Result<Option<u64>, ToolError> {
            match get(name) {
                None | Some("-") => Ok(None),
                Some(v) => parse_size(v)
                    .map(Some)
                    .ok_or_else(|| ToolError::parse(WHAT, n, line, format!("{name} `{v}` is not a size"))),
            }
        };
        let pct = |name: &str| -> Result<Option<u32>, ToolError> {
            match get(name) {
                None | Some("-") => Ok(None),
                Some(v) => v.trim_end_matches('%').parse().map(Some).map_err(|_| {
                    ToolError::parse(WHAT, n, line, format!("{name} `{v}` is not a percentage"))
                }),
            }
        };
        if indented {
            let Some(pool) = pools.last_mut() else {
                return Err(ToolError::parse(WHAT, n, line, "a vdev row before any pool"));
            };
            pool.vdevs.push(ListVdev {
                name: first.to_string(),
                depth: list_depth(line),
                class,
                size: size("SIZE")?,
                alloc: size("ALLOC")?,
                free: size("FREE")?,
                expandsz: size("EXPANDSZ")?,
                frag_percent: pct("FRAG")?,
                cap_percent: pct("CAP")?,
                health: get("HEALTH").filter(|h| *h != "-").map(VdevState::parse),
            });
            continue;
        }
        class = None;
        let dedup_ratio = match get("DEDUP") {
            None | Some("-") => None,
            Some(v) => Some(
                v.trim_end_matches('x')
                    .parse::<f64>()
                    .map_err(|_| ToolError::parse(WHAT, n, line, format!("DEDUP `{v}` is not a ratio")))?,
            ),
        };
        let Some(health) = get("HEALTH") else {
            return Err(ToolError::parse(WHAT, n, line, "no HEALTH column"));
        };
        pools.push(PoolSummary {
            name: first.to_string(),
            size: size("SIZE")?,
            alloc: size("ALLOC")?,
            free: size("FREE")?,
            checkpoint: size("CKPOINT")?,
            expandsz: size("EXPANDSZ")?,
            frag_percent: pct("FRAG")?,
            cap_percent: pct("CAP")?,
            dedup_ratio,
            health: VdevState::parse(health),
            altroot: get("ALTROOT").filter(|a| *a != "-").map(str::to_string),
            vdevs: Vec::new(),
        });
    }
    Ok(pools)
}

/// `-H` separates fields by one TAB (and a vdev row starts with one); otherwise columns are padded
/// with spaces. PVE's `zpool list -HPLv` fixture mixes both on its group rows, so whitespace is the
/// safe separator either way (no column value contains blanks).
fn list_fields(line: &str) -> Vec<&str> {
    line.split_ascii_whitespace().collect()
}

/// Depth of a `-v` vdev row: 2 spaces per level without `-H`; with `-H` a TAB for the first level
/// (PVE's fixture) and, below it, 2 more spaces per level.
fn list_depth(line: &str) -> usize {
    let cols = indent_columns(line);
    if line.starts_with('\t') { 1 + cols.saturating_sub(8) / 2 } else { (cols / 2).max(1) }
}

// ---------------------------------------------------------------------------------------------------
// zpool status: types
// ---------------------------------------------------------------------------------------------------

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
    fn from_section(word: &str) -> Option<Self> {
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

/// The state of the last or current scrub/resilver, decoded from the `scan:` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[serde(rename_all = "snake_case")]
pub enum ScanFunction {
    Scrub,
    Resilver,
    /// `zpool scrub -e` (OpenZFS >= 2.2): scrubs only blocks in the error log.
    ErrorScrub,
}

/// A scrub or resilver under way. All amounts are bytes; rates bytes per second.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
pub struct ScanTime {
    pub text: String,
    pub local: Option<CivilTime>,
    pub unix: Option<i64>,
}

/// A wall-clock time without zone (the host's local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

impl ScanTime {
    fn from_text(text: &str) -> Self {
        let text = text.trim().to_string();
        ScanTime { local: parse_ctime(&text), unix: None, text }
    }
}

// ---------------------------------------------------------------------------------------------------
// zpool status: text parser
// ---------------------------------------------------------------------------------------------------

const WHAT_STATUS: &str = "zpool status";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Continuation lines belong to the last header.
    Text,
    /// After `config:`, waiting for the `NAME STATE ...` line.
    Config,
    /// Inside the vdev table; the value is the NAME column's indent.
    Table(usize),
    /// After `errors:`, indented lines are file names.
    Errors,
}

struct PoolBuilder {
    name: String,
    first_line: usize,
    state: Option<VdevState>,
    texts: Vec<(String, String, usize)>,
    /// Top-level rows of the config table (depth 0: the pool, then group headers), with their trees.
    stack: Vec<(usize, Vdev)>,
    done: Vec<Vdev>,
    errors: Option<DataErrors>,
}

impl PoolBuilder {
    fn attach(&mut self, node: Vdev) {
        match self.stack.last_mut() {
            Some((_, parent)) => parent.children.push(node),
            None => self.done.push(node),
        }
    }

    /// Pops every open node at `depth` or deeper.
    fn close_to(&mut self, depth: usize) {
        while self.stack.last().is_some_and(|(d, _)| *d >= depth) {
            if let Some((_, node)) = self.stack.pop() {
                self.attach(node);
            }
        }
    }

    fn finish(mut self, text_lines: &[&str]) -> Result<PoolStatus, ToolError> {
        self.close_to(0);
        let Some(state) = self.state else {
            let line = text_lines.get(self.first_line - 1).copied().unwrap_or("");
            return Err(ToolError::parse(WHAT_STATUS, self.first_line, line, "pool without a `state:` line"));
        };
        let mut status = None;
        let mut action = None;
        let mut see = None;
        let mut scan = Scan::None;
        for (key, value, _) in &self.texts {
            match key.as_str() {
                "status" => status = Some(value.clone()),
                "action" => action = Some(value.clone()),
                "see" => see = Some(value.clone()),
                // Old releases print ` scrub:` (ZFS-8000 message pages). Two scan lines can occur;
                // an operation in progress wins over a finished one.
                "scan" | "scrub" => {
                    let s = decode_scan(value);
                    if matches!(scan, Scan::None) || matches!(s, Scan::InProgress(_) | Scan::Paused(_)) {
                        scan = s;
                    }
                }
                _ => {}
            }
        }
        let mut root = None;
        let mut sections = Vec::new();
        for node in self.done {
            match VdevClass::from_section(&node.name) {
                Some(class) if root.is_some() => sections.push(VdevSection {
                    class,
                    state: node.state,
                    errors: node.errors,
                    note: node.note,
                    vdevs: node.children,
                }),
                _ if root.is_none() => root = Some(Vdev { kind: VdevKind::Root, ..node }),
                _ => {}
            }
        }
        Ok(PoolStatus {
            name: self.name,
            state,
            status,
            action,
            see,
            scan,
            root,
            sections,
            errors: self.errors,
        })
    }
}

/// Recognizes a header line: `  pool: x`, ` state: x`, `   see: x`, `config:`. Headers are right
/// aligned to the colon with a few spaces, never a TAB, so vdev and continuation lines (TAB or 8 spaces)
/// never match.
fn header(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 6 || trimmed.starts_with('\t') {
        return None;
    }
    let (key, rest) = trimmed.split_once(':')?;
    if key.is_empty() || !key.bytes().all(|c| c.is_ascii_lowercase() || c == b' ') {
        return None;
    }
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, rest.trim()))
}

/// Indentation width with TABs at 8 columns (zpool prints `\t` + 2 spaces per level; the RST docs
/// print 8 spaces + 2 per level).
fn indent_columns(line: &str) -> usize {
    let mut col = 0;
    for c in line.chars() {
        match c {
            '\t' => col = (col / 8 + 1) * 8,
            ' ' => col += 1,
            _ => break,
        }
    }
    col
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// Parses the text form of `zpool status` (one or more pools one after another).
pub fn parse_status(text: &str) -> Result<Vec<PoolStatus>, ToolError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut pools = Vec::new();
    let mut cur: Option<PoolBuilder> = None;
    let mut mode = Mode::Text;
    let mut in_spares = false;
    for (i, &line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            if matches!(mode, Mode::Table(_)) {
                mode = Mode::Text;
            }
            continue;
        }
        if let Some((key, rest)) = header(line) {
            if key == "pool" {
                if let Some(p) = cur.take() {
                    pools.push(p.finish(&lines)?);
                }
                cur = Some(PoolBuilder {
                    name: rest.to_string(),
                    first_line: n,
                    state: None,
                    texts: Vec::new(),
                    stack: Vec::new(),
                    done: Vec::new(),
                    errors: None,
                });
                mode = Mode::Text;
                continue;
            }
            let Some(p) = cur.as_mut() else {
                return Err(ToolError::parse(WHAT_STATUS, n, line, format!("`{key}:` before any `pool:`")));
            };
            match key {
                "state" => {
                    p.state = Some(VdevState::parse(rest));
                    mode = Mode::Text;
                }
                "config" => mode = Mode::Config,
                "errors" => {
                    let errors = p.errors.get_or_insert_with(DataErrors::default);
                    errors.messages.push(rest.to_string());
                    if rest.starts_with("No known data errors") {
                        errors.count = Some(0);
                    } else if let Some(num) = rest.strip_suffix(" data errors, use '-v' for a list") {
                        errors.count = Some(num.trim().parse().map_err(|_| {
                            ToolError::parse(WHAT_STATUS, n, line, format!("`{num}` is not a count"))
                        })?);
                    }
                    mode = Mode::Errors;
                }
                _ => {
                    p.texts.push((key.to_string(), rest.to_string(), n));
                    mode = Mode::Text;
                }
            }
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let Some(p) = cur.as_mut() else {
            // Before the first pool: `no pools available`, a `-T` timestamp and the like.
            continue;
        };
        if !indented {
            return Err(ToolError::parse(WHAT_STATUS, n, line, "unexpected unindented line"));
        }
        match mode {
            Mode::Text => match p.texts.last_mut() {
                Some((key, value, _)) => {
                    let sep = if key == "scan" || key == "scrub" { "\n" } else { " " };
                    if !value.is_empty() {
                        value.push_str(sep);
                    }
                    value.push_str(line.trim());
                }
                None => return Err(ToolError::parse(WHAT_STATUS, n, line, "continuation of no header")),
            },
            Mode::Config => {
                if line.trim_start().starts_with("NAME") {
                    mode = Mode::Table(indent_columns(line));
                    in_spares = false;
                } else {
                    return Err(ToolError::parse(
                        WHAT_STATUS,
                        n,
                        line,
                        "expected the `NAME STATE ...` header",
                    ));
                }
            }
            Mode::Table(base) => {
                let toks = tokens(line);
                let Some(&(_, name)) = toks.first() else { continue };
                let mut depth = indent_columns(line).saturating_sub(base) / 2;
                let have_root = !p.done.is_empty() || p.stack.first().is_some_and(|(d, _)| *d == 0);
                let is_section = depth == 0 && have_root && VdevClass::from_section(name).is_some();
                if depth == 0 && have_root && !is_section {
                    // The dRAID Howto's RST block shifts one spare row left of its group header; a
                    // second depth-0 row that is no group header can only be a group member.
                    depth = 1;
                }
                if is_section {
                    in_spares = name == "spares";
                }
                let (state, errors, note) = vdev_columns(&toks, line, n, in_spares && !is_section)?;
                p.close_to(depth);
                p.stack.push((
                    depth,
                    Vdev {
                        name: name.to_string(),
                        kind: VdevKind::classify(name),
                        state,
                        errors,
                        note,
                        children: Vec::new(),
                    },
                ));
            }
            Mode::Errors => {
                let errors = p.errors.get_or_insert_with(DataErrors::default);
                errors.files.push(line.trim().to_string());
                errors.count = Some(errors.files.len() as u64);
            }
        }
    }
    if let Some(p) = cur.take() {
        pools.push(p.finish(&lines)?);
    }
    if pools.is_empty() {
        let first = lines.iter().position(|l| !l.trim().is_empty());
        if let Some(ix) = first {
            let l = lines[ix].trim();
            if l != "no pools available" && l != "all pools are healthy" {
                return Err(ToolError::parse(WHAT_STATUS, ix + 1, lines[ix], "no `pool:` line"));
            }
        }
    }
    Ok(pools)
}

type VdevColumns = (Option<VdevState>, Option<ErrorCounts>, Option<String>);

/// STATE, READ, WRITE, CKSUM and the trailing note of one config row. Spare rows have no counters:
/// `draid1-0-0  INUSE  currently in use`.
fn vdev_columns(toks: &[(usize, &str)], line: &str, n: usize, spare: bool) -> Result<VdevColumns, ToolError> {
    let Some(&(_, state)) = toks.get(1) else { return Ok((None, None, None)) };
    let state = Some(VdevState::parse(state));
    let note_from = |ix: usize| toks.get(ix).map(|&(off, _)| line[off..].trim().to_string());
    if spare {
        return Ok((state, None, note_from(2)));
    }
    if toks.len() < 5 {
        if toks.len() == 2 {
            return Ok((state, None, None));
        }
        return Err(ToolError::parse(WHAT_STATUS, n, line, "expected READ, WRITE and CKSUM counters"));
    }
    let mut c = [0u64; 3];
    for (k, slot) in c.iter_mut().enumerate() {
        let (_, tok) = toks[2 + k];
        *slot = parse_count(tok).ok_or_else(|| {
            let col = ["READ", "WRITE", "CKSUM"][k];
            ToolError::parse(WHAT_STATUS, n, line, format!("{col} counter `{tok}` is not a number"))
        })?;
    }
    Ok((state, Some(ErrorCounts { read: c[0], write: c[1], checksum: c[2] }), note_from(5)))
}

/// Decodes the `scan:` text (first line and continuation lines joined by `\n`). Layouts per
/// `print_scan_scrub_resilver_status()` across releases:
///
/// * `scrub repaired 0B in 00:15:42 with 0 errors on Sun Feb 11 04:00:01 2024`
/// * `resilvered 21K in 00:00:00 with 0 errors on ...`
/// * `scrub canceled on Sun Jan 18 12:18:11 2026`
/// * `scrub in progress since ...` + `704G / 1.66T scanned at 5.67G/s, 0B / 1.66T issued` (2.2+) or
///   `6.13T scanned at 7.82G/s, 6.10T issued at 7.78G/s, 6.13T total` (0.8–2.1) or
///   `626G scanned out of 1.75T at 122M/s, 2h43m to go` (0.7) + `0B repaired, 0.00% done, ...`
/// * `resilver (draid1:4d:11c:1s-0) in progress since ...` (sequential dRAID resilver)
/// * `scrub: resilver in progress, 0.14% done, 0h0m to go` (Solaris-era, ZFS-8000-9P)
/// * `scrub paused since ...`, `none requested`
pub fn decode_scan(text: &str) -> Scan {
    let text = text.trim();
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() || first == "none requested" {
        return Scan::None;
    }
    let (function, rest) = if let Some(r) = first.strip_prefix("error scrub") {
        (ScanFunction::ErrorScrub, r.trim_start())
    } else if let Some(r) = first.strip_prefix("scrub") {
        (ScanFunction::Scrub, r.trim_start())
    } else if let Some(r) = first.strip_prefix("resilvered") {
        // `resilvered 21K in ...`: the verb doubles as the amount's label.
        (ScanFunction::Resilver, r.trim_start())
    } else if let Some(r) = first.strip_prefix("resilver") {
        (ScanFunction::Resilver, r.trim_start())
    } else {
        return Scan::Other { text: text.to_string() };
    };
    // `resilver (draid1:4d:11c:1s-0) in progress`: the vdev being sequentially rebuilt.
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')').map(|(_, after)| after.trim_start()).unwrap_or(r),
        None => rest,
    };
    if let Some(r) = rest.strip_prefix("in progress").or_else(|| rest.strip_prefix("paused")) {
        let paused = rest.starts_with("paused");
        let mut p = ScanProgress { function: Some(function), ..Default::default() };
        let mut segments: Vec<&str> = Vec::new();
        if let Some(since) = r.trim_start().strip_prefix("since ") {
            p.since = Some(ScanTime::from_text(since));
        } else {
            segments.extend(r.split(','));
        }
        for l in text.lines().skip(1) {
            segments.extend(l.split(','));
        }
        for seg in segments {
            progress_segment(seg.trim(), &mut p);
        }
        return if paused { Scan::Paused(p) } else { Scan::InProgress(p) };
    }
    if let Some(at) = rest.strip_prefix("canceled on ") {
        return Scan::Canceled { function, at: Some(ScanTime::from_text(at)) };
    }
    // `repaired 0B in 00:15:42 with 0 errors on <date>` (scrub) or `21K in ... on <date>` (resilver);
    // Solaris: `completed after 0h0m with 0 errors on <date>`.
    let rest = rest.strip_prefix("repaired ").unwrap_or(rest);
    let (amount, after) = match rest.strip_prefix("completed after ") {
        Some(r) => (None, r),
        None => match rest.split_once(" in ") {
            Some((a, r)) => (Some(a.trim()), r),
            None => return Scan::Other { text: text.to_string() },
        },
    };
    let Some((duration, after)) = after.split_once(" with ") else {
        return Scan::Other { text: text.to_string() };
    };
    let Some((errors, ended)) = after.split_once(" errors on ") else {
        return Scan::Other { text: text.to_string() };
    };
    let Ok(errors) = errors.trim().parse::<u64>() else {
        return Scan::Other { text: text.to_string() };
    };
    Scan::Finished(ScanFinished {
        function,
        repaired: amount.and_then(parse_size),
        duration: Some(duration.trim().to_string()),
        duration_secs: parse_duration(duration),
        errors,
        ended: Some(ScanTime::from_text(ended)),
    })
}

fn progress_segment(seg: &str, p: &mut ScanProgress) {
    let size_rate = |s: &str| s.trim().strip_suffix("/s").and_then(parse_size);
    if let Some(eta) = seg.strip_suffix(" to go") {
        // 0.7 packs the ETA into the scanned segment: `626G scanned out of 1.75T at 122M/s, 2h43m to go`.
        p.eta = Some(eta.trim().to_string());
        p.eta_secs = parse_duration(eta);
    } else if seg == "no estimated completion time" {
        p.eta = None;
    } else if let Some(pct) = seg.strip_suffix("% done") {
        p.percent_done = pct.trim().parse().ok();
    } else if let Some(a) = seg.strip_suffix(" repaired").or_else(|| seg.strip_suffix(" resilvered")) {
        p.repaired = parse_size(a.trim());
    } else if let Some(t) = seg.strip_suffix(" total") {
        p.total = parse_size(t.trim());
    } else if let Some((amount, after)) = seg.split_once(" scanned") {
        // `704G / 1.66T scanned at 5.67G/s` | `6.13T scanned at 7.82G/s` |
        // `626G scanned out of 1.75T at 122M/s`
        let (done, total) = amount.split_once('/').map_or((amount, None), |(d, t)| (d, Some(t)));
        p.scanned = parse_size(done.trim());
        if let Some(t) = total {
            p.total = parse_size(t.trim()).or(p.total);
        }
        let after = after.trim();
        let after = match after.strip_prefix("out of ") {
            Some(r) => {
                let (t, r) = r.split_once(' ').unwrap_or((r, ""));
                p.total = parse_size(t).or(p.total);
                r.trim()
            }
            None => after,
        };
        if let Some(rate) = after.strip_prefix("at ") {
            p.scan_rate = size_rate(rate);
        }
    } else if let Some((amount, after)) = seg.split_once(" issued") {
        // `0B / 1.66T issued` | `6.10T issued at 7.78G/s` | `1.59T issued 6.07G/s` (dRAID Howto)
        let (done, total) = amount.split_once('/').map_or((amount, None), |(d, t)| (d, Some(t)));
        p.issued = parse_size(done.trim());
        if let Some(t) = total {
            p.total = parse_size(t.trim()).or(p.total);
        }
        let after = after.trim();
        let rate = after.strip_prefix("at ").unwrap_or(after);
        if !rate.is_empty() {
            p.issue_rate = size_rate(rate);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// zpool status -j
// ---------------------------------------------------------------------------------------------------

/// A JSON object kept in document order (serde_json's `Map` sorts keys unless `preserve_order` is on,
/// and vdev order matters on screen).
#[derive(Debug)]
struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    v.push(entry);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct JsonStatus {
    pools: Ordered<JsonPool>,
}

#[derive(Deserialize)]
struct JsonPool {
    name: Option<String>,
    state: Option<String>,
    status: Option<String>,
    action: Option<String>,
    moreinfo: Option<String>,
    scan_stats: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    vdevs: Ordered<JsonVdev>,
    logs: Option<Ordered<JsonVdev>>,
    l2cache: Option<Ordered<JsonVdev>>,
    spares: Option<Ordered<JsonVdev>>,
    special: Option<Ordered<JsonVdev>>,
    dedup: Option<Ordered<JsonVdev>>,
    error_count: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct JsonVdev {
    name: Option<String>,
    vdev_type: Option<String>,
    state: Option<String>,
    read_errors: Option<serde_json::Value>,
    write_errors: Option<serde_json::Value>,
    checksum_errors: Option<serde_json::Value>,
    #[serde(default)]
    vdevs: Ordered<JsonVdev>,
}

/// A JSON number, or a string holding a number (`-j` without `--json-int`), possibly abbreviated
/// (`62.6G`: sizes are human units unless `-p`).
fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        serde_json::Value::String(s) => parse_size(s),
        _ => None,
    }
}

fn json_vdev(key: &str, v: JsonVdev, root: bool) -> Vdev {
    let name = v.name.unwrap_or_else(|| key.to_string());
    let mut kind = if root { VdevKind::Root } else { VdevKind::classify(&name) };
    if kind == VdevKind::Device {
        // Names such as `mirror-2` classify themselves; `vdev_type` covers what names do not.
        kind = match v.vdev_type.as_deref() {
            Some("mirror") => VdevKind::Mirror,
            Some("spare") => VdevKind::Spare,
            Some("replacing") => VdevKind::Replacing,
            Some("dspare") => VdevKind::DraidSpare,
            Some("indirect") => VdevKind::Indirect,
            _ => VdevKind::Device,
        };
    }
    let counters =
        [&v.read_errors, &v.write_errors, &v.checksum_errors].map(|c| c.as_ref().and_then(json_u64));
    let errors = match counters {
        [None, None, None] => None,
        [r, w, c] => {
            Some(ErrorCounts { read: r.unwrap_or(0), write: w.unwrap_or(0), checksum: c.unwrap_or(0) })
        }
    };
    Vdev {
        name,
        kind,
        state: v.state.as_deref().map(VdevState::parse),
        errors,
        note: None,
        children: v.vdevs.0.into_iter().map(|(k, c)| json_vdev(&k, c, false)).collect(),
    }
}

fn json_time(v: Option<&serde_json::Value>) -> Option<ScanTime> {
    match v? {
        serde_json::Value::Number(n) => {
            let unix = n.as_i64()?;
            (unix > 0).then(|| ScanTime { text: unix.to_string(), local: None, unix: Some(unix) })
        }
        serde_json::Value::String(s) if !s.is_empty() && s != "-" => Some(ScanTime::from_text(s)),
        _ => None,
    }
}

/// `scan_stats` keys per `scan_status_nvlist()` (zpool_main.c, 2.3): `function` NONE/SCRUB/RESILVER/
/// ERRORSCRUB, `state` NONE/SCANNING/FINISHED/CANCELED/ERRORSCRUBBING, byte counters and times.
fn json_scan(m: &serde_json::Map<String, serde_json::Value>) -> Scan {
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let num = |k: &str| m.get(k).and_then(json_u64);
    let function = match s("function") {
        "SCRUB" => ScanFunction::Scrub,
        "RESILVER" => ScanFunction::Resilver,
        "ERRORSCRUB" => ScanFunction::ErrorScrub,
        _ => return Scan::None,
    };
    let start = json_time(m.get("start_time"));
    let end = json_time(m.get("end_time"));
    match s("state") {
        "SCANNING" | "ERRORSCRUBBING" => {
            let issued = num("issued");
            let total = num("to_examine");
            let percent_done = match (issued, total) {
                (Some(i), Some(t)) if t > 0 => Some((i as f64 * 10_000.0 / t as f64).round() / 100.0),
                _ => None,
            };
            let p = ScanProgress {
                function: Some(function),
                since: start,
                scanned: num("examined"),
                issued,
                total,
                repaired: num("processed"),
                percent_done,
                ..Default::default()
            };
            if num("scrub_pause").unwrap_or(0) > 0 { Scan::Paused(p) } else { Scan::InProgress(p) }
        }
        "FINISHED" => {
            let duration_secs = match (&start, &end) {
                (Some(ScanTime { unix: Some(a), .. }), Some(ScanTime { unix: Some(b), .. })) if b >= a => {
                    Some((b - a) as u64)
                }
                _ => None,
            };
            Scan::Finished(ScanFinished {
                function,
                repaired: num("processed"),
                duration: None,
                duration_secs,
                errors: num("errors").unwrap_or(0),
                ended: end,
            })
        }
        "CANCELED" => Scan::Canceled { function, at: end },
        other => Scan::Other { text: format!("{function:?} {other}") },
    }
}

/// Parses `zpool status -j [--json-int]` (OpenZFS >= 2.3) into the same types as [`parse_status`].
/// The JSON has no trailing notes and no `errors:` file list; `error_count` gives the count.
pub fn parse_status_json(text: &str) -> Result<Vec<PoolStatus>, ToolError> {
    let doc: JsonStatus = serde_json::from_str(text).map_err(|e| {
        let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
        ToolError::parse("zpool status -j", e.line(), line, e.to_string())
    })?;
    let mut pools = Vec::new();
    for (key, p) in doc.pools.0 {
        let name = p.name.unwrap_or(key);
        let mut root = None;
        for (k, v) in p.vdevs.0 {
            if root.is_none() {
                root = Some(json_vdev(&k, v, true));
            }
        }
        let mut sections = Vec::new();
        for (class, group) in [
            (VdevClass::Special, p.special),
            (VdevClass::Dedup, p.dedup),
            (VdevClass::Logs, p.logs),
            (VdevClass::Cache, p.l2cache),
            (VdevClass::Spares, p.spares),
        ] {
            if let Some(g) = group {
                let vdevs = g.0.into_iter().map(|(k, v)| json_vdev(&k, v, false)).collect();
                sections.push(VdevSection { class, state: None, errors: None, note: None, vdevs });
            }
        }
        let state = VdevState::parse(p.state.as_deref().unwrap_or("UNKNOWN"));
        pools.push(PoolStatus {
            name,
            state,
            // The man page example prints `"status": "OK"` for a healthy pool where the text form
            // prints no `status:` line at all; keep the two forms alike.
            status: p.status.filter(|s| s != "OK").map(|s| collapse_ws(&s)),
            action: p.action.map(|s| collapse_ws(&s)),
            see: p.moreinfo,
            scan: p.scan_stats.as_ref().map_or(Scan::None, json_scan),
            root,
            sections,
            errors: p
                .error_count
                .as_ref()
                .and_then(json_u64)
                .map(|c| DataErrors { count: Some(c), ..Default::default() }),
        });
    }
    Ok(pools)
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------------
// number helpers
// ---------------------------------------------------------------------------------------------------

/// `21K`, `1.66T`, `0B`, `58.5K`, `1916279144448` → bytes. ZFS's `zfs_nicenum()` uses powers of 1024
/// and one-letter suffixes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix("iB").or_else(|| s.strip_suffix('B')).unwrap_or(s);
    if s.is_empty() {
        // `0B` stripped of its unit.
        return None;
    }
    let (num, mult) = match s.as_bytes()[s.len() - 1] {
        b'K' | b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        b'T' => (&s[..s.len() - 1], 1 << 40),
        b'P' => (&s[..s.len() - 1], 1 << 50),
        b'E' => (&s[..s.len() - 1], 1 << 60),
        _ => (s, 1),
    };
    if let Ok(v) = num.parse::<u64>() {
        return v.checked_mul(mult);
    }
    let f: f64 = num.parse().ok()?;
    (f.is_finite() && f >= 0.0).then(|| (f * mult as f64).round() as u64)
}

/// An error counter: `0`, `100980`, `1.88K`, `13.4M`.
fn parse_count(s: &str) -> Option<u64> {
    if !s.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    parse_size(s).or_else(|| (s == "0B").then_some(0))
}

/// `00:15:42`, `14h7m`, `1 days 02:55:32`, `0h0m`, `00:00:04` → seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let mut total = 0u64;
    let mut rest = s;
    if let Some((d, r)) = s.split_once(" days ").or_else(|| s.split_once(" day ")) {
        total += d.trim().parse::<u64>().ok()? * 86_400;
        rest = r.trim();
    }
    if rest.contains(':') {
        let parts: Vec<u64> = rest.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        let secs = match parts.as_slice() {
            [h, m, s] => h * 3600 + m * 60 + s,
            [m, s] => m * 60 + s,
            _ => return None,
        };
        return Some(total + secs);
    }
    // `14h7m`, `0h0m`, `1h18m`.
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let v: u64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'd' => v * 86_400,
            'h' => v * 3600,
            'm' => v * 60,
            's' => v,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

/// `Sun Feb 11 04:00:01 2024` (ctime) and `Wed Jan  7 02:35:05 AM PST 2026` (the `%c`-like string of
/// `zpool status -j` without `--json-int`).
fn parse_ctime(s: &str) -> Option<CivilTime> {
    use crate::civil::MONTHS;
    let toks: Vec<&str> = s.split_whitespace().collect();
    let mi = toks.iter().position(|t| MONTHS.contains(t))?;
    let month = MONTHS.iter().position(|m| *m == toks[mi])? as u32 + 1;
    let day: u32 = toks.get(mi + 1)?.parse().ok()?;
    let hms: Vec<u32> = toks.get(mi + 2)?.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let &[mut hour, minute, second] = hms.as_slice() else { return None };
    match toks.get(mi + 3).copied() {
        Some("PM") if hour < 12 => hour += 12,
        Some("AM") if hour == 12 => hour = 0,
        _ => {}
    }
    let year: i32 = toks.iter().rev().find_map(|t| (t.len() == 4).then(|| t.parse().ok()).flatten())?;
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(CivilTime { year, month, day, hour, minute, second })
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/zpool");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn status_of(name: &str) -> Vec<PoolStatus> {
        parse_status(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn one(name: &str) -> PoolStatus {
        let mut pools = status_of(name);
        assert_eq!(pools.len(), 1, "{name}");
        pools.remove(0)
    }

    fn leaf<'a>(p: &'a PoolStatus, name: &str) -> &'a Vdev {
        p.find(name).unwrap_or_else(|| panic!("no vdev {name} in {}", p.name))
    }

    fn errs(r: u64, w: u64, c: u64) -> Option<ErrorCounts> {
        Some(ErrorCounts { read: r, write: w, checksum: c })
    }

    #[test]
    fn every_fixture_parses() {
        let mut seen = 0;
        let mut dir: Vec<_> = std::fs::read_dir(FIXTURES).unwrap().map(|e| e.unwrap().path()).collect();
        dir.sort();
        for path in dir {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            if name.contains("zpool-status_-j") {
                let pools = parse_status_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!pools.is_empty(), "{name}");
            } else if name.contains("zpool-list") || name.contains("zpool_list") {
                if name.ends_with(".json") {
                    continue; // `zpool list -j` is not read by proxwatch (it uses -H -p).
                }
                let pools = parse_list(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!pools.is_empty(), "{name}");
            } else if name.ends_with(".txt") {
                let pools = parse_status(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!pools.is_empty(), "{name}");
                for p in &pools {
                    assert!(p.root.is_some(), "{name}: {} has no vdev tree", p.name);
                    assert!(!p.vdevs().is_empty(), "{name}");
                }
            } else {
                continue;
            }
            seen += 1;
        }
        assert!(seen >= 27, "only {seen} fixtures parsed");
    }

    #[test]
    fn degraded_pool_with_unavail_device() {
        let p = one("zse_01-corrupted.txt");
        assert_eq!((p.name.as_str(), &p.state), ("dummy", &VdevState::Degraded));
        assert_eq!(p.see.as_deref(), Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J"));
        assert!(p.status.as_deref().unwrap().contains("label is missing or invalid.  Sufficient"));
        let root = p.root.as_ref().unwrap();
        assert_eq!(root.kind, VdevKind::Root);
        assert_eq!(root.children.len(), 2);
        let m1 = &root.children[1];
        assert_eq!(
            (m1.name.as_str(), &m1.kind, &m1.state),
            ("mirror-1", &VdevKind::Mirror, &Some(VdevState::Degraded))
        );
        let loop3 = &m1.children[1];
        assert_eq!(loop3.state, Some(VdevState::Unavail));
        assert_eq!(loop3.note.as_deref(), Some("corrupted data"));
        assert_eq!(loop3.kind, VdevKind::Device);
        assert_eq!(p.data_errors(), 0);
        assert!(p.errors.is_none(), "zse_01 has no errors: line");
        let Scan::Finished(f) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (f.function, f.repaired, f.errors, f.duration_secs),
            (ScanFunction::Scrub, Some(0), 0, Some(0))
        );
        let ended = f.ended.as_ref().unwrap();
        assert_eq!(ended.text, "Sat Feb 10 20:34:42 2024");
        let local = ended.local.unwrap();
        assert_eq!((local.year, local.month, local.day, local.hour), (2024, 2, 10, 20));
        // zse_01's harness timestamp is 1707688498 (Sun Feb 11 21:54:58 UTC 2024).
        assert_eq!(local.unix_as_if_utc(), 1_707_597_282);

        // A leaf shown by GUID with its former path, and a huge checksum counter.
        let p = one("zse_07-unavail.txt");
        let g = leaf(&p, "12345678901234567890");
        assert_eq!((g.state.clone(), g.errors), (Some(VdevState::Unavail), errs(0, 0, 100_980)));
        assert_eq!(g.was(), Some("/dev/disk/by-id/ata-ST8000DM004-xxxxxx_redacted-part1"));
        assert_eq!(p.root.as_ref().unwrap().children[0].children.len(), 3);

        let p = one("zse_06-removed.txt");
        assert_eq!(leaf(&p, "drive0-part1").state, Some(VdevState::Removed));
        let p = one("zse_11-degraded-no-scan.txt");
        assert_eq!((&p.state, &p.scan), (&VdevState::Degraded, &Scan::None));
        let p = one("ozdocs_msg_2Q_degraded_device_cannot_open.txt");
        let sdb = leaf(&p, "sdb");
        assert_eq!((sdb.state.clone(), sdb.note.as_deref()), (Some(VdevState::Faulted), Some("cannot open")));
        assert_eq!(leaf(&p, "mirror").kind, VdevKind::Mirror, "old unnumbered interior names");
    }

    #[test]
    fn faulted_pools() {
        let p = one("ozdocs_msg_HC_pool_FAULTED_io_failures.txt");
        assert_eq!(p.state, VdevState::Faulted);
        let root = p.root.as_ref().unwrap();
        assert_eq!((root.errors, root.note.as_deref()), (errs(0, 13, 0), Some("insufficient replicas")));
        assert_eq!(leaf(&p, "sda").note.as_deref(), Some("experienced I/O failures"));
        assert_eq!(p.data_errors(), 1);
        assert_eq!(p.scan, Scan::None, "` scrub: none requested`");

        let p = one("ozdocs_msg_K4_pool_FAULTED_bad_intent_log.txt");
        assert_eq!(p.state, VdevState::Faulted);
        let logs = p.section(VdevClass::Logs).unwrap();
        assert_eq!(
            (logs.state.clone(), logs.note.as_deref()),
            (Some(VdevState::Faulted), Some("bad intent log"))
        );
        assert_eq!(logs.vdevs[0].name, "c5t3d0");
        assert_eq!(logs.vdevs[0].state, Some(VdevState::Unavail));
        assert_eq!(p.root.as_ref().unwrap().children.len(), 1);

        let pools = parse_list(&fixture("openzfs_man_zpool-list_faulted_pool.txt")).unwrap();
        let zion = &pools[2];
        assert_eq!(
            (zion.name.as_str(), &zion.health, zion.size, zion.dedup_ratio),
            ("zion", &VdevState::Faulted, None, None)
        );
        assert_eq!(
            (pools[0].frag_percent, pools[0].cap_percent, pools[0].dedup_ratio),
            (Some(33), Some(42), Some(1.0))
        );
        assert_eq!(pools[0].size, Some((19.9 * (1u64 << 30) as f64).round() as u64));
        let pools = parse_list(&fixture("netdata_zpool-list-p_faulted.txt")).unwrap();
        assert_eq!(pools[0].size, Some(21_367_462_298));
        assert_eq!(pools[1].health, VdevState::Faulted);
    }

    #[test]
    fn resilver_in_progress_with_percent_and_eta() {
        let p = one("ozdocs_draid_healing_resilver_replacing.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(s.function, Some(ScanFunction::Resilver));
        assert_eq!(s.percent_done, Some(99.44));
        assert_eq!((s.eta.as_deref(), s.eta_secs), (Some("00:00:04"), Some(4)));
        assert_eq!(s.repaired, parse_size("565G"));
        assert_eq!(
            (s.scanned, s.issued, s.total),
            (parse_size("6.13T"), parse_size("6.10T"), parse_size("6.13T"))
        );
        assert_eq!((s.scan_rate, s.issue_rate), (parse_size("7.82G"), parse_size("7.78G")));
        assert_eq!(s.since.as_ref().unwrap().text, "Tue Nov 24 14:45:16 2020");
        // replacing-0 nested in spare-6 nested in the dRAID vdev.
        let draid = &p.root.as_ref().unwrap().children[0];
        assert_eq!(
            draid.kind,
            VdevKind::Draid { parity: 1, data: Some(4), children: Some(11), spares: Some(1) }
        );
        let spare = draid.children.iter().find(|c| c.name == "spare-6").unwrap();
        assert_eq!(spare.kind, VdevKind::Spare);
        let replacing = &spare.children[0];
        assert_eq!((replacing.name.as_str(), &replacing.kind), ("replacing-0", &VdevKind::Replacing));
        assert_eq!(replacing.children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["sdg", "sdl"]);
        assert_eq!(replacing.children[1].note.as_deref(), Some("(resilvering)"));
        assert_eq!(spare.children[1].kind, VdevKind::DraidSpare);
        assert_eq!(draid.leaves().len(), 13);
        // The RST block shifts the spare row left of `spares`; it still lands in the group.
        let spares = p.section(VdevClass::Spares).unwrap();
        assert_eq!(spares.vdevs.len(), 1);
        assert_eq!(spares.vdevs[0].state, Some(VdevState::Inuse));
        assert_eq!(spares.vdevs[0].note.as_deref(), Some("currently in use"));
        assert_eq!(spares.vdevs[0].errors, None);

        // Sequential rebuild: `resilver (draid1:4d:11c:1s-0) in progress`, `issued 6.07G/s` without "at".
        let p = one("ozdocs_draid_sequential_resilver_spare_inuse.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!((s.percent_done, s.eta_secs), (Some(57.17), Some(201)));
        assert_eq!(s.issue_rate, parse_size("6.07G"));

        // Solaris-era one-liner.
        let p = one("ozdocs_msg_9P_replacing_resilver_old_scrub_line.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (s.function, s.percent_done, s.eta.as_deref(), s.eta_secs),
            (Some(ScanFunction::Resilver), Some(0.14), Some("0h0m"), Some(0))
        );
        let r = leaf(&p, "replacing");
        assert_eq!(r.kind, VdevKind::Replacing);
        assert_eq!(r.children[0].errors, errs(0, 0, 3));
        assert_eq!(r.children[1].note.as_deref(), Some("58.5K resilvered"));
    }

    #[test]
    fn scrub_in_progress_canceled_and_repaired() {
        let p = one("zse_04-scrub-progress.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(s.function, Some(ScanFunction::Scrub));
        assert_eq!((s.scanned, s.total, s.issued), (parse_size("704G"), parse_size("1.66T"), Some(0)));
        assert_eq!(
            (s.scan_rate, s.repaired, s.percent_done, s.eta.as_deref()),
            (parse_size("5.67G"), Some(0), Some(0.0), None)
        );

        let p = one("zse_09-scrub-cancel.txt");
        let Scan::Canceled { function, at } = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (*function, at.as_ref().unwrap().text.as_str()),
            (ScanFunction::Scrub, "Sun Jan 18 12:18:11 2026")
        );

        let p = one("zse_03-resilvered.txt");
        let Scan::Finished(f) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!((f.function, f.repaired), (ScanFunction::Resilver, Some(21 * 1024)));

        let p = one("zse_02-online-data-corruption.txt");
        assert_eq!(p.state, VdevState::Online);
        let Scan::Finished(f) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (f.errors, f.duration.as_deref(), f.duration_secs),
            (1, Some("14h7m"), Some(14 * 3600 + 7 * 60))
        );
        let e = p.errors.as_ref().unwrap();
        assert_eq!(e.count, Some(1), "ONLINE yet one data error");
        assert_eq!(e.messages[0], "List of errors unavailable: permission denied");
        assert_eq!(p.see.as_deref(), Some("http://zfsonlinux.org/msg/ZFS-8000-8A"));

        let demo = parse_status(include_str!("../../scenarios/demo/commands/zpool/status.txt")).unwrap();
        let Scan::Finished(f) = &demo[1].scan else { panic!() };
        assert_eq!((f.repaired, f.duration_secs), (Some(384 * 1024), Some(9 * 3600 + 41 * 60 + 17)));

        assert_eq!(
            p.scan,
            decode_scan("scrub repaired 0B in 14h7m with 1 errors on Sun Feb  4 20:54:25 2024")
        );
        let Scan::InProgress(s) = decode_scan(
            "scrub in progress since Sun Feb  4 12:04:33 2018\n626G scanned out of 1.75T at 122M/s, 2h43m to go\n0B repaired, 34.86% done",
        ) else {
            panic!()
        };
        assert_eq!(
            (s.scanned, s.total, s.scan_rate, s.eta_secs, s.percent_done),
            (
                parse_size("626G"),
                parse_size("1.75T"),
                parse_size("122M"),
                Some(2 * 3600 + 43 * 60),
                Some(34.86)
            )
        );
        let Scan::Finished(f) =
            decode_scan("resilvered 2.31T in 1 days 02:55:32 with 0 errors on Sat Dec 24 02:33:08 2022")
        else {
            panic!()
        };
        assert_eq!(f.duration_secs, Some(86_400 + 2 * 3600 + 55 * 60 + 32));
        assert!(matches!(
            decode_scan(
                "scrub paused since Mon Jan  1 00:00:00 2024\nscrub started on Sun Dec 31 00:00:00 2023\n1.2T scanned, 800G issued, 2.0T total\n0B repaired, 40.00% done"
            ),
            Scan::Paused(ScanProgress { percent_done: Some(40.0), .. })
        ));
        assert!(matches!(decode_scan("something new"), Scan::Other { .. }));
    }

    #[test]
    fn checksum_errors_and_permanent_error_files() {
        let p = one("ozdocs_msg_9P_cksum_errors_online.txt");
        assert_eq!(leaf(&p, "sda").errors, errs(0, 0, 2));
        assert_eq!(p.data_errors(), 0);

        let p = one("ozdocs_msg_8A_permanent_errors_files_-xv.txt");
        let e = p.errors.as_ref().unwrap();
        assert_eq!(e.files, ["/export/example/foo"]);
        assert_eq!(e.count, Some(1));
        assert_eq!(p.root.as_ref().unwrap().errors, errs(0, 0, 2));
        assert_eq!(p.root.as_ref().unwrap().children.len(), 2, "two striped disks");

        // Abbreviated counters.
        let text = "  pool: t\n state: ONLINE\nconfig:\n\n\tNAME  STATE  READ WRITE CKSUM\n\tt     ONLINE  0 0 0\n\t  sda ONLINE  1.2K 13.4M 7  too many errors\n";
        let p = parse_status(text).unwrap();
        let sda = leaf(&p[0], "sda");
        assert_eq!(sda.errors, errs(1229, 14_050_918, 7));
        assert_eq!(sda.note.as_deref(), Some("too many errors"));
    }

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
        let demo = parse_status(include_str!("../../scenarios/demo/commands/zpool/status.txt")).unwrap();
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

    #[test]
    fn multi_pool_outputs() {
        let pools = status_of("zse_05-features.txt");
        assert_eq!(pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["rpool", "wilbur"]);
        assert!(pools[1].status.as_deref().unwrap().starts_with("Some supported and requested features"));
        assert!(pools.iter().all(|p| p.state == VdevState::Online && p.data_errors() == 0));
        let Scan::Finished(f) = &pools[1].scan else { panic!() };
        assert_eq!(f.duration_secs, Some(6 * 3600 + 35 * 60 + 50));

        // The exporter's state-coverage file: every state word, non-zero counters everywhere.
        let p = one("zse_integration-multi-pool.txt");
        let root = p.root.as_ref().unwrap();
        assert_eq!(root.errors, errs(0, 10, 20));
        assert_eq!(root.children.len(), 3);
        let states: Vec<String> =
            p.vdevs().iter().skip(1).map(|(_, v)| v.state.clone().unwrap().to_string()).collect();
        assert_eq!(
            states,
            [
                "NOTSURE?",
                "ONLINE",
                "OFFLINE",
                "SPLIT",
                "DEGRADED",
                "FAULTED",
                "SUSPENDED",
                "REMOVED",
                "UNAVAIL"
            ]
        );
        assert_eq!(root.children[0].state, Some(VdevState::Other("NOTSURE?".into())));
        assert_eq!(leaf(&p, "ata-6666666666666666666666666666-part1").errors, errs(9, 19, 29));
        assert_eq!(p.vdevs().iter().map(|(d, _)| *d).max(), Some(2));

        let mut text = fixture("zse_03-resilvered.txt");
        text.push('\n');
        text.push_str(&fixture("zse_06-removed.txt"));
        assert_eq!(parse_status(&text).unwrap().len(), 2);
        assert_eq!(parse_status("no pools available\n").unwrap(), []);
    }

    #[test]
    fn list_layouts() {
        let pools = parse_list(&fixture("openzfs_man_zpool-list_-v_expandsz.txt")).unwrap();
        assert_eq!(pools.len(), 1);
        let data = &pools[0];
        assert_eq!(
            (data.expandsz, data.checkpoint, data.frag_percent, data.cap_percent),
            (None, None, Some(48), Some(61))
        );
        assert_eq!(
            data.vdevs.iter().map(|v| (v.name.as_str(), v.depth)).collect::<Vec<_>>(),
            [("raidz1", 1), ("sda", 2), ("sdb", 2), ("sdc", 2)]
        );
        assert_eq!(data.vdevs[2].expandsz, Some(10 << 30));
        assert_eq!(data.vdevs[0].frag_percent, Some(48));

        let pools = parse_list(&fixture("netdata_zpool-list-vp_mirror_nvme.txt")).unwrap();
        assert_eq!(pools[0].vdevs.len(), 3);
        assert_eq!(pools[0].alloc, Some(1_647_130_456_064));

        let demo = parse_list(include_str!("../../scenarios/demo/commands/zpool/list-Hp.txt")).unwrap();
        assert_eq!(demo.len(), 2);
        let tank = &demo[1];
        assert_eq!(tank.name, "tank");
        assert_eq!(
            (tank.size, tank.alloc, tank.free),
            (Some(47_991_124_459_520), Some(21_302_963_789_824), Some(26_688_160_669_696))
        );
        assert_eq!(
            (tank.checkpoint, tank.expandsz, tank.frag_percent, tank.cap_percent, tank.dedup_ratio),
            (None, None, Some(4), Some(44), Some(1.0))
        );
        assert_eq!((tank.health.clone(), tank.altroot.clone()), (VdevState::Degraded, None));
        assert!(tank.vdevs.is_empty());
    }

    #[test]
    fn status_json_example() {
        let pools = parse_status_json(&fixture("openzfs_man_zpool-status_-j_example.json")).unwrap();
        assert_eq!(pools.len(), 1);
        let p = &pools[0];
        assert_eq!(
            (p.name.as_str(), &p.state, &p.status, &p.scan),
            ("tank", &VdevState::Online, &None, &Scan::None)
        );
        let root = p.root.as_ref().unwrap();
        assert_eq!((root.kind.clone(), root.errors), (VdevKind::Root, errs(0, 0, 0)));
        let raidz = &root.children[0];
        assert_eq!(
            (raidz.name.as_str(), &raidz.kind, &raidz.state),
            ("raidz1-0", &VdevKind::Raidz { parity: 1 }, &Some(VdevState::Online))
        );
        assert_eq!(raidz.children.len(), 3);
        assert_eq!(raidz.children[0].name, "ca1eb824-c371-491d-ac13-37637e35c683", "document order kept");
        let dedup = p.section(VdevClass::Dedup).unwrap();
        assert_eq!((dedup.vdevs[0].kind.clone(), dedup.vdevs[0].children.len()), (VdevKind::Mirror, 2));
        let special = p.section(VdevClass::Special).unwrap();
        assert_eq!(special.vdevs[0].kind, VdevKind::Device);
        assert_eq!(p.errors.as_ref().unwrap().count, Some(0));

        // `--json-int` with a running scrub (key set of scan_status_nvlist()).
        let text = r#"{"output_version":{"command":"zpool status","vers_major":0,"vers_minor":1},
          "pools":{"p":{"name":"p","state":"DEGRADED","status":"One or more devices\n\tis bad.\n","moreinfo":"https://x/ZFS-8000-9P",
          "scan_stats":{"function":"SCRUB","state":"SCANNING","start_time":1767782105,"end_time":0,"to_examine":1000,"examined":600,"skipped":0,"processed":4096,"errors":0,"scrub_pause":0,"issued":250},
          "vdevs":{"p":{"name":"p","vdev_type":"root","state":"DEGRADED","read_errors":0,"write_errors":0,"checksum_errors":5,
            "vdevs":{"sdb":{"name":"sdb","vdev_type":"disk","state":"FAULTED","read_errors":1,"write_errors":2,"checksum_errors":"1.2K"}}}},
          "spares":{"sdz":{"name":"sdz","vdev_type":"disk","state":"AVAIL"}},"error_count":3}}}"#;
        let p = &parse_status_json(text).unwrap()[0];
        assert_eq!(p.status.as_deref(), Some("One or more devices is bad."));
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (s.percent_done, s.scanned, s.repaired, s.since.as_ref().unwrap().unix),
            (Some(25.0), Some(600), Some(4096), Some(1_767_782_105))
        );
        assert_eq!(leaf(p, "sdb").errors, errs(1, 2, 1229));
        assert_eq!(p.section(VdevClass::Spares).unwrap().vdevs[0].state, Some(VdevState::Avail));
        assert_eq!(p.data_errors(), 3);
        let finished = text
            .replace(r#""state":"SCANNING""#, r#""state":"FINISHED""#)
            .replace(r#""end_time":0"#, r#""end_time":1767785705"#);
        let Scan::Finished(f) = &parse_status_json(&finished).unwrap()[0].scan else { panic!() };
        assert_eq!((f.duration_secs, f.repaired, f.errors), (Some(3600), Some(4096), 0));

        let err = parse_status_json("{\n\"pools\": [\n").unwrap_err();
        assert!(matches!(err, ToolError::Parse { .. }), "{err}");
    }

    #[test]
    fn malformed_input_names_the_line() {
        let text = "  pool: t\n state: ONLINE\nconfig:\n\n\tNAME  STATE  READ WRITE CKSUM\n\tt     ONLINE  0 0 0\n\t  sda ONLINE  0 x 0\n";
        let err = parse_status(text).unwrap_err();
        let ToolError::Parse { line, text: l, message, .. } = &err else { panic!("{err}") };
        assert_eq!((*line, l.as_str()), (7, "\t  sda ONLINE  0 x 0"));
        assert!(message.contains("WRITE"), "{message}");

        let err = parse_status("  pool: t\nconfig:\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_status("garbage\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_status("  pool: t\n state: ONLINE\nconfig:\n\tbogus\n").unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");

        let err = parse_list("rpool\t12\tx\t1\t-\t-\t9\t17\t1.00\tONLINE\t-\n").unwrap_err();
        assert!(err.to_string().contains("line 1") && err.to_string().contains("ALLOC"), "{err}");
        let err = parse_list("rpool 1 2 3\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[tokio::test]
    async fn demo_scenario_through_the_host_falls_back_to_text() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let host =
            Host::replay(crate::host::Scenario::load(&dir).unwrap(), std::time::Duration::from_secs(5));
        let (format, pools) = status_best(&host, None).await.unwrap();
        assert_eq!((format, pools.len()), (StatusFormat::Text, 2), "the demo's zpool rejects -j");
        let (format, _) = status_best(&host, Some(StatusFormat::Text)).await.unwrap();
        assert_eq!(format, StatusFormat::Text);
        assert_eq!(list(&host).await.unwrap().len(), 2);
    }

    #[test]
    fn json_unsupported_is_recognised() {
        let stderr = "invalid option 'j'\nusage:\n\tstatus [--power] ...".to_string();
        assert!(json_unsupported(&ToolError::Failed { tool: "zpool".into(), code: Some(2), stderr }));
        assert!(!json_unsupported(&ToolError::Missing { what: "zpool".into() }));
    }

    #[test]
    fn helpers() {
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("21K"), Some(21_504));
        assert_eq!(parse_size("1916279144448"), Some(1_916_279_144_448));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_count("-"), None);
        assert_eq!(parse_duration("00:15:42"), Some(942));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(VdevKind::classify("raidz3-2"), VdevKind::Raidz { parity: 3 });
        assert_eq!(VdevKind::classify("indirect-0"), VdevKind::Indirect);
        assert_eq!(VdevKind::classify("draid2-1-0"), VdevKind::DraidSpare);
        assert_eq!(
            VdevKind::classify("draid2"),
            VdevKind::Draid { parity: 2, data: None, children: None, spares: None }
        );
        assert_eq!(VdevKind::classify("wwn-0x5000c500af8ec287-part2"), VdevKind::Device);
        assert_eq!(VdevKind::classify("nvme-Samsung_SSD-2"), VdevKind::Device);
        let t = parse_ctime("Wed Jan  7 03:42:23 PM PST 2026").unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour), (2026, 1, 7, 15));
        assert_eq!(serde_json::to_value(VdevState::Inuse).unwrap(), "INUSE");
        let v = serde_json::to_value(Scan::Canceled { function: ScanFunction::Scrub, at: None }).unwrap();
        assert_eq!(v["state"], "canceled");
    }
}
