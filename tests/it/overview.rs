//! The Overview's summary (issue 17): `GET /api/overview` over the demo with the real rules agrees with
//! `/api/health` and `/api/vms`, names the FAULTED disk and the worn SSD with links, gives every card
//! data or a reason; the verdict is there before the first cycle after a restart; the live stream
//! pushes it.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use proxwatch::health::cycle::Engine;
use serde_json::Value;

use crate::common::{self, TestApp};

const T0: i64 = common::T0_MS;

/// The demo with one full cycle of the real rules. The recording is not moved to the test's clock (the
/// demo command does that), so its backups would be 318 days old: the backup age allowed here is a
/// year, which leaves the recorded problems to lead the strip as they do in the demo.
async fn demo_after_a_cycle() -> (TestApp, Engine) {
    let app = TestApp::builder().demo().inventory(T0, 10).build().await;
    app.vitals.send_replace(Some(Arc::new(proxwatch::app::LiveSample::new(common::sample_pair()).unwrap())));
    let year = serde_json::json!({"backups.max_age_days": 364, "backups.critical_age_days": 365});
    let (s, b) = common::call(&app, &app.token, Method::PUT, "/api/health/thresholds", Some(year)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut e = Engine::new(proxwatch::health::rules::RULES, T0 - 3_600_000, 300);
    e.step_full(&app.health_io(), T0 + 20_000).await.unwrap();
    (app, e)
}

fn problems(counts: &Value) -> u64 {
    ["critical", "warning", "unknown"].iter().map(|k| counts[k].as_u64().unwrap()).sum()
}

#[tokio::test]
async fn the_overview_agrees_with_health_and_the_guest_list_and_names_what_is_wrong() {
    let (app, _e) = demo_after_a_cycle().await;
    let (s, o) = app.get("/api/overview").await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let (_, h) = app.get("/api/health").await;
    assert_eq!(o["health"]["counts"], h["counts"], "the same counts as /api/health");
    assert_eq!(o["health"]["status"], h["status"]);
    assert_eq!(o["health"]["summary"], h["summary"]);

    // At most five lines, critical first, one per object; `more` is what they leave out.
    let items = o["attention"].as_array().unwrap();
    assert!((1..=5).contains(&items.len()), "{items:?}");
    let rank =
        |v: &Value| ["critical", "warning", "unknown"].iter().position(|s| v["severity"] == *s).unwrap();
    assert!(items.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "critical first: {items:?}");
    let covered: u64 = items.iter().map(|a| 1 + a["also"].as_u64().unwrap()).sum();
    assert_eq!(o["more"].as_u64().unwrap(), problems(&o["health"]["counts"]) - covered);
    let mut objects: Vec<&str> = items.iter().filter_map(|a| a["object"].as_str()).collect();
    let n = objects.len();
    objects.sort();
    objects.dedup();
    assert_eq!(objects.len(), n, "one line per object: {items:?}");
    // The FAULTED member of the DEGRADED pool and the SSD at 90 % wear, each with a link to the disk.
    let line = |needle: &str| {
        items
            .iter()
            .find(|a| a["reason"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {items:?}"))
    };
    let hrefs = |a: &Value| -> Vec<String> {
        a["links"].as_array().unwrap().iter().map(|l| l["href"].as_str().unwrap().to_string()).collect()
    };
    let pool = line("FAULTED");
    assert_eq!(pool["object"], "pool tank");
    assert!(hrefs(pool).contains(&"/storage/disks/sde".to_string()), "{pool}");
    let worn = line("of rated endurance used");
    assert_eq!(worn["severity"], "critical");
    assert_eq!(hrefs(worn)[0], "/storage/disks/sdb");

    // The guest card counts what /api/vms lists.
    let (_, vms) = app.get("/api/vms").await;
    let guests = vms["guests"]["data"].as_array().unwrap();
    let count = |f: &dyn Fn(&Value) -> bool| guests.iter().filter(|g| f(g)).count() as u64;
    let g = &o["guests"]["data"];
    assert_eq!(g["total"].as_u64().unwrap(), guests.len() as u64);
    assert_eq!(
        g["running"].as_u64().unwrap(),
        count(&|g| g["status"] == "running" && g["template"] == false)
    );
    assert_eq!(
        g["stopped"].as_u64().unwrap(),
        count(&|g| g["status"] == "stopped" && g["template"] == false)
    );
    assert_eq!(g["templates"].as_u64().unwrap(), count(&|g| g["template"] == true));
    let with = count(&|g| g["problems"].as_u64().unwrap() > 0);
    assert!(with > 0);
    assert_eq!(g["with_problems"].as_u64().unwrap(), with);

    // Every card has data or says why not; the demo's disks and pools are as recorded.
    for card in ["guests", "storage", "disks", "backups", "ups", "gateway"] {
        let c = &o[card];
        match c["state"].as_str().unwrap() {
            "ok" => assert!(c["data"].is_object(), "{card}: {c}"),
            _ => assert!(c["reason"].as_str().is_some_and(|r| !r.is_empty()), "{card}: {c}"),
        }
    }
    assert_eq!(
        o["storage"]["data"]["unhealthy"][0],
        serde_json::json!({"name": "tank", "health": "DEGRADED"})
    );
    let disk_problems: Vec<&str> = o["disks"]["data"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(disk_problems.contains(&"sde") && disk_problems.contains(&"sdb"), "{disk_problems:?}");
    let b = &o["backups"]["data"];
    // Five guests are in no backup job and have no backup: without a recent one, whatever the age.
    assert_eq!((b["without_recent"].as_u64(), b["not_in_job"].as_u64()), (Some(5), Some(5)), "{b}");
    assert!(b["last"]["upid"].as_str().unwrap().starts_with("UPID:"));

    // What changed: the first cycle's burst is one line; tasks name their guest.
    let changes = o["changes"].as_array().unwrap();
    assert!(!changes.is_empty() && changes.len() <= 8);
    assert!(changes.windows(2).all(|w| w[0]["ts"].as_i64() >= w[1]["ts"].as_i64()), "newest first");
    let burst: Vec<&Value> = changes.iter().filter(|c| c["kind"] == "finding_new").collect();
    assert_eq!(burst.len(), 1, "{burst:?}");
    assert!(burst[0]["text"].as_str().unwrap().ends_with("new findings"), "{}", burst[0]);
}

#[tokio::test]
async fn before_the_first_cycle_the_verdict_is_pending_and_the_cards_say_so() {
    let app = TestApp::builder().demo().inventory(T0, 10).build().await;
    let (s, o) = app.get("/api/overview").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o["health"]["status"], "pending");
    assert_eq!(o["attention"], serde_json::json!([]));
    assert_eq!(o["backups"]["state"], "pending");
    assert_eq!(o["backups"]["reason"], "waiting for the first health cycle");
    assert_eq!(o["guests"]["state"], "ok", "the inventory's cards do not wait for health");
}

#[tokio::test]
async fn after_a_restart_the_persisted_findings_give_the_verdict_before_the_first_cycle() {
    let (app, _e) = demo_after_a_cycle().await;
    let (_, before) = app.get("/api/health").await;
    assert!(problems(&before["counts"]) > 0);
    // A restart: a new engine, an empty snapshot; only the database remembers.
    app.health_bus.snapshot.send_replace(Arc::default());
    app.health_bus.ledger.replace(Default::default());
    let mut e = Engine::new(proxwatch::health::rules::RULES, T0 - 3_600_000, 300);
    let n = e.restore(&app.health_io()).await.unwrap();
    assert!(n > 0);
    let (_, h) = app.get("/api/health").await;
    assert_eq!(h["counts"], before["counts"], "{h}");
    assert_eq!(h["status"], before["status"]);
    assert_eq!(h["restored_at"], T0 + 20_000, "as of the last cycle before");
    let (_, o) = app.get("/api/overview").await;
    assert_eq!(o["health"]["counts"], before["counts"]);
    assert!(!o["attention"].as_array().unwrap().is_empty(), "the strip shows the persisted findings");
    // The live stream's first health event carries the same verdict.
    let resp = app.send(common::authed(&app.token, Method::GET, "/api/live", None)).await;
    let mut body = resp.into_body();
    let event = loop {
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        let f = String::from_utf8_lossy(&f).to_string();
        if let Some(data) = f.strip_prefix("event: health\ndata: ") {
            break common::json(data.trim().as_bytes());
        }
    };
    assert_eq!(event["counts"], before["counts"]);
    assert_eq!(event["restored_at"], T0 + 20_000);
    // The first cycle since takes over.
    e.step_full(&app.health_io(), T0 + 80_000).await.unwrap();
    let (_, h) = app.get("/api/health").await;
    assert!(h.get("restored_at").is_none(), "{h}");
    assert_eq!(h["counts"], before["counts"]);
}
