//! Picks up changes another process made to the database (the `proxwatch user` command recovering
//! a locked-out host), and closes the auth log's bursts of repeated failures.

use std::sync::Arc;

use super::Auth;
use crate::db::Db;
use crate::workers::Periodic;

/// The loop: one `data_version` pragma every few seconds, a reload only when something changed.
pub async fn run(db: Db, auth: Arc<Auth>, mut tick: Periodic) {
    let mut sync = AuthSync::default();
    while tick.next().await {
        if let Err(e) = sync.step(&db, &auth).await {
            tracing::error!(error = %format!("{e:#}"), "cannot sync users from the database");
        }
        // Bursts of repeated failures whose minute is over get their summary line.
        auth.audit.close_bursts(auth.db(), false).await;
    }
    // A stop writes the counts of the bursts still open.
    auth.audit.close_bursts(auth.db(), true).await;
}

/// SQLite's `data_version` changes only on other connections' commits, so this costs one pragma per
/// step and a reload only when something really changed.
#[derive(Default)]
pub struct AuthSync {
    seen: Option<i64>,
}

impl AuthSync {
    /// Reloads users, sessions and tokens if another connection committed since the last step.
    /// Returns whether it reloaded.
    pub async fn step(&mut self, db: &Db, auth: &Auth) -> anyhow::Result<bool> {
        let v = db.call(|c| Ok(c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))?)).await?;
        let changed = self.seen.is_some_and(|s| s != v);
        self.seen = Some(v);
        if changed {
            auth.reload().await?;
            tracing::info!("users, sessions and tokens reloaded after an outside change");
        }
        Ok(changed)
    }
}
