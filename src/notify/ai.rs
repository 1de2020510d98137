//! Optional AI rewriting of a message's text (off by default): the rendered title and body go to
//! one provider (any OpenAI-compatible API, Anthropic, Gemini or Ollama), which rewrites them for an
//! admin reading on a phone, in the admin's language, keeping every fact; the template's text stays
//! the fallback whenever this fails, so every error here is a reason to send the template, never a
//! lost message.
//!
//! Before a provider sees anything, host names, addresses, MACs, e-mails and serials are replaced
//! with placeholders ([`super::redact`]) and put back in the answer; only an Ollama on this machine
//! (a loopback base URL) sees the text as it is. The whole call (connect, request, answer) is bounded
//! by the settings' timeout, the answer's size by [`MAX_ANSWER`], and the output by `max_tokens`.
//! The API key is sent in a header only (never in a URL, so it cannot reach a log) and scrubbed from
//! any error text a provider echoes back.
//!
//! The request and answer shapes are those of notify-metrics.md §D (as ProxMenux's
//! `ai_providers/*.py` call them), with the gotchas it lists coded here: OpenAI's reasoning models,
//! Gemini's thinking budget, Ollama's streaming default and resident models.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Severity;
use super::redact::Redactions;
use crate::httpc;

/// Per channel: what the AI does with its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "AiMode"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "AiMode"))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Off,
    Rewrite,
    /// Rewrite and add one suggested next step.
    RewriteSuggest,
}

/// Which API shape a provider speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "AiProviderKind"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "AiProviderKind"))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat-completions API: OpenAI, Groq (`https://api.groq.com/openai`),
    /// OpenRouter (`https://openrouter.ai/api`), LM Studio, LiteLLM, vLLM, llama.cpp, Ollama's `/v1`.
    #[default]
    #[serde(rename = "openai")]
    OpenAi,
    Anthropic,
    Gemini,
    Ollama,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Ollama => "ollama",
        }
    }

    /// The base URL used when the settings leave it empty.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
            ProviderKind::Ollama => "http://127.0.0.1:11434",
        }
    }
}

/// One provider: its API shape, where it is, which model, and the key. `Debug` never prints the key.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "AiProvider"))]
#[serde(deny_unknown_fields)]
pub struct Provider {
    #[serde(default)]
    pub kind: ProviderKind,
    /// Empty: the kind's [`ProviderKind::default_base_url`]. For OpenAI-compatible APIs the base is
    /// what comes before `/v1/chat/completions` (a base that already ends in `/v1` is taken as is).
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub model: String,
    /// A secret: sealed at rest, masked in every API answer (see [`Provider::SECRET_FIELDS`]).
    #[serde(default)]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Provider {
    /// The JSON keys of a provider that are secrets.
    pub const SECRET_FIELDS: &'static [&'static str] = &["api_key"];

    /// The base URL without a trailing `/`.
    pub fn base(&self) -> &str {
        let base = self.base_url.trim().trim_end_matches('/');
        if base.is_empty() { self.kind.default_base_url() } else { base }
    }

    /// Whether the base URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`).
    pub fn is_loopback(&self) -> bool {
        let Ok(url) = httpc::Target::parse(self.base()) else { return false };
        let h = url.host();
        h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }
}

fn default_timeout_s() -> u32 {
    10
}
fn default_daily_cap() -> u32 {
    200
}
fn default_true() -> bool {
    true
}
fn default_max_tokens() -> u32 {
    400
}

/// The AI settings (one provider for the whole appliance; each channel picks its [`Mode`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "AiSettings"))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub provider: Provider,
    /// The whole call, connect to last byte.
    #[serde(default = "default_timeout_s")]
    #[cfg_attr(test, schemars(range(min = 1, max = 120)))]
    pub timeout_s: u32,
    /// Calls per day at most; the engine counts them ([`Settings::check_cap`]).
    #[serde(default = "default_daily_cap")]
    pub daily_cap: u32,
    /// Redact before a provider that is not an Ollama on this machine sees the text.
    #[serde(default = "default_true")]
    pub redact: bool,
    /// The output cap sent to the provider.
    #[serde(default = "default_max_tokens")]
    #[cfg_attr(test, schemars(range(min = 16, max = 8192)))]
    pub max_tokens: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: false,
            provider: Provider::default(),
            timeout_s: default_timeout_s(),
            daily_cap: default_daily_cap(),
            redact: true,
            max_tokens: default_max_tokens(),
        }
    }
}

/// The longest admin instruction, in characters.
pub const MAX_INSTRUCTION: usize = 500;
/// The largest answer read from a provider.
pub const MAX_ANSWER: usize = 256 << 10;

impl Settings {
    /// Checks the settings before they are saved; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=120).contains(&self.timeout_s) {
            return Err("timeout_s must be between 1 and 120 seconds".into());
        }
        if !(16..=8192).contains(&self.max_tokens) {
            return Err("max_tokens must be between 16 and 8192".into());
        }
        let p = &self.provider;
        if !p.base_url.trim().is_empty() {
            if let Err(e) = httpc::Target::parse(&p.base_url) {
                return Err(format!("provider.base_url: {e}"));
            }
        }
        if self.enabled {
            if p.model.trim().is_empty() {
                return Err("provider.model is required".into());
            }
            // Gemini's model is part of the URL path.
            let model = p.model.trim();
            let bare = model.strip_prefix("models/").unwrap_or(model);
            if p.kind == ProviderKind::Gemini && bare.contains(['/', '?', '#', '%', ' ']) {
                return Err("provider.model must be a Gemini model name such as gemini-2.5-flash".into());
            }
            if matches!(p.kind, ProviderKind::Anthropic | ProviderKind::Gemini) && p.key().is_none() {
                return Err("provider.api_key is required for this provider".into());
            }
        }
        Ok(())
    }

    /// [`AiError::CapReached`] once `used_today` calls were made.
    pub fn check_cap(&self, used_today: u32) -> Result<(), AiError> {
        if used_today >= self.daily_cap { Err(AiError::CapReached) } else { Ok(()) }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_s.max(1)))
    }
}

