//! The health rules, scenario → expected findings: snapshots built directly from the parsed shared
//! fixtures (`tests/fixtures/upstream/`), from `tests/fixtures/health/`, from the facts collector over the
//! `health-facts` scenario, and from the inventory poller over the demo. Controls that must stay OK
//! are asserted as carefully as the failures.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use proxwatch::app::LiveSample;
use proxwatch::health::facts::logscan::LogScanner;
use proxwatch::health::facts::{Facts, FactsCollector};
use proxwatch::health::model::{Finding, Severity, Snapshots, Source, Thresholds};
use proxwatch::health::rules::RULES;
use proxwatch::model::{CpuShare, Sample};
use proxwatch::tools::{smartctl, zpool};
use proxwatch::workers::inventory::{Intervals, Inventory, InventoryPoller, Section, SectionState};

use crate::common;

fn shared(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn local(rel: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/health").join(rel))
        .unwrap()
}

fn ok<T>(data: T) -> Section<T> {
    Section { state: SectionState::Ok, reason: None, updated: Some(0), data: Some(data), source: None }
}

/// Runs every rule, keyed by finding key.
fn evaluate(s: &Snapshots, t: &Thresholds, now: i64) -> BTreeMap<String, Finding> {
    let mut out = BTreeMap::new();
    for r in RULES {
        for f in (r.run)(s, t, now) {
            assert_eq!(f.category, r.category, "{} reported {} in another category", r.id, f.key);
            assert!(r.checks.iter().any(|(c, _)| *c == f.check), "{}: check {} not declared", r.id, f.check);
            assert!(!f.reason.is_empty(), "{}: empty reason", f.key);
            assert!(out.insert(f.key.clone(), f).is_none(), "duplicate key");
        }
    }
    out
}

fn sev(found: &BTreeMap<String, Finding>, key: &str) -> Severity {
    found
        .get(key)
        .unwrap_or_else(|| panic!("no finding {key}; have {:?}", found.keys().collect::<Vec<_>>()))
        .severity
}

/// Asserts a table of `(key, severity)`.
fn expect(found: &BTreeMap<String, Finding>, table: &[(&str, Severity)]) {
    for (key, want) in table {
        let f = found
            .get(*key)
            .unwrap_or_else(|| panic!("no finding {key}; have {:?}", found.keys().collect::<Vec<_>>()));
        assert_eq!(f.severity, *want, "{key}: {}", f.reason);
    }
}

fn smart_inventory(disks: &[(&str, &str, i32)]) -> Inventory {
    let mut inv = Inventory { node: "pve1".into(), ..Default::default() };
    inv.smart_devices = ok(Vec::new());
    for (dev, file, code) in disks {
        let reading = smartctl::parse_info(&shared(&format!("smartctl/{file}")), *code).unwrap();
        inv.smart.insert(dev.to_string(), ok(reading));
    }
    inv
}

const NOW: i64 = 1_732_250_600_000; // 2024-11-22T04:43:20Z, just after the journal fixture

#[test]
fn smart_failures_alert_and_healthy_disks_with_large_raw_values_stay_ok() {
    let inv = smart_inventory(&[
        ("/dev/sda", "scrutiny_usb_hdd_hitachi_FAILED_realloc.json", 0),
        ("/dev/sdb", "sce_sata_hdd_seagate_st3500418as_realloc_304.json", 0),
        ("/dev/sdc", "sce_sata_hdd_seagate_st3500418as_realloc_1.json", 0),
        // Controls: Seagate's Raw_Read_Error_Rate / Seek_Error_Rate raw values are in the billions.
        ("/dev/sdd", "sce_sata_hdd_seagate_exos_x16_pass.json", 0),
        ("/dev/sde", "sce_sata_ssd_samsung_pm883_pass.json", 0),
        ("/dev/sdf", "scrutiny_sata_hdd_wdc_wd140edfz_pass.json", 0),
        ("/dev/nvme0", "sce_nvme_samsung_pm1725_CRITICAL_WARNING_16_exit8.json", 8),
        ("/dev/nvme1", "sce_nvme_samsung_970evoplus_pass.json", 0),
        ("/dev/nvme2", "sce_nvme_intel_p4510_wear_75pct.json", 0),
    ]);
    let s = Snapshots { inventory: Arc::new(inv), ..Default::default() };
    let found = evaluate(&s, &Thresholds::default(), NOW);
    expect(
        &found,
        &[
            ("smart:/dev/sda", Severity::Critical),
            ("smart:/dev/sdb", Severity::Critical),
            ("smart:/dev/sdc", Severity::Warning),
            ("smart:/dev/sdd", Severity::Ok),
            ("smart:/dev/sde", Severity::Ok),
            ("smart:/dev/sdf", Severity::Ok),
            ("nvme_warning:/dev/nvme0", Severity::Critical),
            ("smart:/dev/nvme1", Severity::Ok),
            ("nvme_warning:/dev/nvme1", Severity::Ok),
            ("disk_wear:/dev/nvme2", Severity::Ok),
            ("disk_temp:/dev/sdd", Severity::Ok),
        ],
    );
    assert!(found["smart:/dev/sda"].reason.contains("FAILED"), "{}", found["smart:/dev/sda"].reason);
    assert!(found["smart:/dev/sdb"].reason.contains("304 reallocated"), "{}", found["smart:/dev/sdb"].reason);
    assert!(found["nvme_warning:/dev/nvme0"].reason.contains("volatile_memory_backup_failed"));
    assert_eq!(
        found["smart:/dev/sdc"].object,
        Some((proxwatch::health::model::ObjectKind::Disk, "/dev/sdc".into()))
    );
}

#[test]
fn sector_growth_raises_a_disk_that_was_ok_and_wear_honours_the_threshold() {
    let inv = smart_inventory(&[("/dev/sdc", "sce_sata_hdd_seagate_st3500418as_realloc_1.json", 0)]);
    let mut s = Snapshots { inventory: Arc::new(inv), ..Default::default() };
    let mut t = Thresholds::default();
    // Raise the reallocated threshold so 1 sector alone is fine...
    t.overrides.insert("disks.reallocated_warning".into(), 5.0);
    let found = evaluate(&s, &t, NOW);
    assert_eq!(sev(&found, "smart:/dev/sdc"), Severity::Ok);
    // ...but a count that grew since the previous evaluation is a disk failing now.
    let mut before = found["smart:/dev/sdc"].clone();
    before.details["reallocated"] = serde_json::json!(0);
    s.previous.insert(before.key.clone(), before);
    let found = evaluate(&s, &t, NOW);
    assert_eq!(sev(&found, "smart:/dev/sdc"), Severity::Warning);
    assert!(
        found["smart:/dev/sdc"].reason.contains("grew from 0 to 1"),
        "{}",
        found["smart:/dev/sdc"].reason
    );

    // Wear: the P4510 at 75 % is fine by default and a warning at a 70 % threshold.
    let inv = smart_inventory(&[("/dev/nvme2", "sce_nvme_intel_p4510_wear_75pct.json", 0)]);
    let s = Snapshots { inventory: Arc::new(inv), ..Default::default() };
    assert_eq!(sev(&evaluate(&s, &Thresholds::default(), NOW), "disk_wear:/dev/nvme2"), Severity::Ok);
    let mut t = Thresholds::default();
    t.overrides.insert("disks.wear_warning_pct".into(), 70.0);
    assert_eq!(sev(&evaluate(&s, &t, NOW), "disk_wear:/dev/nvme2"), Severity::Warning);
}

fn pools(files: &[&str]) -> Inventory {
    let mut all = Vec::new();
    for f in files {
        all.extend(zpool::parse_status(&shared(&format!("zpool/{f}"))).unwrap());
    }
    Inventory { node: "pve1".into(), pools: ok(all), ..Default::default() }
}

#[test]
fn zfs_degraded_and_faulted_pools_alert_and_a_scrub_in_progress_does_not() {
    let inv = pools(&[
        "zse_11-degraded-no-scan.txt",
        "ozdocs_msg_HC_pool_FAULTED_io_failures.txt",
        "zse_05-features.txt",
        "zse_04-scrub-progress.txt",
    ]);
    let s = Snapshots { inventory: Arc::new(inv), ..Default::default() };
    // 2024-02-20: nine days after the scrubs of zse_05.
    let now = 1_708_387_200_000;
    let found = evaluate(&s, &Thresholds::default(), now);
    expect(
        &found,
        &[
            ("zfs_pool:broken", Severity::Warning),
            ("zfs_pool:test", Severity::Critical),
            ("zfs_errors:test", Severity::Critical),
            ("zfs_pool:rpool", Severity::Ok),
            ("zfs_scrub:rpool", Severity::Ok),
            ("zfs_pool:neptune", Severity::Ok),
            // A scrub in progress is never "late".
            ("zfs_scrub:neptune", Severity::Ok),
            ("zfs_scrub:broken", Severity::Info),
        ],
    );
    assert!(found["zfs_pool:broken"].reason.contains("DEGRADED"), "{}", found["zfs_pool:broken"].reason);
    assert!(found["zfs_scrub:neptune"].reason.contains("in progress"));
    // Two months later the finished scrubs are late; the one in progress still is not.
    let found = evaluate(&s, &Thresholds::default(), now + 60 * 86_400_000);
    assert_eq!(sev(&found, "zfs_scrub:rpool"), Severity::Warning);
    assert_eq!(sev(&found, "zfs_scrub:neptune"), Severity::Ok);
    // And the limit is the threshold's.
    let mut t = Thresholds::default();
    t.overrides.insert("disks.scrub_max_age_days".into(), 120.0);
    assert_eq!(sev(&evaluate(&s, &t, now + 60 * 86_400_000), "zfs_scrub:rpool"), Severity::Ok);
}

fn journal_facts() -> Facts {
    let mut scanner = LogScanner::default();
    assert_eq!(scanner.feed_text(&local("journal_ata_oom_noise.jsonl")), 101);
    Facts { journal: Source::Ok { data: scanner.facts }, ..Default::default() }
}

#[test]
fn journal_patterns_oom_and_io_errors_and_benign_noise_stays_quiet() {
    let s = Snapshots { facts: Arc::new(journal_facts()), ..Default::default() };
    let found = evaluate(&s, &Thresholds::default(), NOW);
    expect(
        &found,
        &[
            ("oom_kill:104", Severity::Warning),
            ("disk_io_errors:/dev/sdc", Severity::Warning),
            ("disk_io_errors:ata3", Severity::Warning),
            ("log_critical:filesystem_error:dm-1", Severity::Critical),
            ("log_critical:hung_task:txg_sync", Severity::Warning),
            ("log_critical:daemon_segfault:pvestatd", Severity::Warning),
            ("failed_logins:host", Severity::Warning),
            ("guest_qmp:104", Severity::Warning),
            ("replication_failed:100-0", Severity::Warning),
        ],
    );
    assert!(
        !found.keys().any(|k| k.starts_with("log_critical:qmp") || k.starts_with("log_critical:replication"))
    );
    assert_eq!(
        found["oom_kill:104"].object,
        Some((proxwatch::health::model::ObjectKind::Guest, "104".into()))
    );
    assert!(
        found["failed_logins:host"].reason.contains("12 failed logins"),
        "{}",
        found["failed_logins:host"].reason
    );
    // One finding for the corosync link flapping 25 times, not 25.
    let cascades: Vec<&Finding> = found.values().filter(|f| f.check == "log_cascade").collect();
    assert_eq!(cascades.len(), 1, "{cascades:?}");
    assert!(cascades[0].reason.contains("corosync") && cascades[0].reason.contains("25 times"));
    // Proxmox's noise: 30 pvestatd timeouts in 5 minutes, pmxcfs notices, replication, logind, postfix.
    for f in found.values().filter(|f| f.severity > Severity::Ok) {
        for noise in ["got timeout", "replicatable", "New session", "postfix", "pmxcfs"] {
            assert!(!f.reason.contains(noise), "benign noise alerted: {}: {}", f.key, f.reason);
        }
    }
    // A week later it has all aged out of the windows.
    let found = evaluate(&s, &Thresholds::default(), NOW + 7 * 86_400_000);
    assert!(
        found
            .values()
            .filter(
                |f| f.category != proxwatch::health::model::Category::Security || f.check == "failed_logins"
            )
            .all(|f| f.severity <= Severity::Info || f.severity == Severity::Unknown),
        "{:?}",
        found.values().filter(|f| f.severity > Severity::Info).map(|f| &f.key).collect::<Vec<_>>()
    );
}

#[test]
fn the_shared_journal_links_the_oom_kill_to_ct_105() {
    let mut scanner = LogScanner::default();
    scanner.feed_text(&shared("journalctl/generated_pve1_journalctl-252_-o_json.jsonl"));
    let s = Snapshots {
        facts: Arc::new(Facts { journal: Source::Ok { data: scanner.facts }, ..Default::default() }),
        ..Default::default()
    };
    let found = evaluate(&s, &Thresholds::default(), 1_732_250_700_000);
    assert_eq!(sev(&found, "oom_kill:105"), Severity::Warning);
    assert_eq!(sev(&found, "disk_io_errors:/dev/nvme0"), Severity::Warning);
    assert_eq!(sev(&found, "log_critical:memory_corrected:MC0"), Severity::Warning);
}

fn live(ts: i64, busy: f64) -> Arc<LiveSample> {
    let mut s = Sample { ts, interval_s: 1.0, ..Default::default() };
    s.cpu.total = CpuShare { busy, idle: 100.0 - busy, ..Default::default() };
    s.cpu.cores = vec![CpuShare::default(); 4];
    s.uptime_s = 100_000.0;
    Arc::new(LiveSample::new(s).unwrap())
}

fn points(samples: &[Arc<LiveSample>]) -> Vec<proxwatch::health::model::RecentPoint> {
    samples.iter().map(|l| proxwatch::health::model::RecentPoint::of(&l.sample)).collect()
}

/// A 5-minute window of 1 s samples ending at `end`, all at `busy` %.
fn window(end: i64, busy: f64) -> Vec<Arc<LiveSample>> {
    (0..300).map(|i| live(end - (299 - i) * 1000, busy)).collect()
}

#[test]
fn cpu_needs_a_true_five_minute_window_and_does_not_flap_around_the_threshold() {
    let t = Thresholds::default();
    let run = |recent: Vec<Arc<LiveSample>>, previous: BTreeMap<String, Finding>, now: i64| {
        let s = Snapshots {
            vitals: recent.last().cloned(),
            recent: points(&recent),
            previous,
            ..Default::default()
        };
        evaluate(&s, &t, now).remove("cpu_usage:host").unwrap()
    };
    // Two hot samples are not five minutes.
    let short = vec![live(NOW - 1000, 99.0), live(NOW, 99.0)];
    assert_eq!(run(short, BTreeMap::new(), NOW).severity, Severity::Ok);
    // 5 minutes at 90 % → warning; at 97 % → critical.
    let f = run(window(NOW, 90.0), BTreeMap::new(), NOW);
    assert_eq!(f.severity, Severity::Warning, "{}", f.reason);
    assert_eq!(run(window(NOW, 97.0), BTreeMap::new(), NOW).severity, Severity::Critical);
    // Hovering just under 85 % after alerting keeps the warning (no flapping)...
    let prev = BTreeMap::from([(f.key.clone(), f.clone())]);
    let mut sev_seq = Vec::new();
    for (k, busy) in [84.0, 86.0, 83.0, 85.5, 81.0].into_iter().enumerate() {
        sev_seq
            .push(run(window(NOW + k as i64 * 60_000, busy), prev.clone(), NOW + k as i64 * 60_000).severity);
    }
    assert!(sev_seq.iter().all(|s| *s == Severity::Warning), "{sev_seq:?}");
    // ...and clears below threshold − margin (85 − 5).
    assert_eq!(run(window(NOW, 79.0), prev.clone(), NOW).severity, Severity::Ok);
    // Without a previous alert, 84 % is simply fine.
    assert_eq!(run(window(NOW, 84.0), BTreeMap::new(), NOW).severity, Severity::Ok);
}

#[test]
fn a_threshold_change_is_honoured_by_the_next_evaluation() {
    let recent = window(NOW, 70.0);
    let s = Snapshots { vitals: recent.last().cloned(), recent: points(&recent), ..Default::default() };
    assert_eq!(sev(&evaluate(&s, &Thresholds::default(), NOW), "cpu_usage:host"), Severity::Ok);
    let mut t = Thresholds::default();
    t.overrides.insert("cpu.warning_pct".into(), 60.0);
    assert_eq!(sev(&evaluate(&s, &t, NOW), "cpu_usage:host"), Severity::Warning);
    t.overrides.insert("cpu.critical_pct".into(), 65.0);
    assert_eq!(sev(&evaluate(&s, &t, NOW), "cpu_usage:host"), Severity::Critical);
}

#[test]
fn unavailable_sources_are_unknown_never_critical() {
    let s = Snapshots::default();
    let found = evaluate(&s, &Thresholds::default(), NOW);
    for f in found.values() {
        assert!(
            f.severity <= Severity::Unknown,
            "{}: {:?} with nothing known: {}",
            f.key,
            f.severity,
            f.reason
        );
    }
    for key in [
        "cpu_usage:host",
        "memory_usage:host",
        "updates:host",
        "service:all",
        "time_sync:host",
        "oom_kill:journal",
    ] {
        assert_eq!(sev(&found, key), Severity::Unknown);
    }
}

#[tokio::test]
async fn facts_collector_reads_every_source() {
    let host = common::replay("health-facts");
    let mut c = FactsCollector::new(None);
    assert!(c.step(&host, NOW).await);
    let f = c.facts.clone();
    let Source::Ok { data: u } = &f.updates else { panic!("{:?}", f.updates) };
    assert_eq!(u.pending, 122);
    assert!(u.security > 30);
    let Source::Ok { data: r } = &f.reboot else { panic!("{:?}", f.reboot) };
    assert!(r.required && r.newest_installed.as_deref() == Some("6.8.12-4-pve"), "{r:?}");
    assert!(matches!(&f.services, Source::Ok { data } if data.len() == 13));
    assert!(matches!(&f.timesync, Source::Ok { data } if data.daemon == "chrony"));
    assert_eq!(f.certs.len(), 1, "pveproxy-ssl.pem is absent and not checked: {:?}", f.certs);
    let Source::Ok { data: j } = &f.journal else { panic!("{:?}", f.journal) };
    assert_eq!(j.scanned, 101);
    assert!(matches!(&f.bans, Source::Ok { data } if data.len() == 2));
    // The next step within the intervals reads only the journal, after its cursor.
    assert!(c.step(&host, NOW + 60_000).await);
    let Source::Ok { data: j } = &c.facts.journal else { panic!() };
    assert_eq!(j.scanned, 101, "nothing new after the cursor");

    // The rules over these facts.
    let mut inv = Inventory { node: "pve1".into(), ..Default::default() };
    inv.pool_list = ok(Vec::new());
    let s = Snapshots { facts: Arc::new(c.facts.clone()), inventory: Arc::new(inv), ..Default::default() };
    let found = evaluate(&s, &Thresholds::default(), NOW);
    expect(
        &found,
        &[
            ("updates:host", Severity::Warning),
            ("security_updates:host", Severity::Warning),
            ("reboot_pending:host", Severity::Warning),
            ("service:pveproxy", Severity::Ok),
            ("service:pvescheduler", Severity::Critical),
            ("time_sync:host", Severity::Warning),
            // 2024-11-22: the certificate expires in 70 days.
            ("cert_expiry:pve-ssl", Severity::Ok),
            ("fail2ban:host", Severity::Info),
        ],
    );
    assert!(!found.contains_key("service:smartd"), "not installed is not failed");
    assert!(!found.contains_key("service:corosync"), "not clustered: corosync is not checked");
    assert!(found["reboot_pending:host"].reason.contains("6.8.12-4-pve"));
    // Close to expiry: warning, then critical.
    let found = evaluate(&s, &Thresholds::default(), 1_736_000_000_000); // 2025-01-04
    assert_eq!(sev(&found, "cert_expiry:pve-ssl"), Severity::Warning);
    let found = evaluate(&s, &Thresholds::default(), 1_738_000_000_000); // 2025-01-27
    assert_eq!(sev(&found, "cert_expiry:pve-ssl"), Severity::Critical);
}

/// Host filesystems over the `pve-mounts` scenario (mountinfo, fstab, storage.cfg and statvfs
/// answers): a full root with few inodes left, a dead NFS server, a read-only remount; the ZFS
/// datasets on full pools, the read-only-by-design mounts and the pseudo filesystems stay quiet.
#[tokio::test]
async fn host_filesystems_full_stale_and_read_only() {
    use proxwatch::health::facts::MountUsage;
    use proxwatch::health::model::ObjectKind;
    let host = common::replay("pve-mounts");
    let mut c = FactsCollector::new(None);
    assert!(c.step(&host, NOW).await);
    let Source::Ok { data: fs } = &c.facts.filesystems else { panic!("{:?}", c.facts.filesystems) };
    let points: Vec<&str> = fs.mounts.iter().map(|m| m.mountpoint.as_str()).collect();
    assert_eq!(points.len(), 11, "{points:?}");
    let nfs = fs.mounts.iter().find(|m| m.mountpoint == "/mnt/pve/backup-nfs").unwrap();
    assert!(matches!(nfs.usage, MountUsage::Stale { .. }), "{nfs:?}");
    assert_eq!(nfs.storage.as_deref(), Some("backup-nfs"));

    let s = Snapshots { facts: Arc::new(c.facts.clone()), ..Default::default() };
    let found = evaluate(&s, &Thresholds::default(), NOW);
    expect(
        &found,
        &[
            ("fs_usage:/", Severity::Critical),
            ("fs_inodes:/", Severity::Warning),
            ("fs_usage:/boot/efi", Severity::Ok),
            ("fs_stale:/mnt/pve/backup-nfs", Severity::Critical),
            ("fs_stale:/mnt/pve/iso-smb", Severity::Ok),
            ("fs_usage:/mnt/pve/iso-smb", Severity::Ok),
            ("fs_readonly:/mnt/data disk", Severity::Critical),
        ],
    );
    let f = &found["fs_stale:/mnt/pve/backup-nfs"];
    assert_eq!(
        f.reason,
        "NFS mount /mnt/pve/backup-nfs (storage backup-nfs) (192.168.10.20:/export/backup) is stale: statvfs did not answer within 2.0 s"
    );
    assert_eq!(f.object, Some((ObjectKind::Storage, "backup-nfs".into())));
    assert_eq!(found["fs_usage:/"].object, Some((ObjectKind::Storage, "/".into())));
    assert!(
        found["fs_usage:/"].reason.starts_with("filesystem / 97 % full (92.0 GiB of 100.0 GiB"),
        "{}",
        found["fs_usage:/"].reason
    );
    assert!(found["fs_inodes:/"].reason.contains("94 % of inodes used"), "{}", found["fs_inodes:/"].reason);
    assert_eq!(found["fs_readonly:/mnt/data disk"].object, Some((ObjectKind::Storage, "data".into())));
    for quiet in
        ["/rpool", "/rpool/data", "/tank", "/tank/nextcloud", "/mnt/archive", "/mnt/iso", "/mnt/data disk"]
    {
        assert!(!found.contains_key(&format!("fs_usage:{quiet}")), "{quiet}: no capacity finding");
    }
    for quiet in ["/mnt/archive", "/mnt/iso", "/boot/efi", "/"] {
        assert!(
            !found.contains_key(&format!("fs_readonly:{quiet}")),
            "{quiet} is not an unexpected read-only"
        );
    }
    assert!(!found.keys().any(|k| k.contains("/srv/dump") || k.contains("subvol") || k.contains("/etc/pve")));

    // With the node status (rootfs:/) and the PVE storage list, each capacity is graded once.
    let mut inv = Inventory { node: "pve1".into(), ..Default::default() };
    let demo = common::demo_dir().join("commands/pvesh/nodes_status.json");
    let mut ns: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(demo).unwrap()).unwrap();
    ns["rootfs"] = serde_json::json!({"total": 107374182400u64, "used": 98784247808u64, "avail": 3221225472u64, "free": 8589934592u64});
    let ns: proxwatch::tools::pvesh::NodeStatus = serde_json::from_value(ns).unwrap();
    inv.node_status = ok(ns);
    let st: Vec<proxwatch::tools::pvesh::NodeStorage> = serde_json::from_value(serde_json::json!([
        {"storage": "iso-smb", "type": "cifs", "active": 1, "enabled": 1, "total": 1000000000000u64, "used": 500000000000u64}
    ]))
    .unwrap();
    inv.storage = ok(st);
    let s = Snapshots { inventory: Arc::new(inv), ..s };
    let found = evaluate(&s, &Thresholds::default(), NOW);
    // pvesh's rootfs is used ÷ total (92 %), df's Use% counts the reserved blocks as used (97 %).
    assert_eq!(sev(&found, "rootfs:/"), Severity::Warning);
    assert!(!found.contains_key("fs_usage:/") && !found.contains_key("fs_usage:/mnt/pve/iso-smb"));
    assert_eq!(sev(&found, "fs_inodes:/"), Severity::Warning, "inodes are only checked here");

    // A threshold change is honoured: 94 % of inodes used is no longer a warning at 95 %.
    let mut t = Thresholds::default();
    t.overrides.insert("storage.inodes_warning_pct".into(), 95.0);
    let found = evaluate(&Snapshots { inventory: Arc::default(), ..s.clone() }, &t, NOW);
    assert_eq!(sev(&found, "fs_inodes:all"), Severity::Ok, "94 % is below a 95 % threshold");

    // No mountinfo (another scenario): unknown, not a fake ok.
    let mut c = FactsCollector::new(None);
    c.step(&common::replay("health-facts"), NOW).await;
    let found = evaluate(
        &Snapshots { facts: Arc::new(c.facts.clone()), ..Default::default() },
        &Thresholds::default(),
        NOW,
    );
    assert_eq!(sev(&found, "fs_usage:all"), Severity::Unknown);
}

