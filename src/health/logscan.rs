//! The journal scanner behind the Logs, Memory (OOM), Disks (I/O errors) and Security (failed logins)
//! checks. The facts collector feeds it `journalctl -o json` lines read since its last cursor; it keeps,
//! bounded and pruned to [`KEEP_MS`]:
//! - hits of the critical patterns (kernel panic, machine checks, filesystem errors, hung tasks,
//!   segfaults of PVE daemons), one entry per pattern and object, with a count;
//! - OOM kills, linked to the guest they hit through the memory cgroup (`/lxc/<vmid>`,
//!   `/qemu.slice/<vmid>.scope`) or a `kvm` process;
//! - ATA/SCSI/NVMe I/O errors by device;
//! - failed logins (sshd, pvedaemon/pveproxy);
//! - every other warning-or-worse message, normalised (numbers, hex and ids stripped) and counted
//!   with timestamps so that rules can see cascades, spikes and persistent patterns, minus a benign
//!   list of Proxmox's known noise.
//!
//! Lines are parsed by the journal reader's parser (`tools/journal.rs`) and reduced to the fields the
//! scanner reads.
//!
//! Besides the facts, a scanner asked to ([`LogScanner::hits_from_ms`]) keeps the new hits worth a
//! notification as [`LogHit`]s (OOM kills, disk I/O errors, filesystem errors, PVE daemon crashes,
//! failed logins) until they are taken ([`LogScanner::take_hits`]): merged per object within one read,
//! bounded, and lossy past the bound (the facts above stay exact).

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// How long hits are kept (the longest window a threshold may ask for).
pub const KEEP_MS: i64 = 72 * 3_600_000;
/// Distinct normalised patterns kept at most (the least recently seen are dropped).
pub const MAX_PATTERNS: usize = 256;
/// Timestamps kept per pattern at most.
const MAX_TIMES: usize = 128;
const MAX_OOMS: usize = 200;
const MAX_LOGINS: usize = 2000;
const MAX_HITS: usize = 256;
/// Distinct [`LogHit`]s waiting to be taken at most; past it new objects are dropped (and counted).
pub const MAX_PENDING_HITS: usize = 256;
/// Distinct user names a merged failed-login hit lists at most.
const MAX_HIT_USERS: usize = 5;

/// One journal entry, the fields the scanner reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub cursor: String,
    /// Unix ms.
    pub ts_ms: i64,
    pub priority: u8,
    pub ident: String,
    pub message: String,
    pub unit: String,
}

/// Parses one line of `journalctl -o json` with the journal reader's parser
/// ([`crate::tools::journal::parse_entry`]). `None` for a line it rejects.
pub fn parse_line(line: &str) -> Option<Entry> {
    crate::tools::journal::parse_entry(line).ok().map(Entry::from)
}

impl From<crate::tools::journal::Entry> for Entry {
    fn from(e: crate::tools::journal::Entry) -> Entry {
        Entry {
            cursor: e.cursor,
            ts_ms: e.ts_us.div_euclid(1000),
            priority: e.priority.unwrap_or(6),
            ident: e.identifier.unwrap_or_default(),
            message: e.message,
            unit: e.unit.or(e.about_unit).unwrap_or_default(),
        }
    }
}

/// Replaces numbers, hex values and long ids with `#`, so that repeats of one message compare equal.
pub fn normalise(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(200));
    for (i, tok) in msg.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let hexy = tok.len() >= 6
            && tok.chars().filter(|c| c.is_ascii_hexdigit() || *c == '-' || *c == ':').count() == tok.len()
            && tok.chars().any(|c| c.is_ascii_digit());
        if hexy || tok.starts_with("0x") {
            out.push('#');
            continue;
        }
        let mut in_num = false;
        for c in tok.chars() {
            if c.is_ascii_digit() {
                if !in_num {
                    out.push('#');
                }
                in_num = true;
            } else {
                in_num = false;
                out.push(c);
            }
        }
        if out.len() > 160 {
            break;
        }
    }
    out.truncate(160);
    out
}

/// Proxmox's known noise: warning-level messages that say nothing is wrong (from the incumbent's
/// ignore list and PVE's own changelogs). Matched as (identifier prefix, message substring).
pub const BENIGN: &[(&str, &str)] = &[
    ("pvestatd", "got timeout"),
    ("pvestatd", "status update time"),
    ("pmxcfs", "[status] notice"),
    ("pmxcfs", "[dcdb] notice"),
    ("pvescheduler", "no replicatable volumes"),
    ("pvesr", "no replicatable volumes"),
    ("", "no replicatable volumes"),
    ("systemd-logind", "New session"),
    ("systemd-logind", "Removed session"),
    ("postfix/", ""),
    ("CRON", "pam_unix"),
    ("cron", "pam_unix"),
    ("pveproxy", "worker exit"),
    ("pveproxy", "starting worker"),
    ("pvedaemon", "worker exit"),
    ("pvedaemon", "starting worker"),
    ("kernel", "perf: interrupt took too long"),
    ("kernel", "x86/split lock detection"),
    ("kernel", "kvm: SMP vm created"),
    ("kernel", "fwbr"),
    ("kernel", "entered promiscuous mode"),
    ("kernel", "entered blocking state"),
    ("kernel", "entered disabled state"),
    ("kernel", "entered forwarding state"),
    ("chronyd", "Selected source"),
    ("systemd", "Deactivated successfully"),
];

