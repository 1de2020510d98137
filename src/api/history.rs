//! `/api/history` and `/api/history/metrics`: vitals history for a metric and range, downsampled to
//! the tier that fits.

use axum::Json;
use axum::extract::{RawQuery, State};

use super::{READ, Routes};
use serde::Serialize;

use super::ApiState;
use crate::error::ApiError;
use crate::history::{METRICS, Range, metric_index};
use crate::series::KeyInfo;

pub fn routes() -> Routes {
    Routes::new().get("/history", READ, history).get("/history/metrics", READ, metrics)
}

#[derive(Serialize)]
struct Metrics {
    metrics: Vec<KeyInfo>,
    ranges: Vec<&'static str>,
}

/// The vitals metrics, then the auxiliary series the workers have recorded so far.
async fn metrics(State(app): State<ApiState>) -> Json<Metrics> {
    let vitals =
        METRICS.iter().map(|m| KeyInfo { name: m.name.into(), label: m.label.into(), unit: m.unit.into() });
    Json(Metrics {
        metrics: vitals.chain(app.series.keys()).collect(),
        ranges: Range::ALL.iter().map(|(n, _)| *n).collect(),
    })
}

enum Which {
    Vitals(usize),
    Aux(String),
}

fn valid_metrics() -> String {
    METRICS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

fn valid_ranges() -> String {
    Range::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

async fn history(
    State(app): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    let (mut metric, mut range) = (None, None);
    for (k, v) in super::query_pairs(raw.as_deref())? {
        match k.as_str() {
            "metric" => {
                metric = Some(match metric_index(&v) {
                    Some(i) => Which::Vitals(i),
                    None if app.series.has(&v) => Which::Aux(v),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "unknown metric {v:?}; valid metrics: {} (and the series listed by /api/history/metrics)",
                            valid_metrics()
                        )));
                    }
                })
            }
            "range" => {
                range = Some(Range::parse(&v).ok_or_else(|| {
                    ApiError::bad_request(format!("unknown range {v:?}; valid ranges: {}", valid_ranges()))
                })?)
            }
            _ => return Err(ApiError::bad_request(format!("unknown parameter {k:?}; valid: metric, range"))),
        }
    }
    let metric = metric.ok_or_else(|| {
        ApiError::bad_request(format!("metric is required; valid metrics: {}", valid_metrics()))
    })?;
    let range = range.unwrap_or(Range::H1);
    let now_s = app.clock.now_ms() / 1000;
    let metric = match metric {
        Which::Vitals(i) => i,
        Which::Aux(key) => {
            if range == Range::Live {
                let s = app.series.live(&key);
                return super::json(&s);
            }
            let series = app.series.clone();
            let s = app
                .db
                .call(move |conn| series.query(conn, &key, range, now_s))
                .await
                .map_err(ApiError::internal)?;
            return super::json(&s);
        }
    };
    if range == Range::Live {
        // The live ring is in memory: no need for the database thread.
        let series = app.history.live_series(metric);
        return super::json(&series);
    }
    let history = app.history.clone();
    let series = app
        .db
        .call(move |conn| history.query(conn, metric, range, now_s))
        .await
        .map_err(ApiError::internal)?;
    super::json(&series)
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    let ranges: Vec<&str> = Range::ALL.iter().map(|(n, _)| *n).collect();
    d.get("/history", "One metric's history over a range, downsampled to the tier that fits")
        .about(
            "`metric` is required (a 400 without it): a vitals metric or an auxiliary series listed by \
             `/api/history/metrics`. `live` is the in-memory ring of recent samples; the other ranges \
             read the database. Points are `[ts (unix s), avg, min, max]` with `null` for gaps. An \
             unknown parameter is a 400.",
        )
        .required_query(
            "metric",
            string(),
            &format!(
                "A vitals metric ({}) or an auxiliary series from /api/history/metrics.",
                valid_metrics()
            ),
        )
        .query("range", one_of(&ranges), "The span (default 1h).")
        .ok(out::<crate::history::Series>());
    d.get("/history/metrics", "The metrics and series /api/history serves, and its ranges")
        .about(
            "The vitals metrics first, then the auxiliary series the workers have recorded so far \
             (sorted by name).",
        )
        .ok(obj(&[
            ("metrics", arr(obj(&[("name", string()), ("label", string()), ("unit", string())]))),
            ("ranges", arr(one_of(&ranges))),
        ]));
}
