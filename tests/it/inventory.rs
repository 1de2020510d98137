//! The inventory poller through `step()` over the demo scenario and over a host without Proxmox, and
//! the guests / cluster / storage API over the demo scenario.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use proxwatch::host::{Host, Scenario};
use proxwatch::workers::inventory::{Intervals, InventoryPoller, SectionState};
use serde_json::json;

use crate::common::{self, TestApp, demo_dir, demo_host};

const T0: i64 = common::T0_MS;

/// Steps the poller for 20 s: every source has run and configs (two per step) are in.
async fn filled(host: &Host) -> InventoryPoller {
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    for k in 0..10 {
        p.step(host, T0 + k * 2000).await;
    }
    p
}

#[tokio::test]
async fn poller_reads_every_source_of_the_demo_host() {
    let p = filled(&demo_host()).await;
    let s = &p.state;
    for (name, state) in [
        ("resources", s.resources.state),
        ("node_status", s.node_status.state),
        ("cluster", s.cluster.state),
        ("storage", s.storage.state),
        ("tasks", s.tasks.state),
        ("backup_jobs", s.backup_jobs.state),
        ("pool_list", s.pool_list.state),
        ("pools", s.pools.state),
        ("lvs", s.lvs.state),
        ("blockdevs", s.blockdevs.state),
        ("smart_devices", s.smart_devices.state),
    ] {
        assert_eq!(state, SectionState::Ok, "{name}");
    }
    let guests = s.resources.data.as_ref().unwrap().iter().filter(|r| r.as_guest().is_some()).count();
    assert_eq!(guests, 12);
    assert_eq!(s.smart.len(), 8, "every disk read in the first pass");
    assert!(s.configs.len() >= 6, "configs are fetched two per step: {}", s.configs.len());
    assert!(s.configs[&102].onboot);
}

#[tokio::test]
async fn sources_run_on_their_own_intervals() {
    let host = demo_host();
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    assert!(p.step(&host, T0).await);
    assert_eq!(p.state.smart.len(), 8, "all disks read at the first pass");
    let first = p.state.pools.updated;
    // 10 s later: resources (10 s) again, ZFS (300 s) not yet.
    p.step(&host, T0 + 10_000).await;
    assert_eq!(p.state.resources.updated, Some(T0 / 1000 + 10));
    assert_eq!(p.state.pools.updated, first);
    p.step(&host, T0 + 60_000).await;
    assert_eq!(p.state.pools.updated, first);
    p.step(&host, T0 + 300_000).await;
    assert_eq!(p.state.pools.updated, Some(T0 / 1000 + 300));
}

/// A source that starts failing keeps its last good data, marked stale with the reason.
#[tokio::test]
async fn a_failing_source_keeps_the_last_good_data_as_stale() {
    let good = demo_host();
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&good, T0).await;
    assert_eq!(p.state.resources.state, SectionState::Ok);
    // The same host where pvesh now fails (e.g. pve-cluster down): the manifest says so.
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(demo_dir().join("manifest.toml")).unwrap();
    let broken = manifest
        .replace("stdout = \"commands/", &format!("stdout = \"{}/commands/", demo_dir().display()))
        .replace(
            "argv = [\"pvesh\", \"get\", \"/cluster/resources\", \"--output-format\", \"json\"]\nstdout =",
            "argv = [\"pvesh\", \"get\", \"/cluster/resources\", \"--output-format\", \"json\"]\nexit = 255\nstderr = \"ipcc_send_rec[1] failed: Connection refused\"\nunused =",
        );
    let broken = broken.replace("\nunused = ", "\n# ");
    std::fs::write(dir.path().join("manifest.toml"), broken).unwrap();
    let bad = common::replay_dir(dir.path());
    p.step(&bad, T0 + 10_000).await;
    let r = &p.state.resources;
    assert_eq!(r.state, SectionState::Stale);
    assert!(r.reason.as_deref().unwrap().contains("Connection refused"), "{:?}", r.reason);
    assert!(r.data.is_some(), "last good data kept");
    assert_eq!(r.updated, Some(T0 / 1000), "and its age shows");
}

/// A folder holding the demo's commands (its manifest pointing at the demo's recordings) and none of
/// its files: a test adds the files it wants.
fn demo_commands_only() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(demo_dir().join("manifest.toml")).unwrap();
    let moved =
        manifest.replace("stdout = \"commands/", &format!("stdout = \"{}/commands/", demo_dir().display()));
    std::fs::write(dir.path().join("manifest.toml"), moved).unwrap();
    dir
}

/// Tasks and task logs come from PVE's own files where they exist (the demo carries them, written
/// from its pvesh recordings), the same list pvesh gives; pvesh is the fallback, named with its reason.
#[tokio::test]
async fn tasks_come_from_the_task_files_and_pvesh_is_the_fallback() {
    let host = demo_host();
    let p = filled(&host).await;
    let t = &p.state.tasks;
    assert_eq!(t.state, SectionState::Ok);
    assert_eq!(t.source.as_deref(), Some("task files"));
    let recorded = std::fs::read_to_string(demo_dir().join("commands/pvesh/nodes_tasks.json")).unwrap();
    let from_pvesh = proxwatch::tools::pvesh::parse_tasks(&recorded).unwrap();
    assert_eq!(t.data.as_ref().unwrap(), &from_pvesh, "the files give what pvesh gives");
    // The backup jobs' verdicts were read from their log files.
    assert!(!p.state.job_results.is_empty());
    let log = proxwatch::tools::pvetasks::read_log(
        &host,
        "UPID:pve-demo:002BFDA1:07309085:66AB1FB0:vzdump:104:root@pam:",
        1000,
    )
    .unwrap();
    assert!(log[0].starts_with("INFO: starting new backup job"), "{log:?}");

    // The same host without the files: pvesh, and why.
    let dir = demo_commands_only();
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&common::replay_dir(dir.path()), T0).await;
    assert_eq!(p.state.tasks.state, SectionState::Ok);
    assert_eq!(p.state.tasks.source.as_deref(), Some("pvesh (no /var/log/pve/tasks/index; no API token)"));
    assert_eq!(p.state.tasks.data.as_ref().unwrap(), &from_pvesh);
}

