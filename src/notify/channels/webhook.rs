//! A generic webhook: URL, method, headers, a JSON body template, an HMAC-SHA256 signature, and
//! presets (Slack, Mattermost, Matrix hookshot, Pushover, Home Assistant).
//!
//! The body is a JSON template with `{{name}}` placeholders. Each is replaced by the message's value
//! JSON-escaped *without* the quotes (like PVE's `{{ escape x }}` helper, reference A3), so the
//! template writes the quotes itself: `{"text":"{{title}}"}`. An unknown name renders empty (and is
//! refused by `validate`). The rendered body must parse as JSON, else the send is permanent.
//!
//! Placeholders: `title`, `body` (alias `message`), `severity`, `kind`, `group`, `fingerprint`,
//! `hostname`, `ts` (unix seconds), `ts_ms`, `url` (empty when unknown), `fields.<key>` (empty when
//! absent), `fields_json` (the fields as a raw JSON object: write it without quotes), `title_html` /
//! `body_html` (`&`, `<`, `>` escaped, the body's line breaks as `<br>`), `title_slack` / `body_slack`
//! (`&`, `<`, `>` escaped, which Slack's `mrkdwn` requires), and for Pushover `pushover_token`,
//! `pushover_user`, `pushover_priority` (-1 info, 0 warning, 1 critical).
//!
//! Every request carries `X-Proxwatch-Event: <fingerprint>`, an idempotency key stable across
//! retries; with a `secret`, also `X-Proxwatch-Timestamp: <unix s>` and
//! `X-Proxwatch-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>` (the pattern of
//! Pulse's `X-Pulse-Signature`, reference B "Delivery patterns"). A receiver recomputes the MAC over
//! the raw body and rejects old timestamps.
//!
//! Presets (used when `body` is empty):
//! - generic: `{title, message, severity, kind, group, fingerprint, hostname, timestamp, url, fields}`;
//! - Slack incoming webhook: `{"text": "*title*\nbody"}` with `&<>` escaped (Slack's formatting docs);
//! - Mattermost incoming webhook: `{"text": "**title**\nbody"}` (Markdown, `**` is bold there);
//! - Matrix hookshot generic webhook: `{"text", "html"}`: hookshot uses `html` as the
//!   `formatted_body` and requires `text` as the fallback (hookshot docs, "Webhook Handling");
//! - Pushover: `POST https://api.pushover.net/1/messages.json` (the default when `url` is empty) with
//!   JSON `{token, user, title, message, priority, url, timestamp}`. The app token and user key are
//!   the sealed fields `pushover_token` / `pushover_user` (secrets, so not in the URL or a template
//!   literal). Pushover refuses a message over 1024 characters or a title over 250 (a 400, which
//!   would stop the queue), so this preset truncates them first;
//! - Home Assistant webhook trigger: `POST http://ha:8123/api/webhook/<id>` with the generic body
//!   (read as `trigger.json.title` ...). HA answers 200 even for an unknown id, and a trigger is
//!   `local_only` by default.
//!
//! This file also holds the small HTTP helpers the other HTTP channels share (bounded reply read,
//! `Retry-After`, URL checks, splitting by a measure).

use std::time::Duration;

use hmac::{Hmac, Mac};
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Channel, Ctx, Delivered, SendError, split_text};
use crate::httpc;
use crate::notify::{Group, Message, Severity};

const PUSHOVER_URL: &str = "https://api.pushover.net/1/messages.json";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyWebhook"))]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    #[serde(default)]
    pub preset: Preset,
    /// Empty only for the Pushover preset (its API URL).
    pub url: String,
    #[serde(default)]
    pub method: Method,
    /// Extra headers (`name`, `value`): sealed as a whole, they often carry tokens.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// A JSON body template with `{{field}}` placeholders; empty: the preset's body.
    #[serde(default)]
    pub body: String,
    /// The HMAC-SHA256 key for the signature header; none: unsigned.
    #[serde(default)]
    pub secret: Option<String>,
    /// Pushover's application token (`{{pushover_token}}`), sealed.
    #[serde(default)]
    pub pushover_token: Option<String>,
    /// Pushover's user or group key (`{{pushover_user}}`), sealed.
    #[serde(default)]
    pub pushover_user: Option<String>,
}

