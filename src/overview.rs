//! The Overview's summary (issue 17): what is wrong (the worst active findings, one line per object),
//! what runs and what is at risk (guests, storage, disks, backups, UPS, GPU, the gateway), and what
//! changed lately, in one answer built from the snapshots the workers and the health cycle publish.
//!
//! Pure: `GET /api/overview` hands [`build`] the snapshots, the newest health events and the clock.
//! Every card says `unavailable` with the reason when its source is missing, never a blank or a 0.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::health::HealthSnapshot;
use crate::health::model::{Category, Finding, ObjectKind, Severity, Thresholds};
use crate::health::store::{Event, EventKind, State as FState};
use crate::model::gpu::GpuSnapshot;
use crate::model::inventory::Inventory;
use crate::model::network::{GatewayState, NetworkSnapshot};
use crate::model::nut::Flag;
use crate::model::pve::{Guest, Task, TaskOutcome};
use crate::model::section::SectionState;
use crate::model::ups::UpsSnapshot;

/// At most this many lines in the attention strip.
pub const ATTENTION_MAX: usize = 5;
/// At most this many lines under "What changed".
pub const CHANGES_MAX: usize = 8;
/// A wear-out forecast closer than this many days is shown on the disks card.
pub const WEAR_DAYS: f64 = 180.0;

/// What [`build`] reads.
pub struct Inputs<'a> {
    pub now_ms: i64,
    pub health: &'a HealthSnapshot,
    pub inventory: &'a Inventory,
    pub network: &'a NetworkSnapshot,
    pub ups: &'a UpsSnapshot,
    pub gpu: &'a GpuSnapshot,
    /// The newest health events, newest first.
    pub events: &'a [Event],
    pub thresholds: &'a Thresholds,
}

/// `GET /api/overview`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "OverviewSummary"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "OverviewSummary"))]
pub struct Overview {
    pub health: crate::health::Summary,
    /// The worst active problems, one line per object, critical first (at most five).
    pub attention: Vec<Attention>,
    /// Active problems neither shown in `attention` nor counted in a shown line's `also`.
    pub more: usize,
    pub guests: Card<GuestsCard>,
    pub storage: Card<StorageCard>,
    pub disks: Card<DisksCard>,
    pub backups: Card<BackupsCard>,
    pub ups: Card<UpsCard>,
    /// Absent where the host has no GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub gpu: Option<Card<GpuCard>>,
    pub gateway: Card<GatewayCard>,
    /// The newest changes (findings, guests started or stopped, backups), newest first.
    pub changes: Vec<Change>,
}

/// One summary card: its data, or why there is none.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "Card_for_{T}"))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Card<T> {
    #[cfg_attr(test, ts(type = "\"ok\" | \"unavailable\" | \"pending\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "unavailable", "pending"])))]
    pub state: &'static str,
    pub reason: Option<String>,
    pub data: Option<T>,
}

impl<T> Card<T> {
    fn ok(data: T) -> Card<T> {
        Card { state: "ok", reason: None, data: Some(data) }
    }
    fn unavailable(reason: impl Into<String>) -> Card<T> {
        Card { state: "unavailable", reason: Some(reason.into()), data: None }
    }
    fn pending(reason: impl Into<String>) -> Card<T> {
        Card { state: "pending", reason: Some(reason.into()), data: None }
    }
}

/// A place in the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "OverviewLink"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "OverviewLink"))]
pub struct Link {
    pub label: String,
    /// A dashboard path (`/vms/104`, `/storage/disks/sde`).
    pub href: String,
}

