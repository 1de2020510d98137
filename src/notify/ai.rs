//! Optional AI rewriting of a message's text (off by default). To be built: see the module's issue.

use serde::{Deserialize, Serialize};

/// Per channel: what the AI does with its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "AiMode"))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Off,
    Rewrite,
    /// Rewrite and add one suggested next step.
    RewriteSuggest,
}
