//! `/api/fleet`: this host's summary for its peers (`GET /api/fleet/summary`, one compact read polled
//! every 10 s), the Fleet page (this host first, then each peer's last good summary and state), and
//! the peers' management (probe a URL for its certificate, add, change, re-test, remove: admins).
//! The logic lives in `crate::fleet`; this file only reads and answers.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ADMIN, ApiState, JsonBody, READ, Routes, json};
use crate::auth::{Principal, Via};
use crate::error::ApiError;
use crate::fleet::{NewPeer, PeerPatch};
use crate::model::fleet::{Peer, Summary};

pub fn routes() -> Routes {
    Routes::new()
        .get("/fleet", READ, fleet)
        .get("/fleet/summary", READ, summary)
        .post("/fleet/probe", ADMIN, probe)
        .post("/fleet/peers", ADMIN, add)
        .patch("/fleet/peers/{id}", ADMIN, update)
        .delete("/fleet/peers/{id}", ADMIN, delete)
        .post("/fleet/peers/{id}/check", ADMIN, check)
}

/// `GET /api/fleet`.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Fleet"))]
#[cfg_attr(test, schemars(rename = "Fleet"))]
struct Fleet {
    /// This host.
    local: Summary,
    peers: Vec<Peer>,
    /// Peers allowed at most (`fleet.max`).
    max: usize,
    /// How often each peer is polled (s).
    interval_s: u64,
}

/// This host's summary, as `scope` (the caller's token scope) asks for it.
pub(crate) fn local_summary(app: &ApiState, scope: Option<&str>) -> Summary {
    let health = app.health.borrow().clone();
    let inventory = app.inventory.borrow().clone();
    let network = app.network.borrow().clone();
    let ups = app.ups.borrow().clone();
    let gpu = app.gpu.borrow().clone();
    let hardware = app.hardware.borrow().clone();
    let identity = app.identity.borrow().clone();
    let vitals = app.vitals.borrow().clone();
    let thresholds = app.health_bus.thresholds.borrow().clone();
    let now_ms = app.clock.now_ms();
    // No events: the summary has no "what changed" (it would cost a database read per poll).
    let overview = crate::overview::build(&crate::overview::Inputs {
        now_ms,
        health: &health,
        inventory: &inventory,
        network: &network,
        ups: &ups,
        gpu: &gpu,
        events: &[],
        thresholds: &thresholds,
    });
    let mut extra: Vec<&'static str> = Vec::new();
    if app.monitors.enabled {
        extra.push("monitors");
    }
    if app.agents.count() > 0 {
        extra.push("docker");
    }
    if app.config.notifications.enabled {
        extra.push("notifications");
    }
    crate::fleet::summary::build(&crate::fleet::summary::Inputs {
        now_s: now_ms / 1000,
        identity: identity.as_deref(),
        sample: vitals.as_ref().map(|v| &v.sample),
        inventory: &inventory,
        health: &health,
        overview: &overview,
        ups: &ups,
        gpu: &gpu,
        hardware: &hardware,
        extra_domains: &extra,
        scope,
    })
}

async fn summary(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let scope = match p.via {
        Via::Token { .. } => Some(p.level.scope()),
        Via::Session { .. } | Via::Agent { .. } => None,
    };
    json(&local_summary(&app, scope))
}

async fn fleet(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let peers = app.fleet.out.borrow().iter().map(|p| (**p).clone()).collect();
    json(&Fleet {
        local: local_summary(&app, None),
        peers,
        max: app.fleet.max(),
        interval_s: app.fleet.interval_s(),
    })
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ProbeReq {
    /// The peer's proxwatch, `https://pve2.lan:8008`.
    url: String,
}

async fn probe(State(app): State<ApiState>, JsonBody(req): JsonBody<ProbeReq>) -> Result<Response, ApiError> {
    json(&app.fleet.probe(&req.url).await?)
}

async fn add(State(app): State<ApiState>, JsonBody(req): JsonBody<NewPeer>) -> Result<Response, ApiError> {
    let peer = app.fleet.add(req).await?;
    let mut r = json(&*peer)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

fn id_of(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::bad_request(format!("id: {id:?} is not a peer id")))
}

async fn update(
    State(app): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PeerPatch>,
) -> Result<Response, ApiError> {
    json(&*app.fleet.update(id_of(&id)?, req).await?)
}

async fn delete(State(app): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.fleet.delete(id_of(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn check(State(app): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    json(&*app.fleet.check(id_of(&id)?).await?)
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<Fleet>();
    v.visit::<crate::fleet::Probe>();
    v.visit::<Summary>();
    v.visit::<Peer>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    let id = || serde_json::json!({ "type": "integer", "minimum": 1 });
    d.get("/fleet", "The Fleet page: this host's summary first, then each peer's")
        .about(
            "Each peer's last good summary (kept through failed polls), its state (`pending`, `ok`, \
             `error`, `stale` after three intervals without a good answer, `blocked` after a hard \
             failure), the last error and the last capability check.",
        )
        .ok(out::<Fleet>());
    d.get("/fleet/summary", "This host at a glance, for the other appliances of a fleet")
        .about(
            "One compact read polled by peers every 10 s with a read-scoped token: host identity, \
             vitals, guest counts, health per category with the worst findings, UPS state, the domains \
             this appliance watches, and the caller's token scope.",
        )
        .ok(out::<Summary>());
    d.post("/fleet/probe", "Show a would-be peer's certificate and version, sending no token")
        .about(
            "A TLS handshake and the public `GET /api/health/live`: the certificate's SHA-256 for the \
             admin to accept before any token is sent.",
        )
        .body(input::<ProbeReq>())
        .ok(out::<crate::fleet::Probe>());
    d.post("/fleet/peers", "Add a peer and run its capability check")
        .about(
            "Over HTTPS the accepted certificate's SHA-256 is required and pinned from then on. A 400 \
             names the field; 409 for a URL already listed or past `fleet.max`.",
        )
        .status(201)
        .body(input::<NewPeer>())
        .ok(out::<Peer>())
        .error(409, "The URL is already a peer, or the fleet is full.");
    d.patch("/fleet/peers/{id}", "Rename a peer, replace its token or accept its new certificate")
        .about(
            "A new token or certificate re-runs the capability check (and unblocks the peer when it passes).",
        )
        .path_param("id", id(), "The peer's id.")
        .body(input::<PeerPatch>())
        .ok(out::<Peer>());
    d.post("/fleet/peers/{id}/check", "Re-test a peer: the capability check, unblocking it when it passes")
        .path_param("id", id(), "The peer's id.")
        .ok(out::<Peer>());
    d.delete("/fleet/peers/{id}", "Remove a peer (its token is forgotten)")
        .path_param("id", id(), "The peer's id.")
        .no_content();
}
