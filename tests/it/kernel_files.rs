//! Parsers and the sampler over recorded kernel files: this machine's own `/proc`, a Proxmox host
//! with ZFS and PSI (two snapshots one second apart with known deltas), an old kernel without PSI,
//! a 128-thread host, and deliberately broken files.

use proxwatch::host::ToolError;
use proxwatch::tools::procfs;
use proxwatch::workers::processes::ProcessScanner;
use proxwatch::workers::sampler::{Sampler, identity};

use crate::common::{self, T0_MS, replay};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn sampler_turns_counters_into_exact_rates() {
    let s = common::sample_pair();
    assert_eq!(s.ts, T0_MS + 1000);
    assert_eq!(s.interval_s, 1.0);
    // cpu: +400 user, +100 system, +1050 idle, +50 iowait of +1600 ticks.
    let c = s.cpu.total;
    assert!(close(c.user, 25.0) && close(c.system, 6.25) && close(c.iowait, 3.125), "{c:?}");
    assert!(close(c.idle, 65.625) && close(c.busy, 31.25), "{c:?}");
    assert_eq!(s.cpu.cores.len(), 16);
    // eno1 carries the host's traffic; the bridge above it is not counted twice.
    let eno1 = s.net.iter().find(|n| n.name == "eno1").unwrap();
    assert_eq!((eno1.rx_bps, eno1.tx_bps), (131072.0, 262144.0));
    let vmbr0 = s.net.iter().find(|n| n.name == "vmbr0").unwrap();
    assert_eq!((vmbr0.rx_bps, vmbr0.tx_bps), (125000.0, 250000.0));
    assert_eq!((s.net_total.rx_bps, s.net_total.tx_bps), (131072.0, 262144.0));
    assert!(s.net.iter().all(|n| n.name != "lo"));
    // Whole disks only; sectors are 512 bytes.
    let names: Vec<&str> = s.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["nvme0n1", "sda", "sdb"]);
    let sda = s.disks.iter().find(|d| d.name == "sda").unwrap();
    assert_eq!((sda.write_bps, sda.write_iops, sda.read_bps), (10240.0, 4.0, 0.0));
    let nvme = s.disks.iter().find(|d| d.name == "nvme0n1").unwrap();
    assert_eq!(
        (nvme.read_bps, nvme.read_iops, nvme.write_bps, nvme.write_iops),
        (40960.0, 10.0, 204800.0, 25.0)
    );
    // ARC is cache, not used: used = total - available - arc.
    let m = &s.memory;
    assert_eq!(m.arc, Some(8 << 30));
    assert_eq!(m.used, (65792524 - 13901824 - 8388608) * 1024);
    assert!(m.cached >= 8 << 30);
    let psi = s.psi.expect("PSI present");
    assert!(psi.cpu.some_avg10 > 0.0);
    assert_eq!(s.cpu_temp_c, Some(52.0));
}

#[test]
fn sampler_without_psi_arc_or_hwmon_leaves_them_out() {
    let mut sampler = Sampler::new();
    let host = replay("no-psi");
    sampler.step(&host, T0_MS).unwrap();
    let s = sampler.step(&host, T0_MS + 1000).unwrap().unwrap();
    assert!(s.psi.is_none() && s.memory.arc.is_none() && s.cpu_temp_c.is_none());
    let json = serde_json::to_value(&s).unwrap();
    assert!(json.get("psi").is_none() && json.get("cpu_temp_c").is_none(), "absent, not null");
    // Identical counters: zero rates, not NaN.
    assert_eq!(s.cpu.total.idle, 100.0);
    assert!(s.disk_total.read_bps == 0.0 && s.net_total.rx_bps == 0.0);
}

#[test]
fn sampler_reports_a_clock_that_did_not_advance() {
    let mut sampler = Sampler::new();
    let host = replay("pve-zfs");
    sampler.step(&host, T0_MS).unwrap();
    assert!(sampler.step(&host, T0_MS).is_err());
}

#[test]
fn this_machines_own_proc_files_parse() {
    let host = replay("this-host");
    let stat = procfs::parse_stat(&host.read("/proc/stat").unwrap()).unwrap();
    assert!(!stat.cores.is_empty() && stat.btime.is_some());
    let mem = procfs::parse_meminfo(&host.read("/proc/meminfo").unwrap()).unwrap();
    assert!(mem.total > 0 && mem.available <= mem.total);
    procfs::parse_loadavg(&host.read("/proc/loadavg").unwrap()).unwrap();
    assert!(procfs::parse_uptime(&host.read("/proc/uptime").unwrap()).unwrap() > 0.0);
    assert!(!procfs::parse_net_dev(&host.read("/proc/net/dev").unwrap()).unwrap().is_empty());
    assert!(!procfs::parse_diskstats(&host.read("/proc/diskstats").unwrap()).unwrap().is_empty());
    let cpu = procfs::parse_cpuinfo(&host.read("/proc/cpuinfo").unwrap());
    assert_eq!(cpu.threads as usize, stat.cores.len());
    for res in ["cpu", "memory", "io"] {
        if let Some(text) = host.read_optional(&format!("/proc/pressure/{res}")).unwrap() {
            procfs::parse_pressure(res, &text).unwrap();
        }
    }
    let mut scanner = ProcessScanner::new();
    let snap = scanner.step(&host, T0_MS).unwrap();
    assert!(snap.processes.len() >= 3, "{:?}", snap.processes);
    assert!(snap.processes.iter().all(|p| !p.user.is_empty() && !p.command.is_empty()));
}

#[test]
fn many_cores_topology() {
    let host = replay("many-cores");
    let cpu = procfs::parse_cpuinfo(&host.read("/proc/cpuinfo").unwrap());
    assert_eq!((cpu.sockets, cpu.cores, cpu.threads), (2, 64, 128));
    assert!(cpu.model.contains("EPYC"));
    let stat = procfs::parse_stat(&host.read("/proc/stat").unwrap()).unwrap();
    assert_eq!(stat.cores.len(), 128);
}

#[tokio::test]
async fn identity_of_a_proxmox_host_and_of_a_plain_one() {
    let id = identity(&replay("pve-zfs")).await.unwrap();
    assert_eq!(id.hostname, "pve-zfs");
    assert_eq!(id.kernel, "6.8.8-2-pve");
    assert!(id.pve_version.unwrap().starts_with("pve-manager/8."));
    let id = identity(&replay("this-host")).await.unwrap();
    assert_eq!(id.pve_version, None, "pveversion missing is a state, not an error");
}

#[test]
fn broken_files_fail_naming_the_line() {
    let host = replay("broken");
    let err = procfs::parse_stat(&host.read("/proc/stat").unwrap()).unwrap_err();
    assert!(matches!(err, ToolError::Parse { line: 3, .. }), "{err}");
    let err = procfs::parse_meminfo(&host.read("/proc/meminfo").unwrap()).unwrap_err();
    assert!(err.to_string().contains("MemTotal"), "{err}");
    let mut sampler = Sampler::new();
    let err = sampler.step(&host, T0_MS).unwrap_err();
    assert!(format!("{err:#}").contains("line 3"), "{err:#}");
}

#[test]
fn unrecorded_commands_fail_loudly() {
    let host = replay("no-psi");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt.block_on(host.run(&["zpool", "status", "-x"])).unwrap_err();
    assert!(matches!(err, ToolError::Unrecorded { .. }));
    assert!(err.to_string().contains("\"zpool\", \"status\", \"-x\""), "{err}");
}
