#!/usr/bin/env python3
"""Writes the pve-zfs (t0) and pve-zfs-t1 (t0 + exactly 1 s) replay scenarios.

Run from anywhere: python3 tests/scenarios/pve-zfs/generate.py
The files follow the kernel's documented formats (Documentation/filesystems/proc.rst,
Documentation/accounting/psi.rst, Documentation/admin-guide/iostats.rst, the SPL kstat
"name type data" layout of /proc/spl/kstat/zfs/arcstats). Every number is chosen, not
sampled, so tests can assert exact values. The t0 -> t1 deltas are the DELTA_* tables
below and are repeated in README.md.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = HERE
T1 = os.path.join(os.path.dirname(HERE), "pve-zfs-t1")

NCPU = 16
USER_HZ = 100
UPTIME0 = 1215432.57          # seconds
BTIME = 1721284567            # t0 wall clock 1722500000 minus uptime, floored
CPU_FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"]

# ---------------------------------------------------------------- deltas (t0 -> t1)
# Aggregate "cpu" line, USER_HZ ticks over 1 s on 16 CPUs = 1600 ticks in the first 8 fields.
# guest/guest_nice are ALREADY INCLUDED in user/nice (kernel accounting); do not add them again.
DELTA_CPU = {"user": 400, "nice": 0, "system": 100, "idle": 1050, "iowait": 50, "irq": 0,
             "softirq": 0, "steal": 0, "guest": 150, "guest_nice": 0}
DELTA_CTXT, DELTA_PROCESSES, DELTA_INTR = 41230, 12, 23456
# net/dev: iface -> (rx_bytes, rx_packets, tx_bytes, tx_packets)
DELTA_NET = {"lo": (5000, 40, 5000, 40), "eno1": (131072, 105, 262144, 190),
             "vmbr0": (125000, 100, 250000, 180), "tap100i0": (4096, 8, 8192, 12),
             "tap101i0": (65536, 48, 98304, 70), "fwbr101i0": (0, 0, 0, 0),
             "fwpr101p0": (98304, 70, 65536, 48), "fwln101i0": (65536, 48, 98304, 70),
             "veth200i0": (2048, 6, 1024, 4), "eno2": (0, 0, 0, 0)}
# diskstats: dev -> (reads, read_sectors, read_ms, writes, write_sectors, write_ms, io_ticks_ms, weighted_ms)
DELTA_DISK = {"sda": (0, 0, 0, 4, 20, 3, 4, 3), "sda2": (0, 0, 0, 4, 20, 3, 4, 3),
              "sdb": (0, 0, 0, 4, 20, 3, 4, 3),
              "nvme0n1": (10, 80, 1, 25, 400, 9, 12, 10), "nvme0n1p1": (10, 80, 1, 25, 400, 9, 12, 10),
              "zd0": (2, 16, 1, 6, 96, 2, 3, 3)}
# per process: (utime, stime, guest_time) ticks
DELTA_PROC = {1: (0, 0, 0), 1843223: (60, 10, 45), 2598: (0, 0, 0), 2731: (0, 0, 0),
              2733: (1, 0, 0), 1620: (2, 1, 0)}


def write(root, rel, data, mode="w"):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def split(total, n):
    base, rem = divmod(total, n)
    return [base + (1 if i < rem else 0) for i in range(n)]


# ---------------------------------------------------------------- /proc/stat
def cpu_table(t):
    """per-CPU rows for snapshot t (0 or 1)."""
    rows = []
    for i in range(NCPU):
        r = {"user": 4_512_300 + i * 1_013, "nice": 1_204 + i, "system": 1_377_020 + i * 311,
             "idle": 113_411_900 - i * 1_200, "iowait": 90_310 + i * 17, "irq": 0,
             "softirq": 24_112 + i * 3, "steal": 0, "guest": 1_652_000 + i * 500, "guest_nice": 0}
        rows.append(r)
    if t == 1:
        per = {k: split(v, NCPU) for k, v in DELTA_CPU.items() if k != "idle"}
        for i, r in enumerate(rows):
            busy = 0
            for k, parts in per.items():
                r[k] += parts[i]
                if k not in ("guest", "guest_nice"):
                    busy += parts[i]
            r["idle"] += USER_HZ - busy      # each CPU advances by exactly 100 ticks
    return rows


def proc_stat(t):
    rows = cpu_table(t)
    agg = {k: sum(r[k] for r in rows) for k in CPU_FIELDS}
    out = ["cpu  " + " ".join(str(agg[k]) for k in CPU_FIELDS)]
    for i, r in enumerate(rows):
        out.append(f"cpu{i} " + " ".join(str(r[k]) for k in CPU_FIELDS))
    intr_total = 1_987_654_321 + (DELTA_INTR if t else 0)
    irqs = [0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + [0] * 24
    out.append(f"intr {intr_total} " + " ".join(map(str, irqs)))
    out.append(f"ctxt {3_456_789_012 + (DELTA_CTXT if t else 0)}")
    out.append(f"btime {BTIME}")
    out.append(f"processes {2_894_130 + (DELTA_PROCESSES if t else 0)}")
    out.append(f"procs_running {3 if t == 0 else 2}")
    out.append("procs_blocked 0")
    out.append("softirq 912345678 12 301234567 45678 120345678 2345678 0 1234567 312345678 4567 171234567")
    return "\n".join(out) + "\n"


def proc_uptime(t):
    idle0 = sum(r["idle"] for r in cpu_table(0)) / USER_HZ
    up = UPTIME0 + t
    idle = idle0 + (DELTA_CPU["idle"] / USER_HZ if t else 0)
    return f"{up:.2f} {idle:.2f}\n"


# ---------------------------------------------------------------- /proc/net/dev
NET0 = {  # iface -> rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed rx_multicast
          #          tx_bytes tx_packets tx_errs tx_drop tx_fifo tx_colls tx_carrier tx_compressed
    "lo": [2_412_345_678, 9_876_543, 0, 0, 0, 0, 0, 0, 2_412_345_678, 9_876_543, 0, 0, 0, 0, 0, 0],
    "eno1": [987_654_321_098, 812_345_678, 0, 1_204, 0, 0, 0, 4_123_456, 1_234_567_890_123, 901_234_567, 0, 0, 0, 0, 0, 0],
    "eno2": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "vmbr0": [912_345_678_901, 798_765_432, 0, 0, 0, 0, 0, 3_987_654, 1_198_765_432_109, 887_654_321, 0, 0, 0, 0, 0, 0],
    "tap100i0": [873_456_789_012, 600_123_456, 0, 0, 0, 0, 0, 0, 912_345_678_901, 650_234_567, 0, 312, 0, 0, 0, 0],
    "tap101i0": [131_987_654_321, 98_765_432, 0, 0, 0, 0, 0, 0, 48_123_456_789, 45_678_901, 0, 0, 0, 0, 0, 0],
    "fwbr101i0": [1_234_567, 23_456, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "fwpr101p0": [48_123_456_789, 45_678_901, 0, 0, 0, 0, 0, 0, 131_987_654_321, 98_765_432, 0, 0, 0, 0, 0, 0],
    "fwln101i0": [131_987_654_321, 98_765_432, 0, 0, 0, 0, 0, 0, 48_123_456_789, 45_678_901, 0, 0, 0, 0, 0, 0],
    "veth200i0": [2_987_654_321, 23_456_789, 0, 0, 0, 0, 0, 0, 7_812_345_678, 34_567_890, 0, 0, 0, 0, 0, 0],
}
NET_ORDER = ["lo", "eno1", "eno2", "vmbr0", "tap100i0", "tap101i0", "fwbr101i0", "fwpr101p0", "fwln101i0", "veth200i0"]


def proc_net_dev(t):
    out = ["Inter-|   Receive                                                |  Transmit",
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed"]
    for name in NET_ORDER:
        v = list(NET0[name])
        if t:
            d = DELTA_NET[name]
            v[0] += d[0]; v[1] += d[1]; v[8] += d[2]; v[9] += d[3]
        # net/core/net-procfs.c dev_seq_printf_stats()
        out.append("%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d" % (name, *v))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- /proc/diskstats
# 20 columns (kernel >= 5.5): major minor name + 17 counters
DISK0 = [  # major, minor, name, [reads, rmerged, rsect, rms, writes, wmerged, wsect, wms, inflight, io_ticks, weighted, discards, dmerged, dsect, dms, flushes, fms]
    (7, 0, "loop0", [51, 0, 2_220, 11, 0, 0, 0, 0, 0, 28, 11, 0, 0, 0, 0, 0, 0]),
    (8, 0, "sda", [1_234_567, 23_456, 98_765_432, 412_345, 23_456_789, 3_456_789, 987_654_321, 8_765_432, 0, 12_345_678, 9_987_654, 12_345, 0, 456_789_012, 1_234, 2_345_678, 345_678]),
    (8, 1, "sda1", [312, 0, 12_288, 41, 0, 0, 0, 0, 0, 60, 41, 0, 0, 0, 0, 0, 0]),
    (8, 2, "sda2", [1_234_001, 23_456, 98_740_000, 412_280, 23_456_789, 3_456_789, 987_654_321, 8_765_432, 0, 12_345_600, 9_987_600, 12_345, 0, 456_789_012, 1_234, 0, 0]),
    (8, 16, "sdb", [1_198_765, 22_345, 97_654_321, 409_876, 23_456_790, 3_456_700, 987_654_400, 8_701_234, 0, 12_298_765, 9_912_345, 12_345, 0, 456_789_012, 1_230, 2_345_680, 344_321]),
    (259, 0, "nvme0n1", [45_678_901, 0, 3_654_321_098, 9_876_543, 34_567_890, 0, 5_432_109_876, 23_456_789, 0, 7_654_321, 33_345_678, 98_765, 0, 1_234_567_890, 4_321, 1_234_567, 98_765]),
    (259, 1, "nvme0n1p1", [45_678_800, 0, 3_654_320_000, 9_876_500, 34_567_890, 0, 5_432_109_876, 23_456_789, 0, 7_654_300, 33_345_600, 98_765, 0, 1_234_567_890, 4_321, 0, 0]),
    (230, 0, "zd0", [2_345_678, 0, 187_654_321, 1_234_567, 8_765_432, 0, 701_234_567, 3_456_789, 0, 2_987_654, 4_691_356, 0, 0, 0, 0, 0, 0]),
    (252, 0, "dm-0", [4_321, 0, 345_678, 1_234, 1_234, 0, 98_765, 567, 0, 1_801, 1_801, 0, 0, 0, 0, 0, 0]),
]


def proc_diskstats(t):
    out = []
    for major, minor, name, v in DISK0:
        v = list(v)
        if t and name in DELTA_DISK:
            r, rs, rms, w, ws, wms, tick, wt = DELTA_DISK[name]
            v[0] += r; v[2] += rs; v[3] += rms; v[4] += w; v[6] += ws; v[7] += wms; v[9] += tick; v[10] += wt
        # block/genhd.c diskstats_show()
        out.append("%4d %7d %s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d" % (major, minor, name, *v))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- /proc/meminfo (6.8, 64 GiB host, 8 GiB ARC)
MEMINFO = [
    ("MemTotal", 65792524), ("MemFree", 10485760), ("MemAvailable", 13901824), ("Buffers", 215040),
    ("Cached", 2883584), ("SwapCached", 1024), ("Active", 27262976), ("Inactive", 8388608),
    ("Active(anon)", 25690112), ("Inactive(anon)", 7340032), ("Active(file)", 1572864),
    ("Inactive(file)", 1048576), ("Unevictable", 51200), ("Mlocked", 51200), ("SwapTotal", 8388604),
    ("SwapFree", 8379388), ("Zswap", 0), ("Zswapped", 0), ("Dirty", 1184), ("Writeback", 0),
    ("AnonPages", 32980992), ("Mapped", 1048576), ("Shmem", 98304), ("KReclaimable", 716800),
    ("Slab", 3145728), ("SReclaimable", 716800), ("SUnreclaim", 2428928), ("KernelStack", 28672),
    ("PageTables", 131072), ("SecPageTables", 0), ("NFS_Unstable", 0), ("Bounce", 0),
    ("WritebackTmp", 0), ("CommitLimit", 41284864), ("Committed_AS", 45678592),
    ("VmallocTotal", 34359738367), ("VmallocUsed", 1310720), ("VmallocChunk", 0), ("Percpu", 51200),
    ("HardwareCorrupted", 0), ("AnonHugePages", 20971520), ("ShmemHugePages", 0),
    ("ShmemPmdMapped", 0), ("FileHugePages", 0), ("FilePmdMapped", 0), ("Unaccepted", 0),
    ("HugePages_Total", None), ("HugePages_Free", None), ("HugePages_Rsvd", None),
    ("HugePages_Surp", None), ("Hugepagesize", 2048), ("Hugetlb", 0), ("DirectMap4k", 1048576),
    ("DirectMap2M", 35651584), ("DirectMap1G", 31457280),
]


def proc_meminfo():
    out = []
    for k, v in MEMINFO:
        if v is None:   # HugePages_* counts have no unit: "%-16s%8lu" style via seq_printf("HugePages_Total:   %5lu")
            out.append(f"{k + ':':<16}{0:>8}")
        else:
            out.append(f"{k + ':':<16}{v:>8} kB")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- PSI
PSI = {
    "cpu": "some avg10=0.12 avg60=0.08 avg300=0.02 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "memory": "some avg10=0.00 avg60=0.01 avg300=0.00 total=98765\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=45678\n",
    "io": "some avg10=1.52 avg60=0.87 avg300=0.41 total=4567890123\nfull avg10=1.20 avg60=0.66 avg300=0.30 total=3456789012\n",
}

# ---------------------------------------------------------------- arcstats (OpenZFS 2.2 field set)
GiB = 1024 ** 3
ARC_SIZE = 8 * GiB
ARC = [
    ("hits", 4, 2436977098), ("iohits", 4, 1234567), ("misses", 4, 49339925),
    ("demand_data_hits", 4, 1198765432), ("demand_data_iohits", 4, 234567), ("demand_data_misses", 4, 23456789),
    ("demand_metadata_hits", 4, 1187654321), ("demand_metadata_iohits", 4, 123456), ("demand_metadata_misses", 4, 3456789),
    ("prefetch_data_hits", 4, 12345678), ("prefetch_data_iohits", 4, 765432), ("prefetch_data_misses", 4, 20987654),
    ("prefetch_metadata_hits", 4, 38211667), ("prefetch_metadata_iohits", 4, 111112), ("prefetch_metadata_misses", 4, 1438693),
    ("mru_hits", 4, 876543210), ("mru_ghost_hits", 4, 2345678), ("mfu_hits", 4, 1521222778),
    ("mfu_ghost_hits", 4, 1234567), ("uncached_hits", 4, 0), ("deleted", 4, 98765432),
    ("mutex_miss", 4, 12345), ("access_skip", 4, 7), ("evict_skip", 4, 345678),
    ("evict_not_enough", 4, 23456), ("evict_l2_cached", 4, 0), ("evict_l2_eligible", 4, 3456789012345),
    ("evict_l2_eligible_mfu", 4, 987654321098), ("evict_l2_eligible_mru", 4, 2469134691247),
    ("evict_l2_ineligible", 4, 123456789012), ("evict_l2_skip", 4, 0),
    ("hash_elements", 4, 1234567), ("hash_elements_max", 4, 2345678), ("hash_collisions", 4, 34567890),
    ("hash_chains", 4, 123456), ("hash_chain_max", 4, 6), ("meta", 4, 378558621),
    ("pd", 4, 2147483648), ("pm", 4, 2147483648),
    ("c", 4, ARC_SIZE), ("c_min", 4, 2105360768), ("c_max", 4, 33685772288),
    ("size", 4, ARC_SIZE), ("compressed_size", 4, 6987654321), ("uncompressed_size", 4, 11234567890),
    ("overhead_size", 4, 812345678), ("hdr_size", 4, 98765432), ("data_size", 4, 6543210987),
    ("metadata_size", 4, 1256789012), ("dbuf_size", 4, 234567890), ("dnode_size", 4, 312345678),
    ("bonus_size", 4, 98765432), ("anon_size", 4, 1234567), ("anon_data", 4, 1200000),
    ("anon_metadata", 4, 34567), ("anon_evictable_data", 4, 0), ("anon_evictable_metadata", 4, 0),
    ("mru_size", 4, 3456789012), ("mru_data", 4, 2987654321), ("mru_metadata", 4, 469134691),
    ("mru_evictable_data", 4, 2876543210), ("mru_evictable_metadata", 4, 123456789),
    ("mru_ghost_size", 4, 4567890123), ("mru_ghost_data", 4, 4012345678), ("mru_ghost_metadata", 4, 555544445),
    ("mru_ghost_evictable_data", 4, 4012345678), ("mru_ghost_evictable_metadata", 4, 555544445),
    ("mfu_size", 4, 4340730444), ("mfu_data", 4, 3553355444), ("mfu_metadata", 4, 787375000),
    ("mfu_evictable_data", 4, 3456789012), ("mfu_evictable_metadata", 4, 234567890),
    ("mfu_ghost_size", 4, 2345678901), ("mfu_ghost_data", 4, 2111111111), ("mfu_ghost_metadata", 4, 234567790),
    ("mfu_ghost_evictable_data", 4, 2111111111), ("mfu_ghost_evictable_metadata", 4, 234567790),
    ("uncached_size", 4, 0), ("uncached_data", 4, 0), ("uncached_metadata", 4, 0),
    ("uncached_evictable_data", 4, 0), ("uncached_evictable_metadata", 4, 0),
    ("l2_hits", 4, 0), ("l2_misses", 4, 0), ("l2_prefetch_asize", 4, 0), ("l2_mru_asize", 4, 0),
    ("l2_mfu_asize", 4, 0), ("l2_bufc_data_asize", 4, 0), ("l2_bufc_metadata_asize", 4, 0),
    ("l2_feeds", 4, 0), ("l2_rw_clash", 4, 0), ("l2_read_bytes", 4, 0), ("l2_write_bytes", 4, 0),
    ("l2_writes_sent", 4, 0), ("l2_writes_done", 4, 0), ("l2_writes_error", 4, 0),
    ("l2_writes_lock_retry", 4, 0), ("l2_evict_lock_retry", 4, 0), ("l2_evict_reading", 4, 0),
    ("l2_evict_l1cached", 4, 0), ("l2_free_on_write", 4, 0), ("l2_abort_lowmem", 4, 0),
    ("l2_cksum_bad", 4, 0), ("l2_io_error", 4, 0), ("l2_size", 4, 0), ("l2_asize", 4, 0),
    ("l2_hdr_size", 4, 0), ("l2_log_blk_writes", 4, 0), ("l2_log_blk_avg_asize", 4, 0),
    ("l2_log_blk_asize", 4, 0), ("l2_log_blk_count", 4, 0), ("l2_data_to_meta_ratio", 4, 0),
    ("l2_rebuild_success", 4, 0), ("l2_rebuild_unsupported", 4, 0), ("l2_rebuild_io_errors", 4, 0),
    ("l2_rebuild_dh_errors", 4, 0), ("l2_rebuild_cksum_lb_errors", 4, 0), ("l2_rebuild_lowmem", 4, 0),
    ("l2_rebuild_size", 4, 0), ("l2_rebuild_asize", 4, 0), ("l2_rebuild_bufs", 4, 0),
    ("l2_rebuild_bufs_precached", 4, 0), ("l2_rebuild_log_blks", 4, 0),
    ("memory_throttle_count", 4, 0), ("memory_direct_count", 4, 12), ("memory_indirect_count", 4, 3456),
    ("memory_all_bytes", 4, 65792524 * 1024), ("memory_free_bytes", 4, 10485760 * 1024),
    ("memory_available_bytes", 3, 8123456789), ("arc_no_grow", 4, 0), ("arc_tempreserve", 4, 0),
    ("arc_loaned_bytes", 4, 0), ("arc_prune", 4, 0), ("arc_meta_used", 4, 2001213444),
    ("arc_dnode_limit", 4, 858993459), ("async_upgrade_sync", 4, 23456), ("predictive_prefetch", 4, 34567890),
    ("demand_hit_predictive_prefetch", 4, 4567890), ("demand_iohit_predictive_prefetch", 4, 56789),
    ("prescient_prefetch", 4, 1234), ("demand_hit_prescient_prefetch", 4, 1200),
    ("demand_iohit_prescient_prefetch", 4, 0), ("arc_need_free", 4, 0), ("arc_sys_free", 4, 2105360768),
    ("arc_raw_size", 4, 0), ("cached_only_in_progress", 4, 0), ("abd_chunk_waste_size", 4, 1234560),
]


def arcstats():
    # module/os/linux/spl/spl-kstat.c: header "%d %d 0x%02x %d %d %lld %lld", then
    # "%-31s %-4s %s" column header, then "%-31s %-4d " + value per named entry
    out = [f"13 1 0x01 {len(ARC)} {len(ARC) * 40} 7166741419 1215432571234567",
           f"{'name':<31} {'type':<4} data"]
    for name, typ, val in ARC:
        out.append(f"{name:<31} {typ:<4} {val}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- cpuinfo (Xeon E-2388G, 1 socket, 8 cores, 16 threads)
FLAGS = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse "
         "sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl "
         "xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx smx est "
         "tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave "
         "avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb ssbd ibrs ibpb stibp ibrs_enhanced "
         "tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid mpx "
         "avx512f avx512dq rdseed adx smap avx512ifma clflushopt intel_pt avx512cd sha_ni avx512bw avx512vl "
         "xsaveopt xsavec xgetbv1 xsaves dtherm ida arat pln pts hwp hwp_notify hwp_act_window hwp_epp "
         "hwp_pkg_req vnmi avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni "
         "avx512_bitalg avx512_vpopcntdq rdpid fsrm md_clear flush_l1d arch_capabilities")
VMX = ("vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority apicv tsc_offset "
       "vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid ple pml ept_mode_based_exec tsc_scaling")


def cpuinfo():
    blocks = []
    for p in range(16):
        core, thread = p % 8, p // 8
        mhz = "%.3f" % (3200.000 + (p * 37 % 900))
        blocks.append("\n".join([
            f"processor\t: {p}", "vendor_id\t: GenuineIntel", "cpu family\t: 6", "model\t\t: 167",
            "model name\t: Intel(R) Xeon(R) E-2388G CPU @ 3.20GHz", "stepping\t: 1", "microcode\t: 0x5d",
            f"cpu MHz\t\t: {mhz}", "cache size\t: 16384 KB", "physical id\t: 0", "siblings\t: 16",
            f"core id\t\t: {core}", "cpu cores\t: 8", f"apicid\t\t: {core * 2 + thread}",
            f"initial apicid\t: {core * 2 + thread}", "fpu\t\t: yes", "fpu_exception\t: yes",
            "cpuid level\t: 27", "wp\t\t: yes", f"flags\t\t: {FLAGS}", f"vmx flags\t: {VMX}",
            "bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs eibrs_pbrsb gds bhi",
            "bogomips\t: 6384.00", "clflush size\t: 64", "cache_alignment\t: 64",
            "address sizes\t: 39 bits physical, 48 bits virtual", "power management:", ""]))
    return "\n".join(blocks) + "\n"


# ---------------------------------------------------------------- hwmon
def hwmon(root):
    w = lambda rel, v: write(root, "sys/class/hwmon/" + rel, f"{v}\n")
    w("hwmon0/name", "coretemp")
    w("hwmon0/temp1_label", "Package id 0")
    w("hwmon0/temp1_input", 52000); w("hwmon0/temp1_max", 80000); w("hwmon0/temp1_crit", 100000)
    w("hwmon0/temp1_crit_alarm", 0)
    for c, t in enumerate([49000, 51000, 47000, 50000, 48000, 52000, 46000, 49000]):
        k = c + 2
        w(f"hwmon0/temp{k}_label", f"Core {c}")
        w(f"hwmon0/temp{k}_input", t); w(f"hwmon0/temp{k}_max", 80000); w(f"hwmon0/temp{k}_crit", 100000)
        w(f"hwmon0/temp{k}_crit_alarm", 0)
    w("hwmon1/name", "nvme")
    w("hwmon1/temp1_label", "Composite")
    w("hwmon1/temp1_input", 38850); w("hwmon1/temp1_max", 81850); w("hwmon1/temp1_min", -273150)
    w("hwmon1/temp1_crit", 84850); w("hwmon1/temp1_alarm", 0)
    # the classic bogus NVMe "Sensor 1" limit (65261.850 C, see fixtures/sensors README)
    w("hwmon1/temp2_label", "Sensor 1")
    w("hwmon1/temp2_input", 38850); w("hwmon1/temp2_max", 65261850); w("hwmon1/temp2_min", -273150)


# ---------------------------------------------------------------- processes
KVM_ARGV = ["/usr/bin/kvm", "-id", "101", "-name", "web,debug-threads=on", "-no-shutdown",
            "-chardev", "socket,id=qmp,path=/var/run/qemu-server/101.qmp,server=on,wait=off",
            "-mon", "chardev=qmp,mode=control",
            "-chardev", "socket,id=qmp-event,path=/var/run/qmeventd.sock,reconnect=5",
            "-mon", "chardev=qmp-event,mode=control",
            "-pidfile", "/var/run/qemu-server/101.pid", "-daemonize",
            "-smbios", "type=1,uuid=b2d4f6a8-2c9e-4d7b-8f32-6a8e4c0b2d02",
            "-smp", "4,sockets=1,cores=4,maxcpus=4", "-nodefaults",
            "-boot", "menu=on,strict=on,reboot-timeout=1000,splash=/usr/share/qemu-server/bootsplash.jpg",
            "-vnc", "unix:/var/run/qemu-server/101.vnc,password=on",
            "-cpu", "qemu64,+aes,enforce,+kvm_pv_eoi,+kvm_pv_unhalt,+pni,+popcnt,+sse4.1,+sse4.2,+ssse3",
            "-m", "8192", "-object", "iothread,id=iothread-virtioscsi0",
            "-device", "pci-bridge,id=pci.1,chassis_nr=1,bus=pci.0,addr=0x1e",
            "-device", "virtio-balloon-pci,id=balloon0,bus=pci.0,addr=0x3,free-page-reporting=on",
            "-device", "virtio-scsi-pci,id=virtioscsi0,bus=pci.3,addr=0x1,iothread=iothread-virtioscsi0",
            "-drive", "file=/dev/zvol/rpool/data/vm-101-disk-0,if=none,id=drive-scsi0,discard=on,format=raw,cache=none,aio=io_uring,detect-zeroes=unmap",
            "-device", "scsi-hd,bus=virtioscsi0.0,channel=0,scsi-id=0,lun=0,drive=drive-scsi0,id=scsi0,rotation_rate=1,bootindex=100",
            "-netdev", "type=tap,id=net0,ifname=tap101i0,script=/var/lib/qemu-server/pve-bridge,downscript=/var/lib/qemu-server/pve-bridgedown,vhost=on",
            "-device", "virtio-net-pci,mac=BC:24:11:3C:41:9D,netdev=net0,bus=pci.0,addr=0x12,id=net0,rx_queue_size=1024,tx_queue_size=256,bootindex=101",
            "-machine", "type=pc-i440fx-9.0+pve0"]

# pid: dict(comm, state, ppid, pgrp, session, flags, minflt, majflt, utime, stime, prio, nice,
#            threads, starttime (ticks after boot), vsize, rss_pages, processor, guest, argv (bytes), cgroup,
#            uid, gid, nstgid, vm (dict kB), caps)
def procs():
    boot_ticks = int(UPTIME0 * USER_HZ)
    return {
        1: dict(comm="systemd", state="S", ppid=0, pgrp=1, session=1, flags=4194560, minflt=1234567,
                majflt=234, utime=12345, stime=23456, prio=20, nice=0, threads=1, starttime=2,
                vsize=172457984, rss=3254, processor=3, guest=0, argv=b"/sbin/init\0",
                cgroup="0::/init.scope\n", uid=0, gid=0, nstgid="1",
                vm=dict(VmPeak=234568, VmSize=168416, VmHWM=14336, VmRSS=13016, RssAnon=4512, RssFile=8504,
                        RssShmem=0, VmData=20480, VmStk=132, VmExe=56, VmLib=11240, VmPTE=108), caps="000001ffffffffff",
                ctxt=(987654, 4321), name="systemd"),
        1620: dict(comm="pveproxy worker", state="S", ppid=1619, pgrp=1619, session=1619, flags=4194624,
                   minflt=345678, majflt=12, utime=23456, stime=3456, prio=20, nice=0, threads=1,
                   starttime=boot_ticks - 86400 * 100, vsize=371236864, rss=38144, processor=7, guest=0,
                   argv=b"pveproxy worker\0", cgroup="0::/system.slice/pveproxy.service\n", uid=33, gid=33,
                   nstgid="1620",
                   vm=dict(VmPeak=362536, VmSize=362536, VmHWM=152576, VmRSS=152576, RssAnon=139264, RssFile=13312,
                           RssShmem=0, VmData=139776, VmStk=132, VmExe=4, VmLib=20480, VmPTE=388),
                   caps="0000000000000000", ctxt=(23456, 789), name="pveproxy worker"),
        2598: dict(comm="lxc-start", state="S", ppid=1, pgrp=2598, session=2598, flags=4194624, minflt=1234,
                   majflt=3, utime=12, stime=34, prio=20, nice=0, threads=1, starttime=9100, vsize=24133632,
                   rss=1024, processor=1, guest=0, argv=b"/usr/bin/lxc-start\0-F\0-n\0200\0",
                   cgroup="0::/lxc.monitor/200\n", uid=0, gid=0, nstgid="2598",
                   vm=dict(VmPeak=23568, VmSize=23568, VmHWM=4096, VmRSS=4096, RssAnon=512, RssFile=3584,
                           RssShmem=0, VmData=884, VmStk=132, VmExe=12, VmLib=5560, VmPTE=76),
                   caps="000001ffffffffff", ctxt=(3456, 12), name="lxc-start"),
        2731: dict(comm="nginx", state="S", ppid=2612, pgrp=2731, session=2731, flags=1077936448, minflt=2345,
                   majflt=9, utime=15, stime=21, prio=20, nice=0, threads=1, starttime=9350, vsize=11202560,
                   rss=412, processor=5, guest=0,
                   argv=b"nginx: master process /usr/sbin/nginx -g daemon on; master_process on;" + b"\0" * 12,
                   cgroup="0::/lxc/200/ns/system.slice/nginx.service\n", uid=100000, gid=100000,
                   nstgid="2731\t215",
                   vm=dict(VmPeak=10940, VmSize=10940, VmHWM=1648, VmRSS=1648, RssAnon=596, RssFile=1052,
                           RssShmem=0, VmData=924, VmStk=132, VmExe=812, VmLib=3548, VmPTE=60),
                   caps="00000000a80c25fb", ctxt=(123, 4), name="nginx"),
        2733: dict(comm="nginx", state="S", ppid=2731, pgrp=2731, session=2731, flags=1077936448, minflt=3456,
                   majflt=0, utime=2345, stime=3456, prio=20, nice=0, threads=1, starttime=9352, vsize=12632064,
                   rss=1310, processor=9, guest=0, argv=b"nginx: worker process" + b"\0" * 51,
                   cgroup="0::/lxc/200/ns/system.slice/nginx.service\n", uid=100033, gid=100033,
                   nstgid="2733\t216",
                   vm=dict(VmPeak=12336, VmSize=12336, VmHWM=5240, VmRSS=5240, RssAnon=1852, RssFile=3388,
                           RssShmem=0, VmData=2320, VmStk=132, VmExe=812, VmLib=3548, VmPTE=64),
                   caps="0000000000000000", ctxt=(456789, 1234), name="nginx"),
        1843223: dict(comm="kvm", state="S", ppid=1, pgrp=1843222, session=1843222, flags=1077936448,
                      minflt=4567890, majflt=123, utime=8765432, stime=1234567, prio=20, nice=0, threads=12,
                      starttime=boot_ticks - 612345 * 100, vsize=9962123264, rss=1434624, processor=11,
                      guest=6543210, argv=("\0".join(KVM_ARGV) + "\0").encode(),
                      cgroup="0::/qemu.slice/101.scope\n", uid=0, gid=0, nstgid="1843223",
                      vm=dict(VmPeak=9745216, VmSize=9728636, VmHWM=5738496, VmRSS=5738496, RssAnon=5701632,
                              RssFile=36864, RssShmem=0, VmData=8912896, VmStk=132, VmExe=6012, VmLib=28672,
                              VmPTE=11520),
                      caps="000001ffffffffff", ctxt=(34567890, 123456), name="kvm"),
    }


def proc_pid_stat(pid, p, t):
    du, ds, dg = DELTA_PROC[pid] if t else (0, 0, 0)
    pri = p["prio"]
    fields = [pid, f"({p['comm']})", p["state"], p["ppid"], p["pgrp"], p["session"], 0, -1, p["flags"],
              p["minflt"], 0, p["majflt"], 0, p["utime"] + du, p["stime"] + ds, 0, 0, pri, p["nice"],
              p["threads"], 0, p["starttime"], p["vsize"], p["rss"], 18446744073709551615,
              93824992231424, 93824992789456, 140737488344160, 0, 0, 0, 0, 4096, 16387 if pid != 1 else 1,
              1, 0, 0, 17, p["processor"], 0, 0, 0, p["guest"] + dg, 0, 93824992800000, 93824992812345,
              93824994000000, 140737488346000, 140737488346100, 140737488346100, 140737488347000, 0]
    assert len(fields) == 52
    return " ".join(map(str, fields)) + "\n"


def proc_pid_status(pid, p):
    vm = p["vm"]
    kb = lambda k: f"{k}:\t{vm[k]:>8} kB"
    lines = [f"Name:\t{p['name']}", "Umask:\t0022", f"State:\t{p['state']} (sleeping)", f"Tgid:\t{pid}",
             "Ngid:\t0", f"Pid:\t{pid}", f"PPid:\t{p['ppid']}", "TracerPid:\t0",
             "Uid:\t{0}\t{0}\t{0}\t{0}".format(p["uid"]), "Gid:\t{0}\t{0}\t{0}\t{0}".format(p["gid"]),
             "FDSize:\t128", "Groups:\t" + ("" if p["uid"] == 0 else f"{p['gid']}"),
             f"NStgid:\t{p['nstgid']}", f"NSpid:\t{p['nstgid']}",
             f"NSpgid:\t{p['pgrp']}" + ("\t" + p["nstgid"].split("\t")[1] if "\t" in p["nstgid"] else ""),
             f"NSsid:\t{p['session']}" + ("\t" + p["nstgid"].split("\t")[1] if "\t" in p["nstgid"] else ""),
             kb("VmPeak"), kb("VmSize"), "VmLck:\t       0 kB", "VmPin:\t       0 kB", kb("VmHWM"), kb("VmRSS"),
             kb("RssAnon"), kb("RssFile"), kb("RssShmem"), kb("VmData"), kb("VmStk"), kb("VmExe"), kb("VmLib"),
             kb("VmPTE"), "VmSwap:\t       0 kB", "HugetlbPages:\t       0 kB", "CoreDumping:\t0",
             "THP_enabled:\t1", "untag_mask:\t0xffffffffffffffff", f"Threads:\t{p['threads']}",
             "SigQ:\t0/256453", "SigPnd:\t0000000000000000", "ShdPnd:\t0000000000000000",
             "SigBlk:\t0000000000000000", "SigIgn:\t0000000000001000", "SigCgt:\t0000000100004a03",
             "CapInh:\t0000000000000000", f"CapPrm:\t{p['caps']}", f"CapEff:\t{p['caps']}",
             "CapBnd:\t000001ffffffffff", "CapAmb:\t0000000000000000", "NoNewPrivs:\t0", "Seccomp:\t0",
             "Seccomp_filters:\t0", "Speculation_Store_Bypass:\tthread vulnerable",
             "SpeculationIndirectBranch:\tconditional enabled", "Cpus_allowed:\tffff",
             "Cpus_allowed_list:\t0-15",
             "Mems_allowed:\t" + ",".join(["00000000"] * 31 + ["00000001"]), "Mems_allowed_list:\t0",
             f"voluntary_ctxt_switches:\t{p['ctxt'][0]}", f"nonvoluntary_ctxt_switches:\t{p['ctxt'][1]}"]
    return "\n".join(lines) + "\n"


PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
messagebus:x:100:107::/nonexistent:/usr/sbin/nologin
_chrony:x:101:109:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin
postfix:x:102:110::/var/spool/postfix:/usr/sbin/nologin
tss:x:103:111:TPM software stack,,,:/var/lib/tpm:/bin/false
"""


