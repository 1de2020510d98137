//! `/api/monitors`: the service monitors (issue 18). Viewers read (the list with each monitor's
//! state, heartbeat and uptime, a monitor's detail with its incidents and windows, results, latency),
//! operators pause, resume, run now, annotate incidents and plan maintenance windows, admins create,
//! change and delete monitors and take suggestions. A definition that does not hold is a 400 naming
//! the field (`target.port: must be from 1 to 65535`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ADMIN, ApiState, JsonBody, OPERATE, READ, Routes, json, query_pairs};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::model::inventory::Inventory;
use crate::model::monitor::{MonitorSpec, MonitorState, Status, Target};
use crate::monitors::maintenance::{Scope, Window};
use crate::monitors::runner::Tally;
use crate::monitors::store::{self, Incident, MonitorEvent, StoredCheck as MonitorCheck};
use crate::monitors::uptime::{WINDOWS, bucket_of};
use crate::monitors::worker::WRITE_DELAY_MS;
use crate::monitors::{spec, suggest};

/// The largest page of results.
const MAX_PAGE: usize = 1000;
/// Incidents in a monitor's detail.
const DETAIL_INCIDENTS: usize = 50;
/// The most maintenance windows kept.
const MAX_WINDOWS: usize = 200;

pub fn routes() -> Routes {
    Routes::new()
        .get("/monitors", READ, list)
        .post("/monitors", ADMIN, create)
        .get("/monitors/incidents", READ, incidents)
        .put("/monitors/incidents/{id}/note", OPERATE, annotate)
        .get("/monitors/windows", READ, windows)
        .post("/monitors/windows", OPERATE, add_window)
        .delete("/monitors/windows/{id}", OPERATE, delete_window)
        .get("/monitors/uptime", READ, uptime)
        .get("/monitors/suggestions", ADMIN, suggestions)
        .post("/monitors/suggestions/scan", ADMIN, scan)
        .get("/monitors/{id}", READ, detail)
        .put("/monitors/{id}", ADMIN, update)
        .delete("/monitors/{id}", ADMIN, delete)
        .post("/monitors/{id}/pause", OPERATE, pause)
        .post("/monitors/{id}/resume", OPERATE, resume)
        .post("/monitors/{id}/run", OPERATE, run_now)
        .get("/monitors/{id}/results", READ, results)
        .get("/monitors/{id}/latency", READ, latency)
}

// ---------------------------------------------------------------------------------------------------
// views
// ---------------------------------------------------------------------------------------------------

/// Uptime percentages over 24 h, 7 d, 30 d and 90 d, from the 10-minute rollups (`null`: no check
/// counted in that window yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorUptime"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorUptime"))]
pub struct Uptime {
    pub d1: Option<f64>,
    pub d7: Option<f64>,
    pub d30: Option<f64>,
    pub d90: Option<f64>,
}

impl Uptime {
    fn from(v: [Option<f64>; 4]) -> Uptime {
        Uptime { d1: v[0], d7: v[1], d30: v[2], d90: v[3] }
    }
}

/// One monitor in the list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorView"))]
pub struct MonitorView {
    pub id: i64,
    pub spec: MonitorSpec,
    /// `http`, `tcp`, `ping`, `dns` or `agent`.
    pub kind: String,
    /// The target in a few words (`https://ha.lan/`, `tcp 10.0.0.5:22`).
    pub target: String,
    pub paused: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The published state (pending until its first check).
    pub state: MonitorState,
    /// The guest in words (`101 (web)`), when it belongs to one.
    pub guest: Option<String>,
    pub uptime: Uptime,
    /// The newest checks, oldest first (at most 90): the heartbeat bar and the sparkline.
    pub beats: Vec<MonitorCheck>,
    /// The incident still open, if any.
    pub incident: Option<Incident>,
}

/// How many monitors are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorCounts"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorCounts"))]
pub struct Counts {
    pub total: usize,
    pub up: usize,
    pub degraded: usize,
    pub down: usize,
    pub maintenance: usize,
    pub paused: usize,
    pub pending: usize,
    pub guest_stopped: usize,
}

/// `GET /api/monitors`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorList"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorList"))]
pub struct List {
    /// Whether the checks run (`monitors.enabled`).
    pub enabled: bool,
    /// The most monitors this host may define (`monitors.max`).
    pub max: usize,
    pub counts: Counts,
    pub monitors: Vec<MonitorView>,
    /// The host's offset from UTC now (seconds): weekly maintenance windows are in host time.
    pub utc_offset_s: i32,
}

