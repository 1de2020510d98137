//! Storage: PVE storages inactive, and capacity of storages, ZFS pools, LVM-thin data and metadata,
//! the host root filesystem and container root disks; the host's other filesystems (from the facts
//! collector's mountinfo + statvfs): capacity, inodes, read-only where they should be writable, and
//! stale NFS/CIFS mounts.

use serde_json::json;

use super::{bytes, data, graded, pct, prev_severity, unknown};
use crate::health::facts::MountUsage;
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Source, Thresholds};

const CAT: Category = Category::Storage;

pub const STATE: Rule = Rule {
    id: "storage_state",
    category: CAT,
    checks: &[("storage_state", "PVE storages active")],
    fast: false,
    run: state,
};
pub const CAPACITY: Rule = Rule {
    id: "storage_capacity",
    category: CAT,
    checks: &[
        ("storage_usage", "Storage usage"),
        ("zfs_capacity", "ZFS pool capacity"),
        ("lvm_thin", "LVM-thin data"),
        ("lvm_thin_meta", "LVM-thin metadata"),
        ("rootfs", "Host root filesystem"),
        ("ct_disk", "Container root disks"),
    ],
    fast: false,
    run: capacity,
};

pub const FILESYSTEMS: Rule = Rule {
    id: "filesystems",
    category: CAT,
    checks: &[
        ("fs_usage", "Host filesystems"),
        ("fs_inodes", "Filesystem inodes"),
        ("fs_readonly", "Filesystems writable"),
        ("fs_stale", "Network mounts (NFS/CIFS) answering"),
    ],
    fast: false,
    run: filesystems,
};

fn state(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    let list = match data(&s.inventory.storage, "storage list") {
        Ok(l) => l,
        Err(r) => return vec![unknown(CAT, "storage_state:all", r)],
    };
    list.iter()
        .filter(|st| st.enabled)
        .map(|st| {
            let key = format!("storage_state:{}", st.storage);
            let f = if st.active {
                Finding::new(
                    CAT,
                    key,
                    Severity::Ok,
                    format!("storage {} ({}) is active", st.storage, st.kind),
                )
            } else {
                // A storage holding guest disks is worse than a backup target.
                let guests = st.content.iter().any(|c| c == "images" || c == "rootdir");
                let sev = if guests { Severity::Critical } else { Severity::Warning };
                Finding::new(
                    CAT,
                    key,
                    sev,
                    format!("storage {} ({}) is enabled but not active", st.storage, st.kind),
                )
            };
            f.details(json!({"type": st.kind, "content": st.content, "shared": st.shared}))
                .object(ObjectKind::Storage, st.storage.clone())
        })
        .collect()
}

fn level(s: &Snapshots, key: &str, used_pct: f64, warn: f64, crit: f64) -> Severity {
    graded(used_pct, warn, crit, 1.0, prev_severity(s, key))
}

