//! Discord webhooks: `POST {webhook_url}?wait=true` with one message of embeds.
//!
//! Quirks, with their sources (discord.com/developers/docs/resources/webhook#execute-webhook,
//! .../resources/message#embed-object-embed-limits, .../topics/rate-limits; reference B "Discord"):
//! - `wait=true` makes Discord confirm and return the message (its `id`); without it the answer is
//!   204 and a message that is not saved returns no error.
//! - `thread_id` posts into a thread (a forum channel needs it).
//! - Embed limits: title 256, description 4096, footer 2048, at most 10 embeds, and **6000
//!   characters across all embeds of a message**; a body over that is spread over several embeds
//!   and then truncated with a marker. A limit overflow is a 400 that no retry fixes.
//! - `allowed_mentions: {parse: []}`: text from the host (a VM called `@everyone`) pings nobody.
//! - A 429 answers `{message, retry_after, global}` and a `Retry-After` header; `retry_after` is
//!   seconds as a float (once observed in ms, discord-api-docs #4722), so it is clamped to an hour.
//! - Errors are `{"message": "...", "code": N}` (e.g. 50027 "Invalid Webhook Token", 10015
//!   "Unknown Webhook"); a 50035 "Invalid Form Body" adds `errors` with the field at fault.
//! - The URL holds the webhook's token: it never appears in an error message.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::webhook::{head, http_url, read_reply, retry_after, secs, truncate_marked};
use super::{Channel, Ctx, Delivered, SendError, split_text};
use crate::notify::{Message, Severity};

const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FOOTER_MAX: usize = 2048;
const EMBEDS_MAX: usize = 10;
const TOTAL_MAX: usize = 6000;
const MARKER: &str = "\n… (truncated)";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyDiscord"))]
#[serde(deny_unknown_fields)]
pub struct Discord {
    /// `https://discord.com/api/webhooks/<id>/<token>`: the URL is the secret.
    pub webhook_url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub thread_id: Option<String>,
}

impl Channel for Discord {
    fn validate(&self) -> Result<(), String> {
        let url = http_url("webhook_url", &self.webhook_url)?;
        if !url.path().contains("/api/webhooks/") {
            return Err(
                "webhook_url: expected a webhook URL (https://discord.com/api/webhooks/<id>/<token>)".into(),
            );
        }
        if let Some(name) = self.username.as_deref().map(str::trim).filter(|n| !n.is_empty())
            && name.chars().count() > 80
        {
            return Err("username: at most 80 characters".into());
        }
        if let Some(t) = self.thread_id.as_deref().map(str::trim).filter(|t| !t.is_empty())
            && !t.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("thread_id: expected a numeric id".into());
        }
        Ok(())
    }

    async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        // `wait=true` makes Discord answer with the message (its id) instead of 204. The thread id
        // is digits only (validated), so it needs no escaping.
        let base = self.webhook_url.trim();
        let base = base.split_once('#').map_or(base, |(u, _)| u);
        let mut url = format!("{base}{}wait=true", if base.contains('?') { '&' } else { '?' });
        if let Some(t) = self.thread_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            url.push_str("&thread_id=");
            url.push_str(t);
        }
        let mut body = json!({"embeds": embeds(msg), "allowed_mentions": {"parse": []}});
        if let Some(name) = self.username.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            body["username"] = truncate_marked(name, 80).into();
        }

        let resp = ctx
            .http()
            .post(url)
            .json(&body)
            .limit(super::webhook::REPLY_LIMIT)
            .send()
            .await
            .map_err(SendError::from_http)?;
        let status = resp.status().as_u16();
        let success = resp.status().is_success();
        let header_wait = retry_after(resp.headers());
        let text = read_reply(&resp);
        let answer: Answer = serde_json::from_str(&text).unwrap_or_default();
        if success {
            let id = match answer.id {
                Some(Value::String(s)) => s,
                Some(v @ Value::Number(_)) => v.to_string(),
                _ => "?".into(),
            };
            return Ok(Delivered { reply: format!("message id {id}") });
        }
        let mut error = match (answer.message, answer.code) {
            (Some(m), Some(c)) => format!("Discord {status}: {m} (code {c})"),
            (Some(m), None) => format!("Discord {status}: {m}"),
            _ => format!("Discord HTTP {status}: {}", head(&text, 300)),
        };
        if let Some(errors) = answer.errors {
            error.push_str(&format!(": {}", head(&errors.to_string(), 300)));
        }
        let after = answer.retry_after.and_then(secs).or(header_wait);
        Err(SendError::from_status(status, error, after))
    }
}

