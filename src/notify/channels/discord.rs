//! Discord webhooks (embeds, ?wait=true).

use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::Message;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
        Ok(())
    }

    async fn send(&self, _ctx: &Ctx, _msg: &Message) -> Result<Delivered, SendError> {
        Err(SendError::permanent("discord: not built yet"))
    }
}
