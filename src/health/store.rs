//! Persistence of the health monitor in SQLite: findings upserted by key, the `health_events` outbox
//! (written in the same transaction as the change it records), threshold overrides, exclusions and
//! retention. Every function here is synchronous and takes a connection: callers run them inside
//! `Db::call`. The outbox contract for the notification engine is documented in
//! `docs/health-events.md`; [`claim`], [`ack`] and [`release`] implement it.

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row as SqlRow, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{Category, Finding, ObjectKind, Severity, Thresholds};

/// Resolved findings are kept this long, and at most [`MAX_RESOLVED`] of them.
pub const RESOLVED_RETENTION_MS: i64 = 30 * 86_400_000;
pub const MAX_RESOLVED: i64 = 2_000;
/// Events are kept this long, and at most [`MAX_EVENTS`] of them.
pub const EVENT_RETENTION_MS: i64 = 90 * 86_400_000;
pub const MAX_EVENTS: i64 = 20_000;
/// Exclusions an admin may define.
pub const MAX_EXCLUSIONS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "FindingState"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "FindingState"))]
#[serde(rename_all = "snake_case")]
pub enum State {
    Active,
    Dismissed,
    Resolved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Dismissed => "dismissed",
            State::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<State> {
        [State::Active, State::Dismissed, State::Resolved].into_iter().find(|v| v.as_str() == s)
    }
}

/// A persisted finding (one row of `health_findings`), as the API serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub key: String,
    pub category: Category,
    #[serde(rename = "check")]
    pub check: String,
    pub severity: Severity,
    pub reason: String,
    pub details: serde_json::Value,
    pub first_seen: i64,
    pub last_seen: i64,
    pub occurrences: i64,
    pub state: State,
    /// Present while a dismissal is in effect; `null` with `dismissed: true` means permanent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed_until: Option<i64>,
    pub dismissed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    #[serde(skip)]
    pub object: Option<(String, String)>,
    #[serde(skip)]
    pub seq: i64,
}

impl Record {
    /// Whether a dismissal is in effect at `now`.
    pub fn dismissal_active(&self, now: i64) -> bool {
        self.dismissed && self.dismissed_until.is_none_or(|u| u > now)
    }
}

const RECORD_COLS: &str = "key, category, check_id, severity, reason, details, object_kind, object_id, \
     first_seen, last_seen, occurrences, state, dismissed, dismissed_until, resolved_at, seq";

fn record_from(r: &SqlRow) -> rusqlite::Result<Record> {
    let category: String = r.get(1)?;
    let severity: String = r.get(3)?;
    let details: String = r.get(5)?;
    let state: String = r.get(11)?;
    let kind: Option<String> = r.get(6)?;
    let id: Option<String> = r.get(7)?;
    Ok(Record {
        key: r.get(0)?,
        category: Category::parse(&category).unwrap_or(Category::Logs),
        check: r.get(2)?,
        severity: Severity::parse(&severity).unwrap_or(Severity::Unknown),
        reason: r.get(4)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        object: kind.zip(id),
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        occurrences: r.get(10)?,
        state: State::parse(&state).unwrap_or(State::Active),
        dismissed: r.get::<_, i64>(12)? != 0,
        dismissed_until: r.get(13)?,
        resolved_at: r.get(14)?,
        seq: r.get(15)?,
    })
}

fn write_record(tx: &Transaction, r: &Record) -> anyhow::Result<()> {
    let (kind, id) = match &r.object {
        Some((k, i)) => (Some(k.as_str()), Some(i.as_str())),
        None => (None, None),
    };
    tx.execute(
        &format!("INSERT OR REPLACE INTO health_findings ({RECORD_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"),
        params![
            r.key,
            r.category.id(),
            r.check,
            r.severity.as_str(),
            r.reason,
            r.details.to_string(),
            kind,
            id,
            r.first_seen,
            r.last_seen,
            r.occurrences,
            r.state.as_str(),
            r.dismissed as i64,
            r.dismissed_until,
            r.resolved_at,
            r.seq,
        ],
    )
    .with_context(|| format!("writing finding {}", r.key))?;
    Ok(())
}

/// One finding by key, in any state.
pub fn get(conn: &Connection, key: &str) -> anyhow::Result<Option<Record>> {
    Ok(conn
        .query_row(&format!("SELECT {RECORD_COLS} FROM health_findings WHERE key = ?1"), [key], record_from)
        .optional()?)
}

