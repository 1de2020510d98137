//! The logs API: the system journal (pages newest first by cursor, the boots, a live follow stream)
//! and the Proxmox task list. Journal reads go through the journal service
//! ([`crate::workers::journal`]), which bounds them; the task list is served from the inventory
//! snapshot. Every filter is validated here and a malformed one is a 400 naming the parameter.

use std::convert::Infallible;

use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::ApiState;
use super::vms::outcome_name;
use super::{READ, Routes, json, query_pairs};
use crate::error::ApiError;
use crate::model::pve::Task;
use crate::model::section::SectionState;
use crate::tools::journal::{BootSel, Entry, Filter, Page, Query, unit_name};
use crate::workers::journal::JournalError;

pub fn routes() -> Routes {
    Routes::new()
        .get("/logs", READ, logs)
        .get("/logs/boots", READ, boots)
        .get("/logs/stream", READ, stream)
        .get("/tasks", READ, tasks)
        .get("/logs/cluster", READ, cluster_log)
}

/// The cluster log (every node's task starts and ends, HA and job messages): the inventory's section,
/// newest first, as `/etc/pve/.clusterlog` holds it.
async fn cluster_log(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    json(&inv.clusterlog)
}

/// Entries per page when the request does not say.
const DEFAULT_LIMIT: usize = 100;
/// Tasks served at most per request, and when the request does not say.
const MAX_TASKS: usize = 1000;
const DEFAULT_TASKS: usize = 200;

const PRIORITIES: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

fn bad(param: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{param}: {why}"))
}

/// `0`..`7` or a syslog level name (`err`, `warning`, ...; `error` and `warn` too).
fn parse_priority(v: &str) -> Result<u8, ApiError> {
    let v = v.trim().to_ascii_lowercase();
    if let Ok(n) = v.parse::<u8>() {
        return if n <= 7 { Ok(n) } else { Err(bad("priority", format!("must be 0..7 (got {n})"))) };
    }
    let alias = match v.as_str() {
        "error" => "err",
        "warn" => "warning",
        "emergency" => "emerg",
        "critical" => "crit",
        other => other,
    };
    PRIORITIES.iter().position(|p| *p == alias).map(|i| i as u8).ok_or_else(|| {
        bad("priority", format!("must be 0..7 or one of {} (got {v:?})", PRIORITIES.join(", ")))
    })
}

/// A unit name: systemd's unit name characters only, bounded.
fn parse_unit(v: &str) -> Result<String, ApiError> {
    let v = v.trim();
    let ok = !v.is_empty()
        && v.len() <= 256
        && !v.starts_with('-')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
    if !ok {
        return Err(bad("unit", format!("not a unit name (got {v:?})")));
    }
    Ok(unit_name(v))
}

/// Unix milliseconds, or an RFC 3339 time (`2024-08-01T08:00:00Z`).
fn parse_time(param: &str, v: &str) -> Result<i64, ApiError> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        if (0..=253_402_300_799_000).contains(&ms) {
            return Ok(ms * 1000);
        }
        return Err(bad(param, format!("{ms} is out of range")));
    }
    let t = humantime::parse_rfc3339_weak(v)
        .map_err(|e| bad(param, format!("not unix milliseconds or an RFC 3339 time ({e}; got {v:?})")))?;
    let d = t.duration_since(std::time::UNIX_EPOCH).map_err(|_| bad(param, "before 1970"))?;
    Ok(d.as_micros() as i64)
}

/// The journal filters of a query string; `now_us` bounds the time range.
fn parse_filter(pairs: &[(String, String)], max_range_days: u64, now_us: i64) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    for (k, v) in pairs {
        if v.trim().is_empty() {
            continue;
        }
        match k.as_str() {
            "priority" => f.priority = Some(parse_priority(v)?),
            "unit" => f.unit = Some(parse_unit(v)?),
            "boot" => f.boot = Some(BootSel::parse(v).map_err(|e| bad("boot", e))?),
            "since" => f.since_us = Some(parse_time("since", v)?),
            "until" => f.until_us = Some(parse_time("until", v)?),
            "q" => {
                if v.chars().count() > 200 || v.chars().any(char::is_control) {
                    return Err(bad("q", "at most 200 characters, no control characters"));
                }
                f.text = Some(v.trim().to_string());
            }
            _ => {}
        }
    }
    if let (Some(s), Some(u)) = (f.since_us, f.until_us)
        && u < s
    {
        return Err(bad("until", "is before since"));
    }
    if let Some(s) = f.since_us {
        let span_days = (f.until_us.unwrap_or(now_us).max(s) - s) / 86_400_000_000;
        if span_days as u64 >= max_range_days {
            return Err(bad(
                "since",
                format!("the time range may span at most {max_range_days} days (asked for {span_days}+)"),
            ));
        }
    }
    Ok(f)
}

