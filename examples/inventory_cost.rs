//! What proxwatch's collectors cost the host at their default intervals: tool runs per minute by
//! program (each one a process spawn on a real host: `smartctl`, `zpool`, `ipmitool`, … and, where the
//! cluster files and the PVE API cannot serve, `pvesh`), and a projected host CPU figure.
//!
//! Every collector that runs a program is stepped at its production cadence over a simulated day on
//! the embedded demo host (its kernel files generated on a simulated clock, its commands replayed):
//! the inventory poller (2 s), the health facts collector (15 s), the network worker (30 s), the
//! hardware poller (5 s) and the GPU poller (5 s). Replayed commands cost nothing here, so the cost
//! of each program is measured separately: the CPU (user + system) of its real argv, run 20 times on
//! this machine through the host seam, where the program is installed; the figure used otherwise is
//! printed with its reason.
//! Run: `cargo run --release --example inventory_cost`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use proxwatch::config::{HardwareCfg, NetworkCfg};
use proxwatch::health::facts::FactsCollector;
use proxwatch::host::Host;
use proxwatch::host::replay::{Scenario, extract_demo};
use proxwatch::series::Series;
use proxwatch::workers::gpu::GpuPoller;
use proxwatch::workers::hardware::{HardwarePoller, Options};
use proxwatch::workers::inventory::{Intervals, InventoryPoller};
use proxwatch::workers::network::NetworkWorker;

/// (utime + stime, cutime + cstime) of this process, seconds (from /proc/self/stat).
fn cpu_s(proc_host: &Host) -> anyhow::Result<(f64, f64)> {
    let stat = proc_host.read("/proc/self/stat")?;
    // Fields after the `)` that ends the command name: state is field 3, utime 14 … cstime 17.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    Ok((get(11) + get(12), get(13) + get(14)))
}

/// The argv whose cost stands for each program, and the figure used where it cannot be measured here.
fn probe(program: &str) -> (Vec<&'static str>, f64, &'static str) {
    match program {
        // Not measurable without Proxmox: a Perl start that loads the whole PVE API. Issue 15 puts it
        // at "a few hundred ms of CPU each"; 350 ms is taken.
        "pvesh" => (vec![], 0.35, "no Proxmox on this machine; issue 15's \"a few hundred ms\""),
        "ip" => (proxwatch::tools::net::IP_ADDR_ARGV.to_vec(), 0.005, "iproute2 not installed"),
        "smartctl" => (vec!["smartctl", "--scan", "-j"], 0.01, "smartmontools not installed"),
        "zpool" => (proxwatch::tools::zpool::LIST_ARGV.to_vec(), 0.02, "no ZFS tools here"),
        "ipmitool" => {
            (vec!["ipmitool", "-V"], 0.02, "ipmitool not installed; the BMC round trip is wait, not CPU")
        }
        "systemctl" => (vec!["systemctl", "--version"], 0.01, "systemd not installed"),
        "chronyc" => (vec!["chronyc", "-c", "tracking"], 0.005, "chrony not installed"),
        "fail2ban-client" => {
            (vec!["fail2ban-client", "--version"], 0.15, "fail2ban not installed (a Python start)")
        }
        "apt-get" => (vec!["apt-get", "-s", "dist-upgrade"], 0.8, "apt not usable here"),
        _ => (vec![], 0.02, "a small C program, estimated"),
    }
}

