//! The demo shows one consistent host (issue 11): identity, vitals, processes and kernel all come from
//! the embedded recorded scenario and its generated live files, never from the machine running the
//! demo; and `demo --help` says where the demo writes.
// The help test runs the real binary; the one-door rule is for the program, not for its tests.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use proxwatch::host::{Host, Scenario};
use proxwatch::model::Clock;
use proxwatch::workers::processes::ProcessScanner;
use proxwatch::workers::sampler::{self, Sampler};

const GIB: f64 = (1u64 << 30) as f64;

/// The embedded demo as `proxwatch demo` builds it (extracted, shifted to "now"), read at a manual
/// clock the test steps, standing at a fixed time (not the wall clock). Returns the host, the clock
/// and the folder (kept alive by the caller).
fn demo_host() -> (Host, Clock, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    proxwatch::host::replay::extract_demo(dir.path()).unwrap();
    let mut scenario = Scenario::load(dir.path()).unwrap();
    let clock = Clock::manual(crate::common::T0_MS);
    scenario.shift_to(clock.now_ms() / 1000);
    let c = clock.clone();
    let host = Host::demo_with_clock(scenario, Duration::from_secs(5), Arc::new(move || c.now_ms()));
    (host, clock, dir)
}

#[tokio::test]
async fn the_demo_identity_is_the_recorded_xeon() {
    let (host, clock, _dir) = demo_host();
    let id = sampler::identity(&host).await.unwrap();
    assert_eq!(id.hostname, "pve-demo");
    assert_eq!(id.kernel, "6.8.8-2-pve");
    assert!(id.cpu_model.contains("Xeon(R) Silver 4314"), "{}", id.cpu_model);
    assert_eq!((id.sockets, id.cores, id.threads), (1, 16, 32));
    assert!(id.pve_version.as_deref().is_some_and(|v| v.contains("8.2.4")), "{:?}", id.pve_version);
    // Recorded 1215432 s up at the recording instant, which the shift puts within the last minute.
    assert!((1_215_432.0..1_215_432.0 + 120.0).contains(&id.uptime_s), "{}", id.uptime_s);
    let now_s = clock.now_ms() as f64 / 1000.0;
    assert!((id.boot_time.unwrap() as f64 + id.uptime_s - now_s).abs() < 2.0, "boot + uptime = now");

    // The Hardware page's CPU and the kernel facts' /boot are the recorded host's too.
    let cpu = proxwatch::tools::dmi::read_cpu(&host).unwrap();
    assert_eq!((cpu.vendor.as_deref(), cpu.max_mhz), (Some("GenuineIntel"), Some(3400.0)));
    assert_eq!(cpu.virtualization.as_deref(), Some("VT-x"));
    let boot = host.list_dir("/boot").unwrap();
    assert!(boot.contains(&"vmlinuz-6.8.8-2-pve".to_string()), "{boot:?}");
    assert!(boot.iter().all(|f| !f.contains("amd64") && !f.contains("generic")), "{boot:?}");
}

