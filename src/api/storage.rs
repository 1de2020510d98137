//! `/api/storage`: pools, storages, LVM and the physical disks with their SMART summary, pool
//! membership and verdict (from the inventory snapshot); one disk in full; a SMART self-test handed
//! to the action runner through `workers::pve`.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::{JsonBody, OPERATE, READ, Routes, json};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::model::inventory::Inventory;
use crate::model::pve::NodeStorage;
use crate::model::section::{Section, SectionState};
use crate::model::smart::{Reading, SelfTestKind};
use crate::model::storage::{BlockDevice, LvKind};
use crate::model::wear::GuestWrites;
use crate::model::zfs::{PoolStatus, PoolSummary};
use crate::workers::pve;

pub fn routes() -> Routes {
    Routes::new().get("/storage", READ, storage).get("/storage/disks/{id}", READ, disk).post(
        "/storage/disks/{id}/selftest",
        OPERATE,
        selftest,
    )
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct PoolView<'a> {
    name: &'a str,
    size: Option<u64>,
    alloc: Option<u64>,
    free: Option<u64>,
    frag_percent: Option<u32>,
    cap_percent: Option<u32>,
    dedup_ratio: Option<f64>,
    health: Option<&'a crate::model::zfs::VdevState>,
    status: Option<&'a PoolStatus>,
    /// The disk each member lives on, by member name: what identifies it in a bay.
    members: BTreeMap<String, MemberDisk>,
}

/// The disk behind a pool member.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct SmartSummary {
    #[cfg_attr(test, schemars(extend("enum" = ["pending", "unavailable", "standby", "ok", "failed"])))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct DiskView<'a> {
    id: &'a str,
    path: String,
    model: Option<&'a str>,
    serial: Option<&'a str>,
    size: Option<u64>,
    kind: Option<&'a crate::model::storage::DiskKind>,
    transport: Option<&'a str>,
    used_by: Option<String>,
    /// The disk's verdict from everything known about it (`crate::disks::verdict`), not SMART's
    /// overall-health bit alone.
    #[cfg_attr(
        test,
        schemars(extend("enum" = ["ok", "info", "unknown", "warning", "critical", "standby", "pending"]))
    )]
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
    forecast: Option<&'a crate::model::wear::Forecast>,
}