/// One line of the attention strip: the worst active finding about an object.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Attention {
    pub key: String,
    pub severity: Severity,
    pub category: Category,
    /// What it is about, in words ("VM 104 (ha-app)", "pool tank", "disk sdb"); absent for
    /// host-wide findings.
    pub object: Option<String>,
    pub reason: String,
    /// When it was first seen (unix ms).
    pub since: Option<i64>,
    /// The object's page first, then the disks the reason names.
    pub links: Vec<Link>,
    /// Other active problems about the same object.
    pub also: usize,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GuestsCard {
    /// Every guest `/api/vms` lists, templates included.
    pub total: usize,
    pub running: usize,
    /// Stopped guests, templates left out.
    pub stopped: usize,
    /// Paused, suspended or of unknown state.
    pub other: usize,
    pub templates: usize,
    /// Guests with an active problem (a critical, warning or unknown finding about them).
    pub with_problems: usize,
    /// Stopped although they should start with the host.
    pub onboot_stopped: usize,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StorageCard {
    /// PVE storages on this node; `null` when the list is unavailable.
    pub storages: Option<usize>,
    /// Enabled storages PVE does not report active.
    pub inactive: Vec<String>,
    /// ZFS pools; `null` without ZFS (see `pools_reason`).
    pub pools: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub pools_reason: Option<String>,
    /// Pools not ONLINE, with their state.
    pub unhealthy: Vec<PoolNote>,
    /// The fullest storage or pool.
    pub fullest: Option<Fullest>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PoolNote {
    pub name: String,
    pub health: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Fullest {
    pub name: String,
    #[cfg_attr(test, ts(type = "\"storage\" | \"pool\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["storage", "pool"])))]
    pub kind: &'static str,
    pub used_pct: f64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DisksCard {
    pub count: usize,
    /// Disks whose verdict is warning or critical, worst first.
    pub problems: Vec<DiskNote>,
    /// Disks with no verdict (no SMART reading and in no pool).
    pub unknown: usize,
    /// SSDs whose wear trend reaches 100 % within 180 days.
    pub wearing_out: Vec<WearNote>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiskNote {
    /// The kernel name (`sde`): `/storage/disks/<id>`.
    pub id: String,
    pub model: Option<String>,
    #[cfg_attr(test, ts(type = "\"warning\" | \"critical\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["warning", "critical"])))]
    pub state: &'static str,
    pub reason: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WearNote {
    pub id: String,
    /// Days until the projected wear-out (0 when it is already due).
    pub days: f64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct BackupsCard {
    /// The age past which a backup is old (the `backups.max_age_days` threshold).
    pub days: f64,
    /// Guests checked (templates left out).
    pub guests: usize,
    /// Guests without a good backup in the last `days` (older, failed or none at all).
    pub without_recent: usize,
    /// Of those, guests in no scheduled backup job.
    pub not_in_job: usize,
    /// Guests whose last backup failed (within the failed-backup window).
    pub failed: usize,
    /// The newest finished backup task.
    pub last: Option<LastBackup>,
    /// Backup tasks running now.
    pub running: usize,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LastBackup {
    /// Unix seconds it ended.
    pub time: u64,
    #[cfg_attr(test, ts(type = "\"ok\" | \"warnings\" | \"failed\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "warnings", "failed"])))]
    pub status: &'static str,
    /// "VM 102 (win11)" or "backup job (6 guests)".
    pub what: String,
    /// The error, for a failed run.
    pub error: Option<String>,
    pub upid: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpsCard {
    /// UPSes seen; the rest of the card is about the one that needs attention most.
    pub count: usize,
    pub id: String,
    pub name: String,
    /// NUT's `ups.status` (`OL`, `OB DISCHRG`, ...), or why there is no reading.
    pub status: String,
    pub on_battery: bool,
    pub low_battery: bool,
    pub charge_pct: Option<f64>,
    pub runtime_s: Option<f64>,
    pub load_pct: Option<f64>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GpuCard {
    pub count: usize,
    pub name: String,
    pub util_pct: Option<f64>,
    pub temp_c: Option<f64>,
    pub mem_used_bytes: Option<u64>,
    pub mem_total_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GatewayCard {
    /// What is probed (the gateway, or `network.probe_target`).
    pub target: Option<String>,
    #[cfg_attr(test, ts(type = "\"pending\" | \"ok\" | \"loss\" | \"unreachable\" | \"error\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["pending", "ok", "loss", "unreachable", "error"])))]
    pub state: &'static str,
    pub latency_ms: Option<f64>,
    /// Loss over the recent probes.
    pub loss_pct: Option<f64>,
    pub error: Option<String>,
}

/// One line of "What changed".
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "OverviewChange"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "OverviewChange"))]
pub struct Change {
    /// Unix ms.
    pub ts: i64,
    #[cfg_attr(
        test,
        ts(
            type = "\"finding_new\" | \"finding_escalated\" | \"finding_deescalated\" | \"finding_resolved\" | \"guest_started\" | \"guest_stopped\" | \"guest_failed\" | \"backup\""
        )
    )]
    #[cfg_attr(
        test,
        schemars(extend("enum" = ["finding_new", "finding_escalated", "finding_deescalated", "finding_resolved", "guest_started", "guest_stopped", "guest_failed", "backup"]))
    )]
    pub kind: &'static str,
    pub severity: Severity,
    pub text: String,
    pub href: Option<String>,
}

/// Builds the Overview from the snapshots.
pub fn build(i: &Inputs) -> Overview {
    let (attention, more) = attention(i);
    Overview {
        health: i.health.summary(),
        attention,
        more,
        guests: guests_card(i),
        storage: storage_card(i.inventory),
        disks: disks_card(i),
        backups: backups_card(i),
        ups: ups_card(i.ups),
        gpu: gpu_card(i.gpu),
        gateway: gateway_card(i.network),
        changes: changes(i),
    }
}

/// The physical disk (kernel name) a device path names: `/dev/sde`, `/dev/sde1` or an NVMe
/// controller `/dev/nvme0` for `nvme0n1`.
fn disk_of(inv: &Inventory, dev: &str) -> Option<String> {
    let devs = inv.blockdevs.data.as_deref()?;
    let disks = crate::model::storage::physical_disks(devs);
    let placed = crate::model::storage::resolve(dev, devs, &inv.dev_links, &BTreeMap::new()).map(|p| p.disk);
    if let Some(k) = placed.filter(|k| disks.iter().any(|d| &d.kname == k)) {
        return Some(k);
    }
    // smartctl's NVMe controller (`nvme0`) for lsblk's namespace (`nvme0n1`).
    let name = dev.trim_start_matches("/dev/");
    disks
        .iter()
        .find(|d| name.starts_with("nvme") && d.kname.strip_prefix(name).is_some_and(|r| r.starts_with('n')))
        .map(|d| d.kname.clone())
}

/// The `/dev/<name>` paths a text names, in order, without repeats.
fn devices_named(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("/dev/") {
        let tail = &rest[i..];
        let end = tail[5..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(tail.len(), |e| e + 5);
        let dev = &tail[..end];
        if dev.len() > 5 && !out.contains(&dev) {
            out.push(dev);
        }
        rest = &tail[end..];
    }
    out
}

/// The object of a finding in words, and its page.
fn object_of(inv: &Inventory, kind: ObjectKind, id: &str) -> (String, Option<Link>) {
    match kind {
        ObjectKind::Guest => {
            let g = id.parse::<u64>().ok().and_then(|v| inv.guest(v));
            let label = g.map_or_else(|| format!("guest {id}"), Guest::label);
            (label.clone(), Some(Link { label, href: format!("/vms/{id}") }))
        }
        ObjectKind::Disk => {
            let label = format!("disk {}", id.trim_start_matches("/dev/"));
            let link = disk_of(inv, id)
                .map(|k| Link { label: format!("/dev/{k}"), href: format!("/storage/disks/{k}") });
            (label, link)
        }
        ObjectKind::Storage => {
            let is_pool = inv.pool_list.data.iter().flatten().any(|p| p.name == id);
            let label = if is_pool { format!("pool {id}") } else { format!("storage {id}") };
            (label.clone(), Some(Link { label, href: "/storage".into() }))
        }
        ObjectKind::Interface => {
            let label = format!("interface {id}");
            (label.clone(), Some(Link { label, href: "/network".into() }))
        }
    }
}

/// Active problems (critical, warning, unknown) about each guest, by vmid: how many and the worst.
pub fn guest_problems(health: &HealthSnapshot) -> BTreeMap<u64, (usize, Severity)> {
    let mut out: BTreeMap<u64, (usize, Severity)> = BTreeMap::new();
    for f in active_problems(health) {
        if let Some((ObjectKind::Guest, id)) = &f.object
            && let Ok(vmid) = id.parse::<u64>()
        {
            let e = out.entry(vmid).or_insert((0, Severity::Ok));
            e.0 += 1;
            e.1 = e.1.max(f.severity);
        }
    }
    out
}

/// The active critical, warning and unknown findings: the last evaluation's, or before the first
/// full cycle since a restart, the ones the database kept (as `HealthSnapshot::summary` counts them).
fn active_problems(health: &HealthSnapshot) -> Vec<Cow<'_, Finding>> {
    let problem = |s: Severity| s >= Severity::Unknown;
    if health.full_at.is_some() || health.records.is_empty() {
        return health
            .results
            .values()
            .flatten()
            .filter(|f| {
                problem(f.severity) && health.records.get(&f.key).is_none_or(|r| r.state == FState::Active)
            })
            .map(Cow::Borrowed)
            .collect();
    }
    health
        .records
        .values()
        .filter(|r| r.state == FState::Active && problem(r.severity))
        .map(|r| {
            let mut f = Finding::new(r.category, r.key.clone(), r.severity, r.reason.clone());
            f.details = r.details.clone();
            f.object = r.object.as_ref().and_then(|(k, id)| Some((ObjectKind::parse(k)?, id.clone())));
            Cow::Owned(f)
        })
        .collect()
}

/// Which of two equally severe problems comes first in the strip: data at risk (disks, storage),
/// then the guests, then what keeps them reachable and running, then the rest.
fn impact(c: Category) -> u8 {
    match c {
        Category::Disks => 0,
        Category::Storage => 1,
        Category::Guests => 2,
        Category::Services => 3,
        Category::Network => 4,
        Category::Memory => 5,
        Category::Cpu => 6,
        Category::Logs => 7,
        Category::Security => 8,
        Category::Updates => 9,
    }
}

fn attention(i: &Inputs) -> (Vec<Attention>, usize) {
    let h = i.health;
    let check_order: BTreeMap<&str, usize> = h.checks.iter().enumerate().map(|(n, c)| (c.id, n)).collect();
    let rank = |f: &Finding| {
        (
            std::cmp::Reverse(f.severity),
            impact(f.category),
            check_order.get(f.check.as_str()).copied().unwrap_or(usize::MAX),
        )
    };
    let found = active_problems(h);
    let mut problems: Vec<&Finding> = found.iter().map(|f| f.as_ref()).collect();
    problems.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.key.cmp(&b.key)));
    // One line per object: its worst finding; the others about it are counted in `also`.
    type Group<'f> = (Option<(ObjectKind, &'f str)>, Vec<&'f Finding>);
    let mut groups: Vec<Group> = Vec::new();
    for f in problems.iter().copied() {
        let obj = f.object.as_ref().map(|(k, id)| (*k, id.as_str()));
        match groups.iter_mut().find(|(o, _)| obj.is_some() && *o == obj) {
            Some((_, fs)) => fs.push(f),
            None => groups.push((obj, vec![f])),
        }
    }
    let total = problems.len();
    let mut shown = 0;
    let mut out = Vec::new();
    for (obj, fs) in groups.into_iter().take(ATTENTION_MAX) {
        let f = fs[0];
        shown += fs.len();
        let (object, mut links) = match obj {
            Some((k, id)) => {
                let (label, link) = object_of(i.inventory, k, id);
                (Some(label), link.into_iter().collect::<Vec<_>>())
            }
            None => (None, Vec::new()),
        };
        // A down service monitor: its own page first (its guest's page, if any, after it).
        if let Some(id) = f.key.strip_prefix("monitor_down:") {
            links.insert(0, Link { label: "service".into(), href: format!("/services/{id}") });
        }
        for dev in devices_named(&f.reason) {
            if let Some(k) = disk_of(i.inventory, dev) {
                let href = format!("/storage/disks/{k}");
                if !links.iter().any(|l| l.href == href) {
                    links.push(Link { label: format!("/dev/{k}"), href });
                }
            }
        }
        if links.is_empty() {
            links.push(Link { label: f.category.name().to_string(), href: "/health".into() });
        }
        out.push(Attention {
            key: f.key.clone(),
            severity: f.severity,
            category: f.category,
            object,
            reason: f.reason.clone(),
            since: h.records.get(&f.key).map(|r| r.first_seen),
            links,
            also: fs.len() - 1,
        });
    }
    (out, total - shown)
}

fn guests_card(i: &Inputs) -> Card<GuestsCard> {
    let inv = i.inventory;
    let Some(_) = inv.resources.data.as_ref() else {
        return section_missing(inv.resources.state, inv.resources.reason.as_deref(), "the guest list");
    };
    let problems = guest_problems(i.health);
    let mut c = GuestsCard {
        total: 0,
        running: 0,
        stopped: 0,
        other: 0,
        templates: 0,
        with_problems: 0,
        onboot_stopped: 0,
    };
    for g in inv.guests() {
        c.total += 1;
        if problems.contains_key(&g.vmid) {
            c.with_problems += 1;
        }
        if g.template {
            c.templates += 1;
        } else if g.status == "running" {
            c.running += 1;
        } else if g.status == "stopped" {
            c.stopped += 1;
            if inv.configs.get(&g.vmid).is_some_and(|cfg| cfg.onboot) {
                c.onboot_stopped += 1;
            }
        } else {
            c.other += 1;
        }
    }
    Card::ok(c)
}

/// A card for a section that has no data: pending while it has never been read, else unavailable.
fn section_missing<T>(state: SectionState, reason: Option<&str>, what: &str) -> Card<T> {
    match (state, reason) {
        (SectionState::Pending, _) => Card::pending(format!("{what} has not been read yet")),
        (_, Some(r)) => Card::unavailable(r),
        (_, None) => Card::unavailable(format!("{what} could not be read")),
    }
}

fn storage_card(inv: &Inventory) -> Card<StorageCard> {
    let storages = inv.storage.data.as_deref();
    let pools = inv.pool_list.data.as_deref();
    if storages.is_none() && pools.is_none() {
        return section_missing(inv.storage.state, inv.storage.reason.as_deref(), "the storage list");
    }
    let mut fullest: Option<Fullest> = None;
    let mut consider = |name: &str, kind: &'static str, pct: f64| {
        if pct.is_finite() && fullest.as_ref().is_none_or(|f| pct > f.used_pct) {
            fullest = Some(Fullest { name: name.to_string(), kind, used_pct: pct });
        }
    };
    for s in storages.unwrap_or_default() {
        if let (true, Some(total), Some(used)) = (s.active, s.total, s.used)
            && total > 0
        {
            consider(&s.storage, "storage", used as f64 * 100.0 / total as f64);
        }
    }
    for p in pools.unwrap_or_default() {
        if let Some(cap) = p.cap_percent {
            consider(&p.name, "pool", f64::from(cap));
        }
    }
    Card::ok(StorageCard {
        storages: storages.map(<[_]>::len),
        inactive: storages
            .unwrap_or_default()
            .iter()
            .filter(|s| s.enabled && !s.active)
            .map(|s| s.storage.clone())
            .collect(),
        pools: pools.map(<[_]>::len),
        pools_reason: if pools.is_none() { inv.pool_list.reason.clone() } else { None },
        unhealthy: pools
            .unwrap_or_default()
            .iter()
            .filter(|p| p.health.as_str() != "ONLINE")
            .map(|p| PoolNote { name: p.name.clone(), health: p.health.to_string() })
            .collect(),
        fullest,
    })
}