impl Channel for Webhook {
    fn validate(&self) -> Result<(), String> {
        if !(self.preset == Preset::Pushover && self.url.trim().is_empty()) {
            http_url("url", &self.url)?;
        }
        for (i, h) in self.headers.iter().enumerate() {
            let name = HeaderName::from_bytes(h.name.trim().as_bytes())
                .map_err(|_| format!("headers: header {} has an invalid name", i + 1))?;
            if name.as_str().starts_with("x-proxwatch-") {
                return Err(format!("headers: {} is set by proxwatch itself", h.name.trim()));
            }
            HeaderValue::from_str(&h.value).map_err(|_| {
                format!("headers: the value of {} is not a valid header value", h.name.trim())
            })?;
        }
        if self.preset == Preset::Pushover {
            if nonempty(&self.pushover_token).is_none() {
                return Err("pushover_token: the application's API token is required".into());
            }
            if nonempty(&self.pushover_user).is_none() {
                return Err("pushover_user: the user or group key is required".into());
            }
        }
        let template = self.template();
        let sample = sample_message();
        let mut unknown = Vec::new();
        let body = render_mut(template, &mut |name| {
            let v = self.var(&sample, name);
            if v.is_none() && !name.starts_with("fields.") {
                unknown.push(name.to_string());
            }
            v
        });
        if let Some(name) = unknown.first() {
            return Err(format!("body: unknown placeholder {{{{{name}}}}}"));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&body)
            .map_err(|e| format!("body template is not valid JSON: {e}"))?;
        Ok(())
    }

    async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        let msg = self.prepare(msg);
        let body = render(self.template(), &|name| self.var(&msg, name));
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
            return Err(SendError::permanent(format!("body template is not valid JSON: {e}")));
        }
        let url = if self.preset == Preset::Pushover && self.url.trim().is_empty() {
            PUSHOVER_URL
        } else {
            self.url.trim()
        };

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut user_set = Vec::<HeaderName>::new();
        for (i, h) in self.headers.iter().enumerate() {
            let bad = || {
                SendError::permanent(format!("header {} ({}) is not a valid header", i + 1, h.name.trim()))
            };
            let name = HeaderName::from_bytes(h.name.trim().as_bytes()).map_err(|_| bad())?;
            let value = HeaderValue::from_str(&h.value).map_err(|_| bad())?;
            // A user header replaces the default (Content-Type); the same name twice is appended.
            if user_set.contains(&name) {
                headers.append(name, value);
            } else {
                headers.insert(name.clone(), value);
                user_set.push(name);
            }
        }
        let event = HeaderValue::from_bytes(msg.fingerprint.replace(char::is_control, "_").as_bytes())
            .map_err(|_| SendError::permanent("the event's fingerprint is not a valid header value"))?;
        headers.insert(HeaderName::from_static("x-proxwatch-event"), event);
        if let Some(secret) = nonempty(&self.secret) {
            let ts = unix_now();
            headers.insert(HeaderName::from_static("x-proxwatch-timestamp"), HeaderValue::from(ts));
            let sig = HeaderValue::from_str(&format!("v1={}", sign(secret, ts, &body)))
                .map_err(|_| SendError::permanent("signature header"))?;
            headers.insert(HeaderName::from_static("x-proxwatch-signature"), sig);
        }

        let req = match self.method {
            Method::Post => ctx.http().post(url),
            Method::Put => ctx.http().put(url),
        };
        let resp =
            req.headers(headers).body(body).limit(REPLY_LIMIT).send().await.map_err(SendError::from_http)?;
        let status = resp.status().as_u16();
        let after = retry_after(resp.headers());
        let ok = resp.status().is_success();
        let text = read_reply(&resp);
        if ok {
            return Ok(Delivered { reply: format!("HTTP {status}") });
        }
        let snippet = head(&text, 300);
        let error =
            if snippet.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {snippet}") };
        Err(SendError::from_status(status, error, after))
    }
}