/// Writes the cluster filesystem files that hold `resources` (what pvestatd broadcasts into `.rrd`,
/// pmxcfs's `.vmlist` and `.members`, the guest configs' `lock` and `tags`, HA's manager status), in
/// their writers' formats (PVE 8 keys), into the scenario folder `dir`.
fn write_cluster_files(
    dir: &std::path::Path,
    node: &str,
    resources: &[proxwatch::model::pve::ClusterResource],
) {
    use proxwatch::model::pve::{ClusterResource, GuestKind};
    let pve = dir.join("etc/pve");
    std::fs::create_dir_all(pve.join(format!("nodes/{node}/qemu-server"))).unwrap();
    std::fs::create_dir_all(pve.join(format!("nodes/{node}/lxc"))).unwrap();
    std::fs::create_dir_all(pve.join("ha")).unwrap();
    let mut ids = Vec::new();
    let mut rrd = String::new();
    let mut services = Vec::new();
    let u = |x: Option<String>| x.unwrap_or_else(|| "U".into());
    for r in resources {
        match r {
            ClusterResource::Guest(g) => {
                let t = if g.kind == GuestKind::Qemu { "qemu" } else { "lxc" };
                ids.push(format!(
                    "\"{}\": {{ \"node\": \"{}\", \"type\": \"{t}\", \"version\": 1 }}",
                    g.vmid, g.node
                ));
                let live = g.status == "running" || g.status == "paused";
                let v = |x: String| if live { x } else { "U".into() };
                rrd.push_str(&format!(
                    "pve2.3-vm/{}:{}:{}:{}:{}:1722500000:{}:{}:{}:{}:{}:{}:{}:{}:{}:{}\n",
                    g.vmid,
                    g.uptime.unwrap_or(0),
                    g.name,
                    g.status,
                    u8::from(g.template),
                    g.maxcpu,
                    v(g.cpu.to_string()),
                    g.maxmem,
                    v(g.mem.to_string()),
                    g.maxdisk,
                    g.disk,
                    v(g.netin.to_string()),
                    v(g.netout.to_string()),
                    v(g.diskread.to_string()),
                    v(g.diskwrite.to_string()),
                ));
                let mut conf = format!("name: {}\n", g.name);
                if let Some(l) = &g.lock {
                    conf.push_str(&format!("lock: {l}\n"));
                }
                if !g.tags.is_empty() {
                    conf.push_str(&format!("tags: {}\n", g.tags.join(";")));
                }
                conf.push_str("\n[snapshot]\nlock: none\n");
                let dirname = if g.kind == GuestKind::Qemu { "qemu-server" } else { "lxc" };
                std::fs::write(pve.join(format!("nodes/{node}/{dirname}/{}.conf", g.vmid)), conf).unwrap();
                if let Some(h) = &g.hastate {
                    let t = if g.kind == GuestKind::Qemu { "vm" } else { "ct" };
                    services.push(format!("\"{t}:{}\":{{\"node\":\"{node}\",\"state\":\"{h}\"}}", g.vmid));
                }
            }
            ClusterResource::Node(n) => rrd.push_str(&format!(
                "pve2-node/{}:{}:{}:1722500000:0.5:{}:{}:0.01:{}:{}:0:0:{}:{}:1:1\n",
                n.node,
                n.uptime.unwrap_or(0),
                n.level.clone().unwrap_or_else(|| "U".into()),
                n.maxcpu.unwrap_or(0.0),
                u(n.cpu.map(|c| c.to_string())),
                n.maxmem.unwrap_or(0),
                n.mem.unwrap_or(0),
                n.maxdisk.unwrap_or(0),
                n.disk.unwrap_or(0),
            )),
            ClusterResource::Storage(s) => rrd.push_str(&format!(
                "pve2-storage/{}/{}:1722500000:{}:{}\n",
                s.node,
                s.storage,
                s.maxdisk.unwrap_or(0),
                s.disk.unwrap_or(0)
            )),
            ClusterResource::Other { .. } => {}
        }
    }
    rrd.push('\0');
    std::fs::write(pve.join(".rrd"), rrd).unwrap();
    std::fs::write(
        pve.join(".vmlist"),
        format!("{{\n\"version\": 3,\n\"ids\": {{\n{}}}\n\n}}\n", ids.join(",\n")),
    )
    .unwrap();
    std::fs::write(pve.join(".members"), format!("{{\n\"nodename\": \"{node}\",\n\"version\": 0\n}}\n"))
        .unwrap();
    std::fs::write(
        pve.join("ha/manager_status"),
        format!("{{\"service_status\":{{{}}}}}", services.join(",")),
    )
    .unwrap();
}

