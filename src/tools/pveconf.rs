//! The cluster filesystem's configuration files that `/cluster/resources` reads beside the status
//! files (issue 15): pure parsers, each following its writer and PVE's own reader.
//! - guest configs (`/etc/pve/nodes/<node>/{qemu-server,lxc}/<vmid>.conf`): only `lock` and `tags`
//!   of the current configuration, as pmxcfs's `_get_property_values` (pve-cluster
//!   `src/pmxcfs/status.c`) reads them for `get_guest_config_properties`: lines `key: value` before
//!   the first `[snapshot]`/`[PENDING]` section, surrounding spaces trimmed, the last occurrence wins;
//! - section-config files (`storage.cfg`, `ha/resources.cfg`): pve-common `PVE::SectionConfig`
//!   (`type: id` headers, indented `key value` lines, a blank line ends a section, `#` comments);
//!   `storage.cfg` with pve-storage `PVE::Storage::Plugin::parse_config`'s additions (a `local` dir
//!   storage always exists, shared plugin types are shared, each type's default content);
//! - `ha/manager_status`: pve-ha-manager's JSON (`service_status`, `node_status`);
//! - `user.cfg`'s pools (pve-access-control `parse_user_config`: `pool:<id>:<comment>:<vmids>:<storages>:`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::host::ToolError;

pub const STORAGE_CFG: &str = "/etc/pve/storage.cfg";
pub const HA_MANAGER_STATUS: &str = "/etc/pve/ha/manager_status";
pub const HA_RESOURCES: &str = "/etc/pve/ha/resources.cfg";
pub const USER_CFG: &str = "/etc/pve/user.cfg";

/// A guest config's path on `node`.
pub fn guest_config_path(node: &str, kind: crate::model::pve::GuestKind, vmid: u64) -> String {
    let dir = match kind {
        crate::model::pve::GuestKind::Qemu => "qemu-server",
        crate::model::pve::GuestKind::Lxc => "lxc",
    };
    format!("/etc/pve/nodes/{node}/{dir}/{vmid}.conf")
}

/// `lock` and `tags` of a guest's current configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestProps {
    pub lock: Option<String>,
    pub tags: Option<String>,
}

/// Reads `lock` and `tags` the way pmxcfs does (see the module comment). Only lines that end with a
/// newline count, as there.
pub fn guest_props(conf: &str) -> GuestProps {
    let mut out = GuestProps::default();
    let complete = match conf.rfind('\n') {
        Some(i) => &conf[..i],
        None => return out,
    };
    for line in complete.split('\n') {
        if line.starts_with('[') {
            break;
        }
        for (prop, slot) in [("lock", &mut out.lock), ("tags", &mut out.tags)] {
            if line.len() > prop.len() + 1 && line.as_bytes()[prop.len()] == b':' && line.starts_with(prop) {
                let value = line[prop.len() + 1..].trim();
                if !value.is_empty() {
                    *slot = Some(value.to_string());
                }
            }
        }
    }
    out
}

/// One section of a section-config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    pub id: String,
    /// `key` → values (array properties repeat; a flag without a value reads `""`).
    pub props: BTreeMap<String, Vec<String>>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(|v| v.first()).map(String::as_str)
    }
    /// A boolean property: present without a value, or `1`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.is_empty() || v == "1")
    }
}

/// Parses a section-config file like `PVE::SectionConfig::parse_config` (lines it would warn about
/// and ignore are ignored here too).
pub fn parse_sections(text: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').filter(|l| !l.trim_start().starts_with('#')).peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((kind, id)) = header(line) else { continue };
        let mut props: BTreeMap<String, Vec<String>> = BTreeMap::new();
        while let Some(next) = lines.peek() {
            if next.trim().is_empty() {
                break;
            }
            let next = lines.next().unwrap_or_default();
            if !next.starts_with(char::is_whitespace) {
                continue; // "ignore config line"
            }
            let body = next.trim();
            let (k, v) = match body.split_once(char::is_whitespace) {
                Some((k, v)) => (k, v.trim()),
                None => (body, ""),
            };
            props.entry(k.to_string()).or_default().push(v.to_string());
        }
        out.push(Section { kind: kind.to_string(), id: id.to_string(), props });
    }
    out
}