pub fn is_benign(e: &Entry) -> bool {
    BENIGN.iter().any(|(ident, text)| e.ident.starts_with(ident) && e.message.contains(text))
}

/// The critical patterns, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Critical {
    KernelPanic,
    MachineCheck,
    /// An uncorrected memory error (EDAC UE).
    MemoryUncorrected,
    /// A corrected memory error (EDAC CE): the DIMM is worth watching.
    MemoryCorrected,
    FilesystemError,
    HungTask,
    DaemonSegfault,
    /// A disk I/O error (kept apart, by device, in `io_errors`).
    IoError,
    /// A guest's QMP socket did not answer (object: the vmid); reported under VMs & CTs.
    QmpError,
    /// A storage replication job failed (object: the job id `100-0`); reported under backups.
    ReplicationError,
}

impl Critical {
    /// Kinds that belong to another category's check rather than to the Logs category.
    pub fn reported_elsewhere(self) -> bool {
        matches!(self, Critical::QmpError | Critical::ReplicationError | Critical::IoError)
    }
}

impl Critical {
    pub fn id(self) -> &'static str {
        match self {
            Critical::KernelPanic => "kernel_panic",
            Critical::MachineCheck => "machine_check",
            Critical::MemoryUncorrected => "memory_uncorrected",
            Critical::MemoryCorrected => "memory_corrected",
            Critical::FilesystemError => "filesystem_error",
            Critical::HungTask => "hung_task",
            Critical::DaemonSegfault => "daemon_segfault",
            Critical::IoError => "io_error",
            Critical::QmpError => "qmp_error",
            Critical::ReplicationError => "replication_error",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Critical::KernelPanic => "kernel panic",
            Critical::MachineCheck => "machine check exception",
            Critical::MemoryUncorrected => "uncorrected memory error",
            Critical::MemoryCorrected => "corrected memory error",
            Critical::FilesystemError => "filesystem error",
            Critical::HungTask => "hung task",
            Critical::DaemonSegfault => "PVE daemon crash",
            Critical::IoError => "disk I/O error",
            Critical::QmpError => "QMP error",
            Critical::ReplicationError => "replication error",
        }
    }
}

/// Daemons whose segfault is worth an alert.
const PVE_DAEMONS: &[&str] = &[
    "pvestatd",
    "pvedaemon",
    "pveproxy",
    "pmxcfs",
    "pve-ha-lrm",
    "pve-ha-crm",
    "pvescheduler",
    "corosync",
    "spiceproxy",
    "pve-firewall",
    "pvefw-logger",
    "qmeventd",
    "lxc-start",
    "kvm",
];

