//! `zpool list` with or without `-H`, `-p` and `-v`: capacity, fragmentation, dedup ratio and health
//! per pool, and with `-v` the same per vdev, under their allocation class. Both column layouts seen
//! in the recorded outputs are read (with `CKPOINT`, OpenZFS >= 0.8, and without); see
//! `tests/fixtures/upstream/zpool/README` for the sources.

use super::numbers::parse_size;
use super::status::indent_columns;
use super::{ListVdev, PoolSummary, VdevClass, VdevState};
use crate::host::ToolError;

/// Column names of `zpool list` in the two layouts seen: with `CKPOINT` (OpenZFS >= 0.8, 11 columns)
/// and without (older releases and the man pages' examples, 10 columns).
const LIST_COLS_11: [&str; 11] =
    ["NAME", "SIZE", "ALLOC", "FREE", "CKPOINT", "EXPANDSZ", "FRAG", "CAP", "DEDUP", "HEALTH", "ALTROOT"];
const LIST_COLS_10: [&str; 10] =
    ["NAME", "SIZE", "ALLOC", "FREE", "EXPANDSZ", "FRAG", "CAP", "DEDUP", "HEALTH", "ALTROOT"];

/// Parses `zpool list` with or without `-H`, `-p` and `-v`. With a header line the columns come from it;
/// without (`-H`) they are inferred from the pool row's field count.
pub fn parse_list(text: &str) -> Result<Vec<PoolSummary>, ToolError> {
    const WHAT: &str = "zpool list";
    let mut header: Option<Vec<String>> = None;
    let mut pools: Vec<PoolSummary> = Vec::new();
    let mut class: Option<VdevClass> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields = list_fields(line);
        let Some(first) = fields.first().copied() else { continue };
        if first == "NAME" && header.is_none() && pools.is_empty() {
            header = Some(fields.iter().map(|f| f.to_string()).collect());
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        // `-v` prints the allocation classes as pseudo-rows (`logs`, `cache`, ...) with `-` columns
        // (netdata's zpool-list-vdev-logs-cache.txt); PVE's own fixture spells them `log`/`cache`.
        if let (false, Some(c)) = (indented, VdevClass::from_section(first)) {
            if pools.is_empty() {
                return Err(ToolError::parse(WHAT, n, line, "a vdev group before any pool"));
            }
            class = Some(c);
            continue;
        }
        let cols: Vec<&str> = match &header {
            Some(h) => h.iter().map(String::as_str).collect(),
            None if indented => {
                // Vdev rows follow the pool row's layout; guess from the pool's checkpoint column.
                match pools.last() {
                    Some(p) if p.checkpoint.is_some() || fields.len() >= 10 => LIST_COLS_11.to_vec(),
                    _ => LIST_COLS_10.to_vec(),
                }
            }
            None => match fields.len() {
                11 => LIST_COLS_11.to_vec(),
                10 => LIST_COLS_10.to_vec(),
                k => {
                    return Err(ToolError::parse(
                        WHAT,
                        n,
                        line,
                        format!("expected 10 or 11 columns without a header, found {k}"),
                    ));
                }
            },
        };
        let get = |name: &str| -> Option<&str> {
            cols.iter().position(|c| *c == name).and_then(|ix| fields.get(ix).copied())
        };
        let size = |name: &str| -> Result<Option<u64>, ToolError> {
            match get(name) {
                None | Some("-") => Ok(None),
                Some(v) => parse_size(v)
                    .map(Some)
                    .ok_or_else(|| ToolError::parse(WHAT, n, line, format!("{name} `{v}` is not a size"))),
            }
        };
        let pct = |name: &str| -> Result<Option<u32>, ToolError> {
            match get(name) {
                None | Some("-") => Ok(None),
                Some(v) => v.trim_end_matches('%').parse().map(Some).map_err(|_| {
                    ToolError::parse(WHAT, n, line, format!("{name} `{v}` is not a percentage"))
                }),
            }
        };
        if indented {
            let Some(pool) = pools.last_mut() else {
                return Err(ToolError::parse(WHAT, n, line, "a vdev row before any pool"));
            };
            pool.vdevs.push(ListVdev {
                name: first.to_string(),
                depth: list_depth(line),
                class,
                size: size("SIZE")?,
                alloc: size("ALLOC")?,
                free: size("FREE")?,
                expandsz: size("EXPANDSZ")?,
                frag_percent: pct("FRAG")?,
                cap_percent: pct("CAP")?,
                health: get("HEALTH").filter(|h| *h != "-").map(VdevState::parse),
            });
            continue;
        }
        class = None;
        let dedup_ratio = match get("DEDUP") {
            None | Some("-") => None,
            Some(v) => Some(
                v.trim_end_matches('x')
                    .parse::<f64>()
                    .map_err(|_| ToolError::parse(WHAT, n, line, format!("DEDUP `{v}` is not a ratio")))?,
            ),
        };
        let Some(health) = get("HEALTH") else {
            return Err(ToolError::parse(WHAT, n, line, "no HEALTH column"));
        };
        pools.push(PoolSummary {
            name: first.to_string(),
            size: size("SIZE")?,
            alloc: size("ALLOC")?,
            free: size("FREE")?,
            checkpoint: size("CKPOINT")?,
            expandsz: size("EXPANDSZ")?,
            frag_percent: pct("FRAG")?,
            cap_percent: pct("CAP")?,
            dedup_ratio,
            health: VdevState::parse(health),
            altroot: get("ALTROOT").filter(|a| *a != "-").map(str::to_string),
            vdevs: Vec::new(),
        });
    }
    Ok(pools)
}

