//! `/api/health/live`, `/api/system` and `/api/processes`: identity, latest vitals and top processes,
//! all served from snapshots.

use axum::extract::{RawQuery, State};
use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};

use super::{ADMIN, PUBLIC, READ, Routes, json};
use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::ApiState;
use crate::error::ApiError;
use crate::model::DemoInfo;
use crate::model::{Identity, Process};

pub fn routes() -> Routes {
    Routes::new()
        .get("/health/live", PUBLIC, live)
        .get("/system", READ, system)
        .get("/system/self", ADMIN, self_view)
        .get("/processes", READ, processes)
}

#[derive(Serialize)]
struct Live {
    status: &'static str,
    version: &'static str,
}

/// What proxwatch itself costs the host: the programs it ran since start, its own memory and CPU, and
/// its database on disk.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "SelfView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SelfView"))]
struct SelfView {
    version: &'static str,
    /// Seconds since proxwatch started.
    uptime_s: u64,
    /// Programs asked for (replayed answers included: on a real host each is a process).
    runs: u64,
    /// Processes actually spawned (0 on a replayed or demo host).
    spawns: u64,
    /// By program name (`pvesh`, `smartctl`, …).
    by_program: std::collections::BTreeMap<String, crate::host::ProgramRuns>,
    /// proxwatch's own memory, CPU time and threads (`null` without procfs).
    process: Option<crate::host::OwnUsage>,
    /// The database on disk (file and write-ahead log), bytes.
    db_bytes: u64,
    /// Tool runs killed at their timeout, all programs together (`by_program` has each).
    timeouts: u64,
    /// Warnings and errors proxwatch logged since start (its loops log what failed and go on).
    log_warnings: u64,
    log_errors: u64,
    /// The last error logged: when (unix seconds), where (module) and what.
    last_error: Option<LastError>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
struct LastError {
    ts: i64,
    target: String,
    message: String,
}

async fn self_view(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let by_program = app.host.runs_by_program();
    json(&SelfView {
        version: crate::VERSION,
        uptime_s: app.started.elapsed().as_secs(),
        runs: app.host.run_count(),
        spawns: app.host.spawn_count(),
        timeouts: by_program.values().map(|p| p.timeouts).sum(),
        by_program,
        process: crate::host::own_usage(),
        db_bytes: app.db.size_bytes(),
        log_warnings: crate::host::LOG_COUNTS.warnings.load(std::sync::atomic::Ordering::Relaxed),
        log_errors: crate::host::LOG_COUNTS.errors.load(std::sync::atomic::Ordering::Relaxed),
        last_error: crate::host::LOG_COUNTS
            .last_error
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .map(|(ts, target, message)| LastError { ts, target, message }),
    })
}

async fn live() -> Json<Live> {
    Json(Live { status: "ok", version: crate::VERSION })
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "SystemInfo"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SystemInfo"))]
struct System<'a> {
    identity: Option<&'a Identity>,
    demo: Option<&'a DemoInfo>,
    /// The latest vitals sample, passed through as the live stream serialized it.
    #[cfg_attr(test, ts(as = "Option<crate::model::Sample>"))]
    #[cfg_attr(test, schemars(with = "Option<crate::model::Sample>"))]
    vitals: Option<&'a RawValue>,
}

async fn system(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let identity = app.identity.borrow().clone();
    let vitals = app.vitals.borrow().clone();
    // The body only changes when a new sample or identity is published: render it once per change and
    // hand every other request the same bytes.
    let key = (vitals.as_ref().map(|v| v.sample.ts), identity.as_ref().map(|i| Arc::as_ptr(i) as usize));
    if let Ok(cache) = app.system_cache.lock() {
        if let Some((k, bytes)) = cache.as_ref() {
            if *k == key {
                return Ok(json_bytes(bytes.clone()));
            }
        }
    }
    // Uptime ticks between identity refreshes: take it from the latest sample when there is one.
    let identity = identity.map(|id| {
        let mut id = (*id).clone();
        if let Some(v) = &vitals {
            id.uptime_s = v.sample.uptime_s;
        }
        id
    });
    let body = System {
        identity: identity.as_ref(),
        demo: app.demo.as_ref(),
        vitals: vitals.as_deref().map(|v| &*v.json),
    };
    let bytes = Bytes::from(serde_json::to_vec(&body).map_err(ApiError::internal)?);
    if let Ok(mut cache) = app.system_cache.lock() {
        *cache = Some((key, bytes.clone()));
    }
    Ok(json_bytes(bytes))
}

fn json_bytes(bytes: Bytes) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "ProcessList"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "ProcessList"))]
struct Processes<'a> {
    sampled_at: i64,
    #[cfg_attr(test, schemars(extend("enum" = ["cpu", "mem"])))]
    sort: &'static str,
    total: usize,
    processes: Vec<std::borrow::Cow<'a, Process>>,
}

