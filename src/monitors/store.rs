//! The monitors' tables (migrations 0013–0015): definitions; the history in 10-minute buckets, one
//! row per monitor per closed bucket, time-major (its rollup for 90 days, its checks for 24 h);
//! incidents with an operator's note; the events for the notification engine; maintenance windows.
//! Synchronous functions over a connection, for `Db::call`. The checks of the open bucket live in
//! the runner's memory until the bucket closes ([`write_bucket`]).

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::maintenance::Window;
use super::uptime::{BUCKET_MS, Bucket, Point, bucket_of, rollup};
use crate::model::monitor::{MonitorSpec, Outcome, Status};

/// Raw results are kept this long.
pub const RESULTS_MS: i64 = 86_400_000;
/// Rollups are kept this long.
pub const ROLLUPS_MS: i64 = 90 * 86_400_000;

/// A stored monitor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub id: i64,
    pub spec: MonitorSpec,
    pub paused: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<(i64, String, bool, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?, r.get(4)?))
}

fn decode((id, spec, paused, created_ms, updated_ms): (i64, String, bool, i64, i64)) -> Result<Row> {
    let spec = serde_json::from_str(&spec).with_context(|| format!("monitor {id}: stored definition"))?;
    Ok(Row { id, spec, paused, created_ms, updated_ms })
}

/// Adds a monitor (already checked); its id.
pub fn create(conn: &Connection, spec: &MonitorSpec, now: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO monitors (spec, vmid, paused, created_ms, updated_ms) VALUES (?1, ?2, 0, ?3, ?3)",
        params![serde_json::to_string(spec)?, spec.vmid.map(|v| v as i64), now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Replaces a monitor's definition; false when there is no such monitor.
pub fn update(conn: &Connection, id: i64, spec: &MonitorSpec, now: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE monitors SET spec = ?2, vmid = ?3, updated_ms = ?4 WHERE id = ?1",
        params![id, serde_json::to_string(spec)?, spec.vmid.map(|v| v as i64), now],
    )?;
    Ok(n == 1)
}

/// Deletes a monitor with its results, rollups and incidents; false when there is no such monitor.
pub fn delete(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM monitors WHERE id = ?1", params![id])? == 1)
}

/// Pauses or resumes; false when there is no such monitor.
pub fn set_paused(conn: &Connection, id: i64, paused: bool, now: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE monitors SET paused = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id, paused as i64, now],
    )?;
    Ok(n == 1)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Row>> {
    let r = conn
        .query_row(
            "SELECT id, spec, paused, created_ms, updated_ms FROM monitors WHERE id = ?1",
            params![id],
            row,
        )
        .optional()?;
    r.map(decode).transpose()
}

/// Every monitor, by id.
pub fn list(conn: &Connection) -> Result<Vec<Row>> {
    let mut st = conn.prepare("SELECT id, spec, paused, created_ms, updated_ms FROM monitors ORDER BY id")?;
    let rows = st.query_map([], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode).collect()
}

pub fn count(conn: &Connection) -> Result<usize> {
    Ok(conn.query_row("SELECT COUNT(*) FROM monitors", [], |r| r.get::<_, i64>(0))? as usize)
}

/// One stored check.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorCheck"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorCheck"))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCheck {
    pub ts: i64,
    /// `up`, `degraded`, `down` or `stopped` (its guest was stopped: not probed, left out of uptime).
    pub status: &'static str,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub code: Option<u16>,
    /// Made in a maintenance window (or while its guest was stopped): left out of uptime.
    pub maintenance: bool,
}

impl StoredCheck {
    /// One check's outcome as stored: `status` is what this check found (up, degraded, down, or
    /// guest stopped).
    pub fn of(o: &Outcome, status: Status, maintenance: bool) -> StoredCheck {
        let status = match status {
            Status::Up | Status::Degraded | Status::Down => status.as_str(),
            Status::GuestStopped => "stopped",
            _ if o.ok => "up",
            _ => "down",
        };
        StoredCheck {
            ts: o.ts,
            status,
            latency_ms: o.latency_ms.map(|l| (l * 100.0).round() / 100.0),
            error: o.error.clone(),
            code: o.status_code,
            maintenance,
        }
    }

