//! VMs & CTs: stopped while `onboot: 1` (after the host has been up a grace period), HA resources in
//! `error`/`fence`, guests locked longer than N hours (the lock's start is remembered through the
//! previous finding), and failed starts from the task list.

use serde_json::json;

use super::{data, prev, unknown, uptime_s};
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Thresholds};
use crate::model::pve::{Guest, TaskOutcome};

const CAT: Category = Category::Guests;

pub const ONBOOT: Rule = Rule {
    id: "guest_onboot",
    category: CAT,
    checks: &[("guest_onboot_stopped", "Guests set to start at boot are running")],
    fast: false,
    run: onboot,
};
pub const HA: Rule = Rule {
    id: "guest_ha",
    category: CAT,
    checks: &[("guest_ha", "HA resource state")],
    fast: false,
    run: ha,
};
pub const LOCKS: Rule = Rule {
    id: "guest_locks",
    category: CAT,
    checks: &[("guest_locked", "Guest locks")],
    fast: false,
    run: locks,
};
pub const FAILED_STARTS: Rule = Rule {
    id: "guest_failed_starts",
    category: CAT,
    checks: &[("guest_start_failed", "Failed guest starts"), ("guest_qmp", "QMP errors")],
    fast: false,
    run: failed_starts,
};

pub const MONITORS: Rule = Rule {
    id: "guest_monitors",
    category: CAT,
    checks: &[("monitor_down", "Service monitors are up")],
    // A published state, read on every sample: a monitor that goes down is a finding at once.
    fast: true,
    run: monitors,
};

/// A down service monitor (after its retries, outside maintenance, its guest not stopped) is a
/// critical finding keyed by the monitor, naming its guest; the others are ok. The monitors notify
/// about their own changes (`monitor.down`), so these findings are not notified again.
fn monitors(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    use crate::model::monitor::Status;
    let mut ids: Vec<&i64> = s.monitors.keys().collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let m = &s.monitors[id];
        if matches!(m.status, Status::Paused | Status::Pending) {
            continue;
        }
        let key = format!("monitor_down:{id}");
        let guest = m.vmid.map(|v| {
            let g = s.inventory.guest(v);
            g.map(label).unwrap_or_else(|| v.to_string())
        });
        let on = guest.as_deref().map(|g| format!(" on {g}")).unwrap_or_default();
        let f = if m.status == Status::Down {
            let error =
                m.last.as_ref().and_then(|o| o.error.clone()).unwrap_or_else(|| "check failed".into());
            Finding::new(CAT, key, Severity::Critical, format!("service {}{on} is down: {error}", m.name))
        } else {
            Finding::new(CAT, key, Severity::Ok, format!("service {}{on} is {}", m.name, m.status.as_str()))
        };
        let f = f.details(json!({ "monitor": id, "name": m.name, "vmid": m.vmid, "since": m.since }));
        out.push(match m.vmid {
            Some(v) => f.object(ObjectKind::Guest, v.to_string()),
            None => f,
        });
    }
    out
}

pub const CONTAINERS: Rule = Rule {
    id: "docker_containers",
    category: CAT,
    checks: &[
        ("docker_unhealthy", "Docker containers are healthy"),
        ("docker_loop", "Docker containers are not restarting in a loop"),
        ("docker_agent", "Docker agents report"),
    ],
    // A published state (the agents' reports), read on every sample.
    fast: true,
    run: containers,
};

