//! `/api/vms`, `/api/cluster`, `/api/storage`: guests, cluster and storage views built from the
//! inventory snapshot. Guest power actions and disk self-tests are handed to the action runner (the
//! handlers themselves never run a tool).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::{JsonBody, OPERATE, READ, Routes, json};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::tools::pvesh::{ClusterResource, Guest, GuestConfig, Task, TaskOutcome};
use crate::tools::smartctl::{Reading, ScanDevice, SelfTestKind};
use crate::tools::storage::{BlockDevice, LvKind};
use crate::tools::zpool::{PoolStatus, PoolSummary};
use crate::workers::actions::Action;
use crate::workers::inventory::{Inventory, Section, SectionState};
use crate::workers::wall_ms;

pub fn routes() -> Routes {
    Routes::new()
        .get("/vms", READ, vms)
        .get("/vms/{vmid}", READ, vm)
        .post("/vms/{vmid}/{action}", OPERATE, vm_action)
        .get("/cluster", READ, cluster)
        .get("/storage", READ, storage)
        .get("/storage/disks/{id}", READ, disk)
        .post("/storage/disks/{id}/selftest", OPERATE, selftest)
        .get("/vms/{vmid}/rrd", READ, vm_rrd)
        .get("/tasks/{upid}/log", READ, task_log)
}

#[derive(Serialize)]
struct BackupRef {
    time: u64,
    status: &'static str,
    /// This guest's error in a backup-job run (from the run's log).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    upid: String,
}

#[derive(Serialize)]
struct GuestView<'a> {
    vmid: u64,
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

fn guest_view<'a>(inv: &'a Inventory, g: &'a Guest) -> GuestView<'a> {
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
    }
}

fn guests(inv: &Inventory) -> impl Iterator<Item = &Guest> {
    inv.resources.data.iter().flatten().filter_map(ClusterResource::as_guest)
}

#[derive(Serialize)]
struct Vms<'a> {
    node: &'a str,
    guests: Section<Vec<GuestView<'a>>>,
}

async fn vms(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let mut list: Vec<GuestView<'_>> = guests(&inv).map(|g| guest_view(&inv, g)).collect();
    list.sort_by_key(|g| g.vmid);
    let section = Section {
        state: inv.resources.state,
        reason: inv.resources.reason.clone(),
        updated: inv.resources.updated,
        data: inv.resources.data.as_ref().map(|_| list),
    };
    json(&Vms { node: &inv.node, guests: section })
}

#[derive(Serialize)]
struct TaskView<'a> {
    upid: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    status: Option<&'a str>,
    outcome: &'static str,
    starttime: u64,
    endtime: Option<u64>,
    user: &'a str,
    /// For a backup-job run seen from one guest: that guest's error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
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
struct VmDetail<'a> {
    guest: GuestView<'a>,
    config: Option<&'a serde_json::Map<String, serde_json::Value>>,
    tasks: Vec<TaskView<'a>>,
    backups: Vec<TaskView<'a>>,
    /// This guest's storage replication jobs.
    replication: Vec<&'a crate::tools::pvesh::ReplicationJob>,
}

fn parse_vmid(s: &str) -> Result<u64, ApiError> {
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
    let g = guests(&inv)
        .find(|g| g.vmid == vmid)
        .ok_or_else(|| ApiError::not_found(format!("no guest {vmid}")))?;
    let config = inv.configs.get(&vmid).map(config_map);
    let mut tasks: Vec<&Task> =
        inv.tasks.data.iter().flatten().filter(|t| is_guest_task(&inv, t, g)).collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.starttime));
    let backups =
        tasks.iter().filter(|t| t.kind == "vzdump").map(|t| guest_task_view(&inv, t, vmid)).collect();
    let body = VmDetail {
        guest: guest_view(&inv, g),
        config: config.as_ref(),
        tasks: tasks.iter().take(50).map(|t| guest_task_view(&inv, t, vmid)).collect(),
        backups,
        replication: inv.replication.data.iter().flatten().filter(|j| j.guest == vmid).collect(),
    };
    json(&body)
}

const ACTIONS: &[&str] = &["start", "shutdown", "stop", "reboot"];