/// `/cluster/resources` from the cluster files is what pvesh answers: the demo's recorded answer,
/// written into the files its writers write, reads back the same guests, node and storages (with
/// HA state, lock, tags); without `.vmlist` the poller falls back to pvesh and says why.
#[tokio::test]
async fn resources_from_the_cluster_files_equal_pveshs_answer() {
    use proxwatch::model::pve::ClusterResource;
    let recorded = std::fs::read_to_string(demo_dir().join("commands/pvesh/cluster_resources.json")).unwrap();
    let from_pvesh = proxwatch::tools::pvesh::parse_cluster_resources(&recorded).unwrap();
    let dir = demo_commands_only();
    write_cluster_files(dir.path(), "pve-demo", &from_pvesh);
    std::fs::copy(demo_dir().join("etc/pve/storage.cfg"), dir.path().join("etc/pve/storage.cfg")).unwrap();
    let host = common::replay_dir(dir.path());
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&host, T0).await;
    let r = &p.state.resources;
    assert_eq!(r.state, SectionState::Ok, "{:?}", r.reason);
    assert_eq!(r.source.as_deref(), Some("cluster files"));
    let from_files = r.data.as_ref().unwrap();
    let norm = |list: &[ClusterResource]| -> Vec<ClusterResource> {
        let mut v: Vec<ClusterResource> = list
            .iter()
            .filter(|x| !matches!(x, ClusterResource::Other { .. }))
            .cloned()
            .map(|mut x| {
                if let ClusterResource::Storage(s) = &mut x {
                    s.content.sort();
                }
                x
            })
            .collect();
        v.sort_by_key(|x| format!("{x:?}"));
        v
    };
    assert_eq!(norm(from_files), norm(&from_pvesh));
    let g: Vec<_> = from_files.iter().filter_map(ClusterResource::as_guest).collect();
    assert_eq!(g.len(), 12);
    assert!(g.iter().any(|g| g.hastate.as_deref() == Some("error") && g.vmid == 104));

    // The demo carries its own cluster files (scenarios/demo/generate_cluster_files.py): the same.
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&demo_host(), T0).await;
    assert_eq!(p.state.resources.source.as_deref(), Some("cluster files"));
    assert_eq!(norm(p.state.resources.data.as_ref().unwrap()), norm(&from_pvesh));

    // Without `.vmlist` (not a PVE host, or pmxcfs down): pvesh, and why.
    std::fs::remove_file(dir.path().join("etc/pve/.vmlist")).unwrap();
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&common::replay_dir(dir.path()), T0).await;
    assert_eq!(p.state.resources.source.as_deref(), Some("pvesh (no /etc/pve/.vmlist; no API token)"));
    assert_eq!(norm(p.state.resources.data.as_ref().unwrap()), norm(&from_pvesh));
}

/// A host without Proxmox and ZFS (whatever the machine running the test has): those sections are
/// `unavailable`, not errors.
#[tokio::test]
async fn missing_tools_are_unavailable_not_errors() {
    let pvesh = |path: &'static str| ["pvesh", "get", path, "--output-format", "json"];
    let (host, _dir) = common::host_without(&[
        &pvesh("/cluster/resources"),
        &pvesh("/nodes/nohost/status"),
        &pvesh("/cluster/status"),
        &pvesh("/nodes/nohost/storage"),
        &pvesh("/nodes/nohost/tasks"),
        &pvesh("/cluster/backup"),
        &pvesh("/nodes/nohost/replication"),
        proxwatch::tools::zpool::LIST_ARGV,
    ]);
    let mut p = InventoryPoller::new("nohost".into(), Intervals::default());
    p.step(&host, T0).await;
    assert_eq!(p.state.resources.state, SectionState::Unavailable, "{:?}", p.state.resources.reason);
    assert!(p.state.resources.reason.as_deref().unwrap().contains("pvesh"));
    assert_eq!(p.state.pools.state, SectionState::Unavailable);
}

#[tokio::test]
async fn guests_api_lists_details_and_acts() {
    let app = TestApp::builder().demo().inventory(T0, 10).services().build().await;
    let (status, body) = app.get("/api/vms").await;
    assert_eq!(status, StatusCode::OK);
    let guests = body["guests"]["data"].as_array().unwrap();
    assert_eq!(guests.len(), 12);
    let ha = guests.iter().find(|g| g["vmid"] == 104).unwrap();
    assert_eq!(ha["hastate"], "error");
    let mail = guests.iter().find(|g| g["vmid"] == 203).unwrap();
    assert_eq!(mail["onboot_stopped"].as_bool(), Some(true));
    let win = guests.iter().find(|g| g["vmid"] == 102).unwrap();
    assert_eq!(
        (win["status"].as_str(), win["onboot"].as_bool(), win["onboot_stopped"].as_bool()),
        (Some("stopped"), Some(true), Some(true))
    );
    let tpl = guests.iter().find(|g| g["vmid"] == 9000).unwrap();
    assert_eq!((tpl["template"].as_bool(), tpl["onboot_stopped"].as_bool()), (Some(true), Some(false)));
    let nc = guests.iter().find(|g| g["vmid"] == 201).unwrap();
    assert_eq!(nc["lock"], "backup");
    // The demo's backups are scheduled job runs (vzdump with an empty id) of a job covering the guests.
    let web = guests.iter().find(|g| g["vmid"] == 101).unwrap();
    assert!(web["last_backup"]["upid"].as_str().unwrap().contains(":vzdump:"), "{web}");
    // The nightly run ended in "job errors", but its log says which guests failed: 101 was backed up.
    assert_eq!(web["last_backup"]["status"], "ok", "{web}");
    assert_eq!(nc["last_backup"]["status"], "failed", "{nc}");
    assert_eq!(nc["last_backup"]["error"], "CT is locked (backup)", "{nc}");
    assert_eq!(win["last_backup"]["error"], "VM 102 qmp command 'backup' failed - got timeout", "{win}");
    let (_, ct) = app.get("/api/vms/201").await;
    let run =
        ct["backups"].as_array().unwrap().iter().find(|b| b["upid"] == nc["last_backup"]["upid"]).unwrap();
    assert_eq!(
        (run["outcome"].as_str(), run["guest_error"].as_str()),
        (Some("failed"), Some("CT is locked (backup)"))
    );
    assert_eq!(run["status"], "job errors", "the job's own verdict is kept beside the guest's");
    assert!(ct["replication"].as_array().unwrap().is_empty());

    let (status, body) = app.get("/api/vms/101").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["config"].is_object(), "{body}");
    assert_eq!(app.get("/api/vms/999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/vms/abc").await.0, StatusCode::BAD_REQUEST);

    // Power actions go through the PVE API: none without a token, then the (replayed) API's task.
    let (status, body) = app.call(Method::POST, "/api/vms/102/start", Some(json!({}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["message"].as_str().unwrap().contains("proxwatch pve connect"), "{body}");
    app.pve_conn.seed_demo().await.unwrap();
    let (status, body) = app.call(Method::POST, "/api/vms/102/start", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["upid"].as_str().unwrap().starts_with("UPID:pve-demo:"));
    assert_eq!(
        (body["status"].as_str(), body["exitstatus"].as_str(), body["ok"].as_bool()),
        (Some("stopped"), Some("OK"), Some(true))
    );
    let (status, body) = app.call(Method::POST, "/api/vms/201/stop", Some(json!({}))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("locked")));
    assert!(body["message"].as_str().unwrap().contains("backup"));
    assert_eq!(app.call(Method::POST, "/api/vms/999/start", Some(json!({}))).await.0, StatusCode::NOT_FOUND);
    let (status, body) = app.call(Method::POST, "/api/vms/102/explode", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("start, shutdown, stop, reboot, suspend, resume"));
}

