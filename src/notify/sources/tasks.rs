//! Proxmox tasks and replication jobs from the inventory snapshot, as events: a backup run's outcome
//! (`backup.ok`, `backup.warnings`, `backup.failed` naming the failed guests), a guest's start, stop or
//! migration (`guest.*`), a replication job starting to fail and working again. [`TaskWatch`] keeps
//! the baseline between steps (and, serialised, across restarts): the first good task list only sets
//! it, so neither a first start nor a restart announces old tasks.
//!
//! How "new" is decided: PVE lists the node's last 50 finished tasks (`/nodes/{node}/tasks`,
//! PVE/API2/Tasks.pm) with an `endtime` in whole seconds, and a task reaches that list when a daemon
//! moves it from the active list to the archive, not always in the order tasks ended. So the watch
//! keeps a watermark (the newest end handled) and the UPIDs it handled that ended within
//! [`SLACK_S`] of it: a task is new when it ended after `watermark - SLACK_S` and its UPID is not in
//! that set (same-second ends and late arrivals are both caught; the engine's fingerprint
//! `task:<upid>` is the second guard).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{duration, guest_label, utc};
use crate::model::inventory::Inventory;
use crate::model::pve::{ReplicationJob, Task, TaskOutcome};
use crate::model::section::SectionState;
use crate::notify::{Event, Severity};

/// How far before the watermark a task may end and still be new (listed late).
pub const SLACK_S: u64 = 600;
/// UPIDs remembered at most (the list PVE serves holds 50).
const MAX_RECENT: usize = 512;
/// How long a finished backup-job run waits for the inventory poller to read its log (the guests it
/// failed) before it is announced with the run's own verdict only. The poller reads a couple of logs
/// per step, right after the task list (`workers::inventory::poll_job_logs`).
pub const JOB_LOG_WAIT_MS: i64 = 10 * 60_000;
/// Tasks that ended longer ago than this are taken silently (a restart after a long stop announces
/// the last day, not a week of history; the health rules still report failed backups).
pub const MAX_AGE_MS: i64 = 24 * 3_600_000;

/// What the tasks source remembers between steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskWatch {
    /// The newest task end handled (unix s); `None` until the first good task list, the baseline.
    #[serde(default)]
    watermark: Option<u64>,
    /// UPIDs handled that ended within [`SLACK_S`] of the watermark, with their end.
    #[serde(default)]
    recent: BTreeMap<String, u64>,
    /// Backup-job runs waiting for their log to be read: UPID → first seen (unix ms).
    #[serde(default)]
    waiting: BTreeMap<String, i64>,
    /// Replication jobs by id; `None` until the first good list, the baseline.
    #[serde(default)]
    replication: Option<BTreeMap<String, ReplState>>,
}

/// One replication job as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ReplState {
    failing: bool,
    /// When the current failure started (the failed try, unix s): names the occurrence.
    since: u64,
}

impl TaskWatch {
    /// Folds one inventory snapshot in. A section that is not `ok` (pending, unavailable, failing
    /// with its last good data) changes nothing and emits nothing.
    pub fn step(&mut self, inv: &Inventory, now_ms: i64) -> Vec<Event> {
        let mut out = Vec::new();
        if inv.tasks.state == SectionState::Ok
            && let Some(tasks) = &inv.tasks.data
        {
            self.tasks(inv, tasks, now_ms, &mut out);
        }
        if inv.replication.state == SectionState::Ok
            && let Some(jobs) = &inv.replication.data
        {
            self.replication(inv, jobs, now_ms, &mut out);
        }
        out
    }

