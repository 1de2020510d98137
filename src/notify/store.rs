//! The engine's tables (migration `0007_notify.sql`): channels with their secrets sealed apart,
//! global settings, events taken in once per fingerprint, the per-(event, channel) outbox that is
//! also the history, cooldowns, burst windows and source cursors. Every function takes a connection
//! (or a transaction) so the engine decides what is atomic: an event, its routing decisions and the
//! cooldown/window updates are one transaction.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::catalog::{self, EventDef};
use super::channels::ChannelConfig;
use super::route::{self, Decision, Suppressed};
use super::settings::{Global, Routing};
use super::{Event, Group, Severity};
use crate::auth::seal::Keys;

/// What a masked secret reads as; sent back unchanged, it keeps the stored value.
pub const MASK: &str = "********";
/// Lines listed in one summary at most; the rest are counted.
const SUMMARY_LINES: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Internal(e.into())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// Channels

/// A channel as the engine uses it (secrets open).
#[derive(Clone)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub config: ChannelConfig,
    pub routing: Routing,
    pub needs_attention: bool,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel({} {} {:?})", self.id, self.name, self.config)
    }
}

/// A channel as the API shows it: secrets masked, with its delivery status.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyChannel"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyChannel"))]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    /// The config with every secret field masked (`********`) when set.
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub config: Value,
    pub routing: Routing,
    /// Unix seconds.
    pub last_sent: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub needs_attention: bool,
    /// Messages waiting in its queue (pending or retrying).
    pub queued: i64,
    /// When the head of its queue is retried next (unix seconds), if it is waiting.
    pub retry_at: Option<i64>,
}

/// What the API sends to create or change a channel. `config` holds `kind` and the kind's fields.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyChannelInput"))]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    #[cfg_attr(test, schemars(length(min = 1, max = 64)))]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[cfg_attr(test, schemars(with = "ChannelConfig"))]
    pub config: Value,
    #[serde(default)]
    pub routing: Routing,
}

fn yes() -> bool {
    true
}

fn kind_of(config: &Value) -> Result<String> {
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
    if ChannelConfig::KINDS.contains(&kind) {
        Ok(kind.to_string())
    } else {
        Err(StoreError::Invalid(format!(
            "config.kind: `{kind}` is not one of {}",
            ChannelConfig::KINDS.join(", ")
        )))
    }
}

/// Splits a config object into its plain part and its secret fields.
fn split(kind: &str, config: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let mut plain = config.as_object().cloned().unwrap_or_default();
    let mut secret = Map::new();
    for &k in ChannelConfig::secret_fields(kind) {
        if let Some(v) = plain.remove(k) {
            secret.insert(k.to_string(), v);
        }
    }
    (plain, secret)
}

fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

/// The config with every set secret replaced by [`MASK`].
pub fn mask(kind: &str, config: &Value) -> Value {
    let mut v = config.clone();
    if let Some(o) = v.as_object_mut() {
        for &k in ChannelConfig::secret_fields(kind) {
            if let Some(x) = o.get_mut(k) {
                if is_set(x) {
                    *x = Value::String(MASK.into());
                }
            }
        }
    }
    v
}

fn seal(keys: &Keys, secret: &Map<String, Value>) -> Result<Option<Vec<u8>>> {
    if secret.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_vec(secret).map_err(anyhow::Error::from)?;
    Ok(Some(keys.seal(&text)?))
}

fn unseal(keys: &Keys, sealed: Option<Vec<u8>>) -> Result<Map<String, Value>> {
    let Some(sealed) = sealed else { return Ok(Map::new()) };
    let plain = keys.open(&sealed)?;
    Ok(serde_json::from_slice(&plain).map_err(anyhow::Error::from)?)
}

struct RawChannel {
    id: i64,
    name: String,
    kind: String,
    enabled: bool,
    config: String,
    secrets: Option<Vec<u8>>,
    routing: String,
    last_sent: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    needs_attention: bool,
}

const CHANNEL_COLS: &str = "id, name, kind, enabled, config, secrets, routing, last_sent, last_error, last_error_at, needs_attention";

fn raw(r: &rusqlite::Row) -> rusqlite::Result<RawChannel> {
    Ok(RawChannel {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        enabled: r.get(3)?,
        config: r.get(4)?,
        secrets: r.get(5)?,
        routing: r.get(6)?,
        last_sent: r.get(7)?,
        last_error: r.get(8)?,
        last_error_at: r.get(9)?,
        needs_attention: r.get(10)?,
    })
}

impl RawChannel {
    /// The full config (plain + secrets).
    fn full(&self, keys: &Keys) -> Result<Value> {
        let mut plain: Map<String, Value> =
            serde_json::from_str(&self.config).map_err(anyhow::Error::from)?;
        plain.extend(unseal(keys, self.secrets.clone())?);
        Ok(Value::Object(plain))
    }

