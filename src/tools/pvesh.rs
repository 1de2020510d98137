//! Proxmox VE's own view of the host through `pvesh get <path> --output-format json`: node status,
//! version, cluster resources and status, guest lists and configs, storages, tasks, backup jobs, disks
//! and RRD history. `pvesh` prints the bare API payload (`to_json($data, {canonical => 1})` in
//! pve-common's CLIHandler: keys sorted, one line, no `{"data": ...}` wrapper), so every `parse_*` here
//! takes that bare payload; the HTTP-API form used by recorded fixtures is unwrapped with
//! [`unwrap_data`] first.
//!
//! The API is loosely typed (Perl scalars): numbers sometimes arrive as JSON strings (`"vmid":"106"`
//! in go-proxmox's PVE 7.4 recordings, `loadavg` and `cpuinfo.mhz` always), booleans as `0`/`1`,
//! optional fields are simply absent (`pid`/`uptime` on stopped guests, `template` unless 1, `cpu`/`mem`
//! on offline nodes), and every release adds fields. So every number and boolean goes through the
//! lenient helpers in [`de`], and no type here denies unknown fields.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::host::{Host, ToolError};

// ---------------------------------------------------------------------------------------------------
// argv builders and readers (the only code here that does I/O, through Host)
// ---------------------------------------------------------------------------------------------------

/// `pvesh get <path> --output-format json`.
pub fn argv(path: &str) -> Vec<String> {
    ["pvesh", "get", path, "--output-format", "json"].map(String::from).to_vec()
}

/// `pvesh get <path> --timeframe <tf> --output-format json`: the API's query parameter
/// (`rrddata?timeframe=hour`) becomes a CLI option for pvesh.
pub fn rrd_argv(path: &str, timeframe: &str) -> Vec<String> {
    ["pvesh", "get", path, "--timeframe", timeframe, "--output-format", "json"].map(String::from).to_vec()
}

async fn run(host: &Host, argv: Vec<String>) -> Result<String, ToolError> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    host.run_ok(&argv).await
}

async fn get(host: &Host, path: &str) -> Result<String, ToolError> {
    run(host, argv(path)).await
}

/// `/nodes/{node}/status`.
pub async fn node_status(host: &Host, node: &str) -> Result<NodeStatus, ToolError> {
    parse_node_status(&get(host, &format!("/nodes/{node}/status")).await?)
}

/// `/version`.
pub async fn version(host: &Host) -> Result<Version, ToolError> {
    parse_version(&get(host, "/version").await?)
}

/// `/nodes` (every cluster member with its coarse usage).
pub async fn nodes(host: &Host) -> Result<Vec<NodeResource>, ToolError> {
    parse_nodes(&get(host, "/nodes").await?)
}

/// `/cluster/resources` (all types).
pub async fn cluster_resources(host: &Host) -> Result<Vec<ClusterResource>, ToolError> {
    parse_cluster_resources(&get(host, "/cluster/resources").await?)
}

/// `/cluster/status`.
pub async fn cluster_status(host: &Host) -> Result<ClusterStatus, ToolError> {
    parse_cluster_status(&get(host, "/cluster/status").await?)
}

/// `/nodes/{node}/qemu` or `/nodes/{node}/lxc`; `node` is filled in (the endpoint does not repeat it).
pub async fn guests(host: &Host, node: &str, kind: GuestKind) -> Result<Vec<Guest>, ToolError> {
    let out = get(host, &format!("/nodes/{node}/{}", kind.as_str())).await?;
    let mut list = match kind {
        GuestKind::Qemu => parse_qemu_list(&out)?,
        GuestKind::Lxc => parse_lxc_list(&out)?,
    };
    for g in &mut list {
        g.node = node.to_string();
    }
    Ok(list)
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/config`.
pub async fn guest_config(
    host: &Host,
    node: &str,
    kind: GuestKind,
    vmid: u64,
) -> Result<GuestConfig, ToolError> {
    parse_guest_config(&get(host, &format!("/nodes/{node}/{}/{vmid}/config", kind.as_str())).await?)
}

/// `/nodes/{node}/storage`.
pub async fn node_storage(host: &Host, node: &str) -> Result<Vec<NodeStorage>, ToolError> {
    parse_node_storage(&get(host, &format!("/nodes/{node}/storage")).await?)
}

/// `/nodes/{node}/tasks` (by default the last 50 finished tasks from the archive).
pub async fn tasks(host: &Host, node: &str) -> Result<Vec<Task>, ToolError> {
    parse_tasks(&get(host, &format!("/nodes/{node}/tasks")).await?)
}

/// `/cluster/backup`.
pub async fn backup_jobs(host: &Host) -> Result<Vec<BackupJob>, ToolError> {
    parse_backup_jobs(&get(host, "/cluster/backup").await?)
}

/// `/nodes/{node}/disks/list`.
pub async fn disks(host: &Host, node: &str) -> Result<Vec<DiskInfo>, ToolError> {
    parse_disks(&get(host, &format!("/nodes/{node}/disks/list")).await?)
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/rrddata --timeframe <hour|day|week|month|year>`.
pub async fn guest_rrddata(
    host: &Host,
    node: &str,
    kind: GuestKind,
    vmid: u64,
    timeframe: &str,
) -> Result<Vec<RrdPoint>, ToolError> {
    let path = format!("/nodes/{node}/{}/{vmid}/rrddata", kind.as_str());
    parse_rrddata(&run(host, rrd_argv(&path, timeframe)).await?)
}

// ---------------------------------------------------------------------------------------------------
// JSON plumbing
// ---------------------------------------------------------------------------------------------------

/// Strips the HTTP API's `{"data": ...}` envelope, returning the payload text as `pvesh` would print
/// it (the original formatting is kept, so line numbers in later errors still match the file).
pub fn unwrap_data(text: &str) -> Result<String, ToolError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let env: Envelope<'_> = from_json("API response envelope", text)?;
    Ok(env.data.get().to_string())
}

fn from_json<'a, T: Deserialize<'a>>(what: &str, text: &'a str) -> Result<T, ToolError> {
    serde_json::from_str(text).map_err(|e| json_error(what, text, &e))
}

/// A serde_json error as a [`ToolError::Parse`] naming the line. pvesh prints the whole payload on one
/// line (often tens of KiB for `/cluster/resources`), so the quoted text is the window around the
/// error's column rather than the whole line.
fn json_error(what: &str, text: &str, e: &serde_json::Error) -> ToolError {
    let line_no = e.line().max(1);
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let col = e.column().min(line.len());
    let mut start = col.saturating_sub(80);
    while !line.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (col + 40).min(line.len());
    while !line.is_char_boundary(end) {
        end += 1;
    }
    ToolError::parse(what, line_no, &line[start..end], e.to_string())
}

fn owned<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, ToolError> {
    from_json(what, text)
}

