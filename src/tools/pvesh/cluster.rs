//! The cluster's view: `/cluster/resources` (guests, nodes and storages of every member, by `type`;
//! other types kept by name), `/nodes` (every member with its coarse usage) and `/cluster/status`
//! (the cluster entry with quorum, and one entry per node).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::guests::Guest;
use super::{de, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes` (every cluster member with its coarse usage).
pub async fn nodes(host: &Host) -> Result<Vec<NodeResource>, ToolError> {
    parse_nodes(&get(host, "/nodes").await?)
}

/// `/cluster/resources` (all types).
pub async fn cluster_resources(host: &Host) -> Result<Vec<ClusterResource>, ToolError> {
    parse_cluster_resources(&get(host, "/cluster/resources").await?)
}

/// `/cluster/status`.
pub async fn cluster_status(host: &Host) -> Result<ClusterStatus, ToolError> {
    parse_cluster_status(&get(host, "/cluster/status").await?)
}

/// A cluster member as in `/cluster/resources` (`type: node`) and `/nodes`. Offline nodes carry no
/// usage (no `cpu`, `mem`, `uptime`), hence the options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResource {
    pub node: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Subscription level (`""` when none, `c`, `b`, `s`, `p`).
    #[serde(default)]
    pub level: Option<String>,
}

impl NodeResource {
    pub fn is_online(&self) -> bool {
        self.status == "online"
    }
}

/// A storage as seen from one node in `/cluster/resources` (`id: storage/<node>/<storeid>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageResource {
    /// The storage id (`local-zfs`).
    pub storage: String,
    #[serde(default)]
    pub node: String,
    /// `dir`, `zfspool`, `lvmthin`, `nfs`, `pbs`, ...
    #[serde(default)]
    pub plugintype: String,
    #[serde(default, deserialize_with = "de::comma_list")]
    pub content: Vec<String>,
    /// `available`, or `unknown` when the storage reported no RRD update (not active / unreachable).
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: bool,
    /// Bytes used; absent when `status` is `unknown`.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
}

/// One `/cluster/resources` entry, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterResource {
    Guest(Guest),
    Node(NodeResource),
    Storage(StorageResource),
    /// Types this monitor does not use (`pool`, `sdn`, and whatever later releases add), kept by name.
    Other {
        kind: String,
        id: String,
    },
}

