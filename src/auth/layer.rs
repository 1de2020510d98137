//! The route-layer check every `/api` request passes. Default deny: a route needs the level its entry
//! in the access table ([`crate::api::access`]) says; unknown paths need a login before they get their
//! 404. Credentials are an `Authorization: Bearer pxw_…` token or the session cookie; cookie-authed
//! requests that change something must also carry `X-CSRF-Token`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use super::audit::Kind;
use super::fail2ban::Bans;
use super::origin::HostCheck;
use super::store::{COOKIE, TokenRefusal};
use super::{Access, Auth, Level, Via, client_ip};
use crate::error::ApiError;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// What the route layer reads: the auth service, fail2ban's bans, the allowed hosts, and the table
/// of the level each route needs (the API's, handed in so that this floor does not import it).
#[derive(Clone)]
pub struct Gate {
    pub auth: Arc<Auth>,
    pub bans: Bans,
    pub hosts: Arc<HostCheck>,
    pub access: fn(&Method, &str) -> Option<Access>,
}

/// The caller's address, as the auth layer and the handlers see it.
pub fn request_ip(auth: &Auth, req_headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    let xff = req_headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    client_ip(peer.map(|p| p.ip()), xff, &auth.trusted)
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

fn deny(e: ApiError) -> Response {
    e.into_response()
}

/// The client's address as resolved by the auth layer (handlers read it from the extensions).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

pub async fn guard(State(app): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = request_ip(&app.auth, req.headers(), peer);
    req.extensions_mut().insert(ClientIp(ip));
    if let Some(ip) = ip {
        if app.bans.is_banned(ip) {
            return deny(ApiError::Banned("your address is banned by fail2ban".into()));
        }
    }
    let method = req.method().clone();
    let access = match req.extensions().get::<MatchedPath>() {
        Some(m) => (app.access)(&method, m.as_str()),
        // No route matched: answer 404 only to someone logged in (do not map the API for strangers).
        None => Some(Access::At(Level::Read)),
    };
    // A route missing from the access table is refused: deny by default.
    let Some(access) = access else {
        tracing::error!(%method, path = %req.uri().path(), "route has no access rule; refusing");
        return deny(ApiError::Forbidden("this route has no access rule".into()));
    };
    let needed = match access {
        Access::Public => return next.run(req).await,
        Access::At(l) | Access::Session(l) => l,
        Access::Ingest => Level::Read,
    };
    if app.auth.setup_required() {
        return deny(ApiError::SetupRequired("proxwatch is not set up yet: create the first admin".into()));
    }
    let (principal, csrf) = if let Some(token) = bearer(req.headers()) {
        match app.auth.check_token(token, ip).await {
            Ok(p) => (p, None),
            Err(TokenRefusal::Invalid) => {
                return deny(ApiError::Unauthorized("invalid or expired API token".into()));
            }
            Err(TokenRefusal::Throttled(wait)) => {
                let what = "too many invalid API tokens from this address";
                return ApiError::rate_limited(what, wait).into_response();
            }
        }
    } else if let Some(jwt) = cookie(req.headers(), COOKIE) {
        match app.auth.check_session(jwt, ip) {
            Some((p, csrf)) => (p, Some(csrf)),
            None => return deny(ApiError::Unauthorized("session expired; log in again".into())),
        }
    } else {
        return deny(ApiError::Unauthorized("log in or send an API token".into()));
    };
    if !access.allows(principal.level, &principal.via) {
        let what = match (principal.via, access) {
            (Via::Agent { .. }, _) => "an ingest token can only post agent reports".to_string(),
            (_, Access::Ingest) => "this needs an agent's ingest token".to_string(),
            (Via::Token { .. }, Access::Session(_)) => {
                "this needs an interactive login: API tokens cannot manage accounts or open the terminal"
                    .to_string()
            }
            (Via::Session { .. }, _) => format!("this needs the {} role", needed.role()),
            (Via::Token { .. }, _) => format!("this needs a token with scope {}", needed.scope()),
        };
        return deny(ApiError::Forbidden(what));
    }
    if let Some(expected) = csrf {
        let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !safe && !super::ct_eq(sent, &expected) {
            return deny(ApiError::Csrf("missing or wrong X-CSRF-Token header".into()));
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The `Host` of a request: the absolute-form target's authority, else the `Host` header.
pub fn request_host(req: &Request) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(a.as_str().to_string());
    }
    req.headers().get(header::HOST).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Refuses requests for a `Host` that is not one of proxwatch's names (DNS rebinding), and
/// state-changing requests and websocket upgrades whose `Origin` is foreign. Runs before
/// everything else, static files included.
pub async fn check_host(State(app): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    let host = request_host(&req);
    if let Some(h) = &host {
        if !app.hosts.allows_host(h) {
            let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
            let ip = request_ip(&app.auth, req.headers(), peer);
            let shown: String = h.chars().filter(|c| !c.is_control()).take(64).collect();
            app.auth.audit.record(app.auth.db(), Kind::HostRefused, None, ip, &format!("host {shown}")).await;
            return ApiError::HostNotAllowed(format!(
                "{shown:?} is not a name of this proxwatch; an admin can add it to server.allowed_hosts"
            ))
            .into_response();
        }
    }
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if upgrade || !safe {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let o = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            if !app.hosts.allows_origin(&o) {
                let shown: String = o.chars().filter(|c| !c.is_control()).take(64).collect();
                return ApiError::OriginNotAllowed(format!(
                    "requests from {shown:?} may not change anything here or open a websocket"
                ))
                .into_response();
            }
        }
    }
    next.run(req).await
}

/// Whether the request came for a loopback name or address (the demo shows its password only
/// then). No `Host` at all is not a browser, so not a rebinding page either.
pub fn is_loopback_request(headers: &HeaderMap) -> bool {
    match headers.get(header::HOST) {
        None => true,
        Some(v) => v.to_str().ok().and_then(super::origin::HostName::parse).is_some_and(|h| h.is_loopback()),
    }
}