    fn point(&self) -> Point {
        Point {
            ts: self.ts,
            up: self.status != "down" && self.status != "stopped",
            degraded: self.status == "degraded",
            latency_ms: self.latency_ms,
            maintenance: self.maintenance || self.status == "stopped",
        }
    }
}

/// The compact form a bucket's checks are stored in: `[ts, status, latency, code, error, maintenance]`.
type RawCheck = (i64, String, Option<f64>, Option<u16>, Option<String>, u8);

fn encode(checks: &[StoredCheck]) -> String {
    let raw: Vec<RawCheck> = checks
        .iter()
        .map(|c| (c.ts, c.status.to_string(), c.latency_ms, c.code, c.error.clone(), c.maintenance as u8))
        .collect();
    serde_json::to_string(&raw).unwrap_or_else(|_| "[]".into())
}

fn decode_raw(text: &str) -> Vec<StoredCheck> {
    let raw: Vec<RawCheck> = serde_json::from_str(text).unwrap_or_default();
    raw.into_iter()
        .map(|(ts, status, latency_ms, code, error, m)| StoredCheck {
            ts,
            status: match status.as_str() {
                "up" => "up",
                "degraded" => "degraded",
                "stopped" => "stopped",
                _ => "down",
            },
            latency_ms,
            error,
            code,
            maintenance: m != 0,
        })
        .collect()
}

/// The checks of one monitor's stored bucket (none when it is not stored or past the 24 h).
pub fn bucket_checks(conn: &Connection, id: i64, start: i64) -> Result<Vec<StoredCheck>> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT raw FROM monitor_checks WHERE start = ?1 AND monitor_id = ?2")?
        .query_row(params![start, id], |r| r.get(0))
        .optional()?;
    Ok(raw.map(|t| decode_raw(&t)).unwrap_or_default())
}

/// Writes one monitor's checks of the bucket starting at `start` (merged with what is stored for it:
/// a bucket written in part before a restart) and its rollup. The checks are kept when the bucket
/// is within the last 24 h of `now`.
pub fn write_bucket(conn: &Connection, id: i64, start: i64, checks: &[StoredCheck], now: i64) -> Result<()> {
    let mut all = bucket_checks(conn, id, start)?;
    all.extend_from_slice(checks);
    all.sort_by_key(|c| c.ts);
    all.dedup_by_key(|c| c.ts);
    let points: Vec<Point> = all.iter().map(StoredCheck::point).collect();
    let Some(b) = rollup(&points).into_iter().next() else { return Ok(()) };
    put_rollup(conn, id, &b)?;
    if start + BUCKET_MS > now - RESULTS_MS {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO monitor_checks (start, monitor_id, raw) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![start, id, encode(&all)])?;
    }
    Ok(())
}

/// Writes a bucket's rollup (the demo's past, a test's history; [`write_bucket`] for the live one).
pub fn put_rollup(conn: &Connection, id: i64, b: &Bucket) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO monitor_buckets
         (start, monitor_id, checks, up, degraded, maintenance, latency_avg, latency_p95)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        b.start,
        id,
        b.checks,
        b.up,
        b.degraded,
        b.maintenance,
        b.latency_avg,
        b.latency_p95
    ])?;
    Ok(())
}

/// Retention: checks older than 24 h, rollups and events older than 90 days are deleted (the first
/// two from the head of their time-major tables: whole pages go back to the free list).
pub fn expire(conn: &Connection, now: i64) -> Result<()> {
    let cut = now - RESULTS_MS - BUCKET_MS;
    conn.prepare_cached("DELETE FROM monitor_checks WHERE start < ?1")?.execute(params![cut])?;
    conn.prepare_cached("DELETE FROM monitor_buckets WHERE start < ?1")?
        .execute(params![now - ROLLUPS_MS])?;
    conn.prepare_cached("DELETE FROM monitor_events WHERE ts < ?1")?.execute(params![now - ROLLUPS_MS])?;
    Ok(())
}

