//! `/api/health/*`: the health monitor's verdict (from the cycle's snapshot), findings and events
//! (from the database), dismissals (operators), thresholds and exclusions (admins), and an on-demand
//! run (operators, rate-limited). `GET /api/health/live` (uptime checks) lives in `system.rs`.
//!
//! Finding keys contain `:` and `/` (`smart:/dev/sdb`): clients percent-encode them in the path
//! (`/api/health/findings/smart%3A%2Fdev%2Fsdb/dismiss`); axum decodes the segment.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::{ADMIN, JsonBody, OPERATE, READ, Routes, json, query_pairs};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::health::model::{Category, Finding, Severity};
use crate::health::store::{self, Exclusion, Record, State as FState};
use crate::health::thresholds::THRESHOLDS;
use crate::health::{self, CheckDef, Counts, HealthSnapshot};

pub fn routes() -> Routes {
    Routes::new()
        .get("/health", READ, overview)
        .post("/health/run", OPERATE, run)
        .get("/health/findings", READ, findings)
        .post("/health/findings/{key}/dismiss", OPERATE, dismiss)
        .post("/health/findings/{key}/undismiss", OPERATE, undismiss)
        .get("/health/events", READ, events)
        .get("/health/thresholds", READ, thresholds)
        .put("/health/thresholds", ADMIN, put_thresholds)
        .get("/health/exclusions", READ, exclusions)
        .put("/health/exclusions", ADMIN, put_exclusions)
}

/// A finding as the API serves it.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthFinding"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthFinding"))]
pub struct FindingView<'a> {
    pub key: &'a str,
    pub category: Category,
    pub check: &'a str,
    pub severity: Severity,
    pub reason: &'a str,
    pub details: &'a serde_json::Value,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub occurrences: i64,
    pub state: FState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub dismissed_until: Option<i64>,
    /// A dismissal without an end.
    pub permanent: bool,
}

fn view_of<'a>(f: &'a Finding, rec: Option<&'a Record>) -> FindingView<'a> {
    FindingView {
        key: &f.key,
        category: f.category,
        check: &f.check,
        severity: f.severity,
        reason: &f.reason,
        details: &f.details,
        first_seen: rec.map(|r| r.first_seen),
        last_seen: rec.map(|r| r.last_seen),
        occurrences: rec.map_or(1, |r| r.occurrences),
        state: rec.map_or(FState::Active, |r| r.state),
        dismissed_until: rec.and_then(|r| r.dismissed_until),
        permanent: rec.is_some_and(|r| r.dismissed && r.dismissed_until.is_none()),
    }
}

fn record_view(r: &Record) -> FindingView<'_> {
    FindingView {
        key: &r.key,
        category: r.category,
        check: &r.check,
        severity: r.severity,
        reason: &r.reason,
        details: &r.details,
        first_seen: Some(r.first_seen),
        last_seen: Some(r.last_seen),
        occurrences: r.occurrences,
        state: r.state,
        dismissed_until: r.dismissed_until,
        permanent: r.dismissed && r.dismissed_until.is_none(),
    }
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthCheck"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthCheck"))]
struct CheckView<'a> {
    id: &'a str,
    label: &'a str,
    #[cfg_attr(
        test,
        ts(type = "\"ok\" | \"info\" | \"unknown\" | \"warning\" | \"critical\" | \"pending\"")
    )]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "info", "unknown", "warning", "critical", "pending"])))]
    status: &'static str,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    finding_key: Option<&'a str>,
    /// Every non-ok finding of the check (active and dismissed), worst first.
    findings: Vec<FindingView<'a>>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthCategory"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthCategory"))]
struct CategoryView<'a> {
    id: &'static str,
    name: &'static str,
    #[cfg_attr(
        test,
        ts(type = "\"ok\" | \"info\" | \"unknown\" | \"warning\" | \"critical\" | \"pending\"")
    )]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "info", "unknown", "warning", "critical", "pending"])))]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    reason: Option<String>,
    checks: Vec<CheckView<'a>>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthOverview"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthOverview"))]
struct Overview<'a> {
    #[cfg_attr(
        test,
        ts(type = "\"ok\" | \"info\" | \"unknown\" | \"warning\" | \"critical\" | \"pending\"")
    )]
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "info", "unknown", "warning", "critical", "pending"])))]
    status: &'static str,
    summary: String,
    counts: Counts,
    categories: Vec<CategoryView<'a>>,
    evaluated_at: Option<i64>,
    full_at: Option<i64>,
    /// Before the first cycle since a restart: the counts are the findings persisted before, as of
    /// this time (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    restored_at: Option<i64>,
    /// Findings a grace holds back (guests still starting after a boot, services after proxwatch's
    /// own start): the count changes by itself when it ends, so the page says so beforehand.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    grace: Option<Grace>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthGrace"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthGrace"))]