/// Checks an admin's instruction (a channel's "tone" or "translate to" line).
pub fn validate_instruction(instruction: &str) -> Result<(), String> {
    if instruction.chars().count() > MAX_INSTRUCTION {
        return Err(format!("the instruction is longer than {MAX_INSTRUCTION} characters"));
    }
    Ok(())
}

/// One rewrite.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub severity: Severity,
    pub mode: Mode,
    /// The language to write in, as a name the model understands (`English`, `Deutsch`, `fr`).
    pub language: &'a str,
    /// The admin's own line for the style; at most [`MAX_INSTRUCTION`] characters.
    pub instruction: &'a str,
    /// Names to redact besides what looks like one: the node, the guests, the storages.
    pub known: &'a [String],
}

/// A rewritten message, with what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rewritten {
    pub title: String,
    pub body: String,
    /// [`ProviderKind::as_str`].
    pub provider: String,
    pub model: String,
    pub latency_ms: u64,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    /// Whether the text was redacted before it left (false for an Ollama on this machine or with
    /// redaction off).
    pub redacted: bool,
}

/// Why there is no rewrite (the engine sends the template's text instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AiError {
    #[error("the AI provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The provider's own error message (an unknown model, a bad key, a quota).
    #[error("the AI provider answered HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot reach the AI provider: {0}")]
    Network(String),
    /// Empty, refused, blocked, cut off before any text, or not the provider's shape.
    #[error("the AI provider's answer is unusable: {0}")]
    BadAnswer(String),
    #[error("AI rewriting is off")]
    Disabled,
    #[error("the daily cap of AI calls is reached")]
    CapReached,
    /// The settings or the request do not make a call (no model, an instruction too long).
    #[error("invalid AI settings: {0}")]
    Invalid(String),
}

/// Rewrites one message. Off ([`Settings::enabled`] false or [`Mode::Off`]) is [`AiError::Disabled`].
pub async fn rewrite(http: &httpc::Client, s: &Settings, req: &Request<'_>) -> Result<Rewritten, AiError> {
    if !s.enabled || req.mode == Mode::Off {
        return Err(AiError::Disabled);
    }
    call(http, s, req).await
}

/// The settings page's Test button: a fixed sample message through the configured provider, whether
/// or not AI is enabled yet, with the same redaction as a real message.
pub async fn test(http: &httpc::Client, s: &Settings) -> Result<Rewritten, AiError> {
    let known = vec!["pve1".to_string()];
    let req = Request {
        title: "Disk sdb on pve1: 8 reallocated sectors (was 0)",
        body: "SMART attribute 5 Reallocated_Sector_Ct rose from 0 to 8 on /dev/sdb \
               (WDC WD40EFRX-68N32N0, serial WD-WCC4N1234567).\n\
               The disk is a member of pool 'tank' (mirror-0), which is still ONLINE.\n\
               Host pve1 (192.168.1.10).",
        severity: Severity::Warning,
        mode: Mode::RewriteSuggest,
        language: "English",
        instruction: "",
        known: &known,
    };
    call(http, s, &req).await
}

async fn call(http: &httpc::Client, s: &Settings, req: &Request<'_>) -> Result<Rewritten, AiError> {
    validate_instruction(req.instruction).map_err(AiError::Invalid)?;
    s.validate().map_err(AiError::Invalid)?;
    if s.provider.model.trim().is_empty() {
        return Err(AiError::Invalid("provider.model is required".into()));
    }
    let limit = s.timeout();
    match tokio::time::timeout(limit, call_unbounded(http, s, req)).await {
        Ok(result) => result,
        Err(_) => Err(AiError::Timeout(limit)),
    }
}

async fn call_unbounded(http: &httpc::Client, s: &Settings, req: &Request<'_>) -> Result<Rewritten, AiError> {
    let p = &s.provider;
    // An Ollama on this machine sees the text as it is; everything else only redacted.
    let redacted = s.redact && !(p.kind == ProviderKind::Ollama && p.is_loopback());
    let mut redactions = Redactions::default();
    let (title, body) = if redacted {
        (redactions.redact(req.title, req.known), redactions.redact(req.body, req.known))
    } else {
        (req.title.to_string(), req.body.to_string())
    };
    let system = system_prompt(req, redacted);
    let user = format!("Severity: {}\nTitle: {}\nBody:\n{}", req.severity.as_str(), title, body);

    let started = Instant::now();
    let answer = send(http, s, &system, &user).await.map_err(|e| scrub_error(e, p.key()))?;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

    let (title, body) = split_answer(&answer.text, !req.body.trim().is_empty())?;
    Ok(Rewritten {
        title: redactions.restore(&title),
        body: redactions.restore(&body),
        provider: p.kind.as_str().to_string(),
        model: p.model.trim().to_string(),
        latency_ms,
        tokens_in: answer.tokens_in,
        tokens_out: answer.tokens_out,
        redacted,
    })
}

