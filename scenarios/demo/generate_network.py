#!/usr/bin/env python3
"""Writes the demo host's network: `ip -j -d addr` (commands/ip/ip-j-d-addr.json),
/proc/net/bonding/bond0, /proc/net/route, per-interface sysfs under sys/class/net/, and icmp.toml
(the ICMP probe's answers in replay).

The JSON objects are built from the real objects recorded in tests/fixtures/net/ (this machine's eth0
and a network namespace with a bridge, a tap, veths and the fwbr/fwpr/fwln plumbing, iproute2 6.1) with
names, MACs, indexes and addresses changed; the bond and VLAN keys follow iproute2's ip/iplink_bond.c,
iplink_bond_slave.c and iplink_vlan.c JSON output. Deterministic: re-running gives the same files.

Story: vmbr0 (192.168.10.20/24) on bond0 (active-backup, eno1 active, eno2's MII down with 3 link
failures) over two 10G NICs; VLAN vmbr0.20 (10.20.0.20/24) for storage; vmbr1 on eno3 is VM 100's WAN
(no host address); taps for the running/paused VMs (100 has two NICs), veths for the running CTs, all
behind firewall bridges; gateway 192.168.10.1 answers in ~0.4 ms.
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "tests", "fixtures", "net")

host = {l["ifname"]: l for l in json.load(open(os.path.join(FIX, "host_ip-j-d-addr.json")))}
ns = {l["ifname"]: l for l in json.load(open(os.path.join(FIX, "netns_pve_ip-j-d-addr.json")))}

links = []
sysfs = {}  # name -> dict of files


def mac(n):
    return "bc:24:11:%02x:%02x:%02x" % ((n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF)


def add(obj, files):
    obj["ifindex"] = len(links) + 1
    links.append(obj)
    sysfs[obj["ifname"]] = files


def counters(rx, tx, rxe=0, txe=0, rxd=0, txd=0):
    return {"rx_bytes": rx, "tx_bytes": tx, "rx_errors": rxe, "tx_errors": txe, "rx_dropped": rxd, "tx_dropped": txd}


def slave_of(obj, master, kind, data):
    obj["master"] = master
    li = obj.setdefault("linkinfo", {})
    li["info_slave_kind"] = kind
    li["info_slave_data"] = data


def bridge_port_data(template, port_no):
    d = copy.deepcopy(template["linkinfo"]["info_slave_data"])
    d["state"] = "forwarding"
    d["id"] = "0x%04x" % (0x8000 + port_no)
    d["no"] = "0x%x" % port_no
    d["designated_port"] = 0x8000 + port_no
    return d


def order_keys(obj, template):
    out = {}
    for k in template:
        if k in obj:
            out[k] = obj[k]
    for k in obj:
        if k not in out:
            out[k] = obj[k]
    # `link` comes right after ifindex, `master` after qdisc, like ip prints them.
    keys = list(out)
    if "link" in out:
        keys.remove("link")
        keys.insert(1, "link")
    if "master" in out and "qdisc" in out:
        keys.remove("master")
        keys.insert(keys.index("qdisc") + 1, "master")
    return {k: out[k] for k in keys}


BOND_MAC = "3c:ec:ef:10:20:01"
UP = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]

# lo (real)
lo = copy.deepcopy(host["lo"])
add(lo, {})


def nic(name, macaddr, speed, files_extra, flags, operstate, master=None):
    o = copy.deepcopy(host["eth0"])
    o["ifname"] = name
    o["address"] = macaddr
    o["mtu"] = 1500
    o["qdisc"] = "mq"
    o["flags"] = flags
    o["operstate"] = operstate
    o["parentbus"] = "pci"
    o["addr_info"] = []
    o["max_mtu"] = 9710
    o.pop("linkinfo", None)
    return o


# Two 10G NICs in bond0, a 1G NIC as VM 100's WAN uplink.
eno1 = nic("eno1", BOND_MAC, 10000, {}, ["BROADCAST", "MULTICAST", "SLAVE", "UP", "LOWER_UP"], "UP")
slave_of(eno1, "bond0", "bond", {"state": "ACTIVE", "mii_status": "UP", "link_failure_count": 0,
                                  "perm_hwaddr": BOND_MAC, "queue_id": 0, "prio": 0})
eno1["parentdev"] = "0000:19:00.0"
add(eno1, {"speed": "10000", "duplex": "full", "carrier": "1", "mtu": "1500", "operstate": "up",
           "device/uevent": "DRIVER=ixgbe\nPCI_SLOT_NAME=0000:19:00.0\n",
           "statistics": counters(918_334_220_114, 402_118_903_557, 0, 0, 15_231, 0)})
eno2 = nic("eno2", BOND_MAC, None, {}, ["NO-CARRIER", "BROADCAST", "MULTICAST", "SLAVE", "UP"], "DOWN")
slave_of(eno2, "bond0", "bond", {"state": "BACKUP", "mii_status": "DOWN", "link_failure_count": 3,
                                  "perm_hwaddr": "3c:ec:ef:10:20:02", "queue_id": 0, "prio": 0})
eno2["parentdev"] = "0000:19:00.1"
add(eno2, {"speed": "-1", "duplex": "unknown", "carrier": "0", "mtu": "1500", "operstate": "down",
           "device/uevent": "DRIVER=ixgbe\nPCI_SLOT_NAME=0000:19:00.1\n",
           "statistics": counters(12_884_113_202, 3_120_448, 41, 0, 0, 0)})
eno3 = nic("eno3", "3c:ec:ef:10:20:03", 1000, {}, ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP")
eno3["parentdev"] = "0000:1a:00.0"
add(eno3, {"speed": "1000", "duplex": "full", "carrier": "1", "mtu": "1500", "operstate": "up",
           "device/uevent": "DRIVER=igb\nPCI_SLOT_NAME=0000:1a:00.0\n",
           "statistics": counters(288_411_009_131, 61_220_718_004, 0, 0, 88, 0)})

# bond0
bond = copy.deepcopy(ns["vmbr0"])
bond["ifname"] = "bond0"
bond["flags"] = ["BROADCAST", "MULTICAST", "MASTER", "UP", "LOWER_UP"]
bond["address"] = BOND_MAC
bond["mtu"] = 1500
bond["operstate"] = "UP"
bond["qdisc"] = "noqueue"
bond["addr_info"] = []
bond["linkinfo"] = {"info_kind": "bond", "info_data": {
    "mode": "active-backup", "active_slave": "eno1", "miimon": 100, "updelay": 0, "downdelay": 0,
    "peer_notify_delay": 0, "use_carrier": 1, "arp_interval": 0, "arp_validate": None,
    "arp_all_targets": "any", "primary_reselect": "always", "fail_over_mac": "none",
    "xmit_hash_policy": "layer2", "resend_igmp": 1, "num_peer_notif": 1, "all_slaves_active": 0,
    "min_links": 0, "lp_interval": 1, "packets_per_slave": 1, "ad_lacp_active": "on",
    "ad_lacp_rate": "slow", "ad_select": "stable", "tlb_dynamic_lb": 1}}
slave_of(bond, "vmbr0", "bridge", bridge_port_data(ns["fwpr101p0"], 1))
add(bond, {"mtu": "1500", "operstate": "up", "carrier": "1", "speed": "10000", "duplex": "full",
           "statistics": counters(931_218_333_316, 402_122_024_005, 41, 0, 15_231, 0)})


def bridge(name, macaddr, addrs, files):
    o = copy.deepcopy(ns["vmbr0"])
    o["ifname"] = name
    o["address"] = macaddr
    o["flags"] = UP[:]
    o["operstate"] = "UP"
    bid = "8000." + ":".join(x.lstrip("0") or "0" for x in macaddr.split(":"))
    o["linkinfo"]["info_data"]["bridge_id"] = bid
    o["linkinfo"]["info_data"]["root_id"] = bid
    o["addr_info"] = addrs
    return o


def inet(addr, plen, label, brd):
    return {"family": "inet", "local": addr, "prefixlen": plen, "broadcast": brd, "scope": "global",
            "label": label, "valid_life_time": 4294967295, "preferred_life_time": 4294967295}


def link6(addr):
    return {"family": "inet6", "local": addr, "prefixlen": 64, "scope": "link",
            "valid_life_time": 4294967295, "preferred_life_time": 4294967295}


vmbr0 = bridge("vmbr0", BOND_MAC, [inet("192.168.10.20", 24, "vmbr0", "192.168.10.255"),
                                   link6("fe80::3eec:efff:fe10:2001")], {})
add(vmbr0, {"mtu": "1500", "operstate": "up", "carrier": "1", "bridge/bridge_id": "8000.3cecef102001\n",
            "statistics": counters(840_117_220_554, 398_771_001_200, 0, 0, 2_114, 0)})

vlan = copy.deepcopy(ns["vmbr0"])
vlan["ifname"] = "vmbr0.20"
vlan["link"] = "vmbr0"
vlan["address"] = BOND_MAC
vlan["flags"] = UP[:]
vlan["operstate"] = "UP"
vlan["linkinfo"] = {"info_kind": "vlan", "info_data": {"protocol": "802.1Q", "id": 20, "flags": ["REORDER_HDR"]}}
vlan["addr_info"] = [inet("10.20.0.20", 24, "vmbr0.20", "10.20.0.255"), link6("fe80::3eec:efff:fe10:2001")]
add(vlan, {"mtu": "1500", "operstate": "up", "carrier": "1",
           "statistics": counters(61_002_331_872, 20_115_662_110, 0, 0, 0, 0)})

vmbr1 = bridge("vmbr1", "3c:ec:ef:10:20:03", [link6("fe80::3eec:efff:fe10:2003")], {})
add(vmbr1, {"mtu": "1500", "operstate": "up", "carrier": "1",
            "statistics": counters(288_402_118_004, 61_219_001_887, 0, 0, 0, 0)})
slave_of(eno3, "vmbr1", "bridge", bridge_port_data(ns["fwpr101p0"], 1))

# Guests: (vmid, kind, [(index, bridge)], state)
guests = [
    (100, "qemu", [(0, "vmbr0"), (1, "vmbr1")], "running"),
    (101, "qemu", [(0, "vmbr0")], "running"),
    (103, "qemu", [(0, "vmbr0")], "paused"),
    (105, "qemu", [(0, "vmbr0")], "running"),
    (200, "lxc", [(0, "vmbr0")], "running"),
    (201, "lxc", [(0, "vmbr0")], "running"),
    (204, "lxc", [(0, "vmbr0")], "running"),
]
port_no = {"vmbr0": 1, "vmbr1": 1}
seq = 0
for vmid, kind, nics, state in guests:
    for idx, br in nics:
        seq += 1
        rx = 3_000_000_000 * seq + vmid * 7919
        tx = 1_100_000_000 * seq + vmid * 104729
        fwbr = bridge(f"fwbr{vmid}i{idx}", mac(0x700000 + seq), [], {})
        fwbr["mtu"] = 1500
        fwbr_i = len(links)
        add(fwbr, {"mtu": "1500", "operstate": "up", "carrier": "1", "statistics": counters(rx, tx)})
        port_no[br] += 1
        fwpr = copy.deepcopy(ns["fwpr101p0"])
        fwpr["ifname"] = f"fwpr{vmid}p{idx}"
        fwpr["link"] = f"fwln{vmid}i{idx}"
        fwpr["address"] = mac(0x710000 + seq)
        fwpr["flags"] = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]
        fwpr["operstate"] = "UP"
        slave_of(fwpr, br, "bridge", bridge_port_data(ns["fwpr101p0"], port_no[br]))
        add(fwpr, {"mtu": "1500", "operstate": "up", "carrier": "1", "speed": "10000", "duplex": "full",
                   "statistics": counters(tx, rx)})
        fwln = copy.deepcopy(ns["fwln101i0"])
        fwln["ifname"] = f"fwln{vmid}i{idx}"
        fwln["link"] = f"fwpr{vmid}p{idx}"
        fwln["address"] = mac(0x720000 + seq)
        fwln["flags"] = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]
        fwln["operstate"] = "UP"
        slave_of(fwln, f"fwbr{vmid}i{idx}", "bridge", bridge_port_data(ns["fwln101i0"], 1))
        add(fwln, {"mtu": "1500", "operstate": "up", "carrier": "1", "speed": "10000", "duplex": "full",
                   "statistics": counters(rx, tx)})
        if kind == "qemu":
            tap = copy.deepcopy(ns["tap100i0"])
            tap["ifname"] = f"tap{vmid}i{idx}"
            tap["address"] = mac(0x730000 + seq)
            tap["flags"] = ["BROADCAST", "MULTICAST", "PROMISC", "UP", "LOWER_UP"]
            tap["operstate"] = "UNKNOWN"
            tap["linkinfo"]["info_data"]["persist"] = False
            tap["linkinfo"]["info_data"]["vnet_hdr"] = True
            slave_of(tap, f"fwbr{vmid}i{idx}", "bridge", bridge_port_data(ns["tap100i0"], 2))
            add(tap, {"mtu": "1500", "operstate": "unknown", "carrier": "1", "speed": "10",
                      "duplex": "full", "statistics": counters(tx, rx, 0, 0, 0, 12 if vmid == 105 else 0)})
        else:
            veth = copy.deepcopy(ns["veth101i0"])
            veth["ifname"] = f"veth{vmid}i{idx}"
            veth.pop("link", None)
            veth["link_netnsid"] = seq - 1
            veth["address"] = mac(0x740000 + seq)
            veth["flags"] = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]
            veth["operstate"] = "UP"
            slave_of(veth, f"fwbr{vmid}i{idx}", "bridge", bridge_port_data(ns["veth101i0"], 2))
            add(veth, {"mtu": "1500", "operstate": "up", "carrier": "1", "speed": "10000", "duplex": "full",
                       "statistics": counters(tx, rx)})

# Proxmox turns IPv6 off on guest-side plumbing (pve-common's PVE::Network sets disable_ipv6 on taps,
# veths and the fw* links), so these carry no link-local address: no copies of the template's one.
for l in links:
    if l["ifname"].startswith(("tap", "veth", "fwbr", "fwpr", "fwln")):
        l["addr_info"] = []
links = [order_keys(l, ns["veth101i0"]) for l in links]
out_json = os.path.join(HERE, "commands", "ip", "ip-j-d-addr.json")
os.makedirs(os.path.dirname(out_json), exist_ok=True)
with open(out_json, "w") as f:
    f.write(json.dumps(links, separators=(",", ":")) + "\n")

for name, files in sysfs.items():
    if name == "lo":
        continue
    base = os.path.join(HERE, "sys", "class", "net", name)
    for rel, val in files.items():
        if rel == "statistics":
            for k, v in val.items():
                p = os.path.join(base, "statistics", k)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "w").write(f"{v}\n")
            continue
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "w").write(val if val.endswith("\n") else val + "\n")

bonding = """Ethernet Channel Bonding Driver: v6.8.8-2-pve

