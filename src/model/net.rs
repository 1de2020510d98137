//! Network links as the kernel reports them (the readers and parsers are `tools::net`): `ip -j -d
//! addr` links with their kind, bonding state from `/proc/net/bonding`, counters and sysfs facts, and
//! the default routes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What an interface is, for grouping and for the topology view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum IfKind {
    Physical,
    Bond,
    Bridge,
    Vlan,
    Ovs,
    Tap,
    Veth,
    Firewall,
    Loopback,
    Other,
}

impl IfKind {
    pub const ALL: [IfKind; 10] = [
        IfKind::Physical,
        IfKind::Bond,
        IfKind::Bridge,
        IfKind::Vlan,
        IfKind::Ovs,
        IfKind::Tap,
        IfKind::Veth,
        IfKind::Firewall,
        IfKind::Loopback,
        IfKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IfKind::Physical => "Physical NICs",
            IfKind::Bond => "Bonds",
            IfKind::Bridge => "Bridges",
            IfKind::Vlan => "VLANs",
            IfKind::Ovs => "Open vSwitch",
            IfKind::Tap => "VM taps",
            IfKind::Veth => "Container veths",
            IfKind::Firewall => "Firewall links",
            IfKind::Loopback => "Loopback",
            IfKind::Other => "Other",
        }
    }
}

/// One address of a link, `192.168.10.2/24`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    /// `inet` or `inet6`.
    pub family: String,
    pub address: String,
    pub prefixlen: u8,
    /// `global`, `link`, `host`.
    pub scope: String,
}

/// Bond details as iproute2 reports them (the fallback when `/proc/net/bonding` is absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IpBond {
    pub mode: Option<String>,
    pub active_slave: Option<String>,
    pub miimon: Option<u64>,
}

/// A bond slave's state as iproute2 reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IpBondSlave {
    /// `ACTIVE` / `BACKUP`.
    pub state: Option<String>,
    /// `UP` / `DOWN` / `GOING_DOWN` / `GOING_BACK`.
    pub mii_status: Option<String>,
    pub link_failure_count: Option<u64>,
}

/// One link of `ip -j -d addr` (or `ip -j addr` / `ip -j -d link`: same objects, fewer keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub ifindex: u64,
    pub name: String,
    pub flags: Vec<String>,
    pub mtu: Option<u64>,
    /// `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`, ...
    pub operstate: String,
    /// `ether`, `loopback`, `none` (tun in L3 mode), ...
    pub link_type: String,
    pub mac: Option<String>,
    /// The bridge, bond or OVS datapath this link is a port of.
    pub master: Option<String>,
    /// `linkinfo.info_kind`: `bridge`, `bond`, `vlan`, `veth`, `tun`, `openvswitch`, ... `None` for NICs.
    pub info_kind: Option<String>,
    /// `linkinfo.info_slave_kind`: what `master` is (`bridge`, `bond`, `openvswitch`).
    pub slave_kind: Option<String>,
    /// The lower link: a VLAN's parent, a veth's peer (absent when the peer is in another namespace).
    pub parent: Option<String>,
    pub vlan_id: Option<u64>,
    pub bond: Option<IpBond>,
    pub bond_slave: Option<IpBondSlave>,
    /// A `tun` device's `type`: `tap` or `tun`.
    pub tun_type: Option<String>,
    /// The bus of a physical device (`pci`, `virtio`, `usb`), when `ip -d` says.
    pub parentbus: Option<String>,
    pub addresses: Vec<Address>,
}

impl Link {
    /// Classifies the link. Names come first for the Proxmox conventions (a `fwpr` is a veth but
    /// belongs to the firewall plumbing, a `tap` is a tun), then `linkinfo`, then the link type.
    pub fn kind(&self) -> IfKind {
        let name = self.name.as_str();
        if self.link_type == "loopback" || name == "lo" {
            return IfKind::Loopback;
        }
        if ["fwbr", "fwpr", "fwln"].iter().any(|p| name.starts_with(p)) && guest_of(name).is_some() {
            return IfKind::Firewall;
        }
        match self.info_kind.as_deref() {
            Some("bridge") => IfKind::Bridge,
            Some("bond") => IfKind::Bond,
            Some("vlan") => IfKind::Vlan,
            Some("openvswitch") => IfKind::Ovs,
            Some("tun") if self.tun_type.as_deref() != Some("tun") => IfKind::Tap,
            Some("veth") => IfKind::Veth,
            // OVS internal ports and the `ovs-system` datapath carry no kind of their own.
            None if self.slave_kind.as_deref() == Some("openvswitch") || name == "ovs-system" => IfKind::Ovs,
            None if name.starts_with("tap") && guest_of(name).is_some() => IfKind::Tap,
            None if self.link_type == "ether" => IfKind::Physical,
            _ => IfKind::Other,
        }
    }
}

