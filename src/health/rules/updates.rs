//! Updates & backups: pending updates with security and PVE-stack counts, reboot pending, the last
//! backup per guest (templates skipped), and vzdump runs that failed.

use serde_json::json;

use super::{data, unknown};
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Source, Thresholds};
use crate::model::inventory::Inventory;
use crate::model::pve::{Guest, Task, TaskOutcome};

const CAT: Category = Category::Updates;

pub const UPDATES: Rule = Rule {
    id: "updates",
    category: CAT,
    checks: &[("updates", "Pending updates"), ("security_updates", "Security updates")],
    fast: false,
    run: updates,
};
pub const REBOOT: Rule = Rule {
    id: "reboot",
    category: CAT,
    checks: &[("reboot_pending", "Reboot pending")],
    fast: false,
    run: reboot,
};
pub const BACKUPS: Rule = Rule {
    id: "backups",
    category: CAT,
    checks: &[
        ("backup_age", "Last backup per guest"),
        ("backup_failed", "Failed backup jobs"),
        ("replication_failed", "Replication jobs"),
    ],
    fast: false,
    run: backups,
};

fn updates(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    let u = match &s.facts.updates {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => {
            return vec![unknown(CAT, "updates:host", format!("apt: {reason}"))];
        }
    };
    let warn = t.get("updates.pending_warning");
    let sev = if u.pending as f64 >= warn {
        Severity::Warning
    } else if u.pending > 0 {
        Severity::Info
    } else {
        Severity::Ok
    };
    let kernel = if u.new_kernel { ", a new kernel" } else { "" };
    let reason = if u.pending == 0 {
        "the system is up to date".to_string()
    } else {
        format!("{} updates pending ({} Proxmox VE{kernel})", u.pending, u.pve)
    };
    let sec_warn = t.get("updates.security_warning");
    let sec_sev = if u.security as f64 >= sec_warn { Severity::Warning } else { Severity::Ok };
    vec![
        Finding::new(CAT, "updates:host", sev, reason)
            .details(json!({"pending": u.pending, "pve": u.pve, "new_kernel": u.new_kernel, "checked_ms": u.checked_ms, "warning": warn})),
        Finding::new(CAT, "security_updates:host", sec_sev, format!("{} security updates pending", u.security))
            .details(json!({"security": u.security, "packages": u.notable, "warning": sec_warn})),
    ]
}

fn reboot(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    let r = match &s.facts.reboot {
        Source::Ok { data } => data,
        Source::Unavailable { reason } => return vec![unknown(CAT, "reboot_pending:host", reason.clone())],
    };
    let (sev, reason) = if r.required {
        let why = match &r.newest_installed {
            Some(n) if n != &r.running && !r.flag_file => {
                format!("kernel {n} installed, {} running", r.running)
            }
            Some(n) if n != &r.running => {
                format!("kernel {n} installed, {} running; /run/reboot-required is set", r.running)
            }
            _ => "/run/reboot-required is set".to_string(),
        };
        (Severity::Warning, format!("reboot pending: {why}"))
    } else {
        (Severity::Ok, format!("running the newest installed kernel ({})", r.running))
    };
    vec![Finding::new(CAT, "reboot_pending:host", sev, reason).details(
        json!({"running": r.running, "newest_installed": r.newest_installed, "flag_file": r.flag_file}),
    )]
}

/// Whether a vzdump task concerns `g`: its id is the vmid, or it is a run of a scheduled job (empty
/// id) that backed the guest up — exactly the guests its log names once read, else the guests the
/// job covers (the same reading as the guests API).
fn concerns(inv: &Inventory, jobs: &[crate::model::pve::BackupJob], t: &Task, g: &Guest) -> bool {
    if t.id == g.vmid.to_string() {
        return true;
    }
    if !t.id.is_empty() {
        return false;
    }
    match inv.job_results.get(&t.upid) {
        Some(results) => results.contains_key(&g.vmid),
        None => jobs.iter().any(|j| j.enabled && j.covers(g.vmid, g.pool.as_deref())),
    }
}

/// A finished vzdump task's outcome for one guest: a job run's own verdict ("job errors") is about
/// all its guests, so the guest's line in the run's log decides when it has been read.
fn outcome_for(inv: &Inventory, t: &Task, vmid: u64) -> TaskOutcome {
    match inv.job_results.get(&t.upid).and_then(|r| r.get(&vmid)) {
        Some(r) if r.ok => TaskOutcome::Ok,
        Some(r) => TaskOutcome::Failed(r.error.clone().unwrap_or_else(|| "failed".into())),
        None => t.outcome(),
    }
}

/// Replication failures from the journal (pvescheduler logs them per job), within the failed-backup
/// window.
fn replication(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let Source::Ok { data: j } = &s.facts.journal else { return Vec::new() };
    let cut = now - (t.get("backups.failed_window_h") * 3_600_000.0) as i64;
    j.hits
        .values()
        .filter(|h| h.kind == crate::health::facts::logscan::Critical::ReplicationError && h.last_ms >= cut)
        .map(|h| {
            let job = if h.object.is_empty() { "unknown" } else { h.object.as_str() };
            Finding::new(
                CAT,
                format!("replication_failed:{job}"),
                Severity::Warning,
                format!(
                    "replication job {job} failed {} time{}: {}",
                    h.count,
                    if h.count == 1 { "" } else { "s" },
                    h.sample
                ),
            )
            .details(json!({"count": h.count, "last_ms": h.last_ms, "sample": h.sample}))
        })
        .collect()
}

fn backups(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let mut out = replication(s, t, now);
    out.extend(backup_checks(s, t, now));
    out
}

