//! Typed configuration. Layers, later wins: built-in defaults <- the config file
//! (`/etc/proxwatch/config.toml`, or `--config`) <- `PROXWATCH_<SECTION>_<KEY>` environment variables
//! <- command-line flags. Unknown keys in the file are an error naming the key, the file and the line;
//! an unknown `PROXWATCH_*` variable is warned about (a typo must not pass silently).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PATH: &str = "/etc/proxwatch/config.toml";

/// Environment variables that are not config keys but are still ours.
const OTHER_ENV: &[&str] = &[
    "PROXWATCH_CONFIG",
    "PROXWATCH_LOG",
    "PROXWATCH_SKIP_WEB_BUILD",
    "PROXWATCH_BIN",
    "PROXWATCH_ALLOW_MISSING_PEERS",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub sampler: SamplerCfg,
    pub history: HistoryCfg,
    pub tools: Tools,
    pub log: Log,
    pub auth: AuthCfg,
    pub terminal: TerminalCfg,
    pub tls: TlsCfg,
    pub network: NetworkCfg,
    pub hardware: HardwareCfg,
    pub nut: NutCfg,
    pub logs: LogsCfg,
    pub health: HealthCfg,
    pub notifications: NotifyCfg,
    pub metrics: MetricsCfg,
    pub monitors: MonitorsCfg,
    pub fleet: FleetCfg,
    pub agents: AgentsCfg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkCfg {
    /// Interfaces, bridges and bonds are re-read this often, seconds.
    pub interval_s: u64,
    /// The gateway is probed (ICMP echo) this often, seconds; 0 turns the probe off.
    pub probe_interval_s: u64,
    pub probe_timeout_ms: u64,
    /// Address to probe instead of the default gateway ("" = the default gateway).
    pub probe_target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardwareCfg {
    /// hwmon sensors and GPUs are read this often, seconds.
    pub interval_s: u64,
    /// IPMI: "auto" (use /dev/ipmi0 when present), "off".
    pub ipmi: String,
    /// IPMI sensors and the SEL are read this often, seconds.
    pub ipmi_interval_s: u64,
    pub ipmi_timeout_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NutCfg {
    /// upsd servers (`host:port`); every UPS a server lists is monitored. Empty turns UPS monitoring off.
    pub servers: Vec<String>,
    /// Optional upsd login (only needed when upsd restricts reads).
    pub username: String,
    pub password: String,
    /// Poll interval, seconds.
    pub interval_s: u64,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorsCfg {
    /// Run the service monitors (defined on the Services page; docs/monitors.md).
    pub enabled: bool,
    /// Monitors one host may define at most.
    pub max: usize,
    /// Checks in flight at once at most.
    pub in_flight: usize,
}

impl Default for MonitorsCfg {
    fn default() -> Self {
        MonitorsCfg { enabled: true, max: 500, in_flight: 16 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetCfg {
    /// Poll the peers (added on Settings → Fleet; docs/fleet.md).
    pub enabled: bool,
    /// Peers this appliance may list at most.
    pub max: usize,
    /// Each peer's summary is fetched this often, seconds.
    pub interval_s: u64,
    /// One poll (connect, TLS, request, answer) is bounded by this, seconds.
    pub timeout_s: u64,
    /// Polls in flight at once at most.
    pub in_flight: usize,
}

impl Default for FleetCfg {
    fn default() -> Self {
        FleetCfg { enabled: true, max: 32, interval_s: 10, timeout_s: 5, in_flight: 8 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsCfg {
    /// Docker push agents this appliance accepts at most (each holds one ingest token).
    pub max: usize,
    /// The largest report accepted, bytes.
    pub max_report: usize,
    /// Container state changes kept per agent (the newest).
    pub history: usize,
}

impl Default for AgentsCfg {
    fn default() -> Self {
        AgentsCfg { max: 64, max_report: 4 << 20, history: 500 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsCfg {
    /// Largest page of journal entries one request may ask for.
    pub max_page: usize,
    /// Widest time range one journal query may span, days.
    pub max_range_days: u64,
    /// Concurrent journal reads (queries and live follows together).
    pub max_readers: usize,
    /// A journal read that takes longer is killed, seconds.
    pub query_timeout_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCfg {
    /// The full health cycle runs this often, seconds.
    pub interval_s: u64,
    /// After start, transient service and guest states do not alert for this long, seconds.
    pub startup_grace_s: u64,
    /// A filesystem whose statvfs does not answer within this is stale (a dead NFS/CIFS server), ms.
    pub mount_timeout_ms: u64,
    /// Host filesystems checked at most (after pseudo filesystems and bind mounts are left out).
    pub max_mounts: usize,
}

impl Default for NetworkCfg {
    fn default() -> Self {
        NetworkCfg {
            interval_s: 30,
            probe_interval_s: 60,
            probe_timeout_ms: 2000,
            probe_target: String::new(),
        }
    }
}
impl Default for HardwareCfg {
    fn default() -> Self {
        HardwareCfg { interval_s: 5, ipmi: "auto".into(), ipmi_interval_s: 120, ipmi_timeout_s: 10 }
    }
}
impl Default for NutCfg {
    fn default() -> Self {
        NutCfg {
            servers: vec!["127.0.0.1:3493".into()],
            username: String::new(),
            password: String::new(),
            interval_s: 5,
            timeout_ms: 3000,
        }
    }
}
impl Default for LogsCfg {
    fn default() -> Self {
        LogsCfg { max_page: 500, max_range_days: 31, max_readers: 4, query_timeout_s: 10 }
    }
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyCfg {
    /// Run the notification engine (channels, routing and the history are set in the UI).
    pub enabled: bool,
    /// One send to a channel (connect, TLS, request, answer) is bounded by this, seconds.
    pub send_timeout_s: u64,
    /// A plain-HTTP loopback listener for the PVE webhook target when the main port serves HTTPS
    /// (PVE checks certificates against the system store, so it cannot post to a self-signed
    /// proxwatch); "" turns it off. Only `/api/notifications/pve/webhook` is served there.
    pub pve_listen: String,
    /// The largest PVE webhook body accepted, bytes (a vzdump message with its log can be ~1 MiB).
    pub pve_max_body: usize,
}

impl Default for NotifyCfg {
    fn default() -> Self {
        NotifyCfg {
            enabled: true,
            send_timeout_s: 15,
            pve_listen: "127.0.0.1:8009".into(),
            pve_max_body: 2 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsCfg {
    /// Serve the Prometheus exposition at `/metrics`.
    pub enabled: bool,
    /// Client addresses (CIDRs) that may scrape without a token; everyone else needs a read-scoped API
    /// token (`Authorization: Bearer …`) or a session.
    pub public: Vec<String>,
}

impl Default for MetricsCfg {
    fn default() -> Self {
        MetricsCfg { enabled: true, public: Vec::new() }
    }
}

impl Default for HealthCfg {
    fn default() -> Self {
        HealthCfg { interval_s: 300, startup_grace_s: 300, mount_timeout_ms: 2000, max_mounts: 64 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsCfg {
    /// Serve HTTPS instead of HTTP.
    pub enabled: bool,
    /// PEM certificate chain; empty uses Proxmox's (`pveproxy-ssl.pem`, then `pve-ssl.pem`).
    pub cert: String,
    /// PEM private key matching `cert`.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthCfg {
    /// A browser session ends after this many minutes without a request.
    pub session_idle_minutes: u64,
    /// ... and at the latest this many hours after login.
    pub session_lifetime_hours: u64,
    /// Login and setup attempts allowed per client IP and per user name within `attempt_window_s`.
    pub max_attempts: u32,
    pub attempt_window_s: u64,
    /// The auth log fail2ban reads (`authentication failure; rhost=<ip> user=<name>`).
    pub auth_log: PathBuf,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` is believed. Empty: none.
    pub trusted_proxies: Vec<String>,
    /// The fail2ban jail whose bans are enforced ("" disables the check).
    pub fail2ban_jail: String,
    /// The jail's ban list is re-read this often while failures are being logged (every 10 minutes
    /// otherwise), seconds.
    pub fail2ban_interval_s: u64,
    /// First-run setup: wrong codes allowed from all addresses together within the window (each
    /// address also has `max_attempts`).
    pub setup_max_attempts_total: u32,
    /// Concurrent password checks (argon2, 64 MiB each); one is kept for clients known to the user.
    pub max_password_checks: usize,
    /// A password check waits at most this long for its turn, then answers 503, milliseconds.
    pub password_queue_ms: u64,
    /// Failed API-token attempts allowed per client IP within `token_failure_window_s` (then 429).
    pub max_token_failures: u32,
    pub token_failure_window_s: u64,
    /// The auth log is rotated to `<auth_log>.1` when it grows past this many bytes.
    pub auth_log_max_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalCfg {
    pub enabled: bool,
    /// The program (and arguments) run in the PTY.
    pub command: Vec<String>,
    pub max_sessions: usize,
    pub idle_timeout_minutes: u64,
    /// Largest websocket message accepted; a bigger one closes the session.
    pub max_frame_bytes: usize,
    /// Seconds a terminal ticket stays valid (single use).
    pub ticket_ttl_s: u64,
    /// An open terminal re-checks its login (session alive, user enabled and still an admin) this
    /// often, seconds; revocations through proxwatch itself close it at once.
    pub recheck_s: u64,
    /// "auto": under systemd, each session is a transient unit started with `systemd-run --pty`,
    /// outside proxwatch's own sandbox; "always"; "never" (a child of proxwatch).
    pub outside_sandbox: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Address to listen on; `::` is dual-stack (falls back to 0.0.0.0 where IPv6 is off).
    pub bind: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Concurrent live streams (`/api/live`, `/api/logs/stream`); more are refused with 503.
    pub max_live_clients: usize,
    /// Live streams one user, and one client address, may hold at once.
    pub max_live_per_user: usize,
    pub max_live_per_ip: usize,
    /// Names (`pve.example.com`, `*.example.com`) and addresses this proxwatch answers to besides
    /// loopback and the machine's own names and addresses; `["*"]` turns the check off.
    pub allowed_hosts: Vec<String>,
    /// Seconds a graceful stop may take before the process exits anyway.
    pub shutdown_timeout_s: u64,
    /// URL prefix when served behind a reverse proxy at a sub-path, e.g. "/proxwatch/".
    pub base_path: String,
    /// A request head must be complete this long after its first byte, seconds.
    pub header_timeout_s: u64,
    /// A request body must be complete this long after its head, seconds.
    pub body_timeout_s: u64,
    /// A connection with no request in flight is closed after this long, seconds.
    pub idle_timeout_s: u64,
    /// Open connections at most, in total and per client address (trusted proxies count only in
    /// the total).
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplerCfg {
    pub interval_ms: u64,
    /// How often processes are scanned while someone is looking at them.
    pub processes_interval_s: u64,
    /// Processes are scanned only if the API asked for them within this many seconds.
    pub processes_demand_s: u64,
    /// How often the host identity (PVE version, kernel) is refreshed.
    pub identity_refresh_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryCfg {
    /// Full-resolution history kept in memory.
    pub live_minutes: u64,
    pub retain_1m_days: u64,
    pub retain_10m_days: u64,
    pub retain_1h_days: u64,
    /// Rollups are written in one transaction at most this often.
    pub flush_interval_s: u64,
    pub retention_interval_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tools {
    /// Default timeout for host tools, seconds.
    pub timeout_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// A `RUST_LOG`-style filter; `RUST_LOG` or `PROXWATCH_LOG` in the environment win.
    pub level: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            bind: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            port: 8008,
            data_dir: PathBuf::from("/var/lib/proxwatch"),
            max_live_clients: 64,
            max_live_per_user: 16,
            max_live_per_ip: 16,
            allowed_hosts: Vec::new(),
            shutdown_timeout_s: 5,
            base_path: "/".into(),
            header_timeout_s: 10,
            body_timeout_s: 30,
            idle_timeout_s: 60,
            max_connections: 512,
            max_connections_per_ip: 32,
        }
    }
}
impl Default for SamplerCfg {
    fn default() -> Self {
        SamplerCfg {
            interval_ms: 1000,
            processes_interval_s: 5,
            processes_demand_s: 120,
            identity_refresh_s: 3600,
        }
    }
}
impl Default for HistoryCfg {
    fn default() -> Self {
        HistoryCfg {
            live_minutes: 10,
            retain_1m_days: 7,
            retain_10m_days: 90,
            retain_1h_days: 730,
            flush_interval_s: 300,
            retention_interval_s: 3600,
        }
    }
}
impl Default for AuthCfg {
    fn default() -> Self {
        AuthCfg {
            session_idle_minutes: 120,
            session_lifetime_hours: 24,
            max_attempts: 5,
            attempt_window_s: 300,
            auth_log: PathBuf::from("/var/log/proxwatch/auth.log"),
            trusted_proxies: Vec::new(),
            fail2ban_jail: "proxwatch".into(),
            fail2ban_interval_s: 60,
            setup_max_attempts_total: 100,
            max_password_checks: 2,
            password_queue_ms: 1000,
            max_token_failures: 10,
            token_failure_window_s: 60,
            auth_log_max_bytes: 10 * 1024 * 1024,
        }
    }
}
impl Default for TerminalCfg {
    fn default() -> Self {
        TerminalCfg {
            enabled: true,
            command: vec!["/bin/bash".into(), "-l".into()],
            max_sessions: 4,
            idle_timeout_minutes: 30,
            max_frame_bytes: 64 * 1024,
            ticket_ttl_s: 30,
            recheck_s: 10,
            outside_sandbox: "auto".into(),
        }
    }
}
impl Default for Tools {
    fn default() -> Self {
        Tools { timeout_s: 10 }
    }
}
impl Default for Log {
    fn default() -> Self {
        Log { level: "info".into() }
    }
}

/// The default configuration, commented; `proxwatch print-config` prints it.
pub const DEFAULT_TOML: &str = r#"# proxwatch configuration (/etc/proxwatch/config.toml).
# Every key is optional; the values below are the defaults. Any key can also be set from the
# environment as PROXWATCH_<SECTION>_<KEY>, e.g. PROXWATCH_SERVER_PORT=8009.

[server]
# Address to listen on. "::" listens on IPv6 and IPv4 (falls back to 0.0.0.0 without IPv6).
bind = "::"
# TCP port of the dashboard and the API.
port = 8008
# Where the SQLite database and other state live.
data_dir = "/var/lib/proxwatch"
# Concurrent live streams (/api/live, /api/logs/stream); more are refused with 503.
max_live_clients = 64
# ... of which one user, and one client address, may hold at most:
max_live_per_user = 16
max_live_per_ip = 16
# Host names this proxwatch answers to, besides loopback and the machine's own names and addresses
# (hostname, /etc/hosts, interface addresses). Requests for any other Host are refused (DNS
# rebinding). Add the names a reverse proxy or NAT publishes it under, e.g. ["pve.example.com",
# "*.lab.example"]; ["*"] turns the check off.
allowed_hosts = []
# Seconds a graceful stop (SIGTERM) may take.
shutdown_timeout_s = 5
# Serve under a sub-path when a reverse proxy publishes proxwatch at e.g. https://host/proxwatch/
# (then set "/proxwatch/"; the proxy forwards the path unchanged).
base_path = "/"
# A request head must arrive within header_timeout_s of its first byte, a body within body_timeout_s
# of its head; a connection with no request in flight closes after idle_timeout_s (seconds).
header_timeout_s = 10
body_timeout_s = 30
idle_timeout_s = 60
# Open connections at most, in total and per client address (trusted_proxies count only in the
# total); more are answered 503.
max_connections = 512
max_connections_per_ip = 32

[sampler]
# Vitals sampling interval in milliseconds.
interval_ms = 1000
# Top processes are scanned this often, and only while someone asked for them in the last
# processes_demand_s seconds.
processes_interval_s = 5
processes_demand_s = 120
# How often the host identity (PVE version, kernel) is re-read, seconds.
identity_refresh_s = 3600

[history]
# Full-resolution vitals kept in memory, minutes.
live_minutes = 10
# Rollups (avg/min/max) kept in SQLite: 1-minute for 7 days, 10-minute for 90 days, 1-hour for 2 years.
retain_1m_days = 7
retain_10m_days = 90
retain_1h_days = 730
# Rollups are written in one transaction this often, seconds (each write dirties a few pages
# whatever it holds, so fewer writes mean fewer bytes; a graceful stop writes what is pending, and
# reads merge the minutes not written yet).
flush_interval_s = 300
# How often old rollups are deleted, seconds.
retention_interval_s = 3600

[tools]
# Timeout for host tools (pvesh, smartctl, zpool, ...), seconds.
timeout_s = 10

[log]
# Log filter, RUST_LOG syntax (e.g. "info", "proxwatch=debug"). RUST_LOG or PROXWATCH_LOG win.
level = "info"

[auth]
# A browser session ends after this many idle minutes, and at the latest this many hours after login.
session_idle_minutes = 120
session_lifetime_hours = 24
# Login and setup attempts per client IP and per user name within the window (then 429).
max_attempts = 5
attempt_window_s = 300
# Auth events in a format fail2ban matches (see packaging/fail2ban/).
auth_log = "/var/log/proxwatch/auth.log"
# Reverse proxies whose X-Forwarded-For is believed, as CIDRs, e.g. ["127.0.0.1/32", "10.0.0.0/8"].
trusted_proxies = []
# Requests from IPs banned in this fail2ban jail are refused ("" turns the check off).
fail2ban_jail = "proxwatch"
# The jail's ban list is re-read this often while failures are logged (else every 10 minutes).
fail2ban_interval_s = 60
# Wrong first-run setup codes allowed from all addresses together within the window (each address
# also has max_attempts). If it trips, wait for the window or restart proxwatch.
setup_max_attempts_total = 100
# Concurrent password checks (argon2id, 64 MiB each); one of them is kept for clients that have
# logged in before, so a login flood cannot lock the admin out. Waits longer than
# password_queue_ms answer 503.
max_password_checks = 2
password_queue_ms = 1000
# Failed API-token attempts per client IP within the window (then 429).
max_token_failures = 10
token_failure_window_s = 60
# The auth log is rotated to auth.log.1 past this size (logrotate may rotate it earlier).
auth_log_max_bytes = 10485760

[terminal]
# The browser root terminal (admins only).
enabled = true
command = ["/bin/bash", "-l"]
max_sessions = 4
idle_timeout_minutes = 30
# Largest websocket message accepted; a bigger one closes the session.
max_frame_bytes = 65536
# Seconds a terminal ticket stays valid (single use).
ticket_ttl_s = 30
# An open terminal re-checks its login this often; logout, revocation, password change, disabling,
# demoting or deleting the user close it at once.
recheck_s = 10
# Where the shell runs. "auto": when proxwatch runs as a systemd service (whose sandbox makes /etc
# read-only and drops capabilities), each session is a transient unit of its own started with
# `systemd-run --pty` (proxwatch-terminal-*.service), a full root shell; elsewhere a child of
# proxwatch. "always" insists on systemd-run; "never" always starts a child of proxwatch.
outside_sandbox = "auto"

[tls]
# Serve HTTPS (then cookies are Secure and HSTS is sent). The certificate is re-read every minute.
enabled = false
# Empty: use the Proxmox certificate, /etc/pve/local/pveproxy-ssl.pem (+ .key), else pve-ssl.pem.
cert = ""
key = ""

[network]
# Interfaces, bridges, bonds and error counters are re-read this often, seconds (traffic rates are
# the 1 s sampler's).
interval_s = 30
# The default gateway is probed with ICMP echo this often (0 turns it off); latency and loss are kept.
probe_interval_s = 60
probe_timeout_ms = 2000
# Probe this address instead of the default gateway ("" = the default gateway).
probe_target = ""

[hardware]
# hwmon sensors (temperatures, fans, voltages) and GPUs are read this often, seconds.
interval_s = 5
# IPMI sensors and event log: "auto" (when /dev/ipmi0 exists) or "off". Read every ipmi_interval_s
# (two ipmitool runs, each a process and a slow round trip to the BMC).
ipmi = "auto"
ipmi_interval_s = 120
ipmi_timeout_s = 10

[nut]
# NUT upsd servers (host:port); every UPS each one lists is monitored. [] turns UPS monitoring off.
servers = ["127.0.0.1:3493"]
# Only needed when upsd restricts reads.
username = ""
password = ""
interval_s = 5
timeout_ms = 3000

[logs]
# Largest page of journal entries one request may ask for.
max_page = 500
# Widest time range one journal query may span, days.
max_range_days = 31
# Concurrent journal readers (queries and live follows together).
max_readers = 4
# A journal read that takes longer is killed, seconds.
query_timeout_s = 10

[health]
# The full health cycle runs this often, seconds (fast rules run on every sample).
interval_s = 300
# After start, transient service and guest states do not alert for this long, seconds.
startup_grace_s = 300
# A filesystem whose statvfs does not answer within this is stale (dead NFS/CIFS server), ms.
mount_timeout_ms = 2000
# Host filesystems checked at most (pseudo filesystems and bind mounts are left out first).
max_mounts = 64

[metrics]
# Prometheus exposition at /metrics (docs/metrics.md). Scrapers send a read-scoped API token
# (`authorization: { credentials: … }` in the scrape config).
enabled = true
# Client addresses (CIDRs) that may scrape without a token, e.g. ["10.0.0.5/32"].
public = []

[notifications]
# Run the notification engine (channels, routing and history are set on the Settings page;
# docs/notifications.md).
enabled = true
# One send to a channel (connect, TLS, request, answer) is bounded by this, seconds.
send_timeout_s = 15
# A plain-HTTP loopback listener for Proxmox VE's webhook target when the main port serves HTTPS
# (PVE checks certificates against the system store, so it cannot post to a self-signed proxwatch);
# only /api/notifications/pve/webhook is served there. "" turns it off.
pve_listen = "127.0.0.1:8009"
# The largest PVE webhook body accepted, bytes (a vzdump message with its log can be ~1 MiB).
pve_max_body = 2097152

[monitors]
# Run the service monitors (HTTP(S), TCP, ping, DNS and guest-agent checks defined on the Services
# page; docs/monitors.md).
enabled = true
# Monitors this host may define at most.
max = 500
# Checks in flight at once at most (each is bounded by its own timeout).
in_flight = 16

[fleet]
# Poll the other proxwatch appliances added on Settings -> Fleet (docs/fleet.md).
enabled = true
# Peers this appliance may list at most.
max = 32
# Each peer's summary is fetched this often, seconds; a peer is stale after three missed intervals.
interval_s = 10
# One poll (connect, TLS, request, answer) is bounded by this, seconds.
timeout_s = 5
# Polls in flight at once at most.
in_flight = 8

[agents]
# Docker push agents accepted at most (each has its own ingest token; docs/docker-agent.md).
max = 64
# The largest report accepted, bytes.
max_report = 4194304
# Container state changes kept per agent (the newest).
history = 500
"#;

/// Command-line overrides (the last layer).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<IpAddr>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the layered configuration. `path` is `--config`: when given, the file must exist; the
    /// default path is optional. Returns the config and warnings to log once tracing is up.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> anyhow::Result<(Config, Vec<String>)> {
        let loaded = Layers::read(path, env, overrides)?.compose(&BTreeMap::new())?;
        Ok((loaded.config, loaded.warnings))
    }

    /// Parses TOML text; errors name the key and the line (toml's span report).
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.fleet.max > 256 {
            bail!("fleet.max must be at most 256 (got {})", self.fleet.max);
        }
        if !(2..=3600).contains(&self.fleet.interval_s) {
            bail!("fleet.interval_s must be between 2 and 3600 (got {})", self.fleet.interval_s);
        }
        if self.fleet.timeout_s == 0 || self.fleet.timeout_s > self.fleet.interval_s.max(2) * 3 {
            bail!("fleet.timeout_s must be between 1 and three intervals (got {})", self.fleet.timeout_s);
        }
        if self.fleet.in_flight == 0 || self.fleet.in_flight > 64 {
            bail!("fleet.in_flight must be between 1 and 64 (got {})", self.fleet.in_flight);
        }
        if self.agents.max > 1024 {
            bail!("agents.max must be at most 1024 (got {})", self.agents.max);
        }
        if !(64 << 10..=64 << 20).contains(&self.agents.max_report) {
            bail!("agents.max_report must be between 64 KiB and 64 MiB (got {})", self.agents.max_report);
        }
        if self.agents.history == 0 || self.agents.history > 100_000 {
            bail!("agents.history must be between 1 and 100000 (got {})", self.agents.history);
        }
        if self.monitors.in_flight == 0 || self.monitors.in_flight > 256 {
            bail!("monitors.in_flight must be between 1 and 256 (got {})", self.monitors.in_flight);
        }
        if self.monitors.max > 10_000 {
            bail!("monitors.max must be at most 10000 (got {})", self.monitors.max);
        }
        if self.sampler.interval_ms < 100 {
            bail!("sampler.interval_ms must be at least 100 (got {})", self.sampler.interval_ms);
        }
        if self.history.flush_interval_s == 0 || self.history.retention_interval_s == 0 {
            bail!("history.flush_interval_s and history.retention_interval_s must be positive");
        }
        if self.history.live_minutes == 0 || self.history.live_minutes > 120 {
            bail!("history.live_minutes must be between 1 and 120 (got {})", self.history.live_minutes);
        }
        for h in &self.server.allowed_hosts {
            if !crate::model::addr::valid_pattern(h) {
                bail!("server.allowed_hosts: {h:?} is not a host name, *.domain, address or \"*\"");
            }
        }
        let sv = &self.server;
        if sv.header_timeout_s == 0 || sv.body_timeout_s == 0 || sv.idle_timeout_s == 0 {
            bail!("server.header_timeout_s, body_timeout_s and idle_timeout_s must be positive");
        }
        if sv.max_connections == 0 || sv.max_connections_per_ip == 0 {
            bail!("server.max_connections and server.max_connections_per_ip must be positive");
        }
        if self.server.max_live_per_user == 0 || self.server.max_live_per_ip == 0 {
            bail!("server.max_live_per_user and server.max_live_per_ip must be positive");
        }
        for cidr in &self.metrics.public {
            crate::model::addr::Cidr::parse(cidr).with_context(|| format!("metrics.public: {cidr:?}"))?;
        }
        for cidr in &self.auth.trusted_proxies {
            crate::model::addr::Cidr::parse(cidr)
                .with_context(|| format!("auth.trusted_proxies: {cidr:?}"))?;
        }
        if self.auth.max_attempts == 0 || self.auth.attempt_window_s == 0 {
            bail!("auth.max_attempts and auth.attempt_window_s must be positive");
        }
        let a = &self.auth;
        if a.max_password_checks == 0 || a.max_password_checks > 16 {
            bail!("auth.max_password_checks must be 1 to 16 (got {})", a.max_password_checks);
        }
        if a.setup_max_attempts_total < a.max_attempts
            || a.max_token_failures == 0
            || a.token_failure_window_s == 0
            || a.fail2ban_interval_s == 0
        {
            bail!(
                "auth.setup_max_attempts_total must be at least auth.max_attempts, and \
                 auth.max_token_failures, token_failure_window_s and fail2ban_interval_s positive"
            );
        }
        if a.auth_log_max_bytes < 64 * 1024 {
            bail!("auth.auth_log_max_bytes must be at least 65536 (got {})", a.auth_log_max_bytes);
        }
        if self.terminal.recheck_s == 0 {
            bail!("terminal.recheck_s must be positive");
        }
        if !["auto", "always", "never"].contains(&self.terminal.outside_sandbox.as_str()) {
            bail!(
                "terminal.outside_sandbox must be \"auto\", \"always\" or \"never\" (got {:?})",
                self.terminal.outside_sandbox
            );
        }
        let h = &self.health;
        if !(100..=60_000).contains(&h.mount_timeout_ms) || !(1..=1000).contains(&h.max_mounts) {
            bail!(
                "health.mount_timeout_ms must be 100..=60000 and health.max_mounts 1..=1000 (got {} and {})",
                h.mount_timeout_ms,
                h.max_mounts
            );
        }
        let b = &self.server.base_path;
        if !b.starts_with('/')
            || !b.ends_with('/')
            || !b.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
        {
            bail!(
                "server.base_path must start and end with '/' and use only letters, digits, - _ . (got {b:?})"
            );
        }
        if self.tls.cert.is_empty() != self.tls.key.is_empty() {
            bail!("tls.cert and tls.key must be set together");
        }
        if self.terminal.command.is_empty() {
            bail!("terminal.command must name a program");
        }
        if self.tools.timeout_s == 0 {
            bail!("tools.timeout_s must be positive");
        }
        Ok(())
    }
}

/// Where a setting's value comes from. Later layers win: default <- file <- UI <- environment <- flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    /// The config file.
    File,
    /// The Settings page (stored in the database; `settings.rs`).
    Ui,
    /// A `PROXWATCH_<SECTION>_<KEY>` variable.
    Env,
    /// A command-line flag (`--bind`, `--port`, `--data-dir`).
    Flag,
}

/// The layers one configuration is made of, kept after start so the UI layer can be (re)applied
/// and every value's source named.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    file_table: toml::Table,
    env: Vec<(String, String)>,
    flags: Overrides,
    /// Where composing starts instead of the defaults (an app made from a plain `Config`: tests).
    base: Option<Box<Config>>,
}

/// A composed configuration, with the source of every value that is not a default
/// (`"section.key"`) and warnings to log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub sources: BTreeMap<String, Source>,
    pub warnings: Vec<String>,
}

impl Layers {
    /// Reads the file (`path` is `--config`: when given it must exist; the default path is
    /// optional) and keeps the environment's `PROXWATCH_*` variables and the flags.
    pub fn read(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> anyhow::Result<Layers> {
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None if Path::new(DEFAULT_PATH).exists() => Some(PathBuf::from(DEFAULT_PATH)),
            None => None,
        };
        let file_table = match &file {
            Some(p) => {
                // Parsed as a Config first: its errors name the unknown key and the line.
                let text = read_config_file(p)?;
                Config::parse(&text).with_context(|| format!("in config file {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("in config file {}", p.display()))?
            }
            None => toml::Table::new(),
        };
        let env = env.into_iter().filter(|(k, _)| k.starts_with("PROXWATCH_")).collect();
        Ok(Layers { file, file_table, env, flags: overrides.clone(), base: None })
    }

    /// Layers that compose to `config` (plus whatever UI layer is given): for an app made from a
    /// plain configuration.
    pub fn from_config(config: &Config) -> Layers {
        Layers { base: Some(Box::new(config.clone())), ..Layers::default() }
    }

    /// The configuration with `ui` (`"section.key"` -> value, from the database) between the file
    /// and the environment, validated.
    pub fn compose(&self, ui: &BTreeMap<String, toml::Value>) -> anyhow::Result<Loaded> {
        let start = self.base.as_deref().cloned().unwrap_or_default();
        let mut table = toml::Table::try_from(start).context("serialising the defaults")?;
        let mut sources = BTreeMap::new();
        for (section, inner) in &self.file_table {
            let Some(inner) = inner.as_table() else { continue };
            for (key, value) in inner {
                set(&mut table, section, key, value.clone())?;
                sources.insert(format!("{section}.{key}"), Source::File);
            }
        }
        for (path, value) in ui {
            let (section, key) = path.split_once('.').with_context(|| format!("setting {path:?}"))?;
            set(&mut table, section, key, value.clone()).with_context(|| format!("stored setting {path}"))?;
            let candidate: Result<Config, _> = table.clone().try_into();
            if let Err(e) = candidate {
                bail!("stored setting {path}: {e}");
            }
            sources.insert(path.clone(), Source::Ui);
        }
        let warnings = apply_env_table(&mut table, &self.env, &mut sources)?;
        let flags = &self.flags;
        if let Some(b) = flags.bind {
            set(&mut table, "server", "bind", toml::Value::String(b.to_string()))?;
            sources.insert("server.bind".into(), Source::Flag);
        }
        if let Some(p) = flags.port {
            set(&mut table, "server", "port", toml::Value::Integer(i64::from(p)))?;
            sources.insert("server.port".into(), Source::Flag);
        }
        if let Some(d) = &flags.data_dir {
            set(&mut table, "server", "data_dir", toml::Value::String(d.display().to_string()))?;
            sources.insert("server.data_dir".into(), Source::Flag);
        }
        let config: Config = table.try_into().map_err(|e| anyhow::anyhow!("{e}"))?;
        config.validate()?;
        Ok(Loaded { config, sources, warnings })
    }
}

/// Sets `section.key` in a serialised config; a key the config does not have is an error.
fn set(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) -> anyhow::Result<()> {
    let slot = table
        .get_mut(section)
        .and_then(|s| s.as_table_mut())
        .and_then(|s| s.get_mut(key))
        .with_context(|| format!("unknown setting {section}.{key}"))?;
    *slot = value;
    Ok(())
}

/// `PROXWATCH_<SECTION>_<KEY>` variables onto a serialised config; the names set go to `sources`.
fn apply_env_table(
    table: &mut toml::Table,
    env: &[(String, String)],
    sources: &mut BTreeMap<String, Source>,
) -> anyhow::Result<Vec<String>> {
    let mut warnings = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("PROXWATCH_") else { continue };
        if OTHER_ENV.contains(&name.as_str()) {
            continue;
        }
        let rest = rest.to_ascii_lowercase();
        let slot = table.iter_mut().find_map(|(section, inner)| {
            let key = rest.strip_prefix(section.as_str())?.strip_prefix('_')?;
            let slot = inner.as_table_mut()?.get_mut(key)?;
            Some((format!("{section}.{key}"), slot))
        });
        let Some((path, slot)) = slot else {
            warnings.push(format!("unknown environment variable {name} ignored (not a proxwatch setting)"));
            continue;
        };
        let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
            Ok(mut t) if !matches!(slot, toml::Value::String(_)) => {
                t.remove("v").unwrap_or(toml::Value::from(value.clone()))
            }
            _ => toml::Value::String(value.clone()),
        };
        *slot = parsed;
        sources.insert(path, Source::Env);
        let candidate: Result<Config, _> = table.clone().try_into();
        if let Err(e) = candidate {
            bail!("environment variable {name}: {e}");
        }
    }
    Ok(warnings)
}

// proxwatch's own configuration file, read before any host exists: read directly.
#[allow(clippy::disallowed_methods)]
fn read_config_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn commented_default_file_is_the_default() {
        assert_eq!(Config::parse(DEFAULT_TOML).unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[server]\nport = 9000\n\n[sampler]\nintervall_ms = 5\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path), env(&[]), &Overrides::default()).unwrap_err());
        assert!(err.contains("intervall_ms"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn layers_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[server]\nport = 9000\ndata_dir = '/srv/a'\n[log]\nlevel = 'debug'\n")
            .unwrap();
        let (cfg, warnings) = Config::load(
            Some(&path),
            env(&[
                ("PROXWATCH_SERVER_PORT", "9001"),
                ("PROXWATCH_SERVER_DATA_DIR", "/srv/b"),
                ("PROXWATCH_PORTT", "1"),
            ]),
            &Overrides { port: Some(9002), ..Default::default() },
        )
        .unwrap();
        assert_eq!(cfg.server.port, 9002);
        assert_eq!(cfg.server.data_dir, PathBuf::from("/srv/b"));
        assert_eq!(cfg.log.level, "debug");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("PROXWATCH_PORTT"));
    }

    #[test]
    fn bad_env_value_is_an_error_naming_the_variable() {
        let err =
            Config::load(None, env(&[("PROXWATCH_SERVER_PORT", "lots")]), &Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("PROXWATCH_SERVER_PORT"), "{err:#}");
        let err = Config::load(None, env(&[("PROXWATCH_SAMPLER_INTERVAL_MS", "5")]), &Overrides::default())
            .unwrap_err();
        assert!(format!("{err:#}").contains("interval_ms"), "{err:#}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err =
            Config::load(Some(Path::new("/nonexistent/proxwatch.toml")), env(&[]), &Overrides::default())
                .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/proxwatch.toml"));
    }
}
