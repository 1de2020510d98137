//! `/api/vms`: the guests (from the inventory snapshot), one guest with its config, tasks, backups
//! and replication, its power actions (handed to the action runner through `workers::pve`), and its
//! RRD history (read on demand, cached a minute).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiState;
use super::rrd_cache::{RrdCache, TIMEFRAMES};
use super::{OPERATE, READ, Routes, json};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::model::inventory::Inventory;
use crate::model::pve::{Guest, GuestConfig, Task, TaskOutcome};
use crate::model::section::Section;
use crate::workers::pve::{self, OpError, POWER_ACTIONS};

pub fn routes() -> Routes {
    Routes::new()
        .get("/vms", READ, vms)
        .get("/vms/{vmid}", READ, vm)
        .post("/vms/{vmid}/{action}", OPERATE, vm_action)
        .get("/vms/{vmid}/rrd", READ, vm_rrd)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct BackupRef {
    time: u64,
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "warnings", "failed"])))]
    status: &'static str,
    /// This guest's error in a backup-job run (from the run's log).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    error: Option<String>,
    upid: String,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct GuestView<'a> {
    vmid: u64,
    #[cfg_attr(test, schemars(extend("enum" = ["qemu", "lxc"])))]
    kind: &'static str,
    name: &'a str,
    node: &'a str,
    status: &'a str,
    template: bool,
    /// Percent of the guest's own CPUs.
    cpu_pct: f64,
    cpus: f64,
    mem: u64,
    maxmem: u64,
    disk: u64,
    maxdisk: u64,
    /// Rates from two readings of the guest's counters: `null` until there are two (and for a guest
    /// that is not running), never a made-up 0.
    netin_bps: Option<f64>,
    netout_bps: Option<f64>,
    diskread_bps: Option<f64>,
    diskwrite_bps: Option<f64>,
    uptime: Option<u64>,
    tags: &'a [String],
    lock: Option<&'a str>,
    hastate: Option<&'a str>,
    pool: Option<&'a str>,
    /// `null` until the guest's config has been read.
    onboot: Option<bool>,
    /// Stopped although it should start with the host: worth a look.
    onboot_stopped: bool,
    last_backup: Option<BackupRef>,
    /// Active problems about the guest (critical, warning and unknown health findings).
    problems: usize,
}

pub(super) fn outcome_name(o: &TaskOutcome) -> &'static str {
    match o {
        TaskOutcome::Ok => "ok",
        TaskOutcome::Warnings(_) => "warnings",
        TaskOutcome::Running => "running",
        TaskOutcome::Failed(_) => "failed",
    }
}

/// Whether a task concerns a guest: its id is the vmid, or it is a scheduled backup job run (vzdump
/// with an empty id, PVE's form for jobs over many guests) that backed the guest up. Once the run's log
/// has been read (`job_results`) that is exactly the guests it names; before, the job's coverage.
fn is_guest_task(inv: &Inventory, t: &Task, g: &Guest) -> bool {
    if t.id == g.vmid.to_string() {
        return true;
    }
    if t.kind != "vzdump" || !t.id.is_empty() {
        return false;
    }
    if let Some(results) = inv.job_results.get(&t.upid) {
        return results.contains_key(&g.vmid);
    }
    inv.backup_jobs.data.iter().flatten().any(|j| j.enabled && j.covers(g.vmid, g.pool.as_deref()))
}

/// A task's outcome for one guest: a job run's own verdict is about all its guests ("job errors" when
/// any failed), so the guest's line in the run's log decides when it has been read.
fn guest_outcome<'a>(inv: &'a Inventory, t: &'a Task, vmid: u64) -> (&'static str, Option<&'a str>) {
    if let Some(r) = inv.job_results.get(&t.upid).and_then(|r| r.get(&vmid)) {
        return if r.ok { ("ok", None) } else { ("failed", r.error.as_deref()) };
    }
    (outcome_name(&t.outcome()), None)
}

