//! A docker agent's report (issue 19): what `src/agents/docker.sh` POSTs from inside a guest — the
//! lines of `docker ps -a --no-trunc --format '{{json .}}'`, the array `docker inspect` prints for every
//! container and the lines of `docker stats --no-stream --no-trunc --format '{{json .}}'`, wrapped in an
//! envelope with the agent's own facts (see `/api/agents/docker/report`). Pure: bytes in, a
//! [`Report`] out, or a [`ParseError`] naming the field's path (`inspect[2].RestartCount: …`).
//!
//! The three docker outputs are joined by container id: `inspect` is authoritative (full 64-hex ids);
//! `ps` ids are full with `--no-trunc`; `stats` has the short id in `Container` and the full one in
//! `ID` (only with `--no-trunc`), so both are matched as prefixes. A container that `ps` listed but was
//! removed before `inspect` ran is still reported, from what `ps` said. Docker adds fields across
//! versions, so unknown fields of docker's objects are ignored; the envelope and its `agent` object are
//! ours and refuse unknown fields. Everything is bounded (containers, env entries, string lengths), and
//! environment values of secret-looking names are masked here whatever the agent did.
//!
//! Units (github.com/docker/go-units, as `docker stats` prints them): memory in binary units
//! (`21.5MiB / 7.658GiB`, `BytesSize`), network and block I/O in decimal SI units (`1.2MB / 648kB`,
//! `HumanSize`); `--` (no reading) is `None`. The recorded outputs these are tested on are in
//! `tests/fixtures/docker/` (README.md there names their sources).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;

use crate::model::docker::{AgentInfo, Container, Mount, Report};

/// Most containers one report may hold (`ps`, `inspect` and `stats` each).
pub const MAX_CONTAINERS: usize = 500;
/// Env entries kept per container (the rest are dropped).
pub const MAX_ENV: usize = 200;
/// Longest env value kept (bytes; longer ones are cut).
pub const MAX_ENV_VALUE: usize = 4096;
/// Longest name, image, state or other short string kept (characters).
pub const MAX_NAME: usize = 256;
/// Most addresses (each of `ips`, `macs`), ports and mounts kept.
pub const MAX_ADDRS: usize = 64;
pub const MAX_PORTS: usize = 64;
pub const MAX_MOUNTS: usize = 64;
/// Longest hostname (RFC 1035's limit for a full name).
pub const MAX_HOSTNAME: usize = 253;

/// The words of secret-looking env names (issue 19's contract; any case, anywhere in the name).
const SECRET_WORDS: [&str; 14] = [
    "PASS",
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PRIVATE",
    "AUTH",
    "API_KEY",
    "APIKEY",
    "SALT",
    "DSN",
    "CONN",
];

/// Why a report was refused: the JSON path of the offending field and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub path: String,
    pub message: String,
}

impl ParseError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> ParseError {
        ParseError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ParseError {}

// ---- the wire ------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    agent: WireAgent,
    ps: Vec<PsLine>,
    inspect: Vec<Inspect>,
    stats: Vec<StatsLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAgent {
    version: String,
    hostname: String,
    #[serde(default)]
    vmid: Option<u64>,
    interval_s: u64,
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default)]
    macs: Vec<String>,
    #[serde(default)]
    docker_version: Option<String>,
}

/// One line of `docker ps --format '{{json .}}'`: every value is a string.
#[derive(Deserialize)]
struct PsLine {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Names", default)]
    names: String,
    #[serde(rename = "Image", default)]
    image: String,
    /// Absent before Docker 20.10; then the state is read from `Status`.
    #[serde(rename = "State", default)]
    state: String,
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "Ports", default)]
    ports: String,
    #[serde(rename = "Labels", default)]
    labels: String,
}

/// One object of `docker inspect` (the Engine API's ContainerInspect), the fields used.
#[derive(Deserialize)]
struct Inspect {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "State")]
    state: InspectState,
    #[serde(rename = "RestartCount", default)]
    restart_count: u64,
    #[serde(rename = "Config", default)]
    config: Option<InspectConfig>,
    #[serde(rename = "NetworkSettings", default)]
    network_settings: Option<NetworkSettings>,
    #[serde(rename = "Mounts", default)]
    mounts: Option<Vec<InspectMount>>,
}

#[derive(Deserialize)]
struct InspectState {
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ExitCode", default)]
    exit_code: Option<i64>,
    #[serde(rename = "StartedAt", default)]
    started_at: Option<String>,
    #[serde(rename = "FinishedAt", default)]
    finished_at: Option<String>,
    /// Only there when the container has a healthcheck.
    #[serde(rename = "Health", default)]
    health: Option<InspectHealth>,
}

#[derive(Deserialize)]
struct InspectHealth {
    #[serde(rename = "Status")]
    status: String,
}

