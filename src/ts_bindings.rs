//! The TypeScript types of the API's JSON, generated from the Rust types the API serializes (issue 12).
//!
//! The types derive `ts_rs::TS` in test builds only (`#[cfg_attr(test, derive(ts_rs::TS))]`), so the
//! shipped binary is unchanged. [`bindings`] renders every type reachable from the roots listed here
//! (and in `api::ts_types`) into one `.ts` file each; the test below fails when a committed file in
//! `web/src/lib/gen/` differs, is missing or is left over. `UPDATE_TS=1 cargo test --lib ts_bindings`
//! writes them instead.

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS, TypeVisitor};

/// Where the generated files live, relative to the crate root.
const GEN_DIR: &str = "web/src/lib/gen";

/// The rendered files, by path relative to [`GEN_DIR`].
struct Bindings {
    cfg: Config,
    seen: HashSet<TypeId>,
    files: BTreeMap<PathBuf, String>,
}

impl Bindings {
    fn new() -> Self {
        // The JSON carries 64-bit integers as plain numbers (all well below 2^53), so they are
        // `number`, not ts-rs's default `bigint`.
        let cfg = Config::new().with_large_int("number");
        Bindings { cfg, seen: HashSet::new(), files: BTreeMap::new() }
    }

    /// Renders `T` and, recursively, every exportable type it refers to.
    fn add<T: TS + ?Sized + 'static>(&mut self) {
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let Some(path) = T::output_path() else { return };
        let text = T::export_to_string(&self.cfg)
            .unwrap_or_else(|e| panic!("rendering {}: {e}", std::any::type_name::<T>()));
        if let Some(old) = self.files.insert(path.clone(), text.clone()) {
            // A generic type is visited once per instantiation; its declaration is the same.
            assert_eq!(old, text, "two types render to {}: give one a #[ts(rename)]", path.display());
        }
        T::visit_dependencies(self);
    }
}

impl TypeVisitor for Bindings {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        self.add::<T>();
    }
}

/// Every generated file: the snapshot and domain types the API serializes, and the API's views.
pub(crate) fn bindings() -> BTreeMap<PathBuf, String> {
    use crate::model;
    let mut b = Bindings::new();
    b.add::<model::section::SectionState>();
    b.add::<model::Sample>();
    b.add::<model::Identity>();
    b.add::<model::ProcessSnapshot>();
    b.add::<model::hardware::TempSeries>();
    b.add::<model::network::Interface>();
    b.add::<model::network::BridgeNode>();
    b.add::<model::network::Gateway>();
    b.add::<model::ups::UpsSnapshot>();
    b.add::<model::gpu::GpuSnapshot>();
    b.add::<model::zfs::PoolStatus>();
    b.add::<model::smart::Reading>();
    b.add::<model::pve::NodeStorage>();
    b.add::<model::pve::ReplicationJob>();
    b.add::<model::pve::ClusterLogEntry>();
    b.add::<model::wear::Forecast>();
    b.add::<model::wear::GuestWrites>();
    b.add::<crate::history::Series>();
    crate::api::ts_types(&mut b);
    b.files
}

mod tests {
    use super::*;

    fn gen_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(GEN_DIR)
    }

    /// The `.ts` files under `dir`, relative to it.
    fn committed(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir.join(rel)) else { return };
        for e in entries.flatten() {
            let rel = rel.join(e.file_name());
            if e.path().is_dir() {
                committed(dir, &rel, out);
            } else if rel.extension().is_some_and(|x| x == "ts") {
                out.push(rel);
            }
        }
    }

    #[test]
    // The test reads (and on request writes) the repository's own web/src/lib/gen/, not the host's files.
    #[allow(clippy::disallowed_methods)]
    fn ts_bindings_match_the_committed_files() {
        let files = bindings();
        let dir = gen_dir();
        let mut on_disk = Vec::new();
        committed(&dir, Path::new(""), &mut on_disk);
        if std::env::var("UPDATE_TS").is_ok_and(|v| v == "1") {
            for rel in on_disk.iter().filter(|p| !files.contains_key(*p)) {
                std::fs::remove_file(dir.join(rel)).expect("removing a stale binding");
            }
            for (rel, text) in &files {
                let path = dir.join(rel);
                std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
                std::fs::write(&path, text).expect("writing a binding");
            }
            return;
        }
        let mut problems = Vec::new();
        for (rel, text) in &files {
            match std::fs::read_to_string(dir.join(rel)) {
                Ok(old) if old == *text => {}
                Ok(_) => problems.push(format!("{} differs", rel.display())),
                Err(_) => problems.push(format!("{} is missing", rel.display())),
            }
        }
        for rel in on_disk.iter().filter(|p| !files.contains_key(*p)) {
            problems.push(format!("{} is not generated by any type", rel.display()));
        }
        assert!(
            problems.is_empty(),
            "{GEN_DIR}/ is out of date with the Rust types:\n  {}\nRegenerate it with \
             `UPDATE_TS=1 cargo test --lib ts_bindings` and commit the result.",
            problems.join("\n  ")
        );
    }

    #[test]
    // The test reads (and on request writes) the repository's own src/api/openapi.json.
    #[allow(clippy::disallowed_methods)]
    fn openapi_json_matches_the_committed_file() {
        let text = serde_json::to_string_pretty(&crate::api::openapi::document()).expect("json") + "\n";
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/openapi.json");
        if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &text).expect("writing openapi.json");
            return;
        }
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            old == text,
            "src/api/openapi.json is out of date with the code; regenerate it with \
             `UPDATE_OPENAPI=1 cargo test --lib openapi` and commit the result"
        );
    }
}
