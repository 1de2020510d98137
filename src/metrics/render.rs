//! The families, by source. Every value comes from a snapshot a worker published; a value the source
//! does not have is left out (never a 0 that looks like a reading). docs/metrics.md lists them.

use std::collections::BTreeMap;

use super::View;
use super::expo::Expo;
use crate::health::model::Severity;
use crate::model::counters::CpuTimes;
use crate::model::nut::Flag;
use crate::model::pve::{ClusterResource, Guest};
use crate::model::section::{Section, SectionState};
use crate::model::sensors::Kind;
use crate::model::smart::{Interface, Reading as SmartReading};
use crate::model::zfs::Scan;

/// USER_HZ: `/proc/stat` counts in 1/100 s on every Linux architecture Proxmox runs on (node_exporter
/// assumes the same).
const USER_HZ: f64 = 100.0;

pub fn all(e: &mut Expo, v: &View, version: &'static str) {
    e.gauge("proxwatch_build_info", "proxwatch's version (value 1).", &[("version", version)], 1.0);
    node(e, v);
    pve(e, v);
    backups(e, v);
    smart(e, v);
    zfs(e, v);
    ups(e, v);
    hardware(e, v);
    network(e, v);
    gpu(e, v);
    monitors(e, v);
    health(e, v);
    facts(e, v);
    sources(e, v);
}

// ---- node_exporter names ----

fn node(e: &mut Expo, v: &View) {
    if let Some(id) = &v.identity {
        e.gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call (value 1).",
            &[("nodename", &id.hostname), ("release", &id.kernel), ("sysname", "Linux")],
            1.0,
        );
        e.gauge_opt(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            &[],
            id.boot_time.map(|b| b as f64),
        );
    }
    let Some(live) = &v.vitals else { return };
    let s = &live.sample;
    let c = &s.counters;
    const CPU: &str = "Seconds the CPUs spent in each mode.";
    for (i, t) in c.cpus.iter().enumerate() {
        let cpu = i.to_string();
        for (mode, ticks) in modes(t) {
            e.counter(
                "node_cpu_seconds_total",
                CPU,
                &[("cpu", &cpu), ("mode", mode)],
                ticks as f64 / USER_HZ,
            );
        }
    }
    e.gauge("node_load1", "1m load average.", &[], s.load[0]);
    e.gauge("node_load5", "5m load average.", &[], s.load[1]);
    e.gauge("node_load15", "15m load average.", &[], s.load[2]);
    // node_exporter's node_memory_MemTotal_bytes & co. are camelCase, which promtool refuses; these
    // are the same /proc/meminfo fields under lint-clean names (docs/metrics.md has recording rules
    // that give dashboards the node_exporter names).
    let m = &c.meminfo;
    e.gauge("proxwatch_memory_total_bytes", "MemTotal from /proc/meminfo.", &[], m.total as f64);
    e.gauge("proxwatch_memory_free_bytes", "MemFree from /proc/meminfo.", &[], m.free as f64);
    e.gauge("proxwatch_memory_available_bytes", "MemAvailable from /proc/meminfo.", &[], m.available as f64);
    e.gauge("proxwatch_memory_buffers_bytes", "Buffers from /proc/meminfo.", &[], m.buffers as f64);
    e.gauge("proxwatch_memory_cached_bytes", "Cached from /proc/meminfo.", &[], m.cached as f64);
    e.gauge(
        "proxwatch_memory_sreclaimable_bytes",
        "SReclaimable from /proc/meminfo.",
        &[],
        m.sreclaimable as f64,
    );
    e.gauge("proxwatch_swap_total_bytes", "SwapTotal from /proc/meminfo.", &[], m.swap_total as f64);
    e.gauge("proxwatch_swap_free_bytes", "SwapFree from /proc/meminfo.", &[], m.swap_free as f64);
    if let Some(arc) = s.memory.arc {
        e.gauge("node_zfs_arc_size", "kstat.zfs.misc.arcstats.size (bytes).", &[], arc as f64);
    }
    for n in &c.net {
        let l = [("device", n.name.as_str())];
        e.counter(
            "node_network_receive_bytes_total",
            "Network device statistic receive_bytes.",
            &l,
            n.rx_bytes as f64,
        );
        e.counter(
            "node_network_transmit_bytes_total",
            "Network device statistic transmit_bytes.",
            &l,
            n.tx_bytes as f64,
        );
        e.counter(
            "node_network_receive_packets_total",
            "Network device statistic receive_packets.",
            &l,
            n.rx_packets as f64,
        );
        e.counter(
            "node_network_transmit_packets_total",
            "Network device statistic transmit_packets.",
            &l,
            n.tx_packets as f64,
        );
        e.counter(
            "node_network_receive_errs_total",
            "Network device statistic receive_errs.",
            &l,
            n.rx_errors as f64,
        );
        e.counter(
            "node_network_transmit_errs_total",
            "Network device statistic transmit_errs.",
            &l,
            n.tx_errors as f64,
        );
        e.counter(
            "node_network_receive_drop_total",
            "Network device statistic receive_drop.",
            &l,
            n.rx_drops as f64,
        );
        e.counter(
            "node_network_transmit_drop_total",
            "Network device statistic transmit_drop.",
            &l,
            n.tx_drops as f64,
        );
    }
    for d in &c.disks {
        let l = [("device", d.name.as_str())];
        e.counter(
            "node_disk_reads_completed_total",
            "The total number of reads completed successfully.",
            &l,
            d.reads as f64,
        );
        e.counter(
            "node_disk_writes_completed_total",
            "The total number of writes completed successfully.",
            &l,
            d.writes as f64,
        );
        e.counter(
            "node_disk_read_bytes_total",
            "The total number of bytes read successfully.",
            &l,
            d.read_sectors as f64 * 512.0,
        );
        e.counter(
            "node_disk_written_bytes_total",
            "The total number of bytes written successfully.",
            &l,
            d.write_sectors as f64 * 512.0,
        );
        e.counter(
            "node_disk_io_time_seconds_total",
            "Total seconds spent doing I/Os.",
            &l,
            d.io_ms as f64 / 1000.0,
        );
    }
    if let Some(psi) = &c.psi {
        for (res, p) in psi {
            let Some((_, waiting, waiting_help, stalled)) = PSI.iter().find(|r| r.0 == *res) else {
                continue;
            };
            e.counter(waiting, waiting_help, &[], p.some.total_us as f64 / 1e6);
            if let (Some((name, help)), Some(full)) = (stalled, p.full) {
                e.counter(name, help, &[], full.total_us as f64 / 1e6);
            }
        }
    }
}