    fn tasks(&mut self, inv: &Inventory, tasks: &[Task], now_ms: i64, out: &mut Vec<Event>) {
        let now_s = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
        let mut finished: Vec<(&Task, u64)> = tasks
            .iter()
            .filter(|t| !matches!(t.outcome(), TaskOutcome::Running))
            .filter(|t| inv.node.is_empty() || t.node.is_empty() || t.node == inv.node)
            .filter_map(|t| t.endtime.map(|e| (t, e)))
            .collect();
        finished.sort_by(|a, b| (a.1, &a.0.upid).cmp(&(b.1, &b.0.upid)));
        let newest = finished.last().map(|(_, e)| *e);
        let Some(mark) = self.watermark else {
            // The baseline: everything listed now is history.
            let mark = newest.unwrap_or(now_s);
            self.watermark = Some(mark);
            self.recent = finished
                .iter()
                .filter(|(_, e)| *e + SLACK_S > mark)
                .map(|(t, e)| (t.upid.clone(), *e))
                .collect();
            self.bound();
            return;
        };
        // A clock set back must not hide every task until it catches up again.
        let mark = mark.min(now_s.max(newest.unwrap_or(0)));
        let floor = mark.saturating_sub(SLACK_S);
        for (t, end) in &finished {
            if self.recent.contains_key(&t.upid) || (*end <= floor && !self.waiting.contains_key(&t.upid)) {
                continue;
            }
            if is_job_run(t) && !inv.job_results.contains_key(&t.upid) {
                let first = *self.waiting.entry(t.upid.clone()).or_insert(now_ms);
                if now_ms - first < JOB_LOG_WAIT_MS {
                    continue;
                }
            }
            self.waiting.remove(&t.upid);
            self.recent.insert(t.upid.clone(), *end);
            let end_ms = i64::try_from(*end).unwrap_or(i64::MAX / 1000) * 1000;
            if now_ms - end_ms > MAX_AGE_MS {
                continue;
            }
            out.extend(task_event(inv, t));
        }
        let mark = mark.max(newest.unwrap_or(0));
        self.watermark = Some(mark);
        self.recent.retain(|_, e| *e + SLACK_S > mark);
        // A run that left the list (or whose section came back without it) waits no more.
        let listed: BTreeSet<&str> = finished.iter().map(|(t, _)| t.upid.as_str()).collect();
        self.waiting.retain(|u, _| listed.contains(u.as_str()));
        self.bound();
    }

    fn bound(&mut self) {
        while self.recent.len() > MAX_RECENT {
            let oldest = self.recent.iter().min_by_key(|(u, e)| (**e, (*u).clone())).map(|(u, _)| u.clone());
            match oldest {
                Some(u) => self.recent.remove(&u),
                None => break,
            };
        }
    }

    fn replication(&mut self, inv: &Inventory, jobs: &[ReplicationJob], now_ms: i64, out: &mut Vec<Event>) {
        let now_s = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
        let Some(prev) = &self.replication else {
            let base = jobs
                .iter()
                .map(|j| {
                    (j.id.clone(), ReplState { failing: j.failing(), since: j.last_try.unwrap_or(now_s) })
                })
                .collect();
            self.replication = Some(base);
            return;
        };
        let mut next = BTreeMap::new();
        for j in jobs {
            let failing = j.failing();
            let state = match prev.get(&j.id) {
                // A job not seen before that already fails (created since, or back in the list) has
                // failed since it was last known: announced too.
                None if failing => {
                    let s = ReplState { failing, since: j.last_try.unwrap_or(now_s) };
                    out.push(replication_failed(inv, j, s.since, now_ms));
                    s
                }
                Some(p) if failing && !p.failing => {
                    let s = ReplState { failing, since: j.last_try.unwrap_or(now_s) };
                    out.push(replication_failed(inv, j, s.since, now_ms));
                    s
                }
                Some(p) if !failing && p.failing => {
                    out.push(replication_recovered(inv, j, now_ms));
                    ReplState { failing, since: j.last_sync.unwrap_or(now_s) }
                }
                Some(p) => *p,
                None => ReplState { failing, since: now_s },
            };
            next.insert(j.id.clone(), state);
        }
        // Jobs that left the list are forgotten.
        self.replication = Some(next);
    }
}