fn disks_card(i: &Inputs) -> Card<DisksCard> {
    let inv = i.inventory;
    let Some(devs) = inv.blockdevs.data.as_deref() else {
        return section_missing(inv.blockdevs.state, inv.blockdevs.reason.as_deref(), "the disk list");
    };
    let verdicts = crate::disks::verdicts(inv, devs, i.health);
    let mut problems: Vec<DiskNote> = Vec::new();
    let mut unknown = 0;
    let mut wearing_out = Vec::new();
    for j in &verdicts {
        let (d, v) = (j.disk, &j.verdict);
        match v.state {
            "warning" | "critical" => problems.push(DiskNote {
                id: d.kname.clone(),
                model: d.model.clone(),
                state: if v.state == "critical" { "critical" } else { "warning" },
                reason: without_disk_prefix(&v.reason, &d.kname).to_string(),
            }),
            "unknown" => unknown += 1,
            _ => {}
        }
        if let Some(out) = crate::disks::forecast_of(inv, d).and_then(|f| f.projected_wear_out) {
            let days = ((out * 1000 - i.now_ms) as f64 / 86_400_000.0).max(0.0);
            if days < WEAR_DAYS {
                wearing_out.push(WearNote { id: d.kname.clone(), days: (days * 10.0).round() / 10.0 });
            }
        }
    }
    problems.sort_by(|a, b| b.state.cmp(a.state).then_with(|| a.id.cmp(&b.id)));
    wearing_out.sort_by(|a, b| a.days.total_cmp(&b.days));
    Card::ok(DisksCard { count: verdicts.len(), problems, unknown, wearing_out })
}