fn capacity(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    let (warn, crit) = (t.get("storage.warning_pct"), t.get("storage.critical_pct"));
    let mut out = Vec::new();
    let inv = &s.inventory;
    match data(&inv.storage, "storage list") {
        Ok(list) => {
            // zfspool and lvmthin storages are the pools' own numbers, checked below per pool.
            for st in list
                .iter()
                .filter(|st| st.enabled && st.active && st.kind != "zfspool" && st.kind != "lvmthin")
            {
                let (Some(total), Some(used)) = (st.total, st.used) else { continue };
                if total == 0 {
                    continue;
                }
                let key = format!("storage_usage:{}", st.storage);
                let p = pct(used, total);
                let sev = level(s, &key, p, warn, crit);
                out.push(
                    Finding::new(CAT, key, sev, format!("storage {} {p:.0} % full ({} of {})", st.storage, bytes(used), bytes(total)))
                        .details(json!({"used_pct": p, "used": used, "total": total, "warning_pct": warn, "critical_pct": crit}))
                        .object(ObjectKind::Storage, st.storage.clone()),
                );
            }
        }
        Err(r) => out.push(unknown(CAT, "storage_usage:all", r)),
    }
    match data(&inv.pool_list, "zpool list") {
        Ok(pools) => {
            for p in pools {
                let used = match (p.cap_percent, p.alloc, p.size) {
                    (_, Some(a), Some(sz)) if sz > 0 => pct(a, sz),
                    (Some(c), _, _) => f64::from(c),
                    _ => continue,
                };
                let key = format!("zfs_capacity:{}", p.name);
                let sev = level(s, &key, used, warn, crit);
                out.push(
                    Finding::new(CAT, key, sev, format!("ZFS pool {} {used:.0} % full", p.name))
                        .details(json!({"used_pct": used, "size": p.size, "alloc": p.alloc, "warning_pct": warn, "critical_pct": crit}))
                        .object(ObjectKind::Storage, p.name.clone()),
                );
            }
        }
        // No ZFS on this host is not a problem.
        Err(_) if inv.pool_list.state == crate::model::section::SectionState::Unavailable => {}
        Err(r) => out.push(unknown(CAT, "zfs_capacity:all", r)),
    }
    match data(&inv.lvs, "lvs") {
        Ok(lvs) => {
            let (mw, mc) = (t.get("storage.thin_meta_warning_pct"), t.get("storage.thin_meta_critical_pct"));
            for lv in lvs.iter().filter(|l| l.is_thin_pool()) {
                let name = format!("{}/{}", lv.vg, lv.name);
                if let Some(d) = lv.data_percent {
                    let key = format!("lvm_thin:{name}");
                    let sev = level(s, &key, d, warn, crit);
                    out.push(
                        Finding::new(CAT, key, sev, format!("LVM thin pool {name} data {d:.1} % used"))
                            .details(json!({"data_pct": d, "warning_pct": warn, "critical_pct": crit}))
                            .object(ObjectKind::Storage, name.clone()),
                    );
                }
                if let Some(m) = lv.metadata_percent {
                    let key = format!("lvm_thin_meta:{name}");
                    let sev = level(s, &key, m, mw, mc);
                    out.push(
                        Finding::new(CAT, key, sev, format!("LVM thin pool {name} metadata {m:.1} % used"))
                            .details(json!({"metadata_pct": m, "warning_pct": mw, "critical_pct": mc}))
                            .object(ObjectKind::Storage, name.clone()),
                    );
                }
            }
        }
        Err(_) if inv.lvs.state == crate::model::section::SectionState::Unavailable => {}
        Err(r) => out.push(unknown(CAT, "lvm_thin:all", r)),
    }
    if let Some(ns) = inv.node_status.data.as_ref().filter(|n| n.rootfs.total > 0) {
        let p = pct(ns.rootfs.used, ns.rootfs.total);
        let key = "rootfs:/";
        let sev = level(s, key, p, warn, crit);
        out.push(
            Finding::new(
                CAT,
                key,
                sev,
                format!(
                    "root filesystem {p:.0} % full ({} of {})",
                    bytes(ns.rootfs.used),
                    bytes(ns.rootfs.total)
                ),
            )
            .details(json!({"used_pct": p, "warning_pct": warn, "critical_pct": crit})),
        );
    }
    for g in inv.resources.data.iter().flatten().filter_map(|r| r.as_guest()) {
        if g.kind.as_str() != "lxc"
            || g.status != "running"
            || g.maxdisk == 0
            || (!g.node.is_empty() && g.node != inv.node)
        {
            continue;
        }
        let p = pct(g.disk, g.maxdisk);
        let key = format!("ct_disk:{}", g.vmid);
        let sev = level(s, &key, p, warn, crit);
        out.push(
            Finding::new(
                CAT,
                key,
                sev,
                format!(
                    "CT {} ({}) root disk {p:.0} % full ({} of {})",
                    g.vmid,
                    g.name,
                    bytes(g.disk),
                    bytes(g.maxdisk)
                ),
            )
            .details(json!({"used_pct": p, "warning_pct": warn, "critical_pct": crit}))
            .object(ObjectKind::Guest, g.vmid.to_string()),
        );
    }
    out
}

/// Filesystems whose free inodes follow their free space (no fixed inode table): their inode
/// percentage says nothing new.
const DYNAMIC_INODES: &[&str] = &["zfs", "btrfs", "xfs", "vfat", "exfat", "ntfs", "ntfs3", "fuseblk"];

