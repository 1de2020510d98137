//! `proxwatch record-scenario --out DIR`: captures, on a real host, every argv and kernel file that
//! proxwatch reads, into a scenario folder that [`crate::host::Scenario`] can replay. The operator scrubs
//! serials, WWNs, MAC addresses and hostnames before sharing it (the command reminds them).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::host::{Host, ToolError};

/// Every argv proxwatch runs, with `{node}` standing for the node name. Keep in sync with `tools/`.
pub const COMMANDS: &[&[&str]] = &[
    &["pveversion"],
    &["pveversion", "-v"],
    &["pvesh", "get", "/version", "--output-format", "json"],
    &["pvesh", "get", "/nodes/{node}/status", "--output-format", "json"],
    &["pvesh", "get", "/cluster/resources", "--output-format", "json"],
    &["pvesh", "get", "/cluster/status", "--output-format", "json"],
    &["pvesh", "get", "/nodes/{node}/qemu", "--output-format", "json"],
    &["pvesh", "get", "/nodes/{node}/lxc", "--output-format", "json"],
    &["pvesh", "get", "/nodes/{node}/storage", "--output-format", "json"],
    &["pvesh", "get", "/nodes/{node}/tasks", "--output-format", "json"],
    &["pvesh", "get", "/cluster/backup", "--output-format", "json"],
    &["pvesh", "get", "/nodes/{node}/disks/list", "--output-format", "json"],
    &["zpool", "list", "-H", "-p"],
    &["zpool", "status"],
    crate::tools::zpool::STATUS_JSON_ARGV,
    crate::tools::storage::LVS_ARGV,
    crate::tools::storage::VGS_ARGV,
    crate::tools::storage::LSBLK_ARGV,
    &["smartctl", "--scan", "-j"],
    crate::tools::net::IP_ADDR_ARGV,
    // Health facts (the journal is not recorded: it holds user names and addresses).
    &["apt-get", "-s", "dist-upgrade"],
    &crate::tools::timesync::CHRONY_ARGV,
    &crate::tools::timesync::TIMEDATECTL_ARGV,
    &["fail2ban-client", "banned"],
    // The tools' versions (`proxwatch doctor`).
    &["smartctl", "--version"],
    &["zpool", "version"],
    &["ipmitool", "-V"],
    &["upsc", "-V"],
    &["journalctl", "--version"],
];

/// Kernel and config files read directly (plus the hwmon tree, walked below).
pub const FILES: &[&str] = &[
    "/proc/stat",
    "/proc/meminfo",
    "/proc/loadavg",
    "/proc/uptime",
    "/proc/net/dev",
    "/proc/net/route",
    "/proc/net/ipv6_route",
    "/proc/diskstats",
    "/proc/cpuinfo",
    "/proc/pressure/cpu",
    "/proc/pressure/memory",
    "/proc/pressure/io",
    "/proc/spl/kstat/zfs/arcstats",
    "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/ostype",
    "/proc/sys/kernel/version",
    crate::tools::pvenode::KSM_SHARING,
    crate::tools::pvenode::SECURE_BOOT_VAR,
    crate::tools::pvenode::PVECFG,
    crate::tools::pvenode::REPLICATION_STATE,
    "/etc/hostname",
    "/etc/hosts",
    "/etc/os-release",
    crate::tools::mounts::MOUNTINFO,
    crate::tools::mounts::FSTAB,
    crate::tools::mounts::STORAGE_CFG,
];