/// Classifies a message as a critical pattern; the second value is the object (device, daemon).
pub fn critical(e: &Entry) -> Option<(Critical, String)> {
    let m = e.message.as_str();
    if m.contains("Kernel panic") {
        return Some((Critical::KernelPanic, String::new()));
    }
    if m.contains("[Hardware Error]") || m.contains("Machine check events logged") || m.starts_with("mce:") {
        return Some((Critical::MachineCheck, String::new()));
    }
    if let Some(rest) = m.strip_prefix("EDAC ") {
        let mc = rest.split(':').next().unwrap_or("").to_string();
        if rest.contains(" UE ") {
            return Some((Critical::MemoryUncorrected, mc));
        }
        if rest.contains(" CE ") {
            return Some((Critical::MemoryCorrected, mc));
        }
    }
    // `EXT4-fs error (device sda1): ...`, `XFS (dm-3): Corruption detected`, `BTRFS error (device sdb1)`.
    for (prefix, marker) in
        [("EXT4-fs error", "device "), ("BTRFS error", "device "), ("BTRFS critical", "device ")]
    {
        if m.starts_with(prefix) {
            let dev = m.split(marker).nth(1).and_then(|r| r.split(')').next()).unwrap_or("").to_string();
            return Some((Critical::FilesystemError, dev));
        }
    }
    if let Some(rest) = m.strip_prefix("XFS (")
        && (m.contains("Corruption")
            || m.contains("metadata I/O error")
            || m.contains("Filesystem has been shut down"))
    {
        return Some((Critical::FilesystemError, rest.split(')').next().unwrap_or("").to_string()));
    }
    // `INFO: task kworker/u16:2:1234 blocked for more than 122 seconds.`
    if m.starts_with("INFO: task ") && m.contains("blocked for more than") {
        let task = m["INFO: task ".len()..].split(':').next().unwrap_or("").to_string();
        return Some((Critical::HungTask, task));
    }
    // `VM 104 qmp command failed - VM 104 qmp command 'query-proxmox-support' failed - unable to
    // connect to VM 104 qmp socket - timeout after 51 retries` (pvedaemon, pvestatd, qmeventd).
    // A backup job's summary (`INFO: Backup job finished with errors … VM 102: FAILED - VM 102 qmp
    // command 'backup' failed …`) quotes the error of a backup that the backup rules already report
    // for that guest; counting it here would quote a summary as the guest's own error.
    if m.contains("qmp command")
        && (m.contains("failed") || m.contains("timeout"))
        && !m.starts_with("INFO: ")
        && !m.contains("Backup job finished")
    {
        let vmid: String = m
            .split("VM ")
            .nth(1)
            .map(|r| r.chars().take_while(|c| c.is_ascii_digit()).collect())
            .unwrap_or_default();
        return Some((Critical::QmpError, vmid));
    }
    // `100-0: got unexpected replication job error - ...` (pvescheduler / pvesr).
    if m.contains("replication job error") {
        let job = m.split(':').next().unwrap_or("").trim();
        let job = if job.contains('-') && job.len() < 24 { job } else { "" };
        return Some((Critical::ReplicationError, job.to_string()));
    }
    // `pvestatd[1502]: segfault at 0 ip ... in libc.so.6`
    if let Some(pos) = m.find(": segfault at ") {
        let proc = m[..pos].split('[').next().unwrap_or("").rsplit(' ').next().unwrap_or("");
        if PVE_DAEMONS.contains(&proc) {
            return Some((Critical::DaemonSegfault, proc.to_string()));
        }
    }
    // systemd-coredump: `Process 1975 (pvestatd) of user 0 dumped core.` (an abort, not only a
    // segfault, and on hosts where the kernel line is rate-limited away).
    if e.ident == "systemd-coredump"
        && let Some(rest) = m.strip_prefix("Process ")
        && let Some((_, after)) = rest.split_once(" (")
        && let Some((proc, tail)) = after.split_once(')')
        && tail.contains("dumped core")
        && PVE_DAEMONS.contains(&proc)
    {
        return Some((Critical::DaemonSegfault, proc.to_string()));
    }
    None
}

/// A disk I/O error line's device: `ata3`, `sdc`, `nvme0`.
pub fn io_error_device(e: &Entry) -> Option<String> {
    if e.ident != "kernel" {
        return None;
    }
    let m = e.message.as_str();
    // `blk_update_request: I/O error, dev sdc, sector 123` (≤ 5.x), `I/O error, dev sdc, sector ...` (6.x),
    // `critical medium error, dev sdc, sector ...`, `Buffer I/O error on dev sdc1, logical block ...`.
    for marker in ["I/O error, dev ", "medium error, dev ", "Buffer I/O error on dev "] {
        if let Some(p) = m.find(marker) {
            let dev: String = m[p + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !dev.is_empty() {
                return Some(strip_partition(&dev));
            }
        }
    }
    // `ata3.00: failed command: READ FPDMA QUEUED`, `ata3.00: exception Emask 0x0 SAct ... frozen`,
    // `ata3: SError: { UnrecovData }` — by port, the kernel does not name the disk on these lines.
    if m.starts_with("ata")
        && (m.contains(": failed command") || m.contains("exception Emask") || m.contains("SError"))
    {
        let port: String = m.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        return Some(port);
    }
    // `nvme nvme0: I/O tag 123 (007b) opcode 0x2 (I/O Cmd) QID 4 timeout, aborting`.
    if let Some(rest) = m.strip_prefix("nvme ")
        && (m.contains("timeout, aborting") || m.contains("I/O error") || m.contains("controller is down"))
    {
        return Some(rest.split(':').next().unwrap_or("").to_string());
    }
    None
}

/// `sdc1` → `sdc`, `nvme0n1p2` → `nvme0n1`.
fn strip_partition(dev: &str) -> String {
    if dev.starts_with("nvme") {
        if let Some(p) = dev.rfind('p')
            && p > 4
            && dev[p + 1..].chars().all(|c| c.is_ascii_digit())
            && !dev[p + 1..].is_empty()
        {
            return dev[..p].to_string();
        }
        return dev.to_string();
    }
    if dev.starts_with("sd") || dev.starts_with("vd") || dev.starts_with("hd") {
        return dev.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
    }
    dev.to_string()
}

/// Where an OOM kill landed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OomKill {
    pub ts_ms: i64,
    pub process: String,
    pub pid: u64,
    pub vmid: Option<u64>,
    /// `lxc` or `qemu` when linked to a guest.
    pub guest_kind: Option<String>,
    /// The memory cgroup whose limit was hit (`/lxc/105`), empty for a host-wide OOM.
    pub memcg: String,
}

