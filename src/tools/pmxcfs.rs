//! The cluster filesystem's status files (`/etc/pve/.vmlist`, `/etc/pve/.members`, `/etc/pve/.rrd`):
//! what PVE's own API reads for `/cluster/resources`, without starting a `pvesh` (issue 15). Pure
//! parsers, each following its writer:
//! - `.vmlist`: pve-cluster `src/pmxcfs/status.c`, `cfs_create_vmlist_msg` — JSON, `{"version": N}`
//!   alone when there is no guest, else `"ids": {"<vmid>": {"node", "type", "version"}}`;
//! - `.members`: the same file, `cfs_create_memberlist_msg` — JSON; `nodename` and `version` alone on a
//!   host that is not in a cluster, else `cluster: {name, version, nodes, quorate}` and
//!   `nodelist: {"<name>": {id, online, ip?}}`;
//! - `.rrd`: `cfs_rrd_dump` — one `key:data` line per entry (then a NUL), where `data` is what
//!   pvestatd broadcast (pve-manager `PVE/Service/pvestatd.pm`): values joined by `:`, `U` for
//!   undefined. Read the way `PVE::Cluster::rrd_dump` reads it (split on `:`; a line with fewer than
//!   two values is skipped) and interpreted the way `PVE::API2Tools::extract_{node,vm,storage}_stats`
//!   do, preferring the PVE 9 keys (`pve-node-9.0/`, `pve-vm-9.0/`, `pve-storage-9.0/`) over the
//!   PVE 8 ones (`pve2-node/`, `pve2.3-vm/`, `pve2-storage/`) like `get_rrd_key`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::host::ToolError;
use crate::model::pve::GuestKind;

/// A JSON file of pmxcfs or PVE read with serde: the text without pmxcfs's closing NUL, and a parse
/// error naming the file, the line and what is wrong there.
pub(crate) fn json<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, ToolError> {
    serde_json::from_str(text.trim_end_matches('\0')).map_err(|e| {
        ToolError::parse(
            path,
            e.line(),
            text.lines().nth(e.line().saturating_sub(1)).unwrap_or(""),
            e.to_string(),
        )
    })
}

pub const VMLIST: &str = "/etc/pve/.vmlist";
pub const MEMBERS: &str = "/etc/pve/.members";
pub const RRD: &str = "/etc/pve/.rrd";

/// One guest of `.vmlist`: where it lives and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmlistEntry {
    pub vmid: u64,
    pub node: String,
    pub kind: GuestKind,
    /// The config file's version (bumped on every write).
    pub version: u64,
}

#[derive(Deserialize)]
struct RawVmlist {
    #[serde(default)]
    ids: BTreeMap<String, RawVm>,
}

#[derive(Deserialize)]
struct RawVm {
    node: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    version: u64,
}

/// Parses `.vmlist`, sorted by vmid. `type` is `qemu` or `lxc` (`vminfo_type_to_string`); anything
/// else is a parse error naming the guest.
pub fn parse_vmlist(text: &str) -> Result<Vec<VmlistEntry>, ToolError> {
    let raw: RawVmlist = json(VMLIST, text)?;
    let mut out = Vec::with_capacity(raw.ids.len());
    for (id, vm) in raw.ids {
        let vmid: u64 =
            id.parse().map_err(|_| ToolError::parse(VMLIST, 1, &id, "a guest id that is not a number"))?;
        let kind = match vm.kind.as_str() {
            "qemu" => GuestKind::Qemu,
            "lxc" => GuestKind::Lxc,
            other => {
                return Err(ToolError::parse(
                    VMLIST,
                    1,
                    &id,
                    format!("guest {vmid} has an unknown type {other:?}"),
                ));
            }
        };
        out.push(VmlistEntry { vmid, node: vm.node, kind, version: vm.version });
    }
    out.sort_by_key(|v| v.vmid);
    Ok(out)
}

/// `.members`: the cluster as corosync sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// This node's name.
    pub nodename: String,
    /// `None` on a host that is not in a cluster.
    pub cluster: Option<ClusterInfo>,
    pub nodes: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClusterInfo {
    pub name: String,
    pub version: i64,
    pub nodes: u32,
    /// 0 or 1.
    pub quorate: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub id: u32,
    pub online: bool,
    pub ip: Option<String>,
}

#[derive(Deserialize)]
struct RawMembers {
    nodename: String,
    cluster: Option<ClusterInfo>,
    #[serde(default)]
    nodelist: BTreeMap<String, RawMember>,
}

