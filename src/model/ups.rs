//! What the UPS worker publishes and the health rules read: each upsd server and UPS with its state,
//! last good reading and status changes.

use std::collections::VecDeque;

use serde::Serialize;

use super::nut::Reading;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UpsPollState"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UpsPollState"))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

/// One status transition (e.g. `OL` -> `OB DISCHRG`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StatusChange {
    /// Unix ms.
    pub at: i64,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Ups {
    /// `<name>@<server>`, unique across servers.
    pub id: String,
    pub name: String,
    pub server: String,
    pub description: String,
    pub state: UpsState,
    pub reason: Option<String>,
    /// The last good reading (kept while the driver is away, see `updated`).
    pub reading: Option<Reading>,
    /// Unix seconds of `reading`.
    pub updated: Option<i64>,
    /// Unix ms since when `ups.status` has its current value (first sight counts).
    pub status_since: Option<i64>,
    /// Newest first, at most 20.
    #[cfg_attr(test, ts(as = "Vec<StatusChange>"))]
    pub changes: VecDeque<StatusChange>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UpsServer"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UpsServer"))]
pub struct Server {
    pub addr: String,
    pub state: State,
    pub reason: Option<String>,
    /// Unix seconds of the last successful poll.
    pub updated: Option<i64>,
    /// When the next connection attempt is due (unix ms), while backing off.
    pub retry_at: Option<i64>,
}

/// What the UPS worker publishes (`app.ups`).
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpsSnapshot {
    /// `ok` when at least one server answered; `unavailable` when none listens (or monitoring is off).
    pub state: State,
    pub reason: Option<String>,
    /// Unix seconds of this snapshot.
    pub updated: Option<i64>,
    pub servers: Vec<Server>,
    pub upses: Vec<Ups>,
}