/// An incident with the monitor it is about and the events it caused.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorIncidentView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorIncidentView"))]
pub struct IncidentView {
    #[serde(flatten)]
    pub incident: Incident,
    pub monitor: String,
    pub vmid: Option<u64>,
    /// The incident's length so far (ms).
    pub duration_ms: i64,
    /// What it sent to the notification engine (down, recovered, flapping, ...), oldest first;
    /// `notify: false` ones were held (maintenance, flapping).
    pub events: Vec<MonitorEvent>,
}

/// A maintenance window with its id, and whether it is open now.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MaintenanceWindowView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MaintenanceWindowView"))]
pub struct WindowView {
    pub id: i64,
    #[serde(flatten)]
    pub window: Window,
    pub open: bool,
}

/// `GET /api/monitors/{id}`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorDetail"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorDetail"))]
pub struct Detail {
    pub monitor: MonitorView,
    /// Newest first, at most 50.
    pub incidents: Vec<IncidentView>,
    /// The windows that cover this monitor (its own, its guest's, and the global ones).
    pub windows: Vec<WindowView>,
    /// The host's offset from UTC now (seconds): weekly maintenance windows are in host time.
    pub utc_offset_s: i32,
}

/// One point of a latency chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorLatencyPoint"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorLatencyPoint"))]
pub struct LatencyPoint {
    pub ts: i64,
    /// One check's latency (24 h), or the bucket's average.
    pub avg: Option<f64>,
    /// The bucket's 95th percentile (equal to `avg` for one check).
    pub p95: Option<f64>,
    /// The share of checks that found it up (0–1); `null` when all were in maintenance.
    pub up: Option<f64>,
}

/// `GET /api/monitors/{id}/latency`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorLatency"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorLatency"))]
pub struct Latency {
    /// `24h` (every check), `7d`, `30d` or `90d` (10-minute rollups, averaged to at most 720 points).
    pub range: String,
    pub points: Vec<LatencyPoint>,
}

/// `GET /api/monitors/{id}/results`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorResults"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorResults"))]
pub struct Results {
    /// Newest first.
    pub results: Vec<MonitorCheck>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    pub next_before: Option<i64>,
}

/// Uptime of one monitor or one guest.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UptimeRow"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UptimeRow"))]
pub struct UptimeRow {
    /// The monitor's id (none for a guest's row).
    pub id: Option<i64>,
    pub vmid: Option<u64>,
    /// The monitor's name, or the guest in words.
    pub name: String,
    pub uptime: Uptime,
}

/// `GET /api/monitors/uptime`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UptimeSummary"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UptimeSummary"))]
pub struct UptimeSummary {
    pub monitors: Vec<UptimeRow>,
    /// Each guest with monitors: all of its monitors' checks together.
    pub guests: Vec<UptimeRow>,
}

// ---------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------

fn parse_id(id: &str, what: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|&i| i > 0)
        .ok_or_else(|| ApiError::bad_request(format!("malformed {what} id {id:?}")))
}

/// A `limit` query parameter: 1 to [`MAX_PAGE`].
fn page_size(v: &str) -> Result<usize, ApiError> {
    v.parse::<usize>()
        .ok()
        .filter(|l| (1..=MAX_PAGE).contains(l))
        .ok_or_else(|| ApiError::bad_request(format!("limit: must be between 1 and {MAX_PAGE}")))
}

fn field_error(e: spec::FieldError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("no monitor {id}"))
}

/// A guest's label, when the monitor belongs to one the inventory knows.
fn guest_label(inv: &Inventory, vmid: Option<u64>) -> Option<String> {
    let vmid = vmid?;
    Some(inv.guest(vmid).map(|g| g.label()).unwrap_or_else(|| vmid.to_string()))
}

fn percent(t: &Tally) -> Uptime {
    Uptime::from(t.map(|(n, up)| (n > 0).then(|| up as f64 * 100.0 / n as f64)))
}

/// The state published for a monitor, or pending (not yet loaded by the loop).
fn state_of(app: &ApiState, row: &store::Row) -> MonitorState {
    app.monitors.runner.out.borrow().get(&row.id).map(|s| (**s).clone()).unwrap_or(MonitorState {
        id: row.id,
        name: row.spec.name.clone(),
        vmid: row.spec.vmid,
        status: if row.paused { Status::Paused } else { Status::Pending },
        since: None,
        flapping: false,
        last: None,
        cert_expires: None,
    })
}