#[tokio::test]
async fn storage_and_cluster_api_over_the_demo() {
    let app = TestApp::builder().demo().inventory(T0, 10).services().build().await;
    let (status, body) = app.get("/api/storage").await;
    assert_eq!(status, StatusCode::OK);
    let pools = body["pools"]["data"].as_array().unwrap();
    let names: Vec<&str> = pools.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["rpool", "tank"]);
    assert!(pools[0]["status"]["root"].is_object(), "vdev tree included");
    let disks = body["disks"]["data"].as_array().unwrap();
    assert_eq!(disks.len(), 8);
    assert_eq!(pools[1]["health"], "DEGRADED");
    let sdf = disks.iter().find(|d| d["id"] == "sdf").unwrap();
    assert_eq!(sdf["used_by"], "LVM");
    let sdg = disks.iter().find(|d| d["id"] == "sdg").unwrap();
    assert_eq!(sdg["smart"]["state"], "standby");
    let thin = &body["lvm"]["data"]["thin_pools"][0];
    assert_eq!((thin["name"].as_str(), thin["data_percent"].as_f64()), (Some("data"), Some(23.71)));
    let storages = body["storages"]["data"].as_array().unwrap();
    assert!(storages.iter().any(|s| s["storage"] == "local-lvm" && s["type"] == "lvmthin"));
    assert!(storages.iter().any(|s| s["storage"] == "pbs-backup" && s["type"] == "pbs"));
    let sda = disks.iter().find(|d| d["id"] == "sda").unwrap();
    assert_eq!(sda["used_by"], "ZFS rpool");
    assert_eq!(sda["smart"]["state"], "ok");
    assert!(body["storages"]["data"].as_array().unwrap().iter().any(|s| s["storage"] == "local-zfs"));

    let (status, body) = app.get("/api/storage/disks/sda").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["smart"].is_object(), "{body}");
    assert_eq!(app.get("/api/storage/disks/sdz").await.0, StatusCode::NOT_FOUND);

    let (status, body) = app.get("/api/cluster").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["cluster"]["data"]["quorate"], true);
    assert_eq!(body["node"]["data"]["name"], "pve-demo");
    // A standalone node: replication read, nothing configured.
    assert_eq!(body["replication"]["state"], "ok", "{body}");
    assert_eq!(body["replication"]["data"], serde_json::json!([]));
}

#[tokio::test]
async fn wear_is_recorded_daily_and_forecast_from_the_trend() {
    let host = demo_host();
    let mut p = filled(&host).await;
    let db = proxwatch::db::Db::open_in_memory().unwrap();
    assert!(p.wear_step(&db, T0).await.unwrap());
    assert!(!p.wear_step(&db, T0 + 60_000).await.unwrap(), "at most every 30 minutes");
    let f = &p.state.forecasts["/dev/sda"];
    assert_eq!(f.days_of_data, 0);
    assert!(f.basis.contains("two days"), "{}", f.basis);
    // A day later with the same counters: a trend of zero, not a wear-out date.
    assert!(p.wear_step(&db, T0 + 86_400_000).await.unwrap());
    let f = &p.state.forecasts["/dev/sda"];
    assert_eq!((f.days_of_data, f.tb_written_per_day, f.projected_wear_out), (1, Some(0.0), None));
    let rows: i64 =
        db.call_blocking(|c| Ok(c.query_row("SELECT count(*) FROM disk_wear", [], |r| r.get(0))?)).unwrap();
    assert_eq!(rows, 2 * p.state.forecasts.len() as i64, "one row per disk per day");
}