#[derive(Deserialize, Default)]
struct Answer {
    /// A snowflake, sent as a string.
    id: Option<Value>,
    message: Option<String>,
    code: Option<i64>,
    errors: Option<Value>,
    retry_after: Option<f64>,
}

fn color(s: Severity) -> u32 {
    match s {
        Severity::Critical => 0xE7_4C_3C,
        Severity::Warning => 0xF3_9C_12,
        Severity::Info => 0x34_98_DB,
    }
}

/// The embeds for `msg`, within every limit: the title (and link) on the first, the body spread
/// over up to ten descriptions, the host and time in the last one's footer; at most 6000 characters
/// in all, a longer body cut with [`MARKER`].
fn embeds(msg: &Message) -> Vec<Value> {
    let title = if msg.title.trim().is_empty() { msg.kind.trim() } else { msg.title.trim() };
    let title = truncate_marked(title, TITLE_MAX);
    let footer = truncate_marked(msg.hostname.trim(), FOOTER_MAX);
    let marker_len = MARKER.chars().count();
    let mut budget = TOTAL_MAX.saturating_sub(title.chars().count() + footer.chars().count() + marker_len);

    let mut descriptions: Vec<String> = Vec::new();
    let mut truncated = false;
    let body = msg.body.trim();
    if !body.is_empty() {
        for piece in split_text(body, DESCRIPTION_MAX) {
            let n = piece.chars().count();
            if descriptions.len() == EMBEDS_MAX || budget == 0 {
                truncated = true;
                break;
            }
            if n > budget {
                descriptions.push(piece.chars().take(budget).collect());
                truncated = true;
                break;
            }
            budget -= n;
            descriptions.push(piece);
        }
    }
    if truncated {
        // The marker's characters were kept out of the budget; only the 4096 per embed can bind.
        match descriptions.last_mut() {
            Some(last) => {
                let keep = last.chars().count().min(DESCRIPTION_MAX - marker_len);
                *last = last.chars().take(keep).collect::<String>() + MARKER;
            }
            None => descriptions.push(MARKER.trim_start().to_string()),
        }
    }
    if descriptions.is_empty() {
        descriptions.push(String::new());
    }

    let link = msg.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let last = descriptions.len() - 1;
    descriptions
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut e = json!({"color": color(msg.severity)});
            if i == 0 {
                e["title"] = title.clone().into();
                if let Some(u) = link {
                    e["url"] = u.into();
                }
            }
            if !d.is_empty() {
                e["description"] = d.into();
            }
            if i == last {
                if !footer.is_empty() {
                    e["footer"] = json!({"text": footer});
                }
                e["timestamp"] = iso8601(msg.ts_ms).into();
            }
            e
        })
        .collect()
}

