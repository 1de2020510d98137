//! Network interfaces: `ip -j -d addr` (iproute2's JSON: every link with its `linkinfo` details and
//! its addresses in one process), `/proc/net/bonding/<bond>` (the bonding driver's own view: mode,
//! active slave, each slave's MII status and link failure count), the per-interface sysfs attributes
//! (`/sys/class/net/<if>/{speed,duplex,carrier,mtu,operstate,statistics/*}`) and the default routes
//! (`/proc/net/route`, `/proc/net/ipv6_route`).
//!
//! Interfaces are classified into the kinds a Proxmox host has: physical NICs, Linux bridges
//! (`vmbrN`), bonds, VLANs, VM taps (`tap<vmid>i<n>`), container veths (`veth<vmid>i<n>`), the
//! per-NIC firewall plumbing `pve-firewall` adds (`fwbr<vmid>i<n>` bridge, `fwpr<vmid>p<n>` /
//! `fwln<vmid>i<n>` veth pair; see pve-manager's `PVE::Network`), Open vSwitch and loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use crate::host::{Host, ToolError};

pub use crate::model::net::{
    Address, BondSlave, Bonding, Counters, DefaultRoute, IfKind, IpBond, IpBondSlave, Link, Sysfs, guest_of,
};

/// One `ip -j -d addr` argv: links, their details and their addresses in one process.
pub const IP_ADDR_ARGV: &[&str] = &["ip", "-j", "-d", "addr"];

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Parses `ip -j [-d] addr` or `ip -j [-d] link`.
pub fn parse_ip(text: &str) -> Result<Vec<Link>, ToolError> {
    let what = "ip -j addr";
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let line_no = e.line().max(1);
        ToolError::parse(what, line_no, text.lines().nth(line_no - 1).unwrap_or(""), e.to_string())
    })?;
    let Value::Array(items) = value else {
        return Err(ToolError::parse(what, 1, text.lines().next().unwrap_or(""), "expected a JSON array"));
    };
    let mut links = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(name) = s(item, "ifname") else {
            // `ip -j addr` prints `{}` for links that vanished between its two netlink dumps.
            if item.as_object().is_some_and(|o| o.is_empty()) {
                continue;
            }
            return Err(ToolError::parse(what, 1, &item.to_string(), format!("link #{i} has no ifname")));
        };
        let info = item.get("linkinfo");
        let info_kind = info.and_then(|i| s(i, "info_kind"));
        let data = info.and_then(|i| i.get("info_data"));
        let slave_kind = info.and_then(|i| s(i, "info_slave_kind"));
        let slave_data = info.and_then(|i| i.get("info_slave_data"));
        let bond = (info_kind.as_deref() == Some("bond")).then(|| IpBond {
            mode: data.and_then(|d| s(d, "mode")),
            active_slave: data.and_then(|d| s(d, "active_slave")),
            miimon: data.and_then(|d| d.get("miimon")).and_then(Value::as_u64),
        });
        let bond_slave = (slave_kind.as_deref() == Some("bond")).then(|| IpBondSlave {
            state: slave_data.and_then(|d| s(d, "state")),
            mii_status: slave_data.and_then(|d| s(d, "mii_status")),
            link_failure_count: slave_data.and_then(|d| d.get("link_failure_count")).and_then(Value::as_u64),
        });
        let addresses = item
            .get("addr_info")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|ai| {
                        Some(Address {
                            family: s(ai, "family")?,
                            address: s(ai, "local")?,
                            prefixlen: ai.get("prefixlen").and_then(Value::as_u64).unwrap_or(0) as u8,
                            scope: s(ai, "scope").unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        links.push(Link {
            ifindex: item.get("ifindex").and_then(Value::as_u64).unwrap_or(0),
            name,
            flags: item
                .get("flags")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            mtu: item.get("mtu").and_then(Value::as_u64),
            operstate: s(item, "operstate").unwrap_or_else(|| "UNKNOWN".into()),
            link_type: s(item, "link_type").unwrap_or_default(),
            mac: s(item, "address").filter(|a| a.contains(':')),
            master: s(item, "master"),
            vlan_id: (info_kind.as_deref() == Some("vlan"))
                .then(|| data.and_then(|d| d.get("id")).and_then(Value::as_u64))
                .flatten(),
            tun_type: (info_kind.as_deref() == Some("tun"))
                .then(|| data.and_then(|d| s(d, "type")))
                .flatten(),
            info_kind,
            slave_kind,
            parent: s(item, "link"),
            bond,
            bond_slave,
            parentbus: s(item, "parentbus"),
            addresses,
        });
    }
    Ok(links)
}

/// Runs `ip -j -d addr` through the host.
pub async fn links(host: &Host) -> Result<Vec<Link>, ToolError> {
    let out = host.run_ok(IP_ADDR_ARGV).await?;
    parse_ip(&out)
}

/// Parses `/proc/net/bonding/<bond>` (drivers/net/bonding/bond_procfs.c). Lines are `Key: value`;
/// old drivers indent them; sections start at `Slave Interface:`; 802.3ad adds nested blocks whose keys
/// we skip. A file without `Bonding Mode:` is not a bonding file and is an error naming line 1.
pub fn parse_bonding(text: &str) -> Result<Bonding, ToolError> {
    let what = "/proc/net/bonding";
    let mut b = Bonding::default();
    let mut slave: Option<BondSlave> = None;
    let mut in_aggregator = false;
    let mut seen_mode = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let Some((key, value)) = line.split_once(':') else {
            in_aggregator = false;
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let opt = |v: &str| (!v.is_empty() && v != "None").then(|| v.to_string());
        let num = |v: &str| {
            v.parse::<u64>().map_err(|_| ToolError::parse(what, i + 1, raw, format!("{key} is not a number")))
        };
        if key == "Active Aggregator Info" {
            in_aggregator = true;
            continue;
        }
        if key == "Slave Interface" {
            if let Some(s) = slave.take() {
                b.slaves.push(s);
            }
            slave = Some(BondSlave { name: value.to_string(), ..Default::default() });
            in_aggregator = false;
            continue;
        }
        if let Some(s) = slave.as_mut() {
            match key {
                "MII Status" => s.mii_status = value.to_string(),
                "Speed" => s.speed = opt(value),
                "Duplex" => s.duplex = opt(value),
                "Link Failure Count" => s.link_failures = num(value)?,
                "Permanent HW addr" => s.perm_hwaddr = opt(value),
                "Aggregator ID" => s.aggregator_id = Some(num(value)?),
                _ => {}
            }
            continue;
        }
        match key {
            "Bonding Mode" => {
                b.mode = value.to_string();
                seen_mode = true;
            }
            "Primary Slave" => b.primary_slave = opt(value),
            "Currently Active Slave" => b.active_slave = opt(value),
            "MII Status" => b.mii_status = value.to_string(),
            "MII Polling Interval (ms)" => b.mii_polling_ms = Some(num(value)?),
            "Transmit Hash Policy" => b.xmit_hash_policy = opt(value),
            "LACP rate" => b.lacp_rate = opt(value),
            "Aggregator ID" if in_aggregator => b.active_aggregator = Some(num(value)?),
            _ => {}
        }
    }
    if let Some(s) = slave.take() {
        b.slaves.push(s);
    }
    if !seen_mode {
        return Err(ToolError::parse(what, 1, text.lines().next().unwrap_or(""), "no `Bonding Mode:` line"));
    }
    Ok(b)
}

/// Reads and parses `/proc/net/bonding/<bond>`; `Ok(None)` when the file is absent.
pub fn bonding(host: &Host, bond: &str) -> Result<Option<Bonding>, ToolError> {
    if !safe_name(bond) {
        return Ok(None);
    }
    match host.read_optional(&format!("/proc/net/bonding/{bond}"))? {
        Some(text) => parse_bonding(&text).map(Some),
        None => Ok(None),
    }
}

/// Parses a sysfs `speed` file: Mb/s, or `None` for `-1`, `4294967295` (SPEED_UNKNOWN as u32) or junk.
pub fn parse_speed(text: &str) -> Option<u64> {
    let v: i64 = text.trim().parse().ok()?;
    (v > 0 && v < u32::MAX as i64).then_some(v as u64)
}

/// Parses a sysfs `duplex` file: `full` / `half`, `None` for `unknown`.
pub fn parse_duplex(text: &str) -> Option<String> {
    let v = text.trim();
    matches!(v, "full" | "half").then(|| v.to_string())
}

/// Interface names are at most 15 bytes of anything but `/` and NUL; refuse anything that could
/// escape `/sys/class/net/` before building a path from a name a tool printed.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 15 && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Reads `/sys/class/net/<name>/...` through the host. Files that are absent or unreadable (EINVAL
/// for `speed` on a virtual device) are left `None`.
pub fn sysfs(host: &Host, name: &str) -> Sysfs {
    if !safe_name(name) {
        return Sysfs::default();
    }
    let base = format!("/sys/class/net/{name}");
    let read = |f: &str| host.read(&format!("{base}/{f}")).ok();
    let num = |f: &str| read(f).and_then(|t| t.trim().parse::<u64>().ok());
    let counters = {
        let st = |f: &str| num(&format!("statistics/{f}"));
        st("rx_bytes").map(|rx_bytes| Counters {
            rx_bytes,
            tx_bytes: st("tx_bytes").unwrap_or(0),
            rx_errors: st("rx_errors").unwrap_or(0),
            tx_errors: st("tx_errors").unwrap_or(0),
            rx_dropped: st("rx_dropped").unwrap_or(0),
            tx_dropped: st("tx_dropped").unwrap_or(0),
        })
    };
    let bridge_ports = if host.exists(&format!("{base}/bridge")) {
        host.list_dir(&format!("{base}/brif")).ok()
    } else {
        None
    };
    Sysfs {
        speed_mbps: read("speed").and_then(|t| parse_speed(&t)),
        duplex: read("duplex").and_then(|t| parse_duplex(&t)),
        carrier: read("carrier").map(|t| t.trim() == "1"),
        mtu: num("mtu"),
        operstate: read("operstate").map(|t| t.trim().to_string()),
        counters,
        bridge_ports,
        has_device: host.exists(&format!("{base}/device")),
    }
}

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;
const RTF_REJECT: u32 = 0x200;

/// The default IPv4 route with the lowest metric from `/proc/net/route` (addresses are hex in host
/// byte order, i.e. little-endian on every platform Proxmox runs on).
pub fn parse_route(text: &str) -> Result<Option<DefaultRoute>, ToolError> {
    let what = "/proc/net/route";
    let mut best: Option<DefaultRoute> = None;
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if i == 0 && f.first() == Some(&"Iface") || f.is_empty() {
            continue;
        }
        if f.len() < 8 {
            return Err(ToolError::parse(what, i + 1, line, "expected at least 8 columns"));
        }
        let hex =
            |s: &str| u32::from_str_radix(s, 16).map_err(|_| ToolError::parse(what, i + 1, line, "bad hex"));
        let (dest, gw, flags, metric, mask) = (hex(f[1])?, hex(f[2])?, hex(f[3])?, f[6], hex(f[7])?);
        let metric: u64 = metric.parse().map_err(|_| ToolError::parse(what, i + 1, line, "bad metric"))?;
        if dest != 0 || mask != 0 || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY {
            continue;
        }
        let gateway = IpAddr::V4(Ipv4Addr::from(gw.to_le_bytes()));
        if best.as_ref().is_none_or(|b| metric < b.metric) {
            best = Some(DefaultRoute { gateway, interface: f[0].to_string(), metric });
        }
    }
    Ok(best)
}

