//! Gotify: `POST {server}/message` with the application token.
//!
//! Quirks, with their sources (gotify.net/docs/pushmsg, gotify.net/docs/msgextras, PVE's
//! `proxmox-notify/src/endpoints/gotify.rs`; reference A2 and B "Gotify"):
//! - The token goes in the `X-Gotify-Key` header, never `?token=`, which ends up in proxy and
//!   access logs. (PVE also sends `Authorization: Bearer`; only newer servers read it, every
//!   version reads `X-Gotify-Key`.)
//! - Priority, PVE's mapping: info 1, warning 5, critical 9. The Android client is silent for 1–3,
//!   makes a sound from 4 and shows 8–10 as high.
//! - The body is shown as Markdown (`extras["client::display"].contentType = "text/markdown"`),
//!   fenced in a code block as PVE does: CommonMark would otherwise join the body's lines and eat
//!   `*` and `_` in guest names and paths. The fence is longer than any backtick run in the body.
//!   The proxwatch link follows the block as an autolink, and is the notification's click target
//!   (`extras["client::notification"].click.url`).
//! - `message` is required (a 400 otherwise): an empty body sends the title.
//! - Errors are `{"error": "Unauthorized", "errorCode": 401, "errorDescription": "..."}`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::webhook::{head, http_url, read_reply, retry_after};
use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::{Message, Severity};

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyGotify"))]
#[serde(deny_unknown_fields)]
pub struct Gotify {
    pub server: String,
    pub token: String,
}