fn guest_view<'a>(inv: &'a Inventory, g: &'a Guest, problems: usize) -> GuestView<'a> {
    let config = inv.configs.get(&g.vmid);
    let rates = inv.rates.get(&g.vmid).filter(|_| g.status == "running");
    let onboot = config.map(|c| c.onboot);
    let last_backup = inv
        .tasks
        .data
        .iter()
        .flatten()
        .filter(|t| t.kind == "vzdump" && is_guest_task(inv, t, g))
        .filter(|t| !matches!(t.outcome(), TaskOutcome::Running))
        .max_by_key(|t| t.starttime)
        .map(|t| {
            let (status, error) = guest_outcome(inv, t, g.vmid);
            BackupRef {
                time: t.endtime.unwrap_or(t.starttime),
                status,
                error: error.map(str::to_string),
                upid: t.upid.clone(),
            }
        });
    GuestView {
        vmid: g.vmid,
        kind: g.kind.as_str(),
        name: &g.name,
        node: &g.node,
        status: &g.status,
        template: g.template,
        cpu_pct: (g.cpu * 100.0).clamp(0.0, 100.0),
        cpus: g.maxcpu,
        mem: g.mem,
        maxmem: g.maxmem,
        disk: g.disk,
        maxdisk: g.maxdisk,
        netin_bps: rates.map(|r| r.netin_bps),
        netout_bps: rates.map(|r| r.netout_bps),
        diskread_bps: rates.map(|r| r.diskread_bps),
        diskwrite_bps: rates.map(|r| r.diskwrite_bps),
        uptime: g.uptime,
        tags: &g.tags,
        lock: g.lock.as_deref(),
        hastate: g.hastate.as_deref(),
        pool: g.pool.as_deref(),
        onboot,
        onboot_stopped: onboot == Some(true) && g.status == "stopped" && !g.template,
        last_backup,
        problems,
    }
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "VmList"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "VmList"))]
struct Vms<'a> {
    node: &'a str,
    guests: Section<Vec<GuestView<'a>>>,
    /// Tag colours the admin set in PVE (`datacenter.cfg` `tag-style`), by tag; tags not listed use
    /// the default look.
    tag_colors: &'a std::collections::BTreeMap<String, crate::model::pve::TagColor>,
}

async fn vms(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let problems = crate::overview::guest_problems(&app.health.borrow());
    let mut list: Vec<GuestView<'_>> =
        inv.guests().map(|g| guest_view(&inv, g, problems.get(&g.vmid).map_or(0, |p| p.0))).collect();
    list.sort_by_key(|g| g.vmid);
    let section = Section {
        state: inv.resources.state,
        reason: inv.resources.reason.clone(),
        updated: inv.resources.updated,
        data: inv.resources.data.as_ref().map(|_| list),
        source: inv.resources.source.clone(),
    };
    json(&Vms { node: &inv.node, guests: section, tag_colors: &inv.tag_colors })
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct TaskView<'a> {
    upid: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    status: Option<&'a str>,
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "warnings", "running", "failed"])))]
    outcome: &'static str,
    starttime: u64,
    endtime: Option<u64>,
    user: &'a str,
    /// For a backup-job run seen from one guest: that guest's error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    guest_error: Option<&'a str>,
}

fn task_view(t: &Task) -> TaskView<'_> {
    TaskView {
        upid: &t.upid,
        kind: &t.kind,
        status: t.status.as_deref(),
        outcome: outcome_name(&t.outcome()),
        starttime: t.starttime,
        endtime: t.endtime,
        user: &t.user,
        guest_error: None,
    }
}

/// A task as seen from one guest (a job run's outcome is the guest's own).
fn guest_task_view<'a>(inv: &'a Inventory, t: &'a Task, vmid: u64) -> TaskView<'a> {
    let (outcome, guest_error) = guest_outcome(inv, t, vmid);
    TaskView { outcome, guest_error, ..task_view(t) }
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct VmDetail<'a> {
    guest: GuestView<'a>,
    config: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Snapshot names, oldest first (from the config file; empty where it was read through pvesh).
    snapshots: &'a [String],
    /// Config keys with a pending change (set or deleted), applied at the next start.
    pending: &'a [String],
    tasks: Vec<TaskView<'a>>,
    backups: Vec<TaskView<'a>>,
    /// This guest's storage replication jobs.
    replication: Vec<&'a crate::model::pve::ReplicationJob>,
}

pub(super) fn parse_vmid(s: &str) -> Result<u64, ApiError> {
    s.parse().ok().filter(|v| (100..=999_999_999).contains(v)).ok_or_else(|| {
        ApiError::bad_request(format!("vmid must be a number from 100 to 999999999 (got {s:?})"))
    })
}

