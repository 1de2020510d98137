//! OpenZFS pools: `zpool list -H -p` (capacity per pool), `zpool status` (text: health, scan progress and
//! the full vdev tree) and, on OpenZFS >= 2.3, `zpool status -j --json-int` (the same as JSON). The text
//! layout follows `print_status_config()`/`print_scan_status()` in OpenZFS's cmd/zpool/zpool_main.c; the
//! quirks handled here were all seen in the recorded outputs under `tests/fixtures/upstream/zpool/` (their
//! README names each source). Parsers are pure; the readers here are thin wrappers over [`Host`].
//!
//! One sub-module per output, all re-exported here: `list`, `status` (text), `status_json` (`-j`) and
//! `scan` (the `scan:` line both forms carry), over the pool and vdev model in `model::zfs` and the
//! number formats in `numbers`.

mod list;
mod numbers;
mod scan;
mod status;
mod status_json;

use serde::Serialize;

use crate::host::{Host, ToolError};

pub use crate::model::zfs::{
    CivilTime, DataErrors, ErrorCounts, ListVdev, PoolStatus, PoolSummary, Scan, ScanFinished, ScanFunction,
    ScanProgress, ScanTime, Vdev, VdevClass, VdevKind, VdevSection, VdevState,
};
pub use list::parse_list;
pub use numbers::{parse_duration, parse_size};
pub use scan::decode_scan;
pub use status::parse_status;
pub use status_json::parse_status_json;

/// `zpool list -H -p`: tab separated, no header, exact byte counts (DESIGN.md §3.5).
pub const LIST_ARGV: &[&str] = &["zpool", "list", "-H", "-p"];
/// `zpool status`: the text form every OpenZFS version prints.
pub const STATUS_ARGV: &[&str] = &["zpool", "status"];
/// `zpool status -j --json-int` (OpenZFS >= 2.3): numbers and times as JSON integers.
pub const STATUS_JSON_ARGV: &[&str] = &["zpool", "status", "-j", "--json-int"];

/// Which form of `zpool status` this host understands; a caller learns it once from [`status_best`]
/// and passes it back so that an old `zpool` is not asked for JSON every cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFormat {
    Json,
    Text,
}

pub async fn list(host: &Host) -> Result<Vec<PoolSummary>, ToolError> {
    parse_list(&host.run_ok(LIST_ARGV).await?)
}

pub async fn status(host: &Host) -> Result<Vec<PoolStatus>, ToolError> {
    parse_status(&host.run_ok(STATUS_ARGV).await?)
}

pub async fn status_json(host: &Host) -> Result<Vec<PoolStatus>, ToolError> {
    parse_status_json(&host.run_ok(STATUS_JSON_ARGV).await?)
}

/// True when `zpool` rejected `-j`: OpenZFS < 2.3 prints `invalid option 'j'` and the usage on stderr
/// and exits 2 (as recorded in scenarios/demo/manifest.toml).
pub fn json_unsupported(err: &ToolError) -> bool {
    match err {
        ToolError::Failed { stderr, .. } => {
            stderr.contains("invalid option") || stderr.contains("unrecognized option")
        }
        _ => false,
    }
}

