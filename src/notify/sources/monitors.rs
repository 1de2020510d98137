//! The service monitors' changes, read from the `monitor_events` table (written by
//! `monitors::runner` in the transaction of the check that found them) past the last row id taken:
//! down, recovered (with the outage's length), degraded, flapping, settled and a certificate that
//! expires soon. Events held by the monitors (`notify = 0`: in a maintenance window, or while
//! flapping) are skipped.
//!
//! The row id is the fingerprint (`monitor:<id>`); a certificate warning's is the monitor and the
//! certificate's expiry (`monitor.cert:<monitor>:<expires>`), so a restart that warns again is taken
//! once. The first step only notes the newest row (a first start does not replay the table).

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{duration, guest_label, utc};
use crate::model::inventory::Inventory;
use crate::monitors::store::{self, MonitorEvent};
use crate::notify::Event;

/// Rows read per step at most; the rest wait for the next step.
pub const BATCH: usize = 500;

/// What the monitors source remembers: the last `monitor_events` row id taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorWatch {
    #[serde(default)]
    last_id: Option<i64>,
}

impl MonitorWatch {
    /// Reads the events written since the last step.
    pub fn step(&mut self, conn: &Connection, inv: &Inventory) -> anyhow::Result<Vec<Event>> {
        let hi = store::last_event_id(conn)?;
        let Some(last) = self.last_id else {
            self.last_id = Some(hi);
            return Ok(Vec::new());
        };
        let rows = store::events_after(conn, last, hi, BATCH)?;
        let full = rows.len() >= BATCH;
        let out = rows.iter().filter(|e| e.notify).filter_map(|e| event(e, inv)).collect();
        self.last_id = Some(match rows.last() {
            Some(r) if full => r.id,
            _ => hi.max(last),
        });
        Ok(out)
    }
}

fn text(e: &MonitorEvent, key: &str) -> String {
    match e.detail.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// The engine's event for one stored monitor event (`None` for a kind it does not know).
pub fn event(e: &MonitorEvent, inv: &Inventory) -> Option<Event> {
    let kind = match e.kind.as_str() {
        "down" => "monitor.down",
        "recovered" => "monitor.recovered",
        "degraded" => "monitor.degraded",
        "flapping" => "monitor.flapping",
        "settled" => "monitor.settled",
        "cert_expiring" => "monitor.cert_expiring",
        _ => return None,
    };
    let guest =
        e.detail.get("vmid").and_then(|v| v.as_u64()).map(|v| guest_label(inv, v)).unwrap_or_default();
    let fingerprint = match kind {
        "monitor.cert_expiring" => format!("monitor.cert:{}:{}", e.monitor_id, text(e, "expires")),
        _ => format!("monitor:{}", e.id),
    };
    let mut ev = Event::new(kind, fingerprint, format!("{kind}:{}", e.monitor_id), e.ts)
        .field("monitor", text(e, "name"))
        .field("target", text(e, "target"))
        .field("guest", guest)
        .linked(format!("/services/{}", e.monitor_id));
    match e.kind.as_str() {
        "down" => ev = ev.field("error", text(e, "error")).field("since", utc(e.ts)),
        "recovered" => {
            let ms = e.detail.get("outage_ms").and_then(|v| v.as_i64()).unwrap_or(0);
            ev = ev.field("duration", duration((ms / 1000).max(0) as u64)).field("error", text(e, "error"));
        }
        "degraded" => {
            let ms = e.detail.get("latency_ms").and_then(|v| v.as_f64()).unwrap_or(0.0);
            ev = ev.field("latency", format!("{ms:.0} ms"));
        }
        "flapping" => ev = ev.field("changes", text(e, "changes")),
        "settled" => ev = ev.field("status", text(e, "status")),
        "cert_expiring" => {
            let exp = e.detail.get("expires").and_then(|v| v.as_i64()).unwrap_or(0);
            ev = ev.field("days", text(e, "days")).field("expires", utc(exp.saturating_mul(1000)));
        }
        _ => {}
    }
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::model::monitor::{MonitorSpec, Target};

    #[tokio::test]
    async fn held_events_are_skipped_and_each_row_is_taken_once() {
        let db = Db::open_in_memory().unwrap();
        let spec = MonitorSpec {
            name: "nextcloud".into(),
            target: Target::Tcp { host: "192.0.2.5".into(), port: 443 },
            interval_s: 30,
            timeout_ms: 1000,
            retries: 0,
            degraded_ms: None,
            vmid: Some(201),
        };
        let events = db
            .call(move |c| {
                let id = store::create(c, &spec, 0)?;
                let d = serde_json::json!({"name": "nextcloud", "vmid": 201, "target": "tcp 192.0.2.5:443"});
                let mut w = MonitorWatch::default();
                assert!(w.step(c, &Inventory::default())?.is_empty(), "the first step notes the newest row");
                let mut down = d.clone();
                down["error"] = "connection refused".into();
                store::push_event(c, id, None, 1000, "down", true, &down)?;
                store::push_event(c, id, None, 2000, "flapping", false, &d)?;
                let mut up = d.clone();
                up["outage_ms"] = 125_000.into();
                store::push_event(c, id, None, 126_000, "recovered", true, &up)?;
                let first = w.step(c, &Inventory::default())?;
                let again = w.step(c, &Inventory::default())?;
                assert!(again.is_empty());
                Ok(first)
            })
            .await
            .unwrap();
        assert_eq!(
            events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["monitor.down", "monitor.recovered"]
        );
        assert_eq!(events[0].fields["error"], "connection refused");
        assert_eq!(events[0].fields["guest"], "201");
        assert_eq!(events[1].fields["duration"], "2m 05s");
        assert_eq!(events[0].link.as_deref(), Some("/services/1"));
    }
}
