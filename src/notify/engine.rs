//! The engine: intake and housekeeping in one loop, delivery in one worker per channel.
//!
//! - **Intake** takes events from every source, routes each on every channel and writes the event,
//!   its outbox rows and the cooldown/window updates in one transaction (the health outbox's rows are
//!   marked delivered in that same transaction: exactly once from health into notify).
//! - **Delivery**: each channel's worker sends its queue's head, in order. Before the channel is
//!   called the row is durably marked `sending`; after a crash it is sent again (at least once, with
//!   the fingerprint as the idempotency key where the channel has one). A retryable error backs off
//!   exponentially with jitter (and honours the service's `retry_after`); a permanent one stops the
//!   channel until the admin changes it; a message older than the maximum age is marked expired.
//! - **Housekeeping** closes burst windows, quiet hours and digests when due, and applies retention.
//!
//! Everything takes the time from the [`Clock`], so tests drive it with `step`/`deliver` and a
//! manual clock (no sleeps). An idle engine wakes once a minute (for the polled sources); a worker
//! with an empty queue sleeps until it is woken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;
use tokio::sync::Notify;

use super::channels::{ChannelConfig, Ctx, SendError};
use super::settings::Global;
use super::store::{self, AiRecord, Channel, Queued};
use super::template;
use super::{Event, Message, Severity, catalog};
use crate::auth::seal::Keys;
use crate::db::Db;
use crate::host::Host;
use crate::model::Clock;

/// The first retry waits this long; each further one doubles, up to [`BACKOFF_MAX_MS`].
pub const BACKOFF_BASE_MS: i64 = 10_000;
pub const BACKOFF_MAX_MS: i64 = 30 * 60_000;
/// Health events moved into the engine per transaction.
const HEALTH_BATCH: usize = 500;

/// Interactive calls out (tests, install) running at once at most.
pub const PROBES: usize = 2;

/// What one delivery step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing queued.
    Idle,
    /// The channel needs attention or is disabled: its queue waits.
    Paused,
    /// The head waits until then (a retry's time, or the rate limit).
    Wait(i64),
    Sent {
        id: i64,
        reply: String,
    },
    Retry {
        id: i64,
        at: i64,
        error: String,
    },
    Failed {
        id: i64,
        error: String,
    },
    Expired {
        id: i64,
    },
}

/// The answer of "Send test".
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyTestResult"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyTestResult"))]
pub struct TestResult {
    pub ok: bool,
    /// The channel's reply on success.
    pub reply: Option<String>,
    /// The exact error otherwise.
    pub error: Option<String>,
    /// The history row of the test message.
    pub message_id: i64,
}

struct Bucket {
    tokens: f64,
    at: i64,
}

pub struct Engine {
    pub db: Db,
    keys: Keys,
    ctx: Ctx,
    pub clock: Clock,
    host: Arc<Host>,
    hostname: Mutex<String>,
    /// Per channel: its worker's wake-up.
    wakes: Mutex<HashMap<i64, Arc<Notify>>>,
    /// Asks the intake loop to run now (settings changed, a channel added).
    pub wake: Notify,
    buckets: Mutex<HashMap<i64, Bucket>>,
    /// Passes of the intake loop and delivery steps so far (how often the engine woke up).
    pub passes: std::sync::atomic::AtomicU64,
    pub deliveries: std::sync::atomic::AtomicU64,
    /// Interactive calls out (Send test, the AI test, the PVE install) at once at most: each holds
    /// a connection to a third party for up to its timeout.
    probes: tokio::sync::Semaphore,
    /// PVE webhook requests refused for their secret, and when that was last logged (unix ms).
    pve_refused: std::sync::atomic::AtomicU64,
    pve_refused_logged: std::sync::atomic::AtomicI64,
    last_housekeeping: Mutex<Option<i64>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("notify::Engine")
    }
}

