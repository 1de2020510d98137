//! The channels: one file each, behind one trait. A channel turns a [`Message`] into its service's
//! request and classifies the answer: delivered (with the service's reply), worth retrying (network,
//! 5xx, 408, 429 with the service's `retry_after`), or permanent (a 4xx that retrying cannot fix: a
//! bad token, an unknown chat), which stops the channel's queue and shows it as "needs attention".
//!
//! Every channel's base URL is part of its config, so tests point it at local servers that speak
//! the real protocol. Secret fields (see [`ChannelConfig::secret_fields`]) are sealed at rest and
//! masked in every API answer; `Debug` of a config never prints them.

pub mod discord;
pub mod email;
pub mod gotify;
pub mod ntfy;
pub mod telegram;
pub mod webhook;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Message;
use crate::httpc;

/// What every send needs besides the config: the HTTP client (timeouts set, nothing pooled or kept
/// between sends: see [`crate::httpc`]) and the per-send time bound.
#[derive(Clone)]
pub struct Ctx {
    http: httpc::Client,
    /// The whole send (connect, TLS, request, answer) is bounded by this.
    pub timeout: Duration,
}

impl Ctx {
    /// The production client: rustls with the web PKI roots, no redirects followed, a bounded
    /// connect and overall time, and proxwatch's User-Agent.
    pub fn new(timeout: Duration) -> anyhow::Result<Ctx> {
        Ok(Ctx {
            http: httpc::Client::new(concat!("proxwatch/", env!("CARGO_PKG_VERSION")), timeout),
            timeout,
        })
    }

    pub fn http(&self) -> &httpc::Client {
        &self.http
    }
}

/// A delivered message.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Delivered {
    /// The service's answer, short (e.g. `message_id 42`, `250 2.0.0 Ok: queued`, `HTTP 204`).
    pub reply: String,
}

/// Why a send did not deliver.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Try again later: a network error, a timeout, a 5xx, 408 or 429. `after` is the service's own
    /// wait (`retry_after`, `Retry-After`), honoured over the backoff when longer.
    #[error("{error}")]
    Retry { error: String, after: Option<Duration> },
    /// Retrying cannot help (a 4xx other than 408/429, a config the service refuses): the channel
    /// needs the admin's attention. `error` carries the service's own message.
    #[error("{error}")]
    Permanent { error: String },
}

impl SendError {
    pub fn retry(error: impl Into<String>) -> SendError {
        SendError::Retry { error: error.into(), after: None }
    }
    pub fn permanent(error: impl Into<String>) -> SendError {
        SendError::Permanent { error: error.into() }
    }

    /// Classifies an HTTP status that is not a success: 408, 429 and 5xx are worth retrying.
    pub fn from_status(status: u16, error: impl Into<String>, after: Option<Duration>) -> SendError {
        if status == 408 || status == 429 || status >= 500 {
            SendError::Retry { error: error.into(), after }
        } else {
            SendError::Permanent { error: error.into() }
        }
    }

    /// A transport error: retryable, with its cause chain (DNS, TLS, refused, timeout) spelled out
    /// so the admin sees the real reason. It never holds the URL's path or query (secrets); a bad
    /// URL or header cannot get better by retrying.
    pub fn from_http(e: httpc::Error) -> SendError {
        match e.kind() {
            httpc::Kind::Request => SendError::permanent(e.to_string()),
            httpc::Kind::Network | httpc::Kind::Timeout | httpc::Kind::PinMismatch => {
                SendError::retry(e.to_string())
            }
        }
    }

    pub fn message(&self) -> &str {
        match self {
            SendError::Retry { error, .. } | SendError::Permanent { error } => error,
        }
    }
}

/// One channel kind.
pub trait Channel {
    /// Checks the config before it is saved; the message names the field.
    fn validate(&self) -> Result<(), String>;

    /// Sends one message, splitting it where the service has a length limit.
    fn send(
        &self,
        ctx: &Ctx,
        msg: &Message,
    ) -> impl std::future::Future<Output = Result<Delivered, SendError>> + Send;
}