/// Issue 11 item 4: live guest rates come from two readings of moving counters; until there are two
/// they are `null` ("—" on the page), never 0 B/s. The animated demo's counters move with the clock.
#[tokio::test]
async fn guest_rates_need_two_readings_and_the_demo_counters_move() {
    let mut scenario = Scenario::load(&demo_dir()).unwrap();
    // As if the demo had started 100 s ago: counters have grown at each guest's lifetime average.
    let now_s = proxwatch::workers::wall_ms() / 1000;
    scenario.animate_from(now_s - 100);
    let host = Host::replay(scenario, Duration::from_secs(5));
    let app = TestApp::builder().demo().build().await;
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&host, T0).await;
    app.inventory.send_replace(Arc::new(p.state.clone()));
    let (_, body) = app.get("/api/vms").await;
    let web = body["guests"]["data"].as_array().unwrap().iter().find(|g| g["vmid"] == 101).unwrap().clone();
    assert!(web["netin_bps"].is_null() && web["diskwrite_bps"].is_null(), "one reading: no rate yet: {web}");
    // The recorded counters, 100 s of growth later: 48123456789 B in 612345 s of uptime ≈ 78.6 kB/s.
    let c = &p
        .state
        .resources
        .data
        .as_ref()
        .unwrap()
        .iter()
        .find_map(|r| r.as_guest().filter(|g| g.vmid == 101))
        .unwrap();
    assert!(c.netin > 48_123_456_789 + 7_000_000, "the animated counter grew: {}", c.netin);
    // A second reading 10 s of poller time later (the replayed counters moved by wall time only, so
    // the rate is what moved between the two reads; here: a number, not null).
    p.step(&host, T0 + 10_000).await;
    app.inventory.send_replace(Arc::new(p.state.clone()));
    let (_, body) = app.get("/api/vms").await;
    let guests = body["guests"]["data"].as_array().unwrap();
    let web = guests.iter().find(|g| g["vmid"] == 101).unwrap();
    assert!(web["netin_bps"].as_f64().is_some(), "two readings: a rate: {web}");
    let stopped = guests.iter().find(|g| g["vmid"] == 102).unwrap();
    assert!(stopped["netin_bps"].is_null(), "a stopped guest has no rate: {stopped}");
}

