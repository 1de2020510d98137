//! `GET /metrics`: the Prometheus exposition (`crate::metrics`), outside `/api` where scrapers look
//! for it. Who may scrape: a read-scoped API token as a Bearer header (Prometheus' `authorization`
//! config) or a logged-in session, through the same auth layer as the API; or, opt-in, a client
//! address in `metrics.public`. Nothing else is reachable this way: the route serves only the text.

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiState;
use crate::auth::Access;
use crate::auth::Level;
use crate::auth::layer::{Gate, guard, request_ip};
use crate::error::ApiError;
use crate::model::addr::Cidr;

pub const PATH: &str = "/metrics";

struct MetricsGate {
    gate: Arc<Gate>,
    public: Vec<Cidr>,
    enabled: bool,
}

/// This route's access rule (the route × scope matrix test checks it with the API's).
pub fn rule() -> super::Rule {
    super::Rule { method: Method::GET, path: PATH.into(), access: Access::At(Level::Read) }
}

/// The access table of this one route: it needs the read level (scope `read`); a method other than
/// GET is then answered 405, after the login, like the API's.
fn access(_method: &Method, path: &str) -> Option<Access> {
    (path == PATH).then(|| rule().access)
}

/// The `/metrics` route with its own access check, to merge into the top router.
pub fn router(state: &ApiState) -> anyhow::Result<Router<ApiState>> {
    let base = super::gate(state);
    let gate = Arc::new(Gate {
        auth: base.auth.clone(),
        bans: base.bans.clone(),
        hosts: base.hosts.clone(),
        access,
    });
    let public =
        state.config.metrics.public.iter().map(|c| Cidr::parse(c)).collect::<anyhow::Result<Vec<_>>>()?;
    let mg = Arc::new(MetricsGate { gate, public, enabled: state.config.metrics.enabled });
    let route = get(scrape).fallback(|method: Method| async move {
        ApiError::MethodNotAllowed(format!("method {method} is not allowed on {PATH}"))
    });
    Ok(Router::new().route(PATH, route).route_layer(axum::middleware::from_fn_with_state(mg, check)))
}

async fn check(State(mg): State<Arc<MetricsGate>>, req: Request, next: Next) -> Response {
    if !mg.enabled {
        return ApiError::not_found("the Prometheus endpoint is turned off (metrics.enabled = false)")
            .into_response();
    }
    if !mg.public.is_empty() {
        let peer = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
        let ip = request_ip(&mg.gate.auth, req.headers(), peer);
        let banned = ip.is_some_and(|ip| mg.gate.bans.is_banned(ip));
        if !banned && ip.is_some_and(|ip| mg.public.iter().any(|c| c.contains(ip))) {
            return next.run(req).await;
        }
    }
    guard(State(mg.gate.clone()), req, next).await
}

async fn scrape(State(app): State<ApiState>, headers: HeaderMap) -> Response {
    let r = app.metrics.current();
    let gzip = crate::web::accepted(&headers).iter().any(|(c, _)| *c == "gzip");
    let body = if gzip { r.gzip().clone() } else { r.text.clone() };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}