/// A monitor's stored checks, newest first: `limit` of them older than `before`, within the 24 h
/// kept before `now` (the open bucket's checks are the runner's).
pub fn results(
    conn: &Connection,
    id: i64,
    before: Option<i64>,
    limit: usize,
    now: i64,
) -> Result<Vec<StoredCheck>> {
    let before = before.unwrap_or(i64::MAX).min(now + 1);
    let oldest = bucket_of(now - RESULTS_MS);
    let mut start = bucket_of(before - 1);
    let mut out = Vec::new();
    while start >= oldest && out.len() < limit {
        let mut checks = bucket_checks(conn, id, start)?;
        checks.retain(|c| c.ts < before);
        checks.reverse();
        out.extend(checks.into_iter().take(limit - out.len()));
        start -= BUCKET_MS;
    }
    Ok(out)
}

/// Every monitor's counted checks and up ones in the buckets starting in `[from, to)`.
pub fn tally(conn: &Connection, from: i64, to: i64) -> Result<std::collections::HashMap<i64, (u64, u64)>> {
    let mut st = conn.prepare_cached(
        "SELECT monitor_id, SUM(checks), SUM(up) FROM monitor_buckets WHERE start >= ?1 AND start < ?2
         GROUP BY monitor_id",
    )?;
    let rows = st.query_map(params![from, to], |r| {
        Ok((r.get::<_, i64>(0)?, (r.get::<_, i64>(1)?.max(0) as u64, r.get::<_, i64>(2)?.max(0) as u64)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A monitor's rollups from `from` to `to`, oldest first (one lookup per bucket: the table is
/// time-major).
pub fn rollups(conn: &Connection, id: i64, from: i64, to: i64) -> Result<Vec<Bucket>> {
    let mut st = conn.prepare_cached(
        "WITH RECURSIVE s(t) AS (SELECT ?1 UNION ALL SELECT t + ?3 FROM s WHERE t + ?3 < ?2)
         SELECT b.start, b.checks, b.up, b.degraded, b.maintenance, b.latency_avg, b.latency_p95
         FROM s JOIN monitor_buckets b ON b.start = s.t AND b.monitor_id = ?4 ORDER BY b.start",
    )?;
    let rows = st.query_map(params![bucket_of(from), to, BUCKET_MS, id], |r| {
        Ok(Bucket {
            start: r.get(0)?,
            checks: r.get(1)?,
            up: r.get(2)?,
            degraded: r.get(3)?,
            maintenance: r.get(4)?,
            latency_avg: r.get(5)?,
            latency_p95: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A down or degraded period.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorIncident"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorIncident"))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub monitor_id: i64,
    /// `down` or `degraded`: the worst it reached.
    pub kind: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub first_error: String,
    pub note: Option<String>,
    pub note_by: Option<String>,
    pub note_ms: Option<i64>,
}

/// Opens an incident for `monitor_id` unless one is open; returns the open one's id. A degraded
/// incident that goes down becomes a down one.
pub fn open_incident(
    conn: &Connection,
    monitor_id: i64,
    kind: Status,
    started_ms: i64,
    first_error: &str,
) -> Result<i64> {
    let kind = if kind == Status::Down { "down" } else { "degraded" };
    let open: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, kind FROM monitor_incidents WHERE monitor_id = ?1 AND ended_ms IS NULL",
            params![monitor_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match open {
        Some((id, was)) => {
            if was == "degraded" && kind == "down" {
                conn.execute("UPDATE monitor_incidents SET kind = 'down' WHERE id = ?1", params![id])?;
            }
            Ok(id)
        }
        None => {
            conn.execute(
                "INSERT INTO monitor_incidents (monitor_id, kind, started_ms, first_error) VALUES (?1, ?2, ?3, ?4)",
                params![monitor_id, kind, started_ms, first_error],
            )?;
            Ok(conn.last_insert_rowid())
        }
    }
}

/// Closes the open incident of `monitor_id` at `ended_ms`; its id, if one was open.
pub fn close_incident(conn: &Connection, monitor_id: i64, ended_ms: i64) -> Result<Option<i64>> {
    let id: Option<i64> = conn
        .query_row(
            "SELECT id FROM monitor_incidents WHERE monitor_id = ?1 AND ended_ms IS NULL",
            params![monitor_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = id {
        conn.execute("UPDATE monitor_incidents SET ended_ms = ?2 WHERE id = ?1", params![id, ended_ms])?;
    }
    Ok(id)
}

/// An operator's note on an incident; false when there is no such incident.
pub fn annotate(conn: &Connection, id: i64, note: &str, by: &str, now: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE monitor_incidents SET note = ?2, note_by = ?3, note_ms = ?4 WHERE id = ?1",
        params![id, note, by, now],
    )?;
    Ok(n == 1)
}

/// Incidents, newest first: one monitor's or all of them.
pub fn incidents(conn: &Connection, monitor_id: Option<i64>, limit: usize) -> Result<Vec<Incident>> {
    let mut st = conn.prepare(
        "SELECT id, monitor_id, kind, started_ms, ended_ms, first_error, note, note_by, note_ms
         FROM monitor_incidents WHERE (?1 IS NULL OR monitor_id = ?1) ORDER BY started_ms DESC, id DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![monitor_id, limit as i64], |r| {
        Ok(Incident {
            id: r.get(0)?,
            monitor_id: r.get(1)?,
            kind: r.get(2)?,
            started_ms: r.get(3)?,
            ended_ms: r.get(4)?,
            first_error: r.get(5)?,
            note: r.get(6)?,
            note_by: r.get(7)?,
            note_ms: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The open incident of `monitor_id`, if any.
pub fn open_incident_id(conn: &Connection, monitor_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM monitor_incidents WHERE monitor_id = ?1 AND ended_ms IS NULL",
            params![monitor_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// A change worth a notification, as stored for the engine (migration 0014).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorEvent"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorEvent"))]
pub struct MonitorEvent {
    pub id: i64,
    pub monitor_id: i64,
    pub incident_id: Option<i64>,
    pub ts: i64,
    /// `down`, `degraded`, `recovered`, `flapping`, `settled` or `cert_expiring`.
    pub kind: String,
    /// Whether it went to the notification engine (not in maintenance, not while flapping).
    pub notify: bool,
    /// The monitor's name, guest and target, and what happened (`error`, `outage_ms`, `days`, ...).
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub detail: serde_json::Value,
}

/// Writes one event; its id.
pub fn push_event(
    conn: &Connection,
    monitor_id: i64,
    incident_id: Option<i64>,
    ts: i64,
    kind: &str,
    notify: bool,
    detail: &serde_json::Value,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO monitor_events (monitor_id, incident_id, ts, kind, notify, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![monitor_id, incident_id, ts, kind, notify as i64, detail.to_string()],
    )?;
    Ok(conn.last_insert_rowid())
}

fn event_row(r: &rusqlite::Row) -> rusqlite::Result<MonitorEvent> {
    let detail: String = r.get(6)?;
    Ok(MonitorEvent {
        id: r.get(0)?,
        monitor_id: r.get(1)?,
        incident_id: r.get(2)?,
        ts: r.get(3)?,
        kind: r.get(4)?,
        notify: r.get::<_, i64>(5)? != 0,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}

const EVENT_COLUMNS: &str = "id, monitor_id, incident_id, ts, kind, notify, detail";

/// Events with an id above `after` and at most `upto`, oldest first, `limit` at most.
pub fn events_after(conn: &Connection, after: i64, upto: i64, limit: usize) -> Result<Vec<MonitorEvent>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM monitor_events WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3"
    ))?;
    let rows = st.query_map(params![after, upto, limit as i64], event_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest event id (0 when there is none).
pub fn last_event_id(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COALESCE(MAX(id), 0) FROM monitor_events", [], |r| r.get(0))?)
}

/// The events of the given incidents, oldest first.
pub fn incident_events(conn: &Connection, incident_ids: &[i64]) -> Result<Vec<MonitorEvent>> {
    if incident_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = incident_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let mut st = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM monitor_events WHERE incident_id IN ({list}) ORDER BY id"
    ))?;
    let rows = st.query_map([], event_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Adds a maintenance window (already checked); its id.
pub fn add_window(conn: &Connection, w: &Window, by: &str, now: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO maintenance_windows (definition, created_ms, created_by) VALUES (?1, ?2, ?3)",
        params![serde_json::to_string(w)?, now, by],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn delete_window(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM maintenance_windows WHERE id = ?1", params![id])? == 1)
}

/// Every window with its id.
pub fn windows(conn: &Connection) -> Result<Vec<(i64, Window)>> {
    let mut st = conn.prepare("SELECT id, definition FROM maintenance_windows ORDER BY id")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, text)| {
            Ok((id, serde_json::from_str(&text).with_context(|| format!("maintenance window {id}"))?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::monitor::Target;
    use crate::monitors::maintenance::{Scope, When};

    const MIN: i64 = 60_000;

    fn spec(name: &str, vmid: Option<u64>) -> MonitorSpec {
        MonitorSpec {
            name: name.into(),
            target: Target::Tcp { host: "192.0.2.10".into(), port: 5432 },
            interval_s: 60,
            timeout_ms: 5000,
            retries: 1,
            degraded_ms: None,
            vmid,
        }
    }

    fn outcome(ts: i64, ok: bool, ms: f64) -> Outcome {
        Outcome {
            ts,
            ok,
            latency_ms: ok.then_some(ms),
            error: (!ok).then(|| "connection refused".into()),
            status_code: None,
            cert_expires: None,
        }
    }

    async fn with_db<T: Send + 'static>(f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static) -> T {
        let db = crate::db::Db::open_in_memory().unwrap();
        db.call(f).await.unwrap()
    }

    #[tokio::test]
    async fn monitors_are_created_changed_paused_and_deleted_with_their_history() {
        with_db(|c| {
            let id = create(c, &spec("db", Some(103)), 1000)?;
            assert_eq!(count(c)?, 1);
            assert!(update(c, id, &spec("postgres", Some(103)), 2000)?);
            assert!(set_paused(c, id, true, 3000)?);
            let r = get(c, id)?.unwrap();
            assert_eq!(
                (r.spec.name.as_str(), r.paused, r.created_ms, r.updated_ms),
                ("postgres", true, 1000, 3000)
            );
            write_bucket(c, id, 0, &[check(MIN, false)], 10 * MIN)?;
            open_incident(c, id, Status::Down, 10 * MIN, "connection refused")?;
            assert!(delete(c, id)?);
            assert!(!delete(c, id)?);
            assert!(!update(c, id, &spec("x", None), 4000)?);
            // The history and the incident went with it.
            assert!(results(c, id, None, 10, 10 * MIN)?.is_empty());
            assert!(incidents(c, Some(id), 10)?.is_empty());
            Ok(())
        })
        .await;
    }

    fn check(ts: i64, ok: bool) -> StoredCheck {
        let status = if ok { Status::Up } else { Status::Down };
        StoredCheck::of(&outcome(ts, ok, 12.0), status, false)
    }

    #[tokio::test]
    async fn buckets_roll_up_keep_their_checks_a_day_and_age_out() {
        with_db(|c| {
            let id = create(c, &spec("web", None), 0)?;
            let day = 86_400_000;
            // One check a minute for 26 hours, down for the 10 minutes from 25:00, written a bucket
            // at a time as the worker does.
            let now = 26 * 60 * MIN + 30_000;
            for b in 0..(26 * 6) {
                let checks: Vec<StoredCheck> = (b * 10..b * 10 + 10)
                    .map(|m| check(m * MIN, !(25 * 60..25 * 60 + 10).contains(&m)))
                    .collect();
                write_bucket(c, id, b * BUCKET_MS, &checks, now)?;
            }
            let b = rollups(c, id, 0, now)?;
            assert_eq!(b.len(), 156);
            let down = b.iter().find(|b| b.start == 25 * 60 * MIN).unwrap();
            assert_eq!((down.checks, down.up), (10, 0));
            let u = crate::monitors::uptime::uptime(&b, now, day).unwrap();
            assert!((u - 1430.0 * 100.0 / 1440.0).abs() < 1e-9, "{u}");
            assert_eq!(tally(c, bucket_of(now) - day, bucket_of(now))?[&id], (1440, 1430));
            // The checks of the last 24 h, newest first, a page at a time.
            let all = results(c, id, None, 10_000, now)?;
            assert_eq!(all.len(), 24 * 60, "from the bucket 24 h ago on");
            assert!(all.windows(2).all(|w| w[0].ts > w[1].ts));
            let page = results(c, id, Some(now - 5 * MIN), 3, now)?;
            assert_eq!(page.iter().map(|r| r.ts).collect::<Vec<_>>(), [1555 * MIN, 1554 * MIN, 1553 * MIN]);
            assert_eq!(page[0].status, "up");
            // A bucket written in two parts (a stop in between) is one row with both.
            let split = 30 * 60 * MIN;
            write_bucket(c, id, split, &[check(split, true)], now)?;
            write_bucket(c, id, split, &[check(split + MIN, false)], now)?;
            assert_eq!(bucket_checks(c, id, split)?.len(), 2);
            assert_eq!(rollups(c, id, split, split + BUCKET_MS)?[0].up, 1);
            // A day later the checks are gone and the rollups stay; after 90 days the rollups go.
            expire(c, now + day)?;
            assert!(results(c, id, None, 10, now + day)?.iter().all(|r| r.ts >= now));
            assert!(bucket_checks(c, id, 25 * 60 * MIN)?.is_empty());
            assert_eq!(rollups(c, id, 0, now)?.len(), 156);
            expire(c, now + ROLLUPS_MS)?;
            assert!(rollups(c, id, 0, now)?.is_empty());
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn incidents_open_once_escalate_close_and_take_a_note() {
        with_db(|c| {
            let id = create(c, &spec("web", None), 0)?;
            let a = open_incident(c, id, Status::Degraded, 1000, "slow: 900 ms")?;
            assert_eq!(
                open_incident(c, id, Status::Down, 2000, "timeout after 5000 ms")?,
                a,
                "one open at a time"
            );
            assert_eq!(close_incident(c, id, 5000)?, Some(a));
            assert_eq!(close_incident(c, id, 6000)?, None);
            assert!(annotate(c, a, "planned reboot", "alice", 7000)?);
            assert!(!annotate(c, 999, "x", "alice", 7000)?);
            let i = &incidents(c, Some(id), 10)?[0];
            assert_eq!(
                (i.kind.as_str(), i.started_ms, i.ended_ms, i.first_error.as_str()),
                ("down", 1000, Some(5000), "slow: 900 ms")
            );
            assert_eq!((i.note.as_deref(), i.note_by.as_deref()), (Some("planned reboot"), Some("alice")));
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn maintenance_windows_round_trip() {
        with_db(|c| {
            let w = Window {
                scope: Scope::Guest { vmid: 104 },
                when: When::Weekly { days: vec!["sun".into()], start: "23:00".into(), minutes: 120 },
                note: "backups".into(),
            };
            let id = add_window(c, &w, "alice", 1)?;
            assert_eq!(windows(c)?, vec![(id, w)]);
            assert!(delete_window(c, id)?);
            assert!(windows(c)?.is_empty());
            Ok(())
        })
        .await;
    }
}
