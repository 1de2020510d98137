//! Parsers for the kernel's text files under `/proc` and `/sys` (formats per the kernel's
//! Documentation/filesystems/proc.rst, accounting/psi.rst and hwmon/sysfs-interface.rst, and OpenZFS's
//! kstat format for `arcstats`). Everything here is pure: text in, typed value or a parse error out.

use std::collections::HashMap;

use crate::host::ToolError;
pub use crate::model::counters::{CpuTimes, DiskCounters, Meminfo, NetCounters, Pressure, PsiLine};

fn num<T: std::str::FromStr>(what: &str, line_no: usize, line: &str, field: &str) -> Result<T, ToolError> {
    field.parse().map_err(|_| ToolError::parse(what, line_no, line, format!("`{field}` is not a number")))
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    pub total: CpuTimes,
    pub cores: Vec<CpuTimes>,
    /// Boot time, seconds since the epoch.
    pub btime: Option<u64>,
}

pub fn parse_stat(text: &str) -> Result<Stat, ToolError> {
    const WHAT: &str = "/proc/stat";
    let mut stat = Stat::default();
    let mut saw_total = false;
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        if let Some(idx) = key.strip_prefix("cpu") {
            let vals: Vec<u64> = fields.map(|f| num(WHAT, i + 1, line, f)).collect::<Result<_, _>>()?;
            if vals.len() < 4 {
                return Err(ToolError::parse(WHAT, i + 1, line, "a cpu line needs at least 4 counters"));
            }
            let g = |n: usize| vals.get(n).copied().unwrap_or(0);
            let t = CpuTimes {
                user: g(0),
                nice: g(1),
                system: g(2),
                idle: g(3),
                iowait: g(4),
                irq: g(5),
                softirq: g(6),
                steal: g(7),
            };
            if idx.is_empty() {
                stat.total = t;
                saw_total = true;
            } else {
                let _: usize = num(WHAT, i + 1, line, idx)?;
                stat.cores.push(t);
            }
        } else if key == "btime" {
            let v = fields.next().unwrap_or("");
            stat.btime = Some(num(WHAT, i + 1, line, v)?);
        }
    }
    if !saw_total {
        return Err(ToolError::parse(WHAT, 1, text.lines().next().unwrap_or(""), "no aggregate `cpu` line"));
    }
    Ok(stat)
}

pub fn parse_meminfo(text: &str) -> Result<Meminfo, ToolError> {
    const WHAT: &str = "/proc/meminfo";
    let mut map: HashMap<&str, u64> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, rest)) = line.split_once(':') else {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected `Key: value`"));
        };
        let mut parts = rest.split_ascii_whitespace();
        let v: u64 = num(WHAT, i + 1, line, parts.next().unwrap_or(""))?;
        let mult = match parts.next() {
            Some("kB") => 1024,
            None => 1,
            Some(u) => return Err(ToolError::parse(WHAT, i + 1, line, format!("unknown unit `{u}`"))),
        };
        map.insert(key.trim(), v * mult);
    }
    let get = |k: &str| map.get(k).copied().unwrap_or(0);
    let Some(&total) = map.get("MemTotal") else {
        return Err(ToolError::parse(WHAT, 1, text.lines().next().unwrap_or(""), "no MemTotal line"));
    };
    let available = map
        .get("MemAvailable")
        .copied()
        .unwrap_or_else(|| get("MemFree") + get("Buffers") + get("Cached") + get("SReclaimable"));
    Ok(Meminfo {
        total,
        free: get("MemFree"),
        available,
        buffers: get("Buffers"),
        cached: get("Cached"),
        sreclaimable: get("SReclaimable"),
        swap_total: get("SwapTotal"),
        swap_free: get("SwapFree"),
    })
}

pub fn parse_loadavg(text: &str) -> Result<[f64; 3], ToolError> {
    const WHAT: &str = "/proc/loadavg";
    let line = text.lines().next().unwrap_or("");
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    if f.len() < 3 {
        return Err(ToolError::parse(WHAT, 1, line, "expected three load averages"));
    }
    Ok([num(WHAT, 1, line, f[0])?, num(WHAT, 1, line, f[1])?, num(WHAT, 1, line, f[2])?])
}

/// Seconds since boot from `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Result<f64, ToolError> {
    let line = text.lines().next().unwrap_or("");
    let first = line.split_ascii_whitespace().next().unwrap_or("");
    num("/proc/uptime", 1, line, first)
}

