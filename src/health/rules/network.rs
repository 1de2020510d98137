//! Network: bridge or bond members down, bonds degraded, carrier lost on an addressed NIC, interface
//! error/drop rates, gateway loss and latency — over the network worker's snapshot. Guest taps,
//! veths and firewall bridges come and go with their guests and are not checked; an interface an
//! admin set down is not alerted.

use serde_json::json;

use super::{data, unknown};
use crate::health::model::{Category, Finding, ObjectKind, Rule, Severity, Snapshots, Thresholds};
use crate::model::net::IfKind;
use crate::model::network::GatewayState;
use crate::model::network::Interface;
use crate::model::section::SectionState;

const CAT: Category = Category::Network;

pub const INTERFACES: Rule = Rule {
    id: "network_interfaces",
    category: CAT,
    checks: &[("nic_errors", "Interface errors and drops"), ("nic_link", "Links, bridges and bonds")],
    fast: false,
    run: interfaces,
};
pub const GATEWAY: Rule = Rule {
    id: "gateway",
    category: CAT,
    checks: &[("gateway", "Gateway reachability")],
    fast: false,
    run: gateway,
};

pub const PEERS: Rule = Rule {
    id: "fleet_peers",
    category: CAT,
    checks: &[("fleet_peer", "Fleet peers answer")],
    // A published state (the fleet poller's), read on every sample.
    fast: true,
    run: peers,
};

/// A peer of the fleet that stopped answering (stale: no good summary for three intervals) or that
/// is no longer polled (its token refused, its certificate changed) is a warning named after the
/// peer, so two appliances that list each other report each other's death.
fn peers(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    use crate::model::fleet::Status;
    let now_s = s.now_ms / 1000;
    s.fleet
        .iter()
        .map(|p| {
            let key = format!("fleet_peer:{}", p.id);
            let seen = match p.last_ok {
                Some(t) => format!("last seen {} ago", crate::civil::ago(now_s - t)),
                None => "never answered".into(),
            };
            let f = match p.status {
                Status::Stale => Finding::new(
                    CAT,
                    key,
                    Severity::Warning,
                    format!(
                        "fleet peer {} is unreachable ({seen}): {}",
                        p.name,
                        p.error.as_deref().unwrap_or("no answer")
                    ),
                ),
                Status::Blocked => Finding::new(
                    CAT,
                    key,
                    Severity::Warning,
                    format!(
                        "fleet peer {} is no longer polled: {} (re-test it on Settings → Fleet)",
                        p.name,
                        p.blocked.as_deref().unwrap_or("a hard failure")
                    ),
                ),
                _ => Finding::new(CAT, key, Severity::Ok, format!("fleet peer {} answers", p.name)),
            };
            f.details(json!({ "peer": p.id, "name": p.name, "url": p.url, "last_ok": p.last_ok }))
        })
        .collect()
}

fn checked(i: &Interface) -> bool {
    matches!(i.kind, IfKind::Physical | IfKind::Bond | IfKind::Bridge | IfKind::Vlan | IfKind::Ovs)
}

fn link(i: &Interface) -> Finding {
    let key = format!("nic_link:{}", i.name);
    let up = i.operstate == "up" || (i.operstate == "unknown" && i.carrier != Some(false));
    let role = match &i.master {
        Some(m) => format!(" (port of {m})"),
        None => String::new(),
    };
    let (sev, reason) = if let Some(b) = i.bond.as_ref().filter(|b| b.degraded) {
        let down: Vec<&str> =
            b.slaves.iter().filter(|s| s.mii_status != "up").map(|s| s.name.as_str()).collect();
        (
            Severity::Warning,
            format!(
                "bond {} is degraded: {} of {} members down ({})",
                i.name,
                down.len(),
                b.slaves.len(),
                down.join(", ")
            ),
        )
    } else if !i.admin_up {
        (Severity::Ok, format!("{} is administratively down", i.name))
    } else if !up && !i.addresses.is_empty() {
        (
            Severity::Critical,
            format!("{}{role} has lost its link (carrier) and carries {}", i.name, i.addresses.join(", ")),
        )
    } else if !up && i.master.is_some() {
        (Severity::Warning, format!("{}{role} is down", i.name))
    } else if !up {
        // A spare NIC without address or master (unplugged ports are normal), or a bridge without
        // address whose ports and guests are all down.
        (Severity::Ok, format!("{} is down (not in use)", i.name))
    } else {
        let speed = i.speed_mbps.map(|s| format!(", {s} Mb/s")).unwrap_or_default();
        (Severity::Ok, format!("{}{role} is up{speed}", i.name))
    };
    Finding::new(CAT, key, sev, reason)
        .details(json!({"operstate": i.operstate, "carrier": i.carrier, "admin_up": i.admin_up, "master": i.master, "addresses": i.addresses}))
        .object(ObjectKind::Interface, i.name.clone())
}