#[tokio::test]
async fn two_sampler_steps_give_the_recorded_hosts_vitals() {
    let (host, clock, _dir) = demo_host();
    let t0 = clock.now_ms();
    let mut s = Sampler::new();
    assert!(s.step(&host, t0).unwrap().is_none());
    clock.set(t0 + 1000);
    let sample = s.step(&host, t0 + 1000).unwrap().unwrap();

    assert_eq!(sample.cpu.cores.len(), 32);
    assert!((8.0..45.0).contains(&sample.cpu.total.busy), "busy {}", sample.cpu.total.busy);
    assert_eq!(sample.memory.total, 134_850_146_304, "the recorded node's MemTotal (128 GiB of DIMMs)");
    let used = sample.memory.used as f64 / GIB;
    assert!((20.0..45.0).contains(&used), "used {used} GiB");
    let arc = sample.memory.arc.unwrap() as f64 / GIB;
    assert!((15.0..64.0).contains(&arc), "ARC {arc} GiB");
    assert_eq!(sample.swap.total, 8_589_930_496);
    assert!(sample.load.iter().all(|l| (2.0..14.0).contains(l)), "{:?}", sample.load);
    let psi = sample.psi.as_ref().unwrap();
    assert!(psi.cpu.some_avg10 > 0.0 && psi.cpu.some_avg10 < 5.0, "{psi:?}");
    assert!(sample.cpu_temp_c.is_some(), "the recorded coretemp package sensor");

    // Only the scenario's NICs, moving at plausible rates; eno2 has no carrier.
    let names: Vec<&str> = sample.net.iter().map(|n| n.name.as_str()).collect();
    assert!(names.contains(&"vmbr0") && names.contains(&"tap105i0"), "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with("eth") && !n.starts_with("docker")), "{names:?}");
    let rate = |name: &str| sample.net.iter().find(|n| n.name == name).map(|n| (n.rx_bps, n.tx_bps)).unwrap();
    for nic in ["eno1", "eno3", "vmbr0", "tap101i0", "veth201i0"] {
        let (rx, tx) = rate(nic);
        assert!(rx > 1_000.0 && rx < 100e6 && tx > 100.0 && tx < 100e6, "{nic}: {rx} {tx}");
    }
    assert_eq!(rate("eno2"), (0.0, 0.0));
    assert!(sample.net_total.rx_bps > 10_000.0, "{:?}", sample.net_total);
    let eno2 = sample.net.iter().find(|n| n.name == "eno2").unwrap();
    assert_eq!(eno2.rx_errors, 41, "the recorded link errors");

    // The recorded disks: the FAULTED sde and the sleeping sdg do no I/O.
    let disk = |name: &str| sample.disks.iter().find(|d| d.name == name).unwrap();
    for d in ["sda", "sdb", "sdc", "sdd", "sdf", "nvme0n1"] {
        assert!(disk(d).read_bps + disk(d).write_bps > 10_000.0, "{d}: {:?}", disk(d));
    }
    for d in ["sde", "sdg"] {
        assert_eq!(disk(d).read_bps + disk(d).write_bps, 0.0, "{d}");
    }
    assert!((1_215_432.0..1_215_432.0 + 120.0).contains(&sample.uptime_s));
}

#[tokio::test]
async fn the_demo_processes_are_the_guests_and_pve_daemons() {
    let (host, clock, _dir) = demo_host();
    let t0 = clock.now_ms();
    let mut scanner = ProcessScanner::new();
    scanner.step(&host, t0).unwrap();
    clock.set(t0 + 2000);
    let snap = scanner.step(&host, t0 + 2000).unwrap();
    let by_guest = |vmid: u32| snap.processes.iter().filter(move |p| p.vmid == Some(vmid));
    for vmid in [100, 101, 103, 105, 200, 201, 204] {
        assert!(by_guest(vmid).next().is_some(), "no process for running guest {vmid}");
    }
    for vmid in [102, 104, 202, 203, 9000] {
        assert!(by_guest(vmid).next().is_none(), "stopped guest {vmid} has a process");
    }
    let kvm = snap.processes.iter().find(|p| p.vmid == Some(105)).unwrap();
    assert_eq!((kvm.name.as_str(), kvm.pid, kvm.user.as_str()), ("kvm", 1907734, "root"));
    assert!(kvm.command.starts_with("/usr/bin/kvm -id 105 -name ci-runner"), "{}", kvm.command);
    assert!(kvm.cpu_pct > 50.0, "the CI runner is busy: {}", kvm.cpu_pct);
    assert!(kvm.rss_bytes > 9 << 30, "{}", kvm.rss_bytes);
    let names: Vec<&str> = snap.processes.iter().map(|p| p.name.as_str()).collect();
    for want in ["pvedaemon", "pveproxy", "pvestatd", "pmxcfs", "txg_sync", "pihole-FTL"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let proxy = snap.processes.iter().find(|p| p.name == "pveproxy").unwrap();
    assert_eq!(proxy.user, "www-data", "from the scenario's /etc/passwd");
    // Nothing of the machine running the test (cargo, this test binary, a shell) shows through.
    let me = std::process::id();
    assert!(snap.processes.iter().all(|p| p.pid != me), "the test's own pid is listed");
    for live in ["cargo", "bash", "chromium", "it-"] {
        assert!(names.iter().all(|n| !n.starts_with(live)), "{live} in {names:?}");
    }
    // The GPU's recorded compute process keeps its CT.
    let gpu = snap.processes.iter().find(|p| p.pid == 4_194_400).unwrap();
    assert_eq!((gpu.name.as_str(), gpu.vmid), ("python3", Some(201)));
}

#[test]
fn demo_help_says_where_the_demo_writes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_proxwatch"))
        .args(["demo", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains("/var/lib/proxwatch"), "{help}");
    assert!(help.contains("temporary directory") && help.contains("--data-dir"), "{help}");
    assert!(help.contains("generated"), "{help}");
}
