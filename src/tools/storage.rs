//! Block storage below Proxmox VE's storages: LVM volume groups and logical volumes (`lvs`/`vgs` with
//! lvm2's `--reportformat json`, sizes in bytes via `--units b --nosuffix`) and the block device tree
//! (`lsblk -J -b`). LVM-thin pools are found by their `lv_attr` (first letter `t`, lvs(8)); physical
//! disks are classified NVMe / USB / SSD / HDD from the lsblk columns. Parsers are pure and accept the
//! value shapes of several tool versions: lvm2's `json` format prints every value as a string,
//! `json_std` (lvm2 >= 2.03.17) numbers as numbers; lsblk before util-linux 2.33 prints strings for
//! `SIZE`/`ROTA`, later versions numbers and booleans.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::host::{Host, ToolError};

pub use crate::model::storage::{
    BlockDevice, DiskKind, LINK_DIRS, LogicalVolume, LvKind, Placement, VolumeGroup, children_of,
    physical_disks, resolve, thin_pools,
};

/// `lvs`: one row per logical volume, thin pools with their data/metadata usage.
pub const LVS_ARGV: &[&str] = &[
    "lvs",
    "--reportformat",
    "json",
    "--units",
    "b",
    "--nosuffix",
    "-o",
    "lv_name,vg_name,lv_attr,lv_size,data_percent,metadata_percent,pool_lv,lv_metadata_size",
];

/// `vgs`: one row per volume group.
pub const VGS_ARGV: &[&str] = &[
    "vgs",
    "--reportformat",
    "json",
    "--units",
    "b",
    "--nosuffix",
    "-o",
    "vg_name,vg_size,vg_free,pv_count,lv_count",
];

/// `lsblk`, exactly as recorded in scenarios/demo/manifest.toml.
pub const LSBLK_ARGV: &[&str] =
    &["lsblk", "-J", "-b", "-o", "NAME,KNAME,PATH,TYPE,SIZE,ROTA,MODEL,SERIAL,TRAN,FSTYPE,MOUNTPOINT,PKNAME"];

pub async fn lvs(host: &Host) -> Result<Vec<LogicalVolume>, ToolError> {
    parse_lvs(&host.run_ok(LVS_ARGV).await?)
}

pub async fn vgs(host: &Host) -> Result<Vec<VolumeGroup>, ToolError> {
    parse_vgs(&host.run_ok(VGS_ARGV).await?)
}

pub async fn lsblk(host: &Host) -> Result<Vec<BlockDevice>, ToolError> {
    parse_lsblk(&host.run_ok(LSBLK_ARGV).await?)
}

// ---------------------------------------------------------------------------------------------------
// shared value helpers
// ---------------------------------------------------------------------------------------------------

/// The 1-based line of `text` holding `needle` (lvm2 prints one report row per line), for errors.
fn line_of<'a>(text: &'a str, needle: &str) -> (usize, &'a str) {
    text.lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .map(|(i, l)| (i + 1, l))
        .unwrap_or((1, text.lines().next().unwrap_or("")))
}

fn json_error(what: &str, text: &str, e: &serde_json::Error) -> ToolError {
    let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    ToolError::parse(what, e.line().max(1), line, e.to_string())
}

/// A string value; empty strings and nulls are absent.
fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field that must be a number when present. `Err` carries the offending value.
fn number_of<T: std::str::FromStr>(v: Option<&Value>) -> Result<Option<T>, String> {
    let Some(s) = text_of(v) else { return Ok(None) };
    // `--nosuffix` drops the unit; without it lvm2 appends `B` to byte sizes.
    let bare = s.strip_suffix('B').unwrap_or(&s);
    bare.parse().map(Some).map_err(|_| s)
}

// ---------------------------------------------------------------------------------------------------
// LVM
// ---------------------------------------------------------------------------------------------------

/// `{"report":[{"lv":[{...}]}, ...], "log":[...]}`: lvm2 prints one report object per command, the
/// rows under the report type's key (`lv`, `vg`).
#[derive(Deserialize)]
struct LvmReport {
    #[serde(default)]
    report: Vec<Map<String, Value>>,
}

