//! One source's latest result with its state: the shape every polled domain publishes ("last good
//! data" kept next to the reason it is old). The fold of a tool's result into it lives with the
//! poller that runs the tool.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SectionState {
    #[default]
    Pending,
    Ok,
    /// The last run failed; `data` is the last good data.
    Stale,
    /// The tool is not on this host.
    Unavailable,
    /// Never succeeded.
    Error,
}

/// One source's latest result.
#[derive(Debug, Clone, Serialize)]
pub struct Section<T> {
    pub state: SectionState,
    pub reason: Option<String>,
    /// Unix seconds of the data.
    pub updated: Option<i64>,
    pub data: Option<T>,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Section { state: SectionState::Pending, reason: None, updated: None, data: None }
    }
}

impl<T> Section<T> {
    pub fn map<'a, U>(&'a self, f: impl FnOnce(&'a T) -> U) -> Section<U> {
        Section {
            state: self.state,
            reason: self.reason.clone(),
            updated: self.updated,
            data: self.data.as_ref().map(f),
        }
    }
}