/// Findings in one state, newest first, at most `limit`.
pub fn list(conn: &Connection, state: State, limit: usize) -> anyhow::Result<Vec<Record>> {
    let mut st = conn.prepare(&format!(
        "SELECT {RECORD_COLS} FROM health_findings WHERE state = ?1 ORDER BY last_seen DESC, key LIMIT ?2"
    ))?;
    let rows = st.query_map(params![state.as_str(), limit as i64], record_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every finding that is not resolved, by key.
pub fn open(conn: &Connection) -> anyhow::Result<BTreeMap<String, Record>> {
    let mut st =
        conn.prepare(&format!("SELECT {RECORD_COLS} FROM health_findings WHERE state != 'resolved'"))?;
    let rows = st.query_map([], record_from)?;
    let mut out = BTreeMap::new();
    for r in rows {
        let r = r?;
        out.insert(r.key.clone(), r);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthEventKind"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthEventKind"))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    New,
    Escalated,
    Deescalated,
    Resolved,
    Dismissed,
    Undismissed,
    Expired,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Escalated => "escalated",
            EventKind::Deescalated => "deescalated",
            EventKind::Resolved => "resolved",
            EventKind::Dismissed => "dismissed",
            EventKind::Undismissed => "undismissed",
            EventKind::Expired => "expired",
        }
    }
    fn parse(s: &str) -> Option<EventKind> {
        use EventKind::*;
        [New, Escalated, Deescalated, Resolved, Dismissed, Undismissed, Expired]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One row of the `health_events` outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthEvent"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthEvent"))]
pub struct Event {
    pub id: i64,
    pub fingerprint: String,
    pub ts: i64,
    pub kind: EventKind,
    pub key: String,
    pub category: Category,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub previous_severity: Option<Severity>,
    pub reason: String,
    pub details: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub duration_s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub actor: Option<String>,
    /// Whether the notification engine should deliver it (false: timeline only).
    pub notify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub delivered_at: Option<i64>,
}

const EVENT_COLS: &str = "id, fingerprint, ts, kind, key, category, severity, previous_severity, reason, \
     details, duration_s, actor, notify, delivered_at";

fn event_from(r: &SqlRow) -> rusqlite::Result<Event> {
    let kind: String = r.get(3)?;
    let category: String = r.get(5)?;
    let severity: String = r.get(6)?;
    let prev: Option<String> = r.get(7)?;
    let details: String = r.get(9)?;
    Ok(Event {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        ts: r.get(2)?,
        kind: EventKind::parse(&kind).unwrap_or(EventKind::New),
        key: r.get(4)?,
        category: Category::parse(&category).unwrap_or(Category::Logs),
        severity: Severity::parse(&severity).unwrap_or(Severity::Unknown),
        previous_severity: prev.as_deref().and_then(Severity::parse),
        reason: r.get(8)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        duration_s: r.get(10)?,
        actor: r.get(11)?,
        notify: r.get::<_, i64>(12)? != 0,
        delivered_at: r.get(13)?,
    })
}

/// The stable identity of an event: the same change of the same episode always hashes the same, so
/// a consumer can deduplicate deliveries across restarts.
pub fn fingerprint(key: &str, kind: EventKind, first_seen: i64, seq: i64) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update(b"\n");
    h.update(kind.as_str().as_bytes());
    h.update(format!("\n{first_seen}\n{seq}").as_bytes());
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// What some events carry besides the finding.
#[derive(Default)]
struct Extra<'a> {
    previous: Option<Severity>,
    duration_s: Option<i64>,
    actor: Option<&'a str>,
}

/// Appends an event for `rec` (bumping its `seq`, which the caller then writes).
fn emit(
    tx: &Transaction,
    rec: &mut Record,
    kind: EventKind,
    now: i64,
    extra: Extra,
    notify: bool,
) -> anyhow::Result<Event> {
    let Extra { previous, duration_s, actor } = extra;
    rec.seq += 1;
    let fp = fingerprint(&rec.key, kind, rec.first_seen, rec.seq);
    tx.execute(
        "INSERT INTO health_events (fingerprint, ts, kind, key, category, severity, previous_severity, \
         reason, details, duration_s, actor, notify) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        params![
            fp,
            now,
            kind.as_str(),
            rec.key,
            rec.category.id(),
            rec.severity.as_str(),
            previous.map(|s| s.as_str()),
            rec.reason,
            rec.details.to_string(),
            duration_s,
            actor,
            notify as i64,
        ],
    )
    .with_context(|| format!("recording event {} for {}", kind.as_str(), rec.key))?;
    Ok(Event {
        id: tx.last_insert_rowid(),
        fingerprint: fp,
        ts: now,
        kind,
        key: rec.key.clone(),
        category: rec.category,
        severity: rec.severity,
        previous_severity: previous,
        reason: rec.reason.clone(),
        details: rec.details.clone(),
        duration_s,
        actor: actor.map(str::to_string),
        notify,
        delivered_at: None,
    })
}