/// A run of a scheduled backup job: PVE gives it an empty id when it covers several guests
/// (PVE/API2/VZDump.pm names the task after the guest only when there is exactly one).
fn is_job_run(t: &Task) -> bool {
    t.kind == "vzdump" && t.id.is_empty()
}

fn ms(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / 1000) * 1000
}

/// The event of one finished task, if its type is one the catalog knows.
pub fn task_event(inv: &Inventory, t: &Task) -> Option<Event> {
    let (ok_kind, failed_kind) = match t.kind.as_str() {
        "vzdump" => return Some(backup_event(inv, t)),
        "qmstart" | "vzstart" => ("guest.started", "guest.start_failed"),
        "qmstop" | "qmshutdown" | "vzstop" | "vzshutdown" => ("guest.stopped", "guest.stop_failed"),
        "qmigrate" | "vzmigrate" => ("guest.migrated", "guest.migrate_failed"),
        _ => return None,
    };
    let vmid: u64 = t.id.parse().ok()?;
    let kind = if t.outcome().is_failed() { failed_kind } else { ok_kind };
    let end = t.endtime.unwrap_or(t.starttime);
    Some(
        Event::new(kind, format!("task:{}", t.upid), format!("{kind}:{vmid}"), ms(end))
            .field("guest", guest_label(inv, vmid))
            .field("status", t.status.clone().unwrap_or_default())
            .field("upid", t.upid.clone())
            .field("user", t.user.clone())
            .linked(format!("/vms/{vmid}")),
    )
}

fn backup_event(inv: &Inventory, t: &Task) -> Event {
    let single: Option<u64> = t.id.parse().ok();
    let results = inv.job_results.get(&t.upid);
    // The guests of the run: the one it is named after, or those its log names.
    let guests: Vec<u64> = match (single, results) {
        (Some(v), _) => vec![v],
        (None, Some(r)) => r.keys().copied().collect(),
        (None, None) => Vec::new(),
    };
    let status = t.status.clone().unwrap_or_default();
    let outcome = t.outcome();
    let failed: Vec<String> = match (single, results) {
        (Some(v), _) if outcome.is_failed() => vec![format!("{}: {status}", guest_label(inv, v))],
        (_, Some(r)) => r
            .iter()
            .filter(|(_, g)| !g.ok)
            .map(|(v, g)| match &g.error {
                Some(e) => format!("{}: {e}", guest_label(inv, *v)),
                None => guest_label(inv, *v),
            })
            .collect(),
        _ => Vec::new(),
    };
    let (kind, severity) = if outcome.is_failed() || !failed.is_empty() {
        ("backup.failed", Severity::Critical)
    } else if let TaskOutcome::Warnings(_) = outcome {
        ("backup.warnings", Severity::Warning)
    } else {
        ("backup.ok", Severity::Info)
    };
    let job = job_name(inv, t, single, &guests);
    let end = t.endtime.unwrap_or(t.starttime);
    let mut ev = Event::new(kind, format!("task:{}", t.upid), format!("{kind}:{job}"), ms(end))
        .field("job", job)
        .field("status", status)
        .field("duration", duration(end.saturating_sub(t.starttime)))
        .field("upid", t.upid.clone())
        .field("user", t.user.clone())
        .field("started", utc(ms(t.starttime)));
    ev.severity = severity;
    if !guests.is_empty() {
        let names: Vec<String> = guests.iter().map(|v| guest_label(inv, *v)).collect();
        ev = ev.field("guests", names.join(", "));
    }
    if kind == "backup.failed" {
        let failed = if !failed.is_empty() {
            failed.join("; ")
        } else if results.is_some() {
            // Every guest's backup finished, yet the run failed (a hook script, pruning, the storage).
            "none (the run itself failed)".to_string()
        } else {
            "unknown (the run's log could not be read)".to_string()
        };
        ev = ev.field("failed_guests", failed);
    }
    match single {
        Some(v) => ev.linked(format!("/vms/{v}")),
        None => ev.linked("/logs"),
    }
}

