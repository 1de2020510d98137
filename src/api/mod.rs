//! The REST API: one thin router per domain, merged and nested under `/api`. Handlers read snapshots
//! and the database; they never run host tools. Unknown `/api/*` paths and wrong methods answer JSON,
//! never the SPA.
//!
//! Every route is added through [`Routes`], which records the access level it needs next to it: that
//! list *is* the access table the auth layer enforces ([`access`]), and the tests walk it to check
//! every route against every role and token scope. A route added any other way has no rule and is
//! refused (default deny).

mod agents;
mod auth;
mod body;
mod cluster;
mod fleet;
mod hardware;
mod health;
mod history;
mod integrations;
pub mod live;
mod logs;
pub mod metrics;
mod monitors;
mod network;
mod notifications;
pub mod openapi;
mod overview;
mod pve;
mod pve_hook;
pub mod rrd_cache;
mod settings;
mod state;
mod storage;
mod system;
mod tasks;
mod terminal;
mod vms;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, OriginalUri, Request};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};

pub use body::{JsonBody, MAX_BODY};

use crate::auth::{Access, Level};
use crate::error::ApiError;
pub use state::{ApiState, Shared, SystemCache};

/// One row of the access table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub method: Method,
    /// The full path pattern, e.g. `/api/auth/tokens/{id}`.
    pub path: String,
    pub access: Access,
}

/// A router that cannot gain a route without an access rule.
pub struct Routes {
    router: Router<ApiState>,
    rules: Vec<Rule>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Routes {
        Routes { router: Router::new(), rules: Vec::new() }
    }

    fn add<H, T>(
        mut self,
        method: Method,
        filter: MethodFilter,
        path: &str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.rules.push(Rule { method, path: format!("/api{path}"), access });
        self
    }

    pub fn get<H: Handler<T, ApiState>, T: 'static>(self, path: &str, access: Access, h: H) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, access, h)
    }
    pub fn post<H: Handler<T, ApiState>, T: 'static>(self, path: &str, access: Access, h: H) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, access, h)
    }
    pub fn patch<H: Handler<T, ApiState>, T: 'static>(self, path: &str, access: Access, h: H) -> Self {
        self.add(Method::PATCH, MethodFilter::PATCH, path, access, h)
    }
    pub fn put<H: Handler<T, ApiState>, T: 'static>(self, path: &str, access: Access, h: H) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, access, h)
    }
    pub fn delete<H: Handler<T, ApiState>, T: 'static>(self, path: &str, access: Access, h: H) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, access, h)
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.rules.extend(other.rules);
        self
    }
}

/// Shorthands for the access column.
pub const PUBLIC: Access = Access::Public;
pub const READ: Access = Access::At(Level::Read);
pub const OPERATE: Access = Access::At(Level::Operate);
pub const ADMIN: Access = Access::At(Level::Admin);
/// The account's own routes and the terminal: an interactive login, never an API token.
pub const SESSION: Access = Access::Session(Level::Read);
pub const SESSION_ADMIN: Access = Access::Session(Level::Admin);
/// An agent's report: an `ingest` token only.
pub const INGEST: Access = Access::Ingest;

pub use agents::script as agent_script;

fn routes() -> Routes {
    Routes::new()
        .merge(system::routes())
        .merge(history::routes())
        .merge(live::routes())
        .merge(auth::routes())
        .merge(vms::routes())
        .merge(cluster::routes())
        .merge(storage::routes())
        .merge(tasks::routes())
        .merge(terminal::routes())
        .merge(network::routes())
        .merge(hardware::routes())
        .merge(logs::routes())
        .merge(health::routes())
        .merge(overview::routes())
        .merge(monitors::routes())
        .merge(fleet::routes())
        .merge(agents::routes())
        .merge(notifications::routes())
        .merge(pve_hook::routes())
        .merge(pve::routes())
        .merge(settings::routes())
        .merge(openapi::routes())
        .merge(integrations::routes())
}

/// The access table: every API route with the level it needs.
pub fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| routes().rules)
}

/// The access a (method, matched path) needs; `None` if the route has no rule.
pub fn access(method: &Method, path: &str) -> Option<Access> {
    static INDEX: OnceLock<HashMap<(Method, String), Access>> = OnceLock::new();
    let index = INDEX
        .get_or_init(|| rules().iter().map(|r| ((r.method.clone(), r.path.clone()), r.access)).collect());
    let method = if method == Method::HEAD { &Method::GET } else { method };
    if let Some(a) = index.get(&(method.clone(), path.to_string())) {
        return Some(*a);
    }
    // A known path with another method: a login is needed before the 405 is shown.
    rules().iter().any(|r| r.path == path).then_some(READ)
}

/// The route layer's view of the state, with this API's access table (behind one `Arc`: the
/// middleware clones its state on every request).
pub fn gate(state: &ApiState) -> std::sync::Arc<crate::auth::layer::Gate> {
    std::sync::Arc::new(crate::auth::layer::Gate {
        auth: state.auth.clone(),
        bans: state.bans.clone(),
        hosts: state.hosts.clone(),
        access,
    })
}

/// The PVE webhook receiver alone, for the loopback listener (its own secret check; every other path
/// is a JSON 404).
pub fn pve_webhook_router(state: ApiState) -> axum::Router {
    let path = format!("/api{}", pve_hook::PATH);
    Router::new()
        .route(&path, axum::routing::post(pve_hook::webhook))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(api_response))
        .with_state(state)
}