fn config_map(c: &GuestConfig) -> serde_json::Map<String, serde_json::Value> {
    c.raw.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

async fn vm(State(app): State<ApiState>, Path(vmid): Path<String>) -> Result<Response, ApiError> {
    let vmid = parse_vmid(&vmid)?;
    let inv = app.inventory.borrow().clone();
    let g = inv
        .guests()
        .find(|g| g.vmid == vmid)
        .ok_or_else(|| ApiError::not_found(format!("no guest {vmid}")))?;
    let config = inv.configs.get(&vmid).map(config_map);
    let mut tasks: Vec<&Task> =
        inv.tasks.data.iter().flatten().filter(|t| is_guest_task(&inv, t, g)).collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.starttime));
    let backups =
        tasks.iter().filter(|t| t.kind == "vzdump").map(|t| guest_task_view(&inv, t, vmid)).collect();
    let cfg = inv.configs.get(&vmid);
    let body = VmDetail {
        guest: guest_view(
            &inv,
            g,
            crate::overview::guest_problems(&app.health.borrow()).get(&vmid).map_or(0, |p| p.0),
        ),
        config: config.as_ref(),
        snapshots: cfg.map_or(&[], |c| c.snapshots.as_slice()),
        pending: cfg.map_or(&[], |c| c.pending.as_slice()),
        tasks: tasks.iter().take(50).map(|t| guest_task_view(&inv, t, vmid)).collect(),
        backups,
        replication: inv.replication.data.iter().flatten().filter(|j| j.guest == vmid).collect(),
    };
    json(&body)
}

async fn vm_action(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path((vmid, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let vmid = parse_vmid(&vmid)?;
    if !POWER_ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request(format!(
            "action must be one of: {} (got {action:?})",
            POWER_ACTIONS.join(", ")
        )));
    }
    let (kind, lock, node) = {
        let inv = app.inventory.borrow();
        let g = inv
            .guests()
            .find(|g| g.vmid == vmid)
            .ok_or_else(|| ApiError::not_found(format!("no guest {vmid}")))?;
        (g.kind, g.lock.clone(), if g.node.is_empty() { inv.node.clone() } else { g.node.clone() })
    };
    if let Some(lock) = lock {
        return Err(ApiError::Locked(format!("guest {vmid} is locked ({lock})")));
    }
    tracing::info!(user = %p.user, vmid, action, "guest action");
    match pve::guest_power(&app.actions, app.pve.link(), &node, kind, vmid, &action, pve::FOLLOW).await {
        Ok(task) => {
            let running = task.ok.is_none();
            tracing::info!(vmid, action, upid = %task.upid, status = %task.status, exitstatus = ?task.exitstatus, "guest action task");
            let mut resp = json(&task)?;
            if running {
                *resp.status_mut() = StatusCode::ACCEPTED;
            }
            Ok(resp)
        }
        Err(OpError::Locked) => Err(ApiError::Locked(format!("guest {vmid} is locked"))),
        Err(e) => Err(super::op_error(e, |_| "Proxmox refused".into(), p.level)),
    }
}

// ---------------------------------------------------------------------------------------------------
// Guest RRD history: read on demand through the action runner's read lane (PVE keeps it; the
// inventory snapshot does not), the answers cached for a minute (api::rrd_cache).
// ---------------------------------------------------------------------------------------------------

/// One RRD row as served: `cpu` is a fraction of the guest's CPUs, `mem`/`maxmem` bytes, the rest
/// bytes per second; all `null` for steps when the guest was not running.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct RrdRow {
    time: u64,
    cpu: Option<f64>,
    mem: Option<f64>,
    maxmem: Option<f64>,
    netin: Option<f64>,
    netout: Option<f64>,
    diskread: Option<f64>,
    diskwrite: Option<f64>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct RrdAnswer<'a> {
    vmid: u64,
    timeframe: &'a str,
    points: Vec<RrdRow>,
    /// Seconds between points.
    step: Option<u64>,
    /// The newest point's time: a series that stopped updating says so (`stale`) instead of
    /// looking current.
    last: Option<u64>,
    stale: bool,
}

/// A series is stale when its newest point is more than three steps (and two minutes) old: PVE
/// writes a point every step while `pvestatd` runs.
fn rrd_freshness(times: &[u64], now_s: u64) -> (Option<u64>, Option<u64>, bool) {
    let step = times.windows(2).map(|w| w[1].abs_diff(w[0])).filter(|d| *d > 0).min();
    let last = times.iter().max().copied();
    let stale = match (step, last) {
        (Some(step), Some(last)) => now_s.saturating_sub(last) > (3 * step).max(120),
        _ => false,
    };
    (step, last, stale)
}

