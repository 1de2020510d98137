//! MQTT with Home Assistant discovery (issue 14): off by default; when on, one client keeps a
//! session with the broker, declares proxwatch's entities with retained discovery configs
//! ([`ha`]), and publishes their states when they change, at most every `interval_s` seconds.
//!
//! Narrow handles only: the database (the settings, the password sealed with the appliance's key),
//! the workers' receivers and the health snapshot, and the cancellation token.
//!
//! Robustness: the broker going away is a reported state (`status.state = "error"` with the reason)
//! and the client retries with a capped backoff; on every (re)connect it sends its availability,
//! every config and every state again, so a broker restarted without persistence is whole again
//! within one connect. Home Assistant's own `online` birth message makes it send them again too.

pub mod ha;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS, Transport};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::seal::Keys;
use crate::db::Db;
use crate::health::HealthSnapshot;

/// The mask a stored password reads as; sent back unchanged, it keeps the stored one.
pub const MASK: &str = "********";

/// What the admin sets (Settings → Home Assistant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MqttSettings"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MqttSettings"))]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub enabled: bool,
    /// `mqtt://host:1883` or `mqtts://host:8883` (TLS, verified against the public web PKI roots).
    pub url: String,
    /// Empty: connect without credentials.
    pub username: String,
    /// Write-only: answers show `********` when one is stored; sending that back (or leaving it out)
    /// keeps it, and an empty string removes it.
    #[cfg_attr(test, ts(type = "string | null"))]
    pub password: Option<String>,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// The root of proxwatch's state topics (`<base>/<node>/…`).
    pub base_topic: String,
    /// States are sent when they change, at most this often (seconds, 1 to 3600).
    #[cfg_attr(test, schemars(range(min = 1, max = 3600)))]
    pub interval_s: u32,
    /// Each guest as a device of its own.
    pub guests: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: false,
            url: String::new(),
            username: String::new(),
            password: None,
            discovery_prefix: "homeassistant".into(),
            base_topic: "proxwatch".into(),
            interval_s: 10,
            guests: true,
        }
    }
}

/// A broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Broker {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`; IPv6 hosts in brackets.
    pub fn parse(url: &str) -> anyhow::Result<Broker> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            bail!("the broker URL must start with mqtt:// or mqtts:// (got {url:?})");
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("the broker URL is scheme://host[:port] only (no path, credentials or spaces)");
        }
        let default = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').context("an IPv6 host needs its closing ]")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok(),
                None if after.is_empty() => Some(default),
                None => None,
            };
            (h.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().ok()),
                None => (rest.to_string(), Some(default)),
            }
        };
        let port = port.filter(|p| *p > 0).context("the broker port must be 1 to 65535")?;
        if host.is_empty() || host.len() > 253 {
            bail!("the broker URL has no host");
        }
        Ok(Broker { tls, host, port })
    }
}

fn topic_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('/')
        && !s.ends_with('/')
        && !s.contains(['+', '#', '\0'])
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Settings {
    /// Checks what a PUT carries; the error names the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.enabled || !self.url.is_empty() {
            Broker::parse(&self.url).context("url")?;
        }
        if self.username.len() > 200 || self.username.chars().any(char::is_control) {
            bail!("username: at most 200 printable characters");
        }
        if self.password.as_deref().is_some_and(|p| p.len() > 500) {
            bail!("password: at most 500 bytes");
        }
        if !topic_ok(&self.discovery_prefix) {
            bail!("discovery_prefix: a topic without wildcards, spaces or leading/trailing /");
        }
        if !topic_ok(&self.base_topic) {
            bail!("base_topic: a topic without wildcards, spaces or leading/trailing /");
        }
        if !(1..=3600).contains(&self.interval_s) {
            bail!("interval_s: 1 to 3600 seconds");
        }
        Ok(())
    }

    /// The settings as answers show them: the password masked.
    pub fn masked(&self) -> Settings {
        Settings { password: self.password.as_ref().map(|_| MASK.to_string()), ..self.clone() }
    }
}

