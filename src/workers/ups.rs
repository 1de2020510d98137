//! Placeholder: filled in by the ups work (issue 5).

use std::sync::Arc;

use serde::Serialize;

use crate::app::App;

#[derive(Debug, Clone, Default, Serialize)]
pub struct UpsSnapshot {}

/// The worker loop (spawned by `workers::spawn_all`).
pub async fn run(app: Arc<App>) {
    app.cancel.cancelled().await;
}
