//! The process scanner: walks `/proc/<pid>` for the top-processes view and tags each process with the
//! Proxmox guest it belongs to (from its cgroup, or `kvm -id N`). It runs only while someone looked at
//! processes recently (plus once at start), so an idle host with no dashboard open pays nothing.

use std::collections::HashMap;

use crate::host::Host;
use crate::model::{GuestKind, Process, ProcessSnapshot};
use crate::tools::procfs;

/// USER_HZ: the kernel reports per-process times in 1/100 s on every architecture Proxmox runs on
/// (it is fixed at 100 for the user ABI; see `man 5 proc`, "clock ticks").
const TICKS_PER_S: f64 = 100.0;

#[derive(Clone)]
struct Known {
    ticks: u64,
    guest: Option<(GuestKind, u32)>,
    command: String,
}

#[derive(Default)]
pub struct ProcessScanner {
    known: HashMap<(u32, u64), Known>,
    prev_ms: i64,
    users: HashMap<u32, String>,
    users_loaded_ms: i64,
}

impl ProcessScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans all processes at `now_ms`. CPU % is relative to one core over the time since the previous
    /// scan (0 for processes first seen now). Processes that vanish mid-scan are skipped.
    pub fn step(&mut self, host: &Host, now_ms: i64) -> anyhow::Result<ProcessSnapshot> {
        if self.users.is_empty() || now_ms - self.users_loaded_ms > 600_000 {
            self.users = host.read("/etc/passwd").map(|t| procfs::parse_passwd(&t)).unwrap_or_default();
            self.users_loaded_ms = now_ms;
        }
        let secs = if self.prev_ms > 0 { (now_ms - self.prev_ms) as f64 / 1000.0 } else { 0.0 };
        let mut known = HashMap::with_capacity(self.known.len());
        let mut processes = Vec::new();
        for entry in host.list_dir("/proc")? {
            let Ok(pid) = entry.parse::<u32>() else { continue };
            let dir = format!("/proc/{pid}");
            let Ok(stat) = host
                .read(&format!("{dir}/stat"))
                .map_err(anyhow::Error::from)
                .and_then(|t| procfs::parse_pid_stat(&t).map_err(anyhow::Error::from))
            else {
                continue;
            };
            let Ok(status) = host.read(&format!("{dir}/status")) else { continue };
            let Ok(status) = procfs::parse_pid_status(&status) else { continue };
            let key = (pid, stat.starttime);
            let ticks = stat.utime + stat.stime;
            let info = match self.known.get(&key) {
                Some(k) => Known { ticks, ..k.clone() },
                None => {
                    // cmdline and cgroup do not change for a process's life in practice: read them once.
                    let args = host.read_bytes(&format!("{dir}/cmdline")).map(|b| procfs::split_cmdline(&b));
                    let args = args.unwrap_or_default();
                    let guest = host
                        .read(&format!("{dir}/cgroup"))
                        .ok()
                        .and_then(|c| procfs::guest_from_cgroup(&c))
                        .or_else(|| procfs::vmid_from_kvm_cmdline(&args).map(|id| (GuestKind::Qemu, id)));
                    let mut command =
                        if args.is_empty() { format!("[{}]", stat.comm) } else { args.join(" ") };
                    command.truncate(512);
                    Known { ticks, guest, command }
                }
            };
            let cpu_pct = match (self.known.get(&key), secs > 0.0) {
                (Some(old), true) => ticks.saturating_sub(old.ticks) as f64 / TICKS_PER_S / secs * 100.0,
                _ => 0.0,
            };
            processes.push(Process {
                pid,
                user: self.users.get(&status.uid).cloned().unwrap_or_else(|| status.uid.to_string()),
                name: stat.comm.clone(),
                command: info.command.clone(),
                cpu_pct,
                rss_bytes: status.rss_bytes,
                threads: stat.threads,
                state: stat.state.to_string(),
                vmid: info.guest.map(|g| g.1),
                guest_kind: info.guest.map(|g| g.0),
            });
            known.insert(key, info);
        }
        self.known = known;
        self.prev_ms = now_ms;
        Ok(ProcessSnapshot { sampled_at: now_ms, processes })
    }
}
