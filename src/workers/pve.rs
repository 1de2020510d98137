//! Proxmox operations on demand, for the API: a guest's power action, its RRD history, a task's log,
//! a disk's SMART self-test. Each builds its argv or API request (from `tools`), runs it in the
//! action runner's lane (changes one at a time, reads beside them) and turns the exit status and
//! output into an [`OpError`]; handlers only map that to HTTP.
//!
//! Guest power actions go through the PVE API with proxwatch's token ([`PveLink`]), so that
//! pvedaemon starts the guest, not a child of proxwatch; without a token they say how to connect
//! (no pvesh fallback). The RRD asks the API when connected and pvesh otherwise.

use std::time::Duration;

use serde::Serialize;

use crate::host::pveapi::{PveLink, PveRequest};
use crate::host::{Output, ToolError};
use crate::tools::pveapi::{self, ApiFault, TaskStatus};
use crate::tools::pvesh::GuestKind;
use crate::tools::pvesh::{self, RrdPoint};
use crate::tools::smartctl::{self, ScanDevice, SelfTestKind};
use crate::workers::actions::{Action, Actions};

/// The power actions a guest accepts (`status/<action>` in PVE's API).
pub const POWER_ACTIONS: &[&str] = &["start", "shutdown", "stop", "reboot", "suspend", "resume"];

/// How long a power action's task is followed before the answer says it is still running.
pub const FOLLOW: Duration = Duration::from_secs(15);

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
    /// The PVE API said no, could not be reached, or there is no token.
    Api(ApiFault),
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

/// A power action's task as far as it was followed: its UPID, `running` or `stopped`, and once
/// stopped its exit status (`OK`, `WARNINGS: n`, or the error) and whether that is a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PowerTask {
    pub upid: String,
    #[cfg_attr(test, schemars(extend("enum" = ["running", "stopped"])))]
    pub status: String,
    pub exitstatus: Option<String>,
    /// `null` while running.
    pub ok: Option<bool>,
}

impl PowerTask {
    fn from_status(upid: String, t: &TaskStatus) -> PowerTask {
        let ok = (!t.running()).then(|| t.succeeded());
        PowerTask { upid, status: t.status.clone(), exitstatus: t.exitstatus.clone(), ok }
    }
}

/// One API request through a lane: its HTTP answer, or why there is none.
async fn api(actions: &Actions, req: PveRequest, change: bool) -> Result<String, OpError> {
    let action = Action::api(req);
    let out = if change { actions.run(action).await } else { actions.read(action).await }
        .map_err(|e| OpError::Busy(e.to_string()))?;
    match out {
        Ok(o) => {
            let answer = crate::host::pveapi::PveAnswer {
                status: u16::try_from(o.code).unwrap_or(500),
                reason: (!o.stderr.is_empty()).then_some(o.stderr),
                body: o.stdout,
            };
            pveapi::data(&answer).map_err(OpError::Api)
        }
        Err(ToolError::Unrecorded { .. }) => Err(OpError::NotRecorded),
        Err(e) => Err(OpError::Api(ApiFault::transport(&e))),
    }
}

