//! Facts gathered for the health rules only: pending updates, reboot pending, PVE service states,
//! time sync, certificate expiry, journal patterns (via [`super::logscan`]), failed logins (the
//! journal's and proxwatch's own, [`FactsCollector::step_auth`]), fail2ban bans and the host's
//! filesystems (mountinfo + statvfs through the host seam, every step). The [`FactsCollector`] is a worker in the house style: `step(&Host, now)` runs what
//! is due (each source on its own interval, all through the host seam), and [`run`] publishes the
//! result in `app.health_bus.facts` (where the cycle reads it). The health cycle itself spawns nothing; rules read these facts.
//!
//! A source that cannot be read is `Source::Unavailable` with the reason; a source that fails after
//! having worked keeps its last answer (the reason is logged once).

// The scanner lives beside this file; declared here so that the engine's `mod.rs` stays untouched.
#[path = "logscan.rs"]
pub mod logscan;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::model::Source;
use crate::config::{HealthCfg, TlsCfg};
use crate::db::Db;
use crate::host::statvfs::is_stale_errno;
use crate::host::{Host, ToolError};
use crate::tools::mounts::{self, FstabEntry, StorageDir};
use crate::tools::{apt, cert, services, timesync};
use logscan::{JournalFacts, LogHit, LogScanner, LoginFailure};

/// The units the services check looks at (the rule decides which matter on this host).
pub const UNITS: &[&str] = &[
    "pveproxy.service",
    "pvedaemon.service",
    "pvestatd.service",
    "pve-cluster.service",
    "pvescheduler.service",
    "pve-firewall.service",
    "corosync.service",
    "pve-ha-lrm.service",
    "pve-ha-crm.service",
    "zfs-zed.service",
    "smartd.service",
    "chrony.service",
    "systemd-timesyncd.service",
];

/// Proxmox's certificates, checked when present.
pub const PVE_CERTS: &[(&str, &str)] =
    &[("pveproxy", "/etc/pve/local/pveproxy-ssl.pem"), ("pve-ssl", "/etc/pve/local/pve-ssl.pem")];

/// Journal entries read per step at most.
pub const JOURNAL_BOUND: usize = 5000;

/// How far before the collector's first journal read a hit is still sent as new: the first read looks
/// a day back, and announcing that day on every start would flood; what happened in the minutes
/// around a restart is still told (the engine drops a hit it already had by its journal cursor).
pub const HIT_REPLAY_MS: i64 = 10 * 60_000;

/// The `auth_events` kinds that are failed credential checks (login, setup code, API token,
/// re-authentication): the names auth writes (`auth::audit::Kind::as_str`; a test there keeps the
/// two in step, so health reads auth's table without importing auth).
pub const AUTH_FAILURE_KINDS: [&str; 4] = ["login_failed", "setup_failed", "token_failed", "reauth_failed"];

/// proxwatch's own failed logins read per step at most (the newest).
pub const AUTH_BOUND: usize = 5000;

