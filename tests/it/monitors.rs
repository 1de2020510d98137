//! Service monitors (issue 18) against real peers: an HTTPS service with a self-signed certificate
//! that expires in two days, checked with and without verification.

use std::time::Duration;

use proxwatch::httpc::Client;
use proxwatch::model::monitor::StatusRange;
use proxwatch::monitors::probe::{HttpExpect, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn https_with_a_self_signed_certificate_near_its_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    // Valid for two more days.
    let acceptor = crate::common::localhost_tls(tmp.path());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let serve = async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else { break };
            let Ok(mut tls) = acceptor.accept(tcp).await else { continue };
            let mut buf = [0u8; 2048];
            let _ = tls.read(&mut buf).await;
            let body = "<title>Home Assistant</title>";
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    };
    let mut server = tokio::task::JoinSet::new();
    server.spawn(serve);

    let client = Client::new("proxwatch/test", Duration::from_secs(5));
    let url = format!("https://localhost:{port}/");
    let mut expect = HttpExpect {
        status: StatusRange::default(),
        keyword: Some("Home Assistant"),
        json: None,
        follow_redirects: true,
        verify_tls: true,
    };
    // Verified: refused in the handshake, with rustls' reason.
    let o = http(1, &client, &url, &expect, Duration::from_secs(3)).await;
    assert!(!o.ok);
    let e = o.error.unwrap();
    assert!(e.contains("invalid peer certificate") && e.contains("UnknownIssuer"), "{e}");
    // Not verified: up, and the certificate's expiry is read (about two days from now).
    expect.verify_tls = false;
    let o = http(2, &client, &url, &expect, Duration::from_secs(3)).await;
    assert!(o.ok, "{o:?}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let left = o.cert_expires.unwrap() - now;
    assert!((86_400..=2 * 86_400 + 60).contains(&left), "expires in {left} s");

    // Through the runner: one "expires soon" event per certificate, whatever the checks that follow.
    use proxwatch::monitors::{runner::Runner, store};
    let db = proxwatch::db::Db::open_in_memory().unwrap();
    let spec: proxwatch::model::monitor::MonitorSpec = serde_json::from_value(serde_json::json!({
        "name": "ha", "target": { "kind": "http", "url": url, "verify_tls": false, "cert_warn_days": 14 }
    }))
    .unwrap();
    let id = db.call(move |c| store::create(c, &spec, 0)).await.unwrap();
    let (_tx, inv) = tokio::sync::watch::channel(std::sync::Arc::default());
    let host = std::sync::Arc::new(proxwatch::host::Host::system(Duration::from_secs(2)));
    let r = Runner::new(host, db.clone(), inv, Default::default(), jiff::tz::TimeZone::UTC);
    r.reload().await.unwrap();
    let now = proxwatch::workers::wall_ms();
    r.check(id, now).await.unwrap();
    r.check(id, now + 60_000).await.unwrap();
    let events = db.call(|c| store::events_after(c, 0, i64::MAX, 10)).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].kind.as_str(), events[0].notify), ("cert_expiring", true));
    assert_eq!(events[0].detail["days"], 1, "{events:?}");
    assert_eq!(*r.events.borrow(), events[0].id, "the engine is woken");
    assert_eq!(r.out.borrow()[&id].cert_expires, o.cert_expires);
    server.abort_all();
}

// ---- the API, the health finding, the notification and the metric -------------------------------

use axum::http::{Method, StatusCode};
use proxwatch::auth::{Level, Principal, Via};
use serde_json::{Value, json};

use crate::common::{self, TestApp};

/// An API token of the admin with `level`'s scope.
async fn token(app: &TestApp, level: Level) -> String {
    let p = Principal {
        user: common::ADMIN.into(),
        level: Level::Admin,
        via: Via::Token { id: "t".into() },
        ip: None,
    };
    app.auth.create_token(&p, &format!("test-{level:?}"), level, None).await.unwrap().1
}

fn tcp(name: &str, port: u16) -> Value {
    json!({ "name": name, "target": { "kind": "tcp", "host": "127.0.0.1", "port": port }, "interval_s": 30,
            "timeout_ms": 2000, "retries": 0 })
}