/// The backup job a run belongs to, as `comment (id)` or `id`: the task list does not say, so it is
/// the one enabled job for this node whose guests are exactly the run's (a job run backs up what the
/// job covers on its node). Otherwise the guest's label for a one-guest run ("Backup now"), or
/// `backup run`.
fn job_name(inv: &Inventory, t: &Task, single: Option<u64>, guests: &[u64]) -> String {
    let fallback = || match single {
        Some(v) => guest_label(inv, v),
        None => "backup run".to_string(),
    };
    if guests.is_empty() {
        return fallback();
    }
    let run: BTreeSet<u64> = guests.iter().copied().collect();
    let node = if inv.node.is_empty() { t.node.as_str() } else { inv.node.as_str() };
    let local: Vec<(u64, Option<&str>)> = inv
        .resources
        .data
        .iter()
        .flatten()
        .filter_map(|r| r.as_guest())
        .filter(|g| g.node.is_empty() || g.node == node)
        .map(|g| (g.vmid, g.pool.as_deref()))
        .collect();
    let matching: Vec<_> = inv
        .backup_jobs
        .data
        .iter()
        .flatten()
        .filter(|j| j.enabled && j.node.as_deref().is_none_or(|n| n == node))
        .filter(|j| {
            let covered: BTreeSet<u64> =
                local.iter().filter(|(v, pool)| j.covers(*v, *pool)).map(|(v, _)| *v).collect();
            covered == run
        })
        .collect();
    match matching.as_slice() {
        [j] => match j.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => format!("{c} ({})", j.id),
            None => j.id.clone(),
        },
        _ => fallback(),
    }
}

fn replication_failed(inv: &Inventory, j: &ReplicationJob, since: u64, now_ms: i64) -> Event {
    let ts = j.last_try.map(ms).unwrap_or(now_ms);
    Event::new(
        "replication.failed",
        format!("replication:{}:failed:{since}", j.id),
        format!("replication:{}", j.id),
        ts,
    )
    .field("job", j.id.clone())
    .field("guest", guest_label(inv, j.guest))
    .field("target", j.target.clone())
    .field("fail_count", j.fail_count.unwrap_or(1).to_string())
    .field("error", j.error.clone().unwrap_or_else(|| "no error text".to_string()))
    .field(
        "last_sync",
        j.last_sync.filter(|s| *s > 0).map(|s| utc(ms(s))).unwrap_or_else(|| "never".to_string()),
    )
    .linked(format!("/vms/{}", j.guest))
}