/// A disk finding's reason without its leading "/dev/sdb (MODEL): ", which the card already says.
fn without_disk_prefix<'r>(reason: &'r str, kname: &str) -> &'r str {
    let Some(rest) = reason.strip_prefix("/dev/").and_then(|r| r.strip_prefix(kname)) else { return reason };
    let rest = match rest.strip_prefix(" (") {
        Some(r) => r.split_once("): ").map(|(_, after)| after),
        None => rest.strip_prefix(": "),
    };
    rest.filter(|r| !r.is_empty()).unwrap_or(reason)
}

fn backups_card(i: &Inputs) -> Card<BackupsCard> {
    let h = i.health;
    let inv = i.inventory;
    if h.full_at.is_none() {
        return Card::pending("waiting for the first health cycle");
    }
    let ages: &[Finding] = h.results.get("backup_age").map_or(&[], Vec::as_slice);
    if let Some(all) = ages.iter().find(|f| f.key == "backup_age:all") {
        return Card::unavailable(all.reason.clone());
    }
    let tasks: &[Task] = inv.tasks.data.as_deref().unwrap_or_default();
    let vzdumps = tasks.iter().filter(|t| t.kind == "vzdump");
    let last = vzdumps
        .clone()
        .filter(|t| !matches!(t.outcome(), TaskOutcome::Running))
        .max_by_key(|t| t.endtime.unwrap_or(t.starttime))
        .map(|t| {
            let (status, error) = match t.outcome() {
                TaskOutcome::Ok => ("ok", None),
                TaskOutcome::Warnings(_) => ("warnings", None),
                TaskOutcome::Failed(e) => ("failed", Some(e)),
                TaskOutcome::Running => ("ok", None),
            };
            LastBackup {
                time: t.endtime.unwrap_or(t.starttime),
                status,
                what: task_object(inv, t),
                error,
                upid: t.upid.clone(),
            }
        });
    let failed = h.results.get("backup_failed").map_or(0, |v| {
        v.iter().filter(|f| f.severity > Severity::Info && f.key != "backup_failed:job").count()
    });
    Card::ok(BackupsCard {
        days: i.thresholds.get("backups.max_age_days"),
        guests: ages.len(),
        without_recent: ages.iter().filter(|f| f.severity != Severity::Ok).count(),
        not_in_job: ages
            .iter()
            .filter(|f| f.details.get("covered_by_job").and_then(|v| v.as_bool()) == Some(false))
            .count(),
        failed,
        last,
        running: vzdumps.filter(|t| matches!(t.outcome(), TaskOutcome::Running)).count(),
    })
}