pub fn parse_net_dev(text: &str) -> Result<Vec<NetCounters>, ToolError> {
    const WHAT: &str = "/proc/net/dev";
    let mut out = Vec::new();
    // Two header lines ("Inter-|   Receive ..." and " face |bytes ..."), then one line per interface.
    for (i, line) in text.lines().enumerate().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, rest)) = line.split_once(':') else {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected `iface: counters`"));
        };
        let v: Vec<u64> =
            rest.split_ascii_whitespace().map(|f| num(WHAT, i + 1, line, f)).collect::<Result<_, _>>()?;
        if v.len() < 16 {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected 16 counters"));
        }
        out.push(NetCounters {
            name: name.trim().to_string(),
            rx_bytes: v[0],
            rx_packets: v[1],
            rx_errors: v[2],
            rx_drops: v[3],
            tx_bytes: v[8],
            tx_packets: v[9],
            tx_errors: v[10],
            tx_drops: v[11],
        });
    }
    Ok(out)
}

/// Whether a block device name is a whole physical (or virtual-machine) disk, not a partition, a
/// loop/ram device, a device-mapper volume or a ZFS zvol. Those would double count the same bytes
/// already seen on the disks beneath them (node_exporter's default ignore list has the same intent).
pub fn is_whole_disk(name: &str) -> bool {
    fn split_alpha(s: &str) -> (&str, &str) {
        let end = s.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(s.len());
        (&s[..end], &s[end..])
    }
    for prefix in ["sd", "vd", "xvd", "hd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let (letters, tail) = split_alpha(rest);
            return !letters.is_empty() && tail.is_empty();
        }
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = name.strip_prefix("nvme") {
        // nvme0n1 yes, nvme0n1p1 no, nvme0c0n1 (multipath path) no.
        return match rest.split_once('n') {
            Some((ctrl, ns)) => digits(ctrl) && digits(ns),
            None => false,
        };
    }
    if let Some(rest) = name.strip_prefix("mmcblk") {
        return digits(rest);
    }
    false
}

pub fn parse_diskstats(text: &str) -> Result<Vec<DiskCounters>, ToolError> {
    const WHAT: &str = "/proc/diskstats";
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() < 14 {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected at least 14 fields"));
        }
        if !is_whole_disk(f[2]) {
            continue;
        }
        let n = |k: usize| num::<u64>(WHAT, i + 1, line, f[k]);
        out.push(DiskCounters {
            name: f[2].to_string(),
            reads: n(3)?,
            read_sectors: n(5)?,
            writes: n(7)?,
            write_sectors: n(9)?,
            io_ms: n(12)?,
        });
    }
    Ok(out)
}

pub fn parse_pressure(what: &str, text: &str) -> Result<Pressure, ToolError> {
    let mut p = Pressure::default();
    let mut saw_some = false;
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let kind = fields.next().unwrap_or("");
        let mut l = PsiLine::default();
        for f in fields {
            let Some((k, v)) = f.split_once('=') else {
                return Err(ToolError::parse(what, i + 1, line, "expected key=value"));
            };
            match k {
                "avg10" => l.avg10 = num(what, i + 1, line, v)?,
                "avg60" => l.avg60 = num(what, i + 1, line, v)?,
                "avg300" => l.avg300 = num(what, i + 1, line, v)?,
                "total" => l.total_us = num(what, i + 1, line, v)?,
                _ => {}
            }
        }
        match kind {
            "some" => {
                p.some = l;
                saw_some = true;
            }
            "full" => p.full = Some(l),
            "" => {}
            _ => return Err(ToolError::parse(what, i + 1, line, "expected `some` or `full`")),
        }
    }
    if !saw_some {
        return Err(ToolError::parse(what, 1, text.lines().next().unwrap_or(""), "no `some` line"));
    }
    Ok(p)
}

/// The ZFS ARC's current size in bytes, from the `size` row of `arcstats`
/// (kstat format: two header lines, then `name type data`).
pub fn parse_arc_size(text: &str) -> Result<u64, ToolError> {
    const WHAT: &str = "/proc/spl/kstat/zfs/arcstats";
    for (i, line) in text.lines().enumerate().skip(2) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() == 3 && f[0] == "size" {
            return num(WHAT, i + 1, line, f[2]);
        }
    }
    Err(ToolError::parse(WHAT, 1, text.lines().next().unwrap_or(""), "no `size` row"))
}

pub use crate::model::{CpuInfo, GuestKind};

pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut model = String::new();
    let mut threads = 0u32;
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores = std::collections::BTreeSet::new();
    let mut physical = String::from("0");
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => {
                threads += 1;
                physical = "0".into();
            }
            // x86 says "model name"; arm64 only has "Model" (device tree) or nothing at all.
            "model name" | "Model" | "Hardware" if model.is_empty() => model = v.to_string(),
            "physical id" => {
                physical = v.to_string();
                sockets.insert(v.to_string());
            }
            "core id" => {
                cores.insert((physical.clone(), v.to_string()));
            }
            _ => {}
        }
    }
    let threads = threads.max(1);
    CpuInfo {
        model: if model.is_empty() { "unknown CPU".into() } else { model },
        sockets: (sockets.len() as u32).max(1),
        cores: if cores.is_empty() { threads } else { cores.len() as u32 },
        threads,
    }
}