/// PSI resource -> node_exporter's "waiting" (some) counter and, where it has one, "stalled" (full).
type PsiNames = (&'static str, &'static str, &'static str, Option<(&'static str, &'static str)>);
const PSI: [PsiNames; 3] = [
    (
        "cpu",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time.",
        None,
    ),
    (
        "memory",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory.",
        Some((
            "node_pressure_memory_stalled_seconds_total",
            "Total time in seconds no process could make progress due to memory congestion.",
        )),
    ),
    (
        "io",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion.",
        Some((
            "node_pressure_io_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IO congestion.",
        )),
    ),
];

fn modes(t: &CpuTimes) -> [(&'static str, u64); 8] {
    [
        ("user", t.user),
        ("nice", t.nice),
        ("system", t.system),
        ("idle", t.idle),
        ("iowait", t.iowait),
        ("irq", t.irq),
        ("softirq", t.softirq),
        ("steal", t.steal),
    ]
}

// ---- prometheus-pve-exporter names ----

const HA_STATES: [&str; 11] = [
    "stopped",
    "request_stop",
    "request_start",
    "request_start_balance",
    "started",
    "fence",
    "recovery",
    "migrate",
    "relocate",
    "freeze",
    "error",
];
const LOCK_STATES: [&str; 9] = [
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspended",
    "suspending",
];

/// The per-resource gauges pve-exporter writes for nodes, guests and storages alike; a `None` is
/// left out (a storage has no memory, an offline node no usage).
#[derive(Default)]
struct Usage {
    up: bool,
    disk: Option<u64>,
    maxdisk: Option<u64>,
    mem: Option<u64>,
    maxmem: Option<u64>,
    cpu: Option<f64>,
    maxcpu: Option<f64>,
    uptime: Option<u64>,
}

fn usage(e: &mut Expo, id: &str, u: Usage) {
    let l = [("id", id)];
    let f = |v: Option<u64>| v.map(|x| x as f64);
    e.gauge(
        "pve_up",
        "Node/VM/CT-Status is online/running/available (1) or not (0).",
        &l,
        if u.up { 1.0 } else { 0.0 },
    );
    e.gauge_opt(
        "pve_disk_size_bytes",
        "Storage size in bytes (for type 'storage'), root image size for VMs (for types 'qemu' and 'lxc').",
        &l,
        f(u.maxdisk),
    );
    e.gauge_opt(
        "pve_disk_usage_bytes",
        "Disk usage in bytes (for type 'storage'), used root image space for VMs (for types 'qemu' and 'lxc').",
        &l,
        f(u.disk),
    );
    e.gauge_opt(
        "pve_memory_size_bytes",
        "Number of available memory in bytes (for types 'node', 'qemu' and 'lxc').",
        &l,
        f(u.maxmem),
    );
    e.gauge_opt(
        "pve_memory_usage_bytes",
        "Memory usage in bytes (for types 'node', 'qemu' and 'lxc').",
        &l,
        f(u.mem),
    );
    e.gauge_opt("pve_cpu_usage_ratio", "CPU utilization (for types 'node', 'qemu' and 'lxc').", &l, u.cpu);
    e.gauge_opt(
        "pve_cpu_usage_limit",
        "Number of available CPUs (for types 'node', 'qemu' and 'lxc').",
        &l,
        u.maxcpu,
    );
    e.gauge_opt(
        "pve_uptime_seconds",
        "Number of seconds since the last boot (for types 'node', 'qemu' and 'lxc').",
        &l,
        f(u.uptime),
    );
}

fn pve(e: &mut Expo, v: &View) {
    let inv = &v.inventory;
    let Some(resources) = &inv.resources.data else { return };
    for r in resources {
        match r {
            ClusterResource::Node(n) => {
                let id = format!("node/{}", n.node);
                let u = Usage {
                    up: n.is_online(),
                    disk: n.disk,
                    maxdisk: n.maxdisk,
                    mem: n.mem,
                    maxmem: n.maxmem,
                    cpu: n.cpu,
                    maxcpu: n.maxcpu,
                    uptime: n.uptime,
                };
                usage(e, &id, u);
                let nodeid = inv
                    .cluster
                    .data
                    .as_ref()
                    .and_then(|c| c.nodes.iter().find(|x| x.name == n.node))
                    .and_then(|x| x.nodeid)
                    .map(|x| x.to_string())
                    .unwrap_or_default();
                e.gauge(
                    "pve_node_info",
                    "Node info (value 1).",
                    &[
                        ("id", &id),
                        ("level", n.level.as_deref().unwrap_or("")),
                        ("name", &n.node),
                        ("nodeid", &nodeid),
                    ],
                    1.0,
                );
            }
            ClusterResource::Guest(g) => guest(e, g, inv),
            ClusterResource::Storage(s) => {
                let id = format!("storage/{}/{}", s.node, s.storage);
                let l = [("id", id.as_str())];
                let u = Usage {
                    up: s.status == "available",
                    disk: s.disk,
                    maxdisk: s.maxdisk,
                    ..Default::default()
                };
                usage(e, &id, u);
                e.gauge(
                    "pve_storage_shared",
                    "Whether or not the storage is shared among cluster nodes.",
                    &l,
                    if s.shared { 1.0 } else { 0.0 },
                );
                let mut content = s.content.clone();
                content.sort();
                e.gauge(
                    "pve_storage_info",
                    "Storage info (value 1).",
                    &[
                        ("id", &id),
                        ("node", &s.node),
                        ("storage", &s.storage),
                        ("plugintype", &s.plugintype),
                        ("content", &content.join(",")),
                    ],
                    1.0,
                );
            }
            ClusterResource::Other { .. } => {}
        }
    }
    if let Some(c) = inv.cluster.data.as_ref().and_then(|c| c.cluster.as_ref()) {
        let id = format!("cluster/{}", c.name);
        let nodes = c.nodes.map(|n| n.to_string()).unwrap_or_default();
        let version = c.version.map(|n| n.to_string()).unwrap_or_default();
        e.gauge(
            "pve_cluster_info",
            "Cluster info (value 1).",
            &[
                ("id", &id),
                ("nodes", &nodes),
                ("quorate", if c.quorate { "1" } else { "0" }),
                ("version", &version),
            ],
            1.0,
        );
    }
    if let Some(ns) = &inv.node_status.data
        && let Some((version, repoid)) = pve_version(&ns.pveversion)
    {
        let release = version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
        e.gauge(
            "pve_version_info",
            "Proxmox VE version info (value 1).",
            &[("release", &release), ("repoid", repoid), ("version", version)],
            1.0,
        );
    }
    if let Some(jobs) = &inv.replication.data {
        for j in jobs {
            let l = [("id", j.id.as_str())];
            let guest = j.guest.to_string();
            e.gauge(
                "pve_replication_info",
                "Proxmox vm replication info (value 1).",
                &[
                    ("id", &j.id),
                    ("type", "local"),
                    ("source", &inv.node),
                    ("target", &j.target),
                    ("guest", &guest),
                ],
                1.0,
            );
            e.gauge_opt(
                "pve_replication_duration_seconds",
                "Proxmox vm replication duration.",
                &l,
                j.duration,
            );
            e.gauge_opt(
                "pve_replication_last_sync_timestamp_seconds",
                "Proxmox vm replication last_sync.",
                &l,
                j.last_sync.map(|x| x as f64),
            );
            e.gauge_opt(
                "pve_replication_last_try_timestamp_seconds",
                "Proxmox vm replication last_try.",
                &l,
                j.last_try.map(|x| x as f64),
            );
            e.gauge_opt(
                "pve_replication_next_sync_timestamp_seconds",
                "Proxmox vm replication next_sync.",
                &l,
                j.next_sync.map(|x| x as f64),
            );
            e.gauge(
                "pve_replication_failed_syncs",
                "Proxmox vm replication fail_count.",
                &l,
                j.fail_count.unwrap_or(0) as f64,
            );
        }
    }
}

/// `pve-manager/8.1.4/ec5affc9e41f1d79 (running kernel: …)` -> (`8.1.4`, `ec5affc9e41f1d79`).
fn pve_version(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("pve-manager/")?;
    let rest = rest.split_whitespace().next()?;
    let (version, repoid) = rest.split_once('/')?;
    Some((version, repoid))
}

fn guest(e: &mut Expo, g: &Guest, inv: &crate::model::inventory::Inventory) {
    let id = format!("{}/{}", g.kind.as_str(), g.vmid);
    let l = [("id", id.as_str())];
    let u = Usage {
        up: g.is_running(),
        disk: Some(g.disk),
        maxdisk: Some(g.maxdisk),
        mem: Some(g.mem),
        maxmem: Some(g.maxmem),
        cpu: Some(g.cpu),
        maxcpu: Some(g.maxcpu),
        // pve-exporter writes 0 for a stopped guest.
        uptime: Some(g.uptime.unwrap_or(0)),
    };
    usage(e, &id, u);
    e.counter(
        "pve_network_transmit_bytes_total",
        "The amount of traffic in bytes that was sent from the guest over the network since it was started.",
        &l,
        g.netout as f64,
    );
    e.counter(
        "pve_network_receive_bytes_total",
        "The amount of traffic in bytes that was sent to the guest over the network since it was started.",
        &l,
        g.netin as f64,
    );
    e.counter(
        "pve_disk_written_bytes_total",
        "The amount of bytes the guest wrote to its block devices since the guest was started.",
        &l,
        g.diskwrite as f64,
    );
    e.counter(
        "pve_disk_read_bytes_total",
        "The amount of bytes the guest read from its block devices since the guest was started.",
        &l,
        g.diskread as f64,
    );
    // The gauge twins pve-exporter still emits; many public dashboards query them.
    e.gauge(
        "pve_network_transmit_bytes",
        "DEPRECATED: use pve_network_transmit_bytes_total.",
        &l,
        g.netout as f64,
    );
    e.gauge(
        "pve_network_receive_bytes",
        "DEPRECATED: use pve_network_receive_bytes_total.",
        &l,
        g.netin as f64,
    );
    e.gauge("pve_disk_write_bytes", "DEPRECATED: use pve_disk_written_bytes_total.", &l, g.diskwrite as f64);
    e.gauge("pve_disk_read_bytes", "DEPRECATED: use pve_disk_read_bytes_total.", &l, g.diskread as f64);
    e.gauge(
        "pve_guest_info",
        "VM/CT info (value 1).",
        &[
            ("id", &id),
            ("node", &g.node),
            ("name", &g.name),
            ("type", g.kind.as_str()),
            ("template", if g.template { "1" } else { "0" }),
            ("tags", &g.tags.join(";")),
        ],
        1.0,
    );
    if let Some(ha) = &g.hastate {
        for s in HA_STATES {
            e.gauge(
                "pve_ha_state",
                "HA service status (for HA managed VMs).",
                &[("id", &id), ("state", s)],
                if ha == s { 1.0 } else { 0.0 },
            );
        }
    }
    let lock = g.lock.as_deref().or_else(|| inv.configs.get(&g.vmid).and_then(|c| c.lock.as_deref()));
    for s in LOCK_STATES {
        e.gauge(
            "pve_lock_state",
            "The guest's current config lock (for types 'qemu' and 'lxc').",
            &[("id", &id), ("state", s)],
            if lock == Some(s) { 1.0 } else { 0.0 },
        );
    }
    if let Some(cfg) = inv.configs.get(&g.vmid) {
        e.gauge(
            "pve_onboot_status",
            "Proxmox vm config onboot value.",
            &[("id", &id), ("node", &g.node), ("type", g.kind.as_str())],
            if cfg.onboot { 1.0 } else { 0.0 },
        );
    }
}

/// Backups: pve-exporter's `pve_not_backed_up_info` (a guest no enabled backup job covers; its
/// `pve_not_backed_up_total` is a gauge named like a counter, which promtool refuses: `count()` of the
/// info gives it), and the last good backup per guest as the health cycle found it in the task
/// history (a job run that failed for this guest does not count).
fn backups(e: &mut Expo, v: &View) {
    let inv = &v.inventory;
    let Some(resources) = &inv.resources.data else { return };
    let last: std::collections::HashMap<u64, i64> = v
        .health
        .results
        .get("backup_age")
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let vmid = f.key.strip_prefix("backup_age:")?.parse().ok()?;
            Some((vmid, f.details.get("last_backup_s")?.as_i64()?))
        })
        .collect();
    let jobs = inv.backup_jobs.data.as_deref();
    for g in resources.iter().filter_map(ClusterResource::as_guest).filter(|g| !g.template) {
        let id = format!("{}/{}", g.kind.as_str(), g.vmid);
        if let Some(t) = last.get(&g.vmid) {
            e.gauge(
                "proxwatch_guest_last_backup_timestamp_seconds",
                "When the guest's last successful backup finished.",
                &[("id", &id)],
                *t as f64,
            );
        }
        if let Some(jobs) = jobs
            && !jobs.iter().any(|j| j.enabled && j.covers(g.vmid, g.pool.as_deref()))
        {
            e.gauge(
                "pve_not_backed_up_info",
                "Guests not covered by any backup job (value 1).",
                &[("id", &id)],
                1.0,
            );
        }
    }
}

