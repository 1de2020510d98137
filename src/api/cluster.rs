//! `/api/cluster`: this node's status, the cluster's membership and quorum, and replication.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::ApiState;
use super::{READ, Routes, json};
use crate::error::ApiError;

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
    let cluster = inv.cluster.map(|c| {
        serde_json::json!({
            "name": c.cluster.as_ref().map(|i| i.name.clone()),
            "quorate": c.quorate(),
            "nodes": c.nodes,
        })
    });
    json(&serde_json::json!({"node": node, "cluster": cluster, "replication": inv.replication}))
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    use crate::model::pve::{ClusterNode, ReplicationJob};
    use crate::model::section::Section;

    /// The `cluster` object the handler builds with `json!`.
    #[derive(schemars::JsonSchema)]
    #[schemars(rename = "ClusterMembership")]
    #[allow(dead_code)]
    struct Membership {
        /// `null` for a standalone node.
        name: Option<String>,
        /// A standalone node is trivially quorate.
        quorate: bool,
        nodes: Vec<ClusterNode>,
    }

    d.get("/cluster", "This node's status, the cluster's membership and quorum, and replication")
        .about(
            "Three inventory sections (each `{state, reason, updated, data}`, `data` `null` until read): \
             `node` (this node's status, `cpu_pct` in percent of all its CPUs), `cluster` (membership; \
             a standalone node lists only itself) and `replication` (the storage replication jobs).",
        )
        .ok(obj(&[
            ("node", out::<Section<NodeView<'static>>>()),
            ("cluster", out::<Section<Membership>>()),
            ("replication", out::<Section<Vec<ReplicationJob>>>()),
        ]));
}
