//! `/api/terminal/*`: the root terminal's two doors. `POST ticket` (an admin's interactive login,
//! CSRF-checked like every cookie-authed POST; never an API token) issues a single-use ticket bound
//! to that login session; `GET ws?ticket=…` (the same session) redeems it and upgrades to the
//! websocket that [`crate::terminal`] bridges to a PTY. The ticket is checked before the upgrade, so
//! a refusal is an ordinary JSON error.

use axum::Extension;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::{Routes, SESSION_ADMIN, json, query_pairs};
use crate::auth::layer::ClientIp;
use crate::auth::{Principal, Via};
use crate::error::ApiError;
use crate::terminal::TerminalError;

pub fn routes() -> Routes {
    Routes::new().post("/terminal/ticket", SESSION_ADMIN, ticket).get("/terminal/ws", SESSION_ADMIN, ws)
}

/// The login session of the caller (the access table admits only sessions here).
fn session(p: &Principal) -> Result<&str, ApiError> {
    match &p.via {
        Via::Session { id } => Ok(id),
        Via::Token { .. } | Via::Agent { .. } => {
            Err(ApiError::Forbidden("the terminal needs an interactive login, not an API token".into()))
        }
    }
}

impl From<TerminalError> for ApiError {
    fn from(e: TerminalError) -> Self {
        let message = e.to_string();
        match e {
            TerminalError::Disabled => ApiError::TerminalDisabled(message),
            TerminalError::TooManySessions(_) => ApiError::TooManySessions { message, retry_after: Some(5) },
            TerminalError::TooManyTickets => ApiError::TooManyTickets { message, retry_after: Some(5) },
            TerminalError::BadTicket => ApiError::BadTicket(message),
        }
    }
}

async fn ticket(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let ticket = app.terminal.issue(&p.user, session(&p)?)?;
    json(&serde_json::json!({
        "ticket": ticket,
        "expires_in_s": app.terminal.limits().ticket_ttl.as_secs(),
    }))
}

async fn ws(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref())?;
    let param = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let dim = |name: &str| param(name).and_then(|v| v.parse::<u16>().ok());
    let grant = app
        .terminal
        .redeem(param("ticket").unwrap_or(""), &p.user, session(&p)?, ip)?
        .with_size(dim("cols"), dim("rows"));
    // A refused upgrade drops the grant, which frees its slot.
    let upgrade =
        upgrade.map_err(|e| ApiError::bad_request(format!("not a websocket upgrade: {}", e.body_text())))?;
    let max = app.terminal.limits().max_frame_bytes;
    let state = crate::terminal::Ctx {
        terminal: app.terminal.clone(),
        auth: app.auth.clone(),
        tracker: app.tracker.clone(),
        cancel: app.cancel.clone(),
    };
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "terminal websocket upgrade failed"))
        .on_upgrade(move |socket| crate::terminal::serve(state, socket, grant))
        .into_response())
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.post("/terminal/ticket", "Get a single-use ticket for the root terminal")
        .about(
            "Admins only, through an interactive login (never an API token). The ticket is bound to \
             this login session, expires after `expires_in_s` seconds and is spent by the first \
             `GET /api/terminal/ws` that shows it, whatever the outcome.",
        )
        .ok(obj(&[("ticket", string()), ("expires_in_s", int())]))
        .error(403, "The terminal is disabled (`terminal_disabled`).")
        .error(429, "Too many unused tickets (`too_many_tickets`); see Retry-After.")
        .error(503, "Every terminal session is in use (`too_many_sessions`); see Retry-After.");
    d.get("/terminal/ws", "Open the root terminal (websocket)")
        .about(
            "Redeems the ticket from `POST /api/terminal/ticket` (same user and login session) before \
             upgrading, so a refusal is an ordinary JSON error. The websocket: client → server binary \
             frames are input bytes, text frames JSON control messages \
             (`{\"type\":\"resize\",\"cols\":120,\"rows\":40}`); server → client binary frames are the \
             PTY's output, and the text `{\"type\":\"exit\",\"code\":N}` when the shell exits. Close \
             codes: 4000 idle timeout, 4001 the login lost its authority, 1009 message too big, 1001 \
             proxwatch stops, 1011 the shell could not start.",
        )
        .required_query(
            "ticket",
            string(),
            "The single-use ticket from POST /api/terminal/ticket (a 403 `bad_ticket` without a valid one).",
        )
        .query(
            "cols",
            serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
            "Initial width in columns (1 to 1000; anything else is ignored).",
        )
        .query(
            "rows",
            serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
            "Initial height in rows (1 to 1000; anything else is ignored).",
        )
        .websocket()
        .error(400, "Not a websocket upgrade (the ticket is spent all the same).")
        .error(
            403,
            "The ticket is unknown, used, expired or another login's (`bad_ticket`), or the terminal is \
             disabled (`terminal_disabled`).",
        )
        .error(503, "Every terminal session is in use (`too_many_sessions`); see Retry-After.");
}
