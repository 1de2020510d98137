//! The Settings page's layer of the configuration (issue 16). Admins may change a documented list
//! of settings ([`EDITABLE`]) in the UI; each change is stored in the database (`settings`) and
//! becomes a layer between the config file and the environment (`config::Layers`): the file's value
//! is overridden, an environment variable or a flag still wins. A change takes effect at the next
//! start ([`Settings::request_restart`] restarts proxwatch in place), and the page says which stored
//! values are not running yet.
//!
//! The effective configuration is shown key by key with its source (default, file, UI, environment,
//! flag); values of secret keys are never answered.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use rusqlite::params;
use serde::Serialize;

use crate::config::{Config, Layers, Loaded, Source};
use crate::db::Db;

/// What a UI-editable setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "SettingKind"), schemars(rename = "SettingKind"))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// A whole number in `min..=max`, in `unit`.
    Int {
        min: u64,
        max: u64,
        unit: &'static str,
    },
    Bool,
    /// A URL path that starts and ends with `/`.
    Path,
    /// A list of CIDRs (`10.0.0.0/8`, `192.0.2.7/32`).
    Cidrs,
    /// A list of host names, `*.domain` patterns or addresses.
    Hosts,
}

/// One setting the Settings page may change.
#[derive(Debug, Clone, Copy)]
pub struct Editable {
    /// `section.key`, as in the config file.
    pub key: &'static str,
    pub kind: Kind,
}

const fn int(key: &'static str, min: u64, max: u64, unit: &'static str) -> Editable {
    Editable { key, kind: Kind::Int { min, max, unit } }
}

/// The settings that are safe to change from the browser: sampling and poll intervals, retention,
/// the health cycle, the service monitors' and the fleet's and agents' bounds, TLS on/off, the base path, trusted proxies and allowed host names. Not here:
/// what could lock the admin out of the machine itself or needs a shell anyway (bind address, port,
/// data directory, the terminal's command, certificate paths, auth limits).
pub const EDITABLE: &[Editable] = &[
    int("sampler.interval_ms", 100, 60_000, "ms"),
    int("sampler.processes_interval_s", 1, 3600, "s"),
    int("sampler.identity_refresh_s", 60, 86_400, "s"),
    int("history.live_minutes", 1, 120, "min"),
    int("history.retain_1m_days", 1, 90, "days"),
    int("history.retain_10m_days", 1, 3650, "days"),
    int("history.retain_1h_days", 1, 3650, "days"),
    int("network.interval_s", 5, 3600, "s"),
    int("network.probe_interval_s", 0, 3600, "s"),
    int("hardware.interval_s", 1, 3600, "s"),
    int("hardware.ipmi_interval_s", 10, 86_400, "s"),
    int("nut.interval_s", 1, 3600, "s"),
    int("health.interval_s", 30, 86_400, "s"),
    int("health.startup_grace_s", 0, 3600, "s"),
    int("monitors.max", 0, 10_000, "monitors"),
    int("monitors.in_flight", 1, 256, "checks"),
    Editable { key: "monitors.enabled", kind: Kind::Bool },
    Editable { key: "fleet.enabled", kind: Kind::Bool },
    int("fleet.max", 0, 256, "peers"),
    int("fleet.interval_s", 2, 3600, "s"),
    int("agents.max", 0, 1024, "agents"),
    Editable { key: "tls.enabled", kind: Kind::Bool },
    Editable { key: "server.base_path", kind: Kind::Path },
    Editable { key: "auth.trusted_proxies", kind: Kind::Cidrs },
    Editable { key: "server.allowed_hosts", kind: Kind::Hosts },
];

pub fn editable(key: &str) -> Option<&'static Editable> {
    EDITABLE.iter().find(|e| e.key == key)
}

/// Keys whose values are never answered (only whether they are set).
fn secret(key: &str) -> bool {
    let name = key.rsplit('.').next().unwrap_or(key);
    // Whole words at the end only: `auth.max_token_failures` is a number, not a token.
    ["password", "secret", "token", "key"].iter().any(|s| name == *s || name.ends_with(&format!("_{s}")))
        && key != "tls.key"
}