/// A monitor as read for its view: the row and its open incident.
type Loaded = (store::Row, Option<Incident>);

/// Reads the monitors (all, or one guest's) with their open incidents; the uptime tallies are
/// brought up to date first (the first read after a start).
async fn load(app: &ApiState, only: Option<i64>, vmid: Option<u64>) -> Result<Vec<Loaded>, ApiError> {
    let runner = &app.monitors.runner;
    if !runner.tallied() {
        let upto = bucket_of(app.clock.now_ms() - WRITE_DELAY_MS);
        runner.tally_upto(upto).await.map_err(ApiError::internal)?;
    }
    app.db
        .call(move |c| {
            let rows: Vec<store::Row> = match only {
                Some(id) => store::get(c, id)?.into_iter().collect(),
                None => store::list(c)?,
            };
            let mut out = Vec::new();
            for r in rows.into_iter().filter(|r| vmid.is_none_or(|v| r.spec.vmid == Some(v))) {
                let incident = match store::open_incident_id(c, r.id)? {
                    Some(_) => store::incidents(c, Some(r.id), 1)?.into_iter().find(|i| i.ended_ms.is_none()),
                    None => None,
                };
                out.push((r, incident));
            }
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)
}

fn view(app: &ApiState, inv: &Inventory, (row, incident): Loaded) -> MonitorView {
    let runner = &app.monitors.runner;
    MonitorView {
        id: row.id,
        kind: row.spec.target.kind().into(),
        target: row.spec.target.describe(),
        state: state_of(app, &row),
        guest: guest_label(inv, row.spec.vmid),
        uptime: percent(&runner.uptime(row.id)),
        beats: runner.beats(row.id),
        paused: row.paused,
        created_ms: row.created_ms,
        updated_ms: row.updated_ms,
        spec: row.spec,
        incident,
    }
}

fn count(views: &[MonitorView]) -> Counts {
    let mut c = Counts { total: views.len(), ..Counts::default() };
    for v in views {
        match v.state.status {
            Status::Up => c.up += 1,
            Status::Degraded => c.degraded += 1,
            Status::Down => c.down += 1,
            Status::Maintenance => c.maintenance += 1,
            Status::Paused => c.paused += 1,
            Status::Pending => c.pending += 1,
            Status::GuestStopped => c.guest_stopped += 1,
        }
    }
    c
}

/// Checks a definition; a guest it names must be one the inventory knows (when it knows any).
fn check_spec(app: &ApiState, s: &MonitorSpec) -> Result<(), ApiError> {
    spec::check(s).map_err(field_error)?;
    let inv = app.inventory.borrow().clone();
    let known = |vmid: u64| inv.resources.data.is_none() || inv.guest(vmid).is_some();
    if let Some(vmid) = s.vmid
        && !known(vmid)
    {
        return Err(ApiError::bad_request(format!("vmid: no guest {vmid} on this host")));
    }
    if let Target::Agent { vmid } = s.target
        && !known(vmid)
    {
        return Err(ApiError::bad_request(format!("target.vmid: no guest {vmid} on this host")));
    }
    Ok(())
}

fn changed(app: &ApiState) {
    app.monitors.changed.notify_one();
}

// ---------------------------------------------------------------------------------------------------
// handlers
// ---------------------------------------------------------------------------------------------------

async fn list(State(app): State<ApiState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let mut vmid = None;
    for (k, v) in query_pairs(q.as_deref())? {
        match k.as_str() {
            "vmid" => {
                vmid = Some(
                    v.parse::<u64>()
                        .map_err(|_| ApiError::bad_request(format!("vmid: {v:?} is not a number")))?,
                )
            }
            _ => return Err(ApiError::bad_request(format!("unknown query parameter {k:?}"))),
        }
    }
    let rows = load(&app, None, vmid).await?;
    let inv = app.inventory.borrow().clone();
    let monitors: Vec<MonitorView> = rows.into_iter().map(|r| view(&app, &inv, r)).collect();
    json(&List {
        enabled: app.monitors.enabled,
        max: app.monitors.max,
        counts: count(&monitors),
        monitors,
        utc_offset_s: app.monitors.runner.utc_offset_s(app.clock.now_ms()),
    })
}

async fn one(app: &ApiState, id: i64) -> Result<MonitorView, ApiError> {
    let row = load(app, Some(id), None).await?.into_iter().next().ok_or_else(|| not_found(id))?;
    let inv = app.inventory.borrow().clone();
    Ok(view(app, &inv, row))
}

async fn create(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(s): JsonBody<MonitorSpec>,
) -> Result<Response, ApiError> {
    check_spec(&app, &s)?;
    let now = app.clock.now_ms();
    let max = app.monitors.max;
    let name = s.name.clone();
    let id = app
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            if store::count(&tx)? >= max {
                return Ok(None);
            }
            let id = store::create(&tx, &s, now)?;
            tx.commit()?;
            Ok(Some(id))
        })
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::Conflict(format!("this host has {max} monitors, the most allowed (monitors.max)"))
        })?;
    tracing::info!(user = %p.user, monitor = id, name = %name, "monitor added");
    changed(&app);
    app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, json(&one(&app, id).await?)?).into_response())
}