#[derive(Deserialize)]
struct RawMember {
    id: u32,
    online: u8,
    ip: Option<String>,
}

/// Parses `.members`, nodes sorted by name.
pub fn parse_members(text: &str) -> Result<Members, ToolError> {
    let raw: RawMembers = json(MEMBERS, text)?;
    let nodes = raw
        .nodelist
        .into_iter()
        .map(|(name, m)| Member { name, id: m.id, online: m.online != 0, ip: m.ip })
        .collect();
    Ok(Members { nodename: raw.nodename, cluster: raw.cluster, nodes })
}

/// A node's status broadcast (`extract_node_stats`' columns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStats {
    pub uptime: u64,
    /// The subscription level (`c`, `b`, `s`, `p`); `""` without a subscription, `None` when undefined.
    pub level: Option<String>,
    /// When pvestatd sent it (unix seconds).
    pub time: Option<i64>,
    pub loadavg: Option<f64>,
    pub maxcpu: u32,
    /// 0..1 of all CPUs.
    pub cpu: f64,
    pub iowait: Option<f64>,
    pub maxmem: u64,
    pub mem: u64,
    pub maxswap: Option<u64>,
    pub swap: Option<u64>,
    /// The root filesystem's size and use.
    pub maxdisk: u64,
    pub disk: u64,
    pub netin: Option<u64>,
    pub netout: Option<u64>,
    /// PVE 9 only.
    pub memavailable: Option<u64>,
    pub arcsize: Option<u64>,
}

/// A guest's status broadcast (`extract_vm_stats`' columns). A stopped guest's live columns are `U`
/// (read as 0, as PVE's API does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmStats {
    pub uptime: u64,
    pub name: Option<String>,
    /// `running`, `stopped`, `paused`, … (the QMP status where there is one).
    pub status: String,
    pub template: bool,
    pub time: Option<i64>,
    pub maxcpu: f64,
    pub cpu: f64,
    pub maxmem: u64,
    pub mem: u64,
    pub maxdisk: u64,
    pub disk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    /// PVE 9 only: the memory the guest's process holds on the host.
    pub memhost: Option<u64>,
}

/// A storage's status broadcast (`extract_storage_stats`: time, total, used).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageStats {
    pub time: Option<i64>,
    pub maxdisk: u64,
    pub disk: u64,
}

/// Every entry of `.rrd`, by object, each from its newest key format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rrd {
    pub nodes: BTreeMap<String, NodeStats>,
    pub vms: BTreeMap<u64, VmStats>,
    /// By (node, storage id).
    pub storages: BTreeMap<(String, String), StorageStats>,
}

/// One value: `U` (or nothing) is undefined.
fn val<'a>(v: Option<&&'a str>) -> Option<&'a str> {
    v.copied().filter(|s| !s.is_empty() && *s != "U")
}

fn num<T: std::str::FromStr>(v: Option<&&str>) -> Option<T> {
    val(v).and_then(|s| s.parse().ok())
}

/// A counter or size as Perl's `($x || 0) + 0` reads it: a float text such as `1.2e+10` too.
fn int(v: Option<&&str>) -> u64 {
    val(v)
        .and_then(|s| s.parse::<u64>().ok().or_else(|| s.parse::<f64>().ok().map(|f| f.max(0.0) as u64)))
        .unwrap_or(0)
}

fn float(v: Option<&&str>) -> f64 {
    num(v).unwrap_or(0.0)
}

