//! What `pvesh get /nodes/{node}/status`, `pveversion` and `…/replication` read, read from the same
//! node-local files instead (issue 15). Pure parsers and one pure assembly, each following its source:
//! - the installed version: dpkg's database (`/var/lib/dpkg/status`, the `pve-manager` paragraph's
//!   `Version:`), and the repository id that `pveversion` prints beside it from pve-manager's
//!   `PVE/pvecfg.pm` (`sub repoid { return '…'; }`, written at build time from `PVE/pvecfg.pm.in`);
//! - the node status: pve-manager `PVE/API2/Nodes.pm` `status` (uptime and load from `/proc`, the
//!   kernel from `uname`, `boot-info` from `/sys/firmware/efi`, memory and swap as pve-common
//!   `PVE::ProcFSTools::read_meminfo` computes them: used = total − MemAvailable, KSM =
//!   `pages_sharing` × 4096; the root filesystem from `df('/')`); the CPU and I/O-wait fractions
//!   from pvestatd's broadcast in `.rrd`, the same numbers the node summary graphs;
//! - the replication state: pve-guest-common `PVE/ReplicationState.pm` (`/var/lib/pve-manager/
//!   pve-replication-state.json`: `{vmid: {"local/<target>": {last_sync, last_try, fail_count,
//!   duration, error, …}}}`), joined with `replication.cfg` the way `job_status` joins them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::host::ToolError;
use crate::model::pve::{BootInfo, CpuInfo, CurrentKernel, Ksm, NodeStatus, ReplicationJob, Usage};
use crate::tools::pmxcfs::{Members, NodeStats, VmlistEntry};
use crate::tools::pveconf::ReplicationDef;

pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
pub const PVECFG: &str = "/usr/share/perl5/PVE/pvecfg.pm";
pub const REPLICATION_STATE: &str = "/var/lib/pve-manager/pve-replication-state.json";
pub const KSM_SHARING: &str = "/sys/kernel/mm/ksm/pages_sharing";
pub const EFI_DIR: &str = "/sys/firmware/efi";
pub const SECURE_BOOT_VAR: &str = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// The status dpkg's database is read at most this big (a PVE host's is 2–4 MB).
pub const DPKG_STATUS_MAX: usize = 32 << 20;

/// The installed version of `package` from dpkg's status database: the paragraph whose `Package:`
/// is it and whose `Status:` ends in `installed`. `None` when it is not installed.
pub fn installed_version(status: &str, package: &str) -> Option<String> {
    for para in status.split("\n\n") {
        let mut name = None;
        let mut installed = false;
        let mut version = None;
        for line in para.lines() {
            if let Some(v) = line.strip_prefix("Package:") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status:") {
                installed = v.trim().ends_with(" installed");
            } else if let Some(v) = line.strip_prefix("Version:") {
                version = Some(v.trim());
            }
        }
        if name == Some(package) && installed {
            return version.map(str::to_string);
        }
    }
    None
}

/// `sub repoid { return 'faa83925c9641325'; }` of `PVE/pvecfg.pm`.
pub fn pvecfg_repoid(text: &str) -> Option<String> {
    let at = text.find("sub repoid")?;
    let rest = &text[at..];
    let body = &rest[rest.find('{')? + 1..rest.find('}')?];
    let q = body.find('\'')?;
    let value = &body[q + 1..];
    let value = &value[..value.find('\'')?];
    (!value.is_empty() && !value.contains('@')).then(|| value.to_string())
}

/// `pve-manager/<version>/<repoid>`, as `pveversion` and the node status print it (the repoid left
/// out where `pvecfg.pm` cannot be read).
pub fn pveversion_line(version: &str, repoid: Option<&str>) -> String {
    match repoid {
        Some(r) => format!("pve-manager/{version}/{r}"),
        None => format!("pve-manager/{version}"),
    }
}