async fn detail(State(app): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    let monitor = one(&app, id).await?;
    let now = app.clock.now_ms();
    let (name, vmid) = (monitor.spec.name.clone(), monitor.spec.vmid);
    let (incidents, windows) = app
        .db
        .call(move |c| {
            let incidents = store::incidents(c, Some(id), DETAIL_INCIDENTS)?;
            let ids: Vec<i64> = incidents.iter().map(|i| i.id).collect();
            let events = store::incident_events(c, &ids)?;
            Ok((incidents, events, store::windows(c)?))
        })
        .await
        .map(|(incidents, events, windows)| {
            let mut by: BTreeMap<i64, Vec<MonitorEvent>> = BTreeMap::new();
            for e in events {
                if let Some(i) = e.incident_id {
                    by.entry(i).or_default().push(e);
                }
            }
            let incidents = incidents
                .into_iter()
                .map(|i| IncidentView {
                    duration_ms: i.ended_ms.unwrap_or(now) - i.started_ms,
                    events: by.remove(&i.id).unwrap_or_default(),
                    monitor: name.clone(),
                    vmid,
                    incident: i,
                })
                .collect::<Vec<_>>();
            (incidents, windows)
        })
        .map_err(ApiError::internal)?;
    let offset = app.monitors.runner.utc_offset_s(now);
    let windows = windows
        .into_iter()
        .filter(|(_, w)| match &w.scope {
            Scope::All => true,
            Scope::Monitor { id: m } => *m == id,
            Scope::Guest { vmid: v } => vmid == Some(*v),
        })
        .map(|(wid, w)| WindowView { id: wid, open: w.when.open(now, offset), window: w })
        .collect();
    json(&Detail { monitor, incidents, windows, utc_offset_s: offset })
}

async fn update(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(s): JsonBody<MonitorSpec>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    check_spec(&app, &s)?;
    let now = app.clock.now_ms();
    let found = app.db.call(move |c| store::update(c, id, &s, now)).await.map_err(ApiError::internal)?;
    if !found {
        return Err(not_found(id));
    }
    tracing::info!(user = %p.user, monitor = id, "monitor changed");
    changed(&app);
    app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    json(&one(&app, id).await?)
}

async fn delete(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    let found = app.db.call(move |c| store::delete(c, id)).await.map_err(ApiError::internal)?;
    if !found {
        return Err(not_found(id));
    }
    tracing::info!(user = %p.user, monitor = id, "monitor deleted");
    changed(&app);
    app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_paused(app: ApiState, p: Principal, id: String, paused: bool) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    let now = app.clock.now_ms();
    let found = app
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let found = store::set_paused(&tx, id, paused, now)?;
            if found && paused {
                // Paused is not down: the open incident ends here.
                store::close_incident(&tx, id, now)?;
            }
            tx.commit()?;
            Ok(found)
        })
        .await
        .map_err(ApiError::internal)?;
    if !found {
        return Err(not_found(id));
    }
    tracing::info!(user = %p.user, monitor = id, paused, "monitor {}", if paused { "paused" } else { "resumed" });
    changed(&app);
    app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    json(&one(&app, id).await?)
}

async fn pause(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_paused(app, p, id, true).await
}

async fn resume(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_paused(app, p, id, false).await
}