/// What a task was about: the guest it names, or the job run with its guest count.
fn task_object(inv: &Inventory, t: &Task) -> String {
    if let Ok(vmid) = t.id.parse::<u64>() {
        return inv.guest(vmid).map_or_else(|| format!("guest {vmid}"), Guest::label);
    }
    match inv.job_results.get(&t.upid) {
        Some(r) => format!("backup job ({} guest{})", r.len(), if r.len() == 1 { "" } else { "s" }),
        None => "backup job".into(),
    }
}

fn ups_card(ups: &UpsSnapshot) -> Card<UpsCard> {
    if ups.state == crate::model::ups::State::Pending {
        return Card::pending("NUT has not been asked yet");
    }
    if ups.state != crate::model::ups::State::Ok || ups.upses.is_empty() {
        return Card::unavailable(ups.reason.clone().unwrap_or_else(|| "no UPS found".into()));
    }
    // The one that needs attention most: on battery, then without a reading, then the first.
    let score = |u: &crate::model::ups::Ups| match &u.reading {
        Some(r) if r.status.has(Flag::OB) || r.status.has(Flag::LB) => 0,
        None => 1,
        _ if u.state != crate::model::ups::UpsState::Ok => 1,
        _ => 2,
    };
    let Some(u) = ups.upses.iter().min_by_key(|u| score(u)) else {
        return Card::unavailable("no UPS found");
    };
    let r = u.reading.as_ref();
    Card::ok(UpsCard {
        count: ups.upses.len(),
        id: u.id.clone(),
        name: u.name.clone(),
        status: match r {
            Some(r) => r.status.raw.clone(),
            None => u.reason.clone().unwrap_or_else(|| "no reading".into()),
        },
        on_battery: r.is_some_and(|r| r.status.has(Flag::OB)),
        low_battery: r.is_some_and(|r| r.status.has(Flag::LB)),
        charge_pct: r.and_then(|r| r.charge_pct),
        runtime_s: r.and_then(|r| r.runtime_s),
        load_pct: r.and_then(|r| r.load_pct),
    })
}

