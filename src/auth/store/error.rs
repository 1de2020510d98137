//! The ways an auth call is refused ([`AuthError`]); `api/auth.rs` maps each to its answer.

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
