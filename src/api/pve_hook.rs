//! The receiver for Proxmox VE's notification system (a PVE 8.3+ webhook target) and its setup.
//!
//! `POST /api/notifications/pve/webhook` is on the public allow-list because PVE cannot log in: it
//! authenticates with the per-install secret in `X-Proxwatch-Token` (PVE renders it from
//! `{{ secrets.token }}`), compared in constant time before the body is read. Bodies are bounded
//! (`notifications.pve_max_body`, 413 beyond), a body that is not proxwatch's template is a 400
//! naming the problem, and since PVE sends no event id a replay (same timestamp, type, job and
//! title) or a stale timestamp is refused with 409. With HTTPS on, PVE reaches it on the plain-HTTP
//! loopback listener (`notifications.pve_listen`): PVE checks certificates against the system store.

use axum::Extension;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use http_body_util::BodyExt;
use serde::Serialize;

use super::{ADMIN, ApiState, PUBLIC, Routes, json, query_pairs};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::notify::sources::pve;

pub const PATH: &str = "/notifications/pve/webhook";
/// The header PVE sends the secret in.
pub const TOKEN_HEADER: &str = "x-proxwatch-token";

pub fn routes() -> Routes {
    Routes::new().post(PATH, PUBLIC, webhook).get("/notifications/pve", ADMIN, status).post(
        "/notifications/pve/install",
        ADMIN,
        install,
    )
}