fn gpu_card(gpu: &GpuSnapshot) -> Option<Card<GpuCard>> {
    // The busiest GPU speaks for the card.
    let g = gpu.gpus.iter().max_by(|a, b| a.util_pct.unwrap_or(0.0).total_cmp(&b.util_pct.unwrap_or(0.0)))?;
    Some(Card::ok(GpuCard {
        count: gpu.gpus.len(),
        name: g.name.clone(),
        util_pct: g.util_pct,
        temp_c: g.temp_c,
        mem_used_bytes: g.mem_used_bytes,
        mem_total_bytes: g.mem_total_bytes,
    }))
}

fn gateway_card(net: &NetworkSnapshot) -> Card<GatewayCard> {
    let Some(g) = net.gateway.data.as_ref() else {
        return section_missing(net.gateway.state, net.gateway.reason.as_deref(), "the gateway");
    };
    let state = match g.state {
        GatewayState::Disabled => {
            return Card::unavailable("the gateway probe is off (network.probe_interval_s = 0)");
        }
        GatewayState::Pending => "pending",
        GatewayState::Ok => "ok",
        GatewayState::Loss => "loss",
        GatewayState::Unreachable => "unreachable",
        _ => "error",
    };
    if g.target.is_none() && g.address.is_none() {
        return Card::unavailable(g.error.clone().unwrap_or_else(|| "no default gateway".into()));
    }
    Card::ok(GatewayCard {
        target: g.target.clone().or_else(|| g.address.clone()),
        state,
        latency_ms: g.latency_ms,
        loss_pct: g.window_loss_pct.or(g.loss_pct),
        error: g.error.clone(),
    })
}