/// `^(\S+):\s*(\S+)\s*$`.
fn header(line: &str) -> Option<(&str, &str)> {
    let (kind, rest) = line.split_once(':')?;
    let id = rest.trim();
    if kind.is_empty()
        || kind.contains(char::is_whitespace)
        || id.is_empty()
        || id.contains(char::is_whitespace)
    {
        return None;
    }
    Some((kind, id))
}

/// PVE's `split_list`: items separated by `,`, `;` or spaces.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', ';', ' ', '\t']).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// A storage as `PVE::Storage::config()` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageDef {
    pub id: String,
    /// The plugin type (`dir`, `zfspool`, `nfs`, …).
    pub kind: String,
    /// Sorted, as `content_hash_to_string` writes them.
    pub content: Vec<String>,
    pub shared: bool,
    pub disabled: bool,
    /// `None`: every node.
    pub nodes: Option<Vec<String>>,
}

impl StorageDef {
    /// `PVE::Storage::storage_check_enabled`.
    pub fn enabled_on(&self, node: &str) -> bool {
        !self.disabled && self.nodes.as_ref().is_none_or(|n| n.iter().any(|x| x == node))
    }
}

/// pve-storage's `@SHARED_STORAGE`.
const SHARED: &[&str] = &["iscsi", "nfs", "cifs", "rbd", "cephfs", "iscsidirect", "zfs", "drbd", "pbs"];

/// Each plugin's default content (the second element of its `plugindata` `content`).
fn default_content(kind: &str) -> &'static [&'static str] {
    match kind {
        "dir" | "btrfs" | "lvmthin" | "zfspool" => &["images", "rootdir"],
        "lvm" | "nfs" | "cifs" | "rbd" | "iscsi" | "zfs" | "iscsidirect" => &["images"],
        "pbs" | "cephfs" => &["backup"],
        "esxi" => &["import"],
        _ => &[],
    }
}

/// Parses `storage.cfg` with `PVE::Storage::Plugin::parse_config`'s additions, in file order (the
/// ensured `local` first when the file lacks it).
pub fn parse_storage_cfg(text: &str) -> Vec<StorageDef> {
    let mut out: Vec<StorageDef> = parse_sections(text)
        .into_iter()
        .map(|s| {
            let mut content: Vec<String> = s
                .get("content")
                .map(split_list)
                .unwrap_or_else(|| default_content(&s.kind).iter().map(|c| c.to_string()).collect());
            content.sort();
            content.dedup();
            StorageDef {
                shared: SHARED.contains(&s.kind.as_str()) || s.flag("shared"),
                disabled: s.flag("disable"),
                nodes: s.get("nodes").map(split_list),
                content,
                kind: s.kind,
                id: s.id,
            }
        })
        .collect();
    let local_ok = out.iter().any(|s| s.id == "local" && s.kind == "dir");
    if !local_ok {
        out.retain(|s| s.id != "local");
        let content = ["backup", "images", "iso", "rootdir", "snippets", "vztmpl"].map(String::from).to_vec();
        out.insert(
            0,
            StorageDef {
                id: "local".into(),
                kind: "dir".into(),
                content,
                shared: false,
                disabled: false,
                nodes: None,
            },
        );
    }
    // "remove node restrictions for local storage"
    if let Some(local) = out.iter_mut().find(|s| s.id == "local") {
        local.nodes = None;
    }
    out
}

