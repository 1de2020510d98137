//! The one integration-test binary: API tests in-process over replay scenarios, workers through
//! `step()`, parsers over recorded kernel files, and the CLI as a real process.

// Test helpers outside #[test] functions may unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests read fixtures, run peers and spawn helpers directly; clippy.toml's one-door bans are for the
// product.
#![allow(clippy::disallowed_methods)]

mod access;
mod agents;
mod api;
mod auth;
mod cli;
mod common;
mod connections;
mod demo;
mod fleet;
mod guests_history;
mod hardware;
mod health;
mod health_rules;
mod httpc;
mod integrations;
mod inventory;
mod kernel_files;
mod logs;
mod metrics;
mod monitors;
mod mqtt;
mod network;
mod notify;
mod notify_crash;
mod notify_email;
mod overview;
mod prometheus;
mod proxy;
mod pveapi;
mod settings;
mod terminal;
mod ups;