impl Webhook {
    fn template(&self) -> &str {
        if self.body.trim().is_empty() { self.preset.body() } else { &self.body }
    }

    /// Pushover refuses a message over 1024 characters, a title over 250 and an empty message.
    fn prepare(&self, msg: &Message) -> Message {
        let mut msg = msg.clone();
        if self.preset == Preset::Pushover {
            msg.title = truncate_marked(&msg.title, 250);
            if msg.body.trim().is_empty() {
                msg.body = msg.title.clone();
            }
            msg.body = truncate_marked(&msg.body, 1024);
            if msg.url.as_ref().is_some_and(|u| u.chars().count() > 512) {
                msg.url = None;
            }
        }
        msg
    }

    /// The value of placeholder `name` for `msg`; none for an unknown name.
    fn var(&self, msg: &Message, name: &str) -> Option<Var> {
        let s = |v: &str| Some(Var::Str(v.to_string()));
        match name {
            "title" => s(&msg.title),
            "body" | "message" => s(&msg.body),
            "severity" => s(msg.severity.as_str()),
            "kind" => s(&msg.kind),
            "group" => s(msg.group.as_str()),
            "fingerprint" => s(&msg.fingerprint),
            "hostname" => s(&msg.hostname),
            "ts" => Some(Var::Raw(msg.ts_ms.div_euclid(1000).to_string())),
            "ts_ms" => Some(Var::Raw(msg.ts_ms.to_string())),
            "url" => s(msg.url.as_deref().unwrap_or("")),
            "fields_json" => {
                Some(Var::Raw(serde_json::to_string(&msg.fields).unwrap_or_else(|_| "{}".into())))
            }
            "title_html" => s(&html_escape(&msg.title)),
            "body_html" => s(&html_escape(&msg.body).replace('\n', "<br>")),
            "title_slack" => s(&html_escape(&msg.title)),
            "body_slack" => s(&html_escape(&msg.body)),
            "pushover_token" => s(self.pushover_token.as_deref().unwrap_or("")),
            "pushover_user" => s(self.pushover_user.as_deref().unwrap_or("")),
            "pushover_priority" => Some(Var::Raw(
                match msg.severity {
                    Severity::Info => "-1",
                    Severity::Warning => "0",
                    Severity::Critical => "1",
                }
                .into(),
            )),
            _ => {
                name.strip_prefix("fields.").map(|k| Var::Str(msg.fields.get(k).cloned().unwrap_or_default()))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyWebhookPreset"))]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    #[default]
    Generic,
    Slack,
    Mattermost,
    Matrix,
    Pushover,
    HomeAssistant,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::Generic,
        Preset::Slack,
        Preset::Mattermost,
        Preset::Matrix,
        Preset::Pushover,
        Preset::HomeAssistant,
    ];

    /// The body template used when the config's `body` is empty.
    pub fn body(self) -> &'static str {
        match self {
            Preset::Generic | Preset::HomeAssistant => {
                r#"{"title":"{{title}}","message":"{{body}}","severity":"{{severity}}","kind":"{{kind}}","group":"{{group}}","fingerprint":"{{fingerprint}}","hostname":"{{hostname}}","timestamp":{{ts}},"url":"{{url}}","fields":{{fields_json}}}"#
            }
            Preset::Slack => r#"{"text":"*{{title_slack}}*\n{{body_slack}}"}"#,
            Preset::Mattermost => r#"{"text":"**{{title}}**\n{{body}}"}"#,
            Preset::Matrix => {
                r#"{"text":"{{title}}\n{{body}}","html":"<b>{{title_html}}</b><br>{{body_html}}"}"#
            }
            Preset::Pushover => {
                r#"{"token":"{{pushover_token}}","user":"{{pushover_user}}","title":"{{title}}","message":"{{body}}","priority":{{pushover_priority}},"url":"{{url}}","timestamp":{{ts}}}"#
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyWebhookMethod"))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    Post,
    Put,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyWebhookHeader"))]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// A placeholder's value: a string (JSON-escaped into the template) or raw JSON (a number, an object).
enum Var {
    Str(String),
    Raw(String),
}

/// Replaces each `{{name}}` (spaces around the name allowed) by its value; an unknown name renders
/// empty, an unclosed `{{` stays as it is.
fn render(template: &str, var: &dyn Fn(&str) -> Option<Var>) -> String {
    render_mut(template, &mut |n| var(n))
}

fn render_mut(template: &str, var: &mut dyn FnMut(&str) -> Option<Var>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        out.push_str(&rest[..start]);
        match var(rest[start + 2..start + 2 + len].trim()) {
            Some(Var::Str(s)) => out.push_str(&json_escape(&s)),
            Some(Var::Raw(s)) => out.push_str(&s),
            None => {}
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// JSON string escaping without the quotes (PVE's `escape` helper).
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `hex(HMAC-SHA256(secret, "<ts>.<body>"))`.
fn sign(secret: &str, ts: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

/// What `validate` renders the template with: every field non-empty, with characters that need
/// escaping, so a template that quotes a placeholder wrongly fails here rather than at 3 a.m.
fn sample_message() -> Message {
    Message {
        title: "Test \"notification\" <1>".into(),
        body: "line one\nline \\ two & \"three\"".into(),
        severity: Severity::Warning,
        kind: "test".into(),
        group: Group::System,
        fingerprint: "test:0".into(),
        ts_ms: 1_700_000_000_000,
        hostname: "pve1".into(),
        fields: [("object".to_string(), "vm/101 \"web\"".to_string())].into_iter().collect(),
        url: Some("https://proxwatch.example/#/x".into()),
    }
}

// ---- Shared by the HTTP channels (telegram, discord, gotify, ntfy, webhook) ----

/// The most of a service's reply that is read: answers are small; a proxy's error page need not be.
pub(super) const REPLY_LIMIT: usize = 64 * 1024;

/// The reply body, at most [`REPLY_LIMIT`] bytes, lossily decoded. A read error ends it early: the
/// status has already been received and decides.
pub(super) fn read_reply(resp: &httpc::Response) -> String {
    resp.text()
}

/// `Retry-After` in seconds (an integer or a float; an HTTP date is ignored), clamped to an hour.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(hyper::header::RETRY_AFTER)?.to_str().ok()?;
    secs(v.trim().parse::<f64>().ok()?)
}

/// A service's wait in seconds as a duration, clamped to [0, 3600]; none when not a number.
pub(super) fn secs(s: f64) -> Option<Duration> {
    s.is_finite().then(|| Duration::from_secs_f64(s.clamp(0.0, 3600.0)))
}

/// The first `n` characters of `s`, trimmed, for an error message.
pub(super) fn head(s: &str, n: usize) -> String {
    s.trim().chars().take(n).collect::<String>().trim_end().to_string()
}

/// At most `n` characters; a cut one ends with `…`.
pub(super) fn truncate_marked(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Checks that `value` is an absolute http(s) URL with a host; the message names `field` and never
/// repeats the URL (it may be a secret).
pub(super) fn http_url(field: &str, value: &str) -> Result<httpc::Target, String> {
    httpc::Target::parse(value).map_err(|e| format!("{field}: {e}"))
}

/// Splits `text` like [`split_text`] (line breaks, then spaces) so that `measure` of each piece is at
/// most `limit`, where `measure` counts something other than characters (UTF-16 units, escaped
/// bytes) and is at least 1 per character up to `limit`.
pub(super) fn split_by(text: &str, limit: usize, measure: &dyn Fn(&str) -> usize) -> Vec<String> {
    split_by_at(text, limit, limit.max(1), measure)
}

fn split_by_at(text: &str, limit: usize, max_chars: usize, measure: &dyn Fn(&str) -> usize) -> Vec<String> {
    let mut out = Vec::new();
    for piece in split_text(text, max_chars) {
        let m = measure(&piece);
        let chars = piece.chars().count();
        if m <= limit || chars <= 1 {
            out.push(piece);
        } else {
            // Fewer characters in proportion; strictly fewer than the piece has, so this ends.
            let smaller = (chars * limit / m).clamp(1, chars - 1);
            out.extend(split_by_at(&piece, limit, smaller, measure));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap as AxHeaders, StatusCode, Uri};
    use axum::response::IntoResponse;
    use serde_json::{Value, json};

    use super::*;

    #[derive(Debug, Clone)]
    struct Got {
        method: String,
        path: String,
        headers: AxHeaders,
        body: String,
    }

    type Log = Arc<Mutex<Vec<Got>>>;

    /// A receiver: records each request; the path picks the answer (`/ok`, `/slow` 429 with
    /// Retry-After, `/gone` 404, `/auth` 401 Pushover-style, `/boom` 500).
    async fn receiver() -> (String, Log) {
        async fn hit(
            State(log): State<Log>,
            method: axum::http::Method,
            uri: Uri,
            headers: AxHeaders,
            body: Bytes,
        ) -> impl IntoResponse {
            let path = uri.path().to_string();
            let body = String::from_utf8(body.to_vec()).unwrap();
            log.lock().unwrap().push(Got { method: method.to_string(), path: path.clone(), headers, body });
            match path.as_str() {
                "/slow" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "12")], "slow down".to_string()),
                "/gone" => (StatusCode::NOT_FOUND, [("x-a", "b")], "no such hook".to_string()),
                "/auth" => (
                    StatusCode::BAD_REQUEST,
                    [("x-a", "b")],
                    json!({"token":"invalid","errors":["application token is invalid"],"status":0,"request":"r1"})
                        .to_string(),
                ),
                "/boom" => (StatusCode::INTERNAL_SERVER_ERROR, [("x-a", "b")], "x".repeat(1000)),
                _ => (StatusCode::OK, [("x-a", "b")], json!({"status":1,"request":"r2"}).to_string()),
            }
        }
        let log = Log::default();
        let app = Router::new().fallback(hit).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, log)
    }

    fn msg() -> Message {
        Message {
            title: "Disk \"sdb\" <failing> & hot".into(),
            body: "SMART says:\n\treallocated 12\nbackslash \\ here".into(),
            severity: Severity::Critical,
            kind: "disk.smart".into(),
            group: Group::Hardware,
            fingerprint: "disk.smart:sdb:1".into(),
            ts_ms: 1_722_470_400_123,
            hostname: "pve1".into(),
            fields: BTreeMap::from([
                ("object".into(), "disk/sdb".into()),
                ("reason".into(), "a \"b\"".into()),
            ]),
            url: Some("https://pw.example:8443/#/disk/sdb".into()),
        }
    }

    fn hook(url: String, preset: Preset) -> Webhook {
        Webhook {
            preset,
            url,
            method: Method::Post,
            headers: vec![],
            body: String::new(),
            secret: None,
            pushover_token: Some("aTok".into()),
            pushover_user: Some("uKey".into()),
        }
    }

    fn ctx() -> Ctx {
        Ctx::new(Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn generic_preset_sends_the_event_with_idempotency_key() {
        let (base, log) = receiver().await;
        let d = hook(format!("{base}/ok"), Preset::Generic).send(&ctx(), &msg()).await.unwrap();
        assert_eq!(d.reply, "HTTP 200");
        let got = log.lock().unwrap()[0].clone();
        assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/ok"));
        assert_eq!(got.headers["content-type"], "application/json");
        assert_eq!(got.headers["x-proxwatch-event"], "disk.smart:sdb:1");
        assert!(got.headers.get("x-proxwatch-signature").is_none());
        let v: Value = serde_json::from_str(&got.body).unwrap();
        let m = msg();
        assert_eq!(v["title"], m.title.as_str());
        assert_eq!(v["message"], m.body.as_str());
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["group"], "hardware");
        assert_eq!(v["timestamp"], 1_722_470_400);
        assert_eq!(v["url"], "https://pw.example:8443/#/disk/sdb");
        assert_eq!(v["fields"]["reason"], "a \"b\"");
    }

    #[tokio::test]
    async fn every_preset_renders_valid_json() {
        let (base, log) = receiver().await;
        let mut m = msg();
        m.body = "é".repeat(1500);
        for p in Preset::ALL {
            let h = hook(format!("{base}/ok"), p);
            h.validate().unwrap();
            h.send(&ctx(), &m).await.unwrap();
        }
        let got = log.lock().unwrap().clone();
        assert_eq!(got.len(), Preset::ALL.len());
        let bodies: Vec<Value> = got.iter().map(|g| serde_json::from_str(&g.body).unwrap()).collect();
        let title = &m.title;
        assert_eq!(bodies[1]["text"], format!("*Disk \"sdb\" &lt;failing&gt; &amp; hot*\n{}", m.body));
        assert_eq!(bodies[2]["text"], format!("**{title}**\n{}", m.body));
        assert_eq!(bodies[3]["text"], format!("{title}\n{}", m.body));
        assert!(
            bodies[3]["html"]
                .as_str()
                .unwrap()
                .starts_with("<b>Disk \"sdb\" &lt;failing&gt; &amp; hot</b><br>")
        );
        let po = &bodies[4];
        assert_eq!(
            (po["token"].as_str(), po["user"].as_str(), po["priority"].as_i64()),
            (Some("aTok"), Some("uKey"), Some(1))
        );
        assert_eq!(po["message"].as_str().unwrap().chars().count(), 1024);
        assert!(po["message"].as_str().unwrap().ends_with('…'));
        assert_eq!(bodies[5]["kind"], "disk.smart");
    }

    #[tokio::test]
    async fn matrix_html_keeps_line_breaks_and_escapes() {
        let (base, log) = receiver().await;
        hook(format!("{base}/ok"), Preset::Matrix).send(&ctx(), &msg()).await.unwrap();
        let v: Value = serde_json::from_str(&log.lock().unwrap()[0].body).unwrap();
        assert_eq!(
            v["html"],
            "<b>Disk \"sdb\" &lt;failing&gt; &amp; hot</b><br>SMART says:<br>\treallocated 12<br>backslash \\ here"
        );
    }

    #[tokio::test]
    async fn signature_verifies_and_custom_template_and_headers_apply() {
        let (base, log) = receiver().await;
        let mut h = hook(format!("{base}/ok"), Preset::Generic);
        h.method = Method::Put;
        h.secret = Some("s3cret".into());
        h.body = r#"{"t": "{{ title }}", "o": "{{fields.object}}", "none": "{{fields.nope}}", "f": {{fields_json}}}"#.into();
        h.headers = vec![
            Header { name: "Authorization".into(), value: "Bearer abc".into() },
            Header { name: "Content-Type".into(), value: "application/vnd.x+json".into() },
        ];
        h.validate().unwrap();
        h.send(&ctx(), &msg()).await.unwrap();
        let got = log.lock().unwrap()[0].clone();
        assert_eq!(got.method, "PUT");
        assert_eq!(got.headers["authorization"], "Bearer abc");
        assert_eq!(got.headers.get_all("content-type").iter().count(), 1);
        assert_eq!(got.headers["content-type"], "application/vnd.x+json");
        let v: Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(
            v,
            json!({"t": msg().title, "o": "disk/sdb", "none": "", "f": {"object":"disk/sdb","reason":"a \"b\""}})
        );

        // Recompute the MAC the way a receiver would.
        let ts = got.headers["x-proxwatch-timestamp"].to_str().unwrap().to_string();
        let sig = got.headers["x-proxwatch-signature"].to_str().unwrap().to_string();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{ts}.{}", got.body).as_bytes());
        let hex = sig.strip_prefix("v1=").unwrap();
        mac.verify_slice(&data_encoding::HEXLOWER.decode(hex.as_bytes()).unwrap()).unwrap();
        assert!(ts.parse::<u64>().unwrap().abs_diff(unix_now()) < 60);
    }

    #[tokio::test]
    async fn bad_template_is_permanent_and_refused_by_validate() {
        let (base, log) = receiver().await;
        let mut h = hook(format!("{base}/ok"), Preset::Generic);
        h.body = r#"{"title": {{title}}}"#.into(); // unquoted string
        assert!(h.validate().unwrap_err().starts_with("body template is not valid JSON"));
        let e = h.send(&ctx(), &msg()).await.unwrap_err();
        assert!(matches!(e, SendError::Permanent { .. }));
        assert!(e.message().starts_with("body template is not valid JSON: "), "{e}");
        assert!(log.lock().unwrap().is_empty());
        h.body = r#"{"x":"{{titel}}"}"#.into();
        assert_eq!(h.validate().unwrap_err(), "body: unknown placeholder {{titel}}");
    }

    #[tokio::test]
    async fn errors_are_classified_with_the_reply() {
        let (base, _log) = receiver().await;
        let send = |p: &str, preset| {
            let h = hook(format!("{base}{p}"), preset);
            async move { h.send(&ctx(), &msg()).await.unwrap_err() }
        };
        assert_eq!(
            send("/slow", Preset::Generic).await,
            SendError::Retry { error: "HTTP 429: slow down".into(), after: Some(Duration::from_secs(12)) }
        );
        assert_eq!(send("/gone", Preset::Slack).await, SendError::permanent("HTTP 404: no such hook"));
        let e = send("/auth", Preset::Pushover).await;
        assert!(
            matches!(e, SendError::Permanent { .. }) && e.message().contains("application token is invalid"),
            "{e}"
        );
        let e = send("/boom", Preset::Generic).await;
        assert!(matches!(e, SendError::Retry { after: None, .. }));
        assert_eq!(e.message(), format!("HTTP 500: {}", "x".repeat(300)));

        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let e = hook(format!("http://{addr}/ok"), Preset::Generic).send(&ctx(), &msg()).await.unwrap_err();
        assert!(matches!(e, SendError::Retry { .. }), "{e}");
    }

    #[test]
    fn validate_checks_url_headers_and_pushover_keys() {
        let mut h = hook("ftp://x/y".into(), Preset::Generic);
        assert!(h.validate().unwrap_err().starts_with("url:"));
        h.url = "https://hooks.example/x".into();
        h.headers = vec![Header { name: "X-Proxwatch-Event".into(), value: "x".into() }];
        assert!(h.validate().unwrap_err().contains("set by proxwatch"));
        h.headers = vec![Header { name: "Bad Name".into(), value: "x".into() }];
        assert!(h.validate().is_err());
        h.headers.clear();
        h.validate().unwrap();
        let mut p = hook(String::new(), Preset::Pushover);
        p.validate().unwrap();
        p.pushover_user = Some(" ".into());
        assert!(p.validate().unwrap_err().starts_with("pushover_user"));
    }

    #[test]
    fn split_by_respects_the_measure() {
        // Two units per character (emoji outside the BMP): pieces of at most 10 units.
        let text = "😀".repeat(25);
        let units = |s: &str| s.encode_utf16().count();
        let pieces = split_by(&text, 10, &units);
        assert!(pieces.iter().all(|p| units(p) <= 10));
        assert_eq!(pieces.concat(), text);
        assert_eq!(pieces.len(), 5);
    }
}