/// A guest id from a cgroup path: `/lxc/105/...`, `/lxc.payload.105/...`, `/qemu.slice/104.scope`.
pub fn guest_of_cgroup(cg: &str) -> Option<(u64, &'static str)> {
    for part in cg.split('/') {
        if let Some(id) = part.strip_suffix(".scope").and_then(|s| s.parse().ok())
            && cg.contains("qemu.slice")
        {
            return Some((id, "qemu"));
        }
        if let Some(id) = part.strip_prefix("lxc.payload.").and_then(|s| s.parse().ok()) {
            return Some((id, "lxc"));
        }
    }
    let mut it = cg.split('/').skip_while(|p| *p != "lxc" && *p != "lxc.monitor");
    if it.next().is_some()
        && let Some(id) = it.next().and_then(|s| s.parse().ok())
    {
        return Some((id, "lxc"));
    }
    None
}

/// A failed login seen in the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoginFailure {
    pub ts_ms: i64,
    /// `ssh`, `pve` or `proxwatch`.
    pub source: String,
    pub user: String,
    pub ip: String,
}

fn kv<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    let p = msg.find(key)?;
    Some(msg[p + key.len()..].split([' ', ',']).next().unwrap_or(""))
}

pub fn login_failure(e: &Entry) -> Option<LoginFailure> {
    let m = e.message.as_str();
    if e.ident.starts_with("sshd") {
        // `Failed password for [invalid user ]root from 203.0.113.45 port 51234 ssh2`
        let rest =
            m.strip_prefix("Failed password for ").or_else(|| m.strip_prefix("Failed publickey for "))?;
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let (user, rest) = rest.split_once(" from ")?;
        let ip = rest.split(' ').next().unwrap_or("");
        return Some(LoginFailure { ts_ms: e.ts_ms, source: "ssh".into(), user: user.into(), ip: ip.into() });
    }
    if (e.ident.starts_with("pvedaemon") || e.ident.starts_with("pveproxy"))
        && m.starts_with("authentication failure")
    {
        let ip = kv(m, "rhost=").unwrap_or("");
        let ip = ip.strip_prefix("::ffff:").unwrap_or(ip);
        return Some(LoginFailure {
            ts_ms: e.ts_ms,
            source: "pve".into(),
            user: kv(m, "user=").unwrap_or("").into(),
            ip: ip.into(),
        });
    }
    None
}

/// One critical pattern on one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub kind: Critical,
    pub object: String,
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub sample: String,
}

/// One normalised warning-or-worse message and when it was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pattern {
    pub ident: String,
    pub pattern: String,
    pub sample: String,
    /// Unix ms of the latest occurrences, oldest first (bounded).
    pub times: VecDeque<i64>,
    pub total: u64,
}

/// What the scanner knows, published in the facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JournalFacts {
    /// Entries read since proxwatch started.
    pub scanned: u64,
    /// Unix ms of the oldest entry read, so rules know how far back they can see.
    pub since_ms: Option<i64>,
    /// By `kind:object`.
    pub hits: BTreeMap<String, Hit>,
    pub ooms: VecDeque<OomKill>,
    /// By device (`sdc`, `ata3`, `nvme0`): count, last ms, sample.
    pub io_errors: BTreeMap<String, Hit>,
    pub logins: VecDeque<LoginFailure>,
    /// By `ident: normalised message`.
    pub patterns: BTreeMap<String, Pattern>,
    /// Benign messages dropped.
    pub benign: u64,
}

/// A new journal hit worth a notification: what the scanner extracted, the quoted line (bounded), the
/// entry's time and journal cursor (the first one when several lines of one object were merged
/// within a read: `count` says how many).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogHit {
    /// The kernel's OOM killer, in a guest's memory cgroup when `guest` is set (`guest_kind`: `lxc`
    /// or `qemu`), else host-wide.
    Oom {
        guest: Option<u64>,
        guest_kind: Option<String>,
        process: String,
        message: String,
        count: u64,
        ts_ms: i64,
        cursor: String,
    },
    /// Disk I/O errors on a device (`sdc`, `nvme0n1`), an ATA port (`ata3`) or an NVMe controller.
    IoError { device: String, message: String, count: u64, ts_ms: i64, cursor: String },
    /// A filesystem reported errors (`sda1`, `dm-3`).
    FsError { device: String, message: String, count: u64, ts_ms: i64, cursor: String },
    /// A PVE daemon segfaulted or dumped core.
    DaemonCrash { daemon: String, message: String, count: u64, ts_ms: i64, cursor: String },
    /// Failed logins from one address to one service (`ssh` or `pve`); `user` lists the names tried.
    LoginFailed { service: String, user: String, ip: String, count: u64, ts_ms: i64, cursor: String },
}

impl LogHit {
    pub fn ts_ms(&self) -> i64 {
        match self {
            LogHit::Oom { ts_ms, .. }
            | LogHit::IoError { ts_ms, .. }
            | LogHit::FsError { ts_ms, .. }
            | LogHit::DaemonCrash { ts_ms, .. }
            | LogHit::LoginFailed { ts_ms, .. } => *ts_ms,
        }
    }