/// HA: the CRM's view (`ha/manager_status`) and the configured resources (`ha/resources.cfg`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ha {
    /// `vm:100` → `started`, `stopped`, `error`, `fence`, …
    pub services: BTreeMap<String, String>,
    /// Node → `online`, `maintenance`, `fence`, …
    pub nodes: BTreeMap<String, String>,
    /// Configured resources and their requested state, where written.
    pub configured: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
struct RawManager {
    #[serde(default)]
    service_status: BTreeMap<String, RawService>,
    #[serde(default)]
    node_status: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawService {
    state: Option<String>,
}

/// Reads HA's two files (either may be missing: no HA configured).
pub fn parse_ha(manager_status: Option<&str>, resources: Option<&str>) -> Result<Ha, ToolError> {
    let mut ha = Ha::default();
    if let Some(text) = manager_status.filter(|t| !t.trim().is_empty()) {
        let raw: RawManager = crate::tools::pmxcfs::json(HA_MANAGER_STATUS, text)?;
        ha.services = raw.service_status.into_iter().filter_map(|(k, v)| Some((k, v.state?))).collect();
        ha.nodes = raw.node_status;
    }
    for s in parse_sections(resources.unwrap_or("")) {
        ha.configured.insert(format!("{}:{}", s.kind, s.id), s.get("state").map(str::to_string));
    }
    Ok(ha)
}

impl Ha {
    /// `/cluster/resources`' `hastate` of a guest (`qemu` → `vm:`, `lxc` → `ct:`).
    pub fn guest_state(&self, kind: crate::model::pve::GuestKind, vmid: u64) -> Option<String> {
        let t = match kind {
            crate::model::pve::GuestKind::Qemu => "vm",
            crate::model::pve::GuestKind::Lxc => "ct",
        };
        let sid = format!("{t}:{vmid}");
        match self.services.get(&sid) {
            Some(s) => Some(s.clone()),
            None => self.configured.get(&sid).cloned().flatten(),
        }
    }
}

/// The pools of `user.cfg` and which pool each guest is in (the first pool that lists it).
pub fn parse_user_pools(text: &str) -> (Vec<String>, BTreeMap<u64, String>) {
    let mut pools = Vec::new();
    let mut vms = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.trim().split(':').map(str::trim).collect();
        let ["pool", pool, rest @ ..] = fields.as_slice() else { continue };
        if pool.is_empty() {
            continue;
        }
        if !pools.iter().any(|p| p == pool) {
            pools.push(pool.to_string());
        }
        for v in split_list(rest.get(1).copied().unwrap_or("")) {
            if let Ok(vmid) = v.parse::<u64>() {
                vms.entry(vmid).or_insert_with(|| pool.to_string());
            }
        }
    }
    pools.sort();
    (pools, vms)
}

pub const JOBS_CFG: &str = "/etc/pve/jobs.cfg";
pub const VZDUMP_CRON: &str = "/etc/pve/vzdump.cron";
pub const REPLICATION_CFG: &str = "/etc/pve/replication.cfg";
pub const DATACENTER_CFG: &str = "/etc/pve/datacenter.cfg";