fn replication_recovered(inv: &Inventory, j: &ReplicationJob, now_ms: i64) -> Event {
    let at = j.last_sync.filter(|s| *s > 0);
    let ts = at.map(ms).unwrap_or(now_ms);
    let token = at.map_or_else(|| now_ms.div_euclid(1000).to_string(), |s| s.to_string());
    Event::new(
        "replication.recovered",
        format!("replication:{}:recovered:{token}", j.id),
        format!("replication:{}", j.id),
        ts,
    )
    .field("job", j.id.clone())
    .field("guest", guest_label(inv, j.guest))
    .field("target", j.target.clone())
    .linked(format!("/vms/{}", j.guest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::section::Section;
    use crate::notify::template::{Detail, render};
    use crate::tools::pvesh;

    const TASKS: &str = include_str!("../../../scenarios/demo/commands/pvesh/nodes_tasks.json");
    const RESOURCES: &str = include_str!("../../../scenarios/demo/commands/pvesh/cluster_resources.json");
    const JOB_LOG: &str = include_str!("../../../scenarios/demo/commands/tasklog/66AAEC20_vzdump_node.json");
    /// The nightly run in the demo's task list (`job errors`: VM 102 and CT 201 failed).
    const RUN: &str = "UPID:pve-demo:002BB139:071C6C45:66AAEC20:vzdump::root@pam:";

    fn ok<T>(data: T) -> Section<T> {
        let mut s = Section::default();
        s.ok(data, 1_722_499_000);
        s
    }

    fn inventory(tasks: Vec<Task>) -> Inventory {
        Inventory {
            node: "pve-demo".into(),
            resources: ok(pvesh::parse_cluster_resources(RESOURCES).unwrap()),
            tasks: ok(tasks),
            ..Default::default()
        }
    }

    fn all_tasks() -> Vec<Task> {
        pvesh::parse_tasks(TASKS).unwrap()
    }

    fn with_job_log(mut inv: Inventory) -> Inventory {
        let lines = pvesh::parse_task_log(JOB_LOG).unwrap();
        inv.job_results.insert(RUN.into(), pvesh::parse_vzdump_results(&lines));
        inv
    }

    const NOW: i64 = 1_722_498_963_000;

    #[test]
    fn the_first_list_is_a_baseline_and_later_tasks_are_announced_once() {
        let mut w = TaskWatch::default();
        // Yesterday evening's list: up to the container start at 1722445978.
        let early: Vec<Task> = all_tasks().into_iter().filter(|t| t.endtime <= Some(1_722_445_978)).collect();
        assert!(w.step(&inventory(early), 1_722_446_000_000).is_empty(), "a baseline emits nothing");
        let inv = with_job_log(inventory(all_tasks()));
        let evs = w.step(&inv, NOW);
        let got: Vec<(&str, &str)> =
            evs.iter().map(|e| (e.kind.as_str(), e.fields["upid"].as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("guest.stopped", "UPID:pve-demo:0029CAB6:06F0F3C1:66AA7CD7:vzshutdown:202:root@pam:"),
                ("backup.failed", RUN),
                ("backup.ok", "UPID:pve-demo:002BF6B4:072FA625:66AB1D58:vzdump:204:root@pam:"),
                ("backup.failed", "UPID:pve-demo:002BFDA1:07309085:66AB1FB0:vzdump:104:root@pam:"),
            ],
            "in the order they ended; snapshots, apt updates and consoles are not events"
        );
        assert!(evs.iter().all(|e| e.fingerprint == format!("task:{}", e.fields["upid"])));
        // The same list again, and again after a restart (the state as the engine stores it).
        assert!(w.step(&inv, NOW + 60_000).is_empty());
        let mut restored: TaskWatch = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(restored, w);
        assert!(restored.step(&inv, NOW + 120_000).is_empty());
    }

    #[test]
    fn a_failed_job_run_names_its_failed_guests_and_its_job() {
        let mut w = TaskWatch::default();
        let before: Vec<Task> = all_tasks().into_iter().filter(|t| t.endtime < Some(1_722_479_443)).collect();
        w.step(&inventory(before), 1_722_479_000_000);
        let mut inv = with_job_log(inventory(all_tasks()));
        // The run backed up every guest but the ones this job excludes.
        let jobs = r#"[{"id":"backup-5a2c9e41-7d3b","all":1,"exclude":"103,104,105,202,203,204,9000","comment":"nightly","enabled":1,"schedule":"02:00","storage":"pbs","type":"vzdump"},
                       {"id":"backup-0e81f3aa-29c4","vmid":"102","enabled":1,"schedule":"sun 04:30","type":"vzdump"}]"#;
        inv.backup_jobs = ok(pvesh::parse_backup_jobs(jobs).unwrap());
        let evs = w.step(&inv, 1_722_479_500_000);
        let run = evs.iter().find(|e| e.fields["upid"] == RUN).unwrap();
        assert_eq!(run.kind, "backup.failed");
        assert_eq!(run.severity, Severity::Critical);
        assert_eq!(run.fields["job"], "nightly (backup-5a2c9e41-7d3b)");
        assert_eq!(run.fields["status"], "job errors");
        assert_eq!(run.fields["duration"], "30m 43s");
        assert_eq!(
            run.fields["guests"],
            "100 (router), 101 (web), 102 (win11), 200 (pihole), 201 (nextcloud)"
        );
        assert_eq!(
            run.fields["failed_guests"],
            "102 (win11): VM 102 qmp command 'backup' failed - got timeout; 201 (nextcloud): CT is locked (backup)"
        );
        assert_eq!(run.cooldown_key, "backup.failed:nightly (backup-5a2c9e41-7d3b)");
        assert_eq!(run.link.as_deref(), Some("/logs"));
        let (title, body) = render(&run.kind, "en", Detail::Full, &run.fields);
        assert_eq!(title, "Backup FAILED: nightly (backup-5a2c9e41-7d3b)");
        assert!(body.contains("Failed guests: 102 (win11): VM 102"), "{body}");
        assert!(body.contains("Took: 30m 43s"), "{body}");
    }

    #[test]
    fn a_job_run_waits_a_while_for_its_log() {
        let mut w = TaskWatch::default();
        let before: Vec<Task> = all_tasks().into_iter().filter(|t| t.endtime < Some(1_722_479_443)).collect();
        w.step(&inventory(before), 1_722_479_000_000);
        let only_run: Vec<Task> =
            all_tasks().into_iter().filter(|t| t.endtime <= Some(1_722_479_443)).collect();
        let t0 = 1_722_479_450_000;
        assert!(w.step(&inventory(only_run.clone()), t0).is_empty(), "the log is not read yet");
        // The log could not be read: after the wait, the run's own verdict.
        let evs = w.step(&inventory(only_run.clone()), t0 + JOB_LOG_WAIT_MS);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind, "backup.failed");
        assert_eq!(evs[0].fields["failed_guests"], "unknown (the run's log could not be read)");
        assert_eq!(evs[0].fields["job"], "backup run");
        assert!(!evs[0].fields.contains_key("guests"));
        assert!(w.step(&inventory(only_run), t0 + JOB_LOG_WAIT_MS + 60_000).is_empty());
    }

    fn task(upid_hex: &str, kind: &str, id: &str, end: u64, status: &str) -> Task {
        Task {
            upid: format!("UPID:pve-demo:0000{upid_hex}:00000001:66AB0000:{kind}:{id}:root@pam:"),
            node: "pve-demo".into(),
            pid: 1,
            pstart: 1,
            starttime: end - 2,
            endtime: Some(end),
            kind: kind.into(),
            id: id.into(),
            user: "root@pam".into(),
            status: Some(status.into()),
        }
    }

    #[test]
    fn tasks_ending_in_the_baselines_second_or_listed_late_are_not_lost() {
        let mut w = TaskWatch::default();
        let a = task("0001", "qmstart", "101", 1000, "OK");
        w.step(&inventory(vec![a.clone()]), 1_001_000);
        // Same second as the watermark, and one that ended earlier but was archived only now.
        let b = task("0002", "qmstart", "102", 1000, "start failed: QEMU exited with code 1");
        let c = task("0003", "vzstop", "200", 990, "OK");
        let evs = w.step(&inventory(vec![a.clone(), b.clone(), c.clone()]), 1_002_000);
        let kinds: Vec<&str> = evs.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["guest.stopped", "guest.start_failed"]);
        let failed = &evs[1];
        assert_eq!(failed.fields["guest"], "102 (win11)");
        assert_eq!(failed.fields["status"], "start failed: QEMU exited with code 1");
        assert_eq!(failed.fields["user"], "root@pam");
        assert_eq!(failed.cooldown_key, "guest.start_failed:102");
        assert_eq!(failed.link.as_deref(), Some("/vms/102"));
        assert_eq!(failed.ts_ms, 1_000_000);
        assert!(w.step(&inventory(vec![a, b, c]), 1_003_000).is_empty());
        // A task far older than the slack is history even if never seen.
        let old = task("0004", "qmigrate", "101", 10, "migration aborted");
        assert!(w.step(&inventory(vec![old]), 1_004_000).is_empty());
        let late = task("0005", "qmigrate", "101", 1001, "migration aborted");
        let evs = w.step(&inventory(vec![late]), 1_005_000);
        assert_eq!((evs[0].kind.as_str(), evs[0].severity), ("guest.migrate_failed", Severity::Warning));
    }

    #[test]
    fn a_section_that_is_not_ok_changes_nothing() {
        let mut w = TaskWatch::default();
        let mut inv = inventory(all_tasks());
        inv.tasks.unavailable("pvesh: not a Proxmox VE host");
        inv.replication = Section::default();
        assert!(w.step(&inv, NOW).is_empty());
        assert_eq!(w, TaskWatch::default(), "no baseline from a missing section");
        w.step(&inventory(vec![]), 1_000_000);
        let before = w.clone();
        let mut stale = inventory(vec![task("0001", "qmstart", "101", 1500, "OK")]);
        stale.tasks.failed("timeout");
        assert!(w.step(&stale, 2_000_000).is_empty());
        assert_eq!(w, before);
        // An empty first list sets the baseline at now: what ends later is new.
        let evs = w.step(&inventory(vec![task("0001", "qmstart", "101", 1500, "OK")]), 2_000_000);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind, "guest.started");
        assert_eq!(evs[0].fields["guest"], "101 (web)");
    }

    fn repl(fail_count: u64, last_try: u64, last_sync: u64, error: Option<&str>) -> ReplicationJob {
        let mut v = serde_json::json!({"id":"100-0","guest":"100","target":"pve2","schedule":"*/15",
            "fail_count":fail_count,"last_try":last_try,"last_sync":last_sync});
        if let Some(e) = error {
            v["error"] = e.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn replication_failing_and_recovering() {
        let mut w = TaskWatch::default();
        let mut inv = inventory(vec![]);
        let at = |jobs: Vec<ReplicationJob>| {
            let mut inv = inventory(vec![]);
            inv.replication = ok(jobs);
            inv
        };
        inv.replication = ok(vec![repl(0, 1_722_470_400, 1_722_470_400, None)]);
        assert!(w.step(&inv, 1_722_470_500_000).is_empty());
        let failing = at(vec![repl(
            1,
            1_722_471_300,
            1_722_470_400,
            Some("command 'zfs snapshot' failed: got timeout"),
        )]);
        let evs = w.step(&failing, 1_722_471_400_000);
        assert_eq!(evs.len(), 1);
        let e = &evs[0];
        assert_eq!((e.kind.as_str(), e.severity), ("replication.failed", Severity::Critical));
        assert_eq!(e.fingerprint, "replication:100-0:failed:1722471300");
        assert_eq!(e.cooldown_key, "replication:100-0");
        assert_eq!(e.fields["guest"], "100 (router)");
        assert_eq!(e.fields["target"], "pve2");
        assert_eq!(e.fields["fail_count"], "1");
        assert_eq!(e.fields["error"], "command 'zfs snapshot' failed: got timeout");
        assert_eq!(e.fields["last_sync"], "2024-08-01 00:00:00 UTC");
        assert_eq!(e.link.as_deref(), Some("/vms/100"));
        // Still failing, more often: the same occurrence.
        let worse = at(vec![repl(3, 1_722_473_100, 1_722_470_400, Some("got timeout"))]);
        assert!(w.step(&worse, 1_722_473_200_000).is_empty());
        let fixed = at(vec![repl(0, 1_722_474_000, 1_722_474_000, None)]);
        let evs = w.step(&fixed, 1_722_474_100_000);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind, "replication.recovered");
        assert_eq!(evs[0].fingerprint, "replication:100-0:recovered:1722474000");
        let (_, body) = render("replication.recovered", "en", Detail::Full, &evs[0].fields);
        assert!(body.contains("Target: pve2"), "{body}");
        // Gone from the list: forgotten; back failing: a new occurrence.
        assert!(w.step(&at(vec![]), 1_722_475_000_000).is_empty());
        let again = at(vec![repl(1, 1_722_476_000, 1_722_474_000, None)]);
        let evs = w.step(&again, 1_722_476_100_000);
        assert_eq!(evs[0].fingerprint, "replication:100-0:failed:1722476000");
        assert_eq!(evs[0].fields["error"], "no error text");
    }
}