async fn vm_action(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path((vmid, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let vmid = parse_vmid(&vmid)?;
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request(format!(
            "action must be one of: {} (got {action:?})",
            ACTIONS.join(", ")
        )));
    }
    let (kind, lock, node) = {
        let inv = app.inventory.borrow();
        let g = guests(&inv)
            .find(|g| g.vmid == vmid)
            .ok_or_else(|| ApiError::not_found(format!("no guest {vmid}")))?;
        (g.kind, g.lock.clone(), if g.node.is_empty() { inv.node.clone() } else { g.node.clone() })
    };
    if let Some(lock) = lock {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "locked",
            format!("guest {vmid} is locked ({lock})"),
        ));
    }
    let path = format!("/nodes/{node}/{}/{vmid}/status/{action}", kind.as_str());
    let argv = vec!["pvesh".into(), "create".into(), path, "--output-format".into(), "json".into()];
    tracing::info!(user = %p.user, vmid, action, "guest action");
    let out = app.actions.run(Action { argv }).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    match out {
        Ok(o) if o.code == 0 => {
            let upid = serde_json::from_str::<String>(o.stdout.trim())
                .unwrap_or_else(|_| o.stdout.trim().to_string());
            let mut resp = json(&serde_json::json!({"upid": upid}))?;
            *resp.status_mut() = StatusCode::ACCEPTED;
            Ok(resp)
        }
        Ok(o) => {
            let msg = o.stderr.trim().to_string();
            if msg.contains("locked") {
                Err(ApiError::new(StatusCode::CONFLICT, "locked", format!("guest {vmid} is locked")))
            } else {
                Err(super::tool_error(
                    StatusCode::BAD_GATEWAY,
                    "action_failed",
                    "Proxmox refused",
                    &msg,
                    p.level,
                ))
            }
        }
        Err(e) => Err(super::tool_error(
            StatusCode::BAD_GATEWAY,
            "action_failed",
            "the action could not run",
            &e.to_string(),
            p.level,
        )),
    }
}

#[derive(Serialize)]
struct NodeView<'a> {
    name: &'a str,
    cpu_model: &'a str,
    cpus: u64,
    cpu_pct: f64,
    uptime: u64,
    loadavg: &'a [f64],
    memory: MemView,
    kversion: &'a str,
    pveversion: &'a str,
}

#[derive(Serialize)]
struct MemView {
    total: u64,
    used: u64,
}

async fn cluster(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let node = inv.node_status.map(|s| NodeView {
        name: &inv.node,
        cpu_model: &s.cpuinfo.model,
        cpus: s.cpuinfo.cpus.unwrap_or(0),
        cpu_pct: s.cpu * 100.0,
        uptime: s.uptime,
        loadavg: &s.loadavg,
        memory: MemView { total: s.memory.total, used: s.memory.used },
        kversion: &s.kversion,
        pveversion: &s.pveversion,
    });
    let cluster = inv.cluster.map(|c| {
        serde_json::json!({
            "name": c.cluster.as_ref().map(|i| i.name.clone()),
            "quorate": c.quorate(),
            "nodes": c.nodes,
        })
    });
    json(&serde_json::json!({"node": node, "cluster": cluster, "replication": inv.replication}))
}

#[derive(Serialize)]
struct PoolView<'a> {
    name: &'a str,
    size: Option<u64>,
    alloc: Option<u64>,
    free: Option<u64>,
    frag_percent: Option<u32>,
    cap_percent: Option<u32>,
    dedup_ratio: Option<f64>,
    health: Option<&'a crate::tools::zpool::VdevState>,
    status: Option<&'a PoolStatus>,
    /// The disk each member lives on, by member name: what identifies it in a bay.
    members: BTreeMap<String, MemberDisk>,
}

/// The disk behind a pool member.
#[derive(Serialize)]
struct MemberDisk {
    disk: String,
    partition: Option<String>,
    model: Option<String>,
    serial: Option<String>,
    /// A `/dev/disk/by-id` path of the member (the name zpool prints when it is one).
    by_id: Option<String>,
}