/// Parses `.rrd`. Lines whose key is not a node, guest or storage of a known format are left out (the
/// file may gain formats); a known key with a malformed id is a parse error naming the line.
pub fn parse_rrd(text: &str) -> Result<Rrd, ToolError> {
    let mut rrd = Rrd::default();
    // Which key format each object came from (true: PVE 9), so a PVE 9 entry wins whatever the order.
    let mut node_new: BTreeMap<String, bool> = BTreeMap::new();
    let mut vm_new: BTreeMap<u64, bool> = BTreeMap::new();
    let mut storage_new: BTreeMap<(String, String), bool> = BTreeMap::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_end_matches(['\0', '\r']);
        let mut parts = line.split(':');
        let Some(key) = parts.next().filter(|k| !k.is_empty()) else { continue };
        // Perl's split drops trailing empty fields; `U` stands for undefined values, so none are lost.
        let mut v: Vec<&str> = parts.collect();
        while v.last().is_some_and(|s| s.is_empty()) {
            v.pop();
        }
        if v.len() < 2 {
            continue;
        }
        let bad = |m: &str| ToolError::parse(RRD, i + 1, line, m);
        let (kind, id) = key.split_once('/').ok_or_else(|| bad("a key without a /"))?;
        match kind {
            "pve-node-9.0" | "pve2-node" => {
                let new = kind == "pve-node-9.0";
                if node_new.get(id).is_some_and(|n| *n && !new) {
                    continue;
                }
                node_new.insert(id.to_string(), new);
                rrd.nodes.insert(
                    id.to_string(),
                    NodeStats {
                        uptime: int(v.first()),
                        // `''` without a subscription (not undefined): kept as PVE's API passes it on.
                        level: v.get(1).filter(|s| **s != "U").map(|s| s.to_string()),
                        time: num(v.get(2)),
                        loadavg: num(v.get(3)),
                        maxcpu: int(v.get(4)) as u32,
                        cpu: float(v.get(5)),
                        iowait: num(v.get(6)),
                        maxmem: int(v.get(7)),
                        mem: int(v.get(8)),
                        maxswap: num(v.get(9)),
                        swap: num(v.get(10)),
                        maxdisk: int(v.get(11)),
                        disk: int(v.get(12)),
                        netin: num(v.get(13)),
                        netout: num(v.get(14)),
                        memavailable: if new { num(v.get(15)) } else { None },
                        arcsize: if new { num(v.get(16)) } else { None },
                    },
                );
            }
            "pve-vm-9.0" | "pve2.3-vm" => {
                let new = kind == "pve-vm-9.0";
                let vmid: u64 = id.parse().map_err(|_| bad("a guest key whose id is not a number"))?;
                if vm_new.get(&vmid).is_some_and(|n| *n && !new) {
                    continue;
                }
                vm_new.insert(vmid, new);
                rrd.vms.insert(
                    vmid,
                    VmStats {
                        uptime: int(v.first()),
                        name: val(v.get(1)).map(str::to_string),
                        status: val(v.get(2)).unwrap_or("unknown").to_string(),
                        template: int(v.get(3)) != 0,
                        time: num(v.get(4)),
                        maxcpu: float(v.get(5)),
                        cpu: float(v.get(6)),
                        maxmem: int(v.get(7)),
                        mem: int(v.get(8)),
                        maxdisk: int(v.get(9)),
                        disk: int(v.get(10)),
                        netin: int(v.get(11)),
                        netout: int(v.get(12)),
                        diskread: int(v.get(13)),
                        diskwrite: int(v.get(14)),
                        memhost: if new { Some(int(v.get(15))) } else { None },
                    },
                );
            }
            "pve-storage-9.0" | "pve2-storage" => {
                let new = kind == "pve-storage-9.0";
                let (node, store) =
                    id.split_once('/').ok_or_else(|| bad("a storage key without node/storage"))?;
                let k = (node.to_string(), store.to_string());
                if storage_new.get(&k).is_some_and(|n| *n && !new) {
                    continue;
                }
                storage_new.insert(k.clone(), new);
                rrd.storages.insert(
                    k,
                    StorageStats { time: num(v.first()), maxdisk: int(v.get(1)), disk: int(v.get(2)) },
                );
            }
            _ => {}
        }
    }
    Ok(rrd)
}

/// What `/cluster/resources` is made of (`PVE::API2::Cluster` `resources`), read from files.
pub struct Files<'a> {
    pub vmlist: &'a [VmlistEntry],
    pub members: &'a Members,
    pub rrd: &'a Rrd,
    /// `lock` and `tags` of each guest's current configuration.
    pub props: &'a BTreeMap<u64, crate::tools::pveconf::GuestProps>,
    pub ha: &'a crate::tools::pveconf::Ha,
    /// The pools and each guest's pool (`user.cfg`).
    pub pools: &'a (Vec<String>, BTreeMap<u64, String>),
    pub storages: &'a [crate::tools::pveconf::StorageDef],
}

/// The cluster's nodes: corosync's node list, or this node alone outside a cluster
/// (`PVE::Cluster::get_nodelist`), sorted.
pub fn nodelist(members: &Members) -> Vec<String> {
    if members.cluster.is_some() && !members.nodes.is_empty() {
        members.nodes.iter().map(|n| n.name.clone()).collect()
    } else {
        vec![members.nodename.clone()]
    }
}