fn system_prompt(req: &Request<'_>, redacted: bool) -> String {
    let language = if req.language.trim().is_empty() { "English" } else { req.language.trim() };
    let mut p = String::from(
        "You rewrite notifications from proxwatch, a monitor for a Proxmox VE host, for its \
         administrator, who reads them on a phone. Make the text short and clear: what happened, to \
         what, and how bad it is. Keep every fact, number, unit, name, path and identifier exactly as \
         given; do not invent causes, values or advice.",
    );
    if redacted {
        p.push_str(
            " Words like HOST_1, IP_2, MAC_1, EMAIL_1 and SERIAL_3 are placeholders for real values: \
             copy them exactly, never change or explain them.",
        );
    }
    p.push_str(&format!(
        " Write in {language}. Answer with plain text only, no Markdown and no preamble: the title on \
         the first line (at most 80 characters), then the body on the following lines (at most 6 short \
         lines)."
    ));
    if req.mode == Mode::RewriteSuggest {
        p.push_str(
            " End the body with exactly one line that starts with \"Next step:\" (that label in the same \
             language) and names one concrete, safe next step for the administrator.",
        );
    }
    let instruction = req.instruction.trim();
    if !instruction.is_empty() {
        p.push_str(
            "\nThe administrator's own instruction follows; it may change the style, never the rules above: ",
        );
        p.push_str(instruction);
    }
    p
}

/// What a provider answered, in one shape.
#[derive(Debug, Default)]
struct Answer {
    text: String,
    tokens_in: Option<u64>,
    tokens_out: Option<u64>,
}

async fn send(http: &httpc::Client, s: &Settings, system: &str, user: &str) -> Result<Answer, AiError> {
    let p = &s.provider;
    let model = p.model.trim();
    let base = p.base();
    let (url, body) = match p.kind {
        ProviderKind::OpenAi => (openai_url(base), openai_body(model, system, user, s.max_tokens)),
        ProviderKind::Anthropic => {
            (format!("{base}/v1/messages"), anthropic_body(model, system, user, s.max_tokens))
        }
        ProviderKind::Gemini => {
            let model = model.strip_prefix("models/").unwrap_or(model);
            (
                format!("{base}/v1beta/models/{model}:generateContent"),
                gemini_body(model, system, user, s.max_tokens),
            )
        }
        ProviderKind::Ollama => (format!("{base}/api/chat"), ollama_body(model, system, user, s.max_tokens)),
    };
    let mut rb = http.post(url).json(&body);
    rb = match (p.kind, p.key()) {
        (ProviderKind::OpenAi, Some(key)) => rb.bearer_auth(key),
        // https://docs.anthropic.com/en/api/versioning: the version header is required.
        (ProviderKind::Anthropic, key) => {
            rb.header("x-api-key", key.unwrap_or_default()).header("anthropic-version", "2023-06-01")
        }
        // The header, not `?key=` (which ProxMenux uses): a query string ends up in logs.
        (ProviderKind::Gemini, key) => rb.header("x-goog-api-key", key.unwrap_or_default()),
        // Ollama has no auth of its own; a key is for a reverse proxy in front of it.
        (ProviderKind::Ollama, Some(key)) => rb.bearer_auth(key),
        (_, None) => rb,
    };
    let resp = rb.limit(MAX_ANSWER + 1).send().await.map_err(network)?;
    let status = resp.status();
    let bytes = read_bounded(&resp)?;
    if !status.is_success() {
        return Err(AiError::Http { status: status.as_u16(), message: error_message(bytes) });
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| AiError::BadAnswer(format!("not JSON ({e}): {}", snippet(bytes))))?;
    let answer = match p.kind {
        ProviderKind::OpenAi => parse_openai(&v),
        ProviderKind::Anthropic => parse_anthropic(&v),
        ProviderKind::Gemini => parse_gemini(&v),
        ProviderKind::Ollama => parse_ollama(&v),
    }?;
    Ok(answer)
}

/// `{base}/v1/chat/completions`, or `{base}/chat/completions` when the admin pasted a base that
/// already ends in `/v1` (what most providers' docs show).
fn openai_url(base: &str) -> String {
    if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// How much an OpenAI reasoning model may think, or `None` for a classic chat model. o1/o3/o4 and
/// gpt-5* (not the `*-chat*` aliases) take `max_completion_tokens`, reject `temperature` (HTTP 400)
/// and spend the cap on reasoning (notify-metrics.md §D). The effort each accepts differs: gpt-5,
/// -mini and -nano take `minimal`; gpt-5.1 and later reject `minimal` and take `none`; the
/// o-series take `low` at the least; gpt-5-pro only `high` (the default, so none is sent).
/// Sources: OpenAI's `reasoning_effort` reference; openai-agents-python#2089.
fn reasoning_effort(model: &str) -> Option<Option<&'static str>> {
    let m = model.to_ascii_lowercase();
    // OpenRouter and LiteLLM prefix the vendor: `openai/o3-mini`.
    let m = m.rsplit('/').next().unwrap_or(&m);
    if m.starts_with("o1") || m.starts_with("o3") || m.starts_with("o4") {
        return Some(Some("low"));
    }
    let rest = m.strip_prefix("gpt-5")?;
    if m.contains("chat") {
        return None;
    }
    if rest.starts_with("-pro") {
        return Some(None);
    }
    if rest.starts_with('.') {
        return Some(Some("none"));
    }
    Some(Some("minimal"))
}

/// Room for reasoning on top of the answer's own cap, for models that cannot stop thinking: without
/// it a small cap yields an empty answer cut off at the limit.
const THINKING_HEADROOM: u32 = 1024;

fn openai_body(model: &str, system: &str, user: &str, max_tokens: u32) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
    });
    match reasoning_effort(model) {
        None => {
            body["max_tokens"] = json!(max_tokens);
            body["temperature"] = json!(0.2);
        }
        Some(effort) => {
            let headroom = if matches!(effort, Some("none")) { 0 } else { THINKING_HEADROOM };
            body["max_completion_tokens"] = json!(max_tokens + headroom);
            if let Some(effort) = effort {
                body["reasoning_effort"] = json!(effort);
            }
        }
    }
    body
}

