//! The rules of the ten categories (filled in with the rules).

use super::model::Rule;

pub const RULES: &[Rule] = &[];
