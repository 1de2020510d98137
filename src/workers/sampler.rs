//! The vitals sampler: every interval (1 s by default) it reads `/proc` and `/sys` through the host
//! seam, turns the cumulative counters into rates, publishes the sample on a `watch` channel and
//! feeds the history. Reading ~10 small kernel files costs microseconds; nothing is spawned.

use std::sync::Arc;

use anyhow::Context;

use crate::host::{Host, ToolError};
use crate::model::counters::Counters;
use crate::model::{
    Cpu, CpuShare, DiskRate, DiskTotal, Identity, Memory, NetRate, NetTotal, Psi, PsiResource, Sample, Swap,
};
use crate::tools::procfs::{self, CpuTimes, DiskCounters, NetCounters, Pressure};

/// Bytes per sector in `/proc/diskstats`: always 512, whatever the device's real sector size
/// (Documentation/admin-guide/iostats.rst).
const SECTOR: f64 = 512.0;

/// The previous read: its time and the counters (the same `Arc` the sample published carries).
struct Prev {
    ts_ms: i64,
    counters: Arc<Counters>,
}

/// The entry of `name` in a list sorted by name.
fn by_name<'a, T>(list: &'a [T], name: &str, key: fn(&T) -> &str) -> Option<&'a T> {
    list.binary_search_by(|x| key(x).cmp(name)).ok().map(|i| &list[i])
}

/// Where the CPU temperature is read from, found once and re-checked when it stops answering.
#[derive(Debug, Clone)]
enum TempSource {
    Unknown,
    None { checked_ms: i64 },
    File(String),
}