#[derive(Deserialize)]
struct InspectConfig {
    #[serde(rename = "Image", default)]
    image: String,
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct NetworkSettings {
    /// `"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]`; `null` for an exposed, unpublished port.
    #[serde(rename = "Ports", default)]
    ports: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
}

#[derive(Deserialize)]
struct PortBinding {
    #[serde(rename = "HostIp", default)]
    host_ip: String,
    #[serde(rename = "HostPort", default)]
    host_port: String,
}

#[derive(Deserialize)]
struct InspectMount {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(rename = "Source", default)]
    source: String,
    #[serde(rename = "Destination", default)]
    destination: String,
    #[serde(rename = "RW", default)]
    rw: bool,
}

/// One line of `docker stats --format '{{json .}}'`.
#[derive(Deserialize)]
struct StatsLine {
    /// The short id (or the name or id the user gave `docker stats`).
    #[serde(rename = "Container", default)]
    container: String,
    /// The full id with `--no-trunc`, else the short one.
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "CPUPerc", default)]
    cpu_perc: String,
    #[serde(rename = "MemUsage", default)]
    mem_usage: String,
    #[serde(rename = "NetIO", default)]
    net_io: String,
    #[serde(rename = "BlockIO", default)]
    block_io: String,
}

// ---- parsing -------------------------------------------------------------------------------------

/// Parses, checks and normalizes a report body (the agent's envelope).
pub fn parse_report(body: &[u8]) -> Result<Report, ParseError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let env: Envelope = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let mut message = inner.to_string();
        // With a path the position says nothing more (the agent sends one long line).
        if !path.is_empty() && path != "." {
            let at = format!(" at line {} column {}", inner.line(), inner.column());
            if let Some(m) = message.strip_suffix(&at) {
                message = m.to_string();
            }
        }
        ParseError::new(if path.is_empty() { ".".to_string() } else { path }, message)
    })?;
    for (what, n) in [("ps", env.ps.len()), ("inspect", env.inspect.len()), ("stats", env.stats.len())] {
        if n > MAX_CONTAINERS {
            return Err(ParseError::new(
                what,
                format!("{n} containers; a report holds at most {MAX_CONTAINERS}"),
            ));
        }
    }
    let agent = agent_info(env.agent)?;

    let mut containers = Vec::with_capacity(env.inspect.len());
    for (i, c) in env.inspect.iter().enumerate() {
        if !is_container_id(&c.id) {
            return Err(ParseError::new(
                format!("inspect[{i}].Id"),
                "not a container id (12 to 64 hex digits)",
            ));
        }
        if containers.iter().any(|k: &Container| c.id.starts_with(&k.id)) {
            continue; // the same container twice: the first answer stands
        }
        let ps = env.ps.iter().find(|p| !p.id.is_empty() && c.id.starts_with(&p.id));
        let mut k = from_inspect(c, ps);
        apply_stats(&mut k, &c.id, &env.stats);
        containers.push(k);
    }
    for (i, p) in env.ps.iter().enumerate() {
        if !is_container_id(&p.id) {
            return Err(ParseError::new(format!("ps[{i}].ID"), "not a container id (12 to 64 hex digits)"));
        }
        // Removed between `ps` and `inspect`: what `ps` said is all there is.
        if env.inspect.iter().any(|c| c.id.starts_with(&p.id))
            || containers.iter().any(|k| p.id.starts_with(&k.id))
        {
            continue;
        }
        let mut k = from_ps(p);
        apply_stats(&mut k, &p.id, &env.stats);
        containers.push(k);
    }
    containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(Report { agent, containers })
}

fn agent_info(a: WireAgent) -> Result<AgentInfo, ParseError> {
    if !(10..=86400).contains(&a.interval_s) {
        return Err(ParseError::new(
            "agent.interval_s",
            format!("{} is not between 10 and 86400 s", a.interval_s),
        ));
    }
    if a.hostname.len() > MAX_HOSTNAME {
        return Err(ParseError::new("agent.hostname", format!("longer than {MAX_HOSTNAME} characters")));
    }
    if a.version.is_empty() || a.version.len() > 32 {
        return Err(ParseError::new("agent.version", "expected the agent's version (1 to 32 characters)"));
    }
    for (what, list) in [("ips", &a.ips), ("macs", &a.macs)] {
        if list.len() > MAX_ADDRS {
            return Err(ParseError::new(
                format!("agent.{what}"),
                format!("{} entries; at most {MAX_ADDRS}", list.len()),
            ));
        }
    }
    let mut ips = Vec::with_capacity(a.ips.len());
    for (i, ip) in a.ips.iter().enumerate() {
        let parsed: IpAddr = ip.parse().map_err(|_| {
            ParseError::new(format!("agent.ips[{i}]"), format!("not an IP address: {:?}", clip(ip, 64)))
        })?;
        ips.push(parsed.to_string());
    }
    let mut macs = Vec::with_capacity(a.macs.len());
    for (i, mac) in a.macs.iter().enumerate() {
        macs.push(normalize_mac(mac).ok_or_else(|| {
            ParseError::new(format!("agent.macs[{i}]"), format!("not a MAC address: {:?}", clip(mac, 64)))
        })?);
    }
    let docker_version = a.docker_version.map(|v| clip(v.trim(), 64)).filter(|v| !v.is_empty());
    Ok(AgentInfo {
        version: a.version,
        hostname: a.hostname,
        vmid: a.vmid,
        interval_s: a.interval_s,
        ips,
        macs,
        docker_version,
    })
}