/// Guest power tasks: start, and the ways to stop.
fn power_kind(kind: &str) -> Option<bool> {
    match kind {
        "qmstart" | "vzstart" => Some(true),
        "qmstop" | "qmshutdown" | "vzstop" | "vzshutdown" => Some(false),
        _ => None,
    }
}

fn changes(i: &Inputs) -> Vec<Change> {
    let inv = i.inventory;
    let mut out: Vec<Change> = Vec::new();
    // One cycle's events of one kind come as a burst (every finding is new on a first start): more
    // than two are one line.
    let mut bursts: BTreeMap<(i64, &'static str), Vec<&Event>> = BTreeMap::new();
    for e in i.events {
        let kind = match e.kind {
            EventKind::New => "finding_new",
            EventKind::Escalated => "finding_escalated",
            EventKind::Deescalated => "finding_deescalated",
            EventKind::Resolved => "finding_resolved",
            _ => continue,
        };
        bursts.entry((e.ts, kind)).or_default().push(e);
    }
    for ((ts, kind), evs) in bursts {
        let href = Some("/health".to_string());
        if evs.len() <= 2 {
            for e in evs {
                let text = match (e.kind, e.duration_s) {
                    (EventKind::Resolved, Some(d)) => format!("resolved after {}: {}", span(d), e.reason),
                    (EventKind::Resolved, None) => format!("resolved: {}", e.reason),
                    _ => e.reason.clone(),
                };
                out.push(Change { ts, kind, severity: e.severity, text, href: href.clone() });
            }
            continue;
        }
        let n = evs.len();
        let text = match kind {
            "finding_new" => format!("{n} new findings"),
            "finding_resolved" => format!("{n} findings resolved"),
            "finding_escalated" => format!("{n} findings got worse"),
            _ => format!("{n} findings got better"),
        };
        let severity = evs.iter().map(|e| e.severity).max().unwrap_or(Severity::Info);
        out.push(Change { ts, kind, severity, text, href });
    }
    for t in inv.tasks.data.iter().flatten() {
        let Some(end) = t.endtime else { continue };
        let outcome = t.outcome();
        let (kind, severity, text, href) = if let Some(start) = power_kind(&t.kind) {
            let what = task_object(inv, t);
            let verb = if start { "start" } else { "stop" };
            match outcome {
                TaskOutcome::Failed(e) => (
                    "guest_failed",
                    Severity::Warning,
                    format!("{what} failed to {verb}: {e}"),
                    Some(format!("/vms/{}", t.id)),
                ),
                _ => (
                    if start { "guest_started" } else { "guest_stopped" },
                    Severity::Info,
                    format!("{what} {}", if start { "started" } else { "stopped" }),
                    Some(format!("/vms/{}", t.id)),
                ),
            }
        } else if t.kind == "vzdump" {
            let href = t.id.parse::<u64>().ok().map(|v| format!("/vms/{v}"));
            let what = match href {
                Some(_) => format!("Backup of {}", task_object(inv, t)),
                None => capitalised(&task_object(inv, t)),
            };
            match outcome {
                TaskOutcome::Failed(e) => ("backup", Severity::Warning, format!("{what} failed: {e}"), href),
                TaskOutcome::Warnings(n) => {
                    ("backup", Severity::Info, format!("{what} finished with {n} warnings"), href)
                }
                _ => ("backup", Severity::Ok, format!("{what} finished"), href),
            }
        } else {
            continue;
        };
        out.push(Change { ts: end as i64 * 1000, kind, severity, text, href });
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.ts));
    out.truncate(CHANGES_MAX);
    out
}