fn parse_query(app: &ApiState, raw: Option<&str>) -> Result<Query, ApiError> {
    let cfg = app.journal.limits();
    let pairs = query_pairs(raw)?;
    let filter = parse_filter(&pairs, cfg.max_range_days, app.clock.now_ms() * 1000)?;
    let mut q = Query { filter, cursor: None, limit: DEFAULT_LIMIT.min(cfg.max_page) };
    for (k, v) in &pairs {
        match k.as_str() {
            "cursor" if !v.is_empty() => {
                if v.len() > 512 || !v.chars().all(|c| c.is_ascii_graphic()) {
                    return Err(bad("cursor", "not a journal cursor"));
                }
                q.cursor = Some(v.clone());
            }
            "limit" if !v.is_empty() => {
                let n: usize = v.trim().parse().map_err(|_| bad("limit", format!("not a number ({v:?})")))?;
                if n == 0 || n > cfg.max_page {
                    return Err(bad("limit", format!("must be 1..{} (got {n})", cfg.max_page)));
                }
                q.limit = n;
            }
            _ => {}
        }
    }
    Ok(q)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct LogsAnswer<'a> {
    /// `ok`, or `unavailable` (no journal on this host) with the reason.
    #[cfg_attr(test, ts(type = "\"ok\" | \"unavailable\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "unavailable"])))]
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    reason: Option<String>,
    entries: &'a [Entry],
    next_cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(test, ts(optional = nullable))]
    cursor_reset: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    note: Option<&'static str>,
}

/// One boot of `/api/logs/boots`.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct BootView<'a> {
    /// 0 is the current (newest) boot, -1 the one before, ...
    index: i64,
    boot_id: &'a str,
    /// Unix seconds of its first and last entry.
    #[cfg_attr(test, schemars(description = "Unix milliseconds of its first entry."))]
    first: i64,
    #[cfg_attr(test, schemars(description = "Unix milliseconds of its last entry."))]
    last: i64,
}

/// `/api/logs/boots`.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct BootsAnswer<'a> {
    /// `ok`, or `unavailable` (no journal on this host) with the reason.
    #[cfg_attr(test, ts(type = "\"ok\" | \"unavailable\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "unavailable"])))]
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    reason: Option<String>,
    boots: Vec<BootView<'a>>,
}

fn journal_error(e: JournalError, caller: crate::auth::Level) -> Response {
    match e {
        JournalError::Busy => ApiError::Busy { message: e.to_string(), retry_after: Some(1) }.into_response(),
        JournalError::Unavailable(m) => ApiError::unavailable(m).into_response(),
        JournalError::Failed(m) => {
            super::tool_error("the journal could not be read", &m, caller).into_response()
        }
    }
}

async fn logs(
    State(app): State<ApiState>,
    axum::Extension(p): axum::Extension<crate::auth::Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_query(&app, raw.as_deref())?;
    let page = match app.journal.query(q).await {
        Ok(p) => p,
        Err(JournalError::Unavailable(why)) => {
            return json(&LogsAnswer {
                state: "unavailable",
                reason: Some(why),
                entries: &[],
                next_cursor: None,
                cursor_reset: false,
                note: None,
            });
        }
        Err(e) => return Ok(journal_error(e, p.level)),
    };
    let Page { entries, next_cursor, cursor_reset } = &page;
    json(&LogsAnswer {
        state: "ok",
        reason: None,
        entries,
        next_cursor: next_cursor.as_deref(),
        cursor_reset: *cursor_reset,
        note: cursor_reset.then_some(
            "the cursor is no longer in the journal (rotated?); starting again from the newest entry",
        ),
    })
}