fn member_disks(inv: &Inventory, pool: &str) -> BTreeMap<String, MemberDisk> {
    let devs = inv.blockdevs.data.as_deref().unwrap_or_default();
    crate::disks::memberships(inv)
        .into_iter()
        .filter(|(_, m)| m.pool == pool)
        .map(|(disk, m)| {
            let d = devs.iter().find(|d| d.kname == disk);
            let target = m.partition.clone().unwrap_or_else(|| disk.clone());
            let by_id = if inv.dev_links.contains_key(&format!("by-id/{}", m.vdev))
                || ["ata-", "nvme-", "scsi-", "wwn-", "usb-"].iter().any(|p| m.vdev.starts_with(p))
            {
                Some(format!("/dev/disk/by-id/{}", m.vdev))
            } else {
                inv.dev_links
                    .iter()
                    .find(|(k, t)| k.starts_with("by-id/") && **t == target)
                    .map(|(k, _)| format!("/dev/disk/{k}"))
            };
            let md = MemberDisk {
                disk,
                partition: m.partition.clone(),
                model: d.and_then(|d| d.model.clone()),
                serial: d.and_then(|d| d.serial.clone()),
                by_id,
            };
            (m.vdev, md)
        })
        .collect()
}

#[derive(Serialize)]
struct SmartSummary {
    state: &'static str,
    reason: Option<String>,
    passed: Option<bool>,
    temperature_c: Option<i64>,
    power_on_hours: Option<u64>,
    wear_used_pct: Option<u8>,
    bytes_written: Option<u64>,
    findings: Vec<&'static str>,
}

#[derive(Serialize)]
struct DiskView<'a> {
    id: &'a str,
    path: String,
    model: Option<&'a str>,
    serial: Option<&'a str>,
    size: Option<u64>,
    kind: Option<&'a crate::tools::storage::DiskKind>,
    transport: Option<&'a str>,
    used_by: Option<String>,
    /// The disk's verdict from everything known about it (`crate::disks::verdict`), not SMART's
    /// overall-health bit alone.
    state: &'static str,
    reason: String,
    /// The health findings about the disk, worst first (dismissed ones last).
    findings: Vec<crate::disks::DiskFinding>,
    /// Its places in ZFS pools, with the member's state and error counters.
    pools: Vec<crate::disks::Membership>,
    /// By-id names that point at the disk itself (bay-identifying).
    by_id: Vec<String>,
    smart: SmartSummary,
    /// The SSD endurance forecast (`null` until the first daily reading is recorded).
    forecast: Option<&'a crate::wear::Forecast>,
}

/// The SMART reading for a block device: `/dev/sda` for `sda`, `/dev/nvme0` for `nvme0n1`.
fn smart_for<'a>(inv: &'a Inventory, kname: &str) -> Option<(&'a ScanDevice, Option<&'a Section<Reading>>)> {
    let devices = inv.smart_devices.data.as_ref()?;
    let dev = devices.iter().find(|d| {
        let base = d.name.trim_start_matches("/dev/");
        base == kname
            || (base.starts_with("nvme") && kname.strip_prefix(base).is_some_and(|r| r.starts_with('n')))
    })?;
    Some((dev, inv.smart.get(&dev.name)))
}

fn smart_summary(section: Option<&Section<Reading>>, scanned: bool) -> SmartSummary {
    let mut s = SmartSummary {
        state: if scanned { "pending" } else { "unavailable" },
        reason: if scanned { None } else { Some("smartctl does not list this device".into()) },
        passed: None,
        temperature_c: None,
        power_on_hours: None,
        wear_used_pct: None,
        bytes_written: None,
        findings: Vec::new(),
    };
    let Some(section) = section else { return s };
    s.reason = section.reason.clone();
    match (&section.data, section.state) {
        (_, SectionState::Unavailable) => s.state = "unavailable",
        (Some(Reading::Data(d)), _) => {
            s.state = if section.reason.as_deref().is_some_and(|r| r.contains("not woken")) {
                "standby"
            } else {
                "ok"
            };
            s.passed = d.smart_passed;
            s.temperature_c = d.temperature_c;
            s.power_on_hours = d.power_on_hours;
            s.wear_used_pct = d.wear_used_pct;
            s.bytes_written = d.bytes_written;
            s.findings = d.findings.iter().map(|f| f.description()).collect();
        }
        (Some(Reading::Standby { .. }), _) => s.state = "standby",
        (Some(Reading::Failed { reason, .. }), _) => {
            s.state = "failed";
            s.reason = Some(reason.clone());
        }
        (None, SectionState::Error | SectionState::Stale) => s.state = "failed",
        (None, _) => {}
    }
    s
}

