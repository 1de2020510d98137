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