    fn channel(&self, keys: &Keys) -> Result<Channel> {
        let config: ChannelConfig = serde_json::from_value(self.full(keys)?).map_err(|e| {
            anyhow::anyhow!("channel {} ({}) has an unreadable config: {e}", self.id, self.name)
        })?;
        let routing: Routing = serde_json::from_str(&self.routing).map_err(anyhow::Error::from)?;
        Ok(Channel {
            id: self.id,
            name: self.name.clone(),
            enabled: self.enabled,
            config,
            routing,
            needs_attention: self.needs_attention,
        })
    }
}

fn raw_channels(conn: &Connection, id: Option<i64>) -> Result<Vec<RawChannel>> {
    let sql = format!("SELECT {CHANNEL_COLS} FROM notify_channels WHERE ?1 IS NULL OR id = ?1 ORDER BY id");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([id], raw)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Every channel, secrets open. A channel whose config cannot be read (a key file replaced) is
/// logged and left out rather than stopping the others.
pub fn channels(conn: &Connection, keys: &Keys) -> Result<Vec<Channel>> {
    let mut out = Vec::new();
    for r in raw_channels(conn, None)? {
        match r.channel(keys) {
            Ok(c) => out.push(c),
            Err(e) => tracing::error!(channel = r.id, error = %e, "notification channel unreadable"),
        }
    }
    Ok(out)
}

pub fn channel(conn: &Connection, keys: &Keys, id: i64) -> Result<Channel> {
    let r = raw_channels(conn, Some(id))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("no channel {id}")))?;
    r.channel(keys)
}

pub fn views(conn: &Connection, keys: &Keys) -> Result<Vec<ChannelView>> {
    let mut out = Vec::new();
    for r in raw_channels(conn, None)? {
        out.push(view(conn, keys, &r)?);
    }
    Ok(out)
}

pub fn channel_view(conn: &Connection, keys: &Keys, id: i64) -> Result<ChannelView> {
    let r = raw_channels(conn, Some(id))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("no channel {id}")))?;
    view(conn, keys, &r)
}

fn view(conn: &Connection, keys: &Keys, r: &RawChannel) -> Result<ChannelView> {
    let full = r.full(keys).unwrap_or_else(|_| serde_json::from_str(&r.config).unwrap_or(Value::Null));
    let (queued, retry_at): (i64, Option<i64>) = conn.query_row(
        "SELECT COUNT(*), MIN(CASE WHEN status = 'retrying' THEN next_at END) FROM notify_outbox
         WHERE channel_id = ?1 AND status IN ('pending', 'retrying', 'sending')",
        [r.id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(ChannelView {
        id: r.id,
        name: r.name.clone(),
        kind: r.kind.clone(),
        enabled: r.enabled,
        config: mask(&r.kind, &full),
        routing: serde_json::from_str(&r.routing).unwrap_or_default(),
        last_sent: r.last_sent.map(|t| t / 1000),
        last_error: r.last_error.clone(),
        last_error_at: r.last_error_at.map(|t| t / 1000),
        needs_attention: r.needs_attention,
        queued,
        retry_at: retry_at.map(|t| t / 1000),
    })
}

fn check_name(name: &str) -> Result<()> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(StoreError::Invalid("name: 1 to 64 printable characters".into()));
    }
    Ok(())
}

/// Validates the full config (with its secrets) as the kind's struct.
fn parse_config(full: &Value) -> Result<ChannelConfig> {
    let config: ChannelConfig =
        serde_json::from_value(full.clone()).map_err(|e| StoreError::Invalid(format!("config: {e}")))?;
    config.validate().map_err(|e| StoreError::Invalid(format!("config: {e}")))?;
    Ok(config)
}

/// At most this many channels.
pub const MAX_CHANNELS: i64 = 32;

pub fn create_channel(conn: &Connection, keys: &Keys, input: &ChannelInput, now: i64) -> Result<i64> {
    check_name(&input.name)?;
    let kind = kind_of(&input.config)?;
    if input.config.as_object().is_some_and(|o| o.values().any(|v| v.as_str() == Some(MASK))) {
        return Err(StoreError::Invalid(
            "config: a new channel has no stored secret to keep: send the value".into(),
        ));
    }
    parse_config(&input.config)?;
    input.routing.validate().map_err(StoreError::Invalid)?;
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM notify_channels", [], |r| r.get(0))?;
    if n >= MAX_CHANNELS {
        return Err(StoreError::Invalid(format!("at most {MAX_CHANNELS} channels")));
    }
    let (plain, secret) = split(&kind, &input.config);
    conn.execute(
        "INSERT INTO notify_channels (name, kind, enabled, config, secrets, routing, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            input.name.trim(),
            kind,
            input.enabled,
            Value::Object(plain).to_string(),
            seal(keys, &secret)?,
            serde_json::to_string(&input.routing).map_err(anyhow::Error::from)?,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Changes a channel. A secret field left out or sent back masked keeps its stored value. The
/// channel's "needs attention" is cleared and messages that failed permanently are queued again:
/// the admin fixed what was wrong, so nothing is lost.
pub fn update_channel(conn: &Connection, keys: &Keys, id: i64, input: &ChannelInput, now: i64) -> Result<()> {
    check_name(&input.name)?;
    let r = raw_channels(conn, Some(id))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("no channel {id}")))?;
    let kind = kind_of(&input.config)?;
    if kind != r.kind {
        return Err(StoreError::Invalid(format!(
            "config.kind: a {} channel cannot become {kind}; add a new one",
            r.kind
        )));
    }
    let old = r.full(keys)?;
    let mut full = input.config.as_object().cloned().unwrap_or_default();
    for &k in ChannelConfig::secret_fields(&kind) {
        let keep = match full.get(k) {
            None => true,
            Some(v) => v.as_str() == Some(MASK),
        };
        if keep {
            match old.get(k) {
                Some(v) => full.insert(k.to_string(), v.clone()),
                None => full.remove(k),
            };
        }
    }
    let full = Value::Object(full);
    parse_config(&full)?;
    input.routing.validate().map_err(StoreError::Invalid)?;
    let (plain, secret) = split(&kind, &full);
    conn.execute(
        "UPDATE notify_channels SET name = ?2, enabled = ?3, config = ?4, secrets = ?5, routing = ?6, updated = ?7,
         needs_attention = 0 WHERE id = ?1",
        params![
            id,
            input.name.trim(),
            input.enabled,
            Value::Object(plain).to_string(),
            seal(keys, &secret)?,
            serde_json::to_string(&input.routing).map_err(anyhow::Error::from)?,
            now
        ],
    )?;
    requeue_failed(conn, id, now)?;
    Ok(())
}