/// Lenient `deserialize_with` helpers for the Perl-typed API (see the module comment).
mod de {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};
    use serde_json::Value;

    /// One JSON scalar as Proxmox may send it.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum Scalar {
        U(u64),
        I(i64),
        F(f64),
        S(String),
        B(bool),
        Null,
    }

    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Scalar;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a number, a numeric string or a boolean")
                }
                fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                    Ok(Scalar::U(v))
                }
                fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                    Ok(Scalar::I(v))
                }
                fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                    Ok(Scalar::F(v))
                }
                fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                    Ok(Scalar::B(v))
                }
                fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                    Ok(Scalar::S(v.to_string()))
                }
                fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                    Ok(Scalar::S(v))
                }
                fn visit_unit<E>(self) -> Result<Scalar, E> {
                    Ok(Scalar::Null)
                }
                fn visit_none<E>(self) -> Result<Scalar, E> {
                    Ok(Scalar::Null)
                }
                fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                    Scalar::deserialize(d)
                }
            }
            d.deserialize_any(V)
        }
    }

    impl Scalar {
        /// `None` for null and the empty string.
        pub(super) fn to_f64(&self) -> Result<Option<f64>, String> {
            match self {
                Scalar::U(v) => Ok(Some(*v as f64)),
                Scalar::I(v) => Ok(Some(*v as f64)),
                Scalar::F(v) => Ok(Some(*v)),
                Scalar::B(_) => Err("expected a number, got a boolean".into()),
                Scalar::Null => Ok(None),
                Scalar::S(s) if s.trim().is_empty() => Ok(None),
                Scalar::S(s) => match s.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err(format!("expected a number, got {s:?}")),
                },
            }
        }

        pub(super) fn to_i64(&self) -> Result<Option<i64>, String> {
            match self {
                Scalar::I(v) => Ok(Some(*v)),
                Scalar::U(v) => i64::try_from(*v).map(Some).map_err(|_| format!("{v} is out of range")),
                Scalar::S(s) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse::<i64>().ok()),
                // Counters are integers, but Perl arithmetic (averages, ratios) can turn them into floats.
                _ => Ok(self.to_f64()?.map(|f| f.round() as i64)),
            }
        }

        pub(super) fn to_u64(&self) -> Result<Option<u64>, String> {
            if let Scalar::U(v) = self {
                return Ok(Some(*v));
            }
            match self.to_i64()? {
                Some(v) if v < 0 => Err(format!("expected a non-negative number, got {v}")),
                Some(v) => Ok(Some(v as u64)),
                None => Ok(None),
            }
        }

        /// Perl booleans: `0`/`1` (as numbers or strings), JSON booleans, and the words the PVE schema
        /// parser accepts for boolean properties (`yes`/`no`, `on`/`off`, `true`/`false`).
        pub(super) fn to_bool(&self) -> Result<Option<bool>, String> {
            match self {
                Scalar::B(b) => Ok(Some(*b)),
                Scalar::U(v) => Ok(Some(*v != 0)),
                Scalar::I(v) => Ok(Some(*v != 0)),
                Scalar::F(v) => Ok(Some(*v != 0.0)),
                Scalar::Null => Ok(None),
                Scalar::S(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "" => Ok(None),
                    "1" | "yes" | "on" | "true" => Ok(Some(true)),
                    "0" | "no" | "off" | "false" => Ok(Some(false)),
                    _ => Err(format!("expected a boolean (0/1), got {s:?}")),
                },
            }
        }
    }

    fn required<T, E: de::Error>(v: Result<Option<T>, String>) -> Result<T, E> {
        v.map_err(E::custom)?.ok_or_else(|| E::custom("expected a value, got null"))
    }

    pub(super) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        required(Scalar::deserialize(d)?.to_u64())
    }

    pub(super) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Scalar::deserialize(d)?.to_u64().map_err(de::Error::custom)
    }

    pub(super) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Scalar::deserialize(d)?.to_i64().map_err(de::Error::custom)
    }

    pub(super) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        required(Scalar::deserialize(d)?.to_f64())
    }

    pub(super) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Scalar::deserialize(d)?.to_f64().map_err(de::Error::custom)
    }

    /// A 0/1 flag; null counts as unset (false).
    pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(Scalar::deserialize(d)?.to_bool().map_err(de::Error::custom)?.unwrap_or(false))
    }

    /// A number where the API may also say "N/A" (disk `wearout` for HDDs, pve-storage Diskmanage.pm):
    /// any non-numeric string is "not known".
    pub(super) fn u64_or_na<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let s = Scalar::deserialize(d)?;
        Ok(s.to_u64().unwrap_or(None))
    }

    /// A list of numbers that may each be strings (`loadavg: ["0.12","0.10","0.05"]`).
    pub(super) fn f64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Scalar>::deserialize(d)?.iter().map(|s| required(s.to_f64())).collect()
    }

    fn split(s: &str, seps: &[char]) -> Vec<String> {
        s.split(|c: char| seps.contains(&c) || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Guest tags: stored `;`-separated, but pve-common's `PVE::Tools::split_list` (used when reading
    /// them) also splits on `,` and whitespace, so older or hand-edited configs can use those.
    pub(super) fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Option::<String>::deserialize(d)? {
            Some(s) => split_tags(&s),
            None => Vec::new(),
        })
    }

    pub(super) fn split_tags(s: &str) -> Vec<String> {
        split(s, &[';', ','])
    }

    /// A comma-separated list such as storage `content` (`"iso,vztmpl,backup"`).
    pub(super) fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Option::<String>::deserialize(d)? {
            Some(s) => split(&s, &[',', ';']),
            None => Vec::new(),
        })
    }

    /// A VMID list as in backup jobs: `"100,101,200"` (pve-common's `pve-vmid-list` format, split on
    /// `,`, `;` and whitespace), a single number, or an array.
    pub(super) fn vmid_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let one = |s: &Scalar| required::<u64, D::Error>(s.to_u64());
        match Value::deserialize(d)? {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => split(&s, &[',', ';'])
                .into_iter()
                .map(|p| p.parse().map_err(|_| de::Error::custom(format!("{p:?} is not a VMID"))))
                .collect(),
            Value::Array(items) => items
                .iter()
                .map(|v| Scalar::deserialize(v).map_err(de::Error::custom).and_then(|s| one(&s)))
                .collect(),
            other => one(&Scalar::deserialize(&other).map_err(de::Error::custom)?).map(|v| vec![v]),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/status and /version
// ---------------------------------------------------------------------------------------------------

/// `/nodes/{node}/status` (PVE/API2/Nodes.pm `status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// CPU usage of the node, 0..=1 (fraction of all logical CPUs).
    #[serde(default, deserialize_with = "de::f64")]
    pub cpu: f64,
    /// I/O wait fraction, 0..=1.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub wait: Option<f64>,
    pub cpuinfo: CpuInfo,
    pub memory: Usage,
    #[serde(default)]
    pub swap: Usage,
    #[serde(default)]
    pub rootfs: Usage,
    /// Seconds.
    #[serde(default, deserialize_with = "de::u64")]
    pub uptime: u64,
    /// 1, 5 and 15 minute load averages; Nodes.pm sends them as strings (`["0.00","0.00","0.00"]`).
    #[serde(default, deserialize_with = "de::f64_list")]
    pub loadavg: Vec<f64>,
    /// `uname` line, e.g. `Linux 6.8.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.8-2 (...)`.
    #[serde(default)]
    pub kversion: String,
    /// e.g. `pve-manager/8.2.4/faa83925c9641325`.
    #[serde(default)]
    pub pveversion: String,
    #[serde(default)]
    pub ksm: Ksm,
    /// PVE 8+: structured kernel identity.
    #[serde(default, rename = "current-kernel")]
    pub current_kernel: Option<CurrentKernel>,
    /// PVE 8+: `efi` or `legacy-bios`, and whether Secure Boot is on.
    #[serde(default, rename = "boot-info")]
    pub boot_info: Option<BootInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    #[serde(default)]
    pub model: String,
    /// Physical cores (all sockets).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cores: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub sockets: Option<u64>,
    /// Logical CPUs (threads).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpus: Option<u64>,
    /// Sent as a string (`"3400.000"`).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub mhz: Option<f64>,
}

/// Bytes; `avail` only for `rootfs` (free to unprivileged users).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub free: u64,
    #[serde(default, deserialize_with = "de::opt_u64", skip_serializing_if = "Option::is_none")]
    pub avail: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ksm {
    /// Bytes shared by kernel same-page merging.
    #[serde(default, deserialize_with = "de::u64")]
    pub shared: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentKernel {
    #[serde(default)]
    pub sysname: String,
    #[serde(default)]
    pub release: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub machine: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootInfo {
    #[serde(default)]
    pub mode: String,
    #[serde(default, deserialize_with = "de::flag")]
    pub secureboot: bool,
}

pub fn parse_node_status(text: &str) -> Result<NodeStatus, ToolError> {
    owned("pvesh get /nodes/{node}/status", text)
}

/// `/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// e.g. `8.2.4`.
    pub version: String,
    /// e.g. `8.2`.
    #[serde(default)]
    pub release: String,
    #[serde(default)]
    pub repoid: String,
}

pub fn parse_version(text: &str) -> Result<Version, ToolError> {
    owned("pvesh get /version", text)
}

// ---------------------------------------------------------------------------------------------------
// Guests
// ---------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    #[default]
    Qemu,
    Lxc,
}

impl GuestKind {
    /// The path segment and `type` value: `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

/// A VM or container as listed by `/cluster/resources` or `/nodes/{node}/{qemu|lxc}`
/// (the lists say `cpus` where cluster resources say `maxcpu`, and omit `node`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guest {
    /// `qemu` unless the entry says otherwise (`/nodes/{node}/qemu` has no `type` field).
    #[serde(rename = "type", default)]
    pub kind: GuestKind,
    /// A string in some releases (`"vmid":"106"` from `/nodes/{node}/lxc` in PVE 7.4).
    #[serde(deserialize_with = "de::u64")]
    pub vmid: u64,
    #[serde(default)]
    pub name: String,
    /// Empty when the endpoint does not say (the per-node lists); [`guests`] fills it in.
    #[serde(default)]
    pub node: String,
    /// From the RRD: `running`, `stopped`, `paused`, ... or `unknown` when there is no RRD data yet.
    #[serde(default)]
    pub status: String,
    /// Usage as a fraction of `maxcpu`.
    #[serde(default, deserialize_with = "de::f64")]
    pub cpu: f64,
    /// Assigned CPUs; fractional for containers with a `cpulimit`.
    #[serde(default, alias = "cpus", deserialize_with = "de::f64")]
    pub maxcpu: f64,
    #[serde(default, deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub maxmem: u64,
    /// Only meaningful for containers; VMs report 0 (the host cannot see inside the guest's disk).
    #[serde(default, deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub maxdisk: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub netin: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub netout: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub diskread: u64,
    #[serde(default, deserialize_with = "de::u64")]
    pub diskwrite: u64,
    /// Seconds; absent (or 0) when stopped.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Only in the per-node lists, and only while running.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    /// The lists only carry `template` when it is 1.
    #[serde(default, deserialize_with = "de::flag")]
    pub template: bool,
    #[serde(default, deserialize_with = "de::tags")]
    pub tags: Vec<String>,
    /// `backup`, `migrate`, `snapshot`, ... while an operation holds the guest (or left stale).
    #[serde(default)]
    pub lock: Option<String>,
    /// HA resource state when HA-managed: `started`, `stopped`, `error`, `fence`, `recovery`, ...
    #[serde(default)]
    pub hastate: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
}

