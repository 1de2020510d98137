//! Placeholder: filled in by the hardware work (issue 5).

use std::sync::Arc;

use serde::Serialize;

use crate::app::App;

#[derive(Debug, Clone, Default, Serialize)]
pub struct HardwareSnapshot {}

/// The worker loop (spawned by `workers::spawn_all`).
pub async fn run(app: Arc<App>) {
    app.cancel.cancelled().await;
}
