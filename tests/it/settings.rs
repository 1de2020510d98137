//! `/api/settings` and `/api/about` (issue 16): the effective configuration with its sources, the
//! UI layer stored in the database, validation naming the field, roles, and the restart request.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::auth::{Creds, call, login};
use crate::common::{ADMIN, ADMIN_PASSWORD, TestApp};

#[tokio::test]
async fn settings_show_sources_store_changes_and_name_bad_fields() {
    let app = TestApp::builder().build().await;
    let admin = login(&app, ADMIN, ADMIN_PASSWORD, None).await.unwrap();

    let r = call(&app, Method::GET, "/api/settings", &admin, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let entries = r.body["entries"].as_array().unwrap();
    let entry = |k: &str| entries.iter().find(|e| e["key"] == k).unwrap_or_else(|| panic!("no {k}")).clone();
    let health = entry("health.interval_s");
    assert_eq!(
        (health["source"].as_str(), health["editable"]["type"].as_str()),
        (Some("default"), Some("int"))
    );
    assert_eq!(health["editable"]["min"], 30);
    // Not editable from the browser: the port.
    assert!(entry("server.port").get("editable").is_none());
    assert!(r.body["restart_needed"].as_array().unwrap().is_empty());

    // A bad value: 400 naming the field and its range; nothing stored.
    for (body, says) in [
        (
            json!({"changes": {"health.interval_s": 5}}),
            "health.interval_s: must be a whole number from 30 to 86400",
        ),
        (json!({"changes": {"server.port": 9000}}), "server.port: not a setting"),
        (json!({"changes": {"auth.trusted_proxies": ["10.0.0.0/8", "x"]}}), "auth.trusted_proxies: \"x\""),
        (json!({"changes": {"server.base_path": "proxwatch"}}), "server.base_path"),
        (json!({"changes": {}}), "changes"),
        (json!({"change": {}}), "change"),
    ] {
        let r = call(&app, Method::PUT, "/api/settings", &admin, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{body}: {}", r.body);
    }
    // TLS on this host has no certificate: refused now rather than failing the next start.
    let r = call(&app, Method::PUT, "/api/settings", &admin, Some(json!({"changes": {"tls.enabled": true}})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().starts_with("tls.enabled"), "{}", r.body);

    // A good change is stored, shown as the next value, and listed as needing a restart.
    let body = json!({"changes": {"health.interval_s": 600, "auth.trusted_proxies": ["127.0.0.1/32"]}});
    let r = call(&app, Method::PUT, "/api/settings", &admin, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut needed: Vec<&str> =
        r.body["restart_needed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    needed.sort();
    assert_eq!(needed, ["auth.trusted_proxies", "health.interval_s"]);
    let entries = r.body["entries"].as_array().unwrap();
    let health = entries.iter().find(|e| e["key"] == "health.interval_s").unwrap();
    assert_eq!(
        (&health["value"], &health["stored"], &health["next"]),
        (&json!(300), &json!(600), &json!(600))
    );
    let stored = proxwatch::settings::read(&app.db).await.unwrap();
    assert_eq!(stored["health.interval_s"], toml::Value::Integer(600));
    // The change is audited.
    let audit = proxwatch::auth::audit::AuditLog::list(app.auth.db(), 20, None).await.unwrap();
    assert!(format!("{audit:?}").contains("settings_changed"), "{audit:?}");

    // Reset: the row goes, nothing pending for that key.
    let r = call(
        &app,
        Method::PUT,
        "/api/settings",
        &admin,
        Some(json!({"changes": {"health.interval_s": null}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["restart_needed"], json!(["auth.trusted_proxies"]));

    // An app built without the service's layers cannot restart itself: 409, and nothing stops.
    let r = call(&app, Method::POST, "/api/settings/restart", &admin, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(!app.cancel.is_cancelled());
}

#[tokio::test]
async fn settings_are_for_admins_in_a_session_and_about_is_for_everyone() {
    let app = TestApp::builder().build().await;
    // An admin API token reads the settings but cannot change them (an interactive session only).
    let (status, _) = app.get("/api/settings").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        app.call(Method::PUT, "/api/settings", Some(json!({"changes": {"health.interval_s": 600}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::POST, "/api/settings/restart", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nobody logged in: 401.
    let r = call(&app, Method::GET, "/api/settings", &Creds::default(), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let (status, about) = app.get("/api/about").await;
    assert_eq!(status, StatusCode::OK, "{about}");
    assert_eq!(about["version"], proxwatch::VERSION);
    assert_eq!(about["licence"], "AGPL-3.0-or-later");
    let rev = about["revision"].as_str().unwrap();
    assert!(rev == "unknown" || (rev.len() == 12 && rev.chars().all(|c| c.is_ascii_hexdigit())), "{rev}");
    // (An in-memory database here: its size on disk is 0.)
    assert!(about["db_bytes"].is_u64(), "{about}");
}
