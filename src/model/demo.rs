//! The demo: what it tells the UI about itself, and its one account.

use serde::Serialize;

/// What the demo tells the UI about itself.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DemoInfo {
    pub scenario: String,
    pub note: String,
}

impl DemoInfo {
    /// The demo's only account, shown on its login page (to loopback names only); the demo listens on
    /// 127.0.0.1 only.
    pub const USER: &'static str = "demo";
    pub const PASSWORD: &'static str = "demo";
    /// `PASSWORD` hashed ahead of time, so the demo starts without spending ~100 ms in argon2.
    pub const PHC: &'static str =
        "$argon2id$v=19$m=65536,t=2,p=1$q38YhHsDAgcDRCbSzTSomA$4Jm3mHs+p5RiiXGpHQZfM83EEKU3gxS3JVr2JNhelnk";
}