fn filesystems(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    let fs = match &s.facts.filesystems {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => {
            return vec![unknown(CAT, "fs_usage:all", format!("host filesystems not read: {reason}"))];
        }
    };
    let (warn, crit) = (t.get("storage.warning_pct"), t.get("storage.critical_pct"));
    let (iwarn, icrit) = (t.get("storage.inodes_warning_pct"), t.get("storage.inodes_critical_pct"));
    let inv = &s.inventory;
    // Capacity another check already grades, so that one full disk is one alert: PVE storages with
    // their own usage (storage_usage), the root filesystem from the node status (rootfs), and ZFS
    // datasets, which share their pool's space (zfs_capacity).
    let graded_elsewhere: Vec<&str> = inv
        .storage
        .data
        .iter()
        .flatten()
        .filter(|st| st.enabled && st.active && st.total.is_some_and(|t| t > 0))
        .filter(|st| st.kind != "zfspool" && st.kind != "lvmthin")
        .map(|st| st.storage.as_str())
        .collect();
    let rootfs_graded = inv.node_status.data.as_ref().is_some_and(|n| n.rootfs.total > 0);
    let mut out = Vec::new();
    let (mut writable, mut ro_by_design, mut inode_max): (usize, usize, Option<(f64, &str)>) = (0, 0, None);
    for m in &fs.mounts {
        let mp = m.mountpoint.as_str();
        let object = m.storage.clone().unwrap_or_else(|| mp.to_string());
        let name = match &m.storage {
            Some(id) => format!("{mp} (storage {id})"),
            None => mp.to_string(),
        };
        let what = if m.network {
            let kind = match m.fstype.as_str() {
                "nfs" | "nfs4" => "NFS".to_string(),
                "cifs" | "smb3" | "smbfs" => "CIFS".to_string(),
                other => other.to_string(),
            };
            format!("{kind} mount {name} ({})", m.source)
        } else {
            format!("filesystem {name}")
        };
        let details = |extra: serde_json::Value| {
            let mut d =
                json!({"mountpoint": mp, "fstype": m.fstype, "source": m.source, "storage": m.storage});
            if let (Some(d), Some(e)) = (d.as_object_mut(), extra.as_object()) {
                d.extend(e.clone());
            }
            d
        };
        // Read-only where it should be writable.
        if m.readonly && !m.expected_readonly {
            let sev = if mp == "/" || m.storage.is_some() { Severity::Critical } else { Severity::Warning };
            out.push(
                Finding::new(CAT, format!("fs_readonly:{mp}"), sev, format!("{what} is mounted read-only"))
                    .details(details(json!({})))
                    .object(ObjectKind::Storage, object.clone()),
            );
        } else if m.readonly {
            ro_by_design += 1;
        } else {
            writable += 1;
        }
        let (size, used, avail, used_pct, files, files_free) = match &m.usage {
            MountUsage::Ok { size, used, avail, used_pct, files, files_free } => {
                (*size, *used, *avail, *used_pct, *files, *files_free)
            }
            MountUsage::Stale { reason } => {
                out.push(
                    Finding::new(
                        CAT,
                        format!("fs_stale:{mp}"),
                        Severity::Critical,
                        format!("{what} is stale: {reason}"),
                    )
                    .details(details(json!({"reason": reason})))
                    .object(ObjectKind::Storage, object.clone()),
                );
                continue;
            }
            MountUsage::Error { reason } => {
                out.push(
                    unknown(CAT, format!("fs_usage:{mp}"), format!("{what}: {reason}"))
                        .object(ObjectKind::Storage, object.clone()),
                );
                continue;
            }
        };
        if m.network {
            out.push(
                Finding::new(CAT, format!("fs_stale:{mp}"), Severity::Ok, format!("{what} answers"))
                    .details(details(json!({})))
                    .object(ObjectKind::Storage, object.clone()),
            );
        }
        // A read-only filesystem cannot fill up; a filesystem of size 0 is a placeholder.
        let covered = m.storage.as_deref().is_some_and(|id| graded_elsewhere.contains(&id))
            || (mp == "/" && rootfs_graded)
            || (m.fstype == "zfs" && mp != "/");
        if !m.readonly && size > 0 && !covered {
            let key = format!("fs_usage:{mp}");
            let sev = level(s, &key, used_pct, warn, crit);
            out.push(
                Finding::new(
                    CAT,
                    key,
                    sev,
                    format!("{what} {used_pct:.0} % full ({} of {}, {} free)", bytes(used), bytes(size), bytes(avail)),
                )
                .details(details(json!({"used_pct": used_pct, "used": used, "size": size, "avail": avail, "warning_pct": warn, "critical_pct": crit})))
                .object(ObjectKind::Storage, object.clone()),
            );
        }
        if files > 0 && !m.readonly && !DYNAMIC_INODES.contains(&m.fstype.as_str()) {
            let ip = (files.saturating_sub(files_free)) as f64 * 100.0 / files as f64;
            let key = format!("fs_inodes:{mp}");
            let sev = graded(ip, iwarn, icrit, 1.0, prev_severity(s, &key));
            if sev != Severity::Ok {
                out.push(
                    Finding::new(
                        CAT,
                        key,
                        sev,
                        format!("{what}: {ip:.0} % of inodes used ({} of {files} free)", files_free),
                    )
                    .details(details(json!({"inodes_used_pct": ip, "files": files, "files_free": files_free, "warning_pct": iwarn, "critical_pct": icrit})))
                    .object(ObjectKind::Storage, object.clone()),
                );
            } else if inode_max.is_none_or(|(v, _)| ip > v) {
                inode_max = Some((ip, mp));
            }
        }
    }
    if !out.iter().any(|f| f.check == "fs_readonly") {
        out.push(Finding::new(
            CAT,
            "fs_readonly:all",
            Severity::Ok,
            format!("{writable} filesystems mounted read-write ({ro_by_design} read-only by design)"),
        ));
    }
    if !out.iter().any(|f| f.check == "fs_inodes") {
        let reason = match inode_max {
            Some((v, mp)) => format!("inode use below {iwarn:.0} % (highest {v:.0} % on {mp})"),
            None => "no filesystem with a fixed inode table".to_string(),
        };
        out.push(Finding::new(CAT, "fs_inodes:all", Severity::Ok, reason));
    }
    if fs.omitted > 0 {
        out.push(Finding::new(
            CAT,
            "fs_usage:omitted",
            Severity::Info,
            format!("{} more filesystems not checked (health.max_mounts)", fs.omitted),
        ));
    }
    out
}