#[tokio::test]
async fn the_api_names_the_bad_field_caps_the_count_and_enforces_roles() {
    let app = TestApp::builder().config(|c| c.monitors.max = 2).build().await;
    let bad = [
        (json!({ "name": "x", "target": { "kind": "tcp", "host": "127.0.0.1", "port": 0 } }), "target.port"),
        (json!({ "name": "x", "target": { "kind": "http", "url": "ftp://nas/" } }), "target.url"),
        (
            json!({ "name": "x", "target": { "kind": "ping", "host": "10.0.0.5" }, "interval_s": 5 }),
            "interval_s",
        ),
        (json!({ "name": "", "target": { "kind": "ping", "host": "10.0.0.5" } }), "name"),
        (json!({ "name": "x", "target": { "kind": "ping", "host": "bad host!" } }), "target.host"),
        // Out of the type's range: serde's own refusal, still naming the field.
        (json!({ "name": "x", "target": { "kind": "ping", "host": "h" }, "retries": -1 }), "retries"),
        (json!({ "name": "x", "target": { "kind": "tcp", "host": "h", "port": 70000 } }), "target"),
    ];
    for (body, field) in bad {
        let (s, b) = app.call(Method::POST, "/api/monitors", Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        let msg = b["message"].as_str().unwrap();
        assert!(msg.starts_with(&format!("{field}:")), "{body} names {field}: {msg}");
    }
    let (s, b) =
        app.call(Method::POST, "/api/monitors", Some(json!({"name": "x", "target": {"kind": "ping"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a missing field: {b}");
    for i in 0..2 {
        let (s, b) = app.call(Method::POST, "/api/monitors", Some(tcp(&format!("m{i}"), 9))).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["state"]["status"], "pending");
    }
    let (s, b) = app.call(Method::POST, "/api/monitors", Some(tcp("third", 9))).await;
    assert_eq!(s, StatusCode::CONFLICT, "monitors.max = 2: {b}");

    // A viewer reads; an operator pauses, annotates and plans windows; only an admin changes or deletes.
    let (read, operate) = (token(&app, Level::Read).await, token(&app, Level::Operate).await);
    let call = |t: &str, m: Method, uri: &str, body: Option<Value>| {
        let (app, t, uri) = (app.app.clone(), t.to_string(), uri.to_string());
        async move { common::call(&app, &t, m, &uri, body).await }
    };
    let (s, list) = call(&read, Method::GET, "/api/monitors", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["counts"]["total"], 2);
    let id = list["monitors"][0]["id"].as_i64().unwrap();
    let p = format!("/api/monitors/{id}");
    assert_eq!(call(&read, Method::POST, &format!("{p}/pause"), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&read, Method::POST, "/api/monitors", Some(tcp("v", 9))).await.0, StatusCode::FORBIDDEN);
    let (s, b) = call(&operate, Method::POST, &format!("{p}/pause"), None).await;
    assert_eq!((s, b["state"]["status"].as_str()), (StatusCode::OK, Some("paused")), "{b}");
    let (s, b) = call(&operate, Method::POST, &format!("{p}/run"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "a paused monitor is not run: {b}");
    assert_eq!(call(&operate, Method::POST, &format!("{p}/resume"), None).await.0, StatusCode::OK);
    assert_eq!(call(&operate, Method::PUT, &p, Some(tcp("renamed", 9))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&operate, Method::DELETE, &p, None).await.0, StatusCode::FORBIDDEN);
    let window = json!({ "scope": { "kind": "monitor", "id": id },
                         "when": { "kind": "weekly", "days": ["sun"], "start": "03:00", "minutes": 60 },
                         "note": "updates" });
    let (s, w) = call(&operate, Method::POST, "/api/monitors/windows", Some(window)).await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let bad_window = json!({ "scope": { "kind": "all" },
                             "when": { "kind": "weekly", "days": ["sun"], "start": "25:00", "minutes": 60 } });
    let (s, b) = call(&operate, Method::POST, "/api/monitors/windows", Some(bad_window)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().starts_with("when.start"), "{b}");
    let (_, d) = call(&read, Method::GET, &p, None).await;
    assert_eq!(d["windows"].as_array().unwrap().len(), 1, "the window covers the monitor: {d}");
    let (s, b) = app.call(Method::PUT, &p, Some(tcp("renamed", 9))).await;
    assert_eq!((s, b["spec"]["name"].as_str()), (StatusCode::OK, Some("renamed")));
    assert_eq!(app.call(Method::DELETE, &p, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&p).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/monitors/abc").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_down_service_is_an_incident_a_finding_a_notification_and_a_metric() {
    let app = TestApp::builder().build().await;
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (s, m) = app.call(Method::POST, "/api/monitors", Some(tcp("postgres", port))).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_i64().unwrap();
    let p = format!("/api/monitors/{id}");
    // The engine's monitors source starts at the newest event.
    let inv = app.inventory.borrow().clone();
    assert_eq!(app.notify.take_monitors(&inv).await.unwrap(), 0);

    let (s, b) = app.call(Method::POST, &format!("{p}/run"), None).await;
    assert_eq!((s, b["state"]["status"].as_str()), (StatusCode::OK, Some("up")), "{b}");
    drop(l);
    let (_, b) = app.call(Method::POST, &format!("{p}/run"), None).await;
    assert_eq!(b["state"]["status"], "down", "{b}");
    assert!(b["incident"]["first_error"].as_str().unwrap().starts_with("connection refused"), "{b}");

    // A finding in VMs & CTs, keyed by the monitor.
    let mut e = proxwatch::health::cycle::Engine::new(proxwatch::health::rules::RULES, common::T0_MS, 0);
    e.step_full(&app.health_io(), proxwatch::workers::wall_ms()).await.unwrap();
    let (_, h) = app.get("/api/health").await;
    let found = h["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["id"] == "guests")
        .flat_map(|c| c["checks"].as_array().into_iter().flatten())
        .flat_map(|c| c["findings"].as_array().into_iter().flatten());
    let f: Vec<&Value> = found.filter(|f| f["key"] == format!("monitor_down:{id}")).collect();
    assert!(!f.is_empty(), "{h}");
    assert_eq!(f[0]["severity"], "critical");
    assert!(
        f[0]["reason"].as_str().unwrap().contains("service postgres is down: connection refused"),
        "{}",
        f[0]
    );

    // The Overview's strip names it, with the monitor's page first.
    let (_, o) = app.get("/api/overview").await;
    let line = o["attention"].as_array().unwrap().iter().find(|a| a["key"] == format!("monitor_down:{id}"));
    assert_eq!(line.unwrap()["links"][0]["href"], format!("/services/{id}"), "{o}");

    // One notification for the engine, not a second one from the health finding.
    assert_eq!(app.notify.take_monitors(&inv).await.unwrap(), 1);
    assert_eq!(app.notify.take_health().await.unwrap(), 0, "the health finding is not notified again");

    // The metric.
    let (s, _, text) = app.get_raw("/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(&format!("proxwatch_monitor_up{{id=\"{id}\",monitor=\"postgres\",vmid=\"\"}} 0")),
        "{text}"
    );

    // Back up: recovered, the incident closed with its length; one more notification.
    let _l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (_, b) = app.call(Method::POST, &format!("{p}/run"), None).await;
    assert_eq!(b["state"]["status"], "up", "{b}");
    assert!(b["incident"].is_null());
    assert_eq!(app.notify.take_monitors(&inv).await.unwrap(), 1);
    let (_, d) = app.get(&p).await;
    let inc = &d["incidents"][0];
    assert!(inc["ended_ms"].as_i64().is_some() && inc["duration_ms"].as_i64().unwrap() >= 0, "{d}");
    let kinds: Vec<&str> =
        inc["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["down", "recovered"], "{inc}");

    // An operator's note on it.
    let inc_id = inc["id"].as_i64().unwrap();
    let uri = format!("/api/monitors/incidents/{inc_id}/note");
    let (s, _) = app.call(Method::PUT, &uri, Some(json!({ "note": "planned reboot" }))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, all) = app.get("/api/monitors/incidents").await;
    assert_eq!(all[0]["note"], "planned reboot");
    assert_eq!(all[0]["monitor"], "postgres");

    // Results, a page at a time, newest first.
    let (_, r) = app.get(&format!("{p}/results?limit=2")).await;
    let page: Vec<&str> =
        r["results"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(page, ["up", "down"]);
    let before = r["next_before"].as_i64().unwrap();
    let (_, r) = app.get(&format!("{p}/results?limit=2&before={before}")).await;
    assert_eq!(r["results"].as_array().unwrap().len(), 1);
    assert!(r["next_before"].is_null());
    assert_eq!(app.get(&format!("{p}/results?limit=0")).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(&format!("{p}/latency?range=1y")).await.0, StatusCode::BAD_REQUEST);
    let (s, lat) = app.get(&format!("{p}/latency?range=24h")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(lat["points"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_demo_suggests_pings_for_guests_with_known_addresses() {
    let app = TestApp::builder().demo().inventory(common::T0_MS, 10).build().await;
    app.pve_conn.seed_demo().await.unwrap();
    let (s, list) = app.get("/api/monitors/suggestions").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let by: Vec<(u64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["vmid"].as_u64().unwrap(), s["spec"]["target"]["host"].as_str().unwrap().to_string()))
        .collect();
    // CT 200's static address from its config; VM 101's from its guest agent; stopped guests none.
    assert!(by.contains(&(200, "192.168.10.53".into())), "{by:?}");
    assert!(by.contains(&(101, "192.168.10.20".into())), "{by:?}");
    assert!(!by.iter().any(|(v, _)| *v == 104 || *v == 102), "{by:?}");
    // The guest agent check of the demo's VM 101 answers through the replayed PVE API.
    let spec = json!({ "name": "agent", "target": { "kind": "agent", "vmid": 101 }, "vmid": 101 });
    let (s, m) = app.call(Method::POST, "/api/monitors", Some(spec)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let (_, b) = app.call(Method::POST, &format!("/api/monitors/{}/run", m["id"]), None).await;
    assert_eq!(b["state"]["status"], "up", "{b}");
    // A stopped guest's monitor is "guest stopped", not down, and is not probed.
    let spec = json!({ "name": "ha", "target": { "kind": "tcp", "host": "192.0.2.44", "port": 8123 }, "vmid": 104, "retries": 0 });
    let (_, m) = app.call(Method::POST, "/api/monitors", Some(spec)).await;
    let (_, b) = app.call(Method::POST, &format!("/api/monitors/{}/run", m["id"]), None).await;
    assert_eq!(b["state"]["status"], "guest_stopped", "{b}");
    assert_eq!(b["beats"][0]["status"], "stopped");
    // A guest that is not on this host is refused by name.
    let spec = json!({ "name": "x", "target": { "kind": "agent", "vmid": 999 } });
    let (s, b) = app.call(Method::POST, "/api/monitors", Some(spec)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().starts_with("target.vmid:"), "{b}");
}
