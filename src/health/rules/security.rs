//! Security & power: failed logins (SSH, PVE, proxwatch) in a window and fail2ban bans; certificate
//! expiry; UPS on battery / low battery / replace battery / overload; IPMI sensors outside their
//! thresholds and new SEL events.

use std::collections::BTreeMap;

use serde_json::json;

use super::unknown;
use crate::health::model::{Category, Finding, Rule, Severity, Snapshots, Source, Thresholds};
use crate::model::nut::Flag;
use crate::model::section::SectionState;
use crate::model::ups::{State, UpsState};

const CAT: Category = Category::Security;

pub const LOGINS: Rule = Rule {
    id: "logins",
    category: CAT,
    checks: &[("failed_logins", "Failed logins"), ("fail2ban", "fail2ban bans")],
    fast: false,
    run: logins,
};
pub const CERTS: Rule = Rule {
    id: "certificates",
    category: CAT,
    checks: &[("cert_expiry", "Certificate expiry")],
    fast: false,
    run: certs,
};
pub const UPS: Rule = Rule { id: "ups", category: CAT, checks: &[("ups", "UPS")], fast: true, run: ups };
pub const IPMI: Rule = Rule {
    id: "ipmi",
    category: CAT,
    checks: &[("ipmi_sensor", "IPMI sensors"), ("ipmi_sel", "IPMI event log")],
    fast: false,
    run: ipmi,
};

fn logins(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let window_min = t.get("security.failed_login_window_min");
    let cut = now - (window_min * 60_000.0) as i64;
    let mut by_source: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ips: BTreeMap<&str, usize> = BTreeMap::new();
    let mut sources = 0;
    let mut missing = Vec::new();
    if let Source::Ok { data } = &s.facts.journal {
        sources += 1;
        for l in data.logins.iter().filter(|l| l.ts_ms >= cut) {
            *by_source.entry(l.source.as_str()).or_default() += 1;
            *ips.entry(l.ip.as_str()).or_default() += 1;
        }
    } else {
        missing.push("journal");
    }
    if let Source::Ok { data } = &s.facts.proxwatch_logins {
        sources += 1;
        for l in data.iter().filter(|l| l.ts_ms >= cut) {
            *by_source.entry("proxwatch").or_default() += 1;
            *ips.entry(l.ip.as_str()).or_default() += 1;
        }
    } else {
        missing.push("proxwatch auth log");
    }
    let total: usize = by_source.values().sum();
    let (warn, crit) = (t.get("security.failed_logins_warning"), t.get("security.failed_logins_critical"));
    if sources == 0 {
        out.push(unknown(CAT, "failed_logins:host", "neither the journal nor the auth log could be read"));
    } else {
        let sev = if total as f64 >= crit {
            Severity::Critical
        } else if total as f64 >= warn {
            Severity::Warning
        } else {
            Severity::Ok
        };
        let parts: Vec<String> = by_source.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let top = ips
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(ip, n)| format!("; most from {ip} ({n})"))
            .unwrap_or_default();
        let reason = if total == 0 {
            format!("no failed logins in {window_min:.0} min")
        } else {
            format!(
                "{total} failed logins in {window_min:.0} min ({}) from {} IPs{top}",
                parts.join(", "),
                ips.len()
            )
        };
        out.push(Finding::new(CAT, "failed_logins:host", sev, reason).details(json!({
            "total": total, "by_source": by_source, "ips": ips.len(), "warning": warn, "critical": crit, "not_read": missing,
        })));
    }
    match &s.facts.bans {
        Source::Ok { data } => {
            let n: usize = data.values().map(Vec::len).sum();
            let parts: Vec<String> =
                data.iter().filter(|(_, v)| !v.is_empty()).map(|(j, v)| format!("{j} {}", v.len())).collect();
            let (sev, reason) = if n == 0 {
                (Severity::Ok, format!("fail2ban: no banned IPs ({} jails)", data.len()))
            } else {
                (Severity::Info, format!("fail2ban: {n} banned IPs ({})", parts.join(", ")))
            };
            out.push(Finding::new(CAT, "fail2ban:host", sev, reason).details(json!({"banned": data})));
        }
        // fail2ban is optional: not installed is simply not reported.
        Source::Unavailable { .. } => {}
    }
    out
}

