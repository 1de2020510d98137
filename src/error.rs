//! `ApiError`: the only error type that reaches HTTP. It renders as `{"error": code, "message": text}`;
//! server errors are logged with their detail and answered with a generic message, so internals never leak.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every refusal and failure the HTTP surface answers, one variant per error code: the code, the
/// status and the `Retry-After` follow from the variant, so a handler cannot pair a code with the
/// wrong status or invent a new code in passing. Domain errors (auth, terminal, journal, host tool
/// operations) are mapped to these in `api/`.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `bad_request`: the request is malformed; the message says how.
    BadRequest(String),
    /// 401 `unauthorized`: no credentials, or they expired.
    Unauthorized(String),
    /// 401 `bad_webhook_secret`: a webhook receiver (PVE's notification target) got no or the wrong
    /// shared secret. Not a login: the auth layer's verdicts stay `unauthorized`.
    BadWebhookSecret(String),
    /// 401 `invalid_credentials`: a login that failed (never says which part was wrong).
    InvalidCredentials,
    /// 403 `forbidden`: the caller's role or scope is not enough.
    Forbidden(String),
    /// 403 `banned`: the caller's address is banned by fail2ban.
    Banned(String),
    /// 403 `csrf`: a cookie-authenticated change without the right `X-CSRF-Token`.
    Csrf(String),
    /// 403 `setup_required`: nobody has set proxwatch up yet.
    SetupRequired(String),
    /// 403 `host_not_allowed`: a `Host` that is not one of proxwatch's names (DNS rebinding).
    HostNotAllowed(String),
    /// 403 `origin_not_allowed`: a change or websocket from a foreign `Origin`.
    OriginNotAllowed(String),
    /// 403 `terminal_disabled`.
    TerminalDisabled(String),
    /// 403 `bad_ticket`: a terminal ticket that is unknown, used, expired or someone else's.
    BadTicket(String),
    /// 404 `not_found`.
    NotFound(String),
    /// 405 `method_not_allowed`.
    MethodNotAllowed(String),
    /// 409 `conflict`.
    Conflict(String),
    /// 409 `locked`: the guest is locked by another operation.
    Locked(String),
    /// 409 `already_set_up`.
    AlreadySetUp,
    /// 413 `payload_too_large`.
    PayloadTooLarge(String),
    /// 414 `uri_too_long`.
    UriTooLong(String),
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType(String),
    /// 431 `headers_too_large`.
    HeadersTooLarge(String),
    /// 429 `rate_limited`, with the seconds to wait when known.
    RateLimited { message: String, retry_after: Option<u64> },
    /// 429 `too_many_tickets`.
    TooManyTickets { message: String, retry_after: Option<u64> },
    /// 500 `internal`: the detail is in the log, never in the answer.
    Internal,
    /// 502 `tool_failed`: a host tool failed, whatever the tool.
    ToolFailed(String),
    /// 503 `unavailable`: the source is missing or not running.
    Unavailable { message: String, retry_after: Option<u64> },
    /// 503 `busy`: too much at once; retry shortly.
    Busy { message: String, retry_after: Option<u64> },
    /// 503 `too_many_sessions`: every terminal slot is taken.
    TooManySessions { message: String, retry_after: Option<u64> },
    /// Any other status a framework rejection carried (a timeout, an unprocessable body); the code
    /// follows from the status.
    Status { status: StatusCode, message: String },
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

