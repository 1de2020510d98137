//! Home Assistant's MQTT discovery: the retained config messages that declare proxwatch's entities,
//! and the state messages they read. Pure: built from the workers' snapshots, no I/O.
//!
//! The layout follows Home Assistant's MQTT discovery documentation
//! (<https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery>):
//! - config topic `<prefix>/<component>/<node_id>/<object_id>/config`, retained, one per entity;
//!   an empty retained payload removes the entity;
//! - the host is one device (`proxwatch_<node>`); each guest is a device of its own, `via_device`
//!   the host; every entity names its device, so Home Assistant names it "<device> <entity>";
//! - one JSON state topic per device (`<base>/<node>/host`, `…/guest/<vmid>`, `…/ups/<name>`), read
//!   with `value_template`s; availability on `<base>/<node>/status` (`online` / `offline`, the
//!   latter also the broker-held last will).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::health::HealthSnapshot;
use crate::health::model::{Category, Severity};
use crate::model::LiveSample;
use crate::model::inventory::Inventory;
use crate::model::pve::ClusterResource;
use crate::model::ups::UpsSnapshot;

/// Where the messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Home Assistant's discovery prefix (`homeassistant`).
    pub prefix: String,
    /// `<base>/<node>`: the state and availability topics' root.
    pub root: String,
    /// The node as an id (`[a-z0-9_]`).
    pub node_id: String,
    /// The node's name, for people.
    pub node: String,
}

impl Topics {
    pub fn new(prefix: &str, base: &str, node: &str) -> Topics {
        let node_id = id(node);
        Topics {
            prefix: prefix.to_string(),
            root: format!("{base}/{node_id}"),
            node_id,
            node: node.to_string(),
        }
    }
    pub fn availability(&self) -> String {
        format!("{}/status", self.root)
    }
    /// Every discovery config of this node (a subscription filter).
    pub fn own_configs(&self) -> String {
        format!("{}/+/{}/+/config", self.prefix, self.node_id)
    }
    /// Whether `topic` is one of this node's discovery configs.
    pub fn is_own_config(&self, topic: &str) -> bool {
        let Some(rest) = topic.strip_prefix(&self.prefix).and_then(|r| r.strip_prefix('/')) else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        matches!(parts.as_slice(), [_, node, _, "config"] if *node == self.node_id)
    }
    /// Home Assistant's own birth and will topic: `online` there means "send your configs again".
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.prefix)
    }
}

/// Lowercase ASCII letters, digits and `_`: what discovery ids and topic levels allow.
pub fn id(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// What the messages are built from.
pub struct Input<'a> {
    pub vitals: Option<&'a LiveSample>,
    pub inventory: &'a Inventory,
    pub health: &'a HealthSnapshot,
    pub ups: &'a UpsSnapshot,
    pub version: &'a str,
    pub pve_version: Option<&'a str>,
    /// Guests as devices of their own (off: host, health and UPS only).
    pub guests: bool,
}

/// Every message to hold on the broker: config topics (retained) and state topics (retained, so a
/// Home Assistant that starts later sees the last values at once).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Messages {
    pub configs: BTreeMap<String, String>,
    pub states: BTreeMap<String, String>,
}

struct Entity<'a> {
    component: &'static str,
    key: String,
    name: String,
    template: String,
    extra: Value,
    device: &'a Value,
    state_topic: &'a str,
}

/// The entities of one device, all reading one state topic, keyed `<prefix><key>`.
struct Device<'a> {
    device: &'a Value,
    topic: &'a str,
    prefix: &'a str,
}

impl<'a> Device<'a> {
    fn entity(
        &self,
        component: &'static str,
        key: &str,
        name: &str,
        template: String,
        extra: Value,
    ) -> Entity<'a> {
        Entity {
            component,
            key: format!("{}{key}", self.prefix),
            name: name.to_string(),
            template,
            extra,
            device: self.device,
            state_topic: self.topic,
        }
    }
}

/// The template that reads `key` of the JSON state.
fn value(key: &str) -> String {
    format!("{{{{ value_json.{key} }}}}")
}

fn push(t: &Topics, m: &mut Messages, e: Entity<'_>) {
    let unique = format!("proxwatch_{}_{}", t.node_id, e.key);
    let mut cfg = json!({
        "name": e.name,
        "unique_id": unique,
        "state_topic": e.state_topic,
        "value_template": e.template,
        "availability_topic": t.availability(),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": e.device,
        "origin": { "name": "proxwatch", "sw_version": crate::VERSION, "support_url": "https://github.com/proxwatch/proxwatch" },
    });
    if let (Some(c), Some(x)) = (cfg.as_object_mut(), e.extra.as_object()) {
        c.extend(x.clone());
    }
    let topic = format!("{}/{}/{}/{}/config", t.prefix, e.component, t.node_id, e.key);
    m.configs.insert(topic, cfg.to_string());
}

