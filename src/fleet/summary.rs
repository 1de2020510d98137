//! This appliance's [`Summary`]: what `GET /api/fleet/summary` answers a peer, and the Fleet page's
//! own first row. Built from the published snapshots and the Overview's verdict (the same worst
//! findings, guest counts and UPS the Overview shows), so a host reads the same on its own Overview
//! and on its neighbour's Fleet page.

use crate::health::HealthSnapshot;
use crate::health::model::{Category, Severity};
use crate::model::fleet::{
    CategoryBrief, FindingBrief, GuestCounts, HealthBrief, HostIdent, SUMMARY_API, Summary, UpsBrief, Vitals,
};
use crate::model::gpu::GpuSnapshot;
use crate::model::hardware::HardwareSnapshot;
use crate::model::inventory::Inventory;
use crate::model::ups::UpsSnapshot;
use crate::model::{Identity, Sample};
use crate::overview::Overview;

/// What [`build`] reads.
pub struct Inputs<'a> {
    pub now_s: i64,
    pub identity: Option<&'a Identity>,
    pub sample: Option<&'a Sample>,
    pub inventory: &'a Inventory,
    pub health: &'a HealthSnapshot,
    pub overview: &'a Overview,
    pub ups: &'a UpsSnapshot,
    pub gpu: &'a GpuSnapshot,
    pub hardware: &'a HardwareSnapshot,
    /// Other domains this appliance runs (`monitors`, `docker`, `notifications`).
    pub extra_domains: &'a [&'static str],
    /// The caller's token scope, when a token asks.
    pub scope: Option<&'a str>,
}

pub fn build(i: &Inputs) -> Summary {
    let ident = i.identity;
    let hostname = ident.map(|d| d.hostname.clone()).unwrap_or_default();
    let node = if i.inventory.node.is_empty() { hostname.clone() } else { i.inventory.node.clone() };
    let cluster = i.inventory.cluster.data.as_ref().and_then(|c| c.cluster.as_ref()).map(|c| c.name.clone());
    let host = HostIdent {
        hostname,
        node,
        pve_version: ident.and_then(|d| d.pve_version.clone()),
        cluster,
        kernel: ident.map(|d| d.kernel.clone()).unwrap_or_default(),
        uptime_s: i.sample.map(|s| s.uptime_s).or(ident.map(|d| d.uptime_s)).unwrap_or(0.0).max(0.0) as u64,
        cpus: ident.map(|d| d.threads).unwrap_or(0),
    };
    let (storage_used, storage_total) = storage_totals(i.inventory);
    let vitals = i.sample.map(|s| Vitals {
        cpu_pct: round1(s.cpu.total.busy),
        load1: s.load[0],
        mem_used: s.memory.used,
        mem_total: s.memory.total,
        storage_used,
        storage_total,
    });
    let mut guests = GuestCounts::default();
    for g in i.inventory.guests().filter(|g| g.node == i.inventory.node && !g.template) {
        let running = g.status == "running";
        guests.total += 1;
        guests.running += running as u32;
        if g.kind == crate::model::pve::GuestKind::Lxc {
            guests.cts += 1;
            guests.cts_running += running as u32;
        } else {
            guests.vms += 1;
            guests.vms_running += running as u32;
        }
    }
    let summary = &i.overview.health;
    let categories = Category::ALL
        .iter()
        .map(|c| {
            let worst = i
                .health
                .results
                .values()
                .flatten()
                .filter(|f| f.category == *c && f.severity != Severity::Ok && i.health.active(&f.key))
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Ok);
            let status = if summary.status == "pending" { "pending" } else { worst.as_str() };
            CategoryBrief { id: c.id().into(), name: c.name().into(), status: status.into() }
        })
        .collect();
    let worst = i
        .overview
        .attention
        .iter()
        .take(5)
        .map(|a| FindingBrief {
            severity: a.severity.as_str().into(),
            category: a.category.id().into(),
            title: match &a.object {
                Some(o) => format!("{o}: {}", a.reason),
                None => a.reason.clone(),
            },
        })
        .collect();
    let health = HealthBrief {
        status: summary.status.into(),
        critical: summary.counts.critical as u32,
        warning: summary.counts.warning as u32,
        categories,
        worst,
    };
    let ups = i.overview.ups.data.as_ref().map(|u| UpsBrief {
        name: u.name.clone(),
        status: u.status.clone(),
        on_battery: u.on_battery,
        charge_pct: u.charge_pct,
        runtime_s: u.runtime_s.map(|r| r.max(0.0) as u64),
        load_pct: u.load_pct,
    });
    let mut domains: Vec<String> = Vec::new();
    if !i.ups.upses.is_empty() {
        domains.push("ups".into());
    }
    if !i.gpu.gpus.is_empty() {
        domains.push("gpu".into());
    }
    if i.hardware.ipmi.state == crate::model::section::SectionState::Ok {
        domains.push("ipmi".into());
    }
    if i.inventory.pools.data.as_ref().is_some_and(|p| !p.is_empty()) {
        domains.push("zfs".into());
    }
    if !i.inventory.smart.is_empty() {
        domains.push("smart".into());
    }
    domains.extend(i.extra_domains.iter().map(|d| d.to_string()));
    Summary {
        api: SUMMARY_API,
        version: crate::VERSION.into(),
        scope: i.scope.map(str::to_string),
        host,
        vitals,
        guests,
        health,
        ups,
        domains,
        ts: i.now_s,
    }
}

/// Used and total bytes over this node's active storages; a shared storage is counted once however
/// many nodes list it (the inventory lists this node's view only).
fn storage_totals(inv: &Inventory) -> (u64, u64) {
    let mut seen = std::collections::HashSet::new();
    let (mut used, mut total) = (0u64, 0u64);
    for s in inv.storage.data.iter().flatten().filter(|s| s.active && s.enabled) {
        if !seen.insert(s.storage.as_str()) {
            continue;
        }
        used = used.saturating_add(s.used.unwrap_or(0));
        total = total.saturating_add(s.total.unwrap_or(0));
    }
    (used, total)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