fn lvm_rows(what: &str, key: &str, text: &str) -> Result<Vec<Map<String, Value>>, ToolError> {
    let doc: LvmReport = serde_json::from_str(text).map_err(|e| json_error(what, text, &e))?;
    let mut rows = Vec::new();
    for r in doc.report {
        match r.get(key) {
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::Object(m) => rows.push(m.clone()),
                        other => {
                            let (n, line) = line_of(text, &other.to_string());
                            return Err(ToolError::parse(
                                what,
                                n,
                                line,
                                format!("a `{key}` row is not an object"),
                            ));
                        }
                    }
                }
            }
            None => {}
            Some(_) => {
                let (n, line) = line_of(text, &format!("\"{key}\""));
                return Err(ToolError::parse(what, n, line, format!("`{key}` is not a list")));
            }
        }
    }
    Ok(rows)
}

pub fn parse_lvs(text: &str) -> Result<Vec<LogicalVolume>, ToolError> {
    const WHAT: &str = "lvs";
    let mut out = Vec::new();
    for row in lvm_rows(WHAT, "lv", text)? {
        let name = text_of(row.get("lv_name")).unwrap_or_default();
        let bad = |field: &str, value: String| {
            let (n, line) = line_of(text, &format!("\"{name}\""));
            ToolError::parse(WHAT, n, line, format!("{field} `{value}` is not a number"))
        };
        let num_u64 = |f: &str| number_of::<u64>(row.get(f)).map_err(|v| bad(f, v));
        let num_f64 = |f: &str| number_of::<f64>(row.get(f)).map_err(|v| bad(f, v));
        if name.is_empty() {
            let (n, line) = line_of(text, "\"lv_");
            return Err(ToolError::parse(WHAT, n, line, "a row without lv_name"));
        }
        let attr = text_of(row.get("lv_attr")).unwrap_or_default();
        let flag = |i: usize| attr.chars().nth(i).filter(|c| *c != '-');
        out.push(LogicalVolume {
            vg: text_of(row.get("vg_name")).unwrap_or_default(),
            kind: LvKind::from_attr(&attr),
            active: attr.chars().nth(4) == Some('a'),
            health_flag: flag(8),
            size: num_u64("lv_size")?,
            data_percent: num_f64("data_percent")?,
            metadata_percent: num_f64("metadata_percent")?,
            pool_lv: text_of(row.get("pool_lv")),
            metadata_size: num_u64("lv_metadata_size")?,
            attr,
            name,
        });
    }
    Ok(out)
}

pub fn parse_vgs(text: &str) -> Result<Vec<VolumeGroup>, ToolError> {
    const WHAT: &str = "vgs";
    let mut out = Vec::new();
    for row in lvm_rows(WHAT, "vg", text)? {
        let Some(name) = text_of(row.get("vg_name")) else {
            let (n, line) = line_of(text, "\"vg_");
            return Err(ToolError::parse(WHAT, n, line, "a row without vg_name"));
        };
        let bad = |field: &str, value: String| {
            let (n, line) = line_of(text, &format!("\"{name}\""));
            ToolError::parse(WHAT, n, line, format!("{field} `{value}` is not a number"))
        };
        out.push(VolumeGroup {
            size: number_of(row.get("vg_size")).map_err(|v| bad("vg_size", v))?,
            free: number_of(row.get("vg_free")).map_err(|v| bad("vg_free", v))?,
            pv_count: number_of(row.get("pv_count")).map_err(|v| bad("pv_count", v))?,
            lv_count: number_of(row.get("lv_count")).map_err(|v| bad("lv_count", v))?,
            name,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// lsblk
// ---------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct LsblkDoc {
    #[serde(default)]
    blockdevices: Vec<Map<String, Value>>,
}

/// ROTA: `true`/`false` (util-linux >= 2.33), `"1"`/`"0"` (older), or a number.
fn bool_of(v: Option<&Value>) -> Result<Option<bool>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) => Ok(Some(n.as_u64() != Some(0))),
        Some(Value::String(s)) => match s.trim() {
            "1" | "true" => Ok(Some(true)),
            "0" | "false" => Ok(Some(false)),
            "" => Ok(None),
            other => Err(other.to_string()),
        },
        Some(other) => Err(other.to_string()),
    }
}