/// `PVE::Tools::decode_text`: `%XX` escapes (how section configs store a comment's newlines and
/// special characters) back to text.
pub fn decode_text(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The backup jobs of `jobs.cfg` (pve-manager `PVE::Jobs::Plugin` section config, `vzdump:` sections
/// as `PVE::Jobs::VZDump` writes them), shaped as `/cluster/backup` answers them. `next-run` is left
/// out: PVE computes it from the calendar event and the job state file, and nothing here uses it.
/// Sections of other job types (`realm-sync:`) are not backup jobs and are skipped.
pub fn parse_backup_jobs(text: &str) -> Vec<crate::model::pve::BackupJob> {
    parse_sections(text)
        .into_iter()
        .filter(|s| s.kind == "vzdump")
        .map(|s| {
            let ids = |k: &str| -> Vec<u64> {
                s.get(k).map(split_list).unwrap_or_default().iter().filter_map(|v| v.parse().ok()).collect()
            };
            let text = |k: &str| s.get(k).filter(|v| !v.is_empty()).map(str::to_string);
            crate::model::pve::BackupJob {
                schedule: text("schedule"),
                starttime: text("starttime"),
                dow: text("dow"),
                storage: text("storage"),
                // The schema default is enabled; `enabled 0` turns a job off.
                enabled: s.get("enabled").is_none_or(|v| v != "0"),
                all: s.flag("all"),
                vmids: ids("vmid"),
                pool: text("pool"),
                exclude: ids("exclude"),
                mode: text("mode"),
                node: text("node"),
                next_run: None,
                comment: s.get("comment").map(decode_text),
                id: s.id,
            }
        })
        .collect()
}

/// Whether `vzdump.cron` (backup jobs from before PVE 7.1, still honoured) holds a job: a line that
/// is neither blank, a comment, nor a variable assignment (`PATH="…"`).
pub fn vzdump_cron_has_jobs(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| {
        !l.is_empty() && !l.starts_with('#') && !l.split_whitespace().next().is_some_and(|w| w.contains('='))
    })
}

/// One replication job of `replication.cfg` (pve-guest-common `PVE::ReplicationConfig`: `local:
/// <vmid>-<jobnum>` sections; the header's id is read as integers, `parse_section_header`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationDef {
    pub id: String,
    pub guest: u64,
    pub kind: String,
    pub target: String,
    pub schedule: Option<String>,
    pub source: Option<String>,
    pub disable: bool,
    pub remove_job: bool,
    pub comment: Option<String>,
}

/// Parses `replication.cfg`. A header whose id is not `<vmid>-<jobnum>` is skipped, as PVE skips it.
pub fn parse_replication_cfg(text: &str) -> Vec<ReplicationDef> {
    parse_sections(text)
        .into_iter()
        .filter_map(|s| {
            let (g, n) = s.id.split_once('-')?;
            let (guest, num) = (g.parse::<u64>().ok()?, n.parse::<u64>().ok()?);
            let get = |k: &str| s.get(k).filter(|v| !v.is_empty()).map(str::to_string);
            Some(ReplicationDef {
                id: format!("{guest}-{num}"),
                guest,
                target: get("target").unwrap_or_default(),
                schedule: get("schedule"),
                source: get("source"),
                disable: s.flag("disable"),
                remove_job: s.get("remove_job").is_some(),
                comment: s.get("comment").map(decode_text),
                kind: s.kind,
            })
        })
        .collect()
}

/// A guest's configuration file as its writer lays it out (qemu-server
/// `PVE::QemuServer::parse_vm_config`, pve-container `PVE::LXC::Config::parse_pct_config`): the
/// current configuration, the `[PENDING]` changes (with their `delete:` list), and each
/// `[snapshot]` section. `#` lines are the description (`decode_text`d).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestConf {
    pub current: BTreeMap<String, String>,
    pub pending: BTreeMap<String, String>,
    pub pending_delete: Vec<String>,
    pub snapshots: Vec<SnapshotConf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotConf {
    pub name: String,
    pub props: BTreeMap<String, String>,
}

/// `^([a-z][a-z_]*\d*):\s*(.+?)\s*$`, and for containers the raw `lxc.*` keys (`lxc.x: v` or
/// `lxc.x = v`).
fn conf_line(line: &str) -> Option<(&str, &str)> {
    if line.starts_with("lxc.") {
        let i = line.find([':', '='])?;
        let key = line[..i].trim_end();
        return Some((key, line[i + 1..].trim()));
    }
    let (key, value) = line.split_once(':')?;
    let letters = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let ok = letters.starts_with(|c: char| c.is_ascii_lowercase())
        && letters.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    let value = value.trim();
    (ok && !value.is_empty()).then_some((key, value))
}

