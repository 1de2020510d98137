//! What the network worker publishes and the health rules read: every interface with its kind, state,
//! addresses, bond and guest, the bridge topology, and the gateway probe.

use serde::Serialize;

use super::net::{Counters, IfKind};
use super::pve::GuestKind;
use super::section::Section;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GatewayState {
    /// Not probed yet.
    Pending,
    /// Probing is off (`probe_interval_s = 0`).
    Disabled,
    Ok,
    /// Some echoes were lost.
    Loss,
    /// Every echo was lost.
    Unreachable,
    /// The probe could not run (no socket).
    Error,
}

/// The guest an interface belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GuestRef {
    pub vmid: u64,
    /// `qemu` or `lxc`; `None` for a firewall link of a guest the inventory does not know.
    pub kind: Option<GuestKind>,
    pub name: Option<String>,
    /// The guest's NIC index (`net<index>`).
    pub index: u32,
}

/// A bond slave as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct BondSlaveView {
    pub name: String,
    /// `up`, `down`, ... (lower case).
    pub mii_status: String,
    pub active: bool,
    pub link_failures: Option<u64>,
    pub speed: Option<String>,
    pub duplex: Option<String>,
}

/// A bond's state: from `/proc/net/bonding` when present, else from iproute2's details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct BondView {
    /// `active-backup`, `802.3ad`, `balance-rr`, ...
    pub mode: String,
    pub active_slave: Option<String>,
    pub mii_status: String,
    pub slaves: Vec<BondSlaveView>,
    /// A slave's MII is not up, or the bond's own.
    pub degraded: bool,
    pub xmit_hash_policy: Option<String>,
    pub lacp_rate: Option<String>,
    /// `proc` or `ip`.
    pub source: &'static str,
}

/// One interface with everything the page and the health rules need.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Interface {
    pub name: String,
    pub kind: IfKind,
    /// Lower case: `up`, `down`, `unknown`, `lowerlayerdown`, `dormant`.
    pub operstate: String,
    /// Administratively up (`UP` flag).
    pub admin_up: bool,
    pub carrier: Option<bool>,
    pub mtu: Option<u64>,
    pub speed_mbps: Option<u64>,
    pub duplex: Option<String>,
    pub mac: Option<String>,
    /// `192.168.10.20/24`, `fe80::1/64`.
    pub addresses: Vec<String>,
    /// The bridge or bond this interface is a port of.
    pub master: Option<String>,
    /// A bridge's ports or a bond's slaves.
    pub ports: Vec<String>,
    /// A VLAN's parent, a veth's peer.
    pub parent: Option<String>,
    pub vlan_id: Option<u64>,
    pub bond: Option<BondView>,
    pub guest: Option<GuestRef>,
    /// Bytes per second from the vitals sampler (or the sysfs counters when it does not list the name).
    pub rx_bps: Option<f64>,
    pub tx_bps: Option<f64>,
    /// Cumulative counters from sysfs.
    pub counters: Option<Counters>,
    /// rx+tx errors and drops per second between the last two reads.
    pub errors_per_s: Option<f64>,
    pub drops_per_s: Option<f64>,
}

/// A guest NIC hanging off a bridge, possibly through its firewall bridge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TopologyGuest {
    pub interface: String,
    pub guest: GuestRef,
    pub firewall: bool,
    pub operstate: String,
}

/// A bridge's uplink: a NIC, a bond (with its slaves) or a VLAN.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Uplink {
    pub name: String,
    pub kind: IfKind,
    pub operstate: String,
    pub speed_mbps: Option<u64>,
    /// For a bond: its slaves; for a VLAN: its parent.
    pub members: Vec<BondSlaveView>,
}

/// One bridge of the topology view: bridge → uplinks (bond → NICs) and guest ports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct BridgeNode {
    pub name: String,
    pub operstate: String,
    pub addresses: Vec<String>,
    pub uplinks: Vec<Uplink>,
    pub guests: Vec<TopologyGuest>,
    /// VLAN interfaces on top of this bridge.
    pub vlans: Vec<String>,
    /// Ports that are none of the above.
    pub other_ports: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Interfaces {
    pub interfaces: Vec<Interface>,
    pub topology: Vec<BridgeNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Gateway {
    pub address: Option<String>,
    pub interface: Option<String>,
    /// What is probed: the gateway, or `network.probe_target`.
    pub target: Option<String>,
    pub state: GatewayState,
    pub latency_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    /// Loss over the last `workers::network::LOSS_WINDOW` probes: one lost echo of three is a blip, not an outage.
    pub window_loss_pct: Option<f64>,
    pub window_probes: u16,
    /// Probes in a row that got no answer at all.
    pub unreachable_streak: u16,
    pub sent: u16,
    pub received: u16,
    /// Unix ms of the last probe.
    pub last_probe: Option<i64>,
    /// `dgram`, `raw` or `replay`.
    pub method: Option<&'static str>,
    pub error: Option<String>,
    pub probe_interval_s: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NetworkSnapshot {
    pub interfaces: Section<Interfaces>,
    pub gateway: Section<Gateway>,
}
