//! The health monitor's vocabulary, shared by the rules (`rules/`), the cycle and persistence
//! (`mod.rs`, `store.rs`) and the API: categories, severities, findings, thresholds and the
//! snapshots the rules read.
//!
//! A rule is a pure function `fn(&Snapshots, &Thresholds, now_ms) -> Vec<Finding>`: it reads what the
//! other workers already hold and never touches the host.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The ten categories, in their fixed display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HealthCategoryId"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HealthCategoryId"))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Cpu,
    Memory,
    Storage,
    Disks,
    Guests,
    Network,
    Services,
    Logs,
    Updates,
    Security,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Cpu,
        Category::Memory,
        Category::Storage,
        Category::Disks,
        Category::Guests,
        Category::Network,
        Category::Services,
        Category::Logs,
        Category::Updates,
        Category::Security,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Category::Cpu => "cpu",
            Category::Memory => "memory",
            Category::Storage => "storage",
            Category::Disks => "disks",
            Category::Guests => "guests",
            Category::Network => "network",
            Category::Services => "services",
            Category::Logs => "logs",
            Category::Updates => "updates",
            Category::Security => "security",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Category::Cpu => "CPU & temperature",
            Category::Memory => "Memory",
            Category::Storage => "Storage",
            Category::Disks => "Disks",
            Category::Guests => "VMs & CTs",
            Category::Network => "Network",
            Category::Services => "PVE services",
            Category::Logs => "Logs",
            Category::Updates => "Updates & backups",
            Category::Security => "Security & power",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.id() == s)
    }
}

/// Ordered from best to worst, so `max()` is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    Info,
    Unknown,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Unknown => "unknown",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Ok, Severity::Info, Severity::Unknown, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What a rule reports about one object. Rules return findings for problems *and* `Ok` findings
/// for the checks they made that passed (so the UI can list each check with its reason); only
/// non-`Ok` findings are persisted as active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identity, `<check>:<object>`, e.g. `zfs_pool:tank`, `smart:/dev/sdb`,
    /// `guest_onboot_stopped:104`. The same condition on the same object always has the same key.
    pub key: String,
    pub category: Category,
    /// The check this finding belongs to (the part of `key` before the first `:`), e.g. `zfs_pool`.
    pub check: String,
    pub severity: Severity,
    /// One line naming the object and the numbers: "pool tank is DEGRADED (1 of 3 devices faulted)".
    pub reason: String,
    /// Structured details (values, thresholds, the object).
    #[serde(default)]
    pub details: serde_json::Value,
    /// What the finding is about, for exclusions: `("storage"|"interface"|"disk"|"guest", id)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<(ObjectKind, String)>,
}

impl Finding {
    /// A finding whose `check` is derived from `key`.
    pub fn new(
        category: Category,
        key: impl Into<String>,
        severity: Severity,
        reason: impl Into<String>,
    ) -> Finding {
        let key = key.into();
        let check = key.split(':').next().unwrap_or(&key).to_string();
        Finding {
            key,
            category,
            check,
            severity,
            reason: reason.into(),
            details: serde_json::Value::Null,
            object: None,
        }
    }
    pub fn details(mut self, details: serde_json::Value) -> Finding {
        self.details = details;
        self
    }
    pub fn object(mut self, kind: ObjectKind, id: impl Into<String>) -> Finding {
        self.object = Some((kind, id.into()));
        self
    }
}

/// The kinds of object an exclusion can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Storage,
    Interface,
    Disk,
    Guest,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 4] =
        [ObjectKind::Storage, ObjectKind::Interface, ObjectKind::Disk, ObjectKind::Guest];

    /// The name stored in the database and served by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Storage => "storage",
            ObjectKind::Interface => "interface",
            ObjectKind::Disk => "disk",
            ObjectKind::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One configurable threshold. Every threshold a rule reads must be declared here, with its range:
/// the API validates writes against it and shows the default beside the value.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ThresholdDef {
    /// e.g. `cpu.warning_pct`.
    pub key: &'static str,
    pub category: Category,
    pub label: &'static str,
    pub unit: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
}

