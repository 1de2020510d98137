//! `/api/notifications/...`: channels (CRUD, test), routing (events × channels), the engine's
//! settings, and the history. Thin: the logic lives in `notify/`. Viewers read the history and the
//! status; operators see channels (secrets masked) and may send a test; admins change settings.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ADMIN, ApiState, JsonBody, OPERATE, READ, Routes, json, query_pairs};
use crate::auth::{Level, Principal};
use crate::error::ApiError;
use crate::notify::catalog::{self, CATALOG, EventDef};
use crate::notify::settings::{Global, Routing};
use crate::notify::store::{self, ChannelInput, HistoryFilter, StoreError};
use crate::notify::{Group, channels::ChannelConfig};

pub fn routes() -> Routes {
    Routes::new()
        .get("/notifications/status", READ, status)
        .get("/notifications/events", READ, events)
        .get("/notifications/channels", OPERATE, list_channels)
        .post("/notifications/channels", ADMIN, create_channel)
        .get("/notifications/channels/{id}", OPERATE, get_channel)
        .put("/notifications/channels/{id}", ADMIN, put_channel)
        .delete("/notifications/channels/{id}", ADMIN, delete_channel)
        .post("/notifications/channels/{id}/test", OPERATE, test_channel)
        .get("/notifications/routing", OPERATE, routing)
        .put("/notifications/routing", ADMIN, put_routing)
        .get("/notifications/settings", OPERATE, settings)
        .put("/notifications/settings", ADMIN, put_settings)
        .get("/notifications/history", READ, history)
        .get("/notifications/ai", ADMIN, ai)
        .put("/notifications/ai", ADMIN, put_ai)
        .post("/notifications/ai/test", ADMIN, ai_test)
}

async fn ai_view(app: &ApiState) -> Result<Response, ApiError> {
    let mut s = app.notify.ai_settings().await.map_err(ApiError::internal)?;
    if s.provider.api_key.as_deref().is_some_and(|k| !k.is_empty()) {
        s.provider.api_key = Some(store::MASK.into());
    }
    let day = app.clock.now_ms().div_euclid(86_400_000);
    let calls: (i64, u32) = app
        .db
        .call(|c| Ok(store::cursor(c, "ai_calls")?.unwrap_or((0, 0))))
        .await
        .map_err(ApiError::internal)?;
    let today = if calls.0 == day { calls.1 } else { 0 };
    json(&serde_json::json!({ "settings": s, "calls_today": today }))
}

async fn ai(State(app): State<ApiState>) -> Result<Response, ApiError> {
    ai_view(&app).await
}

async fn put_ai(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(s): JsonBody<crate::notify::ai::Settings>,
) -> Result<Response, ApiError> {
    s.validate().map_err(|e| ApiError::bad_request(format!("ai: {e}")))?;
    app.notify.set_ai_settings(s).await.map_err(ApiError::internal)?;
    tracing::info!(user = %p.user, "AI settings changed");
    ai_view(&app).await
}

/// A sample message through the provider: its rewrite, or the provider's exact error.
async fn ai_test(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let _slot = app.notify.probe_slot().ok_or_else(busy)?;
    match app.notify.ai_test().await.map_err(ApiError::internal)? {
        Ok(r) => {
            json(&serde_json::json!({ "ok": true, "title": r.title, "body": r.body, "provider": r.provider,
            "model": r.model, "latency_ms": r.latency_ms, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out,
            "redacted": r.redacted }))
        }
        Err(e) => json(&serde_json::json!({ "ok": false, "error": e.to_string() })),
    }
}

fn store_error(e: anyhow::Error) -> ApiError {
    match e.downcast::<StoreError>() {
        Ok(StoreError::Invalid(m)) => ApiError::bad_request(m),
        Ok(StoreError::NotFound(m)) => ApiError::not_found(m),
        Ok(StoreError::Internal(e)) => ApiError::internal(e),
        Err(e) => ApiError::internal(e),
    }
}

/// Too many tests running at once (each may hold a connection for its whole timeout).
pub(super) fn busy() -> ApiError {
    ApiError::busy("other tests are still running", std::time::Duration::from_secs(5))
}

fn store_err(e: StoreError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// For the header indicator: channels that need the admin, without their configs.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyStatus"))]
struct StatusView {
    channels: usize,
    attention: Vec<AttentionView>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyAttention"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyAttention"))]
struct AttentionView {
    id: i64,
    name: String,
    kind: String,
    error: Option<String>,
}

