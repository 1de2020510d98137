//! Placeholder: filled in by the logs work (issue 5).

use std::sync::Arc;

use crate::app::App;

/// The journal reader service handle kept in `App`.
#[derive(Debug, Default)]
pub struct Journal {}

impl Journal {
    pub fn new(_cfg: &crate::config::LogsCfg) -> Journal {
        Journal {}
    }
}

/// The worker loop (spawned by `workers::spawn_all`).
pub async fn run(app: Arc<App>) {
    app.cancel.cancelled().await;
}
