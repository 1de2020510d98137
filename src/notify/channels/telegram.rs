//! Telegram Bot API (sendMessage, HTML parse mode).

use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::Message;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
        Ok(())
    }

    async fn send(&self, _ctx: &Ctx, _msg: &Message) -> Result<Delivered, SendError> {
        Err(SendError::permanent("telegram: not built yet"))
    }
}
fn default_base() -> String {
    "https://api.telegram.org".into()
}