/// Polled by every open browser: one cheap query, no secret opened.
async fn status(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let (channels, attention) = app
        .db
        .call(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM notify_channels", [], |r| r.get(0))?;
            let mut st = c.prepare(
                "SELECT id, name, kind, last_error FROM notify_channels WHERE needs_attention = 1 ORDER BY id",
            )?;
            let rows = st
                .query_map([], |r| Ok(AttentionView { id: r.get(0)?, name: r.get(1)?, kind: r.get(2)?, error: r.get(3)? }))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((n as usize, rows))
        })
        .await
        .map_err(ApiError::internal)?;
    json(&StatusView { channels, attention })
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyEvents"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyEvents"))]
struct EventsView {
    events: Vec<EventView>,
    groups: Vec<Group>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyEventView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyEventView"))]
struct EventView {
    #[serde(flatten)]
    def: EventDef,
    /// Seconds, after the admin's overrides.
    cooldown_s: i64,
}

async fn events(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let g = app.db.call(|c| store::global(c).map_err(store_err)).await.map_err(store_error)?;
    let events = CATALOG.iter().map(|d| EventView { def: *d, cooldown_s: g.cooldown_ms(d) / 1000 }).collect();
    json(&EventsView { events, groups: Group::ALL.to_vec() })
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|&i| i > 0)
        .ok_or_else(|| ApiError::bad_request(format!("malformed channel id {id:?}")))
}

async fn list_channels(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let keys = app.notify.keys().clone();
    let views = app.db.call(move |c| store::views(c, &keys).map_err(store_err)).await.map_err(store_error)?;
    json(&serde_json::json!({ "channels": views, "kinds": ChannelConfig::KINDS }))
}

async fn get_channel(State(app): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let keys = app.notify.keys().clone();
    let v = app
        .db
        .call(move |c| store::channel_view(c, &keys, id).map_err(store_err))
        .await
        .map_err(store_error)?;
    json(&v)
}

async fn create_channel(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(input): JsonBody<ChannelInput>,
) -> Result<Response, ApiError> {
    let keys = app.notify.keys().clone();
    let now = app.clock.now_ms();
    let v = app
        .db
        .call(move |c| {
            let id = store::create_channel(c, &keys, &input, now).map_err(store_err)?;
            store::channel_view(c, &keys, id).map_err(store_err)
        })
        .await
        .map_err(store_error)?;
    tracing::info!(user = %p.user, channel = v.id, kind = %v.kind, "notification channel added");
    app.notify.wake.notify_one();
    Ok((StatusCode::CREATED, json(&v)?).into_response())
}

async fn put_channel(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ChannelInput>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let keys = app.notify.keys().clone();
    let now = app.clock.now_ms();
    let v = app
        .db
        .call(move |c| {
            store::update_channel(c, &keys, id, &input, now).map_err(store_err)?;
            store::channel_view(c, &keys, id).map_err(store_err)
        })
        .await
        .map_err(store_error)?;
    tracing::info!(user = %p.user, channel = id, "notification channel changed");
    app.notify.wake.notify_one();
    app.notify.channel_wake(id).notify_one();
    json(&v)
}

async fn delete_channel(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    app.db.call(move |c| store::delete_channel(c, id).map_err(store_err)).await.map_err(store_error)?;
    tracing::info!(user = %p.user, channel = id, "notification channel deleted");
    app.notify.wake.notify_one();
    app.notify.channel_wake(id).notify_one();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn test_channel(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let _slot = app.notify.probe_slot().ok_or_else(busy)?;
    let r = app.notify.test(id, &p.user).await.map_err(store_error)?;
    tracing::info!(user = %p.user, channel = id, ok = r.ok, "notification test sent");
    json(&r)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyRoutingMatrix"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyRoutingMatrix"))]
struct MatrixView {
    groups: Vec<Group>,
    events: Vec<EventDef>,
    channels: Vec<MatrixChannel>,
}

#[derive(Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyMatrixChannel"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyMatrixChannel"))]
#[serde(deny_unknown_fields)]
struct MatrixChannel {
    id: i64,
    #[serde(default)]
    name: String,
    routing: Routing,
}