impl Channel for Gotify {
    fn validate(&self) -> Result<(), String> {
        http_url("server", &self.server)?;
        let token = self.token.trim();
        if token.is_empty() {
            return Err("token: the application's token is required".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("token: must not contain spaces or control characters".into());
        }
        Ok(())
    }

    async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        let url = format!("{}/message", self.server.trim().trim_end_matches('/'));
        let resp = ctx
            .http()
            .post(url)
            .header("X-Gotify-Key", self.token.trim())
            .json(&payload(msg))
            .limit(super::webhook::REPLY_LIMIT)
            .send()
            .await
            .map_err(SendError::from_http)?;
        let status = resp.status().as_u16();
        let success = resp.status().is_success();
        let after = retry_after(resp.headers());
        let text = read_reply(&resp);
        let answer: Answer = serde_json::from_str(&text).unwrap_or_default();
        if success {
            let id = answer.id.map_or_else(|| "?".to_string(), |id| id.to_string());
            return Ok(Delivered { reply: format!("message id {id}") });
        }
        let error = match (answer.error, answer.error_description) {
            (Some(e), Some(d)) if !d.is_empty() => format!("Gotify {status}: {e}: {d}"),
            (Some(e), _) => format!("Gotify {status}: {e}"),
            _ => format!("Gotify HTTP {status}: {}", head(&text, 300)),
        };
        Err(SendError::from_status(status, error.trim_end_matches([':', ' ']).to_string(), after))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Answer {
    id: Option<i64>,
    error: Option<String>,
    error_description: Option<String>,
}

fn priority(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Warning => 5,
        Severity::Critical => 9,
    }
}

fn payload(msg: &Message) -> serde_json::Value {
    let title = if msg.title.trim().is_empty() { msg.kind.trim() } else { msg.title.trim() };
    let body = msg.body.trim_end();
    let link = msg.url.as_deref().map(str::trim).filter(|u| {
        (u.starts_with("https://") || u.starts_with("http://"))
            && !u.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
    });
    let mut text = if body.trim().is_empty() { title.to_string() } else { fence(body) };
    if let Some(u) = link {
        text.push_str(&format!("\n\n<{u}>"));
    }
    let mut extras = json!({"client::display": {"contentType": "text/markdown"}});
    if let Some(u) = link {
        extras["client::notification"] = json!({"click": {"url": u}});
    }
    json!({"title": title, "message": text, "priority": priority(msg.severity), "extras": extras})
}

/// `body` in a fenced code block whose fence is longer than any run of backticks inside.
fn fence(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let f = "`".repeat(longest.max(2) + 1);
    format!("{f}\n{body}\n{f}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::Value;

    use super::*;
    use crate::notify::Group;

    type Log = Arc<Mutex<Vec<(String, Value)>>>;

    /// Gotify's `POST /message`: the app token from `X-Gotify-Key`, `message` required, the
    /// created message (with its id) or Gotify's error object. Tokens script the failures.
    async fn gotify() -> (String, Log) {
        async fn create(
            State(log): State<Log>,
            uri: Uri,
            headers: HeaderMap,
            Json(req): Json<Value>,
        ) -> (StatusCode, Json<Value>) {
            let err = |code: u16, error: &str, description: &str| {
                let v = json!({"error": error, "errorCode": code, "errorDescription": description});
                (StatusCode::from_u16(code).unwrap(), Json(v))
            };
            let token = headers.get("x-gotify-key").map(|v| v.to_str().unwrap().to_string());
            match token.as_deref() {
                Some("AppTok.en") => {}
                Some("busy") => return err(503, "Service Unavailable", ""),
                _ => {
                    return err(
                        401,
                        "Unauthorized",
                        "you need to provide a valid access token or user credentials to access this api",
                    );
                }
            }
            if req["message"].as_str().is_none_or(str::is_empty) {
                return err(400, "Bad Request", "Field 'message' is required");
            }
            let mut log = log.lock().unwrap();
            log.push((uri.to_string(), req.clone()));
            let id = log.len() + 40;
            (
                StatusCode::OK,
                Json(
                    json!({"id": id, "appid": 3, "message": req["message"], "date": "2024-08-01T00:00:00Z"}),
                ),
            )
        }
        let log = Log::default();
        let app = Router::new().route("/gotify/message", post(create)).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/gotify/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, log)
    }

    fn msg(body: &str, severity: Severity) -> Message {
        Message {
            title: "Pool tank degraded".into(),
            body: body.into(),
            severity,
            kind: "zfs.degraded".into(),
            group: Group::Storage,
            fingerprint: "zfs.degraded:tank".into(),
            ts_ms: 1_722_470_400_000,
            hostname: "pve1".into(),
            fields: BTreeMap::new(),
            url: Some("https://pw.example/#/storage/tank".into()),
        }
    }

    fn ctx() -> Ctx {
        Ctx::new(Duration::from_secs(5)).unwrap()
    }

    fn g(base: &str, token: &str) -> Gotify {
        Gotify { server: base.into(), token: token.into() }
    }

    #[tokio::test]
    async fn posts_the_message_with_the_key_header_and_extras() {
        let (base, log) = gotify().await;
        let body = "vdev *sdb* failed\nuse ```zpool status```";
        let d = g(&base, "AppTok.en").send(&ctx(), &msg(body, Severity::Critical)).await.unwrap();
        assert_eq!(d.reply, "message id 41");
        let (uri, req) = log.lock().unwrap()[0].clone();
        assert_eq!(uri, "/gotify/message", "no token in the query");
        assert_eq!(
            req,
            json!({
                "title": "Pool tank degraded",
                "message": format!("````\n{body}\n````\n\n<https://pw.example/#/storage/tank>"),
                "priority": 9,
                "extras": {
                    "client::display": {"contentType": "text/markdown"},
                    "client::notification": {"click": {"url": "https://pw.example/#/storage/tank"}},
                },
            })
        );
    }

    #[tokio::test]
    async fn priorities_and_an_empty_body() {
        let (base, log) = gotify().await;
        let mut m = msg("", Severity::Info);
        m.url = None;
        g(&base, "AppTok.en").send(&ctx(), &m).await.unwrap();
        g(&base, "AppTok.en").send(&ctx(), &msg("x", Severity::Warning)).await.unwrap();
        let got = log.lock().unwrap().clone();
        assert_eq!(got[0].1["message"], "Pool tank degraded");
        assert_eq!(got[0].1["priority"], 1);
        assert!(got[0].1["extras"].get("client::notification").is_none());
        assert_eq!(got[1].1["priority"], 5);
        assert_eq!(got[1].1["message"], "```\nx\n```\n\n<https://pw.example/#/storage/tank>");
    }

    #[tokio::test]
    async fn errors_are_classified_with_gotifys_message() {
        let (base, _log) = gotify().await;
        let m = msg("x", Severity::Info);
        assert_eq!(
            g(&base, "wrong").send(&ctx(), &m).await.unwrap_err(),
            SendError::permanent(
                "Gotify 401: Unauthorized: you need to provide a valid access token or user credentials to access this api"
            )
        );
        assert_eq!(
            g(&base, "busy").send(&ctx(), &m).await.unwrap_err(),
            SendError::retry("Gotify 503: Service Unavailable")
        );
        let e = g(&format!("{base}nowhere"), "AppTok.en").send(&ctx(), &m).await.unwrap_err();
        assert_eq!(e, SendError::permanent("Gotify HTTP 404"));

        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let e = g(&format!("http://{addr}"), "AppTok.en").send(&ctx(), &m).await.unwrap_err();
        assert!(matches!(e, SendError::Retry { .. }), "{e}");
    }

    #[test]
    fn validate_and_fence() {
        g("https://push.example", "AbC.d").validate().unwrap();
        assert!(g("push.example", "x").validate().unwrap_err().starts_with("server"));
        assert!(g("https://push.example", " ").validate().unwrap_err().starts_with("token"));
        assert!(g("https://push.example", "a b").validate().unwrap_err().starts_with("token"));
        assert_eq!(fence("a ````` b"), "``````\na ````` b\n``````");
    }
}