fn pct(used: f64, total: f64) -> Option<f64> {
    (total > 0.0).then(|| round1(used / total * 100.0))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

const SEVERITIES: [&str; 6] = ["ok", "info", "unknown", "warning", "critical", "pending"];

/// The worst active (not dismissed) severity of each category; `pending` before the first cycle.
fn health_states(h: &HealthSnapshot) -> (BTreeMap<&'static str, &'static str>, &'static str, usize) {
    let pending = h.full_at.is_none();
    let mut worst: BTreeMap<&'static str, Severity> =
        Category::ALL.iter().map(|c| (c.id(), Severity::Ok)).collect();
    let mut problems = 0;
    for f in h.results.values().flatten() {
        if f.severity == Severity::Ok || h.records.get(&f.key).is_some_and(|r| r.dismissed) {
            continue;
        }
        problems += 1;
        let w = worst.entry(f.category.id()).or_insert(Severity::Ok);
        if f.severity > *w {
            *w = f.severity;
        }
    }
    let overall = worst.values().copied().max().unwrap_or(Severity::Ok);
    let name = |s: Severity| if pending && s == Severity::Ok { "pending" } else { s.as_str() };
    (worst.into_iter().map(|(k, v)| (k, name(v))).collect(), name(overall), problems)
}

/// The configs and states for `input`.
pub fn build(t: &Topics, input: &Input<'_>) -> Messages {
    let mut m = Messages::default();
    let host_device = json!({
        "identifiers": [format!("proxwatch_{}", t.node_id)],
        "name": t.node,
        "manufacturer": "Proxmox Server Solutions",
        "model": match input.pve_version { Some(v) => format!("Proxmox VE {v}"), None => "Proxmox VE".into() },
        "sw_version": format!("proxwatch {}", input.version),
    });
    let host_topic = format!("{}/host", t.root);

    // Host vitals.
    let mut host = serde_json::Map::new();
    if let Some(v) = input.vitals {
        let s = &v.sample;
        host.insert("cpu".into(), json!(round1(s.cpu.total.busy)));
        host.insert("load1".into(), json!(s.load[0]));
        host.insert("load5".into(), json!(s.load[1]));
        host.insert("load15".into(), json!(s.load[2]));
        host.insert("uptime".into(), json!(s.uptime_s.round() as i64));
        if let Some(p) = pct(s.memory.used as f64, s.memory.total as f64) {
            host.insert("memory".into(), json!(p));
        }
        host.insert("memory_used".into(), json!(s.memory.used));
        if let Some(p) = pct(s.swap.used as f64, s.swap.total as f64) {
            host.insert("swap".into(), json!(p));
        }
        if let Some(c) = s.cpu_temp_c {
            host.insert("cpu_temperature".into(), json!(round1(c)));
        }
    }
    let (cats, overall, problems) = health_states(input.health);
    host.insert("health".into(), json!(overall));
    host.insert("problems".into(), json!(problems));
    for (c, s) in &cats {
        host.insert(format!("health_{c}"), json!(s));
    }

    let hostdev = Device { device: &host_device, topic: &host_topic, prefix: "" };
    let sensor = |key: &str, name: &str, extra: Value| hostdev.entity("sensor", key, name, value(key), extra);
    let measurement = |unit: &str, icon: &str| json!({ "unit_of_measurement": unit, "state_class": "measurement", "icon": icon });
    let mut entities = Vec::new();
    if host.contains_key("cpu") {
        entities.push(sensor("cpu", "CPU", measurement("%", "mdi:cpu-64-bit")));
        entities.push(sensor(
            "load1",
            "Load (1 min)",
            json!({ "state_class": "measurement", "icon": "mdi:gauge" }),
        ));
        entities.push(sensor(
            "load5",
            "Load (5 min)",
            json!({ "state_class": "measurement", "icon": "mdi:gauge" }),
        ));
        entities.push(sensor(
            "load15",
            "Load (15 min)",
            json!({ "state_class": "measurement", "icon": "mdi:gauge" }),
        ));
        entities.push(sensor(
            "uptime",
            "Uptime",
            json!({ "device_class": "duration", "unit_of_measurement": "s", "entity_category": "diagnostic" }),
        ));
        entities.push(sensor(
            "memory_used",
            "Memory used",
            json!({ "device_class": "data_size", "unit_of_measurement": "B", "state_class": "measurement" }),
        ));
    }
    if host.contains_key("memory") {
        entities.push(sensor("memory", "Memory", measurement("%", "mdi:memory")));
    }
    if host.contains_key("swap") {
        entities.push(sensor("swap", "Swap", measurement("%", "mdi:swap-horizontal")));
    }
    if host.contains_key("cpu_temperature") {
        entities.push(sensor(
            "cpu_temperature",
            "CPU temperature",
            json!({ "device_class": "temperature", "unit_of_measurement": "°C", "state_class": "measurement" }),
        ));
    }
    entities.push(sensor(
        "health",
        "Health",
        json!({ "device_class": "enum", "options": SEVERITIES, "icon": "mdi:heart-pulse" }),
    ));
    entities.push(sensor(
        "problems",
        "Health problems",
        json!({ "state_class": "measurement", "icon": "mdi:alert-circle-outline" }),
    ));
    for c in Category::ALL {
        entities.push(sensor(
            &format!("health_{}", c.id()),
            &format!("Health: {}", c.name()),
            json!({ "device_class": "enum", "options": SEVERITIES, "entity_category": "diagnostic" }),
        ));
    }
    entities.push(hostdev.entity(
        "binary_sensor",
        "problem",
        "Problem",
        "{{ 'ON' if value_json.health in ['warning', 'critical'] else 'OFF' }}".into(),
        json!({ "device_class": "problem" }),
    ));
    for e in entities {
        push(t, &mut m, e);
    }
    m.states.insert(host_topic.clone(), Value::Object(host).to_string());

    // Guests: one device each.
    if input.guests
        && let Some(resources) = &input.inventory.resources.data
    {
        for g in resources.iter().filter_map(ClusterResource::as_guest).filter(|g| !g.template) {
            if g.node != input.inventory.node {
                continue;
            }
            let kind = g.kind.as_str();
            let gid = format!("{kind}_{}", g.vmid);
            let topic = format!("{}/guest/{}", t.root, g.vmid);
            let device = json!({
                "identifiers": [format!("proxwatch_{}_{gid}", t.node_id)],
                "name": if g.name.is_empty() { format!("{} {}", kind.to_uppercase(), g.vmid) } else { g.name.clone() },
                "manufacturer": "Proxmox VE",
                "model": if kind == "qemu" { "QEMU virtual machine" } else { "LXC container" },
                "via_device": format!("proxwatch_{}", t.node_id),
            });
            let running = g.is_running();
            let state = json!({
                "status": g.status,
                "running": running,
                "cpu": if running { round1(g.cpu * 100.0) } else { 0.0 },
                "cpus": g.maxcpu,
                "memory": if running { pct(g.mem as f64, g.maxmem as f64).unwrap_or(0.0) } else { 0.0 },
                "memory_used": if running { g.mem } else { 0 },
                "uptime": g.uptime.unwrap_or(0),
                "vmid": g.vmid,
                "name": g.name,
                "type": kind,
            });
            m.states.insert(topic.clone(), state.to_string());
            let prefix = format!("{gid}_");
            let d = Device { device: &device, topic: &topic, prefix: &prefix };
            let (ent, v) = (|c, k, n, tpl, x| d.entity(c, k, n, tpl, x), value);
            let list = [
                ent("sensor", "status", "Status", v("status"), json!({ "icon": "mdi:server" })),
                ent(
                    "binary_sensor",
                    "running",
                    "Running",
                    "{{ 'ON' if value_json.running else 'OFF' }}".into(),
                    json!({ "device_class": "running" }),
                ),
                ent("sensor", "cpu", "CPU", v("cpu"), measurement("%", "mdi:cpu-64-bit")),
                ent("sensor", "memory", "Memory", v("memory"), measurement("%", "mdi:memory")),
                ent(
                    "sensor",
                    "uptime",
                    "Uptime",
                    v("uptime"),
                    json!({ "device_class": "duration", "unit_of_measurement": "s", "entity_category": "diagnostic" }),
                ),
            ];
            for e in list {
                push(t, &mut m, e);
            }
        }
    }

    // UPSes: one device each.
    for u in &input.ups.upses {
        let uid = id(&u.name);
        let topic = format!("{}/ups/{uid}", t.root);
        let device = json!({
            "identifiers": [format!("proxwatch_{}_ups_{uid}", t.node_id)],
            "name": format!("UPS {}", u.name),
            "manufacturer": u.reading.as_ref().and_then(|r| r.mfr.clone()).unwrap_or_else(|| "Network UPS Tools".into()),
            "model": u.reading.as_ref().and_then(|r| r.model.clone()).unwrap_or_default(),
            "via_device": format!("proxwatch_{}", t.node_id),
        });
        let r = u.reading.as_ref();
        let status = r.map(|r| r.status.raw.clone()).unwrap_or_else(|| {
            serde_json::to_value(u.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        });
        let on_battery = r.is_some_and(|r| r.status.has(crate::model::nut::Flag::OB));
        let state = json!({
            "status": status,
            "on_battery": on_battery,
            "charge": r.and_then(|r| r.charge_pct),
            "runtime": r.and_then(|r| r.runtime_s),
            "load": r.and_then(|r| r.load_pct),
        });
        m.states.insert(topic.clone(), state.to_string());
        let prefix = format!("ups_{uid}_");
        let d = Device { device: &device, topic: &topic, prefix: &prefix };
        let (ent, v) = (|c, k, n, tpl, x| d.entity(c, k, n, tpl, x), value);
        let list = [
            ent("sensor", "status", "Status", v("status"), json!({ "icon": "mdi:power-plug-battery" })),
            ent(
                "binary_sensor",
                "on_battery",
                "On battery",
                "{{ 'ON' if value_json.on_battery else 'OFF' }}".into(),
                json!({ "icon": "mdi:battery-alert" }),
            ),
            ent(
                "sensor",
                "charge",
                "Battery charge",
                v("charge"),
                json!({ "device_class": "battery", "unit_of_measurement": "%", "state_class": "measurement" }),
            ),
            ent(
                "sensor",
                "runtime",
                "Runtime",
                v("runtime"),
                json!({ "device_class": "duration", "unit_of_measurement": "s", "state_class": "measurement" }),
            ),
            ent("sensor", "load", "Load", v("load"), measurement("%", "mdi:gauge")),
        ];
        for e in list {
            push(t, &mut m, e);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_topics_are_what_discovery_allows() {
        assert_eq!(id("pve-1.lan"), "pve_1_lan");
        assert_eq!(id(""), "_");
        let t = Topics::new("homeassistant", "proxwatch", "PVE-1");
        assert_eq!(t.root, "proxwatch/pve_1");
        assert_eq!(t.availability(), "proxwatch/pve_1/status");
        assert_eq!(t.ha_status(), "homeassistant/status");
        assert_eq!(t.own_configs(), "homeassistant/+/pve_1/+/config");
        assert!(t.is_own_config("homeassistant/sensor/pve_1/cpu/config"));
        assert!(!t.is_own_config("homeassistant/sensor/pve_2/cpu/config"));
        assert!(!t.is_own_config("homeassistant/sensor/pve_1/cpu/state"));
        assert!(!t.is_own_config("other/sensor/pve_1/cpu/config"));
    }

    #[test]
    fn without_data_the_host_still_declares_its_health_and_nothing_it_cannot_fill() {
        let t = Topics::new("homeassistant", "proxwatch", "pve1");
        let inv = Inventory::default();
        let health = HealthSnapshot::default();
        let ups = UpsSnapshot::default();
        let input = Input {
            vitals: None,
            inventory: &inv,
            health: &health,
            ups: &ups,
            version: "0.1.0",
            pve_version: None,
            guests: true,
        };
        let m = build(&t, &input);
        // No sample yet: no CPU entity whose state would be missing; health is declared, pending.
        assert!(!m.configs.keys().any(|k| k.ends_with("/cpu/config")), "{:?}", m.configs.keys());
        let health_cfg = &m.configs["homeassistant/sensor/pve1/health/config"];
        let v: Value = serde_json::from_str(health_cfg).unwrap();
        assert_eq!(v["state_topic"], "proxwatch/pve1/host");
        assert_eq!(v["availability_topic"], "proxwatch/pve1/status");
        assert_eq!(v["device"]["identifiers"][0], "proxwatch_pve1");
        assert_eq!(v["unique_id"], "proxwatch_pve1_health");
        let state: Value = serde_json::from_str(&m.states["proxwatch/pve1/host"]).unwrap();
        assert_eq!(state["health"], "pending");
        assert_eq!(state["health_storage"], "pending");
        assert_eq!(state["problems"], 0);
        // Every template reads a key the state carries.
        for (topic, cfg) in &m.configs {
            let v: Value = serde_json::from_str(cfg).unwrap();
            let st: Value = serde_json::from_str(&m.states[v["state_topic"].as_str().unwrap()]).unwrap();
            let tpl = v["value_template"].as_str().unwrap();
            let key = tpl.split("value_json.").nth(1).unwrap().split([' ', '}']).next().unwrap();
            assert!(st.get(key).is_some(), "{topic} reads {key}, which the state lacks");
        }
    }
}