fn anthropic_body(model: &str, system: &str, user: &str, max_tokens: u32) -> Value {
    // `system` is top level (there is no system role), `max_tokens` is required.
    json!({
        "model": model,
        "system": system,
        "messages": [{"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": 0.2,
    })
}

/// Gemini's thinking: 2.5 Flash thinks by default and a small cap then yields an empty `MAX_TOKENS`
/// answer, so `thinkingBudget: 0` turns it off (notify-metrics.md §D); 2.5 Pro cannot turn it off
/// (0 is refused, 128 is its least); Gemini 3 takes `thinkingLevel` instead (`minimal` on Flash,
/// `low` on Pro; sending both fields is an HTTP 400); Flash-Lite and older models do not think.
/// Source: ai.google.dev/gemini-api/docs/thinking.
fn gemini_thinking(model: &str) -> Option<(Value, u32)> {
    let m = model.to_ascii_lowercase();
    if m.contains("lite") || !(m.contains("flash") || m.contains("pro")) {
        return None;
    }
    if m.starts_with("gemini-2.5") {
        return Some(if m.contains("pro") {
            (json!({"thinkingBudget": 128}), 128)
        } else {
            (json!({"thinkingBudget": 0}), 0)
        });
    }
    let version: f32 = m.strip_prefix("gemini-")?.split('-').next()?.parse().ok()?;
    if version >= 3.0 {
        let level = if m.contains("pro") { "low" } else { "minimal" };
        return Some((json!({"thinkingLevel": level}), THINKING_HEADROOM));
    }
    None
}

fn gemini_body(model: &str, system: &str, user: &str, max_tokens: u32) -> Value {
    let mut generation = json!({"maxOutputTokens": max_tokens, "temperature": 0.2});
    if let Some((thinking, headroom)) = gemini_thinking(model) {
        generation["thinkingConfig"] = thinking;
        generation["maxOutputTokens"] = json!(max_tokens + headroom);
    }
    json!({
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [{"role": "user", "parts": [{"text": user}]}],
        "generationConfig": generation,
    })
}

fn ollama_body(model: &str, system: &str, user: &str, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
        // Streaming is Ollama's default (NDJSON); one JSON answer is what is parsed here.
        "stream": false,
        // The default keeps the model resident for 5 minutes; a notification now and then should
        // not pin a GPU's memory (Pulse #1425).
        "keep_alive": "1m",
        "options": {"temperature": 0.2, "num_predict": max_tokens},
    })
}

fn u64_at(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

/// `choices[0].message.content`, `finish_reason`, `usage.{prompt,completion}_tokens`.
fn parse_openai(v: &Value) -> Result<Answer, AiError> {
    let choice = v.pointer("/choices/0").ok_or_else(|| AiError::BadAnswer("no choices".into()))?;
    if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
        return Err(AiError::BadAnswer(format!("refused: {refusal}")));
    }
    let text = choice.pointer("/message/content").and_then(Value::as_str).unwrap_or_default();
    let finish = choice.get("finish_reason").and_then(Value::as_str).unwrap_or_default();
    check_text(text, finish, &["length"], &["content_filter"])?;
    Ok(Answer {
        text: text.to_string(),
        tokens_in: u64_at(v, "/usage/prompt_tokens"),
        tokens_out: u64_at(v, "/usage/completion_tokens"),
    })
}

/// The `text` blocks of `content`, `stop_reason`, `usage.{input,output}_tokens`.
fn parse_anthropic(v: &Value) -> Result<Answer, AiError> {
    let blocks =
        v.get("content").and_then(Value::as_array).ok_or_else(|| AiError::BadAnswer("no content".into()))?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let stop = v.get("stop_reason").and_then(Value::as_str).unwrap_or_default();
    check_text(&text, stop, &["max_tokens"], &["refusal"])?;
    Ok(Answer {
        text,
        tokens_in: u64_at(v, "/usage/input_tokens"),
        tokens_out: u64_at(v, "/usage/output_tokens"),
    })
}

/// `candidates[0].content.parts[].text` (not the `thought` parts), `finishReason`,
/// `promptFeedback.blockReason`, `usageMetadata`.
fn parse_gemini(v: &Value) -> Result<Answer, AiError> {
    if let Some(reason) = v.pointer("/promptFeedback/blockReason").and_then(Value::as_str) {
        return Err(AiError::BadAnswer(format!("the prompt was blocked ({reason})")));
    }
    let candidate = v.pointer("/candidates/0").ok_or_else(|| AiError::BadAnswer("no candidates".into()))?;
    let text: String = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let finish = candidate.get("finishReason").and_then(Value::as_str).unwrap_or_default();
    check_text(
        &text,
        finish,
        &["MAX_TOKENS"],
        &["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE", "OTHER"],
    )?;
    // Thinking tokens are billed as output.
    let out = match (
        u64_at(v, "/usageMetadata/candidatesTokenCount"),
        u64_at(v, "/usageMetadata/thoughtsTokenCount"),
    ) {
        (Some(c), Some(t)) => Some(c + t),
        (c, t) => c.or(t),
    };
    Ok(Answer { text, tokens_in: u64_at(v, "/usageMetadata/promptTokenCount"), tokens_out: out })
}

/// `message.content`, `done_reason`, `prompt_eval_count`, `eval_count`.
fn parse_ollama(v: &Value) -> Result<Answer, AiError> {
    let text = v.pointer("/message/content").and_then(Value::as_str).unwrap_or_default();
    let done = v.get("done_reason").and_then(Value::as_str).unwrap_or_default();
    check_text(text, done, &["length"], &[])?;
    Ok(Answer {
        text: text.to_string(),
        tokens_in: u64_at(v, "/prompt_eval_count"),
        tokens_out: u64_at(v, "/eval_count"),
    })
}