/// Checks the monitor now (its own timeout bounds it) and answers with its state after.
async fn run_now(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    let row = app.db.call(move |c| store::get(c, id)).await.map_err(ApiError::internal)?;
    let row = row.ok_or_else(|| not_found(id))?;
    if row.paused {
        return Err(ApiError::Conflict(format!("monitor {id} is paused: resume it first")));
    }
    if !app.monitors.enabled {
        return Err(ApiError::Conflict("the service monitors are off (monitors.enabled = false)".into()));
    }
    let Some(_slot) = app.monitors.run_now_slot(id) else {
        return Err(ApiError::busy("a check of this monitor", Duration::from_secs(1)));
    };
    if !app.monitors.runner.out.borrow().contains_key(&id) {
        app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    }
    tracing::info!(user = %p.user, monitor = id, "monitor checked on demand");
    app.monitors.runner.check(id, app.clock.now_ms()).await.map_err(ApiError::internal)?;
    json(&one(&app, id).await?)
}

async fn results(
    State(app): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    let (mut before, mut limit) = (None, 100usize);
    for (k, v) in query_pairs(q.as_deref())? {
        match k.as_str() {
            "before" => {
                before = Some(
                    v.parse::<i64>()
                        .map_err(|_| ApiError::bad_request(format!("before: {v:?} is not a time in ms")))?,
                )
            }
            "limit" => limit = page_size(&v)?,
            _ => return Err(ApiError::bad_request(format!("unknown query parameter {k:?}"))),
        }
    }
    let exists = app.db.call(move |c| Ok(store::get(c, id)?.is_some())).await.map_err(ApiError::internal)?;
    if !exists {
        return Err(not_found(id));
    }
    let results = app.monitors.runner.results(id, before, limit).await.map_err(ApiError::internal)?;
    let next_before = (results.len() == limit).then(|| results.last().map(|r| r.ts)).flatten();
    json(&Results { results, next_before })
}

/// At most this many points in a chart: 7 days of 10-minute buckets is 1008; longer ranges are
/// averaged down.
const MAX_POINTS: usize = 720;

async fn latency(
    State(app): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "monitor")?;
    let mut range = "24h".to_string();
    for (k, v) in query_pairs(q.as_deref())? {
        match k.as_str() {
            "range" => range = v,
            _ => return Err(ApiError::bad_request(format!("unknown query parameter {k:?}"))),
        }
    }
    let Some(&(_, window)) = WINDOWS.iter().find(|(n, _)| *n == range) else {
        return Err(ApiError::bad_request(format!("range: {range:?} is not one of 24h, 7d, 30d, 90d")));
    };
    let now = app.clock.now_ms();
    let raw = range == "24h";
    let exists = app.db.call(move |c| Ok(store::get(c, id)?.is_some())).await.map_err(ApiError::internal)?;
    if !exists {
        return Err(not_found(id));
    }
    let (checks, buckets) = if raw {
        // Every check of the day: 8 640 at the shortest interval, more with checks on demand.
        let mut r = app.monitors.runner.results(id, None, 20_000).await.map_err(ApiError::internal)?;
        r.retain(|x| x.ts >= now - window);
        r.reverse();
        (r, Vec::new())
    } else {
        let b = app
            .db
            .call(move |c| store::rollups(c, id, now - window, now))
            .await
            .map_err(ApiError::internal)?;
        (Vec::new(), b)
    };
    let points: Vec<LatencyPoint> = if raw {
        checks
            .iter()
            .map(|c| LatencyPoint {
                ts: c.ts,
                avg: c.latency_ms,
                p95: c.latency_ms,
                up: (!c.maintenance).then_some(if c.status == "down" { 0.0 } else { 1.0 }),
            })
            .collect()
    } else {
        let per = buckets.len().div_ceil(MAX_POINTS).max(1);
        buckets
            .chunks(per)
            .map(|ch| {
                let lat: Vec<(f64, f64)> = ch
                    .iter()
                    .filter_map(|b| Some((b.latency_avg?, b.latency_p95.unwrap_or(b.latency_avg?))))
                    .collect();
                let (n, up) = ch.iter().fold((0u32, 0u32), |a, b| (a.0 + b.checks, a.1 + b.up));
                LatencyPoint {
                    ts: ch[0].start,
                    avg: (!lat.is_empty()).then(|| lat.iter().map(|l| l.0).sum::<f64>() / lat.len() as f64),
                    p95: lat.iter().map(|l| l.1).reduce(f64::max),
                    up: (n > 0).then(|| f64::from(up) / f64::from(n)),
                }
            })
            .collect()
    };
    json(&Latency { range, points })
}

