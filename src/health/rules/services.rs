//! PVE services: the core daemons; corosync and quorum when clustered; the HA managers when HA is
//! used; zfs-zed with ZFS pools; smartd when installed; time sync (chrony or timesyncd) with the
//! clock offset. A unit that is not installed (`not-found`) is not failed; a unit still starting
//! within the boot grace is not alerted.

use serde_json::json;

use super::{data, graded, prev_severity, unknown, uptime_s};
use crate::health::model::{Category, Finding, Rule, Severity, Snapshots, Source, Thresholds};
use crate::model::services::UnitState;

const CAT: Category = Category::Services;

pub const SERVICES: Rule = Rule {
    id: "services",
    category: CAT,
    checks: &[("service", "PVE services running"), ("quorum", "Cluster quorum")],
    fast: false,
    run: services,
};
pub const TIME_SYNC: Rule = Rule {
    id: "time_sync",
    category: CAT,
    checks: &[("time_sync", "Time synchronisation")],
    fast: false,
    run: time_sync,
};

const CORE: &[&str] = &["pveproxy", "pvedaemon", "pvestatd", "pve-cluster", "pvescheduler", "pve-firewall"];

fn services(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let units = match &s.facts.services {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => {
            return vec![unknown(CAT, "service:all", format!("systemd: {reason}"))];
        }
    };
    let inv = &s.inventory;
    let cluster = inv.cluster.data.as_ref().and_then(|c| c.cluster.as_ref());
    let ha_used =
        inv.resources.data.iter().flatten().filter_map(|r| r.as_guest()).any(|g| g.hastate.is_some());
    let zfs_used = inv.pool_list.data.as_ref().is_some_and(|p| !p.is_empty());
    let grace_s = t.get("services.startup_grace_min") * 60.0;
    let in_grace = uptime_s(s).is_some_and(|u| u < grace_s) || s.in_startup_grace(now);
    let get = |name: &str| units.iter().find(|u| u.id == format!("{name}.service"));
    // (unit, required): a required unit that is not installed is a finding; an optional one is
    // checked only when installed. Units for features this host does not use are not checked.
    let mut wanted: Vec<(&str, bool)> = CORE.iter().map(|n| (*n, true)).collect();
    if cluster.is_some() {
        wanted.push(("corosync", true));
    }
    if ha_used {
        wanted.push(("pve-ha-lrm", true));
        wanted.push(("pve-ha-crm", true));
    }
    if zfs_used {
        wanted.push(("zfs-zed", true));
    }
    wanted.push(("smartd", false));
    let mut out = Vec::new();
    for (name, required) in wanted {
        let key = format!("service:{name}");
        let Some(u) = get(name) else { continue };
        if !u.installed() {
            if required {
                out.push(Finding::new(CAT, key, Severity::Warning, format!("{name} is not installed")));
            }
            continue;
        }
        let mut f = unit_finding(&key, name, u, in_grace);
        if in_grace && f.severity == Severity::Info && !u.is_active() {
            if let Some(d) = f.details.as_object_mut() {
                d.insert("grace_until".into(), json!(super::guests::grace_end(s, grace_s, now)));
            }
        }
        out.push(f);
    }
    if let Some(c) = cluster {
        let sev = if c.quorate { Severity::Ok } else { Severity::Critical };
        let reason = if c.quorate {
            format!("cluster {} is quorate", c.name)
        } else {
            format!("cluster {} has lost quorum", c.name)
        };
        out.push(Finding::new(CAT, "quorum:cluster", sev, reason).details(json!({"nodes": c.nodes})));
    } else if let Err(r) = data(&inv.cluster, "cluster status")
        && inv.cluster.state != crate::model::section::SectionState::Unavailable
    {
        out.push(unknown(CAT, "quorum:cluster", r));
    }
    out
}

fn unit_finding(key: &str, name: &str, u: &UnitState, in_grace: bool) -> Finding {
    let d = json!({"active": u.active, "sub": u.sub, "result": u.result, "load": u.load});
    if u.is_active() {
        return Finding::new(CAT, key, Severity::Ok, format!("{name} is {} ({})", u.active, u.sub))
            .details(d);
    }
    let starting = u.active == "activating" || u.sub == "auto-restart";
    let sev = if in_grace || starting && !u.is_failed() {
        Severity::Info
    } else if u.is_failed() {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let result = if u.result.is_empty() || u.result == "success" {
        String::new()
    } else {
        format!(", result {}", u.result)
    };
    Finding::new(CAT, key, sev, format!("{name} is {} ({}{result})", u.active, u.sub)).details(d)
}

fn time_sync(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "time_sync:host";
    let ts = match &s.facts.timesync {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => return vec![unknown(CAT, KEY, format!("time sync: {reason}"))],
    };
    let (warn, crit) = (t.get("services.time_offset_warning_ms"), t.get("services.time_offset_critical_ms"));
    if !ts.synchronized {
        return vec![
            Finding::new(
                CAT,
                KEY,
                Severity::Warning,
                format!("the clock is not synchronised ({})", ts.daemon),
            )
            .details(json!({"daemon": ts.daemon})),
        ];
    }
    let Some(off) = ts.offset_s else {
        return vec![Finding::new(
            CAT,
            KEY,
            Severity::Ok,
            format!("the clock is synchronised ({})", ts.daemon),
        )];
    };
    let ms = off.abs() * 1000.0;
    let sev = graded(ms, warn, crit, 0.0, prev_severity(s, KEY));
    let src = ts.source.as_deref().map(|s| format!(" to {s}")).unwrap_or_default();
    vec![Finding::new(CAT, KEY, sev, format!("clock offset {ms:.1} ms ({}{src})", ts.daemon)).details(
        json!({"offset_ms": off * 1000.0, "warning_ms": warn, "critical_ms": crit, "stratum": ts.stratum}),
    )]
}