/// `3 h`, `2 d`, `45 min`, `20 s`: a duration in its largest unit.
fn span(secs: i64) -> String {
    match secs {
        s if s >= 2 * 86_400 => format!("{} d", s / 86_400),
        s if s >= 2 * 3600 => format!("{} h", s / 3600),
        s if s >= 120 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_named_in_a_reason() {
        let r = "pool tank is DEGRADED (1 of 4 devices: ata-ST16000NM001G_ZL2 (/dev/sde) FAULTED); /dev/sde again, /dev/nvme0n1p2.";
        assert_eq!(devices_named(r), vec!["/dev/sde", "/dev/nvme0n1p2"]);
        assert!(devices_named("no device here, just /dev/").is_empty());
    }

    #[test]
    fn a_disk_reason_loses_the_name_the_card_shows() {
        let r = "/dev/sdb (SAMSUNG MZ7LH1T9HMLT-00005): 90 % of rated endurance used";
        assert_eq!(without_disk_prefix(r, "sdb"), "90 % of rated endurance used");
        assert_eq!(without_disk_prefix("/dev/sde: 3 I/O errors", "sde"), "3 I/O errors");
        let member = "FAULTED as member ata-X of pool tank";
        assert_eq!(without_disk_prefix(member, "sde"), member);
        assert_eq!(without_disk_prefix("/dev/sdbb: x", "sdb"), "/dev/sdbb: x");
    }

    #[test]
    fn spans_use_their_largest_unit() {
        assert_eq!(span(20), "20 s");
        assert_eq!(span(45 * 60), "45 min");
        assert_eq!(span(3 * 3600), "3 h");
        assert_eq!(span(9 * 86_400), "9 d");
    }

    #[test]
    fn a_missing_source_is_pending_or_unavailable_with_its_reason() {
        let c: Card<()> = section_missing(SectionState::Pending, None, "the disk list");
        assert_eq!((c.state, c.reason.as_deref()), ("pending", Some("the disk list has not been read yet")));
        let c: Card<()> =
            section_missing(SectionState::Unavailable, Some("lsblk: not found"), "the disk list");
        assert_eq!((c.state, c.reason.as_deref()), ("unavailable", Some("lsblk: not found")));
        let ups = UpsSnapshot {
            state: crate::model::ups::State::Unavailable,
            reason: Some("no upsd answers at 127.0.0.1:3493".into()),
            ..Default::default()
        };
        let card = ups_card(&ups);
        assert_eq!(card.state, "unavailable");
        assert!(card.data.is_none());
        assert_eq!(gpu_card(&GpuSnapshot::default()).map(|c| c.state), None, "no GPU, no card");
    }
}
