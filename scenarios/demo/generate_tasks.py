#!/usr/bin/env python3
"""Writes the demo's Proxmox task files from its recorded pvesh answers, so that the demo reads tasks
the way proxwatch does on a real host (issue 15: the files first, pvesh only as the fallback):

    python3 scenarios/demo/generate_tasks.py

- var/log/pve/tasks/index: one line per finished task, oldest first, `UPID ENDTIME STATUS` with the
  end time as 8 upper-case hex digits (pve-common PVE::RESTEnvironment::active_workers:
  sprintf("%s %08X %s\\n", ...));
- var/log/pve/tasks/active: the finished tasks PVE keeps listed (at most 25, newest first), each
  already archived (`UPID 1 ENDTIME STATUS`; PVE::INotify::write_active_workers);
- var/log/pve/tasks/<X>/<UPID>: each recorded task log's lines, where X is the last hex digit of the
  UPID's start time (PVE::UPID::decode).

The same tasks as commands/pvesh/nodes_tasks.json, the same log lines as commands/tasklog/; re-running
it rewrites the same files.
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = os.path.join(HERE, "var/log/pve/tasks")


def main():
    with open(os.path.join(HERE, "commands/pvesh/nodes_tasks.json")) as f:
        tasks = json.load(f)
    finished = sorted((t for t in tasks if t.get("endtime")), key=lambda t: (t["endtime"], t["upid"]))
    os.makedirs(TASKS, exist_ok=True)
    with open(os.path.join(TASKS, "index"), "w") as f:
        for t in finished:
            f.write("%s %08X %s\n" % (t["upid"], t["endtime"], t["status"]))
    newest = sorted(finished, key=lambda t: t["starttime"], reverse=True)[:25]
    with open(os.path.join(TASKS, "active"), "w") as f:
        for t in newest:
            f.write("%s 1 %08X %s\n" % (t["upid"], t["endtime"], t["status"]))

    # Each recorded log, keyed in the manifest by its UPID.
    with open(os.path.join(HERE, "manifest.toml")) as f:
        manifest = f.read()
    pattern = re.compile(r'argv = \["pvesh", "get", "/nodes/[^/]+/tasks/(UPID:[^"]+):/log"[^\]]*\]\nstdout = "([^"]+)"')
    for upid, stdout in pattern.findall(manifest):
        upid += ":"
        start = upid.split(":")[4]
        with open(os.path.join(HERE, stdout)) as f:
            lines = json.load(f)
        d = os.path.join(TASKS, start[7])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, upid), "w") as f:
            for line in sorted(lines, key=lambda l: l["n"]):
                f.write(line["t"] + "\n")


if __name__ == "__main__":
    main()
