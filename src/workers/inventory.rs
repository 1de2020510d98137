//! The inventory poller: guests, cluster, storages, tasks, backup jobs, ZFS pools, LVM, block devices
//! and SMART, each source on its own interval with its own timeout, all through the host seam. Each
//! source is a [`Section`]: the last good data is kept when a run fails (marked `stale` with the
//! reason), a missing tool makes the section `unavailable`, never an error. Handlers read the
//! published snapshot only.
//!
//! Guest rates (network, disk) come from the counter deltas between two `/cluster/resources` polls.
//! SMART is read with `-n standby` at most every 30 minutes per disk (all disks at the first pass, then
//! one per step), so a sleeping disk is never woken and keeps its last reading.

use std::collections::{BTreeMap, HashMap};

use crate::host::pveapi::{PveLink, PveRequest};
use crate::host::{Host, ToolError};
use crate::tools::pvesh::{self, ClusterResource, GuestKind};
use crate::tools::smartctl::{self, Reading, ScanDevice};
use crate::tools::storage;
use crate::tools::zpool::{self, StatusFormat};
use crate::tools::{pmxcfs, pvenode, pvetasks};
use crate::workers::clusterfs::ClusterFs;

pub use crate::model::inventory::{GuestRates, Inventory};
pub use crate::model::section::{Section, SectionState};

/// The fold lives with the poller (it knows the tools' errors); the type is `model::section`'s.
impl<T> Section<T> {
    /// Folds a run's result in: new data, or the failure kept next to the old data.
    fn apply(&mut self, what: &str, result: Result<T, ToolError>, now_s: i64) {
        super::fold(self, what, result, now_s, super::missing_reason);
    }
}

/// How often each source runs, seconds. `/cluster/resources` carries the guests' live numbers and is
/// the only frequent one; everything else changes slowly.
#[derive(Debug, Clone)]
pub struct Intervals {
    pub resources: i64,
    pub node_status: i64,
    pub cluster: i64,
    pub storage: i64,
    pub tasks: i64,
    pub backup_jobs: i64,
    pub replication: i64,
    pub zfs: i64,
    pub lvm: i64,
    pub blockdevs: i64,
    pub smart: i64,
    pub config: i64,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            resources: 10,
            node_status: 30,
            cluster: 120,
            storage: 60,
            tasks: 60,
            backup_jobs: 600,
            replication: 300,
            zfs: 300,
            lvm: 300,
            blockdevs: 600,
            smart: 1800,
            config: 600,
        }
    }
}

/// Disks read in the first pass at most (bounds a host with a disk shelf).
const MAX_FIRST_READS: usize = 16;

/// Backup-job logs read per step at most.
const JOB_LOGS_PER_STEP: usize = 2;

/// Guest configs fetched per step at most (spreads the first fill over a minute).
const CONFIGS_PER_STEP: usize = 2;

pub struct InventoryPoller {
    pub state: Inventory,
    intervals: Intervals,
    last: HashMap<&'static str, i64>,
    config_fetched: HashMap<u64, i64>,
    smart_fetched: HashMap<String, i64>,
    prev_counters: HashMap<u64, (i64, [u64; 4])>,
    zpool_format: Option<StatusFormat>,
    /// Guest bytes written since the last wear step.
    guest_writes: HashMap<u64, u64>,
    wear_done_ms: Option<i64>,
    job_log_failed: HashMap<String, i64>,
    /// The cluster filesystem's files, read with their change counters.
    fs: ClusterFs,
    /// The installed PVE version line (`None`: not read yet; `Some(None)`: none installed).
    pveversion: Option<Option<String>>,
    /// The last `/proc/stat` totals, for the CPU fraction where `.rrd` has none.
    prev_stat: Option<(u64, u64, u64)>,
    /// The `ClusterFs` guest generation `state.configs` was built from.
    configs_generation: Option<u64>,
    /// The pools' kernel states when `zpool` last ran.
    zfs_states: Option<BTreeMap<String, String>>,
    /// The PVE API token, where proxwatch is connected: the second source after the files.
    pve: PveLink,
}

