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
- etc/pve/ha/manager_status: the HA manager's JSON for the HA-managed guests;
- etc/pve/.version: cfs_create_version_msg (start time, vmlist and clinfo versions, one change counter
  per watched config file);
- etc/pve/jobs.cfg: the backup jobs of commands/pvesh/cluster_backup.json as PVE::Jobs::Plugin writes
  its section config (`vzdump: <id>` then tab-indented `key value` lines; a comment encoded with
  PVE::Tools::encode_text);
- etc/pve/datacenter.cfg (hand-written, not generated: the keyboard, the sender and the tag colours of
  `prod` and `dev`, as pve-cluster's PVE/DataCenterConfig.pm writes `key: value` lines);
- etc/pve/.clusterlog: clog_dump_json, the newest entries first: the "starting task" and "end task"
  lines PVE::RESTEnvironment logs for each recorded task;
- the node-local files the node status reads (pve-manager PVE/API2/Nodes.pm `status`):
  proc/sys/kernel/{ostype,version}, sys/kernel/mm/ksm/pages_sharing, the EFI SecureBoot variable,
  var/lib/dpkg/status (pve-manager's paragraph) and usr/share/perl5/PVE/pvecfg.pm, with the values of
  commands/pvesh/nodes_status.json and version.json.

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
    write_version(len(ids))
    write_jobs()
    write_clusterlog()
    write_node_files()


def write_version(vmlist_version):
    files = ["corosync.conf", "corosync.conf.new", "storage.cfg", "user.cfg", "domains.cfg",
             "notifications.cfg", "priv/notifications.cfg", "priv/shadow.cfg", "priv/acme/plugins.cfg",
             "priv/tfa.cfg", "priv/token.cfg", "priv/wg-keys.cfg", "datacenter.cfg", "vzdump.cron",
             "vzdump.conf", "jobs.cfg", "ha/crm_commands", "ha/manager_status", "ha/resources.cfg",
             "ha/rules.cfg", "ha/groups.cfg", "ha/fence.cfg", "status.cfg", "replication.cfg", "ceph.conf"]
    text = '{\n"starttime": %d,\n"clinfo": 0,\n"vmlist": 23,\n' % (RECORDED_AT - 1215000)
    for i, f in enumerate(files):
        text += '"%s": %d,\n' % (f, 1 + i % 3)
    text += '"kvstore": {\n"%s": {\n}\n}\n}\n' % NODE
    with open(os.path.join(PVE, ".version"), "w") as f:
        f.write(text)


def encode_text(s):
    # PVE::Tools::encode_text: every character outside [-_.:a-zA-Z0-9 /] as %XX... is what newer
    # releases do for `comment`; spaces are kept.
    return "".join(c if re.match(r"[-_.:a-zA-Z0-9 ()/]", c) else "%%%02X" % ord(c) for c in s)


def write_jobs():
    with open(os.path.join(HERE, "commands/pvesh/cluster_backup.json")) as f:
        jobs = json.load(f)
    out = []
    for j in jobs:
        lines = ["vzdump: %s" % j["id"]]
        for k in sorted(j):
            if k in ("id", "type", "next-run"):
                continue
            v = encode_text(j[k]) if k == "comment" else num(j[k])
            lines.append("\t%s %s" % (k, v))
        out.append("\n".join(lines) + "\n")
    with open(os.path.join(PVE, "jobs.cfg"), "w") as f:
        f.write("\n".join(out))


def write_clusterlog():
    with open(os.path.join(HERE, "commands/pvesh/nodes_tasks.json")) as f:
        tasks = json.load(f)
    entries = []
    for t in tasks:
        pid = int(t["upid"].split(":")[2], 16)
        entries.append((t["starttime"], pid, t["user"], "starting task %s" % t["upid"]))
        if t.get("endtime"):
            entries.append((t["endtime"], pid, t["user"], "end task %s %s" % (t["upid"], t.get("status", ""))))
    entries.sort(key=lambda e: -e[0])
    lines = []
    for uid, (time, pid, user, msg) in enumerate(entries[:50]):
        lines.append('{"uid": %d, "time": %d, "pri": 6, "tag": "pvedaemon", "pid": %d, "node": "%s", '
                     '"user": "%s", "msg": "%s"}' % (len(entries) - uid, time, pid, NODE, user, msg))
    with open(os.path.join(PVE, ".clusterlog"), "w") as f:
        f.write('{\n"data": [\n%s\n]\n}\n' % ",\n".join(lines))


def write_node_files():
    with open(os.path.join(HERE, "commands/pvesh/nodes_status.json")) as f:
        st = json.load(f)
    st = st.get("data", st)
    with open(os.path.join(HERE, "commands/pvesh/version.json")) as f:
        ver = json.load(f)
    k = st["current-kernel"]

    def put(rel, data, mode="w"):
        path = os.path.join(HERE, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(data)

    put("proc/sys/kernel/ostype", k["sysname"] + "\n")
    put("proc/sys/kernel/version", k["version"] + "\n")
    put("sys/kernel/mm/ksm/pages_sharing", "%d\n" % (st["ksm"]["shared"] // 4096))
    put("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
        bytes([6, 0, 0, 0, st["boot-info"].get("secureboot", 0)]), "wb")
    put("var/lib/dpkg/status",
        "Package: proxmox-ve\nStatus: install ok installed\nPriority: optional\nSection: admin\n"
        "Architecture: all\nVersion: %s.0\nDescription: Proxmox Virtual Environment\n\n"
        "Package: pve-manager\nStatus: install ok installed\nPriority: optional\nSection: admin\n"
        "Architecture: amd64\nVersion: %s\nDescription: Proxmox Virtual Environment Management Tools\n"
        % (ver["release"], ver["version"]))
    put("usr/share/perl5/PVE/pvecfg.pm",
        "package PVE::pvecfg;\n\nuse strict;\nuse warnings;\n\nsub package {\n    return 'pve-manager';\n}\n\n"
        "sub version {\n    return '%s';\n}\n\nsub release {\n    return '%s';\n}\n\n"
        "sub repoid {\n    return '%s';\n}\n\nsub version_text {\n    return '%s/%s';\n}\n\n1;\n"
        % (ver["version"], ver["release"], ver["repoid"], ver["version"], ver["repoid"]))


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
    # A snapshot on VM 100 (the parent line in the current config, the snapshot's own section after),
    # and a pending memory change on VM 101, as qm writes them.
    extra = []
    if r["vmid"] == 100:
        lines.append("parent: before-pve-8-2")
        snap = ["%s: %s" % (k, num(conf[k])) for k in sorted(conf) if k not in ("parent", "lock")]
        extra = ["", "[before-pve-8-2]"] + snap + ["snaptime: %d" % (RECORDED_AT - 30 * 86400)]
    if r["vmid"] == 101:
        extra = ["", "[PENDING]", "memory: %d" % (int(str(conf.get("memory", 2048)).split("=")[-1]) * 2)]
    lines = sorted(lines, key=lambda l: (not l.startswith("#"), l)) + extra
    with open(os.path.join(d, "%d.conf" % r["vmid"]), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