/// `bc:24:11:aa:bb:cc` (lower case) from six hex octets separated by `:` or `-`.
fn normalize_mac(mac: &str) -> Option<String> {
    let octets: Vec<&str> = mac.split([':', '-']).collect();
    let ok =
        octets.len() == 6 && octets.iter().all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| octets.join(":").to_ascii_lowercase())
}

fn is_container_id(id: &str) -> bool {
    (12..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn short_id(id: &str) -> String {
    id.chars().take(12).collect::<String>().to_ascii_lowercase()
}

/// The first `max` characters of `s`.
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn from_inspect(c: &Inspect, ps: Option<&PsLine>) -> Container {
    let config = c.config.as_ref();
    let state = clip(&c.state.status, MAX_NAME);
    let started_at = c.state.started_at.as_deref().and_then(unix_time);
    let image = config.map(|k| k.image.as_str()).filter(|i| !i.is_empty()).or(ps.map(|p| p.image.as_str()));
    let ports = match c.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
        Some(map) => published_ports(map),
        None => ps.map(|p| ps_ports(&p.ports)).unwrap_or_default(),
    };
    let compose_project = config
        .and_then(|k| k.labels.as_ref())
        .and_then(|l| l.get(COMPOSE_PROJECT).cloned())
        .or_else(|| ps.and_then(|p| ps_label(&p.labels, COMPOSE_PROJECT)))
        .filter(|p| !p.is_empty())
        .map(|p| clip(&p, MAX_NAME));
    Container {
        id: short_id(&c.id),
        name: clip(c.name.strip_prefix('/').unwrap_or(&c.name), MAX_NAME),
        image: clip(image.unwrap_or(""), MAX_NAME),
        exit_code: if exit_code_meaningful(&state, started_at) { c.state.exit_code } else { None },
        state,
        health: c.state.health.as_ref().map(|h| clip(&h.status, 32)).filter(|h| !h.is_empty() && h != "none"),
        restart_count: c.restart_count,
        started_at,
        finished_at: c.state.finished_at.as_deref().and_then(unix_time),
        ports,
        mounts: c
            .mounts
            .iter()
            .flatten()
            .take(MAX_MOUNTS)
            .map(|m| Mount {
                kind: clip(&m.kind, 32),
                source: clip(&m.source, 1024),
                destination: clip(&m.destination, 1024),
                rw: m.rw,
            })
            .collect(),
        env: config
            .and_then(|k| k.env.as_ref())
            .into_iter()
            .flatten()
            .take(MAX_ENV)
            .map(|e| bounded_env(e))
            .collect(),
        compose_project,
        ..no_stats()
    }
}

/// A container only `ps` saw: its state, health and exit code are read from the `Status` text
/// (`Up 2 hours (healthy)`, `Exited (137) 5 minutes ago`, `Restarting (1) 3 seconds ago`).
fn from_ps(p: &PsLine) -> Container {
    let status = p.status.trim();
    let state = if p.state.is_empty() { state_from_status(status) } else { p.state.to_ascii_lowercase() };
    let health = if status.ends_with("(healthy)") {
        Some("healthy")
    } else if status.ends_with("(unhealthy)") {
        Some("unhealthy")
    } else if status.ends_with("(health: starting)") {
        Some("starting")
    } else {
        None
    };
    let exit_code = ["Exited (", "Restarting ("]
        .iter()
        .find_map(|p| status.strip_prefix(p))
        .and_then(|rest| rest.split_once(')'))
        .and_then(|(code, _)| code.parse().ok());
    let name = p.names.split(',').next().unwrap_or("");
    Container {
        id: short_id(&p.id),
        name: clip(name.strip_prefix('/').unwrap_or(name), MAX_NAME),
        image: clip(&p.image, MAX_NAME),
        state: clip(&state, MAX_NAME),
        health: health.map(str::to_string),
        restart_count: 0,
        started_at: None,
        finished_at: None,
        exit_code,
        ports: ps_ports(&p.ports),
        mounts: Vec::new(),
        env: Vec::new(),
        compose_project: ps_label(&p.labels, COMPOSE_PROJECT)
            .filter(|p| !p.is_empty())
            .map(|p| clip(&p, MAX_NAME)),
        ..no_stats()
    }
}

const COMPOSE_PROJECT: &str = "com.docker.compose.project";

fn no_stats() -> Container {
    Container {
        id: String::new(),
        name: String::new(),
        image: String::new(),
        state: String::new(),
        health: None,
        restart_count: 0,
        started_at: None,
        finished_at: None,
        exit_code: None,
        ports: Vec::new(),
        mounts: Vec::new(),
        cpu_pct: None,
        mem_used: None,
        mem_limit: None,
        net_rx: None,
        net_tx: None,
        block_read: None,
        block_write: None,
        env: Vec::new(),
        compose_project: None,
    }
}

/// docker's `State.String()` words (daemon/container/state.go) back to `State.Status`.
fn state_from_status(status: &str) -> String {
    let s = if status.starts_with("Up ") && status.contains("(Paused)") {
        "paused"
    } else if status.starts_with("Up") {
        "running"
    } else if status.starts_with("Restarting") {
        "restarting"
    } else if status.starts_with("Exited") {
        "exited"
    } else if status.starts_with("Created") {
        "created"
    } else if status.starts_with("Dead") {
        "dead"
    } else if status.starts_with("Removal") {
        "removing"
    } else {
        "unknown"
    };
    s.to_string()
}

/// The exit code is the last run's: meaningless while it runs, or before it ever started.
fn exit_code_meaningful(state: &str, started_at: Option<i64>) -> bool {
    !matches!(state, "running" | "paused" | "created") && started_at.is_some()
}

/// RFC 3339 (docker prints nanoseconds) -> unix seconds; docker's zero time `0001-01-01T00:00:00Z`
/// (never started / never stopped) and anything unreadable -> `None`.
fn unix_time(s: &str) -> Option<i64> {
    if s.is_empty() || s.starts_with("0001-01-01") {
        return None;
    }
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// `NetworkSettings.Ports` -> docker ps's `0.0.0.0:8080->80/tcp`, `[::]:8080->80/tcp`; exposed but
/// unpublished ports are left out.
fn published_ports(map: &BTreeMap<String, Option<Vec<PortBinding>>>) -> Vec<String> {
    let mut out = Vec::new();
    for (port, binds) in map {
        for b in binds.iter().flatten() {
            if b.host_port.is_empty() {
                continue;
            }
            let host = match b.host_ip.as_str() {
                "" => String::new(),
                ip if ip.contains(':') => format!("[{ip}]:"),
                ip => format!("{ip}:"),
            };
            out.push(clip(&format!("{host}{}->{port}", b.host_port), MAX_NAME));
        }
    }
    out.truncate(MAX_PORTS);
    out
}

/// docker ps's `Ports` column, `80/tcp, 0.0.0.0:8080->80/tcp`: the published ones.
fn ps_ports(ports: &str) -> Vec<String> {
    ports
        .split(", ")
        .map(str::trim)
        .filter(|p| p.contains("->"))
        .take(MAX_PORTS)
        .map(|p| clip(p, MAX_NAME))
        .collect()
}

/// One label of docker ps's `Labels` column (`k=v,k=v`; a value may itself hold commas, so a key is
/// looked for at the start or after a comma).
fn ps_label(labels: &str, key: &str) -> Option<String> {
    let needle = format!("{key}=");
    let start = if labels.starts_with(&needle) {
        needle.len()
    } else {
        labels.find(&format!(",{needle}"))? + 1 + needle.len()
    };
    let rest = &labels[start..];
    Some(rest.split(',').next().unwrap_or("").to_string())
}

fn apply_stats(k: &mut Container, full_id: &str, stats: &[StatsLine]) {
    let full_id = full_id.to_ascii_lowercase();
    let matches = |s: &&StatsLine| {
        let by_id = |x: &str| x.len() >= 12 && full_id.starts_with(&x.to_ascii_lowercase());
        by_id(&s.id)
            || by_id(&s.container)
            || (!k.name.is_empty() && (s.name == k.name || s.container == k.name))
    };
    let Some(s) = stats.iter().find(matches) else { return };
    k.cpu_pct = parse_percent(&s.cpu_perc);
    (k.mem_used, k.mem_limit) = parse_pair(&s.mem_usage);
    if k.mem_limit == Some(0) {
        k.mem_limit = None; // `0B / 0B`: no reading (a container between two restarts)
    }
    (k.net_rx, k.net_tx) = parse_pair(&s.net_io);
    (k.block_read, k.block_write) = parse_pair(&s.block_io);
}

/// `1.23%` -> 1.23; `--` (no reading) -> `None`.
pub fn parse_percent(s: &str) -> Option<f64> {
    let v: f64 = s.trim().strip_suffix('%')?.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// `21.5MiB / 7.658GiB` -> both in bytes; each side `None` when it is `--` or unreadable.
pub fn parse_pair(s: &str) -> (Option<u64>, Option<u64>) {
    match s.split_once('/') {
        Some((a, b)) => (parse_size(a), parse_size(b)),
        None => (None, None),
    }
}

/// A go-units size: binary (`KiB`, `MiB`, … as `BytesSize` prints memory) or decimal (`kB`, `MB`, …
/// as `HumanSize` prints network and block I/O); `B` alone is bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim() {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        "EB" => 1e18,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "PiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "EiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v = (num * mult).round();
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v as u64)
}

/// Whether an env name looks like it holds a secret (any case, the word anywhere in the name).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// `DB_PASSWORD=x` -> `DB_PASSWORD=***`; an entry of any other name (or without `=`) is unchanged.
pub fn mask_env(entry: &str) -> String {
    match entry.split_once('=') {
        Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
        _ => entry.to_string(),
    }
}

/// [`mask_env`], with the name and the value cut to their bounds.
fn bounded_env(entry: &str) -> String {
    let masked = mask_env(entry);
    let (name, value) = match masked.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (masked.as_str(), None),
    };
    let mut out = clip(name, MAX_NAME);
    if let Some(v) = value {
        out.push('=');
        let mut end = v.len().min(MAX_ENV_VALUE);
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&v[..end]);
    }
    out
}