impl InventoryPoller {
    pub fn new(node: String, intervals: Intervals) -> Self {
        InventoryPoller {
            state: Inventory { node, ..Default::default() },
            intervals,
            last: HashMap::new(),
            config_fetched: HashMap::new(),
            smart_fetched: HashMap::new(),
            prev_counters: HashMap::new(),
            zpool_format: None,
            guest_writes: HashMap::new(),
            wear_done_ms: None,
            job_log_failed: HashMap::new(),
            fs: ClusterFs::new(),
            pveversion: None,
            prev_stat: None,
            configs_generation: None,
            zfs_states: None,
            pve: PveLink::default(),
        }
    }

    /// Asks the PVE API (with this link's token) where the files cannot serve.
    pub fn with_pve(mut self, pve: PveLink) -> Self {
        self.pve = pve;
        self
    }

    /// A `GET` of the PVE API, its `data` parsed with `parse` (the pvesh parsers: pvesh prints the
    /// same `data`). `Err` says why not: no token, or the API's refusal.
    async fn via_api<T>(
        &self,
        host: &Host,
        path: &str,
        parse: fn(&str) -> Result<T, ToolError>,
    ) -> Result<T, String> {
        self.via_api_req(host, PveRequest::get(path), parse).await
    }

    async fn via_api_req<T>(
        &self,
        host: &Host,
        req: PveRequest,
        parse: fn(&str) -> Result<T, ToolError>,
    ) -> Result<T, String> {
        let token = self.pve.token().ok_or_else(|| "no API token".to_string())?;
        let answer = host.pve_api(req.auth(token.header())).await.map_err(|e| format!("API: {e}"))?;
        let data = crate::tools::pveapi::data(&answer).map_err(|e| format!("API: {e}"))?;
        parse(&data).map_err(|e| format!("API: {e}"))
    }

    /// The files could not serve (`why`): the PVE API, else pvesh, with the source named.
    async fn second<T>(
        &self,
        host: &Host,
        why: String,
        path: &str,
        parse: fn(&str) -> Result<T, ToolError>,
        pvesh: impl std::future::Future<Output = Result<T, ToolError>>,
    ) -> (Result<T, ToolError>, String) {
        match self.via_api(host, path, parse).await {
            Ok(v) => (Ok(v), format!("PVE API ({why})")),
            Err(api) => (pvesh.await, format!("pvesh ({why}; {api})")),
        }
    }

    fn due(&mut self, key: &'static str, every: i64, now_s: i64) -> bool {
        let due = self.last.get(key).is_none_or(|t| now_s - t >= every);
        if due {
            self.last.insert(key, now_s);
        }
        due
    }

