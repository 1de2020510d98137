//! Disks: SMART health, sector counters and their growth, NVMe critical warning and spare, wear and
//! temperature per disk class; ZFS pool state, device errors and scrub age; I/O errors from the
//! journal. A disk in standby is never woken (the inventory reads with `-n standby`) and never
//! counted as failing for being asleep.
//!
//! Only the counters that mean media trouble are read (5, 197, 198 on ATA; grown defects and
//! uncorrected errors on SCSI; media errors on NVMe): vendor-encoded raw values such as Seagate's
//! Raw_Read_Error_Rate or Seek_Error_Rate are huge on healthy disks and are never compared.

use serde_json::json;

use super::{data, graded, prev, prev_severity, unknown};
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Source, Thresholds};
use crate::model::section::SectionState;
use crate::model::smart::{DiskKind, Reading, SmartData};
use crate::model::zfs::{PoolStatus, Scan, ScanFunction, VdevState};

const CAT: Category = Category::Disks;

pub const SMART: Rule = Rule {
    id: "smart",
    category: CAT,
    checks: &[
        ("smart", "SMART health and sector counters"),
        ("nvme_warning", "NVMe critical warning"),
        ("disk_spare", "NVMe available spare"),
        ("disk_wear", "SSD wear"),
        ("disk_temp", "Disk temperature"),
    ],
    fast: false,
    run: smart,
};
pub const ZFS: Rule = Rule {
    id: "zfs",
    category: CAT,
    checks: &[
        ("zfs_pool", "ZFS pool state"),
        ("zfs_errors", "ZFS device and data errors"),
        ("zfs_scrub", "ZFS scrub"),
    ],
    fast: false,
    run: zfs,
};
pub const IO_ERRORS: Rule = Rule {
    id: "disk_io_errors",
    category: CAT,
    checks: &[("disk_io_errors", "I/O errors in the journal")],
    fast: false,
    run: io_errors,
};

fn disk_label(dev: &str, d: Option<&SmartData>) -> String {
    match d.and_then(|d| d.model.as_deref()) {
        Some(m) => format!("{dev} ({m})"),
        None => dev.to_string(),
    }
}

fn smart(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    let inv = &s.inventory;
    if let Err(r) = data(&inv.smart_devices, "smartctl --scan") {
        return vec![unknown(CAT, "smart:all", r)];
    }
    let mut out = Vec::new();
    for (dev, sec) in &inv.smart {
        let obj = |f: Finding| f.object(ObjectKind::Disk, dev.clone());
        let asleep = sec.reason.as_deref().is_some_and(|r| r.contains("not woken"));
        match &sec.data {
            None => {
                let r = sec.reason.clone().unwrap_or_else(|| "not read yet".into());
                out.push(obj(unknown(CAT, format!("smart:{dev}"), format!("{dev}: {r}"))));
            }
            Some(Reading::Standby { power_mode }) => {
                out.push(obj(Finding::new(
                    CAT,
                    format!("smart:{dev}"),
                    Severity::Ok,
                    format!("{dev} is in {power_mode}; not woken to read SMART"),
                )));
            }
            Some(Reading::Failed { reason, .. }) => {
                if sec.state == SectionState::Ok || sec.state == SectionState::Stale {
                    out.push(obj(unknown(CAT, format!("smart:{dev}"), format!("{dev}: {reason}"))));
                }
            }
            Some(Reading::Data(d)) => disk(s, t, dev, d, asleep, &mut out),
        }
    }
    out
}