// ---- smartctl_exporter names ----

fn smart(e: &mut Expo, v: &View) {
    for (path, section) in &v.inventory.smart {
        let Some(r) = &section.data else { continue };
        let dev = path.strip_prefix("/dev/").unwrap_or(path);
        let l = [("device", dev)];
        match r {
            SmartReading::Standby { .. } => {
                e.gauge(
                    "smartctl_device_state",
                    "Device state (0=active, 1=standby, 2=sleep, 3=dst, 4=offline, 5=sct).",
                    &l,
                    1.0,
                );
            }
            SmartReading::Failed { exit_status, .. } => {
                e.gauge(
                    "smartctl_device_smartctl_exit_status",
                    "Exit status of smartctl on device.",
                    &l,
                    exit_status.0 as f64,
                );
            }
            SmartReading::Data(d) => {
                e.gauge(
                    "smartctl_device_state",
                    "Device state (0=active, 1=standby, 2=sleep, 3=dst, 4=offline, 5=sct).",
                    &l,
                    0.0,
                );
                let interface = match d.interface {
                    Interface::Ata => "sat",
                    Interface::Nvme => "nvme",
                    Interface::Sas | Interface::Scsi => "scsi",
                    Interface::Usb => "usb",
                    Interface::Unknown => "",
                };
                e.gauge(
                    "smartctl_device",
                    "Device info (value 1).",
                    &[
                        ("device", dev),
                        ("interface", interface),
                        ("protocol", &d.device.protocol),
                        ("model_family", d.family.as_deref().unwrap_or("")),
                        ("model_name", d.model.as_deref().unwrap_or("")),
                        ("serial_number", d.serial.as_deref().unwrap_or("")),
                        ("firmware_version", d.firmware.as_deref().unwrap_or("")),
                        ("form_factor", d.form_factor.as_deref().unwrap_or("")),
                    ],
                    1.0,
                );
                e.gauge(
                    "smartctl_device_smartctl_exit_status",
                    "Exit status of smartctl on device.",
                    &l,
                    d.exit_status.0 as f64,
                );
                e.gauge_opt(
                    "smartctl_device_smart_status",
                    "General smart status (1 passed, 0 failed).",
                    &l,
                    d.smart_passed.map(|p| if p { 1.0 } else { 0.0 }),
                );
                e.gauge_opt(
                    "smartctl_device_capacity_bytes",
                    "Device capacity in bytes.",
                    &l,
                    d.capacity_bytes.map(|x| x as f64),
                );
                if let Some(t) = d.temperature_c {
                    e.gauge(
                        "smartctl_device_temperature",
                        "Device temperature celsius.",
                        &[("device", dev), ("temperature_type", "current")],
                        t as f64,
                    );
                }
                // Upstream types these as counters without `_total`; gauges keep its names and a clean lint.
                e.gauge_opt(
                    "smartctl_device_power_on_seconds",
                    "Device power on seconds.",
                    &l,
                    d.power_on_hours.map(|h| h as f64 * 3600.0),
                );
                e.gauge_opt(
                    "smartctl_device_power_cycles",
                    "Device power cycle count (smartctl_exporter calls it smartctl_device_power_cycle_count, which promtool refuses).",
                    &l,
                    d.power_cycles.map(|x| x as f64),
                );
                e.gauge_opt(
                    "smartctl_device_bytes_read",
                    "Bytes read from the device over its life.",
                    &l,
                    d.bytes_read.map(|x| x as f64),
                );
                e.gauge_opt(
                    "smartctl_device_bytes_written",
                    "Bytes written to the device over its life.",
                    &l,
                    d.bytes_written.map(|x| x as f64),
                );
                e.gauge_opt(
                    "smartctl_device_percentage_used",
                    "Device write percentage used.",
                    &l,
                    d.wear_used_pct.map(|x| x as f64),
                );
                if let Some(n) = &d.nvme {
                    e.gauge(
                        "smartctl_device_critical_warning",
                        "Critical warning counter.",
                        &l,
                        n.critical_warning.0 as f64,
                    );
                    e.gauge_opt(
                        "smartctl_device_available_spare",
                        "Normalized percentage (0 to 100%) of the remaining spare capacity available.",
                        &l,
                        n.available_spare_pct.map(|x| x as f64),
                    );
                    e.gauge_opt("smartctl_device_available_spare_threshold", "When the Available Spare falls below the threshold indicated in this field, an asynchronous event completion may occur.", &l, n.available_spare_threshold_pct.map(|x| x as f64));
                    e.gauge_opt("smartctl_device_media_errors", "Number of occurrences where the controller detected an unrecovered data integrity error.", &l, n.media_errors.map(|x| x as f64));
                    e.gauge_opt(
                        "smartctl_device_num_err_log_entries",
                        "Number of Error Information Log Entries over the life of the controller.",
                        &l,
                        n.error_log_entries.map(|x| x as f64),
                    );
                }
                if let Some(a) = &d.ata {
                    e.gauge_opt(
                        "smartctl_device_error_log_entries",
                        "Errors in the ATA error log over the device's life (smartctl_exporter: smartctl_device_error_log_count, which promtool refuses).",
                        &[("device", dev), ("error_log_type", "summary")],
                        a.error_log_count.map(|x| x as f64),
                    );
                    for at in &a.attributes {
                        let id = at.id.to_string();
                        let flags = if at.prefailure { "P" } else { "" };
                        for (kind, val) in [
                            ("value", at.value as f64),
                            ("worst", at.worst as f64),
                            ("thresh", at.thresh as f64),
                            ("raw", at.raw_value as f64),
                        ] {
                            e.gauge(
                                "smartctl_device_attribute",
                                "Device attributes.",
                                &[
                                    ("device", dev),
                                    ("attribute_name", &at.name),
                                    ("attribute_flags_short", flags),
                                    ("attribute_id", &id),
                                    ("attribute_value_type", kind),
                                ],
                                val,
                            );
                        }
                    }
                }
            }
        }
    }
    for (path, f) in &v.inventory.forecasts {
        let dev = path.strip_prefix("/dev/").unwrap_or(path);
        e.gauge_opt(
            "proxwatch_disk_wear_out_timestamp_seconds",
            "When the SSD's rated endurance is projected to be used up, from its recent write rate.",
            &[("device", dev)],
            f.projected_wear_out.map(|x| x as f64),
        );
    }
}