#[cfg(test)]
mod tests {
    // The agent is a shell script: its tests run it and read what the fake curl recorded (clippy.toml
    // bans spawning and reading files elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const PS: &str = include_str!("../../tests/fixtures/docker/ps.jsonl");
    const INSPECT: &str = include_str!("../../tests/fixtures/docker/inspect.json");
    const STATS: &str = include_str!("../../tests/fixtures/docker/stats.jsonl");
    const VERSION: &str = include_str!("../../tests/fixtures/docker/version.txt");
    const REPORT: &str = include_str!("../../tests/fixtures/docker/report.json");

    fn lines(text: &str) -> serde_json::Value {
        let v: Vec<serde_json::Value> =
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        serde_json::Value::Array(v)
    }

    /// The recorded outputs, wrapped the way the agent wraps them (unmasked: the server masks too).
    fn envelope() -> serde_json::Value {
        serde_json::json!({
            "agent": {"version": "1", "hostname": "docker01", "vmid": 101, "interval_s": 60,
                      "ips": ["10.0.0.5", "fd00::5"], "macs": ["BC:24:11:AA:BB:CC"],
                      "docker_version": VERSION.trim()},
            "ps": lines(PS),
            "inspect": serde_json::from_str::<serde_json::Value>(INSPECT).unwrap(),
            "stats": lines(STATS),
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Report, ParseError> {
        parse_report(&serde_json::to_vec(v).unwrap())
    }

    fn by_name<'a>(r: &'a Report, name: &str) -> &'a Container {
        r.containers.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no container {name}"))
    }

    fn ts(s: &str) -> Option<i64> {
        Some(s.parse::<jiff::Timestamp>().unwrap().as_second())
    }

    #[test]
    fn parses_the_recorded_outputs() {
        let r = parse(&envelope()).unwrap();
        assert_eq!(r.agent.hostname, "docker01");
        assert_eq!(r.agent.vmid, Some(101));
        assert_eq!(r.agent.ips, ["10.0.0.5", "fd00::5"]);
        assert_eq!(r.agent.macs, ["bc:24:11:aa:bb:cc"], "MACs are normalized to lower case");
        assert_eq!(r.agent.docker_version.as_deref(), Some("27.5.1"));
        let names: Vec<&str> = r.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "portainer",
                "watchtower-stopped",
                "watchtower-test",
                "wt-contnet-consumer-1",
                "wt-contnet-producer-1"
            ],
            "sorted by name"
        );

