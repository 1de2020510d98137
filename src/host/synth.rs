//! The demo host's live kernel files. A recording is one instant, and the demo used to take its vitals
//! from the machine running it, so the Overview showed a Xeon with 12 guests next to two AMD cores,
//! 23 GiB and a chromium process. For a demo host only ([`super::Host::demo`]), this module answers the
//! moving files of `/proc` — `stat`, `meminfo`, `loadavg`, `uptime`, `pressure/*`, `net/dev`,
//! `diskstats`, `spl/kstat/zfs/arcstats`, the process tree `/proc/<pid>/{stat,status,cmdline,comm,cgroup}`
//! — and the byte/packet counters of `/sys/class/net/<if>/statistics`, as a deterministic function of
//! the time of the read. The static identity (`cpuinfo`, `osrelease`, DMI, ...) stays in the
//! scenario's files.
//!
//! How it stays plausible and consistent:
//! - every rate is a [`Wave`]: a mean times one plus a daily swing and a few short "noise" periods whose
//!   amplitudes sum below one, so the rate never reaches zero and its integral has a closed form;
//!   every counter is a floor of such an integral, so counters never go backwards and their rate
//!   over any interval is the wave's average over it;
//! - the host is what the scenario says: threads from its `proc/cpuinfo`, memory, swap and uptime from
//!   `pvesh get /nodes/<node>/status`, the running guests (pids, memory, vCPUs, CPU share, traffic)
//!   from `/nodes/<node>/{qemu,lxc}`, the NICs and their recorded counters from `sys/class/net`, the
//!   disks from `lsblk` (a FAULTED vdev in `zpool status` and a disk `smartctl -n standby` finds
//!   asleep do no I/O);
//! - a guest's process burns the guest's share of the host's busy CPU time, with the cgroup Proxmox
//!   gives it (`/qemu.slice/<vmid>.scope`, `/lxc/<vmid>/...`), so process attribution finds it;
//! - uptime is the recorded uptime at the (time-shifted) recording instant plus the time since.
//!
//! The generator functions take `now_ms` so they are tested without a clock; [`Live`] binds them to
//! one. Under `/proc` and `/boot` the demo never reads the machine it runs on ([`owns`]).

use std::f64::consts::TAU;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::Scenario;

/// USER_HZ: `/proc/stat` and `/proc/<pid>/stat` count in 1/100 s on every platform Proxmox runs on.
const HZ: f64 = 100.0;
const DAY: f64 = 86_400.0;
const KIB: u64 = 1024;
const GIB: f64 = (1u64 << 30) as f64;

/// Whether `path` belongs to the recorded host alone: the demo's kernel and processes are the
/// scenario's, so the machine running the demo must not show through under these.
pub fn owns(path: &str) -> bool {
    // `/etc/pve` and `/var/log/pve` too: the demo's Proxmox is the recorded one, never the cluster
    // files or tasks of a real PVE host the demo happens to run on.
    // `/sys/class/net` as well: its links are the recorded `ip` answer's, not this machine's.
    ["/proc", "/boot", "/etc/pve", "/var/log/pve", "/sys/class/net"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// A clock in unix ms; the demo reads the wall clock, tests pass their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn wall_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    })
}

/// A generator bound to a clock: what [`super::Host`] consults.
pub struct Live {
    pub synth: Synth,
    clock: Clock,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("synth", &self.synth).finish_non_exhaustive()
    }
}

impl Live {
    pub fn new(synth: Synth, clock: Clock) -> Self {
        Live { synth, clock }
    }
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.synth.file(path, (self.clock)())
    }
    pub fn dir(&self, path: &str) -> Option<Vec<String>> {
        self.synth.dir(path)
    }
    pub fn exists(&self, path: &str) -> bool {
        self.synth.exists(path)
    }
}

// ------------------------------------------------------------------------------------------ waves

/// `mean + Σ amp·sin(2π·t/period + phase)` over seconds since boot, with `Σ|amp| < mean`.
#[derive(Debug, Clone, Default)]
struct Wave {
    mean: f64,
    /// (amplitude, period s, phase rad)
    terms: Vec<(f64, f64, f64)>,
}

/// Short periods (seconds) that read as noise at a 1 s sampling interval, with relative amplitudes.
const JITTER: [(f64, f64); 6] =
    [(0.10, 5.3), (0.09, 11.7), (0.08, 29.3), (0.09, 97.0), (0.08, 313.0), (0.10, 1931.0)];
/// Slow drift for levels (memory, ARC) that do not jump from second to second.
const DRIFT: [(f64, f64); 4] = [(0.015, 61.0), (0.25, 907.0), (0.3, 3607.0), (0.45, 14_401.0)];

fn mix(mut x: u64) -> u64 {
    // splitmix64: a stable pseudo-random phase per series, the same on every run.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn phase(seed: u64, k: u64) -> f64 {
    (mix(seed ^ k.wrapping_mul(0x2545_F491_4F6C_DD1D)) >> 11) as f64 / (1u64 << 53) as f64 * TAU
}

impl Wave {
    /// A wave of `mean` whose daily swing (relative `daily`, peaking mid-afternoon UTC) and jitter
    /// (relative `jitter`, spread over [`JITTER`]) are phased by `name`. `boot_s` anchors the day.
    fn new(name: &str, mean: f64, daily: f64, jitter: f64, boot_s: f64) -> Wave {
        Self::shaped(name, mean, daily, jitter, &JITTER, boot_s)
    }

    fn shaped(name: &str, mean: f64, daily: f64, rel: f64, shape: &[(f64, f64)], boot_s: f64) -> Wave {
        let seed = seed_of(name);
        // sin peaks at a quarter period: 15:00 UTC is 6 h after 09:00.
        let day_phase = TAU * ((boot_s - 9.0 * 3600.0) / DAY).rem_euclid(1.0);
        let mut terms = vec![(mean * daily, DAY, day_phase)];
        let total: f64 = shape.iter().map(|s| s.0).sum();
        for (k, (a, p)) in shape.iter().enumerate() {
            // Periods stretched a little per series, so no two series move in lockstep.
            let stretch = 1.0 + (mix(seed ^ (k as u64 + 99)) % 1000) as f64 / 4000.0;
            terms.push((mean * rel * a / total, p * stretch, phase(seed, k as u64)));
        }
        Wave { mean, terms }
    }

    fn zero() -> Wave {
        Wave::default()
    }

    fn at(&self, t: f64) -> f64 {
        self.mean + self.terms.iter().map(|(a, p, f)| a * (TAU * t / p + f).sin()).sum::<f64>()
    }

    /// ∫₀ᵗ of the wave.
    fn integral(&self, t: f64) -> f64 {
        self.mean * t
            + self
                .terms
                .iter()
                .map(|(a, p, f)| a * p / TAU * (f.cos() - (TAU * t / p + f).cos()))
                .sum::<f64>()
    }

    /// The average over the `window` seconds before `t` (how the kernel's load and PSI averages read).
    fn avg(&self, t: f64, window: f64) -> f64 {
        (self.integral(t) - self.integral(t - window)) / window
    }

    fn scaled(&self, k: f64) -> Wave {
        Wave { mean: self.mean * k, terms: self.terms.iter().map(|(a, p, f)| (a * k, *p, *f)).collect() }
    }

    fn plus(mut self, other: &Wave) -> Wave {
        self.mean += other.mean;
        self.terms.extend_from_slice(&other.terms);
        self
    }
}

// ------------------------------------------------------------------------------------- the model

#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    ppid: u32,
    comm: String,
    args: Vec<String>,
    uid: u32,
    cgroup: String,
    /// Seconds after boot.
    start_s: f64,
    /// Fraction of the host's busy CPU time this process burns.
    share: f64,
    rss_kib: u64,
    threads: u32,
    kthread: bool,
    /// A paused VM's QEMU sleeps.
    sleeping: bool,
}