/// The node-local readings `Nodes.pm` `status` combines, as read from their files.
pub struct NodeInputs<'a> {
    pub uptime_s: f64,
    pub loadavg: [f64; 3],
    pub cpu: &'a crate::model::CpuInfo,
    /// `/proc/cpuinfo`'s first `cpu MHz`.
    pub mhz: Option<f64>,
    pub mem: &'a crate::model::counters::Meminfo,
    /// `pages_sharing`.
    pub ksm_pages: u64,
    /// `/proc/sys/kernel/{ostype,osrelease,version}` and the machine.
    pub kernel: CurrentKernel,
    pub efi: bool,
    /// The SecureBoot variable's bytes (4 attribute bytes, then the value).
    pub secureboot_var: Option<&'a [u8]>,
    /// `df /`: total, used, avail.
    pub rootfs: Option<(u64, u64, u64)>,
    pub rrd: Option<&'a NodeStats>,
    pub pveversion: String,
}

/// Assembles the node status as `Nodes.pm` answers it.
pub fn node_status(i: &NodeInputs<'_>) -> NodeStatus {
    let m = i.mem;
    let k = &i.kernel;
    let secureboot = i.secureboot_var.and_then(|b| b.get(4)).is_some_and(|v| *v == 1);
    NodeStatus {
        cpu: i.rrd.map_or(0.0, |r| r.cpu),
        wait: i.rrd.and_then(|r| r.iowait),
        cpuinfo: CpuInfo {
            model: i.cpu.model.clone(),
            cores: Some(u64::from(i.cpu.cores)),
            sockets: Some(u64::from(i.cpu.sockets)),
            cpus: Some(u64::from(i.cpu.threads)),
            mhz: i.mhz,
        },
        memory: Usage {
            total: m.total,
            used: m.total.saturating_sub(m.available),
            free: m.free,
            avail: None,
        },
        swap: Usage {
            total: m.swap_total,
            used: m.swap_total.saturating_sub(m.swap_free),
            free: m.swap_free,
            avail: None,
        },
        rootfs: i.rootfs.map_or_else(Usage::default, |(total, used, avail)| Usage {
            total,
            used,
            free: total.saturating_sub(used),
            avail: Some(avail),
        }),
        uptime: i.uptime_s as u64,
        loadavg: i.loadavg.to_vec(),
        kversion: format!("{} {} {}", k.sysname, k.release, k.version),
        pveversion: i.pveversion.clone(),
        ksm: Ksm { shared: i.ksm_pages.saturating_mul(4096) },
        current_kernel: Some(k.clone()),
        boot_info: Some(BootInfo { mode: if i.efi { "efi" } else { "legacy-bios" }.into(), secureboot }),
    }
}

/// `/proc/cpuinfo`'s first `cpu MHz` line.
pub fn cpu_mhz(cpuinfo: &str) -> Option<f64> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split_once(':'))
        .and_then(|(_, v)| v.trim().parse().ok())
}

#[derive(Debug, Default, Deserialize)]
struct RawState {
    #[serde(default)]
    last_sync: Option<u64>,
    #[serde(default)]
    last_try: Option<u64>,
    #[serde(default)]
    fail_count: Option<u64>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    error: Option<String>,
}

/// Parses the replication state file (`{}` or empty when nothing ever ran).
pub fn parse_replication_state(
    text: &str,
) -> Result<BTreeMap<String, BTreeMap<String, serde_json::Value>>, ToolError> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    crate::tools::pmxcfs::json(REPLICATION_STATE, text)
}

