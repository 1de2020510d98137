//! The cluster filesystem (`/etc/pve`), read the way PVE's own readers read it (issue 15), with what
//! each read costs kept small: the status files (`.vmlist`, `.members`, `.rrd`) on every refresh, a
//! config file only when its change counter in `.version` moved, and a guest's config only when its
//! version in `.vmlist` moved. A cluster of hundreds of guests costs a few small reads per refresh
//! once the first one is done. Everything goes through the host seam, so a scenario replays it.
//!
//! Where a file is missing or does not parse, the caller gets why, and falls back to `pvesh` with
//! that reason shown as the section's source.

use std::collections::{BTreeMap, HashMap};

use crate::host::Host;
use crate::model::pve::{
    BackupJob, ClusterResource, ClusterStatus, GuestConfig, NodeStorage, ReplicationJob,
};
use crate::tools::pmxcfs::{self, Members, Rrd, VmlistEntry};
use crate::tools::pveconf::{self, GuestConf, GuestProps, Ha, ReplicationDef, StorageDef};
use crate::tools::pvenode;

/// A config file parsed, with the `.version` counter it was read at (`None`: no `.version` to ask,
/// read on every use).
struct Cached<T> {
    version: Option<u64>,
    value: T,
}

struct GuestCache {
    node: String,
    version: u64,
    props: GuestProps,
    /// `None`: the file was not there.
    conf: Option<GuestConf>,
}

/// The pools of `user.cfg` and each guest's pool.
type Pools = (Vec<String>, BTreeMap<u64, String>);

/// Guest configs read per refresh at most (spreads the first read of a large cluster over a few
/// refreshes; the rest wait for the next).
const GUEST_READS_PER_REFRESH: usize = 64;

#[derive(Default)]
pub struct ClusterFs {
    /// The last `.version` read, `None` when the file is missing.
    versions: Option<BTreeMap<String, u64>>,
    pub vmlist: Vec<VmlistEntry>,
    pub members: Members,
    pub rrd: Rrd,
    /// Whether the status files read at the last refresh.
    ok: bool,
    guests: HashMap<u64, GuestCache>,
    storage: Option<Cached<Vec<StorageDef>>>,
    pools: Option<Cached<Pools>>,
    ha_status: Option<Cached<Option<String>>>,
    ha_resources: Option<Cached<Option<String>>>,
    jobs: Option<Cached<Option<String>>>,
    vzdump_cron: Option<Cached<Option<String>>>,
    replication: Option<Cached<Vec<ReplicationDef>>>,
    datacenter: Option<Cached<BTreeMap<String, crate::model::pve::TagColor>>>,
    /// Files read since start (for the tests and the bench: reads, not spawns).
    pub reads: u64,
    /// Bumped whenever a guest config was read again or dropped.
    pub guests_generation: u64,
}

fn read_opt(host: &Host, path: &str, reads: &mut u64) -> Result<Option<String>, String> {
    *reads += 1;
    host.read_optional(path).map_err(|e| format!("{path}: {e}"))
}

fn need(host: &Host, path: &str, reads: &mut u64) -> Result<String, String> {
    read_opt(host, path, reads)?.ok_or_else(|| format!("no {path}"))
}

impl ClusterFs {
    pub fn new() -> ClusterFs {
        ClusterFs::default()
    }

    /// Reads the status files and the guest configs that changed. `Err` says why the cluster
    /// filesystem cannot serve (not a PVE host, pmxcfs not running, a file that does not parse).
    pub fn refresh(&mut self, host: &Host) -> Result<(), String> {
        let r = self.refresh_inner(host);
        self.ok = r.is_ok();
        r
    }