// ---- ZFS ----

const POOL_STATES: [&str; 7] =
    ["online", "degraded", "faulted", "offline", "removed", "unavail", "suspended"];

fn zfs(e: &mut Expo, v: &View) {
    let inv = &v.inventory;
    if let Some(list) = &inv.pool_list.data {
        for p in list {
            let l = [("zpool", p.name.as_str())];
            let state = p.health.as_str().to_ascii_lowercase();
            for s in POOL_STATES {
                e.gauge(
                    "node_zfs_zpool_state",
                    "kstat.zfs.misc.state",
                    &[("state", s), ("zpool", &p.name)],
                    if state == s { 1.0 } else { 0.0 },
                );
            }
            e.gauge_opt("proxwatch_zfs_pool_size_bytes", "The pool's size.", &l, p.size.map(|x| x as f64));
            e.gauge_opt(
                "proxwatch_zfs_pool_allocated_bytes",
                "Space allocated in the pool.",
                &l,
                p.alloc.map(|x| x as f64),
            );
            e.gauge_opt(
                "proxwatch_zfs_pool_free_bytes",
                "Free space in the pool.",
                &l,
                p.free.map(|x| x as f64),
            );
            e.gauge_opt(
                "proxwatch_zfs_pool_fragmentation_ratio",
                "Free-space fragmentation, 0-1.",
                &l,
                p.frag_percent.map(|x| x as f64 / 100.0),
            );
        }
    }
    if let Some(pools) = &inv.pools.data {
        for p in pools {
            let l = [("zpool", p.name.as_str())];
            if let Scan::Finished(f) = &p.scan
                && let Some(t) = f.ended.as_ref().and_then(|t| t.unix)
            {
                let what = match f.function {
                    crate::model::zfs::ScanFunction::Scrub | crate::model::zfs::ScanFunction::ErrorScrub => {
                        "scrub"
                    }
                    crate::model::zfs::ScanFunction::Resilver => "resilver",
                };
                e.gauge(
                    "proxwatch_zfs_pool_last_scan_timestamp_seconds",
                    "When the pool's last scrub or resilver finished.",
                    &[("zpool", &p.name), ("function", what)],
                    t as f64,
                );
                e.gauge(
                    "proxwatch_zfs_pool_last_scan_errors",
                    "Errors the pool's last scrub or resilver found.",
                    &l,
                    f.errors as f64,
                );
            }
            e.gauge(
                "proxwatch_zfs_pool_scan_running",
                "Whether a scrub or resilver is running (1) or not (0).",
                &l,
                if matches!(p.scan, Scan::InProgress(_)) { 1.0 } else { 0.0 },
            );
        }
    }
}