pub struct Sampler {
    prev: Option<Prev>,
    temp: TempSource,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

fn share(now: &CpuTimes, before: &CpuTimes) -> CpuShare {
    let d = |a: u64, b: u64| a.saturating_sub(b) as f64;
    let total = now.total().saturating_sub(before.total()) as f64;
    if total <= 0.0 {
        return CpuShare { idle: 100.0, ..Default::default() };
    }
    let pct = |v: f64| (v / total * 100.0).clamp(0.0, 100.0);
    let idle = pct(d(now.idle, before.idle));
    let iowait = pct(d(now.iowait, before.iowait));
    CpuShare {
        user: pct(d(now.user, before.user) + d(now.nice, before.nice)),
        system: pct(d(now.system, before.system) + d(now.irq, before.irq) + d(now.softirq, before.softirq)),
        iowait,
        steal: pct(d(now.steal, before.steal)),
        idle,
        busy: (100.0 - idle - iowait).clamp(0.0, 100.0),
    }
}

fn rate(now: u64, before: u64, secs: f64) -> f64 {
    // A counter that went backwards (interface re-created, 32-bit wrap) yields 0, not a spike.
    now.checked_sub(before).map(|d| d as f64 / secs).unwrap_or(0.0)
}

/// PSI averages for the sample, and the raw lines (with their stall totals) for the counters.
type PsiRead = (Psi, [(&'static str, Pressure); 3]);

fn psi(host: &Host) -> Result<Option<PsiRead>, ToolError> {
    let read = |res: &'static str| -> Result<Option<Pressure>, ToolError> {
        let path = format!("/proc/pressure/{res}");
        let Some(text) = host.read_optional(&path)? else { return Ok(None) };
        Ok(Some(procfs::parse_pressure(&path, &text)?))
    };
    let avg = |p: &Pressure| PsiResource {
        some_avg10: p.some.avg10,
        some_avg60: p.some.avg60,
        some_avg300: p.some.avg300,
        full_avg10: p.full.map(|f| f.avg10),
    };
    match (read("cpu")?, read("memory")?, read("io")?) {
        (Some(cpu), Some(memory), Some(io)) => Ok(Some((
            Psi { cpu: avg(&cpu), memory: avg(&memory), io: avg(&io) },
            [("cpu", cpu), ("memory", memory), ("io", io)],
        ))),
        _ => Ok(None),
    }
}

/// Finds the hwmon input that best stands for "the CPU temperature": the package sensor of Intel's
/// coretemp, Tdie/Tctl of AMD's k10temp/zenpower, or an SoC thermal sensor on ARM boards.
fn find_cpu_temp(host: &Host) -> Option<String> {
    const CHIPS: &[&str] = &["coretemp", "k10temp", "zenpower", "cpu_thermal", "soc_thermal", "cpu-thermal"];
    const PREFERRED: &[&str] = &["Package id 0", "Tdie", "Tctl"];
    let chips = host.list_dir("/sys/class/hwmon").ok()?;
    for chip in chips {
        let dir = format!("/sys/class/hwmon/{chip}");
        let name = host.read(&format!("{dir}/name")).ok()?.trim().to_string();
        if !CHIPS.contains(&name.as_str()) {
            continue;
        }
        let inputs: Vec<String> = host
            .list_dir(&dir)
            .ok()?
            .into_iter()
            .filter(|f| f.starts_with("temp") && f.ends_with("_input"))
            .collect();
        for want in PREFERRED {
            for input in &inputs {
                let label_path = format!("{dir}/{}", input.replace("_input", "_label"));
                if host.read(&label_path).is_ok_and(|l| l.trim() == *want) {
                    return Some(format!("{dir}/{input}"));
                }
            }
        }
        if let Some(first) = inputs.first() {
            return Some(format!("{dir}/{first}"));
        }
    }
    None
}

impl Sampler {
    pub fn new() -> Self {
        Sampler { prev: None, temp: TempSource::Unknown }
    }

    fn cpu_temp(&mut self, host: &Host, now_ms: i64) -> Option<f64> {
        // Re-scan for a sensor at most every 5 minutes when none was found (modules load late).
        if let TempSource::None { checked_ms } = self.temp {
            if now_ms - checked_ms < 300_000 {
                return None;
            }
            self.temp = TempSource::Unknown;
        }
        if let TempSource::Unknown = self.temp {
            self.temp = match find_cpu_temp(host) {
                Some(path) => TempSource::File(path),
                None => TempSource::None { checked_ms: now_ms },
            };
        }
        let TempSource::File(path) = &self.temp else { return None };
        match host.read(path) {
            Ok(text) => procfs::parse_millicelsius(&text),
            Err(_) => {
                self.temp = TempSource::None { checked_ms: now_ms };
                None
            }
        }
    }

    /// Takes one sample at `now_ms` (unix ms). The first call only records the counters and returns
    /// `None`; later calls return rates over the time since the previous call.
    pub fn step(&mut self, host: &Host, now_ms: i64) -> anyhow::Result<Option<Sample>> {
        let stat = procfs::parse_stat(&host.read("/proc/stat")?)?;
        let mem = procfs::parse_meminfo(&host.read("/proc/meminfo")?)?;
        let load = procfs::parse_loadavg(&host.read("/proc/loadavg")?)?;
        let uptime_s = procfs::parse_uptime(&host.read("/proc/uptime")?)?;
        let net = procfs::parse_net_dev(&host.read("/proc/net/dev")?)?;
        let disks = procfs::parse_diskstats(&host.read("/proc/diskstats")?)?;
        let (psi, psi_raw) = psi(host)?.map_or((None, None), |(avg, raw)| (Some(avg), Some(raw)));
        let arc = match host.read_optional("/proc/spl/kstat/zfs/arcstats")? {
            Some(text) => Some(procfs::parse_arc_size(&text)?),
            None => None,
        };
        let cpu_temp_c = self.cpu_temp(host, now_ms);

        let mut net: Vec<NetCounters> = net.into_iter().filter(|n| n.name != "lo").collect();
        net.sort_by(|a, b| a.name.cmp(&b.name));
        let mut disks = disks;
        disks.sort_by(|a, b| a.name.cmp(&b.name));
        let counters = Arc::new(Counters {
            cpu_total: stat.total,
            cpus: stat.cores,
            net,
            disks,
            meminfo: mem,
            psi: psi_raw,
        });
        let next = Prev { ts_ms: now_ms, counters: counters.clone() };
        let Some(prev) = self.prev.replace(next) else { return Ok(None) };
        let (cur, before) = (&*counters, &*prev.counters);
        let mem = &cur.meminfo;
        let secs = (now_ms - prev.ts_ms) as f64 / 1000.0;
        if secs <= 0.0 {
            anyhow::bail!("clock went backwards or did not advance ({} ms)", now_ms - prev.ts_ms);
        }

        let cpu = Cpu {
            total: share(&cur.cpu_total, &before.cpu_total),
            cores: cur
                .cpus
                .iter()
                .enumerate()
                .map(|(i, c)| before.cpus.get(i).map(|p| share(c, p)).unwrap_or_default())
                .collect(),
        };

        let net_rates: Vec<NetRate> = cur
            .net
            .iter()
            .map(|n| {
                let p = by_name(&before.net, &n.name, |c| &c.name);
                let r = |f: fn(&NetCounters) -> u64| p.map(|p| rate(f(n), f(p), secs)).unwrap_or(0.0);
                NetRate {
                    name: n.name.clone(),
                    rx_bps: r(|c| c.rx_bytes),
                    tx_bps: r(|c| c.tx_bytes),
                    rx_errors: n.rx_errors,
                    tx_errors: n.tx_errors,
                    rx_drops: n.rx_drops,
                    tx_drops: n.tx_drops,
                }
            })
            .collect();
        // The host's traffic is what crosses its NICs; counting bridges, bonds, VLANs, taps, veths and
        // firewall bridges as well would count the same packet two or three times.
        let counted = |name: &str| {
            !(name.starts_with("tap")
                || name.starts_with("veth")
                || name.starts_with("fwbr")
                || name.starts_with("fwpr")
                || name.starts_with("fwln")
                || name.starts_with("vmbr")
                || name.starts_with("bond")
                || name.contains('.'))
        };
        let net_total = net_rates.iter().filter(|n| counted(&n.name)).fold(NetTotal::default(), |t, n| {
            NetTotal { rx_bps: t.rx_bps + n.rx_bps, tx_bps: t.tx_bps + n.tx_bps }
        });

        let disk_rates: Vec<DiskRate> = cur
            .disks
            .iter()
            .map(|d| {
                let p = by_name(&before.disks, &d.name, |c| &c.name);
                let r = |f: fn(&DiskCounters) -> u64, scale: f64| {
                    p.map(|p| rate(f(d), f(p), secs) * scale).unwrap_or(0.0)
                };
                DiskRate {
                    name: d.name.clone(),
                    read_bps: r(|c| c.read_sectors, SECTOR),
                    write_bps: r(|c| c.write_sectors, SECTOR),
                    read_iops: r(|c| c.reads, 1.0),
                    write_iops: r(|c| c.writes, 1.0),
                }
            })
            .collect();
        let disk_total = disk_rates.iter().fold(DiskTotal::default(), |t, d| DiskTotal {
            read_bps: t.read_bps + d.read_bps,
            write_bps: t.write_bps + d.write_bps,
            read_iops: t.read_iops + d.read_iops,
            write_iops: t.write_iops + d.write_iops,
        });

        let arc_bytes = arc.unwrap_or(0);
        let used = mem.total.saturating_sub(mem.available).saturating_sub(arc_bytes);
        let pct = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 / whole as f64 * 100.0 };
        let memory = Memory {
            total: mem.total,
            used,
            free: mem.free,
            cached: mem.cached + mem.sreclaimable + arc_bytes,
            buffers: mem.buffers,
            available: mem.available,
            arc,
            used_pct: pct(used, mem.total),
        };
        let swap_used = mem.swap_total.saturating_sub(mem.swap_free);
        let swap = Swap { total: mem.swap_total, used: swap_used, used_pct: pct(swap_used, mem.swap_total) };

        Ok(Some(Sample {
            ts: now_ms,
            interval_s: secs,
            cpu,
            load,
            memory,
            swap,
            psi,
            net: net_rates,
            net_total,
            disks: disk_rates,
            disk_total,
            uptime_s,
            cpu_temp_c,
            counters,
        }))
    }
}

/// Collects what the host is: name, kernel, CPU, boot time and (when present) the PVE version.
pub async fn identity(host: &Host) -> anyhow::Result<Identity> {
    let cpu = procfs::parse_cpuinfo(&host.read("/proc/cpuinfo").context("reading CPU model")?);
    let stat = procfs::parse_stat(&host.read("/proc/stat")?)?;
    let uptime_s = procfs::parse_uptime(&host.read("/proc/uptime")?)?;
    let kernel = host.read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    // dpkg's database and pvecfg.pm first (what `pveversion` itself reads); the command where they
    // cannot be read.
    let pve_version = match super::inventory::read_pveversion(host) {
        Some(v) => Some(format!("{v} (running kernel: {kernel})")),
        None => match crate::tools::pve::version(host).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Proxmox VE version");
                None
            }
        },
    };
    Ok(Identity {
        hostname: host.read("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
        pve_version,
        kernel,
        cpu_model: cpu.model,
        sockets: cpu.sockets,
        cores: cpu.cores,
        threads: cpu.threads,
        boot_time: stat.btime,
        uptime_s,
    })
}

/// Shares a sample cheaply between the watch channel, the history and the SSE streams.
pub type SharedSample = Option<Arc<Sample>>;