    fn refresh_inner(&mut self, host: &Host) -> Result<(), String> {
        let reads = &mut self.reads;
        self.versions = match read_opt(host, pmxcfs::VERSION, reads)? {
            Some(t) => Some(pmxcfs::parse_versions(&t).map_err(|e| e.to_string())?),
            None => None,
        };
        let vmlist_text = need(host, pmxcfs::VMLIST, reads)?;
        let rrd_text = need(host, pmxcfs::RRD, reads)?;
        let members_text = need(host, pmxcfs::MEMBERS, reads)?;
        self.vmlist = pmxcfs::parse_vmlist(&vmlist_text).map_err(|e| e.to_string())?;
        self.rrd = pmxcfs::parse_rrd(&rrd_text).map_err(|e| e.to_string())?;
        self.members = pmxcfs::parse_members(&members_text).map_err(|e| e.to_string())?;
        // Guest configs: those whose version moved (or that moved node), a bounded number per refresh.
        let before = self.guests.len();
        self.guests.retain(|vmid, _| self.vmlist.iter().any(|v| v.vmid == *vmid));
        if self.guests.len() != before {
            self.guests_generation += 1;
        }
        let stale: Vec<&VmlistEntry> = self
            .vmlist
            .iter()
            .filter(|v| self.guests.get(&v.vmid).is_none_or(|g| g.version != v.version || g.node != v.node))
            .take(GUEST_READS_PER_REFRESH)
            .collect();
        for v in stale {
            self.guests_generation += 1;
            let path = pveconf::guest_config_path(&v.node, v.kind, v.vmid);
            // A missing file is remembered too (at this version), not asked for on every refresh.
            let text = read_opt(host, &path, reads)?;
            let entry = GuestCache {
                node: v.node.clone(),
                version: v.version,
                props: text.as_deref().map(pveconf::guest_props).unwrap_or_default(),
                conf: text.as_deref().map(pveconf::parse_guest_conf),
            };
            self.guests.insert(v.vmid, entry);
        }
        Ok(())
    }

    /// Whether the last refresh read the status files.
    pub fn is_ok(&self) -> bool {
        self.ok
    }

    /// `/cluster/resources`, from the last refresh.
    pub fn resources(&mut self, host: &Host) -> Result<Vec<ClusterResource>, String> {
        let storages = self.storage_defs(host)?.to_vec();
        let pools = self.pools(host)?.clone();
        let ha = self.ha(host)?;
        let props: BTreeMap<u64, GuestProps> =
            self.guests.iter().map(|(id, g)| (*id, g.props.clone())).collect();
        Ok(pmxcfs::cluster_resources(&pmxcfs::Files {
            vmlist: &self.vmlist,
            members: &self.members,
            rrd: &self.rrd,
            props: &props,
            ha: &ha,
            pools: &pools,
            storages: &storages,
        }))
    }

    /// The tag colours of `datacenter.cfg`'s `tag-style`, parsed again only when the file changed.
    pub fn tag_colors(
        &mut self,
        host: &Host,
    ) -> Result<&BTreeMap<String, crate::model::pve::TagColor>, String> {
        cached(&mut self.datacenter, self.versions.as_ref(), host, "datacenter.cfg", &mut self.reads, |t| {
            t.map(pveconf::parse_tag_colors).unwrap_or_default()
        })
    }

    /// `/cluster/status`, from `.members` (and `/etc/hosts` for a standalone node's address).
    pub fn cluster_status(&mut self, host: &Host) -> ClusterStatus {
        let ip = if self.members.cluster.is_none() {
            read_opt(host, "/etc/hosts", &mut self.reads)
                .ok()
                .flatten()
                .and_then(|h| pmxcfs::hosts_ip(&h, &self.members.nodename))
        } else {
            None
        };
        pmxcfs::cluster_status(&self.members, ip)
    }

    /// The current configuration of each guest on `node`, from its config file.
    pub fn guest_configs(&self, node: &str) -> BTreeMap<u64, GuestConfig> {
        self.guests
            .iter()
            .filter(|(_, g)| g.node == node)
            .filter_map(|(id, g)| Some((*id, g.conf.as_ref()?.to_config())))
            .collect()
    }

    /// This node's storages as `GET /nodes/{node}/storage` lists them: every storage enabled here,
    /// with the sizes pvestatd broadcast for the active ones. The rest are returned apart (by id):
    /// `.rrd` has nothing for a storage pvestatd found inactive, and only PVE's API (or `pvesh`) can
    /// tell why.
    pub fn node_storage(
        &mut self,
        host: &Host,
        node: &str,
    ) -> Result<(Vec<NodeStorage>, Vec<String>), String> {
        let defs = self.storage_defs(host)?.to_vec();
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for d in defs.iter().filter(|d| d.enabled_on(node)) {
            let Some(s) = self.rrd.storages.get(&(node.to_string(), d.id.clone())) else {
                missing.push(d.id.clone());
                continue;
            };
            out.push(NodeStorage {
                storage: d.id.clone(),
                kind: d.kind.clone(),
                content: d.content.clone(),
                active: true,
                enabled: true,
                shared: d.shared,
                total: Some(s.maxdisk),
                used: Some(s.disk),
                avail: Some(s.maxdisk.saturating_sub(s.disk)),
            });
        }
        Ok((out, missing))
    }

