//! The PVE API's answers (issue 15), pure: the `{"data": …}` envelope, what a refusal means, a guest
//! action's UPID and a task's status. The transport is `host::pveapi`; the calls are in
//! `workers::pve`.
//!
//! Shapes, from the sources:
//! - every answer is `{"data": …}` (pve-http-server, `PVE::APIServer::Formatter::JSON`); an error
//!   answers `{"data": null}` (with `errors` for parameter errors) and puts its message in the status
//!   line's reason phrase: `403 Permission check failed (/vms/100, VM.PowerMgmt)`
//!   (`PVE::RPCEnvironment::check`), `401 No ticket` or `401 invalid token value!` for a token PVE
//!   does not know;
//! - `POST /nodes/{node}/qemu/{vmid}/status/start` (qemu-server `PVE/API2/Qemu.pm` `vm_start`; the
//!   other power actions and `lxc` alike) returns the task's UPID string;
//! - `GET /nodes/{node}/tasks/{upid}/status` (pve-manager `PVE/API2/Tasks.pm` `read_task_status`)
//!   returns `{status: running|stopped, exitstatus (once stopped: "OK", "WARNINGS: n" or the error),
//!   upid, node, pid, pstart, starttime, type, id, user}`.

use serde::{Deserialize, Serialize};

use crate::host::ToolError;
use crate::host::pveapi::PveAnswer;

/// What to do when there is no token.
pub const CONNECT_HINT: &str =
    "connect proxwatch to the PVE API: Settings → Proxmox, or `proxwatch pve connect`";

/// Why an API call gave nothing, in the words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiFault {
    #[error("not connected to the PVE API: {}", CONNECT_HINT)]
    NotConnected,
    /// 401: PVE does not know the token (removed, expired, or its secret changed).
    #[error("the token was rejected ({reason}): removed or expired? run `proxwatch pve connect` again")]
    Rejected { reason: String },
    /// 403 with the privilege PVE checked.
    #[error("the token lacks privilege {privilege} on {path}")]
    Forbidden { path: String, privilege: String },
    /// Any other refusal (403 without a privilege named, 4xx, 5xx).
    #[error("Proxmox VE answered {status}: {reason}")]
    Http { status: u16, reason: String },
    /// The connection or TLS failed, or the call timed out.
    #[error("the PVE API could not be reached: {0}")]
    Transport(String),
    /// The answer is not what the API documents.
    #[error("unreadable answer from the PVE API: {0}")]
    Unreadable(String),
}

impl ApiFault {
    /// From a transport error of the host seam.
    pub fn transport(e: &ToolError) -> ApiFault {
        ApiFault::Transport(e.to_string())
    }
}

/// `(path, privilege)` of PVE's `Permission check failed (/vms/100, VM.PowerMgmt)`.
pub fn parse_permission(reason: &str) -> Option<(String, String)> {
    let inner = reason.split_once("Permission check failed (")?.1;
    let inner = inner.rsplit_once(')')?.0;
    let (path, privilege) = inner.split_once(", ")?;
    Some((path.trim().to_string(), privilege.trim().to_string()))
}

/// What a non-2xx answer means.
pub fn fault(answer: &PveAnswer) -> ApiFault {
    let reason = answer
        .reason
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            // Some proxies drop the reason phrase; PVE's own `message` field, where present.
            serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        })
        .unwrap_or_else(|| format!("HTTP {}", answer.status));
    let mut reason = reason.trim().to_string();
    reason.truncate(500);
    match answer.status {
        401 => ApiFault::Rejected { reason },
        403 => match parse_permission(&reason) {
            Some((path, privilege)) => ApiFault::Forbidden { path, privilege },
            None => ApiFault::Http { status: 403, reason },
        },
        status => ApiFault::Http { status, reason },
    }
}

