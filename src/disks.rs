//! What is known about each physical disk, in one place, so that no screen calls a failing disk
//! healthy: which pool member it is (ZFS names its members by `/dev/disk/by-id`, by-partuuid, WWN,
//! a partition or the kernel name, never simply `sde`), and its verdict from everything known about
//! it: SMART, its pool membership state and error counters, and the health findings about it
//! (sector counters, wear, temperature, journal I/O errors). "SMART overall PASSED" is one fact among
//! these, not the verdict.
//!
//! Pure functions over the inventory and the health snapshot; the inventory worker reads the
//! `/dev/disk/by-*` links (the only I/O) into [`Inventory::dev_links`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::health::HealthSnapshot;
use crate::health::model::{Finding, ObjectKind, Severity};
use crate::health::store::State as FState;
use crate::model::inventory::Inventory;
use crate::model::section::{Section, SectionState};
use crate::model::smart::{Reading, ScanDevice};
use crate::model::storage::BlockDevice;
use crate::model::wear::Forecast;
use crate::model::zfs::{PoolStatus, Vdev};

pub use crate::model::storage::LINK_DIRS;

pub use crate::model::storage::{Placement, resolve};

/// A disk's place in a ZFS pool.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Membership {
    pub pool: String,
    pub pool_state: String,
    /// The member's name as zpool prints it (bay-identifying: by-id names carry model and serial).
    pub vdev: String,
    pub partition: Option<String>,
    /// The member's own state (`ONLINE`, `FAULTED`, `DEGRADED`, …).
    pub state: Option<String>,
    pub read: u64,
    pub write: u64,
    pub checksum: u64,
    pub note: Option<String>,
    /// `cache`, `log`, `spare`, … when the member is in a special section.
    pub section: Option<String>,
}

fn leaves(p: &PoolStatus) -> Vec<(Option<String>, &Vdev)> {
    let mut out: Vec<(Option<String>, &Vdev)> =
        p.root.iter().flat_map(|r| r.leaves()).map(|v| (None, v)).collect();
    for s in &p.sections {
        for v in s.vdevs.iter().flat_map(|v| v.leaves()) {
            let class = serde_json::to_value(s.class).ok().and_then(|v| v.as_str().map(str::to_string));
            out.push((class, v));
        }
    }
    out
}

/// The WWN of each SMART-read disk, by kernel name.
fn wwns(inv: &Inventory) -> BTreeMap<String, String> {
    inv.smart
        .iter()
        .filter_map(|(dev, s)| match &s.data {
            Some(Reading::Data(d)) => Some((
                dev.trim_start_matches("/dev/").to_string(),
                d.wwn.clone()?.trim_start_matches("0x").to_string(),
            )),
            _ => None,
        })
        .collect()
}

/// Every pool member mapped to its disk: `(disk kernel name, membership)`. Members that map to no
/// known disk are left out (the pool view still shows them by name).
pub fn memberships(inv: &Inventory) -> Vec<(String, Membership)> {
    let devs = inv.blockdevs.data.as_deref().unwrap_or_default();
    let wwns = wwns(inv);
    let mut out = Vec::new();
    for p in inv.pools.data.iter().flatten() {
        for (section, v) in leaves(p) {
            let found = resolve(&v.name, devs, &inv.dev_links, &wwns)
                .or_else(|| v.was().and_then(|w| resolve(w, devs, &inv.dev_links, &wwns)));
            let Some(place) = found else { continue };
            let e = v.errors.as_ref();
            out.push((
                place.disk,
                Membership {
                    pool: p.name.clone(),
                    pool_state: p.state.as_str().to_string(),
                    vdev: v.name.clone(),
                    partition: place.partition,
                    state: v.state.as_ref().map(|s| s.as_str().to_string()),
                    read: e.map_or(0, |e| e.read),
                    write: e.map_or(0, |e| e.write),
                    checksum: e.map_or(0, |e| e.checksum),
                    note: v.note.clone(),
                    section,
                },
            ));
        }
    }
    out
}

/// A finding about a disk, as the disk's page lists it (worst first).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiskFinding {
    pub key: String,
    pub check: String,
    pub severity: Severity,
    pub reason: String,
    pub dismissed: bool,
    /// The SMART attribute ids (ATA) or field names (NVMe) behind it, for the page to highlight.
    pub attributes: Vec<serde_json::Value>,
}

