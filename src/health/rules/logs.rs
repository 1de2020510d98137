//! Logs: the critical patterns (kernel panic, machine checks, memory errors, filesystem errors, hung
//! tasks, PVE daemon segfaults), and over normalised warning-or-worse messages (benign noise already
//! dropped by the scanner): cascades (one message many times in 5 minutes), spikes (the last 10
//! minutes far above the day's average) and persistent patterns (seen in many hours of the day).
//! One finding per pattern, never one per line.

use serde_json::json;

use super::{short_hash, unknown};
use crate::health::facts::logscan::{Critical, JournalFacts};
use crate::health::model::{Category, Finding, Rule, Severity, Snapshots, Source, Thresholds};

const CAT: Category = Category::Logs;

pub const CRITICAL: Rule = Rule {
    id: "log_critical",
    category: CAT,
    checks: &[("log_critical", "Critical kernel and daemon messages")],
    fast: false,
    run: critical,
};
pub const PATTERNS: Rule = Rule {
    id: "log_patterns",
    category: CAT,
    checks: &[
        ("log_cascade", "Repeated messages"),
        ("log_spike", "Error spikes"),
        ("log_persistent", "Persistent errors"),
    ],
    fast: false,
    run: patterns,
};

fn journal(s: &Snapshots) -> Result<&JournalFacts, String> {
    match &s.facts.journal {
        Source::Ok { data } => Ok(data),
        Source::Unavailable { reason } => Err(format!("journal: {reason}")),
    }
}

fn critical(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let j = match journal(s) {
        Ok(j) => j,
        Err(r) => return vec![unknown(CAT, "log_critical:journal", r)],
    };
    let window_h = t.get("logs.window_h");
    let cut = now - (window_h * 3_600_000.0) as i64;
    let mut out: Vec<Finding> = j
        .hits
        .values()
        .filter(|h| h.last_ms >= cut && !h.kind.reported_elsewhere())
        .map(|h| {
            let sev = match h.kind {
                Critical::KernelPanic
                | Critical::MachineCheck
                | Critical::MemoryUncorrected
                | Critical::FilesystemError => Severity::Critical,
                _ => Severity::Warning,
            };
            let on = if h.object.is_empty() { String::new() } else { format!(" ({})", h.object) };
            let key = if h.object.is_empty() {
                format!("log_critical:{}", h.kind.id())
            } else {
                format!("log_critical:{}:{}", h.kind.id(), h.object)
            };
            Finding::new(
                CAT,
                key,
                sev,
                format!("{}{on}: {} time{} in {window_h:.0} h — {}", h.kind.label(), h.count, if h.count == 1 { "" } else { "s" }, h.sample),
            )
            .details(json!({"kind": h.kind, "object": h.object, "count": h.count, "first_ms": h.first_ms, "last_ms": h.last_ms, "sample": h.sample}))
        })
        .collect();
    if out.is_empty() {
        out.push(Finding::new(
            CAT,
            "log_critical:host",
            Severity::Ok,
            format!("no critical kernel or daemon messages in {window_h:.0} h"),
        ));
    }
    out
}

fn patterns(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let j = match journal(s) {
        Ok(j) => j,
        Err(r) => return vec![unknown(CAT, "log_spike:journal", r)],
    };
    let mut out = Vec::new();
    let cascade = t.get("logs.cascade_count");
    let persistent_h = t.get("logs.persistent_hours");
    let day = now - 86_400_000;
    let mut last10 = 0usize;
    let mut day_total = 0usize;
    for p in j.patterns.values() {
        let in5 = p.times.iter().filter(|ts| **ts > now - 300_000 && **ts <= now).count();
        last10 += p.times.iter().filter(|ts| **ts > now - 600_000 && **ts <= now).count();
        day_total += p.times.iter().filter(|ts| **ts > day && **ts <= now).count();
        let id = short_hash(&format!("{}: {}", p.ident, p.pattern));
        if in5 as f64 >= cascade {
            out.push(
                Finding::new(
                    CAT,
                    format!("log_cascade:{id}"),
                    Severity::Warning,
                    format!("{}: \"{}\" {in5} times in 5 min", p.ident, p.sample),
                )
                .details(
                    json!({"ident": p.ident, "pattern": p.pattern, "count_5min": in5, "threshold": cascade}),
                ),
            );
            continue;
        }
        let mut hours: Vec<i64> =
            p.times.iter().filter(|ts| **ts > day && **ts <= now).map(|ts| ts / 3_600_000).collect();
        hours.dedup();
        if hours.len() as f64 >= persistent_h {
            out.push(
                Finding::new(
                    CAT,
                    format!("log_persistent:{id}"),
                    Severity::Info,
                    format!("{}: \"{}\" seen in {} of the last 24 hours", p.ident, p.sample, hours.len()),
                )
                .details(
                    json!({"ident": p.ident, "pattern": p.pattern, "hours": hours.len(), "total": p.total}),
                ),
            );
        }
    }
    // Spike: the last 10 minutes against the day's average per 10 minutes (only over what the
    // scanner has seen: a day not yet covered averages over the time it has).
    let seen_ms = j.since_ms.map(|s| (now - s.max(day)).max(600_000)).unwrap_or(600_000);
    let avg10 = day_total.saturating_sub(last10) as f64 / (seen_ms as f64 / 600_000.0).max(1.0);
    let (factor, min) = (t.get("logs.spike_factor"), t.get("logs.spike_min"));
    let spike = last10 as f64 >= min && last10 as f64 >= factor * avg10.max(1.0);
    let (sev, reason) = if spike {
        (
            Severity::Warning,
            format!("{last10} warning/error messages in the last 10 min (usual {avg10:.1} per 10 min)"),
        )
    } else {
        (Severity::Ok, format!("{last10} warning/error messages in the last 10 min"))
    };
    out.push(
        Finding::new(CAT, "log_spike:host", sev, reason)
            .details(json!({"last_10min": last10, "avg_10min": avg10, "factor": factor, "min": min, "benign_dropped": j.benign})),
    );
    out
}