/// The default IPv6 route with the lowest metric from `/proc/net/ipv6_route` (`dest plen src splen
/// nexthop metric refcnt use flags iface`, all hex).
pub fn parse_ipv6_route(text: &str) -> Result<Option<DefaultRoute>, ToolError> {
    let what = "/proc/net/ipv6_route";
    let mut best: Option<DefaultRoute> = None;
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() < 10 || f[0].len() != 32 || f[4].len() != 32 {
            return Err(ToolError::parse(what, i + 1, line, "expected 10 columns"));
        }
        let bad = |m: &str| ToolError::parse(what, i + 1, line, m.to_string());
        let flags = u32::from_str_radix(f[8], 16).map_err(|_| bad("bad flags"))?;
        let metric = u64::from_str_radix(f[5], 16).map_err(|_| bad("bad metric"))?;
        let nexthop = u128::from_str_radix(f[4], 16).map_err(|_| bad("bad next hop"))?;
        if f[0].bytes().any(|b| b != b'0')
            || f[1] != "00"
            || nexthop == 0
            || flags & RTF_REJECT != 0
            || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY
        {
            continue;
        }
        let gateway = IpAddr::V6(Ipv6Addr::from(nexthop));
        if best.as_ref().is_none_or(|b| metric < b.metric) {
            best = Some(DefaultRoute { gateway, interface: f[9].to_string(), metric });
        }
    }
    Ok(best)
}