/// A disk's displayed verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `ok`, `info`, `warning`, `critical`, `unknown`, `standby` or `pending`.
    pub state: &'static str,
    /// One line: the worst thing known about the disk, or why it is fine.
    pub reason: String,
    /// The health findings about the disk (active first, then dismissed), worst first.
    pub findings: Vec<DiskFinding>,
}

fn member_severity(m: &Membership) -> (Severity, Option<String>) {
    let state = m.state.as_deref().unwrap_or("");
    let where_ = format!("member {} of pool {}", m.vdev, m.pool);
    match state {
        "FAULTED" | "UNAVAIL" | "REMOVED" => (
            Severity::Critical,
            Some(format!("{state} as {where_} (read {} write {} cksum {})", m.read, m.write, m.checksum)),
        ),
        "DEGRADED" | "OFFLINE" => (Severity::Warning, Some(format!("{state} as {where_}"))),
        _ if m.read + m.write + m.checksum > 0 => (
            Severity::Warning,
            Some(format!(
                "{} errors as {where_} (read {} write {} cksum {})",
                m.read + m.write + m.checksum,
                m.read,
                m.write,
                m.checksum
            )),
        ),
        _ => (Severity::Ok, None),
    }
}

/// The health findings whose object is the disk `/dev/<kname>`, with their persisted state.
pub fn findings_for(health: &HealthSnapshot, kname: &str) -> Vec<DiskFinding> {
    let path = format!("/dev/{kname}");
    // smartctl names NVMe disks by controller (`/dev/nvme0`) while lsblk names the namespace.
    let ctrl = kname.strip_suffix("n1").map(|c| format!("/dev/{c}"));
    let about = |f: &Finding| {
        f.object.as_ref().is_some_and(|(k, id)| {
            *k == ObjectKind::Disk && (id == &path || ctrl.as_deref() == Some(id.as_str()))
        })
    };
    let mut out: Vec<DiskFinding> = health
        .results
        .values()
        .flatten()
        .filter(|f| f.severity != Severity::Ok && about(f))
        .map(|f| DiskFinding {
            key: f.key.clone(),
            check: f.check.clone(),
            severity: f.severity,
            reason: f.reason.clone(),
            dismissed: health.records.get(&f.key).is_some_and(|r| r.state == FState::Dismissed),
            attributes: f.details.get("attributes").and_then(|a| a.as_array()).cloned().unwrap_or_default(),
        })
        .collect();
    out.sort_by(|a, b| {
        a.dismissed.cmp(&b.dismissed).then(b.severity.cmp(&a.severity)).then(a.key.cmp(&b.key))
    });
    out
}

/// The smartctl device of the disk `kname` and its reading: smartctl names an NVMe disk by its
/// controller (`/dev/nvme0`) where lsblk names the namespace (`nvme0n1`).
pub fn smart_of<'a>(
    inv: &'a Inventory,
    kname: &str,
) -> Option<(&'a ScanDevice, Option<&'a Section<Reading>>)> {
    let devices = inv.smart_devices.data.as_ref()?;
    let dev = devices.iter().find(|d| {
        let base = d.name.trim_start_matches("/dev/");
        base == kname
            || (base.starts_with("nvme") && kname.strip_prefix(base).is_some_and(|r| r.starts_with('n')))
    })?;
    Some((dev, inv.smart.get(&dev.name)))
}

/// SMART's state for a disk (`ok`, `standby`, `failed`, `unavailable` or `pending`) and whether its
/// overall self-assessment passed, from its reading (`scanned`: smartctl lists the device, or the
/// scan has not run yet).
pub fn smart_state(section: Option<&Section<Reading>>, scanned: bool) -> (&'static str, Option<bool>) {
    let initial = if scanned { "pending" } else { "unavailable" };
    let Some(section) = section else { return (initial, None) };
    match (&section.data, section.state) {
        (_, SectionState::Unavailable) => ("unavailable", None),
        (Some(Reading::Data(d)), _) => {
            let standby = section.reason.as_deref().is_some_and(|r| r.contains("not woken"));
            (if standby { "standby" } else { "ok" }, d.smart_passed)
        }
        (Some(Reading::Standby { .. }), _) => ("standby", None),
        (Some(Reading::Failed { .. }), _) => ("failed", None),
        (None, SectionState::Error | SectionState::Stale) => ("failed", None),
        (None, _) => (initial, None),
    }
}

/// The SSD endurance forecast of a disk, by its smartctl name or its path.
pub fn forecast_of<'a>(inv: &'a Inventory, disk: &BlockDevice) -> Option<&'a Forecast> {
    let path = disk.path.clone().unwrap_or_else(|| format!("/dev/{}", disk.kname));
    smart_of(inv, &disk.kname)
        .and_then(|(dev, _)| inv.forecasts.get(&dev.name))
        .or_else(|| inv.forecasts.get(&path))
}

