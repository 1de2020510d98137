//! VMs and containers: the per-node lists `/nodes/{node}/qemu` and `/nodes/{node}/lxc` (the same
//! objects `/cluster/resources` carries, see `cluster`) and one guest's
//! `/nodes/{node}/{qemu|lxc}/{vmid}/config`, kept whole with the few values the monitor uses typed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Guest, GuestConfig, GuestKind, de, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/qemu` or `/nodes/{node}/lxc`; `node` is filled in (the endpoint does not repeat it).
pub async fn guests(host: &Host, node: &str, kind: GuestKind) -> Result<Vec<Guest>, ToolError> {
    let out = get(host, &format!("/nodes/{node}/{}", kind.as_str())).await?;
    let mut list = match kind {
        GuestKind::Qemu => parse_qemu_list(&out)?,
        GuestKind::Lxc => parse_lxc_list(&out)?,
    };
    for g in &mut list {
        g.node = node.to_string();
    }
    Ok(list)
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/config`.
pub async fn guest_config(
    host: &Host,
    node: &str,
    kind: GuestKind,
    vmid: u64,
) -> Result<GuestConfig, ToolError> {
    parse_guest_config(&get(host, &format!("/nodes/{node}/{}/{vmid}/config", kind.as_str())).await?)
}

pub fn parse_qemu_list(text: &str) -> Result<Vec<Guest>, ToolError> {
    let mut list: Vec<Guest> = owned("pvesh get /nodes/{node}/qemu", text)?;
    for g in &mut list {
        g.kind = GuestKind::Qemu;
    }
    Ok(list)
}

pub fn parse_lxc_list(text: &str) -> Result<Vec<Guest>, ToolError> {
    let mut list: Vec<Guest> = owned("pvesh get /nodes/{node}/lxc", text)?;
    for g in &mut list {
        g.kind = GuestKind::Lxc;
    }
    Ok(list)
}

pub fn parse_guest_config(text: &str) -> Result<GuestConfig, ToolError> {
    const WHAT: &str = "pvesh get /nodes/{node}/{type}/{vmid}/config";
    let raw: BTreeMap<String, Value> = owned(WHAT, text)?;
    let scalar = |key: &str| -> Result<Option<de::Scalar>, ToolError> {
        let Some(v) = raw.get(key) else { return Ok(None) };
        de::Scalar::deserialize(v)
            .map(Some)
            .map_err(|e| ToolError::parse(WHAT, 1, &format!("{key}: {v}"), e.to_string()))
    };
    let bad = |key: &str, msg: String| ToolError::parse(WHAT, 1, &format!("{key}: {:?}", raw.get(key)), msg);
    let num = |key: &str| -> Result<Option<u64>, ToolError> {
        scalar(key)?.map(|s| s.to_u64().map_err(|m| bad(key, m))).transpose().map(Option::flatten)
    };
    let flag = |key: &str| -> Result<bool, ToolError> {
        Ok(scalar(key)?.map(|s| s.to_bool().map_err(|m| bad(key, m))).transpose()?.flatten().unwrap_or(false))
    };
    let string = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_string);
    // Since PVE 8.1 (qemu-server) `memory` is a property string, `[current=]<MiB>`; older releases and
    // containers send a plain number, and canonical JSON may quote it (`"memory":"2048"`).
    let memory = match raw.get("memory") {
        Some(Value::String(s)) => {
            let first = s.split(',').next().unwrap_or("");
            let v = first.strip_prefix("current=").unwrap_or(first).trim();
            Some(v.parse().map_err(|_| bad("memory", format!("{s:?} is not a memory size")))?)
        }
        _ => num("memory")?,
    };
    Ok(GuestConfig {
        onboot: flag("onboot")?,
        name: string("name").or_else(|| string("hostname")),
        cores: num("cores")?,
        sockets: num("sockets")?,
        memory,
        template: flag("template")?,
        lock: string("lock"),
        tags: string("tags").map(|t| de::split_tags(&t)).unwrap_or_default(),
        raw,
        snapshots: Vec::new(),
        pending: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{api, count, demo, fixture};
    use super::*;

    #[test]
    fn lxc_list_with_vmid_as_string() {
        let l = parse_lxc_list(&api(fixture!("go-proxmox_api_nodes_node1_lxc_vmid_as_string.json"))).unwrap();
        assert_eq!(l.iter().map(|g| g.vmid).collect::<Vec<_>>(), [106, 105, 101]);
        assert!(l.iter().all(|g| g.kind == GuestKind::Lxc));
        assert_eq!(count(&l, GuestKind::Lxc, "running"), 2);
        let stopped = &l[2];
        assert!(stopped.template);
        assert_eq!((stopped.pid, stopped.mem, stopped.maxcpu), (None, 0, 1.0));
        assert_eq!(l[0].pid, Some(248173));
        assert!(!l[0].template);
    }

    #[test]
    fn demo_guest_lists() {
        let q = parse_qemu_list(demo!("nodes_qemu.json")).unwrap();
        assert_eq!(q.len(), 7);
        assert_eq!(count(&q, GuestKind::Qemu, "running"), 4);
        assert_eq!(q.iter().filter(|g| g.template).map(|g| g.vmid).collect::<Vec<_>>(), [9000]);
        assert_eq!((q[2].pid, q[4].pid), (None, None));
        assert_eq!(q[2].maxcpu, 8.0);
        assert_eq!(q[4].name, "ha-app");
        let l = parse_lxc_list(demo!("nodes_lxc.json")).unwrap();
        assert_eq!(l.iter().map(|g| g.vmid).collect::<Vec<_>>(), [200, 201, 202, 203, 204]);
        assert_eq!(l[1].lock.as_deref(), Some("backup"));
        assert_eq!(l[2].tags, Vec::<String>::new());
    }

    #[test]
    fn demo_guest_configs() {
        let all = [
            (demo!("nodes_qemu_100_config.json"), "router", true, Some(2048), false),
            (demo!("nodes_qemu_101_config.json"), "web", true, Some(8192), false),
            (demo!("nodes_qemu_102_config.json"), "win11", true, Some(16384), false),
            (demo!("nodes_qemu_9000_config.json"), "debian12-cloud", false, Some(2048), true),
            (demo!("nodes_lxc_200_config.json"), "pihole", true, Some(512), false),
            (demo!("nodes_lxc_201_config.json"), "nextcloud", true, Some(4096), false),
            (demo!("nodes_lxc_202_config.json"), "test", false, Some(1024), false),
            (demo!("nodes_qemu_103_config.json"), "db", true, Some(8192), false),
            (demo!("nodes_qemu_104_config.json"), "ha-app", false, Some(4096), false),
            (demo!("nodes_qemu_105_config.json"), "ci-runner", true, Some(16384), false),
            (demo!("nodes_lxc_203_config.json"), "mail", true, Some(2048), false),
            (demo!("nodes_lxc_204_config.json"), "gitea", true, Some(2048), false),
        ];
        for (text, name, onboot, memory, template) in all {
            let c = parse_guest_config(text).unwrap();
            assert_eq!(c.name.as_deref(), Some(name));
            assert_eq!((c.onboot, c.memory, c.template), (onboot, memory, template), "{name}");
            assert!(c.raw.contains_key("digest"));
        }
        let c = parse_guest_config(demo!("nodes_lxc_201_config.json")).unwrap();
        assert_eq!((c.cores, c.lock.as_deref()), (Some(4), Some("backup")));
        assert_eq!(c.tags, ["cloud", "prod"]);
        assert_eq!(c.raw["features"], "nesting=1");
        let c = parse_guest_config(demo!("nodes_qemu_102_config.json")).unwrap();
        assert_eq!((c.cores, c.sockets), (Some(8), Some(1)));
    }

    #[test]
    fn guest_config_quirks() {
        let c = parse_guest_config(r#"{"memory":"current=4096","onboot":"1","cores":"2","tags":"a,b c"}"#)
            .unwrap();
        assert_eq!((c.memory, c.onboot, c.cores), (Some(4096), true, Some(2)));
        assert_eq!(c.tags, ["a", "b", "c"]);
        let err = parse_guest_config(r#"{"onboot":"maybe"}"#).unwrap_err();
        assert!(err.to_string().contains("onboot"), "{err}");
    }
}