/// Loads the stored settings (defaults when none), opening the sealed password.
pub fn load(c: &rusqlite::Connection, keys: &Keys) -> anyhow::Result<Settings> {
    use rusqlite::OptionalExtension;
    let row: Option<(String, Option<Vec<u8>>)> = c
        .query_row("SELECT config, password FROM mqtt_settings WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((config, sealed)) = row else { return Ok(Settings::default()) };
    let mut s: Settings = serde_json::from_str(&config).context("stored MQTT settings")?;
    s.password = match sealed {
        Some(b) => Some(String::from_utf8(keys.open(&b)?).context("stored MQTT password")?),
        None => None,
    };
    Ok(s)
}

/// Stores `new`: a masked or absent password keeps the stored one, an empty one removes it.
pub fn save(c: &rusqlite::Connection, keys: &Keys, new: &Settings) -> anyhow::Result<Settings> {
    let old = load(c, keys)?;
    let password = match new.password.as_deref() {
        Some(MASK) | None => old.password,
        Some("") => None,
        Some(p) => Some(p.to_string()),
    };
    let stored = Settings { password: None, ..new.clone() };
    let sealed = password.as_deref().map(|p| keys.seal(p.as_bytes())).transpose()?;
    c.execute(
        "INSERT INTO mqtt_settings (id, config, password) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET config = excluded.config, password = excluded.password",
        rusqlite::params![serde_json::to_string(&stored)?, sealed],
    )?;
    Ok(Settings { password, ..new.clone() })
}

/// How the client is doing (`GET /api/integrations/mqtt`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MqttStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MqttStatus"))]
pub struct Status {
    /// `disabled`, `connecting`, `connected` or `error`.
    #[cfg_attr(test, ts(type = "\"disabled\" | \"connecting\" | \"connected\" | \"error\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["disabled", "connecting", "connected", "error"])))]
    pub state: &'static str,
    /// Unix seconds of the last state change.
    pub since: Option<i64>,
    /// Why the last connection failed or ended.
    pub error: Option<String>,
    /// Messages sent since start.
    pub published: u64,
    /// Entities declared to Home Assistant.
    pub entities: usize,
}

/// The handle the API holds: the settings (applied by the client on change) and its status.
pub struct Mqtt {
    db: Db,
    keys: Keys,
    clock: crate::model::Clock,
    settings: watch::Sender<Arc<Settings>>,
    status: watch::Sender<Status>,
    /// One settings change at a time (read-modify-write of the sealed password).
    lock: tokio::sync::Mutex<()>,
}

impl Mqtt {
    /// The handle, off until [`run`] has read the stored settings.
    pub fn new(db: Db, keys: Keys, clock: crate::model::Clock) -> Arc<Mqtt> {
        let status = Status { state: "disabled", ..Status::default() };
        Arc::new(Mqtt {
            db,
            keys,
            clock,
            settings: watch::channel(Arc::new(Settings::default())).0,
            status: watch::channel(status).0,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The stored settings (the password in clear: mask before answering).
    pub async fn stored(&self) -> anyhow::Result<Settings> {
        let keys = self.keys.clone();
        self.db.call(move |c| load(c, &keys)).await
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.borrow().clone()
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Validates, stores and applies new settings; answers them as stored (password unmasked).
    pub async fn update(&self, new: Settings) -> anyhow::Result<Arc<Settings>> {
        new.validate()?;
        let _g = self.lock.lock().await;
        let keys = self.keys.clone();
        let saved = self.db.call(move |c| save(c, &keys, &new)).await?;
        let saved = Arc::new(saved);
        self.settings.send_replace(saved.clone());
        Ok(saved)
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        self.status.send_modify(f);
    }

    fn set_state(&self, state: &'static str, error: Option<String>) {
        let now = self.clock.now_ms() / 1000;
        self.set_status(|s| {
            if s.state != state || s.error != error {
                s.since = Some(now);
            }
            s.state = state;
            s.error = error;
        });
    }
}

/// What the client reads.
pub struct Inputs {
    pub feeds: crate::health::Feeds,
    pub health: watch::Receiver<Arc<HealthSnapshot>>,
}

impl Inputs {
    fn messages(&self, topics: &ha::Topics, settings: &Settings) -> ha::Messages {
        let vitals = self.feeds.vitals.borrow().clone();
        let inventory = self.feeds.inventory.borrow().clone();
        let ups = self.feeds.ups.borrow().clone();
        let health = self.health.borrow().clone();
        let identity = self.feeds.identity.borrow().clone();
        let pve = identity.as_ref().and_then(|i| i.pve_version.clone());
        let pve =
            pve.as_deref().and_then(|l| l.strip_prefix("pve-manager/")).and_then(|r| r.split('/').next());
        ha::build(
            topics,
            &ha::Input {
                vitals: vitals.as_deref(),
                inventory: &inventory,
                health: &health,
                ups: &ups,
                version: crate::VERSION,
                pve_version: pve,
                guests: settings.guests,
            },
        )
    }

    fn node(&self) -> String {
        let inv = self.feeds.inventory.borrow();
        if !inv.node.is_empty() {
            return inv.node.clone();
        }
        drop(inv);
        self.feeds.identity.borrow().as_ref().map(|i| i.hostname.clone()).unwrap_or_else(|| "proxmox".into())
    }
}

/// The TLS settings for `mqtts://`: the web PKI roots, as for every other outgoing TLS connection.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"));
    Arc::new(cfg)
}

/// The longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Messages the client may hold before the event loop sends them.
const QUEUE: usize = 512;

/// The client's options for `s` (already validated).
fn options(s: &Settings, node_id: &str, topics: &ha::Topics) -> anyhow::Result<MqttOptions> {
    let b = Broker::parse(&s.url)?;
    let mut o = MqttOptions::new(format!("proxwatch-{node_id}"), b.host, b.port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    o.set_max_packet_size(64 * 1024, 256 * 1024);
    if !s.username.is_empty() {
        o.set_credentials(s.username.clone(), s.password.clone().unwrap_or_default());
    }
    o.set_last_will(LastWill::new(topics.availability(), "offline", QoS::AtLeastOnce, true));
    if b.tls {
        o.set_transport(Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls_config())));
    }
    Ok(o)
}

/// Runs until `cancel`: one session per settings value, none while disabled.
pub async fn run(mqtt: Arc<Mqtt>, inputs: Inputs, cancel: CancellationToken) {
    // A broken row is logged and read as "off", never a failed start.
    match mqtt.stored().await {
        Ok(s) => {
            mqtt.settings.send_replace(Arc::new(s));
        }
        Err(e) => {
            tracing::error!(error = %e, "MQTT settings unreadable: MQTT stays off until they are saved again")
        }
    }
    let mut settings_rx = mqtt.settings.subscribe();
    loop {
        let s = settings_rx.borrow_and_update().clone();
        if s.enabled {
            let node = inputs.node();
            let topics = ha::Topics::new(&s.discovery_prefix, &s.base_topic, &node);
            match options(&s, &topics.node_id, &topics) {
                Ok(o) => {
                    let mut session = Session::new(&mqtt, &inputs, &s, topics, o);
                    session.run(&mut settings_rx, &cancel).await;
                }
                Err(e) => mqtt.set_state("error", Some(format!("{e:#}"))),
            }
        } else {
            mqtt.set_state("disabled", None);
            mqtt.set_status(|st| st.entities = 0);
        }
        if cancel.is_cancelled() {
            return;
        }
        // Wait for the next settings change, unless the session ended because of one.
        if !settings_rx.has_changed().unwrap_or(false) {
            tokio::select! {
                r = settings_rx.changed() => if r.is_err() { return },
                _ = cancel.cancelled() => return,
            }
        }
    }
}

struct Session<'a> {
    mqtt: &'a Mqtt,
    inputs: &'a Inputs,
    settings: &'a Settings,
    topics: ha::Topics,
    client: AsyncClient,
    events: EventLoop,
    /// What the broker holds from this session: topic → payload (configs and states).
    sent: BTreeMap<String, String>,
    /// The config topics of the entities as of the last build (what a retained config is checked
    /// against on connect, without building every message again for each).
    current: std::collections::BTreeSet<String>,
    connected: bool,
}

impl<'a> Session<'a> {
    fn new(
        mqtt: &'a Mqtt,
        inputs: &'a Inputs,
        settings: &'a Settings,
        topics: ha::Topics,
        o: MqttOptions,
    ) -> Self {
        let (client, mut events) = AsyncClient::new(o, QUEUE);
        events.network_options.set_connection_timeout(10);
        Session {
            mqtt,
            inputs,
            settings,
            topics,
            client,
            events,
            sent: BTreeMap::new(),
            current: Default::default(),
            connected: false,
        }
    }

    async fn run(&mut self, settings_rx: &mut watch::Receiver<Arc<Settings>>, cancel: &CancellationToken) {
        self.mqtt.set_state("connecting", None);
        let mut tick = tokio::time::interval(Duration::from_secs(u64::from(self.settings.interval_s)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = Duration::from_secs(1);
        loop {
            tokio::select! {
                ev = self.events.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff = Duration::from_secs(1);
                        self.connected = true;
                        self.mqtt.set_state("connected", None);
                        tracing::info!(broker = %self.settings.url, "MQTT connected");
                        // The broker may have lost everything (a restart without persistence).
                        self.sent.clear();
                        let _ = self.client.try_subscribe(self.topics.ha_status(), QoS::AtMostOnce);
                        // The broker's retained configs of this node: entities of guests destroyed
                        // while proxwatch was away (or of a toggle turned off) are removed.
                        let _ = self.client.try_subscribe(self.topics.own_configs(), QoS::AtMostOnce);
                        self.send(self.topics.availability(), "online".into());
                        self.publish_changes();
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if p.topic == self.topics.ha_status() && &p.payload[..] == b"online" {
                            // Home Assistant restarted: it wants every config again.
                            self.sent.clear();
                            self.send(self.topics.availability(), "online".into());
                            self.publish_changes();
                        } else if p.retain && !p.payload.is_empty() && p.topic.ends_with("/config") {
                            self.drop_if_stale(&p.topic);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let was = std::mem::replace(&mut self.connected, false);
                        let msg = e.to_string();
                        if was {
                            tracing::warn!(broker = %self.settings.url, error = %msg, "MQTT connection lost");
                        }
                        self.mqtt.set_state("error", Some(msg));
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = settings_rx.changed() => return,
                            _ = cancel.cancelled() => return,
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                },
                _ = tick.tick() => if self.connected { self.publish_changes() },
                _ = settings_rx.changed() => { self.goodbye().await; return }
                _ = cancel.cancelled() => { self.goodbye().await; return }
            }
        }
    }

    fn send(&mut self, topic: String, payload: String) {
        match self.client.try_publish(topic.clone(), QoS::AtLeastOnce, true, payload.clone().into_bytes()) {
            Ok(()) => {
                self.mqtt.set_status(|s| s.published += 1);
                self.sent.insert(topic, payload);
            }
            // A full queue: sent again on the next tick (the topic is not marked as sent).
            Err(e) => tracing::debug!(error = %e, topic, "MQTT publish deferred"),
        }
    }

    /// Sends every config and state that differs from what the broker holds, and clears the
    /// configs of entities that are gone (a guest destroyed), so Home Assistant removes them.
    fn publish_changes(&mut self) {
        let m = self.inputs.messages(&self.topics, self.settings);
        self.mqtt.set_status(|s| s.entities = m.configs.len());
        self.current = m.configs.keys().cloned().collect();
        let gone: Vec<String> = self
            .sent
            .keys()
            .filter(|t| t.ends_with("/config") && !m.configs.contains_key(*t))
            .cloned()
            .collect();
        for t in gone {
            self.sent.remove(&t);
            if let Err(e) = self.client.try_publish(t, QoS::AtLeastOnce, true, Vec::new()) {
                tracing::debug!(error = %e, "MQTT removal deferred");
            }
        }
        for (t, p) in m.configs.into_iter().chain(m.states) {
            if self.sent.get(&t) != Some(&p) {
                self.send(t, p);
            }
        }
    }

    /// A retained config of this node that the current entities do not have: cleared (an empty
    /// retained message), so Home Assistant removes the entity.
    fn drop_if_stale(&mut self, topic: &str) {
        if !self.topics.is_own_config(topic) {
            return;
        }
        if !self.current.contains(topic) {
            tracing::debug!(topic, "removing a stale Home Assistant entity");
            if let Err(e) = self.client.try_publish(topic, QoS::AtLeastOnce, true, Vec::new()) {
                tracing::debug!(error = %e, "MQTT removal deferred");
            }
        }
    }

    /// Says `offline` and disconnects cleanly, bounded: a dead broker does not hold up a stop.
    async fn goodbye(&mut self) {
        if !self.connected {
            return;
        }
        let _ =
            self.client.try_publish(self.topics.availability(), QoS::AtLeastOnce, true, b"offline".to_vec());
        let _ = self.client.try_disconnect();
        let drain = async {
            loop {
                match self.events.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        self.connected = false;
        self.mqtt.set_state("disabled", None);
    }
}

/// Lets tests hold the handle's settings without a database.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            Broker::parse("mqtt://broker.lan").unwrap(),
            Broker { tls: false, host: "broker.lan".into(), port: 1883 }
        );
        assert_eq!(
            Broker::parse("mqtts://10.0.0.2:8884/").unwrap(),
            Broker { tls: true, host: "10.0.0.2".into(), port: 8884 }
        );
        assert_eq!(
            Broker::parse("mqtt://[fd00::1]:1884").unwrap(),
            Broker { tls: false, host: "fd00::1".into(), port: 1884 }
        );
        assert_eq!(Broker::parse("mqtt://[fd00::1]").unwrap().port, 1883);
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:70000",
            "mqtt://u:p@h",
            "mqtt://h/topic",
            "mqtt://h x",
        ] {
            assert!(Broker::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked_and_the_password_is_sealed_and_masked() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(include_str!("../db/migrations/0010_mqtt.sql")).unwrap();
        let keys = Keys::ephemeral();
        assert_eq!(load(&db, &keys).unwrap(), Settings::default());
        let s = Settings {
            enabled: true,
            url: "mqtt://127.0.0.1:1883".into(),
            username: "ha".into(),
            password: Some("s3cret".into()),
            ..Settings::default()
        };
        s.validate().unwrap();
        save(&db, &keys, &s).unwrap();
        let raw: (String, Vec<u8>) = db
            .query_row("SELECT config, password FROM mqtt_settings", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert!(!raw.0.contains("s3cret") && !String::from_utf8_lossy(&raw.1).contains("s3cret"));
        assert_eq!(load(&db, &keys).unwrap().password.as_deref(), Some("s3cret"));
        assert_eq!(s.masked().password.as_deref(), Some(MASK));
        // The mask keeps the stored password; an empty one removes it.
        save(&db, &keys, &Settings { password: Some(MASK.into()), ..s.clone() }).unwrap();
        assert_eq!(load(&db, &keys).unwrap().password.as_deref(), Some("s3cret"));
        save(&db, &keys, &Settings { password: None, ..s.clone() }).unwrap();
        assert_eq!(load(&db, &keys).unwrap().password.as_deref(), Some("s3cret"), "left out: kept");
        save(&db, &keys, &Settings { password: Some(String::new()), ..s.clone() }).unwrap();
        assert_eq!(load(&db, &keys).unwrap().password, None);

        for (bad, field) in [
            (Settings { url: "tcp://x".into(), ..s.clone() }, "url"),
            (Settings { interval_s: 0, ..s.clone() }, "interval_s"),
            (Settings { base_topic: "a/#".into(), ..s.clone() }, "base_topic"),
            (Settings { discovery_prefix: "/ha".into(), ..s.clone() }, "discovery_prefix"),
        ] {
            let e = format!("{:#}", bad.validate().unwrap_err());
            assert!(e.starts_with(field), "{e}");
        }
        // Off with no URL is valid (the default).
        Settings::default().validate().unwrap();
    }
}
