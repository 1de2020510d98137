//! The JSON fields docs/integrations.md's recipes (Homepage, Home Assistant, Uptime Kuma) read exist
//! with the types the recipes expect: a rename fails here, not on someone's dashboard.

use serde_json::Value;

use crate::common::TestApp;

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

#[tokio::test]
async fn the_fields_the_recipes_read_exist() {
    let t = TestApp::builder().sampled().build().await;
    let (status, system) = t.get("/api/system").await;
    assert_eq!(status, 200);
    for path in ["vitals.cpu.total.busy", "vitals.memory.used_pct", "vitals.load.0", "identity.uptime_s"] {
        assert!(at(&system, path).is_number(), "{path} in /api/system: {system}");
    }
    let (status, health) = t.get("/api/health").await;
    assert_eq!(status, 200);
    assert!(
        ["ok", "info", "warning", "critical", "unknown", "pending"]
            .contains(&health["status"].as_str().unwrap_or("")),
        "{health}"
    );
    for path in ["counts.critical", "counts.warning"] {
        assert!(at(&health, path).is_number(), "{path} in /api/health: {health}");
    }
    let (status, live) = crate::common::get(&t, "", "/api/health/live").await;
    assert_eq!((status.as_u16(), live["status"].as_str()), (200, Some("ok")), "no token needed");
}

/// `/api/openapi.json` serves the committed description: plain, or gzipped as built into the binary.
#[tokio::test]
async fn the_openapi_description_is_served_plain_and_gzipped() {
    use std::io::Read;
    let t = TestApp::builder().build().await;
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json")).unwrap(),
    )
    .unwrap();
    let (status, headers, body) = t.get_raw("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), committed);
    assert_eq!(committed["openapi"], "3.1.0");

    let req = axum::http::Request::get("/api/openapi.json")
        .header("authorization", format!("Bearer {}", t.token))
        .header("accept-encoding", "gzip, br")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers, gz) = crate::common::read(t.send(req).await).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(gz.len() * 5 < body.len(), "gzipped {} of {} bytes", gz.len(), body.len());
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut text).unwrap();
    assert_eq!(text, body);

    // Like the rest of /api: not without credentials.
    let anon = axum::http::Request::get("/api/openapi.json").body(axum::body::Body::empty()).unwrap();
    assert_eq!(t.send(anon).await.status(), 401);
}

/// `GET /api/system/self`: what proxwatch ran, by program (the demo's inventory replays the disk
/// tools; a replayed host spawns nothing), and proxwatch's own memory, CPU and database size.
#[tokio::test]
async fn self_counts_the_programs_run_by_program() {
    let t = TestApp::builder().demo().inventory(crate::common::T0_MS, 3).build().await;
    let (status, v) = t.get("/api/system/self").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["spawns"], 0, "a replayed host starts no process: {v}");
    let by = v["by_program"].as_object().unwrap();
    let total: u64 = by.values().map(|p| p["runs"].as_u64().unwrap()).sum();
    assert_eq!(total, v["runs"].as_u64().unwrap(), "{v}");
    assert!(by.contains_key("smartctl"), "{v}");
    assert!(v["uptime_s"].is_u64());
    // The test process itself: some memory, some threads.
    assert!(v["process"]["rss_bytes"].as_u64().unwrap() > 1 << 20, "{v}");
    assert!(v["process"]["threads"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["db_bytes"].is_u64(), "{v}");
}