fn disk(s: &Snapshots, t: &Thresholds, dev: &str, d: &SmartData, asleep: bool, out: &mut Vec<Finding>) {
    let label = disk_label(dev, Some(d));
    let obj = |f: Finding| f.object(ObjectKind::Disk, dev.to_string());
    let note = if asleep { " (last reading; disk now in standby)" } else { "" };

    // Health and sector counters.
    let key = format!("smart:{dev}");
    let mut sev = Severity::Ok;
    let mut why: Vec<String> = Vec::new();
    if d.smart_passed == Some(false) {
        sev = Severity::Critical;
        why.push("SMART overall health FAILED".into());
    }
    let (rw, rc, pc) = (
        t.get("disks.reallocated_warning"),
        t.get("disks.reallocated_critical"),
        t.get("disks.pending_critical"),
    );
    let mut realloc = None;
    let mut pending = None;
    // What the disk page highlights: ATA attribute ids, or NVMe / SCSI field names.
    let mut attrs: Vec<serde_json::Value> = Vec::new();
    if let Some(a) = &d.ata {
        realloc = a.reallocated_sectors;
        pending = match (a.pending_sectors, a.offline_uncorrectable) {
            (None, None) => None,
            (p, u) => Some(p.unwrap_or(0).max(u.unwrap_or(0))),
        };
        let failing: Vec<&str> =
            a.attributes.iter().filter(|x| x.failing_now).map(|x| x.name.as_str()).collect();
        attrs.extend(a.attributes.iter().filter(|x| x.failing_now).map(|x| json!(x.id)));
        if !failing.is_empty() {
            sev = Severity::Critical;
            why.push(format!("attribute at its failure threshold: {}", failing.join(", ")));
        }
    }
    if let Some(sc) = &d.scsi {
        realloc = sc.grown_defects;
        let unc = sc.read_uncorrected().unwrap_or(0) + sc.write_uncorrected().unwrap_or(0);
        if unc > 0 {
            sev = sev.max(Severity::Warning);
            why.push(format!("{unc} uncorrected read/write errors"));
        }
    }
    if let Some(n) = realloc {
        let lvl = if n as f64 >= rc {
            Severity::Critical
        } else if n as f64 >= rw {
            Severity::Warning
        } else {
            Severity::Ok
        };
        if lvl > Severity::Ok {
            sev = sev.max(lvl);
            why.push(format!("{n} reallocated sectors"));
            attrs.push(if d.ata.is_some() { json!(5) } else { json!("grown_defects") });
        }
    }
    if let Some(n) = pending.filter(|n| *n > 0) {
        sev = sev.max(if n as f64 >= pc { Severity::Critical } else { Severity::Warning });
        why.push(format!("{n} pending/uncorrectable sectors"));
        attrs.extend([json!(197), json!(198)]);
    }
    if let Some(n) = d.nvme.as_ref().and_then(|n| n.media_errors).filter(|n| *n > 0) {
        sev = sev.max(Severity::Warning);
        why.push(format!("{n} media errors"));
        attrs.push(json!("media_errors"));
    }
    // Growth since the previous evaluation: a counter that moves is a disk that is failing now.
    if let Some(p) = prev(s, &key) {
        let was = |k: &str| p.details.get(k).and_then(|v| v.as_u64());
        for (k, now) in [("reallocated", realloc), ("pending", pending)] {
            if let (Some(before), Some(now)) = (was(k), now)
                && now > before
            {
                sev = sev.max(Severity::Warning);
                why.push(format!("{k} grew from {before} to {now}"));
            }
        }
    }
    if d.self_tests.first().is_some_and(|st| st.passed == Some(false)) {
        sev = sev.max(Severity::Warning);
        why.push("the last self-test failed".into());
    }
    let reason = if why.is_empty() {
        format!("{label}: SMART passed, no reallocated or pending sectors{note}")
    } else {
        format!("{label}: {}{note}", why.join("; "))
    };
    out.push(obj(Finding::new(CAT, key, sev, reason).details(json!({
        "reallocated": realloc, "pending": pending, "smart_passed": d.smart_passed,
        "media_errors": d.nvme.as_ref().and_then(|n| n.media_errors),
        "attributes": attrs,
    }))));

    // NVMe critical warning and spare.
    if let Some(n) = &d.nvme {
        let cw = n.critical_warning;
        let key = format!("nvme_warning:{dev}");
        let (sev, reason) = if cw.any() {
            // Temperature alone is a warning; spare, reliability, read-only, backup failure are critical.
            let sev = if cw.0 & !0b10 != 0 { Severity::Critical } else { Severity::Warning };
            (sev, format!("{label}: NVMe critical warning 0x{:02x} ({})", cw.0, cw.names().join(", ")))
        } else {
            (Severity::Ok, format!("{label}: no NVMe critical warning"))
        };
        out.push(obj(Finding::new(CAT, key, sev, reason)
            .details(json!({"critical_warning": cw.0, "flags": cw.names()}))));
        if let Some(spare) = n.available_spare_pct {
            let key = format!("disk_spare:{dev}");
            let drive_min = n.available_spare_threshold_pct.unwrap_or(0);
            let warn = t.get("disks.spare_warning_pct");
            let sev = if n.spare_below_threshold || spare < drive_min {
                Severity::Critical
            } else if (spare as f64) < warn {
                Severity::Warning
            } else {
                Severity::Ok
            };
            out.push(obj(Finding::new(
                CAT,
                key,
                sev,
                format!("{label}: available spare {spare} % (drive threshold {drive_min} %)"),
            )
            .details(json!({"spare_pct": spare, "drive_threshold_pct": drive_min, "warning_pct": warn}))));
        }
    }

    // Wear (SSD and NVMe).
    if let Some(w) = d.wear_used_pct {
        let key = format!("disk_wear:{dev}");
        let (warn, crit) = (t.get("disks.wear_warning_pct"), t.get("disks.wear_critical_pct"));
        let sev = graded(f64::from(w), warn, crit, 0.0, Severity::Ok);
        let src = d.wear_source.as_deref().map(|s| format!(", from {s}")).unwrap_or_default();
        out.push(obj(Finding::new(CAT, key, sev, format!("{label}: {w} % of rated endurance used{src}"))
            .details(json!({"wear_pct": w, "warning_pct": warn, "critical_pct": crit,
                "attributes": wear_attribute(d.wear_source.as_deref())}))));
    }

    // Temperature per class.
    if let Some(temp) = d.temperature_c {
        let class = match d.kind {
            DiskKind::Nvme => "nvme",
            DiskKind::Ssd => "ssd",
            _ => "hdd",
        };
        let (warn, crit) = match class {
            "nvme" => (t.get("disks.temp_nvme_warning_c"), t.get("disks.temp_nvme_critical_c")),
            "ssd" => (t.get("disks.temp_ssd_warning_c"), t.get("disks.temp_ssd_critical_c")),
            _ => (t.get("disks.temp_hdd_warning_c"), t.get("disks.temp_hdd_critical_c")),
        };
        let key = format!("disk_temp:{dev}");
        let sev = graded(temp as f64, warn, crit, 2.0, prev_severity(s, &key));
        out.push(obj(Finding::new(CAT, key, sev, format!("{label}: {temp} °C ({class})"))
            .details(json!({"temp_c": temp, "class": class, "warning_c": warn, "critical_c": crit}))));
    }
}