/// Messages that failed permanently go back into the queue (the channel was fixed). A failed test
/// stays failed: it answered the admin at the time.
pub fn requeue_failed(conn: &Connection, id: i64, now: i64) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE notify_outbox SET status = 'pending', next_at = ?2, reason = 'queued again after the channel was changed'
         WHERE channel_id = ?1 AND status = 'failed'
           AND event_id NOT IN (SELECT id FROM notify_events WHERE kind = 'system.test')",
        params![id, now],
    )?)
}

/// Deletes a channel; what was still queued for it is marked expired (kept in the history).
pub fn delete_channel(conn: &Connection, id: i64) -> Result<()> {
    let n = conn.execute("DELETE FROM notify_channels WHERE id = ?1", [id])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no channel {id}")));
    }
    conn.execute(
        "UPDATE notify_outbox SET status = 'expired', reason = 'channel deleted'
         WHERE channel_id = ?1 AND status IN ('pending', 'retrying', 'sending', 'held', 'digest')",
        [id],
    )?;
    conn.execute("DELETE FROM notify_cooldowns WHERE channel_id = ?1", [id])?;
    conn.execute("DELETE FROM notify_windows WHERE channel_id = ?1", [id])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Settings and cursors

pub fn global(conn: &Connection) -> Result<Global> {
    Ok(get_json(conn, "global")?.unwrap_or_default())
}

pub fn set_global(conn: &Connection, g: &Global) -> Result<()> {
    g.validate().map_err(StoreError::Invalid)?;
    set_json(conn, "global", g)
}

pub fn get_json<T: DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM notify_settings WHERE key = ?1", [key], |r| r.get(0))
        .optional()?
        .flatten();
    match v {
        None => Ok(None),
        Some(s) => Ok(Some(serde_json::from_str(&s).map_err(|e| anyhow::anyhow!("setting {key}: {e}"))?)),
    }
}

pub fn set_json<T: Serialize>(conn: &Connection, key: &str, v: &T) -> Result<()> {
    let text = serde_json::to_string(v).map_err(anyhow::Error::from)?;
    conn.execute(
        "INSERT INTO notify_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        params![key, text],
    )?;
    Ok(())
}

/// A sealed setting (an AI key, the PVE webhook secret).
pub fn get_sealed(conn: &Connection, keys: &Keys, key: &str) -> Result<Option<String>> {
    let v: Option<Vec<u8>> = conn
        .query_row("SELECT sealed FROM notify_settings WHERE key = ?1", [key], |r| r.get(0))
        .optional()?
        .flatten();
    match v {
        None => Ok(None),
        Some(b) => Ok(Some(String::from_utf8(keys.open(&b)?).map_err(anyhow::Error::from)?)),
    }
}

pub fn set_sealed(conn: &Connection, keys: &Keys, key: &str, value: Option<&str>) -> Result<()> {
    let sealed = value.map(|v| keys.seal(v.as_bytes())).transpose()?;
    conn.execute(
        "INSERT INTO notify_settings (key, sealed) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET sealed = ?2",
        params![key, sealed],
    )?;
    Ok(())
}

pub fn cursor<T: DeserializeOwned>(conn: &Connection, source: &str) -> Result<Option<T>> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM notify_cursors WHERE source = ?1", [source], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|s| serde_json::from_str(&s).ok()))
}

