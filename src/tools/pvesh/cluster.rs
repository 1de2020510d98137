//! The cluster's view: `/cluster/resources` (guests, nodes and storages of every member, by `type`;
//! other types kept by name), `/nodes` (every member with its coarse usage) and `/cluster/status`
//! (the cluster entry with quorum, and one entry per node).

use serde::Deserialize;

use super::{ClusterInfo, ClusterNode, ClusterResource, ClusterStatus, NodeResource, de, get, owned};
#[cfg(test)]
use super::{Guest, StorageResource};
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
    use super::super::GuestKind;
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
