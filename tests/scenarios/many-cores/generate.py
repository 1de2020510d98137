#!/usr/bin/env python3
"""Writes the many-cores scenario: 2 sockets x 32 cores x 2 threads = 128 logical CPUs.

Run: python3 tests/scenarios/many-cores/generate.py

Topology follows how Linux enumerates a dual-socket AMD EPYC 7543 (Zen 3, 8 CCDs x 4 cores):
  cpu   0- 31  socket 0, thread 0      cpu  64- 95  socket 0, thread 1 (SMT siblings of 0-31)
  cpu  32- 63  socket 1, thread 0      cpu  96-127  socket 1, thread 1 (SMT siblings of 32-63)
`core id` is NOT contiguous (0-3, 8-11, 16-19, ... 56-59): count distinct
(physical id, core id) pairs, never max(core id)+1. Expected: 2 sockets, 64 cores, 128 threads.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SOCKETS, CORES, THREADS = 2, 32, 2
NCPU = SOCKETS * CORES * THREADS
MODEL = "AMD EPYC 7543 32-Core Processor"
FLAGS = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
         "syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid "
         "aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave "
         "avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs "
         "skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd "
         "mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap "
         "clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local "
         "user_shstk clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin brs arat npt lbrv svm_lock nrip_save "
         "tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold v_vmsave_vmload vgif v_spec_ctrl "
         "umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca debug_swap")


def topology(cpu):
    thread, rest = divmod(cpu, SOCKETS * CORES)
    socket, core_idx = divmod(rest, CORES)
    ccd, in_ccd = divmod(core_idx, 4)
    core_id = ccd * 8 + in_ccd            # 0-3, 8-11, ..., 56-59
    apicid = socket * 128 + core_id * 2 + thread
    return socket, core_id, thread, apicid


def cpuinfo():
    blocks = []
    for p in range(NCPU):
        socket, core_id, _thread, apicid = topology(p)
        blocks.append("\n".join([
            f"processor\t: {p}", "vendor_id\t: AuthenticAMD", "cpu family\t: 25", "model\t\t: 1",
            f"model name\t: {MODEL}", "stepping\t: 1", "microcode\t: 0xa0011d1",
            f"cpu MHz\t\t: {1500.000 + (p * 53) % 1300:.3f}", "cache size\t: 512 KB",
            f"physical id\t: {socket}", f"siblings\t: {CORES * THREADS}", f"core id\t\t: {core_id}",
            f"cpu cores\t: {CORES}", f"apicid\t\t: {apicid}", f"initial apicid\t: {apicid}",
            "fpu\t\t: yes", "fpu_exception\t: yes", "cpuid level\t: 16", "wp\t\t: yes", f"flags\t\t: {FLAGS}",
            "bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass srso",
            "bogomips\t: 5589.73", "TLB size\t: 2560 4K pages", "clflush size\t: 64", "cache_alignment\t: 64",
            "address sizes\t: 48 bits physical, 48 bits virtual",
            "power management: ts ttp tm hwpstate cpb eff_freq_ro [13] [14]", ""]))
    return "\n".join(blocks) + "\n"


def stat():
    rows = []
    for i in range(NCPU):
        rows.append([3_123_456 + i * 997, 812 + i, 912_345 + i * 101, 98_765_432 - i * 1_111,
                     23_456 + i * 7, 0, 4_321 + i, 0, 1_000_000 + i * 300, 0])
    agg = [sum(r[k] for r in rows) for k in range(10)]
    out = ["cpu  " + " ".join(map(str, agg))]
    out += [f"cpu{i} " + " ".join(map(str, r)) for i, r in enumerate(rows)]
    out += ["intr 98765432109 " + " ".join(["0"] * 64), "ctxt 987654321098", "btime 1719000000",
            "processes 12345678", "procs_running 9", "procs_blocked 1",
            "softirq 45678901234 123 12345678901 2345 3456789012 1234567 0 12345 23456789012 4567 6543210987"]
    return "\n".join(out) + "\n"


def write(rel, text):
    p = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


if __name__ == "__main__":
    write("proc/cpuinfo", cpuinfo())
    write("proc/stat", stat())
    write("proc/sys/kernel/hostname", "bigpve\n")
    write("proc/sys/kernel/osrelease", "6.8.12-1-pve\n")
    pairs = {topology(p)[:2] for p in range(NCPU)}
    assert len(pairs) == SOCKETS * CORES, len(pairs)
    print(f"ok: {NCPU} cpus, {len(pairs)} cores, {SOCKETS} sockets")
