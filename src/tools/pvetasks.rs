//! Proxmox's task files, read instead of `pvesh get /nodes/{node}/tasks` (issue 15): pure parsers that
//! follow their writers and readers.
//! - `/var/log/pve/tasks/index` (and `index.1`, the previous one once it passes 50 000 bytes): one
//!   line per finished task, `UPID ENDTIME STATUS` with the end time as 8 hex digits, appended by
//!   pve-common `PVE::RESTEnvironment::active_workers` (`sprintf("%s %08X %s\n", …)`) and read by
//!   pve-manager `PVE/API2/Tasks.pm` with `^(\S+)(\s([0-9A-Za-z]{8})(\s(\S.*))?)?$`;
//! - `/var/log/pve/tasks/active`: the running tasks and the last finished ones, `UPID SAVED
//!   [ENDTIME [STATUS]]` (pve-common `PVE::INotify::write_active_workers`, read with
//!   `^(\S+)\s(0|1)(\s([0-9A-Za-z]{8})(\s(\s*\S.*))?)?$`); `SAVED` 1 means it is in the index already.
//!
//! As PVE's readers do, a line that does not match is skipped (and counted), not fatal: one torn
//! line must not hide the task list.

use crate::model::pve::Task;
use crate::tools::pvesh::parse_upid;

pub const INDEX: &str = "/var/log/pve/tasks/index";
pub const INDEX_OLD: &str = "/var/log/pve/tasks/index.1";
pub const ACTIVE: &str = "/var/log/pve/tasks/active";

/// The task a UPID names, with its end and status when known.
fn task(upid: &str, end: Option<&str>, status: Option<&str>) -> Option<Task> {
    let u = parse_upid(upid).ok()?;
    let endtime = match end {
        Some(e) => Some(u64::from_str_radix(e, 16).ok()?),
        None => None,
    };
    Some(Task {
        upid: upid.to_string(),
        node: u.node,
        pid: u.pid,
        pstart: u.pstart,
        starttime: u.starttime,
        endtime,
        kind: u.kind,
        id: u.id,
        user: u.user,
        status: status.map(str::to_string),
    })
}

