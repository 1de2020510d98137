//! `/api/cluster`: this node's status, the cluster's membership and quorum, and replication.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::ApiState;
use super::{READ, Routes, json};
use crate::error::ApiError;
use crate::model::pve::{ClusterNode, ClusterResource};

pub fn routes() -> Routes {
    Routes::new().get("/cluster", READ, cluster)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "ClusterNodeStatus"))]
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
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NodeMemory"))]
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
    // Each member with what `/cluster/resources` says of it (from `.rrd` and `.vmlist` on a PVE host:
    // every node's numbers, not only this one's).
    let resources = inv.resources.data.as_deref().unwrap_or(&[]);
    let cluster = inv.cluster.map(|c| Membership {
        name: c.cluster.as_ref().map(|i| i.name.clone()),
        quorate: c.quorate(),
        nodes: c
            .nodes
            .iter()
            .map(|n| {
                let r = resources.iter().find_map(|r| match r {
                    ClusterResource::Node(x) if x.node == n.name => Some(x),
                    _ => None,
                });
                let guests: Vec<_> = resources
                    .iter()
                    .filter_map(ClusterResource::as_guest)
                    .filter(|g| g.node == n.name)
                    .collect();
                MemberView {
                    member: n.clone(),
                    status: r.map(|r| r.status.clone()),
                    cpu: r.and_then(|r| r.cpu),
                    maxcpu: r.and_then(|r| r.maxcpu),
                    mem: r.and_then(|r| r.mem),
                    maxmem: r.and_then(|r| r.maxmem),
                    disk: r.and_then(|r| r.disk),
                    maxdisk: r.and_then(|r| r.maxdisk),
                    uptime: r.and_then(|r| r.uptime),
                    guests_running: guests.iter().filter(|g| g.status == "running").count(),
                    guests_total: guests.iter().filter(|g| !g.template).count(),
                }
            })
            .collect(),
    });
    json(&serde_json::json!({"node": node, "cluster": cluster, "replication": inv.replication}))
}

/// The `cluster` object: the membership and quorum.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "ClusterMembership"))]
struct Membership {
    /// `null` for a standalone node.
    name: Option<String>,
    /// A standalone node is trivially quorate.
    quorate: bool,
    nodes: Vec<MemberView>,
}

/// A member and its numbers from the cluster's status broadcast (`null` where the node is offline or
/// has not broadcast).
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "ClusterMember"))]
struct MemberView {
    #[serde(flatten)]
    member: ClusterNode,
    /// `online`, `offline` or `unknown`, as `/cluster/resources` says.
    status: Option<String>,
    /// 0..1 of the node's CPUs.
    cpu: Option<f64>,
    maxcpu: Option<f64>,
    mem: Option<u64>,
    maxmem: Option<u64>,
    /// The root filesystem.
    disk: Option<u64>,
    maxdisk: Option<u64>,
    uptime: Option<u64>,
    guests_running: usize,
    /// Guests on the node, templates left out.
    guests_total: usize,
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    use crate::model::pve::ReplicationJob;
    use crate::model::section::Section;

    d.get("/cluster", "This node's status, the cluster's membership and quorum, and replication")
        .about(
            "Three inventory sections (each `{state, reason, updated, data}`, `data` `null` until read): \
             `node` (this node's status, `cpu_pct` in percent of all its CPUs), `cluster` (membership; \
             a standalone node lists only itself; each member with its numbers from the cluster's \
             status broadcast and its guest counts) and `replication` (the storage replication jobs).",
        )
        .ok(obj(&[
            ("node", out::<Section<NodeView<'static>>>()),
            ("cluster", out::<Section<Membership>>()),
            ("replication", out::<Section<Vec<ReplicationJob>>>()),
        ]));
}
