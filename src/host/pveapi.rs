//! The Proxmox VE API over loopback, the transport only (issue 15): one request to
//! `https://127.0.0.1:8006/api2/json<path>` with an API token, verified against the cluster CA
//! (`/etc/pve/pve-root-ca.pem`, read through the host seam), or answered from a replayed scenario.
//! What the answers mean is `tools::pveapi`'s business; who holds the token is [`PveLink`].
//!
//! Why `127.0.0.1` as the server name: `PVE::Cluster::Setup::gen_pve_ssl_cert` (pve-cluster,
//! `src/PVE/Cluster/Setup.pm`) writes `pve-ssl.pem` with the subjectAltName
//! `IP:127.0.0.1,IP:::1,DNS:localhost,IP:<node ip>,DNS:<nodename>[,DNS:<fqdn>]`, signed by
//! `pve-root-ca.pem`; so 127.0.0.1 verifies against the CA on every node that kept PVE's own
//! certificate. A node whose pveproxy serves a custom certificate (`pveproxy-ssl.pem`, e.g. from
//! ACME) is refused with an error that says so.
//!
//! A replayed host (tests, the demo) sends nothing: a `GET <path>` is answered with the scenario's
//! `pvesh get <path> … --output-format json` wrapped as `{"data": …}` (pvesh prints the API's
//! `data`); a guest's `POST …/status/<action>` with the recorded `pvesh create` answer or a
//! well-formed UPID made up for it; a task's `GET …/tasks/<upid>/status` with the recorded answer or a
//! task that ended `OK`. A request without a token is a 401, as PVE answers it.
//!
//! Every request counts as a run of [`PROGRAM`] in the host's per-program counters, never as a spawn.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{Host, Runner, Scenario, ToolError};

/// The name API requests are counted under (`GET /api/system/self`).
pub const PROGRAM: &str = "pve-api";
/// Where pveproxy listens on every PVE node.
pub const DEFAULT_BASE: &str = "https://127.0.0.1:8006";
/// The cluster CA that signs each node's `pve-ssl.pem`.
pub const CA_PATH: &str = "/etc/pve/pve-root-ca.pem";
/// The most of an answer read (a year of a guest's RRD is ~70 rows; the largest read is far below).
pub const MAX_ANSWER: usize = 4 << 20;

/// Where the live transport connects: PVE's defaults, or a test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host:port`, without `/api2/json`.
    pub base: String,
    /// The CA file (read through the host seam) the server's certificate must chain to.
    pub ca_path: String,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint { base: DEFAULT_BASE.into(), ca_path: CA_PATH.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One API request: `path` under `/api2/json` (no query: parameters go in `params`, as a query for
/// GET and DELETE and as a form for POST), and the `Authorization` value (`PVEAPIToken=…`).
#[derive(Clone)]
pub struct PveRequest {
    pub method: Method,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub auth: Option<String>,
}

impl std::fmt::Debug for PveRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("params", &self.params)
            .field("auth", &self.auth.as_ref().map(|_| "…"))
            .finish()
    }
}

impl PveRequest {
    pub fn new(method: Method, path: impl Into<String>) -> PveRequest {
        PveRequest { method, path: path.into(), params: Vec::new(), auth: None }
    }
    pub fn get(path: impl Into<String>) -> PveRequest {
        PveRequest::new(Method::Get, path)
    }
    pub fn post(path: impl Into<String>) -> PveRequest {
        PveRequest::new(Method::Post, path)
    }
    pub fn param(mut self, key: &str, value: &str) -> PveRequest {
        self.params.push((key.into(), value.into()));
        self
    }
    /// The `Authorization` header's value.
    pub fn auth(mut self, value: String) -> PveRequest {
        self.auth = Some(value);
        self
    }
}

/// An answer: the HTTP status, the reason phrase when it is not the canonical one (where PVE says
/// why it refused), and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PveAnswer {
    pub status: u16,
    pub reason: Option<String>,
    pub body: String,
}

impl PveAnswer {
    fn refused(status: u16, reason: &str) -> PveAnswer {
        PveAnswer { status, reason: Some(reason.into()), body: r#"{"data":null}"#.into() }
    }
}

// ---------------------------------------------------------------------------------------------------
// the token handle
// ---------------------------------------------------------------------------------------------------

/// An API token: its full id (`proxwatch@pve!proxwatch`), its secret, and whether proxwatch may use
/// it for guest power actions. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    secret: String,
    pub actions: bool,
}

