//! Telegram Bot API: `POST {base_url}/bot<token>/sendMessage` with HTML parse mode.
//!
//! Quirks, with their sources (core.telegram.org/bots/api#sendmessage, #html-style, #making-requests;
//! reference B "Telegram"):
//! - `text` is 1–4096 characters *after entity parsing*; Telegram counts in UTF-16 code units (its
//!   entity offsets are UTF-16), so a long body is split on line breaks into several messages, sent
//!   in order, each measured in UTF-16 units. The title is bold on the first piece only, the link
//!   on the last. Each piece is escaped on its own, so an entity is never cut.
//! - HTML mode: every `<`, `>`, `&` that is not markup must be escaped (`&lt; &gt; &amp;`, and
//!   `&quot;` inside an attribute); `<br>` is not supported, line breaks are `\n`.
//! - Errors are `{"ok":false,"error_code":N,"description":"...","parameters":{...}}`;
//!   `parameters.retry_after` (seconds) comes with a 429, `parameters.migrate_to_chat_id` when a
//!   group became a supergroup (the old chat id is dead: permanent, with the new id in the message).
//! - The token is part of the URL: errors never carry the URL (reqwest's are stripped, and the token
//!   is masked in anything else shown).
//! - A multi-piece message that fails half-way is retried whole; the pieces already sent repeat.

use serde::{Deserialize, Serialize};

use super::webhook::{http_url, read_reply, retry_after, split_by, truncate_marked};
use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::{Message, Severity};

/// The most `text` may hold, in UTF-16 code units after entity parsing.
const MAX_TEXT: usize = 4096;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyTelegram"))]
#[serde(deny_unknown_fields)]
pub struct Telegram {
    /// `https://api.telegram.org` unless a test or a proxy says otherwise.
    #[serde(default = "default_base")]
    pub base_url: String,
    pub bot_token: String,
    pub chat_id: String,
    /// A forum topic (`message_thread_id`).
    #[serde(default)]
    pub topic_id: Option<i64>,
    /// Send non-critical messages silently (`disable_notification`).
    #[serde(default)]
    pub silent_below_critical: bool,
}

impl Channel for Telegram {
    fn validate(&self) -> Result<(), String> {
        http_url("base_url", &self.base_url)?;
        let token = self.bot_token.trim();
        let ok = token.split_once(':').is_some_and(|(id, secret)| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if !ok {
            return Err("bot_token: expected the token @BotFather gave, like 123456789:AAE...".into());
        }
        let chat = self.chat_id.trim();
        if chat.is_empty() {
            return Err("chat_id: required (a numeric id like -1001234567890, or @channelname)".into());
        }
        if chat.parse::<i64>().is_err() && !chat.starts_with('@') {
            return Err("chat_id: expected a numeric id (like -1001234567890) or @channelname".into());
        }
        Ok(())
    }

    async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        let url = format!(
            "{}/bot{}/sendMessage",
            self.base_url.trim().trim_end_matches('/'),
            self.bot_token.trim()
        );
        let chat = self.chat_id.trim();
        let chat_id = match chat.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(chat),
        };
        let silent = self.silent_below_critical && msg.severity != Severity::Critical;
        let mut ids = Vec::new();
        for text in pieces(msg) {
            let mut body = serde_json::json!({
                "chat_id": chat_id,
                "text": text,
                "parse_mode": "HTML",
                "disable_notification": silent,
                "link_preview_options": {"is_disabled": true},
            });
            if let Some(topic) = self.topic_id {
                body["message_thread_id"] = topic.into();
            }
            let id = self.send_one(ctx, &url, &body).await.map_err(|e| self.mask(e))?;
            ids.push(id);
        }
        Ok(Delivered { reply: format!("message_id {}", ids.join(", ")) })
    }
}

impl Telegram {
    async fn send_one(&self, ctx: &Ctx, url: &str, body: &serde_json::Value) -> Result<String, SendError> {
        let resp = ctx
            .http()
            .post(url)
            .json(body)
            .limit(super::webhook::REPLY_LIMIT)
            .send()
            .await
            .map_err(SendError::from_http)?;
        let status = resp.status().as_u16();
        let success = resp.status().is_success();
        let header_wait = retry_after(resp.headers());
        let text = read_reply(&resp);
        let Ok(answer) = serde_json::from_str::<Answer>(&text) else {
            if success {
                return Ok("?".into());
            }
            let snippet = super::webhook::head(&text, 300);
            return Err(SendError::from_status(
                status,
                format!("Telegram HTTP {status}: {snippet}"),
                header_wait,
            ));
        };
        if answer.ok {
            return Ok(answer.result.map(|r| r.message_id.to_string()).unwrap_or_else(|| "?".into()));
        }
        let code = answer.error_code.unwrap_or(i64::from(status));
        let description = answer.description.unwrap_or_else(|| "(no description)".into());
        let error = format!("Telegram {code}: {description}");
        let params = answer.parameters.unwrap_or_default();
        if let Some(new_id) = params.migrate_to_chat_id {
            return Err(SendError::permanent(format!(
                "{error}: the group became a supergroup; set the chat id to {new_id}"
            )));
        }
        let after = params.retry_after.and_then(|s| super::webhook::secs(s as f64)).or(header_wait);
        let status = if success { u16::try_from(code).unwrap_or(400) } else { status };
        Err(SendError::from_status(status, error, after))
    }