pub fn set_cursor<T: Serialize>(conn: &Connection, source: &str, v: &T) -> Result<()> {
    let text = serde_json::to_string(v).map_err(anyhow::Error::from)?;
    conn.execute(
        // An unchanged cursor writes nothing (an idle engine polls its sources every minute).
        "INSERT INTO notify_cursors (source, value) VALUES (?1, ?2)
         ON CONFLICT (source) DO UPDATE SET value = ?2 WHERE value IS NOT ?2",
        params![source, text],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Intake: event + routing decisions + cooldowns/windows, in the caller's transaction

/// What taking in one event did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Taken {
    pub event_id: i64,
    /// Channels with a new message to send now (wake their workers).
    pub wake: Vec<i64>,
}

/// Takes in one event: `None` when its fingerprint was taken before (a duplicate). `only` routes it
/// to one channel (a test message).
pub fn intake(
    conn: &Connection,
    ev: &Event,
    channels: &[Channel],
    global: &Global,
    tz: &jiff::tz::TimeZone,
    now: i64,
    only: Option<i64>,
) -> Result<Option<Taken>> {
    let def = catalog::find(&ev.kind).ok_or_else(|| anyhow::anyhow!("unknown event kind {}", ev.kind))?;
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO notify_events (fingerprint, kind, grp, severity, ts, received, cooldown_key, fields, link)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            ev.fingerprint,
            ev.kind,
            def.group.as_str(),
            ev.severity.as_str(),
            ev.ts_ms,
            now,
            ev.cooldown_key,
            serde_json::to_string(&ev.fields).map_err(anyhow::Error::from)?,
            ev.link
        ])?;
    if n == 0 {
        return Ok(None);
    }
    let event_id = conn.last_insert_rowid();
    let mut taken = Taken { event_id, wake: Vec::new() };
    for ch in channels.iter().filter(|c| only.is_none_or(|id| id == c.id)) {
        let last_sent: Option<i64> = conn
            .prepare_cached("SELECT last_sent FROM notify_cooldowns WHERE channel_id = ?1 AND key = ?2")?
            .query_row(params![ch.id, ev.cooldown_key], |r| r.get(0))
            .optional()?;
        let window: Option<(i64, u32)> = conn
            .prepare_cached("SELECT started, sent FROM notify_windows WHERE channel_id = ?1 AND grp = ?2")?
            .query_row(params![ch.id, def.group.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let decision = if only.is_some() {
            Decision::Send
        } else {
            route::decide(&route::Input {
                event: ev,
                def,
                enabled: ch.enabled,
                routing: &ch.routing,
                global,
                tz,
                state: route::State { last_sent, window },
                now,
            })
        };
        let (status, next_at, reason): (&str, Option<i64>, Option<String>) = match &decision {
            Decision::Send => ("pending", Some(now), None),
            Decision::Hold { until } => ("held", Some(*until), Some("quiet hours".into())),
            Decision::Digest { at } => ("digest", Some(*at), Some("for the daily digest".into())),
            Decision::Aggregate { until } => ("aggregated", Some(*until), Some("burst".into())),
            Decision::Suppress(s) => ("suppressed", None, Some(s.describe())),
        };
        conn.prepare_cached(
            "INSERT INTO notify_outbox (event_id, channel_id, status, reason, created, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![event_id, ch.id, status, reason, now, next_at])?;
        if !ev.cooldown_key.is_empty() && only.is_none() {
            match &decision {
                Decision::Suppress(Suppressed::Cooldown { .. }) => {
                    conn.prepare_cached(
                        "UPDATE notify_cooldowns SET repeats = repeats + 1 WHERE channel_id = ?1 AND key = ?2",
                    )?
                    .execute(params![ch.id, ev.cooldown_key])?;
                }
                Decision::Suppress(_) => {}
                _ => {
                    conn.prepare_cached(
                        "INSERT INTO notify_cooldowns (channel_id, key, last_sent, repeats) VALUES (?1, ?2, ?3, 0)
                         ON CONFLICT (channel_id, key) DO UPDATE SET last_sent = ?3, repeats = 0",
                    )?
                    .execute(params![ch.id, ev.cooldown_key, now])?;
                }
            }
        }
        if decision == Decision::Send && only.is_none() && !def.internal {
            let end = window.map(|(s, _)| s + i64::from(global.burst_window_s) * 1000);
            if end.is_some_and(|e| now < e) {
                conn.prepare_cached(
                    "UPDATE notify_windows SET sent = sent + 1 WHERE channel_id = ?1 AND grp = ?2",
                )?
                .execute(params![ch.id, def.group.as_str()])?;
            } else {
                conn.prepare_cached(
                    "INSERT INTO notify_windows (channel_id, grp, started, sent) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (channel_id, grp) DO UPDATE SET started = ?3, sent = 1",
                )?
                .execute(params![ch.id, def.group.as_str(), now])?;
            }
        }
        if decision == Decision::Send {
            taken.wake.push(ch.id);
        }
    }
    Ok(Some(taken))
}

// ---------------------------------------------------------------------------------------------
// The queue

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub fingerprint: String,
    pub kind: String,
    pub group: Group,
    pub severity: Severity,
    pub ts: i64,
    pub fields: BTreeMap<String, String>,
    pub link: Option<String>,
}

/// The head of a channel's queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub id: i64,
    pub channel_id: i64,
    pub status: String,
    pub created: i64,
    pub next_at: i64,
    pub attempts: i64,
    /// The text once rendered (kept so a retry sends the same words).
    pub title: Option<String>,
    pub body: Option<String>,
    pub ai_title: Option<String>,
    pub ai_body: Option<String>,
    pub event: StoredEvent,
}