async fn incidents(State(app): State<ApiState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let mut limit = 100usize;
    for (k, v) in query_pairs(q.as_deref())? {
        match k.as_str() {
            "limit" => limit = page_size(&v)?,
            _ => return Err(ApiError::bad_request(format!("unknown query parameter {k:?}"))),
        }
    }
    let now = app.clock.now_ms();
    let (incidents, events, rows) = app
        .db
        .call(move |c| {
            let incidents = store::incidents(c, None, limit)?;
            let ids: Vec<i64> = incidents.iter().map(|i| i.id).collect();
            Ok((incidents, store::incident_events(c, &ids)?, store::list(c)?))
        })
        .await
        .map_err(ApiError::internal)?;
    let names: HashMap<i64, (String, Option<u64>)> =
        rows.into_iter().map(|r| (r.id, (r.spec.name, r.spec.vmid))).collect();
    let mut by: BTreeMap<i64, Vec<MonitorEvent>> = BTreeMap::new();
    for e in events {
        if let Some(i) = e.incident_id {
            by.entry(i).or_default().push(e);
        }
    }
    let out: Vec<IncidentView> = incidents
        .into_iter()
        .map(|i| {
            let (monitor, vmid) = names.get(&i.monitor_id).cloned().unwrap_or_default();
            IncidentView {
                duration_ms: i.ended_ms.unwrap_or(now) - i.started_ms,
                events: by.remove(&i.id).unwrap_or_default(),
                monitor,
                vmid,
                incident: i,
            }
        })
        .collect();
    json(&out)
}

#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "IncidentNote"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "IncidentNote"))]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// The operator's note ("planned reboot"); empty removes it.
    pub note: String,
}

const MAX_NOTE: usize = 500;

async fn annotate(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(n): JsonBody<Note>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "incident")?;
    let note = n.note.trim().to_string();
    if note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad_request(format!("note: must be at most {MAX_NOTE} characters")));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::bad_request("note: must not contain control characters"));
    }
    let now = app.clock.now_ms();
    let user = p.user.clone();
    let found = app
        .db
        .call(move |c| {
            if note.is_empty() {
                Ok(c.execute(
                    "UPDATE monitor_incidents SET note = NULL, note_by = NULL, note_ms = NULL WHERE id = ?1",
                    [id],
                )? == 1)
            } else {
                store::annotate(c, id, &note, &user, now)
            }
        })
        .await
        .map_err(ApiError::internal)?;
    if !found {
        return Err(ApiError::not_found(format!("no incident {id}")));
    }
    tracing::info!(user = %p.user, incident = id, "incident annotated");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn windows(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let now = app.clock.now_ms();
    let offset = app.monitors.runner.utc_offset_s(now);
    let ws = app.db.call(|c| store::windows(c)).await.map_err(ApiError::internal)?;
    let out: Vec<WindowView> =
        ws.into_iter().map(|(id, w)| WindowView { id, open: w.when.open(now, offset), window: w }).collect();
    json(&out)
}

async fn add_window(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(w): JsonBody<Window>,
) -> Result<Response, ApiError> {
    w.when.check().map_err(|(field, message)| ApiError::bad_request(format!("{field}: {message}")))?;
    if w.note.chars().count() > MAX_NOTE || w.note.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "note: at most {MAX_NOTE} characters, without control characters"
        )));
    }
    let now = app.clock.now_ms();
    let user = p.user.clone();
    let scope = w.scope.clone();
    let id = app
        .db
        .call(move |c| {
            if let Scope::Monitor { id } = scope
                && store::get(c, id)?.is_none()
            {
                return Ok(Err(format!("scope.id: no monitor {id}")));
            }
            if store::windows(c)?.len() >= MAX_WINDOWS {
                return Ok(Err(format!("at most {MAX_WINDOWS} maintenance windows: delete old ones first")));
            }
            Ok(Ok(store::add_window(c, &w, &user, now)?))
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::bad_request)?;
    tracing::info!(user = %p.user, window = id, "maintenance window added");
    changed(&app);
    app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, json(&serde_json::json!({ "id": id }))?).into_response())
}