fn certs(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    let (warn, crit) = (t.get("security.cert_warning_days"), t.get("security.cert_critical_days"));
    s.facts
        .certs
        .iter()
        .map(|c| {
            let key = format!("cert_expiry:{}", c.name);
            match &c.cert {
                Source::Ok { data } => {
                    let days = (data.not_after - now / 1000) as f64 / 86_400.0;
                    let sev = if days <= crit {
                        Severity::Critical
                    } else if days <= warn {
                        Severity::Warning
                    } else {
                        Severity::Ok
                    };
                    let reason = if days < 0.0 {
                        format!("certificate {} ({}) expired {:.0} days ago", c.name, c.path, -days)
                    } else {
                        format!("certificate {} ({}) expires in {days:.0} days", c.name, c.path)
                    };
                    Finding::new(CAT, key, sev, reason).details(json!({
                        "path": c.path, "subject": data.subject, "not_after": data.not_after, "days_left": days,
                        "warning_days": warn, "critical_days": crit,
                    }))
                }
                Source::Unavailable { reason } => unknown(CAT, key, format!("certificate {} ({}): {reason}", c.name, c.path)),
            }
        })
        .collect()
}

fn ups(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    let snap = &s.ups;
    match snap.state {
        // No UPS monitored: nothing to check.
        State::Unavailable | State::Pending => return Vec::new(),
        State::Error if snap.upses.is_empty() => {
            return vec![unknown(
                CAT,
                "ups:all",
                format!("UPS: {}", snap.reason.as_deref().unwrap_or("upsd error")),
            )];
        }
        _ => {}
    }
    let (charge_warn, runtime_warn) = (t.get("ups.charge_warning_pct"), t.get("ups.runtime_warning_min"));
    snap.upses
        .iter()
        .map(|u| {
            let key = format!("ups:{}", u.id);
            let Some(r) = u.reading.as_ref().filter(|_| u.state == UpsState::Ok) else {
                let why = u.reason.clone().unwrap_or_else(|| format!("{:?}", u.state));
                return unknown(CAT, key, format!("UPS {}: {why}", u.name));
            };
            let st = &r.status;
            let mut sev = Severity::Ok;
            let mut why = Vec::new();
            let charge = r.charge_pct;
            let runtime_min = r.runtime_s.map(|s| s / 60.0);
            if st.has(Flag::LB) || st.has(Flag::FSD) {
                sev = Severity::Critical;
                why.push("battery LOW".to_string());
            }
            if st.has(Flag::OB) {
                sev = sev.max(Severity::Critical);
                why.push("on battery".to_string());
            }
            if st.has(Flag::OVER) {
                sev = sev.max(Severity::Critical);
                why.push("overloaded".to_string());
            }
            if st.has(Flag::RB) {
                sev = sev.max(Severity::Warning);
                why.push("battery needs replacing".to_string());
            }
            if st.has(Flag::BYPASS) {
                sev = sev.max(Severity::Warning);
                why.push("on bypass".to_string());
            }
            if let Some(a) = &r.alarm {
                sev = sev.max(Severity::Warning);
                why.push(format!("alarm: {a}"));
            }
            // On battery, a charge or runtime at or below its threshold is marked where it is shown.
            let ob = st.has(Flag::OB);
            let numbers = format!(
                "{}{}",
                charge
                    .map(|c| match ob && c <= charge_warn {
                        true => format!(", charge {c:.0} % (≤ {charge_warn:.0} %)"),
                        false => format!(", charge {c:.0} %"),
                    })
                    .unwrap_or_default(),
                runtime_min
                    .map(|m| match ob && m <= runtime_warn {
                        true => format!(", runtime {m:.0} min (≤ {runtime_warn:.0} min)"),
                        false => format!(", runtime {m:.0} min"),
                    })
                    .unwrap_or_default()
            );
            let reason = if why.is_empty() {
                format!("UPS {} online ({}){numbers}", u.name, st.raw)
            } else {
                format!("UPS {}: {} ({}){numbers}", u.name, why.join(", "), st.raw)
            };
            Finding::new(CAT, key, sev, reason).details(json!({
                "status": st.raw, "charge_pct": charge, "runtime_min": runtime_min, "load_pct": r.load_pct,
                "charge_warning_pct": charge_warn, "runtime_warning_min": runtime_warn,
            }))
        })
        .collect()
}