/// The effective thresholds: declared defaults overridden by the admin's values.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    pub overrides: HashMap<String, f64>,
}

impl Thresholds {
    /// The value for `key`: the override, else the declared default. An undeclared key is a bug in a
    /// rule; it answers NaN so that comparisons are false (no alert) and a test catches it.
    pub fn get(&self, key: &str) -> f64 {
        if let Some(v) = self.overrides.get(key) {
            return *v;
        }
        super::thresholds::THRESHOLDS.iter().find(|d| d.key == key).map(|d| d.default).unwrap_or(f64::NAN)
    }
}

/// The state of a source a rule reads: rules yield `Unknown` for a source that is not `Ok`, and
/// the cycle only shows `Unknown` after three consecutive cycles of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Source<T> {
    Ok { data: T },
    Unavailable { reason: String },
}

/// The part of a vitals sample the sustained-window rules read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RecentPoint {
    /// Unix ms.
    pub ts: i64,
    /// Seconds the sample covers.
    pub interval_s: f64,
    pub cpu_busy: f64,
}

impl RecentPoint {
    pub fn of(s: &crate::model::Sample) -> RecentPoint {
        RecentPoint { ts: s.ts, interval_s: s.interval_s, cpu_busy: s.cpu.total.busy }
    }
}

/// Everything the rules read, assembled by the cycle from the workers' snapshots.
#[derive(Clone, Default)]
pub struct Snapshots {
    pub now_ms: i64,
    /// When proxwatch started (unix ms): rules for transient states honour the startup grace.
    pub started_ms: i64,
    /// The startup grace (`health.startup_grace_s`) in ms; see [`Snapshots::in_startup_grace`].
    pub grace_ms: i64,
    pub vitals: Option<Arc<crate::model::LiveSample>>,
    /// Recent vitals (oldest first, a few minutes) for sustained windows, kept compact: a whole
    /// sample per second for five minutes would cost about a megabyte.
    pub recent: Vec<RecentPoint>,
    pub identity: Option<Arc<crate::model::Identity>>,
    pub inventory: Arc<crate::model::inventory::Inventory>,
    pub network: Arc<crate::model::network::NetworkSnapshot>,
    pub hardware: Arc<crate::model::hardware::HardwareSnapshot>,
    pub ups: Arc<crate::model::ups::UpsSnapshot>,
    pub gpu: Arc<crate::model::gpu::GpuSnapshot>,
    /// Facts the health collector gathers for rules only (apt, services, certificates, time sync,
    /// journal patterns, failed logins).
    pub facts: Arc<super::facts::Facts>,
    /// The service monitors' states, by id.
    pub monitors: crate::model::monitor::MonitorStates,
    /// The fleet's peers.
    pub fleet: crate::model::fleet::Peers,
    /// The Docker agents.
    pub agents: crate::model::docker::Agents,
    /// Active (non-ok) findings from the previous evaluation by key, for hysteresis and growth.
    pub previous: BTreeMap<String, Finding>,
}

impl Snapshots {
    /// Whether `now` is within the startup grace: rules do not alert on transient states (services
    /// starting, guests booting) then.
    pub fn in_startup_grace(&self, now: i64) -> bool {
        now < self.started_ms.saturating_add(self.grace_ms)
    }
}

/// A rule: a pure function over the snapshots. The cycle runs every rule, isolating panics (a rule
/// that panics yields `Unknown` for each of its `checks`, and the rest of the cycle completes).
#[derive(Clone, Copy)]
pub struct Rule {
    /// e.g. `cpu_usage`.
    pub id: &'static str,
    pub category: Category,
    /// The checks (`Finding::check` values) this rule reports, with a human label each, so that the
    /// UI lists every check of a category even when it found nothing.
    pub checks: &'static [(&'static str, &'static str)],
    /// Fast rules (CPU, memory, temperature, UPS) also run on every fresh vitals sample.
    pub fast: bool,
    pub run: fn(&Snapshots, &Thresholds, i64) -> Vec<Finding>,
}
