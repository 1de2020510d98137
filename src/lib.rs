//! proxwatch: a monitoring appliance for one Proxmox VE host.
//!
//! Module map (see `docs/architecture.md` for the as-built data flow). The floors, bottom to top;
//! a module imports only from floors below it (`tests/layers.rs` checks it and lists the imports
//! that still point up):
//! 1. [`model`] (snapshot and domain types, one file per domain: what the workers publish and the
//!    parsed tool output it embeds; `tools` and `workers` re-export them), [`civil`] (calendar
//!    arithmetic), [`error`] (`ApiError`, the only HTTP-facing error), [`config`] (typed
//!    configuration: defaults <- file <- env <- flags).
//! 2. [`db`] (the SQLite connection and its append-only migrations), [`host`] (the only code that
//!    spawns processes or reads `/proc`, `/sys`, `/etc`, `/dev`: live, replayed, or the demo),
//!    [`httpc`] (the outgoing HTTP client: one bounded request per connection over hyper and rustls).
//! 3. [`tools`]: pure parsers of host tool output and kernel files, and their argv.
//! 4. [`history`] (live ring plus SQLite rollups), [`series`], [`wear`] (SSD endurance forecast),
//!    [`record`] (`record-scenario`: the argv list and kernel files a scenario holds), [`backup`]
//!    (`backup` / `restore`: the database and the key in one archive), [`settings`] (the Settings
//!    page's layer of the configuration, stored in the database).
//! 5. [`workers`]: background loops (sampler, inventory, network, hardware, UPS, GPU, journal), each
//!    steppable; [`monitors`]: the service monitors' core (definitions, maintenance windows, states
//!    with flap suppression, uptime rollups).
//! 6. [`health`]: the ten categories of rules, the cycle, findings and their events outbox.
//! 7. [`disks`]: each physical disk's pool membership and its verdict; [`overview`]: the Overview's
//!    summary (the worst findings, the summary cards, what changed), built from the snapshots.
//! 8. [`auth`]: users, sessions, tokens, rate limits, the auth log.
//! 9. [`notify`]: the notification engine (events, routing, the per-channel outbox, channels, AI);
//!    [`metrics`]: the Prometheus exposition, rendered from the workers' snapshots; [`mqtt`]: Home
//!    Assistant's MQTT discovery and states; [`pveconn`]: the connect step to the PVE API (the
//!    `proxwatch@pve` token, made with `pveum`, stored sealed, loaded into the shared link).
//! 10. [`api`] (axum routers per domain under `/api`), [`terminal`] (PTY over a websocket), [`web`]
//!     (the embedded SPA), [`server`] (the accept loop with its timeouts and caps), [`tls`].
//! 11. [`app`]: the composition root (shared state, the router, workers + HTTP + graceful stop).
//! 12. [`cli`], [`doctor`] (`proxwatch doctor`: this host checked for what proxwatch needs) and `main`
//!     (and, in test builds, `ts_bindings`: the TypeScript types for the web).

pub mod agents;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod civil;
pub mod cli;
pub mod config;
pub mod db;
pub mod disks;
pub mod doctor;
pub mod error;
pub mod fleet;
pub mod health;
pub mod history;
pub mod host;
pub mod httpc;
pub mod metrics;
pub mod model;
pub mod monitors;
pub mod mqtt;
pub mod notify;
pub mod overview;
pub mod pveconn;
pub mod record;
pub mod series;
pub mod server;
pub mod settings;
pub mod terminal;
pub mod tls;
pub mod tools;
#[cfg(test)]
mod ts_bindings;
pub mod wear;
pub mod web;
pub mod workers;

/// The version string reported by the API and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