/// An answer stopped for `reason`: a blocking reason is unusable whatever the text; a cut-off one
/// only when nothing came before the cut; and no text is unusable anyway.
fn check_text(text: &str, reason: &str, cut_off: &[&str], blocked: &[&str]) -> Result<(), AiError> {
    if blocked.contains(&reason) {
        return Err(AiError::BadAnswer(format!("the answer was blocked ({reason})")));
    }
    if strip_thinking(text).trim().is_empty() {
        return Err(AiError::BadAnswer(if cut_off.contains(&reason) {
            format!("the token cap was reached before any text ({reason})")
        } else {
            "the answer is empty".to_string()
        }));
    }
    Ok(())
}

/// Drops a `<think>…</think>` block that reasoning models served by Ollama, LM Studio or vLLM put in
/// front of the answer.
fn strip_thinking(text: &str) -> &str {
    let t = text.trim_start();
    if t.starts_with("<think>") {
        if let Some(end) = t.find("</think>") {
            return &t[end + "</think>".len()..];
        }
        return "";
    }
    text
}

/// The answer as title (first line) and body (the rest), without the decorations models add
/// despite the prompt: a code fence, a `Title:` label, Markdown emphasis or a heading mark.
fn split_answer(text: &str, want_body: bool) -> Result<(String, String), AiError> {
    let text = strip_thinking(text).trim();
    let text = text.strip_prefix("```").map_or(text, |t| {
        let t = t.split_once('\n').map_or("", |(_, rest)| rest);
        t.trim_end().strip_suffix("```").unwrap_or(t)
    });
    let mut lines = text.lines().map(str::trim_end).skip_while(|l| l.trim().is_empty());
    let Some(first) = lines.next() else {
        return Err(AiError::BadAnswer("the answer is empty".into()));
    };
    let mut title = first.trim().trim_start_matches('#').trim();
    for label in ["Title:", "title:", "TITLE:"] {
        if let Some(t) = title.strip_prefix(label) {
            title = t.trim();
        }
    }
    let title = title.trim_matches('*').trim().to_string();
    let rest: Vec<&str> = lines.collect();
    let mut body = rest.join("\n").trim().to_string();
    for label in ["Body:\n", "Body:", "body:"] {
        if let Some(b) = body.strip_prefix(label) {
            body = b.trim().to_string();
        }
    }
    if title.is_empty() {
        return Err(AiError::BadAnswer("the answer has no title".into()));
    }
    if want_body && body.is_empty() {
        return Err(AiError::BadAnswer("the answer has a title but no body".into()));
    }
    Ok((title, body))
}

/// Reads at most [`MAX_ANSWER`] bytes of an answer.
fn read_bounded(resp: &httpc::Response) -> Result<&[u8], AiError> {
    if let Some(e) = resp.body_error() {
        return Err(network(e.clone()));
    }
    if resp.truncated() || resp.body().len() > MAX_ANSWER {
        return Err(AiError::BadAnswer(format!("the answer is larger than {} KiB", MAX_ANSWER >> 10)));
    }
    Ok(resp.body())
}

/// A provider's error text: OpenAI, Gemini and Anthropic put it at `error.message`, Ollama at
/// `error`; anything else is shown as the start of the body.
fn error_message(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let found = v
        .pointer("/error/message")
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .or_else(|| v.get("message"))
        .or_else(|| v.get("detail"))
        .and_then(Value::as_str);
    match found {
        Some(m) => m.chars().take(500).collect(),
        None => snippet(bytes),
    }
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s: String = text.trim().chars().take(300).collect();
    if s.is_empty() {
        s = "(empty)".into();
    }
    s
}

/// A transport error with its cause chain (DNS, TLS, refused), the URL's path left out. The shared
/// client's own timeout is a network error here; the settings' bound is [`AiError::Timeout`].
fn network(e: httpc::Error) -> AiError {
    AiError::Network(e.to_string())
}