fn is_time(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// One `index` line; `None` where PVE's reader would skip it.
pub fn parse_index_line(line: &str) -> Option<Task> {
    let line = line.trim_end_matches(['\n', '\r']);
    let (upid, rest) = match line.split_once(char::is_whitespace) {
        Some((u, r)) => (u, Some(r)),
        None => (line, None),
    };
    if upid.is_empty() || upid.chars().any(char::is_whitespace) {
        return None;
    }
    let Some(rest) = rest else { return task(upid, None, None) };
    let (end, status) = match rest.split_once(char::is_whitespace) {
        Some((e, s)) => (e, Some(s)),
        None => (rest, None),
    };
    if !is_time(end) {
        return None;
    }
    // `(\S.*)`: the status starts with a non-space character.
    let status = match status {
        Some(s) if s.starts_with(|c: char| !c.is_whitespace()) => Some(s),
        Some(_) => return None,
        None => None,
    };
    task(upid, Some(end), status)
}

/// One `active` line and its `saved` flag; `None` where PVE's reader would skip it.
pub fn parse_active_line(line: &str) -> Option<(Task, bool)> {
    let line = line.trim_end_matches(['\n', '\r']);
    let mut it = line.splitn(3, ' ');
    let upid = it.next()?;
    let saved = match it.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let Some(rest) = it.next() else { return task(upid, None, None).map(|t| (t, saved)) };
    let (end, status) = match rest.split_once(' ') {
        Some((e, s)) => (e, Some(s.trim_start()).filter(|s| !s.is_empty())),
        None => (rest, None),
    };
    if !is_time(end) {
        return None;
    }
    task(upid, Some(end), status).map(|t| (t, saved))
}

/// The node's task list as `pvesh get /nodes/{node}/tasks --source all` gives it: the active file's
/// tasks that are not archived yet first (running ones without a status), then the index newest
/// first, then `index.1`; at most `limit`. Also how many lines were skipped as unreadable.
pub fn task_list(
    active: Option<&str>,
    index: Option<&str>,
    index_old: Option<&str>,
    limit: usize,
) -> (Vec<Task>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in active.unwrap_or("").lines().filter(|l| !l.trim().is_empty()) {
        match parse_active_line(line) {
            Some((_, true)) => {}
            Some((t, false)) => out.push(t),
            None => skipped += 1,
        }
    }
    for file in [index, index_old].into_iter().flatten() {
        for line in file.lines().rev().filter(|l| !l.trim().is_empty()) {
            if out.len() >= limit {
                break;
            }
            match parse_index_line(line) {
                Some(t) => out.push(t),
                None => skipped += 1,
            }
        }
    }
    out.truncate(limit);
    (out, skipped)
}

/// Where a task's log file is: `/var/log/pve/tasks/<last hex digit of starttime>/<UPID>`
/// (`PVE::UPID::decode`: `substr($starttime_hex, 7, 8)`).
pub fn log_path(upid: &str) -> Option<String> {
    let start = upid.split(':').nth(4)?;
    let last = start.get(7..8)?;
    parse_upid(upid).ok()?;
    Some(format!("/var/log/pve/tasks/{last}/{upid}"))
}

/// A task log's line is short: this many bytes a line bound the read of a huge log.
pub const LOG_LINE_BYTES: usize = 256;

/// Tasks listed at most (PVE's API default).
pub const LIST_LIMIT: usize = 50;

/// The task list from the files, or why it cannot be read from them (the caller falls back to
/// `pvesh`): neither `index` nor `active` exists (no task ever ran, or not a PVE host), or one cannot
/// be read.
pub fn read_list(host: &crate::host::Host) -> Result<Vec<Task>, String> {
    let read = |p: &str| host.read_optional(p).map_err(|e| format!("{p}: {e}"));
    let (index, active) = (read(INDEX)?, read(ACTIVE)?);
    if index.is_none() && active.is_none() {
        return Err(format!("no {INDEX}"));
    }
    let old = read(INDEX_OLD)?;
    let (mut list, skipped) = task_list(active.as_deref(), index.as_deref(), old.as_deref(), LIST_LIMIT);
    // A replayed recording moved in time (the demo) moves its tasks' times too; the UPIDs stay, as
    // they do in its pvesh answers.
    let shift = host.time_shift_s();
    if shift != 0 {
        let moved = |t: u64| t.saturating_add_signed(shift);
        for t in &mut list {
            t.starttime = moved(t.starttime);
            t.endtime = t.endtime.map(moved);
        }
    }
    if skipped > 0 {
        tracing::debug!(skipped, "task index lines PVE's reader would skip too");
    }
    Ok(list)
}

/// A task's log from its file: the first `max` lines, as `pvesh get …/log --limit` gives them.
/// `Err` says why the file cannot serve (the caller falls back to `pvesh`).
pub fn read_log(host: &crate::host::Host, upid: &str, max: usize) -> Result<Vec<String>, String> {
    let path = log_path(upid).ok_or_else(|| "not a UPID".to_string())?;
    match host.read_head(&path, max.saturating_mul(LOG_LINE_BYTES)) {
        Ok(Some(text)) => Ok(text.lines().take(max).map(str::to_string).collect()),
        Ok(None) => Err(format!("no {path}")),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written exactly as `active_workers` and `write_active_workers` write them.
    const INDEX_TEXT: &str = "\
UPID:pve1:00001A2B:0003C4D5:6751A000:vzdump::root@pam: 6751A3F0 OK
UPID:pve1:00001B00:0003C500:6751B000:qmstart:100:root@pam: 6751B004 OK
UPID:pve1:00001B10:0003C510:6751B100:vzdump:101:root@pam: 6751B2A0 WARNINGS: 2
UPID:pve1:00001B20:0003C520:6751B200:qmshutdown:102:root@pam!ci: 6751B250 VM quit/powerdown failed - got timeout
UPID:pve1:00001B30:0003C530:6751B300:aptupdate::root@pam: 6751B330 unexpected status
torn line without a time
UPID:pve1:00001B40:0003C540:6751B400:vncproxy:100:alice@pve: 6751B400
";

    const ACTIVE_TEXT: &str = "\
UPID:pve1:00002000:0004C000:6751C000:vzdump:103:root@pam: 0
UPID:pve1:00001B40:0003C540:6751B400:vncproxy:100:alice@pve: 1 6751B400
UPID:pve1:00002100:0004C100:6751C100:qmigrate:104:root@pam: 0 6751C1F0 migration aborted
";

    #[test]
    fn index_lines_with_every_status_form() {
        let t = parse_index_line(
            "UPID:pve1:00001B10:0003C510:6751B100:vzdump:101:root@pam: 6751B2A0 WARNINGS: 2",
        )
        .unwrap();
        assert_eq!((t.kind.as_str(), t.id.as_str(), t.user.as_str()), ("vzdump", "101", "root@pam"));
        assert_eq!((t.pid, t.pstart, t.starttime), (0x1B10, 0x3C510, 0x6751B100));
        assert_eq!(t.endtime, Some(0x6751B2A0));
        assert_eq!(t.status.as_deref(), Some("WARNINGS: 2"));
        let err = parse_index_line(
            "UPID:pve1:00001B20:0003C520:6751B200:qmshutdown:102:root@pam!ci: 6751B250 VM quit/powerdown failed - got timeout",
        )
        .unwrap();
        assert_eq!(err.status.as_deref(), Some("VM quit/powerdown failed - got timeout"));
        assert_eq!(err.user, "root@pam!ci");
        // An end time and no status; a node-wide task with an empty id.
        assert_eq!(
            parse_index_line("UPID:pve1:00001B40:0003C540:6751B400:vncproxy:100:alice@pve: 6751B400")
                .unwrap()
                .status,
            None
        );
        assert_eq!(
            parse_index_line("UPID:pve1:00001A2B:0003C4D5:6751A000:vzdump::root@pam: 6751A3F0 OK")
                .unwrap()
                .id,
            ""
        );
        // What PVE's reader skips.
        for bad in [
            "torn line without a time",
            "UPID:pve1:1:2:3:x:y:z: zz OK",
            "UPID:pve1:00001A2B:0003C4D5:6751A000:vzdump::root@pam: 6751A3F0  OK",
            "",
        ] {
            assert!(parse_index_line(bad).is_none(), "{bad:?}");
        }
        // A pstart of 9 hex digits (an uptime over 497 days) is valid.
        assert!(
            parse_index_line("UPID:pve1:00001A2B:10003C4D5:6751A000:vzdump::root@pam: 6751A3F0 OK").is_some()
        );
    }

    #[test]
    fn the_list_pve_shows_running_first_then_the_archive_newest_first() {
        let (list, skipped) = task_list(Some(ACTIVE_TEXT), Some(INDEX_TEXT), None, 50);
        assert_eq!(skipped, 1, "the torn index line");
        let ids: Vec<&str> = list.iter().map(|t| t.id.as_str()).collect();
        // active, not yet saved: 103 (running) and 104 (ended, not archived); then the index backwards.
        assert_eq!(ids, ["103", "104", "100", "", "102", "101", "100", ""]);
        assert_eq!(list[0].status, None, "running");
        assert_eq!(list[1].status.as_deref(), Some("migration aborted"));
        assert_eq!(list[1].endtime, Some(0x6751C1F0));
        let (few, _) = task_list(
            Some(ACTIVE_TEXT),
            Some(INDEX_TEXT),
            Some("UPID:pve1:00000001:00000001:60000000:old::root@pam: 60000001 OK\n"),
            3,
        );
        assert_eq!(few.len(), 3);
        let (with_old, _) = task_list(
            None,
            Some(INDEX_TEXT),
            Some("UPID:pve1:00000001:00000001:60000000:old::root@pam: 60000001 OK\n"),
            50,
        );
        assert_eq!(with_old.last().unwrap().kind, "old", "index.1 comes after the index");
    }

    #[test]
    fn a_tasks_log_file() {
        assert_eq!(
            log_path("UPID:pve1:00001B10:0003C510:6751B10E:vzdump:101:root@pam:").as_deref(),
            Some("/var/log/pve/tasks/E/UPID:pve1:00001B10:0003C510:6751B10E:vzdump:101:root@pam:")
        );
        assert_eq!(log_path("UPID:bad"), None);
    }
}