/// Which persisted findings an evaluation speaks for: a finding of a check outside the scope that is
/// absent from the evaluation is left alone (a fast evaluation runs only some rules).
pub enum Scope<'a> {
    All,
    Checks(&'a HashSet<String>),
}

impl Scope<'_> {
    fn covers(&self, check: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Checks(s) => s.contains(check),
        }
    }
}

/// What one evaluation hands to [`reconcile`].
pub struct Evaluation<'a> {
    pub now: i64,
    /// The non-ok findings of the evaluation, objects excluded from health already removed.
    pub findings: &'a [Finding],
    pub scope: Scope<'a>,
    /// Keys whose object is excluded from health (their open rows resolve silently).
    pub health_excluded: &'a HashSet<String>,
    /// Keys whose object is excluded from notifications (their events carry `notify = 0`).
    pub notify_excluded: &'a HashSet<String>,
    /// Full cycles count an occurrence and refresh `last_seen`; fast evaluations write only changes.
    pub touch: bool,
}

/// Upserts an evaluation's findings, resolves the ones that cleared, expires dismissals, and records
/// every change as an event, all in one transaction. Returns the events and the open findings.
pub fn reconcile(
    conn: &mut Connection,
    ev: &Evaluation,
) -> anyhow::Result<(Vec<Event>, BTreeMap<String, Record>)> {
    let now = ev.now;
    let tx = conn.transaction()?;
    let mut open = open(&tx)?;
    let mut events = Vec::new();
    let mut seen = HashSet::new();
    for f in ev.findings {
        if f.severity == Severity::Ok || !seen.insert(f.key.as_str()) {
            continue;
        }
        let quiet = ev.notify_excluded.contains(&f.key);
        let object = f.object.as_ref().map(|(k, i)| (ObjectKind::as_str(*k).to_string(), i.clone()));
        match open.remove(&f.key) {
            Some(mut rec) => {
                let mut changed = ev.touch;
                if rec.dismissed && rec.dismissed_until.is_some_and(|u| u <= now) {
                    // The dismissal ran out while the condition holds: it comes back once, as new.
                    events.push(emit(&tx, &mut rec, EventKind::Expired, now, Extra::default(), false)?);
                    rec.dismissed = false;
                    rec.dismissed_until = None;
                    rec.state = State::Active;
                    rec.first_seen = now;
                    rec.occurrences = 1;
                    rec.severity = f.severity;
                    rec.reason.clone_from(&f.reason);
                    rec.details = f.details.clone();
                    events.push(emit(&tx, &mut rec, EventKind::New, now, Extra::default(), !quiet)?);
                    changed = true;
                } else {
                    if rec.severity != f.severity {
                        let prev = rec.severity;
                        let kind =
                            if f.severity > prev { EventKind::Escalated } else { EventKind::Deescalated };
                        rec.severity = f.severity;
                        rec.reason.clone_from(&f.reason);
                        rec.details = f.details.clone();
                        let notify = !quiet && rec.state == State::Active;
                        events.push(emit(
                            &tx,
                            &mut rec,
                            kind,
                            now,
                            Extra { previous: Some(prev), ..Default::default() },
                            notify,
                        )?);
                        changed = true;
                    }
                    if ev.touch {
                        rec.occurrences += 1;
                    }
                }
                if changed {
                    rec.reason.clone_from(&f.reason);
                    rec.details = f.details.clone();
                    rec.last_seen = now;
                    rec.object = object;
                    write_record(&tx, &rec)?;
                }
                open.insert(f.key.clone(), rec);
                // Re-inserted rows are marked seen so that the resolve pass skips them.
            }
            None => {
                let old = get(&tx, &f.key)?;
                let (dismissed, until, seq) = match &old {
                    Some(o) if o.dismissal_active(now) => (true, o.dismissed_until, o.seq),
                    Some(o) => (false, None, o.seq),
                    None => (false, None, 0),
                };
                let mut rec = Record {
                    key: f.key.clone(),
                    category: f.category,
                    check: f.check.clone(),
                    severity: f.severity,
                    reason: f.reason.clone(),
                    details: f.details.clone(),
                    first_seen: now,
                    last_seen: now,
                    occurrences: 1,
                    state: if dismissed { State::Dismissed } else { State::Active },
                    dismissed_until: until,
                    dismissed,
                    resolved_at: None,
                    object,
                    seq,
                };
                events.push(emit(
                    &tx,
                    &mut rec,
                    EventKind::New,
                    now,
                    Extra::default(),
                    !quiet && !dismissed,
                )?);
                write_record(&tx, &rec)?;
                open.insert(f.key.clone(), rec);
            }
        }
    }
    // Conditions that cleared: resolved once, with how long they lasted.
    let cleared: Vec<String> = open
        .iter()
        .filter(|(k, r)| !seen.contains(k.as_str()) && ev.scope.covers(&r.check))
        .map(|(k, _)| k.clone())
        .collect();
    for key in cleared {
        let Some(mut rec) = open.remove(&key) else { continue };
        let duration = (now - rec.first_seen).max(0) / 1000;
        let notify = rec.state == State::Active
            && !ev.notify_excluded.contains(&key)
            && !ev.health_excluded.contains(&key);
        rec.state = State::Resolved;
        rec.resolved_at = Some(now);
        events.push(emit(
            &tx,
            &mut rec,
            EventKind::Resolved,
            now,
            Extra { duration_s: Some(duration), ..Default::default() },
            notify,
        )?);
        write_record(&tx, &rec)?;
    }
    tx.commit()?;
    Ok((events, open))
}

