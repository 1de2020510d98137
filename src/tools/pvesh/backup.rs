//! Backups: the scheduled jobs of `/cluster/backup` (`/etc/pve/jobs.cfg`) with which guests each
//! covers, and what one vzdump run did to each guest, read from its task log (PVE/VZDump.pm).

use std::collections::BTreeMap;

use super::{BackupJob, GuestBackupResult, get, owned};
use crate::host::{Host, ToolError};

/// `/cluster/backup`.
pub async fn backup_jobs(host: &Host) -> Result<Vec<BackupJob>, ToolError> {
    parse_backup_jobs(&get(host, "/cluster/backup").await?)
}

pub fn parse_backup_jobs(text: &str) -> Result<Vec<BackupJob>, ToolError> {
    owned("pvesh get /cluster/backup", text)
}

// ---------------------------------------------------------------------------------------------------
// what a backup-job run did to each guest
// ---------------------------------------------------------------------------------------------------

/// The per-guest verdicts in a vzdump log (PVE/VZDump.pm): `Starting Backup of VM <id> (<type>)`
/// opens a guest, `Finished Backup of VM <id> (<hh:mm:ss>)` closes it successfully, and
/// `ERROR: Backup of VM <id> failed - <msg>` closes it with an error. A guest opened but never closed
/// (the worker died) counts as failed. A job run reports `job errors` when any guest failed, so this is
/// how a failed run is attributed to the guests that really failed.
pub fn parse_vzdump_results(lines: &[String]) -> BTreeMap<u64, GuestBackupResult> {
    let mut out: BTreeMap<u64, GuestBackupResult> = BTreeMap::new();
    let vmid_after = |rest: &str| -> Option<u64> {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    for line in lines {
        let body = line.trim();
        let body = body.strip_prefix("INFO: ").or_else(|| body.strip_prefix("ERROR: ")).unwrap_or(body);
        if let Some(rest) = body.strip_prefix("Starting Backup of VM ") {
            if let Some(id) = vmid_after(rest) {
                out.insert(id, GuestBackupResult { ok: false, error: Some("did not finish".into()) });
            }
        } else if let Some(rest) = body.strip_prefix("Finished Backup of VM ") {
            if let Some(id) = vmid_after(rest) {
                out.insert(id, GuestBackupResult { ok: true, error: None });
            }
        } else if let Some(rest) = body.strip_prefix("Backup of VM ")
            && let Some(id) = vmid_after(rest)
            && let Some(msg) = rest.split_once(" failed - ").map(|(_, m)| m.trim())
        {
            out.insert(id, GuestBackupResult { ok: false, error: Some(msg.to_string()) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::super::tasks::parse_task_log;
    use super::super::tests::demo;
    use super::*;

    #[test]
    fn demo_backup_jobs() {
        let j = parse_backup_jobs(demo!("cluster_backup.json")).unwrap();
        assert_eq!(j.len(), 2);
        assert_eq!(j[0].vmids, [100, 101, 200, 201]);
        assert_eq!((j[0].schedule.as_deref(), j[0].storage.as_deref()), (Some("02:00"), Some("backup-nfs")));
        assert_eq!((j[0].enabled, j[0].all, j[0].mode.as_deref()), (true, false, Some("snapshot")));
        assert_eq!(j[0].next_run, Some(1722564000));
        assert!(j[0].covers(201, None) && !j[0].covers(202, None));
        assert_eq!((j[1].enabled, j[1].vmids.as_slice()), (false, &[102][..]));
        assert_eq!(j[1].next_run, None);
        let all = parse_backup_jobs(
            r#"[{"id":"b","all":1,"exclude":"100, 101","schedule":"sat 01:00","type":"vzdump"},
                {"id":"p","pool":"lab","vmid":105,"enabled":"0"}]"#,
        )
        .unwrap();
        assert!(all[0].enabled && all[0].all);
        assert_eq!(all[0].exclude, [100, 101]);
        assert!(all[0].covers(102, None) && !all[0].covers(101, None));
        assert!(!all[1].enabled && all[1].covers(300, Some("lab")) && !all[1].covers(300, None));
    }

    #[test]
    fn vzdump_job_log_gives_each_guest_its_own_verdict() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/demo/commands/tasklog/66AAEC20_vzdump_node.json"
        ))
        .unwrap();
        let lines = parse_task_log(&text).unwrap();
        let r = parse_vzdump_results(&lines);
        assert!(r[&100].ok && r[&101].ok && r[&200].ok, "{r:?}");
        assert_eq!(r[&102].error.as_deref(), Some("VM 102 qmp command 'backup' failed - got timeout"));
        assert_eq!(r[&201].error.as_deref(), Some("CT is locked (backup)"));
        // A guest started but never finished (the worker died) failed too.
        let cut = vec!["INFO: Starting Backup of VM 300 (qemu)".to_string()];
        assert_eq!(parse_vzdump_results(&cut)[&300].error.as_deref(), Some("did not finish"));
        // The single-guest form has the same lines.
        assert!(parse_vzdump_results(&["INFO: Finished Backup of VM 7 (00:00:02)".into()])[&7].ok);
        assert!(parse_task_log("[{\"n\":1}]").unwrap() == vec![String::new()]);
        assert!(parse_task_log("not json").is_err());
    }
}
