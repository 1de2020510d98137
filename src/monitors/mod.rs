//! Service monitors (issue 18): is what runs inside the guests actually up?
//!
//! Each part is tested with the clock passed in:
//! - [`spec`]: a monitor definition checked field by field (a 400 names the field);
//! - [`demo`]: the demo's monitors and their past;
//! - [`maintenance`]: one-off and weekly maintenance windows, per monitor, per guest or global;
//! - [`state`]: retries, degraded, down and recovered, maintenance and a stopped guest, and flap
//!   suppression, turning each check's outcome into the monitor's status and its transitions;
//! - [`probe`]: the checks (TCP, HTTP(S), ICMP, DNS), each ending in an outcome, never an error;
//! - [`runner`]: one check start to end (probe, state, the check kept in memory, incident and events
//!   written when the state changed, the published state); the closed buckets written; the uptime
//!   tallies;
//! - [`schedule`]: when each monitor is checked: spread over its interval, no drift, a bounded pool;
//! - [`store`]: the tables (definitions; 10-minute buckets, time-major, with their rollup for 90
//!   days and their checks for 24 h; incidents with an operator's note; events; maintenance windows);
//! - [`uptime`]: 10-minute rollups of the results (up-ratio, latency average and p95) and the uptime
//!   percentages of 24 h / 7 d / 30 d / 90 d computed from them.
//!
//! - [`suggest`]: suggested monitors from the inventory (a ping per guest with a known address, web
//!   ports on one guest when the admin asks);
//! - [`worker`]: the loop in production (the schedule over the runner, planned again on each change,
//!   the rollups every 10 minutes) and [`worker::Monitors`], the handle the API, the health cycle, the
//!   notification engine and the metrics share.
//!
//! The notification engine reads the `monitor_events` table past its cursor
//! (`notify/sources/monitors.rs`); the health cycle reads the published states.

pub mod demo;
pub mod maintenance;
pub mod probe;
pub mod runner;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod store;
pub mod suggest;
pub mod uptime;
pub mod worker;