const QUEUED_COLS: &str =
    "o.id, o.channel_id, o.status, o.created, o.next_at, o.attempts, o.title, o.body, o.ai_title,
    o.ai_body, e.id, e.fingerprint, e.kind, e.grp, e.severity, e.ts, e.fields, e.link";

fn queued(r: &rusqlite::Row) -> rusqlite::Result<Queued> {
    let grp: String = r.get(13)?;
    let sev: String = r.get(14)?;
    let fields: String = r.get(16)?;
    Ok(Queued {
        id: r.get(0)?,
        channel_id: r.get(1)?,
        status: r.get(2)?,
        created: r.get(3)?,
        next_at: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
        attempts: r.get(5)?,
        title: r.get(6)?,
        body: r.get(7)?,
        ai_title: r.get(8)?,
        ai_body: r.get(9)?,
        event: StoredEvent {
            id: r.get(10)?,
            fingerprint: r.get(11)?,
            kind: r.get(12)?,
            group: Group::parse(&grp).unwrap_or(Group::System),
            severity: Severity::parse(&sev).unwrap_or(Severity::Info),
            ts: r.get(15)?,
            fields: serde_json::from_str(&fields).unwrap_or_default(),
            link: r.get(17)?,
        },
    })
}

/// The oldest message the channel still has to deliver (in order: a waiting head holds the rest).
pub fn head(conn: &Connection, channel_id: i64) -> Result<Option<Queued>> {
    let sql = format!(
        "SELECT {QUEUED_COLS} FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id
         WHERE o.channel_id = ?1 AND o.status IN ('pending', 'retrying', 'sending') ORDER BY o.id LIMIT 1"
    );
    Ok(conn.query_row(&sql, [channel_id], queued).optional()?)
}

pub fn queued_row(conn: &Connection, id: i64) -> Result<Queued> {
    let sql = format!(
        "SELECT {QUEUED_COLS} FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id WHERE o.id = ?1"
    );
    conn.query_row(&sql, [id], queued)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no message {id}")))
}

/// The AI's part of a message, for the history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AiRecord {
    pub title: Option<String>,
    pub body: Option<String>,
    pub provider: Option<String>,
    pub latency_ms: Option<i64>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub error: Option<String>,
}

/// Stores the rendered text (and the AI's rewrite) before the first attempt.
pub fn set_text(conn: &Connection, id: i64, title: &str, body: &str, ai: &AiRecord) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET title = ?2, body = ?3, ai_title = ?4, ai_body = ?5, ai_provider = ?6,
         ai_latency_ms = ?7, ai_tokens_in = ?8, ai_tokens_out = ?9, ai_error = ?10 WHERE id = ?1",
        params![
            id,
            title,
            body,
            ai.title,
            ai.body,
            ai.provider,
            ai.latency_ms,
            ai.tokens_in,
            ai.tokens_out,
            ai.error
        ],
    )?;
    Ok(())
}

/// Durably marks an attempt as under way before the channel is called: after a crash the row is
/// retried (at least once), never forgotten.
pub fn mark_sending(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET status = 'sending', attempts = attempts + 1, next_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn mark_sent(conn: &Connection, q: &Queued, now: i64, reply: &str) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET status = 'sent', sent_at = ?2, reply = ?3, error = NULL, next_at = NULL WHERE id = ?1",
        params![q.id, now, reply],
    )?;
    conn.execute(
        "UPDATE notify_channels SET last_sent = ?2, needs_attention = 0 WHERE id = ?1",
        params![q.channel_id, now],
    )?;
    Ok(())
}

pub fn mark_retry(conn: &Connection, q: &Queued, now: i64, next_at: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET status = 'retrying', next_at = ?2, error = ?3 WHERE id = ?1",
        params![q.id, next_at, error],
    )?;
    conn.execute(
        "UPDATE notify_channels SET last_error = ?2, last_error_at = ?3 WHERE id = ?1",
        params![q.channel_id, error, now],
    )?;
    Ok(())
}

/// A permanent error: this message stops, the channel needs attention (its queue waits).
pub fn mark_failed(conn: &Connection, q: &Queued, now: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET status = 'failed', next_at = NULL, error = ?2 WHERE id = ?1",
        params![q.id, error],
    )?;
    conn.execute(
        "UPDATE notify_channels SET last_error = ?2, last_error_at = ?3, needs_attention = 1 WHERE id = ?1",
        params![q.channel_id, error, now],
    )?;
    Ok(())
}

pub fn mark_expired(conn: &Connection, id: i64, reason: &str) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET status = 'expired', next_at = NULL, reason = ?2 WHERE id = ?1",
        params![id, reason],
    )?;
    Ok(())
}

/// The earliest time anything waits for: a retry, a held message, a burst window or digest row.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(next_at) FROM notify_outbox WHERE status IN ('retrying', 'held', 'digest', 'aggregated')
         AND aggregated_into IS NULL AND next_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