pub(super) async fn webhook(
    State(app): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let given = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let secret = app.notify.pve_secret().await.map_err(ApiError::internal)?;
    if given.is_empty() || !crate::auth::ct_eq(given, &secret) {
        if let Some(total) = app.notify.pve_refused() {
            tracing::warn!(total, "PVE webhook: refused a request without the right secret");
        }
        return Err(ApiError::BadWebhookSecret(format!("missing or wrong {TOKEN_HEADER} header")));
    }
    let max = app.config.notifications.pve_max_body;
    let bytes = http_body_util::Limited::new(body, max)
        .collect()
        .await
        .map_err(|_| ApiError::PayloadTooLarge(format!("body over {max} bytes")))?
        .to_bytes();
    let now = app.clock.now_ms();
    let ev = pve::parse(&bytes, now).map_err(|e| match e {
        pve::PveHookError::Stale { .. } => ApiError::Conflict(e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    })?;
    let kind = ev.kind.clone();
    let taken = app.notify.take(vec![ev]).await.map_err(ApiError::internal)?;
    if taken == 0 {
        return Err(ApiError::Conflict(
            "already received: PVE sent this notification before (a replay)".into(),
        ));
    }
    tracing::info!(kind = %kind, "PVE notification received");
    json(&serde_json::json!({ "ok": true, "kind": kind }))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "PveHookStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "PveHookStatus"))]
struct StatusView {
    /// Where PVE should post.
    url: String,
    /// The PVE notifications received so far (all kinds), and the last one's time (unix seconds).
    received: i64,
    last_received: Option<i64>,
    #[cfg_attr(test, ts(type = "unknown"))]
    setup: pve::Setup,
}

/// The URL PVE posts to: the loopback listener when HTTPS is on, else the main listener as bound
/// (its real port), on loopback unless it listens on one other address only.
fn url(app: &ApiState) -> String {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    let c = &app.config;
    if c.tls.enabled && !c.notifications.pve_listen.is_empty() {
        return format!("http://{}/api{PATH}", c.notifications.pve_listen);
    }
    let bound = app.listen.get().copied().unwrap_or(SocketAddr::new(c.server.bind, c.server.port));
    let ip = match bound.ip() {
        ip if ip.is_unspecified() || ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let base = c.server.base_path.trim_end_matches('/');
    format!("http://{}{base}/api{PATH}", SocketAddr::new(ip, bound.port()))
}

/// The setup text; `?reveal=1` puts the real secret into it (admins only, and only when asked).
async fn status(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref())?;
    let reveal = pairs.iter().any(|(k, v)| k == "reveal" && (v == "1" || v == "true"));
    let secret = app.notify.pve_secret().await.map_err(ApiError::internal)?;
    if reveal {
        tracing::info!(user = %p.user, "PVE webhook secret revealed in the setup text");
    }
    let url = url(&app);
    let setup = pve::setup_with_secret(&url, reveal.then_some(secret.as_str()));
    let (received, last): (i64, Option<i64>) = app
        .db
        .call(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*), MAX(received) FROM notify_events WHERE kind LIKE 'pve.%'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .map_err(ApiError::internal)?;
    json(&StatusView { url, received, last_received: last.map(|t| t / 1000), setup })
}

/// Writes the target and matcher into PVE's notification config (through `pvesh`, after reading the
/// current config as a backup): only on this explicit admin action.
async fn install(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let _slot = app.notify.probe_slot().ok_or_else(super::notifications::busy)?;
    let secret = app.notify.pve_secret().await.map_err(ApiError::internal)?;
    let report = pve::install(&app.host, &url(&app), &secret).await.map_err(ApiError::Conflict)?;
    tracing::info!(user = %p.user, "PVE notification target installed");
    json(&report)
}

#[cfg(test)]
pub(crate) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<StatusView>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    use serde_json::json;

    let kinds = [
        "pve.test",
        "pve.vzdump",
        "pve.replication",
        "pve.fencing",
        "pve.package_updates",
        "pve.system_mail",
        "pve.other",
    ];
    d.post(PATH, "Receive a notification from Proxmox VE (its webhook target)")
        .about(
            "Called by PVE, not by people: authenticated by the per-install shared secret in the \
             `X-Proxwatch-Token` header (checked before the body is read; missing or wrong: 401 \
             `bad_webhook_secret`). The body is what PVE renders from proxwatch's template (see `GET \
             /api/notifications/pve`), at most `notifications.pve_max_body` bytes; its content type is not \
             checked. No `fields` (or `{}`) is PVE's Test button. A timestamp more than 15 minutes old or \
             5 minutes ahead, or the same notification again (same timestamp, type, job and title), is a 409.",
        )
        .body(json!({
            "type": "object",
            "description": "PVE's rendering of proxwatch's body template.",
            "properties": {
                "title": { "type": "string" },
                "message": { "type": "string", "default": "" },
                "severity": { "type": ["string", "null"], "description": "PVE's severity: `info`, `notice`, `warning`, `error` or `unknown`." },
                "timestamp": { "type": "integer", "format": "int64", "description": "Unix seconds." },
                "fields": {
                    "type": ["object", "null"],
                    "description": "PVE's metadata fields (`type`, `job-id`, `hostname`, ...), string values.",
                },
            },
            "required": ["title", "timestamp"],
        }))
        .ok(obj(&[("ok", json!({ "const": true })), ("kind", one_of(&kinds))]))
        .error(401, "No or the wrong `X-Proxwatch-Token` (`bad_webhook_secret`).")
        .error(409, "A replay of a notification already received, or a timestamp outside the accepted window.");
    d.get("/notifications/pve", "How to point PVE's notifications at proxwatch, and what was received")
        .about(
            "The setup text shows the secret as `<secret>` unless `reveal` asks for the real one (logged).",
        )
        .query(
            "reveal",
            string(),
            "`1` or `true`: put the real secret into the setup text (any other value: not).",
        )
        .ok(out::<StatusView>());
    d.post(
        "/notifications/pve/install",
        "Add proxwatch's webhook target and matcher to PVE's notification config",
    )
    .about(
        "Runs `pvesh create` for the target and the matcher, after reading `/etc/pve/notifications.cfg` \
             as a backup (in the answer). A step that fails is reported in `steps` with a 200; a 409 means \
             nothing was changed (the config unreadable, pvesh missing). One of a few interactive probes at \
             once (503 `busy` beyond).",
    )
    .ok(out::<pve::InstallReport>())
    .error(409, "Nothing was changed: the current config could not be read, or pvesh is missing.")
    .error(503, "Other tests or installs are still running; see Retry-After.");
}