async fn boots(
    State(app): State<ApiState>,
    axum::Extension(p): axum::Extension<crate::auth::Principal>,
) -> Result<Response, ApiError> {
    match app.journal.boots().await {
        Ok(boots) => {
            let boots = boots
                .iter()
                .map(|b| BootView {
                    index: b.index,
                    boot_id: &b.boot_id,
                    first: b.first_entry.div_euclid(1000),
                    last: b.last_entry.div_euclid(1000),
                })
                .collect();
            json(&BootsAnswer { state: "ok", reason: None, boots })
        }
        Err(JournalError::Unavailable(why)) => {
            json(&BootsAnswer { state: "unavailable", reason: Some(why), boots: Vec::new() })
        }
        Err(e) => Ok(journal_error(e, p.level)),
    }
}

/// `text/event-stream`: `event: entries` with a JSON array of new entries (oldest first) that pass
/// this subscriber's filters (priority, unit, q; a time range or boot makes no sense for "from now
/// on" and is ignored), `event: reset` when the follower lost its place, `event: lagged` when this
/// client fell behind and missed entries.
async fn stream(
    State(app): State<ApiState>,
    axum::Extension(p): axum::Extension<crate::auth::Principal>,
    RawQuery(raw): RawQuery,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let pairs = query_pairs(raw.as_deref())?;
    let mut filter = parse_filter(&pairs, u64::MAX, app.clock.now_ms() * 1000)?;
    filter.boot = None;
    filter.since_us = None;
    filter.until_us = None;
    let permit = app.live_clients.take(&p.user, p.ip)?;
    let stop = app.cancel.clone().cancelled_owned();
    let rx = app.journal.subscribe();
    let events = BroadcastStream::new(rx)
        .filter_map(move |batch| {
            // The permit lives as long as the stream.
            let _held = &permit;
            let event = match batch {
                Ok(batch) => {
                    if batch.reset {
                        Some(Event::default().event("reset").data("{}"))
                    } else {
                        let mine: Vec<&Entry> =
                            batch.entries.iter().filter(|e| filter.matches(e, None)).collect();
                        if mine.is_empty() {
                            None
                        } else {
                            serde_json::to_string(&mine)
                                .ok()
                                .map(|d| Event::default().event("entries").data(d))
                        }
                    }
                }
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    Some(Event::default().event("lagged").data(format!("{{\"missed_batches\":{n}}}")))
                }
            };
            std::future::ready(event.map(Ok::<Event, Infallible>))
        })
        .take_until(stop);
    // nginx buffers a proxied answer unless told not to (docs/reverse-proxy.md).
    Ok(([("x-accel-buffering", "no")], Sse::new(events).keep_alive(KeepAlive::default())))
}

// ---------------------------------------------------------------------------------------------------
// Proxmox tasks, from the inventory snapshot
// ---------------------------------------------------------------------------------------------------

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct TaskRow<'a> {
    upid: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    /// The guest, when the task's object is one (its id is a number).
    vmid: Option<u64>,
    /// The task's object as PVE names it (a vmid, a storage, ... or empty).
    id: &'a str,
    user: &'a str,
    /// PVE's status text: `OK`, `WARNINGS: 2`, the error, or `null` while running.
    status: Option<&'a str>,
    /// `ok`, `warnings`, `failed`, `running`.
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "warnings", "failed", "running"])))]
    outcome: &'static str,
    /// Unix seconds.
    start: u64,
    end: Option<u64>,
    duration_s: Option<u64>,
    node: &'a str,
}

/// `/api/tasks`: the inventory's task section, its rows filtered and reshaped.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct TasksAnswer<'a> {
    state: SectionState,
    reason: Option<&'a str>,
    updated: Option<i64>,
    tasks: Vec<TaskRow<'a>>,
}

const OUTCOMES: [&str; 4] = ["ok", "warnings", "failed", "running"];

fn task_vmid(t: &Task) -> Option<u64> {
    t.id.parse().ok().filter(|v| (100..=999_999_999).contains(v))
}

#[derive(Default)]
struct TaskFilter {
    outcome: Option<&'static str>,
    kind: Option<String>,
    vmid: Option<u64>,
    user: Option<String>,
    limit: usize,
}

