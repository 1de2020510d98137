//! Builds the web UI (`web/` -> `web/dist`) so that `cargo build` alone yields a binary with the
//! dashboard embedded. It runs npm only when a web source is newer than the last build, so clippy,
//! tests and release builds in the same checkout do not rebuild it. `PROXWATCH_SKIP_WEB_BUILD=1`
//! uses an existing `web/dist` as it is.
//!
//! It also packs the demo scenario (`scenarios/demo`, without its generators) into one gzipped tar
//! in `OUT_DIR`, which `src/host/replay.rs` embeds: ~0.15 MB in the binary instead of ~0.95 MB of
//! files, and extracting it touches only those pages, so the demo's resident memory does not carry
//! the scenario's text after the first start (the bench's idle RSS, issue 13).

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

/// Every file of the scenario folder the replay reads, sorted, as (path relative to `dir`, path).
fn scenario_files(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let path = e.path();
        let rel = rel.join(&name);
        if path.is_dir() {
            scenario_files(&path, &rel, out);
        } else {
            // The generators and the story stay in the repository; only what the replay reads ships.
            let n = name.to_string_lossy();
            if n.ends_with(".py") || n == "README.md" {
                continue;
            }
            out.push((rel, path));
        }
    }
}

/// Packs `scenarios/demo` into `$OUT_DIR/demo.tar.gz` (reproducible: sorted, mtime 0, mode 0644)
/// and exports its SHA-256 as `PROXWATCH_DEMO_SHA256` (the extraction marker names it).
fn pack_demo(root: &Path) {
    use sha2::{Digest, Sha256};
    let src = root.join("scenarios/demo");
    println!("cargo:rerun-if-changed=scenarios/demo");
    let mut files = Vec::new();
    scenario_files(&src, Path::new(""), &mut files);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for (rel, path) in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, rel, data.as_slice())
            .unwrap_or_else(|e| panic!("packing {}: {e}", path.display()));
    }
    let blob =
        tar.into_inner().and_then(|gz| gz.finish()).unwrap_or_else(|e| panic!("packing the demo: {e}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| panic!("OUT_DIR is not set")));
    std::fs::write(out.join("demo.tar.gz"), &blob).unwrap_or_else(|e| panic!("writing demo.tar.gz: {e}"));
    let digest: String = Sha256::digest(&blob).iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=PROXWATCH_DEMO_SHA256={digest}");
}

/// Gzips the committed OpenAPI description (`src/api/openapi.json`, ~0.5 MB of pretty JSON) into
/// `$OUT_DIR/openapi.json.gz`, which `src/api/openapi.rs` embeds and serves as it is (~35 KB).
fn pack_openapi(root: &Path) {
    use std::io::Write;
    let src = root.join("src/api/openapi.json");
    println!("cargo:rerun-if-changed=src/api/openapi.json");
    let text = std::fs::read(&src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(&text).unwrap_or_else(|e| panic!("packing openapi.json: {e}"));
    let blob = gz.finish().unwrap_or_else(|e| panic!("packing openapi.json: {e}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| panic!("OUT_DIR is not set")));
    std::fs::write(out.join("openapi.json.gz"), &blob)
        .unwrap_or_else(|e| panic!("writing openapi.json.gz: {e}"));
}

/// `PROXWATCH_GIT_REVISION`: the checkout's commit (12 hex digits) for `/api/about`, read from
/// `.git` itself (no git needed); "unknown" outside a checkout. Rebuilt when HEAD moves.
fn git_revision(root: &Path) {
    let git = root.join(".git");
    let head_path = git.join("HEAD");
    println!("cargo:rerun-if-changed={}", head_path.display());
    let head = std::fs::read_to_string(&head_path).unwrap_or_default();
    let head = head.trim();
    let rev = match head.strip_prefix("ref: ") {
        Some(r) => {
            let ref_path = git.join(r);
            println!("cargo:rerun-if-changed={}", ref_path.display());
            std::fs::read_to_string(&ref_path).ok().or_else(|| {
                // A packed ref (a fresh clone).
                let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
                packed
                    .lines()
                    .find(|l| l.ends_with(&format!(" {r}")))
                    .map(|l| l[..40.min(l.len())].to_string())
            })
        }
        None => Some(head.to_string()),
    };
    let rev = rev
        .map(|r| r.trim().chars().take(12).collect::<String>())
        .filter(|r| r.len() == 12 && r.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PROXWATCH_GIT_REVISION={rev}");
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    pack_demo(&root);
    pack_openapi(&root);
    git_revision(&root);
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