/// The SMART reading for a block device: `/dev/sda` for `sda`, `/dev/nvme0` for `nvme0n1`.
fn smart_summary(section: Option<&Section<Reading>>, scanned: bool) -> SmartSummary {
    let (state, passed) = crate::disks::smart_state(section, scanned);
    let mut s = SmartSummary {
        state,
        reason: if scanned { None } else { Some("smartctl does not list this device".into()) },
        passed,
        temperature_c: None,
        power_on_hours: None,
        wear_used_pct: None,
        bytes_written: None,
        findings: Vec::new(),
    };
    let Some(section) = section else { return s };
    s.reason = section.reason.clone();
    match (&section.data, section.state) {
        (_, SectionState::Unavailable) => {}
        (Some(Reading::Data(d)), _) => {
            s.temperature_c = d.temperature_c;
            s.power_on_hours = d.power_on_hours;
            s.wear_used_pct = d.wear_used_pct;
            s.bytes_written = d.bytes_written;
            s.findings = d.findings.iter().map(|f| f.description()).collect();
        }
        (Some(Reading::Failed { reason, .. }), _) => s.reason = Some(reason.clone()),
        _ => {}
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
    let parts = crate::model::storage::children_of(all, &disk.kname);
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
    crate::disks::verdicts(inv, devs, health)
        .into_iter()
        .map(|j| {
            let (d, pools, verdict) = (j.disk, j.pools, j.verdict);
            let smart = smart_summary(j.smart, j.scanned);
            let path = d.path.clone().unwrap_or_else(|| format!("/dev/{}", d.kname));
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
                pools,
                by_id: inv
                    .dev_links
                    .iter()
                    .filter(|(k, t)| k.starts_with("by-id/") && **t == d.kname)
                    .map(|(k, _)| format!("/dev/disk/{k}"))
                    .collect(),
                forecast: crate::disks::forecast_of(inv, d),
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
    let lvm = inv.lvs.map(|lvs| LvmView {
        thin_pools: lvs
            .iter()
            .filter(|l| l.kind == LvKind::ThinPool)
            .map(|l| ThinPoolView {
                name: &l.name,
                vg: &l.vg,
                size: l.size,
                data_percent: l.data_percent,
                metadata_percent: l.metadata_percent,
            })
            .collect(),
        vgs: inv
            .vgs
            .data
            .iter()
            .flatten()
            .map(|v| VgView { name: &v.name, size: v.size, free: v.free })
            .collect(),
    });
    let health = app.health.borrow().clone();
    let disks = inv.blockdevs.map(|devs| disk_views(&inv, devs, &health));
    json(&StorageAll { storages: inv.storage.map(|s| s.as_slice()), pools, lvm, disks })
}

/// `GET /api/storage`.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct StorageAll<'a> {
    storages: Section<&'a [NodeStorage]>,
    pools: Section<Vec<PoolView<'a>>>,
    lvm: Section<LvmView<'a>>,
    disks: Section<Vec<DiskView<'a>>>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct LvmView<'a> {
    thin_pools: Vec<ThinPoolView<'a>>,
    vgs: Vec<VgView<'a>>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct ThinPoolView<'a> {
    name: &'a str,
    vg: &'a str,
    size: Option<u64>,
    data_percent: Option<f64>,
    metadata_percent: Option<f64>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "VolumeGroupView"))]
struct VgView<'a> {
    name: &'a str,
    size: Option<u64>,
    free: Option<u64>,
}

/// `GET /api/storage/disks/{id}`: the disk and its whole SMART reading.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct DiskDetail<'a> {
    disk: DiskView<'a>,
    smart: Option<&'a Reading>,
    /// Guests' writes are host-wide: proxwatch does not map guest volumes to physical disks yet.
    guest_writes: &'a [GuestWrites],
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
    let reading = crate::disks::smart_of(&inv, &id).and_then(|(_, s)| s).and_then(|s| s.data.as_ref());
    json(&DiskDetail { disk: view, smart: reading, guest_writes: &inv.guest_writes })
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct SelfTestReq {
    /// `short` (a couple of minutes) or `long` (hours).
    #[cfg_attr(test, schemars(extend("enum" = ["short", "long"])))]
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
        crate::disks::smart_of(&inv, &id)
            .map(|(d, _)| d.clone())
            .ok_or_else(|| ApiError::not_found(format!("no SMART disk {id:?}")))?
    };
    tracing::info!(user = %p.user, disk = %dev.name, ?kind, "SMART self-test");
    match pve::selftest(&app.actions, &dev, kind).await {
        Ok(()) => {
            let mut resp = json(&serde_json::json!({"started": true, "disk": dev.name}))?;
            *resp.status_mut() = StatusCode::ACCEPTED;
            Ok(resp)
        }
        Err(e) => Err(super::op_error(e, |_| "smartctl did not start the self-test".into(), p.level)),
    }
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<PoolView<'static>>();
    v.visit::<DiskView<'static>>();
    v.visit::<StorageAll<'static>>();
    v.visit::<DiskDetail<'static>>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/storage", "Storages, ZFS pools, LVM and the physical disks with their verdict")
        .about(
            "Four inventory sections (each `{state, reason, updated, data}`, `data` `null` until read): \
             Proxmox's storages, the ZFS pools with their `zpool status` and member disks, LVM thin pools \
             and volume groups, and the physical disks with their SMART summary, pool memberships, \
             health findings and verdict.",
        )
        .ok(out::<StorageAll<'static>>());
    d.get("/storage/disks/{id}", "One physical disk with its whole SMART reading")
        .path_param("id", string(), "The disk's kernel name (`sda`, `nvme0n1`), as `/api/storage` lists it.")
        .about("`smart` is `null` when smartctl has not read the disk (or does not list it).")
        .ok(out::<DiskDetail<'static>>());
    d.post("/storage/disks/{id}/selftest", "Start a SMART self-test on a disk")
        .path_param(
            "id",
            string(),
            "The disk's kernel name (`sda`, `nvme0n1`); it must be one smartctl lists.",
        )
        .about(
            "Starts `smartctl -t short|long` and answers 202 once the disk has accepted it; `disk` is \
             the device smartctl was run on (`/dev/nvme0` for `nvme0n1`). The result shows in the disk's \
             SMART reading later. A disk smartctl does not list is a 404; a refusal is a 502, a busy \
             action runner a 503.",
        )
        .body(input::<SelfTestReq>())
        .status(202)
        .ok(obj(&[("started", boolean()), ("disk", string())]));
}
