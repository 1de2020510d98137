//! Suggested monitors, from what the inventory already says: a ping monitor for every running guest
//! whose address is known (a static `ip=` in a container's network line or a VM's cloud-init
//! `ipconfigN`, or the QEMU guest agent's `network-get-interfaces` through the PVE API), and, when
//! the admin asks for one guest, HTTP(S) monitors for the well-known web ports that accept a
//! connection on its addresses. Nothing is created, and nothing probed, until the admin asks.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::host::Host;
use crate::host::pveapi::{PveLink, PveRequest};
use crate::model::inventory::Inventory;
use crate::model::monitor::{MonitorSpec, Target};
use crate::model::pve::{Guest, GuestKind};

/// The web ports looked at, with their scheme: the usual HTTP(S) ports and the homelab's usual
/// suspects (Home Assistant 8123, Proxmox Backup Server 8007, Portainer 9443, Grafana 3000, ...).
pub const WEB_PORTS: [(u16, &str); 10] = [
    (80, "http"),
    (443, "https"),
    (8080, "http"),
    (8443, "https"),
    (8123, "http"),
    (3000, "http"),
    (8006, "https"),
    (8007, "https"),
    (9000, "http"),
    (9443, "https"),
];
/// Guest agents asked at most per suggestion read (each is one PVE API request).
const MAX_AGENT_READS: usize = 32;

/// A guest's address and where it was learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub address: String,
    /// `config` (a static address in the guest's config) or `agent` (the QEMU guest agent).
    pub source: &'static str,
}

/// One suggested monitor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorSuggestion"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorSuggestion"))]
pub struct Suggestion {
    pub vmid: u64,
    /// The guest in words (`101 (web)`).
    pub guest: String,
    /// Why: `static address in the config`, `guest agent`, `port 8123 accepts connections`.
    pub reason: String,
    /// What would be created (POST it to `/api/monitors`).
    pub spec: MonitorSpec,
    /// A monitor with the same target exists already.
    pub exists: bool,
}

/// The address in a Proxmox `ip=192.0.2.5/24` option of a network line (`dhcp`, `manual` and
/// `auto` are not addresses).
fn static_ip(line: &str) -> Option<String> {
    line.split(',').find_map(|kv| {
        let v = kv.trim().strip_prefix("ip=").or_else(|| kv.trim().strip_prefix("ip6="))?;
        let addr = v.split('/').next()?;
        addr.parse::<IpAddr>().ok().filter(|a| !a.is_loopback() && !a.is_unspecified()).map(|a| a.to_string())
    })
}

/// The static addresses a guest's config gives: `netN` of a container, `ipconfigN` of a VM.
pub fn config_addresses(inv: &Inventory, vmid: u64, kind: GuestKind) -> Vec<String> {
    let Some(cfg) = inv.configs.get(&vmid) else { return Vec::new() };
    let prefix = if kind == GuestKind::Lxc { "net" } else { "ipconfig" };
    let mut out: Vec<String> = cfg
        .raw
        .iter()
        .filter(|(k, _)| k.strip_prefix(prefix).is_some_and(|n| n.parse::<u32>().is_ok()))
        .filter_map(|(_, v)| v.as_str().and_then(static_ip))
        .collect();
    out.dedup();
    out
}

/// The addresses in a guest agent's `network-get-interfaces` answer (`{"result": [...]}`), loopback
/// and link-local left out.
pub fn agent_addresses(data: &serde_json::Value) -> Vec<String> {
    let list = data.get("result").unwrap_or(data);
    let mut out = Vec::new();
    for iface in list.as_array().into_iter().flatten() {
        if iface.get("name").and_then(|n| n.as_str()) == Some("lo") {
            continue;
        }
        for a in iface.get("ip-addresses").and_then(|a| a.as_array()).into_iter().flatten() {
            let Some(ip) =
                a.get("ip-address").and_then(|v| v.as_str()).and_then(|s| s.parse::<IpAddr>().ok())
            else {
                continue;
            };
            let link_local = match ip {
                IpAddr::V4(v) => v.is_link_local(),
                IpAddr::V6(v) => v.segments()[0] & 0xffc0 == 0xfe80,
            };
            if !ip.is_loopback() && !link_local && !out.contains(&ip.to_string()) {
                out.push(ip.to_string());
            }
        }
    }
    out
}

fn agent_enabled(inv: &Inventory, vmid: u64) -> bool {
    inv.configs.get(&vmid).and_then(|c| c.raw.get("agent")).is_some_and(|v| {
        let s = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        s == "1" || s.split(',').any(|kv| kv == "1" || kv == "enabled=1")
    })
}

/// Every running guest's known addresses: its config's static ones, else what its guest agent says
/// (VMs with the agent enabled, through the PVE API when connected; bounded).
pub async fn addresses(host: &Host, pve: &PveLink, inv: &Inventory) -> HashMap<u64, Vec<Address>> {
    let mut out: HashMap<u64, Vec<Address>> = HashMap::new();
    let mut agent_reads = 0;
    for g in inv.guests().filter(|g| g.status == "running" && !g.template) {
        let mut list: Vec<Address> = config_addresses(inv, g.vmid, g.kind)
            .into_iter()
            .map(|address| Address { address, source: "config" })
            .collect();
        if list.is_empty()
            && g.kind == GuestKind::Qemu
            && agent_enabled(inv, g.vmid)
            && agent_reads < MAX_AGENT_READS
            && let Some(token) = pve.token()
        {
            agent_reads += 1;
            let node = if g.node.is_empty() { inv.node.clone() } else { g.node.clone() };
            let req = PveRequest::get(format!("/nodes/{node}/qemu/{}/agent/network-get-interfaces", g.vmid))
                .auth(token.header());
            if let Ok(Ok(a)) = tokio::time::timeout(Duration::from_secs(3), host.pve_api(req)).await
                && a.status == 200
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&a.body)
            {
                let data = v.get("data").cloned().unwrap_or_default();
                list.extend(
                    agent_addresses(&data).into_iter().map(|address| Address { address, source: "agent" }),
                );
            }
        }
        if !list.is_empty() {
            out.insert(g.vmid, list);
        }
    }
    out
}