/// Checks one value from the UI against its setting's kind; the error names the field and what it
/// accepts.
pub fn check(key: &str, value: &serde_json::Value) -> Result<toml::Value, String> {
    let Some(e) = editable(key) else {
        return Err(format!(
            "{key}: not a setting the Settings page may change (set it in the config file or the environment)"
        ));
    };
    match e.kind {
        Kind::Int { min, max, unit } => match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(toml::Value::Integer(n as i64)),
            _ => Err(format!("{key}: must be a whole number from {min} to {max} ({unit}), got {value}")),
        },
        Kind::Bool => {
            value.as_bool().map(toml::Value::Boolean).ok_or_else(|| format!("{key}: must be true or false"))
        }
        Kind::Path => {
            let s = value.as_str().unwrap_or_default();
            let ok = s.starts_with('/')
                && s.ends_with('/')
                && s.len() <= 128
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
                && !s.contains("//")
                && !s.split('/').any(|seg| seg == "..");
            if ok {
                Ok(toml::Value::String(s.to_string()))
            } else {
                Err(format!(
                    "{key}: must be a path that starts and ends with '/' (e.g. \"/proxwatch/\"), with letters, \
                     digits, - _ . only, got {value}"
                ))
            }
        }
        Kind::Cidrs | Kind::Hosts => {
            let Some(items) = value.as_array() else {
                return Err(format!("{key}: must be a list of strings"));
            };
            if items.len() > 64 {
                return Err(format!("{key}: at most 64 entries"));
            }
            let mut out = Vec::new();
            for item in items {
                let Some(s) = item.as_str() else { return Err(format!("{key}: must be a list of strings")) };
                let s = s.trim();
                let valid = match e.kind {
                    Kind::Cidrs => crate::model::addr::Cidr::parse(s).is_ok(),
                    _ => crate::model::addr::valid_pattern(s),
                };
                if !valid {
                    let what = if e.kind == Kind::Cidrs {
                        "an address or CIDR (e.g. 10.0.0.0/8)"
                    } else {
                        "a host name, *.domain, an address or \"*\""
                    };
                    return Err(format!("{key}: {s:?} is not {what}"));
                }
                out.push(toml::Value::String(s.to_string()));
            }
            Ok(toml::Value::Array(out))
        }
    }
}

/// The stored UI layer.
pub fn load(conn: &rusqlite::Connection) -> anyhow::Result<BTreeMap<String, toml::Value>> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (key, text) = row?;
        let value = serde_json::from_str::<toml::Value>(&text)
            .with_context(|| format!("stored setting {key}: {text:?} is not a value"))?;
        out.insert(key, value);
    }
    Ok(out)
}

/// One setting as the Settings page shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "SettingEntry"), schemars(rename = "SettingEntry"))]
pub struct Entry {
    /// `section.key`.
    pub key: String,
    /// The value in effect now (`null` for a secret: see `secret_set`).
    #[cfg_attr(test, ts(type = "unknown"))]
    pub value: serde_json::Value,
    pub source: Source,
    #[cfg_attr(test, ts(type = "unknown"))]
    pub default: serde_json::Value,
    /// For secret keys (passwords): whether one is set. Their values are never answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_set: Option<bool>,
    /// Set when the Settings page may change it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub editable: Option<Kind>,
    /// The value stored by the Settings page, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub stored: Option<serde_json::Value>,
    /// The value the next start will use, when it differs from the running one (a restart applies it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub next: Option<serde_json::Value>,
    /// When the stored value is overridden by a later layer (environment or flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadowed_by: Option<Source>,
}

/// `GET /api/settings`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
pub struct SettingsView {
    /// The config file read at start, if any.
    pub file: Option<String>,
    pub entries: Vec<Entry>,
    /// Settings whose next value differs from the running one.
    pub restart_needed: Vec<String>,
    /// Whether `POST /api/settings/restart` can restart proxwatch here (not in the demo).
    pub can_restart: bool,
    /// The stored layer could not be applied at start (then it was left out); why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_error: Option<String>,
}

