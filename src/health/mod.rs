//! Placeholder: the health monitor (issue 6).

pub mod facts;
pub mod model;
pub mod rules;
pub mod thresholds;

use std::sync::Arc;

use serde::Serialize;

use crate::app::App;

#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthSnapshot {}

/// The health cycle loop (spawned by `workers::spawn_all`).
pub async fn run(app: Arc<App>) {
    app.cancel.cancelled().await;
}