    pub fn cursor(&self) -> &str {
        match self {
            LogHit::Oom { cursor, .. }
            | LogHit::IoError { cursor, .. }
            | LogHit::FsError { cursor, .. }
            | LogHit::DaemonCrash { cursor, .. }
            | LogHit::LoginFailed { cursor, .. } => cursor,
        }
    }

    pub fn count(&self) -> u64 {
        match self {
            LogHit::Oom { count, .. }
            | LogHit::IoError { count, .. }
            | LogHit::FsError { count, .. }
            | LogHit::DaemonCrash { count, .. }
            | LogHit::LoginFailed { count, .. } => *count,
        }
    }

    /// What hits are merged by within one read: the kind and its object.
    fn key(&self) -> String {
        match self {
            LogHit::Oom { guest: Some(v), .. } => format!("oom:{v}"),
            LogHit::Oom { guest: None, process, .. } => format!("oom:host:{process}"),
            LogHit::IoError { device, .. } => format!("io:{device}"),
            LogHit::FsError { device, .. } => format!("fs:{device}"),
            LogHit::DaemonCrash { daemon, .. } => format!("crash:{daemon}"),
            LogHit::LoginFailed { service, ip, .. } => format!("login:{service}:{ip}"),
        }
    }

    /// Counts `other` (same key) into this hit; a failed login adds the user name it tried.
    fn merge(&mut self, other: LogHit) {
        match (self, other) {
            (LogHit::LoginFailed { user, count, .. }, LogHit::LoginFailed { user: u, count: n, .. }) => {
                *count += n;
                let known = user.split(", ").any(|x| x == u);
                if !known && !u.is_empty() && user.split(", ").count() < MAX_HIT_USERS {
                    if !user.is_empty() {
                        user.push_str(", ");
                    }
                    user.push_str(&u);
                }
            }
            (
                LogHit::Oom { count, .. }
                | LogHit::IoError { count, .. }
                | LogHit::FsError { count, .. }
                | LogHit::DaemonCrash { count, .. }
                | LogHit::LoginFailed { count, .. },
                o,
            ) => *count += o.count(),
        }
    }
}

/// The scanner: folds entries into [`JournalFacts`].
#[derive(Debug, Default)]
pub struct LogScanner {
    pub facts: JournalFacts,
    pub cursor: Option<String>,
    /// The `oom-kill:` line waiting for its `Killed process` line.
    pending_oom: Option<(String, String, u64)>,
    /// Keep [`LogHit`]s for entries from this time on (unix ms); `None` (the default) keeps none, so a
    /// scanner nobody takes hits from holds nothing.
    pub hits_from_ms: Option<i64>,
    /// The hits not taken yet, in the order their objects first appeared.
    hits: Vec<LogHit>,
    /// Hits dropped because [`MAX_PENDING_HITS`] objects were already waiting.
    pub hits_dropped: u64,
    /// The newest entry time fed (unix ms).
    newest_ms: Option<i64>,
}

impl LogScanner {
    pub fn feed_text(&mut self, text: &str) -> usize {
        let mut n = 0;
        for line in text.lines() {
            if let Some(e) = parse_line(line) {
                self.feed(&e);
                n += 1;
            }
        }
        n
    }

    /// The hits kept since the last call (see [`LogScanner::hits_from_ms`]).
    pub fn take_hits(&mut self) -> Vec<LogHit> {
        std::mem::take(&mut self.hits)
    }

    /// The newest entry time fed so far (unix ms).
    pub fn newest_ms(&self) -> Option<i64> {
        self.newest_ms
    }

    fn hit(&mut self, e: &Entry, hit: LogHit) {
        if self.hits_from_ms.is_none_or(|from| e.ts_ms < from) {
            return;
        }
        let key = hit.key();
        if let Some(h) = self.hits.iter_mut().find(|h| h.key() == key) {
            h.merge(hit);
        } else if self.hits.len() < MAX_PENDING_HITS {
            self.hits.push(hit);
        } else {
            self.hits_dropped += 1;
        }
    }

