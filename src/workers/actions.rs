//! The action runner: API handlers never start processes themselves; they hand an argv to one of two
//! lanes here and wait for its output.
//!
//! - **Changes** (guest power, SMART self-tests) run one at a time, so a burst of clicks cannot fork a
//!   storm of `pvesh` processes; starting a guest may take up to a minute.
//! - **Reads** (a guest's RRD history, a task's log) run beside the changes, at most
//!   [`READS_AT_ONCE`] together, with a shorter timeout: a 60 s guest start must not hold up the
//!   charts and logs of every page behind it.
//!
//! Each lane has a bounded queue; a full one is refused (503) rather than piling up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::host::pveapi::PveRequest;
use crate::host::{Host, Output, ToolError};

/// An argv to run through the host seam, a file to read through it (a task's log), or a request to
/// the PVE API (a guest's power action, its RRD).
pub struct Action {
    pub argv: Vec<String>,
    /// Instead of running `argv`: the first `max` bytes of this file, as the output's stdout (a file
    /// that does not exist answers [`ToolError::Missing`]).
    pub file: Option<(String, usize)>,
    /// Instead of running `argv`: this API request ([`Host::pve_api`]); the output's `code` is the
    /// HTTP status, `stdout` the body and `stderr` the status line's reason phrase.
    pub api: Option<PveRequest>,
}

impl Action {
    pub fn run(argv: Vec<String>) -> Action {
        Action { argv, file: None, api: None }
    }
    pub fn read_file(path: String, max: usize) -> Action {
        Action { argv: Vec::new(), file: Some((path, max)), api: None }
    }
    pub fn api(req: PveRequest) -> Action {
        Action { argv: Vec::new(), file: None, api: Some(req) }
    }
}

type Job = (Action, oneshot::Sender<Result<Output, ToolError>>);

/// The receiving ends, taken by the runner tasks.
pub struct Queue {
    changes: mpsc::Receiver<Job>,
    reads: mpsc::Receiver<Job>,
}

/// The handle handlers use.
#[derive(Clone)]
pub struct Actions {
    changes: mpsc::Sender<Job>,
    reads: mpsc::Sender<Job>,
}

/// Queued jobs at most per lane; more are refused rather than piling up.
const QUEUE: usize = 16;
/// Starting a guest can take a while (pvesh waits for the task to be created, not finished).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);
/// A read of PVE's RRD or a task log answers in well under a second on a healthy host.
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Reads running at once.
pub const READS_AT_ONCE: usize = 2;

impl Actions {
    pub fn new() -> (Actions, Queue) {
        let (changes, changes_rx) = mpsc::channel(QUEUE);
        let (reads, reads_rx) = mpsc::channel(QUEUE);
        (Actions { changes, reads }, Queue { changes: changes_rx, reads: reads_rx })
    }

    /// Runs a change (one at a time) and waits for its output.
    pub async fn run(&self, action: Action) -> anyhow::Result<Result<Output, ToolError>> {
        Self::submit(&self.changes, action, "actions").await
    }

    /// Runs a read beside the changes and waits for its output.
    pub async fn read(&self, action: Action) -> anyhow::Result<Result<Output, ToolError>> {
        Self::submit(&self.reads, action, "reads").await
    }

    async fn submit(
        tx: &mpsc::Sender<Job>,
        action: Action,
        what: &str,
    ) -> anyhow::Result<Result<Output, ToolError>> {
        let (reply, wait) = oneshot::channel();
        tx.try_send((action, reply)).map_err(|_| anyhow::anyhow!("too many {what} queued; try again"))?;
        wait.await.map_err(|_| anyhow::anyhow!("the action runner stopped"))
    }
}

async fn exec(host: &Host, action: Action, timeout: Duration) -> Result<Output, ToolError> {
    if let Some(req) = action.api {
        let a = host.pve_api(req).await?;
        return Ok(Output {
            code: i32::from(a.status),
            stdout: a.body,
            stderr: a.reason.unwrap_or_default(),
        });
    }
    if let Some((path, max)) = &action.file {
        return match host.read_head(path, *max)? {
            Some(stdout) => Ok(Output { code: 0, stdout, stderr: String::new() }),
            None => Err(ToolError::Missing { what: path.clone() }),
        };
    }
    let argv: Vec<&str> = action.argv.iter().map(String::as_str).collect();
    host.run_with_timeout(&argv, timeout).await
}

/// Runs both lanes until their channels close or `cancel` fires (reads still running are dropped,
/// which kills their processes).
pub async fn run(host: Arc<Host>, queue: Queue, cancel: tokio_util::sync::CancellationToken) {
    let Queue { mut changes, mut reads } = queue;
    let changes_lane = {
        let host = host.clone();
        let cancel = cancel.clone();
        async move {
            loop {
                let job = tokio::select! {
                    _ = cancel.cancelled() => break,
                    job = changes.recv() => job,
                };
                let Some((action, reply)) = job else { break };
                let _ = reply.send(exec(&host, action, CHANGE_TIMEOUT).await);
            }
        }
    };
    let reads_lane = async move {
        let permits = Arc::new(Semaphore::new(READS_AT_ONCE));
        let mut running = JoinSet::new();
        loop {
            let job = tokio::select! {
                _ = cancel.cancelled() => break,
                Some(_) = running.join_next(), if !running.is_empty() => continue,
                job = reads.recv() => job,
            };
            let Some((action, reply)) = job else { break };
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            let host = host.clone();
            running.spawn(async move {
                let _ = reply.send(exec(&host, action, READ_TIMEOUT).await);
                drop(permit);
            });
        }
    };
    tokio::join!(changes_lane, reads_lane);
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    /// A read answers while a long change is still running (a guest start must not block charts).
    #[tokio::test]
    async fn reads_do_not_wait_for_a_running_change() {
        let host = Arc::new(Host::system(Duration::from_secs(5)));
        let (actions, queue) = Actions::new();
        let cancel = tokio_util::sync::CancellationToken::new();
        let runner = tokio::spawn(run(host, queue, cancel.clone()));
        let slow = actions.clone();
        let change =
            tokio::spawn(async move { slow.run(Action::run(vec!["sleep".into(), "30".into()])).await });
        // Let the change start: the lane has taken it once the queue is empty again.
        while actions.changes.capacity() < QUEUE {
            tokio::task::yield_now().await;
        }
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            actions.read(Action::run(vec!["echo".into(), "rrd".into()])),
        )
        .await
        .expect("the read answered while the change runs")
        .unwrap()
        .unwrap();
        assert_eq!(out.stdout.trim(), "rrd");
        assert!(!change.is_finished(), "the change is still running");
        // Dropping the runner drops the running change, which kills its process.
        cancel.cancel();
        runner.abort();
        change.abort();
    }
}
