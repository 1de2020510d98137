//! The floor plan, checked: a module imports only from floors below it (or its own floor's
//! siblings one way), never from a floor above, and no two modules import each other. Read from
//! the source files' `crate::…` paths (comments left out), so it needs no build of the crate's
//! internals and fails with the file that broke the rule.
//!
//! The floors, bottom to top, are the ones `src/lib.rs` and `docs/architecture.md` describe.
//! `KNOWN` lists the upward imports allowed anyway (none today): the test fails when a new
//! one appears, and also when a listed one is gone, so the list only ever shrinks.

// A test: a missing file or folder is a failure to report, not a case to handle.
#![allow(clippy::unwrap_used)]
// It reads the source files themselves, not the host's: clippy.toml's one-door bans are for the product.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom first. Modules on one floor may import each other one way (never both ways).
const FLOORS: &[&[&str]] = &[
    &["model", "civil", "error", "config"],
    &["db", "host", "httpc"],
    &["tools"],
    &["history", "series", "wear", "record", "backup", "settings"],
    &["workers", "monitors"],
    &["health"],
    &["disks", "overview"],
    &["auth"],
    &["notify", "metrics", "mqtt", "pveconn", "fleet", "agents"],
    &["api", "terminal", "web", "server", "tls"],
    &["app"],
    &["cli", "doctor", "main", "lib", "ts_bindings"],
];

/// Upward imports that exist today, `(from, to)`, each with the reason it is still here. None: the
/// list stays for a future exception, which must come with its argument.
const KNOWN: &[(&str, &str)] = &[];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// The top-level module a file under `src/` belongs to.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// Code without `//` comments (doc comments name modules in prose) and without the unit tests at
/// the end of a file (a test may check a module's output with a parser from a floor above).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The crate-level modules a source text refers to: `crate::x::…` and `use crate::{x, y}`.
fn refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each top-level item: `{host::{Host, X}, tools::y}` -> host, tools.
            let (mut depth, mut start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            out.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_import_only_from_floors_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    // (from, to) -> the files that make the edge.
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let from = module_of(rel);
        for to in refs(&code(&std::fs::read_to_string(f).unwrap())) {
            if to != from && floor_of(&to).is_some() {
                edges.entry((from.clone(), to)).or_default().push(rel.display().to_string());
            }
        }
    }
    let mut bad = Vec::new();
    for ((from, to), by) in &edges {
        let (Some(a), Some(b)) = (floor_of(from), floor_of(to)) else {
            bad.push(format!("{from} is on no floor: add it to FLOORS (imported from {by:?})"));
            continue;
        };
        let up = b > a;
        let mutual = a == b && edges.contains_key(&(to.clone(), from.clone()));
        if (up || mutual) && !KNOWN.contains(&(from.as_str(), to.as_str())) {
            let why = if up { "a floor above" } else { "a module that imports it back" };
            bad.push(format!("{from} imports {to}, {why}, in {}", by.join(", ")));
        }
    }
    for (from, to) in KNOWN {
        if !edges.contains_key(&(from.to_string(), to.to_string())) {
            bad.push(format!("{from} -> {to} is gone: remove it from KNOWN"));
        }
    }
    for f in &files {
        let m = module_of(f.strip_prefix(&src).unwrap());
        if floor_of(&m).is_none() {
            bad.push(format!("src/{m} is on no floor: add it to FLOORS"));
        }
    }
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "layering:\n{}", bad.join("\n"));
}

#[test]
fn refs_reads_paths_and_groups() {
    let r = refs("use crate::{host::Host, tools::zpool};\nlet x = crate::model::Sample::default();");
    assert_eq!(r.into_iter().collect::<Vec<_>>(), ["host", "model", "tools"]);
    let nested =
        refs("use crate::{\n    host::{Host, ToolError},\n    tools::{nut, zpool::Vdev},\n    wear,\n};");
    assert_eq!(nested.into_iter().collect::<Vec<_>>(), ["host", "tools", "wear"]);
    assert!(refs(&code("/// see [`crate::app`]\nfn f() {}")).is_empty());
    assert!(refs(&code("fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::api;\n}")).is_empty());
}

/// Health rules judge the published snapshots: they import the domain types from `model/` (and
/// their own `health` types, the thresholds from `config`, dates from `civil`), never a parser in
/// `tools/` or a worker that produced the data.
#[test]
fn health_rules_import_only_model() {
    const ALLOWED: &[&str] = &["model", "civil", "config", "health"];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src.join("health/rules"), &mut files);
    files.push(src.join("health/model.rs"));
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().display().to_string();
        for to in refs(&code(&std::fs::read_to_string(f).unwrap())) {
            if !ALLOWED.contains(&to.as_str()) {
                bad.push(format!("{rel} imports crate::{to}"));
            }
        }
    }
    assert!(bad.is_empty(), "health rules read only model/ types:\n{}", bad.join("\n"));
}