// ---- NUT, as DRuggeri's nut_exporter names it (with the `ups` label added here) ----

const FLAGS: [Flag; 15] = [
    Flag::OL,
    Flag::OB,
    Flag::LB,
    Flag::HB,
    Flag::RB,
    Flag::CHRG,
    Flag::DISCHRG,
    Flag::BYPASS,
    Flag::CAL,
    Flag::OFF,
    Flag::OVER,
    Flag::TRIM,
    Flag::BOOST,
    Flag::FSD,
    Flag::ALARM,
];

/// The service monitors: whether each answered its last check, how fast, and when its certificate
/// expires (HTTPS). Pending, paused and stopped guests' monitors have no check to report.
fn monitors(e: &mut Expo, v: &View) {
    use crate::model::monitor::Status;
    let mut ids: Vec<&i64> = v.monitors.keys().collect();
    ids.sort();
    for id in ids {
        let m = &v.monitors[id];
        let Some(last) = &m.last else { continue };
        if matches!(m.status, Status::Pending | Status::Paused | Status::GuestStopped) {
            continue;
        }
        let id = id.to_string();
        let vmid = m.vmid.map(|v| v.to_string()).unwrap_or_default();
        let l = [("id", id.as_str()), ("monitor", m.name.as_str()), ("vmid", vmid.as_str())];
        let up = match m.status {
            Status::Up | Status::Degraded => 1.0,
            Status::Down => 0.0,
            _ => f64::from(u8::from(last.ok)),
        };
        e.gauge(
            "proxwatch_monitor_up",
            "Whether the service monitor found its service up (1) or down (0).",
            &l,
            up,
        );
        e.gauge_opt(
            "proxwatch_monitor_latency_seconds",
            "How long the service monitor's last check took, in seconds.",
            &l,
            last.latency_ms.map(|ms| ms / 1000.0),
        );
        e.gauge_opt(
            "proxwatch_monitor_cert_expiry_timestamp_seconds",
            "When the certificate the HTTPS monitor last saw expires, in unixtime.",
            &l,
            m.cert_expires.map(|s| s as f64),
        );
    }
}