/// What uses a disk: a ZFS pool (its leaves name the disk, a partition of it or its serial), LVM,
/// or a mounted filesystem on it.
fn used_by(inv: &Inventory, disk: &BlockDevice, all: &[BlockDevice]) -> Option<String> {
    let serial = disk.serial.as_deref().filter(|s| !s.is_empty());
    for pool in inv.pools.data.iter().flatten() {
        let mut leaves: Vec<&str> =
            pool.root.iter().flat_map(|r| r.leaves()).map(|v| v.name.as_str()).collect();
        for section in &pool.sections {
            leaves.extend(section.vdevs.iter().flat_map(|v| v.leaves()).map(|v| v.name.as_str()));
        }
        let named = |leaf: &str| {
            let leaf = leaf.trim_start_matches("/dev/");
            leaf == disk.kname
                || leaf
                    .strip_prefix(disk.kname.as_str())
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit() || c == 'p'))
                || serial.is_some_and(|s| leaf.contains(s))
        };
        if leaves.iter().any(|l| named(l)) {
            return Some(format!("ZFS {}", pool.name));
        }
    }
    let parts = crate::tools::storage::children_of(all, &disk.kname);
    if parts.iter().chain(std::iter::once(&disk)).any(|d| d.fstype.as_deref() == Some("LVM2_member")) {
        return Some("LVM".into());
    }
    parts
        .iter()
        .chain(std::iter::once(&disk))
        .find_map(|d| d.mountpoint.clone())
        .map(|m| format!("mounted at {m}"))
}

fn disk_views<'a>(
    inv: &'a Inventory,
    devs: &'a [BlockDevice],
    health: &crate::health::HealthSnapshot,
) -> Vec<DiskView<'a>> {
    let members = crate::disks::memberships(inv);
    crate::tools::storage::physical_disks(devs)
        .into_iter()
        .map(|d| {
            let smart = smart_for(inv, &d.kname);
            let smart = smart_summary(
                smart.and_then(|(_, s)| s),
                smart.is_some() || inv.smart_devices.data.is_none(),
            );
            let pools: Vec<&crate::disks::Membership> =
                members.iter().filter(|(k, _)| *k == d.kname).map(|(_, m)| m).collect();
            let verdict = crate::disks::verdict(
                smart.state,
                smart.passed,
                &pools,
                crate::disks::findings_for(health, &d.kname),
            );
            let path = d.path.clone().unwrap_or_else(|| format!("/dev/{}", d.kname));
            let smart_path = smart_for(inv, &d.kname).map(|(dev, _)| dev.name.clone());
            DiskView {
                id: &d.kname,
                model: d.model.as_deref(),
                serial: d.serial.as_deref(),
                size: d.size,
                kind: d.disk_kind.as_ref(),
                transport: d.transport.as_deref(),
                used_by: match pools.first() {
                    Some(m) => Some(format!("ZFS {}", m.pool)),
                    None => used_by(inv, d, devs),
                },
                state: verdict.state,
                reason: verdict.reason,
                findings: verdict.findings,
                pools: pools.into_iter().cloned().collect(),
                by_id: inv
                    .dev_links
                    .iter()
                    .filter(|(k, t)| k.starts_with("by-id/") && **t == d.kname)
                    .map(|(k, _)| format!("/dev/disk/{k}"))
                    .collect(),
                forecast: smart_path.and_then(|p| inv.forecasts.get(&p)).or_else(|| inv.forecasts.get(&path)),
                path,
                smart,
            }
        })
        .collect()
}