fn parse_task_filter(raw: Option<&str>) -> Result<TaskFilter, ApiError> {
    let mut f = TaskFilter { limit: DEFAULT_TASKS, ..Default::default() };
    for (k, v) in query_pairs(raw)? {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "status" => {
                let v = if v == "error" { "failed" } else { v };
                f.outcome = Some(OUTCOMES.into_iter().find(|o| *o == v).ok_or_else(|| {
                    bad("status", format!("must be one of {} (got {v:?})", OUTCOMES.join(", ")))
                })?);
            }
            "type" => {
                if v.len() > 32 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(bad("type", format!("not a task type (got {v:?})")));
                }
                f.kind = Some(v.to_string());
            }
            "vmid" => {
                let n: u64 = v.parse().map_err(|_| bad("vmid", format!("not a number ({v:?})")))?;
                if !(100..=999_999_999).contains(&n) {
                    return Err(bad("vmid", format!("must be 100..999999999 (got {n})")));
                }
                f.vmid = Some(n);
            }
            "user" => {
                if v.len() > 128 || v.chars().any(char::is_control) {
                    return Err(bad("user", "at most 128 characters"));
                }
                f.user = Some(v.to_string());
            }
            "limit" => {
                let n: usize = v.parse().map_err(|_| bad("limit", format!("not a number ({v:?})")))?;
                if n == 0 || n > MAX_TASKS {
                    return Err(bad("limit", format!("must be 1..{MAX_TASKS} (got {n})")));
                }
                f.limit = n;
            }
            _ => {}
        }
    }
    Ok(f)
}

