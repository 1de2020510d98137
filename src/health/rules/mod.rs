//! The rules of the ten categories: pure functions over [`Snapshots`] (one file per category). Each
//! returns findings for what it checked, `Ok` ones included so the UI can list passed checks, and
//! `Unknown` ones when the source it needs is unavailable. Keys are `<check>:<object>` and stable.

mod cpu;
mod disks;
mod guests;
mod logs;
mod memory;
mod network;
mod security;
mod services;
mod storage;
mod updates;

use super::model::{Category, Finding, Rule, Severity, Snapshots};
use crate::model::section::{Section, SectionState};

pub const RULES: &[Rule] = &[
    cpu::USAGE,
    cpu::LOAD,
    cpu::PRESSURE,
    cpu::TEMPERATURE,
    cpu::FANS,
    memory::USAGE,
    memory::SWAP,
    memory::PRESSURE,
    memory::OOM,
    storage::STATE,
    storage::CAPACITY,
    storage::FILESYSTEMS,
    disks::SMART,
    disks::ZFS,
    disks::IO_ERRORS,
    guests::ONBOOT,
    guests::HA,
    guests::LOCKS,
    guests::FAILED_STARTS,
    guests::MONITORS,
    guests::CONTAINERS,
    network::INTERFACES,
    network::GATEWAY,
    network::PEERS,
    services::SERVICES,
    services::TIME_SYNC,
    logs::CRITICAL,
    logs::PATTERNS,
    updates::UPDATES,
    updates::REBOOT,
    updates::BACKUPS,
    security::LOGINS,
    security::CERTS,
    security::UPS,
    security::IPMI,
];

/// The previous evaluation's active finding for `key`.
pub(crate) fn prev<'a>(s: &'a Snapshots, key: &str) -> Option<&'a Finding> {
    s.previous.get(key)
}

pub(crate) fn prev_severity(s: &Snapshots, key: &str) -> Severity {
    prev(s, key).map(|f| f.severity).unwrap_or(Severity::Ok)
}

/// The level of `value` against `warn`/`crit` (higher is worse), with recovery hysteresis: a level
/// reached before (`was`) holds until the value drops `margin` below that level's threshold, so a
/// value hovering around a threshold does not flap.
pub(crate) fn graded(value: f64, warn: f64, crit: f64, margin: f64, was: Severity) -> Severity {
    let mut sev = if value >= crit {
        Severity::Critical
    } else if value >= warn {
        Severity::Warning
    } else {
        Severity::Ok
    };
    if was == Severity::Critical && sev < Severity::Critical && value > crit - margin {
        sev = Severity::Critical;
    }
    if was >= Severity::Warning && sev < Severity::Warning && value > warn - margin {
        sev = Severity::Warning;
    }
    sev
}

pub(crate) fn unknown(category: Category, key: impl Into<String>, reason: impl Into<String>) -> Finding {
    Finding::new(category, key, Severity::Unknown, reason)
}

/// An inventory section's data, or the reason it has none.
pub(crate) fn data<'a, T>(sec: &'a Section<T>, what: &str) -> Result<&'a T, String> {
    match (&sec.data, sec.state) {
        (Some(d), SectionState::Ok | SectionState::Stale) => Ok(d),
        (_, SectionState::Pending) => Err(format!("{what} not read yet")),
        _ => Err(format!("{what} unavailable: {}", sec.reason.as_deref().unwrap_or("no data"))),
    }
}

pub(crate) fn pct(used: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { used as f64 * 100.0 / total as f64 }
}

/// Bytes as `1.2 TiB`.
pub(crate) fn bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[i]) }
}

/// A short stable id for free text (FNV-1a, 64 bit), for keys of log patterns.
pub(crate) fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

/// Host uptime in seconds, from the vitals or the node status.
pub(crate) fn uptime_s(s: &Snapshots) -> Option<f64> {
    s.vitals
        .as_ref()
        .map(|v| v.sample.uptime_s)
        .filter(|u| *u > 0.0)
        .or_else(|| s.inventory.node_status.data.as_ref().map(|n| n.uptime as f64).filter(|u| *u > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graded_holds_a_level_within_the_margin() {
        use Severity::*;
        assert_eq!(graded(86.0, 85.0, 95.0, 5.0, Ok), Warning);
        assert_eq!(graded(84.0, 85.0, 95.0, 5.0, Ok), Ok);
        assert_eq!(graded(84.0, 85.0, 95.0, 5.0, Warning), Warning, "held within the margin");
        assert_eq!(graded(79.0, 85.0, 95.0, 5.0, Warning), Ok, "cleared below threshold − margin");
        assert_eq!(graded(93.0, 85.0, 95.0, 5.0, Critical), Critical);
        assert_eq!(graded(89.0, 85.0, 95.0, 5.0, Critical), Warning);
    }

    #[test]
    fn rule_ids_and_checks_are_unique() {
        let mut ids = std::collections::HashSet::new();
        let mut checks = std::collections::HashSet::new();
        for r in RULES {
            assert!(ids.insert(r.id), "duplicate rule {}", r.id);
            for (c, _) in r.checks {
                assert!(checks.insert(*c), "check {c} declared twice");
            }
        }
        for cat in Category::ALL {
            assert!(RULES.iter().any(|r| r.category == cat), "no rule for {cat:?}");
        }
    }
}