const MAX_LIMIT: usize = 500;

/// `/api/processes`. Command lines carry secrets often enough (`--password=…`, tokens in URLs) that
/// only admins see them whole; everyone else sees the program's name.
async fn processes(
    State(app): State<ApiState>,
    axum::Extension(p): axum::Extension<crate::auth::Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut sort = "cpu";
    let mut limit = 25usize;
    for (k, v) in super::query_pairs(raw.as_deref())? {
        match k.as_str() {
            "sort" => {
                sort = match v.as_str() {
                    "cpu" => "cpu",
                    "mem" => "mem",
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "sort must be one of: cpu, mem (got {v:?})"
                        )));
                    }
                }
            }
            "limit" => {
                limit = v.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "limit must be an integer from 1 to {MAX_LIMIT} (got {v:?})"
                    ))
                })?
            }
            _ => return Err(ApiError::bad_request(format!("unknown parameter {k:?}; valid: sort, limit"))),
        }
    }
    let now = app.clock.now_ms();
    app.process_demand.ask(now, app.config.sampler.processes_demand_s as i64 * 1000);
    let snap = app.processes.borrow().clone();
    let mut list: Vec<&Process> = snap.processes.iter().collect();
    match sort {
        "mem" => list.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid))),
        _ => list.sort_by(|a, b| b.cpu_pct.total_cmp(&a.cpu_pct).then(b.rss_bytes.cmp(&a.rss_bytes))),
    }
    let total = list.len();
    list.truncate(limit);
    let admin = p.level == crate::auth::Level::Admin;
    let processes = list
        .into_iter()
        .map(|proc_| {
            if admin {
                std::borrow::Cow::Borrowed(proc_)
            } else {
                let mut q = proc_.clone();
                q.command = q.name.clone();
                std::borrow::Cow::Owned(q)
            }
        })
        .collect();
    let body = Processes { sampled_at: snap.sampled_at, sort, total, processes };
    super::json(&body)
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<System<'static>>();
    v.visit::<Processes<'static>>();
    v.visit::<SelfView>();
    v.visit::<crate::host::ProgramRuns>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/health/live", "Liveness: proxwatch answers, with its version")
        .about(
            "Public, for uptime checks and load balancers: no credentials, no host data. Always \
             `{\"status\": \"ok\", \"version\": …}` while the server runs.",
        )
        .ok(obj(&[("status", one_of(&["ok"])), ("version", string())]));
    d.get("/system/self", "What proxwatch costs the host: the programs it ran since start, by program")
        .about(
            "`runs` counts every program proxwatch asked for (a replayed scenario answers them without a \
             process; on a real host each is one); `spawns` counts the processes really started. Divide by \
             `uptime_s` for a rate.",
        )
        .ok(out::<SelfView>());
    d.get("/system", "The host's identity and its latest vitals sample")
        .about(
            "`identity` is `null` until it has been read at start, `vitals` until the first sample \
             (the same object `/api/live` pushes), `demo` outside the demo.",
        )
        .ok(out::<System<'static>>());
    d.get("/processes", "The top processes by CPU or memory")
        .about(
            "Asks the sampler for process scans for a while (the first call after a quiet spell may \
             answer the last scan, or an empty list with `sampled_at` 0). Only admins see whole command \
             lines; everyone else gets the program's name in `command`. An unknown parameter is a 400.",
        )
        .query("sort", one_of(&["cpu", "mem"]), "Order by CPU share or resident memory (default cpu).")
        .query(
            "limit",
            serde_json::json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT }),
            "At most this many processes (default 25, max 500); `total` counts them all.",
        )
        .ok(out::<Processes<'static>>());
}