/// The running configuration's layers and the restart request.
#[derive(Debug)]
pub struct Settings {
    layers: Layers,
    running: Loaded,
    stored_error: Option<String>,
    can_restart: bool,
    restart: AtomicBool,
    /// Keys the running program decides itself, whatever the layers say (the demo's data directory):
    /// their next value is their running one.
    pinned: Vec<String>,
}

impl Settings {
    /// `running` is what the app runs with (the layers composed with the stored UI layer, or without
    /// it when that failed: `stored_error`).
    pub fn new(layers: Layers, running: Loaded, stored_error: Option<String>, can_restart: bool) -> Settings {
        Settings {
            layers,
            running,
            stored_error,
            can_restart,
            restart: AtomicBool::new(false),
            pinned: Vec::new(),
        }
    }

    /// Marks keys whose running value the program decides itself (see `pinned`).
    pub fn with_pinned(mut self, keys: &[&str]) -> Settings {
        self.pinned = keys.iter().map(|k| k.to_string()).collect();
        self
    }

    /// For tests and tools that build an app from a plain config: no file, no environment.
    pub fn plain(config: &Config) -> Settings {
        let running = Loaded { config: config.clone(), sources: BTreeMap::new(), warnings: Vec::new() };
        Settings::new(Layers::from_config(config), running, None, false)
    }

    /// Composes the layers with the stored UI layer at start. A stored layer that no longer
    /// composes (a later version's rule, an environment change) is left out with the reason, so a
    /// bad stored value can never keep proxwatch from starting.
    pub fn start(
        layers: Layers,
        base: Loaded,
        stored: anyhow::Result<BTreeMap<String, toml::Value>>,
    ) -> (Loaded, Option<String>) {
        match stored.and_then(|ui| if ui.is_empty() { Ok(None) } else { layers.compose(&ui).map(Some) }) {
            Ok(Some(loaded)) => (loaded, None),
            Ok(None) => (base, None),
            Err(e) => (base, Some(format!("{e:#}"))),
        }
    }

    pub fn config(&self) -> &Config {
        &self.running.config
    }

    /// The effective configuration, key by key, with the stored layer `ui` and what the next start
    /// would run.
    pub fn view(&self, ui: &BTreeMap<String, toml::Value>) -> SettingsView {
        let next = self.layers.compose(ui).ok();
        let running = serde_json::to_value(&self.running.config).unwrap_or_default();
        let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
        let next_json = next.as_ref().and_then(|n| serde_json::to_value(&n.config).ok());
        let mut entries = Vec::new();
        let mut restart_needed = Vec::new();
        for (section, inner) in running.as_object().into_iter().flatten() {
            for (name, value) in inner.as_object().into_iter().flatten() {
                let key = format!("{section}.{name}");
                let default = defaults[section][name].clone();
                let source = self.running.sources.get(&key).copied().unwrap_or(Source::Default);
                let upcoming = if self.pinned.contains(&key) {
                    Some(value.clone())
                } else {
                    next_json.as_ref().map(|n| n[section][name].clone())
                };
                let changes = upcoming.as_ref().is_some_and(|u| u != value);
                if changes {
                    restart_needed.push(key.clone());
                }
                let stored = ui.get(&key).and_then(|v| serde_json::to_value(v).ok());
                let shadowed_by = next
                    .as_ref()
                    .and_then(|n| n.sources.get(&key).copied())
                    .filter(|s| stored.is_some() && *s > Source::Ui);
                let hide = secret(&key);
                entries.push(Entry {
                    secret_set: hide.then(|| value.as_str().is_some_and(|s| !s.is_empty())),
                    value: if hide { serde_json::Value::Null } else { value.clone() },
                    default: if hide { serde_json::Value::Null } else { default },
                    source,
                    editable: editable(&key).map(|e| e.kind),
                    stored: if hide { None } else { stored },
                    next: if changes && !hide { upcoming } else { None },
                    shadowed_by,
                    key,
                });
            }
        }
        SettingsView {
            file: self.layers.file.as_ref().map(|p| p.display().to_string()),
            entries,
            restart_needed,
            can_restart: self.can_restart,
            stored_error: self.stored_error.clone(),
        }
    }