/// `/cluster/resources` from the files, entry for entry as PVE's API builds it (`extract_vm_stats`,
/// `extract_node_stats`, `extract_storage_stats`): pools, guests by vmid, nodes, storages per node
/// where enabled. SDN and network entries are left out (the monitor does not use them).
pub fn cluster_resources(f: &Files<'_>) -> Vec<crate::model::pve::ClusterResource> {
    use crate::model::pve::{ClusterResource, Guest, NodeResource, StorageResource};
    let mut out = Vec::new();
    for p in &f.pools.0 {
        out.push(ClusterResource::Other { kind: "pool".into(), id: format!("/pool/{p}") });
    }
    for v in f.vmlist {
        let d = f.rrd.vms.get(&v.vmid);
        let props = f.props.get(&v.vmid);
        out.push(ClusterResource::Guest(Guest {
            kind: v.kind,
            vmid: v.vmid,
            name: d.and_then(|d| d.name.clone()).unwrap_or_default(),
            node: v.node.clone(),
            status: d.map_or_else(|| "unknown".to_string(), |d| d.status.clone()),
            cpu: d.map_or(0.0, |d| d.cpu),
            maxcpu: d.map_or(0.0, |d| d.maxcpu),
            mem: d.map_or(0, |d| d.mem),
            maxmem: d.map_or(0, |d| d.maxmem),
            disk: d.map_or(0, |d| d.disk),
            maxdisk: d.map_or(0, |d| d.maxdisk),
            netin: d.map_or(0, |d| d.netin),
            netout: d.map_or(0, |d| d.netout),
            diskread: d.map_or(0, |d| d.diskread),
            diskwrite: d.map_or(0, |d| d.diskwrite),
            uptime: d.map(|d| d.uptime),
            pid: None,
            template: d.is_some_and(|d| d.template),
            tags: props
                .and_then(|p| p.tags.as_deref())
                .map(crate::model::pve::de::split_tags)
                .unwrap_or_default(),
            lock: props.and_then(|p| p.lock.clone()),
            hastate: f.ha.guest_state(v.kind, v.vmid),
            pool: f.pools.1.get(&v.vmid).cloned(),
        }));
    }
    let nodes = nodelist(f.members);
    let clustered = f.members.cluster.is_some();
    for node in &nodes {
        let d = f.rrd.nodes.get(node);
        let member_online = f.members.nodes.iter().find(|m| &m.name == node).map(|m| m.online);
        let online = d.is_some() && (!clustered || member_online == Some(true));
        let status = if clustered && member_online == Some(false) {
            "offline"
        } else if online {
            "online"
        } else {
            "unknown"
        };
        let live = |x: u64| online.then_some(x);
        out.push(ClusterResource::Node(NodeResource {
            node: node.clone(),
            status: status.into(),
            cpu: d.and_then(|d| online.then_some(d.cpu)),
            maxcpu: d.map(|d| f64::from(d.maxcpu)),
            mem: d.and_then(|d| live(d.mem)),
            maxmem: d.map(|d| d.maxmem),
            disk: d.and_then(|d| live(d.disk)),
            maxdisk: d.map(|d| d.maxdisk),
            uptime: d.and_then(|d| live(d.uptime)),
            level: d.and_then(|d| d.level.clone()),
        }));
    }
    for s in f.storages {
        for node in nodes.iter().filter(|n| s.enabled_on(n)) {
            let d = f.rrd.storages.get(&(node.clone(), s.id.clone()));
            out.push(ClusterResource::Storage(StorageResource {
                storage: s.id.clone(),
                node: node.clone(),
                plugintype: s.kind.clone(),
                content: s.content.clone(),
                status: if d.is_some() { "available" } else { "unknown" }.into(),
                shared: s.shared,
                disk: d.map(|d| d.disk),
                maxdisk: d.map(|d| d.maxdisk),
            }));
        }
    }
    out
}

pub const VERSION: &str = "/etc/pve/.version";
pub const CLUSTERLOG: &str = "/etc/pve/.clusterlog";