/// IPMI: threshold sensors whose BMC status is non-critical/critical/non-recoverable (unpopulated
/// `na` rows are dropped by the parser; `ns`/`na` statuses are not readings), and SEL events that
/// were asserted and not deasserted since (a recovered over-temperature is history, not an alert).
fn ipmi(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    use crate::model::ipmi::Status;
    let hw = &s.hardware;
    let mut out = Vec::new();
    match (&hw.ipmi.data, hw.ipmi.state) {
        (_, SectionState::Unavailable | SectionState::Pending) => {}
        (Some(list), _) => {
            let mut fine = 0;
            for x in &list.sensors {
                let sev = match x.status {
                    Status::Nc => Severity::Warning,
                    Status::Cr | Status::Nr => Severity::Critical,
                    Status::Ok => {
                        fine += 1;
                        continue;
                    }
                    _ => continue,
                };
                let value = x.value.map(|v| format!("{v} {}", x.unit)).unwrap_or_else(|| "no reading".into());
                let limits: Vec<String> = [("lcr", x.lcr), ("lnc", x.lnc), ("unc", x.unc), ("ucr", x.ucr)]
                    .iter()
                    .filter_map(|(n, v)| v.map(|v| format!("{n} {v}")))
                    .collect();
                out.push(
                    Finding::new(CAT, format!("ipmi_sensor:{}", x.name), sev, format!("IPMI {}: {value} outside its thresholds ({})", x.name, limits.join(", ")))
                        .details(json!({"value": x.value, "unit": x.unit, "status": x.status, "lnc": x.lnc, "lcr": x.lcr, "unc": x.unc, "ucr": x.ucr})),
                );
            }
            if out.is_empty() {
                out.push(Finding::new(
                    CAT,
                    "ipmi_sensor:bmc",
                    Severity::Ok,
                    format!(
                        "{fine} IPMI sensors within thresholds ({} unpopulated ignored)",
                        list.unpopulated
                    ),
                ));
            }
        }
        (None, _) => out.push(unknown(
            CAT,
            "ipmi_sensor:bmc",
            format!("IPMI: {}", hw.ipmi.reason.as_deref().unwrap_or("no data")),
        )),
    }
    if let Some(sel) =
        hw.sel.data.as_ref().filter(|_| matches!(hw.sel.state, SectionState::Ok | SectionState::Stale))
    {
        // The latest direction per (sensor, event): asserted and never deasserted is still open.
        let mut open: BTreeMap<(String, String), &crate::model::ipmi::SelEntry> = BTreeMap::new();
        for e in sel {
            let k = (e.sensor.clone(), e.event.clone());
            match e.direction.as_deref() {
                Some("Deasserted") => {
                    open.remove(&k);
                }
                _ => {
                    open.insert(k, e);
                }
            }
        }
        let events: Vec<&&crate::model::ipmi::SelEntry> =
            open.values().filter(|e| e.direction.as_deref() == Some("Asserted")).collect();
        if events.is_empty() {
            out.push(Finding::new(
                CAT,
                "ipmi_sel:bmc",
                Severity::Ok,
                format!("no open events in the IPMI event log ({} entries)", sel.len()),
            ));
        } else {
            let new = events.iter().filter(|e| e.new).count();
            let list: Vec<String> = events
                .iter()
                .take(5)
                .map(|e| {
                    format!(
                        "{}: {}{}",
                        e.sensor,
                        e.event,
                        e.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
                    )
                })
                .collect();
            out.push(
                Finding::new(CAT, "ipmi_sel:bmc", Severity::Warning, format!("{} open IPMI event{} ({new} new): {}", events.len(), if events.len() == 1 { "" } else { "s" }, list.join("; ")))
                    .details(json!({"events": events.iter().map(|e| json!({"id": e.id, "time": e.time, "sensor": e.sensor, "event": e.event, "detail": e.detail, "new": e.new})).collect::<Vec<_>>()})),
            );
        }
    }
    out
}
