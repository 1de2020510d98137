//! proxwatch: a monitoring appliance for one Proxmox VE host.
//!
//! Module map (see `DESIGN.md` in the shared folder for the whole picture):
//! - [`cli`]: the command line (serve, demo, check-config, print-config, healthcheck, record-scenario).
//! - [`config`]: typed configuration, defaults <- file <- `PROXWATCH_*` env <- flags.
//! - [`app`]: shared state, the router, and the run loop (workers + HTTP + graceful stop).
//! - [`host`]: the only code that spawns processes or reads `/proc`, `/sys`, `/etc` (live or replayed).
//! - [`tools`]: pure parsers of host tool output and kernel files.
//! - [`model`]: serde types served by the API.
//! - [`workers`]: background loops (vitals sampler, history flush, retention), each steppable.
//! - [`disks`]: each physical disk's pool membership (vdev names resolved to disks) and its verdict.
//! - [`history`]: in-memory live ring plus SQLite rollups (1 min, 10 min, 1 h).
//! - [`db`]: the SQLite connection and its append-only migrations.
//! - [`api`]: thin axum routers per domain under `/api`.
//! - [`server`]: the accept loop (HTTP and HTTPS) with header, body and idle timeouts and connection caps.
//! - [`terminal`]: the root terminal, PTY sessions bridged to a websocket.
//! - [`web`]: the embedded single-page app.
//! - [`error`]: `ApiError`, the only HTTP-facing error.

pub mod api;
pub mod app;
pub mod auth;
pub mod civil;
pub mod cli;
pub mod config;
pub mod db;
pub mod disks;
pub mod error;
pub mod health;
pub mod history;
pub mod host;
pub mod model;
pub mod series;
pub mod server;
pub mod terminal;
pub mod tls;
pub mod tools;
pub mod wear;
pub mod web;
pub mod workers;

/// The version string reported by the API and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
