//! Storage: PVE storages inactive, and capacity of storages, ZFS pools, LVM-thin data and metadata,
//! the host root filesystem and container root disks.

use serde_json::json;

use super::{bytes, data, graded, pct, prev_severity, unknown};
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Thresholds};

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
        Err(_) if inv.pool_list.state == crate::workers::inventory::SectionState::Unavailable => {}
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
        Err(_) if inv.lvs.state == crate::workers::inventory::SectionState::Unavailable => {}
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
