//! A generic webhook: URL, method, headers, a JSON body template, an HMAC-SHA256 signature, and presets (Slack, Mattermost, Matrix hookshot, Pushover, Home Assistant).

use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::Message;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    #[serde(default)]
    pub preset: Preset,
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
}

impl Channel for Webhook {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    async fn send(&self, _ctx: &Ctx, _msg: &Message) -> Result<Delivered, SendError> {
        Err(SendError::permanent("webhook: not built yet"))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    Post,
    Put,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}