impl Guest {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

pub fn parse_qemu_list(text: &str) -> Result<Vec<Guest>, ToolError> {
    let mut list: Vec<Guest> = owned("pvesh get /nodes/{node}/qemu", text)?;
    for g in &mut list {
        g.kind = GuestKind::Qemu;
    }
    Ok(list)
}

pub fn parse_lxc_list(text: &str) -> Result<Vec<Guest>, ToolError> {
    let mut list: Vec<Guest> = owned("pvesh get /nodes/{node}/lxc", text)?;
    for g in &mut list {
        g.kind = GuestKind::Lxc;
    }
    Ok(list)
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/config`: the whole map (keys differ per guest and per release),
/// plus the few values the monitor uses, typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuestConfig {
    /// Start at boot; absent means no.
    pub onboot: bool,
    /// `name` for VMs, `hostname` for containers.
    pub name: Option<String>,
    pub cores: Option<u64>,
    pub sockets: Option<u64>,
    /// MiB.
    pub memory: Option<u64>,
    pub template: bool,
    pub lock: Option<String>,
    pub tags: Vec<String>,
    pub raw: BTreeMap<String, Value>,
}

pub fn parse_guest_config(text: &str) -> Result<GuestConfig, ToolError> {
    const WHAT: &str = "pvesh get /nodes/{node}/{type}/{vmid}/config";
    let raw: BTreeMap<String, Value> = owned(WHAT, text)?;
    let scalar = |key: &str| -> Result<Option<de::Scalar>, ToolError> {
        let Some(v) = raw.get(key) else { return Ok(None) };
        de::Scalar::deserialize(v)
            .map(Some)
            .map_err(|e| ToolError::parse(WHAT, 1, &format!("{key}: {v}"), e.to_string()))
    };
    let bad = |key: &str, msg: String| ToolError::parse(WHAT, 1, &format!("{key}: {:?}", raw.get(key)), msg);
    let num = |key: &str| -> Result<Option<u64>, ToolError> {
        scalar(key)?.map(|s| s.to_u64().map_err(|m| bad(key, m))).transpose().map(Option::flatten)
    };
    let flag = |key: &str| -> Result<bool, ToolError> {
        Ok(scalar(key)?.map(|s| s.to_bool().map_err(|m| bad(key, m))).transpose()?.flatten().unwrap_or(false))
    };
    let string = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_string);
    // Since PVE 8.1 (qemu-server) `memory` is a property string, `[current=]<MiB>`; older releases and
    // containers send a plain number, and canonical JSON may quote it (`"memory":"2048"`).
    let memory = match raw.get("memory") {
        Some(Value::String(s)) => {
            let first = s.split(',').next().unwrap_or("");
            let v = first.strip_prefix("current=").unwrap_or(first).trim();
            Some(v.parse().map_err(|_| bad("memory", format!("{s:?} is not a memory size")))?)
        }
        _ => num("memory")?,
    };
    Ok(GuestConfig {
        onboot: flag("onboot")?,
        name: string("name").or_else(|| string("hostname")),
        cores: num("cores")?,
        sockets: num("sockets")?,
        memory,
        template: flag("template")?,
        lock: string("lock"),
        tags: string("tags").map(|t| de::split_tags(&t)).unwrap_or_default(),
        raw,
    })
}

// ---------------------------------------------------------------------------------------------------
// /cluster/resources and /nodes
// ---------------------------------------------------------------------------------------------------

/// A cluster member as in `/cluster/resources` (`type: node`) and `/nodes`. Offline nodes carry no
/// usage (no `cpu`, `mem`, `uptime`), hence the options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResource {
    pub node: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Subscription level (`""` when none, `c`, `b`, `s`, `p`).
    #[serde(default)]
    pub level: Option<String>,
}

impl NodeResource {
    pub fn is_online(&self) -> bool {
        self.status == "online"
    }
}

/// A storage as seen from one node in `/cluster/resources` (`id: storage/<node>/<storeid>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageResource {
    /// The storage id (`local-zfs`).
    pub storage: String,
    #[serde(default)]
    pub node: String,
    /// `dir`, `zfspool`, `lvmthin`, `nfs`, `pbs`, ...
    #[serde(default)]
    pub plugintype: String,
    #[serde(default, deserialize_with = "de::comma_list")]
    pub content: Vec<String>,
    /// `available`, or `unknown` when the storage reported no RRD update (not active / unreachable).
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: bool,
    /// Bytes used; absent when `status` is `unknown`.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
}

/// One `/cluster/resources` entry, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterResource {
    Guest(Guest),
    Node(NodeResource),
    Storage(StorageResource),
    /// Types this monitor does not use (`pool`, `sdn`, and whatever later releases add), kept by name.
    Other {
        kind: String,
        id: String,
    },
}

impl ClusterResource {
    pub fn as_guest(&self) -> Option<&Guest> {
        match self {
            ClusterResource::Guest(g) => Some(g),
            _ => None,
        }
    }
    pub fn as_node(&self) -> Option<&NodeResource> {
        match self {
            ClusterResource::Node(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_storage(&self) -> Option<&StorageResource> {
        match self {
            ClusterResource::Storage(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for ClusterResource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Dispatch on `type` by hand rather than with `#[serde(tag = "type")]`: unknown types keep
        // their name, and a bad field is reported together with the entry's id.
        let v = Value::deserialize(d)?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let id = v.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let typed = match kind.as_str() {
            "qemu" | "lxc" => Guest::deserialize(&v).map(ClusterResource::Guest),
            "node" => NodeResource::deserialize(&v).map(ClusterResource::Node),
            "storage" => StorageResource::deserialize(&v).map(ClusterResource::Storage),
            _ => return Ok(ClusterResource::Other { kind, id }),
        };
        typed.map_err(|e| serde::de::Error::custom(format!("entry {id:?}: {e}")))
    }
}

pub fn parse_cluster_resources(text: &str) -> Result<Vec<ClusterResource>, ToolError> {
    owned("pvesh get /cluster/resources", text)
}

/// `/nodes`: the same node objects as `/cluster/resources` (plus `ssl_fingerprint`).
pub fn parse_nodes(text: &str) -> Result<Vec<NodeResource>, ToolError> {
    owned("pvesh get /nodes", text)
}

// ---------------------------------------------------------------------------------------------------
// /cluster/status
// ---------------------------------------------------------------------------------------------------

/// `/cluster/status`: one `cluster` entry when clustered, then one entry per node. A standalone node
/// lists only itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterStatus {
    pub cluster: Option<ClusterInfo>,
    pub nodes: Vec<ClusterNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    pub name: String,
    pub quorate: bool,
    /// Configured member count.
    pub nodes: Option<u64>,
    /// corosync config version.
    pub version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterNode {
    pub name: String,
    pub nodeid: Option<u64>,
    pub online: bool,
    /// The node this API call was answered by.
    pub local: bool,
    pub ip: Option<String>,
}

impl ClusterStatus {
    /// A standalone node has no cluster entry and is trivially quorate.
    pub fn quorate(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.quorate)
    }
    pub fn local_node(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.local)
    }
}

pub fn parse_cluster_status(text: &str) -> Result<ClusterStatus, ToolError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        name: String,
        #[serde(default, deserialize_with = "de::flag")]
        quorate: bool,
        #[serde(default, deserialize_with = "de::opt_u64")]
        nodes: Option<u64>,
        #[serde(default, deserialize_with = "de::opt_u64")]
        version: Option<u64>,
        #[serde(default, deserialize_with = "de::opt_u64")]
        nodeid: Option<u64>,
        #[serde(default, deserialize_with = "de::flag")]
        online: bool,
        #[serde(default, deserialize_with = "de::flag")]
        local: bool,
        #[serde(default)]
        ip: Option<String>,
    }
    let entries: Vec<Entry> = owned("pvesh get /cluster/status", text)?;
    let mut status = ClusterStatus::default();
    for e in entries {
        match e.kind.as_str() {
            "cluster" => {
                status.cluster =
                    Some(ClusterInfo { name: e.name, quorate: e.quorate, nodes: e.nodes, version: e.version })
            }
            "node" => status.nodes.push(ClusterNode {
                name: e.name,
                nodeid: e.nodeid,
                online: e.online,
                local: e.local,
                ip: e.ip,
            }),
            _ => {}
        }
    }
    Ok(status)
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/storage
// ---------------------------------------------------------------------------------------------------

/// One storage as seen by this node. Inactive or disabled storages carry no sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStorage {
    pub storage: String,
    /// Plugin type: `dir`, `zfspool`, `lvmthin`, `nfs`, `cifs`, `pbs`, `rbd`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, deserialize_with = "de::comma_list")]
    pub content: Vec<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub active: bool,
    #[serde(default, deserialize_with = "de::flag")]
    pub enabled: bool,
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: bool,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
}

pub fn parse_node_storage(text: &str) -> Result<Vec<NodeStorage>, ToolError> {
    owned("pvesh get /nodes/{node}/storage", text)
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/tasks and UPIDs
// ---------------------------------------------------------------------------------------------------

/// One task from `/nodes/{node}/tasks` (PVE/API2/Tasks.pm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub upid: String,
    #[serde(default)]
    pub node: String,
    #[serde(default, deserialize_with = "de::u64")]
    pub pid: u64,
    /// Process start time in clock ticks since boot (with pid, identifies the worker process).
    #[serde(default, deserialize_with = "de::u64")]
    pub pstart: u64,
    /// Seconds since the epoch.
    #[serde(default, deserialize_with = "de::u64")]
    pub starttime: u64,
    /// Absent while running.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub endtime: Option<u64>,
    /// `vzdump`, `qmstart`, `aptupdate`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The object: a VMID, a storage, ... empty for node-wide tasks (a scheduled vzdump).
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub user: String,
    /// `OK`, `WARNINGS: <n>`, `unexpected status`, or the error text; absent while running.
    #[serde(default)]
    pub status: Option<String>,
}

impl Task {
    pub fn outcome(&self) -> TaskOutcome {
        classify_task_status(self.status.as_deref())
    }
}

/// What a task's `status` means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    Ok,
    /// Finished, but logged this many `WARN:` lines.
    Warnings(u64),
    Running,
    /// The error text (the last `TASK ERROR: <msg>`), e.g. `job errors` for a vzdump run in which any
    /// guest failed (PVE/VZDump.pm), or `unexpected status` when the worker died without a verdict.
    Failed(String),
}

impl TaskOutcome {
    pub fn is_failed(&self) -> bool {
        matches!(self, TaskOutcome::Failed(_))
    }
}

pub fn classify_task_status(status: Option<&str>) -> TaskOutcome {
    let Some(s) = status.map(str::trim).filter(|s| !s.is_empty()) else {
        return TaskOutcome::Running;
    };
    if s == "OK" {
        return TaskOutcome::Ok;
    }
    // Active tasks (source=active) are reported as RUNNING by Tasks.pm.
    if s.eq_ignore_ascii_case("running") {
        return TaskOutcome::Running;
    }
    if let Some(n) = s.strip_prefix("WARNINGS:").and_then(|n| n.trim().parse().ok()) {
        return TaskOutcome::Warnings(n);
    }
    TaskOutcome::Failed(s.to_string())
}

/// A decoded task id: `UPID:<node>:<pid hex>:<pstart hex>:<starttime hex>:<type>:<id>:<user>:`
/// (PVE::Tools::upid_decode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upid {
    pub node: String,
    pub pid: u64,
    pub pstart: u64,
    pub starttime: u64,
    pub kind: String,
    pub id: String,
    pub user: String,
}

