#!/usr/bin/env python3
"""Writes the demo's cluster filesystem files from its recorded pvesh answers, so that the demo reads
/cluster/resources the way proxwatch does on a real host (issue 15: the files first, pvesh only as the
fallback):

    python3 scenarios/demo/generate_cluster_files.py

Each file in its writer's format (the demo is a PVE 8 host, so the PVE 8 `.rrd` keys):
- etc/pve/.vmlist: pve-cluster src/pmxcfs/status.c, cfs_create_vmlist_msg;
- etc/pve/.members: cfs_create_memberlist_msg for a node outside a cluster (name and version only);
- etc/pve/.rrd: cfs_rrd_dump, one `key:data` line per node, guest and storage with what pvestatd
  broadcasts (pve-manager PVE/Service/pvestatd.pm: `U` for undefined, a stopped guest's live columns
  undefined), then a NUL;
- etc/pve/nodes/pve-demo/{qemu-server,lxc}/<vmid>.conf: each guest's recorded config as
  `key: value` lines (the description as `#` lines first, as qm and pct write it);
- etc/pve/ha/manager_status: the HA manager's JSON for the HA-managed guests.

The values are exactly those of commands/pvesh/cluster_resources.json (tests/it/inventory.rs checks
that the files read back as the same resources); re-running it rewrites the same files.
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
PVE = os.path.join(HERE, "etc/pve")
NODE = "pve-demo"
RECORDED_AT = 1722500000


def num(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def main():
    with open(os.path.join(HERE, "commands/pvesh/cluster_resources.json")) as f:
        res = json.load(f)
    with open(os.path.join(HERE, "manifest.toml")) as f:
        manifest = f.read()
    configs = dict(
        re.findall(r'argv = \["pvesh", "get", "/nodes/[^/]+/(?:qemu|lxc)/(\d+)/config"[^\]]*\]\nstdout = "([^"]+)"', manifest)
    )

    ids, rrd, services = [], [], []
    for r in sorted(res, key=lambda r: r["id"]):
        t = r["type"]
        if t in ("qemu", "lxc"):
            ids.append('"%d": { "node": "%s", "type": "%s", "version": 1 }' % (r["vmid"], r["node"], t))
            live = r["status"] in ("running", "paused")
            v = lambda k: num(r[k]) if live else "U"
            rrd.append(
                "pve2.3-vm/%d:%s" % (r["vmid"], ":".join([
                    num(r["uptime"]), r["name"], r["status"], num(r["template"]), str(RECORDED_AT),
                    num(r["maxcpu"]), v("cpu"), num(r["maxmem"]), v("mem"), num(r["maxdisk"]), num(r["disk"]),
                    v("netin"), v("netout"), v("diskread"), v("diskwrite"),
                ]))
            )
            if r.get("hastate"):
                services.append('"%s:%d":{"node":"%s","state":"%s","uid":"demo%d"}' % (
                    "vm" if t == "qemu" else "ct", r["vmid"], NODE, r["hastate"], r["vmid"]))
            write_config(r, configs)
        elif t == "node":
            rrd.append("pve2-node/%s:%s" % (r["node"], ":".join([
                num(r["uptime"]), r["level"] if r.get("level") is not None else "U", str(RECORDED_AT), "8.12",
                num(r["maxcpu"]), num(r["cpu"]), "0.0021", num(r["maxmem"]), num(r["mem"]),
                "8589930496", "0", num(r["maxdisk"]), num(r["disk"]), "912345678901", "873456789012",
            ])))
        elif t == "storage":
            rrd.append("pve2-storage/%s/%s:%d:%s:%s" % (r["node"], r["storage"], RECORDED_AT, num(r["maxdisk"]), num(r["disk"])))

    os.makedirs(os.path.join(PVE, "ha"), exist_ok=True)
    with open(os.path.join(PVE, ".vmlist"), "w") as f:
        f.write('{\n"version": 23,\n"ids": {\n%s}\n\n}\n' % ",\n".join(ids))
    with open(os.path.join(PVE, ".members"), "w") as f:
        f.write('{\n"nodename": "%s",\n"version": 0\n}\n' % NODE)
    with open(os.path.join(PVE, ".rrd"), "w") as f:
        f.write("\n".join(rrd) + "\n\0")
    with open(os.path.join(PVE, "ha/manager_status"), "w") as f:
        f.write('{"master_node":"%s","node_status":{"%s":"online"},"service_status":{%s},"timestamp":%d}'
                % (NODE, NODE, ",".join(services), RECORDED_AT))


def write_config(r, configs):
    path = configs.get(str(r["vmid"]))
    conf = {}
    if path:
        with open(os.path.join(HERE, path)) as f:
            conf = json.load(f)
        conf = conf.get("data", conf) if isinstance(conf, dict) else {}
    conf.pop("digest", None)
    # What /cluster/resources carries must agree with the config (lock, tags).
    if r.get("lock"):
        conf["lock"] = r["lock"]
    if r.get("tags"):
        conf["tags"] = r["tags"]
    d = os.path.join(PVE, "nodes", r["node"], "qemu-server" if r["type"] == "qemu" else "lxc")
    os.makedirs(d, exist_ok=True)
    lines = []
    desc = conf.pop("description", None)
    if desc:
        lines += ["#" + l for l in str(desc).split("\n")]
    for k in sorted(conf):
        lines.append("%s: %s" % (k, num(conf[k])))
    with open(os.path.join(d, "%d.conf" % r["vmid"]), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