struct Grace {
    /// How many checks wait.
    checks: usize,
    /// When the last of them ends (unix ms).
    until: i64,
}

/// The findings held back by a grace that has not ended at `now`.
fn grace_of(snap: &HealthSnapshot, now: i64) -> Option<Grace> {
    let ends: Vec<i64> = snap
        .results
        .values()
        .flatten()
        .filter_map(|f| f.details.get("grace_until").and_then(|v| v.as_i64()))
        .filter(|u| *u > now)
        .collect();
    Some(Grace { checks: ends.len(), until: *ends.iter().max()? })
}

fn check_view<'a>(snap: &'a HealthSnapshot, id: &'a str, label: &'a str) -> (CheckView<'a>, Severity) {
    let found: &[Finding] = snap.results.get(id).map_or(&[], |v| v.as_slice());
    // Before the first full cycle only the fast rules have spoken.
    let pending = snap.full_at.is_none() && found.is_empty();
    let mut problems: Vec<(&Finding, Option<&Record>)> =
        found.iter().filter(|f| f.severity != Severity::Ok).map(|f| (f, snap.records.get(&f.key))).collect();
    problems.sort_by(|a, b| b.0.severity.cmp(&a.0.severity).then_with(|| a.0.key.cmp(&b.0.key)));
    let active = |r: &Option<&Record>| r.is_none_or(|r| r.state == FState::Active);
    let worst = problems.iter().find(|(_, r)| active(r));
    let (severity, reason, key) = match worst {
        Some((f, _)) => (f.severity, f.reason.clone(), Some(f.key.as_str())),
        None => {
            let ok = found.iter().find(|f| f.severity == Severity::Ok).map(|f| f.reason.clone());
            let reason = match (ok, problems.len()) {
                (_, n) if n > 0 => format!("{n} dismissed"),
                (Some(r), _) => r,
                (None, _) if pending => "not evaluated yet".into(),
                (None, _) => "no problem found".into(),
            };
            (Severity::Ok, reason, None)
        }
    };
    let status = if pending { "pending" } else { severity.as_str() };
    let view = CheckView {
        id,
        label,
        status,
        reason,
        finding_key: key,
        findings: problems.into_iter().map(|(f, r)| view_of(f, r)).collect(),
    };
    (view, severity)
}

async fn overview(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let snap = app.health.borrow().clone();
    let mut categories = Vec::with_capacity(10);
    for cat in Category::ALL {
        let mut ids: Vec<(&str, &str)> =
            snap.checks.iter().filter(|c: &&CheckDef| c.category == cat).map(|c| (c.id, c.label)).collect();
        // Checks a rule reported without declaring them (and failed rules) still show.
        for (check, found) in &snap.results {
            if found.first().is_some_and(|f| f.category == cat) && !ids.iter().any(|(i, _)| i == check) {
                ids.push((check.as_str(), check.as_str()));
            }
        }
        let mut checks = Vec::with_capacity(ids.len());
        let mut worst: Option<(Severity, String)> = None;
        for (id, label) in ids {
            let (view, sev) = check_view(&snap, id, label);
            if sev > Severity::Ok && worst.as_ref().is_none_or(|(w, _)| sev > *w) {
                worst = Some((sev, view.reason.clone()));
            }
            checks.push(view);
        }
        let sev = worst.as_ref().map_or(Severity::Ok, |w| w.0);
        categories.push(CategoryView {
            id: cat.id(),
            name: cat.name(),
            status: if snap.full_at.is_none() { "pending" } else { sev.as_str() },
            reason: worst.map(|w| w.1),
            checks,
        });
    }
    let grace = grace_of(&snap, app.clock.now_ms());
    let tally = snap.summary();
    json(&Overview {
        status: tally.status,
        summary: tally.summary,
        counts: tally.counts,
        restored_at: tally.restored_at,
        categories,
        evaluated_at: snap.evaluated_at,
        full_at: snap.full_at,
        grace,
    })
}

