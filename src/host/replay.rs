//! Replay scenarios: a folder with `manifest.toml` mapping each argv to a recorded stdout file, exit
//! code and stderr, plus optional `proc/`, `sys/` and `etc/` trees (DESIGN.md §4). An argv the scenario
//! lacks is an error naming the argv, so tests fail loudly instead of silently seeing "no data".

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::{Output, ToolError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    scenario: Header,
    #[serde(default)]
    command: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    #[serde(default)]
    description: String,
    /// When the recording was made (unix s): the demo moves every timestamp by now − this.
    #[serde(default)]
    recorded_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    argv: Vec<String>,
    stdout: Option<String>,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    exit: i32,
    #[serde(default)]
    missing: bool,
}

#[derive(Debug, Clone)]
struct Recorded {
    stdout: Option<PathBuf>,
    stderr: String,
    exit: i32,
    missing: bool,
}

/// A loaded scenario. Command outputs are read from disk when asked for.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub dir: PathBuf,
    commands: HashMap<Vec<String>, Recorded>,
    recorded_at: Option<i64>,
    /// Seconds added to the recorded timestamps (see [`Scenario::shift_to`]).
    shift_s: i64,
    /// When the demo started (unix s): answers move with the clock from then (see
    /// [`Scenario::animate_from`]).
    animated_since: Option<i64>,
}

impl Scenario {
    /// Loads `dir/manifest.toml`, checking that every referenced stdout file exists.
    pub fn load(dir: &Path) -> anyhow::Result<Scenario> {
        let path = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).with_context(|| format!("parsing scenario manifest {}", path.display()))?;
        let mut commands = HashMap::new();
        for e in manifest.command {
            if e.argv.is_empty() {
                bail!("{}: a [[command]] has an empty argv", path.display());
            }
            let stdout = match e.stdout {
                Some(rel) => {
                    let p = dir.join(&rel);
                    if !p.is_file() {
                        bail!(
                            "{}: argv {:?} names stdout file {rel}, which does not exist",
                            path.display(),
                            e.argv
                        );
                    }
                    Some(p)
                }
                None => None,
            };
            let rec = Recorded { stdout, stderr: e.stderr, exit: e.exit, missing: e.missing };
            if commands.insert(e.argv.clone(), rec).is_some() {
                bail!("{}: argv {:?} is recorded twice", path.display(), e.argv);
            }
        }
        Ok(Scenario {
            name: manifest.scenario.name,
            description: manifest.scenario.description,
            dir: dir.to_path_buf(),
            commands,
            recorded_at: manifest.scenario.recorded_at,
            shift_s: 0,
            animated_since: None,
        })
    }

    /// Makes the recording look made at `now_s`: its timestamps are moved forward by whole minutes
    /// (a scenario without `recorded_at` is left as it is). Returns the shift in seconds.
    pub fn shift_to(&mut self, now_s: i64) -> i64 {
        self.shift_s = self.recorded_at.map_or(0, |at| (now_s - at).div_euclid(60) * 60);
        self.shift_s
    }

    /// How far the recording's timestamps are moved (seconds; 0 unless the demo shifted it).
    pub fn shift_s(&self) -> i64 {
        self.shift_s
    }

    /// When the recording appears to have been made (unix s): `recorded_at` moved by the shift.
    pub fn presented_at(&self) -> Option<i64> {
        self.recorded_at.map(|at| at + self.shift_s)
    }

    /// Keeps the host moving from `now_s` on: guests' counters and uptime grow, RRD series stay
    /// current (`super::animate`; the demo only).
    pub fn animate_from(&mut self, now_s: i64) {
        self.animated_since = Some(now_s);
    }

    /// A recorded file as the demo shows it: `.rrd` kept moving like the guest lists; anything else
    /// as recorded.
    pub fn animate_file(&self, path: &str, text: String) -> String {
        match self.animated_since {
            // `tools::pmxcfs::RRD` (the host sits below the parsers).
            Some(since) if path == "/etc/pve/.rrd" => {
                let now_s = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                super::animate::rrd_dump(&text, now_s - since).unwrap_or(text)
            }
            _ => text,
        }
    }

    /// Answers a command from the recording.
    pub fn answer(&self, argv: &[&str]) -> Result<Output, ToolError> {
        let key: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let Some(rec) = self.commands.get(&key) else {
            tracing::error!(scenario = %self.name, ?argv, "replay scenario has no recording for this argv");
            return Err(ToolError::Unrecorded { scenario: self.name.clone(), argv: key });
        };
        if rec.missing {
            return Err(ToolError::Missing { what: argv[0].to_string() });
        }
        let stdout = match &rec.stdout {
            Some(p) => std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| ToolError::Io { path: p.display().to_string(), source: e })?,
            None => String::new(),
        };
        let mut stdout =
            if self.shift_s != 0 { super::timeshift::shift(&stdout, self.shift_s) } else { stdout };
        if let Some(since) = self.animated_since {
            // The demo's own clock: moving answers are what it is for (tests never animate).
            let now_s = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            if let Some(moved) = super::animate::animate(argv, &stdout, now_s, now_s - since) {
                stdout = moved;
            }
        }
        Ok(Output { code: rec.exit, stdout, stderr: rec.stderr.clone() })
    }

    /// Whether the scenario recorded `argv` (a `missing = true` entry counts: it is an answer).
    pub fn records(&self, argv: &[&str]) -> bool {
        self.commands.keys().any(|k| k.iter().map(String::as_str).eq(argv.iter().copied()))
    }

    pub fn argvs(&self) -> impl Iterator<Item = &Vec<String>> {
        self.commands.keys()
    }
}