/// The guest a Proxmox-named interface belongs to: `(vmid, index)` from `tap100i0`, `veth101i0`,
/// `fwbr100i0`, `fwln100i0`, `fwpr100p0`.
pub fn guest_of(name: &str) -> Option<(u64, u32)> {
    let (rest, sep) = if let Some(r) = name.strip_prefix("tap") {
        (r, 'i')
    } else if let Some(r) = name.strip_prefix("veth") {
        (r, 'i')
    } else if let Some(r) = name.strip_prefix("fwbr") {
        (r, 'i')
    } else if let Some(r) = name.strip_prefix("fwln") {
        (r, 'i')
    } else if let Some(r) = name.strip_prefix("fwpr") {
        (r, 'p')
    } else {
        return None;
    };
    let (vmid, idx) = rest.split_once(sep)?;
    if vmid.is_empty() || idx.is_empty() || !vmid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((vmid.parse().ok()?, idx.parse().ok()?))
}

/// One slave of a bond, from `/proc/net/bonding/<bond>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BondSlave {
    pub name: String,
    /// `up`, `down`, `going down`, `going back`.
    pub mii_status: String,
    /// `1000 Mbps`, `Unknown`.
    pub speed: Option<String>,
    pub duplex: Option<String>,
    pub link_failures: u64,
    pub perm_hwaddr: Option<String>,
    /// 802.3ad: the aggregator this port is in (ports outside the active one carry no traffic).
    pub aggregator_id: Option<u64>,
}

/// `/proc/net/bonding/<bond>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bonding {
    /// e.g. `fault-tolerance (active-backup)`, `IEEE 802.3ad Dynamic link aggregation`.
    pub mode: String,
    pub primary_slave: Option<String>,
    pub active_slave: Option<String>,
    pub mii_status: String,
    pub mii_polling_ms: Option<u64>,
    pub xmit_hash_policy: Option<String>,
    pub lacp_rate: Option<String>,
    /// 802.3ad: the active aggregator's id.
    pub active_aggregator: Option<u64>,
    pub slaves: Vec<BondSlave>,
}

impl Bonding {
    /// A short mode name (`active-backup`, `802.3ad`, `balance-rr`, ...) from the driver's long one.
    pub fn short_mode(&self) -> String {
        let m = self.mode.as_str();
        for (needle, short) in [
            ("802.3ad", "802.3ad"),
            ("active-backup", "active-backup"),
            ("round-robin", "balance-rr"),
            ("xor", "balance-xor"),
            ("broadcast", "broadcast"),
            ("transmit load balancing", "balance-tlb"),
            ("adaptive load balancing", "balance-alb"),
        ] {
            if m.contains(needle) {
                return short.to_string();
            }
        }
        m.to_string()
    }
}

/// Interface counters from sysfs `statistics/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Counters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

/// What sysfs says about one interface. Every field is optional: virtual devices answer `EINVAL` for
/// `speed` and `duplex`, a down NIC reads `-1` / `unknown`, and `carrier` fails while the link is
/// administratively down.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sysfs {
    pub speed_mbps: Option<u64>,
    pub duplex: Option<String>,
    pub carrier: Option<bool>,
    pub mtu: Option<u64>,
    pub operstate: Option<String>,
    pub counters: Option<Counters>,
    /// `bridge/` exists: a Linux bridge; `brif/` lists its ports.
    pub bridge_ports: Option<Vec<String>>,
    /// `device` exists: backed by real (or virtio) hardware.
    pub has_device: bool,
}

/// A default route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefaultRoute {
    pub gateway: IpAddr,
    pub interface: String,
    pub metric: u64,
}