/// The attribute behind a wear reading: `attribute 177 Wear_Leveling_Count` -> [177], an NVMe or
/// SCSI field -> its name.
fn wear_attribute(source: Option<&str>) -> Vec<serde_json::Value> {
    match source {
        Some(s) => match s.strip_prefix("attribute ").and_then(|r| r.split(' ').next()?.parse::<u8>().ok()) {
            Some(id) => vec![json!(id)],
            None if s.contains("percentage_used") => vec![json!("percentage_used")],
            None => vec![json!(s)],
        },
        None => Vec::new(),
    }
}

fn scan_end_s(scan: &Scan) -> Option<(ScanFunction, i64)> {
    match scan {
        Scan::Finished(f) => {
            let t = f.ended.as_ref()?;
            // The text form is local time without a zone; as-if-UTC is at most a day off, which does
            // not matter for a limit counted in weeks.
            Some((f.function, t.unix.or_else(|| t.local.map(|l| l.unix_as_if_utc()))?))
        }
        _ => None,
    }
}

/// A member's name with the disk it lives on: `ata-…_ZL2PR0T9 (/dev/sde)`.
fn member_label(s: &Snapshots, name: &str) -> String {
    let inv = &s.inventory;
    let devs = inv.blockdevs.data.as_deref().unwrap_or_default();
    match crate::model::storage::resolve(name, devs, &inv.dev_links, &std::collections::BTreeMap::new()) {
        Some(p) if p.disk != name.trim_start_matches("/dev/") => format!("{name} (/dev/{})", p.disk),
        _ => name.to_string(),
    }
}

