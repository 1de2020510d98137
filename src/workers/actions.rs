//! The action runner: operator actions (guest power, SMART self-tests) are executed here, one at a
//! time, so that API handlers never start processes themselves and a burst of clicks cannot fork a
//! storm of `pvesh` processes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::host::{Host, Output, ToolError};

/// An argv to run through the host seam.
pub struct Action {
    pub argv: Vec<String>,
}

type Job = (Action, oneshot::Sender<Result<Output, ToolError>>);

/// The receiving end, taken by the runner task.
pub type Queue = mpsc::Receiver<Job>;

/// The handle handlers use.
#[derive(Clone)]
pub struct Actions {
    tx: mpsc::Sender<Job>,
}

/// Queued actions at most; more are refused (503) rather than piling up.
const QUEUE: usize = 16;
/// Starting a guest can take a while (pvesh waits for the task to be created, not finished).
const TIMEOUT: Duration = Duration::from_secs(60);

impl Actions {
    pub fn new() -> (Actions, Queue) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Actions { tx }, rx)
    }

    /// Runs an action and waits for its output.
    pub async fn run(&self, action: Action) -> anyhow::Result<Result<Output, ToolError>> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .try_send((action, reply))
            .map_err(|_| anyhow::anyhow!("too many actions queued; try again"))?;
        wait.await.map_err(|_| anyhow::anyhow!("the action runner stopped"))
    }
}

/// Executes queued actions until the channel closes or `cancel` fires.
pub async fn run(host: Arc<Host>, mut rx: Queue, cancel: tokio_util::sync::CancellationToken) {
    loop {
        let job = tokio::select! {
            _ = cancel.cancelled() => break,
            job = rx.recv() => job,
        };
        let Some((action, reply)) = job else { break };
        let argv: Vec<&str> = action.argv.iter().map(String::as_str).collect();
        let result = host.run_with_timeout(&argv, TIMEOUT).await;
        let _ = reply.send(result);
    }
}