async fn delete_window(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "window")?;
    let found = app.db.call(move |c| store::delete_window(c, id)).await.map_err(ApiError::internal)?;
    if !found {
        return Err(ApiError::not_found(format!("no maintenance window {id}")));
    }
    tracing::info!(user = %p.user, window = id, "maintenance window deleted");
    changed(&app);
    app.monitors.runner.reload().await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn uptime(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let rows: Vec<store::Row> = load(&app, None, None).await?.into_iter().map(|(r, _)| r).collect();
    let inv = app.inventory.borrow().clone();
    let runner = &app.monitors.runner;
    let mut guests: BTreeMap<u64, Tally> = BTreeMap::new();
    let monitors = rows
        .iter()
        .map(|r| {
            let tally = runner.uptime(r.id);
            if let Some(v) = r.spec.vmid {
                let g = guests.entry(v).or_default();
                for (i, (n, up)) in tally.iter().enumerate() {
                    g[i].0 += n;
                    g[i].1 += up;
                }
            }
            UptimeRow {
                id: Some(r.id),
                vmid: r.spec.vmid,
                name: r.spec.name.clone(),
                uptime: percent(&tally),
            }
        })
        .collect();
    let guests = guests
        .into_iter()
        .map(|(vmid, tally)| UptimeRow {
            id: None,
            vmid: Some(vmid),
            name: guest_label(&inv, Some(vmid)).unwrap_or_default(),
            uptime: percent(&tally),
        })
        .collect();
    json(&UptimeSummary { monitors, guests })
}

async fn suggestions(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let existing = app.db.call(|c| store::list(c)).await.map_err(ApiError::internal)?;
    let addrs = suggest::addresses(&app.host, app.pve.link(), &inv).await;
    let specs: Vec<MonitorSpec> = existing.into_iter().map(|r| r.spec).collect();
    json(&suggest::pings(&inv, &addrs, &specs))
}

#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "SuggestScan"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SuggestScan"))]
#[serde(deny_unknown_fields)]
pub struct Scan {
    /// The guest whose known addresses are checked for web services on well-known ports.
    pub vmid: u64,
}