fn backup_checks(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let inv = &s.inventory;
    let guests = match super::guests::local_guests(s) {
        Ok(g) => g,
        Err(r) => return vec![unknown(CAT, "backup_age:all", r)],
    };
    let tasks = match data(&inv.tasks, "task list") {
        Ok(t) => t,
        Err(r) => return vec![unknown(CAT, "backup_age:all", r)],
    };
    let jobs: &[crate::model::pve::BackupJob] = inv.backup_jobs.data.as_deref().unwrap_or(&[]);
    let vzdumps: Vec<&Task> =
        tasks.iter().filter(|t| t.kind == "vzdump" && !matches!(t.outcome(), TaskOutcome::Running)).collect();
    let (warn_d, crit_d) = (t.get("backups.max_age_days"), t.get("backups.critical_age_days"));
    let now_s = now / 1000;
    let mut out = Vec::new();
    for g in guests.iter().filter(|g| !g.template) {
        let covered = jobs.iter().any(|j| j.enabled && j.covers(g.vmid, g.pool.as_deref()));
        // The last successful backup of this guest (a job run with `job errors` counts for the guests
        // its log says were backed up; before the log is read, only clean runs count).
        let ok = vzdumps
            .iter()
            .filter(|tk| concerns(inv, jobs, tk, g))
            .filter(|tk| matches!(outcome_for(inv, tk, g.vmid), TaskOutcome::Ok | TaskOutcome::Warnings(_)))
            .map(|tk| tk.endtime.unwrap_or(tk.starttime) as i64)
            .max();
        let key = format!("backup_age:{}", g.vmid);
        let name = super::guests::label(g);
        let f = match ok {
            Some(end) => {
                let age_d = (now_s - end) as f64 / 86_400.0;
                let sev = if age_d >= crit_d {
                    Severity::Critical
                } else if age_d >= warn_d {
                    Severity::Warning
                } else {
                    Severity::Ok
                };
                Finding::new(CAT, key, sev, format!("{name}: last good backup {age_d:.1} days ago"))
                    .details(json!({"last_backup_s": end, "age_days": age_d, "warning_days": warn_d, "critical_days": crit_d}))
            }
            None if covered => Finding::new(
                CAT,
                key,
                Severity::Warning,
                format!("{name}: no successful backup in the task history"),
            )
            .details(json!({"covered_by_job": true})),
            // Not in a job: say what the task history does know, so that this agrees with the
            // failed-backup finding about the same guest (a manual backup that failed).
            None => {
                let last =
                    vzdumps.iter().filter(|tk| concerns(inv, jobs, tk, g)).max_by_key(|tk| tk.starttime);
                let reason = match last.map(|tk| outcome_for(inv, tk, g.vmid)) {
                    Some(TaskOutcome::Failed(_)) => {
                        format!(
                            "{name} is not in any scheduled backup job, and its last (manual) backup failed"
                        )
                    }
                    _ => format!(
                        "{name} is not in any scheduled backup job and has no backup in the task history"
                    ),
                };
                Finding::new(CAT, key, Severity::Info, reason).details(json!({"covered_by_job": false}))
            }
        };
        out.push(f.object(ObjectKind::Guest, g.vmid.to_string()));
    }
    // Failed runs within the window. Per guest: the latest vzdump that concerns it, with the guest's
    // own outcome (a job run's log names the guests that failed). Job runs whose log could not be read
    // are reported as a whole.
    let window_s = (t.get("backups.failed_window_h") * 3600.0) as i64;
    for g in guests.iter().filter(|g| !g.template) {
        let Some(tk) = vzdumps.iter().filter(|tk| concerns(inv, jobs, tk, g)).max_by_key(|tk| tk.starttime)
        else {
            continue;
        };
        let key = format!("backup_failed:{}", g.vmid);
        let name = super::guests::label(g);
        let f = match outcome_for(inv, tk, g.vmid) {
            TaskOutcome::Failed(err) if (tk.endtime.unwrap_or(tk.starttime) as i64) >= now_s - window_s => {
                // A run with the guest's id for a guest in no job was started by hand.
                let in_job = jobs.iter().any(|j| j.enabled && j.covers(g.vmid, g.pool.as_deref()));
                let how = if tk.id.is_empty() || in_job { "" } else { " (manual)" };
                Finding::new(
                    CAT,
                    key,
                    Severity::Warning,
                    format!("the last backup{how} of {name} failed: {err}"),
                )
            }
            TaskOutcome::Failed(_) => continue,
            _ => Finding::new(CAT, key, Severity::Ok, format!("the last backup of {name} ran fine")),
        };
        let f = f.details(json!({"upid": tk.upid, "status": tk.status, "time": tk.starttime}));
        out.push(f.object(ObjectKind::Guest, g.vmid.to_string()));
    }
    let unread_failed_run = vzdumps
        .iter()
        .filter(|tk| tk.id.is_empty() && !inv.job_results.contains_key(&tk.upid))
        .max_by_key(|tk| tk.starttime)
        .filter(|tk| (tk.endtime.unwrap_or(tk.starttime) as i64) >= now_s - window_s)
        .and_then(|tk| match tk.outcome() {
            TaskOutcome::Failed(err) => Some((tk, err)),
            _ => None,
        });
    if let Some((tk, err)) = unread_failed_run {
        out.push(
            Finding::new(
                CAT,
                "backup_failed:job",
                Severity::Warning,
                format!("the scheduled backup job failed: {err}"),
            )
            .details(json!({"upid": tk.upid, "status": tk.status, "time": tk.starttime})),
        );
    }
    out
}
