//! The API driven in-process through `app::router` (no sockets), over the pve-zfs replay scenario.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use proxwatch::app::LiveSample;
use proxwatch::model::Clock;
use proxwatch::workers::processes::ProcessScanner;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{self, TestApp};

/// `GET uri` that must answer JSON (checked: the content type and the body).
async fn get_json(app: &TestApp, uri: &str) -> (StatusCode, Value) {
    let (status, headers, body) = app.get_raw(uri).await;
    assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "application/json", "{uri}");
    (status, serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{uri}: {e}")))
}

#[tokio::test]
async fn health_live_is_public_and_versioned() {
    let app = TestApp::builder().sampled().build().await;
    let (status, body) = get_json(&app, "/api/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], proxwatch::VERSION);
}

#[tokio::test]
async fn system_serves_identity_and_latest_vitals() {
    let app = TestApp::builder().sampled().build().await;
    let (status, body) = get_json(&app, "/api/system").await;
    assert_eq!(status, StatusCode::OK);
    let id = &body["identity"];
    assert_eq!(id["hostname"], "pve-zfs");
    assert_eq!(
        (id["sockets"].as_u64(), id["cores"].as_u64(), id["threads"].as_u64()),
        (Some(1), Some(8), Some(16))
    );
    assert!(id["cpu_model"].as_str().unwrap().contains("Xeon"), "{id}");
    assert!(id["pve_version"].as_str().unwrap().starts_with("pve-manager/"), "{id}");
    let v = &body["vitals"];
    assert!(v["memory"]["arc"].as_u64().unwrap() > 0, "ARC reported: {v}");
    assert!(v["psi"]["cpu"]["some_avg10"].is_number());
    assert!(v["cpu_temp_c"].as_f64().unwrap() > 20.0);
    assert!(body["demo"].is_null());
}

#[tokio::test]
async fn system_without_a_sample_yet_says_null_not_error() {
    let app = TestApp::builder().sampled().build().await;
    app.vitals.send_replace(None);
    let (status, body) = get_json(&app, "/api/system").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["vitals"].is_null());
}

