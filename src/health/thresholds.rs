//! Every configurable health threshold with its default and valid range (filled in with the rules).

use super::model::ThresholdDef;

pub const THRESHOLDS: &[ThresholdDef] = &[];
