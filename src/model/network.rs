//! Network states that the network worker publishes and the health rules read.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayState {
    /// Not probed yet.
    Pending,
    /// Probing is off (`probe_interval_s = 0`).
    Disabled,
    Ok,
    /// Some echoes were lost.
    Loss,
    /// Every echo was lost.
    Unreachable,
    /// The probe could not run (no socket).
    Error,
}
