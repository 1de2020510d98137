//! `/api/agents`: the Docker push agents. Readers list the agents with their containers; an admin
//! (in a browser session: it mints a token) adds an agent, which creates its `ingest` token and
//! answers the install command once, or removes one (revoking its token). The agents post to
//! `POST /api/agents/docker/report` with that token, which reaches nothing else. The script itself
//! is served at `/agent/docker.sh` ([`script`]). The logic lives in `crate::agents`.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ApiState, INGEST, JsonBody, READ, Routes, SESSION_ADMIN, json};
use crate::agents::{Ack, Change};
use crate::auth::{Principal, Via};
use crate::error::ApiError;
use crate::model::docker::Agent;

pub fn routes() -> Routes {
    Routes::new()
        .get("/agents", READ, list)
        .post("/agents", SESSION_ADMIN, create)
        .get("/agents/{id}", READ, detail)
        .delete("/agents/{id}", SESSION_ADMIN, delete)
        .post("/agents/docker/report", INGEST, report)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "DockerAgents"))]
#[cfg_attr(test, schemars(rename = "DockerAgents"))]
struct List {
    agents: Vec<Agent>,
    /// Agents allowed at most (`agents.max`).
    max: usize,
}

async fn list(State(app): State<ApiState>) -> Result<Response, ApiError> {
    json(&List { agents: app.agents.list(), max: app.agents.max() })
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "DockerAgentDetail"))]
#[cfg_attr(test, schemars(rename = "DockerAgentDetail"))]
struct Detail {
    agent: Agent,
    /// Container state changes, newest first (at most 200).
    history: Vec<Change>,
}

async fn detail(State(app): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (agent, history) = app.agents.detail(&id).await?;
    json(&Detail { agent, history })
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct NewAgent {
    /// 1 to 64 characters (`docker01`).
    name: String,
    /// The guest it runs in, when known (else it is found by the agent's addresses).
    #[serde(default)]
    vmid: Option<u64>,
    /// How often it will report, seconds (10 to 86400, default 60).
    #[serde(default)]
    interval_s: Option<u64>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "NewDockerAgent"))]
#[cfg_attr(test, schemars(rename = "NewDockerAgent"))]
struct Created {
    agent: Agent,
    /// The agent's ingest token: shown this once.
    token: String,
    /// The commands that install the agent in the guest (as root), token included: shown this once.
    install: String,
}

