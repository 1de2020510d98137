//! Facts gathered for the health rules only (filled in with the rules).

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {}