async fn vm_rrd(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(vmid): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let vmid = parse_vmid(&vmid)?;
    let pairs = super::query_pairs(raw.as_deref())?;
    let asked = pairs.iter().rev().find(|(k, _)| k == "timeframe").map_or("hour", |(_, v)| v.as_str());
    let timeframe = RrdCache::timeframe(asked).ok_or_else(|| {
        ApiError::bad_request(format!("timeframe must be one of: {} (got {asked:?})", TIMEFRAMES.join(", ")))
    })?;
    let (kind, node) = {
        let inv = app.inventory.borrow();
        let g = inv
            .guests()
            .find(|g| g.vmid == vmid)
            .ok_or_else(|| ApiError::not_found(format!("no guest {vmid}")))?;
        (g.kind, if g.node.is_empty() { inv.node.clone() } else { g.node.clone() })
    };
    let body = app
        .rrd_cache
        .get_or_fill(vmid, timeframe, || async {
            let rows = pve::guest_rrd(&app.actions, app.pve.link(), &node, kind, vmid, timeframe)
                .await
                .map_err(|e| super::op_error(e, |code| format!("pvesh exited with code {code}"), p.level))?;
            let times: Vec<u64> = rows.iter().map(|r| r.time).collect();
            let (step, last, stale) = rrd_freshness(&times, app.clock.now_ms().max(0) as u64 / 1000);
            let points = rows
                .into_iter()
                .map(|p| RrdRow {
                    time: p.time,
                    cpu: p.cpu,
                    mem: p.mem,
                    maxmem: p.maxmem,
                    netin: p.netin,
                    netout: p.netout,
                    diskread: p.diskread,
                    diskwrite: p.diskwrite,
                })
                .collect();
            let answer = RrdAnswer { vmid, timeframe, points, step, last, stale };
            serde_json::to_vec(&answer).map(bytes::Bytes::from).map_err(ApiError::internal)
        })
        .await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<Vms<'static>>();
    v.visit::<VmDetail<'static>>();
    v.visit::<RrdAnswer<'static>>();
    v.visit::<pve::PowerTask>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    let vmid = || serde_json::json!({ "type": "integer", "minimum": 100, "maximum": 999_999_999 });
    const VMID: &str = "The guest's id (100 to 999999999); anything else is a 400.";
    d.get("/vms", "The guests (VMs and containers), with their usage, rates and last backup")
        .about(
            "From the inventory snapshot: `guests` is its cluster-resources section (its `data` is \
             `null` until the first read), sorted by vmid. Rates are `null` until two readings exist and \
             for a guest that is not running.",
        )
        .ok(out::<Vms<'static>>());
    d.get("/vms/{vmid}", "One guest: its config, last 50 tasks, backups and replication jobs")
        .path_param("vmid", vmid(), VMID)
        .about("`config` is `null` until the guest's config has been read.")
        .ok(out::<VmDetail<'static>>());
    d.post("/vms/{vmid}/{action}", "Start, shut down, stop, reboot, suspend or resume a guest")
        .about(
            "Asks the PVE API (`POST /nodes/{node}/{qemu|lxc}/{vmid}/status/{action}`, with proxwatch's \
             API token: pvedaemon runs the task, not proxwatch) and follows the task it started for up to \
             15 s: 200 with the UPID, `status: stopped`, the task's `exitstatus` and `ok` once it ended \
             (`ok: false` for a task that failed: its log is at `/api/tasks/{upid}/log`), or 202 with \
             `status: running` and `ok: null` when it had not. Without a token it is a 503 that says how to \
             connect (`proxwatch pve connect`, or Settings → Proxmox); a token that PVE rejects or that \
             lacks the privilege (VM.PowerMgmt: connected without actions) is a 502 naming it. A locked \
             guest (backup, migration, snapshot…) is a 409; a busy action runner a 503.",
        )
        .path_param("vmid", vmid(), VMID)
        .path_param("action", one_of(POWER_ACTIONS), "The power action.")
        .ok(out::<pve::PowerTask>())
        .error(409, "The guest is locked by another operation.");
    d.get("/vms/{vmid}/rrd", "A guest's usage history (Proxmox RRD) over a timeframe")
        .about(
            "Read from Proxmox on demand and cached for a minute. Rows when the guest was not running \
             carry only `time` (the rest `null`). `stale` says the newest point is more than three steps \
             (and two minutes) old.",
        )
        .path_param("vmid", vmid(), VMID)
        .query("timeframe", one_of(TIMEFRAMES), "The span (default hour); the last one given counts.")
        .ok(out::<RrdAnswer<'static>>());
}

#[cfg(test)]
mod tests {
    use super::rrd_freshness;

    #[test]
    fn an_rrd_series_that_stopped_updating_is_stale() {
        let times = [1000, 1060, 1120];
        assert_eq!(rrd_freshness(&times, 1150), (Some(60), Some(1120), false));
        assert_eq!(
            rrd_freshness(&times, 1120 + 180),
            (Some(60), Some(1120), false),
            "three steps (and 2 min) is fine"
        );
        assert!(rrd_freshness(&times, 1120 + 20 * 60).2, "20 minutes behind a 1-minute series");
        assert_eq!(rrd_freshness(&[], 5000), (None, None, false));
    }
}