/// The default gateway: IPv4 first, else IPv6. `Ok(None)` when the host has no default route;
/// `Missing` when neither routing table can be read.
pub fn default_route(host: &Host) -> Result<Option<DefaultRoute>, ToolError> {
    let v4 = host.read_optional("/proc/net/route")?;
    if let Some(r) = v4.as_deref().map(parse_route).transpose()?.flatten() {
        return Ok(Some(r));
    }
    let v6 = host.read_optional("/proc/net/ipv6_route")?;
    if v4.is_none() && v6.is_none() {
        return Err(ToolError::Missing { what: "/proc/net/route".into() });
    }
    Ok(v6.as_deref().map(parse_ipv6_route).transpose()?.flatten())
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn by_name<'a>(links: &'a [Link], name: &str) -> &'a Link {
        links.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no link {name}"))
    }

    #[test]
    fn parses_this_machines_ip_outputs() {
        for f in ["host_ip-j-addr.json", "host_ip-j-d-link.json", "host_ip-j-d-addr.json"] {
            let links = parse_ip(&fixture(f)).unwrap();
            let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
            assert_eq!(names, ["lo", "ifb0", "ifb1", "eth0"], "{f}");
            assert_eq!(by_name(&links, "lo").kind(), IfKind::Loopback);
            assert_eq!(by_name(&links, "eth0").kind(), IfKind::Physical);
            assert_eq!(by_name(&links, "eth0").mtu, Some(1400));
        }
        let links = parse_ip(&fixture("host_ip-j-d-addr.json")).unwrap();
        let eth0 = by_name(&links, "eth0");
        assert_eq!(eth0.parentbus.as_deref(), Some("virtio"));
        let addrs: Vec<String> =
            eth0.addresses.iter().map(|a| format!("{}/{}", a.address, a.prefixlen)).collect();
        assert_eq!(addrs, ["192.0.2.2/24", "fd00::2/64", "fe80::fc:ff:fe00:1/64"]);
        // ifb devices have a kind of their own: neither NICs nor anything Proxmox makes.
        assert_eq!(by_name(&links, "ifb0").kind(), IfKind::Other);
        // `ip -j -d link` has no addresses.
        assert!(parse_ip(&fixture("host_ip-j-d-link.json")).unwrap().iter().all(|l| l.addresses.is_empty()));
    }

    #[test]
    fn parses_a_proxmox_shaped_namespace() {
        let links = parse_ip(&fixture("netns_pve_ip-j-d-addr.json")).unwrap();
        let vmbr0 = by_name(&links, "vmbr0");
        assert_eq!(vmbr0.kind(), IfKind::Bridge);
        assert_eq!(vmbr0.addresses[0].address, "192.168.10.2");
        let tap = by_name(&links, "tap100i0");
        assert_eq!(
            (tap.kind(), tap.master.as_deref(), tap.tun_type.as_deref()),
            (IfKind::Tap, Some("vmbr0"), Some("tap"))
        );
        assert_eq!(tap.operstate, "DOWN");
        let veth = by_name(&links, "veth101i0");
        assert_eq!((veth.kind(), veth.master.as_deref()), (IfKind::Veth, Some("fwbr101i0")));
        for fw in ["fwbr101i0", "fwpr101p0", "fwln101i0"] {
            assert_eq!(by_name(&links, fw).kind(), IfKind::Firewall, "{fw}");
        }
        assert_eq!(by_name(&links, "fwpr101p0").parent.as_deref(), Some("fwln101i0"));
        // A veth named like a NIC is still a veth: linkinfo decides once names say nothing.
        assert_eq!(by_name(&links, "eno1").kind(), IfKind::Veth);
        // The same namespace without -d: no linkinfo, so only names and link types classify.
        let plain = parse_ip(&fixture("netns_pve_ip-j-addr.json")).unwrap();
        assert_eq!(by_name(&plain, "tap100i0").kind(), IfKind::Tap);
        assert_eq!(by_name(&plain, "fwbr101i0").kind(), IfKind::Firewall);
    }

    #[test]
    fn parses_bond_and_vlan_details_from_the_composed_demo_shape() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios/demo/commands/ip/ip-j-d-addr.json"),
        )
        .unwrap();
        let links = parse_ip(&text).unwrap();
        let bond = by_name(&links, "bond0");
        assert_eq!(bond.kind(), IfKind::Bond);
        assert_eq!(bond.bond.as_ref().unwrap().mode.as_deref(), Some("active-backup"));
        let eno2 = by_name(&links, "eno2");
        assert_eq!((eno2.kind(), eno2.master.as_deref()), (IfKind::Physical, Some("bond0")));
        assert_eq!(eno2.bond_slave.as_ref().unwrap().mii_status.as_deref(), Some("DOWN"));
        let vlan = by_name(&links, "vmbr0.20");
        assert_eq!(
            (vlan.kind(), vlan.vlan_id, vlan.parent.as_deref()),
            (IfKind::Vlan, Some(20), Some("vmbr0"))
        );
    }

    #[test]
    fn ip_parse_errors_name_the_line() {
        let err = parse_ip("[\n{\"ifname\": \"lo\",\n oops}\n]").unwrap_err();
        assert!(matches!(err, ToolError::Parse { line: 3, .. }), "{err}");
        assert!(parse_ip("{}").is_err());
        assert!(parse_ip("[{\"mtu\": 1}]").unwrap_err().to_string().contains("ifname"));
        assert_eq!(parse_ip("[{}]").unwrap(), vec![], "a vanished link is skipped");
    }

    #[test]
    fn guest_names() {
        assert_eq!(guest_of("tap100i0"), Some((100, 0)));
        assert_eq!(guest_of("veth101i2"), Some((101, 2)));
        assert_eq!(guest_of("fwpr100p0"), Some((100, 0)));
        assert_eq!(guest_of("fwln100i1"), Some((100, 1)));
        assert_eq!(guest_of("fwbr9000i0"), Some((9000, 0)));
        for n in ["tap0", "veth1234abcd", "tapi0", "vethxi0", "tap100i", "eno1"] {
            assert_eq!(guest_of(n), None, "{n}");
        }
    }

    #[test]
    fn parses_bonding_files() {
        let ab = parse_bonding(&fixture("bonding_active-backup_slave_down.txt")).unwrap();
        assert_eq!(ab.short_mode(), "active-backup");
        assert_eq!(ab.active_slave.as_deref(), Some("eno1"));
        assert_eq!(ab.primary_slave, None);
        assert_eq!(ab.mii_polling_ms, Some(100));
        let st: Vec<(&str, &str, u64)> =
            ab.slaves.iter().map(|s| (s.name.as_str(), s.mii_status.as_str(), s.link_failures)).collect();
        assert_eq!(st, [("eno1", "up", 0), ("eno2", "down", 3)]);
        assert_eq!(ab.slaves[1].speed.as_deref(), Some("Unknown"));

        let lacp = parse_bonding(&fixture("bonding_802.3ad.txt")).unwrap();
        assert_eq!(lacp.short_mode(), "802.3ad");
        assert_eq!(lacp.xmit_hash_policy.as_deref(), Some("layer3+4 (1)"));
        assert_eq!(lacp.lacp_rate.as_deref(), Some("fast"));
        assert_eq!(lacp.active_aggregator, Some(2));
        assert_eq!(lacp.slaves.len(), 2);
        assert_eq!((lacp.slaves[0].aggregator_id, lacp.slaves[0].link_failures), (Some(1), 2));
        assert_eq!(lacp.slaves[1].speed.as_deref(), Some("1000 Mbps"));

        let old = parse_bonding(&fixture("bonding_kernel-doc_round-robin.txt")).unwrap();
        assert_eq!(old.short_mode(), "balance-rr");
        assert_eq!(old.active_slave.as_deref(), Some("eth0"));
        assert_eq!(old.slaves.iter().map(|s| s.link_failures).collect::<Vec<_>>(), [1, 1]);
    }

    #[test]
    fn bonding_errors_name_the_line() {
        assert!(matches!(parse_bonding("hello\n"), Err(ToolError::Parse { line: 1, .. })));
        let err =
            parse_bonding("Bonding Mode: x\n\nSlave Interface: a\nLink Failure Count: many\n").unwrap_err();
        assert!(matches!(err, ToolError::Parse { line: 4, .. }), "{err}");
    }

    #[test]
    fn sysfs_values() {
        assert_eq!(parse_speed("10000\n"), Some(10000));
        assert_eq!(parse_speed("-1\n"), None);
        assert_eq!(parse_speed("4294967295\n"), None);
        assert_eq!(parse_duplex("full\n").as_deref(), Some("full"));
        assert_eq!(parse_duplex("unknown\n"), None);
        assert!(safe_name("vmbr0.20"));
        for bad in ["", "..", "a/b", "0123456789abcdef"] {
            assert!(!safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn default_routes() {
        let r = parse_route(&fixture("host_proc_net_route.txt")).unwrap().unwrap();
        assert_eq!((r.gateway.to_string(), r.interface.as_str()), ("192.0.2.1".into(), "eth0"));
        let r = parse_route(&fixture("netns_pve_proc_net_route.txt")).unwrap().unwrap();
        assert_eq!((r.gateway.to_string(), r.interface.as_str()), ("192.168.10.1".into(), "vmbr0"));
        let r6 = parse_ipv6_route(&fixture("host_proc_net_ipv6_route.txt")).unwrap().unwrap();
        assert_eq!(
            (r6.gateway.to_string(), r6.interface.as_str(), r6.metric),
            ("fd00::1".into(), "eth0", 1024)
        );
        // The lowest metric wins; routes without RTF_GATEWAY are not defaults.
        let two = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                   a\t00000000\t0100A8C0\t0003\t0\t0\t200\t00000000\n\
                   b\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\n\
                   c\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n";
        assert_eq!(parse_route(two).unwrap().unwrap().interface, "b");
        assert_eq!(parse_route("Iface\tDestination\n").unwrap(), None);
        let err = parse_route("Iface x\neth0 ZZZ 0 0 0 0 0 0\n").unwrap_err();
        assert!(matches!(err, ToolError::Parse { line: 2, .. }), "{err}");
    }
}
