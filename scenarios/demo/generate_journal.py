#!/usr/bin/env python3
"""Generates the demo's recorded journal: journal/journal.jsonl, as `journalctl -o json` prints it.

    python3 scenarios/demo/generate_journal.py

Deterministic (fixed seed, fixed clock: the demo's recording time, 2024-08-01 08:13:20 UTC). proxwatch
shifts every timestamp when it loads the dump so that the newest entry is "now" (workers/journal.rs).
The shape follows tests/fixtures/upstream/journalctl/ (real journalctl 252 output): every value a string,
timestamps in microseconds, cursors `s=;i=;b=;m=;t=;x=`. The messages follow the real formats of
pvedaemon/pveproxy/pvestatd/pvescheduler, systemd, the kernel (libata, OOM killer), cron and postfix,
and tell the demo's story (README.md): the nightly backup at 02:00 with job errors (VM 102 qmp timeout,
CT 201 locked), VM 104's backup failing with "No space left on device", an OOM kill inside CT 201,
ATA errors on sde (the disk with reallocated sectors), a pvestatd core dump (multi-line).
"""

import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1722500000  # the demo's recording time
START = NOW - 2 * 86400
HOST = "pve-demo"
MACHINE = "5e1a7c3d9f2b4e68a0c4d2f1b3e5a7c9"
SEQNUM_ID = "8d4f2a6c1e3b4d5f9a7c8e0b2d4f6a1c"
BOOT_PREV = "3f1c9a7e5b2d4c6e8a0b1d3f5c7e9a2b"
BOOT_CUR = "9b2e4d6f8a1c3e5b7d9f0a2c4e6b8d1f"
BOOT_PREV_AT = 1721284568 - 14 * 86400  # the boot before, two weeks earlier
BOOT_CUR_AT = 1721284568  # 2024-07-18 06:36:08 UTC (README: uptime 1215432 s)

rnd = random.Random(20240801)
entries = []


def add(ts, ident, msg, prio=6, pid=None, unit=None, boot=BOOT_CUR, transport="syslog", facility=3, extra=None):
    e = {
        "__REALTIME_TIMESTAMP": ts,
        "_BOOT_ID": boot,
        "PRIORITY": str(prio),
        "SYSLOG_IDENTIFIER": ident,
        "MESSAGE": msg,
        "_HOSTNAME": HOST,
        "_MACHINE_ID": MACHINE,
        "_TRANSPORT": transport,
        "SYSLOG_FACILITY": str(facility),
    }
    if pid is not None:
        e["_PID"] = str(pid)
        e["SYSLOG_PID"] = str(pid)
        e["_COMM"] = ident.split("/")[-1][:15]
    if unit:
        e["_SYSTEMD_UNIT"] = unit
    if extra:
        e.update(extra)
    entries.append(e)


def kernel(ts, msg, prio=6, boot=BOOT_CUR, extra=None):
    add(ts, "kernel", msg, prio, boot=boot, transport="kernel", facility=0, extra=extra)


def systemd(ts, msg, about=None, prio=6, boot=BOOT_CUR):
    extra = {"UNIT": about} if about else None
    add(ts, "systemd", msg, prio, pid=1, unit="init.scope", boot=boot, facility=3, extra=extra)


UPID_NIGHTLY = "UPID:pve-demo:002BB139:071C6C45:66AAEC20:vzdump::root@pam:"
UPID_104 = "UPID:pve-demo:002BFDA1:07309085:66AB1FB0:vzdump:104:root@pam:"

# --- the previous boot's last minutes and this boot's start (2024-07-18) ---
t = BOOT_CUR_AT - 180
systemd(t, "Stopping pve-guests.service - PVE guests...", "pve-guests.service", boot=BOOT_PREV)
add(t + 1, "pve-guests", "<root@pam> starting task UPID:pve-demo:00003A21:0A1B2C3D:6698B6B4:stopall::root@pam:",
    pid=14881, unit="pve-guests.service", boot=BOOT_PREV)