pub fn parse_upid(upid: &str) -> Result<Upid, ToolError> {
    const WHAT: &str = "UPID";
    let err = |msg: &str| ToolError::parse(WHAT, 1, upid, msg);
    let parts: Vec<&str> = upid.trim().split(':').collect();
    // 8 fields and the trailing `:` (an empty last piece).
    let [tag, node, pid, pstart, start, kind, id, user, ""] = parts.as_slice() else {
        return Err(err("expected UPID:node:pid:pstart:starttime:type:id:user:"));
    };
    if *tag != "UPID" || node.is_empty() || kind.is_empty() || user.is_empty() {
        return Err(err("expected UPID:node:pid:pstart:starttime:type:id:user:"));
    }
    let hex = |field: &str, name: &str| {
        u64::from_str_radix(field, 16).map_err(|_| err(&format!("{name} `{field}` is not hexadecimal")))
    };
    Ok(Upid {
        node: node.to_string(),
        pid: hex(pid, "pid")?,
        pstart: hex(pstart, "pstart")?,
        starttime: hex(start, "starttime")?,
        kind: kind.to_string(),
        id: id.to_string(),
        user: user.to_string(),
    })
}

pub fn parse_tasks(text: &str) -> Result<Vec<Task>, ToolError> {
    owned("pvesh get /nodes/{node}/tasks", text)
}

// ---------------------------------------------------------------------------------------------------
// /cluster/backup
// ---------------------------------------------------------------------------------------------------

/// A scheduled backup job (`/cluster/backup`, stored in `/etc/pve/jobs.cfg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupJob {
    pub id: String,
    /// systemd-like calendar event (`02:00`, `sun 04:30`). Jobs from before PVE 7.1 have
    /// `starttime` + `dow` instead.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub starttime: Option<String>,
    #[serde(default)]
    pub dow: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    /// Absent means enabled (the schema default).
    #[serde(default = "yes", deserialize_with = "de::flag")]
    pub enabled: bool,
    /// Back up every guest (minus `exclude`).
    #[serde(default, deserialize_with = "de::flag")]
    pub all: bool,
    /// The selected VMIDs when neither `all` nor `pool` is set (`"100,101,200"`).
    #[serde(default, rename = "vmid", deserialize_with = "de::vmid_list")]
    pub vmids: Vec<u64>,
    /// Back up the members of this pool.
    #[serde(default)]
    pub pool: Option<String>,
    #[serde(default, deserialize_with = "de::vmid_list")]
    pub exclude: Vec<u64>,
    /// `snapshot`, `suspend` or `stop`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Only run on this node.
    #[serde(default)]
    pub node: Option<String>,
    /// Seconds since the epoch.
    #[serde(default, rename = "next-run", deserialize_with = "de::opt_u64")]
    pub next_run: Option<u64>,
    #[serde(default)]
    pub comment: Option<String>,
}

fn yes() -> bool {
    true
}

impl BackupJob {
    /// Whether this job backs up `vmid`, whose pool (from cluster resources) is `pool`.
    pub fn covers(&self, vmid: u64, pool: Option<&str>) -> bool {
        if self.all {
            !self.exclude.contains(&vmid)
        } else if let Some(p) = &self.pool {
            pool == Some(p.as_str()) && !self.exclude.contains(&vmid)
        } else {
            self.vmids.contains(&vmid)
        }
    }
}

pub fn parse_backup_jobs(text: &str) -> Result<Vec<BackupJob>, ToolError> {
    owned("pvesh get /cluster/backup", text)
}

// ---------------------------------------------------------------------------------------------------
// task logs and what a backup-job run did to each guest
// ---------------------------------------------------------------------------------------------------

/// Task log lines read at most.
pub const TASK_LOG_LINES: usize = 1000;

/// `pvesh get /nodes/{node}/tasks/{upid}/log --limit 1000 --output-format json`.
pub fn task_log_argv(node: &str, upid: &str) -> Vec<String> {
    let path = format!("/nodes/{node}/tasks/{}/log", upid.trim());
    ["pvesh", "get", &path, "--limit", &TASK_LOG_LINES.to_string(), "--output-format", "json"]
        .map(String::from)
        .to_vec()
}

/// Reads a task's log (its text lines, in order).
pub async fn task_log(host: &Host, node: &str, upid: &str) -> Result<Vec<String>, ToolError> {
    parse_task_log(&run(host, task_log_argv(node, upid)).await?)
}

#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    t: String,
}

/// `[{"n":1,"t":"INFO: ..."}, ...]` → the lines.
pub fn parse_task_log(text: &str) -> Result<Vec<String>, ToolError> {
    let lines: Vec<LogLine> = owned("pvesh get /nodes/{node}/tasks/{upid}/log", text)?;
    Ok(lines.into_iter().take(TASK_LOG_LINES).map(|l| l.t).collect())
}

/// What one run of a backup job did to one guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestBackupResult {
    pub ok: bool,
    /// The error (`CT is locked (backup)`), or why no verdict was logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The per-guest verdicts in a vzdump log (PVE/VZDump.pm): `Starting Backup of VM <id> (<type>)`