fn toml_str(s: &str) -> String {
    // TOML basic strings share JSON's escapes for everything we emit.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Records the scenario into `out` (created if needed). Returns a summary line.
pub async fn record(host: &Host, out: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(out.join("commands")).with_context(|| format!("creating {}", out.display()))?;
    let node = host.read("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default();
    let mut manifest = format!(
        "[scenario]\nname = {}\ndescription = {}\n",
        toml_str(out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().as_str()),
        toml_str(&format!("recorded by proxwatch {} record-scenario", crate::VERSION)),
    );
    let (mut commands, mut files) = (0, 0);
    let mut argvs: Vec<(Vec<String>, String)> = COMMANDS
        .iter()
        .enumerate()
        .map(|(i, argv)| {
            let argv: Vec<String> = argv.iter().map(|a| a.replace("{node}", &node)).collect();
            let rel = format!("commands/{i:02}_{}.out", argv[0]);
            (argv, rel)
        })
        .collect();
    // Each local guest's config, as the inventory poller reads it.
    if let Ok(resources) = crate::tools::pvesh::cluster_resources(host).await {
        for g in resources.iter().filter_map(|r| r.as_guest()).filter(|g| g.node == node) {
            let path = format!("/nodes/{node}/{}/{}/config", g.kind.as_str(), g.vmid);
            argvs.push((crate::tools::pvesh::argv(&path), format!("commands/config_{}.json", g.vmid)));
        }
    }
    // SMART per disk, with the argv the poller uses (`-n standby`: recording never wakes a disk).
    if let Ok(devices) = crate::tools::smartctl::scan(host).await {
        for dev in devices {
            let rel =
                format!("commands/smartctl_{}.json", dev.name.trim_start_matches("/dev/").replace('/', "_"));
            argvs.push((crate::tools::smartctl::info_argv(&dev), rel));
        }
    }
    for (argv, rel) in argvs {
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let argv_toml = format!("[{}]", argv.iter().map(|a| toml_str(a)).collect::<Vec<_>>().join(", "));
        match host.run(&refs).await {
            Ok(o) => {
                std::fs::write(out.join(&rel), &o.stdout)?;
                let _ = write!(
                    manifest,
                    "\n[[command]]\nargv = {argv_toml}\nstdout = {}\nstderr = {}\nexit = {}\n",
                    toml_str(&rel),
                    toml_str(&o.stderr),
                    o.code
                );
                commands += 1;
            }
            Err(ToolError::Missing { .. }) => {
                let _ = write!(manifest, "\n[[command]]\nargv = {argv_toml}\nmissing = true\n");
            }
            Err(e) => tracing::warn!(?argv, error = %e, "not recorded"),
        }
    }
    let mut paths: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    // Proxmox's own status and task files (what the inventory reads before pvesh); never `priv/`.
    paths.extend(
        [
            crate::tools::pmxcfs::VMLIST,
            crate::tools::pmxcfs::MEMBERS,
            crate::tools::pmxcfs::RRD,
            crate::tools::pmxcfs::VERSION,
            crate::tools::pmxcfs::CLUSTERLOG,
            crate::tools::pveconf::JOBS_CFG,
            crate::tools::pveconf::VZDUMP_CRON,
            crate::tools::pveconf::REPLICATION_CFG,
            crate::tools::pvetasks::INDEX,
            crate::tools::pvetasks::INDEX_OLD,
            crate::tools::pvetasks::ACTIVE,
        ]
        .map(String::from),
    );
    paths.extend(
        [crate::tools::pveconf::HA_MANAGER_STATUS, crate::tools::pveconf::HA_RESOURCES].map(String::from),
    );
    // user.cfg's pools only (the guest list names each guest's pool); its users, groups and ACLs name
    // people and stay out.
    if let Ok(Some(text)) = host.read_optional(crate::tools::pveconf::USER_CFG) {
        let pools: String =
            text.lines().filter(|l| l.trim_start().starts_with("pool:")).map(|l| format!("{l}\n")).collect();
        let dest = out.join(crate::tools::pveconf::USER_CFG.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, pools)?;
        files += 1;
    }
    // dpkg's database: the Proxmox packages' paragraphs only (the installed version); the rest lists
    // every package on the host and is not read.
    if let Ok(Some(text)) =
        host.read_head(crate::tools::pvenode::DPKG_STATUS, crate::tools::pvenode::DPKG_STATUS_MAX)
    {
        let keep: Vec<&str> = text
            .split("\n\n")
            .filter(|p| {
                p.lines().next().is_some_and(|l| l == "Package: pve-manager" || l == "Package: proxmox-ve")
            })
            .collect();
        let dest = out.join(crate::tools::pvenode::DPKG_STATUS.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, keep.join("\n\n") + "\n")?;
        files += 1;
    }
    // datacenter.cfg's tag colours only: the file may hold an `http_proxy` with a password in it.
    if let Ok(Some(text)) = host.read_optional(crate::tools::pveconf::DATACENTER_CFG) {
        let kept: String =
            text.lines().filter(|l| l.starts_with("tag-style:")).map(|l| format!("{l}\n")).collect();
        let dest = out.join(crate::tools::pveconf::DATACENTER_CFG.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, kept)?;
        files += 1;
    }
    // Guest configs (their `lock` and `tags` feed the guest list).
    if let Ok(Some(text)) = host.read_optional(crate::tools::pmxcfs::VMLIST)
        && let Ok(list) = crate::tools::pmxcfs::parse_vmlist(&text)
    {
        paths.extend(list.iter().map(|v| crate::tools::pveconf::guest_config_path(&v.node, v.kind, v.vmid)));
    }
    if let Ok(tasks) = crate::tools::pvetasks::read_list(host) {
        paths.extend(tasks.iter().filter_map(|t| crate::tools::pvetasks::log_path(&t.upid)));
    }
    // The pools' kernel states (what the inventory watches between its zpool runs).
    if let Some(states) = crate::tools::zpool::kstat_states(host) {
        paths.extend(states.keys().map(|p| format!("{}/{p}/state", crate::tools::zpool::KSTAT_DIR)));
    }
    // The services' cgroups (whether each has processes: what the services check watches between
    // its systemctl runs).
    if let Ok(units) = host.list_dir(crate::tools::services::SYSTEM_SLICE) {
        paths.extend(
            units
                .iter()
                .filter(|u| u.ends_with(".service"))
                .map(|u| format!("{}/{u}/cgroup.events", crate::tools::services::SYSTEM_SLICE)),
        );
    }
    if let Ok(chips) = host.list_dir("/sys/class/hwmon") {
        for chip in chips {
            let dir = format!("/sys/class/hwmon/{chip}");
            for f in host.list_dir(&dir).unwrap_or_default() {
                if f == "name" || f.starts_with("temp") || f.starts_with("fan") || f.starts_with("in") {
                    paths.push(format!("{dir}/{f}"));
                }
            }
        }
    }
    for p in paths {
        if let Ok(Some(text)) = host.read_optional(&p) {
            let dest = out.join(p.trim_start_matches('/'));
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&dest, text)?;
            files += 1;
        }
    }
    // statvfs answers for the mounts the health collector checks (a stale one recorded as such).
    if let Some(all) = host
        .read(crate::tools::mounts::MOUNTINFO)
        .ok()
        .and_then(|t| crate::tools::mounts::parse_mountinfo(&t).ok())
    {
        let mut toml = String::from("# statvfs(3) answers, recorded by proxwatch record-scenario\n");
        for m in crate::tools::mounts::select(&all, 64).mounts {
            let key = toml_str(&m.mountpoint);
            match host.statvfs(&m.mountpoint, std::time::Duration::from_secs(2)).await {
                Ok(st) => {
                    let _ = write!(
                        toml,
                        "\n[{key}]\nsize = {}\nfree = {}\navail = {}\nfiles = {}\nfiles_free = {}\nreadonly = {}\n",
                        st.size, st.free, st.avail, st.files, st.files_free, st.readonly
                    );
                }
                Err(ToolError::Timeout { .. }) => {
                    let _ = write!(toml, "\n[{key}]\nstale = true\n");
                }
                Err(e) => tracing::warn!(mount = %m.mountpoint, error = %e, "statvfs not recorded"),
            }
        }
        std::fs::write(out.join("statvfs.toml"), toml)?;
        files += 1;
    }
    // NVML's answer (GPUs, or why there are none), as the GPU worker asks for it.
    if let Some(recorded) = crate::host::nvml::Recorded::of(&host.nvml_gpus(Duration::from_secs(30)).await) {
        std::fs::write(out.join(crate::host::nvml::RECORDING), serde_json::to_string_pretty(&recorded)?)?;
        files += 1;
    }
    std::fs::write(out.join("manifest.toml"), manifest)?;
    Ok(format!(
        "recorded {commands} commands and {files} files into {}; scrub serials, WWNs, MACs and hostnames before sharing it",
        out.display()
    ))
}