fn ups(e: &mut Expo, v: &View) {
    for u in &v.ups.upses {
        let Some(r) = &u.reading else { continue };
        let l = [("ups", u.name.as_str())];
        e.gauge_opt(
            "network_ups_tools_battery_charge",
            "Value of the battery.charge variable from Network UPS Tools.",
            &l,
            r.charge_pct,
        );
        e.gauge_opt(
            "network_ups_tools_battery_charge_low",
            "Value of the battery.charge.low variable from Network UPS Tools.",
            &l,
            r.charge_low_pct,
        );
        e.gauge_opt(
            "network_ups_tools_battery_runtime",
            "Value of the battery.runtime variable from Network UPS Tools.",
            &l,
            r.runtime_s,
        );
        e.gauge_opt(
            "network_ups_tools_battery_voltage",
            "Value of the battery.voltage variable from Network UPS Tools.",
            &l,
            r.battery_voltage,
        );
        e.gauge_opt(
            "network_ups_tools_input_voltage",
            "Value of the input.voltage variable from Network UPS Tools.",
            &l,
            r.input_voltage,
        );
        e.gauge_opt(
            "network_ups_tools_input_voltage_nominal",
            "Value of the input.voltage.nominal variable from Network UPS Tools.",
            &l,
            r.input_voltage_nominal,
        );
        e.gauge_opt(
            "network_ups_tools_output_voltage",
            "Value of the output.voltage variable from Network UPS Tools.",
            &l,
            r.output_voltage,
        );
        e.gauge_opt(
            "network_ups_tools_ups_load",
            "Value of the ups.load variable from Network UPS Tools.",
            &l,
            r.load_pct,
        );
        e.gauge_opt(
            "network_ups_tools_ups_realpower",
            "Value of the ups.realpower variable from Network UPS Tools.",
            &l,
            r.realpower_w,
        );
        e.gauge_opt(
            "network_ups_tools_ups_realpower_nominal",
            "Value of the ups.realpower.nominal variable from Network UPS Tools.",
            &l,
            r.realpower_nominal_w,
        );
        for f in FLAGS {
            let name = format!("{f:?}");
            e.gauge(
                "network_ups_tools_ups_status",
                "UPS Status Flags from Network UPS Tools.",
                &[("flag", &name), ("ups", &u.name)],
                if r.status.has(f) { 1.0 } else { 0.0 },
            );
        }
        e.gauge(
            "network_ups_tools_device_info",
            "UPS Device information (value 1).",
            &[
                ("mfr", r.mfr.as_deref().unwrap_or("")),
                ("model", r.model.as_deref().unwrap_or("")),
                ("serial", r.serial.as_deref().unwrap_or("")),
                ("ups", &u.name),
            ],
            1.0,
        );
    }
}