/// `.version` (`cfs_create_version_msg`): pmxcfs's start time, the version of `.vmlist` and
/// `.members` (`vmlist`, `clinfo`), and one change counter per watched config file (its
/// `memdb_change_array`: `storage.cfg`, `user.cfg`, `jobs.cfg`, `replication.cfg`, `ha/…`,
/// `datacenter.cfg`, …), bumped on every write. A reader re-reads a file only when its counter moved.
/// The nested `kvstore` object is left out.
pub fn parse_versions(text: &str) -> Result<BTreeMap<String, u64>, ToolError> {
    let raw: serde_json::Map<String, serde_json::Value> = json(VERSION, text)?;
    Ok(raw.into_iter().filter_map(|(k, v)| Some((k, v.as_u64()?))).collect())
}

/// `/cluster/status` from `.members` (`PVE::API2::ClusterConfig`/`Cluster.pm` `status` builds it from
/// the same `get_members` and `get_clinfo`): the cluster entry when there is a cluster, and each
/// node; a standalone host is its own single, local, online node with node id 0 and the address its
/// name resolves to (`remote_node_ip`: `/etc/hosts` on a PVE host, as the installer writes it).
pub fn cluster_status(members: &Members, local_ip: Option<String>) -> crate::model::pve::ClusterStatus {
    use crate::model::pve::{ClusterInfo as Info, ClusterNode, ClusterStatus};
    let Some(c) = &members.cluster else {
        return ClusterStatus {
            cluster: None,
            nodes: vec![ClusterNode {
                name: members.nodename.clone(),
                nodeid: Some(0),
                online: true,
                local: true,
                ip: local_ip,
            }],
        };
    };
    ClusterStatus {
        cluster: Some(Info {
            name: c.name.clone(),
            quorate: c.quorate != 0,
            nodes: Some(u64::from(c.nodes)),
            version: u64::try_from(c.version).ok(),
        }),
        nodes: members
            .nodes
            .iter()
            .map(|m| ClusterNode {
                name: m.name.clone(),
                nodeid: Some(u64::from(m.id)),
                online: m.online,
                local: m.name == members.nodename,
                ip: m.ip.clone(),
            })
            .collect(),
    }
}

/// The address `/etc/hosts` gives `name` (the first line that lists it; `#` comments ignored).
pub fn hosts_ip(hosts: &str, name: &str) -> Option<String> {
    hosts.lines().find_map(|l| {
        let mut f = l.split('#').next().unwrap_or("").split_whitespace();
        let ip = f.next()?;
        f.any(|n| n == name || n.split('.').next() == Some(name)).then(|| ip.to_string())
    })
}

pub use crate::model::pve::ClusterLogEntry;

#[derive(Deserialize)]
struct RawClusterLog {
    data: Vec<ClusterLogEntry>,
}

