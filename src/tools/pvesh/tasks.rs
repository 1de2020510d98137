//! Tasks: `/nodes/{node}/tasks` (PVE/API2/Tasks.pm), what a task's `status` means, the task ids
//! (`UPID:...`, `PVE::Tools::upid_decode`) and a task's log (`/nodes/{node}/tasks/{upid}/log`).

use serde::{Deserialize, Serialize};

use super::{Task, get, owned, run};
#[cfg(test)]
use super::{TaskOutcome, classify_task_status};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/tasks` (by default the last 50 finished tasks from the archive).
pub async fn tasks(host: &Host, node: &str) -> Result<Vec<Task>, ToolError> {
    parse_tasks(&get(host, &format!("/nodes/{node}/tasks")).await?)
}

/// A decoded task id: `UPID:<node>:<pid hex>:<pstart hex>:<starttime hex>:<type>:<id>:<user>:`
/// (PVE::Tools::upid_decode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upid {
    pub node: String,
    pub pid: u64,
    pub pstart: u64,
    pub starttime: u64,
    pub kind: String,
    pub id: String,
    pub user: String,
}

pub fn parse_upid(upid: &str) -> Result<Upid, ToolError> {
    const WHAT: &str = "UPID";
    let err = |msg: &str| ToolError::parse(WHAT, 1, upid, msg);
    let parts: Vec<&str> = upid.trim().split(':').collect();
    // 8 fields and the trailing `:` (an empty last piece).
    let [tag, node, pid, pstart, start, kind, id, user, ""] = parts.as_slice() else {
        return Err(err("expected UPID:node:pid:pstart:starttime:type:id:user:"));
    };
    if *tag != "UPID" || node.is_empty() || kind.is_empty() || user.is_empty() {
        return Err(err("expected UPID:node:pid:pstart:starttime:type:id:user:"));
    }
    let hex = |field: &str, name: &str| {
        u64::from_str_radix(field, 16).map_err(|_| err(&format!("{name} `{field}` is not hexadecimal")))
    };
    Ok(Upid {
        node: node.to_string(),
        pid: hex(pid, "pid")?,
        pstart: hex(pstart, "pstart")?,
        starttime: hex(start, "starttime")?,
        kind: kind.to_string(),
        id: id.to_string(),
        user: user.to_string(),
    })
}

pub fn parse_tasks(text: &str) -> Result<Vec<Task>, ToolError> {
    owned("pvesh get /nodes/{node}/tasks", text)
}

// ---------------------------------------------------------------------------------------------------
// task logs
// ---------------------------------------------------------------------------------------------------

/// Task log lines read at most.
pub const TASK_LOG_LINES: usize = 1000;

/// `pvesh get /nodes/{node}/tasks/{upid}/log --limit 1000 --output-format json`.
pub fn task_log_argv(node: &str, upid: &str) -> Vec<String> {
    let path = format!("/nodes/{node}/tasks/{}/log", upid.trim());
    ["pvesh", "get", &path, "--limit", &TASK_LOG_LINES.to_string(), "--output-format", "json"]
        .map(String::from)
        .to_vec()
}

/// Reads a task's log (its text lines, in order).
pub async fn task_log(host: &Host, node: &str, upid: &str) -> Result<Vec<String>, ToolError> {
    parse_task_log(&run(host, task_log_argv(node, upid)).await?)
}

#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    t: String,
}

/// `[{"n":1,"t":"INFO: ..."}, ...]` → the lines.
pub fn parse_task_log(text: &str) -> Result<Vec<String>, ToolError> {
    let lines: Vec<LogLine> = owned("pvesh get /nodes/{node}/tasks/{upid}/log", text)?;
    Ok(lines.into_iter().take(TASK_LOG_LINES).map(|l| l.t).collect())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{demo, fixture};
    use super::*;

    fn check_upids(tasks: &[Task]) {
        for t in tasks {
            let u = parse_upid(&t.upid).unwrap();
            assert_eq!(
                (
                    u.node.as_str(),
                    u.pid,
                    u.pstart,
                    u.starttime,
                    u.kind.as_str(),
                    u.id.as_str(),
                    u.user.as_str()
                ),
                (
                    t.node.as_str(),
                    t.pid,
                    t.pstart,
                    t.starttime,
                    t.kind.as_str(),
                    t.id.as_str(),
                    t.user.as_str()
                ),
                "{}",
                t.upid
            );
        }
    }

    #[test]
    fn tasks_demo_with_failed_vzdump() {
        let t = parse_tasks(demo!("nodes_tasks.json")).unwrap();
        assert_eq!(t.len(), 15);
        check_upids(&t);
        let failed: Vec<&Task> = t.iter().filter(|t| t.outcome().is_failed()).collect();
        assert_eq!(failed.len(), 2);
        // A per-guest backup (id = vmid) to the full PBS datastore, then the nightly job run.
        assert_eq!((failed[0].kind.as_str(), failed[0].id.as_str()), ("vzdump", "104"));
        assert_eq!((failed[1].kind.as_str(), failed[1].endtime), ("vzdump", Some(1722479443)));
        assert_eq!(failed[1].outcome(), TaskOutcome::Failed("job errors".into()));
        assert_eq!(t.iter().filter(|t| t.outcome() == TaskOutcome::Ok).count(), 13);
        assert!(t.iter().any(|t| t.kind == "vzdump" && t.id == "204" && t.outcome() == TaskOutcome::Ok));
    }

    #[test]
    fn tasks_ha_core_vzdump_ok() {
        let t = parse_tasks(fixture!("ha-core_nodes_pve1_tasks_vzdump_ok.json")).unwrap();
        assert_eq!(t.len(), 1);
        check_upids(&t);
        assert_eq!(t[0].outcome(), TaskOutcome::Ok);
        let u = parse_upid(&t[0].upid).unwrap();
        assert_eq!(
            u,
            Upid {
                node: "pve1".into(),
                pid: 2146406,
                pstart: 70119940,
                starttime: 1774350000,
                kind: "vzdump".into(),
                id: String::new(),
                user: "root@pam".into(),
            }
        );
    }

    #[test]
    fn upid_with_object_id_and_bad_upids() {
        let u = parse_upid("UPID:pve-demo:002C2921:073CED5D:66AB3F56:vncproxy:100:root@pam:").unwrap();
        assert_eq!(
            (u.pid, u.starttime, u.kind.as_str(), u.id.as_str()),
            (2894113, 1722498902, "vncproxy", "100")
        );
        for bad in ["", "UPID:pve:1:2:3:type:id:user", "UPID:pve:zz:2:3:t:i:u:", "TASK:pve:1:2:3:t:i:u:"] {
            let err = parse_upid(bad).unwrap_err();
            assert!(matches!(err, ToolError::Parse { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn task_status_classes() {
        assert_eq!(classify_task_status(Some("OK")), TaskOutcome::Ok);
        assert_eq!(classify_task_status(Some("WARNINGS: 3")), TaskOutcome::Warnings(3));
        assert_eq!(classify_task_status(None), TaskOutcome::Running);
        assert_eq!(classify_task_status(Some("RUNNING")), TaskOutcome::Running);
        assert_eq!(classify_task_status(Some("job errors")), TaskOutcome::Failed("job errors".into()));
        assert!(classify_task_status(Some("unexpected status")).is_failed());
        // A running task as listed with source=active: no endtime, no status.
        let t = parse_tasks(
            r#"[{"upid":"UPID:n:00000001:00000002:00000003:vzdump::root@pam:","node":"n",
            "pid":1,"pstart":2,"starttime":3,"type":"vzdump","id":"","user":"root@pam"}]"#,
        )
        .unwrap();
        assert_eq!((t[0].endtime, t[0].outcome()), (None, TaskOutcome::Running));
    }
}