    /// The stored layer with `changes` applied (`null` resets a setting to the lower layers), checked
    /// key by key and composed as a whole; the error is the 400's message.
    pub fn candidate(
        &self,
        mut ui: BTreeMap<String, toml::Value>,
        changes: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(BTreeMap<String, toml::Value>, Config), String> {
        if changes.len() > EDITABLE.len() {
            return Err(format!("at most {} settings per change", EDITABLE.len()));
        }
        for (key, value) in changes {
            if value.is_null() {
                if editable(key).is_none() {
                    return Err(format!("{key}: not a setting the Settings page may change"));
                }
                ui.remove(key);
            } else {
                ui.insert(key.clone(), check(key, value)?);
            }
        }
        let loaded = self.layers.compose(&ui).map_err(|e| format!("{e:#}"))?;
        Ok((ui, loaded.config))
    }

    /// Asks for a restart in place (the caller stops the app; `cli::serve` then re-executes).
    pub fn request_restart(&self) -> bool {
        if self.can_restart {
            self.restart.store(true, Ordering::SeqCst);
        }
        self.can_restart
    }

    /// Whether this proxwatch can restart itself in place.
    pub fn request_restart_possible(&self) -> bool {
        self.can_restart
    }

    pub fn restart_requested(&self) -> bool {
        self.restart.load(Ordering::SeqCst)
    }
}

/// Writes the stored layer's changed keys (in one transaction).
pub fn store(
    conn: &mut rusqlite::Connection,
    before: &BTreeMap<String, toml::Value>,
    after: &BTreeMap<String, toml::Value>,
    user: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        tx.execute("DELETE FROM settings WHERE key = ?1", params![key])?;
    }
    for (key, value) in after {
        if before.get(key) != Some(value) {
            tx.execute(
                "INSERT INTO settings (key, value, updated_ms, updated_by) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET value = ?2, updated_ms = ?3, updated_by = ?4",
                params![key, serde_json::to_string(value)?, now_ms, user],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Opens the stored layer for `Settings::start` from a database handle.
pub async fn read(db: &Db) -> anyhow::Result<BTreeMap<String, toml::Value>> {
    db.call(|c| load(c)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn layers(file: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Layers) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, file).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let layers =
            Layers::read(Some(&path), env, &Overrides { port: Some(9000), ..Overrides::default() }).unwrap();
        (dir, layers)
    }

    #[test]
    fn every_editable_key_exists_and_its_range_holds_the_default() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        for e in EDITABLE {
            let (section, name) = e.key.split_once('.').unwrap();
            let d = &defaults[section][name];
            assert!(!d.is_null(), "{} is not a config key", e.key);
            assert!(check(e.key, d).is_ok(), "{}'s default {d} is out of its own range", e.key);
        }
    }

    #[test]
    fn only_secret_keys_are_hidden() {
        assert!(secret("nut.password"));
        assert!(!secret("auth.max_token_failures") && !secret("auth.token_failure_window_s"));
        // A path to the key file, not a key.
        assert!(!secret("tls.key"));
    }

    #[test]
    fn bad_values_name_the_field_and_what_it_takes() {
        let e = check("health.interval_s", &serde_json::json!(5)).unwrap_err();
        assert!(e.contains("health.interval_s") && e.contains("from 30 to 86400"), "{e}");
        let e = check("health.interval_s", &serde_json::json!("300")).unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = check("server.base_path", &serde_json::json!("/a/../b/")).unwrap_err();
        assert!(e.contains("server.base_path"), "{e}");
        let e = check("auth.trusted_proxies", &serde_json::json!(["10.0.0.0/8", "nope"])).unwrap_err();
        assert!(e.contains("\"nope\"") && e.contains("CIDR"), "{e}");
        let e = check("server.port", &serde_json::json!(1)).unwrap_err();
        assert!(e.contains("not a setting"), "{e}");
        assert_eq!(check("tls.enabled", &serde_json::json!(true)).unwrap(), toml::Value::Boolean(true));
    }

    #[test]
    fn the_ui_layer_sits_between_the_file_and_the_environment() {
        let (_dir, layers) = layers(
            "[health]\ninterval_s = 600\nstartup_grace_s = 60\n[nut]\npassword = \"hunter2\"\n",
            &[("PROXWATCH_HEALTH_STARTUP_GRACE_S", "30")],
        );
        let base = layers.compose(&BTreeMap::new()).unwrap();
        assert_eq!(base.config.health.interval_s, 600);
        assert_eq!(base.sources["health.interval_s"], Source::File);
        assert_eq!(base.sources["health.startup_grace_s"], Source::Env);
        assert_eq!(base.sources["server.port"], Source::Flag);

        let settings = Settings::new(layers.clone(), base, None, true);
        let changes = BTreeMap::from([
            ("health.interval_s".to_string(), serde_json::json!(900)),
            ("health.startup_grace_s".to_string(), serde_json::json!(120)),
        ]);
        let (ui, next) = settings.candidate(BTreeMap::new(), &changes).unwrap();
        // The UI wins over the file, the environment over the UI.
        assert_eq!(next.health.interval_s, 900);
        assert_eq!(next.health.startup_grace_s, 30);
        let view = settings.view(&ui);
        let entry = |k: &str| view.entries.iter().find(|e| e.key == k).unwrap().clone();
        assert_eq!(entry("health.interval_s").value, serde_json::json!(600));
        assert_eq!(entry("health.interval_s").next, Some(serde_json::json!(900)));
        assert_eq!(entry("health.startup_grace_s").shadowed_by, Some(Source::Env));
        assert_eq!(view.restart_needed, vec!["health.interval_s".to_string()]);
        assert_eq!(entry("sampler.interval_ms").source, Source::Default);
        // A secret is never answered.
        let pw = entry("nut.password");
        assert_eq!((pw.value, pw.secret_set), (serde_json::Value::Null, Some(true)));
        assert!(!serde_json::to_string(&view).unwrap().contains("hunter2"));

        // Resetting drops the stored value.
        let reset = BTreeMap::from([("health.interval_s".to_string(), serde_json::Value::Null)]);
        let (ui, next) = settings.candidate(ui, &reset).unwrap();
        assert!(!ui.contains_key("health.interval_s"));
        assert_eq!(next.health.interval_s, 600);
    }

    #[test]
    fn a_stored_layer_that_no_longer_composes_is_left_out_with_its_reason() {
        let (_dir, layers) = layers("", &[]);
        let base = layers.compose(&BTreeMap::new()).unwrap();
        let bad = BTreeMap::from([("server.base_path".to_string(), toml::Value::String("nope".into()))]);
        let (loaded, error) = Settings::start(layers, base, Ok(bad));
        assert_eq!(loaded.config.server.base_path, "/");
        assert!(error.unwrap().contains("base_path"));
    }

    #[test]
    fn stored_values_round_trip_through_the_database() {
        let db = crate::db::Db::open_in_memory().unwrap();
        let after = BTreeMap::from([
            (
                "auth.trusted_proxies".to_string(),
                check("auth.trusted_proxies", &serde_json::json!(["127.0.0.1/32"])).unwrap(),
            ),
            ("server.base_path".to_string(), toml::Value::String("/pw/".into())),
        ]);
        db.call_blocking(|c| store(c, &BTreeMap::new(), &after, "admin", 1)).unwrap();
        assert_eq!(db.call_blocking(|c| load(c)).unwrap(), after);
        let fewer = BTreeMap::from([after.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap()]);
        db.call_blocking(|c| store(c, &after, &fewer, "admin", 2)).unwrap();
        assert_eq!(db.call_blocking(|c| load(c)).unwrap(), fewer);
    }
}

/// `docs/configuration.md`, generated from the commented default file (`config::DEFAULT_TOML`), the
/// configuration's types and [`EDITABLE`]; a test keeps the committed file in sync.
#[cfg(test)]
mod reference {
    use super::*;

    fn render() -> String {
        let mut out = String::from(
            "# Configuration reference\n\n\
             <!-- Generated from src/config.rs (DEFAULT_TOML) and src/settings.rs (EDITABLE) by \
             `UPDATE_DOCS=1 cargo test --lib configuration_reference`; do not edit by hand. -->\n\n\
             proxwatch reads `/etc/proxwatch/config.toml` (or `--config FILE`). Every key is optional; \
             the defaults are below (`proxwatch print-config` prints this file). Layers, later wins: \
             the default, the file, the **Settings page** (stored in the database; only the keys marked \
             *Settings page* below), the environment (`PROXWATCH_<SECTION>_<KEY>`, e.g. \
             `PROXWATCH_SERVER_PORT=8009`), the command line (`--bind`, `--port`, `--data-dir`). \
             `GET /api/settings` (admins) and Settings → System show every value in effect and where it \
             came from. `proxwatch check-config` checks a file; an unknown key is an error naming the \
             key and the line. Changes take effect at the next start (`systemctl restart proxwatch`, \
             `systemctl reload proxwatch`, or *Restart now* on the Settings page).\n",
        );
        let mut comment: Vec<String> = Vec::new();
        let mut section = String::new();
        // The previous line was a key of the same comment group (no blank line between).
        let mut grouped = false;
        for line in crate::config::DEFAULT_TOML.lines() {
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
                out.push_str(&format!(
                    "\n## `[{section}]`\n\n| key | default | environment | meaning |\n|---|---|---|---|\n"
                ));
                comment.clear();
            } else if let Some(c) = line.strip_prefix('#') {
                comment.push(c.trim().to_string());
            } else if let Some((key, value)) = line.split_once(" = ") {
                if section.is_empty() {
                    continue;
                }
                let path = format!("{section}.{key}");
                let env = format!("PROXWATCH_{}_{}", section.to_uppercase(), key.to_uppercase());
                let mut meaning = comment.join(" ").replace('|', "\\|");
                if meaning.is_empty() && grouped {
                    meaning = "See the row above.".into();
                }
                if let Some(e) = editable(&path) {
                    let range = match e.kind {
                        Kind::Int { min, max, unit } => format!(" ({min}–{max} {unit})"),
                        _ => String::new(),
                    };
                    meaning.push_str(&format!(" *Settings page*{range}."));
                }
                out.push_str(&format!(
                    "| `{key}` | `{}` | `{env}` | {meaning} |\n",
                    value.replace('|', "\\|")
                ));
                comment.clear();
                grouped = true;
                continue;
            } else if line.is_empty() && section.is_empty() {
                comment.clear();
            }
            grouped = grouped && line.starts_with('#');
        }
        out
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // the docs file is the repository's, not the host's
    fn configuration_reference_matches_the_committed_file() {
        // Every key of the configuration is in the commented default file, and nothing else is.
        let shipped: toml::Table = toml::from_str(crate::config::DEFAULT_TOML).unwrap();
        let all = serde_json::to_value(Config::default()).unwrap();
        for (section, inner) in all.as_object().unwrap() {
            for key in inner.as_object().unwrap().keys() {
                assert!(
                    shipped.get(section).and_then(|s| s.get(key)).is_some(),
                    "{section}.{key} is missing from config::DEFAULT_TOML (and so from docs/configuration.md)"
                );
            }
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let text = render();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == text,
            "docs/configuration.md is out of date: run UPDATE_DOCS=1 cargo test --lib configuration_reference"
        );
    }
}