impl Token {
    pub fn new(id: impl Into<String>, secret: impl Into<String>, actions: bool) -> Token {
        Token { id: id.into(), secret: secret.into(), actions }
    }
    pub fn secret(&self) -> &str {
        &self.secret
    }
    /// The `Authorization` value PVE expects: `PVEAPIToken=USER@REALM!TOKENID=SECRET`.
    pub fn header(&self) -> String {
        format!("PVEAPIToken={}={}", self.id, self.secret)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("secret", &"…")
            .field("actions", &self.actions)
            .finish()
    }
}

/// The token proxwatch uses, shared: the composition root holds one, loads it from the database,
/// and hands clones to whoever talks to the API (the guest actions, the inventory). `None` until
/// `proxwatch pve connect` (or the Settings button) made one.
#[derive(Clone, Default, Debug)]
pub struct PveLink(Arc<RwLock<Option<Token>>>);

impl PveLink {
    pub fn new(token: Option<Token>) -> PveLink {
        PveLink(Arc::new(RwLock::new(token)))
    }
    pub fn token(&self) -> Option<Token> {
        self.0.read().map(|t| t.clone()).unwrap_or(None)
    }
    pub fn set(&self, token: Option<Token>) {
        if let Ok(mut t) = self.0.write() {
            *t = token;
        }
    }
    pub fn is_connected(&self) -> bool {
        self.0.read().map(|t| t.is_some()).unwrap_or(false)
    }
}

// ---------------------------------------------------------------------------------------------------
// live
// ---------------------------------------------------------------------------------------------------

fn url(endpoint: &Endpoint, req: &PveRequest) -> Result<String, ToolError> {
    let mut url = format!("{}/api2/json{}", endpoint.base.trim_end_matches('/'), req.path);
    if req.method != Method::Post && !req.params.is_empty() {
        url.push('?');
        url.push_str(&form(&req.params)?);
    }
    Ok(url)
}

fn form(params: &[(String, String)]) -> Result<String, ToolError> {
    serde_urlencoded::to_string(params).map_err(|e| ToolError::Failed {
        tool: PROGRAM.into(),
        code: None,
        stderr: format!("parameters: {e}"),
    })
}

