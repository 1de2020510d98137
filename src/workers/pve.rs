//! Proxmox operations on demand, for the API: a guest's power action, its RRD history, a task's log,
//! a disk's SMART self-test. Each builds its argv (from `tools`), runs it in the action runner's
//! lane (changes one at a time, reads beside them) and turns the exit status and output into an
//! [`OpError`]; handlers only map that to HTTP.

use crate::host::{Output, ToolError};
use crate::tools::pvesh::GuestKind;
use crate::tools::pvesh::{self, RrdPoint};
use crate::tools::smartctl::{self, ScanDevice, SelfTestKind};
use crate::workers::actions::{Action, Actions};

/// The power actions a guest accepts.
pub const POWER_ACTIONS: &[&str] = &["start", "shutdown", "stop", "reboot"];

/// Why an operation gave nothing.
#[derive(Debug)]
pub enum OpError {
    /// The runner's queue is full or the runner stopped: try again.
    Busy(String),
    /// The tool is not installed on this host.
    Missing { tool: String },
    /// The host has no answer for this (a replayed host without a recording of it).
    NotRecorded,
    /// Proxmox refused because the guest is locked.
    Locked,
    /// The tool ran and said no: its exit code and what it said (stderr, else the last stdout line).
    Refused { code: i32, detail: String },
    /// The tool could not run, or its output is unreadable.
    Failed { summary: &'static str, detail: String },
}

async fn change(actions: &Actions, argv: Vec<String>) -> Result<Result<Output, ToolError>, OpError> {
    actions.run(Action::run(argv)).await.map_err(|e| OpError::Busy(e.to_string()))
}

/// Runs a read in the reads lane; a zero exit gives stdout.
async fn read(actions: &Actions, argv: Vec<String>, tool: &str) -> Result<String, OpError> {
    let out = actions.read(Action::run(argv)).await.map_err(|e| OpError::Busy(e.to_string()))?;
    match out {
        Ok(o) if o.code == 0 => Ok(o.stdout),
        Ok(o) => Err(OpError::Refused { code: o.code, detail: o.stderr }),
        Err(ToolError::Missing { .. }) => Err(OpError::Missing { tool: tool.into() }),
        Err(ToolError::Unrecorded { .. }) => Err(OpError::NotRecorded),
        Err(e) => Err(OpError::Failed { summary: "pvesh failed", detail: e.to_string() }),
    }
}

/// Starts (stops, shuts down, reboots) a guest; answers the task's UPID.
pub async fn guest_power(
    actions: &Actions,
    node: &str,
    kind: GuestKind,
    vmid: u64,
    action: &str,
) -> Result<String, OpError> {
    let path = format!("/nodes/{node}/{}/{vmid}/status/{action}", kind.as_str());
    let argv = vec!["pvesh".into(), "create".into(), path, "--output-format".into(), "json".into()];
    match change(actions, argv).await? {
        Ok(o) if o.code == 0 => {
            Ok(serde_json::from_str::<String>(o.stdout.trim())
                .unwrap_or_else(|_| o.stdout.trim().to_string()))
        }
        Ok(o) if o.stderr.contains("locked") => Err(OpError::Locked),
        Ok(o) => Err(OpError::Refused { code: o.code, detail: o.stderr.trim().to_string() }),
        Err(e) => Err(OpError::Failed { summary: "the action could not run", detail: e.to_string() }),
    }
}

/// A guest's RRD history over `timeframe` (hour, day, week, month, year).
pub async fn guest_rrd(
    actions: &Actions,
    node: &str,
    kind: GuestKind,
    vmid: u64,
    timeframe: &str,
) -> Result<Vec<RrdPoint>, OpError> {
    let path = format!("/nodes/{node}/{}/{vmid}/rrddata", kind.as_str());
    let text = read(actions, pvesh::rrd_argv(&path, timeframe), "pvesh").await?;
    pvesh::parse_rrddata(&text)
        .map_err(|e| OpError::Failed { summary: "unreadable RRD data", detail: e.to_string() })
}

/// A task's log lines (the task ran on `node`, this one): its own log file (PVE's writer, no
/// process), through the reads lane like any read; `pvesh` where the file is missing.
pub async fn task_log(actions: &Actions, node: &str, upid: &str) -> Result<Vec<String>, OpError> {
    if let Some(path) = crate::tools::pvetasks::log_path(upid) {
        let max = pvesh::TASK_LOG_LINES.saturating_mul(crate::tools::pvetasks::LOG_LINE_BYTES);
        match actions.read(Action::read_file(path, max)).await.map_err(|e| OpError::Busy(e.to_string()))? {
            Ok(out) => {
                return Ok(out.stdout.lines().take(pvesh::TASK_LOG_LINES).map(str::to_string).collect());
            }
            Err(ToolError::Missing { .. }) => {}
            Err(e) => tracing::debug!(upid, error = %e, "task log file unreadable; asking pvesh"),
        }
    }
    let text = read(actions, pvesh::task_log_argv(node, upid), "pvesh").await?;
    pvesh::parse_task_log(&text)
        .map_err(|e| OpError::Failed { summary: "unreadable task log", detail: e.to_string() })
}

/// Starts a SMART self-test on a disk.
pub async fn selftest(actions: &Actions, dev: &ScanDevice, kind: SelfTestKind) -> Result<(), OpError> {
    match change(actions, smartctl::selftest_argv(dev, kind)).await? {
        // Bits 0–2 mean the test was not started; higher bits restate the disk's health.
        Ok(o) if o.code & 0b111 == 0 => Ok(()),
        Ok(o) => {
            Err(OpError::Refused { code: o.code, detail: o.stdout.lines().last().unwrap_or("").to_string() })
        }
        Err(e) => Err(OpError::Failed { summary: "smartctl could not run", detail: e.to_string() }),
    }
}