/// The `data` of a 2xx answer, as raw JSON text (what pvesh would print); a refusal as its fault.
pub fn data(answer: &PveAnswer) -> Result<String, ApiFault> {
    if !(200..300).contains(&answer.status) {
        return Err(fault(answer));
    }
    crate::tools::pvesh::unwrap_data(&answer.body).map_err(|e| ApiFault::Unreadable(e.to_string()))
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/status/{action}`.
pub fn power_path(node: &str, kind: &str, vmid: u64, action: &str) -> String {
    format!("/nodes/{node}/{kind}/{vmid}/status/{action}")
}

/// `/nodes/{node}/tasks/{upid}/status`.
pub fn task_status_path(node: &str, upid: &str) -> String {
    format!("/nodes/{node}/tasks/{upid}/status")
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/rrddata` (with `timeframe` and `cf` as parameters).
pub fn rrd_path(node: &str, kind: &str, vmid: u64) -> String {
    format!("/nodes/{node}/{kind}/{vmid}/rrddata")
}

/// The UPID a guest action answered (a JSON string), checked with PVE's own layout.
pub fn parse_upid_data(data: &str) -> Result<String, ApiFault> {
    let upid: String = serde_json::from_str(data.trim())
        .map_err(|_| ApiFault::Unreadable(format!("expected a task id (UPID), got {}", clip(data))))?;
    crate::tools::pvesh::parse_upid(&upid).map_err(|e| ApiFault::Unreadable(e.to_string()))?;
    Ok(upid)
}

/// A task's status (`read_task_status`). Only `status` is required; the rest is kept when present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// Once stopped: `OK`, `WARNINGS: n`, or what went wrong (`command '…' failed: exit code 1`).
    #[serde(default)]
    pub exitstatus: Option<String>,
    #[serde(default)]
    pub upid: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

impl TaskStatus {
    pub fn running(&self) -> bool {
        self.status == "running"
    }
    /// Stopped with `OK` or only warnings.
    pub fn succeeded(&self) -> bool {
        !self.running() && self.exitstatus.as_deref().is_some_and(|s| s == "OK" || s.starts_with("WARNINGS"))
    }
}

pub fn parse_task_status(data: &str) -> Result<TaskStatus, ApiFault> {
    serde_json::from_str(data.trim())
        .map_err(|e| ApiFault::Unreadable(format!("task status: {e} in {}", clip(data))))
}

fn clip(s: &str) -> String {
    let mut s = s.trim().to_string();
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answer(status: u16, reason: Option<&str>, body: &str) -> PveAnswer {
        PveAnswer { status, reason: reason.map(str::to_string), body: body.into() }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let a = answer(403, Some("Permission check failed (/vms/100, VM.PowerMgmt)"), r#"{"data":null}"#);
        let f = data(&a).unwrap_err();
        assert_eq!(f, ApiFault::Forbidden { path: "/vms/100".into(), privilege: "VM.PowerMgmt".into() });
        assert_eq!(f.to_string(), "the token lacks privilege VM.PowerMgmt on /vms/100");
        let f = data(&answer(401, Some("invalid token value!"), r#"{"data":null}"#)).unwrap_err();
        assert!(f.to_string().contains("run `proxwatch pve connect` again"), "{f}");
        let f = data(&answer(500, None, r#"{"data":null,"message":"VM 100 not running\n"}"#)).unwrap_err();
        assert_eq!(f.to_string(), "Proxmox VE answered 500: VM 100 not running");
        assert!(ApiFault::NotConnected.to_string().contains("proxwatch pve connect"));
    }

    #[test]
    fn upids_and_task_states() {
        let upid = "UPID:pve:0003A164:0B2C4D00:6740A100:qmstart:100:proxwatch@pve!proxwatch:";
        let d = data(&answer(200, None, &format!(r#"{{"data":"{upid}"}}"#))).unwrap();
        assert_eq!(parse_upid_data(&d).unwrap(), upid);
        assert!(parse_upid_data(r#""not a upid""#).is_err());
        let running = parse_task_status(r#"{"status":"running","upid":"x","pid":1,"starttime":2}"#).unwrap();
        assert!(running.running() && !running.succeeded());
        let ok = parse_task_status(r#"{"status":"stopped","exitstatus":"OK"}"#).unwrap();
        assert!(ok.succeeded());
        let warn = parse_task_status(r#"{"status":"stopped","exitstatus":"WARNINGS: 2"}"#).unwrap();
        assert!(warn.succeeded());
        let failed =
            parse_task_status(r#"{"status":"stopped","exitstatus":"command 'x' failed: exit code 1"}"#)
                .unwrap();
        assert!(!failed.succeeded() && !failed.running());
        assert_eq!(
            parse_permission("Permission check failed (/, Sys.Audit)"),
            Some(("/".into(), "Sys.Audit".into()))
        );
    }
}
