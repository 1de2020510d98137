//! Memory: RAM (the ZFS ARC counted as cache, as the sampler does), swap, memory pressure, and OOM
//! kills from the journal linked to the guest they hit.

use std::collections::BTreeMap;

use serde_json::json;

use super::{bytes, graded, prev_severity, unknown};
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Source, Thresholds};

const CAT: Category = Category::Memory;

pub const USAGE: Rule = Rule {
    id: "memory_usage",
    category: CAT,
    checks: &[("memory_usage", "RAM usage")],
    fast: true,
    run: usage,
};
pub const SWAP: Rule =
    Rule { id: "swap_usage", category: CAT, checks: &[("swap_usage", "Swap usage")], fast: true, run: swap };
pub const PRESSURE: Rule = Rule {
    id: "memory_pressure",
    category: CAT,
    checks: &[("memory_pressure", "Memory pressure (PSI)")],
    fast: false,
    run: pressure,
};
pub const OOM: Rule =
    Rule { id: "oom_kill", category: CAT, checks: &[("oom_kill", "OOM kills")], fast: false, run: oom };

fn usage(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "memory_usage:host";
    let Some(v) = &s.vitals else { return vec![unknown(CAT, KEY, "no vitals sample yet")] };
    let m = &v.sample.memory;
    let (warn, crit) = (t.get("memory.warning_pct"), t.get("memory.critical_pct"));
    let sev = graded(m.used_pct, warn, crit, t.get("memory.hysteresis_pct"), prev_severity(s, KEY));
    let arc = m.arc.map(|a| format!(", ZFS ARC {} counted as cache", bytes(a))).unwrap_or_default();
    let reason = format!("RAM {:.0} % used ({} of {}{arc})", m.used_pct, bytes(m.used), bytes(m.total));
    vec![Finding::new(CAT, KEY, sev, reason).details(json!({
        "used_pct": m.used_pct, "used": m.used, "total": m.total, "arc": m.arc, "warning_pct": warn, "critical_pct": crit,
    }))]
}

fn swap(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "swap_usage:host";
    let Some(v) = &s.vitals else { return vec![unknown(CAT, KEY, "no vitals sample yet")] };
    let sw = &v.sample.swap;
    if sw.total == 0 {
        return vec![Finding::new(CAT, KEY, Severity::Ok, "no swap configured")];
    }
    let (warn, crit) = (t.get("swap.warning_pct"), t.get("swap.critical_pct"));
    let sev = graded(sw.used_pct, warn, crit, 0.0, prev_severity(s, KEY));
    vec![
        Finding::new(
            CAT,
            KEY,
            sev,
            format!("swap {:.0} % used ({} of {})", sw.used_pct, bytes(sw.used), bytes(sw.total)),
        )
        .details(json!({"used_pct": sw.used_pct, "warning_pct": warn, "critical_pct": crit})),
    ]
}

fn pressure(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "memory_pressure:host";
    let Some(v) = &s.vitals else { return vec![unknown(CAT, KEY, "no vitals sample yet")] };
    let Some(psi) = &v.sample.psi else {
        return vec![Finding::new(CAT, KEY, Severity::Ok, "the kernel does not report pressure (PSI)")];
    };
    let some = psi.memory.some_avg60;
    let warn = t.get("memory.psi_warning_pct");
    let sev = if some >= warn { Severity::Warning } else { Severity::Ok };
    vec![
        Finding::new(CAT, KEY, sev, format!("tasks stalled on memory {some:.1} % of the last minute"))
            .details(json!({"some_avg60": some, "warning_pct": warn})),
    ]
}

fn guest_name(s: &Snapshots, vmid: u64) -> String {
    s.inventory
        .resources
        .data
        .iter()
        .flatten()
        .filter_map(|r| r.as_guest())
        .find(|g| g.vmid == vmid)
        .map(|g| format!("{} {vmid} ({})", if g.kind.as_str() == "lxc" { "CT" } else { "VM" }, g.name))
        .unwrap_or_else(|| format!("guest {vmid}"))
}

fn oom(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let journal = match &s.facts.journal {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => {
            return vec![unknown(CAT, "oom_kill:journal", format!("journal: {reason}"))];
        }
    };
    let window_h = t.get("memory.oom_window_h");
    let cut = now - (window_h * 3_600_000.0) as i64;
    // One finding per guest (or per host process), not per kill.
    let mut by: BTreeMap<String, Vec<&crate::health::facts::logscan::OomKill>> = BTreeMap::new();
    for k in journal.ooms.iter().filter(|k| k.ts_ms >= cut) {
        let id = match k.vmid {
            Some(v) => v.to_string(),
            None => format!("host:{}", k.process),
        };
        by.entry(id).or_default().push(k);
    }
    if by.is_empty() {
        return vec![Finding::new(
            CAT,
            "oom_kill:host",
            Severity::Ok,
            format!("no OOM kills in the last {window_h:.0} h"),
        )];
    }
    by.into_iter()
        .map(|(id, kills)| {
            let last = kills[kills.len() - 1];
            let procs: Vec<&str> = kills.iter().map(|k| k.process.as_str()).collect();
            let what = match last.vmid {
                Some(v) => guest_name(s, v),
                None => "the host".to_string(),
            };
            let reason = format!(
                "{} OOM kill{} in {what} in the last {window_h:.0} h (last: {} pid {})",
                kills.len(),
                if kills.len() == 1 { "" } else { "s" },
                last.process,
                last.pid
            );
            let f = Finding::new(CAT, format!("oom_kill:{id}"), Severity::Warning, reason).details(json!({
                "count": kills.len(), "processes": procs, "last_ms": last.ts_ms, "memcg": last.memcg, "vmid": last.vmid,
            }));
            match last.vmid {
                Some(v) => f.object(ObjectKind::Guest, v.to_string()),
                None => f,
            }
        })
        .collect()
}
