//! `GET /api/hardware` (static inventory + live readings + UPS + GPU) and `GET /api/hardware/live`
//! (the cheap part the page polls: hwmon sensors, IPMI sensor states and SEL, UPS, GPU). Both serve the
//! hardware, UPS and GPU workers' snapshots; nothing here touches the host.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::ApiState;
use super::{READ, Routes, json};
use crate::error::ApiError;
use crate::model::dmi::{Cpu, Dmi, Memory, PciDevice};
use crate::model::gpu::GpuSnapshot;
use crate::model::hardware::TempSeries;
use crate::model::ipmi::{SelEntry, SensorList};
use crate::model::section::Section;
use crate::model::sensors::Sensors;
use crate::model::ups::UpsSnapshot;

pub fn routes() -> Routes {
    Routes::new().get("/hardware", READ, hardware).get("/hardware/live", READ, live)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HardwareLive"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HardwareLive"))]
struct Live<'a> {
    sensors: &'a Section<Sensors>,
    ipmi: &'a Section<SensorList>,
    sel: &'a Section<Vec<SelEntry>>,
    temp_series: &'a [TempSeries],
    ups: &'a UpsSnapshot,
    gpu: &'a GpuSnapshot,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "HardwareFull"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HardwareFull"))]
struct Full<'a> {
    #[serde(flatten)]
    live: Live<'a>,
    cpu: &'a Section<Cpu>,
    system: &'a Section<Dmi>,
    memory: &'a Section<Memory>,
    pci: &'a Section<Vec<PciDevice>>,
}

async fn hardware(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let hw = app.hardware.borrow().clone();
    let ups = app.ups.borrow().clone();
    let gpu = app.gpu.borrow().clone();
    json(&Full {
        live: Live {
            sensors: &hw.sensors,
            ipmi: &hw.ipmi,
            sel: &hw.sel,
            temp_series: &hw.temp_series,
            ups: &ups,
            gpu: &gpu,
        },
        cpu: &hw.cpu,
        system: &hw.system,
        memory: &hw.memory,
        pci: &hw.pci,
    })
}

async fn live(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let hw = app.hardware.borrow().clone();
    let ups = app.ups.borrow().clone();
    let gpu = app.gpu.borrow().clone();
    json(&Live {
        sensors: &hw.sensors,
        ipmi: &hw.ipmi,
        sel: &hw.sel,
        temp_series: &hw.temp_series,
        ups: &ups,
        gpu: &gpu,
    })
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<Live<'static>>();
    v.visit::<Full<'static>>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/hardware", "The hardware: CPU, board, memory, PCI, sensors, IPMI, UPS and GPU")
        .about(
            "The static inventory (DMI, PCI) plus everything `/api/hardware/live` serves, from the \
             hardware, UPS and GPU workers' snapshots.",
        )
        .ok(out::<Full<'static>>());
    d.get("/hardware/live", "The live hardware readings: sensors, IPMI, SEL, UPS and GPU")
        .about("The cheap part of `/api/hardware` that the page polls.")
        .ok(out::<Live<'static>>());
}
