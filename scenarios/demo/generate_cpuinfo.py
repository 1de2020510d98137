#!/usr/bin/env python3
"""Writes proc/cpuinfo for the demo host: one Xeon Silver 4314 (Ice Lake-SP, family 6 model 106
stepping 6), 16 cores / 32 threads, in the layout of a 6.8 kernel's /proc/cpuinfo. Linux numbers
the first thread of every core first (processor 0-15), then the siblings (16-31); apicid is
2 * core + thread. The flags are the ones the recorded `pvesh get /nodes/pve-demo/status` lists
(PVE copies them from this file). Deterministic; run from this folder."""
import json

status = json.load(open("commands/pvesh/nodes_status.json"))
flags = status["cpuinfo"]["flags"]
out = []
for p in range(32):
    core, thread = p % 16, p // 16
    out.append(f"""processor\t: {p}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz
stepping\t: 6
microcode\t: 0xd0003d1
cpu MHz\t\t: {2400 + (p * 37) % 900}.{(p * 131) % 1000:03d}
cache size\t: 24576 KB
physical id\t: 0
siblings\t: 32
core id\t\t: {core}
cpu cores\t: 16
apicid\t\t: {2 * core + thread}
initial apicid\t: {2 * core + thread}
fpu\t\t: yes
fpu_exception\t: yes
cpuid level\t: 27
wp\t\t: yes
flags\t\t: {flags}
vmx flags\t: vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority apicv tsc_offset vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid shadow_vmcs pml ept_mode_based_exec tsc_scaling
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs mmio_stale_data eibrs_pbrsb gds bhi
bogomips\t: 4800.00
clflush size\t: 64
cache_alignment\t: 64
address sizes\t: 46 bits physical, 57 bits virtual
power management:
""")
open("proc/cpuinfo", "w").write("\n".join(out) + "\n")
