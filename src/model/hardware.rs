//! What the hardware worker publishes: hwmon sensors, IPMI sensors and event log, temperature series
//! keys, and the static inventory (CPU, DMI, memory modules, PCI devices), each a [`Section`].

use serde::Serialize;

use super::dmi::{Cpu, Dmi, Memory, PciDevice};
use super::ipmi::{SelEntry, SensorList};
use super::section::Section;
use super::sensors::Sensors;

/// A temperature history key the page can ask `/api/history` for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TempSeries {
    pub key: String,
    pub chip: String,
    pub label: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HardwareSnapshot {
    /// hwmon temperatures, fans, voltages, power, currents.
    pub sensors: Section<Sensors>,
    /// `ipmitool sensor`.
    pub ipmi: Section<SensorList>,
    /// `ipmitool sel elist`, oldest first.
    pub sel: Section<Vec<SelEntry>>,
    pub temp_series: Vec<TempSeries>,
    pub cpu: Section<Cpu>,
    pub system: Section<Dmi>,
    pub memory: Section<Memory>,
    pub pci: Section<Vec<PciDevice>>,
}