/// The Docker push agents' containers: an unhealthy one (its healthcheck fails) and one restarting
/// in a loop (Docker says `restarting`, or its restart count rose three times in 15 minutes) are
/// warnings keyed by agent and container; an agent silent for three of its intervals is a warning
/// (its containers' last states are then not trusted for the other two).
fn containers(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    let now_s = s.now_ms / 1000;
    let mut out = Vec::new();
    for a in s.agents.iter() {
        let place = match (a.vmid, &a.guest_name) {
            (Some(v), Some(n)) if !n.is_empty() => format!("{} in {v} ({n})", a.name),
            (Some(v), _) => format!("{} in {v}", a.name),
            _ => a.name.clone(),
        };
        let with_guest = |f: Finding| match a.vmid {
            Some(v) => f.object(ObjectKind::Guest, v.to_string()),
            None => f,
        };
        let key = format!("docker_agent:{}", a.id);
        let stale = a.stale_at(now_s);
        let f = if stale {
            let seen = match a.last_report {
                Some(t) => format!("last report {} ago", crate::civil::ago(now_s - t)),
                None => "no report yet".into(),
            };
            Finding::new(
                CAT,
                key,
                Severity::Warning,
                format!("Docker agent {place} stopped reporting ({seen})"),
            )
        } else {
            Finding::new(CAT, key, Severity::Ok, format!("Docker agent {place} reports"))
        };
        out.push(with_guest(f.details(json!({ "agent": a.id, "name": a.name, "vmid": a.vmid }))));
        if stale {
            continue;
        }
        for c in &a.containers {
            let details = json!({ "agent": a.id, "container": c.name, "image": c.image, "vmid": a.vmid });
            let key = format!("docker_unhealthy:{}:{}", a.id, c.name);
            let f = if c.health.as_deref() == Some("unhealthy") && c.state == "running" {
                Finding::new(
                    CAT,
                    key,
                    Severity::Warning,
                    format!("container {} on {place} is unhealthy", c.name),
                )
            } else {
                Finding::new(
                    CAT,
                    key,
                    Severity::Ok,
                    format!("container {} on {place} is not unhealthy", c.name),
                )
            };
            out.push(with_guest(f.details(details.clone())));
            let key = format!("docker_loop:{}:{}", a.id, c.name);
            let looping = c.state == "restarting" || a.looping.iter().any(|n| n == &c.name);
            let f = if looping {
                Finding::new(
                    CAT,
                    key,
                    Severity::Warning,
                    format!(
                        "container {} on {place} is restarting in a loop ({} restarts)",
                        c.name, c.restart_count
                    ),
                )
            } else {
                Finding::new(
                    CAT,
                    key,
                    Severity::Ok,
                    format!("container {} on {place} is not restarting", c.name),
                )
            };
            out.push(with_guest(f.details(details)));
        }
    }
    out
}

pub(crate) fn label(g: &Guest) -> String {
    g.label()
}

/// This node's guests, or the reason they are unknown.
pub(crate) fn local_guests(s: &Snapshots) -> Result<Vec<&Guest>, String> {
    let node = &s.inventory.node;
    Ok(data(&s.inventory.resources, "cluster resources")?
        .iter()
        .filter_map(|r| r.as_guest())
        .filter(|g| g.node.is_empty() || &g.node == node)
        .collect())
}

fn onboot(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let guests = match local_guests(s) {
        Ok(g) => g,
        Err(r) => return vec![unknown(CAT, "guest_onboot_stopped:all", r)],
    };
    let grace_s = t.get("guests.onboot_grace_min") * 60.0;
    // Guests start in order with delays after a host boot; proxwatch's own start is graced too.
    let booting = uptime_s(s).is_some_and(|u| u < grace_s) || s.in_startup_grace(now);
    let mut out = Vec::new();
    for g in guests.iter().filter(|g| !g.template) {
        let Some(cfg) = s.inventory.configs.get(&g.vmid) else { continue };
        if !cfg.onboot || cfg.template {
            continue;
        }
        let key = format!("guest_onboot_stopped:{}", g.vmid);
        let f = if g.status == "stopped" && !booting {
            Finding::new(
                CAT,
                key,
                Severity::Warning,
                format!("{} is stopped but set to start at boot", label(g)),
            )
        } else if g.status == "stopped" {
            Finding::new(
                CAT,
                key,
                Severity::Ok,
                format!("{} is stopped; host booted recently (grace)", label(g)),
            )
            .details(json!({"status": g.status, "onboot": true, "grace_until": grace_end(s, grace_s, now)}))
        } else {
            Finding::new(CAT, key, Severity::Ok, format!("{} (start at boot) is {}", label(g), g.status))
        };
        let f = if f.details.is_null() { f.details(json!({"status": g.status, "onboot": true})) } else { f };
        out.push(f.object(ObjectKind::Guest, g.vmid.to_string()));
    }
    out
}

/// When a grace that holds a finding back ends (unix ms): the later of the host's boot grace
/// (`grace_s` of uptime) and proxwatch's own startup grace. Shown as "startup grace: N checks wait
/// until HH:MM", so that counts changing by themselves after a start are explained.
pub(super) fn grace_end(s: &Snapshots, grace_s: f64, now: i64) -> i64 {
    let boot = uptime_s(s).map_or(0, |u| now + ((grace_s - u).max(0.0) * 1000.0) as i64);
    boot.max(if s.in_startup_grace(now) { s.started_ms.saturating_add(s.grace_ms) } else { 0 })
}

