//! The ways an auth call is refused ([`AuthError`]) and how each is answered over the API: status,
//! error code and, for the limits, `Retry-After`.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid credentials")]
    Invalid,
    #[error("too many attempts; retry in {} s", .0.as_secs())]
    RateLimited(Duration),
    #[error("too many password checks at once; retry in {} s", .0.as_secs())]
    Busy(Duration),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("setup is already done")]
    AlreadySetUp,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// How an auth refusal is answered (the mapping lives with the error, below `error.rs`).
impl From<AuthError> for crate::error::ApiError {
    fn from(e: AuthError) -> Self {
        use AuthError as E;
        use axum::http::StatusCode;
        match e {
            E::Invalid => crate::error::ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid credentials",
            ),
            E::RateLimited(wait) => crate::error::ApiError::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts",
                wait,
            ),
            E::Busy(wait) => crate::error::ApiError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many password checks at once",
                wait,
            ),
            E::BadRequest(m) => crate::error::ApiError::bad_request(m),
            E::Forbidden(m) => crate::error::ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            E::NotFound(m) => crate::error::ApiError::not_found(m),
            E::Conflict(m) => crate::error::ApiError::new(StatusCode::CONFLICT, "conflict", m),
            E::AlreadySetUp => {
                crate::error::ApiError::new(StatusCode::CONFLICT, "already_set_up", "setup is already done")
            }
            E::Internal(e) => crate::error::ApiError::internal(format!("{e:#}")),
        }
    }
}