def build(root, t):
    if os.path.isdir(os.path.join(root, "proc")):
        shutil.rmtree(os.path.join(root, "proc"))
    for d in ("sys", "etc"):
        if os.path.isdir(os.path.join(root, d)):
            shutil.rmtree(os.path.join(root, d))
    write(root, "proc/stat", proc_stat(t))
    write(root, "proc/uptime", proc_uptime(t))
    write(root, "proc/loadavg", "1.42 1.21 1.08 3/1254 2894113\n")
    write(root, "proc/meminfo", proc_meminfo())
    write(root, "proc/net/dev", proc_net_dev(t))
    write(root, "proc/diskstats", proc_diskstats(t))
    for k, v in PSI.items():
        write(root, f"proc/pressure/{k}", v)
    write(root, "proc/spl/kstat/zfs/arcstats", arcstats())
    write(root, "proc/cpuinfo", cpuinfo())
    write(root, "proc/sys/kernel/hostname", "pve-zfs\n")
    write(root, "proc/sys/kernel/osrelease", "6.8.8-2-pve\n")
    for pid, p in procs().items():
        write(root, f"proc/{pid}/stat", proc_pid_stat(pid, p, t))
        write(root, f"proc/{pid}/status", proc_pid_status(pid, p))
        write(root, f"proc/{pid}/cmdline", p["argv"])
        write(root, f"proc/{pid}/cgroup", p["cgroup"])
    write(root, "etc/passwd", PASSWD)
    write(root, "etc/hostname", "pve-zfs\n")
    hwmon(root)


if __name__ == "__main__":
    build(T0, 0)
    os.makedirs(T1, exist_ok=True)
    build(T1, 1)
    # self-check of the documented aggregate deltas
    a0 = [int(x) for x in open(os.path.join(T0, "proc/stat")).readline().split()[1:]]
    a1 = [int(x) for x in open(os.path.join(T1, "proc/stat")).readline().split()[1:]]
    d = dict(zip(CPU_FIELDS, (y - x for x, y in zip(a0, a1))))
    assert d == DELTA_CPU, d
    assert sum(d[k] for k in CPU_FIELDS[:8]) == NCPU * USER_HZ
    print("ok", d)