add(t + 40, "pve-guests", "all VMs and CTs stopped", pid=14881, unit="pve-guests.service", boot=BOOT_PREV)
systemd(t + 41, "pve-guests.service: Deactivated successfully.", "pve-guests.service", boot=BOOT_PREV)
systemd(t + 60, "Reached target shutdown.target - System Shutdown.", boot=BOOT_PREV)
kernel(t + 62, "reboot: Restarting system", prio=5, boot=BOOT_PREV)
b = BOOT_CUR_AT
kernel(b, "Linux version 6.8.8-2-pve (build@proxmox) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC PMX 6.8.8-2 (2024-06-24T09:00Z) ()", prio=5)
kernel(b, "Command line: BOOT_IMAGE=/boot/vmlinuz-6.8.8-2-pve root=ZFS=rpool/ROOT/pve-1 ro quiet intel_iommu=on")
kernel(b + 2, "ZFS: Loaded module v2.2.4-pve1, ZFS pool version 5000, ZFS filesystem version 5", prio=6)
kernel(b + 3, "igb 0000:03:00.0 eno1: igb: eno1 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX/TX")
kernel(b + 3, "vmbr0: port 1(bond0) entered forwarding state")
systemd(b + 5, "Started pvedaemon.service - PVE API Daemon.", "pvedaemon.service")
systemd(b + 6, "Started pveproxy.service - PVE API Proxy Server.", "pveproxy.service")
systemd(b + 7, "Started pvestatd.service - PVE Status Daemon.", "pvestatd.service")
add(b + 32, "pve-guests", "<root@pam> starting task UPID:pve-demo:0000089C:00001C45:6698B820:startall::root@pam:",
    pid=2204, unit="pve-guests.service")
systemd(b + 63, "Finished pve-guests.service - PVE guests.", "pve-guests.service")

