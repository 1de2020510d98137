//! `/api/history` and `/api/history/metrics`: vitals history for a metric and range, downsampled to
//! the tier that fits.

use axum::Json;
use axum::extract::{RawQuery, State};

use super::{READ, Routes};
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::history::{METRICS, Range, Series, metric_index};

pub fn routes() -> Routes {
    Routes::new().get("/history", READ, history).get("/history/metrics", READ, metrics)
}

#[derive(Serialize)]
struct MetricInfo {
    name: &'static str,
    label: &'static str,
    unit: &'static str,
}

#[derive(Serialize)]
struct Metrics {
    metrics: Vec<MetricInfo>,
    ranges: Vec<&'static str>,
}

async fn metrics() -> Json<Metrics> {
    Json(Metrics {
        metrics: METRICS.iter().map(|m| MetricInfo { name: m.name, label: m.label, unit: m.unit }).collect(),
        ranges: Range::ALL.iter().map(|(n, _)| *n).collect(),
    })
}

fn valid_metrics() -> String {
    METRICS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

fn valid_ranges() -> String {
    Range::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

async fn history(State(app): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Series>, ApiError> {
    let (mut metric, mut range) = (None, None);
    for (k, v) in super::query_pairs(raw.as_deref())? {
        match k.as_str() {
            "metric" => {
                metric = Some(metric_index(&v).ok_or_else(|| {
                    ApiError::bad_request(format!("unknown metric {v:?}; valid metrics: {}", valid_metrics()))
                })?)
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
    let now_s = crate::workers::wall_ms() / 1000;
    if range == Range::Live {
        // The live ring is in memory: no need for the database thread.
        let series = app.history.live_series(metric);
        return Ok(Json(series));
    }
    let history = app.history.clone();
    let series = app
        .db
        .call(move |conn| history.query(conn, metric, range, now_s))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(series))
}