/// Looks for web services on one guest's known addresses, only when the admin asks: a TCP connect
/// to each well-known port (1 s each, all at once), nothing else.
async fn scan(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(s): JsonBody<Scan>,
) -> Result<Response, ApiError> {
    let inv = app.inventory.borrow().clone();
    let Some(guest) = inv.guest(s.vmid).cloned() else {
        return Err(ApiError::not_found(format!("no guest {} on this host", s.vmid)));
    };
    if guest.status != "running" {
        return Err(ApiError::Conflict(format!("{} is {}: start it first", guest.label(), guest.status)));
    }
    let Some(_slot) = app.monitors.scan_slot() else {
        return Err(ApiError::busy("a scan", Duration::from_secs(2)));
    };
    let addrs = suggest::addresses(&app.host, app.pve.link(), &inv).await;
    let mine: Vec<String> =
        addrs.get(&s.vmid).map(|a| a.iter().map(|x| x.address.clone()).collect()).unwrap_or_default();
    if mine.is_empty() {
        return Err(ApiError::Conflict(format!(
            "the address of {} is not known (no static IP in its config and no answer from its guest agent)",
            guest.label()
        )));
    }
    tracing::info!(user = %p.user, vmid = s.vmid, "looking for web services on a guest");
    let existing = app.db.call(|c| store::list(c)).await.map_err(ApiError::internal)?;
    let specs: Vec<MonitorSpec> = existing.into_iter().map(|r| r.spec).collect();
    json(&suggest::scan(&guest, &mine, &specs, Duration::from_secs(1)).await)
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<List>();
    v.visit::<Detail>();
    v.visit::<Latency>();
    v.visit::<Results>();
    v.visit::<UptimeSummary>();
    v.visit::<IncidentView>();
    v.visit::<WindowView>();
    v.visit::<Note>();
    v.visit::<Scan>();
    v.visit::<suggest::Suggestion>();
    v.visit::<MonitorSpec>();
    v.visit::<Window>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    let id = || json!({ "type": "integer", "minimum": 1 });
    use serde_json::json;
    let limit = || json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE });
    d.get("/monitors", "Every service monitor with its state, heartbeat and uptime")
        .about(
            "Each monitor's definition, published state, the newest 90 checks (oldest first), its \
             open incident and its uptime over 24 h / 7 d / 30 d / 90 d from the 10-minute rollups, \
             and the counts per state.",
        )
        .query("vmid", int(), "Only the monitors of this guest.")
        .ok(out::<List>());
    d.post("/monitors", "Add a monitor")
        .about(
            "The definition is checked field by field: a 400 names the field (`target.port: must be \
             from 1 to 65535`, `interval_s: must be from 10 to 86400 seconds`). At most `monitors.max` \
             monitors (409 beyond).",
        )
        .status(201)
        .body(input::<MonitorSpec>())
        .ok(out::<MonitorView>())
        .error(409, "The host has the most monitors allowed.");
    d.get("/monitors/{id}", "One monitor with its incidents and the maintenance windows that cover it")
        .path_param("id", id(), "The monitor's id.")
        .ok(out::<Detail>());
    d.put("/monitors/{id}", "Replace a monitor's definition")
        .about("Checked as for a new one. Its state and history are kept.")
        .path_param("id", id(), "The monitor's id.")
        .body(input::<MonitorSpec>())
        .ok(out::<MonitorView>());
    d.delete("/monitors/{id}", "Delete a monitor with its results, rollups and incidents")
        .path_param("id", id(), "The monitor's id.")
        .no_content();
    d.post("/monitors/{id}/pause", "Pause a monitor: no checks, its open incident ends")
        .path_param("id", id(), "The monitor's id.")
        .ok(out::<MonitorView>());
    d.post("/monitors/{id}/resume", "Resume a paused monitor")
        .path_param("id", id(), "The monitor's id.")
        .ok(out::<MonitorView>());
    d.post("/monitors/{id}/run", "Check a monitor now")
        .about("Runs one check (bounded by the monitor's timeout) and answers with the monitor after it.")
        .path_param("id", id(), "The monitor's id.")
        .ok(out::<MonitorView>())
        .error(409, "The monitor is paused, or the monitors are off.")
        .error(503, "A check of this monitor on demand is already running.");
    d.get("/monitors/{id}/results", "A monitor's checks, newest first, a page at a time")
        .about("Every check is kept 24 h; older ones live on as 10-minute rollups.")
        .path_param("id", id(), "The monitor's id.")
        .query("before", int(), "Only checks older than this (unix ms; the previous page's `next_before`).")
        .query("limit", limit(), "At most this many (default 100).")
        .ok(out::<Results>());
    d.get("/monitors/{id}/latency", "A monitor's latency and up-ratio over a range, for a chart")
        .path_param("id", id(), "The monitor's id.")
        .query("range", one_of(&["24h", "7d", "30d", "90d"]), "The range (default 24h: every check).")
        .ok(out::<Latency>());
    d.get("/monitors/incidents", "Every monitor's incidents, newest first")
        .query("limit", limit(), "At most this many (default 100).")
        .ok(arr(out::<IncidentView>()));
    d.put("/monitors/incidents/{id}/note", "Annotate an incident (\"planned reboot\")")
        .about("An empty note removes it. The note records who wrote it and when.")
        .path_param("id", id(), "The incident's id.")
        .body(input::<Note>())
        .no_content();
    d.get("/monitors/windows", "Every maintenance window, and whether it is open now")
        .ok(arr(out::<WindowView>()));
    d.post("/monitors/windows", "Plan a maintenance window")
        .about(
            "One-off (`when.kind = once`, `start` and `end` in unix ms) or weekly (`when.kind = weekly`, \
             `days` of `mon`…`sun`, `start` as `HH:MM` in the host's local time, `minutes`), for one \
             monitor, one guest's monitors or all. During a window checks run and are recorded, but \
             nothing is notified and uptime leaves them out.",
        )
        .status(201)
        .body(input::<Window>())
        .ok(obj(&[("id", int())]));
    d.delete("/monitors/windows/{id}", "Delete a maintenance window")
        .path_param("id", id(), "The window's id.")
        .no_content();
    d.get("/monitors/uptime", "Uptime per monitor and per guest over 24 h, 7 d, 30 d and 90 d")
        .ok(out::<UptimeSummary>());
    d.get("/monitors/suggestions", "Suggested ping monitors for the running guests with a known address")
        .about(
            "From the inventory: a static address in a container's or VM's config, else the QEMU guest \
             agent's interfaces. Nothing is probed and nothing is created.",
        )
        .ok(arr(out::<suggest::Suggestion>()));
    d.post("/monitors/suggestions/scan", "Look for web services on one guest")
        .about(
            "A TCP connect to each well-known web port (80, 443, 8080, 8443, 8123, 3000, 8006, 8007, \
             9000, 9443) on the guest's known addresses, 1 s each; one scan at a time. Answers HTTP(S) \
             monitors to add; creates nothing.",
        )
        .body(input::<Scan>())
        .ok(arr(out::<suggest::Suggestion>()))
        .error(404, "No such guest on this host.")
        .error(409, "The guest is not running, or its address is not known.")
        .error(503, "Another scan is running.");
}