        let p = by_name(&r, "portainer");
        assert_eq!(p.id, "b978af0b858a");
        assert_eq!(p.image, "portainer/portainer:latest");
        assert_eq!((p.state.as_str(), p.health.as_deref()), ("running", Some("unhealthy")));
        assert_eq!(p.restart_count, 0);
        assert_eq!(p.started_at, ts("2019-04-13T22:38:24.498745809Z"));
        assert_eq!(p.exit_code, None, "running: no exit code");
        assert_eq!(p.ports, ["0.0.0.0:9000->9000/tcp"]);
        assert_eq!(
            p.mounts,
            [
                Mount {
                    kind: "volume".into(),
                    source: "/var/lib/docker/volumes/portainer_data/_data".into(),
                    destination: "/data".into(),
                    rw: true
                },
                Mount {
                    kind: "bind".into(),
                    source: "/var/run/docker.sock".into(),
                    destination: "/var/run/docker.sock".into(),
                    rw: true
                },
            ]
        );
        assert_eq!(p.env[0], "TZ=Europe/Berlin");
        assert_eq!(p.cpu_pct, Some(5.2));
        assert_eq!(p.mem_used, Some((21.5 * 1024.0 * 1024.0) as u64));
        assert_eq!(p.mem_limit, Some((7.658 * 1024.0 * 1024.0 * 1024.0_f64).round() as u64));
        assert_eq!((p.net_rx, p.net_tx), (Some(1_200_000), Some(648_000)));
        assert_eq!((p.block_read, p.block_write), (Some(4_100_000), Some(0)));
        assert_eq!(p.compose_project, None);