async fn tasks(State(app): State<ApiState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let f = parse_task_filter(raw.as_deref())?;
    let inv = app.inventory.borrow().clone();
    let section = &inv.tasks;
    let mut list: Vec<&Task> = section
        .data
        .iter()
        .flatten()
        .filter(|t| f.outcome.is_none_or(|o| outcome_name(&t.outcome()) == o))
        .filter(|t| f.kind.as_ref().is_none_or(|k| &t.kind == k))
        .filter(|t| f.vmid.is_none_or(|v| task_vmid(t) == Some(v)))
        .filter(|t| {
            f.user.as_ref().is_none_or(|u| t.user == *u || t.user.split('!').next() == Some(u.as_str()))
        })
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.starttime));
    let rows: Vec<TaskRow> = list
        .into_iter()
        .take(f.limit)
        .map(|t| TaskRow {
            upid: &t.upid,
            kind: &t.kind,
            vmid: task_vmid(t),
            id: &t.id,
            user: &t.user,
            status: t.status.as_deref(),
            outcome: outcome_name(&t.outcome()),
            start: t.starttime,
            end: t.endtime,
            duration_s: t.endtime.map(|e| e.saturating_sub(t.starttime)),
            node: if t.node.is_empty() { &inv.node } else { &t.node },
        })
        .collect();
    json(&TasksAnswer {
        state: section.state,
        reason: section.reason.as_deref(),
        updated: section.updated,
        tasks: rows,
    })
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<LogsAnswer<'static>>();
    v.visit::<BootsAnswer<'static>>();
    v.visit::<TasksAnswer<'static>>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    use serde_json::json;
    let priority = || {
        json!({ "anyOf": [
            { "type": "integer", "minimum": 0, "maximum": 7 },
            { "type": "string", "enum": [
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
                "emergency", "critical", "error", "warn"
            ] }
        ] })
    };
    const BOOT: &str = "A boot: an offset (0 the current one, -1 the one before, … down to -10000) or a \
                        32-hex-digit boot id (dashes allowed).";
    const PRIORITY: &str = "At this priority or more urgent: 0 to 7 or emerg, alert, crit, err, warning, \
                            notice, info, debug (also error, warn, emergency, critical; any case).";
    const UNIT: &str = "Only this systemd unit (`pveproxy` means `pveproxy.service`); unit-name characters \
                        only, at most 256.";
    const Q: &str = "Only entries whose message contains this text, ignoring case (at most 200 characters, \
                     no control characters).";
    d.get("/logs", "A page of the system journal, newest first")
        .about(
            "Pages go back in time: pass `next_cursor` as `cursor` for the next one (`null` at the end). \
             A cursor no longer in the journal starts again from the newest entry, with `cursor_reset` and \
             a `note`. A host without a journal answers 200 with `state: unavailable` and the reason. \
             An empty value counts as absent; unknown parameters are ignored. Every filter combines. The \
             journal service bounds concurrent reads: a 503 `busy` (Retry-After 1) when they are all taken.",
        )
        .query("priority", priority(), PRIORITY)
        .query("unit", string(), UNIT)
        .query("boot", string(), BOOT)
        .query(
            "since",
            string(),
            "From this time: unix milliseconds or RFC 3339 (`2024-08-01T08:00:00Z`). With `until` (or \
             now) it may span at most `logs.max_range_days` days (31 by default).",
        )
        .query("until", string(), "Up to this time: unix milliseconds or RFC 3339; not before `since`.")
        .query("q", string(), Q)
        .query("cursor", string(), "Continue after this entry: the previous page's `next_cursor`.")
        .query(
            "limit",
            json!({ "type": "integer", "minimum": 1 }),
            "Entries per page: default 100, at most `logs.max_page` (500 by default).",
        )
        .ok(out::<LogsAnswer<'static>>())
        .error(503, "Every journal reader is busy (`busy`, Retry-After 1).");
    d.get("/logs/boots", "The boots the journal knows, newest first")
        .about("A host without a journal answers 200 with `state: unavailable`, the reason and no boots.")
        .ok(out::<BootsAnswer<'static>>())
        .error(503, "Every journal reader is busy (`busy`, Retry-After 1).");
    d.get("/logs/stream", "Follow the journal: a server-sent event per batch of new entries")
        .event_stream(
            "`text/event-stream` of the entries from now on that pass this stream's filters (`priority`, \
             `unit`, `q`; `boot`, `since` and `until` are checked but ignored). Events: `entries`, a JSON \
             array of journal entries (oldest first, the `JournalEntry` schema); `reset`, data `{}`, when \
             the follower lost its place in the journal; `lagged`, data `{\"missed_batches\": N}`, when this \
             client fell behind and missed entries. Keep-alive comments keep it open; it ends when \
             proxwatch stops. It takes one of the live-stream slots (shared with `/api/live`: bounded in \
             total, per user and per address): over the bound is a 503 with Retry-After 5.",
        )
        .query("priority", priority(), PRIORITY)
        .query("unit", string(), UNIT)
        .query("q", string(), Q)
        .query("boot", string(), "Checked like `/api/logs`' but ignored: a follow is from now on.")
        .query("since", string(), "Checked like `/api/logs`' but ignored.")
        .query("until", string(), "Checked like `/api/logs`' but ignored.")
        .error(
            503,
            "Too many live streams open (in total, for this user or from this address); see Retry-After.",
        );
    d.get("/tasks", "Proxmox tasks, newest first, filtered")
        .about(
            "The inventory's task section (`{state, reason, updated}` and the rows). An empty value counts \
             as absent; unknown parameters are ignored.",
        )
        .query(
            "status",
            one_of(&["ok", "warnings", "failed", "running", "error"]),
            "Only tasks with this outcome (`error` means `failed`).",
        )
        .query(
            "type",
            string(),
            "Only this task type (`vzdump`, `qmstart`, …): letters, digits, `_` and `-`, at most 32.",
        )
        .query(
            "vmid",
            json!({ "type": "integer", "minimum": 100, "maximum": 999_999_999 }),
            "Only tasks about this guest.",
        )
        .query(
            "user",
            string(),
            "Only tasks by this user (`root@pam` also matches its tokens `root@pam!name`); at most 128 \
             characters.",
        )
        .query(
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": MAX_TASKS }),
            "At most this many (default 200, max 1000).",
        )
        .ok(out::<TasksAnswer<'static>>());
    d.get("/logs/cluster", "The cluster log: the newest entries of every node, newest first")
        .about(
            "The inventory's section of `/etc/pve/.clusterlog` (what `GET /cluster/log` of the PVE API \
             answers): `{state, reason, updated, source}` and its entries. Unavailable on a host without \
             the cluster filesystem.",
        )
        .ok(out::<crate::model::section::Section<Vec<crate::model::pve::ClusterLogEntry>>>());
}