/// One line of `/proc/<pid>/stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidStat {
    pub comm: String,
    pub state: char,
    pub utime: u64,
    pub stime: u64,
    pub threads: u64,
    /// Start time in ticks after boot; with the pid it identifies a process across pid reuse.
    pub starttime: u64,
}

pub fn parse_pid_stat(text: &str) -> Result<PidStat, ToolError> {
    const WHAT: &str = "/proc/<pid>/stat";
    let line = text.lines().next().unwrap_or("");
    // `comm` may contain spaces and parentheses: it runs from the first '(' to the last ')'.
    let (Some(open), Some(close)) = (line.find('('), line.rfind(')')) else {
        return Err(ToolError::parse(WHAT, 1, line, "no (comm)"));
    };
    let rest: Vec<&str> = line[close + 1..].split_ascii_whitespace().collect();
    if rest.len() < 20 {
        return Err(ToolError::parse(WHAT, 1, line, "too few fields"));
    }
    Ok(PidStat {
        comm: line[open + 1..close].to_string(),
        state: rest[0].chars().next().unwrap_or('?'),
        utime: num(WHAT, 1, line, rest[11])?,
        stime: num(WHAT, 1, line, rest[12])?,
        threads: num(WHAT, 1, line, rest[17])?,
        starttime: num(WHAT, 1, line, rest[19])?,
    })
}

/// The fields of `/proc/<pid>/status` we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidStatus {
    pub uid: u32,
    pub rss_bytes: u64,
}

pub fn parse_pid_status(text: &str) -> Result<PidStatus, ToolError> {
    const WHAT: &str = "/proc/<pid>/status";
    let mut s = PidStatus::default();
    for (i, line) in text.lines().enumerate() {
        if let Some(v) = line.strip_prefix("Uid:") {
            s.uid = num(WHAT, i + 1, line, v.split_ascii_whitespace().next().unwrap_or(""))?;
        } else if let Some(v) = line.strip_prefix("VmRSS:") {
            let kb: u64 = num(WHAT, i + 1, line, v.split_ascii_whitespace().next().unwrap_or(""))?;
            s.rss_bytes = kb * 1024;
        }
    }
    Ok(s)
}

/// Which guest a process belongs to, from its cgroup path: Proxmox puts each VM's QEMU in
/// `/qemu.slice/<vmid>.scope` and each container in `/lxc/<vmid>/...` (its monitor in `/lxc.monitor/<vmid>`).
pub fn guest_from_cgroup(text: &str) -> Option<(GuestKind, u32)> {
    for line in text.lines() {
        // v2: "0::/path"; v1: "N:controllers:/path". The path is everything after the second ':'.
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for seg in path.split('/').collect::<Vec<_>>().windows(2) {
            match seg {
                ["qemu.slice", scope] => {
                    if let Some(id) = scope.strip_suffix(".scope").and_then(|s| s.parse().ok()) {
                        return Some((GuestKind::Qemu, id));
                    }
                }
                ["lxc" | "lxc.monitor" | "lxc.payload", id] => {
                    if let Ok(id) = id.parse() {
                        return Some((GuestKind::Lxc, id));
                    }
                }
                _ => {}
            }
        }
        // Older LXC: "/lxc.payload.200/..." and "/lxc.monitor.200".
        for seg in path.split('/') {
            if let Some(id) = seg.strip_prefix("lxc.payload.").or_else(|| seg.strip_prefix("lxc.monitor.")) {
                if let Ok(id) = id.parse() {
                    return Some((GuestKind::Lxc, id));
                }
            }
        }
    }
    None
}

/// The VM id of a QEMU process from its command line (`kvm -id 101 ...`), for hosts where the cgroup
/// does not say (cgroup v1 setups, or a QEMU started by hand).
pub fn vmid_from_kvm_cmdline(args: &[String]) -> Option<u32> {
    let is_qemu = args.first().is_some_and(|a| {
        let base = a.rsplit('/').next().unwrap_or(a);
        base == "kvm" || base.starts_with("qemu-system")
    });
    if !is_qemu {
        return None;
    }
    args.windows(2).find(|w| w[0] == "-id").and_then(|w| w[1].parse().ok())
}

/// Splits a NUL-separated `cmdline`.
pub fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// uid -> user name from `/etc/passwd`.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

/// A hwmon temperature in °C from a millidegree file, or `None` for the placeholder values that
/// unconnected Super-I/O inputs report (e.g. 65261.8 °C or -127 °C; see the sensors fixtures).
pub fn parse_millicelsius(text: &str) -> Option<f64> {
    let v: f64 = text.trim().parse::<i64>().ok()? as f64 / 1000.0;
    (-40.0..=150.0).contains(&v).then_some(v)
}

