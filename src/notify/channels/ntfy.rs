//! ntfy: publish as JSON, `POST {server}/` with `{topic, message, title, priority, tags, click}`.
//!
//! Quirks, with their sources (docs.ntfy.sh/publish "Publish as JSON", "Message priority",
//! "Tags & emojis", "Limitations"; docs.ntfy.sh/config; ntfy `server/server.go`; reference B "ntfy"):
//! - JSON publishing (rather than headers on `POST /<topic>`) keeps non-ASCII titles and line
//!   breaks intact: header values are ASCII-only.
//! - `message-size-limit` is 4 KiB by default: a longer message is turned into an attachment or
//!   refused. The server also reads a JSON publish only up to twice that. So the body is split,
//!   UTF-8 safe, into publishes whose *JSON-escaped* message is at most 4096 bytes (so the raw
//!   message is too, and the whole request stays under 8 KiB); the title of each says `(i/n)`.
//! - Priority 1–5: info 3 (default), warning 4 (high), critical 5 (max/urgent).
//! - Tags that are emoji shortcodes show as icons: `information_source`, `warning`,
//!   `rotating_light`, then the event's group as a plain tag.
//! - Auth: `Authorization: Bearer tk_...` (an access token) or Basic user/password.
//! - Errors are `{"code": 40301, "http": 403, "error": "forbidden", "link": "..."}`; a 429
//!   (`visitor-request-limit-*`) is retried, after `Retry-After` when the server sends one.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::webhook::{head, http_url, read_reply, retry_after, split_by, truncate_marked};
use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::{Message, Severity};

/// ntfy's default `message-size-limit`, in bytes.
const MESSAGE_MAX: usize = 4096;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyNtfy"))]
#[serde(deny_unknown_fields)]
pub struct Ntfy {
    #[serde(default = "default_server")]
    pub server: String,
    pub topic: String,
    /// An access token (`tk_...`), sent as Bearer.
    #[serde(default)]
    pub token: Option<String>,
    /// Basic auth, when no token.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

impl Channel for Ntfy {
    fn validate(&self) -> Result<(), String> {
        http_url("server", &self.server)?;
        let topic = self.topic.trim();
        if topic.is_empty()
            || topic.len() > 64
            || !topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("topic: 1 to 64 letters, digits, - or _".into());
        }
        let token = nonempty(&self.token);
        let user = nonempty(&self.username);
        if token.is_some() && user.is_some() {
            return Err("token: use either an access token or a username and password, not both".into());
        }
        if user.is_some() && nonempty(&self.password).is_none() {
            return Err("password: required with a username".into());
        }
        if token.is_some_and(|t| !t.bytes().all(|b| b.is_ascii_graphic())) {
            return Err("token: must not contain spaces".into());
        }
        Ok(())
    }

    async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        let url = format!("{}/", self.server.trim().trim_end_matches('/'));
        let mut ids = Vec::new();
        for body in publishes(self.topic.trim(), msg) {
            let mut req = ctx.http().post(&url).json(&body);
            if let Some(t) = nonempty(&self.token) {
                req = req.bearer_auth(t.trim());
            } else if let Some(u) = nonempty(&self.username) {
                req = req.basic_auth(u, self.password.as_deref());
            }
            let resp = req.limit(super::webhook::REPLY_LIMIT).send().await.map_err(SendError::from_http)?;
            let status = resp.status().as_u16();
            let success = resp.status().is_success();
            let after = retry_after(resp.headers());
            let text = read_reply(&resp);
            let answer: Answer = serde_json::from_str(&text).unwrap_or_default();
            if !success {
                let error = match (answer.error, answer.code) {
                    (Some(e), Some(c)) => format!("ntfy {status}: {e} (code {c})"),
                    (Some(e), None) => format!("ntfy {status}: {e}"),
                    _ => format!("ntfy HTTP {status}: {}", head(&text, 300)),
                };
                return Err(SendError::from_status(
                    status,
                    error.trim_end_matches([':', ' ']).to_string(),
                    after,
                ));
            }
            ids.push(answer.id.unwrap_or_else(|| "?".into()));
        }
        Ok(Delivered { reply: format!("id {}", ids.join(", ")) })
    }
}

#[derive(Deserialize, Default)]
struct Answer {
    id: Option<String>,
    code: Option<i64>,
    error: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

fn priority(s: Severity) -> u8 {
    match s {
        Severity::Info => 3,
        Severity::Warning => 4,
        Severity::Critical => 5,
    }
}

fn emoji(s: Severity) -> &'static str {
    match s {
        Severity::Info => "information_source",
        Severity::Warning => "warning",
        Severity::Critical => "rotating_light",
    }
}