/// Dismisses `key` until `until` (None: permanently). A dismissal outlives a resolution: the
/// condition stays quiet if it comes back before the window ends. Returns None for an unknown key.
pub fn dismiss(
    conn: &mut Connection,
    key: &str,
    until: Option<i64>,
    now: i64,
    actor: &str,
) -> anyhow::Result<Option<(Record, Event)>> {
    let tx = conn.transaction()?;
    let Some(mut rec) = get(&tx, key)? else { return Ok(None) };
    rec.dismissed = true;
    rec.dismissed_until = until;
    if rec.state == State::Active {
        rec.state = State::Dismissed;
    }
    let ev = emit(
        &tx,
        &mut rec,
        EventKind::Dismissed,
        now,
        Extra { actor: Some(actor), ..Default::default() },
        false,
    )?;
    write_record(&tx, &rec)?;
    tx.commit()?;
    Ok(Some((rec, ev)))
}

/// Ends a dismissal: an ongoing condition is active again. `Ok(None)` for an unknown key;
/// `Err` names a key that is not dismissed.
pub fn undismiss(
    conn: &mut Connection,
    key: &str,
    now: i64,
    actor: &str,
) -> anyhow::Result<Option<(Record, Option<Event>)>> {
    let tx = conn.transaction()?;
    let Some(mut rec) = get(&tx, key)? else { return Ok(None) };
    if !rec.dismissed {
        return Ok(Some((rec, None)));
    }
    rec.dismissed = false;
    rec.dismissed_until = None;
    if rec.state == State::Dismissed {
        rec.state = State::Active;
    }
    let ev = emit(
        &tx,
        &mut rec,
        EventKind::Undismissed,
        now,
        Extra { actor: Some(actor), ..Default::default() },
        false,
    )?;
    write_record(&tx, &rec)?;
    tx.commit()?;
    Ok(Some((rec, Some(ev))))
}

