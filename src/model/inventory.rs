//! What the inventory poller publishes as one snapshot: guests, cluster, storages, tasks, backup and
//! replication jobs, ZFS pools, LVM, block devices and SMART, each source a [`Section`] (the last good
//! data next to the reason it is old), plus guest rates and the SSD wear forecasts.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::pve::{
    BackupJob, ClusterResource, ClusterStatus, GuestBackupResult, GuestConfig, NodeStatus, NodeStorage,
    ReplicationJob, Task,
};
use super::section::Section;
use super::smart::{Reading, ScanDevice};
use super::storage::{BlockDevice, LogicalVolume, VolumeGroup};
use super::wear::{Forecast, GuestWrites};
use super::zfs::{PoolStatus, PoolSummary};

/// Per-guest rates from counter deltas.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct GuestRates {
    pub netin_bps: f64,
    pub netout_bps: f64,
    pub diskread_bps: f64,
    pub diskwrite_bps: f64,
}

/// Everything the poller knows, published as one snapshot.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    pub node: String,
    pub resources: Section<Vec<ClusterResource>>,
    pub node_status: Section<NodeStatus>,
    pub cluster: Section<ClusterStatus>,
    pub storage: Section<Vec<NodeStorage>>,
    pub tasks: Section<Vec<Task>>,
    pub backup_jobs: Section<Vec<BackupJob>>,
    /// Storage replication jobs of this node's guests with their last sync and failures.
    pub replication: Section<Vec<ReplicationJob>>,
    /// What each finished backup-job run (a vzdump task over many guests) did to each guest, by UPID,
    /// read from the run's log once: a run that ends in `job errors` failed only some guests.
    pub job_results: BTreeMap<String, BTreeMap<u64, GuestBackupResult>>,
    pub pool_list: Section<Vec<PoolSummary>>,
    pub pools: Section<Vec<PoolStatus>>,
    pub lvs: Section<Vec<LogicalVolume>>,
    pub vgs: Section<Vec<VolumeGroup>>,
    pub blockdevs: Section<Vec<BlockDevice>>,
    /// `/dev/disk/by-*` links: `by-id/<name>` -> the kernel name it points at (`sde1`), read with the
    /// block devices; how ZFS member names map to disks.
    pub dev_links: BTreeMap<String, String>,
    pub smart_devices: Section<Vec<ScanDevice>>,
    /// By device path (`/dev/sda`).
    pub smart: BTreeMap<String, Section<Reading>>,
    pub configs: BTreeMap<u64, GuestConfig>,
    pub rates: HashMap<u64, GuestRates>,
    /// SSD endurance forecasts by device path (`/dev/sda`).
    pub forecasts: BTreeMap<String, Forecast>,
    /// Bytes each guest wrote in the last 7 and 30 days.
    pub guest_writes: Vec<GuestWrites>,
    /// The cluster log's newest entries (every node's task starts and ends, HA and job messages).
    pub clusterlog: Section<Vec<crate::model::pve::ClusterLogEntry>>,
    /// Tag colours the admin chose in PVE (`datacenter.cfg`), by tag.
    pub tag_colors: BTreeMap<String, crate::model::pve::TagColor>,
}

impl Inventory {
    /// Every guest the cluster resources list (other nodes' too), in their order.
    pub fn guests(&self) -> impl Iterator<Item = &super::pve::Guest> {
        self.resources.data.iter().flatten().filter_map(|r| r.as_guest())
    }

    /// The guest `vmid`, if listed.
    pub fn guest(&self, vmid: u64) -> Option<&super::pve::Guest> {
        self.guests().find(|g| g.vmid == vmid)
    }
}