/// Issue 11 item 3: the demo carries the recorded wear history that makes a forecast: with it, the
/// worn SSD sdb (90 %, ~0.13 %/day) is forecast to wear out in about two and a half months.
#[tokio::test]
async fn the_demo_wear_history_makes_a_forecast() {
    let db = proxwatch::db::Db::open_in_memory().unwrap();
    let text = std::fs::read_to_string(demo_dir().join("wear-history.csv")).unwrap();
    let today = T0.div_euclid(86_400_000);
    let n = db.call(move |c| proxwatch::wear::import_history(c, &text, today)).await.unwrap();
    assert_eq!(n, 120, "30 days of four SSDs");
    let mut p = filled(&demo_host()).await;
    assert!(p.wear_step(&db, T0).await.unwrap());
    let f = &p.state.forecasts["/dev/sdb"];
    let days_left = (f.projected_wear_out.expect("a projected wear-out") - T0 / 1000) / 86_400;
    assert!((50..=110).contains(&days_left), "{days_left} days: {f:?}");
    assert!(f.tb_written_per_day.is_some_and(|tb| (2.0..3.6).contains(&tb)), "{f:?}");
    assert_eq!(p.state.forecasts["/dev/sda"].projected_wear_out, None, "sda shows no measurable wear");
    // A malformed line is an error that names it.
    let err =
        proxwatch::wear::parse_history("serial,days_before,bytes_written,wear_pct\nX,abc,1,2\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

/// record-scenario keeps what the inventory reads before pvesh: the cluster files, the guest configs,
/// HA, user.cfg's pools (and nothing else of it), the task index and the tasks' logs.
#[tokio::test]
async fn record_scenario_keeps_the_pve_files() {
    let out = tempfile::tempdir().unwrap();
    let demo = demo_dir();
    // The demo with a user.cfg that names a person besides its pool.
    let dir = demo_commands_only();
    let copy = |rel: &str| {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(demo.join(rel), to).unwrap();
    };
    const FILES: [&str; 7] = [
        "etc/pve/.vmlist",
        "etc/pve/.members",
        "etc/pve/.rrd",
        "etc/pve/.version",
        "etc/pve/jobs.cfg",
        "etc/pve/ha/manager_status",
        "var/log/pve/tasks/index",
    ];
    for rel in FILES {
        copy(rel);
    }
    copy("etc/pve/nodes/pve-demo/qemu-server/105.conf");
    std::fs::write(
        dir.path().join("etc/pve/user.cfg"),
        "user:alice@pve:1:0:Alice:Doe:alice@example.com:::\npool:prod::100,101::\n",
    )
    .unwrap();
    // datacenter.cfg with a proxy password: only the tag colours are recorded.
    std::fs::write(
        dir.path().join("etc/pve/datacenter.cfg"),
        "http_proxy: http://bob:s3cret@proxy.lan:3128\ntag-style: color-map=prod:c62828\n",
    )
    .unwrap();
    let host = common::replay_dir(dir.path());
    proxwatch::record::record(&host, out.path()).await.unwrap();
    let has = |rel: &str| out.path().join(rel).exists();
    for rel in FILES {
        assert!(has(rel), "{rel} recorded");
    }
    assert!(has("etc/pve/nodes/pve-demo/qemu-server/105.conf"));
    assert_eq!(
        std::fs::read_to_string(out.path().join("etc/pve/user.cfg")).unwrap(),
        "pool:prod::100,101::\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("etc/pve/datacenter.cfg")).unwrap(),
        "tag-style: color-map=prod:c62828\n"
    );
    assert!(!has("etc/pve/priv"));
}

/// Each Proxmox section of an inventory: its name, where it was read from, and its state.
fn proxmox_sources(s: &proxwatch::workers::inventory::Inventory) -> [(&'static str, &str, SectionState); 7] {
    fn src(o: &Option<String>) -> &str {
        o.as_deref().unwrap_or("")
    }
    [
        ("resources", src(&s.resources.source), s.resources.state),
        ("node_status", src(&s.node_status.source), s.node_status.state),
        ("cluster", src(&s.cluster.source), s.cluster.state),
        ("storage", src(&s.storage.source), s.storage.state),
        ("tasks", src(&s.tasks.source), s.tasks.state),
        ("backup_jobs", src(&s.backup_jobs.source), s.backup_jobs.state),
        ("replication", src(&s.replication.source), s.replication.state),
    ]
}

/// Every Proxmox section of the demo comes from the files PVE's own readers read, and says so; each
/// equals the demo's recorded pvesh answer for it; and after the first minute no `pvesh` runs at all
/// (issue 15: 0 pvesh spawns a minute at steady state where the files are there).
#[tokio::test]
async fn the_demo_reads_proxmox_from_files_and_runs_no_pvesh() {
    use proxwatch::tools::pvesh;
    // The demo as it runs (its kernel files generated), on a fixed clock.
    let host =
        Host::demo_with_clock(Scenario::load(&demo_dir()).unwrap(), Duration::from_secs(5), Arc::new(|| T0));
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    let mut now = T0;
    // An hour at the production cadence: every source has run many times.
    for _ in 0..1800 {
        p.step(&host, now).await;
        now += 2000;
    }
    let s = &p.state;
    for (name, source, state) in proxmox_sources(s) {
        assert_eq!(state, SectionState::Ok, "{name}");
        assert!(source.ends_with("files"), "{name} came from {source:?}");
    }
    let runs = host.runs_by_program();
    assert!(!runs.contains_key("pvesh"), "no pvesh at all: {runs:?}");
    assert!(!runs.contains_key("pveversion"), "{runs:?}");

    let recorded = |f: &str| std::fs::read_to_string(demo_dir().join("commands/pvesh").join(f)).unwrap();
    // The node status: what Nodes.pm reads, read from the same files.
    let want = pvesh::parse_node_status(&recorded("nodes_status.json")).unwrap();
    let got = s.node_status.data.as_ref().unwrap();
    assert_eq!(got.pveversion, want.pveversion);
    assert_eq!(got.kversion, want.kversion);
    assert_eq!(got.current_kernel, want.current_kernel);
    assert_eq!(got.boot_info, want.boot_info);
    assert_eq!(got.ksm, want.ksm);
    assert_eq!(got.cpuinfo.model, want.cpuinfo.model);
    assert_eq!((got.cpuinfo.cpus, got.cpuinfo.sockets), (want.cpuinfo.cpus, want.cpuinfo.sockets));
    assert_eq!(got.rootfs.total, want.rootfs.total);
    assert_eq!(got.memory.total, want.memory.total);
    assert!(got.uptime > 0 && got.loadavg.len() == 3);
    // Storages, the cluster, the backup jobs: the recorded answers (storage content sorted, as
    // storage.cfg's reader writes it; jobs without `next-run`, which PVE computes).
    let mut want = pvesh::parse_node_storage(&recorded("nodes_storage.json")).unwrap();
    let mut got = s.storage.data.clone().unwrap();
    for l in [&mut want, &mut got] {
        l.iter_mut().for_each(|s| s.content.sort());
        l.sort_by(|a, b| a.storage.cmp(&b.storage));
    }
    assert_eq!(got, want);
    let want = pvesh::parse_cluster_status(&recorded("cluster_status.json")).unwrap();
    assert_eq!(s.cluster.data.as_ref().unwrap(), &want);
    let mut want = pvesh::parse_backup_jobs(&recorded("cluster_backup.json")).unwrap();
    want.iter_mut().for_each(|j| j.next_run = None);
    assert_eq!(s.backup_jobs.data.as_ref().unwrap(), &want);
    assert_eq!(s.replication.data.as_ref().unwrap(), &[]);
    // datacenter.cfg's tag colours.
    assert_eq!(s.tag_colors["prod"].bg, "c62828");
    assert_eq!(s.tag_colors["dev"].fg, None);
    // The cluster log: the starts and ends of the recorded tasks, newest first.
    let log = s.clusterlog.data.as_ref().unwrap();
    assert_eq!(log.len(), 30);
    assert!(log.windows(2).all(|w| w[0].time >= w[1].time));
    assert!(log.iter().any(|e| e.msg.ends_with("vzdump:104:root@pam: job errors")));
    // Each local guest's config: the values the monitor uses, as pvesh gives them; the snapshot and
    // pending sections the files carry (pvesh's answer has neither).
    assert_eq!(s.configs.len(), 12);
    assert_eq!(s.configs[&100].snapshots, ["before-pve-8-2"]);
    assert_eq!(s.configs[&101].pending, ["memory"]);
    for (vmid, cfg) in &s.configs {
        let kind = if *vmid >= 200 && *vmid < 300 { "lxc" } else { "qemu" };
        let want = pvesh::parse_guest_config(&recorded(&format!("nodes_{kind}_{vmid}_config.json"))).unwrap();
        assert_eq!(
            (&cfg.name, cfg.onboot, cfg.cores, cfg.memory, cfg.template),
            (&want.name, want.onboot, want.cores, want.memory, want.template),
            "guest {vmid}"
        );
    }
}

/// Without the files, each Proxmox section falls back to pvesh and names why.
#[tokio::test]
async fn without_the_files_each_section_falls_back_to_pvesh_with_the_reason() {
    let dir = demo_commands_only();
    let host = common::replay_dir(dir.path());
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&host, T0).await;
    // (Resources and tasks fall back as well; their own tests check it.)
    for (name, source, state) in
        proxmox_sources(&p.state).into_iter().filter(|(n, ..)| !["resources", "tasks"].contains(n))
    {
        assert_eq!(state, SectionState::Ok, "{name}");
        assert!(source.starts_with("pvesh (no "), "{name}: {source:?}");
    }
    assert!(host.runs_by_program()["pvesh"].runs >= 6);

    // Connected to the PVE API: the API is the second source, and pvesh does not run at all.
    use proxwatch::host::pveapi::{PveLink, Token};
    let host = common::replay_dir(dir.path());
    let link = PveLink::new(Some(Token::new("proxwatch@pve!proxwatch", "not-a-real-secret", false)));
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default()).with_pve(link);
    for k in 0..10 {
        p.step(&host, T0 + k * 2000).await;
    }
    let s = &p.state;
    for (name, source, state) in proxmox_sources(s) {
        assert_eq!(state, SectionState::Ok, "{name}");
        assert!(source.starts_with("PVE API (no "), "{name}: {source:?}");
    }
    assert!(!s.configs.is_empty(), "guest configs through the API");
    let runs = host.runs_by_program();
    assert!(!runs.contains_key("pvesh"), "{runs:?}");
    assert!(runs["pve-api"].runs >= 7 && runs["pve-api"].spawns == 0);
}

/// The cluster filesystem is read at the cost of its status files: after the first refresh, config
/// files are read again only when their `.version` counter moves, guest configs only when their
/// `.vmlist` version moves.
#[tokio::test]
async fn cluster_files_are_read_again_only_when_their_version_moves() {
    use proxwatch::workers::clusterfs::ClusterFs;
    let dir = tempfile::tempdir().unwrap();
    let copy = |rel: &str| {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(demo_dir().join(rel), &to).unwrap();
    };
    std::fs::write(dir.path().join("manifest.toml"), "[scenario]\nname = \"files\"\n").unwrap();
    for f in
        ["etc/pve/.version", "etc/pve/.vmlist", "etc/pve/.members", "etc/pve/.rrd", "etc/pve/storage.cfg"]
    {
        copy(f);
    }
    for e in std::fs::read_dir(demo_dir().join("etc/pve/nodes/pve-demo/qemu-server")).unwrap() {
        copy(&format!("etc/pve/nodes/pve-demo/qemu-server/{}", e.unwrap().file_name().to_string_lossy()));
    }
    let host = common::replay_dir(dir.path());
    let mut fs = ClusterFs::new();
    fs.refresh(&host).unwrap();
    let first = fs.resources(&host).unwrap();
    let after_first = fs.reads;
    assert!(after_first > 10, "{after_first}");
    fs.refresh(&host).unwrap();
    assert_eq!(fs.resources(&host).unwrap(), first);
    assert_eq!(fs.reads - after_first, 4, "only .version, .vmlist, .rrd and .members");

    // storage.cfg changes and its counter moves: read again, and the new storage shows.
    let cfg = dir.path().join("etc/pve/storage.cfg");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\ndir: scratch\n\tpath /srv/scratch\n\tcontent iso\n");
    std::fs::write(&cfg, text).unwrap();
    fs.refresh(&host).unwrap();
    let unchanged = fs.resources(&host).unwrap();
    assert!(!format!("{unchanged:?}").contains("scratch"), "the counter did not move: not read");
    let version = dir.path().join("etc/pve/.version");
    let v = std::fs::read_to_string(&version).unwrap();
    let bumped = v.replace("\"storage.cfg\": ", "\"storage.cfg\": 9");
    assert_ne!(v, bumped);
    std::fs::write(&version, bumped).unwrap();
    fs.refresh(&host).unwrap();
    let changed = fs.resources(&host).unwrap();
    assert!(format!("{changed:?}").contains("scratch"));
}

/// `zpool` runs every 5 minutes, not every minute: between its runs the poller reads the pools'
/// states from the kernel (`/proc/spl/kstat/zfs/<pool>/state`) and runs it at once when one moves.
#[tokio::test]
async fn zpool_runs_on_its_interval_and_at_once_when_a_pool_state_moves() {
    let dir = demo_commands_only();
    let kstat = dir.path().join("proc/spl/kstat/zfs");
    for (pool, state) in [("rpool", "ONLINE"), ("tank", "DEGRADED")] {
        std::fs::create_dir_all(kstat.join(pool)).unwrap();
        std::fs::write(kstat.join(pool).join("state"), format!("{state}\n")).unwrap();
    }
    let host = common::replay_dir(dir.path());
    let runs = |h: &Host| h.runs_by_program().get("zpool").map_or(0, |r| r.runs);
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(&host, T0).await;
    let first = runs(&host);
    assert!(first >= 2, "list and status");
    for m in 1..3 {
        p.step(&host, T0 + m * 60_000).await;
    }
    assert_eq!(runs(&host), first, "nothing moved in 2 minutes");
    std::fs::write(kstat.join("rpool/state"), "DEGRADED\n").unwrap();
    p.step(&host, T0 + 3 * 60_000).await;
    let after = runs(&host);
    assert!(after >= first + 2, "the state moved: zpool list and status at once ({first} then {after})");
    p.step(&host, T0 + 4 * 60_000).await;
    assert_eq!(runs(&host), after);
}

/// A PVE 9 cluster of three nodes, one offline, read from its files as pmxcfs and pvestatd write them
/// (the PVE 9 `.rrd` keys): every node's guests and numbers, the offline node without them, quorum,
/// and `/api/cluster` with each member's numbers and guest counts; no pvesh.
#[tokio::test]
async fn a_pve9_cluster_is_read_from_its_files_for_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let pve = dir.path().join("etc/pve");
    std::fs::create_dir_all(pve.join("nodes/pve1/qemu-server")).unwrap();
    std::fs::create_dir_all(pve.join("nodes/pve2/lxc")).unwrap();
    std::fs::write(dir.path().join("manifest.toml"), "[scenario]\nname = \"pve9-cluster\"\n").unwrap();
    std::fs::write(
        pve.join(".members"),
        "{\n\"nodename\": \"pve1\",\n\"version\": 9,\n\"cluster\": { \"name\": \"lab\", \"version\": 4, \"nodes\": 3, \"quorate\": 1 },\n\"nodelist\": {\n  \"pve1\": { \"id\": 1, \"online\": 1, \"ip\": \"10.0.0.1\"},\n  \"pve2\": { \"id\": 2, \"online\": 1, \"ip\": \"10.0.0.2\"},\n  \"pve3\": { \"id\": 3, \"online\": 0, \"ip\": \"10.0.0.3\"}\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(
        pve.join(".vmlist"),
        "{\n\"version\": 12,\n\"ids\": {\n\"100\": { \"node\": \"pve1\", \"type\": \"qemu\", \"version\": 3 },\n\"101\": { \"node\": \"pve1\", \"type\": \"qemu\", \"version\": 2 },\n\"200\": { \"node\": \"pve2\", \"type\": \"lxc\", \"version\": 5 },\n\"300\": { \"node\": \"pve3\", \"type\": \"qemu\", \"version\": 1 }}\n\n}\n",
    )
    .unwrap();
    std::fs::write(
        pve.join(".rrd"),
        concat!(
            "pve-node-9.0/pve1:1209600::1733400001:1.25:16:0.12:0.01:67108864000:40265318400:8589930496:1048576:100861726720:30064771072:987654321:123456789:25769803776:4294967296:0.5:1.1:0.3:0:0\n",
            "pve-node-9.0/pve2:86400::1733400001:0.52:8:0.031:0.002:33554432000:12884901888:8589930496:0:100861726720:21474836480:123456789:98765432:20000000000:0:0.1:0.2:0:0:0\n",
            "pve-vm-9.0/100:3600:router:running:0:1733400001:2:0.0425:2147483648:1073741824:34359738368:0:1234567:7654321:111111:222222:1181116006:0.1:0:0.2:0:0:0\n",
            "pve-vm-9.0/101:0:web-01:stopped:0:1733400001:4:U:4294967296:U:68719476736:0:U:U:U:U:U:U:U:U:U:U:U\n",
            "pve-vm-9.0/200:7200:db:running:0:1733400001:2:0.01:2147483648:536870912:8589934592:1073741824:1000:2000:3000:4000:536870912:0:0:0:0:0:0\n",
            "pve-storage-9.0/pve1/local:1733400001:100861726720:30064771072\n",
            "pve-storage-9.0/pve2/local:1733400001:100861726720:21474836480\n",
            "\0"
        ),
    )
    .unwrap();
    std::fs::write(pve.join("nodes/pve1/qemu-server/100.conf"), "cores: 2\nname: router\nonboot: 1\n")
        .unwrap();
    std::fs::write(pve.join("nodes/pve1/qemu-server/101.conf"), "cores: 4\nname: web-01\n").unwrap();
    std::fs::write(pve.join("nodes/pve2/lxc/200.conf"), "hostname: db\nmemory: 2048\n").unwrap();
    let host = common::replay_dir(dir.path());
    let mut p = InventoryPoller::new("pve1".into(), Intervals::default());
    p.step(&host, T0).await;
    let s = &p.state;
    assert_eq!(s.resources.source.as_deref(), Some("cluster files"));
    let res = s.resources.data.as_ref().unwrap();
    let guests: Vec<(u64, &str, &str)> = res
        .iter()
        .filter_map(proxwatch::model::pve::ClusterResource::as_guest)
        .map(|g| (g.vmid, g.node.as_str(), g.status.as_str()))
        .collect();
    assert_eq!(
        guests,
        [
            (100, "pve1", "running"),
            (101, "pve1", "stopped"),
            (200, "pve2", "running"),
            (300, "pve3", "unknown")
        ]
    );
    let nodes: Vec<_> = res
        .iter()
        .filter_map(|r| match r {
            proxwatch::model::pve::ClusterResource::Node(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(
        nodes.iter().map(|n| (n.node.as_str(), n.status.as_str())).collect::<Vec<_>>(),
        [("pve1", "online"), ("pve2", "online"), ("pve3", "offline")]
    );
    assert_eq!((nodes[1].maxcpu, nodes[1].mem), (Some(8.0), Some(12_884_901_888)));
    assert_eq!((nodes[2].cpu, nodes[2].mem), (None, None), "an offline node has no live numbers");
    let c = s.cluster.data.as_ref().unwrap();
    assert!(c.quorate());
    assert_eq!(c.local_node().map(|n| n.name.as_str()), Some("pve1"));
    assert_eq!(s.configs.keys().copied().collect::<Vec<_>>(), [100, 101], "this node's guests' configs");
    for (name, source) in [
        ("cluster", &s.cluster.source),
        ("storage", &s.storage.source),
        ("backup_jobs", &s.backup_jobs.source),
        ("replication", &s.replication.source),
    ] {
        assert_eq!(source.as_deref(), Some("cluster files"), "{name}");
    }

    // The cluster API: each member with its numbers and guests.
    let app = TestApp::builder().host(common::replay_dir(dir.path())).inventory(T0, 1).build().await;
    let (status, body) = app.get("/api/cluster").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let members = body["cluster"]["data"]["nodes"].as_array().unwrap();
    assert_eq!(body["cluster"]["data"]["name"], "lab");
    let pve2 = members.iter().find(|m| m["name"] == "pve2").unwrap();
    assert_eq!(
        (pve2["status"].as_str(), pve2["guests_running"].as_u64(), pve2["ip"].as_str()),
        (Some("online"), Some(1), Some("10.0.0.2"))
    );
    let pve3 = members.iter().find(|m| m["name"] == "pve3").unwrap();
    assert_eq!(
        (pve3["online"].as_bool(), pve3["cpu"].is_null(), pve3["guests_total"].as_u64()),
        (Some(false), true, Some(1))
    );
}