# --- two days of routine noise ---
pid_base = 2_800_000
for hour in range(48):
    h0 = START + hour * 3600
    # cron.hourly
    cpid = pid_base + hour * 37
    add(h0 + 1020, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", pid=cpid,
        unit="cron.service", facility=10)
    add(h0 + 1020, "CRON", "(root) CMD (cd / && run-parts --report /etc/cron.hourly)", pid=cpid + 1,
        unit="cron.service", facility=9)
    add(h0 + 1021, "CRON", "pam_unix(cron:session): session closed for user root", pid=cpid, unit="cron.service",
        facility=10)
    # GUI logins (pvedaemon) a few times a day
    if hour % 7 == 3:
        add(h0 + rnd.randint(60, 3000), "pvedaemon", "<root@pam> successful auth for user 'root@pam'",
            pid=rnd.choice([1987, 1988, 1989]), unit="pvedaemon.service", facility=3)
    # pveproxy recycles workers
    if hour % 5 == 1:
        w = 3_000_000 + hour * 11
        at = h0 + rnd.randint(100, 3400)
        add(at, "pveproxy", f"worker {w - 7} finished", pid=2011, unit="pveproxy.service")
        add(at, "pveproxy", "starting 1 worker(s)", pid=2011, unit="pveproxy.service")
        add(at, "pveproxy", f"worker {w} started", pid=2011, unit="pveproxy.service")
    # pvestatd hiccups when the NFS storage is slow
    if hour % 9 == 4:
        add(h0 + rnd.randint(0, 3500), "pvestatd", f"status update time ({rnd.uniform(5.1, 9.8):.3f} seconds)",
            prio=4, pid=1975, unit="pvestatd.service")
    # session scopes and timers
    if hour % 12 == 0:
        systemd(h0 + 5, "Starting apt-daily.service - Daily apt download activities...", "apt-daily.service")
        systemd(h0 + 19, "apt-daily.service: Deactivated successfully.", "apt-daily.service")
        systemd(h0 + 19, "Finished apt-daily.service - Daily apt download activities.", "apt-daily.service")
    if hour % 24 == 0:
        systemd(h0 + 30, "Starting logrotate.service - Rotate log files...", "logrotate.service")
        systemd(h0 + 31, "logrotate.service: Deactivated successfully.", "logrotate.service")
        systemd(h0 + 31, "Finished logrotate.service - Rotate log files.", "logrotate.service")
        systemd(h0 + 35, "Starting man-db.service - Daily man-db regeneration...", "man-db.service")
        systemd(h0 + 37, "man-db.service: Deactivated successfully.", "man-db.service")
    if hour % 24 == 1:
        systemd(h0 + 2, "Starting pve-daily-update.service - Daily PVE download activities...",
                "pve-daily-update.service")
        add(h0 + 14, "pveupdate", "<root@pam> starting task UPID:pve-demo:0028589F:069F3EF5:66A9ABAC:aptupdate::root@pam:",
            pid=2_650_271, unit="pve-daily-update.service")
        add(h0 + 25, "pveupdate", "<root@pam> end task UPID:pve-demo:0028589F:069F3EF5:66A9ABAC:aptupdate::root@pam: OK",
            pid=2_650_271, unit="pve-daily-update.service")
        systemd(h0 + 26, "pve-daily-update.service: Deactivated successfully.", "pve-daily-update.service")
        systemd(h0 + 26, "Finished pve-daily-update.service - Daily PVE download activities.",
                "pve-daily-update.service")
    # an SSH login now and then
    if hour % 11 == 6:
        at = h0 + rnd.randint(0, 3000)
        spid = 3_100_000 + hour * 13
        add(at, "sshd", "Accepted publickey for root from 192.168.10.20 port 51544 ssh2: ED25519 SHA256:Xq3bR8m9...",
            pid=spid, unit="ssh.service", facility=4)
        add(at, "sshd", "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)", pid=spid,
            unit="ssh.service", facility=10)
        add(at + 1, "systemd-logind", f"New session {400 + hour} of user root.", pid=1040,
            unit="systemd-logind.service", facility=4)
        add(at + 420, "sshd", "pam_unix(sshd:session): session closed for user root", pid=spid, unit="ssh.service",
            facility=10)
        add(at + 420, "systemd-logind", f"Session {400 + hour} logged out. Waiting for processes to exit.",
            pid=1040, unit="systemd-logind.service", facility=4)
    # smartd temperature notes
    if hour % 8 == 2:
        add(h0 + 1800, "smartd", f"Device: /dev/sde [SAT], SMART Usage Attribute: 194 Temperature_Celsius changed from {39 + hour % 3} to {40 + hour % 3}",
            prio=6, pid=1630, unit="smartd.service")

# --- the story ---
# 07-30: a failed SSH password guess from outside, rejected
t = START + 5 * 3600 + 600
for k in range(3):
    add(t + k * 4, "sshd", f"Failed password for root from 203.0.113.45 port {50001 + k} ssh2", prio=6,
        pid=3_090_001, unit="ssh.service", facility=10)
add(t + 15, "pvedaemon", "authentication failure; rhost=::ffff:198.51.100.23 user=root@pam msg=Authentication failure",
    prio=3, pid=1988, unit="pvedaemon.service")