fn pool(s: &Snapshots, t: &Thresholds, now: i64, p: &PoolStatus, out: &mut Vec<Finding>) {
    let obj = |f: Finding| f.object(ObjectKind::Storage, p.name.clone());
    let leaves: Vec<&crate::model::zfs::Vdev> = p
        .vdevs()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.children.is_empty() && !matches!(v.kind, crate::model::zfs::VdevKind::Root))
        .collect();
    let bad: Vec<String> = leaves
        .iter()
        .filter(|v| v.state.as_ref().is_some_and(|s| !s.is_ok()))
        .map(|v| {
            format!("{} {}", member_label(s, &v.name), v.state.as_ref().map(|s| s.as_str()).unwrap_or("?"))
        })
        .collect();
    let resilver = match &p.scan {
        Scan::InProgress(pr) if pr.function == Some(ScanFunction::Resilver) => pr
            .percent_done
            .map(|d| format!(", resilvering {d:.0} %"))
            .unwrap_or_else(|| ", resilvering".into()),
        _ => String::new(),
    };
    let (sev, reason) = match &p.state {
        VdevState::Online => (Severity::Ok, format!("pool {} is ONLINE", p.name)),
        VdevState::Degraded => (
            Severity::Warning,
            format!(
                "pool {} is DEGRADED ({} of {} devices: {}){resilver}",
                p.name,
                bad.len(),
                leaves.len(),
                bad.join(", ")
            ),
        ),
        other => (
            Severity::Critical,
            format!(
                "pool {} is {}{}",
                p.name,
                other.as_str(),
                if bad.is_empty() { String::new() } else { format!(" ({})", bad.join(", ")) }
            ),
        ),
    };
    out.push(obj(Finding::new(CAT, format!("zfs_pool:{}", p.name), sev, reason).details(json!({
        "state": p.state.as_str(), "bad_devices": bad, "status": p.status, "action": p.action, "see": p.see,
    }))));

    // Device error counters and permanent data errors.
    let errs: Vec<(String, u64, u64, u64)> = leaves
        .iter()
        .filter_map(|v| {
            v.errors
                .as_ref()
                .filter(|e| e.total() > 0)
                .map(|e| (member_label(s, &v.name), e.read, e.write, e.checksum))
        })
        .collect();
    let data_errors = p.data_errors();
    let key = format!("zfs_errors:{}", p.name);
    let (sev, reason) = if data_errors > 0 {
        (Severity::Critical, format!("pool {} has {data_errors} permanent data errors", p.name))
    } else if !errs.is_empty() {
        let list: Vec<String> =
            errs.iter().map(|(n, r, w, c)| format!("{n} read {r} write {w} cksum {c}")).collect();
        (Severity::Warning, format!("pool {}: device errors: {}", p.name, list.join("; ")))
    } else {
        (Severity::Ok, format!("pool {}: no device or data errors", p.name))
    };
    out.push(obj(Finding::new(CAT, key, sev, reason).details(json!({
        "data_errors": data_errors,
        "devices": errs.iter().map(|(n, r, w, c)| json!({"name": n, "read": r, "write": w, "checksum": c})).collect::<Vec<_>>(),
    }))));

    // Scrub age. A scrub or resilver under way is not late.
    let max_days = t.get("disks.scrub_max_age_days");
    let key = format!("zfs_scrub:{}", p.name);
    let (sev, reason) = match &p.scan {
        Scan::InProgress(pr) | Scan::Paused(pr) => (
            Severity::Ok,
            format!(
                "pool {}: {} in progress{}",
                p.name,
                if pr.function == Some(ScanFunction::Resilver) { "resilver" } else { "scrub" },
                pr.percent_done.map(|d| format!(", {d:.0} % done")).unwrap_or_default()
            ),
        ),
        Scan::None => (Severity::Info, format!("pool {} has never been scrubbed", p.name)),
        scan => match scan_end_s(scan) {
            Some((f, end)) => {
                let age_d = (now / 1000 - end) as f64 / 86_400.0;
                let what = if f == ScanFunction::Resilver { "resilver" } else { "scrub" };
                let errors = match scan {
                    Scan::Finished(fin) => fin.errors,
                    _ => 0,
                };
                if errors > 0 {
                    (
                        Severity::Warning,
                        format!("pool {}: last {what} {age_d:.0} days ago found {errors} errors", p.name),
                    )
                } else if f == ScanFunction::Scrub && age_d > max_days {
                    (
                        Severity::Warning,
                        format!("pool {}: last scrub {age_d:.0} days ago (> {max_days:.0})", p.name),
                    )
                } else {
                    (Severity::Ok, format!("pool {}: last {what} {age_d:.0} days ago", p.name))
                }
            }
            None => (Severity::Ok, format!("pool {}: last scrub time unknown", p.name)),
        },
    };
    out.push(obj(Finding::new(CAT, key, sev, reason).details(json!({"max_age_days": max_days}))));
}

fn zfs(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let inv = &s.inventory;
    if inv.pools.state == SectionState::Unavailable {
        return Vec::new();
    }
    match data(&inv.pools, "zpool status") {
        Ok(pools) => {
            let mut out = Vec::new();
            for p in pools {
                pool(s, t, now, p, &mut out);
            }
            out
        }
        Err(r) => vec![unknown(CAT, "zfs_pool:all", r)],
    }
}

fn io_errors(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let j = match &s.facts.journal {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => {
            return vec![unknown(CAT, "disk_io_errors:journal", format!("journal: {reason}"))];
        }
    };
    let window_h = t.get("disks.io_error_window_h");
    let cut = now - (window_h * 3_600_000.0) as i64;
    let hits: Vec<_> = j.io_errors.values().filter(|h| h.last_ms >= cut).collect();
    if hits.is_empty() {
        return vec![Finding::new(
            CAT,
            "disk_io_errors:host",
            Severity::Ok,
            format!("no disk I/O errors in the last {window_h:.0} h"),
        )];
    }
    hits.into_iter()
        .map(|h| {
            let dev =
                if h.object.starts_with("ata") { h.object.clone() } else { format!("/dev/{}", h.object) };
            Finding::new(
                CAT,
                format!("disk_io_errors:{dev}"),
                Severity::Warning,
                format!(
                    "{} I/O error line{} for {dev} in the journal (last: {})",
                    h.count,
                    if h.count == 1 { "" } else { "s" },
                    h.sample
                ),
            )
            .details(
                json!({"count": h.count, "first_ms": h.first_ms, "last_ms": h.last_ms, "sample": h.sample}),
            )
            .object(ObjectKind::Disk, dev)
        })
        .collect()
}