pub(super) async fn live(
    host: &Host,
    endpoint: &Endpoint,
    req: &PveRequest,
    timeout: Duration,
) -> Result<PveAnswer, ToolError> {
    let ca = host.read_bytes(&endpoint.ca_path)?;
    let client = crate::httpc::Client::new(concat!("proxwatch/", env!("CARGO_PKG_VERSION")), timeout);
    let method = match req.method {
        Method::Get => hyper::Method::GET,
        Method::Post => hyper::Method::POST,
        Method::Delete => hyper::Method::DELETE,
    };
    let mut b = client.request(method, url(endpoint, req)?).roots_pem(&ca).limit(MAX_ANSWER);
    if let Some(auth) = &req.auth {
        b = b.authorization(auth);
    }
    if req.method == Method::Post {
        b = b.header("content-type", "application/x-www-form-urlencoded").body(form(&req.params)?);
    }
    let place = endpoint.base.trim_start_matches("https://").trim_start_matches("http://").to_string();
    match b.send().await {
        Ok(r) => Ok(PveAnswer {
            status: r.status().as_u16(),
            reason: r.reason().map(str::to_string),
            body: r.text(),
        }),
        Err(e) if e.kind() == crate::httpc::Kind::Timeout => {
            Err(ToolError::Timeout { tool: format!("{PROGRAM} ({place})"), after: timeout })
        }
        Err(e) => {
            let text = e.to_string();
            let stderr = if text.contains("invalid peer certificate") {
                format!(
                    "{place} presented a certificate that is not signed by the cluster CA ({}): does pveproxy \
                     serve a custom certificate (/etc/pve/nodes/<node>/pveproxy-ssl.pem)? ({text})",
                    endpoint.ca_path
                )
            } else {
                text
            };
            Err(ToolError::Failed { tool: PROGRAM.into(), code: None, stderr })
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------------------------------

/// `(user!tokenid)` of a `PVEAPIToken=user!tokenid=secret` value.
fn token_user(auth: &str) -> Option<&str> {
    let rest = auth.strip_prefix("PVEAPIToken=")?;
    let (id, _secret) = rest.split_once('=')?;
    (!id.is_empty()).then_some(id)
}

/// The pvesh argv that stands for `req` in a recording: `pvesh <get|create|delete> <path>
/// [--key value …] --output-format json`, first with every parameter, then leaving the last ones
/// out one by one (a recording made without an option the API call spells out, `cf=AVERAGE`, the
/// default, answers it).
fn pvesh_candidates(req: &PveRequest) -> Vec<Vec<String>> {
    let verb = match req.method {
        Method::Get => "get",
        Method::Post => "create",
        Method::Delete => "delete",
    };
    (0..=req.params.len())
        .rev()
        .map(|n| {
            let mut argv = vec!["pvesh".to_string(), verb.to_string(), req.path.clone()];
            for (k, v) in &req.params[..n] {
                argv.push(format!("--{k}"));
                argv.push(v.clone());
            }
            argv.extend(["--output-format".to_string(), "json".to_string()]);
            argv
        })
        .collect()
}

fn recorded(scenario: &Scenario, req: &PveRequest) -> Option<Result<PveAnswer, ToolError>> {
    let argv = pvesh_candidates(req).into_iter().find(|a| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        scenario.records(&a)
    })?;
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    Some(scenario.answer(&argv).map(|out| {
        if out.code != 0 {
            // pvesh prints the API's error message on stderr: PVE puts it in the status line.
            let reason = out.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("pvesh failed").trim();
            return PveAnswer::refused(500, reason);
        }
        let data = out.stdout.trim();
        let data = if data.is_empty() {
            "null".to_string()
        } else if serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok() {
            data.to_string()
        } else {
            serde_json::Value::String(data.to_string()).to_string()
        };
        PveAnswer { status: 200, reason: None, body: format!("{{\"data\":{data}}}") }
    }))
}

/// `/nodes/<node>/<qemu|lxc>/<vmid>/status/<action>` -> (node, kind, vmid, action).
fn guest_action(path: &str) -> Option<(&str, &str, &str, &str)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "status", action] if vmid.parse::<u64>().is_ok() => {
            Some((node, kind, vmid, action))
        }
        _ => None,
    }
}