# 07-30 ~21:40: libata errors on sde (ata5), then a reallocation
t = START + 13 * 3600 + 2400
ata = [
    "ata5.00: exception Emask 0x0 SAct 0x1000 SErr 0x0 action 0x0",
    "ata5.00: irq_stat 0x40000008",
    "ata5.00: failed command: READ FPDMA QUEUED",
    "ata5.00: cmd 60/08:60:00:78:70/00:00:74:03:00/40 tag 12 ncq dma 4096 in\n         res 41/40:00:00:78:70/00:00:74:03:00/00 Emask 0x409 (media error) <F>",
    "ata5.00: status: { DRDY ERR }",
    "ata5.00: error: { UNC }",
    "ata5.00: configured for UDMA/133",
    "sd 4:0:0:0: [sde] tag#12 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=3s",
    "sd 4:0:0:0: [sde] tag#12 Sense Key : Medium Error [current]",
    "sd 4:0:0:0: [sde] tag#12 Add. Sense: Unrecovered read error - auto reallocate failed",
    "I/O error, dev sde, sector 14839412736 op 0x0:(READ) flags 0x700 phys_seg 1 prio class 2",
    "ata5: EH complete",
]
for k, m in enumerate(ata):
    prio = 3 if ("error" in m.lower() or "failed" in m.lower()) else 4
    kernel(t + k // 4, m, prio=prio, extra={"_KERNEL_SUBSYSTEM": "scsi", "_KERNEL_DEVICE": "+scsi:4:0:0:0"})
add(t + 30, "zed", "eid=412 class=io pool='tank' vdev=ata-ST16000NM001G-2KK103_ZL2E9B4C-part1 size=4096 offset=7597748224000 priority=0 err=5 flags=0x180880 bookmark=1285:1:0:823145",
    prio=5, unit="zfs-zed.service", extra={"_COMM": "logger"})
add(t + 1800, "smartd", "Device: /dev/sde [SAT], 8 Currently unreadable (pending) sectors", prio=2, pid=1630,
    unit="smartd.service")

# 07-31 09:30: VM 102 shut down by hand; 17:12-18:05 CT 202 up and down (tasks list)
add(1722418218, "pvedaemon", "<root@pam> starting task UPID:pve-demo:0028BCE9:06C1D02D:66AA042A:qmshutdown:102:root@pam:",
    pid=1989, unit="pvedaemon.service")
kernel(1722418262, "vmbr0: port 4(tap102i0) entered disabled state")
add(1722418280, "pvedaemon", "<root@pam> end task UPID:pve-demo:0028BCE9:06C1D02D:66AA042A:qmshutdown:102:root@pam: OK",
    pid=1989, unit="pvedaemon.service")
systemd(1722418281, "102.scope: Deactivated successfully.", "102.scope")
add(1722445975, "pvedaemon", "<root@pam> starting task UPID:pve-demo:0029AD00:06EC2AC1:66AA7097:vzstart:202:root@pam:",
    pid=1987, unit="pvedaemon.service")
systemd(1722445976, "Started pve-container@202.service - PVE LXC Container: 202.", "pve-container@202.service")
kernel(1722445977, "fwbr202i0: port 2(veth202i0) entered forwarding state")
add(1722449111, "pvedaemon", "<root@pam> starting task UPID:pve-demo:0029CAB6:06F0F3C1:66AA7CD7:vzshutdown:202:root@pam:",
    pid=1987, unit="pvedaemon.service")
systemd(1722449115, "pve-container@202.service: Deactivated successfully.", "pve-container@202.service")

# 07-31 23:17: OOM kill inside CT 201 (nextcloud), php-fpm
t = 1722467820
kernel(t, "php-fpm8.2 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0", prio=4)
kernel(t, "memory: usage 4194304kB, limit 4194304kB, failcnt 18233", prio=6)
kernel(t, "Memory cgroup stats for /lxc/201:", prio=6)
kernel(t, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=ns,mems_allowed=0-1,oom_memcg=/lxc/201,task_memcg=/lxc/201/ns/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=1184233,uid=100033",
       prio=6)
kernel(t, "Memory cgroup out of memory: Killed process 1184233 (php-fpm8.2) total-vm:1532860kB, anon-rss:1204932kB, file-rss:10240kB, shmem-rss:36864kB, UID:100033 pgtables:2704kB oom_score_adj:0",
       prio=3)

# 08-01 02:00: the nightly backup job (pvescheduler): VM 102 qmp timeout, CT 201 locked -> job errors
t = 1722477600
add(t, "pvescheduler", f"<root@pam> starting task {UPID_NIGHTLY}", pid=2_863_417, unit="pvescheduler.service")
add(t, "vzdump", "INFO: starting new backup job: vzdump --all 1 --storage pbs --mode snapshot --mailnotification failure --quiet 1",
    pid=2_863_417, unit="pvescheduler.service")
add(t + 1, "vzdump", "INFO: Starting Backup of VM 100 (qemu)", pid=2_863_417, unit="pvescheduler.service")
add(t + 41, "vzdump", "INFO: Finished Backup of VM 100 (00:00:41)", pid=2_863_417, unit="pvescheduler.service")
add(t + 43, "vzdump", "INFO: Starting Backup of VM 101 (qemu)", pid=2_863_417, unit="pvescheduler.service")
add(t + 590, "vzdump", "INFO: Finished Backup of VM 101 (00:09:07)", pid=2_863_417, unit="pvescheduler.service")
add(t + 592, "vzdump", "INFO: Starting Backup of VM 102 (qemu)", pid=2_863_417, unit="pvescheduler.service")
add(t + 1772, "pvescheduler", "VM 102 qmp command failed - VM 102 qmp command 'backup' failed - got timeout", prio=3,
    pid=2_863_417, unit="pvescheduler.service")
add(t + 1772, "vzdump", "ERROR: Backup of VM 102 failed - VM 102 qmp command 'backup' failed - got timeout", prio=3,
    pid=2_863_417, unit="pvescheduler.service")
add(t + 1797, "vzdump", "INFO: Finished Backup of VM 200 (00:00:23)", pid=2_863_417, unit="pvescheduler.service")
add(t + 1799, "vzdump", "ERROR: Backup of VM 201 failed - CT is locked (backup)", prio=3, pid=2_863_417,
    unit="pvescheduler.service")
add(t + 1843, "vzdump",
    "INFO: Backup job finished with errors\n"
    "  VM 102: FAILED - VM 102 qmp command 'backup' failed - got timeout\n"
    "  CT 201: FAILED - CT is locked (backup)\n"
    "  2 of 5 guests failed; a notification mail was queued for root",
    prio=3, pid=2_863_417, unit="pvescheduler.service")
add(t + 1843, "pvescheduler", f"<root@pam> end task {UPID_NIGHTLY} job errors", prio=3, pid=2_863_417,
    unit="pvescheduler.service")
# the failure mail, deferred (the smarthost is unreachable)
add(t + 1844, "postfix/pickup", "4F2A81C0E12: uid=0 from=<root>", pid=2_861_002, unit="postfix@-.service",
    facility=2)
add(t + 1844, "postfix/cleanup", "4F2A81C0E12: message-id=<20240801023044.4F2A81C0E12@pve-demo.lan>",
    pid=2_863_990, unit="postfix@-.service", facility=2)
add(t + 1844, "postfix/qmgr", "4F2A81C0E12: from=<root@pve-demo.lan>, size=6243, nrcpt=1 (queue active)",
    pid=1701, unit="postfix@-.service", facility=2)
add(t + 1874, "postfix/smtp",
    "4F2A81C0E12: to=<admin@example.com>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mail.example.com[203.0.113.25]:25: Connection timed out)",
    prio=4, pid=2_863_991, unit="postfix@-.service", facility=2)

# 08-01 03:12: pvestatd crashed and was restarted (systemd-coredump: multi-line)
t = 1722481920
add(t, "systemd-coredump",
    "Process 1975 (pvestatd) of user 0 dumped core.\n\n"
    "Module libperl.so.5.36 from deb perl-5.36.0-7+deb12u1.amd64\n"
    "Stack trace of thread 1975:\n"
    "#0  0x00007f3b1a4a9e3c __pthread_kill_implementation (libc.so.6 + 0x8ae3c)\n"
    "#1  0x00007f3b1a45afb2 __GI_raise (libc.so.6 + 0x3bfb2)\n"
    "#2  0x00007f3b1a445472 __GI_abort (libc.so.6 + 0x26472)\n"
    "#3  0x00007f3b1a7c2d1a Perl_croak_nocontext (libperl.so.5.36 + 0x11ad1a)\n"
    "ELF object binary architecture: AMD x86-64",
    prio=2, pid=2_870_114, unit="systemd-coredump@0-2870114-0.service",
    extra={"COREDUMP_PID": "1975", "COREDUMP_COMM": "pvestatd"})
systemd(t + 1, "pvestatd.service: Main process exited, code=dumped, status=6/ABRT", "pvestatd.service", prio=5)
systemd(t + 1, "pvestatd.service: Failed with result 'core-dump'.", "pvestatd.service", prio=4)
systemd(t + 11, "pvestatd.service: Scheduled restart job, restart counter is at 1.", "pvestatd.service")
systemd(t + 12, "Started pvestatd.service - PVE Status Daemon.", "pvestatd.service")
add(t + 13, "pvestatd", "starting server", pid=2_870_160, unit="pvestatd.service")

# 08-01 05:40: VM 104's backup fails, the PBS datastore is full
t = 1722490800
add(t, "pvedaemon", f"<root@pam> starting task {UPID_104}", pid=1988, unit="pvedaemon.service")
add(t, "vzdump", "INFO: starting new backup job: vzdump 104 --storage pbs-backup --mode snapshot --remove 0 --notes-template '{{guestname}}' --node pve-demo",
    pid=2_877_001, unit="pvedaemon.service")
systemd(t + 3, "Started 104.scope.", "104.scope")
add(t + 742, "vzdump",
    "ERROR: Backup of VM 104 failed - backup write data failed: command error: write_data upload error: pipelined request failed: No space left on device (os error 28)",
    prio=3, pid=2_877_001, unit="pvedaemon.service")
add(t + 743, "pvestatd", "storage 'pbs-backup' is not online", prio=3, pid=2_870_160, unit="pvestatd.service")
systemd(t + 744, "104.scope: Deactivated successfully.", "104.scope")
add(t + 744, "pvedaemon", f"<root@pam> end task {UPID_104} job errors", prio=3, pid=1988, unit="pvedaemon.service")

# 08-01 08:15 (just before the recording): a console session to VM 100
t = 1722498902
add(t, "pvedaemon", "<root@pam> starting task UPID:pve-demo:002C2921:073CED5D:66AB3F56:vncproxy:100:root@pam:",
    pid=1987, unit="pvedaemon.service")
add(t + 1, "pvedaemon", "<root@pam> end task UPID:pve-demo:002C2921:073CED5D:66AB3F56:vncproxy:100:root@pam: OK",
    pid=1987, unit="pvedaemon.service")
add(NOW - 20, "pvedaemon", "<root@pam> successful auth for user 'root@pam'", pid=1989, unit="pvedaemon.service")

# --- cursors, monotonic times, output ---
entries.sort(key=lambda e: e["__REALTIME_TIMESTAMP"])
out = []
for seq, e in enumerate(entries, start=1):
    ts_us = int(e["__REALTIME_TIMESTAMP"]) * 1_000_000 + seq * 1000  # strictly increasing
    boot_at = BOOT_CUR_AT if e["_BOOT_ID"] == BOOT_CUR else BOOT_PREV_AT
    mono = max(1, ts_us - boot_at * 1_000_000)
    xor = rnd.getrandbits(64)
    e["__REALTIME_TIMESTAMP"] = str(ts_us)
    e["__MONOTONIC_TIMESTAMP"] = str(mono)
    e["__CURSOR"] = f"s={SEQNUM_ID};i={seq:x};b={e['_BOOT_ID']};m={mono:x};t={ts_us:x};x={xor:016x}"
    out.append(json.dumps(e, separators=(",", ":")))

os.makedirs(os.path.join(HERE, "journal"), exist_ok=True)
with open(os.path.join(HERE, "journal", "journal.jsonl"), "w") as f:
    f.write("\n".join(out) + "\n")
print(f"{len(out)} entries")