async fn run(State(app): State<ApiState>, Extension(p): Extension<Principal>) -> Result<Response, ApiError> {
    match app.health_bus.request_run(std::time::Instant::now()) {
        Ok(()) => {
            tracing::info!(user = %p.user, "health cycle requested");
            let mut resp = json(&serde_json::json!({"queued": true}))?;
            *resp.status_mut() = StatusCode::ACCEPTED;
            Ok(resp)
        }
        Err(wait) => Err(ApiError::RateLimited {
            message: format!("a health cycle was requested moments ago; try again in {wait} s"),
            retry_after: Some(wait),
        }),
    }
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn limit(pairs: &[(String, String)], default: usize, max: usize) -> Result<usize, ApiError> {
    match param(pairs, "limit") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit must be a whole number from 1 to {max} (got {v:?})"
            ))),
        },
    }
}

async fn findings(State(app): State<ApiState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref())?;
    let state = match param(&pairs, "state") {
        None => FState::Active,
        Some(s) => FState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("state must be active, dismissed or resolved (got {s:?})"))
        })?,
    };
    let limit = limit(&pairs, 500, 2000)?;
    let rows = app.db.call(move |c| store::list(c, state, limit)).await.map_err(ApiError::internal)?;
    let views: Vec<FindingView> = rows.iter().map(record_view).collect();
    json(&serde_json::json!({ "state": state, "findings": views }))
}

const MAX_KEY: usize = 512;
const MAX_DISMISS_S: u64 = 366 * 86_400;

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct DismissReq {
    /// `"24h"`, `"7d"`, `"90m"`, `"permanent"`, or a number of seconds (60 s to 366 days).
    #[cfg_attr(test, schemars(with = "DurationSchema"))]
    duration: serde_json::Value,
}

/// The `duration` of a dismissal, for the OpenAPI description.
#[cfg(test)]
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DurationSchema {
    Text(#[schemars(regex(pattern = r"^([1-9][0-9]*[mhd]|permanent)$"))] String),
    Seconds(#[schemars(range(min = 60, max = 31_622_400))] u64),
}

/// `"permanent"` → None; `"24h"`, `"7d"`, `"90m"` or a number of seconds → the seconds.
fn parse_duration(v: &serde_json::Value) -> Result<Option<u64>, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "duration must be \"24h\", \"7d\", \"permanent\" or a number of seconds from 60 to {MAX_DISMISS_S} (got {v})"
        ))
    };
    let secs = match v {
        serde_json::Value::String(s) if s == "permanent" => return Ok(None),
        serde_json::Value::String(s) => humantime::parse_duration(s).map_err(|_| bad())?.as_secs(),
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if !(60..=MAX_DISMISS_S).contains(&secs) {
        return Err(bad());
    }
    Ok(Some(secs))
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::bad_request("malformed finding key"));
    }
    Ok(())
}

async fn dismiss(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(key): Path<String>,
    JsonBody(req): JsonBody<DismissReq>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let secs = parse_duration(&req.duration)?;
    let now = app.clock.now_ms();
    let until = secs.map(|s| now + s as i64 * 1000);
    let out = health::dismiss(&app.db, &app.health_bus, key.clone(), until, now, p.user.clone())
        .await
        .map_err(ApiError::internal)?;
    let Some(rec) = out else { return Err(ApiError::not_found(format!("no finding {key:?}"))) };
    tracing::info!(user = %p.user, key = %key, ?secs, "health finding dismissed");
    json(&record_view(&rec))
}

async fn undismiss(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let now = app.clock.now_ms();
    let out = health::undismiss(&app.db, &app.health_bus, key.clone(), now, p.user.clone())
        .await
        .map_err(ApiError::internal)?;
    let Some((rec, changed)) = out else { return Err(ApiError::not_found(format!("no finding {key:?}"))) };
    if changed {
        tracing::info!(user = %p.user, key = %key, "health finding undismissed");
    }
    json(&record_view(&rec))
}

async fn events(State(app): State<ApiState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref())?;
    let limit = limit(&pairs, 100, 1000)?;
    let key = param(&pairs, "key").map(str::to_string);
    if let Some(k) = &key {
        check_key(k)?;
    }
    let rows =
        app.db.call(move |c| store::events(c, limit, key.as_deref())).await.map_err(ApiError::internal)?;
    json(&serde_json::json!({ "events": rows }))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "ThresholdRow"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "ThresholdRow"))]
struct ThresholdView {
    key: &'static str,
    category: Category,
    label: &'static str,
    unit: &'static str,
    value: f64,
    default: f64,
    min: f64,
    max: f64,
    overridden: bool,
}