async fn storage(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let statuses = inv.pools.data.clone().unwrap_or_default();
    let pools = inv.pool_list.map(|list: &Vec<PoolSummary>| {
        list.iter()
            .map(|p| PoolView {
                name: &p.name,
                size: p.size,
                alloc: p.alloc,
                free: p.free,
                frag_percent: p.frag_percent,
                cap_percent: p.cap_percent,
                dedup_ratio: p.dedup_ratio,
                health: Some(&p.health),
                status: statuses.iter().find(|s| s.name == p.name),
                members: member_disks(&inv, &p.name),
            })
            .collect::<Vec<_>>()
    });
    let lvm = inv.lvs.map(|lvs| {
        let thin: Vec<_> = lvs
            .iter()
            .filter(|l| l.kind == LvKind::ThinPool)
            .map(|l| {
                serde_json::json!({"name": l.name, "vg": l.vg, "size": l.size,
                    "data_percent": l.data_percent, "metadata_percent": l.metadata_percent})
            })
            .collect();
        let vgs: Vec<_> = inv
            .vgs
            .data
            .iter()
            .flatten()
            .map(|v| serde_json::json!({"name": v.name, "size": v.size, "free": v.free}))
            .collect();
        serde_json::json!({"thin_pools": thin, "vgs": vgs})
    });
    let health = app.health.borrow().clone();
    let disks = inv.blockdevs.map(|devs| disk_views(&inv, devs, &health));
    let storages = inv.storage.map(|s| s.clone());
    json(&serde_json::json!({
        "storages": storages,
        "pools": serde_json::to_value(&pools).map_err(ApiError::internal)?,
        "lvm": lvm,
        "disks": serde_json::to_value(&disks).map_err(ApiError::internal)?,
    }))
}