// ---- hwmon and IPMI ----

fn hardware(e: &mut Expo, v: &View) {
    if let Some(s) = &v.hardware.sensors.data {
        for chip in &s.chips {
            for r in &chip.readings {
                let l = [("chip", chip.id.as_str()), ("sensor", r.key.as_str())];
                match r.kind {
                    Kind::Temp => e.gauge(
                        "node_hwmon_temp_celsius",
                        "Hardware monitor for temperature (input).",
                        &l,
                        r.value,
                    ),
                    Kind::Fan => e.gauge(
                        "node_hwmon_fan_rpm",
                        "Hardware monitor for fan revolutions per minute (input).",
                        &l,
                        r.value,
                    ),
                    Kind::Voltage => {
                        e.gauge("node_hwmon_in_volts", "Hardware monitor for voltage (input).", &l, r.value)
                    }
                    Kind::Power => e.gauge(
                        "node_hwmon_power_average_watt",
                        "Hardware monitor for power usage in watts (average).",
                        &l,
                        r.value,
                    ),
                    Kind::Current => {
                        e.gauge("node_hwmon_curr_amps", "Hardware monitor for current (input).", &l, r.value)
                    }
                }
                if r.kind == Kind::Temp {
                    e.gauge_opt(
                        "node_hwmon_temp_crit_celsius",
                        "Hardware monitor for temperature (crit).",
                        &l,
                        r.crit,
                    );
                    e.gauge_opt(
                        "node_hwmon_temp_max_celsius",
                        "Hardware monitor for temperature (max).",
                        &l,
                        r.max,
                    );
                }
                if r.label != r.key {
                    e.gauge(
                        "node_hwmon_sensor_label",
                        "Label for given chip and sensor (value 1).",
                        &[("chip", &chip.id), ("label", &r.label), ("sensor", &r.key)],
                        1.0,
                    );
                }
            }
            e.gauge(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names (value 1).",
                &[("chip", &chip.id), ("chip_name", &chip.name)],
                1.0,
            );
        }
    }
    if let Some(list) = &v.hardware.ipmi.data {
        // Several sensors may share a name on some boards: the first one stands for the name.
        let mut seen = std::collections::HashSet::new();
        for s in &list.sensors {
            let Some(val) = s.value else { continue };
            if !seen.insert(s.name.as_str()) {
                continue;
            }
            e.gauge(
                "proxwatch_ipmi_sensor_value",
                "An IPMI sensor's reading, in the unit of its `unit` label (ipmitool sensor).",
                &[("sensor", &s.name), ("unit", &s.unit)],
                val,
            );
        }
    }
}

// ---- gateway probe ----

fn network(e: &mut Expo, v: &View) {
    let Some(g) = &v.network.gateway.data else { return };
    let target = g.target.as_deref().or(g.address.as_deref()).unwrap_or("");
    let l = [("target", target)];
    e.gauge_opt(
        "proxwatch_gateway_latency_seconds",
        "Round-trip time to the default gateway (the last probe window).",
        &l,
        g.latency_ms.map(|m| m / 1000.0),
    );
    e.gauge_opt(
        "proxwatch_gateway_loss_ratio",
        "Share of probes to the default gateway that got no answer, 0-1.",
        &l,
        g.loss_pct.map(|p| p / 100.0),
    );
}

// ---- GPU ----

fn gpu(e: &mut Expo, v: &View) {
    for g in &v.gpu.gpus {
        let idx = g.index.to_string();
        let l = [("gpu", idx.as_str())];
        e.gauge(
            "proxwatch_gpu_info",
            "A GPU (value 1).",
            &[
                ("gpu", &idx),
                ("vendor", &g.vendor),
                ("name", &g.name),
                ("driver_version", g.driver_version.as_deref().unwrap_or("")),
            ],
            1.0,
        );
        e.gauge_opt(
            "proxwatch_gpu_utilization_ratio",
            "GPU utilisation, 0-1.",
            &l,
            g.util_pct.map(|p| p / 100.0),
        );
        e.gauge_opt(
            "proxwatch_gpu_memory_used_bytes",
            "GPU memory in use.",
            &l,
            g.mem_used_bytes.map(|x| x as f64),
        );
        e.gauge_opt(
            "proxwatch_gpu_memory_total_bytes",
            "GPU memory.",
            &l,
            g.mem_total_bytes.map(|x| x as f64),
        );
        e.gauge_opt("proxwatch_gpu_temperature_celsius", "GPU temperature.", &l, g.temp_c);
        e.gauge_opt("proxwatch_gpu_power_watts", "GPU power draw.", &l, g.power_w);
    }
}