    /// Runs every source that is due at `now_ms`. Returns whether anything was refreshed.
    pub async fn step(&mut self, host: &Host, now_ms: i64) -> bool {
        let now = now_ms.div_euclid(1000);
        let node = self.state.node.clone();
        let iv = self.intervals.clone();
        let mut ran = false;
        if self.due("resources", iv.resources, now) {
            // The cluster filesystem's status and config files first (what PVE's API reads for this
            // answer); pvesh only where they are missing.
            let files = self.fs.refresh(host).and_then(|()| self.fs.resources(host));
            if files.is_ok() {
                match self.fs.tag_colors(host) {
                    Ok(c) if *c != self.state.tag_colors => self.state.tag_colors = c.clone(),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "datacenter.cfg not read"),
                }
            }
            let (r, source) = match files {
                Ok(list) => (Ok(list), "cluster files".to_string()),
                Err(why) => {
                    let pvesh = pvesh::cluster_resources(host);
                    self.second(host, why, "/cluster/resources", pvesh::parse_cluster_resources, pvesh).await
                }
            };
            if let Ok(list) = &r {
                self.update_rates(list, now_ms);
            }
            self.state.resources.apply("cluster resources", r, now);
            self.state.resources.source = Some(source);
            ran = true;
        }
        let files = self.fs.is_ok();
        if self.due("node_status", iv.node_status, now) {
            if self.due("pveversion", iv.config, now) || self.pveversion.is_none() {
                self.pveversion = Some(read_pveversion(host));
            }
            let from_files = match (files, self.pveversion.clone().flatten()) {
                (false, _) => Err("no cluster files".to_string()),
                (true, None) => Err(format!("no pve-manager in {}", pvenode::DPKG_STATUS)),
                (true, Some(v)) => self.node_status_from_files(host, &node, v).await,
            };
            let (r, source) = match from_files {
                Ok(s) => (Ok(s), "node files".to_string()),
                Err(why) => {
                    let path = format!("/nodes/{node}/status");
                    self.second(host, why, &path, pvesh::parse_node_status, pvesh::node_status(host, &node))
                        .await
                }
            };
            self.state.node_status.apply("node status", r, now);
            self.state.node_status.source = Some(source);
            ran = true;
        }
        if self.due("cluster", iv.cluster, now) {
            let (r, source) = if files {
                (Ok(self.fs.cluster_status(host)), "cluster files".to_string())
            } else {
                let (why, pvesh) = ("no cluster files".to_string(), pvesh::cluster_status(host));
                self.second(host, why, "/cluster/status", pvesh::parse_cluster_status, pvesh).await
            };
            self.state.cluster.apply("cluster status", r, now);
            self.state.cluster.source = Some(source);
            ran = true;
        }
        if self.due("storage", iv.storage, now) {
            let from_files =
                if files { self.fs.node_storage(host, &node) } else { Err("no cluster files".into()) };
            let (r, source) = match from_files {
                Ok((list, missing)) if missing.is_empty() => (Ok(list), "cluster files".to_string()),
                Ok((mut list, missing)) => {
                    // Storages pvestatd found inactive have no broadcast: ask PVE about those.
                    let why = format!("{} not in .rrd", missing.join(", "));
                    let path = format!("/nodes/{node}/storage");
                    let pvesh = pvesh::node_storage(host, &node);
                    match self.second(host, why.clone(), &path, pvesh::parse_node_storage, pvesh).await {
                        (Ok(full), source) => {
                            list.extend(full.into_iter().filter(|s| missing.contains(&s.storage)));
                            (Ok(list), format!("cluster files + {source}"))
                        }
                        (Err(e), source) => {
                            tracing::debug!(error = %e, "inactive storages not read");
                            (Ok(list), format!("cluster files ({why}; {source}: {e})"))
                        }
                    }
                }
                Err(why) => {
                    let path = format!("/nodes/{node}/storage");
                    self.second(host, why, &path, pvesh::parse_node_storage, pvesh::node_storage(host, &node))
                        .await
                }
            };
            self.state.storage.apply("node storage", r, now);
            self.state.storage.source = Some(source);
            ran = true;
        }
        if self.due("tasks", iv.tasks, now) {
            // PVE's own task files first; pvesh (a Perl start per poll) only where they are missing.
            match pvetasks::read_list(host) {
                Ok(list) => {
                    self.state.tasks.apply("task files", Ok(list), now);
                    self.state.tasks.source = Some("task files".into());
                }
                Err(why) => {
                    let path = format!("/nodes/{node}/tasks");
                    let (r, source) =
                        self.second(host, why, &path, pvesh::parse_tasks, pvesh::tasks(host, &node)).await;
                    self.state.tasks.apply("tasks", r, now);
                    self.state.tasks.source = Some(source);
                }
            }
            ran = true;
        }
        if self.due("backup_jobs", iv.backup_jobs, now) {
            let from_files = if files { self.fs.backup_jobs(host) } else { Err("no cluster files".into()) };
            let (r, source) = match from_files {
                Ok(jobs) => (Ok(jobs), "cluster files".to_string()),
                Err(why) => {
                    let pvesh = pvesh::backup_jobs(host);
                    self.second(host, why, "/cluster/backup", pvesh::parse_backup_jobs, pvesh).await
                }
            };
            self.state.backup_jobs.apply("backup jobs", r, now);
            self.state.backup_jobs.source = Some(source);
            ran = true;
        }
        if self.due("replication", iv.replication, now) {
            let from_files =
                if files { self.fs.replication(host, &node) } else { Err("no cluster files".into()) };
            let (r, source) = match from_files {
                Ok(mut jobs) => {
                    // A replayed recording moved in time moves the state's times with it.
                    let shift = host.time_shift_s();
                    let moved =
                        |t: Option<u64>| t.map(|t| if t > 1 { t.saturating_add_signed(shift) } else { t });
                    for j in &mut jobs {
                        j.last_sync = moved(j.last_sync);
                        j.last_try = moved(j.last_try);
                        j.next_sync = moved(j.next_sync);
                    }
                    (Ok(jobs), "cluster files".to_string())
                }
                Err(why) => {
                    let path = format!("/nodes/{node}/replication");
                    self.second(host, why, &path, pvesh::parse_replication, pvesh::replication(host, &node))
                        .await
                }
            };
            self.state.replication.apply("replication", r, now);
            self.state.replication.source = Some(source);
            ran = true;
        }
        if files && self.due("clusterlog", iv.tasks, now) {
            let r = match host.read_optional(pmxcfs::CLUSTERLOG) {
                Ok(Some(text)) => pmxcfs::parse_clusterlog(&text).map(|mut log| {
                    let shift = host.time_shift_s();
                    log.iter_mut().for_each(|e| e.time += shift);
                    log
                }),
                Ok(None) => Err(ToolError::Missing { what: pmxcfs::CLUSTERLOG.into() }),
                Err(e) => Err(e),
            };
            self.state.clusterlog.apply("cluster log", r, now);
            self.state.clusterlog.source = Some("cluster files".into());
            ran = true;
        }
        // The pools' states from the kernel every minute (file reads); `zpool` on its own interval, or
        // at once when a pool's state moved (a disk faulted, a pool imported or exported).
        let states = if self.due("zfs_state", 60, now) { zpool::kstat_states(host) } else { None };
        let moved = states.as_ref().is_some_and(|s| self.zfs_states.as_ref() != Some(s));
        if moved {
            self.last.remove("zfs");
        }
        if self.due("zfs", iv.zfs, now) {
            self.zfs_states = states.or_else(|| zpool::kstat_states(host));
            let r = zpool::list(host).await;
            let missing = matches!(r, Err(ToolError::Missing { .. }));
            self.state.pool_list.apply("zpool list", r, now);
            if !missing {
                match zpool::status_best(host, self.zpool_format).await {
                    Ok((fmt, pools)) => {
                        self.zpool_format = Some(fmt);
                        self.state.pools.apply("zpool status", Ok(pools), now);
                    }
                    Err(e) => self.state.pools.apply("zpool status", Err(e), now),
                }
            } else {
                self.state.pools.apply("zpool status", Err(ToolError::Missing { what: "zpool".into() }), now);
            }
            ran = true;
        }
        if self.due("lvm", iv.lvm, now) {
            let r = storage::lvs(host).await;
            self.state.lvs.apply("lvs", r, now);
            let r = storage::vgs(host).await;
            self.state.vgs.apply("vgs", r, now);
            ran = true;
        }
        if self.due("blockdevs", iv.blockdevs, now) {
            let r = storage::lsblk(host).await;
            self.state.blockdevs.apply("lsblk", r, now);
            self.state.dev_links = dev_links(host);
            let r = smartctl::scan(host).await;
            self.state.smart_devices.apply("smartctl --scan", r, now);
            ran = true;
        }
        ran |= self.poll_smart(host, now).await;
        ran |= self.poll_configs(host, &node, now).await;
        ran |= self.poll_job_logs(host, &node, now).await;
        ran
    }

    /// Reads the logs of finished backup-job runs not read yet (a finished log never changes), a
    /// couple per step, and forgets runs that left the task list.
    async fn poll_job_logs(&mut self, host: &Host, node: &str, now: i64) -> bool {
        let Some(tasks) = self.state.tasks.data.as_ref() else { return false };
        let runs: Vec<String> = tasks
            .iter()
            .filter(|t| t.kind == "vzdump" && t.id.is_empty() && t.endtime.is_some())
            .filter(|t| t.node.is_empty() || t.node == node)
            .map(|t| t.upid.clone())
            .collect();
        let before = self.state.job_results.len();
        self.state.job_results.retain(|upid, _| runs.contains(upid));
        self.job_log_failed.retain(|upid, _| runs.contains(upid));
        let mut ran = self.state.job_results.len() != before;
        let todo: Vec<String> = runs
            .into_iter()
            .filter(|u| !self.state.job_results.contains_key(u))
            // A log that could not be read is retried after an hour, not on every step.
            .filter(|u| self.job_log_failed.get(u).is_none_or(|t| now - t >= 3600))
            .take(JOB_LOGS_PER_STEP)
            .collect();
        for upid in todo {
            let lines = match pvetasks::read_log(host, &upid, pvesh::TASK_LOG_LINES) {
                Ok(lines) => Ok(lines),
                Err(_) => {
                    let req = PveRequest::get(format!("/nodes/{node}/tasks/{upid}/log"))
                        .param("limit", &pvesh::TASK_LOG_LINES.to_string());
                    match self.via_api_req(host, req, pvesh::parse_task_log).await {
                        Ok(lines) => Ok(lines),
                        Err(_) => pvesh::task_log(host, node, &upid).await,
                    }
                }
            };
            match lines {
                Ok(lines) => {
                    self.state.job_results.insert(upid, pvesh::parse_vzdump_results(&lines));
                }
                Err(e) => {
                    tracing::debug!(%upid, error = %e, "cannot read a backup job's log; the job's verdict is used");
                    self.job_log_failed.insert(upid, now);
                }
            }
            ran = true;
        }
        ran
    }

    /// One disk per step whose reading is older than the SMART interval. A disk in standby keeps its
    /// previous data and is shown as standby.
    async fn poll_smart(&mut self, host: &Host, now: i64) -> bool {
        let devices = self.state.smart_devices.data.clone().unwrap_or_default();
        let every = self.intervals.smart;
        // Disks never read yet are read together (the first page load should not wait a minute);
        // re-reads are spread out, one disk per step.
        let unread: Vec<&ScanDevice> = devices
            .iter()
            .filter(|d| !self.smart_fetched.contains_key(&d.name))
            .take(MAX_FIRST_READS)
            .collect();
        let batch: Vec<&ScanDevice> = if unread.is_empty() {
            devices
                .iter()
                .filter(|d| self.smart_fetched.get(&d.name).is_some_and(|t| now - t >= every))
                .take(1)
                .collect()
        } else {
            unread
        };
        for dev in &batch {
            self.smart_fetched.insert(dev.name.clone(), now);
            let result = smartctl::info(host, dev).await;
            let section = self.state.smart.entry(dev.name.clone()).or_default();
            match result {
                Ok(Reading::Standby { power_mode }) => {
                    // Asleep: not read, not woken. Keep the last data; say why it is old.
                    section.state =
                        if section.data.is_some() { SectionState::Stale } else { SectionState::Ok };
                    section.reason = Some(format!("disk in {power_mode}; not woken"));
                    if section.data.is_none() {
                        section.data = Some(Reading::Standby { power_mode });
                        section.updated = Some(now);
                    }
                }
                other => section.apply("smartctl", other, now),
            }
        }
        !batch.is_empty()
    }

    async fn poll_configs(&mut self, host: &Host, node: &str, now: i64) -> bool {
        if self.fs.is_ok() {
            // The config files themselves, read again only when `.vmlist` says one changed.
            if self.configs_generation == Some(self.fs.guests_generation) {
                return false;
            }
            self.configs_generation = Some(self.fs.guests_generation);
            self.state.configs = self.fs.guest_configs(node);
            return true;
        }
        self.configs_generation = None;
        let guests: Vec<(GuestKind, u64)> = self
            .state
            .resources
            .data
            .iter()
            .flatten()
            .filter_map(ClusterResource::as_guest)
            .filter(|g| g.node == node || g.node.is_empty())
            .map(|g| (g.kind, g.vmid))
            .collect();
        let every = self.intervals.config;
        let due: Vec<(GuestKind, u64)> = guests
            .into_iter()
            .filter(|(_, id)| self.config_fetched.get(id).is_none_or(|t| now - t >= every))
            .take(CONFIGS_PER_STEP)
            .collect();
        for (kind, vmid) in &due {
            self.config_fetched.insert(*vmid, now);
            let path = format!("/nodes/{node}/{}/{vmid}/config", kind.as_str());
            let pvesh = pvesh::guest_config(host, node, *kind, *vmid);
            match self.second(host, String::new(), &path, pvesh::parse_guest_config, pvesh).await.0 {
                Ok(cfg) => {
                    self.state.configs.insert(*vmid, cfg);
                }
                Err(e) => tracing::debug!(vmid, error = %e, "guest config not read"),
            }
        }
        !due.is_empty()
    }

    /// The node status from the files `Nodes.pm` reads (see `tools::pvenode`).
    async fn node_status_from_files(
        &mut self,
        host: &Host,
        node: &str,
        pveversion: String,
    ) -> Result<crate::model::pve::NodeStatus, String> {
        use crate::tools::procfs;
        let read = |p: &str| host.read(p).map_err(|e| format!("{p}: {e}"));
        let cpuinfo_text = read("/proc/cpuinfo")?;
        let cpu = procfs::parse_cpuinfo(&cpuinfo_text);
        let uptime_s = procfs::parse_uptime(&read("/proc/uptime")?).map_err(|e| e.to_string())?;
        let loadavg = procfs::parse_loadavg(&read("/proc/loadavg")?).map_err(|e| e.to_string())?;
        let mem = procfs::parse_meminfo(&read("/proc/meminfo")?).map_err(|e| e.to_string())?;
        let kernel_file = |f: &str| host.read(&format!("/proc/sys/kernel/{f}")).map(|s| s.trim().to_string());
        let kernel = crate::model::pve::CurrentKernel {
            sysname: kernel_file("ostype").unwrap_or_else(|_| "Linux".into()),
            release: kernel_file("osrelease").map_err(|e| format!("kernel release: {e}"))?,
            version: kernel_file("version").unwrap_or_default(),
            machine: kernel_file("arch").unwrap_or_else(|_| std::env::consts::ARCH.to_string()),
        };
        let ksm_pages = host.read(pvenode::KSM_SHARING).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        let efi = host.exists(pvenode::EFI_DIR);
        let secureboot = if efi { host.read_bytes(pvenode::SECURE_BOOT_VAR).ok() } else { None };
        let rootfs = match host.statvfs("/", std::time::Duration::from_secs(5)).await {
            Ok(fs) => Some((fs.size, fs.size.saturating_sub(fs.free), fs.avail)),
            Err(e) => {
                tracing::debug!(error = %e, "statvfs / failed");
                None
            }
        };
        // The CPU fraction pvestatd broadcast; where it has none, from /proc/stat since the last read.
        let rrd = self.fs.rrd.nodes.get(node).cloned().or_else(|| {
            let stat = procfs::parse_stat(&host.read("/proc/stat").ok()?).ok()?;
            let t = &stat.total;
            let now = (t.total(), t.idle + t.iowait, t.iowait);
            let prev = self.prev_stat.replace(now)?;
            let total = now.0.saturating_sub(prev.0).max(1) as f64;
            Some(crate::tools::pmxcfs::NodeStats {
                cpu: 1.0 - now.1.saturating_sub(prev.1) as f64 / total,
                iowait: Some(now.2.saturating_sub(prev.2) as f64 / total),
                ..Default::default()
            })
        });
        Ok(pvenode::node_status(&pvenode::NodeInputs {
            uptime_s,
            loadavg,
            cpu: &cpu,
            mhz: pvenode::cpu_mhz(&cpuinfo_text),
            mem: &mem,
            ksm_pages,
            kernel,
            efi,
            secureboot_var: secureboot.as_deref(),
            rootfs,
            rrd: rrd.as_ref(),
            pveversion,
        }))
    }

    fn update_rates(&mut self, list: &[ClusterResource], now_ms: i64) {
        let mut rates = HashMap::new();
        let mut next = HashMap::new();
        for g in list.iter().filter_map(ClusterResource::as_guest) {
            let counters = [g.netin, g.netout, g.diskread, g.diskwrite];
            if let Some((_, prev)) = self.prev_counters.get(&g.vmid) {
                // A counter below its last value means the guest restarted: all of it is new.
                let written = g.diskwrite.checked_sub(prev[3]).unwrap_or(g.diskwrite);
                *self.guest_writes.entry(g.vmid).or_default() += written;
            }
            if let Some((t, prev)) = self.prev_counters.get(&g.vmid) {
                let secs = (now_ms - t) as f64 / 1000.0;
                // A counter that went down means the guest restarted: no rate until the next reading
                // (neither a negative spike nor a made-up 0).
                let restarted = counters.iter().zip(prev).any(|(c, p)| c < p);
                if secs > 0.0 && !restarted {
                    let r = |i: usize| (counters[i] - prev[i]) as f64 / secs;
                    rates.insert(
                        g.vmid,
                        GuestRates {
                            netin_bps: r(0),
                            netout_bps: r(1),
                            diskread_bps: r(2),
                            diskwrite_bps: r(3),
                        },
                    );
                }
            }
            next.insert(g.vmid, (now_ms, counters));
        }
        self.prev_counters = next;
        self.state.rates = rates;
    }
}

