//! Proxmox VE's own view of the host through `pvesh get <path> --output-format json`: node status,
//! version, cluster resources and status, guest lists and configs, storages, tasks, backup jobs, disks
//! and RRD history. `pvesh` prints the bare API payload (`to_json($data, {canonical => 1})` in
//! pve-common's CLIHandler: keys sorted, one line, no `{"data": ...}` wrapper), so every `parse_*` here
//! takes that bare payload; the HTTP-API form used by recorded fixtures is unwrapped with
//! [`unwrap_data`] first.
//!
//! The API is loosely typed (Perl scalars): numbers sometimes arrive as JSON strings (`"vmid":"106"`
//! in go-proxmox's PVE 7.4 recordings, `loadavg` and `cpuinfo.mhz` always), booleans as `0`/`1`,
//! optional fields are simply absent (`pid`/`uptime` on stopped guests, `template` unless 1, `cpu`/`mem`
//! on offline nodes), and every release adds fields. So every number and boolean goes through the
//! lenient helpers in [`de`], and no type here denies unknown fields.
//!
//! One sub-module per concern, each with its endpoints' readers and parsers, all re-exported here:
//! `node` (status, version), `cluster` (resources, nodes, quorum), `guests` (lists, configs),
//! `storage` (storages, disks), `tasks` (tasks, UPIDs, task logs), `backup` (backup jobs, vzdump
//! per-guest results), `replication` and `rrd`. The argv builders, the one path to the host that
//! every reader takes and the JSON plumbing every parser shares are here.

mod backup;
mod cluster;
mod guests;
mod node;
mod replication;
mod rrd;
mod storage;
mod tasks;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::host::{Host, ToolError};
use crate::model::pve::de;

pub use crate::model::pve::{
    BackupJob, BootInfo, ClusterInfo, ClusterNode, ClusterResource, ClusterStatus, CpuInfo, CurrentKernel,
    DiskInfo, DiskType, Guest, GuestBackupResult, GuestConfig, GuestKind, Ksm, NodeResource, NodeStatus,
    NodeStorage, ReplicationJob, RrdPoint, StorageResource, Task, TaskOutcome, Usage, Version,
    classify_task_status,
};

pub use backup::{backup_jobs, parse_backup_jobs, parse_vzdump_results};
pub use cluster::{
    cluster_resources, cluster_status, nodes, parse_cluster_resources, parse_cluster_status, parse_nodes,
};
pub use guests::{guest_config, guests, parse_guest_config, parse_lxc_list, parse_qemu_list};
pub use node::{node_status, parse_node_status, parse_version, version};
pub use replication::{parse_replication, replication};
pub use rrd::{guest_rrddata, parse_rrddata};
pub use storage::{disks, node_storage, parse_disks, parse_node_storage};
pub use tasks::{
    TASK_LOG_LINES, Upid, parse_task_log, parse_tasks, parse_upid, task_log, task_log_argv, tasks,
};

// ---------------------------------------------------------------------------------------------------
// argv builders and the host (every reader in the sub-modules does its I/O through `get`/`run`)
// ---------------------------------------------------------------------------------------------------

/// `pvesh get <path> --output-format json`.
pub fn argv(path: &str) -> Vec<String> {
    ["pvesh", "get", path, "--output-format", "json"].map(String::from).to_vec()
}

/// `pvesh get <path> --timeframe <tf> --output-format json`: the API's query parameter
/// (`rrddata?timeframe=hour`) becomes a CLI option for pvesh.
pub fn rrd_argv(path: &str, timeframe: &str) -> Vec<String> {
    ["pvesh", "get", path, "--timeframe", timeframe, "--output-format", "json"].map(String::from).to_vec()
}

async fn run(host: &Host, argv: Vec<String>) -> Result<String, ToolError> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    host.run_ok(&argv).await
}

async fn get(host: &Host, path: &str) -> Result<String, ToolError> {
    run(host, argv(path)).await
}

