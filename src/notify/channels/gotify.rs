//! Gotify: POST {server}/message with the app token.

use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::Message;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gotify {
    pub server: String,
    pub token: String,
}

impl Channel for Gotify {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    async fn send(&self, _ctx: &Ctx, _msg: &Message) -> Result<Delivered, SendError> {
        Err(SendError::permanent("gotify: not built yet"))
    }
}