// ---------------------------------------------------------------------------------------------
// Summaries: bursts, quiet hours, digests

struct Member {
    id: i64,
    title: String,
    severity: String,
    ts: i64,
}

fn members(
    conn: &Connection,
    channel: i64,
    status: &str,
    grp: Option<&str>,
    now: i64,
) -> Result<Vec<Member>> {
    let mut st = conn.prepare_cached(
        "SELECT o.id, e.kind, e.fields, e.severity, e.ts FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id
         WHERE o.channel_id = ?1 AND o.status = ?2 AND o.aggregated_into IS NULL AND o.next_at <= ?3
           AND (?4 IS NULL OR e.grp = ?4)
         ORDER BY o.id",
    )?;
    let rows = st
        .query_map(params![channel, status, now, grp], |r| {
            let kind: String = r.get(1)?;
            let fields: String = r.get(2)?;
            let fields: BTreeMap<String, String> = serde_json::from_str(&fields).unwrap_or_default();
            let (title, _) = super::template::render(&kind, "en", super::template::Detail::Short, &fields);
            Ok(Member { id: r.get(0)?, title, severity: r.get(3)?, ts: r.get(4)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn lines(ms: &[Member], tz: &jiff::tz::TimeZone) -> String {
    let mut out: Vec<String> = ms
        .iter()
        .take(SUMMARY_LINES)
        .map(|m| {
            let at = jiff::Timestamp::from_millisecond(m.ts)
                .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M").to_string())
                .unwrap_or_default();
            format!("• {at} [{}] {}", m.severity, m.title)
        })
        .collect();
    if ms.len() > SUMMARY_LINES {
        out.push(format!("… and {} more (see the history)", ms.len() - SUMMARY_LINES));
    }
    out.join("\n")
}

/// Creates one summary event with its single outbox row and links the members to it.
/// One summary message to write: its kind, identity, severity, fields, and the rows it stands for.
struct Summary<'a> {
    kind: &'static str,
    fingerprint: String,
    severity: Severity,
    fields: BTreeMap<String, String>,
    members: &'a [i64],
    reason: &'static str,
}

fn summarize(conn: &Connection, channel: i64, s: Summary, now: i64) -> Result<i64> {
    let Summary { kind, fingerprint, severity, fields, members: member_ids, reason } = s;
    let def = catalog::find(kind).ok_or_else(|| anyhow::anyhow!("unknown summary kind {kind}"))?;
    conn.execute(
        "INSERT OR IGNORE INTO notify_events (fingerprint, kind, grp, severity, ts, received, cooldown_key, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, '', ?6)",
        params![
            fingerprint,
            kind,
            def.group.as_str(),
            severity.as_str(),
            now,
            serde_json::to_string(&fields).map_err(anyhow::Error::from)?
        ],
    )?;
    let event_id: i64 =
        conn.query_row("SELECT id FROM notify_events WHERE fingerprint = ?1", [&fingerprint], |r| r.get(0))?;
    conn.execute(
        "INSERT OR IGNORE INTO notify_outbox (event_id, channel_id, status, created, next_at) VALUES (?1, ?2, 'pending', ?3, ?3)",
        params![event_id, channel, now],
    )?;
    let out_id: i64 = conn.query_row(
        "SELECT id FROM notify_outbox WHERE event_id = ?1 AND channel_id = ?2",
        params![event_id, channel],
        |r| r.get(0),
    )?;
    for id in member_ids {
        conn.execute(
            "UPDATE notify_outbox SET status = 'aggregated', aggregated_into = ?2, reason = ?3 WHERE id = ?1",
            params![id, out_id, reason],
        )?;
    }
    Ok(out_id)
}

fn worst(conn: &Connection, ids: &[i64]) -> Severity {
    let mut w = Severity::Info;
    for id in ids {
        let s: Option<String> = conn
            .query_row(
                "SELECT e.severity FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id WHERE o.id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        if let Some(s) = s.as_deref().and_then(Severity::parse) {
            w = w.max(s);
        }
    }
    w
}

/// Closes what is due at `now`: burst windows that ended, quiet hours that ended, digests whose time
/// came. Returns the channels that got a message to send.
pub fn close_due(
    conn: &Connection,
    channels: &[Channel],
    global: &Global,
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> Result<Vec<i64>> {
    let mut wake = Vec::new();
    for ch in channels {
        // Bursts, per group.
        for g in Group::ALL {
            let ms = members(conn, ch.id, "aggregated", Some(g.as_str()), now)?;
            if ms.is_empty() {
                continue;
            }
            let ids: Vec<i64> = ms.iter().map(|m| m.id).collect();
            let fields = BTreeMap::from([
                ("count".to_string(), ms.len().to_string()),
                ("group".to_string(), g.as_str().to_string()),
                ("window".to_string(), format!("{} min", global.burst_window_s.div_ceil(60))),
                ("lines".to_string(), lines(&ms, tz)),
            ]);
            let sev = worst(conn, &ids);
            summarize(
                conn,
                ch.id,
                Summary {
                    kind: "summary.burst",
                    fingerprint: format!("summary:burst:{}:{}", ch.id, ids[0]),
                    severity: sev,
                    fields,
                    members: &ids,
                    reason: "burst",
                },
                now,
            )?;
            wake.push(ch.id);
        }
        // Quiet hours that ended: one message goes as itself, more as one summary.
        let ms = members(conn, ch.id, "held", None, now)?;
        if ms.len() == 1 {
            conn.execute(
                "UPDATE notify_outbox SET status = 'pending', next_at = ?2, reason = 'held for quiet hours' WHERE id = ?1",
                params![ms[0].id, now],
            )?;
            wake.push(ch.id);
        } else if !ms.is_empty() {
            let ids: Vec<i64> = ms.iter().map(|m| m.id).collect();
            let fields = BTreeMap::from([
                ("count".to_string(), ms.len().to_string()),
                ("lines".to_string(), lines(&ms, tz)),
            ]);
            let sev = worst(conn, &ids);
            summarize(
                conn,
                ch.id,
                Summary {
                    kind: "summary.quiet",
                    fingerprint: format!("summary:quiet:{}:{}", ch.id, ids[0]),
                    severity: sev,
                    fields,
                    members: &ids,
                    reason: "quiet hours",
                },
                now,
            )?;
            wake.push(ch.id);
        }
        // The digest.
        if let Some(minute) = ch.routing.digest.as_deref().and_then(super::settings::parse_hhmm) {
            let key = format!("digest:{}", ch.id);
            let last: Option<i64> = cursor(conn, &key)?;
            let Some(last) = last else {
                set_cursor(conn, &key, &now)?;
                continue;
            };
            let due = super::settings::Local(tz).next_at(last, minute).is_some_and(|at| at <= now);
            if due {
                let ms = members(conn, ch.id, "digest", None, i64::MAX)?;
                let open = open_findings(conn)?;
                if !ms.is_empty() || !open.is_empty() {
                    let ids: Vec<i64> = ms.iter().map(|m| m.id).collect();
                    let fields = BTreeMap::from([
                        ("count".to_string(), ms.len().to_string()),
                        (
                            "lines".to_string(),
                            if ms.is_empty() { "(no events)".into() } else { lines(&ms, tz) },
                        ),
                        (
                            "open".to_string(),
                            if open.is_empty() { "nothing".into() } else { format!("\n{}", open.join("\n")) },
                        ),
                    ]);
                    summarize(
                        conn,
                        ch.id,
                        Summary {
                            kind: "summary.digest",
                            fingerprint: format!("summary:digest:{}:{now}", ch.id),
                            severity: Severity::Info,
                            fields,
                            members: &ids,
                            reason: "digest",
                        },
                        now,
                    )?;
                    wake.push(ch.id);
                }
                set_cursor(conn, &key, &now)?;
            }
        }
    }
    wake.sort_unstable();
    wake.dedup();
    Ok(wake)
}

/// The active health findings, worst first, one line each (for the digest).
fn open_findings(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT severity, reason FROM health_findings WHERE state = 'active'
         ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, first_seen LIMIT 21",
    )?;
    let mut v: Vec<String> = st
        .query_map([], |r| Ok(format!("• [{}] {}", r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if v.len() > 20 {
        v.truncate(20);
        v.push("… and more on the Health page".into());
    }
    Ok(v)
}

/// Marks undelivered messages older than the maximum age expired, and applies retention (age and
/// row cap). Returns (expired, deleted events).
pub fn housekeeping(conn: &Connection, global: &Global, now: i64) -> Result<(usize, usize)> {
    let max_age = i64::from(global.max_age_h) * 3_600_000;
    let expired = conn.execute(
        "UPDATE notify_outbox SET status = 'expired', next_at = NULL,
           reason = 'undelivered after ' || ?2 || ' h: ' || COALESCE(error, 'no attempt succeeded')
         WHERE status IN ('pending', 'retrying', 'sending', 'failed') AND created < ?1
           AND NOT (status = 'failed' AND event_id IN (SELECT id FROM notify_events WHERE kind = 'system.test'))",
        params![now - max_age, global.max_age_h],
    )?;
    let cutoff = now - i64::from(global.retention_days) * 86_400_000;
    let mut deleted = conn.execute(
        "DELETE FROM notify_events WHERE received < ?1 AND NOT EXISTS (SELECT 1 FROM notify_outbox o WHERE o.event_id = notify_events.id
           AND o.status IN ('pending', 'retrying', 'sending', 'held', 'digest'))",
        [cutoff],
    )?;
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM notify_outbox", [], |r| r.get(0))?;
    let excess = rows - i64::from(global.max_rows);
    if excess > 0 {
        let last: Option<i64> = conn
            .query_row(
                "SELECT event_id FROM notify_outbox ORDER BY id LIMIT 1 OFFSET ?1",
                [excess - 1],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(last) = last {
            deleted += conn.execute(
                "DELETE FROM notify_events WHERE id <= ?1 AND NOT EXISTS (SELECT 1 FROM notify_outbox o WHERE o.event_id = notify_events.id
                   AND o.status IN ('pending', 'retrying', 'sending', 'held', 'digest'))",
                [last],
            )?;
        }
    }
    let week = 7 * 86_400_000;
    conn.execute("DELETE FROM notify_cooldowns WHERE last_sent < ?1", [now - week])?;
    conn.execute("DELETE FROM notify_windows WHERE started < ?1", [now - week])?;
    Ok((expired, deleted))
}

// ---------------------------------------------------------------------------------------------
// History

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFilter {
    pub event: Option<String>,
    pub channel: Option<i64>,
    pub status: Option<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Page: rows older than this row id.
    pub before: Option<i64>,
    pub limit: Option<usize>,
}

pub const STATUSES: &[&str] = &[
    "pending",
    "sending",
    "retrying",
    "sent",
    "held",
    "digest",
    "aggregated",
    "suppressed",
    "failed",
    "expired",
];

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyHistoryRow"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyHistoryRow"))]
pub struct HistoryRow {
    pub id: i64,
    /// When the event happened, unix seconds.
    pub ts: i64,
    pub kind: String,
    pub group: String,
    pub severity: String,
    pub fingerprint: String,
    pub channel_id: i64,
    pub channel: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    /// Unix seconds: the next try (retrying), or when a held message goes out.
    pub next_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub error: Option<String>,
    pub reply: Option<String>,
    /// The summary message (row id) this one went out in.
    pub aggregated_into: Option<i64>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub ai_title: Option<String>,
    pub ai_body: Option<String>,
    pub ai_provider: Option<String>,
    pub ai_latency_ms: Option<i64>,
    pub ai_tokens_in: Option<i64>,
    pub ai_tokens_out: Option<i64>,
    pub ai_error: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub link: Option<String>,
}

pub fn history(conn: &Connection, f: &HistoryFilter, admin: bool) -> Result<Vec<HistoryRow>> {
    if let Some(s) = &f.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(StoreError::Invalid(format!("status: `{s}` is not one of {}", STATUSES.join(", "))));
        }
    }
    let hidden: Vec<&str> = if admin {
        Vec::new()
    } else {
        catalog::CATALOG.iter().filter(|d| d.admins_only).map(|d| d.id).collect()
    };
    let hidden = serde_json::to_string(&hidden).map_err(anyhow::Error::from)?;
    let limit = f.limit.unwrap_or(100).clamp(1, 500) as i64;
    let mut st = conn.prepare(
        "SELECT o.id, e.ts, e.kind, e.grp, e.severity, e.fingerprint, o.channel_id, c.name, o.status, o.reason, o.attempts,
                o.next_at, o.sent_at, o.error, o.reply, o.aggregated_into, o.title, o.body, o.ai_title, o.ai_body,
                o.ai_provider, o.ai_latency_ms, o.ai_tokens_in, o.ai_tokens_out, o.ai_error, e.fields, e.link
         FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id LEFT JOIN notify_channels c ON c.id = o.channel_id
         WHERE (?1 IS NULL OR e.kind = ?1) AND (?2 IS NULL OR o.channel_id = ?2) AND (?3 IS NULL OR o.status = ?3)
           AND (?4 IS NULL OR e.ts >= ?4 * 1000) AND (?5 IS NULL OR e.ts < ?5 * 1000) AND (?6 IS NULL OR o.id < ?6)
           AND e.kind NOT IN (SELECT value FROM json_each(?7))
         ORDER BY o.id DESC LIMIT ?8",
    )?;
    let rows = st
        .query_map(params![f.event, f.channel, f.status, f.since, f.until, f.before, hidden, limit], |r| {
            let fields: String = r.get(25)?;
            Ok(HistoryRow {
                id: r.get(0)?,
                ts: r.get::<_, i64>(1)? / 1000,
                kind: r.get(2)?,
                group: r.get(3)?,
                severity: r.get(4)?,
                fingerprint: r.get(5)?,
                channel_id: r.get(6)?,
                channel: r.get(7)?,
                status: r.get(8)?,
                reason: r.get(9)?,
                attempts: r.get(10)?,
                next_at: r.get::<_, Option<i64>>(11)?.map(|t| t / 1000),
                sent_at: r.get::<_, Option<i64>>(12)?.map(|t| t / 1000),
                error: r.get(13)?,
                reply: r.get(14)?,
                aggregated_into: r.get(15)?,
                title: r.get(16)?,
                body: r.get(17)?,
                ai_title: r.get(18)?,
                ai_body: r.get(19)?,
                ai_provider: r.get(20)?,
                ai_latency_ms: r.get(21)?,
                ai_tokens_in: r.get(22)?,
                ai_tokens_out: r.get(23)?,
                ai_error: r.get(24)?,
                fields: serde_json::from_str(&fields).unwrap_or_default(),
                link: r.get(26)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Does the event def exist and is it routable (used by the API's matrix).
pub fn routable(def: &EventDef) -> bool {
    !def.internal
}

pub fn channel_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut st = conn.prepare("SELECT id FROM notify_channels ORDER BY id")?;
    let ids = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(ids)
}