/// CPU seconds per run of `argv`, measured over 20 runs (the clock ticks in 10 ms), or `None` where it
/// does not run here.
async fn measure(proc_host: &Host, argv: &[&str]) -> Option<f64> {
    if argv.is_empty() {
        return None;
    }
    let (_, before) = cpu_s(proc_host).ok()?;
    for _ in 0..20 {
        proc_host.run(argv).await.ok()?;
    }
    let (_, after) = cpu_s(proc_host).ok()?;
    Some((after - before) / 20.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("proxwatch-inventory-cost-{}", std::process::id()));
    extract_demo(&dir)?;
    let t0: i64 = 1_722_500_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let c = clock.clone();
    let host = Host::demo_with_clock(
        Scenario::load(&dir)?,
        Duration::from_secs(10),
        Arc::new(move || c.load(Ordering::Relaxed)),
    );
    let proc_host = Host::system(Duration::from_secs(20));

    // The inventory's first minute reads everything (all disks' SMART, every guest config): report it
    // apart, averaged over fresh pollers.
    const FRESH: u32 = 20;
    let (c0, _) = cpu_s(&proc_host)?;
    let runs0 = host.run_count();
    for _ in 0..FRESH {
        let mut poller = InventoryPoller::new("pve-demo".into(), Intervals::default());
        for k in 0..30 {
            poller.step(&host, t0 + k * 2000).await;
        }
    }
    let warm_runs = (host.run_count() - runs0) / u64::from(FRESH);
    let first_ms = (cpu_s(&proc_host)?.0 - c0) * 1000.0 / f64::from(FRESH);

    // A day of every collector at its production cadence, after a warm-up hour.
    let mut inventory = InventoryPoller::new("pve-demo".into(), Intervals::default());
    let mut facts = FactsCollector::new(None);
    let mut network = NetworkWorker::new(NetworkCfg::default());
    let mut hardware = HardwarePoller::new(Options::from_config(&HardwareCfg::default()));
    let mut gpu = GpuPoller::new();
    let series = Series::new(64);
    let (warm_h, hours) = (1i64, 24i64);
    let mut base: Option<(BTreeMap<String, u64>, f64, u64)> = None;
    let mut busy_inventory = 0u64;
    let mut now = t0;
    while now < t0 + (warm_h + hours) * 3_600_000 {
        if now == t0 + warm_h * 3_600_000 {
            let by = host.runs_by_program().into_iter().map(|(p, r)| (p, r.runs)).collect();
            base = Some((by, cpu_s(&proc_host)?.0, busy_inventory));
        }
        clock.store(now, Ordering::Relaxed);
        let k = (now - t0) / 1000;
        if inventory.step(&host, now).await && base.is_some() {
            busy_inventory += 1;
        }
        if k % 5 == 0 {
            hardware.step(&host, &series, now).await;
            gpu.step(&host, now).await;
        }
        if k % 15 == 0 {
            facts.step(&host, now).await;
        }
        if k % 30 == 0 {
            network.step(&host, now, None).await;
        }
        now += 1000;
    }
    let (c_end, _) = cpu_s(&proc_host)?;
    let (base_by, c_base, busy_base) = base.unwrap_or_default();
    let minutes = hours as f64 * 60.0;
    let by: Vec<(String, f64)> = host
        .runs_by_program()
        .into_iter()
        .filter(|(p, _)| p != "pve-api")
        .map(|(p, r)| {
            let before = base_by.get(&p).copied().unwrap_or(0);
            (p, (r.runs - before) as f64 / minutes)
        })
        .filter(|(_, per_min)| *per_min > 0.0)
        .collect();
    let total: f64 = by.iter().map(|(_, m)| m).sum();
    let own_pct = (c_end - c_base) / (hours as f64 * 3600.0) * 100.0;

    let mut costs = Vec::new();
    let mut projected = 0.0;
    for (p, per_min) in &by {
        let (argv, fallback, why) = probe(p);
        let (cost, how) = match measure(&proc_host, &argv).await {
            Some(c) => (c, format!("measured here, `{}`", argv.join(" "))),
            None => (fallback, format!("estimate: {why}")),
        };
        projected += per_min * cost / 60.0 * 100.0;
        costs.push(format!("{p} {:.0} ms ({how})", cost * 1000.0));
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("inventory first minute: {warm_runs} tool runs, {first_ms:.1} ms CPU");
    println!(
        "steady state (a simulated day of every collector at its default interval): {total:.2} tool runs/min \
         (= process spawns on a real host), pvesh {:.2}/min; collectors' own CPU {own_pct:.4} % of one core \
         ({} inventory steps with work)",
        by.iter().find(|(p, _)| p == "pvesh").map_or(0.0, |(_, m)| *m),
        busy_inventory - busy_base,
    );
    let list: Vec<String> = by.iter().map(|(p, m)| format!("{p} {m:.2}")).collect();
    println!("runs/min by program: {}", list.join(", "));
    println!("cost per run: {}", costs.join("; "));
    println!(
        "projected host CPU: tools {projected:.3} % + collectors {own_pct:.3} % = {:.3} % of one core",
        projected + own_pct
    );
    Ok(())
}