pub fn router(state: ApiState) -> Router<ApiState> {
    routes()
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(gate(&state), crate::auth::layer::guard))
        .layer(axum::middleware::from_fn(api_response))
}

/// Every `/api` answer: never cached (tokens, CSRF tokens and host data must not sit in a browser
/// or proxy cache), and every error in the one JSON shape, including the rejections axum's
/// extractors write as plain text (a path parameter that is not UTF-8, a malformed query, a missing
/// websocket header).
async fn api_response(req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let mut resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
        let text = match axum::body::to_bytes(std::mem::take(resp.body_mut()), 4096).await {
            Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
            Err(_) => String::new(),
        };
        let message =
            if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
        let mut json = ApiError::Status { status, message }.into_response();
        if let Some(r) = retry_after {
            json.headers_mut().insert(header::RETRY_AFTER, r);
        }
        resp = json;
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

// Inside the nest the URI has lost its `/api` prefix; OriginalUri still has it.
async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::MethodNotAllowed(format!("method {method} is not allowed on {}", uri.path()))
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

/// A host tool's failure as an API answer. Its detail (the tool's stderr, an argv, a replay
/// recording's name) reaches admins only: it can name paths, devices and internals that a viewer or
/// operator has no business seeing. Everyone else gets `summary`, and the detail is in the log.
pub(crate) fn tool_error(summary: &str, detail: &str, caller: Level) -> ApiError {
    let detail = detail.trim();
    tracing::warn!(code = "tool_failed", detail, "{summary}");
    if caller == Level::Admin && !detail.is_empty() {
        let mut d: String = detail.chars().take(500).collect();
        if d.len() < detail.len() {
            d.push('…');
        }
        ApiError::ToolFailed(format!("{summary}: {d}"))
    } else {
        ApiError::ToolFailed(format!("{summary} (the proxwatch log has the details)"))
    }
}

/// How an on-demand operation's failure answers. A host tool that failed is one code,
/// `tool_failed` (502), whatever the tool; `refused` words a non-zero exit from its code.
pub(crate) fn op_error(
    e: crate::workers::pve::OpError,
    refused: impl FnOnce(i32) -> String,
    caller: Level,
) -> ApiError {
    use crate::workers::pve::OpError;
    match e {
        OpError::Busy(why) => ApiError::unavailable(why),
        OpError::Missing { tool } => ApiError::unavailable(format!("{tool} is not available on this host")),
        OpError::Locked => ApiError::Locked("the guest is locked".into()),
        OpError::NotRecorded => {
            tool_error("the host has no answer for this", "not in the replayed scenario", caller)
        }
        OpError::Refused { code, detail } => tool_error(&refused(code), &detail, caller),
        OpError::Failed { summary, detail } => tool_error(summary, &detail, caller),
        OpError::Api(fault) => {
            use crate::tools::pveapi::ApiFault;
            match fault {
                // What to do about it, for whoever asked: no host detail in these.
                ApiFault::NotConnected => ApiError::unavailable(fault.to_string()),
                ApiFault::Rejected { .. } | ApiFault::Forbidden { .. } => {
                    tracing::warn!(code = "tool_failed", "{fault}");
                    ApiError::ToolFailed(format!("Proxmox refused: {fault}"))
                }
                ApiFault::Http { reason, .. } => tool_error("Proxmox refused", &reason, caller),
                ApiFault::Transport(detail) => {
                    tool_error("the PVE API could not be reached", &detail, caller)
                }
                ApiFault::Unreadable(detail) => {
                    tool_error("unreadable answer from the PVE API", &detail, caller)
                }
            }
        }
    }
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

/// Every route's description, for the OpenAPI document (`openapi.rs`).
#[cfg(test)]
pub(crate) fn docs(d: &mut openapi::spec::Doc) {
    system::docs(d);
    history::docs(d);
    live::docs(d);
    auth::docs(d);
    vms::docs(d);
    pve::docs(d);
    settings::docs(d);
    cluster::docs(d);
    storage::docs(d);
    tasks::docs(d);
    terminal::docs(d);
    network::docs(d);
    hardware::docs(d);
    logs::docs(d);
    health::docs(d);
    overview::docs(d);
    monitors::docs(d);
    fleet::docs(d);
    agents::docs(d);
    notifications::docs(d);
    pve_hook::docs(d);
    integrations::docs(d);
    d.get("/openapi.json", "This description (OpenAPI 3.1)")
        .ok(serde_json::json!({ "type": "object", "description": "An OpenAPI 3.1 document." }));
}

/// Visits the API's own view structs, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(crate) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    vms::ts_types(v);
    pve::ts_types(v);
    settings::ts_types(v);
    storage::ts_types(v);
    network::ts_types(v);
    hardware::ts_types(v);
    system::ts_types(v);
    logs::ts_types(v);
    tasks::ts_types(v);
    auth::ts_types(v);
    health::ts_types(v);
    overview::ts_types(v);
    monitors::ts_types(v);
    fleet::ts_types(v);
    agents::ts_types(v);
    notifications::ts_types(v);
    pve_hook::ts_types(v);
    integrations::ts_types(v);
}