/// What is known about one physical disk: its SMART device and reading, its pool memberships and its
/// verdict from all of them and the health findings about it.
pub struct Judged<'a> {
    pub disk: &'a BlockDevice,
    /// The reading, when smartctl lists the device.
    pub smart: Option<&'a Section<Reading>>,
    /// smartctl lists the device (or its scan has not run yet).
    pub scanned: bool,
    pub pools: Vec<Membership>,
    pub verdict: Verdict,
}

/// Every physical disk with its verdict: what the Storage page lists and the Overview's disks card
/// counts, so the two never disagree.
pub fn verdicts<'a>(inv: &'a Inventory, devs: &'a [BlockDevice], health: &HealthSnapshot) -> Vec<Judged<'a>> {
    let members = memberships(inv);
    crate::model::storage::physical_disks(devs)
        .into_iter()
        .map(|d| {
            let found = smart_of(inv, &d.kname);
            let smart = found.and_then(|(_, s)| s);
            let scanned = found.is_some() || inv.smart_devices.data.is_none();
            let (state, passed) = smart_state(smart, scanned);
            let pools: Vec<Membership> =
                members.iter().filter(|(k, _)| *k == d.kname).map(|(_, m)| m.clone()).collect();
            let refs: Vec<&Membership> = pools.iter().collect();
            let verdict = verdict(state, passed, &refs, findings_for(health, &d.kname));
            Judged { disk: d, smart, scanned, pools, verdict }
        })
        .collect()
}