/// Where a guest config's line goes.
#[derive(Clone, Copy)]
enum Part {
    Current,
    Pending,
    /// `[special:cloudinit]`: qemu-server's record of the cloud-init drive, not configuration.
    Special,
    Snapshot(usize),
}

fn map_of(conf: &mut GuestConf, part: Part) -> Option<&mut BTreeMap<String, String>> {
    match part {
        Part::Current => Some(&mut conf.current),
        Part::Pending => Some(&mut conf.pending),
        Part::Special => None,
        Part::Snapshot(i) => conf.snapshots.get_mut(i).map(|s| &mut s.props),
    }
}

/// Parses a guest config. Lines the writers' readers would warn about are skipped, as there.
pub fn parse_guest_conf(text: &str) -> GuestConf {
    let mut conf = GuestConf::default();
    let mut part = Part::Current;
    let mut descr: Option<String> = None;
    fn finish(conf: &mut GuestConf, part: Part, descr: &mut Option<String>) {
        if let Some(d) = descr.take()
            && let Some(map) = map_of(conf, part)
        {
            map.insert("description".into(), d.trim_end().to_string());
        }
    }
    for line in text.split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.trim_end().strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(&mut conf, part, &mut descr);
            part = if name.eq_ignore_ascii_case("PENDING") {
                Part::Pending
            } else if name.to_ascii_lowercase().starts_with("special:") {
                Part::Special
            } else {
                conf.snapshots.push(SnapshotConf { name: name.to_string(), props: BTreeMap::new() });
                Part::Snapshot(conf.snapshots.len() - 1)
            };
            continue;
        }
        if let Some(d) = line.strip_prefix('#') {
            let text = descr.get_or_insert_with(String::new);
            text.push_str(&decode_text(d));
            text.push('\n');
            continue;
        }
        if matches!(part, Part::Pending)
            && let Some(list) = line.strip_prefix("delete:")
        {
            conf.pending_delete.extend(split_list(list.trim()));
            continue;
        }
        let Some((key, value)) = conf_line(line) else { continue };
        if key == "description" {
            descr.get_or_insert_with(String::new).push_str(&decode_text(value));
        } else if let Some(map) = map_of(&mut conf, part) {
            map.insert(key.to_string(), value.to_string());
        }
    }
    finish(&mut conf, part, &mut descr);
    conf
}

impl GuestConf {
    /// The shape the inventory keeps (`GuestConfig`, as `GET …/config?current=1` gives it): the
    /// current configuration; `memory` may be qemu-server's property string `[current=]<MiB>`.
    pub fn to_config(&self) -> crate::model::pve::GuestConfig {
        let c = &self.current;
        let num = |k: &str| c.get(k).and_then(|v| v.parse::<u64>().ok());
        let flag = |k: &str| c.get(k).is_some_and(|v| v == "1");
        let memory = c.get("memory").and_then(|s| {
            let first = s.split(',').next().unwrap_or("");
            first.strip_prefix("current=").unwrap_or(first).trim().parse().ok()
        });
        crate::model::pve::GuestConfig {
            onboot: flag("onboot"),
            name: c.get("name").or_else(|| c.get("hostname")).cloned(),
            cores: num("cores"),
            sockets: num("sockets"),
            memory,
            template: flag("template"),
            lock: c.get("lock").cloned(),
            tags: c.get("tags").map(|t| crate::model::pve::de::split_tags(t)).unwrap_or_default(),
            raw: c.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
            snapshots: self.snapshots.iter().map(|s| s.name.clone()).collect(),
            pending: self.pending.keys().cloned().chain(self.pending_delete.iter().cloned()).collect(),
        }
    }
}

