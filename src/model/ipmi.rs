//! IPMI sensors and system event log entries as `ipmitool` reports them over the local BMC (the
//! parsers are `tools::ipmi`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "IpmiStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "IpmiStatus"))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Non-critical (a warning threshold crossed).
    Nc,
    /// Critical.
    Cr,
    /// Non-recoverable.
    Nr,
    /// Not specified / no reading.
    Ns,
    Na,
    /// A discrete sensor: see `state`.
    Discrete,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "IpmiSensor"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "IpmiSensor"))]
pub struct Sensor {
    pub name: String,
    /// Threshold sensors: the reading; discrete sensors: `None`.
    pub value: Option<f64>,
    pub unit: String,
    pub status: Status,
    /// Discrete sensors: the raw reading and state mask as printed (`0x0`, `0x0180`).
    pub state: Option<String>,
    pub lnr: Option<f64>,
    pub lcr: Option<f64>,
    pub lnc: Option<f64>,
    pub unc: Option<f64>,
    pub ucr: Option<f64>,
    pub unr: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SensorList {
    pub sensors: Vec<Sensor>,
    /// Rows dropped as unpopulated (`na` reading and status).
    pub unpopulated: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SelEntry {
    /// The record id as ipmitool prints it (hex).
    pub id: String,
    /// `2024-07-30 10:15:32` (the BMC's clock, usually local time), or `None` before the clock was set.
    pub time: Option<String>,
    /// Seconds since the BMC started, for `Pre-Init` entries.
    pub pre_init_s: Option<u64>,
    pub sensor: String,
    pub event: String,
    /// `Asserted` / `Deasserted`.
    pub direction: Option<String>,
    /// `Reading 88 > Threshold 85 degrees C`.
    pub detail: Option<String>,
    /// Not there at the previous read (set by the worker).
    pub new: bool,
}
