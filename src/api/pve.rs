//! `/api/pve/...`: the connection to the PVE API (issue 15): its state, and the connect and
//! disconnect steps (admins, in an interactive session: they create and remove a user, a role and an
//! API token in Proxmox VE). Thin: the work is `pveconn`'s.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::{ADMIN, ApiState, JsonBody, Routes, SESSION_ADMIN, json};
use crate::auth::Principal;
use crate::error::ApiError;
#[cfg(test)]
use crate::pveconn::{PveConnection, PveReport};

pub fn routes() -> Routes {
    Routes::new().get("/pve/connection", ADMIN, connection).post("/pve/connect", SESSION_ADMIN, connect).post(
        "/pve/disconnect",
        SESSION_ADMIN,
        disconnect,
    )
}

async fn connection(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let mut c = app.pve.status().await.map_err(ApiError::internal)?;
    if c.connected && c.last_check.is_none() {
        // The first look after a start checks the token once (later looks show that check).
        app.pve.check().await;
        c = app.pve.status().await.map_err(ApiError::internal)?;
    }
    json(&c)
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ConnectBody {
    /// Allow guest power actions (adds VM.PowerMgmt to the role).
    #[serde(default)]
    actions: bool,
}

fn failed(what: &str, e: anyhow::Error) -> ApiError {
    let msg = format!("{what}: {e:#}");
    tracing::warn!(code = "tool_failed", "{msg}");
    ApiError::ToolFailed(msg)
}

async fn connect(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<ConnectBody>,
) -> Result<Response, ApiError> {
    tracing::info!(user = %p.user, actions = body.actions, "PVE API connect");
    let report =
        app.pve.connect(body.actions).await.map_err(|e| failed("connecting to the PVE API failed", e))?;
    json(&report)
}

async fn disconnect(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    tracing::info!(user = %p.user, "PVE API disconnect");
    let report =
        app.pve.disconnect().await.map_err(|e| failed("disconnecting from the PVE API failed", e))?;
    json(&report)
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<PveConnection>();
    v.visit::<PveReport>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/pve/connection", "The connection to the PVE API: the token, its privileges, the last check")
        .about(
            "Never the token's secret. The first look after a start checks the token once with \
             `GET /version`; `last_check` says how that went.",
        )
        .ok(out::<PveConnection>());
    d.post("/pve/connect", "Connect proxwatch to the PVE API: create its user, role and API token")
        .about(
            "Runs PVE's `pveum` on the host: the user `proxwatch@pve`, the role `ProxwatchMonitor` \
             (Sys.Audit, VM.Audit, Datastore.Audit, Pool.Audit, and VM.PowerMgmt with `actions`), the \
             role on `/` for the user and for the privilege-separated token `proxwatch@pve!proxwatch`. \
             An existing user and role are updated, an existing token made again. The secret is stored \
             sealed and never answered; `commands` lists what ran. A failed step is a 502 naming it.",
        )
        .body(input::<ConnectBody>())
        .ok(out::<PveReport>());
    d.post("/pve/disconnect", "Disconnect: remove the token, its ACLs, the user and the role")
        .about("A step that fails is named in `warnings`; the stored token is removed in any case.")
        .ok(out::<PveReport>());
}