async fn routing(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let keys = app.notify.keys().clone();
    let views = app.db.call(move |c| store::views(c, &keys).map_err(store_err)).await.map_err(store_error)?;
    let channels =
        views.into_iter().map(|v| MatrixChannel { id: v.id, name: v.name, routing: v.routing }).collect();
    json(&MatrixView {
        groups: Group::ALL.to_vec(),
        events: CATALOG.iter().filter(|d| store::routable(d)).copied().collect(),
        channels,
    })
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyRoutingPut"))]
#[serde(deny_unknown_fields)]
struct MatrixPut {
    channels: Vec<MatrixChannel>,
}

/// Replaces the routing of the listed channels at once (all or nothing).
async fn put_routing(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<MatrixPut>,
) -> Result<Response, ApiError> {
    for (i, c) in req.channels.iter().enumerate() {
        c.routing.validate().map_err(|e| ApiError::bad_request(format!("channels[{i}].routing.{e}")))?;
    }
    let n = req.channels.len();
    let now = app.clock.now_ms();
    app.db
        .call(move |c| {
            let tx = c.transaction()?;
            for ch in &req.channels {
                let text = serde_json::to_string(&ch.routing)?;
                let n = tx.execute(
                    "UPDATE notify_channels SET routing = ?2, updated = ?3 WHERE id = ?1",
                    rusqlite::params![ch.id, text, now],
                )?;
                if n == 0 {
                    return Err(store_err(StoreError::NotFound(format!("no channel {}", ch.id))));
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(store_error)?;
    tracing::info!(user = %p.user, channels = n, "notification routing changed");
    app.notify.wake.notify_one();
    routing(State(app)).await
}

async fn settings(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let g = app.db.call(|c| store::global(c).map_err(store_err)).await.map_err(store_error)?;
    json(&g)
}

async fn put_settings(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(g): JsonBody<Global>,
) -> Result<Response, ApiError> {
    let g2 = g.clone();
    app.db.call(move |c| store::set_global(c, &g2).map_err(store_err)).await.map_err(store_error)?;
    tracing::info!(user = %p.user, "notification settings changed");
    app.notify.wake.notify_one();
    json(&g)
}

async fn history(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = raw.unwrap_or_default();
    query_pairs(Some(&q))?;
    let f: HistoryFilter =
        serde_urlencoded::from_str(&q).map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))?;
    if let Some(e) = &f.event {
        if catalog::find(e).is_none() {
            return Err(ApiError::bad_request(format!("event: unknown event type `{e}`")));
        }
    }
    let admin = p.level >= Level::Admin;
    let limit = f.limit.unwrap_or(100).clamp(1, 500);
    let rows =
        app.db.call(move |c| store::history(c, &f, admin).map_err(store_err)).await.map_err(store_error)?;
    let next = (rows.len() == limit).then(|| rows.last().map(|r| r.id)).flatten();
    json(&serde_json::json!({ "rows": rows, "next_before": next }))
}

/// The API's own view structs, for the generated TypeScript types.
#[cfg(test)]
pub(crate) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<StatusView>();
    v.visit::<EventsView>();
    v.visit::<MatrixView>();
    v.visit::<store::ChannelView>();
    v.visit::<store::HistoryRow>();
    v.visit::<Global>();
    v.visit::<crate::notify::engine::TestResult>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    use serde_json::json;

    let channel_id = || json!({ "type": "integer", "format": "int64", "minimum": 1 });
    let kinds = || one_of(&ChannelConfig::KINDS);
    let busy =
        "Other tests (channel tests, the AI test, the PVE install) are still running; see Retry-After.";

    d.get(
        "/notifications/status",
        "Channel count and the channels that need attention (for the header indicator)",
    )
    .ok(out::<StatusView>());
    d.get(
        "/notifications/events",
        "Every event type with its group, defaults and effective cooldown, and the groups",
    )
    .ok(out::<EventsView>());
    d.get("/notifications/channels", "Every channel, secrets masked, with its delivery status")
        .about("Every secret field that is set reads as `********`.")
        .ok(obj(&[("channels", arr(out::<store::ChannelView>())), ("kinds", arr(kinds()))]));
    d.post("/notifications/channels", "Add a channel")
        .about(
            "`config` holds `kind` and that kind's fields (all secrets given in full: `********` is refused \
             for a new channel). The config is checked as the kind's settings; at most 32 channels. The \
             answer is the new channel, secrets masked.",
        )
        .status(201)
        .body(input::<ChannelInput>())
        .ok(out::<store::ChannelView>());
    d.get("/notifications/channels/{id}", "One channel, secrets masked, with its delivery status")
        .path_param("id", channel_id(), "The channel's id.")
        .ok(out::<store::ChannelView>());
    d.put("/notifications/channels/{id}", "Change a channel")
        .about(
            "`config.kind` must stay the channel's kind. A secret field left out, or sent back as the mask \
             `********`, keeps its stored value (`\"\"` or `null` where the kind allows it clears it); the \
             other fields are the kind's as in `NotifyChannelConfig`. Clears the channel's \"needs \
             attention\" and queues its permanently failed messages again.",
        )
        .path_param("id", channel_id(), "The channel's id.")
        .body(json!({
            "type": "object",
            "description": "A channel's new name, state, config and routing.",
            "properties": {
                "name": { "type": "string", "description": "1 to 64 printable characters." },
                "enabled": { "type": "boolean", "default": true },
                "config": {
                    "type": "object",
                    "description": "`kind` and the kind's fields (see `NotifyChannelConfig`); secrets may be left out or sent as `********` to keep them.",
                    "properties": { "kind": kinds() },
                    "required": ["kind"],
                },
                "routing": input::<crate::notify::settings::Routing>(),
            },
            "required": ["name", "config"],
            "additionalProperties": false,
        }))
        .ok(out::<store::ChannelView>());
    d.delete("/notifications/channels/{id}", "Delete a channel")
        .about("What was still queued for it is marked expired and stays in the history.")
        .path_param("id", channel_id(), "The channel's id.")
        .no_content();
    d.post("/notifications/channels/{id}/test", "Send a test message through the channel now")
        .about(
            "Sends a `system.test` message through the channel's real path and answers with the \
             service's exact reply or error (`ok: false` is still a 200). Recorded in the history. A few \
             tests at once at most (503 `busy` beyond).",
        )
        .path_param("id", channel_id(), "The channel's id.")
        .ok(out::<crate::notify::engine::TestResult>())
        .error(503, busy);
    d.get(
        "/notifications/routing",
        "The routing matrix: groups, routable event types and each channel's routing",
    )
    .ok(out::<MatrixView>());
    d.put("/notifications/routing", "Replace the routing of the listed channels (all or nothing)")
        .about(
            "Each listed channel's `routing` replaces its stored one; `name` is ignored and channels not \
             listed keep theirs. Answers the new matrix.",
        )
        .body(input::<MatrixPut>())
        .ok(out::<MatrixView>())
        .error(404, "A listed channel does not exist (nothing was changed).");
    d.get(
        "/notifications/settings",
        "The engine's settings: cooldowns, bursts, expiry, retention, time zone",
    )
    .ok(out::<Global>());
    d.put("/notifications/settings", "Replace the engine's settings")
        .about("A field left out takes its default. Answers the settings as saved.")
        .body(input::<Global>())
        .ok(out::<Global>());
    d.get("/notifications/history", "Messages, newest first, with their delivery status")
        .about(
            "One row per (event, channel). Event types that name users and addresses are left out unless \
             the caller is an admin. Unknown query parameters are refused. Page with `before=next_before` \
             while `next_before` is not null.",
        )
        .query("event", string(), "Only this event type (a catalog id, e.g. `backup.failed`; an unknown one is refused).")
        .query("channel", int(), "Only this channel's messages.")
        .query("status", one_of(store::STATUSES), "Only messages in this state.")
        .query("since", int(), "Only events at or after this time (unix seconds).")
        .query("until", int(), "Only events before this time (unix seconds).")
        .query("before", int(), "Only rows older than this row id (the previous page's `next_before`).")
        .query("limit", json!({ "type": "integer", "minimum": 0 }), "At most this many (default 100, clamped to 1..=500).")
        .ok(obj(&[
            ("rows", arr(out::<store::HistoryRow>())),
            (
                "next_before",
                json!({ "type": ["integer", "null"], "description": "The id to pass as `before` for the next page; null on the last page." }),
            ),
        ]));
    let ai_view = || {
        obj(&[
            ("settings", out::<crate::notify::ai::Settings>()),
            (
                "calls_today",
                json!({ "type": "integer", "minimum": 0, "description": "AI calls made today (UTC day)." }),
            ),
        ])
    };
    d.get("/notifications/ai", "The AI rewriting settings (key masked) and today's call count")
        .about("`provider.api_key` reads as `********` when a key is stored, else null.")
        .ok(ai_view());
    d.put("/notifications/ai", "Replace the AI rewriting settings")
        .about(
            "`provider.api_key` left out, null or sent back as `********` keeps the stored key; `\"\"` \
             removes it. Answers the settings as saved, key masked.",
        )
        .body(input::<crate::notify::ai::Settings>())
        .ok(ai_view());
    d.post("/notifications/ai/test", "Rewrite a sample message through the configured AI provider")
        .about(
            "Works whether or not AI rewriting is enabled yet. A provider failure is still a 200, with \
             `ok: false` and the provider's exact error. A few tests at once at most (503 `busy` beyond).",
        )
        .ok(json!({
            "oneOf": [
                {
                    "type": "object",
                    "description": "The provider's rewrite.",
                    "properties": {
                        "ok": { "const": true },
                        "title": { "type": "string" },
                        "body": { "type": "string" },
                        "provider": one_of(&["openai", "anthropic", "gemini", "ollama"]),
                        "model": { "type": "string" },
                        "latency_ms": { "type": "integer", "minimum": 0 },
                        "tokens_in": { "type": ["integer", "null"], "minimum": 0 },
                        "tokens_out": { "type": ["integer", "null"], "minimum": 0 },
                        "redacted": { "type": "boolean", "description": "Whether the text was redacted before it left." },
                    },
                    "required": ["ok", "title", "body", "provider", "model", "latency_ms", "tokens_in", "tokens_out", "redacted"],
                },
                {
                    "type": "object",
                    "description": "Why there is no rewrite.",
                    "properties": { "ok": { "const": false }, "error": { "type": "string" } },
                    "required": ["ok", "error"],
                },
            ],
        }))
        .error(503, busy);
}
