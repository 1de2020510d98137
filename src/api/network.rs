//! `GET /api/network`: the network worker's snapshot, grouped by interface kind, with the bridge
//! topology and the gateway probe. The vitals sampler's latest per-interface rates are overlaid so the
//! page is live between the worker's reads; guest names missing from the snapshot (the inventory had
//! not loaded yet) are filled from the inventory snapshot. Nothing here touches the host.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::ApiState;
use super::{READ, Routes, json};
use crate::error::ApiError;
use crate::model::net::IfKind;
use crate::model::network::{BridgeNode, Gateway, Interface};
use crate::model::section::{Section, SectionState};
use crate::workers::network::overlay_rates;

pub fn routes() -> Routes {
    Routes::new().get("/network", READ, network)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "IfaceGroup"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "IfaceGroup"))]
struct Group<'a> {
    kind: IfKind,
    label: &'static str,
    interfaces: Vec<&'a Interface>,
}

#[derive(Serialize, Default)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NetworkSummary"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NetworkSummary"))]
struct Summary {
    interfaces: usize,
    /// Interfaces that are administratively up but whose link is down (ports of guests excluded).
    down: Vec<String>,
    degraded_bonds: Vec<String>,
    rx_bps: f64,
    tx_bps: f64,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NetworkView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NetworkView"))]
struct View<'a> {
    state: SectionState,
    reason: Option<&'a str>,
    updated: Option<i64>,
    summary: Summary,
    groups: Vec<Group<'a>>,
    topology: &'a [BridgeNode],
    gateway: &'a Section<Gateway>,
}

async fn network(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let snap = app.network.borrow().clone();
    let sec = &snap.interfaces;
    let mut ifaces: Vec<Interface> = sec.data.as_ref().map(|d| d.interfaces.clone()).unwrap_or_default();
    if let Some(v) = app.vitals.borrow().as_ref() {
        overlay_rates(&mut ifaces, &v.sample);
    }
    // Guest names the inventory did not have yet when the worker last read the interfaces.
    let mut topology: Vec<BridgeNode> = sec.data.as_ref().map(|d| d.topology.clone()).unwrap_or_default();
    let unnamed = ifaces.iter().filter_map(|i| i.guest.as_ref()).any(|g| g.name.is_none())
        || topology.iter().flat_map(|b| &b.guests).any(|g| g.guest.name.is_none());
    if unnamed {
        let inv = app.inventory.borrow().clone();
        let names: HashMap<u64, (crate::model::pve::GuestKind, &str)> = inv
            .resources
            .data
            .iter()
            .flatten()
            .filter_map(|r| r.as_guest())
            .map(|g| (g.vmid, (g.kind, g.name.as_str())))
            .collect();
        let guests = ifaces
            .iter_mut()
            .filter_map(|i| i.guest.as_mut())
            .chain(topology.iter_mut().flat_map(|b| b.guests.iter_mut()).map(|g| &mut g.guest));
        for g in guests.filter(|g| g.name.is_none()) {
            if let Some((kind, name)) = names.get(&g.vmid) {
                g.kind = Some(*kind);
                g.name = Some(name.to_string()).filter(|n| !n.is_empty());
            }
        }
    }
    let mut summary = Summary { interfaces: ifaces.len(), ..Default::default() };
    for i in &ifaces {
        if i.admin_up && i.carrier == Some(false) && i.guest.is_none() {
            summary.down.push(i.name.clone());
        }
        if i.bond.as_ref().is_some_and(|b| b.degraded) {
            summary.degraded_bonds.push(i.name.clone());
        }
        if i.kind == IfKind::Physical {
            summary.rx_bps += i.rx_bps.unwrap_or(0.0);
            summary.tx_bps += i.tx_bps.unwrap_or(0.0);
        }
    }
    let groups = IfKind::ALL
        .iter()
        .map(|k| Group {
            kind: *k,
            label: k.label(),
            interfaces: ifaces.iter().filter(|i| i.kind == *k).collect(),
        })
        .filter(|g| !g.interfaces.is_empty())
        .collect();
    let view = View {
        state: sec.state,
        reason: sec.reason.as_deref(),
        updated: sec.updated,
        summary,
        groups,
        topology: &topology,
        gateway: &snap.gateway,
    };
    json(&view)
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<View<'static>>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/network", "Interfaces by kind, the bridge topology and the gateway probe")
        .about(
            "The network worker's snapshot with the vitals sampler's latest per-interface rates \
             overlaid. `state`, `reason` and `updated` are the interface section's; kinds without \
             interfaces are left out of `groups`.",
        )
        .ok(out::<View<'static>>());
}