/// Takes the key out of whatever a provider or the network said, in case it echoes it (OpenAI
/// echoes part of a wrong key; a proxy may echo it whole).
fn scrub_error(e: AiError, key: Option<&str>) -> AiError {
    let Some(key) = key.filter(|k| k.len() >= 4) else { return e };
    let scrub = |s: String| s.replace(key, "***");
    match e {
        AiError::Http { status, message } => AiError::Http { status, message: scrub(message) },
        AiError::Network(m) => AiError::Network(scrub(m)),
        AiError::BadAnswer(m) => AiError::BadAnswer(scrub(m)),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
// The fake providers are tasks of the test's own runtime (a unit test has no app TaskTracker).
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};

    use super::*;

    /// What a fake provider was sent.
    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        query: Option<String>,
        headers: HeaderMap,
        body: Value,
    }

    type Respond = Arc<dyn Fn(&Value) -> (StatusCode, Value) + Send + Sync>;

    #[derive(Clone)]
    struct Fake {
        seen: Arc<Mutex<Vec<Seen>>>,
        respond: Respond,
        delay: Duration,
    }

    async fn handle(
        State(f): State<Fake>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl axum::response::IntoResponse {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        f.seen.lock().unwrap().push(Seen {
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers,
            body: body.clone(),
        });
        tokio::time::sleep(f.delay).await;
        let (status, answer) = (f.respond)(&body);
        (status, axum::Json(answer))
    }

    /// A provider on 127.0.0.1 answering with `respond`, after `delay`. The listener is bound before
    /// this returns, so a request made right away waits in its backlog: no readiness wait needed.
    async fn fake(
        delay: Duration,
        respond: impl Fn(&Value) -> (StatusCode, Value) + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(handle).with_state(Fake {
            seen: seen.clone(),
            respond: Arc::new(respond),
            delay,
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, seen)
    }

    fn http() -> httpc::Client {
        crate::notify::channels::Ctx::new(Duration::from_secs(30)).unwrap().http().clone()
    }

    fn settings(kind: ProviderKind, base: &str, model: &str, key: Option<&str>) -> Settings {
        Settings {
            enabled: true,
            provider: Provider {
                kind,
                base_url: base.to_string(),
                model: model.to_string(),
                api_key: key.map(str::to_string),
            },
            ..Settings::default()
        }
    }

    const TITLE: &str = "Disk sdb on pve1: 8 reallocated sectors";
    const BODY: &str = "SMART attribute 5 rose from 0 to 8 on /dev/sdb (serial WD-WCC4N1234567).\n\
                        Host pve1 (192.168.1.10), mail to admin@example.org.";

    fn request(known: &[String]) -> Request<'_> {
        Request {
            title: TITLE,
            body: BODY,
            severity: Severity::Warning,
            mode: Mode::Rewrite,
            language: "English",
            instruction: "",
            known,
        }
    }

    /// The user message's title and body, as the answer: the rewrite of an echo.
    fn echo(user: &str) -> String {
        let rest = user.split_once("Title: ").unwrap().1;
        let (title, body) = rest.split_once("\nBody:\n").unwrap();
        format!("{title}\n{body}")
    }

    fn openai_answer(text: &str) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
        })
    }

    #[tokio::test]
    async fn openai_shape_with_redaction_round_trip() {
        let (base, seen) = fake(Duration::ZERO, |b| {
            (StatusCode::OK, openai_answer(&echo(b["messages"][1]["content"].as_str().unwrap())))
        })
        .await;
        let s = settings(ProviderKind::OpenAi, &base, "gpt-4o-mini", Some("sk-test-123"));
        let known = vec!["pve1".to_string()];
        let r = rewrite(&http(), &s, &request(&known)).await.unwrap();

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let req = &seen[0];
        assert_eq!(req.path, "/v1/chat/completions");
        assert_eq!(req.headers["authorization"], "Bearer sk-test-123");
        assert_eq!(req.body["model"], "gpt-4o-mini");
        assert_eq!(req.body["messages"][0]["role"], "system");
        assert_eq!(req.body["messages"][1]["role"], "user");
        assert_eq!(req.body["max_tokens"], 400);
        assert!(req.body["temperature"].is_number());
        assert!(req.body.get("max_completion_tokens").is_none());
        // Nothing that identifies the host reached the provider.
        let sent = req.body.to_string();
        for secret in ["pve1", "192.168.1.10", "WD-WCC4N1234567", "admin@example.org"] {
            assert!(!sent.contains(secret), "{secret} reached the provider: {sent}");
        }
        assert!(sent.contains("HOST_1") && sent.contains("SERIAL_1") && sent.contains("IP_1"), "{sent}");
        // ...and the answer has it all back.
        assert_eq!((r.title.as_str(), r.body.as_str()), (TITLE, BODY));
        assert!(r.redacted);
        assert_eq!((r.provider.as_str(), r.model.as_str()), ("openai", "gpt-4o-mini"));
        assert_eq!((r.tokens_in, r.tokens_out), (Some(120), Some(30)));
        assert!(r.latency_ms < 10_000);
    }

    #[tokio::test]
    async fn anthropic_shape() {
        let (base, seen) = fake(Duration::ZERO, |_| {
            (
                StatusCode::OK,
                json!({
                    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                    "content": [{"type": "text", "text": "sdb is wearing out\n8 reallocated sectors "}, {"type": "text", "text": "on HOST_1."}],
                    "stop_reason": "end_turn", "stop_sequence": null,
                    "usage": {"input_tokens": 210, "output_tokens": 18}
                }),
            )
        })
        .await;
        let s = settings(ProviderKind::Anthropic, &base, "claude-haiku-4-5", Some("sk-ant-xyz"));
        let known = vec!["pve1".to_string()];
        let r = rewrite(&http(), &s, &request(&known)).await.unwrap();
        let req = seen.lock().unwrap()[0].clone();
        assert_eq!(req.path, "/v1/messages");
        assert_eq!(req.headers["x-api-key"], "sk-ant-xyz");
        assert_eq!(req.headers["anthropic-version"], "2023-06-01");
        assert!(req.headers.get("authorization").is_none());
        assert!(req.body["system"].as_str().unwrap().contains("Proxmox"), "system is top level");
        assert_eq!(req.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(req.body["messages"][0]["role"], "user");
        assert_eq!(req.body["max_tokens"], 400);
        assert_eq!(r.title, "sdb is wearing out");
        assert_eq!(r.body, "8 reallocated sectors on pve1.");
        assert_eq!((r.tokens_in, r.tokens_out), (Some(210), Some(18)));
    }

    #[tokio::test]
    async fn gemini_shape_key_in_header_and_no_thinking() {
        let (base, seen) = fake(Duration::ZERO, |_| {
            (
                StatusCode::OK,
                json!({
                    "candidates": [{"content": {"role": "model", "parts": [{"text": "Disk sdb: 8 bad sectors\nWatch it."}]}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 90, "candidatesTokenCount": 12, "thoughtsTokenCount": 3, "totalTokenCount": 105},
                    "modelVersion": "gemini-2.5-flash"
                }),
            )
        })
        .await;
        let s = settings(ProviderKind::Gemini, &base, "gemini-2.5-flash", Some("AIza-test"));
        let known = vec![];
        let r = rewrite(&http(), &s, &request(&known)).await.unwrap();
        let req = seen.lock().unwrap()[0].clone();
        assert_eq!(req.path, "/v1beta/models/gemini-2.5-flash:generateContent");
        assert_eq!(req.query, None, "the key is never in the URL");
        assert_eq!(req.headers["x-goog-api-key"], "AIza-test");
        assert!(req.body["systemInstruction"]["parts"][0]["text"].as_str().unwrap().contains("Proxmox"));
        assert_eq!(req.body["contents"][0]["role"], "user");
        assert_eq!(req.body["generationConfig"]["maxOutputTokens"], 400);
        assert_eq!(req.body["generationConfig"]["thinkingConfig"]["thinkingBudget"], 0);
        assert_eq!((r.title.as_str(), r.body.as_str()), ("Disk sdb: 8 bad sectors", "Watch it."));
        assert_eq!((r.tokens_in, r.tokens_out), (Some(90), Some(15)));
    }

    #[tokio::test]
    async fn ollama_on_loopback_sees_the_text_unredacted() {
        let (base, seen) = fake(Duration::ZERO, |b| {
            let text = echo(b["messages"][1]["content"].as_str().unwrap());
            (
                StatusCode::OK,
                json!({
                    "model": "llama3.2", "created_at": "2025-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": format!("<think>short</think>\n{text}")},
                    "done_reason": "stop", "done": true, "total_duration": 1_000_000,
                    "prompt_eval_count": 80, "eval_count": 22
                }),
            )
        })
        .await;
        let s = settings(ProviderKind::Ollama, &base, "llama3.2", None);
        assert!(s.redact);
        let known = vec!["pve1".to_string()];
        let r = rewrite(&http(), &s, &request(&known)).await.unwrap();
        let req = seen.lock().unwrap()[0].clone();
        assert_eq!(req.path, "/api/chat");
        assert!(req.headers.get("authorization").is_none());
        assert_eq!(req.body["stream"], false);
        assert_eq!(req.body["keep_alive"], "1m");
        assert_eq!(req.body["options"]["num_predict"], 400);
        assert!(req.body.to_string().contains("192.168.1.10"), "a local model sees the real text");
        assert!(!r.redacted);
        assert_eq!((r.title.as_str(), r.body.as_str()), (TITLE, BODY));
        assert_eq!((r.tokens_in, r.tokens_out), (Some(80), Some(22)));
    }

    #[test]
    fn only_a_loopback_ollama_skips_redaction() {
        let p = |base: &str| Provider {
            kind: ProviderKind::Ollama,
            base_url: base.into(),
            ..Provider::default()
        };
        assert!(p("").is_loopback(), "the default is 127.0.0.1");
        assert!(p("http://localhost:11434/").is_loopback());
        assert!(p("http://127.3.4.5:11434").is_loopback());
        assert!(p("http://[::1]:11434").is_loopback());
        assert!(!p("http://192.168.1.20:11434").is_loopback());
        assert!(!p("http://ollama.lan:11434").is_loopback());
    }

    #[tokio::test]
    async fn a_slow_provider_times_out_within_the_bound() {
        let (base, _seen) =
            fake(Duration::from_secs(10), |_| (StatusCode::OK, openai_answer("late\nlate"))).await;
        let mut s = settings(ProviderKind::OpenAi, &base, "gpt-4o-mini", Some("k"));
        s.timeout_s = 1;
        let started = Instant::now();
        let known = vec![];
        let err = rewrite(&http(), &s, &request(&known)).await.unwrap_err();
        assert_eq!(err, AiError::Timeout(Duration::from_secs(1)));
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_refused_key_is_an_http_error_with_the_providers_message_and_never_the_key() {
        let (base, _seen) = fake(Duration::ZERO, |_| {
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": {"message": "Incorrect API key provided: sk-secret-42. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            )
        })
        .await;
        let s = settings(ProviderKind::OpenAi, &base, "gpt-4o-mini", Some("sk-secret-42"));
        let known = vec![];
        let err = rewrite(&http(), &s, &request(&known)).await.unwrap_err();
        let AiError::Http { status, message } = &err else { panic!("{err:?}") };
        assert_eq!(*status, 401);
        assert!(message.starts_with("Incorrect API key provided: ***."), "{message}");
        assert!(!err.to_string().contains("sk-secret-42"));
        assert!(!format!("{:?}", s).contains("sk-secret-42"), "Debug masks the key");
    }

    #[tokio::test]
    async fn off_and_invalid_make_no_call() {
        let (base, seen) = fake(Duration::ZERO, |_| (StatusCode::OK, openai_answer("a\nb"))).await;
        let known = vec![];
        let mut s = settings(ProviderKind::OpenAi, &base, "gpt-4o-mini", None);
        let mut req = request(&known);
        req.mode = Mode::Off;
        assert_eq!(rewrite(&http(), &s, &req).await, Err(AiError::Disabled));
        s.enabled = false;
        assert_eq!(rewrite(&http(), &s, &request(&known)).await, Err(AiError::Disabled));
        s.enabled = true;
        let long = "x".repeat(MAX_INSTRUCTION + 1);
        let mut req = request(&known);
        req.instruction = &long;
        assert!(matches!(rewrite(&http(), &s, &req).await, Err(AiError::Invalid(_))));
        assert!(seen.lock().unwrap().is_empty());
        assert_eq!(s.check_cap(199), Ok(()));
        assert_eq!(s.check_cap(200), Err(AiError::CapReached));
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let (base, _seen) =
            fake(Duration::ZERO, |_| (StatusCode::OK, openai_answer(&"x".repeat(MAX_ANSWER)))).await;
        let s = settings(ProviderKind::OpenAi, &base, "gpt-4o-mini", None);
        let known = vec![];
        let err = rewrite(&http(), &s, &request(&known)).await.unwrap_err();
        assert!(matches!(&err, AiError::BadAnswer(m) if m.contains("256 KiB")), "{err:?}");
    }

    #[tokio::test]
    async fn the_test_button_sends_the_sample_with_a_next_step() {
        let (base, seen) = fake(Duration::ZERO, |_| {
            (
                StatusCode::OK,
                openai_answer(
                    "Disk sdb on HOST_1 is wearing\n8 reallocated sectors.\nNext step: plan a replacement.",
                ),
            )
        })
        .await;
        let mut s =
            settings(ProviderKind::OpenAi, &base.replace("127.0.0.1", "localhost"), "gpt-4o-mini", None);
        s.enabled = false;
        let r = test(&http(), &s).await.unwrap();
        assert_eq!(r.title, "Disk sdb on pve1 is wearing");
        assert!(r.body.ends_with("Next step: plan a replacement."));
        let req = seen.lock().unwrap()[0].clone();
        assert!(req.body["messages"][0]["content"].as_str().unwrap().contains("Next step:"));
        assert!(req.headers.get("authorization").is_none(), "no key, no auth header");
        assert!(!req.body.to_string().contains("WD-WCC4N1234567"), "redacted: not an Ollama");
    }

    #[test]
    fn reasoning_models_get_their_own_parameters() {
        let body = |m: &str| openai_body(m, "s", "u", 400);
        let classic = body("gpt-4o-mini");
        assert_eq!((classic["max_tokens"].as_u64(), classic.get("reasoning_effort")), (Some(400), None));
        for (model, effort) in [
            ("gpt-5-mini", "minimal"),
            ("gpt-5", "minimal"),
            ("gpt-5.1", "none"),
            ("o3-mini", "low"),
            ("openai/o4-mini", "low"),
        ] {
            let b = body(model);
            assert_eq!(b["reasoning_effort"], effort, "{model}");
            assert!(b.get("temperature").is_none() && b.get("max_tokens").is_none(), "{model}");
            assert!(b["max_completion_tokens"].as_u64().unwrap() >= 400, "{model}");
        }
        assert!(body("gpt-5-pro").get("reasoning_effort").is_none());
        assert_eq!(body("gpt-5-chat-latest")["max_tokens"], 400, "the chat alias is a classic model");
        assert_eq!(
            openai_url("https://api.groq.com/openai"),
            "https://api.groq.com/openai/v1/chat/completions"
        );
        assert_eq!(openai_url("http://localhost:1234/v1"), "http://localhost:1234/v1/chat/completions");
    }

    #[test]
    fn gemini_thinking_per_model() {
        let cfg = |m: &str| gemini_body(m, "s", "u", 400)["generationConfig"].clone();
        assert_eq!(cfg("gemini-2.5-flash")["thinkingConfig"]["thinkingBudget"], 0);
        assert_eq!(cfg("gemini-2.5-pro")["thinkingConfig"]["thinkingBudget"], 128);
        assert_eq!(cfg("gemini-2.5-pro")["maxOutputTokens"], 528);
        assert_eq!(cfg("gemini-3-flash-preview")["thinkingConfig"]["thinkingLevel"], "minimal");
        assert!(cfg("gemini-2.5-flash-lite").get("thinkingConfig").is_none());
        assert!(cfg("gemini-2.0-flash").get("thinkingConfig").is_none());
    }

    #[test]
    fn blocked_refused_and_cut_off_answers_are_bad() {
        let bad = |r: Result<Answer, AiError>| matches!(r, Err(AiError::BadAnswer(_)));
        assert!(bad(parse_gemini(&json!({"promptFeedback": {"blockReason": "SAFETY"}}))));
        assert!(bad(parse_gemini(&json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]}))));
        assert!(bad(parse_gemini(
            &json!({"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS"}]})
        )));
        // Cut off after some text: usable.
        assert!(parse_gemini(&json!({"candidates": [{"content": {"parts": [{"text": "a\nb"}]}, "finishReason": "MAX_TOKENS"}]})).is_ok());
        assert!(bad(parse_openai(
            &json!({"choices": [{"message": {"content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]})
        )));
        assert!(bad(parse_openai(
            &json!({"choices": [{"message": {"content": ""}, "finish_reason": "length"}]})
        )));
        assert!(bad(parse_anthropic(&json!({"content": [], "stop_reason": "refusal"}))));
        assert!(bad(parse_ollama(&json!({"message": {"content": "<think>hmm"}, "done_reason": "length"}))));
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#
            ),
            "invalid x-api-key"
        );
        assert_eq!(
            error_message(br#"{"error":"model \"x\" not found, try pulling it first"}"#),
            "model \"x\" not found, try pulling it first"
        );
        assert_eq!(error_message(b"Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn answers_lose_their_decorations() {
        let split = |t: &str| split_answer(t, true).unwrap();
        assert_eq!(
            split("```\nTitle: **Disk full**\nBody:\n/var is 98% full.\n```"),
            ("Disk full".into(), "/var is 98% full.".into())
        );
        assert_eq!(
            split("\n# Backup failed\n\nvm 101: no space left.\n"),
            ("Backup failed".into(), "vm 101: no space left.".into())
        );
        assert!(split_answer("only a title", true).is_err());
        assert_eq!(split_answer("only a title", false).unwrap(), ("only a title".into(), String::new()));
    }

    #[test]
    fn settings_validate_and_default() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
        assert!(!s.enabled && s.redact && s.timeout_s == 10 && s.daily_cap == 200 && s.max_tokens == 400);
        assert_eq!(s.validate(), Ok(()), "off needs nothing");
        let mut s = settings(ProviderKind::Anthropic, "", "claude-haiku-4-5", None);
        assert!(s.validate().unwrap_err().contains("api_key"));
        s.provider.api_key = Some("k".into());
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.provider.base(), "https://api.anthropic.com");
        s.provider.base_url = "ftp://x".into();
        assert!(s.validate().is_err());
        let g = settings(ProviderKind::Gemini, "", "gemini-2.5-flash?x=1", Some("k"));
        assert!(g.validate().is_err());
        let json = serde_json::to_value(settings(ProviderKind::OpenAi, "", "m", None)).unwrap();
        assert_eq!(json["provider"]["kind"], "openai");
    }
}
