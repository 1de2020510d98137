//! The notification engine: every event proxwatch sees (a health finding changing, a backup failing,
//! a login from a new address, a PVE notification) reaches the channels the admin chose, once, and
//! nothing is lost on the way.
//!
//! The pipeline, one file per stage:
//! - [`catalog`]: every event type with its stable id, group, default on/off, severity and template;
//! - [`sources`]: turn the health outbox, the inventory's tasks, journal hits, auth events, the PVE
//!   webhook and proxwatch's own lifecycle into [`Event`]s;
//! - [`route`]: the pure routing decision for one event on one channel (toggles, severity, cooldown,
//!   quiet hours, digest, burst aggregation);
//! - [`store`]: the durable tables: events, the per-(event, channel) outbox written in the same
//!   transaction as the routing decision, cooldowns, windows, cursors, channel settings (secrets
//!   sealed with `auth::seal`);
//! - [`template`]: the text of a message (short or full, per language);
//! - [`ai`] and [`redact`]: the optional rewrite, with redaction before any cloud provider;
//! - [`channels`]: one file per channel behind [`channels::Channel`];
//! - [`engine`]: intake and housekeeping in one loop, and one delivery worker per channel so a dead
//!   channel delays only itself.
//!
//! The engine takes narrow handles (the DB, the health bus's event receiver, the inventory receiver,
//! the sealing keys), never the `App`.

pub mod ai;
pub mod catalog;
pub mod channels;
pub mod engine;
pub mod redact;
pub mod route;
pub mod run;
pub mod settings;
pub mod sources;
pub mod store;
pub mod template;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How bad an event is. PVE's `notice` maps to info, `error` to critical, `unknown` to info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifySeverity"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifySeverity"))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// The groups events are toggled by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyGroup"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyGroup"))]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Health,
    Backups,
    Guests,
    Security,
    System,
    Hardware,
    Storage,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::Health,
        Group::Backups,
        Group::Guests,
        Group::Security,
        Group::System,
        Group::Hardware,
        Group::Storage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Health => "health",
            Group::Backups => "backups",
            Group::Guests => "guests",
            Group::Security => "security",
            Group::System => "system",
            Group::Hardware => "hardware",
            Group::Storage => "storage",
        }
    }

    pub fn parse(s: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// One thing that happened, as a source reports it, before routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The catalog id (`health.new`, `backup.failed`, ...): picks the group, defaults and template.
    pub kind: String,
    /// Stable identity of this occurrence: the same occurrence seen twice (a restart, a re-read
    /// source, a PVE retry) has the same fingerprint and is taken once.
    pub fingerprint: String,
    /// What the cooldown counts repeats of (e.g. `oom.kill:vm/101`): the same condition again.
    pub cooldown_key: String,
    /// When it happened, unix ms.
    pub ts_ms: i64,
    /// Normally the catalog's default; a source may raise or lower it (a backup with warnings).
    pub severity: Severity,
    /// The template's variables (`object`, `reason`, `duration`, `guests`, ...). `hostname` is added
    /// by the engine.
    pub fields: BTreeMap<String, String>,
    /// The proxwatch page this event is about (an SPA path: `/storage/disks/sdb`), if any.
    pub link: Option<String>,
}

impl Event {
    /// An event of `kind` at the catalog's default severity (an unknown kind is info).
    pub fn new(
        kind: &str,
        fingerprint: impl Into<String>,
        cooldown_key: impl Into<String>,
        ts_ms: i64,
    ) -> Event {
        let severity = catalog::find(kind).map(|d| d.severity).unwrap_or(Severity::Info);
        Event {
            kind: kind.to_string(),
            fingerprint: fingerprint.into(),
            cooldown_key: cooldown_key.into(),
            ts_ms,
            severity,
            fields: BTreeMap::new(),
            link: None,
        }
    }

    /// The proxwatch page it is about, in a builder chain.
    pub fn linked(mut self, path: impl Into<String>) -> Event {
        self.link = Some(path.into());
        self
    }

    pub fn field(mut self, k: &str, v: impl Into<String>) -> Event {
        self.fields.insert(k.to_string(), v.into());
        self
    }
}

/// What a channel delivers: the rendered (and maybe rewritten) text plus the event's facts, so a
/// channel can add its own structure (an embed's colour, a priority, a JSON body).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub title: String,
    /// Plain text, lines separated by `\n`. Channels escape it for their markup.
    pub body: String,
    pub severity: Severity,
    pub kind: String,
    pub group: Group,
    /// Stable across retries and restarts: the idempotency key where a channel has one.
    pub fingerprint: String,
    pub ts_ms: i64,
    pub hostname: String,
    pub fields: BTreeMap<String, String>,
    /// Absolute URL of the proxwatch page about it, when the public URL is known.
    pub url: Option<String>,
}