/// Runs `zpool status` in the best form this host supports. With `known: None` it tries JSON first and
/// falls back to text when the option is rejected; the returned [`StatusFormat`] tells the caller which
/// one worked, to pass as `known` next time.
pub async fn status_best(
    host: &Host,
    known: Option<StatusFormat>,
) -> Result<(StatusFormat, Vec<PoolStatus>), ToolError> {
    if known != Some(StatusFormat::Text) {
        match status_json(host).await {
            Ok(pools) => return Ok((StatusFormat::Json, pools)),
            Err(e) if json_unsupported(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((StatusFormat::Text, status(host).await?))
}

/// Where OpenZFS (0.8 and later) publishes each imported pool's state (`<pool>/state`: `ONLINE`,
/// `DEGRADED`, `FAULTED`, `SUSPENDED`, …).
pub const KSTAT_DIR: &str = "/proc/spl/kstat/zfs";

/// Each imported pool's state from the kernel's kstat files: a few file reads, where `zpool status`
/// is a process. `None` when the ZFS module is not loaded.
pub fn kstat_states(host: &Host) -> Option<std::collections::BTreeMap<String, String>> {
    let names = host.list_dir(KSTAT_DIR).ok()?;
    Some(
        names
            .into_iter()
            .filter_map(|n| {
                let state = host.read(&format!("{KSTAT_DIR}/{n}/state")).ok()?;
                Some((n, state.trim().to_string()))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/zpool");

    pub(super) fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub(super) fn status_of(name: &str) -> Vec<PoolStatus> {
        parse_status(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub(super) fn one(name: &str) -> PoolStatus {
        let mut pools = status_of(name);
        assert_eq!(pools.len(), 1, "{name}");
        pools.remove(0)
    }

    pub(super) fn leaf<'a>(p: &'a PoolStatus, name: &str) -> &'a Vdev {
        p.find(name).unwrap_or_else(|| panic!("no vdev {name} in {}", p.name))
    }

    pub(super) fn errs(r: u64, w: u64, c: u64) -> Option<ErrorCounts> {
        Some(ErrorCounts { read: r, write: w, checksum: c })
    }

    #[test]
    fn every_fixture_parses() {
        let mut seen = 0;
        let mut dir: Vec<_> = std::fs::read_dir(FIXTURES).unwrap().map(|e| e.unwrap().path()).collect();
        dir.sort();
        for path in dir {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            if name.contains("zpool-status_-j") {
                let pools = parse_status_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!pools.is_empty(), "{name}");
            } else if name.contains("zpool-list") || name.contains("zpool_list") {
                if name.ends_with(".json") {
                    continue; // `zpool list -j` is not read by proxwatch (it uses -H -p).
                }
                let pools = parse_list(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!pools.is_empty(), "{name}");
            } else if name.ends_with(".txt") {
                let pools = parse_status(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!pools.is_empty(), "{name}");
                for p in &pools {
                    assert!(p.root.is_some(), "{name}: {} has no vdev tree", p.name);
                    assert!(!p.vdevs().is_empty(), "{name}");
                }
            } else {
                continue;
            }
            seen += 1;
        }
        assert!(seen >= 27, "only {seen} fixtures parsed");
    }

    #[tokio::test]
    async fn demo_scenario_through_the_host_falls_back_to_text() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let host =
            Host::replay(crate::host::Scenario::load(&dir).unwrap(), std::time::Duration::from_secs(5));
        let (format, pools) = status_best(&host, None).await.unwrap();
        assert_eq!((format, pools.len()), (StatusFormat::Text, 2), "the demo's zpool rejects -j");
        let (format, _) = status_best(&host, Some(StatusFormat::Text)).await.unwrap();
        assert_eq!(format, StatusFormat::Text);
        assert_eq!(list(&host).await.unwrap().len(), 2);
    }

    #[test]
    fn json_unsupported_is_recognised() {
        let stderr = "invalid option 'j'\nusage:\n\tstatus [--power] ...".to_string();
        assert!(json_unsupported(&ToolError::Failed { tool: "zpool".into(), code: Some(2), stderr }));
        assert!(!json_unsupported(&ToolError::Missing { what: "zpool".into() }));
    }

    #[test]
    fn spares_logs_cache_and_draid() {
        let p = one("ozdocs_draid_online_spare_avail.txt");
        assert_eq!(p.errors, None);
        let draid = &p.root.as_ref().unwrap().children[0];
        assert!(matches!(draid.kind, VdevKind::Draid { parity: 1, .. }));
        assert_eq!(draid.children.len(), 11);
        let spares = p.section(VdevClass::Spares).unwrap();
        assert_eq!(
            (spares.vdevs[0].name.as_str(), spares.vdevs[0].state.clone()),
            ("draid1-0-0", Some(VdevState::Avail))
        );
        assert_eq!(spares.vdevs[0].kind, VdevKind::DraidSpare);

        let p = one("ozdocs_draid_sequential_resilver_spare_inuse.txt");
        let spares = p.section(VdevClass::Spares).unwrap();
        assert_eq!(spares.vdevs[0].state, Some(VdevState::Inuse));
        assert_eq!(spares.vdevs[0].note.as_deref(), Some("currently in use"));

        // The demo: a `cache` header with no columns, its device below it.
        let demo = parse_status(include_str!("../../../scenarios/demo/commands/zpool/status.txt")).unwrap();
        assert_eq!(demo.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["rpool", "tank"]);
        let tank = &demo[1];
        let cache = tank.section(VdevClass::Cache).unwrap();
        assert_eq!(cache.state, None);
        assert_eq!(cache.vdevs[0].name, "nvme-Samsung_SSD_970_EVO_Plus_250GB_S4EUNG0M705311");
        let raidz = &tank.root.as_ref().unwrap().children;
        assert_eq!(raidz.len(), 1, "the cache device is not a top-level vdev");
        assert_eq!(raidz[0].kind, VdevKind::Raidz { parity: 1 });
        // The demo's DEGRADED raidz: sde FAULTED by ZED after too many errors.
        assert_eq!(tank.state, VdevState::Degraded);
        assert_eq!(raidz[0].state, Some(VdevState::Degraded));
        let sde = &raidz[0].children[2];
        assert_eq!((sde.state.clone(), sde.errors), (Some(VdevState::Faulted), errs(12, 0, 87)));
        assert_eq!(sde.note.as_deref(), Some("too many errors"));
        assert_eq!(tank.see.as_deref(), Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-FD"));
        assert!(tank.action.as_deref().unwrap().contains("Replace the faulted device"));
        assert_eq!(demo[0].root.as_ref().unwrap().leaves().len(), 2);

        // Logs and cache in `zpool list -v -p`.
        let pools = parse_list(&fixture("netdata_zpool-list-vp_degraded_logs_cache_unavail.txt")).unwrap();
        assert_eq!(pools.len(), 1);
        let p = &pools[0];
        assert_eq!(
            (p.health.clone(), p.checkpoint, p.size),
            (VdevState::Degraded, None, Some(9_981_503_995_904))
        );
        let unavail: Vec<_> = p.vdevs.iter().filter(|v| v.health == Some(VdevState::Unavail)).collect();
        assert_eq!(
            unavail.iter().map(|v| (v.name.as_str(), v.class)).collect::<Vec<_>>(),
            [
                ("14807975228228307538", Some(VdevClass::Logs)),
                ("wwn-0x500151795954c095-part2", Some(VdevClass::Cache))
            ]
        );
        let sdb2 = p.vdevs.iter().find(|v| v.name == "sdb2").unwrap();
        assert_eq!((sdb2.depth, sdb2.cap_percent, sdb2.alloc), (1, Some(99), Some(98_755_866_624)));
        assert_eq!(p.vdevs.iter().find(|v| v.name == "sdc2").unwrap().depth, 2);

        let pools = parse_list(&fixture("pve-storage_zpool_list_HPLv_log_cache.txt")).unwrap();
        let p = &pools[0];
        assert_eq!((p.name.as_str(), p.frag_percent, p.cap_percent), ("testpool", Some(5), Some(28)));
        assert_eq!(
            p.vdevs.iter().map(|v| (v.name.as_str(), v.class, v.depth)).collect::<Vec<_>>(),
            [
                ("/dev/sdc", None, 1),
                ("/dev/sdd1", Some(VdevClass::Logs), 1),
                ("/dev/sdd2", Some(VdevClass::Cache), 1)
            ]
        );
    }
}