/// Parses `lsblk -J -b -o ...` into a flat list in tree order. A device listed under several parents
/// (an LV spanning PVs, an md member) appears once.
pub fn parse_lsblk(text: &str) -> Result<Vec<BlockDevice>, ToolError> {
    const WHAT: &str = "lsblk";
    let doc: LsblkDoc = serde_json::from_str(text).map_err(|e| json_error(WHAT, text, &e))?;
    let mut out: Vec<BlockDevice> = Vec::new();
    let mut todo: Vec<(Map<String, Value>, Option<String>)> =
        doc.blockdevices.into_iter().rev().map(|d| (d, None)).collect();
    while let Some((mut m, tree_parent)) = todo.pop() {
        let name = text_of(m.get("name")).unwrap_or_default();
        let bad = |field: &str, value: String| {
            let (n, line) = line_of(text, &format!("\"{name}\""));
            ToolError::parse(WHAT, n, line, format!("{name}: {field} `{value}` is not valid"))
        };
        if name.is_empty() {
            let (n, line) = line_of(text, "\"name\"");
            return Err(ToolError::parse(WHAT, n, line, "a device without a name"));
        }
        let kname = text_of(m.get("kname")).unwrap_or_else(|| name.clone());
        if let Some(Value::Array(children)) = m.remove("children") {
            for c in children.into_iter().rev() {
                match c {
                    Value::Object(c) => todo.push((c, Some(kname.clone()))),
                    other => return Err(bad("children", other.to_string())),
                }
            }
        }
        if out.iter().any(|d| d.kname == kname) {
            continue;
        }
        let mut dev = BlockDevice {
            path: text_of(m.get("path")),
            dev_type: text_of(m.get("type")).unwrap_or_default(),
            size: number_of(m.get("size")).map_err(|v| bad("size", v))?,
            rotational: bool_of(m.get("rota")).map_err(|v| bad("rota", v))?,
            model: text_of(m.get("model")),
            serial: text_of(m.get("serial")),
            transport: text_of(m.get("tran")),
            fstype: text_of(m.get("fstype")),
            mountpoint: text_of(m.get("mountpoint")),
            // PKNAME when the version prints it, else the node the row was nested in.
            parent: text_of(m.get("pkname")).or(tree_parent),
            disk_kind: None,
            name,
            kname,
        };
        dev.disk_kind = dev.disk_kind();
        out.push(dev);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lvm2 2.03 `lvs --reportformat json --units b --nosuffix -o ...` on a stock PVE install: the
    /// `data` thin pool, root/swap, a thin guest disk, and a row whose percentages are empty.
    const LVS: &str = r#"  {
      "report": [
          {
              "lv": [
                  {"lv_name":"data", "vg_name":"pve", "lv_attr":"twi-aotz--", "lv_size":"1846103883776", "data_percent":"12.34", "metadata_percent":"1.23", "pool_lv":"", "lv_metadata_size":"18874368000"},
                  {"lv_name":"root", "vg_name":"pve", "lv_attr":"-wi-ao----", "lv_size":"103079215104", "data_percent":"", "metadata_percent":"", "pool_lv":"", "lv_metadata_size":""},
                  {"lv_name":"swap", "vg_name":"pve", "lv_attr":"-wi-ao----", "lv_size":"8589934592", "data_percent":"", "metadata_percent":"", "pool_lv":"", "lv_metadata_size":""},
                  {"lv_name":"vm-100-disk-0", "vg_name":"pve", "lv_attr":"Vwi-aotz--", "lv_size":"34359738368", "data_percent":"45.67", "metadata_percent":"", "pool_lv":"data", "lv_metadata_size":""},
                  {"lv_name":"vm-101-disk-0", "vg_name":"pve", "lv_attr":"Vwi---tz--", "lv_size":"34359738368", "data_percent":"", "metadata_percent":"", "pool_lv":"data", "lv_metadata_size":""}
              ]
          }
      ]
      ,
      "log": [
      ]
  }
"#;

    const VGS: &str = r#"  {
      "report": [
          {
              "vg": [
                  {"vg_name":"pve", "vg_size":"1998443249664", "vg_free":"16903045120", "pv_count":"1", "lv_count":"5"}
              ]
          }
      ]
  }