/// A channel's config, tagged by kind. Secret fields live in the same struct; the store seals them
/// apart (see [`ChannelConfig::secret_fields`]).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyChannelConfig"))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelConfig {
    Telegram(telegram::Telegram),
    Discord(discord::Discord),
    Email(email::Email),
    Gotify(gotify::Gotify),
    Ntfy(ntfy::Ntfy),
    Webhook(webhook::Webhook),
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the fields: they hold secrets.
        write!(f, "ChannelConfig::{}", self.kind())
    }
}

impl ChannelConfig {
    pub const KINDS: [&'static str; 6] = ["telegram", "discord", "email", "gotify", "ntfy", "webhook"];

    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Telegram(_) => "telegram",
            ChannelConfig::Discord(_) => "discord",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Gotify(_) => "gotify",
            ChannelConfig::Ntfy(_) => "ntfy",
            ChannelConfig::Webhook(_) => "webhook",
        }
    }

    /// The JSON keys of `kind`'s config that are secrets: sealed at rest, masked on read, kept when
    /// an update leaves them out or sends the mask back.
    pub fn secret_fields(kind: &str) -> &'static [&'static str] {
        match kind {
            "telegram" => &["bot_token"],
            "discord" => &["webhook_url"],
            "email" => &["password"],
            "gotify" => &["token"],
            "ntfy" => &["token", "password"],
            "webhook" => &["url", "headers", "secret", "pushover_token", "pushover_user"],
            _ => &[],
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            ChannelConfig::Telegram(c) => c.validate(),
            ChannelConfig::Discord(c) => c.validate(),
            ChannelConfig::Email(c) => c.validate(),
            ChannelConfig::Gotify(c) => c.validate(),
            ChannelConfig::Ntfy(c) => c.validate(),
            ChannelConfig::Webhook(c) => c.validate(),
        }
    }

    pub async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        match self {
            ChannelConfig::Telegram(c) => c.send(ctx, msg).await,
            ChannelConfig::Discord(c) => c.send(ctx, msg).await,
            ChannelConfig::Email(c) => c.send(ctx, msg).await,
            ChannelConfig::Gotify(c) => c.send(ctx, msg).await,
            ChannelConfig::Ntfy(c) => c.send(ctx, msg).await,
            ChannelConfig::Webhook(c) => c.send(ctx, msg).await,
        }
    }
}

/// Splits `text` into pieces of at most `max` characters (not bytes), preferring line breaks, then
/// spaces; a piece never ends inside a UTF-8 character.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        // Byte offset of the `max`-th character.
        let limit = rest.char_indices().nth(max).map(|(i, _)| i).unwrap_or(rest.len());
        let head = &rest[..limit];
        let cut = head.rfind('\n').or_else(|| head.rfind(' ')).filter(|&i| i > 0).unwrap_or(limit);
        out.push(rest[..cut].to_string());
        rest = rest[cut..].trim_start_matches(['\n', ' ']);
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_prefers_line_breaks_and_counts_characters() {
        let text = "é".repeat(5) + "\n" + &"x".repeat(5);
        assert_eq!(split_text(&text, 8), vec!["ééééé".to_string(), "xxxxx".to_string()]);
        let long = "a".repeat(10);
        assert_eq!(split_text(&long, 4), vec!["aaaa", "aaaa", "aa"]);
        assert_eq!(split_text("", 4), vec![""]);
    }

    #[test]
    fn status_classes() {
        assert!(matches!(SendError::from_status(429, "x", None), SendError::Retry { .. }));
        assert!(matches!(SendError::from_status(408, "x", None), SendError::Retry { .. }));
        assert!(matches!(SendError::from_status(502, "x", None), SendError::Retry { .. }));
        assert!(matches!(SendError::from_status(401, "x", None), SendError::Permanent { .. }));
        assert!(matches!(SendError::from_status(400, "x", None), SendError::Permanent { .. }));
    }
}