/// The newest events first, at most `limit`, optionally for one key.
pub fn events(conn: &Connection, limit: usize, key: Option<&str>) -> anyhow::Result<Vec<Event>> {
    let mut st = conn.prepare(&format!(
        "SELECT {EVENT_COLS} FROM health_events WHERE (?1 IS NULL OR key = ?1) ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = st.query_map(params![key, limit as i64], event_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` undelivered notifiable events, oldest first, read in the caller's transaction: the
/// notification engine takes them and marks them delivered in that same transaction (so neither
/// claims nor leases are needed when the consumer writes to this database).
pub fn undelivered(conn: &Connection, limit: usize) -> anyhow::Result<Vec<Event>> {
    let mut st = conn.prepare(&format!(
        "SELECT {EVENT_COLS} FROM health_events WHERE notify = 1 AND delivered_at IS NULL ORDER BY id LIMIT ?1"
    ))?;
    let rows = st.query_map([limit as i64], event_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Claims up to `limit` undelivered notifiable events for `consumer`, oldest first: events nobody
/// holds, or whose claim is older than `lease_ms` (a consumer that died mid-delivery).
pub fn claim(
    conn: &mut Connection,
    consumer: &str,
    now: i64,
    lease_ms: i64,
    limit: usize,
) -> anyhow::Result<Vec<Event>> {
    let tx = conn.transaction()?;
    let ids: Vec<i64> = {
        let mut st = tx.prepare(
            "SELECT id FROM health_events WHERE notify = 1 AND delivered_at IS NULL \
             AND (claimed_at IS NULL OR claimed_at <= ?1) ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![now - lease_ms, limit as i64], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        tx.execute(
            "UPDATE health_events SET claimed_by = ?1, claimed_at = ?2 WHERE id = ?3",
            params![consumer, now, id],
        )?;
        out.push(tx.query_row(
            &format!("SELECT {EVENT_COLS} FROM health_events WHERE id = ?1"),
            [id],
            event_from,
        )?);
    }
    tx.commit()?;
    Ok(out)
}

/// Marks an event delivered. Returns false when `consumer` no longer holds the claim (its lease ran
/// out and another consumer took it) — the delivery may then happen twice; fingerprints dedupe it.
pub fn ack(conn: &Connection, fingerprint: &str, consumer: &str, now: i64) -> anyhow::Result<bool> {
    let n = conn.execute(
        "UPDATE health_events SET delivered_at = ?1 WHERE fingerprint = ?2 AND claimed_by = ?3 AND delivered_at IS NULL",
        params![now, fingerprint, consumer],
    )?;
    Ok(n == 1)
}

/// Gives a claim back (a delivery that failed and should be retried by anyone).
pub fn release(conn: &Connection, fingerprint: &str, consumer: &str) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE health_events SET claimed_by = NULL, claimed_at = NULL WHERE fingerprint = ?1 AND claimed_by = ?2 AND delivered_at IS NULL",
        params![fingerprint, consumer],
    )?;
    Ok(())
}

/// Deletes resolved findings past their age or count bound (unless a dismissal is still in effect
/// for them) and events past theirs. Returns the rows deleted.
pub fn retention(conn: &mut Connection, now: i64) -> anyhow::Result<usize> {
    retention_with(conn, now, RESOLVED_RETENTION_MS, MAX_RESOLVED, EVENT_RETENTION_MS, MAX_EVENTS)
}

pub fn retention_with(
    conn: &mut Connection,
    now: i64,
    resolved_ms: i64,
    max_resolved: i64,
    events_ms: i64,
    max_events: i64,
) -> anyhow::Result<usize> {
    let tx = conn.transaction()?;
    let keep_dismissed = "NOT (dismissed = 1 AND (dismissed_until IS NULL OR dismissed_until > ?1))";
    let mut n = tx.execute(
        &format!(
            "DELETE FROM health_findings WHERE state = 'resolved' AND resolved_at < ?2 AND {keep_dismissed}"
        ),
        params![now, now - resolved_ms],
    )?;
    n += tx.execute(
        &format!(
            "DELETE FROM health_findings WHERE key IN (SELECT key FROM health_findings WHERE state = 'resolved' \
             AND {keep_dismissed} ORDER BY resolved_at DESC LIMIT -1 OFFSET ?2)"
        ),
        params![now, max_resolved],
    )?;
    n += tx.execute("DELETE FROM health_events WHERE ts < ?1", [now - events_ms])?;
    n += tx.execute(
        "DELETE FROM health_events WHERE id IN (SELECT id FROM health_events ORDER BY id DESC LIMIT -1 OFFSET ?1)",
        [max_events],
    )?;
    tx.commit()?;
    Ok(n)
}

/// The admin's threshold overrides.
pub fn load_thresholds(conn: &Connection) -> anyhow::Result<Thresholds> {
    let mut st = conn.prepare("SELECT key, value FROM health_thresholds")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?;
    Ok(Thresholds { overrides: rows.collect::<Result<_, _>>()? })
}

/// Applies validated changes (`None` resets to the default) in one transaction.
pub fn set_thresholds(
    conn: &mut Connection,
    changes: &[(String, Option<f64>)],
    now: i64,
) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    for (key, value) in changes {
        match value {
            Some(v) => tx.execute(
                "INSERT OR REPLACE INTO health_thresholds (key, value, updated_at) VALUES (?1, ?2, ?3)",
                params![key, v, now],
            )?,
            None => tx.execute("DELETE FROM health_thresholds WHERE key = ?1", [key])?,
        };
    }
    tx.commit()?;
    Ok(())
}

/// One excluded object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub kind: ObjectKind,
    #[cfg_attr(test, schemars(length(min = 1, max = 200)))]
    pub id: String,
    /// Its findings are not active (not counted, not shown as problems).
    pub health: bool,
    /// Its findings are active but their events are not notified.
    pub notifications: bool,
}

/// The exclusions in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Exclusions {
    pub items: Vec<Exclusion>,
}