/// This node's replication jobs as `GET /nodes/{node}/replication` lists them (`job_status`): jobs
/// of guests on this node, not to this node, disabled ones left out; each with its state. `next_sync`
/// is given for a failing job (`last_try` + 5 min × fails, 30 min from the fourth on); a scheduled
/// one's next run needs PVE's calendar and is left out.
pub fn replication_jobs(
    defs: &[ReplicationDef],
    state: &BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    vmlist: &[VmlistEntry],
    members: &Members,
    node: &str,
) -> Vec<ReplicationJob> {
    let mut out = Vec::new();
    for d in defs {
        if d.kind != "local" || !vmlist.iter().any(|v| v.vmid == d.guest && v.node == node) {
            continue;
        }
        if !d.remove_job && (d.target == node || d.disable) {
            continue;
        }
        let s: RawState = state
            .get(&d.guest.to_string())
            .and_then(|m| m.get(&format!("local/{}", d.target)))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let fails = s.fail_count.unwrap_or(0);
        let target_online =
            members.nodes.iter().any(|m| m.name == d.target && m.online) || members.cluster.is_none();
        let next_sync = if d.remove_job {
            Some(1)
        } else if fails > 0 && target_online {
            Some(s.last_try.unwrap_or(0) + 60 * if fails <= 3 { 5 * fails } else { 30 })
        } else {
            None
        };
        out.push(ReplicationJob {
            id: d.id.clone(),
            guest: d.guest,
            target: d.target.clone(),
            schedule: Some(d.schedule.clone().unwrap_or_else(|| "*/15".into())),
            last_sync: Some(s.last_sync.unwrap_or(0)),
            last_try: Some(s.last_try.unwrap_or(0)),
            next_sync,
            duration: s.duration,
            fail_count: Some(fails),
            error: s.error.filter(|e| !e.is_empty()),
            disable: d.disable,
            comment: d.comment.clone(),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two paragraphs as dpkg writes them; pve-manager once removed (config-files) and once installed.
    const DPKG: &str = "Package: pve-manager\nStatus: deinstall ok config-files\nVersion: 7.4-3\n\n\
Package: proxmox-ve\nStatus: install ok installed\nPriority: optional\nVersion: 8.2.0\nDepends: pve-manager\n\n\
Package: pve-manager\nStatus: install ok installed\nPriority: optional\nSection: admin\nInstalled-Size: 8153\n\
Maintainer: Proxmox Support Team <support@proxmox.com>\nArchitecture: amd64\nVersion: 8.2.4\n\
Description: Proxmox Virtual Environment Management Tools\n This package contains the PVE management tools\n";

    #[test]
    fn installed_version_from_dpkg_status() {
        assert_eq!(installed_version(DPKG, "pve-manager").as_deref(), Some("8.2.4"));
        assert_eq!(installed_version(DPKG, "proxmox-ve").as_deref(), Some("8.2.0"));
        assert_eq!(installed_version(DPKG, "qemu-server"), None);
        assert_eq!(installed_version("", "pve-manager"), None);
    }

    #[test]
    fn repoid_from_pvecfg() {
        let built = "package PVE::pvecfg;\n\nuse strict;\nuse warnings;\n\nsub package {\n    return 'pve-manager';\n}\n\nsub version {\n    return '8.2.4';\n}\n\nsub release {\n    return '8.2';\n}\n\nsub repoid {\n    return 'faa83925c9641325';\n}\n";
        assert_eq!(pvecfg_repoid(built).as_deref(), Some("faa83925c9641325"));
        // The template itself (a source tree, not an installed file) has no id.
        assert_eq!(pvecfg_repoid("sub repoid {\n    return '@REPOID@';\n}\n"), None);
        assert_eq!(pveversion_line("8.2.4", Some("faa83925c9641325")), "pve-manager/8.2.4/faa83925c9641325");
        assert_eq!(pveversion_line("9.0.3", None), "pve-manager/9.0.3");
    }

    #[test]
    fn node_status_as_nodes_pm_builds_it() {
        let cpu = crate::model::CpuInfo { model: "AMD EPYC".into(), sockets: 1, cores: 8, threads: 16 };
        let mem = crate::model::counters::Meminfo {
            total: 64 << 30,
            free: 10 << 30,
            available: 40 << 30,
            swap_total: 8 << 30,
            swap_free: 6 << 30,
            ..Default::default()
        };
        let rrd = NodeStats { cpu: 0.25, iowait: Some(0.01), ..Default::default() };
        let s = node_status(&NodeInputs {
            uptime_s: 3600.7,
            loadavg: [0.5, 0.4, 0.3],
            cpu: &cpu,
            mhz: Some(3400.0),
            mem: &mem,
            ksm_pages: 10,
            kernel: CurrentKernel {
                sysname: "Linux".into(),
                release: "6.8.12-4-pve".into(),
                version: "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4".into(),
                machine: "x86_64".into(),
            },
            efi: true,
            secureboot_var: Some(&[6, 0, 0, 0, 1]),
            rootfs: Some((100, 40, 55)),
            rrd: Some(&rrd),
            pveversion: "pve-manager/8.2.4/faa83925c9641325".into(),
        });
        assert_eq!((s.cpu, s.wait, s.uptime), (0.25, Some(0.01), 3600));
        assert_eq!(s.memory.used, 24 << 30);
        assert_eq!(s.swap.used, 2 << 30);
        assert_eq!((s.rootfs.total, s.rootfs.used, s.rootfs.free, s.rootfs.avail), (100, 40, 60, Some(55)));
        assert_eq!(s.ksm.shared, 40960);
        assert_eq!(s.kversion, "Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4");
        assert_eq!(s.boot_info, Some(BootInfo { mode: "efi".into(), secureboot: true }));
        assert_eq!(s.cpuinfo.cpus, Some(16));
    }

    #[test]
    fn replication_jobs_join_config_and_state() {
        let cfg = "local: 100-0\n\ttarget pve2\n\tschedule */5\n\tcomment nightly%20copy\n\n\
local: 101-0\n\ttarget pve2\n\tdisable\n\n\
local: 102-0\n\ttarget pve2\n\n\
local: 300-1\n\ttarget pve1\n";
        let defs = crate::tools::pveconf::parse_replication_cfg(cfg);
        assert_eq!(defs.len(), 4);
        assert_eq!(defs[0].comment.as_deref(), Some("nightly copy"));
        // As `encode_json` writes it: one line.
        let state = parse_replication_state(r#"{"100":{"local/pve2":{"last_iteration":1733400000,"last_sync":1733399700,"last_try":1733399700,"fail_count":0,"duration":3.51,"storeid_list":["local-zfs"],"last_node":"pve1"}},"102":{"local/pve2":{"last_try":1733400000,"last_sync":1733390000,"fail_count":2,"error":"command 'zfs snapshot' failed: exit code 1","duration":1.2}}}"#).unwrap();
        let vmlist = [100, 101, 102, 300]
            .map(|vmid| VmlistEntry {
                vmid,
                node: if vmid == 300 { "pve2" } else { "pve1" }.into(),
                kind: crate::model::pve::GuestKind::Qemu,
                version: 1,
            })
            .to_vec();
        let members = crate::tools::pmxcfs::parse_members(
            "{\n\"nodename\": \"pve1\",\n\"version\": 5,\n\"cluster\": { \"name\": \"c\", \"version\": 2, \"nodes\": 2, \"quorate\": 1 },\n\"nodelist\": {\n  \"pve1\": { \"id\": 1, \"online\": 1, \"ip\": \"10.0.0.1\"},\n  \"pve2\": { \"id\": 2, \"online\": 1, \"ip\": \"10.0.0.2\"}\n  }\n}\n",
        )
        .unwrap();
        let jobs = replication_jobs(&defs, &state, &vmlist, &members, "pve1");
        // 101 is disabled; 300 lives on pve2.
        assert_eq!(jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["100-0", "102-0"]);
        assert_eq!(
            (jobs[0].last_sync, jobs[0].duration, jobs[0].fail_count),
            (Some(1733399700), Some(3.51), Some(0))
        );
        assert!(!jobs[0].failing());
        assert_eq!(jobs[0].schedule.as_deref(), Some("*/5"));
        assert!(jobs[1].failing());
        assert_eq!(jobs[1].next_sync, Some(1733400000 + 600));
        assert_eq!(jobs[1].schedule.as_deref(), Some("*/15"));
        assert!(parse_replication_state("").unwrap().is_empty());
        let e = parse_replication_state("{\"100\": [").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