#[tokio::test]
async fn processes_are_sorted_limited_and_carry_their_guest() {
    let app = TestApp::builder().sampled().build().await;
    let mut scanner = ProcessScanner::new();
    let snap = scanner.step(&app.host, common::T0_MS).unwrap();
    app.processes.send_replace(Arc::new(snap));
    let (status, body) = get_json(&app, "/api/processes?sort=mem&limit=50").await;
    assert_eq!(status, StatusCode::OK);
    let procs = body["processes"].as_array().unwrap();
    assert!(!procs.is_empty());
    let rss: Vec<u64> = procs.iter().map(|p| p["rss_bytes"].as_u64().unwrap()).collect();
    assert!(rss.windows(2).all(|w| w[0] >= w[1]), "sorted by memory: {rss:?}");
    let kvm = procs.iter().find(|p| p["name"] == "kvm").expect("a kvm process");
    assert_eq!((kvm["vmid"].as_u64(), kvm["guest_kind"].as_str()), (Some(101), Some("qemu")));
    assert!(procs.iter().any(|p| p["guest_kind"] == "lxc" && p["vmid"] == 200), "{procs:?}");
    let init = procs.iter().find(|p| p["pid"] == 1).unwrap();
    assert!(init["vmid"].is_null());
    assert_eq!(init["user"], "root");

    let (_, body) = get_json(&app, "/api/processes?limit=1").await;
    assert_eq!(body["processes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_valid_values() {
    let app = TestApp::builder().sampled().build().await;
    for (uri, needle) in [
        ("/api/processes?sort=disk", "cpu, mem"),
        ("/api/processes?limit=0", "1 to 500"),
        ("/api/processes?limit=abc", "1 to 500"),
        ("/api/processes?bogus=1", "sort, limit"),
        ("/api/history?metric=cpu.totl&range=1h", "cpu.total"),
        ("/api/history?metric=cpu.total&range=2h", "live, 1h, 6h, 24h, 7d, 30d, 1y"),
        ("/api/history?range=1h", "metric is required"),
        ("/api/history?metric=%ZZ", "valid metrics"),
    ] {
        let (status, body) = get_json(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["error"], "bad_request", "{uri}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{uri}: {body}");
    }
}

#[tokio::test]
async fn history_lists_metrics_and_serves_live_and_rollup_ranges() {
    // The rollup ranges end at the app's clock: a manual one, a second after the sample.
    let app = TestApp::builder().sampled().clock(Clock::manual(common::T0_MS + 1000)).build().await;
    let (_, body) = get_json(&app, "/api/history/metrics").await;
    let names: Vec<&str> =
        body["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"cpu.total") && names.contains(&"net.rx") && names.contains(&"temp.cpu"));
    assert_eq!(body["ranges"].as_array().unwrap().len(), 7);

    let (status, body) = get_json(&app, "/api/history?metric=cpu.total&range=live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["step_s"], 1.0);
    let pts = body["points"].as_array().unwrap();
    assert_eq!(pts.len(), 1);
    assert_eq!(pts[0][0].as_i64(), Some(common::T0_MS / 1000 + 1));

    let (status, body) = get_json(&app, "/api/history?metric=mem.used&range=24h").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["step_s"], 120.0);
    let pts = body["points"].as_array().unwrap();
    assert!(pts.len() >= 720 && pts.len() <= 722, "{}", pts.len());
    for w in pts.windows(2) {
        assert_eq!(w[1][0].as_i64().unwrap() - w[0][0].as_i64().unwrap(), 120);
    }
}

#[tokio::test]
async fn unknown_api_paths_are_json_404_and_client_routes_get_the_spa() {
    let app = TestApp::builder().sampled().build().await;
    let (status, body) = get_json(&app, "/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("/api/nope"));
    let (status, _) = get_json(&app, "/api/system/extra/segments").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let resp = app.send(common::authed(&app.token, Method::POST, "/api/system", None)).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"], "method_not_allowed", "{body}");
    assert!(body["message"].as_str().unwrap().contains("POST"), "{body}");

    let (status, headers, body) = app.get_raw("/storage").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(
        String::from_utf8_lossy(&body).contains("<html")
            || String::from_utf8_lossy(&body).contains("<!doctype")
    );
    let etag = headers[header::ETAG].to_str().unwrap().to_string();

    let resp =
        app.send(Request::get("/").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    let (status, _, _) = app.get_raw("/assets/does-not-exist.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hashed_assets_are_immutable() {
    let app = TestApp::builder().sampled().build().await;
    let (_, _, index) = app.get_raw("/").await;
    let index = String::from_utf8(index).unwrap();
    let Some(start) = index.find("/assets/") else {
        panic!("index.html references no /assets/ file: {index}");
    };
    let end = index[start..].find('"').map(|e| start + e).unwrap();
    let (status, headers, _) = app.get_raw(&index[start..end]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert!(headers.contains_key(header::ETAG));
}

#[tokio::test]
async fn live_stream_pushes_each_new_sample() {
    let app = TestApp::builder().sampled().build().await;
    let resp = app.send(common::authed(&app.token, Method::GET, "/api/live", None)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    // A proxy (nginx) must pass events on at once, not buffer them.
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let mut body = resp.into_body();
    // The current sample first, then the next one published.
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first = String::from_utf8_lossy(&first).to_string();
    assert!(first.starts_with("event: vitals\ndata: {"), "{first}");
    let mut next = common::sample_pair();
    next.ts += 1000;
    app.vitals.send_replace(Some(Arc::new(LiveSample::new(next).unwrap())));
    // The health verdict comes once in between (`event: health`), then only when it moves.
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let second = String::from_utf8_lossy(&second).to_string();
    assert!(second.starts_with("event: health\ndata: {\"status\":\"pending\""), "{second}");
    let third = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let third = String::from_utf8_lossy(&third).to_string();
    assert!(third.contains(&format!("\"ts\":{}", common::T0_MS + 2000)), "{third}");
    // Stopping the app ends the stream (so graceful shutdown is not held up).
    app.cancel.cancel();
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn live_streams_are_bounded() {
    let app = TestApp::builder().config(|c| c.server.max_live_clients = 1).build().await;
    let first = app.send(common::authed(&app.token, Method::GET, "/api/live", None)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (status, body) = get_json(&app, "/api/live").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "unavailable");
    drop(first);
    let again = app.send(common::authed(&app.token, Method::GET, "/api/live", None)).await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_path_is_never_the_spa() {
    let app = TestApp::builder().sampled().build().await;
    let (status, headers, _) = app.get_raw("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    // Another method, or the endpoint turned off: a JSON error, never the dashboard's HTML.
    let (status, headers, _) =
        common::read(app.send(common::authed(&app.token, Method::PUT, "/metrics", None)).await).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let off = TestApp::builder().config(|c| c.metrics.enabled = false).build().await;
    let (status, headers, _) = off.get_raw("/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn works_behind_a_reverse_proxy_sub_path() {
    let app = TestApp::builder().config(|c| c.server.base_path = "/proxwatch/".into()).build().await;
    let token = app.token.clone();
    let call = |uri: &'static str| {
        let svc = proxwatch::app::service(app.clone());
        let token = token.clone();
        async move {
            let req = Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let resp = svc.oneshot(req).await.unwrap();
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, headers, String::from_utf8_lossy(&body).to_string())
        }
    };
    let (status, _, body) = call("/proxwatch/api/health/live").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = call("/proxwatch/api/processes?sort=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "query strings survive the rewrite");
    let (status, _, _) = call("/api/health/live").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The prefix ends on a segment boundary: what follows a bare `/proxwatch` is not a path (nor,
    // parsed as an authority, the request's host).
    for outside in ["/proxwatchapi/health/live", "/proxwatchlocalhost", "/proxwatch.example.com"] {
        let (status, _, body) = call(outside).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{outside}: {body}");
    }
    let (status, headers, _) = call("/").await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/proxwatch/");
    let (status, _, body) = call("/proxwatch/vms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"<base href="/proxwatch/" />"#), "{body}");
    assert_eq!(body.matches("<base ").count(), 1, "{body}");
}

/// Static files go out precompressed when the browser accepts it: brotli first, then gzip (which
/// decompresses to the very file), neither when refused with q=0, with `Vary` and an ETag of each
/// representation's own.
#[tokio::test]
async fn web_assets_are_served_precompressed_when_accepted() {
    use std::io::Read;
    let app = TestApp::builder().sampled().build().await;
    let (_, _, index) = app.get_raw("/").await;
    let index = String::from_utf8_lossy(&index).to_string();
    let script = index
        .split("src=\"./")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("index.html loads a script from assets/")
        .to_string();
    let fetch = |enc: Option<&'static str>| {
        let app = app.clone();
        let uri = format!("/{script}");
        async move {
            let mut req = Request::get(uri);
            if let Some(e) = enc {
                req = req.header(header::ACCEPT_ENCODING, e);
            }
            let resp = common::send(&app, req.body(Body::empty()).unwrap()).await;
            let headers = resp.headers().clone();
            (resp.status(), headers, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
        }
    };
    let (s, plain_h, plain) = fetch(None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(plain_h.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain_h[header::VARY], "Accept-Encoding");
    let (_, br_h, br) = fetch(Some("gzip, deflate, br, zstd")).await;
    assert_eq!(br_h[header::CONTENT_ENCODING], "br");
    assert!(br.len() * 2 < plain.len(), "brotli {} vs {} bytes", br.len(), plain.len());
    assert_ne!(br_h[header::ETAG], plain_h[header::ETAG], "each representation has its own ETag");
    let (_, gz_h, gz) = fetch(Some("gzip")).await;
    assert_eq!(gz_h[header::CONTENT_ENCODING], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain, "the gzip copy is the file");
    let (_, refused_h, _) = fetch(Some("br;q=0, gzip;q=0")).await;
    assert!(refused_h.get(header::CONTENT_ENCODING).is_none());
}

/// A background loop that panics (release builds unwind) is logged and stops the appliance with an
/// error, so systemd restarts it; a loop that ends normally does not.
#[tokio::test]
async fn a_panicking_background_loop_stops_the_appliance_for_a_restart() {
    let app = common::app().await;
    app.loops.spawn("fine", async {});
    app.tracker.close();
    app.tracker.wait().await;
    assert!(!app.cancel.is_cancelled() && app.loop_failed.get().is_none());

    let app = common::app().await;
    app.loops.spawn("boom", async { panic!("a bug in a worker") });
    tokio::time::timeout(std::time::Duration::from_secs(10), app.cancel.cancelled())
        .await
        .expect("the appliance is told to stop");
    assert_eq!(app.loop_failed.get().map(String::as_str), Some("boom: a bug in a worker"));
}