/// The demo scenario, embedded in the binary so `proxwatch demo` works on any Linux machine:
/// `scenarios/demo` without its generators and story, packed by `build.rs` into one gzipped tar.
/// Compressed, it is a sixth of the files' size, and extracting it touches only those pages of the
/// binary (the demo's idle RSS does not carry ~0.9 MB of scenario text after the first start).
static DEMO_TAR_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/demo.tar.gz"));
/// SHA-256 of [`DEMO_TAR_GZ`], computed by `build.rs`.
const DEMO_SHA256: &str = env!("PROXWATCH_DEMO_SHA256");

/// Makes sure `dest` holds the embedded demo scenario of this build: a restart of the demo on the
/// same data dir finds it already there (the marker names the archive's digest) and skips writing
/// the ~850 files again.
pub fn extract_demo_cached(dest: &Path) -> anyhow::Result<()> {
    let marker = dest.join(format!(".extracted-{}", &DEMO_SHA256[..24]));
    if marker.is_file() {
        return Ok(());
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).with_context(|| format!("removing the old {}", dest.display()))?;
    }
    extract_demo(dest)?;
    std::fs::write(&marker, b"").with_context(|| format!("writing {}", marker.display()))?;
    Ok(())
}

/// Writes the embedded demo scenario into `dest` (created if missing).
pub fn extract_demo(dest: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(DEMO_TAR_GZ));
    // Written now, as a copy of the files would be (the archive's mtimes are 0 for a reproducible build).
    archive.set_preserve_mtime(false);
    archive.unpack(dest).with_context(|| format!("extracting the demo scenario into {}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_scenario(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("commands")).unwrap();
        std::fs::write(
            dir.path().join("commands/pveversion.txt"),
            "pve-manager/8.2.4/x (running kernel: 6.8)\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
        dir
    }

    #[test]
    fn answers_recorded_argv_and_fails_loudly_on_others() {
        let dir = write_scenario(
            r#"
[scenario]
name = "t"
[[command]]
argv = ["pveversion"]
stdout = "commands/pveversion.txt"
[[command]]
argv = ["smartctl", "-a", "/dev/sda"]
stderr = "boom"
exit = 2
[[command]]
argv = ["ipmitool", "sensor"]
missing = true
"#,
        );
        let s = Scenario::load(dir.path()).unwrap();
        let out = s.answer(&["pveversion"]).unwrap();
        assert!(out.stdout.starts_with("pve-manager/8.2.4"));
        let out = s.answer(&["smartctl", "-a", "/dev/sda"]).unwrap();
        assert_eq!((out.code, out.stderr.as_str(), out.stdout.as_str()), (2, "boom", ""));
        assert!(s.answer(&["ipmitool", "sensor"]).unwrap_err().is_missing());
        let err = s.answer(&["pveversion", "-v"]).unwrap_err();
        assert!(err.to_string().contains(r#"["pveversion", "-v"]"#), "{err}");
    }

    #[test]
    fn rejects_manifest_naming_missing_files_or_unknown_keys() {
        let dir = write_scenario("[scenario]\nname='t'\n[[command]]\nargv=['x']\nstdout='commands/nope'\n");
        let err = format!("{:#}", Scenario::load(dir.path()).unwrap_err());
        assert!(err.contains("commands/nope"), "{err}");
        let dir = write_scenario("[scenario]\nname='t'\n[[command]]\nargv=['x']\nstdin='y'\n");
        let err = format!("{:#}", Scenario::load(dir.path()).unwrap_err());
        assert!(err.contains("stdin"), "{err}");
    }
}
