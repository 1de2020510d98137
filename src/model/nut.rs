//! One UPS as NUT's `upsd` reports it (the protocol client and decoders are `tools::nut`): the
//! `ups.status` flags and the usual variables, decoded.

use serde::Serialize;

/// One `ups.status` flag (docs/developer-guide, "Status data").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UpsFlag"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UpsFlag"))]
pub enum Flag {
    OL,
    OB,
    LB,
    HB,
    RB,
    CHRG,
    DISCHRG,
    BYPASS,
    CAL,
    OFF,
    OVER,
    TRIM,
    BOOST,
    FSD,
    ALARM,
}

impl Flag {
    pub fn parse(word: &str) -> Option<Flag> {
        Some(match word {
            "OL" => Flag::OL,
            "OB" => Flag::OB,
            "LB" => Flag::LB,
            "HB" => Flag::HB,
            "RB" => Flag::RB,
            "CHRG" => Flag::CHRG,
            "DISCHRG" => Flag::DISCHRG,
            "BYPASS" => Flag::BYPASS,
            "CAL" => Flag::CAL,
            "OFF" => Flag::OFF,
            "OVER" => Flag::OVER,
            "TRIM" => Flag::TRIM,
            "BOOST" => Flag::BOOST,
            "FSD" => Flag::FSD,
            "ALARM" => Flag::ALARM,
            _ => return None,
        })
    }

    /// A human label for the UI.
    pub fn label(self) -> &'static str {
        match self {
            Flag::OL => "on line",
            Flag::OB => "on battery",
            Flag::LB => "low battery",
            Flag::HB => "high battery",
            Flag::RB => "replace battery",
            Flag::CHRG => "charging",
            Flag::DISCHRG => "discharging",
            Flag::BYPASS => "bypass",
            Flag::CAL => "calibrating",
            Flag::OFF => "output off",
            Flag::OVER => "overloaded",
            Flag::TRIM => "trimming voltage",
            Flag::BOOST => "boosting voltage",
            Flag::FSD => "forced shutdown",
            Flag::ALARM => "alarm",
        }
    }

    /// How worrying the flag is: "ok", "info", "warn" or "crit".
    pub fn severity(self) -> &'static str {
        match self {
            Flag::OL | Flag::HB => "ok",
            Flag::CHRG | Flag::TRIM | Flag::BOOST | Flag::CAL => "info",
            Flag::OB | Flag::DISCHRG | Flag::RB | Flag::BYPASS | Flag::OVER | Flag::ALARM => "warn",
            Flag::LB | Flag::OFF | Flag::FSD => "crit",
        }
    }
}

/// A decoded `ups.status`: known flags in their given order, unknown words kept apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UpsStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UpsStatus"))]
pub struct Status {
    pub raw: String,
    pub flags: Vec<Flag>,
    pub unknown: Vec<String>,
    /// upsd's `WAIT`: the driver is connected but has not sent its first data yet.
    pub waiting: bool,
}

impl Status {
    pub fn has(&self, f: Flag) -> bool {
        self.flags.contains(&f)
    }
}

/// The usual variables of one UPS, decoded. Numbers tolerate `92.00`, `089.0`, `01406` and
/// surrounding spaces; anything unparsable is `None`, never a made-up value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "UpsReading"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "UpsReading"))]
pub struct Reading {
    pub status: Status,
    /// `ups.alarm` text, when the UPS reports one.
    pub alarm: Option<String>,
    pub charge_pct: Option<f64>,
    pub charge_low_pct: Option<f64>,
    pub runtime_s: Option<f64>,
    pub load_pct: Option<f64>,
    pub input_voltage: Option<f64>,
    pub input_voltage_nominal: Option<f64>,
    pub output_voltage: Option<f64>,
    pub battery_voltage: Option<f64>,
    /// `battery.date` (install/replacement date) or else `battery.mfr.date`.
    pub battery_date: Option<String>,
    pub realpower_w: Option<f64>,
    pub realpower_nominal_w: Option<f64>,
    /// `ups.power.nominal` (VA).
    pub power_nominal_va: Option<f64>,
    pub model: Option<String>,
    pub mfr: Option<String>,
    pub serial: Option<String>,
    pub test_result: Option<String>,
    pub driver: Option<String>,
}
