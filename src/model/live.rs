//! The vitals feed's item: a sample with its JSON rendered once.

use serde_json::value::RawValue;

use super::Sample;

/// A vitals sample with its JSON rendered once, so that every reader (API, live streams) shares it.
#[derive(Debug)]
pub struct LiveSample {
    pub sample: Sample,
    pub json: Box<RawValue>,
}

impl LiveSample {
    pub fn new(sample: Sample) -> anyhow::Result<LiveSample> {
        let json = serde_json::value::to_raw_value(&sample)?;
        Ok(LiveSample { sample, json })
    }
}
