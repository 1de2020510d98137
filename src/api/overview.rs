//! `GET /api/overview`: the Overview's one summary read: the health verdict with its worst findings,
//! the summary cards and what changed (built by `crate::overview` from the snapshots and the newest
//! health events). The live stream pushes the verdict's changes; the page reads this once on open and
//! again when the verdict moves.

use axum::extract::State;
use axum::response::Response;

use super::{ApiState, READ, Routes, json};
use crate::error::ApiError;
use crate::overview::{Inputs, build};

/// How many health events are read for "What changed" (a cycle's burst is folded into one line).
const EVENTS_READ: usize = 60;

pub fn routes() -> Routes {
    Routes::new().get("/overview", READ, overview)
}

async fn overview(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let events = app
        .db
        .call(|c| crate::health::store::events(c, EVENTS_READ, None))
        .await
        .map_err(ApiError::internal)?;
    let health = app.health.borrow().clone();
    let inventory = app.inventory.borrow().clone();
    let network = app.network.borrow().clone();
    let ups = app.ups.borrow().clone();
    let gpu = app.gpu.borrow().clone();
    let thresholds = app.health_bus.thresholds.borrow().clone();
    json(&build(&Inputs {
        now_ms: app.clock.now_ms(),
        health: &health,
        inventory: &inventory,
        network: &network,
        ups: &ups,
        gpu: &gpu,
        events: &events,
        thresholds: &thresholds,
    }))
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<crate::overview::Overview>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get(
        "/overview",
        "The Overview in one read: the verdict, the worst findings, summary cards, what changed",
    )
    .about(
        "The health summary (the same counts as `/api/health`), the worst active findings one line \
             per object (critical first, at most five, with how many more), a card each for guests, \
             storage, disks, backups, the UPS, the GPU (absent without one) and the gateway (each \
             `unavailable` with the reason when its source is missing), and the newest changes.",
    )
    .ok(out::<crate::overview::Overview>());
}