impl Exclusions {
    fn find(&self, f: &Finding) -> Option<&Exclusion> {
        let (kind, id) = f.object.as_ref()?;
        self.items.iter().find(|e| e.kind == *kind && e.id == *id)
    }
    pub fn health(&self, f: &Finding) -> bool {
        self.find(f).is_some_and(|e| e.health)
    }
    pub fn notifications(&self, f: &Finding) -> bool {
        self.find(f).is_some_and(|e| e.notifications)
    }
}

pub fn load_exclusions(conn: &Connection) -> anyhow::Result<Exclusions> {
    let mut st =
        conn.prepare("SELECT kind, id, health, notifications FROM health_exclusions ORDER BY kind, id")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
    })?;
    let mut items = Vec::new();
    for row in rows {
        let (kind, id, health, notifications) = row?;
        let Ok(kind) = serde_json::from_value(serde_json::Value::String(kind)) else { continue };
        items.push(Exclusion { kind, id, health: health != 0, notifications: notifications != 0 });
    }
    Ok(Exclusions { items })
}

/// Replaces every exclusion (already validated).
pub fn set_exclusions(conn: &mut Connection, items: &[Exclusion]) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM health_exclusions", [])?;
    for e in items {
        tx.execute(
            "INSERT OR REPLACE INTO health_exclusions (kind, id, health, notifications) VALUES (?1, ?2, ?3, ?4)",
            params![ObjectKind::as_str(e.kind), e.id, e.health as i64, e.notifications as i64],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let a = fingerprint("smart:/dev/sdb", EventKind::New, 1, 1);
        assert_eq!(a, fingerprint("smart:/dev/sdb", EventKind::New, 1, 1));
        assert_eq!(a.len(), 32);
        for other in [
            fingerprint("smart:/dev/sdc", EventKind::New, 1, 1),
            fingerprint("smart:/dev/sdb", EventKind::Resolved, 1, 1),
            fingerprint("smart:/dev/sdb", EventKind::New, 2, 1),
            fingerprint("smart:/dev/sdb", EventKind::New, 1, 2),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn exclusions_match_kind_and_id() {
        let ex = Exclusions {
            items: vec![Exclusion {
                kind: ObjectKind::Disk,
                id: "sda".into(),
                health: false,
                notifications: true,
            }],
        };
        let f = |kind, id: &str| {
            Finding::new(Category::Disks, "smart:x", Severity::Warning, "x").object(kind, id)
        };
        assert!(ex.notifications(&f(ObjectKind::Disk, "sda")) && !ex.health(&f(ObjectKind::Disk, "sda")));
        assert!(!ex.notifications(&f(ObjectKind::Storage, "sda")));
        assert!(!ex.notifications(&Finding::new(Category::Disks, "smart:x", Severity::Warning, "x")));
    }

    #[test]
    fn thresholds_and_exclusions_round_trip() {
        let db = crate::db::Db::open_in_memory().unwrap();
        db.call_blocking(|c| {
            set_thresholds(c, &[("cpu.warning_pct".into(), Some(70.0))], 1)?;
            assert_eq!(load_thresholds(c)?.overrides["cpu.warning_pct"], 70.0);
            set_thresholds(c, &[("cpu.warning_pct".into(), None)], 2)?;
            assert!(load_thresholds(c)?.overrides.is_empty());
            let items = vec![Exclusion {
                kind: ObjectKind::Interface,
                id: "vmbr1".into(),
                health: true,
                notifications: false,
            }];
            set_exclusions(c, &items)?;
            assert_eq!(load_exclusions(c)?.items, items);
            Ok(())
        })
        .unwrap();
    }
}