    pub fn feed(&mut self, e: &Entry) {
        if self.newest_ms.is_none_or(|n| e.ts_ms > n) {
            self.newest_ms = Some(e.ts_ms);
        }
        let f = &mut self.facts;
        f.scanned += 1;
        if !e.cursor.is_empty() {
            self.cursor = Some(e.cursor.clone());
        }
        if e.ts_ms > 0 && f.since_ms.is_none_or(|s| e.ts_ms < s) {
            f.since_ms = Some(e.ts_ms);
        }
        if let Some(l) = login_failure(e) {
            let hit = LogHit::LoginFailed {
                service: l.source.clone(),
                user: l.user.clone(),
                ip: l.ip.clone(),
                count: 1,
                ts_ms: e.ts_ms,
                cursor: e.cursor.clone(),
            };
            f.logins.push_back(l);
            while f.logins.len() > MAX_LOGINS {
                f.logins.pop_front();
            }
            self.hit(e, hit);
            return;
        }
        let m = e.message.as_str();
        if e.ident == "kernel" {
            // `oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/lxc/105,task_memcg=/lxc/105/ns/...,task=java,pid=231877,uid=...`
            if let Some(rest) = m.strip_prefix("oom-kill:") {
                let memcg = kv(rest, "oom_memcg=").unwrap_or("").to_string();
                let task_memcg = kv(rest, "task_memcg=").unwrap_or("").to_string();
                let pid = kv(rest, ",pid=").and_then(|p| p.parse().ok()).unwrap_or(0);
                self.pending_oom = Some((memcg, task_memcg, pid));
                return;
            }
            // `Out of memory: Killed process 1234 (kvm) ...` / `Memory cgroup out of memory: Killed process ...`
            if let Some(p) = m.find("Killed process ") {
                let rest = &m[p + "Killed process ".len()..];
                let pid: u64 = rest.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let process =
                    rest.split('(').nth(1).and_then(|s| s.split(')').next()).unwrap_or("").to_string();
                let (memcg, task_memcg) = match self.pending_oom.take() {
                    Some((mc, tmc, ppid)) if ppid == pid || ppid == 0 => (mc, tmc),
                    _ => (String::new(), String::new()),
                };
                let guest = guest_of_cgroup(&task_memcg).or_else(|| guest_of_cgroup(&memcg));
                let oom = OomKill {
                    ts_ms: e.ts_ms,
                    process,
                    pid,
                    vmid: guest.map(|g| g.0),
                    guest_kind: guest.map(|g| g.1.to_string()),
                    memcg,
                };
                let hit = LogHit::Oom {
                    guest: oom.vmid,
                    guest_kind: oom.guest_kind.clone(),
                    process: oom.process.clone(),
                    message: clip(m),
                    count: 1,
                    ts_ms: e.ts_ms,
                    cursor: e.cursor.clone(),
                };
                f.ooms.push_back(oom);
                while f.ooms.len() > MAX_OOMS {
                    f.ooms.pop_front();
                }
                self.hit(e, hit);
                return;
            }
            if let Some(dev) = io_error_device(e) {
                if f.io_errors.len() < MAX_HITS || f.io_errors.contains_key(&dev) {
                    bump(&mut f.io_errors, dev.clone(), Critical::IoError, &dev, e);
                }
                let hit = LogHit::IoError {
                    device: dev,
                    message: clip(m),
                    count: 1,
                    ts_ms: e.ts_ms,
                    cursor: e.cursor.clone(),
                };
                self.hit(e, hit);
                return;
            }
        }
        if let Some((kind, object)) = critical(e) {
            let key = format!("{}:{object}", kind.id());
            if f.hits.len() < MAX_HITS || f.hits.contains_key(&key) {
                bump(&mut f.hits, key, kind, &object, e);
            }
            let (message, count, ts_ms, cursor) = (clip(m), 1, e.ts_ms, e.cursor.clone());
            let hit = match kind {
                Critical::FilesystemError => {
                    Some(LogHit::FsError { device: object, message, count, ts_ms, cursor })
                }
                Critical::DaemonSegfault => {
                    Some(LogHit::DaemonCrash { daemon: object, message, count, ts_ms, cursor })
                }
                _ => None,
            };
            if let Some(hit) = hit {
                self.hit(e, hit);
            }
            return;
        }
        if e.priority > 4 {
            return;
        }
        if is_benign(e) {
            f.benign += 1;
            return;
        }
        let pattern = normalise(m);
        let key = format!("{}: {pattern}", e.ident);
        if !f.patterns.contains_key(&key) && f.patterns.len() >= MAX_PATTERNS {
            // Drop the pattern seen least recently.
            if let Some(old) = f
                .patterns
                .iter()
                .min_by_key(|(_, p)| p.times.back().copied().unwrap_or(0))
                .map(|(k, _)| k.clone())
            {
                f.patterns.remove(&old);
            }
        }
        let p = f.patterns.entry(key).or_insert_with(|| Pattern {
            ident: e.ident.clone(),
            pattern,
            sample: clip(m),
            times: VecDeque::new(),
            total: 0,
        });
        p.total += 1;
        p.times.push_back(e.ts_ms);
        while p.times.len() > MAX_TIMES {
            p.times.pop_front();
        }
    }

    /// Forgets what is older than [`KEEP_MS`] before `now_ms`.
    pub fn prune(&mut self, now_ms: i64) {
        let cut = now_ms - KEEP_MS;
        let f = &mut self.facts;
        f.hits.retain(|_, h| h.last_ms >= cut);
        f.io_errors.retain(|_, h| h.last_ms >= cut);
        f.ooms.retain(|o| o.ts_ms >= cut);
        f.logins.retain(|l| l.ts_ms >= cut);
        f.patterns.retain(|_, p| {
            p.times.retain(|t| *t >= cut);
            !p.times.is_empty()
        });
    }
}

/// The longest quote of a log message in a finding's reason.
const QUOTE_MAX: usize = 200;

