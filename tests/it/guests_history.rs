//! Guest RRD history (`/api/vms/{vmid}/rrd`) and task logs (`/api/tasks/{upid}/log`) over the demo
//! scenario: both read through the action runner, the history cached per (guest, timeframe).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use proxwatch::app::App;
use proxwatch::host::{Host, Scenario};
use proxwatch::workers::inventory::{Intervals, InventoryPoller};
use serde_json::Value;
use tower::ServiceExt;

use crate::common;

fn demo_host() -> Host {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
    Host::replay(Scenario::load(&dir).unwrap(), Duration::from_secs(5))
}

async fn demo_app() -> (Arc<App>, String) {
    let app =
        App::new(common::test_config(), demo_host(), proxwatch::db::Db::open_in_memory().unwrap(), None)
            .unwrap();
    let host = demo_host();
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    for k in 0..10 {
        p.step(&host, common::T0_MS + k * 2000).await;
    }
    app.inventory.send_replace(Arc::new(p.state.clone()));
    app.spawn_actions();
    let token = common::admin_token(&app).await;
    (app, token)
}

async fn get(app: &Arc<App>, token: &str, uri: &str) -> (StatusCode, Value) {
    let req = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty());
    let resp = proxwatch::app::router(app.clone()).oneshot(req.unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

const STEPS: [(&str, u64); 5] =
    [("hour", 60), ("day", 1800), ("week", 10_800), ("month", 43_200), ("year", 604_800)];

#[tokio::test]
async fn guest_history_for_every_demo_guest_and_timeframe() {
    let (app, token) = demo_app().await;
    for vmid in [100, 101, 102, 9000, 200, 201, 202] {
        for (tf, step) in STEPS {
            let (status, body) = get(&app, &token, &format!("/api/vms/{vmid}/rrd?timeframe={tf}")).await;
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
    let (_, body) = get(&app, &token, "/api/vms/101/rrd?timeframe=hour").await;
    let points = body["points"].as_array().unwrap();
    let cpu: Vec<f64> = points.iter().map(|p| p["cpu"].as_f64().unwrap()).collect();
    assert!(cpu.iter().all(|c| (0.0..=1.0).contains(c)));
    assert!(cpu.iter().any(|c| *c != cpu[0]));
    for key in ["mem", "maxmem", "netin", "netout", "diskread", "diskwrite"] {
        assert!(points[0][key].is_number(), "{key}");
    }
    assert_eq!(points[0]["maxmem"].as_f64(), Some(8.0 * 1024.0 * 1024.0 * 1024.0));
    // The template never ran: time only.
    let (_, body) = get(&app, &token, "/api/vms/9000/rrd?timeframe=day").await;
    assert!(body["points"].as_array().unwrap().iter().all(|p| p["cpu"].is_null() && p["time"].is_u64()));
    // Without a timeframe: the last hour.
    let (status, body) = get(&app, &token, "/api/vms/200/rrd").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["timeframe"], "hour");
}

#[tokio::test]
async fn guest_history_is_cached_per_guest_and_timeframe() {
    let (app, token) = demo_app().await;
    assert_eq!(app.rrd_cache.fills(), 0);
    let (status, first) = get(&app, &token, "/api/vms/101/rrd?timeframe=hour").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.rrd_cache.fills(), 1);
    let (_, second) = get(&app, &token, "/api/vms/101/rrd?timeframe=hour").await;
    assert_eq!(first, second);
    assert_eq!(app.rrd_cache.fills(), 1, "the second call is answered from memory, without pvesh");
    get(&app, &token, "/api/vms/101/rrd?timeframe=week").await;
    get(&app, &token, "/api/vms/100/rrd?timeframe=hour").await;
    assert_eq!(app.rrd_cache.fills(), 3, "another timeframe or guest is another entry");
    // Concurrent misses for one key run pvesh once.
    let calls: Vec<_> = (0..8).map(|_| get(&app, &token, "/api/vms/201/rrd?timeframe=month")).collect();
    for (status, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(app.rrd_cache.fills(), 4);
    assert_eq!(app.rrd_cache.len(), 4);
}

#[tokio::test]
async fn guest_history_rejects_bad_timeframes_and_unknown_guests() {
    let (app, token) = demo_app().await;
    let (status, body) = get(&app, &token, "/api/vms/101/rrd?timeframe=decade").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("hour, day, week, month, year"), "{msg}");
    let (status, _) = get(&app, &token, "/api/vms/555/rrd?timeframe=hour").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, &token, "/api/vms/abc/rrd").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.rrd_cache.fills(), 0, "nothing ran");
    // Anonymous: refused.
    let (status, _) = get(&app, "nope", "/api/vms/101/rrd").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

const VZDUMP_ERRORS: &str = "UPID:pve-demo:002BB139:071C6C45:66AAEC20:vzdump::root@pam:";
const VZDUMP_OK: &str = "UPID:pve-demo:00283C69:06989645:66A99AA0:vzdump::root@pam:";

#[tokio::test]
async fn task_logs_are_read_through_pvesh() {
    let (app, token) = demo_app().await;
    let (status, body) = get(&app, &token, &format!("/api/tasks/{VZDUMP_ERRORS}/log")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["upid"], VZDUMP_ERRORS);
    let lines: Vec<&str> = body["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(lines.iter().any(|l| l.starts_with("ERROR: Backup of VM 102 failed - ")), "{lines:?}");
    assert_eq!(lines.last(), Some(&"TASK ERROR: job errors"));

    let (status, body) = get(&app, &token, &format!("/api/tasks/{VZDUMP_OK}/log")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = body["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l == "INFO: Finished Backup of VM 101 (00:08:32)"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "TASK OK");

    // Percent-encoded (as the SPA sends it) is the same task.
    let encoded = VZDUMP_OK.replace(':', "%3A").replace('@', "%40");
    let (status, body) = get(&app, &token, &format!("/api/tasks/{encoded}/log")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["upid"], VZDUMP_OK);
}

#[tokio::test]
async fn task_logs_reject_bad_upids_other_nodes_and_report_pvesh_failures() {
    let (app, token) = demo_app().await;
    for bad in ["nonsense", "UPID:pve-demo:xyz:0:0:vzdump::root@pam:", "UPID:pve-demo:1:2:3:vzdump::root@pam"]
    {
        let (status, body) = get(&app, &token, &format!("/api/tasks/{bad}/log")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let other = "UPID:pve2:002BB139:071C6C45:66AAEC20:vzdump::root@pam:";
    let (status, _) = get(&app, &token, &format!("/api/tasks/{other}/log")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The demo records a task whose log is gone (pvesh fails), and has no recording at all for
    // another well-formed UPID: both are a plain 404 that names neither pvesh's stderr nor an argv.
    for gone in [
        "UPID:pve-demo:00001234:00ABCDEF:66000000:vzdump::root@pam:",
        "UPID:pve-demo:0000BEEF:00ABCDEF:66000001:qmstart:100:root@pam:",
    ] {
        let (status, body) = get(&app, &token, &format!("/api/tasks/{gone}/log")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let msg = body["message"].as_str().unwrap();
        assert!(msg.starts_with("no task UPID:pve-demo:"), "{body}");
        assert!(!msg.contains("No such file") && !msg.contains("pvesh") && !msg.contains('['), "{body}");
    }
}