async fn disk(State(app): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let devs = inv.blockdevs.data.clone().unwrap_or_default();
    let health = app.health.borrow().clone();
    let views = disk_views(&inv, &devs, &health);
    let view = views
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no disk {id:?}")))?;
    let reading = smart_for(&inv, &id).and_then(|(_, s)| s).and_then(|s| s.data.as_ref());
    // Guests' writes are host-wide: proxwatch does not map guest volumes to physical disks yet.
    json(&serde_json::json!({"disk": view, "smart": reading, "guest_writes": inv.guest_writes}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfTestReq {
    kind: String,
}

async fn selftest(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SelfTestReq>,
) -> Result<Response, ApiError> {
    let kind = match req.kind.as_str() {
        "short" => SelfTestKind::Short,
        "long" => SelfTestKind::Long,
        k => return Err(ApiError::bad_request(format!("kind must be short or long (got {k:?})"))),
    };
    let dev = {
        let inv = app.inventory.borrow();
        smart_for(&inv, &id)
            .map(|(d, _)| d.clone())
            .ok_or_else(|| ApiError::not_found(format!("no SMART disk {id:?}")))?
    };
    tracing::info!(user = %p.user, disk = %dev.name, ?kind, "SMART self-test");
    let argv = crate::tools::smartctl::selftest_argv(&dev, kind);
    let out = app.actions.run(Action { argv }).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    match out {
        // Bits 0–2 mean the test was not started; higher bits restate the disk's health.
        Ok(o) if o.code & 0b111 == 0 => {
            let mut resp = json(&serde_json::json!({"started": true, "disk": dev.name}))?;
            *resp.status_mut() = StatusCode::ACCEPTED;
            Ok(resp)
        }
        Ok(o) => Err(super::tool_error(
            StatusCode::BAD_GATEWAY,
            "tool_failed",
            "smartctl did not start the self-test",
            o.stdout.lines().last().unwrap_or(""),
            p.level,
        )),
        Err(e) => Err(super::tool_error(
            StatusCode::BAD_GATEWAY,
            "tool_failed",
            "smartctl could not run",
            &e.to_string(),
            p.level,
        )),
    }
}

// ---------------------------------------------------------------------------------------------------
// Guest RRD history and task logs: read on demand through the action runner (PVE keeps them; the
// inventory snapshot does not), the RRD answers cached for a minute (api::rrd_cache).
// ---------------------------------------------------------------------------------------------------

/// One RRD row as served: `cpu` is a fraction of the guest's CPUs, `mem`/`maxmem` bytes, the rest
/// bytes per second; all `null` for steps when the guest was not running.
#[derive(Serialize)]
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

/// Why a read-only `pvesh` gave nothing.
enum ReadError {
    /// pvesh ran and said no (exit code, stderr): often "no such object".
    Refused {
        code: i32,
        stderr: String,
    },
    Other(ApiError),
}

/// Runs a read-only `pvesh` in the action runner's read lane (beside, not behind, guest actions)
/// and returns its stdout.
async fn run_read_raw(
    app: &ApiState,
    argv: Vec<String>,
    caller: crate::auth::Level,
) -> Result<String, ReadError> {
    let out = app
        .actions
        .read(Action { argv })
        .await
        .map_err(|e| ReadError::Other(ApiError::unavailable(e.to_string())))?;
    match out {
        Ok(o) if o.code == 0 => Ok(o.stdout),
        Ok(o) => Err(ReadError::Refused { code: o.code, stderr: o.stderr }),
        Err(crate::host::ToolError::Missing { .. }) => {
            Err(ReadError::Other(ApiError::unavailable("pvesh is not available on this host")))
        }
        Err(e) => Err(ReadError::Other(super::tool_error(
            StatusCode::BAD_GATEWAY,
            "tool_failed",
            "pvesh failed",
            &e.to_string(),
            caller,
        ))),
    }
}

async fn run_read(app: &ApiState, argv: Vec<String>, caller: crate::auth::Level) -> Result<String, ApiError> {
    run_read_raw(app, argv, caller).await.map_err(|e| match e {
        ReadError::Refused { code, stderr } => super::tool_error(
            StatusCode::BAD_GATEWAY,
            "tool_failed",
            &format!("pvesh exited with code {code}"),
            &stderr,
            caller,
        ),
        ReadError::Other(e) => e,
    })
}

async fn vm_rrd(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(vmid): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    use super::rrd_cache::{RrdCache, TIMEFRAMES};
    let vmid = parse_vmid(&vmid)?;
    let pairs = super::query_pairs(raw.as_deref())?;
    let asked = pairs.iter().rev().find(|(k, _)| k == "timeframe").map_or("hour", |(_, v)| v.as_str());
    let timeframe = RrdCache::timeframe(asked).ok_or_else(|| {
        ApiError::bad_request(format!("timeframe must be one of: {} (got {asked:?})", TIMEFRAMES.join(", ")))
    })?;
    let (kind, node) = {
        let inv = app.inventory.borrow();
        let g = guests(&inv)
            .find(|g| g.vmid == vmid)
            .ok_or_else(|| ApiError::not_found(format!("no guest {vmid}")))?;
        (g.kind, if g.node.is_empty() { inv.node.clone() } else { g.node.clone() })
    };
    let body = app
        .rrd_cache
        .get_or_fill(vmid, timeframe, || async {
            let path = format!("/nodes/{node}/{}/{vmid}/rrddata", kind.as_str());
            let text = run_read(&app, crate::tools::pvesh::rrd_argv(&path, timeframe), p.level).await?;
            let rows = crate::tools::pvesh::parse_rrddata(&text).map_err(|e| {
                super::tool_error(
                    StatusCode::BAD_GATEWAY,
                    "tool_failed",
                    "unreadable RRD data",
                    &e.to_string(),
                    p.level,
                )
            })?;
            let times: Vec<u64> = rows.iter().map(|r| r.time).collect();
            let (step, last, stale) = rrd_freshness(&times, wall_ms().max(0) as u64 / 1000);
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

async fn task_log(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(upid): Path<String>,
) -> Result<Response, ApiError> {
    let parsed = crate::tools::pvesh::parse_upid(&upid).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let node = app.inventory.borrow().node.clone();
    if parsed.node != node {
        return Err(ApiError::not_found(format!(
            "task {upid} ran on node {:?}, not on {node:?}",
            parsed.node
        )));
    }
    let upid = upid.trim();
    let not_found = || ApiError::not_found(format!("no task {upid} on this node"));
    // pvesh answers a task it has no log for with an error: that is a 404, not a gateway failure.
    let text = match run_read_raw(&app, crate::tools::pvesh::task_log_argv(&node, upid), p.level).await {
        Ok(t) => t,
        Err(ReadError::Refused { stderr, .. }) => {
            tracing::debug!(upid, stderr = stderr.trim(), "task log refused");
            return Err(not_found());
        }
        // A replayed host has recordings only for the tasks it knows.
        Err(ReadError::Other(_)) if app.host.is_replay() => return Err(not_found()),
        Err(ReadError::Other(e)) => return Err(e),
    };
    let lines = crate::tools::pvesh::parse_task_log(&text).map_err(|e| {
        super::tool_error(
            StatusCode::BAD_GATEWAY,
            "tool_failed",
            "unreadable task log",
            &e.to_string(),
            p.level,
        )
    })?;
    json(&serde_json::json!({"upid": upid, "lines": lines}))
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