/// `-H` separates fields by one TAB (and a vdev row starts with one); otherwise columns are padded
/// with spaces. PVE's `zpool list -HPLv` fixture mixes both on its group rows, so whitespace is the
/// safe separator either way (no column value contains blanks).
fn list_fields(line: &str) -> Vec<&str> {
    line.split_ascii_whitespace().collect()
}

/// Depth of a `-v` vdev row: 2 spaces per level without `-H`; with `-H` a TAB for the first level
/// (PVE's fixture) and, below it, 2 more spaces per level.
fn list_depth(line: &str) -> usize {
    let cols = indent_columns(line);
    if line.starts_with('\t') { 1 + cols.saturating_sub(8) / 2 } else { (cols / 2).max(1) }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use super::*;

    #[test]
    fn list_layouts() {
        let pools = parse_list(&fixture("openzfs_man_zpool-list_-v_expandsz.txt")).unwrap();
        assert_eq!(pools.len(), 1);
        let data = &pools[0];
        assert_eq!(
            (data.expandsz, data.checkpoint, data.frag_percent, data.cap_percent),
            (None, None, Some(48), Some(61))
        );
        assert_eq!(
            data.vdevs.iter().map(|v| (v.name.as_str(), v.depth)).collect::<Vec<_>>(),
            [("raidz1", 1), ("sda", 2), ("sdb", 2), ("sdc", 2)]
        );
        assert_eq!(data.vdevs[2].expandsz, Some(10 << 30));
        assert_eq!(data.vdevs[0].frag_percent, Some(48));

        let pools = parse_list(&fixture("netdata_zpool-list-vp_mirror_nvme.txt")).unwrap();
        assert_eq!(pools[0].vdevs.len(), 3);
        assert_eq!(pools[0].alloc, Some(1_647_130_456_064));

        let demo = parse_list(include_str!("../../../scenarios/demo/commands/zpool/list-Hp.txt")).unwrap();
        assert_eq!(demo.len(), 2);
        let tank = &demo[1];
        assert_eq!(tank.name, "tank");
        assert_eq!(
            (tank.size, tank.alloc, tank.free),
            (Some(47_991_124_459_520), Some(21_302_963_789_824), Some(26_688_160_669_696))
        );
        assert_eq!(
            (tank.checkpoint, tank.expandsz, tank.frag_percent, tank.cap_percent, tank.dedup_ratio),
            (None, None, Some(4), Some(44), Some(1.0))
        );
        assert_eq!((tank.health.clone(), tank.altroot.clone()), (VdevState::Degraded, None));
        assert!(tank.vdevs.is_empty());
    }
}