        let g = by_name(&r, "wt-contnet-producer-1");
        assert_eq!((g.state.as_str(), g.health.as_deref()), ("running", Some("healthy")));
        assert_eq!(g.compose_project.as_deref(), Some("wt-contnet"));
        assert_eq!(
            g.ports,
            [
                "0.0.0.0:8388->8388/tcp",
                "[::]:8388->8388/tcp",
                "0.0.0.0:8388->8388/udp",
                "[::]:8388->8388/udp"
            ]
        );
        assert!(g.env.contains(&"OPENVPN_PASSWORD=***".to_string()), "{:?}", g.env);
        assert!(g.env.contains(&"WIREGUARD_PRIVATE_KEY=***".to_string()));
        assert!(g.env.contains(&"SERVER_COUNTRIES=Sweden".to_string()));
        assert!(g.env.iter().all(|e| !e.contains("hunter2") && !e.contains("wOEI9")), "no secret survives");
        assert_eq!(g.cpu_pct, Some(4.92));
        assert_eq!((g.block_read, g.block_write), (Some(26_200_000), Some(8_190)));

        let n = by_name(&r, "wt-contnet-consumer-1");
        assert_eq!((n.state.as_str(), n.health.as_deref()), ("running", None), "no healthcheck");
        assert_eq!(n.compose_project.as_deref(), Some("wt-contnet"));
        assert!(n.ports.is_empty() && n.mounts.is_empty());
        assert_eq!(n.mem_used, Some((3.824 * 1024.0 * 1024.0_f64).round() as u64));

        let t = by_name(&r, "watchtower-test");
        assert_eq!((t.state.as_str(), t.restart_count, t.exit_code), ("restarting", 7, Some(1)));
        assert_eq!((t.cpu_pct, t.mem_used, t.mem_limit), (Some(0.0), Some(0), None), "0B / 0B: no limit");

