//! `/api/tasks`: one Proxmox task's log, read on demand through the action runner's read lane.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;

use super::ApiState;
use super::{READ, Routes, json};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::workers::pve::{self, OpError};

pub fn routes() -> Routes {
    Routes::new().get("/tasks/{upid}/log", READ, task_log)
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
    // pvesh answers a task it has no log for with an error: that is a 404, not a gateway failure;
    // so is a task the host has no recording of (a replayed host knows only its recorded tasks).
    let lines = match pve::task_log(&app.actions, app.pve.link(), &node, upid).await {
        Ok(lines) => lines,
        Err(OpError::Refused { detail, .. }) => {
            tracing::debug!(upid, stderr = detail.trim(), "task log refused");
            return Err(not_found());
        }
        Err(OpError::NotRecorded) => return Err(not_found()),
        Err(e) => return Err(super::op_error(e, |code| format!("pvesh exited with code {code}"), p.level)),
    };
    json(&TaskLogAnswer { upid, lines })
}

/// `/api/tasks/{upid}/log`: the task's log, one line each.
#[derive(serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct TaskLogAnswer<'a> {
    upid: &'a str,
    lines: Vec<String>,
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<TaskLogAnswer<'static>>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/tasks/{upid}/log", "One Proxmox task's log")
        .path_param(
            "upid",
            serde_json::json!({ "type": "string", "pattern": "^UPID:[^:]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+:[^:]*:[^:]*:[^:]+:" }),
            "The task's UPID (`UPID:node:pid:pstart:starttime:type:id:user:`), percent-encoded. A \
             malformed one is a 400.",
        )
        .about(
            "Read from Proxmox on demand. A task of another node, or one Proxmox has no log for, is a \
             404.",
        )
        .ok(out::<TaskLogAnswer<'static>>());
}
