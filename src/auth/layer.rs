//! The route-layer check every `/api` request passes. Default deny: a route needs the level its entry
//! in the access table ([`crate::api::access`]) says; unknown paths need a login before they get their
//! 404. Credentials are an `Authorization: Bearer pxw_…` token or the session cookie; cookie-authed
//! requests that change something must also carry `X-CSRF-Token`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::audit::Kind;
use super::store::COOKIE;
use super::{Access, Level, Via, client_ip};
use crate::app::AppState;
use crate::error::ApiError;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The caller's address, as the auth layer and the handlers see it.
pub fn request_ip(app: &AppState, req_headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    let xff = req_headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    client_ip(peer.map(|p| p.ip()), xff, &app.auth.trusted)
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn deny(status: StatusCode, code: &'static str, msg: &str) -> Response {
    ApiError::new(status, code, msg).into_response()
}

/// The client's address as resolved by the auth layer (handlers read it from the extensions).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

pub async fn guard(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = request_ip(&app, req.headers(), peer);
    req.extensions_mut().insert(ClientIp(ip));
    if let Some(ip) = ip {
        if app.bans.is_banned(ip) {
            return deny(StatusCode::FORBIDDEN, "banned", "your address is banned by fail2ban");
        }
    }
    let method = req.method().clone();
    let access = match req.extensions().get::<MatchedPath>() {
        Some(m) => crate::api::access(&method, m.as_str()),
        // No route matched: answer 404 only to someone logged in (do not map the API for strangers).
        None => Some(Access::At(Level::Read)),
    };
    // A route missing from the access table is refused: deny by default.
    let Some(access) = access else {
        tracing::error!(%method, path = %req.uri().path(), "route has no access rule; refusing");
        return deny(StatusCode::FORBIDDEN, "forbidden", "this route has no access rule");
    };
    let Access::At(needed) = access else {
        return next.run(req).await;
    };
    if app.auth.setup_required() {
        return deny(
            StatusCode::FORBIDDEN,
            "setup_required",
            "proxwatch is not set up yet: create the first admin",
        );
    }
    let (principal, csrf) = if let Some(token) = bearer(req.headers()) {
        match app.auth.check_token(token, ip).await {
            Some(p) => (p, None),
            None => {
                let shown: String = token.chars().take(16).collect();
                app.auth.audit.record(app.auth.db(), Kind::TokenFailed, None, ip, &shown).await;
                return deny(StatusCode::UNAUTHORIZED, "unauthorized", "invalid or expired API token");
            }
        }
    } else if let Some(jwt) = cookie(req.headers(), COOKIE) {
        match app.auth.check_session(jwt, ip) {
            Some((p, csrf)) => (p, Some(csrf)),
            None => return deny(StatusCode::UNAUTHORIZED, "unauthorized", "session expired; log in again"),
        }
    } else {
        return deny(StatusCode::UNAUTHORIZED, "unauthorized", "log in or send an API token");
    };
    if principal.level < needed {
        let what = match principal.via {
            Via::Session { .. } => format!("this needs the {} role", needed.role()),
            Via::Token { .. } => format!("this needs a token with scope {}", needed.scope()),
        };
        return deny(StatusCode::FORBIDDEN, "forbidden", &what);
    }
    if let Some(expected) = csrf {
        let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !safe && !super::ct_eq(sent, &expected) {
            return deny(StatusCode::FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token header");
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}
