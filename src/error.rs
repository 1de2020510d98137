//! `ApiError`: the only error type that reaches HTTP. It renders as `{"error": code, "message": text}`;
//! server errors are logged with their detail and answered with a generic message, so internals never leak.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    /// A refusal that says when to come back: `"{what}; retry in N s"` and `Retry-After: N`.
    pub fn retry_later(
        status: StatusCode,
        code: &'static str,
        what: &str,
        wait: std::time::Duration,
    ) -> Self {
        let secs = wait.as_secs().max(1);
        let mut err = Self::new(status, code, format!("{what}; retry in {secs} s"));
        err.retry_after = Some(secs);
        err
    }
    /// An internal failure: the detail is logged here, the client gets a generic message.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error while handling request");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the proxwatch log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: self.code, message: &self.message };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}