#[tokio::test]
async fn ups_on_battery_and_low_battery() {
    use proxwatch::tools::nut;
    use proxwatch::workers::ups::{State, Ups, UpsSnapshot, UpsState};
    let ups = |status: &str, charge: &str| {
        let vars: BTreeMap<String, String> =
            [("ups.status", status), ("battery.charge", charge), ("battery.runtime", "540")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        Ups {
            id: "ups@127.0.0.1:3493".into(),
            name: "ups".into(),
            server: "127.0.0.1:3493".into(),
            description: String::new(),
            state: UpsState::Ok,
            reason: None,
            reading: Some(nut::decode(&vars)),
            updated: Some(NOW),
            status_since: Some(NOW),
            changes: Default::default(),
        }
    };
    let snap = |u: Ups| UpsSnapshot { state: State::Ok, upses: vec![u], ..Default::default() };
    let run = |u| {
        let s = Snapshots { ups: Arc::new(snap(u)), ..Default::default() };
        evaluate(&s, &Thresholds::default(), NOW).remove("ups:ups@127.0.0.1:3493").unwrap()
    };
    assert_eq!(run(ups("OL CHRG", "100")).severity, Severity::Ok);
    let f = run(ups("OB DISCHRG", "80"));
    assert_eq!(f.severity, Severity::Critical, "{}", f.reason);
    assert!(f.reason.contains("on battery"));
    assert!(run(ups("OB DISCHRG LB", "9")).reason.contains("LOW"));
    assert_eq!(run(ups("OL RB", "100")).severity, Severity::Warning);
    // No UPS monitored: nothing to say.
    let s = Snapshots {
        ups: Arc::new(UpsSnapshot { state: State::Unavailable, ..Default::default() }),
        ..Default::default()
    };
    assert!(!evaluate(&s, &Thresholds::default(), NOW).keys().any(|k| k.starts_with("ups:")));
}

/// The demo host through the inventory poller: a degraded raidz, a wearing-out SSD, a standby HDD,
/// stopped onboot guests, an HA error, locks, failed backups, a full PBS datastore.
#[tokio::test]
async fn the_demo_yields_its_story() {
    let host = common::demo_host();
    let t0 = 1_722_500_000_000; // the demo's recording time
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    for k in 0..10 {
        p.step(&host, t0 + k * 2000).await;
    }
    let mut facts = FactsCollector::new(None);
    facts.step(&host, t0).await;
    let s = Snapshots {
        now_ms: t0 + 20_000,
        inventory: Arc::new(p.state.clone()),
        facts: Arc::new(facts.facts.clone()),
        ..Default::default()
    };
    let found = evaluate(&s, &Thresholds::default(), t0 + 20_000);
    for f in found.values().filter(|f| f.severity != Severity::Ok) {
        eprintln!("{:?} {} — {}", f.severity, f.key, f.reason);
    }
    expect(
        &found,
        &[
            ("zfs_pool:tank", Severity::Warning),
            ("zfs_errors:tank", Severity::Warning),
            ("zfs_pool:rpool", Severity::Ok),
            ("smart:/dev/sda", Severity::Ok),
            ("disk_wear:/dev/sdb", Severity::Critical),
            ("smart:/dev/sdg", Severity::Ok),
            ("guest_onboot_stopped:102", Severity::Warning),
            ("guest_onboot_stopped:203", Severity::Warning),
            ("guest_onboot_stopped:100", Severity::Ok),
            ("guest_ha:104", Severity::Critical),
            ("guest_ha:101", Severity::Ok),
            ("guest_locked:201", Severity::Info),
            // The nightly job run ended in "job errors"; its log names the guests that failed.
            ("backup_failed:102", Severity::Warning),
            ("backup_failed:201", Severity::Warning),
            ("backup_failed:101", Severity::Ok),
            ("backup_failed:104", Severity::Warning),
            ("storage_usage:pbs-backup", Severity::Critical),
            ("lvm_thin:pve/data", Severity::Ok),
            // The facts: services and time sync fine, 58 updates pending with security ones.
            ("service:pveproxy", Severity::Ok),
            ("service:pve-ha-lrm", Severity::Ok),
            ("service:zfs-zed", Severity::Ok),
            ("time_sync:host", Severity::Ok),
            ("updates:host", Severity::Info),
            ("security_updates:host", Severity::Warning),
            // The recorded journal (the one the Logs page shows): pvestatd dumped core, an OOM kill in
            // CT 201's cgroup, QMP timeouts of VM 102's backup.
            ("log_critical:daemon_segfault:pvestatd", Severity::Warning),
            ("oom_kill:201", Severity::Warning),
            ("guest_qmp:102", Severity::Warning),
        ],
    );
    assert!(found.values().all(|f| !f.reason.contains('\n')), "reasons are one line");
    assert!(!found.contains_key("service:corosync"), "a single node does not need corosync");
    // The demo's own mounts (not this machine's): all healthy, the NFS backup storage answering.
    expect(
        &found,
        &[
            ("fs_usage:/mnt/archive", Severity::Ok),
            ("fs_stale:/mnt/pve/backup-nfs", Severity::Ok),
            ("fs_readonly:all", Severity::Ok),
            ("fs_inodes:all", Severity::Ok),
        ],
    );
    let fs_bad: Vec<_> =
        found.values().filter(|f| f.key.starts_with("fs_") && f.severity != Severity::Ok).collect();
    assert!(fs_bad.is_empty(), "{fs_bad:?}");
    assert!(!found.contains_key("fs_usage:/"), "the root filesystem is graded once, as rootfs:/");
    assert!(!found.contains_key("fs_usage:/mnt/pve/backup-nfs"), "graded once, as storage_usage:backup-nfs");
    assert!(!found.keys().any(|k| k.contains("subvol-")), "CT volumes are the containers' disks");
    assert!(!found.keys().any(|k| k.starts_with("fail2ban:")), "fail2ban is not installed: not reported");
    assert!(
        found["smart:/dev/sdg"].reason.to_lowercase().contains("standby"),
        "{}",
        found["smart:/dev/sdg"].reason
    );
    assert!(!found.contains_key("backup_age:9000"), "templates are skipped");
    assert!(!found.contains_key("backup_failed:job"), "the run's log was read: no job-wide finding");
    assert!(
        found["backup_failed:201"].reason.contains("CT is locked (backup)"),
        "{}",
        found["backup_failed:201"].reason
    );
    // 101 was backed up by that run: its last good backup is the run's end, not an older clean run.
    let run_end =
        p.state.tasks.data.as_ref().unwrap().iter().find(|t| t.upid.contains(":66AAEC20:")).unwrap().endtime;
    assert_eq!(found["backup_age:101"].details["last_backup_s"].as_u64(), run_end);
    // Seven hours later the backup lock of CT 201 is stale.
    let mut prev = BTreeMap::new();
    prev.insert("guest_locked:201".to_string(), found["guest_locked:201"].clone());
    let s = Snapshots { previous: prev, ..s };
    let later = evaluate(&s, &Thresholds::default(), t0 + 20_000 + 7 * 3_600_000);
    assert_eq!(sev(&later, "guest_locked:201"), Severity::Warning, "{}", later["guest_locked:201"].reason);
}

#[test]
fn ipmi_sensors_outside_thresholds_and_open_sel_events_alert_and_an_unpopulated_fan_does_not() {
    use proxwatch::tools::ipmi;
    use proxwatch::workers::hardware::HardwareSnapshot;
    let hw = |sensor_text: &str, sel_file: &str| {
        let h = HardwareSnapshot {
            ipmi: ok(ipmi::parse_sensor(sensor_text).unwrap()),
            sel: ok(ipmi::parse_sel(&shared(&format!("ipmitool/{sel_file}"))).unwrap()),
            ..Default::default()
        };
        Snapshots { hardware: Arc::new(h), ..Default::default() }
    };
    // An unpopulated fan header (`na` reading and status) next to the real ones.
    let unpopulated = "System Fan3       | na         | RPM        | na    | na        | na        | na        | na        | na        | na        \n";
    let warn = format!("{}{unpopulated}", shared("ipmitool/ipmisim_sensor_warn_cpu_unc_fan_lnc.txt"));
    let found = evaluate(&hw(&warn, "ipmisim_sel_elist_warn.txt"), &Thresholds::default(), NOW);
    expect(
        &found,
        &[
            ("ipmi_sensor:CPU Temp", Severity::Warning),
            ("ipmi_sensor:System Fan2", Severity::Warning),
            ("ipmi_sel:bmc", Severity::Warning),
        ],
    );
    assert!(!found.keys().any(|k| k.contains("Fan1") || k.contains("Fan3")), "{:?}", found.keys());
    // Healthy sensors, and a SEL whose events were deasserted since (the demo's): all OK.
    let healthy = format!("{}{unpopulated}", shared("ipmitool/ipmisim_sensor_healthy.txt"));
    let found = evaluate(&hw(&healthy, "ipmisim_sel_elist_after_recovery.txt"), &Thresholds::default(), NOW);
    expect(&found, &[("ipmi_sensor:bmc", Severity::Ok), ("ipmi_sel:bmc", Severity::Ok)]);
    assert!(found["ipmi_sensor:bmc"].reason.contains("1 unpopulated"), "{}", found["ipmi_sensor:bmc"].reason);
}

#[test]
fn hwmon_package_temperature_uses_the_sensor_limits_and_fans_below_minimum_alert() {
    use proxwatch::tools::hwmon::{Chip, Kind, Level, Reading, Sensors};
    use proxwatch::workers::hardware::HardwareSnapshot;
    let reading = |kind, key: &str, label: &str, value, min, max, crit| Reading {
        kind,
        key: key.into(),
        label: label.into(),
        value,
        unit: if kind == Kind::Temp { "°C" } else { "RPM" },
        min,
        max,
        crit,
        alarm: false,
        level: Level::Ok,
    };
    let snap = |pkg: f64, fan: f64| {
        let chips = vec![
            Chip {
                id: "coretemp-0".into(),
                name: "coretemp".into(),
                dir: "hwmon1".into(),
                model: None,
                readings: vec![reading(
                    Kind::Temp,
                    "temp1",
                    "Package id 0",
                    pkg,
                    None,
                    Some(84.0),
                    Some(100.0),
                )],
            },
            Chip {
                id: "nct6775-0".into(),
                name: "nct6775".into(),
                dir: "hwmon2".into(),
                model: None,
                readings: vec![
                    reading(Kind::Fan, "fan1", "fan1", fan, Some(300.0), None, None),
                    // An empty header: 0 RPM and no minimum.
                    reading(Kind::Fan, "fan2", "fan2", 0.0, None, None, None),
                ],
            },
        ];
        let h =
            HardwareSnapshot { sensors: ok(Sensors { chips, ignored: Vec::new() }), ..Default::default() };
        Snapshots { hardware: Arc::new(h), ..Default::default() }
    };
    let found = evaluate(&snap(82.0, 1200.0), &Thresholds::default(), NOW);
    // 82 °C is above the configured 80 but below this CPU's own max of 84.
    expect(&found, &[("cpu_temp:host", Severity::Ok), ("fan:nct6775-0/fan1", Severity::Ok)]);
    assert!(!found.contains_key("fan:nct6775-0/fan2"), "an empty header is not a stopped fan");
    let found = evaluate(&snap(90.0, 200.0), &Thresholds::default(), NOW);
    expect(&found, &[("cpu_temp:host", Severity::Warning), ("fan:nct6775-0/fan1", Severity::Warning)]);
    let found = evaluate(&snap(101.0, 0.0), &Thresholds::default(), NOW);
    expect(&found, &[("cpu_temp:host", Severity::Critical), ("fan:nct6775-0/fan1", Severity::Critical)]);
}

#[test]
fn network_links_bonds_and_the_gateway() {
    use proxwatch::tools::net::IfKind;
    use proxwatch::workers::network::{
        BondSlaveView, BondView, Gateway, GatewayState, Interface, Interfaces, NetworkSnapshot,
    };
    let nic = |name: &str, kind, oper: &str, addrs: &[&str], master: Option<&str>| Interface {
        name: name.into(),
        kind,
        operstate: oper.into(),
        admin_up: true,
        carrier: Some(oper == "up"),
        mtu: Some(1500),
        speed_mbps: None,
        duplex: None,
        mac: None,
        addresses: addrs.iter().map(|s| s.to_string()).collect(),
        master: master.map(str::to_string),
        ports: Vec::new(),
        parent: None,
        vlan_id: None,
        bond: None,
        guest: None,
        rx_bps: None,
        tx_bps: None,
        counters: None,
        errors_per_s: Some(0.0),
        drops_per_s: Some(0.0),
    };
    let slave = |name: &str, up: bool| BondSlaveView {
        name: name.into(),
        mii_status: if up { "up" } else { "down" }.into(),
        active: up,
        link_failures: Some(1),
        speed: None,
        duplex: None,
    };
    let mut bond0 = nic("bond0", IfKind::Bond, "up", &[], Some("vmbr0"));
    bond0.bond = Some(BondView {
        mode: "active-backup".into(),
        active_slave: Some("eno1".into()),
        mii_status: "up".into(),
        slaves: vec![slave("eno1", true), slave("eno2", false)],
        degraded: true,
        xmit_hash_policy: None,
        lacp_rate: None,
        source: "proc",
    });
    let mut eno4 = nic("eno4", IfKind::Physical, "up", &[], None);
    eno4.errors_per_s = Some(40.0);
    let list = vec![
        nic("vmbr0", IfKind::Bridge, "up", &["192.168.10.20/24"], None),
        bond0,
        nic("eno1", IfKind::Physical, "up", &[], Some("bond0")),
        nic("eno2", IfKind::Physical, "down", &[], Some("bond0")),
        nic("vmbr1", IfKind::Bridge, "down", &["10.0.0.1/24"], None),
        nic("eno3", IfKind::Physical, "down", &[], None),
        eno4,
        nic("vmbr9", IfKind::Bridge, "down", &[], None),
        nic("tap104i0", IfKind::Tap, "down", &[], Some("vmbr0")),
    ];
    let gw = |state, loss: f64, lat: f64| Gateway {
        address: Some("192.168.10.1".into()),
        interface: Some("vmbr0".into()),
        target: Some("192.168.10.1".into()),
        state,
        latency_ms: Some(lat),
        min_ms: None,
        max_ms: None,
        loss_pct: Some(loss),
        window_loss_pct: Some(loss),
        window_probes: 10,
        unreachable_streak: u16::from(state == GatewayState::Unreachable) * 2,
        sent: 5,
        received: 5,
        last_probe: Some(NOW),
        method: Some("replay"),
        error: None,
        probe_interval_s: 30,
    };
    let snap = |g: Gateway| {
        let n = NetworkSnapshot {
            interfaces: ok(Interfaces { interfaces: list.clone(), topology: Vec::new() }),
            gateway: ok(g),
        };
        Snapshots { network: Arc::new(n), ..Default::default() }
    };
    let found = evaluate(&snap(gw(GatewayState::Ok, 0.0, 0.4)), &Thresholds::default(), NOW);
    expect(
        &found,
        &[
            ("nic_link:vmbr0", Severity::Ok),
            ("nic_link:bond0", Severity::Warning),
            ("nic_link:eno2", Severity::Warning),
            ("nic_link:vmbr1", Severity::Critical),
            ("nic_link:eno3", Severity::Ok),
            ("nic_link:vmbr9", Severity::Ok),
            ("nic_errors:eno4", Severity::Warning),
            ("nic_errors:eno1", Severity::Ok),
            ("gateway:default", Severity::Ok),
        ],
    );
    assert!(!found.keys().any(|k| k.contains("tap104i0")), "guest taps are not checked");
    assert!(found["nic_link:bond0"].reason.contains("eno2"));
    let found = evaluate(&snap(gw(GatewayState::Loss, 40.0, 0.5)), &Thresholds::default(), NOW);
    assert_eq!(sev(&found, "gateway:default"), Severity::Warning);
    let found = evaluate(&snap(gw(GatewayState::Unreachable, 100.0, 0.0)), &Thresholds::default(), NOW);
    assert_eq!(sev(&found, "gateway:default"), Severity::Critical);
    // One lost echo of three in the last probe, but the window is clean: a blip, not an alert.
    let blip =
        Gateway { loss_pct: Some(33.3), window_loss_pct: Some(2.2), ..gw(GatewayState::Loss, 33.3, 0.4) };
    assert_eq!(sev(&evaluate(&snap(blip), &Thresholds::default(), NOW), "gateway:default"), Severity::Ok);
    // A single unanswered probe is a warning; the second in a row is critical.
    let once = Gateway { unreachable_streak: 1, ..gw(GatewayState::Unreachable, 100.0, 0.0) };
    assert_eq!(
        sev(&evaluate(&snap(once), &Thresholds::default(), NOW), "gateway:default"),
        Severity::Warning
    );
}

/// A fleet peer: stale or blocked is a Network warning naming it; answering or merely failing once
/// (not yet stale) is ok. Docker: an unhealthy running container and one restarting in a loop are VMs
/// & CTs warnings on the agent's guest; a stale agent is a warning and its containers' last states
/// are not judged. Each becomes a `health.new` notification event.
#[test]
fn fleet_peers_and_docker_containers() {
    use proxwatch::model::docker::{Agent, Container, Counts};
    use proxwatch::model::fleet::{Peer, Status};
    let now_ms = common::T0_MS;
    let now = now_ms / 1000;
    let peer = |id: i64, name: &str, status: Status| {
        Arc::new(Peer {
            id,
            name: name.into(),
            url: format!("https://{name}:8008"),
            fingerprint: None,
            status,
            error: Some("connect to pve2:8008: Connection refused".into()),
            blocked: (status == Status::Blocked).then(|| "the peer refused the token: 401".into()),
            seen_fingerprint: None,
            last_ok: Some(now - 120),
            last_poll: Some(now),
            rtt_ms: None,
            summary: None,
            checks: Vec::new(),
            checked_at: None,
        })
    };
    let container = |name: &str, state: &str, health: Option<&str>, restarts: u64| Container {
        id: "0123456789ab".into(),
        name: name.into(),
        image: "img".into(),
        state: state.into(),
        health: health.map(str::to_string),
        restart_count: restarts,
        started_at: None,
        finished_at: None,
        exit_code: None,
        ports: vec![],
        mounts: vec![],
        cpu_pct: None,
        mem_used: None,
        mem_limit: None,
        net_rx: None,
        net_tx: None,
        block_read: None,
        block_write: None,
        env: vec![],
        compose_project: None,
    };
    let agent = |id: &str, last: i64, containers: Vec<Container>, looping: Vec<String>| {
        Arc::new(Agent {
            id: id.into(),
            name: id.into(),
            vmid_hint: None,
            created: now - 86_400,
            info: None,
            vmid: Some(101),
            guest_name: Some("web".into()),
            mapped_by: None,
            last_report: Some(last),
            interval_s: 60,
            stale: false,
            counts: Counts::of(&containers),
            containers,
            looping,
        })
    };
    let s = Snapshots {
        now_ms,
        fleet: Arc::new(vec![
            peer(1, "pve2", Status::Stale),
            peer(2, "pve3", Status::Blocked),
            peer(3, "pve4", Status::Error),
            peer(4, "pve5", Status::Ok),
        ]),
        agents: Arc::new(vec![
            agent(
                "a1",
                now - 30,
                vec![
                    container("web", "running", Some("healthy"), 0),
                    container("db", "running", Some("unhealthy"), 0),
                    container("worker", "restarting", None, 7),
                    container("cron", "running", None, 12),
                    container("old", "exited", Some("unhealthy"), 0),
                ],
                vec!["cron".into()],
            ),
            agent("a2", now - 600, vec![container("gone", "running", Some("unhealthy"), 0)], vec![]),
        ]),
        ..Default::default()
    };
    let found = evaluate(&s, &Thresholds::default(), now_ms);
    expect(
        &found,
        &[
            ("fleet_peer:1", Severity::Warning),
            ("fleet_peer:2", Severity::Warning),
            ("fleet_peer:3", Severity::Ok),
            ("fleet_peer:4", Severity::Ok),
            ("docker_agent:a1", Severity::Ok),
            ("docker_unhealthy:a1:web", Severity::Ok),
            ("docker_unhealthy:a1:db", Severity::Warning),
            ("docker_unhealthy:a1:old", Severity::Ok),
            ("docker_loop:a1:worker", Severity::Warning),
            ("docker_loop:a1:cron", Severity::Warning),
            ("docker_loop:a1:web", Severity::Ok),
            ("docker_agent:a2", Severity::Warning),
        ],
    );
    assert!(!found.contains_key("docker_unhealthy:a2:gone"), "a stale agent's containers are not judged");
    let stale = &found["fleet_peer:1"];
    assert_eq!(stale.category, proxwatch::health::model::Category::Network);
    assert_eq!(
        stale.reason,
        "fleet peer pve2 is unreachable (last seen 2 min ago): connect to pve2:8008: Connection refused"
    );
    assert!(found["fleet_peer:2"].reason.contains("re-test"), "{}", found["fleet_peer:2"].reason);
    assert_eq!(found["docker_unhealthy:a1:db"].reason, "container db on a1 in 101 (web) is unhealthy");
    assert_eq!(
        found["docker_agent:a2"].reason,
        "Docker agent a2 in 101 (web) stopped reporting (last report 10 min ago)"
    );
    assert_eq!(found["docker_unhealthy:a1:db"].object.as_ref().map(|o| o.1.as_str()), Some("101"));

    // The finding's event reaches the notification engine as any health finding does.
    let ev = proxwatch::health::store::Event {
        id: 1,
        kind: proxwatch::health::store::EventKind::New,
        key: stale.key.clone(),
        fingerprint: "f1".into(),
        category: stale.category,
        severity: stale.severity,
        previous_severity: None,
        reason: stale.reason.clone(),
        details: serde_json::Value::Null,
        ts: now_ms,
        duration_s: None,
        actor: None,
        notify: true,
        delivered_at: None,
    };
    let n = proxwatch::notify::engine::from_health(&ev).unwrap();
    assert_eq!(n.kind, "health.new");
}