        let s = by_name(&r, "watchtower-stopped");
        assert_eq!((s.state.as_str(), s.exit_code), ("exited", Some(1)));
        assert_eq!(s.finished_at, ts("2019-04-10T19:52:14.265091583Z"));
        assert_eq!(s.cpu_pct, None, "not in docker stats: no reading");
        assert_eq!(s.mounts.len(), 1);
    }

    #[test]
    fn the_agents_print_output_parses_to_the_same_containers() {
        // tests/fixtures/docker/report.json is `src/agents/docker.sh --print` over the fake docker
        // beside it (README.md there says how): masked by the agent already, and masked again here.
        let from_agent = parse_report(REPORT.as_bytes()).unwrap();
        let direct = parse(&envelope()).unwrap();
        assert_eq!(from_agent.containers, direct.containers);
        assert_eq!(from_agent.agent, direct.agent);
        assert!(!REPORT.contains("hunter2"), "the agent masked the value with an escaped quote in it");
        assert!(REPORT.contains(r#""OPENVPN_PASSWORD=***""#));
    }

    #[test]
    fn a_container_only_ps_saw_is_kept() {
        let mut v = envelope();
        // The stopped one was removed between `ps` and `inspect`.
        v["inspect"].as_array_mut().unwrap().retain(|c| c["Name"] != "/watchtower-stopped");
        v["inspect"].as_array_mut().unwrap().retain(|c| c["Name"] != "/portainer");
        let r = parse(&v).unwrap();
        assert_eq!(r.containers.len(), 5);
        let s = by_name(&r, "watchtower-stopped");
        assert_eq!((s.id.as_str(), s.state.as_str(), s.exit_code), ("c1a3e2d0f4b5", "exited", Some(1)));
        let p = by_name(&r, "portainer");
        assert_eq!((p.state.as_str(), p.health.as_deref()), ("running", Some("unhealthy")));
        assert_eq!(p.ports, ["0.0.0.0:9000->9000/tcp"]);
        assert_eq!(p.cpu_pct, Some(5.2), "stats still joined by id");
        assert!(p.env.is_empty() && p.mounts.is_empty());
    }

    #[test]
    fn stats_match_by_short_or_full_id() {
        let mut v = envelope();
        for s in v["stats"].as_array_mut().unwrap() {
            s["ID"] = serde_json::json!(""); // docker stats without --no-trunc
        }
        let r = parse(&v).unwrap();
        assert_eq!(by_name(&r, "portainer").cpu_pct, Some(5.2));
        let mut v = envelope();
        v["stats"][0]["Container"] = serde_json::json!("b978"); // too short to trust
        v["stats"][0]["ID"] = serde_json::json!("");
        v["stats"][0]["Name"] = serde_json::json!("");
        assert_eq!(by_name(&parse(&v).unwrap(), "portainer").cpu_pct, None);
    }

    #[test]
    fn an_empty_docker_host() {
        let v = serde_json::json!({
            "agent": {"version": "1", "hostname": "h", "vmid": null, "interval_s": 60, "ips": [], "macs": [],
                      "docker_version": null},
            "ps": [], "inspect": [], "stats": []});
        let r = parse(&v).unwrap();
        assert!(r.containers.is_empty());
        assert_eq!((r.agent.vmid, r.agent.docker_version), (None, None));
    }

    #[test]
    fn a_malformed_report_names_the_path() {
        let mut v = envelope();
        v["inspect"][2]["RestartCount"] = serde_json::json!("x");
        let e = parse(&v).unwrap_err();
        assert_eq!(e.path, "inspect[2].RestartCount");
        assert_eq!(e.to_string(), r#"inspect[2].RestartCount: invalid type: string "x", expected u64"#);

        let mut v = envelope();
        v["inspect"][1]["State"]["Health"]["Status"] = serde_json::json!(3);
        assert_eq!(parse(&v).unwrap_err().path, "inspect[1].State.Health.Status");

        let mut v = envelope();
        v["ps"][0]["ID"] = serde_json::json!("nope");
        assert_eq!(parse(&v).unwrap_err().path, "ps[0].ID");

        let mut v = envelope();
        v["inspect"][3]["Id"] = serde_json::json!("x/../y");
        assert_eq!(parse(&v).unwrap_err().path, "inspect[3].Id");

        let mut v = envelope();
        v["agent"]["ips"][1] = serde_json::json!("10.0.0.256");
        assert_eq!(parse(&v).unwrap_err().path, "agent.ips[1]");
        v["agent"]["ips"][1] = serde_json::json!("10.0.0.6");
        v["agent"]["macs"][0] = serde_json::json!("bc:24:11");
        assert_eq!(parse(&v).unwrap_err().path, "agent.macs[0]");

        let e = parse_report(b"{\"agent\": ").unwrap_err();
        assert!(e.message.contains("EOF"), "{e}");
        assert!(parse_report(b"[]").is_err());
        let mut v = envelope();
        v.as_object_mut().unwrap().remove("stats");
        assert!(parse(&v).unwrap_err().message.contains("missing field `stats`"));
    }

    #[test]
    fn unknown_fields_are_refused_in_the_envelope_not_in_dockers_objects() {
        let mut v = envelope();
        v["agent"]["token"] = serde_json::json!("pxw_x");
        let e = parse(&v).unwrap_err();
        assert!(e.path.starts_with("agent"), "{e}");
        assert!(e.message.contains("unknown field `token`"), "{e}");

        let mut v = envelope();
        v["extra"] = serde_json::json!(1);
        assert!(parse(&v).unwrap_err().message.contains("unknown field `extra`"));

        let mut v = envelope();
        v["inspect"][0]["SomeFieldOfDocker30"] = serde_json::json!({"x": 1});
        v["ps"][0]["Future"] = serde_json::json!("y");
        v["stats"][0]["Future"] = serde_json::json!("z");
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn bounds_are_enforced() {
        let mut v = envelope();
        let one = v["inspect"][0].clone();
        v["inspect"] = serde_json::Value::Array(vec![one; MAX_CONTAINERS + 1]);
        let e = parse(&v).unwrap_err();
        assert_eq!(e.path, "inspect");
        assert!(e.message.contains("at most 500"), "{e}");

        let mut v = envelope();
        v["agent"]["interval_s"] = serde_json::json!(5);
        assert_eq!(parse(&v).unwrap_err().path, "agent.interval_s");
        v["agent"]["interval_s"] = serde_json::json!(86401);
        assert_eq!(parse(&v).unwrap_err().path, "agent.interval_s");
        v["agent"]["interval_s"] = serde_json::json!(86400);
        assert!(parse(&v).is_ok());

        let mut v = envelope();
        v["agent"]["hostname"] = serde_json::json!("h".repeat(254));
        assert_eq!(parse(&v).unwrap_err().path, "agent.hostname");

        let mut v = envelope();
        v["agent"]["ips"] = serde_json::json!(vec!["10.0.0.1"; 65]);
        assert_eq!(parse(&v).unwrap_err().path, "agent.ips");

        // Long values are cut, many entries dropped, duplicates of a container ignored.
        let mut v = envelope();
        let mut env: Vec<String> = (0..300).map(|i| format!("V{i}=x")).collect();
        env[0] = format!("BIG={}", "é".repeat(5000));
        v["inspect"][0]["Config"]["Env"] = serde_json::json!(env);
        v["inspect"][0]["Name"] = serde_json::json!(format!("/{}", "n".repeat(1000)));
        let dup = v["inspect"][0].clone();
        v["inspect"].as_array_mut().unwrap().push(dup);
        let r = parse(&v).unwrap();
        assert_eq!(r.containers.len(), 5);
        let c = r.containers.iter().find(|c| c.id == "b978af0b858a").unwrap();
        assert_eq!(c.env.len(), MAX_ENV);
        assert_eq!(c.env[0].len(), "BIG=".len() + MAX_ENV_VALUE);
        assert_eq!(c.name.len(), MAX_NAME);
    }

    #[test]
    fn secret_names() {
        for (name, secret) in [
            ("POSTGRES_PASSWORD", true),
            ("MYSQL_ROOT_PASSWORD", true),
            ("db_passwd", true),
            ("Passphrase", true),
            ("JWT_SECRET", true),
            ("GITHUB_TOKEN", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("api_key", true),
            ("APIKEY", true),
            ("GOOGLE_APPLICATION_CREDENTIALS", true),
            ("SSH_PRIVATE_KEY_FILE", true),
            ("BASIC_AUTH", true),
            ("PASSWORD_SALT", true),
            ("SENTRY_DSN", true),
            ("DB_CONN", true),
            ("CONNECTION_STRING", true),
            ("TZ", false),
            ("PATH", false),
            ("HOME", false),
            ("NGINX_VERSION", false),
            ("POSTGRES_USER", false),
            ("PUID", false),
            ("", false),
        ] {
            assert_eq!(is_secret_name(name), secret, "{name}");
        }
        assert_eq!(mask_env("DB_PASSWORD=x"), "DB_PASSWORD=***");
        assert_eq!(mask_env("db_password=a=b"), "db_password=***");
        assert_eq!(mask_env("TOKEN="), "TOKEN=***");
        assert_eq!(mask_env("TZ=Europe/Berlin"), "TZ=Europe/Berlin");
        assert_eq!(mask_env("SECRET"), "SECRET", "no value, nothing to hide");
    }

    #[test]
    fn stats_units() {
        for (text, want) in [
            ("0B", Some(0)),
            ("648B", Some(648)),
            ("1.2kB", Some(1_200)),
            ("13.3kB", Some(13_300)),
            ("4.1MB", Some(4_100_000)),
            ("3.34GB", Some(3_340_000_000)),
            ("1.5TB", Some(1_500_000_000_000)),
            ("196KiB", Some(196 * 1024)),
            ("21.5MiB", Some(22_544_384)),
            ("7.66GiB", Some((7.66 * 1073741824.0_f64).round() as u64)),
            ("1.045 GiB", Some((1.045 * 1073741824.0_f64).round() as u64)),
            ("--", None),
            ("", None),
            ("12", None),
            ("1.2XB", None),
            ("-1MB", None),
        ] {
            assert_eq!(parse_size(text), want, "{text:?}");
        }
        assert_eq!(parse_pair("21.5MiB / 7.66GiB").0, Some(22_544_384));
        assert_eq!(parse_pair("1.2kB / 648B"), (Some(1_200), Some(648)));
        assert_eq!(parse_pair("0B / 4.1MB"), (Some(0), Some(4_100_000)));
        assert_eq!(parse_pair("115.2 MiB/1.045 GiB").0, Some((115.2 * 1048576.0_f64).round() as u64));
        assert_eq!(parse_pair("-- / --"), (None, None));
        assert_eq!(parse_pair("--"), (None, None));
        assert_eq!(parse_percent("1.23%"), Some(1.23));
        assert_eq!(parse_percent("0.00%"), Some(0.0));
        assert_eq!(parse_percent("--"), None);
        assert_eq!(parse_percent("NaN%"), None);
    }

    #[test]
    fn ps_status_text_and_labels() {
        assert_eq!(state_from_status("Up 2 hours (healthy)"), "running");
        assert_eq!(state_from_status("Up 5 seconds (Paused)"), "paused");
        assert_eq!(state_from_status("Restarting (1) 3 seconds ago"), "restarting");
        assert_eq!(state_from_status("Exited (137) 5 minutes ago"), "exited");
        assert_eq!(state_from_status("Created"), "created");
        let line: PsLine = serde_json::from_str(
            r#"{"ID":"0123456789ab","Names":"web","Status":"Up 3 minutes (health: starting)",
                "Labels":"a=b,com.docker.compose.project=shop,x=1","Ports":"80/tcp, 0.0.0.0:8080->80/tcp"}"#,
        )
        .unwrap();
        let c = from_ps(&line);
        assert_eq!((c.state.as_str(), c.health.as_deref()), ("running", Some("starting")));
        assert_eq!(c.compose_project.as_deref(), Some("shop"));
        assert_eq!(c.ports, ["0.0.0.0:8080->80/tcp"]);
        assert_eq!(ps_label("com.docker.compose.project.working_dir=/x", COMPOSE_PROJECT), None);
        assert_eq!(unix_time("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_time("2020-09-02T14:30:27.524279687+02:00"), Some(1_599_049_827));
    }
}