/// `2024-08-01T00:00:00.123Z`.
fn iso8601(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let ms = ts_ms.rem_euclid(1000);
    let (y, m, d) = crate::civil::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::{Path, Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Json, Router};

    use super::*;
    use crate::notify::Group;

    type Log = Arc<Mutex<Vec<(HashMap<String, String>, Value)>>>;

    /// Discord's execute-webhook endpoint: checks the token, enforces the embed limits the way the
    /// API does (400 code 50035), and answers the created message. The webhook id scripts errors.
    async fn discord() -> (String, Log) {
        async fn exec(
            State(log): State<Log>,
            Path((id, token)): Path<(String, String)>,
            Query(q): Query<HashMap<String, String>>,
            Json(req): Json<Value>,
        ) -> Response {
            let err = |status: StatusCode, v: Value| (status, Json(v)).into_response();
            if token != "tok" {
                return err(
                    StatusCode::UNAUTHORIZED,
                    json!({"message": "Invalid Webhook Token", "code": 50027}),
                );
            }
            match id.as_str() {
                "429" => {
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "3")],
                        Json(json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false})),
                    )
                        .into_response();
                }
                "4290" => {
                    let v = json!({"message": "You are being rate limited.", "retry_after": 99_999.0, "global": true});
                    return err(StatusCode::TOO_MANY_REQUESTS, v);
                }
                "500" => return (StatusCode::INTERNAL_SERVER_ERROR, "upstream").into_response(),
                _ => {}
            }
            if let Err(field) =
                check_limits(&req).and_then(|()| if id == "400" { Err("title") } else { Ok(()) })
            {
                let errors =
                    json!({"embeds": {"0": {field: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}}});
                return err(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "Invalid Form Body", "code": 50035, "errors": errors}),
                );
            }
            log.lock().unwrap().push((q, req));
            (StatusCode::OK, Json(json!({"id": "1263000000000000001", "type": 0, "channel_id": "1"})))
                .into_response()
        }
        let log = Log::default();
        let app = Router::new().route("/api/webhooks/{id}/{token}", post(exec)).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, log)
    }

    fn len(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    /// Discord's embed limits; the field at fault.
    fn check_limits(req: &Value) -> Result<(), &'static str> {
        let embeds = req["embeds"].as_array().unwrap();
        if embeds.is_empty() || embeds.len() > EMBEDS_MAX {
            return Err("embeds");
        }
        let mut total = 0;
        for e in embeds {
            let (t, d, f) = (len(&e["title"]), len(&e["description"]), len(&e["footer"]["text"]));
            if t > TITLE_MAX {
                return Err("title");
            }
            if d > DESCRIPTION_MAX {
                return Err("description");
            }
            if f > FOOTER_MAX {
                return Err("footer");
            }
            total += t + d + f;
        }
        if total > TOTAL_MAX { Err("embeds") } else { Ok(()) }
    }

    fn msg(body: &str) -> Message {
        Message {
            title: "Guest @everyone <stopped>".into(),
            body: body.into(),
            severity: Severity::Critical,
            kind: "guest.stopped".into(),
            group: Group::Guests,
            fingerprint: "guest.stopped:101".into(),
            ts_ms: 1_722_470_400_123,
            hostname: "pve1".into(),
            fields: BTreeMap::new(),
            url: Some("https://pw.example/#/guest/101".into()),
        }
    }

    fn hook(base: &str, id: &str) -> Discord {
        Discord { webhook_url: format!("{base}/api/webhooks/{id}/tok"), username: None, thread_id: None }
    }

    fn ctx() -> Ctx {
        Ctx::new(Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn sends_one_embed_with_colour_time_footer_and_no_mentions() {
        let (base, log) = discord().await;
        let mut d = hook(&base, "1");
        d.username = Some("proxwatch".into());
        d.thread_id = Some("555".into());
        let got = d.send(&ctx(), &msg("VM 101 stopped.")).await.unwrap();
        assert_eq!(got.reply, "message id 1263000000000000001");
        let (q, req) = log.lock().unwrap()[0].clone();
        assert_eq!((q["wait"].as_str(), q["thread_id"].as_str()), ("true", "555"));
        assert_eq!(req["username"], "proxwatch");
        assert_eq!(req["allowed_mentions"], json!({"parse": []}));
        assert_eq!(
            req["embeds"],
            json!([{
                "title": "Guest @everyone <stopped>",
                "url": "https://pw.example/#/guest/101",
                "description": "VM 101 stopped.",
                "color": 0xE74C3C,
                "footer": {"text": "pve1"},
                "timestamp": "2024-08-01T00:00:00.123Z",
            }])
        );
    }

    #[tokio::test]
    async fn a_long_body_stays_within_every_limit() {
        let (base, log) = discord().await;
        let body: String = (0..300).map(|i| format!("line {i:03} {}\n", "é".repeat(40))).collect();
        let mut m = msg(&body);
        m.title = "T".repeat(300);
        m.severity = Severity::Warning;
        hook(&base, "1").send(&ctx(), &m).await.unwrap();
        let (_, req) = log.lock().unwrap()[0].clone();
        let embeds = req["embeds"].as_array().unwrap();
        assert!(embeds.len() >= 2);
        assert!(embeds.iter().all(|e| e["color"] == 0xF39C12));
        assert_eq!(len(&embeds[0]["title"]), TITLE_MAX);
        let total: usize = embeds
            .iter()
            .map(|e| len(&e["title"]) + len(&e["description"]) + len(&e["footer"]["text"]))
            .sum();
        assert!(total <= TOTAL_MAX && total > TOTAL_MAX - 100, "{total}");
        let last = embeds.last().unwrap();
        assert!(last["description"].as_str().unwrap().ends_with(MARKER));
        assert_eq!(last["footer"]["text"], "pve1");
        assert!(embeds[0].get("footer").is_none());
        // The text is kept in order from the start.
        let all: String =
            embeds.iter().map(|e| e["description"].as_str().unwrap()).collect::<Vec<_>>().join("\n");
        assert!(all.starts_with("line 000 "));
        assert!(all.contains("line 050 "));
    }

    #[test]
    fn one_huge_line_and_an_empty_body() {
        let e = embeds(&msg(&"x".repeat(20_000)));
        assert!(check_limits(&json!({"embeds": e})).is_ok());
        assert!(e.last().unwrap()["description"].as_str().unwrap().ends_with(MARKER));
        let e = embeds(&msg(""));
        assert_eq!(e.len(), 1);
        assert!(e[0].get("description").is_none());
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }

    #[tokio::test]
    async fn errors_are_classified_with_discords_message() {
        let (base, _log) = discord().await;
        let send = |d: Discord| async move { d.send(&ctx(), &msg("x")).await.unwrap_err() };
        let mut bad = hook(&base, "1");
        bad.webhook_url = format!("{base}/api/webhooks/1/wrong");
        assert_eq!(send(bad).await, SendError::permanent("Discord 401: Invalid Webhook Token (code 50027)"));
        assert_eq!(
            send(hook(&base, "429")).await,
            SendError::Retry {
                error: "Discord 429: You are being rate limited.".into(),
                after: Some(Duration::from_millis(1500))
            }
        );
        let e = send(hook(&base, "4290")).await;
        assert!(
            matches!(e, SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(3600)),
            "{e:?}"
        );
        let e = send(hook(&base, "500")).await;
        assert_eq!(e, SendError::retry("Discord HTTP 500: upstream"));

        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let e = send(hook(&format!("http://{addr}"), "1")).await;
        assert!(matches!(e, SendError::Retry { .. }), "{e}");
        assert!(!e.message().contains("tok"), "{e}");
    }

    #[tokio::test]
    async fn an_invalid_form_body_is_permanent_and_names_the_field() {
        let (base, _log) = discord().await;
        let e = hook(&base, "400").send(&ctx(), &msg("x")).await.unwrap_err();
        assert!(matches!(e, SendError::Permanent { .. }), "{e:?}");
        assert!(e.message().starts_with("Discord 400: Invalid Form Body (code 50035): "), "{e}");
        assert!(e.message().contains("BASE_TYPE_MAX_LENGTH"), "{e}");
    }

    #[test]
    fn validate_wants_an_http_url() {
        let mut d = hook("https://discord.com", "1");
        d.validate().unwrap();
        for bad in ["discord.com/api/webhooks/1/x", "https://discord.com/channels/1/2"] {
            d.webhook_url = bad.into();
            assert!(d.validate().unwrap_err().starts_with("webhook_url"), "{bad}");
        }
        d.webhook_url = "https://discord.com/api/webhooks/1/x".into();
        d.thread_id = Some("abc".into());
        assert!(d.validate().unwrap_err().starts_with("thread_id"));
    }
}
