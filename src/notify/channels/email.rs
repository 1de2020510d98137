//! E-mail over SMTP (lettre: none / STARTTLS / implicit TLS) or the local sendmail.

use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::Message;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// Accept a self-signed server certificate (a LAN relay). Off by default.
    #[serde(default)]
    pub accept_invalid_certs: bool,
}

impl Channel for Email {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    async fn send(&self, _ctx: &Ctx, _msg: &Message) -> Result<Delivered, SendError> {
        Err(SendError::permanent("email: not built yet"))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Smtp,
    /// The host's own MTA (`/usr/sbin/sendmail`): Postfix queues and retries.
    Sendmail,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    None,
    Starttls,
    /// Implicit TLS (port 465), what RFC 8314 recommends and PVE's default.
    #[default]
    Tls,
}