fn ha(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    let guests = match local_guests(s) {
        Ok(g) => g,
        Err(r) => return vec![unknown(CAT, "guest_ha:all", r)],
    };
    guests
        .iter()
        .filter_map(|g| g.hastate.as_deref().map(|h| (g, h)))
        .map(|(g, h)| {
            let sev = match h {
                "error" | "fence" => Severity::Critical,
                _ => Severity::Ok,
            };
            Finding::new(CAT, format!("guest_ha:{}", g.vmid), sev, format!("{} HA state is {h}", label(g)))
                .details(json!({"hastate": h, "status": g.status}))
                .object(ObjectKind::Guest, g.vmid.to_string())
        })
        .collect()
}

fn locks(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let guests = match local_guests(s) {
        Ok(g) => g,
        Err(r) => return vec![unknown(CAT, "guest_locked:all", r)],
    };
    let max_h = t.get("guests.lock_max_h");
    let mut out = Vec::new();
    for g in guests {
        let lock = g.lock.clone().or_else(|| s.inventory.configs.get(&g.vmid).and_then(|c| c.lock.clone()));
        let Some(lock) = lock.filter(|l| !l.is_empty()) else { continue };
        let key = format!("guest_locked:{}", g.vmid);
        // When the lock was first seen: carried over from the previous finding for the same lock.
        let since = prev(s, &key)
            .filter(|p| p.details.get("lock").and_then(|l| l.as_str()) == Some(lock.as_str()))
            .and_then(|p| p.details.get("since_ms").and_then(|v| v.as_i64()))
            .unwrap_or(now);
        let hours = (now - since) as f64 / 3_600_000.0;
        let sev = if hours >= max_h { Severity::Warning } else { Severity::Info };
        let reason = if hours >= max_h {
            format!("{} has been locked ({lock}) for {hours:.1} h (> {max_h:.0} h)", label(g))
        } else {
            format!("{} is locked ({lock})", label(g))
        };
        out.push(
            Finding::new(CAT, key, sev, reason)
                .details(json!({"lock": lock, "since_ms": since, "max_h": max_h}))
                .object(ObjectKind::Guest, g.vmid.to_string()),
        );
    }
    out
}

fn failed_starts(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let mut out = qmp_errors(s, t, now);
    let guests = match local_guests(s) {
        Ok(g) => g,
        Err(r) => {
            out.push(unknown(CAT, "guest_start_failed:all", r));
            return out;
        }
    };
    let tasks = match data(&s.inventory.tasks, "task list") {
        Ok(t) => t,
        Err(r) => {
            out.push(unknown(CAT, "guest_start_failed:all", r));
            return out;
        }
    };
    let window_s = (t.get("guests.failed_start_window_h") * 3600.0) as i64;
    for g in guests {
        let id = g.vmid.to_string();
        let last = tasks
            .iter()
            .filter(|tk| (tk.kind == "qmstart" || tk.kind == "vzstart") && tk.id == id)
            .filter(|tk| !matches!(tk.outcome(), TaskOutcome::Running))
            .max_by_key(|tk| tk.starttime);
        let Some(tk) = last else { continue };
        if let TaskOutcome::Failed(err) = tk.outcome()
            && g.status != "running"
            && (tk.starttime as i64) >= now / 1000 - window_s
        {
            out.push(
                Finding::new(
                    CAT,
                    format!("guest_start_failed:{id}"),
                    Severity::Warning,
                    format!("{} failed to start: {err}", label(g)),
                )
                .details(json!({"upid": tk.upid, "error": err, "time": tk.starttime}))
                .object(ObjectKind::Guest, id),
            );
        }
    }
    out
}

/// QMP errors from the journal within the failed-start window, one finding per guest.
fn qmp_errors(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let crate::health::model::Source::Ok { data: j } = &s.facts.journal else { return Vec::new() };
    let cut = now - (t.get("guests.failed_start_window_h") * 3_600_000.0) as i64;
    j.hits
        .values()
        .filter(|h| h.kind == crate::health::facts::logscan::Critical::QmpError && h.last_ms >= cut)
        .map(|h| {
            let vmid = if h.object.is_empty() { "unknown".to_string() } else { h.object.clone() };
            let f = Finding::new(
                CAT,
                format!("guest_qmp:{vmid}"),
                Severity::Warning,
                format!(
                    "VM {vmid}: {} QMP error{} in the journal (last: {})",
                    h.count,
                    if h.count == 1 { "" } else { "s" },
                    h.sample
                ),
            )
            .details(json!({"count": h.count, "last_ms": h.last_ms, "sample": h.sample}));
            if h.object.is_empty() { f } else { f.object(ObjectKind::Guest, vmid) }
        })
        .collect()
}