/// Parses `.clusterlog`; a malformed file is an error naming the line.
pub fn parse_clusterlog(text: &str) -> Result<Vec<ClusterLogEntry>, ToolError> {
    let raw: RawClusterLog = json(CLUSTERLOG, text)?;
    Ok(raw.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.vmlist` as `cfs_create_vmlist_msg` writes it (its exact spacing and line breaks).
    const VMLIST_TEXT: &str = "{\n\"version\": 41,\n\"ids\": {\n\"100\": { \"node\": \"pve1\", \"type\": \"qemu\", \"version\": 12 },\n\"201\": { \"node\": \"pve1\", \"type\": \"lxc\", \"version\": 3 },\n\"105\": { \"node\": \"pve2\", \"type\": \"qemu\", \"version\": 7 }}\n\n}\n";

    #[test]
    fn vmlist_as_pmxcfs_writes_it() {
        let v = parse_vmlist(VMLIST_TEXT).unwrap();
        assert_eq!(v.iter().map(|e| e.vmid).collect::<Vec<_>>(), [100, 105, 201]);
        assert_eq!(v[2], VmlistEntry { vmid: 201, node: "pve1".into(), kind: GuestKind::Lxc, version: 3 });
        assert_eq!(v[1].node, "pve2");
        // No guest at all: the version alone.
        assert_eq!(parse_vmlist("{\n\"version\": 3\n\n}\n").unwrap(), []);
        let e = parse_vmlist("{\n\"version\": 3,\n\"ids\": {\n\"100\": { \"node\": \"a\", \"type\": \"openvz\", \"version\": 1 }}\n\n}\n")
            .unwrap_err();
        assert!(e.to_string().contains("unknown type"), "{e}");
        assert!(matches!(parse_vmlist("{\n\"version\": "), Err(ToolError::Parse { .. })));
    }

    #[test]
    fn members_of_a_cluster_and_of_a_lone_node() {
        // `cfs_create_memberlist_msg` in a three-node cluster with one node down.
        let text = "{\n\"nodename\": \"pve1\",\n\"version\": 9,\n\"cluster\": { \"name\": \"lab\", \"version\": 3, \"nodes\": 3, \"quorate\": 1 },\n\"nodelist\": {\n  \"pve1\": { \"id\": 1, \"online\": 1, \"ip\": \"10.0.0.11\"},\n  \"pve3\": { \"id\": 3, \"online\": 0},\n  \"pve2\": { \"id\": 2, \"online\": 1, \"ip\": \"10.0.0.12\"}\n  }\n}\n";
        let m = parse_members(text).unwrap();
        assert_eq!(m.nodename, "pve1");
        assert_eq!(m.cluster, Some(ClusterInfo { name: "lab".into(), version: 3, nodes: 3, quorate: 1 }));
        assert_eq!(m.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["pve1", "pve2", "pve3"]);
        assert_eq!(m.nodes[2], Member { name: "pve3".into(), id: 3, online: false, ip: None });
        // A host outside any cluster.
        let lone = parse_members("{\n\"nodename\": \"pve\",\n\"version\": 0\n}\n").unwrap();
        assert_eq!(lone, Members { nodename: "pve".into(), cluster: None, nodes: vec![] });
    }

    /// `.rrd` as `cfs_rrd_dump` writes it: PVE 8 and PVE 9 keys side by side (a cluster mid-upgrade),
    /// a stopped guest with its `U` columns, a template, a name with a dash, a storage, an unknown key,
    /// and the closing NUL.
    const RRD_TEXT: &str = concat!(
        "pve2-node/pve2:86400:c:1733400000:0.52:8:0.031:0.002:33554432000:12884901888:8589930496:0:100861726720:21474836480:123456789:98765432\n",
        "pve-node-9.0/pve1:1209600:U:1733400001:1.25:16:0.12:0.01:67108864000:40265318400:8589930496:1048576:100861726720:30064771072:987654321:123456789:25769803776:4294967296:0.5:1.1:0.3:0:0\n",
        "pve2-node/pve1:1:U:1:1:1:1:1:1:1:1:1:1:1:1:1\n",
        "pve-vm-9.0/100:3600:router:running:0:1733400001:2:0.0425:2147483648:1073741824:34359738368:0:1234567:7654321:111111:222222:1181116006:0.1:0:0.2:0:0:0\n",
        "pve-vm-9.0/101:0:web-01:stopped:0:1733400001:4:U:4294967296:U:68719476736:0:U:U:U:U:U:U:U:U:U:U:U\n",
        "pve2.3-vm/9000:0:debian-12-template:stopped:1:1733400000:2:U:2147483648:U:10737418240:0:U:U:U:U\n",
        "pve-storage-9.0/pve1/local-zfs:1733400001:1888469831680:512110190592\n",
        "pve2-storage/pve2/local:1733400000:100861726720:21474836480\n",
        "pve-future-10/x:1:2:3\n",
        "broken-line\n",
        "\0"
    );

    #[test]
    fn rrd_as_pvestatd_broadcasts_it() {
        let r = parse_rrd(RRD_TEXT).unwrap();
        // The PVE 9 entry wins over the older key of the same node, wherever it stands.
        let n = &r.nodes["pve1"];
        assert_eq!(n.uptime, 1_209_600);
        assert_eq!(n.level, None);
        assert_eq!(n.maxcpu, 16);
        assert!((n.cpu - 0.12).abs() < 1e-9);
        assert_eq!((n.maxmem, n.mem), (67_108_864_000, 40_265_318_400));
        assert_eq!((n.maxdisk, n.disk), (100_861_726_720, 30_064_771_072));
        assert_eq!(n.memavailable, Some(25_769_803_776));
        let old = &r.nodes["pve2"];
        assert_eq!(old.level.as_deref(), Some("c"));
        assert_eq!(old.memavailable, None);
        assert_eq!(old.netout, Some(98_765_432));

        let vm = &r.vms[&100];
        assert_eq!(vm.name.as_deref(), Some("router"));
        assert_eq!(vm.status, "running");
        assert!((vm.cpu - 0.0425).abs() < 1e-9);
        assert_eq!(
            (vm.maxmem, vm.mem, vm.netin, vm.diskwrite),
            (2_147_483_648, 1_073_741_824, 1_234_567, 222_222)
        );
        assert_eq!(vm.memhost, Some(1_181_116_006));
        // A stopped guest: its live columns are undefined, read as 0 (as PVE's API does).
        let stopped = &r.vms[&101];
        assert_eq!(
            (stopped.status.as_str(), stopped.uptime, stopped.cpu, stopped.mem),
            ("stopped", 0, 0.0, 0)
        );
        assert_eq!(stopped.maxmem, 4_294_967_296);
        let tpl = &r.vms[&9000];
        assert!(tpl.template);
        assert_eq!(tpl.memhost, None);

        assert_eq!(r.storages[&("pve1".into(), "local-zfs".into())].disk, 512_110_190_592);
        assert_eq!(r.storages[&("pve2".into(), "local".into())].maxdisk, 100_861_726_720);
        assert_eq!(r.storages.len(), 2);

        // A guest key with a bad id is an error naming its line (a test of the resources follows).
        let e = parse_rrd("pve-vm-9.0/abc:1:x:running\n").unwrap_err();
        assert!(matches!(e, ToolError::Parse { line: 1, .. }), "{e}");
    }

    #[test]
    fn cluster_resources_as_pves_api_builds_them() {
        use crate::model::pve::ClusterResource;
        use crate::tools::pveconf::{self, GuestProps};
        let vmlist = parse_vmlist(VMLIST_TEXT).unwrap();
        let members = parse_members("{\n\"nodename\": \"pve1\",\n\"version\": 9,\n\"cluster\": { \"name\": \"lab\", \"version\": 3, \"nodes\": 3, \"quorate\": 1 },\n\"nodelist\": {\n  \"pve1\": { \"id\": 1, \"online\": 1, \"ip\": \"10.0.0.11\"},\n  \"pve3\": { \"id\": 3, \"online\": 0},\n  \"pve2\": { \"id\": 2, \"online\": 1, \"ip\": \"10.0.0.12\"}\n  }\n}\n").unwrap();
        let rrd = parse_rrd(RRD_TEXT).unwrap();
        let props = BTreeMap::from([(
            100,
            GuestProps { lock: Some("backup".into()), tags: Some("prod;web".into()) },
        )]);
        let ha =
            pveconf::parse_ha(Some(r#"{"service_status":{"vm:100":{"state":"started"}}}"#), None).unwrap();
        let pools = pveconf::parse_user_pools("pool:prod::100,105::\n");
        let storages = pveconf::parse_storage_cfg(
            "dir: local\n\tpath /var/lib/vz\n\tcontent iso,backup\n\nzfspool: local-zfs\n\tpool rpool/data\n\tnodes pve1\n",
        );
        let r = cluster_resources(&Files {
            vmlist: &vmlist,
            members: &members,
            rrd: &rrd,
            props: &props,
            ha: &ha,
            pools: &pools,
            storages: &storages,
        });
        assert_eq!(r[0], ClusterResource::Other { kind: "pool".into(), id: "/pool/prod".into() });
        let g: Vec<_> = r.iter().filter_map(ClusterResource::as_guest).collect();
        assert_eq!(g.iter().map(|g| g.vmid).collect::<Vec<_>>(), [100, 105, 201]);
        assert_eq!(
            (g[0].name.as_str(), g[0].status.as_str(), g[0].node.as_str()),
            ("router", "running", "pve1")
        );
        assert_eq!(
            (g[0].lock.as_deref(), g[0].tags.clone()),
            (Some("backup"), vec!["prod".to_string(), "web".to_string()])
        );
        assert_eq!((g[0].hastate.as_deref(), g[0].pool.as_deref()), (Some("started"), Some("prod")));
        assert_eq!(g[0].uptime, Some(3600));
        // A guest the RRD has no entry for yet: `unknown`, as PVE's API says.
        assert_eq!(
            (g[1].status.as_str(), g[1].uptime, g[1].pool.as_deref()),
            ("unknown", None, Some("prod"))
        );
        let n: Vec<_> = r.iter().filter_map(ClusterResource::as_node).collect();
        assert_eq!(
            n.iter().map(|n| (n.node.as_str(), n.status.as_str())).collect::<Vec<_>>(),
            [("pve1", "online"), ("pve2", "online"), ("pve3", "offline")]
        );
        assert_eq!((n[0].maxcpu, n[0].mem), (Some(16.0), Some(40_265_318_400)));
        assert_eq!(n[2].mem, None, "no live figures for an offline node");
        let st: Vec<(&str, &str, &str)> = r
            .iter()
            .filter_map(|x| match x {
                ClusterResource::Storage(s) => Some((s.storage.as_str(), s.node.as_str(), s.status.as_str())),
                _ => None,
            })
            .collect();
        // `local` on every node; `local-zfs` only where it is enabled; `available` where the RRD has it.
        assert_eq!(
            st,
            [
                ("local", "pve1", "unknown"),
                ("local", "pve2", "available"),
                ("local", "pve3", "unknown"),
                ("local-zfs", "pve1", "available")
            ]
        );
    }

    /// `.version` as `cfs_create_version_msg` writes it, with a node's kvstore counters.
    #[test]
    fn versions_as_pmxcfs_writes_them() {
        let text = "{\n\"starttime\": 1733300000,\n\"clinfo\": 5,\n\"vmlist\": 41,\n\"corosync.conf\": 3,\n\"storage.cfg\": 7,\n\"jobs.cfg\": 2,\n\"kvstore\": {\n\"pve1\": {\n\"tasklist\": 12,\n\"ssh-rsa\": 1}\n}\n}\n";
        let v = parse_versions(text).unwrap();
        assert_eq!((v["vmlist"], v["storage.cfg"], v["jobs.cfg"]), (41, 7, 2));
        assert!(!v.contains_key("kvstore"));
        let e = parse_versions("{\n\"vmlist\": 4,\n").unwrap_err();
        assert!(e.to_string().contains(".version"), "{e}");
    }

    /// `.clusterlog` as `clog_dump_json` writes it (a quote in a message escaped by
    /// `utf8_to_ascii`), and an empty log.
    #[test]
    fn clusterlog_as_pmxcfs_writes_it() {
        let text = "{\n\"data\": [\n{\"uid\": 7, \"time\": 1733400100, \"pri\": 6, \"tag\": \"pvedaemon\", \"pid\": 1234, \"node\": \"pve1\", \"user\": \"root@pam\", \"msg\": \"end task UPID:pve1:000004D2:0001E240:6751A000:qmstart:100:root@pam: OK\"},\n{\"uid\": 6, \"time\": 1733400000, \"pri\": 3, \"tag\": \"pvescheduler\", \"pid\": 99, \"node\": \"pve2\", \"user\": \"root@pam\", \"msg\": \"job \\\"backup-1\\\" failed\"}\n]\n}\n";
        let log = parse_clusterlog(text).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            (log[1].pri, log[1].node.as_str(), log[1].msg.as_str()),
            (3, "pve2", "job \"backup-1\" failed")
        );
        assert_eq!(parse_clusterlog("{\n\"data\": [\n]\n}\n").unwrap(), []);
        assert!(parse_clusterlog("{\n\"data\": [\n{\"uid\": 1,\n").is_err());
    }

    #[test]
    fn cluster_status_from_members() {
        let standalone = parse_members("{\n\"nodename\": \"pve-demo\",\n\"version\": 0\n}\n").unwrap();
        let s = cluster_status(
            &standalone,
            hosts_ip("127.0.0.1 localhost\n192.168.1.5 pve-demo.lan pve-demo # the node\n", "pve-demo"),
        );
        assert!(s.cluster.is_none() && s.quorate());
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(
            (s.nodes[0].nodeid, s.nodes[0].ip.as_deref(), s.nodes[0].local),
            (Some(0), Some("192.168.1.5"), true)
        );
        let clustered = parse_members("{\n\"nodename\": \"pve1\",\n\"version\": 5,\n\"cluster\": { \"name\": \"lab\", \"version\": 3, \"nodes\": 3, \"quorate\": 0 },\n\"nodelist\": {\n  \"pve1\": { \"id\": 1, \"online\": 1, \"ip\": \"10.0.0.1\"},\n  \"pve2\": { \"id\": 2, \"online\": 0, \"ip\": \"10.0.0.2\"},\n  \"pve3\": { \"id\": 3, \"online\": 0}\n  }\n}\n").unwrap();
        let s = cluster_status(&clustered, None);
        let c = s.cluster.as_ref().unwrap();
        assert_eq!((c.name.as_str(), c.quorate, c.nodes, c.version), ("lab", false, Some(3), Some(3)));
        assert!(!s.quorate());
        assert_eq!(s.local_node().map(|n| n.name.as_str()), Some("pve1"));
        assert_eq!(s.nodes.iter().filter(|n| n.online).count(), 1);
        assert_eq!(s.nodes[2].ip, None);
    }
}