fn spec(name: String, target: Target, vmid: u64, interval_s: u64) -> MonitorSpec {
    MonitorSpec {
        name,
        target,
        interval_s,
        timeout_ms: 5000,
        retries: 1,
        degraded_ms: None,
        vmid: Some(vmid),
    }
}

/// A ping monitor for each running guest with a known address (its first IPv4 one, else the first).
pub fn pings(
    inv: &Inventory,
    addrs: &HashMap<u64, Vec<Address>>,
    existing: &[MonitorSpec],
) -> Vec<Suggestion> {
    let mut out = Vec::new();
    for g in inv.guests().filter(|g| g.status == "running" && !g.template) {
        let Some(list) = addrs.get(&g.vmid) else { continue };
        let Some(a) = list.iter().find(|a| a.address.parse::<std::net::Ipv4Addr>().is_ok()).or(list.first())
        else {
            continue;
        };
        let target = Target::Ping { host: a.address.clone() };
        let exists = existing.iter().any(|s| s.target == target);
        let reason = match a.source {
            "agent" => format!("{} answers its guest agent with {}", g.label(), a.address),
            _ => format!("{} has the static address {} in its config", g.label(), a.address),
        };
        out.push(Suggestion {
            vmid: g.vmid,
            guest: g.label(),
            reason,
            spec: spec(format!("{} ping", display_name(g)), target, g.vmid, 60),
            exists,
        });
    }
    out
}

fn display_name(g: &Guest) -> String {
    if g.name.is_empty() { g.vmid.to_string() } else { g.name.clone() }
}

/// Looks at the well-known web ports on `addrs` (a TCP connect each, all at once, `timeout` each) and
/// suggests an HTTP(S) monitor for each one that accepts.
pub async fn scan(
    g: &Guest,
    addrs: &[String],
    existing: &[MonitorSpec],
    timeout: Duration,
) -> Vec<Suggestion> {
    let mut probes = tokio::task::JoinSet::new();
    for a in addrs.iter().take(4) {
        for (port, scheme) in WEB_PORTS {
            let a = a.clone();
            probes.spawn(async move {
                let host = match a.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => format!("[{a}]"),
                    _ => a.clone(),
                };
                let open = matches!(
                    tokio::time::timeout(timeout, tokio::net::TcpStream::connect((a.as_str(), port))).await,
                    Ok(Ok(_))
                );
                (open, host, port, scheme)
            });
        }
    }
    let mut found = Vec::new();
    while let Some(r) = probes.join_next().await {
        if let Ok((true, host, port, scheme)) = r {
            found.push((host, port, scheme));
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(host, port, scheme)| {
            let default = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
            let url =
                if default { format!("{scheme}://{host}/") } else { format!("{scheme}://{host}:{port}/") };
            let mut target = Target::http(url.clone());
            if let Target::Http { verify_tls, cert_warn_days, .. } = &mut target {
                // Guests' own services mostly run self-signed certificates; the expiry is still watched.
                *verify_tls = false;
                if scheme == "http" {
                    *cert_warn_days = 0;
                }
            }
            let exists =
                existing.iter().any(|s| matches!(&s.target, Target::Http { url: u, .. } if *u == url));
            Suggestion {
                vmid: g.vmid,
                guest: g.label(),
                reason: format!("port {port} accepts connections"),
                spec: spec(format!("{} {scheme} :{port}", display_name(g)), target, g.vmid, 60),
                exists,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_from_configs_and_the_agent() {
        assert_eq!(
            static_ip("name=eth0,bridge=vmbr0,gw=192.168.10.1,ip=192.168.10.53/24,type=veth"),
            Some("192.168.10.53".into())
        );
        assert_eq!(static_ip("name=eth0,bridge=vmbr0,ip=dhcp,type=veth"), None);
        assert_eq!(static_ip("ip=dhcp,ip6=fd00::5/64"), Some("fd00::5".into()));
        assert_eq!(static_ip("ip=10.0.0.7/24,gw=10.0.0.1"), Some("10.0.0.7".into()));
        // A recorded `qm guest cmd 101 network-get-interfaces` shape (QEMU guest agent schema).
        let agent = serde_json::json!({"result": [
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
            {"name": "ens18", "hardware-address": "bc:24:11:3c:41:9d", "ip-addresses": [
                {"ip-address": "192.168.10.20", "ip-address-type": "ipv4", "prefix": 24},
                {"ip-address": "fe80::be24:11ff:fe3c:419d", "ip-address-type": "ipv6", "prefix": 64}
            ]}
        ]});
        assert_eq!(agent_addresses(&agent), ["192.168.10.20"]);
    }

    #[tokio::test]
    async fn a_scan_suggests_only_ports_that_accept() {
        let g = Guest {
            kind: GuestKind::Lxc,
            vmid: 200,
            name: "pihole".into(),
            ..serde_json::from_value(serde_json::json!({"vmid": 200})).unwrap()
        };
        // Whatever listens on this machine's well-known ports, a closed address finds nothing.
        let none = scan(&g, &["192.0.2.1".into()], &[], Duration::from_millis(200)).await;
        assert!(none.is_empty(), "{none:?}");
    }
}