const INTERNAL: &str = "internal error; see the proxwatch log";

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable { message: message.into(), retry_after: None }
    }
    /// Too many attempts: `"{what}; retry in N s"` and `Retry-After: N`.
    pub fn rate_limited(what: &str, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs().max(1);
        Self::RateLimited { message: format!("{what}; retry in {secs} s"), retry_after: Some(secs) }
    }
    /// Too much at once: `"{what}; retry in N s"` and `Retry-After: N`.
    pub fn busy(what: &str, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs().max(1);
        Self::Busy { message: format!("{what}; retry in {secs} s"), retry_after: Some(secs) }
    }
    /// An internal failure: the detail is logged here, the client gets a generic message.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error while handling request");
        Self::Internal
    }

    pub fn status(&self) -> StatusCode {
        use ApiError as E;
        match self {
            E::BadRequest(_) => StatusCode::BAD_REQUEST,
            E::Unauthorized(_) | E::InvalidCredentials | E::BadWebhookSecret(_) => StatusCode::UNAUTHORIZED,
            E::Forbidden(_)
            | E::Banned(_)
            | E::Csrf(_)
            | E::SetupRequired(_)
            | E::HostNotAllowed(_)
            | E::OriginNotAllowed(_)
            | E::TerminalDisabled(_)
            | E::BadTicket(_) => StatusCode::FORBIDDEN,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            E::Conflict(_) | E::Locked(_) | E::AlreadySetUp => StatusCode::CONFLICT,
            E::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            E::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            E::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            E::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            E::RateLimited { .. } | E::TooManyTickets { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            E::ToolFailed(_) => StatusCode::BAD_GATEWAY,
            E::Unavailable { .. } | E::Busy { .. } | E::TooManySessions { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            E::Status { status, .. } => *status,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError as E;
        match self {
            E::BadRequest(_) => "bad_request",
            E::Unauthorized(_) => "unauthorized",
            E::BadWebhookSecret(_) => "bad_webhook_secret",
            E::InvalidCredentials => "invalid_credentials",
            E::Forbidden(_) => "forbidden",
            E::Banned(_) => "banned",
            E::Csrf(_) => "csrf",
            E::SetupRequired(_) => "setup_required",
            E::HostNotAllowed(_) => "host_not_allowed",
            E::OriginNotAllowed(_) => "origin_not_allowed",
            E::TerminalDisabled(_) => "terminal_disabled",
            E::BadTicket(_) => "bad_ticket",
            E::NotFound(_) => "not_found",
            E::MethodNotAllowed(_) => "method_not_allowed",
            E::Conflict(_) => "conflict",
            E::Locked(_) => "locked",
            E::AlreadySetUp => "already_set_up",
            E::PayloadTooLarge(_) => "payload_too_large",
            E::UriTooLong(_) => "uri_too_long",
            E::UnsupportedMediaType(_) => "unsupported_media_type",
            E::HeadersTooLarge(_) => "headers_too_large",
            E::RateLimited { .. } => "rate_limited",
            E::TooManyTickets { .. } => "too_many_tickets",
            E::Internal => "internal",
            E::ToolFailed(_) => "tool_failed",
            E::Unavailable { .. } => "unavailable",
            E::Busy { .. } => "busy",
            E::TooManySessions { .. } => "too_many_sessions",
            E::Status { status, .. } => match status.as_u16() {
                400 => "bad_request",
                404 => "not_found",
                405 => "method_not_allowed",
                408 => "timeout",
                413 => "payload_too_large",
                415 => "unsupported_media_type",
                422 => "unprocessable",
                429 => "rate_limited",
                500..=599 => "internal",
                _ => "error",
            },
        }
    }

    pub fn message(&self) -> &str {
        use ApiError as E;
        match self {
            E::InvalidCredentials => "invalid credentials",
            E::AlreadySetUp => "setup is already done",
            E::Internal => INTERNAL,
            E::BadRequest(m)
            | E::Unauthorized(m)
            | E::BadWebhookSecret(m)
            | E::Forbidden(m)
            | E::Banned(m)
            | E::Csrf(m)
            | E::SetupRequired(m)
            | E::HostNotAllowed(m)
            | E::OriginNotAllowed(m)
            | E::TerminalDisabled(m)
            | E::BadTicket(m)
            | E::NotFound(m)
            | E::MethodNotAllowed(m)
            | E::Conflict(m)
            | E::Locked(m)
            | E::PayloadTooLarge(m)
            | E::UriTooLong(m)
            | E::UnsupportedMediaType(m)
            | E::HeadersTooLarge(m)
            | E::ToolFailed(m) => m,
            E::RateLimited { message, .. }
            | E::TooManyTickets { message, .. }
            | E::Busy { message, .. }
            | E::TooManySessions { message, .. }
            | E::Unavailable { message, .. }
            | E::Status { message, .. } => message,
        }
    }

    /// Seconds for a `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        use ApiError as E;
        match self {
            E::RateLimited { retry_after, .. }
            | E::TooManyTickets { retry_after, .. }
            | E::Busy { retry_after, .. }
            | E::TooManySessions { retry_after, .. }
            | E::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: self.code(), message: self.message() };
        let mut resp = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status().as_u16(), self.code(), self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_answers_its_own_code_status_and_retry_after() {
        let wait = std::time::Duration::from_millis(2500);
        let cases = [
            (ApiError::bad_request("x"), 400, "bad_request", None),
            (ApiError::InvalidCredentials, 401, "invalid_credentials", None),
            (ApiError::Csrf("x".into()), 403, "csrf", None),
            (ApiError::Locked("x".into()), 409, "locked", None),
            (ApiError::rate_limited("too many", wait), 429, "rate_limited", Some(2)),
            (ApiError::busy("too many", wait), 503, "busy", Some(2)),
            (ApiError::ToolFailed("x".into()), 502, "tool_failed", None),
            (
                ApiError::Status { status: StatusCode::REQUEST_TIMEOUT, message: "x".into() },
                408,
                "timeout",
                None,
            ),
        ];
        for (e, status, code, retry) in cases {
            assert_eq!((e.status().as_u16(), e.code(), e.retry_after()), (status, code, retry), "{e}");
            let resp = e.into_response();
            assert_eq!(resp.status().as_u16(), status);
            let header =
                resp.headers().get(axum::http::header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
            assert_eq!(header, retry.map(|r| r.to_string()));
        }
        assert_eq!(ApiError::rate_limited("too many", wait).message(), "too many; retry in 2 s");
        assert_eq!(ApiError::internal("secret detail").message(), "internal error; see the proxwatch log");
    }
}