/// The base URL an agent in a guest reaches this proxwatch at: the scheme it serves, the host the
/// admin's browser used, the base path.
fn base_url(app: &ApiState, headers: &HeaderMap) -> String {
    let scheme = if app.config.tls.enabled { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("proxwatch:8008");
    let base = app.config.server.base_path.trim_end_matches('/');
    format!("{scheme}://{host}{base}")
}

/// The install commands: the script, its config (mode 600: it holds the token), a cron line.
fn install(url: &str, token: &str, vmid: Option<u64>, interval_s: u64, tls: bool) -> String {
    let mut conf = vec![format!("PROXWATCH_URL={url}"), format!("PROXWATCH_TOKEN={token}")];
    if let Some(v) = vmid {
        conf.push(format!("PROXWATCH_VMID={v}"));
    }
    conf.push(format!("PROXWATCH_INTERVAL={interval_s}"));
    if tls {
        // Self-signed Proxmox certificates are the norm; PROXWATCH_CACERT=/path is the better choice
        // where the CA is at hand (docs/docker-agent.md).
        conf.push("PROXWATCH_INSECURE=1".into());
    }
    let k = if tls { "k" } else { "" };
    let schedule = if interval_s < 60 || interval_s % 60 != 0 {
        "* * * * *".to_string()
    } else if interval_s < 3600 {
        format!("*/{} * * * *", interval_s / 60)
    } else {
        "0 * * * *".to_string()
    };
    format!(
        "curl -fsS{k}L {url}/agent/docker.sh -o /usr/local/bin/proxwatch-docker-agent \\\n  && chmod 0755 /usr/local/bin/proxwatch-docker-agent \\\n  && mkdir -p /etc/proxwatch && (umask 077 && printf '%s\\n' {conf} > /etc/proxwatch/docker-agent.conf) \\\n  && echo '{schedule} root /usr/local/bin/proxwatch-docker-agent >/dev/null 2>&1' > /etc/cron.d/proxwatch-docker-agent \\\n  && /usr/local/bin/proxwatch-docker-agent",
        conf = conf.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(" "),
    )
}

async fn create(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<NewAgent>,
) -> Result<Response, ApiError> {
    let name = crate::agents::check_name(&req.name)?;
    let interval_s = crate::agents::check_interval(req.interval_s.unwrap_or(60))?;
    if app.agents.count() >= app.agents.max() {
        return Err(ApiError::Conflict(format!("at most {} agents (agents.max)", app.agents.max())));
    }
    let spec = crate::auth::store::TokenSpec {
        name: format!("docker agent {name}").chars().take(64).collect(),
        ingest: true,
        description: "Docker push agent: posts reports only".into(),
        ..Default::default()
    };
    let (id, token) = app.auth.create_token_with(&p, &spec).await?;
    let agent = match app.agents.add(&id, &name, req.vmid, interval_s).await {
        Ok(a) => a,
        Err(e) => {
            // No agent, no token.
            let _ = app.auth.revoke_token(&p, &id).await;
            return Err(e);
        }
    };
    let install = install(&base_url(&app, &headers), &token, req.vmid, interval_s, app.config.tls.enabled);
    let mut r = json(&Created { agent, token, install })?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

async fn delete(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.agents.delete(&id).await?;
    // Its token goes with it (already gone when revoked on the Security page).
    let _ = app.auth.revoke_token(&p, &id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/agents/docker/report`: bounded by `agents.max_report` (not the API's 64 KiB), JSON
/// only, parsed and masked by `tools::docker`.
async fn report(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Request,
) -> Result<Response, ApiError> {
    let Via::Agent { id } = &p.via else {
        return Err(ApiError::Forbidden("this needs an agent's ingest token".into()));
    };
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the report as application/json (got {:?})",
            if ct.is_empty() { "nothing" } else { ct }
        )));
    }
    // One report at a time per agent, held before the body is read.
    let _slot = app.agents.slot(id)?;
    let limit = app.agents.max_report();
    let body = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
        ApiError::PayloadTooLarge(format!("the report is over {limit} bytes (agents.max_report)"))
    })?;
    let ack: Ack = app.agents.ingest(id, &body).await?;
    json(&ack)
}

/// `GET /agent/docker.sh`: the agent script (public: it holds no secret).
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_DISPOSITION, "inline; filename=\"docker.sh\""),
        ],
        Body::from(crate::agents::SCRIPT),
    )
        .into_response()
}

/// Visits this module's answers, for the generated TypeScript types (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<List>();
    v.visit::<Detail>();
    v.visit::<Created>();
    v.visit::<Ack>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    let id = || serde_json::json!({ "type": "string" });
    d.get("/agents", "The Docker push agents with their containers")
        .about(
            "Each agent's latest report (containers with state, health, restarts, ports, mounts, CPU, \
             memory, network and block I/O, environment with secret-looking values masked), the guest \
             it was linked to and how, and whether it is stale (no report for three of its intervals).",
        )
        .ok(out::<List>());
    d.post("/agents", "Add a Docker agent: its ingest token and install command, shown once")
        .about("Creates an API token with the `ingest` scope, which can only post this agent's reports.")
        .status(201)
        .body(input::<NewAgent>())
        .ok(out::<Created>())
        .error(409, "The most agents allowed (`agents.max`) exist.");
    d.get("/agents/{id}", "One agent with its containers' state changes")
        .path_param("id", id(), "The agent's id (its token's id).")
        .ok(out::<Detail>());
    d.delete("/agents/{id}", "Remove an agent and revoke its token")
        .path_param("id", id(), "The agent's id.")
        .no_content();
    d.post("/agents/docker/report", "An agent's report (the agent script posts it)")
        .about(
            "`{agent, ps, inspect, stats}`: the agent's identity and Docker's own JSON of `docker ps`, \
             `docker inspect` and `docker stats --no-stream` (see `/agent/docker.sh`). At most \
             `agents.max_report` bytes and 500 containers; a malformed report is a 400 naming the \
             field. Environment values of secret-looking names are masked again here.",
        )
        .body(serde_json::json!({ "type": "object", "required": ["agent", "ps", "inspect", "stats"] }))
        .ok(out::<Ack>())
        .error(413, "The report is larger than `agents.max_report`.");
}