    /// The backup jobs of `jobs.cfg`. `Err` when `vzdump.cron` still holds jobs from before PVE 7.1
    /// (its cron format is left to PVE's own reader).
    pub fn backup_jobs(&mut self, host: &Host) -> Result<Vec<BackupJob>, String> {
        let cron =
            cached_text(&mut self.vzdump_cron, self.versions.as_ref(), host, "vzdump.cron", &mut self.reads)?;
        if cron.is_some_and(pveconf::vzdump_cron_has_jobs) {
            return Err(format!("{} holds jobs from before PVE 7.1", pveconf::VZDUMP_CRON));
        }
        let jobs = cached_text(&mut self.jobs, self.versions.as_ref(), host, "jobs.cfg", &mut self.reads)?;
        Ok(pveconf::parse_backup_jobs(jobs.unwrap_or("")))
    }

    /// This node's replication jobs with their state (`GET /nodes/{node}/replication`).
    pub fn replication(&mut self, host: &Host, node: &str) -> Result<Vec<ReplicationJob>, String> {
        let file = &pveconf::REPLICATION_CFG["/etc/pve/".len()..];
        let defs = cached(&mut self.replication, self.versions.as_ref(), host, file, &mut self.reads, |t| {
            pveconf::parse_replication_cfg(t.unwrap_or(""))
        })?
        .clone();
        if defs.is_empty() {
            return Ok(Vec::new());
        }
        // The state file is node-local and written by every run: read each time (it is small).
        let state = match read_opt(host, pvenode::REPLICATION_STATE, &mut self.reads)? {
            Some(t) => pvenode::parse_replication_state(&t).map_err(|e| e.to_string())?,
            None => BTreeMap::new(),
        };
        Ok(pvenode::replication_jobs(&defs, &state, &self.vmlist, &self.members, node))
    }

    fn storage_defs(&mut self, host: &Host) -> Result<&[StorageDef], String> {
        let file = &pveconf::STORAGE_CFG["/etc/pve/".len()..];
        cached(&mut self.storage, self.versions.as_ref(), host, file, &mut self.reads, |t| {
            pveconf::parse_storage_cfg(t.unwrap_or(""))
        })
        .map(Vec::as_slice)
    }

    fn pools(&mut self, host: &Host) -> Result<&Pools, String> {
        let file = &pveconf::USER_CFG["/etc/pve/".len()..];
        cached(&mut self.pools, self.versions.as_ref(), host, file, &mut self.reads, |t| {
            pveconf::parse_user_pools(t.unwrap_or(""))
        })
    }

    fn ha(&mut self, host: &Host) -> Result<Ha, String> {
        let status = cached_text(
            &mut self.ha_status,
            self.versions.as_ref(),
            host,
            "ha/manager_status",
            &mut self.reads,
        )?
        .map(str::to_string);
        let resources = cached_text(
            &mut self.ha_resources,
            self.versions.as_ref(),
            host,
            "ha/resources.cfg",
            &mut self.reads,
        )?;
        pveconf::parse_ha(status.as_deref(), resources).map_err(|e| e.to_string())
    }
}

/// A config file parsed with `parse` (given `None` when the file does not exist), read and parsed
/// again only when its `.version` counter moved (every time where there is no counter).
fn cached<'a, T>(
    slot: &'a mut Option<Cached<T>>,
    versions: Option<&BTreeMap<String, u64>>,
    host: &Host,
    file: &str,
    reads: &mut u64,
    parse: impl FnOnce(Option<&str>) -> T,
) -> Result<&'a T, String> {
    let version = versions.and_then(|v| v.get(file).copied());
    if slot.as_ref().is_none_or(|c| c.version.is_none() || c.version != version) {
        let text = read_opt(host, &format!("/etc/pve/{file}"), reads)?;
        *slot = Some(Cached { version, value: parse(text.as_deref()) });
    }
    match slot {
        Some(c) => Ok(&c.value),
        None => Err(format!("/etc/pve/{file} not read")),
    }
}

/// A config file's text (`None`: the file does not exist), read again only when its counter moved.
fn cached_text<'a>(
    slot: &'a mut Option<Cached<Option<String>>>,
    versions: Option<&BTreeMap<String, u64>>,
    host: &Host,
    file: &str,
    reads: &mut u64,
) -> Result<Option<&'a str>, String> {
    cached(slot, versions, host, file, reads, |t| t.map(str::to_string)).map(Option::as_deref)
}