const APT_HISTORY: &str = "/var/log/apt/history.log";
/// Where `apt update` (PVE's daily `pveupdate`, the apt-daily timer) writes the package lists: its
/// modification time moves when new lists arrive.
const APT_LISTS: &str = "/var/lib/apt/lists";
/// Pending updates change only when the lists or the installed packages do; without either this
/// often, the check runs anyway.
const APT_EVERY_MS: i64 = 6 * 3_600_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Updates {
    pub pending: usize,
    pub security: usize,
    pub pve: usize,
    pub new_kernel: bool,
    /// Names of the security and PVE packages (bounded), for the reason and the details.
    pub notable: Vec<String>,
    /// Unix ms of the simulation.
    pub checked_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reboot {
    pub running: String,
    pub newest_installed: Option<String>,
    /// `/run/reboot-required` exists (Debian's flag, set by package scripts).
    pub flag_file: bool,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertFact {
    /// `pveproxy`, `pve-ssl`, `proxwatch`.
    pub name: String,
    pub path: String,
    pub cert: Source<cert::CertInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// Unix ms of the last step that changed something.
    pub collected_ms: i64,
    pub updates: Source<Updates>,
    pub reboot: Source<Reboot>,
    pub services: Source<Vec<services::UnitState>>,
    pub timesync: Source<timesync::TimeSync>,
    pub certs: Vec<CertFact>,
    pub journal: Source<JournalFacts>,
    /// proxwatch's own failed logins (from its auth event table).
    pub proxwatch_logins: Source<Vec<LoginFailure>>,
    /// fail2ban's banned IPs by jail.
    pub bans: Source<BTreeMap<String, Vec<String>>>,
    /// The host's real filesystems and their capacity.
    pub filesystems: Source<Filesystems>,
}

/// The mounts worth checking ([`mounts::select`]) and how many were left out by the bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filesystems {
    pub mounts: Vec<MountFact>,
    pub omitted: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountFact {
    pub mountpoint: String,
    pub fstype: String,
    /// Device or `server:/export` / `//server/share` (mountinfo never holds a CIFS password).
    pub source: String,
    /// Mounted read-only (mount or superblock options, or statvfs's `ST_RDONLY`).
    pub readonly: bool,
    /// Read-only on purpose: optical media, `/boot/efi`, `ro` in fstab.
    pub expected_readonly: bool,
    pub network: bool,
    /// The PVE storage whose directory this is (from `storage.cfg`).
    pub storage: Option<String>,
    pub usage: MountUsage,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MountUsage {
    Ok {
        size: u64,
        used: u64,
        avail: u64,
        used_pct: f64,
        files: u64,
        files_free: u64,
    },
    /// statvfs did not answer in time or answered ESTALE/ENOTCONN: the server behind it is gone.
    Stale {
        reason: String,
    },
    Error {
        reason: String,
    },
}

fn pending<T>() -> Source<T> {
    Source::Unavailable { reason: "not collected yet".into() }
}

impl Default for Facts {
    fn default() -> Self {
        Facts {
            collected_ms: 0,
            updates: pending(),
            reboot: pending(),
            services: pending(),
            timesync: pending(),
            certs: Vec::new(),
            journal: pending(),
            proxwatch_logins: pending(),
            bans: pending(),
            filesystems: pending(),
        }
    }
}

/// Why a tool gave nothing, in words for `Source::Unavailable`.
fn unavailable<T>(e: &ToolError) -> Source<T> {
    let reason = match e {
        ToolError::Missing { what } => format!("{what} is not available on this host"),
        other => other.to_string(),
    };
    Source::Unavailable { reason }
}

/// Keeps the last good value when a source that worked fails; else records why it is unavailable.
fn fold<T>(slot: &mut Source<T>, what: &str, r: Result<T, ToolError>) {
    match r {
        Ok(v) => *slot = Source::Ok { data: v },
        Err(e) => {
            if matches!(slot, Source::Ok { .. }) && !e.is_missing() {
                tracing::debug!(source = what, error = %e, "health fact not refreshed; keeping the last one");
            } else {
                *slot = unavailable(&e);
            }
        }
    }
}

/// Numeric segments of a kernel release, for ordering (`6.8.12-4-pve` → `[6, 8, 12, 4]`).
pub fn kernel_key(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The newest kernel among `/boot` entries (`vmlinuz-<release>`).
pub fn newest_kernel(boot_entries: &[String]) -> Option<String> {
    boot_entries
        .iter()
        .filter_map(|n| n.strip_prefix("vmlinuz-"))
        .max_by(|a, b| kernel_key(a).cmp(&kernel_key(b)))
        .map(str::to_string)
}

/// `fail2ban-client banned` prints a Python repr: `[{'sshd': ['203.0.113.45']}, {'proxmox': []}]`.
pub fn parse_fail2ban_banned(text: &str) -> Result<BTreeMap<String, Vec<String>>, ToolError> {
    let t = text.trim();
    if !t.starts_with('[') {
        return Err(ToolError::parse(
            "fail2ban-client banned",
            1,
            t.lines().next().unwrap_or(""),
            "expected a list",
        ));
    }
    let mut out = BTreeMap::new();
    // Quoted strings in order; a string followed by `:` is a jail, the rest are its IPs.
    let mut jail: Option<String> = None;
    let mut rest = t;
    while let Some(start) = rest.find('\'') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('\'') else { break };
        let s = &after[..end];
        rest = &after[end + 1..];
        if rest.trim_start().starts_with(':') {
            out.entry(s.to_string()).or_insert_with(Vec::new);
            jail = Some(s.to_string());
        } else if let Some(j) = &jail {
            out.entry(j.clone()).or_insert_with(Vec::new).push(s.to_string());
        }
    }
    Ok(out)
}

/// The collector: one per process, stepped by [`run`] (and by tests).
pub struct FactsCollector {
    pub facts: Facts,
    scanner: LogScanner,
    last: HashMap<&'static str, i64>,
    apt_history_mtime: Option<i64>,
    /// proxwatch's own certificate when it serves TLS with a configured file.
    own_cert: Option<String>,
    mount_timeout: Duration,
    max_mounts: usize,
    /// `/etc/fstab` and the PVE storage directories, re-read every few minutes.
    fstab: Vec<FstabEntry>,
    storage_dirs: Vec<StorageDir>,
    /// A replayed host's recorded journal has been scanned.
    dump_scanned: bool,
    /// Where new journal hits go ([`super::Bus::log_hits`]); `None`: nowhere.
    hits: Option<broadcast::Sender<Arc<LogHit>>>,
    /// Which watched units' cgroups had processes when `systemctl` last ran (`None`: no cgroup v2
    /// hierarchy to watch, or not asked yet).
    units_populated: Option<Vec<bool>>,
}

impl FactsCollector {
    pub fn new(own_cert: Option<String>) -> Self {
        FactsCollector {
            facts: Facts::default(),
            scanner: LogScanner::default(),
            last: HashMap::new(),
            apt_history_mtime: None,
            own_cert,
            mount_timeout: Duration::from_millis(2000),
            max_mounts: 64,
            fstab: Vec::new(),
            storage_dirs: Vec::new(),
            dump_scanned: false,
            hits: None,
            units_populated: None,
        }
    }

    /// Sends each new journal hit on `tx` (a live journal only: a replayed host's recording is not
    /// news).
    pub fn with_hits(mut self, tx: broadcast::Sender<Arc<LogHit>>) -> Self {
        self.hits = Some(tx);
        self
    }

    /// Sends the hits the last read kept.
    fn send_hits(&mut self) {
        let Some(tx) = &self.hits else { return };
        for hit in self.scanner.take_hits() {
            // Nobody listening (no engine yet) is fine: the hint channel is lossy by design.
            let _ = tx.send(Arc::new(hit));
        }
    }

    /// The statvfs timeout (past it a mount is stale) and the bound on mounts checked
    /// (`health.mount_timeout_ms`, `health.max_mounts`).
    pub fn with_mounts(mut self, timeout: Duration, max: usize) -> Self {
        self.mount_timeout = timeout;
        self.max_mounts = max;
        self
    }

    fn due(&mut self, key: &'static str, every_ms: i64, now_ms: i64) -> bool {
        let due = self.last.get(key).is_none_or(|t| now_ms - t >= every_ms);
        if due {
            self.last.insert(key, now_ms);
        }
        due
    }

    /// Runs every source that is due. Returns whether the facts changed.
    pub async fn step(&mut self, host: &Host, now_ms: i64) -> bool {
        let mut changed = false;
        // Updates (`apt-get -s dist-upgrade`: over a second of CPU): as soon as apt's history (an
        // upgrade or install just ran) or its package lists (an `apt update`) change, else every 6 h.
        let mtime = [APT_HISTORY, APT_LISTS].map(|p| host.modified_ms(p)).into_iter().flatten().max();
        let apt_changed = mtime.is_some() && mtime != self.apt_history_mtime;
        if apt_changed || self.last.get("apt").is_none_or(|t| now_ms - t >= APT_EVERY_MS) {
            self.last.insert("apt", now_ms);
            self.apt_history_mtime = mtime;
            let r = apt::pending(host).await.map(|u| Updates {
                pending: u.packages.len(),
                security: u.security,
                pve: u.pve,
                new_kernel: u.new_kernel,
                notable: u
                    .packages
                    .iter()
                    .filter(|p| p.security || p.pve)
                    .take(50)
                    .map(|p| p.name.clone())
                    .collect(),
                checked_ms: now_ms,
            });
            fold(&mut self.facts.updates, "apt", r);
            changed = true;
        }
        if self.due("reboot", 600_000, now_ms) {
            let r = reboot(host);
            fold(&mut self.facts.reboot, "reboot", r);
            changed = true;
        }
        // The units' cgroups every minute (file reads); `systemctl` every 10 minutes, or at once when
        // a unit's cgroup gained or lost its processes (a service stopped, crashed or started).
        let populated =
            if self.due("cgroups", 60_000, now_ms) { services::populated(host, UNITS) } else { None };
        let moved = populated.as_ref().is_some_and(|p| self.units_populated.as_ref() != Some(p));
        let every = if self.units_populated.is_some() { 600_000 } else { 60_000 };
        if self.due("services", every, now_ms) || moved {
            self.last.insert("services", now_ms);
            let r = services::states(host, UNITS).await;
            fold(&mut self.facts.services, "systemctl", r);
            self.units_populated = populated.or_else(|| services::populated(host, UNITS));
            changed = true;
        }
        if self.due("timesync", 300_000, now_ms) {
            let r = time_sync(host).await;
            fold(&mut self.facts.timesync, "time sync", r);
            changed = true;
        }
        if self.due("certs", 3_600_000, now_ms) {
            self.facts.certs = self.certs(host);
            changed = true;
        }
        if self.due("journal", 60_000, now_ms) {
            changed |= self.journal(host, now_ms).await;
        }
        if self.due("bans", 300_000, now_ms) {
            let r = match host.run(&["fail2ban-client", "banned"]).await {
                Ok(out) if out.code == 0 => parse_fail2ban_banned(&out.stdout),
                Ok(out) => Err(ToolError::Failed {
                    tool: "fail2ban-client banned".into(),
                    code: Some(out.code),
                    stderr: out.stderr.trim().lines().last().unwrap_or("").chars().take(300).collect(),
                }),
                Err(e) => Err(e),
            };
            fold(&mut self.facts.bans, "fail2ban", r);
            changed = true;
        }
        if self.due("fs_config", 300_000, now_ms) {
            self.fstab = host
                .read_optional(mounts::FSTAB)
                .ok()
                .flatten()
                .map(|t| mounts::parse_fstab(&t))
                .unwrap_or_default();
            self.storage_dirs = host
                .read_optional(mounts::STORAGE_CFG)
                .ok()
                .flatten()
                .map(|t| mounts::parse_storage_cfg(&t))
                .unwrap_or_default();
        }
        // Every step: a full disk or a dead NFS server should not wait for a slower interval.
        let fs = self.filesystems(host).await;
        if fs != self.facts.filesystems {
            self.facts.filesystems = fs;
            changed = true;
        }
        if changed {
            self.facts.collected_ms = now_ms;
        }
        changed
    }

    /// Reads the mounts and statvfs's answer for each (concurrently, each under the timeout).
    async fn filesystems(&self, host: &Host) -> Source<Filesystems> {
        let text = match host.read(mounts::MOUNTINFO) {
            Ok(t) => t,
            Err(e) => return unavailable(&e),
        };
        let all = match mounts::parse_mountinfo(&text) {
            Ok(a) => a,
            Err(e) => return Source::Unavailable { reason: e.to_string() },
        };
        let sel = mounts::select(&all, self.max_mounts);
        let stats = futures_util::future::join_all(
            sel.mounts.iter().map(|m| host.statvfs(&m.mountpoint, self.mount_timeout)),
        )
        .await;
        let list = sel
            .mounts
            .iter()
            .zip(stats)
            .map(|(m, r)| {
                let mut readonly = m.readonly();
                let usage = match r {
                    Ok(st) => {
                        readonly |= st.readonly;
                        MountUsage::Ok {
                            size: st.size,
                            used: st.used(),
                            avail: st.avail,
                            used_pct: st.used_pct(),
                            files: st.files,
                            files_free: st.files_free,
                        }
                    }
                    Err(ToolError::Timeout { after, .. }) => MountUsage::Stale {
                        reason: format!("statvfs did not answer within {:.1} s", after.as_secs_f64()),
                    },
                    Err(ToolError::Failed { code: Some(c), stderr, .. }) if is_stale_errno(c) => {
                        MountUsage::Stale { reason: format!("statvfs failed: {stderr}") }
                    }
                    Err(e) => MountUsage::Error { reason: e.to_string() },
                };
                MountFact {
                    mountpoint: m.mountpoint.clone(),
                    fstype: m.fstype.clone(),
                    source: m.source.clone(),
                    readonly,
                    expected_readonly: mounts::expected_readonly(m, &self.fstab),
                    network: m.is_network(),
                    storage: mounts::storage_at(&self.storage_dirs, &m.mountpoint).map(|s| s.id.clone()),
                    usage,
                }
            })
            .collect();
        Source::Ok { data: Filesystems { mounts: list, omitted: sel.omitted() } }
    }

    /// proxwatch's own failed logins (wrong passwords, setup codes and tokens) from the
    /// `auth_events` table: those of the last [`logscan::KEEP_MS`], at most [`AUTH_BOUND`] (the
    /// newest), re-read once a minute. Returns whether they changed.
    pub async fn step_auth(&mut self, db: &Db, now_ms: i64) -> bool {
        if !self.due("auth", 60_000, now_ms) {
            return false;
        }
        let since_s = (now_ms - logscan::KEEP_MS).div_euclid(1000);
        let r = db
            .call(move |c| {
                // A row may stand for a burst of identical failures (its count): each counts.
                let mut stmt = c.prepare_cached(
                    "SELECT ts, user, ip, count, last_ts FROM auth_events
                     WHERE max(ts, last_ts) >= ?1 AND kind IN (?2, ?3, ?4, ?5)
                     ORDER BY id DESC LIMIT ?6",
                )?;
                let [k1, k2, k3, k4] = AUTH_FAILURE_KINDS;
                let rows =
                    stmt.query_map(rusqlite::params![since_s, k1, k2, k3, k4, AUTH_BOUND as i64], |r| {
                        let failure = LoginFailure {
                            ts_ms: r.get::<_, i64>(4)?.max(r.get::<_, i64>(0)?).saturating_mul(1000),
                            source: "proxwatch".into(),
                            user: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                            ip: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        };
                        Ok((failure, r.get::<_, i64>(3)?.max(1) as usize))
                    })?;
                let mut out = Vec::new();
                for row in rows {
                    let (failure, count) = row?;
                    let n = count.min(AUTH_BOUND - out.len());
                    out.extend(std::iter::repeat_n(failure, n));
                    if out.len() >= AUTH_BOUND {
                        break;
                    }
                }
                Ok(out)
            })
            .await;
        let next = match r {
            Ok(list) => Source::Ok { data: list },
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read auth events for the health facts");
                if matches!(self.facts.proxwatch_logins, Source::Ok { .. }) {
                    return false;
                }
                Source::Unavailable { reason: format!("auth events not readable: {e}") }
            }
        };
        let changed = next != self.facts.proxwatch_logins;
        self.facts.proxwatch_logins = next;
        changed
    }

    /// Folds in proxwatch's own failed logins (the run loop reads them from the auth event table).
    pub fn set_proxwatch_logins(&mut self, logins: Vec<LoginFailure>) {
        self.facts.proxwatch_logins = Source::Ok { data: logins };
    }

    fn certs(&self, host: &Host) -> Vec<CertFact> {
        let mut list: Vec<(String, String)> =
            PVE_CERTS.iter().map(|(n, p)| ((*n).to_string(), (*p).to_string())).collect();
        if let Some(p) = &self.own_cert {
            list.push(("proxwatch".into(), p.clone()));
        }
        list.into_iter()
            .filter_map(|(name, path)| {
                let cert = match host.read_bytes(&path) {
                    Ok(b) => match cert::parse_pem(&path, &b) {
                        Ok(c) => Source::Ok { data: c },
                        Err(e) => Source::Unavailable { reason: e.to_string() },
                    },
                    // Proxmox's custom certificate is optional; a missing one is simply not checked.
                    Err(ToolError::Missing { .. }) if name != "proxwatch" => return None,
                    Err(e) => unavailable(&e),
                };
                Some(CertFact { name, path, cert })
            })
            .collect()
    }

    async fn journal(&mut self, host: &Host, now_ms: i64) -> bool {
        // A host with a recorded journal (a replayed one, the demo): scan the recording, the same one
        // the Logs page shows (shifted so its newest entry is now), once, since it never grows.
        if self.dump_scanned {
            return false;
        }
        if let crate::workers::journal::Source::Dump(d) =
            crate::workers::journal::Source::for_host(host, now_ms * 1000)
        {
            let since_us = (now_ms - 86_400_000) * 1000;
            for e in d.entries.iter().filter(|e| e.ts_us >= since_us).take(JOURNAL_BOUND) {
                self.scanner.feed(&logscan::Entry::from(e.clone()));
            }
            self.scanner.prune(now_ms);
            self.facts.journal = Source::Ok { data: self.scanner.facts.clone() };
            self.dump_scanned = true;
            return true;
        }
        if self.hits.is_some() && self.scanner.hits_from_ms.is_none() {
            self.scanner.hits_from_ms = Some(now_ms - HIT_REPLAY_MS);
        }
        let bound = JOURNAL_BOUND.to_string();
        let after = self.scanner.cursor.as_ref().map(|c| format!("--after-cursor={c}"));
        let mut argv = vec!["journalctl", "-o", "json", "--no-pager", "-n", bound.as_str()];
        match &after {
            Some(a) => argv.push(a.as_str()),
            // The first read looks a day back.
            None => argv.push("--since=-24h"),
        }
        let r = match host.run_with_timeout(&argv, Duration::from_secs(30)).await {
            Ok(out) if out.code == 0 => Ok(out.stdout),
            Ok(out) => Err(ToolError::Failed {
                tool: "journalctl".into(),
                code: Some(out.code),
                stderr: out.stderr.trim().lines().last().unwrap_or("").chars().take(300).collect(),
            }),
            Err(e) => Err(e),
        };
        match r {
            Ok(text) => {
                self.scanner.feed_text(&text);
                self.send_hits();
                self.scanner.prune(now_ms);
                self.facts.journal = Source::Ok { data: self.scanner.facts.clone() };
                true
            }
            Err(e) => {
                // A cursor from a rotated-away journal is refused: start over from a day back.
                if after.is_some() {
                    self.scanner.cursor = None;
                    // The read from a day back re-reads what was sent already: hits start past it.
                    if let Some(newest) = self.scanner.newest_ms() {
                        self.scanner.hits_from_ms =
                            self.scanner.hits_from_ms.map(|from| from.max(newest + 1));
                    }
                }
                let was_ok = matches!(self.facts.journal, Source::Ok { .. });
                if !was_ok || e.is_missing() {
                    self.facts.journal = unavailable(&e);
                    return true;
                }
                tracing::debug!(error = %e, "journal not read; keeping the last facts");
                false
            }
        }
    }
}

fn reboot(host: &Host) -> Result<Reboot, ToolError> {
    let running = host.read("/proc/sys/kernel/osrelease")?.trim().to_string();
    let boot = host.list_dir("/boot").unwrap_or_default();
    let newest = newest_kernel(&boot);
    let flag_file = host.exists("/run/reboot-required");
    let older = newest.as_deref().is_some_and(|n| kernel_key(n) > kernel_key(&running));
    Ok(Reboot { running, newest_installed: newest, flag_file, required: older || flag_file })
}

/// The clock's synchronisation: chrony's view, else systemd-timesyncd's.
pub async fn time_sync(host: &Host) -> Result<timesync::TimeSync, ToolError> {
    match host.run(&timesync::CHRONY_ARGV).await {
        Ok(out) if out.code == 0 => return timesync::parse_chrony(&out.stdout),
        Ok(_) | Err(ToolError::Missing { .. }) => {}
        Err(e) => return Err(e),
    }
    let out = host.run(&timesync::TIMEDATECTL_ARGV).await?;
    if out.code != 0 {
        return Err(ToolError::Failed {
            tool: "timedatectl show".into(),
            code: Some(out.code),
            stderr: out.stderr.trim().lines().next().unwrap_or("").chars().take(300).collect(),
        });
    }
    timesync::parse_timedatectl(&out.stdout)
}

/// The facts loop: steps the collector every 15 s and publishes changes.
pub async fn run(
    host: Arc<Host>,
    db: Db,
    tls: TlsCfg,
    h: HealthCfg,
    out: watch::Sender<Arc<Facts>>,
    hits: broadcast::Sender<Arc<LogHit>>,
    mut tick: crate::workers::Periodic,
) {
    let own = (tls.enabled && !tls.cert.is_empty()).then(|| tls.cert.clone());
    let mut collector = FactsCollector::new(own)
        .with_mounts(Duration::from_millis(h.mount_timeout_ms), h.max_mounts)
        .with_hits(hits);
    while tick.next().await {
        let now = tick.now_ms();
        let mut changed = collector.step(&host, now).await;
        changed |= collector.step_auth(&db, now).await;
        if changed {
            out.send_replace(Arc::new(collector.facts.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    #[test]
    fn newest_kernel_orders_numerically() {
        let boot: Vec<String> =
            ["config-6.8.8-2-pve", "vmlinuz-6.8.8-2-pve", "vmlinuz-6.8.12-4-pve", "initrd.img-6.8.12-4-pve"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(newest_kernel(&boot).as_deref(), Some("6.8.12-4-pve"));
        assert!(kernel_key("6.8.12-4-pve") > kernel_key("6.8.8-2-pve"));
        assert_eq!(newest_kernel(&[]), None);
    }

    #[test]
    fn fail2ban_banned_python_repr() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/upstream/fail2ban/local_fail2ban-1.0.2_client_banned.txt"
        ))
        .unwrap();
        let b = parse_fail2ban_banned(&text).unwrap();
        assert_eq!(b["sshd"], vec!["203.0.113.45".to_string()]);
        assert_eq!(b["proxmox"], vec!["198.51.100.23".to_string()]);
        assert_eq!(parse_fail2ban_banned("[{'sshd': []}]").unwrap()["sshd"].len(), 0);
        assert!(parse_fail2ban_banned("Failed to access socket path").is_err());
    }
}
