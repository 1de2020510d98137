//! What the inventory poller costs at its default intervals: tool runs per minute (each one a process
//! spawn on a real host: `pvesh`, `smartctl`, `zpool`, `lvs`, ...) and proxwatch's own CPU per step,
//! over a day of simulated time on the embedded demo scenario (replayed, so the tools themselves
//! cost nothing here; only parsing and bookkeeping are measured).
//! Run: `cargo run --release --example inventory_cost`.

use std::time::Duration;

use proxwatch::host::Host;
use proxwatch::host::replay::{Scenario, extract_demo};
use proxwatch::workers::inventory::{Intervals, InventoryPoller};

/// utime + stime of this process, seconds (from /proc/self/stat, through the host seam).
fn cpu_s(proc_host: &Host) -> anyhow::Result<f64> {
    let stat = proc_host.read("/proc/self/stat")?;
    // Fields after the `)` that ends the command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).unwrap_or(&"0").parse::<f64>()? + f.get(12).unwrap_or(&"0").parse::<f64>()?;
    Ok(ticks / 100.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("proxwatch-inventory-cost-{}", std::process::id()));
    extract_demo(&dir)?;
    let host = Host::replay(Scenario::load(&dir)?, Duration::from_secs(10));
    let proc_host = Host::system(Duration::from_secs(5));
    let t0: i64 = 1_722_500_000_000;
    // The first minute reads everything (all disks' SMART, every guest config): report it apart,
    // averaged over fresh pollers (the CPU clock ticks in 10 ms).
    const FRESH: u32 = 20;
    let c0 = cpu_s(&proc_host)?;
    let mut poller = InventoryPoller::new("pve-demo".into(), Intervals::default());
    let mut now = t0;
    for _ in 0..FRESH {
        poller = InventoryPoller::new("pve-demo".into(), Intervals::default());
        now = t0;
        for _ in 0..30 {
            poller.step(&host, now).await;
            now += 2000;
        }
    }
    let warm_runs = host.run_count() / u64::from(FRESH);
    let first_ms = (cpu_s(&proc_host)? - c0) * 1000.0 / f64::from(FRESH);
    let c1 = cpu_s(&proc_host)?;
    let base_runs = host.run_count();
    let base_by = host.runs_by_program();
    // Then a day at the production cadence (a step every 2 s).
    let hours = 24;
    let steps = hours * 3600 / 2;
    let mut busy_steps = 0u64;
    for _ in 0..steps {
        if poller.step(&host, now).await {
            busy_steps += 1;
        }
        now += 2000;
    }
    let c2 = cpu_s(&proc_host)?;
    let runs = host.run_count() - base_runs;
    let minutes = hours as f64 * 60.0;
    let by: Vec<(String, f64)> = host
        .runs_by_program()
        .into_iter()
        .map(|(p, r)| {
            let before = base_by.get(&p).map_or(0, |b| b.runs);
            (p, (r.runs - before) as f64 / minutes)
        })
        .filter(|(_, per_min)| *per_min > 0.0)
        .collect();
    // What each program costs the host per run, in CPU seconds. Not measured here (this machine has
    // no Proxmox): pvesh is the "a few hundred ms" (a Perl start that loads the PVE API) taken
    // as 350 ms; the others are small C programs, taken as 20 ms (smartctl, zpool, lvs, vgs, lsblk).
    let cost = |p: &str| if p == "pvesh" { 0.35 } else { 0.02 };
    let projected: f64 = by.iter().map(|(p, m)| m * cost(p) / 60.0 * 100.0).sum();
    let list: Vec<String> = by.iter().map(|(p, m)| format!("{p} {m:.2}")).collect();
    let _ = std::fs::remove_dir_all(&dir);
    println!("inventory first minute: {warm_runs} tool runs, {first_ms:.1} ms CPU");
    println!(
        "inventory steady state: {:.1} tool runs/min (= process spawns on a real host), {busy_steps} steps with work in {steps}, \
         {:.3} ms CPU per step with work, {:.4} % of one core",
        runs as f64 / (hours as f64 * 60.0),
        if busy_steps > 0 { (c2 - c1) * 1000.0 / busy_steps as f64 } else { 0.0 },
        (c2 - c1) / (hours as f64 * 3600.0) * 100.0,
    );
    println!(
        "inventory runs/min by program: {}; projected host CPU for the tools {projected:.3} % of one core \
         (pvesh at 350 ms a run, the others at 20 ms: estimates, not measured on a PVE host)",
        list.join(", ")
    );
    Ok(())
}