#[derive(Debug, Clone)]
struct Nic {
    name: String,
    rx: Wave,
    tx: Wave,
    /// Recorded counters at the recording instant.
    rx_base: u64,
    tx_base: u64,
    rx_errors: u64,
    tx_errors: u64,
    rx_drops: u64,
    tx_drops: u64,
}

#[derive(Debug, Clone)]
struct Disk {
    name: String,
    major: u32,
    minor: u32,
    read: Wave,
    write: Wave,
    /// Average request sizes and service times, by kind of device.
    read_size: f64,
    write_size: f64,
    latency_ms: f64,
    /// Bytes per second at which the device is 100 % busy (for the io_ms utilisation counter).
    capacity: f64,
}

/// A running guest as the scenario's lists record it.
#[derive(Debug, Clone, PartialEq)]
pub struct Guest {
    pub vmid: u32,
    pub kind: GuestType,
    pub name: String,
    pub pid: Option<u32>,
    pub cpus: f64,
    pub cpu: f64,
    pub mem: f64,
    pub maxmem: f64,
    pub uptime: f64,
    pub paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestType {
    Qemu,
    Lxc,
}

/// The generated host. Immutable once built: every answer is a function of it and the time.
#[derive(Debug, Clone)]
pub struct Synth {
    /// Boot time, unix s (as the time-shifted recording presents it).
    boot_s: f64,
    /// Seconds after boot at which the recording was made (the recorded uptime).
    recorded_uptime: f64,
    mem_total: u64,
    swap_total: u64,
    guests_mem: f64,
    /// Per logical CPU: busy fraction and iowait fraction.
    busy: Vec<Wave>,
    iowait: Vec<Wave>,
    /// Σ busy: busy cores.
    busy_total: Wave,
    host_mem: Wave,
    cache: Wave,
    arc: Wave,
    arc_max: f64,
    psi_mem: Wave,
    psi_io: Wave,
    forks: Wave,
    ctxt: Wave,
    procs: Vec<Proc>,
    nics: Vec<Nic>,
    disks: Vec<Disk>,
    pub guests: Vec<Guest>,
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn json_rows(text: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(a)) => a,
        Ok(Value::Object(mut o)) => match o.remove("data") {
            Some(Value::Array(a)) => a,
            _ => vec![Value::Object(o)],
        },
        _ => Vec::new(),
    }
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// What a CT runs besides its init, by the guest's name: (comm, argv, uid inside, weight, RSS share).
fn ct_services(name: &str) -> Vec<(&'static str, &'static str, u32, f64, f64)> {
    let mut v = vec![
        ("systemd-journal", "/lib/systemd/systemd-journald", 0, 0.02, 0.04),
        ("cron", "/usr/sbin/cron -f", 0, 0.01, 0.01),
    ];
    v.extend(match name {
        "pihole" => vec![("pihole-FTL", "/usr/bin/pihole-FTL -f", 999, 0.8, 0.7)],
        "nextcloud" => vec![
            ("apache2", "/usr/sbin/apache2 -k start", 33, 0.25, 0.15),
            ("php-fpm8.2", "php-fpm: pool www", 33, 0.4, 0.35),
            ("mariadbd", "/usr/sbin/mariadbd", 106, 0.2, 0.3),
            ("redis-server", "/usr/bin/redis-server 127.0.0.1:6379", 107, 0.05, 0.05),
        ],
        "gitea" => vec![
            ("gitea", "/usr/local/bin/gitea web --config /etc/gitea/app.ini", 998, 0.6, 0.5),
            (
                "postgres",
                "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
                105,
                0.3,
                0.35,
            ),
        ],
        _ => vec![("sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 0, 0.2, 0.3)],
    });
    v
}

/// One of the host's own daemons: (pid, comm, argv, uid, cgroup unit, weight, RSS MiB, threads).
type Daemon = (u32, &'static str, &'static str, u32, &'static str, f64, u64, u32);

/// What a PVE 8 node runs besides its guests.
#[rustfmt::skip]
const DAEMONS: &[Daemon] = &[
    (1, "systemd", "/sbin/init", 0, "init.scope", 0.002, 12, 1),
    (598, "systemd-journal", "/lib/systemd/systemd-journald", 0, "system.slice/systemd-journald.service", 0.003, 48, 1),
    (631, "systemd-udevd", "/lib/systemd/systemd-udevd", 0, "system.slice/systemd-udevd.service", 0.0005, 9, 1),
    (1188, "qmeventd", "/usr/sbin/qmeventd /var/run/qmeventd.sock", 0, "system.slice/qmeventd.service", 0.0002, 2, 1),
    (1201, "zed", "/usr/sbin/zed -F", 0, "system.slice/zfs-zed.service", 0.0002, 5, 2),
    (1203, "smartd", "/usr/sbin/smartd -n", 0, "system.slice/smartd.service", 0.0001, 6, 1),
    (1310, "chronyd", "/usr/sbin/chronyd -F 1", 103, "system.slice/chrony.service", 0.0002, 4, 1),
    (1388, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 0, "system.slice/ssh.service", 0.0001, 9, 1),
    (1422, "rrdcached", "/usr/bin/rrdcached -B -b /var/lib/rrdcached/db/ -j /var/lib/rrdcached/journal/ -p /var/run/rrdcached.pid -l unix:/var/run/rrdcached.sock", 0, "system.slice/rrdcached.service", 0.002, 46, 10),
    (1530, "pmxcfs", "/usr/bin/pmxcfs", 0, "system.slice/pve-cluster.service", 0.006, 58, 7),
    (1701, "master", "/usr/lib/postfix/sbin/master -w", 0, "system.slice/postfix@-.service", 0.0001, 5, 1),
    (1703, "qmgr", "qmgr -l -t unix -u", 102, "system.slice/postfix@-.service", 0.0001, 7, 1),
    (1710, "agetty", "/sbin/agetty -o -p -- \\u --noclear - linux", 0, "system.slice/system-getty.slice/getty@tty1.service", 0.0, 2, 1),
    (1712, "cron", "/usr/sbin/cron -f", 0, "system.slice/cron.service", 0.0001, 3, 1),
    (1768, "pve-firewall", "pve-firewall", 0, "system.slice/pve-firewall.service", 0.008, 112, 1),
    (1771, "pvestatd", "pvestatd", 0, "system.slice/pvestatd.service", 0.012, 118, 1),
    (1790, "pvedaemon", "pvedaemon", 0, "system.slice/pvedaemon.service", 0.0005, 140, 1),
    (1791, "pvedaemon worke", "pvedaemon worker", 0, "system.slice/pvedaemon.service", 0.001, 172, 1),
    (1792, "pvedaemon worke", "pvedaemon worker", 0, "system.slice/pvedaemon.service", 0.001, 170, 1),
    (1793, "pvedaemon worke", "pvedaemon worker", 0, "system.slice/pvedaemon.service", 0.001, 171, 1),
    (1802, "pve-ha-crm", "pve-ha-crm", 0, "system.slice/pve-ha-crm.service", 0.0008, 110, 1),
    (1810, "pveproxy", "pveproxy", 33, "system.slice/pveproxy.service", 0.0005, 148, 1),
    (1817, "spiceproxy", "spiceproxy", 33, "system.slice/spiceproxy.service", 0.0001, 62, 1),
    (1820, "pve-ha-lrm", "pve-ha-lrm", 0, "system.slice/pve-ha-lrm.service", 0.0008, 111, 1),
    (1830, "pvescheduler", "pvescheduler", 0, "system.slice/pvescheduler.service", 0.0006, 106, 1),
    (1852, "proxwatch", "/usr/bin/proxwatch serve", 0, "system.slice/proxwatch.service", 0.0004, 14, 4),
    (2051, "pveproxy worker", "pveproxy worker", 33, "system.slice/pveproxy.service", 0.003, 158, 1),
    (2052, "pveproxy worker", "pveproxy worker", 33, "system.slice/pveproxy.service", 0.003, 159, 1),
    (2053, "pveproxy worker", "pveproxy worker", 33, "system.slice/pveproxy.service", 0.003, 157, 1),
];

/// Kernel threads worth seeing: (pid, comm, weight). ZFS's do the pools' work.
#[rustfmt::skip]
const KTHREADS: &[(u32, &str, f64)] = &[
    (2, "kthreadd", 0.0), (15, "rcu_preempt", 0.004), (17, "ksoftirqd/0", 0.003), (83, "kcompactd0", 0.0005),
    (85, "khugepaged", 0.0005), (412, "spl_dynamic_tas", 0.0002), (418, "arc_evict", 0.004),
    (419, "arc_reap", 0.002), (421, "l2arc_feed", 0.002), (530, "z_wr_iss", 0.008), (531, "z_wr_int", 0.006),
    (532, "z_rd_int", 0.004), (560, "txg_quiesce", 0.0005), (561, "txg_sync", 0.006),
    (900, "kvm-nx-lpage-re", 0.0005),
];

impl Synth {
    /// Builds the generated host from what `scenario` records. `now_ms` stands for the recording
    /// instant when the scenario has no `recorded_at`. Anything missing falls back to a modest host.
    pub fn new(scenario: &Scenario, now_ms: i64) -> Synth {
        let dir = &scenario.dir;
        let node = read_trim(&dir.join("proc/sys/kernel/hostname")).unwrap_or_else(|| "localhost".into());
        let get = |path: &str| -> Option<String> {
            let out = scenario.answer(&["pvesh", "get", path, "--output-format", "json"]).ok()?;
            (out.code == 0).then_some(out.stdout)
        };
        let status =
            get(&format!("/nodes/{node}/status")).and_then(|s| serde_json::from_str::<Value>(&s).ok());
        let status = status.unwrap_or(Value::Null);
        let threads = std::fs::read_to_string(dir.join("proc/cpuinfo"))
            .ok()
            .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
            .filter(|n| *n > 0)
            .or_else(|| num(&status["cpuinfo"]["cpus"]).map(|n| n as usize))
            .unwrap_or(4);
        let mem_total = num(&status["memory"]["total"]).map_or(16 << 30, |v| v as u64);
        let swap_total = num(&status["swap"]["total"]).map_or(0, |v| v as u64);
        let recorded_uptime = num(&status["uptime"]).unwrap_or(86_400.0);
        let recorded_at = scenario.presented_at().map_or(now_ms as f64 / 1000.0, |t| t as f64);
        let boot_s = recorded_at - recorded_uptime;

        let mut guests = Vec::new();
        for (kind, list) in [(GuestType::Qemu, "qemu"), (GuestType::Lxc, "lxc")] {
            for g in get(&format!("/nodes/{node}/{list}")).map(|t| json_rows(&t)).unwrap_or_default() {
                if g["status"].as_str() != Some("running") {
                    continue;
                }
                let Some(vmid) = num(&g["vmid"]) else { continue };
                let f = |k: &str| num(&g[k]).unwrap_or(0.0);
                guests.push(Guest {
                    vmid: vmid as u32,
                    kind,
                    name: g["name"].as_str().unwrap_or("").to_string(),
                    pid: num(&g["pid"]).map(|p| p as u32),
                    cpus: f("cpus").max(1.0),
                    cpu: f("cpu"),
                    mem: f("mem"),
                    maxmem: f("maxmem"),
                    uptime: f("uptime").clamp(0.0, recorded_uptime),
                    paused: g["qmpstatus"].as_str() == Some("paused"),
                });
            }
        }
        guests.sort_by_key(|g| g.vmid);

        // CPU: 15-35 % of the threads busy over the day, each thread a little different.
        let busy: Vec<Wave> = (0..threads)
            .map(|i| {
                let skew = 0.75 + 0.5 * ((mix(i as u64) % 1000) as f64 / 1000.0);
                Wave::new(&format!("cpu{i}"), 0.25 * skew, 0.3, 0.45, boot_s)
            })
            .collect();
        let iowait =
            (0..threads).map(|i| Wave::new(&format!("iowait{i}"), 0.004, 0.3, 0.6, boot_s)).collect();
        let busy_total = busy.iter().fold(Wave::zero(), |acc, w| acc.plus(w));

        let guests_mem: f64 = guests.iter().map(|g| g.mem).sum();
        let total = mem_total as f64;
        let host_mem = Wave::shaped("host-mem", 3.1 * GIB, 0.04, 0.05, &DRIFT, boot_s);
        let cache = Wave::shaped("page-cache", (total * 0.03).max(0.5 * GIB), 0.1, 0.15, &DRIFT, boot_s);
        // The ARC fills what the guests leave, up to half of RAM (the OpenZFS default on Linux).
        let arc_max = total / 2.0;
        let arc_mean = ((total - guests_mem) * 0.3).clamp(0.5 * GIB, arc_max * 0.95);
        let arc = Wave::shaped("arc", arc_mean, 0.03, 0.04, &DRIFT, boot_s);

        let procs = processes(scenario, &guests, recorded_uptime, busy_total.mean);
        let nics = nics(dir, &guests, recorded_uptime, boot_s);
        let disks = disks(scenario, boot_s);

        Synth {
            boot_s,
            recorded_uptime,
            mem_total,
            swap_total,
            guests_mem,
            busy,
            iowait,
            busy_total,
            host_mem,
            cache,
            arc,
            arc_max,
            psi_mem: Wave::new("psi-memory", 0.0006, 0.3, 0.6, boot_s),
            psi_io: Wave::new("psi-io", 0.006, 0.3, 0.6, boot_s),
            forks: Wave::new("forks", 14.0, 0.3, 0.5, boot_s),
            ctxt: Wave::new("ctxt", 9_000.0 * threads as f64, 0.3, 0.4, boot_s),
            procs,
            nics,
            disks,
            guests,
        }
    }

    /// Seconds since boot at `now_ms`.
    fn t(&self, now_ms: i64) -> f64 {
        (now_ms as f64 / 1000.0 - self.boot_s).max(1.0)
    }

    /// The generated file at `path`, or `None` when it is not one this host generates.
    pub fn file(&self, path: &str, now_ms: i64) -> Option<Vec<u8>> {
        let t = self.t(now_ms);
        let text = match path {
            "/proc/stat" => self.stat(t),
            "/proc/meminfo" => self.meminfo(t),
            "/proc/loadavg" => self.loadavg(t),
            "/proc/uptime" => self.uptime(t),
            "/proc/pressure/cpu" => self.pressure_cpu(t),
            "/proc/pressure/memory" => psi_text(&self.psi_mem, &self.psi_mem.scaled(0.4), t),
            "/proc/pressure/io" => psi_text(&self.psi_io, &self.psi_io.scaled(0.6), t),
            "/proc/net/dev" => self.net_dev(t),
            "/proc/diskstats" => self.diskstats(t),
            "/proc/spl/kstat/zfs/arcstats" => self.arcstats(t),
            _ => {
                if let Some(rest) = path.strip_prefix("/sys/class/net/") {
                    return self.nic_stat(rest, t).map(|v| format!("{v}\n").into_bytes());
                }
                let (pid, file) = path.strip_prefix("/proc/")?.split_once('/')?;
                let p = self.procs.iter().find(|p| p.pid.to_string() == pid)?;
                return self.proc_file(p, file, t);
            }
        };
        Some(text.into_bytes())
    }

    /// The generated entries of directory `path` (merged with the scenario's own by the caller).
    pub fn dir(&self, path: &str) -> Option<Vec<String>> {
        let names: Vec<String> = match path.trim_end_matches('/') {
            "/proc" => {
                let mut v: Vec<String> =
                    ["stat", "meminfo", "loadavg", "uptime", "diskstats", "pressure", "net", "spl"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                v.extend(self.procs.iter().map(|p| p.pid.to_string()));
                v
            }
            "/proc/pressure" => vec!["cpu".into(), "io".into(), "memory".into()],
            "/proc/net" => vec!["dev".into()],
            "/proc/spl" => vec!["kstat".into()],
            "/proc/spl/kstat" => vec!["zfs".into()],
            "/proc/spl/kstat/zfs" => vec!["arcstats".into()],
            p => {
                let pid = p.strip_prefix("/proc/")?;
                self.procs.iter().find(|x| x.pid.to_string() == pid)?;
                PROC_FILES.iter().map(|s| s.to_string()).collect()
            }
        };
        Some(names)
    }

    pub fn exists(&self, path: &str) -> bool {
        if self.dir(path).is_some() {
            return true;
        }
        match path.strip_prefix("/proc/").and_then(|r| r.split_once('/')) {
            Some((pid, file)) if pid.bytes().all(|b| b.is_ascii_digit()) => {
                PROC_FILES.contains(&file) && self.procs.iter().any(|p| p.pid.to_string() == pid)
            }
            _ => self.file(path, (self.boot_s * 1000.0) as i64 + 1000).is_some(),
        }
    }

    // ------------------------------------------------------------------------------- /proc/stat

    fn cpu_fields(&self, i: usize, t: f64) -> [u64; 10] {
        let b = self.busy[i].integral(t) * HZ;
        let w = self.iowait[i].integral(t) * HZ;
        let f = |x: f64| x.max(0.0).floor() as u64;
        // Busy time splits into fixed shares; each is its own floor so each counter only grows.
        let user = f(b * 0.70);
        let idle = f(t * HZ - b - w);
        // Guest time (QEMU's vCPUs) is included in user by the kernel; most of this host's user is.
        [user, f(b * 0.01), f(b * 0.21), idle, f(w), f(b * 0.02), f(b * 0.06), 0, f(b * 0.45), 0]
    }

    fn stat(&self, t: f64) -> String {
        let rows: Vec<[u64; 10]> = (0..self.busy.len()).map(|i| self.cpu_fields(i, t)).collect();
        let mut sum = [0u64; 10];
        for r in &rows {
            for (s, v) in sum.iter_mut().zip(r) {
                *s += v;
            }
        }
        let line = |name: &str, f: &[u64; 10]| {
            let vals: Vec<String> = f.iter().map(u64::to_string).collect();
            format!("{name} {}\n", vals.join(" "))
        };
        let mut out = line("cpu ", &sum);
        for (i, r) in rows.iter().enumerate() {
            out.push_str(&line(&format!("cpu{i}"), r));
        }
        let ctxt = self.ctxt.integral(t) as u64;
        let intr = (ctxt as f64 * 0.6) as u64;
        let _ = writeln!(out, "intr {intr} 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0");
        let _ = writeln!(out, "ctxt {ctxt}");
        let _ = writeln!(out, "btime {}", self.boot_s.round() as i64);
        let _ = writeln!(out, "processes {}", self.forks.integral(t) as u64);
        let _ = writeln!(out, "procs_running {}", (self.busy_total.at(t).round() as u64).max(1));
        let _ = writeln!(out, "procs_blocked {}", u64::from(self.psi_io.at(t) > 0.0075));
        let soft = (ctxt as f64 * 0.3) as u64;
        let _ = writeln!(
            out,
            "softirq {soft} 0 {} 0 {} 0 0 {} {} 0 {}",
            soft / 4,
            soft / 8,
            soft / 16,
            soft / 3,
            soft / 5
        );
        out
    }

    // ---------------------------------------------------------------------------- memory, load

    fn meminfo(&self, t: f64) -> String {
        let total = self.mem_total as f64;
        let anon = self.guests_mem + self.host_mem.at(t);
        let cached = self.cache.at(t);
        let buffers = 0.09 * cached;
        let sreclaimable = 0.4 * cached;
        let sunreclaim = 0.012 * total;
        let kernel = 0.006 * total; // page tables, kernel stacks, vmalloc
        let arc = self.arc.at(t);
        let free =
            (total - anon - cached - buffers - sreclaimable - sunreclaim - kernel - arc).max(0.02 * total);
        // MemAvailable leaves the ARC out (the kernel does not know it can shrink), as on a real host.
        let available = free + buffers + cached * 0.95 + sreclaimable * 0.9;
        let kb = |v: f64| (v.max(0.0) / KIB as f64) as u64;
        let rows: [(&str, u64); 24] = [
            ("MemTotal", self.mem_total / KIB),
            ("MemFree", kb(free)),
            ("MemAvailable", kb(available)),
            ("Buffers", kb(buffers)),
            ("Cached", kb(cached)),
            ("SwapCached", 0),
            ("Active", kb(anon * 0.7 + cached * 0.5)),
            ("Inactive", kb(anon * 0.3 + cached * 0.5)),
            ("Unevictable", kb(0.0002 * total)),
            ("Mlocked", kb(0.0002 * total)),
            ("SwapTotal", self.swap_total / KIB),
            ("SwapFree", self.swap_total / KIB),
            ("Dirty", kb(8.0 * 1024.0 * 1024.0 * (1.0 + self.psi_io.at(t) * 50.0))),
            ("Writeback", 0),
            ("AnonPages", kb(anon)),
            ("Mapped", kb(0.2 * cached)),
            ("Shmem", kb(0.03 * cached)),
            ("KReclaimable", kb(sreclaimable)),
            ("Slab", kb(sreclaimable + sunreclaim)),
            ("SReclaimable", kb(sreclaimable)),
            ("SUnreclaim", kb(sunreclaim)),
            ("KernelStack", kb(0.0002 * total)),
            ("PageTables", kb(0.002 * total)),
            ("Hugepagesize", 2048),
        ];
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{:<16}{v:>8} kB", format!("{k}:"));
        }
        out
    }

    /// Runnable tasks: the busy cores plus a few waiting on I/O, averaged like the kernel's load.
    fn load(&self) -> Wave {
        self.busy_total.scaled(1.08).plus(&Wave { mean: 0.35, terms: Vec::new() })
    }

    fn loadavg(&self, t: f64) -> String {
        let l = self.load();
        let total = self.procs.iter().map(|p| p.threads as u64).sum::<u64>() + 640;
        let last_pid = 4096 + self.forks.integral(t) as u64 % (4_194_304 - 4096);
        format!(
            "{:.2} {:.2} {:.2} {}/{total} {last_pid}\n",
            l.avg(t, 60.0),
            l.avg(t, 300.0),
            l.avg(t, 900.0),
            (self.busy_total.at(t).round() as u64).max(1)
        )
    }

    fn uptime(&self, t: f64) -> String {
        let idle: f64 = (0..self.busy.len()).map(|i| self.cpu_fields(i, t)[3] as f64 / HZ).sum();
        format!("{t:.2} {idle:.2}\n")
    }

    /// CPU pressure grows with how busy the host is; the system-wide `full` line is always 0.
    fn pressure_cpu(&self, t: f64) -> String {
        let threads = self.busy.len().max(1) as f64;
        let some = self.busy_total.scaled(0.07 / threads).plus(&Wave { mean: 0.003, terms: Vec::new() });
        psi_text(&some, &Wave::zero(), t)
    }

    // -------------------------------------------------------------------------------- network

    fn nic_counters(&self, n: &Nic, t: f64) -> (u64, u64) {
        let grow = |w: &Wave, base: u64| {
            base + (w.integral(t) - w.integral(self.recorded_uptime)).max(0.0).floor() as u64
        };
        (grow(&n.rx, n.rx_base), grow(&n.tx, n.tx_base))
    }

    fn net_dev(&self, t: f64) -> String {
        let mut out = String::from(
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
        );
        for n in &self.nics {
            let (rx, tx) = self.nic_counters(n, t);
            let _ = writeln!(
                out,
                "{:>6}: {rx} {} {} {} 0 0 0 {} {tx} {} {} {} 0 0 0 0",
                n.name,
                rx / 800,
                n.rx_errors,
                n.rx_drops,
                rx / 80_000,
                tx / 640,
                n.tx_errors,
                n.tx_drops
            );
        }
        out
    }

    fn nic_stat(&self, rest: &str, t: f64) -> Option<u64> {
        let (name, file) = rest.split_once("/statistics/")?;
        let n = self.nics.iter().find(|n| n.name == name)?;
        let (rx, tx) = self.nic_counters(n, t);
        match file {
            "rx_bytes" => Some(rx),
            "tx_bytes" => Some(tx),
            "rx_packets" => Some(rx / 800),
            "tx_packets" => Some(tx / 640),
            _ => None,
        }
    }

    // ---------------------------------------------------------------------------------- disks

    fn diskstats(&self, t: f64) -> String {
        let mut out = String::new();
        for d in &self.disks {
            let (r, w) = (d.read.integral(t).max(0.0), d.write.integral(t).max(0.0));
            let (reads, writes) = ((r / d.read_size) as u64, (w / d.write_size) as u64);
            let (rms, wms) =
                ((reads as f64 * d.latency_ms) as u64, (writes as f64 * d.latency_ms * 0.6) as u64);
            let io_ms = ((r + w) / d.capacity * 1000.0) as u64;
            let flushes = writes / 40;
            let _ = writeln!(
                out,
                "{:>4} {:>7} {} {reads} {} {} {rms} {writes} {} {} {wms} 0 {io_ms} {} 0 0 0 0 {flushes} {}",
                d.major,
                d.minor,
                d.name,
                reads / 9,
                (r / 512.0) as u64,
                writes / 3,
                (w / 512.0) as u64,
                rms + wms,
                flushes / 2
            );
        }
        out
    }

    fn arcstats(&self, t: f64) -> String {
        let size = self.arc.at(t).max(0.0) as u64;
        let reads = self.busy_total.scaled(2_000.0).integral(t);
        let hits = (reads * 0.97) as u64;
        let misses = (reads * 0.03) as u64;
        let rows: [(&str, u64); 14] = [
            ("hits", hits),
            ("misses", misses),
            ("demand_data_hits", hits / 2),
            ("demand_data_misses", misses / 2),
            ("size", size),
            ("c", (size as f64 * 1.01) as u64),
            ("c_min", self.mem_total / 32),
            ("c_max", self.arc_max as u64),
            ("data_size", (size as f64 * 0.78) as u64),
            ("metadata_size", (size as f64 * 0.18) as u64),
            ("l2_hits", misses / 3),
            ("l2_misses", misses - misses / 3),
            ("l2_size", 180 << 30),
            ("memory_all_bytes", self.mem_total),
        ];
        let now_ns = (t * 1e9) as u64;
        let mut out = format!("13 1 0x01 {} {} 4017539142 {now_ns}\n", rows.len(), rows.len() * 40);
        out.push_str("name                            type data\n");
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<32}4    {v}");
        }
        out
    }

    // ------------------------------------------------------------------------------ processes

    fn ticks(&self, p: &Proc, t: f64) -> (u64, u64) {
        if t <= p.start_s {
            return (0, 0);
        }
        let used = p.share * (self.busy_total.integral(t) - self.busy_total.integral(p.start_s)) * HZ;
        ((used * 0.82) as u64, (used * 0.18) as u64)
    }

    fn proc_file(&self, p: &Proc, file: &str, t: f64) -> Option<Vec<u8>> {
        let text = match file {
            "stat" => {
                let (utime, stime) = self.ticks(p, t);
                let running = !p.sleeping && p.share * self.busy_total.at(t) > 0.5;
                let state = if running {
                    'R'
                } else if p.kthread && p.share == 0.0 {
                    'I'
                } else {
                    'S'
                };
                let start = (p.start_s * HZ) as u64;
                let flags = if p.kthread { 0x0020_8040 } else { 0x0040_0100 };
                let vsize = if p.kthread { 0 } else { p.rss_kib * 1024 * 3 };
                let rss_pages = if p.kthread { 0 } else { p.rss_kib / 4 };
                format!(
                    "{} ({}) {state} {} {} {} 0 -1 {flags} {} 0 {} 0 {utime} {stime} 0 0 20 0 {} 0 {start} {vsize} {rss_pages} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 {} 0 0 0 0 0\n",
                    p.pid,
                    p.comm,
                    p.ppid,
                    p.pid,
                    p.pid,
                    (utime + stime) * 3,
                    (utime + stime) / 500,
                    p.threads,
                    p.pid % self.busy.len().max(1) as u32,
                )
            }
            "status" => {
                let mut s = format!(
                    "Name:\t{}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{}\nTracerPid:\t0\n\
                     Uid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{u}\t{u}\t{u}\t{u}\nFDSize:\t64\nGroups:\t\n",
                    p.comm,
                    p.ppid,
                    pid = p.pid,
                    u = p.uid
                );
                if !p.kthread {
                    let _ = write!(
                        s,
                        "VmPeak:\t{} kB\nVmSize:\t{} kB\nVmHWM:\t{} kB\nVmRSS:\t{} kB\nRssAnon:\t{} kB\nRssFile:\t{} kB\n",
                        p.rss_kib * 3,
                        p.rss_kib * 3,
                        p.rss_kib,
                        p.rss_kib,
                        p.rss_kib * 9 / 10,
                        p.rss_kib / 10
                    );
                }
                let _ = writeln!(s, "Threads:\t{}", p.threads);
                s
            }
            "cmdline" => {
                let mut b = Vec::new();
                for a in &p.args {
                    b.extend_from_slice(a.as_bytes());
                    b.push(0);
                }
                return Some(b);
            }
            "comm" => format!("{}\n", p.comm),
            "cgroup" => format!("0::/{}\n", p.cgroup),
            _ => return None,
        };
        Some(text.into_bytes())
    }
}

const PROC_FILES: &[&str] = &["cgroup", "cmdline", "comm", "stat", "status"];

fn psi_text(some: &Wave, full: &Wave, t: f64) -> String {
    let line = |kind: &str, w: &Wave| {
        let pct = |win: f64| (w.avg(t, win) * 100.0).max(0.0);
        format!(
            "{kind} avg10={:.2} avg60={:.2} avg300={:.2} total={}\n",
            pct(10.0),
            pct(60.0),
            pct(300.0),
            (w.integral(t).max(0.0) * 1e6) as u64
        )
    };
    line("some", some) + &line("full", full)
}

/// The process table: the host's daemons and kernel threads, a QEMU per running VM, an LXC monitor,
/// init and services per running CT, and any process the scenario records under `proc/<pid>/`.
fn processes(scenario: &Scenario, guests: &[Guest], uptime: f64, busy_mean: f64) -> Vec<Proc> {
    let mut procs = Vec::new();
    let cg = |unit: &str| unit.to_string();
    for &(pid, comm, args, uid, unit, share, rss_mib, threads) in DAEMONS {
        procs.push(Proc {
            pid,
            ppid: if pid == 1 { 0 } else { 1 },
            comm: comm.into(),
            args: args.split(' ').map(str::to_string).collect(),
            uid,
            cgroup: cg(unit),
            start_s: 4.0 + f64::from(pid) / 200.0,
            share,
            rss_kib: rss_mib * 1024,
            threads,
            kthread: false,
            sleeping: false,
        });
    }
    for &(pid, comm, share) in KTHREADS {
        procs.push(Proc {
            pid,
            ppid: if pid == 2 { 0 } else { 2 },
            comm: comm.into(),
            args: Vec::new(),
            uid: 0,
            cgroup: String::new(),
            start_s: 0.5,
            share,
            rss_kib: 0,
            threads: 1,
            kthread: true,
            sleeping: false,
        });
    }
    // Guests get 78 % of the busy time, in proportion to the CPU the recording saw them use.
    let weight = |g: &Guest| if g.paused { 0.0005 } else { (g.cpu * g.cpus).max(0.003) };
    let sum: f64 = guests.iter().map(weight).sum::<f64>().max(1e-9);
    let mut next_pid = 2_100_000u32;
    let mut fresh = || {
        next_pid += 7;
        next_pid
    };
    for g in guests {
        let share = 0.78 * weight(g) / sum;
        let start_s = (uptime - g.uptime).max(30.0);
        let pid = g.pid.unwrap_or_else(&mut fresh);
        let id = g.vmid.to_string();
        match g.kind {
            GuestType::Qemu => {
                let mib = (g.maxmem / (1024.0 * 1024.0)).round() as u64;
                let cpus = g.cpus as u32;
                let args = format!(
                    "/usr/bin/kvm -id {id} -name {},debug-threads=on -no-shutdown -chardev \
                     socket,id=qmp,path=/var/run/qemu-server/{id}.qmp,server=on,wait=off -mon chardev=qmp,mode=control \
                     -pidfile /var/run/qemu-server/{id}.pid -daemonize -smp {cpus},sockets=1,cores={cpus},maxcpus={cpus} \
                     -nodefaults -vnc unix:/var/run/qemu-server/{id}.vnc,password=on -cpu host,+kvm_pv_eoi,+kvm_pv_unhalt \
                     -m {mib} -machine type=pc-i440fx-8.1+pve0",
                    g.name
                );
                procs.push(Proc {
                    pid,
                    ppid: 1,
                    comm: "kvm".into(),
                    args: args.split(' ').map(str::to_string).collect(),
                    uid: 0,
                    cgroup: format!("qemu.slice/{id}.scope"),
                    start_s,
                    share,
                    // QEMU's own overhead on top of the guest's resident memory.
                    rss_kib: ((g.mem + 190.0 * 1024.0 * 1024.0) / 1024.0) as u64,
                    threads: cpus + 4,
                    kthread: false,
                    sleeping: g.paused,
                });
            }
            GuestType::Lxc => {
                // The recorded pid is the CT's init; its monitor (lxc-start) started just before.
                procs.push(Proc {
                    pid: pid.saturating_sub(1),
                    ppid: 1,
                    comm: "lxc-start".into(),
                    args: vec!["/usr/bin/lxc-start".into(), "-F".into(), "-n".into(), id.clone()],
                    uid: 0,
                    cgroup: format!("lxc.monitor/{id}"),
                    start_s: start_s - 0.5,
                    share: share * 0.01,
                    rss_kib: 2_400,
                    threads: 1,
                    kthread: false,
                    sleeping: false,
                });
                procs.push(Proc {
                    pid,
                    ppid: pid.saturating_sub(1),
                    comm: "systemd".into(),
                    args: vec!["/sbin/init".into()],
                    // An unprivileged CT's root is uid 100000 on the host.
                    uid: 100_000,
                    cgroup: format!("lxc/{id}/init.scope"),
                    start_s,
                    share: share * 0.01,
                    rss_kib: 11_000,
                    threads: 1,
                    kthread: false,
                    sleeping: false,
                });
                let services = ct_services(&g.name);
                let weights: f64 = services.iter().map(|s| s.3).sum();
                for (k, (comm, args, uid, w, mem)) in services.iter().enumerate() {
                    let unit = if *comm == "systemd-journal" { "systemd-journald" } else { comm };
                    procs.push(Proc {
                        pid: pid + 40 + 23 * k as u32,
                        ppid: pid,
                        comm: (*comm).into(),
                        args: args.split(' ').map(str::to_string).collect(),
                        uid: 100_000 + uid,
                        cgroup: format!("lxc/{id}/ns/system.slice/{unit}.service"),
                        start_s: start_s + 2.0 + k as f64,
                        share: share * 0.98 * w / weights,
                        rss_kib: (g.mem * mem / 1024.0) as u64,
                        threads: 1 + (*w * 10.0) as u32,
                        kthread: false,
                        sleeping: false,
                    });
                }
            }
        }
    }
    // Processes the scenario records itself (the GPU's compute process in CT 201): their cgroup,
    // comm and cmdline are the recording's; they get a small share of CPU.
    let proc_dir = scenario.dir.join("proc");
    for entry in std::fs::read_dir(&proc_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else { continue };
        if procs.iter().any(|p| p.pid == pid) {
            continue;
        }
        let Some(cgroup) = read_trim(&entry.path().join("cgroup")) else { continue };
        let cgroup = cgroup.lines().next().unwrap_or("").splitn(3, ':').nth(2).unwrap_or("/");
        let args: Vec<String> = std::fs::read(entry.path().join("cmdline"))
            .map(|b| {
                b.split(|c| *c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let comm = read_trim(&entry.path().join("comm"))
            .or_else(|| args.first().map(|a| a.rsplit('/').next().unwrap_or(a).to_string()))
            .unwrap_or_else(|| "unknown".into());
        procs.push(Proc {
            pid,
            ppid: 1,
            comm,
            args,
            uid: 100_033,
            cgroup: cgroup.trim_start_matches('/').to_string(),
            start_s: uptime * 0.5,
            share: (0.4 / busy_mean.max(1.0)).min(0.05),
            rss_kib: 1_900_000,
            threads: 12,
            kthread: false,
            sleeping: false,
        });
    }
    procs.sort_by_key(|p| p.pid);
    procs.dedup_by_key(|p| p.pid);
    procs
}

/// The guest a NIC belongs to, from Proxmox's names (`tap100i0`, `veth200i0`, `fwbr100i0`, `fwpr100p0`).
fn nic_vmid(name: &str) -> Option<u32> {
    let rest = ["tap", "veth", "fwbr", "fwln", "fwpr"].iter().find_map(|p| name.strip_prefix(p))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[digits.len()..];
    (tail.starts_with('i') || tail.starts_with('p')).then(|| digits.parse().ok()).flatten()
}

/// Every NIC the scenario records under `sys/class/net`, plus `lo`. Each moves at its own recorded
/// lifetime average (counter / the time it has been up: the guest's uptime for a guest's tap or veth),
/// swinging over the day; a NIC without carrier or of a guest that is not running moves nothing.
fn nics(dir: &Path, guests: &[Guest], uptime: f64, boot_s: f64) -> Vec<Nic> {
    let base = dir.join("sys/class/net");
    let mut names: Vec<String> = std::fs::read_dir(&base)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = vec![Nic {
        name: "lo".into(),
        rx: Wave::new("lo", 60_000.0, 0.3, 0.5, boot_s),
        tx: Wave::new("lo", 60_000.0, 0.3, 0.5, boot_s),
        rx_base: (60_000.0 * uptime) as u64,
        tx_base: (60_000.0 * uptime) as u64,
        rx_errors: 0,
        tx_errors: 0,
        rx_drops: 0,
        tx_drops: 0,
    }];
    for name in names {
        let read = |f: &str| read_trim(&base.join(&name).join(f));
        let stat =
            |f: &str| read(&format!("statistics/{f}")).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        let (rx_base, tx_base) = (stat("rx_bytes"), stat("tx_bytes"));
        let down =
            read("carrier").is_some_and(|c| c == "0") || read("operstate").is_some_and(|s| s == "down");
        let (alive, lifetime) = match nic_vmid(&name) {
            Some(id) => match guests.iter().find(|g| g.vmid == id) {
                Some(g) => (!g.paused, g.uptime.max(60.0)),
                None => (false, uptime),
            },
            None => (!down, uptime),
        };
        let rate = |b: u64, dir: &str| {
            let mean = if alive { b as f64 / lifetime.max(1.0) } else { 0.0 };
            Wave::new(&format!("{name}/{dir}"), mean, 0.45, 0.45, boot_s)
        };
        out.push(Nic {
            rx: rate(rx_base, "rx"),
            tx: rate(tx_base, "tx"),
            rx_base,
            tx_base,
            rx_errors: stat("rx_errors"),
            tx_errors: stat("tx_errors"),
            rx_drops: stat("rx_dropped"),
            tx_drops: stat("tx_dropped"),
            name,
        });
    }
    out
}

/// The block devices `lsblk` lists, with I/O by kind: SATA SSDs write more than they read (rpool,
/// LVM-thin), HDDs read (the raidz), the NVMe (an L2ARC) is read from. A disk that a pool has
/// FAULTED or that sleeps (`smartctl -n standby` exits 2) stays still; partitions carry their disk's
/// traffic and zvols a little of their own.
fn disks(scenario: &Scenario, boot_s: f64) -> Vec<Disk> {
    let Some(argv) = scenario.argvs().find(|a| a.first().is_some_and(|p| p == "lsblk")).cloned() else {
        return Vec::new();
    };
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let Ok(out) = scenario.answer(&argv) else { return Vec::new() };
    let Ok(v) = serde_json::from_str::<Value>(&out.stdout) else { return Vec::new() };
    let faulted: Vec<String> = scenario
        .answer(&["zpool", "status"])
        .map(|o| o.stdout)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 2 && ["FAULTED", "UNAVAIL", "OFFLINE", "REMOVED"].contains(&f[1]))
                .then(|| f[0].to_string())
        })
        .collect();
    // Only disks the scenario recorded SMART for (not zvols, not an NVMe namespace read through its
    // controller): asking the replay for an argv it lacks logs an error.
    let asleep = |name: &str| {
        let argv = ["smartctl", "-a", "-j", "-n", "standby", &format!("/dev/{name}")].map(str::to_string);
        scenario.argvs().any(|a| a[..] == argv[..])
            && scenario
                .answer(&argv.each_ref().map(String::as_str))
                .is_ok_and(|o| o.code & 2 != 0 && o.stdout.contains("STANDBY"))
    };
    let mut out = Vec::new();
    let (mut sd, mut nvme, mut zd) = (0u32, 0u32, 0u32);
    for d in v["blockdevices"].as_array().into_iter().flatten() {
        let name = d["name"].as_str().unwrap_or("").to_string();
        let serial = d["serial"].as_str().unwrap_or("");
        let still =
            asleep(&name) || faulted.iter().any(|f| f == &name || (!serial.is_empty() && f.contains(serial)));
        let rota = d["rota"].as_bool().unwrap_or(false) || d["rota"].as_str() == Some("1");
        let (major, minor, mean_r, mean_w, rs, ws, lat, cap) = if name.starts_with("nvme") {
            nvme += 1;
            (259, (nvme - 1) * 3, 2.6e6, 0.5e6, 32_768.0, 65_536.0, 0.08, 1.5e9)
        } else if name.starts_with("zd") {
            zd += 1;
            (230, (zd - 1) * 16, 40e3, 90e3, 16_384.0, 16_384.0, 0.3, 1.0e9)
        } else if rota {
            sd += 1;
            (8, (sd - 1) * 16, 3.4e6, 1.3e6, 98_304.0, 131_072.0, 7.5, 2.0e8)
        } else {
            sd += 1;
            (8, (sd - 1) * 16, 1.1e6, 2.6e6, 16_384.0, 24_576.0, 0.25, 5.0e8)
        };
        let scale = if still { 0.0 } else { 1.0 };
        let wave = |dir: &str, mean: f64| Wave::new(&format!("{name}/{dir}"), mean * scale, 0.5, 0.5, boot_s);
        let disk = Disk {
            name: name.clone(),
            major,
            minor,
            read: wave("r", mean_r),
            write: wave("w", mean_w),
            read_size: rs,
            write_size: ws,
            latency_ms: lat,
            capacity: cap,
        };
        // The largest partition carries the disk's traffic; the others (boot, ESP, ZFS's 8 MiB
        // reserved) next to nothing.
        let children: Vec<&Value> = d["children"].as_array().into_iter().flatten().collect();
        let biggest = children
            .iter()
            .max_by(|a, b| num(&a["size"]).unwrap_or(0.0).total_cmp(&num(&b["size"]).unwrap_or(0.0)))
            .and_then(|c| c["name"].as_str())
            .map(str::to_string);
        let parts: Vec<Disk> = children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pname = c["name"].as_str().unwrap_or("").to_string();
                let k = if Some(&pname) == biggest.as_ref() { 0.995 } else { 1e-4 };
                Disk {
                    name: pname,
                    minor: minor + 1 + i as u32,
                    read: disk.read.scaled(k),
                    write: disk.write.scaled(k),
                    ..disk.clone()
                }
            })
            .collect();
        out.push(disk);
        out.extend(parts);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::procfs;
    use std::collections::BTreeMap;

    fn demo() -> Synth {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let mut s = Scenario::load(&dir).unwrap();
        s.shift_to(NOW / 1000);
        Synth::new(&s, NOW)
    }

    const NOW: i64 = 1_760_000_000_000;

    fn read(s: &Synth, path: &str, now: i64) -> String {
        String::from_utf8(s.file(path, now).unwrap_or_else(|| panic!("{path} not generated"))).unwrap()
    }

    #[test]
    fn the_demo_host_is_the_recorded_one() {
        let s = demo();
        assert_eq!(s.busy.len(), 32, "threads from the scenario's cpuinfo");
        let running: Vec<u32> = s.guests.iter().map(|g| g.vmid).collect();
        assert_eq!(running, [100, 101, 103, 105, 200, 201, 204], "the running guests of the pvesh lists");
        let mem = procfs::parse_meminfo(&read(&s, "/proc/meminfo", NOW)).unwrap();
        assert_eq!(mem.total, 134_850_146_304);
        let stat = procfs::parse_stat(&read(&s, "/proc/stat", NOW)).unwrap();
        assert_eq!(stat.cores.len(), 32);
        let uptime = procfs::parse_uptime(&read(&s, "/proc/uptime", NOW)).unwrap();
        // Recorded 1215432 s at the (shifted) recording instant, which lies < 1 min before NOW.
        assert!((1_215_432.0..1_215_432.0 + 60.0).contains(&uptime), "{uptime}");
        let btime = stat.btime.unwrap() as f64;
        assert!((btime + uptime - NOW as f64 / 1000.0).abs() < 1.0, "btime + uptime = now");
        let later = procfs::parse_uptime(&read(&s, "/proc/uptime", NOW + 3_600_000)).unwrap();
        assert!((later - uptime - 3600.0).abs() < 0.01);
    }

    #[test]
    fn counters_only_grow_and_rates_are_plausible() {
        let s = demo();
        let mut prev: Option<(procfs::Stat, Vec<procfs::NetCounters>, Vec<procfs::DiskCounters>)> = None;
        // Irregular steps, sub-second to an hour, over two days.
        let mut t = NOW;
        for k in 0..400i64 {
            t += [250, 1000, 1000, 3000, 61_000, 3_600_000][(k % 6) as usize] + k * 7;
            let stat = procfs::parse_stat(&read(&s, "/proc/stat", t)).unwrap();
            let net = procfs::parse_net_dev(&read(&s, "/proc/net/dev", t)).unwrap();
            let disks = procfs::parse_diskstats(&read(&s, "/proc/diskstats", t)).unwrap();
            if let Some((ps, pn, pd)) = &prev {
                for (c, p) in stat.cores.iter().zip(&ps.cores).chain([(&stat.total, &ps.total)]) {
                    for (a, b) in [
                        (c.user, p.user),
                        (c.nice, p.nice),
                        (c.system, p.system),
                        (c.idle, p.idle),
                        (c.iowait, p.iowait),
                        (c.irq, p.irq),
                        (c.softirq, p.softirq),
                    ] {
                        assert!(a >= b, "cpu counter went back at {t}");
                    }
                }
                for (n, p) in net.iter().zip(pn) {
                    assert!(n.rx_bytes >= p.rx_bytes && n.tx_bytes >= p.tx_bytes, "{} at {t}", n.name);
                }
                for (d, p) in disks.iter().zip(pd) {
                    assert!(d.read_sectors >= p.read_sectors && d.writes >= p.writes, "{}", d.name);
                    assert!(d.io_ms >= p.io_ms);
                }
            }
            prev = Some((stat, net, disks));
        }

        // Over a day sampled each second-ish: CPU busy 10-40 %, load 3-12, memory used 20-40 %.
        let mut busy = Vec::new();
        for k in 0..96 {
            let t0 = NOW + k * 900_000;
            let a = procfs::parse_stat(&read(&s, "/proc/stat", t0)).unwrap().total;
            let b = procfs::parse_stat(&read(&s, "/proc/stat", t0 + 1000)).unwrap().total;
            let idle = (b.idle - a.idle + b.iowait - a.iowait) as f64 / (b.total() - a.total()) as f64;
            busy.push(1.0 - idle);
            let load = procfs::parse_loadavg(&read(&s, "/proc/loadavg", t0)).unwrap();
            assert!(load.iter().all(|l| (2.5..13.0).contains(l)), "{load:?}");
            let m = procfs::parse_meminfo(&read(&s, "/proc/meminfo", t0)).unwrap();
            let arc = procfs::parse_arc_size(&read(&s, "/proc/spl/kstat/zfs/arcstats", t0)).unwrap();
            let used = (m.total - m.available - arc) as f64 / m.total as f64;
            assert!((0.2..0.4).contains(&used), "{used}");
            assert!((20.0 * GIB..45.0 * GIB).contains(&(arc as f64)), "{arc}");
            for res in ["cpu", "memory", "io"] {
                let path = format!("/proc/pressure/{res}");
                let p = procfs::parse_pressure(&path, &read(&s, &path, t0)).unwrap();
                assert!((0.0..5.0).contains(&p.some.avg10), "{res}: {p:?}");
            }
        }
        let (lo, hi) = busy.iter().fold((1.0f64, 0.0f64), |(l, h), b| (l.min(*b), h.max(*b)));
        assert!(lo > 0.08 && hi < 0.45 && hi - lo > 0.08, "busy {lo}..{hi}");
    }

    #[test]
    fn nics_and_disks_follow_the_scenario() {
        let s = demo();
        let rates = |path: &str| {
            let a = read(&s, path, NOW);
            let b = read(&s, path, NOW + 1000);
            (a, b)
        };
        let (a, b) = rates("/proc/net/dev");
        let (a, b) = (procfs::parse_net_dev(&a).unwrap(), procfs::parse_net_dev(&b).unwrap());
        let rate = |name: &str| {
            let (x, y) =
                (a.iter().find(|n| n.name == name).unwrap(), b.iter().find(|n| n.name == name).unwrap());
            (y.rx_bytes - x.rx_bytes, y.tx_bytes - x.tx_bytes)
        };
        for nic in ["eno1", "eno3", "vmbr0", "bond0", "tap101i0", "veth201i0"] {
            let (rx, tx) = rate(nic);
            assert!(rx > 1_000 && rx < 50_000_000 && tx > 100, "{nic}: {rx} {tx}");
        }
        assert_eq!(rate("eno2"), (0, 0), "eno2 has no carrier");
        assert_eq!(rate("tap103i0"), (0, 0), "VM 103 is paused");
        // /sys/class/net counters are the same counters, and start from the recorded ones.
        let eno1 = a.iter().find(|n| n.name == "eno1").unwrap();
        assert_eq!(
            read(&s, "/sys/class/net/eno1/statistics/rx_bytes", NOW).trim(),
            eno1.rx_bytes.to_string()
        );
        assert!(eno1.rx_bytes >= 918_334_220_114);
        assert_eq!(eno1.rx_errors, 0);
        let eno2 = a.iter().find(|n| n.name == "eno2").unwrap();
        assert_eq!(eno2.rx_errors, 41, "the recorded errors stay");

        let (a, b) = rates("/proc/diskstats");
        let (a, b) = (procfs::parse_diskstats(&a).unwrap(), procfs::parse_diskstats(&b).unwrap());
        let names: Vec<&str> = a.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sda", "sdb", "sdc", "sdd", "sde", "sdf", "sdg", "nvme0n1"]);
        for (x, y) in a.iter().zip(&b) {
            let moved = y.read_sectors + y.write_sectors - x.read_sectors - x.write_sectors;
            let still = x.name == "sde" || x.name == "sdg";
            assert_eq!(moved == 0, still, "{}: {moved} sectors in 1 s", x.name);
            assert!(moved * 512 < 100_000_000);
        }
    }

    #[test]
    fn every_running_guest_has_attributed_processes() {
        let s = demo();
        let pids = s.dir("/proc").unwrap();
        let mut seen: BTreeMap<(bool, u32), f64> = BTreeMap::new();
        let later = NOW + 10_000;
        for pid in pids.iter().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) {
            let stat = procfs::parse_pid_stat(&read(&s, &format!("/proc/{pid}/stat"), NOW)).unwrap();
            let stat2 = procfs::parse_pid_stat(&read(&s, &format!("/proc/{pid}/stat"), later)).unwrap();
            assert_eq!(stat.starttime, stat2.starttime);
            assert!(stat2.utime + stat2.stime >= stat.utime + stat.stime);
            procfs::parse_pid_status(&read(&s, &format!("/proc/{pid}/status"), NOW)).unwrap();
            let args = procfs::split_cmdline(&s.file(&format!("/proc/{pid}/cmdline"), NOW).unwrap());
            let guest = procfs::guest_from_cgroup(&read(&s, &format!("/proc/{pid}/cgroup"), NOW))
                .or_else(|| procfs::vmid_from_kvm_cmdline(&args).map(|id| (procfs::GuestKind::Qemu, id)));
            if let Some(g) = guest {
                let cores = (stat2.utime + stat2.stime - stat.utime - stat.stime) as f64 / HZ / 10.0;
                *seen.entry((g.0 == procfs::GuestKind::Qemu, g.1)).or_default() += cores;
            }
        }
        for g in &s.guests {
            let kind = match g.kind {
                GuestType::Qemu => procfs::GuestKind::Qemu,
                GuestType::Lxc => procfs::GuestKind::Lxc,
            };
            assert!(
                seen.contains_key(&(kind == procfs::GuestKind::Qemu, g.vmid)),
                "no process for guest {}",
                g.vmid
            );
        }
        // VM 105, the busy CI runner, burns cores; the paused VM 103 nearly nothing.
        assert!(seen[&(true, 105)] > 1.0, "{seen:?}");
        assert!(seen[&(true, 103)] < 0.05, "{seen:?}");
        // The recorded GPU process keeps its CT.
        let cg = read(&s, "/proc/4194400/cgroup", NOW);
        assert_eq!(procfs::guest_from_cgroup(&cg), Some((procfs::GuestKind::Lxc, 201)));
        assert!(s.exists("/proc/100") || s.exists("/proc/2311/stat"));
        assert!(!s.exists("/proc/3/stat"));
    }

    #[test]
    fn waves_integrate_exactly() {
        let w = Wave::new("x", 10.0, 0.3, 0.5, 1_700_000_000.0);
        let (a, b) = (1000.0, 1000.5);
        let numeric: f64 = (0..1000).map(|k| w.at(a + (k as f64 + 0.5) * 0.0005)).sum::<f64>() * 0.0005;
        assert!((numeric - (w.integral(b) - w.integral(a))).abs() < 1e-6);
        assert!((0..100_000).all(|k| w.at(k as f64 * 3.7) > 0.0));
        assert!(owns("/proc") && owns("/proc/1/stat") && owns("/boot") && !owns("/procx") && !owns("/sys/x"));
    }
}