/// `/nodes/<node>/tasks/<upid>/status` -> the upid.
fn task_status(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/nodes/")?;
    let (_node, rest) = rest.split_once("/tasks/")?;
    rest.strip_suffix("/status").filter(|u| u.starts_with("UPID:"))
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A UPID as pvedaemon makes one for a guest action (`PVE::Tools::upid_encode`: node, then pid,
/// pstart and starttime in upper-case hex of 8 digits, type, id, user, and the trailing `:`).
fn synthetic_upid(node: &str, kind: &str, vmid: &str, action: &str, user: &str) -> String {
    let prefix = if kind == "lxc" { "vz" } else { "qm" };
    let n: u64 = vmid.parse().unwrap_or(0);
    let pid = 0x0010_0000 + (n * 7919 + action.len() as u64) % 0x000f_ffff;
    format!("UPID:{node}:{pid:08X}:{:08X}:{:08X}:{prefix}{action}:{vmid}:{user}:", 0x0B00_0000 + n, now_s())
}

/// A task status for `upid` as `PVE/API2/Tasks.pm` `read_task_status` answers it for a finished task.
fn finished_task(upid: &str) -> String {
    let f: Vec<&str> = upid.split(':').collect();
    let hex = |i: usize| f.get(i).and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or(0);
    let text = |i: usize| f.get(i).copied().unwrap_or("");
    serde_json::json!({ "data": {
        "upid": upid, "node": text(1), "pid": hex(2), "pstart": hex(3), "starttime": hex(4),
        "type": text(5), "id": text(6), "user": text(7), "status": "stopped", "exitstatus": "OK",
    }})
    .to_string()
}

pub(super) fn replay(scenario: &Scenario, req: &PveRequest) -> Result<PveAnswer, ToolError> {
    let Some(user) = req.auth.as_deref().and_then(token_user) else {
        // pveproxy's answer to a request without a ticket or token.
        return Ok(PveAnswer::refused(401, "No ticket"));
    };
    if let Some(answer) = recorded(scenario, req) {
        return answer;
    }
    if req.method == Method::Post
        && let Some((node, kind, vmid, action)) = guest_action(&req.path)
    {
        let upid = synthetic_upid(node, kind, vmid, action, user);
        return Ok(PveAnswer {
            status: 200,
            reason: None,
            body: serde_json::json!({ "data": upid }).to_string(),
        });
    }
    if req.method == Method::Get
        && let Some(upid) = task_status(&req.path)
    {
        return Ok(PveAnswer { status: 200, reason: None, body: finished_task(upid) });
    }
    // Loud, like any other unrecorded command: tests must not see "no data" silently.
    let argv = pvesh_candidates(req).into_iter().next().unwrap_or_default();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    scenario.answer(&argv).map(|_| PveAnswer::refused(500, "unreachable"))
}

impl Host {
    /// One request to the PVE API ([`PveRequest`]; module docs): live over loopback HTTPS, verified
    /// against the cluster CA, within the host's tool timeout; a replayed host answers from its
    /// scenario. Counted as a run of [`PROGRAM`], never a spawn. A transport failure is a
    /// [`ToolError`] (a missing CA file is [`ToolError::Missing`]); any HTTP answer is `Ok`.
    pub async fn pve_api(&self, req: PveRequest) -> Result<PveAnswer, ToolError> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.count(PROGRAM, false);
        match self.runner() {
            Runner::Replay(scenario) => replay(scenario, &req),
            Runner::System => live(self, &self.pve_endpoint, &req, self.timeout).await,
        }
    }

    /// Points the live transport elsewhere (tests: a local server and its CA).
    pub fn with_pve_endpoint(mut self, endpoint: Endpoint) -> Host {
        self.pve_endpoint = endpoint;
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn replay_argv_and_paths() {
        let req =
            PveRequest::get("/nodes/n/qemu/100/rrddata").param("timeframe", "hour").param("cf", "AVERAGE");
        let c = pvesh_candidates(&req);
        assert_eq!(
            c[1],
            ["pvesh", "get", "/nodes/n/qemu/100/rrddata", "--timeframe", "hour", "--output-format", "json"]
        );
        assert_eq!(c.len(), 3);
        assert_eq!(guest_action("/nodes/n/lxc/200/status/stop"), Some(("n", "lxc", "200", "stop")));
        assert_eq!(guest_action("/nodes/n/lxc/x/status/stop"), None);
        let upid = synthetic_upid("pve", "qemu", "100", "start", "proxwatch@pve!proxwatch");
        assert!(
            upid.starts_with("UPID:pve:") && upid.ends_with(":qmstart:100:proxwatch@pve!proxwatch:"),
            "{upid}"
        );
        assert_eq!(upid.split(':').count(), 9);
        assert_eq!(task_status(&format!("/nodes/pve/tasks/{upid}/status")), Some(upid.as_str()));
        let t: serde_json::Value = serde_json::from_str(&finished_task(&upid)).unwrap();
        assert_eq!(
            (t["data"]["status"].as_str(), t["data"]["exitstatus"].as_str()),
            (Some("stopped"), Some("OK"))
        );
        assert_eq!(t["data"]["id"], "100");
        assert_eq!(token_user("PVEAPIToken=a@pve!b=s3cr=et"), Some("a@pve!b"));
        assert_eq!(token_user("Bearer x"), None);
    }

    #[test]
    fn the_secret_is_never_printed() {
        let t = Token::new("proxwatch@pve!proxwatch", "0f1e2d3c-secret", true);
        assert!(!format!("{t:?}").contains("0f1e2d3c"), "{t:?}");
        assert_eq!(t.header(), "PVEAPIToken=proxwatch@pve!proxwatch=0f1e2d3c-secret");
        let req = PveRequest::get("/version").auth(t.header());
        assert!(!format!("{req:?}").contains("0f1e2d3c"));
        let link = PveLink::default();
        assert!(!link.is_connected());
        link.set(Some(t.clone()));
        assert_eq!(link.clone().token(), Some(t));
    }
}