// ---- health ----

fn health(e: &mut Expo, v: &View) {
    let h = &v.health;
    if let Some(t) = h.full_at {
        e.gauge(
            "proxwatch_health_last_full_cycle_timestamp_seconds",
            "When the last full health cycle ran.",
            &[],
            t as f64 / 1000.0,
        );
    }
    let mut counts: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
    for c in crate::health::model::Category::ALL {
        for s in [Severity::Info, Severity::Unknown, Severity::Warning, Severity::Critical] {
            counts.insert((c.id(), s.as_str()), 0);
        }
    }
    for findings in h.results.values() {
        for f in findings {
            if f.severity == Severity::Ok {
                continue;
            }
            if h.records.get(&f.key).is_some_and(|r| r.dismissed) {
                continue;
            }
            *counts.entry((f.category.id(), f.severity.as_str())).or_default() += 1;
            e.gauge(
                "proxwatch_health_finding",
                "An active (not dismissed) finding (value 1).",
                &[("key", &f.key), ("category", f.category.id()), ("severity", f.severity.as_str())],
                1.0,
            );
        }
    }
    for ((cat, sev), n) in counts {
        e.gauge(
            "proxwatch_health_findings",
            "Active (not dismissed) findings by category and severity.",
            &[("category", cat), ("severity", sev)],
            n as f64,
        );
    }
}

// ---- the facts collector: filesystems (node_exporter's names), updates and reboot (the names of
// Debian's prometheus-node-exporter-collectors apt_info.py), certificates ----

fn facts(e: &mut Expo, v: &View) {
    use crate::health::facts::MountUsage;
    use crate::health::model::Source;
    let f = &v.facts;
    if let Source::Ok { data } = &f.filesystems {
        for m in &data.mounts {
            let MountUsage::Ok { size, used, avail, files, files_free, .. } = &m.usage else { continue };
            let l = [
                ("device", m.source.as_str()),
                ("fstype", m.fstype.as_str()),
                ("mountpoint", m.mountpoint.as_str()),
            ];
            e.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", &l, *size as f64);
            e.gauge(
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                &l,
                *avail as f64,
            );
            e.gauge(
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                &l,
                size.saturating_sub(*used) as f64,
            );
            e.gauge("node_filesystem_files", "Filesystem total file nodes.", &l, *files as f64);
            e.gauge(
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
                &l,
                *files_free as f64,
            );
            e.gauge(
                "node_filesystem_readonly",
                "Filesystem read-only status.",
                &l,
                if m.readonly { 1.0 } else { 0.0 },
            );
        }
    }
    if let Source::Ok { data: u } = &f.updates {
        e.gauge("apt_upgrades_pending", "Apt packages pending updates.", &[], u.pending as f64);
        e.gauge(
            "proxwatch_apt_upgrades_security_pending",
            "Pending updates from a security origin.",
            &[],
            u.security as f64,
        );
        e.gauge(
            "proxwatch_apt_upgrades_pve_pending",
            "Pending updates of Proxmox VE packages.",
            &[],
            u.pve as f64,
        );
    }
    if let Source::Ok { data: r } = &f.reboot {
        e.gauge(
            "node_reboot_required",
            "Node reboot is required for software updates.",
            &[],
            if r.required { 1.0 } else { 0.0 },
        );
    }
    for c in &f.certs {
        if let Source::Ok { data } = &c.cert {
            e.gauge(
                "proxwatch_certificate_expiry_timestamp_seconds",
                "When the certificate stops being valid (notAfter).",
                &[("name", &c.name), ("path", &c.path)],
                data.not_after as f64,
            );
        }
    }
}

// ---- where the data comes from ----

fn sources(e: &mut Expo, v: &View) {
    fn state<T>(s: &Section<T>) -> f64 {
        match s.state {
            SectionState::Ok => 1.0,
            _ => 0.0,
        }
    }
    let inv = &v.inventory;
    let list: [(&str, f64, bool); 9] = [
        ("cluster_resources", state(&inv.resources), inv.resources.state == SectionState::Unavailable),
        ("node_status", state(&inv.node_status), inv.node_status.state == SectionState::Unavailable),
        ("storage", state(&inv.storage), inv.storage.state == SectionState::Unavailable),
        ("zpool", state(&inv.pools), inv.pools.state == SectionState::Unavailable),
        ("smartctl", state(&inv.smart_devices), inv.smart_devices.state == SectionState::Unavailable),
        ("hwmon", state(&v.hardware.sensors), v.hardware.sensors.state == SectionState::Unavailable),
        ("ipmi", state(&v.hardware.ipmi), v.hardware.ipmi.state == SectionState::Unavailable),
        ("gateway", state(&v.network.gateway), v.network.gateway.state == SectionState::Unavailable),
        ("vitals", if v.vitals.is_some() { 1.0 } else { 0.0 }, false),
    ];
    for (name, ok, unavailable) in list {
        if unavailable {
            continue;
        }
        e.gauge("proxwatch_source_up", "Whether a data source's last read succeeded (1) or not (0); sources not on this host are left out.", &[("source", name)], ok);
    }
}
