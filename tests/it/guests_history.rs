//! Guest RRD history (`/api/vms/{vmid}/rrd`) and task logs (`/api/tasks/{upid}/log`) over the demo
//! scenario: both read through the action runner, the history cached per (guest, timeframe).

use axum::http::StatusCode;

use crate::common::{self, TestApp};

const STEPS: [(&str, u64); 5] =
    [("hour", 60), ("day", 1800), ("week", 10_800), ("month", 43_200), ("year", 604_800)];

#[tokio::test]
async fn guest_history_for_every_demo_guest_and_timeframe() {
    let app = TestApp::builder().demo().inventory(common::T0_MS, 10).services().build().await;
    for vmid in [100, 101, 102, 9000, 200, 201, 202] {
        for (tf, step) in STEPS {
            let (status, body) = app.get(&format!("/api/vms/{vmid}/rrd?timeframe={tf}")).await;
            assert_eq!(status, StatusCode::OK, "{vmid} {tf}: {body}");
            assert_eq!(body["vmid"], vmid);
            assert_eq!(body["timeframe"], tf);
            let points = body["points"].as_array().unwrap();
            assert_eq!(points.len(), 70, "{vmid} {tf}");
            let times: Vec<u64> = points.iter().map(|p| p["time"].as_u64().unwrap()).collect();
            assert!(times.windows(2).all(|w| w[1] - w[0] == step), "{vmid} {tf}: {step} s steps");
        }
    }
    // A running guest: values everywhere in the last hour, and they vary.
    let (_, body) = app.get("/api/vms/101/rrd?timeframe=hour").await;
    let points = body["points"].as_array().unwrap();
    let cpu: Vec<f64> = points.iter().map(|p| p["cpu"].as_f64().unwrap()).collect();
    assert!(cpu.iter().all(|c| (0.0..=1.0).contains(c)));
    assert!(cpu.iter().any(|c| *c != cpu[0]));
    for key in ["mem", "maxmem", "netin", "netout", "diskread", "diskwrite"] {
        assert!(points[0][key].is_number(), "{key}");
    }
    assert_eq!(points[0]["maxmem"].as_f64(), Some(8.0 * 1024.0 * 1024.0 * 1024.0));
    // The template never ran: time only.
    let (_, body) = app.get("/api/vms/9000/rrd?timeframe=day").await;
    assert!(body["points"].as_array().unwrap().iter().all(|p| p["cpu"].is_null() && p["time"].is_u64()));
    // Without a timeframe: the last hour.
    let (status, body) = app.get("/api/vms/200/rrd").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["timeframe"], "hour");
}

#[tokio::test]
async fn guest_history_is_cached_per_guest_and_timeframe() {
    let app = TestApp::builder().demo().inventory(common::T0_MS, 10).services().build().await;
    assert_eq!(app.rrd_cache.fills(), 0);
    let (status, first) = app.get("/api/vms/101/rrd?timeframe=hour").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.rrd_cache.fills(), 1);
    let (_, second) = app.get("/api/vms/101/rrd?timeframe=hour").await;
    assert_eq!(first, second);
    assert_eq!(app.rrd_cache.fills(), 1, "the second call is answered from memory, without pvesh");
    app.get("/api/vms/101/rrd?timeframe=week").await;
    app.get("/api/vms/100/rrd?timeframe=hour").await;
    assert_eq!(app.rrd_cache.fills(), 3, "another timeframe or guest is another entry");
    // Concurrent misses for one key run pvesh once.
    let calls: Vec<_> = (0..8).map(|_| app.get("/api/vms/201/rrd?timeframe=month")).collect();
    for (status, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(app.rrd_cache.fills(), 4);
    assert_eq!(app.rrd_cache.len(), 4);
}

#[tokio::test]
async fn guest_history_rejects_bad_timeframes_and_unknown_guests() {
    let app = TestApp::builder().demo().inventory(common::T0_MS, 10).services().build().await;
    let (status, body) = app.get("/api/vms/101/rrd?timeframe=decade").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("hour, day, week, month, year"), "{msg}");
    let (status, _) = app.get("/api/vms/555/rrd?timeframe=hour").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/vms/abc/rrd").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.rrd_cache.fills(), 0, "nothing ran");
    // Anonymous: refused.
    let (status, _) = common::get(&app, "nope", "/api/vms/101/rrd").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

const VZDUMP_ERRORS: &str = "UPID:pve-demo:002BB139:071C6C45:66AAEC20:vzdump::root@pam:";
const VZDUMP_OK: &str = "UPID:pve-demo:00283C69:06989645:66A99AA0:vzdump::root@pam:";

#[tokio::test]
async fn task_logs_are_read_through_pvesh() {
    let app = TestApp::builder().demo().inventory(common::T0_MS, 10).services().build().await;
    let (status, body) = app.get(&format!("/api/tasks/{VZDUMP_ERRORS}/log")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["upid"], VZDUMP_ERRORS);
    let lines: Vec<&str> = body["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(lines.iter().any(|l| l.starts_with("ERROR: Backup of VM 102 failed - ")), "{lines:?}");
    assert_eq!(lines.last(), Some(&"TASK ERROR: job errors"));

    let (status, body) = app.get(&format!("/api/tasks/{VZDUMP_OK}/log")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = body["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l == "INFO: Finished Backup of VM 101 (00:08:32)"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "TASK OK");

    // Percent-encoded (as the SPA sends it) is the same task.
    let encoded = VZDUMP_OK.replace(':', "%3A").replace('@', "%40");
    let (status, body) = app.get(&format!("/api/tasks/{encoded}/log")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["upid"], VZDUMP_OK);
}

#[tokio::test]
async fn task_logs_reject_bad_upids_other_nodes_and_report_pvesh_failures() {
    let app = TestApp::builder().demo().inventory(common::T0_MS, 10).services().build().await;
    for bad in ["nonsense", "UPID:pve-demo:xyz:0:0:vzdump::root@pam:", "UPID:pve-demo:1:2:3:vzdump::root@pam"]
    {
        let (status, body) = app.get(&format!("/api/tasks/{bad}/log")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let other = "UPID:pve2:002BB139:071C6C45:66AAEC20:vzdump::root@pam:";
    let (status, _) = app.get(&format!("/api/tasks/{other}/log")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The demo records a task whose log is gone (pvesh fails), and has no recording at all for
    // another well-formed UPID: both are a plain 404 that names neither pvesh's stderr nor an argv.
    for gone in [
        "UPID:pve-demo:00001234:00ABCDEF:66000000:vzdump::root@pam:",
        "UPID:pve-demo:0000BEEF:00ABCDEF:66000001:qmstart:100:root@pam:",
    ] {
        let (status, body) = app.get(&format!("/api/tasks/{gone}/log")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let msg = body["message"].as_str().unwrap();
        assert!(msg.starts_with("no task UPID:pve-demo:"), "{body}");
        assert!(!msg.contains("No such file") && !msg.contains("pvesh") && !msg.contains('['), "{body}");
    }
}