/// A message as one bounded line: its first non-empty line (a core dump's stack trace or a job's
/// summary adds nothing a reason needs), whitespace folded, cut at a word boundary with an ellipsis.
fn clip(s: &str) -> String {
    let first = s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    cut_words(&first.split_whitespace().collect::<Vec<_>>().join(" "), QUOTE_MAX)
}

/// `s` cut to at most `max` bytes at the last space before the limit (mid-word only when one word is
/// longer than the limit), with `…` when anything was cut.
pub fn cut_words(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &s[..cut];
    // A cut just before a space ends a whole word already.
    let whole = s[cut..].starts_with(' ');
    let head = match head.rfind(' ') {
        Some(sp) if !whole && sp > max / 2 => &head[..sp],
        _ => head,
    };
    format!("{}…", head.trim_end_matches([',', ';', ':', '-', ' ']))
}

fn bump(map: &mut BTreeMap<String, Hit>, key: String, kind: Critical, object: &str, e: &Entry) {
    let h = map.entry(key).or_insert_with(|| Hit {
        kind,
        object: object.to_string(),
        count: 0,
        first_ms: e.ts_ms,
        last_ms: e.ts_ms,
        sample: clip(&e.message),
    });
    h.count += 1;
    h.last_ms = h.last_ms.max(e.ts_ms);
    h.sample = clip(&e.message);
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream/journalctl/generated_pve1_journalctl-252_-o_json.jsonl"
    );

    #[test]
    fn quotes_are_one_line_cut_at_a_word_boundary() {
        let core = "Process 1975 (pvestatd) of user 0 dumped core.\n\nModule libperl.so.5.36 from deb perl\nStack trace of thread 1975:";
        assert_eq!(clip(core), "Process 1975 (pvestatd) of user 0 dumped core.");
        let long = "word ".repeat(100);
        let c = clip(&long);
        assert!(c.ends_with("word…") && c.len() <= QUOTE_MAX + "…".len(), "{c}");
        assert_eq!(cut_words("short enough", 50), "short enough");
        assert_eq!(cut_words("alpha beta gamma delta", 16), "alpha beta gamma…");
        let one = "x".repeat(300);
        assert!(cut_words(&one, 100).ends_with('…'), "one long word is cut inside it");
    }

    #[test]
    fn the_shared_journal_yields_the_oom_in_ct_105_and_the_nvme_timeout() {
        let mut s = LogScanner::default();
        let n = s.feed_text(&std::fs::read_to_string(FIX).unwrap());
        assert_eq!(n, 32);
        let f = &s.facts;
        assert_eq!(f.ooms.len(), 1);
        let oom = &f.ooms[0];
        assert_eq!(
            (oom.vmid, oom.guest_kind.as_deref(), oom.process.as_str()),
            (Some(105), Some("lxc"), "java")
        );
        assert_eq!(oom.pid, 231877);
        assert!(f.io_errors.contains_key("nvme0"), "{:?}", f.io_errors.keys());
        assert_eq!(f.logins.len(), 1);
        assert_eq!(f.logins[0].ip, "198.51.100.23");
        assert_eq!(f.logins[0].source, "pve");
        assert!(f.hits.values().any(|h| h.kind == Critical::MemoryCorrected && h.object == "MC0"));
        assert!(s.cursor.as_deref().unwrap().contains("i="), "the last cursor is kept");
        // Warning-or-worse messages are counted by pattern; notices (pmxcfs quorum) are not.
        assert!(f.patterns.keys().any(|k| k.starts_with("pvestatd: storage")), "{:?}", f.patterns.keys());
        assert!(!f.patterns.keys().any(|k| k.starts_with("pmxcfs")));
    }

    const NOISE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/health/journal_ata_oom_noise.jsonl");

    #[test]
    fn new_hits_are_kept_merged_per_object_only_when_asked_for() {
        let text = std::fs::read_to_string(NOISE).unwrap();
        let mut quiet = LogScanner::default();
        quiet.feed_text(&text);
        assert!(quiet.take_hits().is_empty(), "nobody asked: nothing is held");

        let mut s = LogScanner { hits_from_ms: Some(0), ..Default::default() };
        s.feed_text(&text);
        let hits = s.take_hits();
        assert!(s.take_hits().is_empty(), "taken once");
        let brief: Vec<(String, u64)> = hits
            .iter()
            .map(|h| {
                let what = match h {
                    LogHit::Oom { guest, process, .. } => format!("oom {guest:?} {process}"),
                    LogHit::IoError { device, .. } => format!("io {device}"),
                    LogHit::FsError { device, .. } => format!("fs {device}"),
                    LogHit::DaemonCrash { daemon, .. } => format!("crash {daemon}"),
                    LogHit::LoginFailed { service, user, ip, .. } => format!("login {service} {ip} {user}"),
                };
                (what, h.count())
            })
            .collect();
        let want: Vec<(String, u64)> = [
            ("io ata3", 2),
            ("io sdc", 4),
            ("oom Some(104) kvm", 1),
            ("login ssh 203.0.113.45 root, admin", 12),
            ("crash pvestatd", 1),
            ("fs dm-1", 1),
        ]
        .iter()
        .map(|(w, n)| (w.to_string(), *n))
        .collect();
        assert_eq!(brief, want);
        // A merged hit keeps its first line and that line's cursor.
        let LogHit::IoError { message, cursor, ts_ms, .. } = &hits[1] else { panic!("{:?}", hits[1]) };
        assert!(message.starts_with("I/O error, dev sdc, sector 123456"), "{message}");
        assert!(cursor.starts_with("s=") && cursor.contains(";i="), "{cursor}");
        assert_eq!(*ts_ms, 1_732_250_101_000);
        // Entries before `hits_from_ms` update the facts only.
        let mut late = LogScanner { hits_from_ms: Some(1_732_250_300_000), ..Default::default() };
        late.feed_text(&text);
        let kinds: Vec<String> = late.take_hits().iter().map(|h| h.key()).collect();
        assert_eq!(kinds, ["login:ssh:203.0.113.45", "crash:pvestatd", "fs:dm-1"]);
        assert_eq!(late.facts.io_errors["sdc"].count, 4);
    }

    #[test]
    fn pending_hits_are_bounded() {
        let mut s = LogScanner { hits_from_ms: Some(0), ..Default::default() };
        for i in 0..(MAX_PENDING_HITS + 10) {
            let m = format!("I/O error, dev sd{i}x, sector 1");
            s.feed(&Entry { ident: "kernel".into(), message: m, ts_ms: 1, ..Default::default() });
        }
        // Old objects still count; new ones past the bound are dropped and counted.
        s.feed(&Entry {
            ident: "kernel".into(),
            message: "I/O error, dev sd0x, sector 2".into(),
            ts_ms: 2,
            ..Default::default()
        });
        assert_eq!(s.hits_dropped, 10);
        let hits = s.take_hits();
        assert_eq!(hits.len(), MAX_PENDING_HITS);
        assert_eq!(hits[0].count(), 2);
    }

    #[test]
    fn a_pve_daemon_core_dump_is_critical() {
        let e = |ident: &str, m: &str| Entry { ident: ident.into(), message: m.into(), ..Default::default() };
        let dump =
            "Process 1975 (pvestatd) of user 0 dumped core.\n\nModule libperl.so.5.36 from deb perl-5.36.0-7";
        assert_eq!(
            critical(&e("systemd-coredump", dump)),
            Some((Critical::DaemonSegfault, "pvestatd".into()))
        );
        // Someone else's crash, or the same words from another program, is not a PVE daemon's.
        assert_eq!(critical(&e("systemd-coredump", "Process 77 (vim) of user 1000 dumped core.")), None);
        // A backup job's summary is not the guest's QMP error (the backup rules report that backup).
        let summary = "INFO: Backup job finished with errors\nVM 102: FAILED - VM 102 qmp command 'backup' failed - got timeout";
        assert_eq!(critical(&e("pvescheduler", summary)), None);
        assert_eq!(
            critical(&e("pvedaemon", "VM 102 qmp command 'backup' failed - got timeout")),
            Some((Critical::QmpError, "102".to_string()))
        );
        assert_eq!(critical(&e("bash", dump)), None);
    }

    #[test]
    fn normalising_strips_numbers_and_ids() {
        assert_eq!(normalise("task 1234 blocked for 122 s"), normalise("task 99 blocked for 7 s"));
        assert_eq!(normalise("at 0x7f3a12 ip 7f3a12bc00 sp"), "at # ip # sp");
        assert_eq!(normalise("vm 104 stopped"), "vm # stopped");
    }

    #[test]
    fn cgroups_name_the_guest() {
        assert_eq!(guest_of_cgroup("/lxc/105/ns/system.slice/tomcat9.service"), Some((105, "lxc")));
        assert_eq!(guest_of_cgroup("/lxc.payload.201/init.scope"), Some((201, "lxc")));
        assert_eq!(guest_of_cgroup("/qemu.slice/104.scope"), Some((104, "qemu")));
        assert_eq!(guest_of_cgroup("/system.slice/cron.service"), None);
    }

    #[test]
    fn io_errors_name_the_disk() {
        let e = |m: &str| Entry { ident: "kernel".into(), message: m.into(), ..Default::default() };
        assert_eq!(
            io_error_device(&e("I/O error, dev sdc, sector 1234 op 0x0:(READ)")).as_deref(),
            Some("sdc")
        );
        assert_eq!(
            io_error_device(&e("Buffer I/O error on dev sdc1, logical block 9")).as_deref(),
            Some("sdc")
        );
        assert_eq!(
            io_error_device(&e("ata3.00: failed command: READ FPDMA QUEUED")).as_deref(),
            Some("ata3")
        );
        assert_eq!(io_error_device(&e("I/O error, dev nvme0n1p2, sector 9")).as_deref(), Some("nvme0n1"));
        assert_eq!(io_error_device(&e("igb eno2: NIC Link is Up")), None);
    }
}