/// `datacenter.cfg`'s `tag-style` colour map (pve-cluster `PVE/DataCenterConfig.pm`: the file is
/// `key: value` lines read by `PVE::JSONSchema::parse_config`, `#` lines are the description;
/// `tag-style` is a property string whose `color-map` is `<tag>:<hex-color>[:<hex-color-for-text>]`
/// entries joined by `;`). A malformed entry is skipped, as an invalid colour cannot be shown.
pub fn parse_tag_colors(text: &str) -> BTreeMap<String, crate::model::pve::TagColor> {
    let hex = |c: &str| c.len() == 6 && c.bytes().all(|b| b.is_ascii_hexdigit());
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(style) = line.strip_prefix("tag-style:") else { continue };
        for prop in style.trim().split(',') {
            let Some(map) = prop.trim().strip_prefix("color-map=") else { continue };
            for entry in map.split(';') {
                let mut f = entry.split(':');
                let (Some(tag), Some(bg)) = (f.next(), f.next()) else { continue };
                let fg = f.next().filter(|c| hex(c)).map(|c| c.to_ascii_lowercase());
                if !tag.is_empty() && hex(bg) {
                    out.insert(
                        tag.to_string(),
                        crate::model::pve::TagColor { bg: bg.to_ascii_lowercase(), fg },
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pve::GuestKind;

    #[test]
    fn guest_config_lock_and_tags_of_the_current_config_only() {
        // As qm writes a config: the current settings, then a pending and a snapshot section.
        let conf = "boot: order=scsi0\ncores: 2\nlock: backup\nname: web-01\ntags: prod;web\n\n[PENDING]\nlock: migrate\n\n[before-upgrade]\nlock: snapshot\ntags: old\n";
        assert_eq!(
            guest_props(conf),
            GuestProps { lock: Some("backup".into()), tags: Some("prod;web".into()) }
        );
        // Spaces around the value; a key that only starts with the property's name; no trailing newline.
        let conf = "lockdown: x\nlock:   suspended  \ntags:\nname: a";
        assert_eq!(guest_props(conf), GuestProps { lock: Some("suspended".into()), tags: None });
        assert_eq!(
            guest_props("lock: backup"),
            GuestProps::default(),
            "a line without its newline does not count"
        );
        assert_eq!(guest_path_example(), "/etc/pve/nodes/pve1/lxc/201.conf");
    }

    fn guest_path_example() -> String {
        guest_config_path("pve1", GuestKind::Lxc, 201)
    }

    #[test]
    fn storage_cfg_as_pve_reads_it() {
        // As pvesm writes it, plus a comment, a disabled NFS share limited to two nodes.
        let text = "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nzfspool: local-zfs\n\tpool rpool/data\n\tsparse\n\tcontent images,rootdir\n\n# old share\nnfs: nas\n\texport /export/pve\n\tpath /mnt/pve/nas\n\tserver 10.0.0.5\n\tdisable\n\tnodes pve1,pve2\n\npbs: pbs-backup\n\tdatastore main\n\tserver 10.0.0.6\n\tusername backup@pbs\n\nlvmthin: thin\n\tthinpool data\n\tvgname pve\n";
        let s = parse_storage_cfg(text);
        assert_eq!(
            s.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["local", "local-zfs", "nas", "pbs-backup", "thin"]
        );
        assert_eq!(s[0].content, ["backup", "iso", "vztmpl"]);
        let nas = &s[2];
        assert!(nas.shared && nas.disabled);
        assert_eq!(nas.nodes.as_deref(), Some(&["pve1".to_string(), "pve2".to_string()][..]));
        assert!(!nas.enabled_on("pve1"));
        assert_eq!(s[3].content, ["backup"], "pbs's default content");
        assert!(s[3].shared);
        assert_eq!(s[4].content, ["images", "rootdir"], "lvmthin's default content");
        assert!(s[1].enabled_on("pve9"));
        // Without a `local` dir storage, PVE adds its own first.
        let s = parse_storage_cfg("zfspool: local-zfs\n\tpool rpool/data\n");
        assert_eq!(s[0].id, "local");
        assert_eq!(s[0].content, ["backup", "images", "iso", "rootdir", "snippets", "vztmpl"]);
    }

    #[test]
    fn ha_state_from_the_manager_then_the_configuration() {
        let status = r#"{"master_node":"pve1","node_status":{"pve1":"online","pve2":"maintenance"},"service_status":{"vm:100":{"node":"pve1","state":"started","uid":"abc"},"ct:201":{"node":"pve2","state":"error","uid":"d"}},"timestamp":1733400000}"#;
        let resources =
            "vm: 100\n\tstate started\n\tmax_restart 1\n\nvm: 102\n\tstate stopped\n\nct: 203\n\tgroup g1\n";
        let ha = parse_ha(Some(status), Some(resources)).unwrap();
        assert_eq!(ha.guest_state(GuestKind::Qemu, 100).as_deref(), Some("started"));
        assert_eq!(ha.guest_state(GuestKind::Lxc, 201).as_deref(), Some("error"));
        assert_eq!(
            ha.guest_state(GuestKind::Qemu, 102).as_deref(),
            Some("stopped"),
            "configured, not yet seen by the CRM"
        );
        assert_eq!(
            ha.guest_state(GuestKind::Lxc, 203),
            None,
            "configured without a state: none, as PVE's API has it"
        );
        assert_eq!(ha.guest_state(GuestKind::Qemu, 105), None);
        assert_eq!(ha.nodes["pve2"], "maintenance");
        assert_eq!(parse_ha(None, None).unwrap(), Ha::default());
        assert!(parse_ha(Some("{\"service_status\": ["), None).is_err());
    }

    #[test]
    fn pools_of_user_cfg() {
        let text = "user:root@pam:1:0:::root@example.com:::\n\ngroup:admins:root@pam::\n\npool:prod:Production%20VMs:100,101,105::\npool:lab::101,200:local-zfs:\npool:empty::::\n";
        let (pools, vms) = parse_user_pools(text);
        assert_eq!(pools, ["empty", "lab", "prod"]);
        assert_eq!(vms[&100], "prod");
        assert_eq!(vms[&101], "prod", "the first pool that lists a guest keeps it");
        assert_eq!(vms[&200], "lab");
    }

    /// A VM config as qemu-server writes it: the description as `#` lines, the current config, a
    /// `[PENDING]` section with a `delete:` list, the cloud-init record, two snapshots.
    const VM_CONF: &str = "#Web server%0A with a %25 sign\n#second line\nagent: 1\nboot: order=scsi0;net0\ncores: 4\nmemory: current=8192\nname: web 01\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\nonboot: 1\nparent: before-upgrade\nscsi0: local-zfs:vm-100-disk-0,size=32G\ntags: prod;web\n\n[PENDING]\ncores: 8\ndelete: net1,agent\n\n[special:cloudinit]\nipconfig0: ip=dhcp\n\n[before-upgrade]\ncores: 2\nmemory: 4096\nsnaptime: 1733300000\nvmstate: local-zfs:vm-100-state-before-upgrade\n\n[weekly]\n#taken by cron\ncores: 2\nparent: before-upgrade\nsnaptime: 1733400000\n";

    #[test]
    fn guest_conf_with_pending_and_snapshots() {
        let c = parse_guest_conf(VM_CONF);
        assert_eq!(c.current["description"], "Web server\n with a % sign\nsecond line");
        assert_eq!(c.current["name"], "web 01");
        assert_eq!(c.current["cores"], "4");
        assert!(!c.current.contains_key("ipconfig0"), "the cloud-init record is not config");
        assert_eq!(c.pending.get("cores").map(String::as_str), Some("8"));
        assert_eq!(c.pending_delete, ["net1", "agent"]);
        assert_eq!(
            c.snapshots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["before-upgrade", "weekly"]
        );
        assert_eq!(c.snapshots[1].props["description"], "taken by cron");
        assert_eq!(c.snapshots[0].props["snaptime"], "1733300000");
        let cfg = c.to_config();
        assert_eq!((cfg.cores, cfg.memory, cfg.onboot, cfg.template), (Some(4), Some(8192), true, false));
        assert_eq!(cfg.name.as_deref(), Some("web 01"));
        assert_eq!(cfg.tags, ["prod", "web"]);
        assert_eq!(cfg.snapshots, ["before-upgrade", "weekly"]);
        assert_eq!(cfg.pending, ["cores", "net1", "agent"]);
        // A container: `hostname`, raw `lxc.` keys in both forms, a line no reader accepts.
        let ct = parse_guest_conf(
            "arch: amd64\nhostname: db\nlxc.apparmor.profile: unconfined\nlxc.cgroup2.devices.allow = c 10:200 rwm\nmemory: 2048\nNot A Key: x\nswap: 512\n",
        );
        assert_eq!(ct.current["lxc.cgroup2.devices.allow"], "c 10:200 rwm");
        assert_eq!(ct.current["lxc.apparmor.profile"], "unconfined");
        assert!(!ct.current.contains_key("Not A Key"));
        assert_eq!(ct.to_config().name.as_deref(), Some("db"));
        assert_eq!(ct.to_config().memory, Some(2048));
        assert_eq!(parse_guest_conf(""), GuestConf::default());
    }

    #[test]
    fn backup_jobs_from_jobs_cfg() {
        // As PVE::Jobs::Plugin writes it, with a realm-sync job beside (not a backup job).
        let text = "vzdump: backup-5a2c9e41-7d3b\n\tschedule 02:00\n\tall 1\n\texclude 105,106\n\tcomment nightly%20all%0Aguests\n\tmode snapshot\n\tstorage pbs\n\tnotes-template {{guestname}}\n\nvzdump: backup-off\n\tschedule sat 03:00\n\tenabled 0\n\tpool lab\n\tnode pve2\n\nrealm-sync: ldap-sync\n\tschedule daily\n\trealm corp\n";
        let jobs = parse_backup_jobs(text);
        assert_eq!(jobs.len(), 2);
        let j = &jobs[0];
        assert_eq!(
            (j.id.as_str(), j.schedule.as_deref(), j.all, j.enabled),
            ("backup-5a2c9e41-7d3b", Some("02:00"), true, true)
        );
        assert_eq!(j.exclude, [105, 106]);
        assert_eq!(j.comment.as_deref(), Some("nightly all\nguests"));
        assert_eq!(
            (jobs[1].enabled, jobs[1].pool.as_deref(), jobs[1].node.as_deref()),
            (false, Some("lab"), Some("pve2"))
        );
        assert!(vzdump_cron_has_jobs("PATH=\"/usr/sbin:/usr/bin\"\n\n0 2 * * 6 root vzdump 100 --quiet 1\n"));
        assert!(!vzdump_cron_has_jobs(
            "# cluster wide vzdump cron schedule\n# Automatically generated file - do not edit\n\nPATH=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n\n"
        ));
    }

    #[test]
    fn tag_colors_from_datacenter_cfg() {
        let text = "#cluster notes\nkeyboard: en-us\ntag-style: case-sensitive=1,color-map=prod:FF0000:FFFFFF;lab:00aa00;bad:zz0000;web:0000ff:nothex,ordering=config,shape=full\nemail_from: pve@example.invalid\n";
        let c = parse_tag_colors(text);
        assert_eq!(c.keys().collect::<Vec<_>>(), ["lab", "prod", "web"]);
        assert_eq!((c["prod"].bg.as_str(), c["prod"].fg.as_deref()), ("ff0000", Some("ffffff")));
        assert_eq!(c["lab"].fg, None);
        assert_eq!(c["web"].fg, None, "an invalid text colour is left out");
        assert!(parse_tag_colors("keyboard: de\n").is_empty());
    }
}
