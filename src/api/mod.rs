//! The REST API: one thin router per domain, merged and nested under `/api`. Handlers read snapshots
//! and the database; they never run host tools. Unknown `/api/*` paths and wrong methods answer JSON,
//! never the SPA.

mod history;
mod live;
mod system;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, OriginalUri, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(system::router())
        .merge(history::router())
        .merge(live::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

// Inside the nest the URI has lost its `/api` prefix; OriginalUri still has it.
async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let mut resp =
        ApiError::bad_request(format!("method {method} is not allowed on {}", uri.path())).into_response();
    *resp.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    resp
}

/// One debug line per request: method, matched route (not the raw path, so ids and query strings do
/// not explode log cardinality), status and latency.
pub async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| {
        if req.uri().path().starts_with("/api/") { "<unmatched>" } else { "<static>" }.into()
    });
    let resp = next.run(req).await;
    tracing::debug!(
        target: "proxwatch::http",
        %method,
        route,
        status = resp.status().as_u16(),
        latency_us = start.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

/// Serialises straight to the response body (no intermediate `serde_json::Value`).
pub(crate) fn json<T: serde::Serialize>(body: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// Parses a query string into pairs, answering malformed ones with a 400 that says why.
pub(crate) fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))
}