async fn threshold_views(app: &ApiState) -> Result<Vec<ThresholdView>, ApiError> {
    let th = app.db.call(|c| store::load_thresholds(c)).await.map_err(ApiError::internal)?;
    Ok(THRESHOLDS
        .iter()
        .map(|d| {
            let o = th.overrides.get(d.key).copied();
            ThresholdView {
                key: d.key,
                category: d.category,
                label: d.label,
                unit: d.unit,
                value: o.unwrap_or(d.default),
                default: d.default,
                min: d.min,
                max: d.max,
                overridden: o.is_some(),
            }
        })
        .collect())
}

async fn thresholds(State(app): State<ApiState>) -> Result<Response, ApiError> {
    json(&serde_json::json!({ "thresholds": threshold_views(&app).await? }))
}

/// Checks a `{key: value | null}` body against the declared thresholds; the error names the key and
/// its range.
pub fn validate_thresholds(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(String, Option<f64>)>, ApiError> {
    let mut out = Vec::with_capacity(body.len());
    for (key, v) in body {
        let Some(def) = THRESHOLDS.iter().find(|d| d.key == key) else {
            return Err(ApiError::bad_request(format!("unknown threshold {key:?}")));
        };
        let range = format!(
            "{} to {}{}",
            def.min,
            def.max,
            if def.unit.is_empty() { String::new() } else { format!(" {}", def.unit) }
        );
        match v {
            serde_json::Value::Null => out.push((key.clone(), None)),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() && x >= def.min && x <= def.max => out.push((key.clone(), Some(x))),
                _ => return Err(ApiError::bad_request(format!("{key} must be from {range} (got {n})"))),
            },
            other => {
                return Err(ApiError::bad_request(format!(
                    "{key} must be a number from {range}, or null for the default (got {other})"
                )));
            }
        }
    }
    Ok(out)
}

async fn put_thresholds(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Response, ApiError> {
    let changes = validate_thresholds(&body)?;
    if !changes.is_empty() {
        let now = app.clock.now_ms();
        let th = app
            .db
            .call(move |c| {
                store::set_thresholds(c, &changes, now)?;
                store::load_thresholds(c)
            })
            .await
            .map_err(ApiError::internal)?;
        tracing::info!(user = %p.user, keys = ?body.keys().collect::<Vec<_>>(), "health thresholds changed");
        app.health_bus.thresholds.send_replace(Arc::new(th));
        // The next evaluation honours them: ask for one now.
        app.health_bus.run_now.notify_one();
    }
    json(&serde_json::json!({ "thresholds": threshold_views(&app).await? }))
}

async fn exclusions(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let ex = app.db.call(|c| store::load_exclusions(c)).await.map_err(ApiError::internal)?;
    json(&serde_json::json!({ "exclusions": ex.items }))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ExclusionsReq {
    exclusions: Vec<Exclusion>,
}

fn validate_exclusions(items: &[Exclusion]) -> Result<(), ApiError> {
    if items.len() > store::MAX_EXCLUSIONS {
        return Err(ApiError::bad_request(format!("at most {} exclusions", store::MAX_EXCLUSIONS)));
    }
    let mut seen = HashSet::new();
    for (i, e) in items.iter().enumerate() {
        if e.id.trim().is_empty() || e.id.len() > 200 || e.id.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!(
                "exclusions[{i}].id must be 1 to 200 printable characters (got {:?})",
                e.id
            )));
        }
        if !e.health && !e.notifications {
            return Err(ApiError::bad_request(format!(
                "exclusions[{i}] ({}) excludes nothing: set health and/or notifications",
                e.id
            )));
        }
        if !seen.insert((e.kind, e.id.as_str())) {
            return Err(ApiError::bad_request(format!("exclusions[{i}] ({}) is listed twice", e.id)));
        }
    }
    Ok(())
}