/// opens a guest, `Finished Backup of VM <id> (<hh:mm:ss>)` closes it successfully, and
/// `ERROR: Backup of VM <id> failed - <msg>` closes it with an error. A guest opened but never closed
/// (the worker died) counts as failed. A job run reports `job errors` when any guest failed, so this is
/// how a failed run is attributed to the guests that really failed.
pub fn parse_vzdump_results(lines: &[String]) -> BTreeMap<u64, GuestBackupResult> {
    let mut out: BTreeMap<u64, GuestBackupResult> = BTreeMap::new();
    let vmid_after = |rest: &str| -> Option<u64> {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    for line in lines {
        let body = line.trim();
        let body = body.strip_prefix("INFO: ").or_else(|| body.strip_prefix("ERROR: ")).unwrap_or(body);
        if let Some(rest) = body.strip_prefix("Starting Backup of VM ") {
            if let Some(id) = vmid_after(rest) {
                out.insert(id, GuestBackupResult { ok: false, error: Some("did not finish".into()) });
            }
        } else if let Some(rest) = body.strip_prefix("Finished Backup of VM ") {
            if let Some(id) = vmid_after(rest) {
                out.insert(id, GuestBackupResult { ok: true, error: None });
            }
        } else if let Some(rest) = body.strip_prefix("Backup of VM ")
            && let Some(id) = vmid_after(rest)
            && let Some(msg) = rest.split_once(" failed - ").map(|(_, m)| m.trim())
        {
            out.insert(id, GuestBackupResult { ok: false, error: Some(msg.to_string()) });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/replication (storage replication jobs and their state)
// ---------------------------------------------------------------------------------------------------

/// `/nodes/{node}/replication`: every replication job of this node's guests with its state
/// (PVE/API2/Replication.pm, state from PVE::ReplicationState).
pub async fn replication(host: &Host, node: &str) -> Result<Vec<ReplicationJob>, ToolError> {
    parse_replication(&get(host, &format!("/nodes/{node}/replication")).await?)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationJob {
    /// `<vmid>-<jobnum>`, e.g. `100-0`.
    pub id: String,
    #[serde(default, deserialize_with = "de::u64")]
    pub guest: u64,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub last_sync: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub last_try: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub next_sync: Option<u64>,
    /// Seconds the last run took.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub duration: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub fail_count: Option<u64>,
    /// The last error, while the job is failing.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub disable: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

impl ReplicationJob {
    pub fn failing(&self) -> bool {
        self.fail_count.unwrap_or(0) > 0 || self.error.as_deref().is_some_and(|e| !e.trim().is_empty())
    }
}

pub fn parse_replication(text: &str) -> Result<Vec<ReplicationJob>, ToolError> {
    owned("pvesh get /nodes/{node}/replication", text)
}

// ---------------------------------------------------------------------------------------------------
// /nodes/{node}/disks/list
// ---------------------------------------------------------------------------------------------------

/// Disk class as decided by pve-storage's Diskmanage.pm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", from = "String")]
pub enum DiskType {
    Ssd,
    Hdd,
    Nvme,
    Usb,
    Unknown,
}

impl From<String> for DiskType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "ssd" => DiskType::Ssd,
            "hdd" => DiskType::Hdd,
            "nvme" => DiskType::Nvme,
            "usb" => DiskType::Usb,
            _ => DiskType::Unknown,
        }
    }
}

/// One physical disk (`PVE::Diskmanage::get_disks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskInfo {
    pub devpath: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub wwn: Option<String>,
    /// Bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(rename = "type", default = "unknown_disk")]
    pub kind: DiskType,
    /// 0 for SSDs; -1 or absent when unknown.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub rpm: Option<i64>,
    /// SMART verdict as Diskmanage words it: `PASSED`, `OK` (SAS), `FAILED`, `UNKNOWN`.
    #[serde(default)]
    pub health: Option<String>,
    /// Percent of life left (100 = new). `"N/A"` for HDDs and disks without the attribute → `None`.
    #[serde(default, deserialize_with = "de::u64_or_na")]
    pub wearout: Option<u64>,
    /// What occupies the disk: `partitions`, `LVM`, `ZFS`, `mounted`, `Device Mapper`, a filesystem ...
    #[serde(default)]
    pub used: Option<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub gpt: bool,
    /// Ceph OSD id, -1 when none (a string in some Diskmanage paths: `"osdid":"444"`).
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub osdid: Option<i64>,
    #[serde(default)]
    pub by_id_link: Option<String>,
}

fn unknown_disk() -> DiskType {
    DiskType::Unknown
}

/// The API returns an array; `PVE::Diskmanage::get_disks` (and pve-storage's test expectations)
/// return the same objects in a hash keyed by device name: both are accepted, the hash in key order.
pub fn parse_disks(text: &str) -> Result<Vec<DiskInfo>, ToolError> {
    const WHAT: &str = "pvesh get /nodes/{node}/disks/list";
    if text.trim_start().starts_with('{') {
        let map: BTreeMap<String, DiskInfo> = owned(WHAT, text)?;
        Ok(map.into_values().collect())
    } else {
        owned(WHAT, text)
    }
}

// ---------------------------------------------------------------------------------------------------
// rrddata
// ---------------------------------------------------------------------------------------------------

/// One RRD row. Rows from before the guest existed or while it was off carry only `time`; values are
/// averages over the step, hence floats (bytes/s for the rates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RrdPoint {
    /// Seconds since the epoch (start of the step).
    #[serde(deserialize_with = "de::u64")]
    pub time: u64,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub mem: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxmem: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub disk: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxdisk: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub diskread: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub diskwrite: Option<f64>,
}

pub fn parse_rrddata(text: &str) -> Result<Vec<RrdPoint>, ToolError> {
    owned("pvesh get /nodes/{node}/{type}/{vmid}/rrddata", text)
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    #[test]
    fn vzdump_job_log_gives_each_guest_its_own_verdict() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/demo/commands/tasklog/66AAEC20_vzdump_node.json"
        ))
        .unwrap();
        let lines = parse_task_log(&text).unwrap();
        let r = parse_vzdump_results(&lines);
        assert!(r[&100].ok && r[&101].ok && r[&200].ok, "{r:?}");
        assert_eq!(r[&102].error.as_deref(), Some("VM 102 qmp command 'backup' failed - got timeout"));
        assert_eq!(r[&201].error.as_deref(), Some("CT is locked (backup)"));
        // A guest started but never finished (the worker died) failed too.
        let cut = vec!["INFO: Starting Backup of VM 300 (qemu)".to_string()];
        assert_eq!(parse_vzdump_results(&cut)[&300].error.as_deref(), Some("did not finish"));
        // The single-guest form has the same lines.
        assert!(parse_vzdump_results(&["INFO: Finished Backup of VM 7 (00:00:02)".into()])[&7].ok);
        assert!(parse_task_log("[{\"n\":1}]").unwrap() == vec![String::new()]);
        assert!(parse_task_log("not json").is_err());
    }

    #[test]
    fn replication_status_with_numbers_as_strings_and_a_failing_job() {
        // Shape of PVE/API2/Replication.pm `status` (fields from PVE::ReplicationState).
        let text = r#"[{"comment":"nightly","guest":"100","id":"100-0","jobnum":0,"last_sync":1722470400,"last_try":1722499200,"next_sync":1722502800,"duration":"3.41","fail_count":3,"error":"command 'zfs snapshot' failed: got timeout","schedule":"*/15","source":"pve1","target":"pve2","type":"local","vmtype":"qemu"},{"guest":101,"id":"101-0","jobnum":0,"last_sync":"1722499500","next_sync":1722500400,"duration":1.2,"fail_count":0,"schedule":"*/15","target":"pve2","type":"local","disable":1}]"#;
        let jobs = parse_replication(text).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].guest, 100);
        assert_eq!(jobs[0].duration, Some(3.41));
        assert!(jobs[0].failing());
        assert_eq!(jobs[1].last_sync, Some(1_722_499_500));
        assert!(!jobs[1].failing() && jobs[1].disable);
        assert!(parse_replication("[]").unwrap().is_empty());
    }

    use super::*;

    macro_rules! fixture {
        ($f:literal) => {
            include_str!(concat!("../../tests/fixtures/upstream/pvesh/", $f))
        };
    }
    macro_rules! demo {
        ($f:literal) => {
            include_str!(concat!("../../scenarios/demo/commands/pvesh/", $f))
        };
    }

    fn api(text: &str) -> String {
        unwrap_data(text).unwrap()
    }

    #[test]
    fn argv_shapes() {
        assert_eq!(argv("/version"), ["pvesh", "get", "/version", "--output-format", "json"]);
        assert_eq!(
            rrd_argv("/nodes/pve/qemu/100/rrddata", "hour"),
            ["pvesh", "get", "/nodes/pve/qemu/100/rrddata", "--timeframe", "hour", "--output-format", "json"]
        );
    }

    #[test]
    fn node_status_pve74_with_string_numbers() {
        let s = parse_node_status(&api(fixture!("go-proxmox_api_nodes_node1_status_pve7.4.json"))).unwrap();
        assert_eq!(s.loadavg, vec![0.0, 0.0, 0.0]);
        assert_eq!(s.cpuinfo.model, "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz");
        assert_eq!((s.cpuinfo.cores, s.cpuinfo.sockets, s.cpuinfo.cpus), (Some(4), Some(1), Some(8)));
        assert_eq!(s.cpuinfo.mhz, Some(3400.0));
        assert_eq!(s.memory.total, 65919459328);
        assert_eq!(s.memory.used + s.memory.free, 65919459328);
        assert_eq!(s.swap.total, 0);
        assert_eq!(s.rootfs.avail, Some(937851224064));
        assert_eq!(s.uptime, 2501631);
        assert_eq!(s.pveversion, "pve-manager/7.4-16/0f39f621");
        assert!(s.kversion.starts_with("Linux 5.15.108-1-pve"));
        assert_eq!(s.ksm.shared, 0);
        assert_eq!(s.current_kernel, None);
    }

    #[test]
    fn node_status_demo() {
        let s = parse_node_status(demo!("nodes_status.json")).unwrap();
        assert_eq!(s.loadavg, vec![1.12, 0.98, 0.91]);
        assert_eq!(s.cpuinfo.cpus, Some(32));
        assert_eq!(s.cpuinfo.mhz, Some(2400.0));
        assert_eq!(s.memory.total, 134850146304);
        assert_eq!(s.ksm.shared, 1073741824);
        assert_eq!(s.wait, Some(0.0021));
        assert_eq!(s.current_kernel.unwrap().release, "6.8.8-2-pve");
        assert_eq!(s.boot_info.unwrap(), BootInfo { mode: "efi".into(), secureboot: false });
    }

    #[test]
    fn version_demo() {
        let v = parse_version(demo!("version.json")).unwrap();
        assert_eq!(
            v,
            Version { version: "8.2.4".into(), release: "8.2".into(), repoid: "faa83925c9641325".into() }
        );
    }

    fn count<'a>(guests: impl IntoIterator<Item = &'a Guest>, kind: GuestKind, status: &str) -> usize {
        guests.into_iter().filter(|g| g.kind == kind && g.status == status).count()
    }

    #[test]
    fn cluster_resources_pve74_four_nodes() {
        let r = parse_cluster_resources(&api(fixture!("go-proxmox_api_cluster_resources_pve7_4nodes.json")))
            .unwrap();
        assert_eq!(r.len(), 20);
        let guests: Vec<&Guest> = r.iter().filter_map(ClusterResource::as_guest).collect();
        assert_eq!(guests.len(), 4);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "running"), 1);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "stopped"), 3);
        let templates: Vec<u64> = guests.iter().filter(|g| g.template).map(|g| g.vmid).collect();
        assert_eq!(templates, [101]);
        let g100 = guests.iter().find(|g| g.vmid == 100).unwrap();
        assert_eq!((g100.node.as_str(), g100.name.as_str()), ("node2", "server1"));
        assert_eq!((g100.maxcpu, g100.maxmem, g100.uptime), (1.0, 1073741824, Some(874350)));
        assert_eq!(g100.hastate, None);
        // `+` is a legal tag character (pve-common's tag regex): one tag, not two.
        let g102 = guests.iter().find(|g| g.vmid == 102).unwrap();
        assert_eq!(g102.tags, ["go-proxmox+cloud-init"]);
        let nodes: Vec<&NodeResource> = r.iter().filter_map(ClusterResource::as_node).collect();
        assert_eq!(nodes.len(), 4);
        assert!(nodes.iter().all(|n| n.is_online() && n.cpu.is_some()));
        let storages: Vec<&StorageResource> = r.iter().filter_map(ClusterResource::as_storage).collect();
        assert_eq!(storages.len(), 12);
        let zfs = storages.iter().find(|s| s.node == "node1" && s.storage == "local-zfs").unwrap();
        assert_eq!(zfs.plugintype, "zfspool");
        assert_eq!(zfs.content, ["images", "rootdir"]);
        assert_eq!((zfs.disk, zfs.maxdisk, zfs.shared), (Some(14446702592), Some(955016175616), false));
        assert!(storages.iter().all(|s| s.status == "available"));
    }

    #[test]
    fn cluster_resources_demo() {
        let r = parse_cluster_resources(demo!("cluster_resources.json")).unwrap();
        let guests: Vec<&Guest> = r.iter().filter_map(ClusterResource::as_guest).collect();
        assert_eq!(guests.len(), 12);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "running"), 3);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "paused"), 1);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "stopped"), 3);
        assert_eq!(count(guests.iter().copied(), GuestKind::Lxc, "running"), 3);
        assert_eq!(count(guests.iter().copied(), GuestKind::Lxc, "stopped"), 2);
        let ha = guests.iter().find(|g| g.vmid == 104).unwrap();
        assert_eq!((ha.hastate.as_deref(), ha.status.as_str()), (Some("error"), "stopped"));
        assert_eq!(guests.iter().find(|g| g.vmid == 105).unwrap().lock.as_deref(), Some("snapshot"));
        let lvm =
            r.iter().filter_map(ClusterResource::as_storage).find(|s| s.storage == "local-lvm").unwrap();
        assert_eq!(lvm.plugintype, "lvmthin");
        let pbs =
            r.iter().filter_map(ClusterResource::as_storage).find(|s| s.storage == "pbs-backup").unwrap();
        assert_eq!((pbs.plugintype.as_str(), pbs.shared), ("pbs", true));
        let web = guests.iter().find(|g| g.vmid == 101).unwrap();
        assert_eq!(web.hastate.as_deref(), Some("started"));
        assert_eq!(web.tags, ["prod", "web"]);
        let nc = guests.iter().find(|g| g.vmid == 201).unwrap();
        assert_eq!((nc.kind, nc.lock.as_deref()), (GuestKind::Lxc, Some("backup")));
        assert!(guests.iter().find(|g| g.vmid == 9000).unwrap().template);
        let node = r.iter().find_map(ClusterResource::as_node).unwrap();
        assert_eq!((node.node.as_str(), node.maxcpu, node.mem), ("pve-demo", Some(32.0), Some(61874593792)));
        let nfs =
            r.iter().filter_map(ClusterResource::as_storage).find(|s| s.storage == "backup-nfs").unwrap();
        assert!(nfs.shared);
        assert_eq!(nfs.plugintype, "nfs");
        // The sdn entry is kept by name, not rejected.
        assert!(r.contains(&ClusterResource::Other {
            kind: "sdn".into(),
            id: "sdn/pve-demo/localnetwork".into()
        }));
    }

    #[test]
    fn offline_node_and_inactive_storage_have_no_usage() {
        let text = r#"[{"id":"node/pve2","node":"pve2","status":"offline","type":"node","level":""},
            {"id":"storage/pve1/nas","node":"pve1","storage":"nas","status":"unknown","type":"storage",
             "content":"backup","plugintype":"cifs","shared":1},
            {"id":"pool/lab","pool":"lab","type":"pool"},
            {"id":"qemu/300","vmid":"300","node":"pve2","status":"unknown","type":"qemu","hastate":"fence",
             "pool":"lab","somefuturefield":{"x":1}}]"#;
        let r = parse_cluster_resources(text).unwrap();
        let n = r[0].as_node().unwrap();
        assert!(!n.is_online());
        assert_eq!((n.cpu, n.mem, n.uptime), (None, None, None));
        let s = r[1].as_storage().unwrap();
        assert_eq!((s.disk, s.maxdisk, s.shared), (None, None, true));
        assert_eq!(r[2], ClusterResource::Other { kind: "pool".into(), id: "pool/lab".into() });
        let g = r[3].as_guest().unwrap();
        assert_eq!((g.vmid, g.hastate.as_deref(), g.pool.as_deref()), (300, Some("fence"), Some("lab")));
        assert_eq!((g.uptime, g.mem, g.template), (None, 0, false));
    }

    #[test]
    fn nodes_list() {
        let n = parse_nodes(&api(fixture!("go-proxmox_api_nodes_list.json"))).unwrap();
        assert_eq!(n.len(), 4);
        assert_eq!(n[0].node, "node1");
        assert_eq!((n[0].maxcpu, n[0].level.as_deref()), (Some(12.0), Some("")));
    }

    #[test]
    fn cluster_status_quorate_four_nodes() {
        let s = parse_cluster_status(&api(fixture!("go-proxmox_api_cluster_status_quorate.json"))).unwrap();
        let c = s.cluster.as_ref().unwrap();
        assert_eq!((c.name.as_str(), c.quorate, c.nodes, c.version), ("clustername", true, Some(4), Some(4)));
        assert!(s.quorate());
        assert_eq!(s.nodes.len(), 4);
        assert!(s.nodes.iter().all(|n| n.online));
        let local = s.local_node().unwrap();
        assert_eq!(
            (local.name.as_str(), local.ip.as_deref(), local.nodeid),
            ("node1", Some("192.168.1.1"), Some(1))
        );
    }

    #[test]
    fn cluster_status_standalone_and_lost_quorum() {
        let s = parse_cluster_status(demo!("cluster_status.json")).unwrap();
        assert_eq!(s.cluster, None);
        assert!(s.quorate());
        assert_eq!(s.local_node().unwrap().name, "pve-demo");
        let lost = r#"[{"type":"cluster","id":"cluster","name":"c","quorate":0,"nodes":2,"version":3},
            {"type":"node","id":"node/b","name":"b","online":0,"local":0,"nodeid":2}]"#;
        let s = parse_cluster_status(lost).unwrap();
        assert!(!s.quorate());
        assert!(!s.nodes[0].online);
        assert_eq!(s.nodes[0].ip, None);
    }

    #[test]
    fn lxc_list_with_vmid_as_string() {
        let l = parse_lxc_list(&api(fixture!("go-proxmox_api_nodes_node1_lxc_vmid_as_string.json"))).unwrap();
        assert_eq!(l.iter().map(|g| g.vmid).collect::<Vec<_>>(), [106, 105, 101]);
        assert!(l.iter().all(|g| g.kind == GuestKind::Lxc));
        assert_eq!(count(&l, GuestKind::Lxc, "running"), 2);
        let stopped = &l[2];
        assert!(stopped.template);
        assert_eq!((stopped.pid, stopped.mem, stopped.maxcpu), (None, 0, 1.0));
        assert_eq!(l[0].pid, Some(248173));
        assert!(!l[0].template);
    }

    #[test]
    fn demo_guest_lists() {
        let q = parse_qemu_list(demo!("nodes_qemu.json")).unwrap();
        assert_eq!(q.len(), 7);
        assert_eq!(count(&q, GuestKind::Qemu, "running"), 4);
        assert_eq!(q.iter().filter(|g| g.template).map(|g| g.vmid).collect::<Vec<_>>(), [9000]);
        assert_eq!((q[2].pid, q[4].pid), (None, None));
        assert_eq!(q[2].maxcpu, 8.0);
        assert_eq!(q[4].name, "ha-app");
        let l = parse_lxc_list(demo!("nodes_lxc.json")).unwrap();
        assert_eq!(l.iter().map(|g| g.vmid).collect::<Vec<_>>(), [200, 201, 202, 203, 204]);
        assert_eq!(l[1].lock.as_deref(), Some("backup"));
        assert_eq!(l[2].tags, Vec::<String>::new());
    }

    #[test]
    fn demo_guest_configs() {
        let all = [
            (demo!("nodes_qemu_100_config.json"), "router", true, Some(2048), false),
            (demo!("nodes_qemu_101_config.json"), "web", true, Some(8192), false),
            (demo!("nodes_qemu_102_config.json"), "win11", true, Some(16384), false),
            (demo!("nodes_qemu_9000_config.json"), "debian12-cloud", false, Some(2048), true),
            (demo!("nodes_lxc_200_config.json"), "pihole", true, Some(512), false),
            (demo!("nodes_lxc_201_config.json"), "nextcloud", true, Some(4096), false),
            (demo!("nodes_lxc_202_config.json"), "test", false, Some(1024), false),
            (demo!("nodes_qemu_103_config.json"), "db", true, Some(8192), false),
            (demo!("nodes_qemu_104_config.json"), "ha-app", false, Some(4096), false),
            (demo!("nodes_qemu_105_config.json"), "ci-runner", true, Some(16384), false),
            (demo!("nodes_lxc_203_config.json"), "mail", true, Some(2048), false),
            (demo!("nodes_lxc_204_config.json"), "gitea", true, Some(2048), false),
        ];
        for (text, name, onboot, memory, template) in all {
            let c = parse_guest_config(text).unwrap();
            assert_eq!(c.name.as_deref(), Some(name));
            assert_eq!((c.onboot, c.memory, c.template), (onboot, memory, template), "{name}");
            assert!(c.raw.contains_key("digest"));
        }
        let c = parse_guest_config(demo!("nodes_lxc_201_config.json")).unwrap();
        assert_eq!((c.cores, c.lock.as_deref()), (Some(4), Some("backup")));
        assert_eq!(c.tags, ["cloud", "prod"]);
        assert_eq!(c.raw["features"], "nesting=1");
        let c = parse_guest_config(demo!("nodes_qemu_102_config.json")).unwrap();
        assert_eq!((c.cores, c.sockets), (Some(8), Some(1)));
    }

    #[test]
    fn guest_config_quirks() {
        let c = parse_guest_config(r#"{"memory":"current=4096","onboot":"1","cores":"2","tags":"a,b c"}"#)
            .unwrap();
        assert_eq!((c.memory, c.onboot, c.cores), (Some(4096), true, Some(2)));
        assert_eq!(c.tags, ["a", "b", "c"]);
        let err = parse_guest_config(r#"{"onboot":"maybe"}"#).unwrap_err();
        assert!(err.to_string().contains("onboot"), "{err}");
    }

    #[test]
    fn demo_node_storage() {
        let s = parse_node_storage(demo!("nodes_storage.json")).unwrap();
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|s| s.active && s.enabled));
        assert_eq!((s[3].storage.as_str(), s[3].kind.as_str()), ("local-lvm", "lvmthin"));
        assert_eq!((s[4].storage.as_str(), s[4].kind.as_str(), s[4].shared), ("pbs-backup", "pbs", true));
        let nfs = &s[2];
        assert_eq!((nfs.storage.as_str(), nfs.kind.as_str(), nfs.shared), ("backup-nfs", "nfs", true));
        assert_eq!(
            (nfs.total, nfs.used, nfs.avail),
            (Some(7999376490496), Some(5314782138368), Some(2684594352128))
        );
        assert_eq!(s[0].content, ["iso", "vztmpl", "backup"]);
        let inactive = parse_node_storage(
            r#"[{"storage":"usb","type":"dir","content":"backup","active":0,"enabled":1}]"#,
        )
        .unwrap();
        assert_eq!((inactive[0].active, inactive[0].total), (false, None));
    }

    fn check_upids(tasks: &[Task]) {
        for t in tasks {
            let u = parse_upid(&t.upid).unwrap();
            assert_eq!(
                (
                    u.node.as_str(),
                    u.pid,
                    u.pstart,
                    u.starttime,
                    u.kind.as_str(),
                    u.id.as_str(),
                    u.user.as_str()
                ),
                (
                    t.node.as_str(),
                    t.pid,
                    t.pstart,
                    t.starttime,
                    t.kind.as_str(),
                    t.id.as_str(),
                    t.user.as_str()
                ),
                "{}",
                t.upid
            );
        }
    }

    #[test]
    fn tasks_demo_with_failed_vzdump() {
        let t = parse_tasks(demo!("nodes_tasks.json")).unwrap();
        assert_eq!(t.len(), 15);
        check_upids(&t);
        let failed: Vec<&Task> = t.iter().filter(|t| t.outcome().is_failed()).collect();
        assert_eq!(failed.len(), 2);
        // A per-guest backup (id = vmid) to the full PBS datastore, then the nightly job run.
        assert_eq!((failed[0].kind.as_str(), failed[0].id.as_str()), ("vzdump", "104"));
        assert_eq!((failed[1].kind.as_str(), failed[1].endtime), ("vzdump", Some(1722479443)));
        assert_eq!(failed[1].outcome(), TaskOutcome::Failed("job errors".into()));
        assert_eq!(t.iter().filter(|t| t.outcome() == TaskOutcome::Ok).count(), 13);
        assert!(t.iter().any(|t| t.kind == "vzdump" && t.id == "204" && t.outcome() == TaskOutcome::Ok));
    }

    #[test]
    fn tasks_ha_core_vzdump_ok() {
        let t = parse_tasks(fixture!("ha-core_nodes_pve1_tasks_vzdump_ok.json")).unwrap();
        assert_eq!(t.len(), 1);
        check_upids(&t);
        assert_eq!(t[0].outcome(), TaskOutcome::Ok);
        let u = parse_upid(&t[0].upid).unwrap();
        assert_eq!(
            u,
            Upid {
                node: "pve1".into(),
                pid: 2146406,
                pstart: 70119940,
                starttime: 1774350000,
                kind: "vzdump".into(),
                id: String::new(),
                user: "root@pam".into(),
            }
        );
    }

    #[test]
    fn upid_with_object_id_and_bad_upids() {
        let u = parse_upid("UPID:pve-demo:002C2921:073CED5D:66AB3F56:vncproxy:100:root@pam:").unwrap();
        assert_eq!(
            (u.pid, u.starttime, u.kind.as_str(), u.id.as_str()),
            (2894113, 1722498902, "vncproxy", "100")
        );
        for bad in ["", "UPID:pve:1:2:3:type:id:user", "UPID:pve:zz:2:3:t:i:u:", "TASK:pve:1:2:3:t:i:u:"] {
            let err = parse_upid(bad).unwrap_err();
            assert!(matches!(err, ToolError::Parse { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn task_status_classes() {
        assert_eq!(classify_task_status(Some("OK")), TaskOutcome::Ok);
        assert_eq!(classify_task_status(Some("WARNINGS: 3")), TaskOutcome::Warnings(3));
        assert_eq!(classify_task_status(None), TaskOutcome::Running);
        assert_eq!(classify_task_status(Some("RUNNING")), TaskOutcome::Running);
        assert_eq!(classify_task_status(Some("job errors")), TaskOutcome::Failed("job errors".into()));
        assert!(classify_task_status(Some("unexpected status")).is_failed());
        // A running task as listed with source=active: no endtime, no status.
        let t = parse_tasks(
            r#"[{"upid":"UPID:n:00000001:00000002:00000003:vzdump::root@pam:","node":"n",
            "pid":1,"pstart":2,"starttime":3,"type":"vzdump","id":"","user":"root@pam"}]"#,
        )
        .unwrap();
        assert_eq!((t[0].endtime, t[0].outcome()), (None, TaskOutcome::Running));
    }

    #[test]
    fn demo_backup_jobs() {
        let j = parse_backup_jobs(demo!("cluster_backup.json")).unwrap();
        assert_eq!(j.len(), 2);
        assert_eq!(j[0].vmids, [100, 101, 200, 201]);
        assert_eq!((j[0].schedule.as_deref(), j[0].storage.as_deref()), (Some("02:00"), Some("backup-nfs")));
        assert_eq!((j[0].enabled, j[0].all, j[0].mode.as_deref()), (true, false, Some("snapshot")));
        assert_eq!(j[0].next_run, Some(1722564000));
        assert!(j[0].covers(201, None) && !j[0].covers(202, None));
        assert_eq!((j[1].enabled, j[1].vmids.as_slice()), (false, &[102][..]));
        assert_eq!(j[1].next_run, None);
        let all = parse_backup_jobs(
            r#"[{"id":"b","all":1,"exclude":"100, 101","schedule":"sat 01:00","type":"vzdump"},
                {"id":"p","pool":"lab","vmid":105,"enabled":"0"}]"#,
        )
        .unwrap();
        assert!(all[0].enabled && all[0].all);
        assert_eq!(all[0].exclude, [100, 101]);
        assert!(all[0].covers(102, None) && !all[0].covers(101, None));
        assert!(!all[1].enabled && all[1].covers(300, Some("lab")) && !all[1].covers(300, None));
    }

    #[test]
    fn demo_disks() {
        let d = parse_disks(demo!("nodes_disks_list.json")).unwrap();
        assert_eq!(d.len(), 8);
        assert_eq!(d.iter().filter(|d| d.kind == DiskType::Hdd).count(), 4);
        assert_eq!(d[1].wearout, Some(10), "sdb is wearing out");
        let hdd = &d[2];
        assert_eq!((hdd.devpath.as_str(), hdd.wearout, hdd.rpm), ("/dev/sdc", None, Some(7200)));
        assert_eq!(hdd.used.as_deref(), Some("ZFS"));
        assert_eq!((d[0].wearout, d[0].kind, d[0].gpt), (Some(99), DiskType::Ssd, true));
        let nvme = &d[7];
        assert_eq!((nvme.kind, nvme.wearout, nvme.osdid), (DiskType::Nvme, Some(100), Some(-1)));
        assert_eq!(nvme.health.as_deref(), Some("PASSED"));
    }

    #[test]
    fn pve_storage_disklists() {
        let ssd = parse_disks(fixture!("pve-storage_disklist_ssd_wearout_expected.json")).unwrap();
        assert_eq!(ssd.len(), 5);
        assert!(ssd.iter().all(|d| d.kind == DiskType::Ssd && d.rpm == Some(0)));
        // Wearout arrives as a string ("97") from Diskmanage.
        let wear: Vec<Option<u64>> = ssd.iter().map(|d| d.wearout).collect();
        assert_eq!(wear, [Some(100), Some(97), Some(99), Some(100), Some(91)]);
        assert_eq!(ssd[1].model.as_deref(), Some("INTEL_SSDSC2BB080G6"));

        let usages = parse_disks(fixture!("pve-storage_disklist_usages_expected.json")).unwrap();
        assert_eq!(usages.len(), 14);
        assert!(usages.iter().all(|d| d.wearout.is_none() && d.health.as_deref() == Some("UNKNOWN")));
        let by = |dev: &str| usages.iter().find(|d| d.devpath == dev).unwrap();
        assert_eq!(by("/dev/sdf").osdid, Some(444)); // "444" as a string
        assert_eq!(by("/dev/sde").used.as_deref(), Some("Device Mapper"));
        assert!(!by("/dev/sdn").gpt);
        let unknown =
            parse_disks(r#"[{"devpath":"/dev/sdz","type":"tape","size":"1024","wearout":"N/A"}]"#).unwrap();
        assert_eq!((unknown[0].kind, unknown[0].size, unknown[0].wearout), (DiskType::Unknown, 1024, None));
    }

    #[test]
    fn rrddata_rows_may_hold_only_time() {
        let text = r#"[{"time":1722500000},
            {"time":1722500060,"cpu":0.0213,"maxcpu":2,"mem":1288490188.5,"maxmem":2147483648,
             "netin":1523.4,"netout":"998.1","diskread":0,"diskwrite":40960,"disk":0,"maxdisk":17179869184}]"#;
        let r = parse_rrddata(text).unwrap();
        assert_eq!(
            r[0],
            RrdPoint {
                time: 1722500000,
                cpu: None,
                maxcpu: None,
                mem: None,
                maxmem: None,
                disk: None,
                maxdisk: None,
                netin: None,
                netout: None,
                diskread: None,
                diskwrite: None
            }
        );
        assert_eq!((r[1].cpu, r[1].netout, r[1].diskwrite), (Some(0.0213), Some(998.1), Some(40960.0)));
    }

    #[test]
    fn lenient_scalars() {
        use de::Scalar;
        assert_eq!(Scalar::S(" 106 ".into()).to_u64(), Ok(Some(106)));
        assert_eq!(Scalar::S("3400.000".into()).to_f64(), Ok(Some(3400.0)));
        assert_eq!(Scalar::F(12.0).to_u64(), Ok(Some(12)));
        assert_eq!(Scalar::U(u64::MAX).to_u64(), Ok(Some(u64::MAX)));
        assert!(Scalar::I(-1).to_u64().is_err());
        assert!(Scalar::S("abc".into()).to_u64().is_err());
        assert_eq!(Scalar::S("".into()).to_u64(), Ok(None));
        assert_eq!(Scalar::S("1".into()).to_bool(), Ok(Some(true)));
        assert_eq!(Scalar::B(false).to_bool(), Ok(Some(false)));
        assert_eq!(Scalar::U(0).to_bool(), Ok(Some(false)));
        assert!(Scalar::S("maybe".into()).to_bool().is_err());
    }

    #[test]
    fn api_fixture_without_envelope_is_an_error() {
        let err = unwrap_data("[1,2]").unwrap_err();
        assert!(matches!(err, ToolError::Parse { .. }), "{err}");
        assert_eq!(unwrap_data(r#"{"data":[{"a":1}]}"#).unwrap(), r#"[{"a":1}]"#);
    }

    #[test]
    fn malformed_json_names_endpoint_and_line() {
        let err = parse_cluster_resources("[\n{\"type\":\"qemu\",\"vmid\":100},\n{\"type\":\"node\",,}\n]")
            .unwrap_err();
        let ToolError::Parse { what, line, text, .. } = &err else { panic!("{err}") };
        assert_eq!((what.as_str(), *line), ("pvesh get /cluster/resources", 3));
        assert!(text.contains(",,"), "{text}");
        // A wrong type inside an entry names the entry.
        let err = parse_cluster_resources(r#"[{"type":"qemu","id":"qemu/7","vmid":"seven"}]"#).unwrap_err();
        assert!(err.to_string().contains("qemu/7") && err.to_string().contains("seven"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        // Truncated one-line pvesh output (killed on timeout).
        let full = demo!("nodes_tasks.json");
        let err = parse_tasks(&full[..full.len() / 2]).unwrap_err();
        assert!(matches!(err, ToolError::Parse { line: 1, .. }), "{err}");
        assert!(parse_node_status("").is_err());
        assert!(parse_version("not json").unwrap_err().to_string().contains("pvesh get /version"));
    }
}