fn interfaces(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    let sec = &s.network.interfaces;
    if sec.state == SectionState::Unavailable {
        return Vec::new();
    }
    let list = match data(sec, "interfaces") {
        Ok(l) => l,
        Err(r) => return vec![unknown(CAT, "nic_link:all", r)],
    };
    let warn = t.get("network.error_rate_warning");
    let mut out = Vec::new();
    for i in list.interfaces.iter().filter(|i| checked(i)) {
        out.push(link(i));
        if let (Some(e), Some(d)) = (i.errors_per_s, i.drops_per_s) {
            let rate = e + d;
            let sev = if rate >= warn { Severity::Warning } else { Severity::Ok };
            out.push(
                Finding::new(
                    CAT,
                    format!("nic_errors:{}", i.name),
                    sev,
                    format!("{}: {e:.1} errors/s, {d:.1} drops/s", i.name),
                )
                .details(json!({"errors_per_s": e, "drops_per_s": d, "warning": warn}))
                .object(ObjectKind::Interface, i.name.clone()),
            );
        }
    }
    out
}

fn gateway(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "gateway:default";
    let sec = &s.network.gateway;
    if sec.state == SectionState::Unavailable {
        return Vec::new();
    }
    let g = match data(sec, "gateway probe") {
        Ok(g) => g,
        Err(r) => return vec![unknown(CAT, KEY, r)],
    };
    let (loss_warn, lat_warn) =
        (t.get("network.gateway_loss_warning_pct"), t.get("network.gateway_latency_warning_ms"));
    let target = g.target.clone().or_else(|| g.address.clone()).unwrap_or_else(|| "the gateway".into());
    let loss = g.loss_pct.unwrap_or(0.0);
    let (sev, reason) = match g.state {
        GatewayState::Pending | GatewayState::Disabled => return Vec::new(),
        GatewayState::Error => {
            return vec![unknown(
                CAT,
                KEY,
                format!("gateway probe: {}", g.error.as_deref().unwrap_or("failed")),
            )];
        }
        // One probe without an answer can be a blip; two in a row is an outage.
        GatewayState::Unreachable if g.unreachable_streak >= 2 => (
            Severity::Critical,
            format!("{target} does not answer ({} probes in a row, every echo lost)", g.unreachable_streak),
        ),
        GatewayState::Unreachable => (
            Severity::Warning,
            format!("{target} did not answer the last probe ({} of {} echoes lost)", g.sent, g.sent),
        ),
        GatewayState::Ok | GatewayState::Loss => {
            let lat = g.latency_ms.unwrap_or(0.0);
            // Loss is judged over the recent probes, not one probe of three echoes.
            let window = g.window_loss_pct.unwrap_or(loss);
            if window >= loss_warn && g.window_probes >= 3 {
                (
                    Severity::Warning,
                    format!(
                        "{target}: {window:.0} % packet loss over the last {} probes, {lat:.1} ms",
                        g.window_probes
                    ),
                )
            } else if lat >= lat_warn {
                (Severity::Warning, format!("{target}: latency {lat:.1} ms (≥ {lat_warn:.0} ms)"))
            } else {
                (Severity::Ok, format!("{target}: {lat:.1} ms, {window:.0} % loss"))
            }
        }
    };
    vec![Finding::new(CAT, KEY, sev, reason).details(json!({
        "target": target, "latency_ms": g.latency_ms, "loss_pct": g.loss_pct, "loss_warning_pct": loss_warn, "latency_warning_ms": lat_warn,
    }))]
}
