//! ntfy: publish to {server}/{topic} with title, priority and tags headers.

use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::Message;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
        Ok(())
    }

    async fn send(&self, _ctx: &Ctx, _msg: &Message) -> Result<Delivered, SendError> {
        Err(SendError::permanent("ntfy: not built yet"))
    }
}
fn default_server() -> String {
    "https://ntfy.sh".into()
}