/// Starts (shuts down, stops, reboots, suspends, resumes) a guest through the PVE API and follows
/// its task for up to `follow`: the UPID with the task's final status, or `running` when it had not
/// ended by then. Without a token: [`ApiFault::NotConnected`]; a token made without actions is
/// refused by PVE (403, VM.PowerMgmt).
pub async fn guest_power(
    actions: &Actions,
    link: &PveLink,
    node: &str,
    kind: GuestKind,
    vmid: u64,
    action: &str,
    follow: Duration,
) -> Result<PowerTask, OpError> {
    let token = link.token().ok_or(OpError::Api(ApiFault::NotConnected))?;
    let req = PveRequest::post(pveapi::power_path(node, kind.as_str(), vmid, action)).auth(token.header());
    let data = api(actions, req, true).await?;
    let upid = pveapi::parse_upid_data(&data).map_err(OpError::Api)?;
    // The task runs on the node that answered (its UPID says which).
    let task_node = pvesh::parse_upid(&upid).map(|u| u.node).unwrap_or_else(|_| node.to_string());
    let deadline = tokio::time::Instant::now() + follow;
    let mut pause = Duration::from_millis(200);
    loop {
        let req = PveRequest::get(pveapi::task_status_path(&task_node, &upid)).auth(token.header());
        let status = match api(actions, req, false).await {
            Ok(data) => pveapi::parse_task_status(&data).map_err(OpError::Api)?,
            // The action was accepted: a status that cannot be read leaves it running, not failed.
            Err(e) => {
                tracing::warn!(upid, error = ?e, "cannot read the task's status");
                return Ok(PowerTask { upid, status: "running".into(), exitstatus: None, ok: None });
            }
        };
        if !status.running() || tokio::time::Instant::now() + pause > deadline {
            return Ok(PowerTask::from_status(upid, &status));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// A guest's RRD history over `timeframe` (hour, day, week, month, year): from the PVE API when
/// proxwatch has a token, else (or when the API call fails) from pvesh.
pub async fn guest_rrd(
    actions: &Actions,
    link: &PveLink,
    node: &str,
    kind: GuestKind,
    vmid: u64,
    timeframe: &str,
) -> Result<Vec<RrdPoint>, OpError> {
    let parse = |text: &str| {
        pvesh::parse_rrddata(text)
            .map_err(|e| OpError::Failed { summary: "unreadable RRD data", detail: e.to_string() })
    };
    if let Some(token) = link.token() {
        let req = PveRequest::get(pveapi::rrd_path(node, kind.as_str(), vmid))
            .param("timeframe", timeframe)
            .param("cf", "AVERAGE")
            .auth(token.header());
        match api(actions, req, false).await {
            Ok(data) => return parse(&data),
            Err(OpError::Busy(why)) => return Err(OpError::Busy(why)),
            Err(e) => tracing::warn!(vmid, error = ?e, "RRD through the PVE API failed; asking pvesh"),
        }
    }
    let path = format!("/nodes/{node}/{}/{vmid}/rrddata", kind.as_str());
    let text = read(actions, pvesh::rrd_argv(&path, timeframe), "pvesh").await?;
    parse(&text)
}

/// A task's log lines (the task ran on `node`, this one): its own log file (PVE's writer, no
/// process), through the reads lane like any read; `pvesh` where the file is missing.
pub async fn task_log(
    actions: &Actions,
    link: &PveLink,
    node: &str,
    upid: &str,
) -> Result<Vec<String>, OpError> {
    if let Some(path) = crate::tools::pvetasks::log_path(upid) {
        let max = pvesh::TASK_LOG_LINES.saturating_mul(crate::tools::pvetasks::LOG_LINE_BYTES);
        match actions.read(Action::read_file(path, max)).await.map_err(|e| OpError::Busy(e.to_string()))? {
            Ok(out) => {
                return Ok(out.stdout.lines().take(pvesh::TASK_LOG_LINES).map(str::to_string).collect());
            }
            Err(ToolError::Missing { .. }) => {}
            Err(e) => tracing::debug!(upid, error = %e, "task log file unreadable; asking the API or pvesh"),
        }
    }
    // A task of another node (its log is on that node) or a host without the files: the PVE API
    // where connected (it proxies to the task's node), else pvesh.
    if let Some(token) = link.token() {
        let req = PveRequest::get(format!("/nodes/{node}/tasks/{upid}/log"))
            .param("limit", &pvesh::TASK_LOG_LINES.to_string())
            .auth(token.header());
        match api(actions, req, false).await {
            Ok(data) => {
                return pvesh::parse_task_log(&data)
                    .map_err(|e| OpError::Failed { summary: "unreadable task log", detail: e.to_string() });
            }
            Err(OpError::Busy(why)) => return Err(OpError::Busy(why)),
            Err(e) => tracing::debug!(upid, error = ?e, "task log through the PVE API failed; asking pvesh"),
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
