//! The demo's Docker agent: the recorded report of a Docker VM (`scenarios/demo/docker-report.json`,
//! made by the real agent script over recorded `docker` output) taken in through the same path as a
//! posted one, once per its interval, so a newcomer sees the Containers page and VM 101's containers.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Agents;

/// The recorded report.
pub const REPORT: &str = include_str!("../../scenarios/demo/docker-report.json");
/// The demo agent's id (it has no token: nothing posts, the replay takes the report in directly).
pub const ID: &str = "demo-docker01";

/// Registers the demo agent and takes in the recorded report every interval until `cancel`.
pub async fn run(agents: Arc<Agents>, cancel: CancellationToken) {
    let mut report = match crate::tools::docker::parse_report(REPORT.as_bytes()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("demo: the recorded Docker report does not parse: {e}");
            return;
        }
    };
    // The recording's times moved to the present, as the demo's scenario is: the newest start or
    // stop two hours ago.
    let newest = report.containers.iter().flat_map(|c| [c.started_at, c.finished_at]).flatten().max();
    if let Some(newest) = newest {
        let shift = (agents.now() - 7200 - newest).max(0);
        for c in &mut report.containers {
            c.started_at = c.started_at.map(|t| t + shift);
            c.finished_at = c.finished_at.map(|t| t + shift);
        }
    }
    let every = std::time::Duration::from_secs(report.agent.interval_s.max(10));
    if let Err(e) = agents.add(ID, "docker01", report.agent.vmid, report.agent.interval_s).await {
        tracing::debug!("demo agent: {}", e.message());
    }
    loop {
        if let Err(e) = agents.take(ID, report.clone()).await {
            tracing::warn!("demo agent: {}", e.message());
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