async fn put_exclusions(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<ExclusionsReq>,
) -> Result<Response, ApiError> {
    validate_exclusions(&req.exclusions)?;
    let items = req.exclusions;
    let n = items.len();
    let ex = app
        .db
        .call(move |c| {
            store::set_exclusions(c, &items)?;
            store::load_exclusions(c)
        })
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(user = %p.user, count = n, "health exclusions changed");
    let body = serde_json::json!({ "exclusions": ex.items });
    app.health_bus.exclusions.send_replace(Arc::new(ex));
    app.health_bus.run_now.notify_one();
    Ok(json(&body)?.into_response())
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<Overview<'static>>();
    v.visit::<store::Event>();
    v.visit::<ThresholdView>();
    v.visit::<crate::health::store::Exclusion>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/health", "The health verdict: every category and check with its worst finding")
        .ok(out::<Overview<'static>>());
    d.post("/health/run", "Run the health cycle now")
        .status(202)
        .ok(flag("queued"))
        .error(429, "A run was requested moments ago; see Retry-After.");
    d.get("/health/findings", "Findings by state (active, dismissed or resolved)")
        .query("state", one_of(&["active", "dismissed", "resolved"]), "Which findings (default active).")
        .query(
            "limit",
            serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 2000 }),
            "At most this many (default 500).",
        )
        .ok(obj(&[
            ("state", one_of(&["active", "dismissed", "resolved"])),
            ("findings", arr(out::<FindingView<'static>>())),
        ]));
    d.post("/health/findings/{key}/dismiss", "Dismiss a finding for a while or for good")
        .path_param("key", string(), "The finding's key, percent-encoded (`smart%3A%2Fdev%2Fsdb`).")
        .body(input::<DismissReq>())
        .ok(out::<FindingView<'static>>());
    d.post("/health/findings/{key}/undismiss", "Make a dismissed finding active again")
        .path_param("key", string(), "The finding's key, percent-encoded.")
        .ok(out::<FindingView<'static>>());
    d.get("/health/events", "The findings' history: appeared, changed severity, resolved, dismissed")
        .query(
            "limit",
            serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
            "At most this many (default 100).",
        )
        .query("key", string(), "Only this finding's events.")
        .ok(obj(&[("events", arr(out::<store::Event>()))]));
    d.get("/health/thresholds", "The thresholds the checks use, with their defaults and bounds")
        .ok(obj(&[("thresholds", arr(out::<ThresholdView>()))]));
    d.put("/health/thresholds", "Override thresholds (`null` restores a default)")
        .about("The body maps threshold keys to a number within the threshold's bounds, or `null` for the default.")
        .body({
            let props: serde_json::Map<String, serde_json::Value> = THRESHOLDS
                .iter()
                .map(|t| (t.key.to_string(), serde_json::json!({ "type": ["number", "null"], "minimum": t.min, "maximum": t.max })))
                .collect();
            serde_json::json!({ "type": "object", "properties": props, "additionalProperties": false })
        })
        .ok(obj(&[("thresholds", arr(out::<ThresholdView>()))]));
    d.get("/health/exclusions", "Objects excluded from health checks or notifications")
        .ok(obj(&[("exclusions", arr(out::<Exclusion>()))]));
    d.put("/health/exclusions", "Replace the exclusions")
        .body(input::<ExclusionsReq>())
        .ok(obj(&[("exclusions", arr(out::<Exclusion>()))]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dismiss_durations() {
        assert_eq!(parse_duration(&json!("24h")).unwrap(), Some(86_400));
        assert_eq!(parse_duration(&json!("7d")).unwrap(), Some(604_800));
        assert_eq!(parse_duration(&json!("permanent")).unwrap(), None);
        assert_eq!(parse_duration(&json!(3600)).unwrap(), Some(3600));
        for bad in [json!("soon"), json!(10), json!(-5), json!(1.5), json!(null), json!("400d")] {
            let e = parse_duration(&bad).unwrap_err();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn threshold_errors_name_the_key_and_range() {
        let Some(def) = THRESHOLDS.first() else { panic!("no thresholds declared") };
        let mut body = serde_json::Map::new();
        body.insert(def.key.into(), json!(def.max + 1.0));
        let e = validate_thresholds(&body).unwrap_err();
        assert!(
            e.message().contains(def.key) && e.message().contains(&format!("{} to {}", def.min, def.max)),
            "{}",
            e.message()
        );
        body.insert(def.key.into(), json!(null));
        assert_eq!(validate_thresholds(&body).unwrap(), vec![(def.key.to_string(), None)]);
    }

    #[test]
    fn exclusions_validation() {
        let ok = Exclusion {
            kind: crate::health::model::ObjectKind::Guest,
            id: "104".into(),
            health: true,
            notifications: false,
        };
        assert!(validate_exclusions(std::slice::from_ref(&ok)).is_ok());
        assert!(validate_exclusions(&[ok.clone(), ok.clone()]).is_err());
        assert!(validate_exclusions(&[Exclusion { id: "a\nb".into(), ..ok.clone() }]).is_err());
        assert!(validate_exclusions(&[Exclusion { health: false, ..ok }]).is_err());
    }
}