/// The verdict from the SMART reading's state (`ok`, `standby`, `failed`, `unavailable`,
/// `pending`), whether SMART passed, the pool memberships and the findings about the disk.
pub fn verdict(
    smart_state: &str,
    smart_passed: Option<bool>,
    members: &[&Membership],
    findings: Vec<DiskFinding>,
) -> Verdict {
    let mut worst: Option<(Severity, String)> = None;
    let mut consider = |sev: Severity, why: String| {
        if sev > Severity::Ok && worst.as_ref().is_none_or(|(w, _)| sev > *w) {
            worst = Some((sev, why));
        }
    };
    for m in members {
        if let (sev, Some(why)) = member_severity(m) {
            consider(sev, why);
        }
    }
    for f in findings.iter().filter(|f| !f.dismissed) {
        consider(f.severity, f.reason.clone());
    }
    if smart_passed == Some(false) {
        consider(Severity::Critical, "SMART overall health FAILED".into());
    }
    let dismissed = findings.iter().filter(|f| f.dismissed).count();
    let (state, reason) = match worst {
        Some((sev, why)) => (sev.as_str(), why),
        None => {
            let pools: Vec<String> = members
                .iter()
                .map(|m| format!("{} in {}", m.state.as_deref().unwrap_or("?"), m.pool))
                .collect();
            let mut why = match smart_state {
                "standby" => "in standby; not woken to read SMART".to_string(),
                "pending" => "SMART not read yet".to_string(),
                "unavailable" | "failed" => "no SMART reading".to_string(),
                _ => match smart_passed {
                    Some(true) => "SMART passed, no problem found".to_string(),
                    _ => "no problem found".to_string(),
                },
            };
            if !pools.is_empty() {
                why += &format!("; {}", pools.join(", "));
            }
            if dismissed > 0 {
                why += &format!("; {dismissed} dismissed finding{}", if dismissed == 1 { "" } else { "s" });
            }
            let state = match smart_state {
                "standby" => "standby",
                "pending" => "pending",
                "unavailable" | "failed" if members.is_empty() => "unknown",
                _ => "ok",
            };
            (state, why)
        }
    };
    Verdict { state, reason, findings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::storage::BlockDevice;

    fn dev(kname: &str, t: &str, parent: Option<&str>, serial: Option<&str>) -> BlockDevice {
        BlockDevice {
            name: kname.into(),
            kname: kname.into(),
            path: Some(format!("/dev/{kname}")),
            dev_type: t.into(),
            size: None,
            rotational: None,
            model: None,
            serial: serial.map(Into::into),
            transport: None,
            fstype: None,
            mountpoint: None,
            parent: parent.map(Into::into),
            disk_kind: None,
        }
    }

    fn devs() -> Vec<BlockDevice> {
        vec![
            dev("sda", "disk", None, Some("S455NE0R600123")),
            dev("sda3", "part", Some("sda"), None),
            dev("sde", "disk", None, Some("ZL2PR0T9")),
            dev("sde1", "part", Some("sde"), None),
            dev("nvme0n1", "disk", None, Some("S4EUNG0M705311")),
            dev("nvme0n1p1", "part", Some("nvme0n1"), None),
        ]
    }

    fn at(disk: &str, part: Option<&str>) -> Option<Placement> {
        Some(Placement { disk: disk.into(), partition: part.map(Into::into) })
    }

    #[test]
    fn vdev_names_map_to_the_disk_they_live_on() {
        let d = devs();
        let none = BTreeMap::new();
        // by-id names as zpool prints them (the demo's faulted tank member is sde).
        assert_eq!(resolve("ata-ST16000NM001G-2KK103_ZL2PR0T9", &d, &none, &none), at("sde", None));
        assert_eq!(
            resolve("ata-SAMSUNG_MZ7LH1T9HMLT-00005_S455NE0R600123-part3", &d, &none, &none),
            at("sda", Some("sda3"))
        );
        assert_eq!(
            resolve("nvme-Samsung_SSD_970_EVO_Plus_250GB_S4EUNG0M705311-part1", &d, &none, &none),
            at("nvme0n1", Some("nvme0n1p1"))
        );
        // Kernel names and paths, partitions included.
        assert_eq!(resolve("sde1", &d, &none, &none), at("sde", Some("sde1")));
        assert_eq!(resolve("/dev/sda", &d, &none, &none), at("sda", None));
        // WWN (from SMART) and by-partuuid (through the link the worker read).
        let wwns = BTreeMap::from([("sde".to_string(), "5000c500d00d0001".to_string())]);
        assert_eq!(resolve("wwn-0x5000c500d00d0001-part1", &d, &none, &wwns), at("sde", Some("sde1")));
        let links = BTreeMap::from([("by-partuuid/3f2a-77".to_string(), "sda3".to_string())]);
        assert_eq!(resolve("3f2a-77", &d, &links, &none), at("sda", Some("sda3")));
        assert_eq!(resolve("/dev/disk/by-partuuid/3f2a-77", &d, &links, &none), at("sda", Some("sda3")));
        // Unknown names map to nothing rather than to a wrong disk.
        assert_eq!(resolve("ata-OTHER_MODEL_NOPE123", &d, &none, &none), None);
        assert_eq!(resolve("mirror-0", &d, &none, &none), None);
    }

    fn member(state: &str, cksum: u64) -> Membership {
        Membership {
            pool: "tank".into(),
            pool_state: "DEGRADED".into(),
            vdev: "ata-ST16000NM001G-2KK103_ZL2PR0T9".into(),
            partition: None,
            state: Some(state.into()),
            read: 12,
            write: 0,
            checksum: cksum,
            note: None,
            section: None,
        }
    }

    #[test]
    fn a_faulted_member_with_smart_passed_is_critical_not_healthy() {
        let m = member("FAULTED", 87);
        let v = verdict("ok", Some(true), &[&m], Vec::new());
        assert_eq!(v.state, "critical", "{v:?}");
        assert!(v.reason.contains("FAULTED") && v.reason.contains("tank"), "{}", v.reason);
        let ok = member("ONLINE", 0);
        let ok = Membership { read: 0, ..ok };
        let v = verdict("ok", Some(true), &[&ok], Vec::new());
        assert_eq!((v.state, v.reason.as_str()), ("ok", "SMART passed, no problem found; ONLINE in tank"));
    }

    #[test]
    fn the_worst_active_finding_leads_and_dismissed_ones_do_not_colour() {
        let f = |sev, dismissed, reason: &str| DiskFinding {
            key: format!("k:{reason}"),
            check: "disk_wear".into(),
            severity: sev,
            reason: reason.into(),
            dismissed,
            attributes: vec![],
        };
        let v = verdict(
            "ok",
            Some(true),
            &[],
            vec![f(Severity::Warning, false, "hot"), f(Severity::Critical, false, "90 % worn")],
        );
        assert_eq!((v.state, v.reason.as_str()), ("critical", "90 % worn"));
        let v = verdict("ok", Some(true), &[], vec![f(Severity::Critical, true, "90 % worn")]);
        assert_eq!(v.state, "ok");
        assert!(v.reason.ends_with("1 dismissed finding"), "{}", v.reason);
        assert_eq!(verdict("standby", None, &[], vec![]).state, "standby");
    }
}