    /// The token never reaches an error message, whatever a proxy echoes back.
    fn mask(&self, e: SendError) -> SendError {
        let token = self.bot_token.trim();
        if token.is_empty() || !e.message().contains(token) {
            return e;
        }
        let error = e.message().replace(token, "<bot token>");
        match e {
            SendError::Retry { after, .. } => SendError::Retry { error, after },
            SendError::Permanent { .. } => SendError::Permanent { error },
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    result: Option<Sent>,
    error_code: Option<i64>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Sent {
    message_id: i64,
}

#[derive(Deserialize, Default)]
struct Parameters {
    retry_after: Option<u64>,
    migrate_to_chat_id: Option<i64>,
}

/// The HTML texts to send, in order: `<b>title</b>\nbody` (+ the link), split so that each piece's
/// parsed text is at most [`MAX_TEXT`] UTF-16 units.
fn pieces(msg: &Message) -> Vec<String> {
    let units = |s: &str| s.encode_utf16().count();
    let title = if msg.title.trim().is_empty() { msg.kind.as_str() } else { msg.title.trim() };
    let title = truncate_marked(title, 512);
    let link = msg.url.as_deref().map(str::trim).filter(|u| !u.is_empty() && u.chars().count() <= 512);
    // Room for the body in each piece: the title line and the link line are charged to every piece
    // (at most 1024 UTF-16 units each, so at least 2046 remain).
    let room = MAX_TEXT - units(&title) - 1 - link.map_or(0, |l| units(l) + 1);
    let body = msg.body.trim();
    let bodies = if body.is_empty() { vec![String::new()] } else { split_by(body, room, &units) };
    let last = bodies.len() - 1;
    bodies
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut text = String::new();
            if i == 0 {
                text.push_str(&format!("<b>{}</b>", escape(&title)));
            }
            if !piece.is_empty() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&escape(piece));
            }
            if let (true, Some(link)) = (i == last, link) {
                text.push_str(&format!("\n<a href=\"{}\">{}</a>", escape_attr(link), escape(link)));
            }
            text
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn escape_attr(s: &str) -> String {
    escape(s).replace('"', "&quot;")
}

fn default_base() -> String {
    "https://api.telegram.org".into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::{Value, json};

    use super::*;
    use crate::notify::Group;

    const TOKEN: &str = "123456:AAE-good_token";

    type Log = Arc<Mutex<Vec<Value>>>;

    /// A Bot API stand-in: `/bot<token>/sendMessage` checks the token, validates the HTML the way
    /// Telegram's parser would (allowed tags balanced, only the four named entities), measures the
    /// parsed text, and answers like Telegram. Special chat ids script the errors.
    async fn bot_api() -> (String, Log) {
        async fn send(
            State(log): State<Log>,
            Path((bot, method)): Path<(String, String)>,
            Json(req): Json<Value>,
        ) -> (StatusCode, Json<Value>) {
            let fail = |code: u16, description: &str, parameters: Value| {
                let mut v = json!({"ok": false, "error_code": code, "description": description});
                if !parameters.is_null() {
                    v["parameters"] = parameters;
                }
                (StatusCode::from_u16(code).unwrap(), Json(v))
            };
            if bot != format!("bot{TOKEN}") {
                return fail(401, "Unauthorized", Value::Null);
            }
            assert_eq!(method, "sendMessage");
            let text = req["text"].as_str().unwrap();
            match parsed_len(text) {
                Err(e) => return fail(400, &format!("Bad Request: can't parse entities: {e}"), Value::Null),
                Ok(0) => return fail(400, "Bad Request: message text is empty", Value::Null),
                Ok(n) if n > MAX_TEXT => return fail(400, "Bad Request: message is too long", Value::Null),
                Ok(_) => {}
            }
            match req["chat_id"].clone() {
                v if v == json!("@nochat") => fail(400, "Bad Request: chat not found", Value::Null),
                v if v == json!(-1) => {
                    fail(429, "Too Many Requests: retry after 7", json!({"retry_after": 7}))
                }
                v if v == json!(-2) => fail(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    json!({"migrate_to_chat_id": -1_001_234_567_890_i64}),
                ),
                v if v == json!(-3) => (
                    StatusCode::BAD_GATEWAY,
                    Json(json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})),
                ),
                _ => {
                    let mut log = log.lock().unwrap();
                    log.push(req);
                    let id = 100 + log.len();
                    (
                        StatusCode::OK,
                        Json(json!({"ok": true, "result": {"message_id": id, "chat": {"id": 42}}})),
                    )
                }
            }
        }
        let log = Log::default();
        let app = Router::new().route("/{bot}/{method}", post(send)).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, log)
    }

    /// Telegram's HTML parsing, strictly enough for these tests: the parsed text's length in UTF-16
    /// units, or why it does not parse.
    fn parsed_len(html: &str) -> Result<usize, String> {
        let mut open = Vec::new();
        let mut plain = String::new();
        let mut rest = html;
        while let Some(c) = rest.chars().next() {
            match c {
                '<' => {
                    let end = rest.find('>').ok_or("unclosed tag")?;
                    let tag = &rest[1..end];
                    if let Some(name) = tag.strip_prefix('/') {
                        if open.pop() != Some(name.to_string()) {
                            return Err(format!("unexpected end tag {name}"));
                        }
                    } else {
                        let name = tag.split(' ').next().unwrap().to_string();
                        if !["b", "a"].contains(&name.as_str()) {
                            return Err(format!("unsupported start tag \"{name}\""));
                        }
                        if name == "a" {
                            let href = tag.strip_prefix("a href=\"").and_then(|h| h.strip_suffix('"'));
                            let href = href.ok_or("bad a tag")?;
                            if href.contains('"') || href.contains('<') {
                                return Err("bad href".into());
                            }
                        }
                        open.push(name);
                    }
                    rest = &rest[end + 1..];
                }
                '&' => {
                    let (ent, ch) = [("&lt;", '<'), ("&gt;", '>'), ("&amp;", '&'), ("&quot;", '"')]
                        .into_iter()
                        .find(|(e, _)| rest.starts_with(e))
                        .ok_or("bad entity")?;
                    plain.push(ch);
                    rest = &rest[ent.len()..];
                }
                '>' => return Err("unescaped >".into()),
                c => {
                    plain.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !open.is_empty() {
            return Err("unclosed".into());
        }
        Ok(plain.trim().encode_utf16().count())
    }

    fn msg(body: &str) -> Message {
        Message {
            title: "Backup <failed> & \"late\"".into(),
            body: body.into(),
            severity: Severity::Warning,
            kind: "backup.failed".into(),
            group: Group::Backups,
            fingerprint: "backup.failed:1".into(),
            ts_ms: 1_722_470_400_000,
            hostname: "pve1".into(),
            fields: BTreeMap::new(),
            url: Some("https://pw.example/#/tasks?a=1&b=\"2\"".into()),
        }
    }

    fn bot(base: &str, chat: &str) -> Telegram {
        Telegram {
            base_url: format!("{base}/"),
            bot_token: TOKEN.into(),
            chat_id: chat.into(),
            topic_id: None,
            silent_below_critical: true,
        }
    }

    fn ctx() -> Ctx {
        Ctx::new(Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn sends_escaped_html_with_options() {
        let (base, log) = bot_api().await;
        let mut t = bot(&base, "-100777");
        t.topic_id = Some(9);
        let d = t.send(&ctx(), &msg("vm 101: <b>not</b> bold & ok")).await.unwrap();
        assert_eq!(d.reply, "message_id 101");
        let req = log.lock().unwrap()[0].clone();
        assert_eq!(req["chat_id"], -100_777);
        assert_eq!(req["parse_mode"], "HTML");
        assert_eq!(req["message_thread_id"], 9);
        assert_eq!(req["disable_notification"], true);
        assert_eq!(req["link_preview_options"], json!({"is_disabled": true}));
        assert_eq!(
            req["text"],
            "<b>Backup &lt;failed&gt; &amp; \"late\"</b>\nvm 101: &lt;b&gt;not&lt;/b&gt; bold &amp; ok\n\
             <a href=\"https://pw.example/#/tasks?a=1&amp;b=&quot;2&quot;\">https://pw.example/#/tasks?a=1&amp;b=\"2\"</a>"
        );

        // Critical is never silent; an @channel id stays a string.
        let mut m = msg("x");
        m.severity = Severity::Critical;
        bot(&base, "@mychannel").send(&ctx(), &m).await.unwrap();
        let req = log.lock().unwrap()[1].clone();
        assert_eq!(
            (req["chat_id"].as_str(), req["disable_notification"].as_bool()),
            (Some("@mychannel"), Some(false))
        );
        assert!(req.get("message_thread_id").is_none());
    }

    #[tokio::test]
    async fn long_bodies_are_split_in_order_with_valid_html_per_piece() {
        let (base, log) = bot_api().await;
        // Lines full of characters that grow when escaped, and emoji that count two UTF-16 units.
        let body: String = (0..400).map(|i| format!("line {i:03} <&> 😀 {}\n", "x".repeat(20))).collect();
        let d = bot(&base, "42").send(&ctx(), &msg(&body)).await.unwrap();
        let got = log.lock().unwrap().clone();
        assert!(got.len() >= 4, "{} pieces", got.len());
        let ids: Vec<String> = (101..101 + got.len()).map(|i| i.to_string()).collect();
        assert_eq!(d.reply, format!("message_id {}", ids.join(", ")));
        let texts: Vec<&str> = got.iter().map(|r| r["text"].as_str().unwrap()).collect();
        for t in &texts {
            assert!(parsed_len(t).unwrap() <= MAX_TEXT);
        }
        assert!(texts[0].starts_with("<b>Backup"));
        assert!(texts[1..].iter().all(|t| !t.contains("<b>")));
        assert!(texts[..texts.len() - 1].iter().all(|t| !t.contains("<a ")));
        assert!(texts[texts.len() - 1].contains("<a href="));
        // In order and nothing lost: the line numbers run 000..399 across the pieces.
        let lines: Vec<&str> =
            texts.iter().flat_map(|t| t.lines()).filter(|l| l.starts_with("line ")).collect();
        assert_eq!(lines.len(), 400);
        assert!(lines.iter().enumerate().all(|(i, l)| l.starts_with(&format!("line {i:03} &lt;&amp;&gt;"))));
    }

    #[tokio::test]
    async fn one_unbroken_long_line_still_fits() {
        let (base, log) = bot_api().await;
        let mut m = msg(&"&".repeat(9000));
        (m.title, m.url) = ("T".into(), None);
        bot(&base, "42").send(&ctx(), &m).await.unwrap();
        let got = log.lock().unwrap().clone();
        assert_eq!(got.len(), 3);
        let total: usize = got.iter().map(|r| r["text"].as_str().unwrap().matches("&amp;").count()).sum();
        assert_eq!(total, 9000);
    }

    #[tokio::test]
    async fn errors_are_classified_with_telegrams_description() {
        let (base, _log) = bot_api().await;
        let send = |t: Telegram| async move { t.send(&ctx(), &msg("x")).await.unwrap_err() };
        assert_eq!(
            send(bot(&base, "@nochat")).await,
            SendError::permanent("Telegram 400: Bad Request: chat not found")
        );
        assert_eq!(
            send(bot(&base, "-1")).await,
            SendError::Retry {
                error: "Telegram 429: Too Many Requests: retry after 7".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        let e = send(bot(&base, "-2")).await;
        assert!(matches!(e, SendError::Permanent { .. }));
        assert!(e.message().contains("set the chat id to -1001234567890"), "{e}");
        assert!(matches!(send(bot(&base, "-3")).await, SendError::Retry { after: None, .. }));

        let mut wrong = bot(&base, "42");
        wrong.bot_token = "123456:wrong".into();
        assert_eq!(send(wrong).await, SendError::permanent("Telegram 401: Unauthorized"));

        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let e = send(bot(&format!("http://{addr}"), "42")).await;
        assert!(matches!(e, SendError::Retry { .. }), "{e}");
        assert!(!e.message().contains("good_token"), "{e}");
    }

    #[test]
    fn a_proxy_echoing_the_url_does_not_leak_the_token() {
        let t = bot("http://x", "1");
        let e = t.mask(SendError::permanent(format!("HTTP 403: denied /bot{TOKEN}/sendMessage")));
        assert_eq!(e.message(), "HTTP 403: denied /bot<bot token>/sendMessage");
    }

    #[test]
    fn validate_checks_token_chat_and_base() {
        let mut t = bot("https://api.telegram.org", "-100123");
        t.validate().unwrap();
        t.chat_id = "@chan".into();
        t.validate().unwrap();
        t.chat_id = " ".into();
        assert!(t.validate().unwrap_err().starts_with("chat_id"));
        t.chat_id = "1".into();
        for bad in ["", "abc:def", "123:", "123:a b", "123"] {
            t.bot_token = bad.into();
            assert!(t.validate().unwrap_err().starts_with("bot_token"), "{bad}");
        }
        t.bot_token = TOKEN.into();
        t.base_url = "api.telegram.org".into();
        assert!(t.validate().unwrap_err().starts_with("base_url"));
    }
}