impl InventoryPoller {
    /// Records the day's SMART write counters and wear, adds up guest writes, and recomputes the
    /// endurance forecasts (at most every 30 minutes; the database keeps one reading per disk per day).
    pub async fn wear_step(&mut self, db: &crate::db::Db, now_ms: i64) -> anyhow::Result<bool> {
        if self.wear_done_ms.is_some_and(|t| now_ms - t < 1_800_000) {
            return Ok(false);
        }
        let readings: Vec<(String, String, Option<u64>, Option<f64>)> = self
            .state
            .smart
            .iter()
            .filter_map(|(dev, s)| match &s.data {
                Some(Reading::Data(d)) => {
                    let id = d.serial.clone().filter(|s| !s.is_empty())?;
                    Some((dev.clone(), id, d.bytes_written, d.wear_used_pct.map(f64::from)))
                }
                _ => None,
            })
            .collect();
        if readings.is_empty() {
            return Ok(false);
        }
        self.wear_done_ms = Some(now_ms);
        let day = now_ms.div_euclid(86_400_000);
        let writes = std::mem::take(&mut self.guest_writes);
        let (forecasts, totals) = db
            .call(move |c| {
                let mut out = BTreeMap::new();
                for (dev, id, bytes, wear) in &readings {
                    crate::wear::record_disk(c, id, day, *bytes, *wear)?;
                    let pts = crate::wear::load_points(c, id, day - crate::wear::WINDOW_DAYS)?;
                    out.insert(dev.clone(), crate::wear::forecast(&pts, day));
                }
                crate::wear::add_guest_writes(c, day, &writes)?;
                Ok((out, crate::wear::guest_totals(c, day)?))
            })
            .await?;
        self.state.forecasts = forecasts;
        self.state.guest_writes = totals;
        Ok(true)
    }
}

