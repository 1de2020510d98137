//! One source's latest result with its state: the shape every polled domain publishes ("last good
//! data" kept next to the reason it is old). The fold of a tool's result into it lives with the
//! poller that runs the tool.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "Section_for_{T}"))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Section<T> {
    pub state: SectionState,
    pub reason: Option<String>,
    /// Unix seconds of the data (every `updated` the API serves is unix seconds).
    pub updated: Option<i64>,
    pub data: Option<T>,
    /// Where the data came from when a source has more than one way in: `task files`, or
    /// `pvesh (why not the files)`. Absent for single-source sections.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub source: Option<String>,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Section { state: SectionState::Pending, reason: None, updated: None, data: None, source: None }
    }
}

impl<T> Section<T> {
    /// A good result read at `now_s` (unix seconds).
    pub fn ok(&mut self, data: T, now_s: i64) {
        self.state = SectionState::Ok;
        self.reason = None;
        self.updated = Some(now_s);
        self.data = Some(data);
    }

    /// The source is not on this host: nothing to show, and the reason.
    pub fn unavailable(&mut self, reason: impl Into<String>) {
        self.state = SectionState::Unavailable;
        self.reason = Some(reason.into());
        self.data = None;
    }

    /// A failed read: the last good data stays (`stale`), or `error` when there never was any.
    /// Returns whether the failure starts now (the caller logs it once, not on every poll).
    pub fn failed(&mut self, reason: impl Into<String>) -> bool {
        let was = self.state;
        self.state = if self.data.is_some() { SectionState::Stale } else { SectionState::Error };
        self.reason = Some(reason.into());
        matches!(was, SectionState::Ok | SectionState::Pending | SectionState::Unavailable)
    }

    pub fn map<'a, U>(&'a self, f: impl FnOnce(&'a T) -> U) -> Section<U> {
        Section {
            state: self.state,
            reason: self.reason.clone(),
            updated: self.updated,
            data: self.data.as_ref().map(f),
            source: self.source.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_the_last_good_data_and_says_once_that_it_started() {
        let mut s: Section<u32> = Section::default();
        assert!(s.failed("boom"), "pending -> error starts a failure");
        assert_eq!((s.state, s.data), (SectionState::Error, None));
        s.ok(7, 100);
        assert_eq!(
            (s.state, s.updated, s.data, s.reason.as_deref()),
            (SectionState::Ok, Some(100), Some(7), None)
        );
        assert!(s.failed("timeout"));
        assert!(!s.failed("timeout again"), "a failure that goes on is not news");
        assert_eq!((s.state, s.updated, s.data), (SectionState::Stale, Some(100), Some(7)));
        s.unavailable("gone");
        assert_eq!((s.state, s.data, s.reason.as_deref()), (SectionState::Unavailable, None, Some("gone")));
    }
}
