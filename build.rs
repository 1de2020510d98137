//! Builds the web UI (`web/` -> `web/dist`) so that `cargo build` alone yields a binary with the
//! dashboard embedded. It runs npm only when a web source is newer than the last build, so clippy,
//! tests and release builds in the same checkout do not rebuild it. `PROXWATCH_SKIP_WEB_BUILD=1`
//! uses an existing `web/dist` as it is.

// build.rs is outside the program; the one-door rule (clippy.toml) is for src/.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const SOURCES: &[&str] = &[
    "web/src",
    "web/public",
    "web/index.html",
    "web/package.json",
    "web/package-lock.json",
    "web/vite.config.ts",
    "web/tsconfig.json",
    "web/svelte.config.js",
];

fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_dir() {
        std::fs::read_dir(path).ok()?.filter_map(|e| e.ok()).filter_map(|e| newest(&e.path())).max()
    } else {
        meta.modified().ok()
    }
}

fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("{what}: cannot run it ({e}); install Node.js and npm, or set PROXWATCH_SKIP_WEB_BUILD=1 with a prebuilt web/dist")
    });
    assert!(status.success(), "{what} failed with {status}");
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    println!("cargo:rerun-if-changed=web/dist/index.html");
    println!("cargo:rerun-if-env-changed=PROXWATCH_SKIP_WEB_BUILD");
    let web = root.join("web");
    let dist_index = web.join("dist/index.html");
    let built = newest(&dist_index);
    if std::env::var_os("PROXWATCH_SKIP_WEB_BUILD").is_some() && built.is_some() {
        return;
    }
    if !web.join("package.json").exists() {
        // A source tree without the UI: embed a placeholder page rather than fail.
        std::fs::create_dir_all(web.join("dist")).ok();
        if built.is_none() {
            std::fs::write(&dist_index, "<!doctype html><title>proxwatch</title><p>UI not built.</p>\n").ok();
        }
        return;
    }
    let sources = SOURCES.iter().filter_map(|s| newest(&root.join(s))).max();
    if let (Some(b), Some(s)) = (built, sources) {
        if b >= s {
            return;
        }
    }
    let lock_stamp = web.join("node_modules/.package-lock.json");
    if newest(&lock_stamp) < newest(&web.join("package-lock.json")) {
        run(
            Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&web),
            "npm ci",
        );
    }
    run(Command::new("npm").args(["run", "build", "--silent"]).current_dir(&web), "npm run build (web UI)");
}