Bonding Mode: fault-tolerance (active-backup)
Primary Slave: None
Currently Active Slave: eno1
MII Status: up
MII Polling Interval (ms): 100
Up Delay (ms): 0
Down Delay (ms): 0
Peer Notification Delay (ms): 0

Slave Interface: eno1
MII Status: up
Speed: 10000 Mbps
Duplex: full
Link Failure Count: 0
Permanent HW addr: 3c:ec:ef:10:20:01
Slave queue ID: 0

Slave Interface: eno2
MII Status: down
Speed: Unknown
Duplex: Unknown
Link Failure Count: 3
Permanent HW addr: 3c:ec:ef:10:20:02
Slave queue ID: 0
"""
os.makedirs(os.path.join(HERE, "proc", "net", "bonding"), exist_ok=True)
open(os.path.join(HERE, "proc", "net", "bonding", "bond0"), "w").write(bonding)

pad = " " * 47
route = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT" + pad + "\n"
    "vmbr0\t00000000\t010AA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0" + pad + "\n"
    "vmbr0.20\t0000140A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0" + pad + "\n"
    "vmbr0\t000AA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0" + pad + "\n"
)
open(os.path.join(HERE, "proc", "net", "route"), "w").write(route)

open(os.path.join(HERE, "icmp.toml"), "w").write(
    "# Answers for the ICMP echo probe (src/host/icmp.rs) when this scenario is replayed: no packet is\n"
    "# sent. Each echo's round trip is latency_ms +/- jitter_ms; loss_pct is each echo's chance of being\n"
    "# lost. A target not listed here loses every echo. Written by generate_network.py.\n"
    "[[target]]\n"
    'address = "192.168.10.1"\n'
    "latency_ms = 0.42\n"
    "jitter_ms = 0.18\n"
    "loss_pct = 0.5\n"
    "\n"
    "# Guests the demo's service monitors ping (src/monitors/demo.rs): VM 101 (web) and CT 200 (pihole).\n"
    "[[target]]\n"
    'address = "192.168.10.20"\n'
    "latency_ms = 0.38\n"
    "jitter_ms = 0.12\n"
    "loss_pct = 0.0\n"
    "\n"
    "[[target]]\n"
    'address = "192.168.10.53"\n'
    "latency_ms = 0.21\n"
    "jitter_ms = 0.08\n"
    "loss_pct = 0.0\n"
)
print(f"{len(links)} links")