/// The socket inodes listening on TCP `port`, from `/proc/net/tcp` or `/proc/net/tcp6` (proc(5):
/// `sl local_address rem_address st … uid timeout inode`; `st` 0A is LISTEN; addresses are hex
/// `ADDR:PORT`).
pub fn listening_inodes(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            (local_port == port && *f.get(3)? == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_by_port() {
        // In /proc/net/tcp's format (proc(5)): a LISTEN on 22, a connection to 8008, a LISTEN on 8008.
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18642 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F48 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 99121 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F48 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77001 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(listening_inodes(text, 22), vec![18642]);
        assert_eq!(listening_inodes(text, 8008), vec![77001]);
        assert!(listening_inodes(text, 8009).is_empty());
        assert!(listening_inodes("garbage\nnot a table", 22).is_empty());
    }

    #[test]
    fn stat_parses_total_cores_and_btime() {
        let s = parse_stat(
            "cpu  10 1 5 100 4 1 1 2 3 0\ncpu0 5 0 2 50 2 0 1 1 0 0\ncpu1 5 1 3 50 2 1 0 1 0 0\nintr 1 2\nbtime 1700000000\n",
        )
        .unwrap();
        assert_eq!(s.total.total(), 124);
        assert_eq!(s.cores.len(), 2);
        assert_eq!(s.btime, Some(1700000000));
        let err = parse_stat("cpu  1 2 3 4\ncpu0 1 x 3 4\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn meminfo_requires_memtotal_and_estimates_available_on_old_kernels() {
        let m =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n").unwrap();
        assert_eq!(m.available, 310 * 1024);
        let err = parse_meminfo("MemFree: 100 kB\n").unwrap_err();
        assert!(err.to_string().contains("MemTotal"), "{err}");
        let err = parse_meminfo("MemTotal: 1000 kB\nBogus\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn whole_disks_only() {
        for yes in ["sda", "sdaa", "vda", "xvdb", "nvme0n1", "nvme12n3", "mmcblk0"] {
            assert!(is_whole_disk(yes), "{yes}");
        }
        for no in
            ["sda1", "nvme0n1p1", "nvme0c0n1", "loop0", "dm-0", "zd16", "ram0", "md0", "mmcblk0p1", "sr0"]
        {
            assert!(!is_whole_disk(no), "{no}");
        }
    }

    #[test]
    fn pid_stat_handles_parentheses_in_comm() {
        let s = parse_pid_stat(
            "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 1000 200 18446744073709551615\n",
        )
        .unwrap();
        assert_eq!(
            (s.comm.as_str(), s.state, s.utime, s.stime, s.threads, s.starttime),
            ("a (b) c", 'S', 250, 50, 7, 12345)
        );
    }

    #[test]
    fn guests_from_cgroups_and_kvm_cmdlines() {
        assert_eq!(guest_from_cgroup("0::/qemu.slice/101.scope\n"), Some((GuestKind::Qemu, 101)));
        assert_eq!(
            guest_from_cgroup("0::/lxc/200/ns/system.slice/nginx.service\n"),
            Some((GuestKind::Lxc, 200))
        );
        assert_eq!(guest_from_cgroup("0::/lxc.monitor/200\n"), Some((GuestKind::Lxc, 200)));
        assert_eq!(guest_from_cgroup("12:pids:/lxc.payload.201/init.scope\n"), Some((GuestKind::Lxc, 201)));
        assert_eq!(guest_from_cgroup("0::/system.slice/pveproxy.service\n"), None);
        let args: Vec<String> =
            ["/usr/bin/kvm", "-id", "105", "-name", "x"].iter().map(|s| s.to_string()).collect();
        assert_eq!(vmid_from_kvm_cmdline(&args), Some(105));
        assert_eq!(vmid_from_kvm_cmdline(&["bash".into(), "-id".into(), "1".into()]), None);
    }

    #[test]
    fn bogus_temperatures_are_dropped() {
        assert_eq!(parse_millicelsius("52000\n"), Some(52.0));
        assert_eq!(parse_millicelsius("65261800"), None);
        assert_eq!(parse_millicelsius("-127000"), None);
        assert_eq!(parse_millicelsius("garbage"), None);
    }

    #[test]
    fn pressure_with_and_without_full() {
        let p = parse_pressure("cpu", "some avg10=1.50 avg60=0.20 avg300=0.00 total=123\n").unwrap();
        assert_eq!((p.some.avg10, p.full), (1.5, None));
        let p = parse_pressure(
            "io",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=2.00 avg60=0.00 avg300=0.00 total=1\n",
        )
        .unwrap();
        assert_eq!(p.full.map(|f| f.avg10), Some(2.0));
    }
}
