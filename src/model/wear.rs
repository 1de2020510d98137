//! SSD endurance as `wear` forecasts it from the daily SMART readings, and what each guest wrote.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Forecast {
    /// Terabytes (10^12 bytes) written per day over the window.
    pub tb_written_per_day: Option<f64>,
    /// Wear percentage points per day.
    pub wear_pct_per_day: Option<f64>,
    /// Unix seconds at which the wear trend reaches 100 %; `None` when wear does not grow.
    pub projected_wear_out: Option<i64>,
    /// What the projection rests on, in words.
    pub basis: String,
    pub days_of_data: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GuestWrites {
    pub vmid: u64,
    pub bytes_7d: u64,
    pub bytes_30d: u64,
}
