//! UPS states that the UPS worker publishes and the health rules read.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[default]
    Pending,
    Ok,
    /// No upsd (nothing listening), or monitoring turned off.
    Unavailable,
    /// upsd answered but something is wrong (access denied, protocol error, timeout).
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UpsState {
    #[default]
    Ok,
    /// upsd has no connection to the UPS's driver (`ERR DRIVER-NOT-CONNECTED`).
    DriverNotConnected,
    /// The driver stopped updating (`ERR DATA-STALE`).
    DataStale,
    /// upsd says `WAIT`: the driver has not sent its first data yet.
    Waiting,
    /// Another failure; see `reason`.
    Error,
}