// ---------------------------------------------------------------------------------------------------
// JSON plumbing
// ---------------------------------------------------------------------------------------------------

/// Strips the HTTP API's `{"data": ...}` envelope, returning the payload text as `pvesh` would print
/// it (the original formatting is kept, so line numbers in later errors still match the file).
pub fn unwrap_data(text: &str) -> Result<String, ToolError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let env: Envelope<'_> = from_json("API response envelope", text)?;
    Ok(env.data.get().to_string())
}

fn from_json<'a, T: Deserialize<'a>>(what: &str, text: &'a str) -> Result<T, ToolError> {
    serde_json::from_str(text).map_err(|e| json_error(what, text, &e))
}

/// A serde_json error as a [`ToolError::Parse`] naming the line. pvesh prints the whole payload on one
/// line (often tens of KiB for `/cluster/resources`), so the quoted text is the window around the
/// error's column rather than the whole line.
fn json_error(what: &str, text: &str, e: &serde_json::Error) -> ToolError {
    let line_no = e.line().max(1);
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let col = e.column().min(line.len());
    let mut start = col.saturating_sub(80);
    while !line.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (col + 40).min(line.len());
    while !line.is_char_boundary(end) {
        end += 1;
    }
    ToolError::parse(what, line_no, &line[start..end], e.to_string())
}

fn owned<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, ToolError> {
    from_json(what, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($f:literal) => {
            include_str!(concat!("../../../tests/fixtures/upstream/pvesh/", $f))
        };
    }
    macro_rules! demo {
        ($f:literal) => {
            include_str!(concat!("../../../scenarios/demo/commands/pvesh/", $f))
        };
    }
    pub(super) use {demo, fixture};

    pub(super) fn api(text: &str) -> String {
        unwrap_data(text).unwrap()
    }

    pub(super) fn count<'a>(
        guests: impl IntoIterator<Item = &'a Guest>,
        kind: GuestKind,
        status: &str,
    ) -> usize {
        guests.into_iter().filter(|g| g.kind == kind && g.status == status).count()
    }

    #[test]
    fn argv_shapes() {
        assert_eq!(argv("/version"), ["pvesh", "get", "/version", "--output-format", "json"]);
        assert_eq!(
            rrd_argv("/nodes/pve/qemu/100/rrddata", "hour"),
            ["pvesh", "get", "/nodes/pve/qemu/100/rrddata", "--timeframe", "hour", "--output-format", "json"]
        );
    }

    #[test]
    fn api_fixture_without_envelope_is_an_error() {
        let err = unwrap_data("[1,2]").unwrap_err();
        assert!(matches!(err, ToolError::Parse { .. }), "{err}");
        assert_eq!(unwrap_data(r#"{"data":[{"a":1}]}"#).unwrap(), r#"[{"a":1}]"#);
    }

    #[test]
    fn malformed_json_names_endpoint_and_line() {
        let err = parse_cluster_resources("[\n{\"type\":\"qemu\",\"vmid\":100},\n{\"type\":\"node\",,}\n]")
            .unwrap_err();
        let ToolError::Parse { what, line, text, .. } = &err else { panic!("{err}") };
        assert_eq!((what.as_str(), *line), ("pvesh get /cluster/resources", 3));
        assert!(text.contains(",,"), "{text}");
        // A wrong type inside an entry names the entry.
        let err = parse_cluster_resources(r#"[{"type":"qemu","id":"qemu/7","vmid":"seven"}]"#).unwrap_err();
        assert!(err.to_string().contains("qemu/7") && err.to_string().contains("seven"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        // Truncated one-line pvesh output (killed on timeout).
        let full = demo!("nodes_tasks.json");
        let err = parse_tasks(&full[..full.len() / 2]).unwrap_err();
        assert!(matches!(err, ToolError::Parse { line: 1, .. }), "{err}");
        assert!(parse_node_status("").is_err());
        assert!(parse_version("not json").unwrap_err().to_string().contains("pvesh get /version"));
    }
}