/// The `/dev/disk/by-*` links (a few dozen on a host; read with the block devices, every few minutes).
fn dev_links(host: &Host) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for dir in storage::LINK_DIRS {
        let base = format!("/dev/disk/{dir}");
        for name in host.list_dir(&base).unwrap_or_default() {
            if let Some(target) = host.link_target(&format!("{base}/{name}")) {
                out.insert(format!("{dir}/{name}"), target);
            }
        }
    }
    out
}

/// The node name: Proxmox names a node after the host's short hostname.
pub fn node_name(host: &Host) -> String {
    host.read("/proc/sys/kernel/hostname")
        .map(|h| h.trim().split('.').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// The installed PVE version line from dpkg's database and `pvecfg.pm` (`None` when pve-manager is not
/// installed or the database cannot be read).
pub fn read_pveversion(host: &Host) -> Option<String> {
    let status = match host.read_head(pvenode::DPKG_STATUS, pvenode::DPKG_STATUS_MAX) {
        Ok(Some(t)) => t,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(error = %e, "dpkg status unreadable");
            return None;
        }
    };
    let version = pvenode::installed_version(&status, "pve-manager")?;
    let repoid = host.read(pvenode::PVECFG).ok().and_then(|t| pvenode::pvecfg_repoid(&t));
    Some(pvenode::pveversion_line(&version, repoid.as_deref()))
}