/// The length of `s` as a JSON string's content, in bytes.
fn escaped_len(s: &str) -> usize {
    serde_json::Value::String(s.to_string()).to_string().len() - 2
}

/// The JSON bodies to publish, in order.
fn publishes(topic: &str, msg: &Message) -> Vec<serde_json::Value> {
    let title = if msg.title.trim().is_empty() { msg.kind.trim() } else { msg.title.trim() };
    let title = truncate_marked(title, 200);
    let body = msg.body.trim();
    let pieces =
        if body.is_empty() { vec![title.clone()] } else { split_by(body, MESSAGE_MAX, &escaped_len) };
    let n = pieces.len();
    let click = msg.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, message)| {
            let title = if n > 1 { format!("{title} ({}/{n})", i + 1) } else { title.clone() };
            let mut v = json!({
                "topic": topic,
                "message": message,
                "title": title,
                "priority": priority(msg.severity),
                "tags": [emoji(msg.severity), msg.group.as_str()],
            });
            if let Some(u) = click {
                v["click"] = u.into();
            }
            v
        })
        .collect()
}

fn default_server() -> String {
    "https://ntfy.sh".into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::Value;

    use super::*;
    use crate::notify::Group;

    type Log = Arc<Mutex<Vec<(Option<String>, Value)>>>;

    /// ntfy's JSON publish at `/`: reads the body up to twice the message limit, checks the topic
    /// and the auth the way ntfy answers (`{code, http, error, link}`), refuses a message over the
    /// 4 KiB limit, and returns the published message. Topics script the failures.
    async fn ntfy() -> (String, Log) {
        async fn publish(State(log): State<Log>, headers: HeaderMap, raw: Bytes) -> Response {
            let err = |http: u16, code: u32, error: &str| {
                let v = json!({"code": code, "http": http, "error": error, "link": "https://ntfy.sh/docs/publish/"});
                (StatusCode::from_u16(http).unwrap(), Json(v)).into_response()
            };
            if raw.len() > 2 * MESSAGE_MAX {
                return err(413, 41301, "too large, the request body exceeds the limit");
            }
            let Ok(req) = serde_json::from_slice::<Value>(&raw) else {
                return err(400, 40017, "invalid request: request body must be message JSON");
            };
            let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
            match req["topic"].as_str().unwrap() {
                "private"
                    if auth.as_deref() != Some("Bearer tk_good")
                        && auth.as_deref() != Some("Basic cGhpbDpteXBhc3M=") =>
                {
                    return err(403, 40301, "forbidden");
                }
                "flood" => {
                    let v = json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"});
                    return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "5")], Json(v)).into_response();
                }
                "down" => return (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response(),
                _ => {}
            }
            if req["message"].as_str().unwrap().len() > MESSAGE_MAX {
                return err(413, 41303, "message too large");
            }
            let mut log = log.lock().unwrap();
            log.push((auth, req.clone()));
            let id = format!("msg{}", log.len());
            Json(json!({"id": id, "time": 1_722_470_400, "event": "message", "topic": req["topic"], "message": req["message"]}))
                .into_response()
        }
        let log = Log::default();
        let app = Router::new().route("/", post(publish)).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, log)
    }

    fn msg(body: &str) -> Message {
        Message {
            title: "Nouvelle connexion depuis 203.0.113.9 — « admin »".into(),
            body: body.into(),
            severity: Severity::Warning,
            kind: "auth.new_ip".into(),
            group: Group::Security,
            fingerprint: "auth.new_ip:1".into(),
            ts_ms: 1_722_470_400_000,
            hostname: "pve1".into(),
            fields: BTreeMap::new(),
            url: Some("https://pw.example/#/security".into()),
        }
    }

    fn n(base: &str, topic: &str) -> Ntfy {
        Ntfy { server: format!("{base}/"), topic: topic.into(), token: None, username: None, password: None }
    }

    fn ctx() -> Ctx {
        Ctx::new(Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn publishes_json_with_priority_tags_and_click() {
        let (base, log) = ntfy().await;
        let d = n(&base, "alerts").send(&ctx(), &msg("ligne 1\nligne 2")).await.unwrap();
        assert_eq!(d.reply, "id msg1");
        let (auth, req) = log.lock().unwrap()[0].clone();
        assert_eq!(auth, None);
        assert_eq!(
            req,
            json!({
                "topic": "alerts",
                "message": "ligne 1\nligne 2",
                "title": "Nouvelle connexion depuis 203.0.113.9 — « admin »",
                "priority": 4,
                "tags": ["warning", "security"],
                "click": "https://pw.example/#/security",
            })
        );
    }

    #[tokio::test]
    async fn auth_by_token_or_basic() {
        let (base, log) = ntfy().await;
        let mut t = n(&base, "private");
        t.token = Some("tk_good".into());
        t.send(&ctx(), &msg("x")).await.unwrap();
        let mut b = n(&base, "private");
        (b.username, b.password) = (Some("phil".into()), Some("mypass".into()));
        b.send(&ctx(), &msg("x")).await.unwrap();
        let auths: Vec<_> = log.lock().unwrap().iter().map(|(a, _)| a.clone().unwrap()).collect();
        assert_eq!(auths, ["Bearer tk_good", "Basic cGhpbDpteXBhc3M="]);
    }

    #[tokio::test]
    async fn a_long_body_is_split_into_publishes_under_the_limit() {
        let (base, log) = ntfy().await;
        // Multi-byte characters and characters JSON escapes, in long lines.
        let body: String =
            (0..120).map(|i| format!("{i:03} {} \"q\" \\ {}\n", "€".repeat(30), "x".repeat(20))).collect();
        let d = n(&base, "alerts").send(&ctx(), &msg(&body)).await.unwrap();
        let got = log.lock().unwrap().clone();
        assert!(got.len() >= 3, "{}", got.len());
        assert_eq!(
            d.reply,
            format!("id {}", (1..=got.len()).map(|i| format!("msg{i}")).collect::<Vec<_>>().join(", "))
        );
        let k = got.len();
        for (i, (_, req)) in got.iter().enumerate() {
            assert!(req["message"].as_str().unwrap().len() <= MESSAGE_MAX);
            assert!(req["title"].as_str().unwrap().ends_with(&format!("({}/{k})", i + 1)));
        }
        let joined: Vec<&str> =
            got.iter().flat_map(|(_, r)| r["message"].as_str().unwrap().lines()).collect();
        assert_eq!(joined.len(), 120);
        assert!(joined.iter().enumerate().all(|(i, l)| l.starts_with(&format!("{i:03} €"))));
    }

    #[test]
    fn escaping_heavy_bodies_still_fit_the_request_limit() {
        for body in ["\n".repeat(5000), "\u{1}".repeat(3000), "€".repeat(3000)] {
            for p in publishes("t", &msg(&format!("a{body}b"))) {
                assert!(serde_json::to_string(&p).unwrap().len() <= 2 * MESSAGE_MAX);
                assert!(p["message"].as_str().unwrap().len() <= MESSAGE_MAX);
            }
        }
    }

    #[tokio::test]
    async fn errors_are_classified_with_ntfys_message() {
        let (base, _log) = ntfy().await;
        let send = |t: Ntfy| async move { t.send(&ctx(), &msg("x")).await.unwrap_err() };
        assert_eq!(send(n(&base, "private")).await, SendError::permanent("ntfy 403: forbidden (code 40301)"));
        assert_eq!(
            send(n(&base, "flood")).await,
            SendError::Retry {
                error: "ntfy 429: limit reached: too many requests (code 42901)".into(),
                after: Some(Duration::from_secs(5))
            }
        );
        assert_eq!(send(n(&base, "down")).await, SendError::retry("ntfy HTTP 502: <html>bad gateway</html>"));

        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        assert!(matches!(send(n(&format!("http://{addr}"), "alerts")).await, SendError::Retry { .. }));
    }

    #[test]
    fn validate_checks_topic_and_auth() {
        let mut t = n("https://ntfy.sh", "pve_alerts-1");
        t.validate().unwrap();
        for bad in ["", "a/b", "with space", &"x".repeat(65)] {
            t.topic = bad.into();
            assert!(t.validate().unwrap_err().starts_with("topic"), "{bad}");
        }
        t.topic = "ok".into();
        t.username = Some("phil".into());
        assert!(t.validate().unwrap_err().starts_with("password"));
        t.password = Some("p".into());
        t.validate().unwrap();
        t.token = Some("tk_x".into());
        assert!(t.validate().unwrap_err().starts_with("token"));
    }
}