fn severity_of(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

/// A health outbox event as a notification event.
pub fn from_health(e: &crate::health::store::Event) -> Option<Event> {
    use crate::health::store::EventKind;
    let kind = match e.kind {
        EventKind::New => "health.new",
        EventKind::Escalated => "health.escalated",
        EventKind::Deescalated => "health.deescalated",
        EventKind::Resolved => "health.resolved",
        _ => return None,
    };
    // A service monitor's finding: the monitors notify about it themselves (`monitor.down`, with
    // the service's details), once.
    if e.key.starts_with("monitor_down:") {
        return None;
    }
    let sev = severity_of(e.severity.as_str());
    let object = e.key.split_once(':').map(|(_, o)| o).unwrap_or(&e.key).to_string();
    let mut ev = Event::new(kind, format!("health:{}", e.fingerprint), format!("{kind}:{}", e.key), e.ts)
        .field("key", e.key.clone())
        .field("object", object)
        .field("reason", e.reason.clone())
        .field("category", e.category.name())
        .field("severity", e.severity.as_str())
        .field(
            "severity_word",
            match sev {
                Severity::Critical => "Critical",
                Severity::Warning => "Warning",
                Severity::Info => "Notice",
            },
        );
    ev.severity = if kind == "health.resolved" { Severity::Info } else { sev };
    if let Some(p) = e.previous_severity {
        ev = ev.field("previous", p.as_str());
    }
    if let Some(d) = e.duration_s {
        ev = ev.field("duration", super::sources::duration(d.max(0) as u64));
    }
    ev.link = Some("/health".into());
    Some(ev)
}

impl Engine {
    pub fn new(db: Db, keys: Keys, ctx: Ctx, clock: Clock, host: Arc<Host>) -> Arc<Engine> {
        Arc::new(Engine {
            db,
            keys,
            ctx,
            clock,
            host,
            hostname: Mutex::new(String::new()),
            wakes: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            buckets: Mutex::new(HashMap::new()),
            passes: Default::default(),
            deliveries: Default::default(),
            probes: tokio::sync::Semaphore::new(PROBES),
            pve_refused: Default::default(),
            pve_refused_logged: Default::default(),
            last_housekeeping: Mutex::new(None),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn set_hostname(&self, name: &str) {
        if let Ok(mut h) = self.hostname.lock() {
            if *h != name {
                *h = name.to_string();
            }
        }
    }

    pub fn hostname(&self) -> String {
        self.hostname.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The wake-up of a channel's worker (created on first use).
    pub fn channel_wake(&self, id: i64) -> Arc<Notify> {
        let mut w = self.wakes.lock().unwrap_or_else(|e| e.into_inner());
        w.entry(id).or_insert_with(|| Arc::new(Notify::new())).clone()
    }

    fn wake_channels(&self, ids: &[i64]) {
        for &id in ids {
            self.channel_wake(id).notify_one();
        }
    }

    /// Takes in events from a source: each new fingerprint is routed on every channel, in one
    /// transaction with its decisions. Returns how many were new.
    pub async fn take(&self, events: Vec<Event>) -> anyhow::Result<usize> {
        if events.is_empty() {
            return Ok(0);
        }
        self.take_via(move |_, _| Ok(events)).await
    }

    /// Gathers events inside the intake transaction (a source that reads or marks rows of the same
    /// database: its reads, its cursor and the events' routing commit together) and takes them in.
    async fn take_via<F>(&self, gather: F) -> anyhow::Result<usize>
    where
        F: FnOnce(&Connection, i64) -> anyhow::Result<Vec<Event>> + Send + 'static,
    {
        let keys = self.keys.clone();
        let now = self.clock.now_ms();
        let hostname = self.hostname();
        let (n, wake) = self
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                let events = gather(&tx, now)?;
                let r = Self::take_in(&tx, &keys, events, &hostname, now)?;
                tx.commit()?;
                Ok(r)
            })
            .await?;
        self.wake_channels(&wake);
        Ok(n)
    }

    fn take_in(
        conn: &Connection,
        keys: &Keys,
        events: Vec<Event>,
        hostname: &str,
        now: i64,
    ) -> anyhow::Result<(usize, Vec<i64>)> {
        if events.is_empty() {
            // The common idle pass: no channel to unseal, no settings to read.
            return Ok((0, Vec::new()));
        }
        let channels = store::channels(conn, keys)?;
        let global = store::global(conn)?;
        let tz = global.tz();
        let (mut n, mut wake) = (0, Vec::new());
        for mut ev in events {
            if catalog::find(&ev.kind).is_none() {
                tracing::warn!(kind = %ev.kind, "event of an unknown kind dropped by the source mapping");
                continue;
            }
            if !hostname.is_empty() {
                ev.fields.entry("hostname".into()).or_insert_with(|| hostname.to_string());
            }
            if let Some(t) = store::intake(conn, &ev, &channels, &global, &tz, now, None)? {
                n += 1;
                wake.extend(t.wake);
            }
        }
        wake.sort_unstable();
        wake.dedup();
        Ok((n, wake))
    }

    /// Moves the health outbox's undelivered events into the engine, marking them delivered in the
    /// same transaction (so each is taken exactly once).
    pub async fn take_health(&self) -> anyhow::Result<usize> {
        self.take_via(|tx, now| {
            let pending = crate::health::store::undelivered(tx, HEALTH_BATCH)?;
            for e in &pending {
                tx.execute(
                    "UPDATE health_events SET delivered_at = ?2, claimed_by = 'notify' WHERE id = ?1",
                    rusqlite::params![e.id, now],
                )?;
            }
            Ok(pending.iter().filter_map(from_health).collect())
        })
        .await
    }

    /// Closes bursts, quiet hours and digests that are due. Returns the time of the next thing it
    /// waits for (if any).
    pub async fn maintain(&self) -> anyhow::Result<Option<i64>> {
        let keys = self.keys.clone();
        let now = self.clock.now_ms();
        let (wake, next) = self
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                let channels = store::channels(&tx, &keys)?;
                let global = store::global(&tx)?;
                let wake = store::close_due(&tx, &channels, &global, &global.tz(), now)?;
                let next = store::next_due(&tx)?;
                tx.commit()?;
                Ok((wake, next))
            })
            .await?;
        self.wake_channels(&wake);
        Ok(next)
    }

    /// Expiry of undelivered messages past the maximum age, and retention (age and row cap).
    pub async fn housekeeping(&self) -> anyhow::Result<(usize, usize)> {
        let now = self.clock.now_ms();
        let (expired, deleted) = self
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                let global = store::global(&tx)?;
                let r = store::housekeeping(&tx, &global, now)?;
                tx.commit()?;
                Ok(r)
            })
            .await?;
        if expired > 0 {
            tracing::warn!(expired, "notifications expired undelivered (see the history)");
        }
        if deleted > 0 {
            tracing::debug!(deleted, "notification history pruned");
        }
        Ok((expired, deleted))
    }

    /// [`Engine::maintain`] every call, [`Engine::housekeeping`] at most once per `period`.
    pub async fn maintain_every(&self, period: Duration) -> anyhow::Result<Option<i64>> {
        let now = self.clock.now_ms();
        let due = {
            let mut last = self.last_housekeeping.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| now - t >= period.as_millis() as i64);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            self.housekeeping().await?;
        }
        self.maintain().await
    }

    /// The polled sources (the inventory's tasks, the auth log) and the lifecycle heartbeat, once a
    /// minute. Each source's cursor is saved in the transaction that takes its events.
    pub async fn poll_sources(&self, inv: &Arc<crate::model::inventory::Inventory>) -> anyhow::Result<usize> {
        use super::sources::{security::SecurityWatch, system, tasks::TaskWatch};
        let inv = inv.clone();
        self.take_via(move |tx, now| {
            let mut tw: TaskWatch = store::cursor(tx, "tasks")?.unwrap_or_default();
            let mut events = tw.step(&inv, now);
            store::set_cursor(tx, "tasks", &tw)?;
            let mut sw: SecurityWatch = store::cursor(tx, "security")?.unwrap_or_default();
            events.extend(sw.step(tx)?);
            store::set_cursor(tx, "security", &sw)?;
            system::heartbeat(tx, now)?;
            Ok(events)
        })
        .await
    }

    /// The service monitors' new events (`monitor_events` past the stored cursor), taken in the
    /// transaction that saves the cursor.
    pub async fn take_monitors(
        &self,
        inv: &Arc<crate::model::inventory::Inventory>,
    ) -> anyhow::Result<usize> {
        use super::sources::monitors::MonitorWatch;
        let inv = inv.clone();
        self.take_via(move |tx, _now| {
            let mut w: MonitorWatch = store::cursor(tx, "monitors")?.unwrap_or_default();
            let events = w.step(tx, &inv)?;
            store::set_cursor(tx, "monitors", &w)?;
            Ok(events)
        })
        .await
    }

    /// At start: proxwatch's lifecycle events (an unclean stop before this start, a reboot).
    pub async fn on_start(&self) -> anyhow::Result<usize> {
        let boot = super::sources::system::boot_id(&self.host).await;
        self.take_via(move |tx, now| Ok(super::sources::system::on_start(tx, boot.as_deref(), now)?)).await
    }

    /// Marks a clean stop (the next start reports no unclean stop).
    pub async fn on_clean_stop(&self) {
        if let Err(e) = self.db.call(|c| Ok(super::sources::system::on_clean_stop(c)?)).await {
            tracing::warn!(error = %format!("{e:#}"), "could not record the clean stop");
        }
    }

    /// Counts a webhook request refused for its secret; `Some(count)` when it is time to log (at most
    /// once a minute, so a flood of bad requests is one line a minute, not one each).
    pub fn pve_refused(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.pve_refused.fetch_add(1, Relaxed) + 1;
        let now = self.clock.now_ms();
        let last = self.pve_refused_logged.load(Relaxed);
        (now - last >= 60_000
            && self.pve_refused_logged.compare_exchange(last, now, Relaxed, Relaxed).is_ok())
        .then_some(n)
    }

    /// A slot for an interactive call out (Send test, the AI test, the PVE install); `None` when
    /// [`PROBES`] are running (the API answers 503 busy).
    pub fn probe_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.probes.try_acquire().ok()
    }

    /// The PVE webhook's secret, made (random, sealed) on first use.
    pub async fn pve_secret(&self) -> anyhow::Result<String> {
        let keys = self.keys.clone();
        self.db
            .call(move |c| {
                if let Some(s) = store::get_sealed(c, &keys, "pve_secret")? {
                    return Ok(s);
                }
                let s = data_encoding::HEXLOWER.encode(&crate::auth::random_bytes::<24>());
                store::set_sealed(c, &keys, "pve_secret", Some(&s))?;
                Ok(s)
            })
            .await
    }
    /// Takes a token from the channel's rate bucket, or says when one is free.
    fn rate(&self, ch: &Channel, now: i64) -> Result<(), i64> {
        let per_min = f64::from(ch.routing.rate_per_minute.max(1));
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = b.entry(ch.id).or_insert(Bucket { tokens: per_min, at: now });
        let elapsed = (now - bucket.at).max(0) as f64 / 60_000.0;
        bucket.tokens = (bucket.tokens + elapsed * per_min).min(per_min);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = ((1.0 - bucket.tokens) / per_min * 60_000.0).ceil() as i64;
            Err(now + wait_ms.max(1))
        }
    }

    /// One delivery step for a channel: sends the head of its queue if it is due.
    pub async fn deliver(&self, channel_id: i64) -> anyhow::Result<Step> {
        self.deliveries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let keys = self.keys.clone();
        let now = self.clock.now_ms();
        let (ch, head, global) = self
            .db
            .call(move |c| {
                let ch = store::channel(c, &keys, channel_id).map_err(anyhow::Error::from)?;
                Ok((ch, store::head(c, channel_id)?, store::global(c)?))
            })
            .await?;
        let Some(q) = head else { return Ok(Step::Idle) };
        if ch.needs_attention || !ch.enabled {
            return Ok(Step::Paused);
        }
        if q.created + i64::from(global.max_age_h) * 3_600_000 < now {
            let reason = format!("undelivered after {} h", global.max_age_h);
            self.db.call(move |c| Ok(store::mark_expired(c, q.id, &reason)?)).await?;
            return Ok(Step::Expired { id: q.id });
        }
        if q.status == "retrying" && q.next_at > now {
            return Ok(Step::Wait(q.next_at));
        }
        if let Err(at) = self.rate(&ch, now) {
            return Ok(Step::Wait(at));
        }
        self.attempt(&ch, q, &global).await
    }

    /// Renders (once), marks the attempt durably, sends, and records the outcome.
    async fn attempt(&self, ch: &Channel, q: Queued, global: &Global) -> anyhow::Result<Step> {
        let msg = self.message(ch, &q, global).await?;
        let now = self.clock.now_ms();
        let id = q.id;
        self.db.call(move |c| Ok(store::mark_sending(c, id, now)?)).await?;
        let result = self.send(&ch.config, &msg).await;
        let now = self.clock.now_ms();
        let attempts = q.attempts + 1;
        let step = match result {
            Ok(d) => {
                let reply = d.reply.clone();
                let q2 = q.clone();
                self.db.call(move |c| Ok(store::mark_sent(c, &q2, now, &reply)?)).await?;
                Step::Sent { id, reply: d.reply }
            }
            Err(SendError::Retry { error, after }) => {
                let at = now + backoff_ms(attempts).max(after.map(|a| a.as_millis() as i64).unwrap_or(0));
                let (q2, e2) = (q.clone(), error.clone());
                self.db.call(move |c| Ok(store::mark_retry(c, &q2, now, at, &e2)?)).await?;
                tracing::info!(channel = ch.id, message = id, attempts, error = %error, "notification delivery failed; retrying");
                Step::Retry { id, at, error }
            }
            Err(SendError::Permanent { error }) => {
                let (q2, e2) = (q.clone(), error.clone());
                self.db.call(move |c| Ok(store::mark_failed(c, &q2, now, &e2)?)).await?;
                tracing::warn!(channel = ch.id, message = id, error = %error, "notification channel needs attention");
                Step::Failed { id, error }
            }
        };
        Ok(step)
    }

    async fn send(
        &self,
        config: &ChannelConfig,
        msg: &Message,
    ) -> Result<super::channels::Delivered, SendError> {
        // The whole send is bounded even if a channel forgets its own timeout.
        let bound = self.ctx.timeout + Duration::from_secs(5);
        let send = async {
            match config {
                // The host's MTA is run through the host seam (the one door to processes).
                ChannelConfig::Email(e) if e.transport == super::channels::email::Transport::Sendmail => {
                    super::channels::email::send_via_sendmail(&self.host, e, msg, self.ctx.timeout).await
                }
                _ => config.send(&self.ctx, msg).await,
            }
        };
        match tokio::time::timeout(bound, send).await {
            Ok(r) => r,
            Err(_) => Err(SendError::retry(format!("no answer within {} s", bound.as_secs()))),
        }
    }

    /// The message for a queued row: the stored text when it was rendered before (a retry sends the
    /// same words), else rendered now from the template (and rewritten, when the channel asks).
    async fn message(&self, ch: &Channel, q: &Queued, global: &Global) -> anyhow::Result<Message> {
        let def = catalog::find(&q.event.kind);
        let mut fields = q.event.fields.clone();
        if fields.get("hostname").is_none_or(|h| h.is_empty()) {
            fields.insert("hostname".into(), self.hostname());
        }
        fields.entry("channel".into()).or_insert_with(|| ch.name.clone());
        let (title, body) = match (&q.ai_title, &q.ai_body, &q.title, &q.body) {
            (Some(t), Some(b), _, _) => (t.clone(), b.clone()),
            (_, _, Some(t), Some(b)) => (t.clone(), b.clone()),
            _ => {
                let (t, b) =
                    template::render(&q.event.kind, &ch.routing.language, ch.routing.detail, &fields);
                let ai = self.rewrite(ch, &t, &b, q.event.severity).await;
                let (tt, bb) = (t.clone(), b.clone());
                let ai2 = ai.clone();
                let id = q.id;
                self.db.call(move |c| Ok(store::set_text(c, id, &tt, &bb, &ai2)?)).await?;
                match (ai.title, ai.body) {
                    (Some(t), Some(b)) => (t, b),
                    _ => (t, b),
                }
            }
        };
        let url = match (&q.event.link, global.public_url.trim_end_matches('/')) {
            (Some(l), base) if !base.is_empty() => Some(format!("{base}/{}", l.trim_start_matches('/'))),
            _ => None,
        };
        Ok(Message {
            title,
            body,
            severity: q.event.severity,
            kind: q.event.kind.clone(),
            group: def.map(|d| d.group).unwrap_or(q.event.group),
            fingerprint: q.event.fingerprint.clone(),
            ts_ms: q.event.ts,
            hostname: fields.get("hostname").cloned().unwrap_or_default(),
            fields,
            url,
        })
    }

    /// The AI settings with the key open.
    pub async fn ai_settings(&self) -> anyhow::Result<super::ai::Settings> {
        let keys = self.keys.clone();
        self.db
            .call(move |c| {
                let mut s: super::ai::Settings = store::get_json(c, "ai")?.unwrap_or_default();
                s.provider.api_key = store::get_sealed(c, &keys, "ai_key")?;
                Ok(s)
            })
            .await
    }

    /// Saves the AI settings; a key left out or sent back masked keeps the stored one.
    pub async fn set_ai_settings(&self, mut s: super::ai::Settings) -> anyhow::Result<()> {
        let keys = self.keys.clone();
        self.db
            .call(move |c| {
                let key = s.provider.api_key.take();
                match key.as_deref() {
                    None | Some(store::MASK) => {}
                    Some("") => store::set_sealed(c, &keys, "ai_key", None)?,
                    Some(k) => store::set_sealed(c, &keys, "ai_key", Some(k))?,
                }
                store::set_json(c, "ai", &s)?;
                Ok(())
            })
            .await
    }

    /// Counts one AI call against today's cap (UTC day); `Err` when the cap is reached.
    async fn ai_budget(&self, cap: u32) -> anyhow::Result<Result<u32, super::ai::AiError>> {
        let day = self.clock.now_ms().div_euclid(86_400_000);
        self.db
            .call(move |c| {
                let (d, n): (i64, u32) = store::cursor(c, "ai_calls")?.unwrap_or((day, 0));
                let used = if d == day { n } else { 0 };
                if used >= cap {
                    return Ok(Err(super::ai::AiError::CapReached));
                }
                store::set_cursor(c, "ai_calls", &(day, used + 1))?;
                Ok(Ok(used + 1))
            })
            .await
    }

    /// The AI step: the channel's mode, the global settings and today's cap decide whether the
    /// provider is asked; any failure (timeout, refusal, cap) leaves the template text, and says why.
    async fn rewrite(&self, ch: &Channel, title: &str, body: &str, sev: Severity) -> AiRecord {
        use super::ai;
        if ch.routing.ai == ai::Mode::Off {
            return AiRecord::default();
        }
        let settings = match self.ai_settings().await {
            Ok(s) if s.enabled => s,
            Ok(_) => return AiRecord::default(),
            Err(e) => {
                return AiRecord {
                    error: Some(format!("AI settings unreadable: {e:#}")),
                    ..AiRecord::default()
                };
            }
        };
        match self.ai_budget(settings.daily_cap).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return AiRecord { error: Some(e.to_string()), ..AiRecord::default() },
            Err(e) => return AiRecord { error: Some(format!("{e:#}")), ..AiRecord::default() },
        }
        let known = vec![self.hostname()];
        let req = ai::Request {
            title,
            body,
            severity: sev,
            mode: ch.routing.ai,
            language: &ch.routing.ai_language,
            instruction: &ch.routing.ai_instruction,
            known: &known,
        };
        let provider = format!("{} {}", settings.provider.kind.as_str(), settings.provider.model);
        match ai::rewrite(self.ctx.http(), &settings, &req).await {
            Ok(r) => AiRecord {
                title: Some(r.title),
                body: Some(r.body),
                provider: Some(format!("{} {}", r.provider, r.model)),
                latency_ms: Some(r.latency_ms as i64),
                tokens_in: r.tokens_in.map(|t| t as i64),
                tokens_out: r.tokens_out.map(|t| t as i64),
                error: None,
            },
            Err(e) => {
                tracing::info!(channel = ch.id, error = %e, "AI rewrite failed; the template text is sent");
                AiRecord { provider: Some(provider), error: Some(e.to_string()), ..AiRecord::default() }
            }
        }
    }

    /// The AI "Test" button: a sample message through the configured provider.
    pub async fn ai_test(&self) -> anyhow::Result<Result<super::ai::Rewritten, super::ai::AiError>> {
        let s = self.ai_settings().await?;
        Ok(super::ai::test(self.ctx.http(), &s).await)
    }

    /// "Send test": a `system.test` message through the channel's real path, now, answered with the
    /// channel's exact reply or error. Recorded in the history like any message.
    pub async fn test(&self, channel_id: i64, actor: &str) -> anyhow::Result<TestResult> {
        let keys = self.keys.clone();
        let now = self.clock.now_ms();
        let hostname = self.hostname();
        let nonce = data_encoding::HEXLOWER.encode(&crate::auth::random_bytes::<6>());
        let ev = Event::new("system.test", format!("test:{channel_id}:{now}:{nonce}"), "", now)
            .field("actor", actor)
            .field("hostname", hostname);
        let (ch, q, global) = self
            .db
            .call(move |c| {
                let ch = store::channel(c, &keys, channel_id).map_err(anyhow::Error::from)?;
                let global = store::global(c)?;
                let taken = store::intake(
                    c,
                    &ev,
                    std::slice::from_ref(&ch),
                    &global,
                    &global.tz(),
                    now,
                    Some(channel_id),
                )?
                .context("test message not taken")?;
                let row: i64 = c.query_row(
                    "SELECT id FROM notify_outbox WHERE event_id = ?1 AND channel_id = ?2",
                    rusqlite::params![taken.event_id, channel_id],
                    |r| r.get(0),
                )?;
                Ok((ch, store::queued_row(c, row)?, global))
            })
            .await?;
        let id = q.id;
        let step = self.attempt(&ch, q, &global).await?;
        let result = match step {
            Step::Sent { reply, .. } => {
                // The channel works: what failed permanently before goes out again.
                let now = self.clock.now_ms();
                self.db.call(move |c| Ok(store::requeue_failed(c, channel_id, now)?)).await?;
                self.channel_wake(channel_id).notify_one();
                TestResult { ok: true, reply: Some(reply), error: None, message_id: id }
            }
            Step::Retry { error, .. } | Step::Failed { error, .. } => {
                // A test is not retried: it answers now.
                self.db
                    .call(move |c| {
                        c.execute(
                            "UPDATE notify_outbox SET status = 'failed', next_at = NULL WHERE id = ?1",
                            [id],
                        )?;
                        Ok(())
                    })
                    .await?;
                TestResult { ok: false, reply: None, error: Some(error), message_id: id }
            }
            other => TestResult { ok: false, reply: None, error: Some(format!("{other:?}")), message_id: id },
        };
        Ok(result)
    }
}

/// Exponential backoff with ±20 % jitter: 10 s, 20 s, 40 s, ... up to 30 min.
pub fn backoff_ms(attempts: i64) -> i64 {
    use rand::Rng;
    let exp = BACKOFF_BASE_MS.saturating_mul(1i64 << (attempts - 1).clamp(0, 20)).min(BACKOFF_MAX_MS);
    let jitter: f64 = rand::thread_rng().gen_range(0.8..1.2);
    (exp as f64 * jitter) as i64
}
