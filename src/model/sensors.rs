//! Temperatures, fans, voltages, power and currents as hwmon sysfs reports them, in SI units (the
//! reader and the classifier that drops bogus inputs are `tools::hwmon`).

use serde::Serialize;

/// The sensor kinds hwmon has, with the file prefix and the divisor to SI units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "ReadingKind"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "ReadingKind"))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Temp,
    Fan,
    Voltage,
    Power,
    Current,
}

impl Kind {
    pub(crate) fn from_prefix(p: &str) -> Option<Kind> {
        Some(match p {
            "temp" => Kind::Temp,
            "fan" => Kind::Fan,
            "in" => Kind::Voltage,
            "power" => Kind::Power,
            "curr" => Kind::Current,
            _ => return None,
        })
    }
    /// Kernel unit -> SI: millidegrees, RPM, millivolts, microwatts, milliamps.
    pub(crate) fn divisor(self) -> f64 {
        match self {
            Kind::Temp | Kind::Voltage | Kind::Current => 1000.0,
            Kind::Fan => 1.0,
            Kind::Power => 1_000_000.0,
        }
    }
    pub fn unit(self) -> &'static str {
        match self {
            Kind::Temp => "°C",
            Kind::Fan => "RPM",
            Kind::Voltage => "V",
            Kind::Power => "W",
            Kind::Current => "A",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warn,
    Crit,
}

/// One sensor in SI units.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Reading {
    pub kind: Kind,
    /// `temp1`, `fan2`, `in0`.
    pub key: String,
    /// The label file, or the key when the chip has none.
    pub label: String,
    pub value: f64,
    pub unit: &'static str,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub crit: Option<f64>,
    /// An alarm flag the chip raised (and that means something: limits are set).
    pub alarm: bool,
    pub level: Level,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Chip {
    /// Stable within a boot: the `name`, suffixed `-0`, `-1`, ... when several chips share it.
    pub id: String,
    pub name: String,
    pub dir: String,
    pub model: Option<String>,
    pub readings: Vec<Reading>,
}

/// A reading that was dropped as bogus, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Ignored {
    pub chip: String,
    pub key: String,
    pub label: String,
    pub value: f64,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Sensors {
    pub chips: Vec<Chip>,
    pub ignored: Vec<Ignored>,
}

impl Sensors {
    pub fn readings(&self, kind: Kind) -> impl Iterator<Item = (&Chip, &Reading)> {
        self.chips
            .iter()
            .flat_map(move |c| c.readings.iter().filter(move |r| r.kind == kind).map(move |r| (c, r)))
    }
}

/// Whether a temperature stands for the CPU package (Intel coretemp `Package id N`, AMD `Tctl`/`Tdie`).
pub fn is_cpu_package(chip: &Chip, r: &Reading) -> bool {
    r.kind == Kind::Temp
        && (matches!(chip.name.as_str(), "coretemp") && r.label.starts_with("Package")
            || matches!(chip.name.as_str(), "k10temp" | "zenpower")
                && matches!(r.label.as_str(), "Tctl" | "Tdie"))
}
