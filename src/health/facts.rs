//! Facts gathered for the health rules only: pending updates, reboot pending, PVE service states,
//! time sync, certificate expiry, journal patterns (via [`super::logscan`]), failed logins and
//! fail2ban bans. The [`FactsCollector`] is a worker in the house style: `step(&Host, now)` runs what
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

use super::model::Source;
use crate::app::App;
use crate::host::{Host, ToolError};
use crate::tools::{apt, cert, services, timesync};
use logscan::{JournalFacts, LogScanner, LoginFailure};

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

const APT_HISTORY: &str = "/var/log/apt/history.log";

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
}

impl FactsCollector {
    pub fn new(own_cert: Option<String>) -> Self {
        FactsCollector {
            facts: Facts::default(),
            scanner: LogScanner::default(),
            last: HashMap::new(),
            apt_history_mtime: None,
            own_cert,
        }
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
        // Updates: hourly, or as soon as apt's history changes (an upgrade or install just ran).
        let mtime = host.modified_ms(APT_HISTORY);
        let apt_changed = mtime.is_some() && mtime != self.apt_history_mtime;
        if apt_changed || self.last.get("apt").is_none_or(|t| now_ms - t >= 3_600_000) {
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
        if self.due("services", 60_000, now_ms) {
            let r = services::states(host, UNITS).await;
            fold(&mut self.facts.services, "systemctl", r);
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
        if changed {
            self.facts.collected_ms = now_ms;
        }
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
                self.scanner.prune(now_ms);
                self.facts.journal = Source::Ok { data: self.scanner.facts.clone() };
                true
            }
            Err(e) => {
                // A cursor from a rotated-away journal is refused: start over from a day back.
                if after.is_some() {
                    self.scanner.cursor = None;
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

async fn time_sync(host: &Host) -> Result<timesync::TimeSync, ToolError> {
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
pub async fn run(app: Arc<App>) {
    let tls = &app.config.tls;
    let own = (tls.enabled && !tls.cert.is_empty()).then(|| tls.cert.clone());
    let mut collector = FactsCollector::new(own);
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut logins_at = 0i64;
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = crate::workers::wall_ms();
        let mut changed = collector.step(&app.host, now).await;
        if now - logins_at >= 60_000 {
            logins_at = now;
            match crate::auth::audit::AuditLog::list(&app.db, 1000, None).await {
                Ok(events) => {
                    let cut = (now - logscan::KEEP_MS) / 1000;
                    let fails = events
                        .into_iter()
                        .filter(|e| {
                            e.ts >= cut
                                && matches!(e.kind.as_str(), "login_failed" | "token_failed" | "setup_failed")
                        })
                        .map(|e| LoginFailure {
                            ts_ms: e.ts * 1000,
                            source: "proxwatch".into(),
                            user: e.user.unwrap_or_default(),
                            ip: e.ip.unwrap_or_default(),
                        })
                        .collect();
                    collector.set_proxwatch_logins(fails);
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read auth events for the health facts")
                }
            }
        }
        if changed {
            app.health_bus.facts.send_replace(Arc::new(collector.facts.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
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
            "/../shared/fixtures/fail2ban/local_fail2ban-1.0.2_client_banned.txt"
        ))
        .unwrap();
        let b = parse_fail2ban_banned(&text).unwrap();
        assert_eq!(b["sshd"], vec!["203.0.113.45".to_string()]);
        assert_eq!(b["proxmox"], vec!["198.51.100.23".to_string()]);
        assert_eq!(parse_fail2ban_banned("[{'sshd': []}]").unwrap()["sshd"].len(), 0);
        assert!(parse_fail2ban_banned("Failed to access socket path").is_err());
    }
}