impl ClusterResource {
    pub fn as_guest(&self) -> Option<&Guest> {
        match self {
            ClusterResource::Guest(g) => Some(g),
            _ => None,
        }
    }
    pub fn as_node(&self) -> Option<&NodeResource> {
        match self {
            ClusterResource::Node(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_storage(&self) -> Option<&StorageResource> {
        match self {
            ClusterResource::Storage(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for ClusterResource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Dispatch on `type` by hand rather than with `#[serde(tag = "type")]`: unknown types keep
        // their name, and a bad field is reported together with the entry's id.
        let v = Value::deserialize(d)?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let id = v.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let typed = match kind.as_str() {
            "qemu" | "lxc" => Guest::deserialize(&v).map(ClusterResource::Guest),
            "node" => NodeResource::deserialize(&v).map(ClusterResource::Node),
            "storage" => StorageResource::deserialize(&v).map(ClusterResource::Storage),
            _ => return Ok(ClusterResource::Other { kind, id }),
        };
        typed.map_err(|e| serde::de::Error::custom(format!("entry {id:?}: {e}")))
    }
}

pub fn parse_cluster_resources(text: &str) -> Result<Vec<ClusterResource>, ToolError> {
    owned("pvesh get /cluster/resources", text)
}

/// `/nodes`: the same node objects as `/cluster/resources` (plus `ssl_fingerprint`).
pub fn parse_nodes(text: &str) -> Result<Vec<NodeResource>, ToolError> {
    owned("pvesh get /nodes", text)
}

// ---------------------------------------------------------------------------------------------------
// /cluster/status
// ---------------------------------------------------------------------------------------------------

/// `/cluster/status`: one `cluster` entry when clustered, then one entry per node. A standalone node
/// lists only itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterStatus {
    pub cluster: Option<ClusterInfo>,
    pub nodes: Vec<ClusterNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    pub name: String,
    pub quorate: bool,
    /// Configured member count.
    pub nodes: Option<u64>,
    /// corosync config version.
    pub version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterNode {
    pub name: String,
    pub nodeid: Option<u64>,
    pub online: bool,
    /// The node this API call was answered by.
    pub local: bool,
    pub ip: Option<String>,
}

impl ClusterStatus {
    /// A standalone node has no cluster entry and is trivially quorate.
    pub fn quorate(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.quorate)
    }
    pub fn local_node(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.local)
    }
}

pub fn parse_cluster_status(text: &str) -> Result<ClusterStatus, ToolError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        name: String,
        #[serde(default, deserialize_with = "de::flag")]
        quorate: bool,
        #[serde(default, deserialize_with = "de::opt_u64")]
        nodes: Option<u64>,
        #[serde(default, deserialize_with = "de::opt_u64")]
        version: Option<u64>,
        #[serde(default, deserialize_with = "de::opt_u64")]
        nodeid: Option<u64>,
        #[serde(default, deserialize_with = "de::flag")]
        online: bool,
        #[serde(default, deserialize_with = "de::flag")]
        local: bool,
        #[serde(default)]
        ip: Option<String>,
    }
    let entries: Vec<Entry> = owned("pvesh get /cluster/status", text)?;
    let mut status = ClusterStatus::default();
    for e in entries {
        match e.kind.as_str() {
            "cluster" => {
                status.cluster =
                    Some(ClusterInfo { name: e.name, quorate: e.quorate, nodes: e.nodes, version: e.version })
            }
            "node" => status.nodes.push(ClusterNode {
                name: e.name,
                nodeid: e.nodeid,
                online: e.online,
                local: e.local,
                ip: e.ip,
            }),
            _ => {}
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::super::guests::GuestKind;
    use super::super::tests::{api, count, demo, fixture};
    use super::*;

    #[test]
    fn cluster_resources_pve74_four_nodes() {
        let r = parse_cluster_resources(&api(fixture!("go-proxmox_api_cluster_resources_pve7_4nodes.json")))
            .unwrap();
        assert_eq!(r.len(), 20);
        let guests: Vec<&Guest> = r.iter().filter_map(ClusterResource::as_guest).collect();
        assert_eq!(guests.len(), 4);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "running"), 1);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "stopped"), 3);
        let templates: Vec<u64> = guests.iter().filter(|g| g.template).map(|g| g.vmid).collect();
        assert_eq!(templates, [101]);
        let g100 = guests.iter().find(|g| g.vmid == 100).unwrap();
        assert_eq!((g100.node.as_str(), g100.name.as_str()), ("node2", "server1"));
        assert_eq!((g100.maxcpu, g100.maxmem, g100.uptime), (1.0, 1073741824, Some(874350)));
        assert_eq!(g100.hastate, None);
        // `+` is a legal tag character (pve-common's tag regex): one tag, not two.
        let g102 = guests.iter().find(|g| g.vmid == 102).unwrap();
        assert_eq!(g102.tags, ["go-proxmox+cloud-init"]);
        let nodes: Vec<&NodeResource> = r.iter().filter_map(ClusterResource::as_node).collect();
        assert_eq!(nodes.len(), 4);
        assert!(nodes.iter().all(|n| n.is_online() && n.cpu.is_some()));
        let storages: Vec<&StorageResource> = r.iter().filter_map(ClusterResource::as_storage).collect();
        assert_eq!(storages.len(), 12);
        let zfs = storages.iter().find(|s| s.node == "node1" && s.storage == "local-zfs").unwrap();
        assert_eq!(zfs.plugintype, "zfspool");
        assert_eq!(zfs.content, ["images", "rootdir"]);
        assert_eq!((zfs.disk, zfs.maxdisk, zfs.shared), (Some(14446702592), Some(955016175616), false));
        assert!(storages.iter().all(|s| s.status == "available"));
    }

    #[test]
    fn cluster_resources_demo() {
        let r = parse_cluster_resources(demo!("cluster_resources.json")).unwrap();
        let guests: Vec<&Guest> = r.iter().filter_map(ClusterResource::as_guest).collect();
        assert_eq!(guests.len(), 12);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "running"), 3);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "paused"), 1);
        assert_eq!(count(guests.iter().copied(), GuestKind::Qemu, "stopped"), 3);
        assert_eq!(count(guests.iter().copied(), GuestKind::Lxc, "running"), 3);
        assert_eq!(count(guests.iter().copied(), GuestKind::Lxc, "stopped"), 2);
        let ha = guests.iter().find(|g| g.vmid == 104).unwrap();
        assert_eq!((ha.hastate.as_deref(), ha.status.as_str()), (Some("error"), "stopped"));
        assert_eq!(guests.iter().find(|g| g.vmid == 105).unwrap().lock.as_deref(), Some("snapshot"));
        let lvm =
            r.iter().filter_map(ClusterResource::as_storage).find(|s| s.storage == "local-lvm").unwrap();
        assert_eq!(lvm.plugintype, "lvmthin");
        let pbs =
            r.iter().filter_map(ClusterResource::as_storage).find(|s| s.storage == "pbs-backup").unwrap();
        assert_eq!((pbs.plugintype.as_str(), pbs.shared), ("pbs", true));
        let web = guests.iter().find(|g| g.vmid == 101).unwrap();
        assert_eq!(web.hastate.as_deref(), Some("started"));
        assert_eq!(web.tags, ["prod", "web"]);
        let nc = guests.iter().find(|g| g.vmid == 201).unwrap();
        assert_eq!((nc.kind, nc.lock.as_deref()), (GuestKind::Lxc, Some("backup")));
        assert!(guests.iter().find(|g| g.vmid == 9000).unwrap().template);
        let node = r.iter().find_map(ClusterResource::as_node).unwrap();
        assert_eq!((node.node.as_str(), node.maxcpu, node.mem), ("pve-demo", Some(32.0), Some(61874593792)));
        let nfs =
            r.iter().filter_map(ClusterResource::as_storage).find(|s| s.storage == "backup-nfs").unwrap();
        assert!(nfs.shared);
        assert_eq!(nfs.plugintype, "nfs");
        // The sdn entry is kept by name, not rejected.
        assert!(r.contains(&ClusterResource::Other {
            kind: "sdn".into(),
            id: "sdn/pve-demo/localnetwork".into()
        }));
    }

    #[test]
    fn offline_node_and_inactive_storage_have_no_usage() {
        let text = r#"[{"id":"node/pve2","node":"pve2","status":"offline","type":"node","level":""},
            {"id":"storage/pve1/nas","node":"pve1","storage":"nas","status":"unknown","type":"storage",
             "content":"backup","plugintype":"cifs","shared":1},
            {"id":"pool/lab","pool":"lab","type":"pool"},
            {"id":"qemu/300","vmid":"300","node":"pve2","status":"unknown","type":"qemu","hastate":"fence",
             "pool":"lab","somefuturefield":{"x":1}}]"#;
        let r = parse_cluster_resources(text).unwrap();
        let n = r[0].as_node().unwrap();
        assert!(!n.is_online());
        assert_eq!((n.cpu, n.mem, n.uptime), (None, None, None));
        let s = r[1].as_storage().unwrap();
        assert_eq!((s.disk, s.maxdisk, s.shared), (None, None, true));
        assert_eq!(r[2], ClusterResource::Other { kind: "pool".into(), id: "pool/lab".into() });
        let g = r[3].as_guest().unwrap();
        assert_eq!((g.vmid, g.hastate.as_deref(), g.pool.as_deref()), (300, Some("fence"), Some("lab")));
        assert_eq!((g.uptime, g.mem, g.template), (None, 0, false));
    }

    #[test]
    fn nodes_list() {
        let n = parse_nodes(&api(fixture!("go-proxmox_api_nodes_list.json"))).unwrap();
        assert_eq!(n.len(), 4);
        assert_eq!(n[0].node, "node1");
        assert_eq!((n[0].maxcpu, n[0].level.as_deref()), (Some(12.0), Some("")));
    }

    #[test]
    fn cluster_status_quorate_four_nodes() {
        let s = parse_cluster_status(&api(fixture!("go-proxmox_api_cluster_status_quorate.json"))).unwrap();
        let c = s.cluster.as_ref().unwrap();
        assert_eq!((c.name.as_str(), c.quorate, c.nodes, c.version), ("clustername", true, Some(4), Some(4)));
        assert!(s.quorate());
        assert_eq!(s.nodes.len(), 4);
        assert!(s.nodes.iter().all(|n| n.online));
        let local = s.local_node().unwrap();
        assert_eq!(
            (local.name.as_str(), local.ip.as_deref(), local.nodeid),
            ("node1", Some("192.168.1.1"), Some(1))
        );
    }

    #[test]
    fn cluster_status_standalone_and_lost_quorum() {
        let s = parse_cluster_status(demo!("cluster_status.json")).unwrap();
        assert_eq!(s.cluster, None);
        assert!(s.quorate());
        assert_eq!(s.local_node().unwrap().name, "pve-demo");
        let lost = r#"[{"type":"cluster","id":"cluster","name":"c","quorate":0,"nodes":2,"version":3},
            {"type":"node","id":"node/b","name":"b","online":0,"local":0,"nodeid":2}]"#;
        let s = parse_cluster_status(lost).unwrap();
        assert!(!s.quorate());
        assert!(!s.nodes[0].online);
        assert_eq!(s.nodes[0].ip, None);
    }
}
