//! The kernel's cumulative counters as parsed from `/proc` (the parsers are in `tools::procfs`, which
//! re-exports these): what the sampler turns into rates, and what `/metrics` exposes as they are
//! (Prometheus takes its own rates).

use std::sync::Arc;

/// Cumulative CPU times in USER_HZ ticks, as in one `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Sum of all states. `guest`/`guest_nice` are already included in `user`/`nice` by the kernel,
    /// so adding them again would double count (proc.rst).
    pub fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }
}

/// `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meminfo {
    pub total: u64,
    pub free: u64,
    /// `MemAvailable`, or an estimate (free + buffers + cached) on kernels older than 3.14.
    pub available: u64,
    pub buffers: u64,
    pub cached: u64,
    pub sreclaimable: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_drops: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_drops: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskCounters {
    pub name: String,
    pub reads: u64,
    pub read_sectors: u64,
    pub writes: u64,
    pub write_sectors: u64,
    /// Milliseconds spent doing I/O (for utilisation).
    pub io_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pressure {
    pub some: PsiLine,
    /// Absent for `cpu` on kernels before 5.13.
    pub full: Option<PsiLine>,
}

/// The counters behind one vitals sample, kept beside it for `/metrics` (never serialised).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// `/proc/stat`'s aggregate line and one per CPU, in USER_HZ ticks.
    pub cpu_total: CpuTimes,
    pub cpus: Vec<CpuTimes>,
    /// `/proc/net/dev` (without `lo`), sorted by name.
    pub net: Vec<NetCounters>,
    /// `/proc/diskstats`, whole disks only, sorted by name.
    pub disks: Vec<DiskCounters>,
    pub meminfo: Meminfo,
    /// `/proc/pressure/{cpu,memory,io}` when the kernel has PSI.
    pub psi: Option<[(&'static str, Pressure); 3]>,
}

/// Shared: the same counters reach every reader of the sample.
pub type SharedCounters = Arc<Counters>;
