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
