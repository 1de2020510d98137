//! Service monitors (issue 18): what the admin asks proxwatch to check inside the guests (HTTP(S), a
//! TCP port, ICMP, DNS, the guest agent), each check's outcome and a monitor's state. The checks and
//! the state machine live in `monitors/`; these are the types the API and the other readers share.

use serde::{Deserialize, Serialize};

/// What a monitor checks.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorTarget"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorTarget"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// An HTTP(S) request: up when the status is in range and the body matches.
    Http {
        url: String,
        /// The accepted status codes (default 200–399).
        #[serde(default)]
        status: StatusRange,
        /// Text the body must contain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keyword: Option<String>,
        /// A JSON pointer (`/status`) whose value, as text, must equal `json_expect`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        json_path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        json_expect: Option<String>,
        #[serde(default = "yes")]
        follow_redirects: bool,
        #[serde(default = "yes")]
        verify_tls: bool,
        /// Warn this many days before the certificate expires (0: never).
        #[serde(default = "cert_warn_days")]
        #[cfg_attr(test, schemars(range(max = 365)))]
        cert_warn_days: u32,
    },
    /// A TCP connection: up when it is accepted.
    Tcp {
        host: String,
        #[cfg_attr(test, schemars(range(min = 1)))]
        port: u16,
    },
    /// ICMP echo: up when an answer comes.
    Ping { host: String },
    /// A DNS lookup: up when the name resolves (to `expect`, when given).
    Dns {
        name: String,
        /// `A` or `AAAA` (default `A`).
        #[serde(default = "record_a")]
        record: String,
        /// A resolver to ask (`192.0.2.53` or `192.0.2.53:5353`); the system's when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        /// An address the answer must contain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<String>,
    },
    /// The guest answers: the QEMU guest agent (VM) or the container runs (CT), per the inventory.
    Agent { vmid: u64 },
}

impl Target {
    /// An HTTP(S) check of `url` with the defaults: 200–399, redirects followed, the certificate
    /// verified and warned about 14 days ahead.
    pub fn http(url: impl Into<String>) -> Target {
        Target::Http {
            url: url.into(),
            status: StatusRange::default(),
            keyword: None,
            json_path: None,
            json_expect: None,
            follow_redirects: true,
            verify_tls: true,
            cert_warn_days: cert_warn_days(),
        }
    }

    /// The target in a few words: `https://ha.lan/`, `tcp 10.0.0.5:22`, `ping 10.0.0.5`,
    /// `dns nas.lan A`, `guest agent of 104`.
    pub fn describe(&self) -> String {
        match self {
            Target::Http { url, .. } => url.clone(),
            Target::Tcp { host, port } => format!("tcp {host}:{port}"),
            Target::Ping { host } => format!("ping {host}"),
            Target::Dns { name, record, server, .. } => match server {
                Some(s) => format!("dns {name} {record} @{s}"),
                None => format!("dns {name} {record}"),
            },
            Target::Agent { vmid } => format!("guest agent of {vmid}"),
        }
    }

    /// The kind's name: `http`, `tcp`, `ping`, `dns`, `agent`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Http { .. } => "http",
            Target::Tcp { .. } => "tcp",
            Target::Ping { .. } => "ping",
            Target::Dns { .. } => "dns",
            Target::Agent { .. } => "agent",
        }
    }
}

fn yes() -> bool {
    true
}

fn cert_warn_days() -> u32 {
    14
}

fn record_a() -> String {
    "A".into()
}

/// Accepted HTTP status codes, inclusive.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "StatusRange"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "StatusRange"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRange {
    pub min: u16,
    pub max: u16,
}

impl Default for StatusRange {
    fn default() -> Self {
        StatusRange { min: 200, max: 399 }
    }
}

/// A monitor as the admin defines it.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorSpec"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorSpec"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// 1 to 100 printable characters.
    #[cfg_attr(test, schemars(length(min = 1, max = 100)))]
    pub name: String,
    pub target: Target,
    /// Seconds between checks (at least 10).
    #[serde(default = "interval_s")]
    #[cfg_attr(test, schemars(range(min = 10, max = 86_400)))]
    pub interval_s: u64,
    /// A check never outlives this (ms); less than the interval.
    #[serde(default = "timeout_ms")]
    #[cfg_attr(test, schemars(range(min = 100, max = 60_000)))]
    pub timeout_ms: u64,
    /// Failed checks in a row before the monitor counts as down (0: the first failure).
    #[serde(default = "retries")]
    #[cfg_attr(test, schemars(range(max = 10)))]
    pub retries: u32,
    /// Slower than this (ms) is `degraded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_ms: Option<u64>,
    /// The guest the service runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u64>,
}

fn interval_s() -> u64 {
    60
}

fn timeout_ms() -> u64 {
    10_000
}

fn retries() -> u32 {
    1
}

/// One check's outcome.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorOutcome"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorOutcome"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Unix ms the check started.
    pub ts: i64,
    pub ok: bool,
    /// How long it took (ms); `None` when it did not complete.
    pub latency_ms: Option<f64>,
    /// What failed, in words: `HTTP 500`, `timeout after 5000 ms`, `DNS failure: NXDOMAIN`,
    /// `TLS: certificate expired`, ...
    pub error: Option<String>,
    /// The HTTP status, for HTTP monitors.
    pub status_code: Option<u16>,
    /// When the server's certificate expires (unix s), for HTTPS monitors.
    pub cert_expires: Option<i64>,
}

/// A monitor's state.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorStatus"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not checked yet.
    Pending,
    Up,
    /// Up, but slower than `degraded_ms`.
    Degraded,
    Down,
    /// Paused by an operator: not checked.
    Paused,
    /// In a maintenance window: checked and recorded, never notified.
    Maintenance,
    /// Its guest is stopped (and does not start on boot): not a failure of the service.
    GuestStopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
            Status::Paused => "paused",
            Status::Maintenance => "maintenance",
            Status::GuestStopped => "guest_stopped",
        }
    }
}

/// One monitor's state, as the pages and the other readers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorState"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorState"))]
pub struct MonitorState {
    pub id: i64,
    pub name: String,
    /// The guest the service runs in.
    pub vmid: Option<u64>,
    pub status: Status,
    /// Since when (unix ms).
    pub since: Option<i64>,
    /// Changing state too often: notifications are held until it settles.
    pub flapping: bool,
    /// The last check.
    pub last: Option<Outcome>,
    /// When the certificate expires (unix s), from the last HTTPS check that saw one.
    pub cert_expires: Option<i64>,
}

/// Every monitor's state, by id (a check replaces its own entry: the others are shared), as the
/// monitors publish it.
pub type MonitorStates = std::sync::Arc<std::collections::HashMap<i64, std::sync::Arc<MonitorState>>>;