"#;

    #[test]
    fn lvs_finds_thin_pools_and_missing_percentages() {
        let lvs = parse_lvs(LVS).unwrap();
        assert_eq!(lvs.len(), 5);
        let pools = thin_pools(&lvs);
        assert_eq!(pools.len(), 1);
        let data = pools[0];
        assert_eq!((data.name.as_str(), data.vg.as_str(), data.kind), ("data", "pve", LvKind::ThinPool));
        assert_eq!((data.data_percent, data.metadata_percent), (Some(12.34), Some(1.23)));
        assert_eq!(
            (data.size, data.metadata_size, data.pool_lv.clone()),
            (Some(1_846_103_883_776), Some(18_874_368_000), None)
        );
        assert_eq!(data.data_used(), Some((1_846_103_883_776f64 * 0.1234).round() as u64));
        assert!(data.active);
        assert_eq!(data.health_flag, None);
        let root = &lvs[1];
        assert_eq!((root.kind, root.data_percent, root.metadata_size), (LvKind::Plain, None, None));
        let thin = &lvs[3];
        assert_eq!(
            (thin.kind, thin.pool_lv.as_deref(), thin.data_percent),
            (LvKind::Thin, Some("data"), Some(45.67))
        );
        let inactive = &lvs[4];
        assert_eq!((inactive.active, inactive.data_percent), (false, None));

        // lvm2's `json_std` format prints numbers as numbers; without --nosuffix sizes end in `B`.
        let std = r#"{"report":[{"lv":[{"lv_name":"data","vg_name":"pve","lv_attr":"twi-aotzD-","lv_size":"1000B","data_percent":100.00,"metadata_percent":null,"pool_lv":"","lv_metadata_size":4096}]}]}"#;
        let lv = &parse_lvs(std).unwrap()[0];
        assert_eq!(
            (lv.size, lv.data_percent, lv.metadata_percent, lv.metadata_size),
            (Some(1000), Some(100.0), None, Some(4096))
        );
        assert_eq!(lv.health_flag, Some('D'), "thin pool out of data space");
        assert_eq!(parse_lvs(r#"{"report":[{"lv":[]}]}"#).unwrap(), []);
    }

    #[test]
    fn vgs_parse() {
        let vgs = parse_vgs(VGS).unwrap();
        assert_eq!(
            vgs,
            [VolumeGroup {
                name: "pve".into(),
                size: Some(1_998_443_249_664),
                free: Some(16_903_045_120),
                pv_count: Some(1),
                lv_count: Some(5),
            }]
        );
    }

    #[test]
    fn lvm_errors_name_the_line() {
        let bad = LVS.replace(r#""lv_size":"103079215104""#, r#""lv_size":"lots""#);
        let err = parse_lvs(&bad).unwrap_err();
        let ToolError::Parse { line, text, message, .. } = &err else { panic!("{err}") };
        assert_eq!(*line, 6);
        assert!(text.contains("\"root\"") && message.contains("lv_size"), "{err}");
        let err = parse_vgs("  {\n  \"report\": [ oops\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse_vgs(r#"{"report":[{"vg":{"vg_name":"x"}}]}"#).unwrap_err();
        assert!(matches!(err, ToolError::Parse { .. }), "{err}");
    }

    #[tokio::test]
    async fn demo_scenario_through_the_host() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let host =
            Host::replay(crate::host::Scenario::load(&dir).unwrap(), std::time::Duration::from_secs(5));
        assert_eq!(physical_disks(&lsblk(&host).await.unwrap()).len(), 8);
    }

    #[test]
    fn lsblk_demo_scenario() {
        let devs = parse_lsblk(include_str!("../../scenarios/demo/commands/lsblk.json")).unwrap();
        let disks: Vec<(&str, DiskKind)> =
            physical_disks(&devs).iter().map(|d| (d.name.as_str(), d.disk_kind.unwrap())).collect();
        assert_eq!(
            disks,
            [
                ("sda", DiskKind::Ssd),
                ("sdb", DiskKind::Ssd),
                ("sdc", DiskKind::Hdd),
                ("sdd", DiskKind::Hdd),
                ("sde", DiskKind::Hdd),
                ("sdf", DiskKind::Ssd),
                ("sdg", DiskKind::Hdd),
                ("nvme0n1", DiskKind::Nvme)
            ]
        );
        let zd0 = devs.iter().find(|d| d.name == "zd0").unwrap();
        assert_eq!((zd0.dev_type.as_str(), zd0.disk_kind), ("disk", None), "zvols are not physical disks");
        let sda = &devs[0];
        assert_eq!(sda.model.as_deref(), Some("SAMSUNG MZ7LH1T9HMLT-00005"));
        assert_eq!(
            (sda.serial.as_deref(), sda.transport.as_deref(), sda.size),
            (Some("S455NE0R600123"), Some("sata"), Some(1_920_383_410_176))
        );
        assert_eq!((sda.parent.clone(), sda.fstype.clone(), sda.mountpoint.clone()), (None, None, None));
        let parts: Vec<&str> = children_of(&devs, "sda").iter().map(|d| d.name.as_str()).collect();
        assert_eq!(parts, ["sda1", "sda2", "sda3"]);
        let sda3 = devs.iter().find(|d| d.name == "sda3").unwrap();
        assert_eq!(
            (sda3.fstype.as_deref(), sda3.path.as_deref(), sda3.disk_kind),
            (Some("zfs_member"), Some("/dev/sda3"), None)
        );
        assert_eq!(devs[1].name, "sda1", "flattened in tree order");
        assert_eq!(devs.iter().filter(|d| d.dev_type == "part").count(), 23);
        let sdf1 = devs.iter().find(|d| d.name == "sdf1").unwrap();
        assert_eq!(sdf1.fstype.as_deref(), Some("LVM2_member"), "VG pve behind local-lvm");
        let sdg1 = devs.iter().find(|d| d.name == "sdg1").unwrap();
        assert_eq!(sdg1.mountpoint.as_deref(), Some("/mnt/archive"));
    }

    #[test]
    fn lsblk_old_string_values_and_nesting_without_pkname() {
        // util-linux < 2.33: every value a string, no PKNAME column asked for.
        let text = r#"{"blockdevices": [
            {"name": "sdf", "kname": "sdf", "type": "disk", "size": "500107862016", "rota": "0", "model": "Extreme SSD     ", "tran": "usb",
             "children": [
                {"name": "sdf1", "kname": "sdf1", "type": "part", "size": "500106813440", "rota": "0",
                 "children": [{"name": "vg-lv", "kname": "dm-0", "type": "lvm", "size": "1073741824", "rota": "0"}]}
             ]},
            {"name": "sdg", "kname": "sdg", "type": "disk", "size": "4000787030016", "rota": "1", "tran": "sas"},
            {"name": "sr0", "kname": "sr0", "type": "rom", "size": "1073741312", "rota": "1"}
        ]}"#;
        let devs = parse_lsblk(text).unwrap();
        assert_eq!(devs.len(), 5);
        assert_eq!(
            (devs[0].disk_kind, devs[0].model.as_deref(), devs[0].size),
            (Some(DiskKind::Usb), Some("Extreme SSD"), Some(500_107_862_016))
        );
        assert_eq!(devs[2].parent.as_deref(), Some("sdf1"));
        assert_eq!(devs[2].kname, "dm-0");
        assert_eq!((devs[3].disk_kind, devs[4].disk_kind), (Some(DiskKind::Hdd), None));

        let err = parse_lsblk(
            "{\"blockdevices\": [\n {\"name\": \"sda\", \"type\": \"disk\", \"rota\": \"maybe\"}\n]}",
        )
        .unwrap_err();
        let ToolError::Parse { line, message, .. } = &err else { panic!("{err}") };
        assert_eq!(*line, 2);
        assert!(message.contains("rota"), "{err}");
        assert_eq!(parse_lsblk("{\"blockdevices\": []}").unwrap(), []);
    }
}
