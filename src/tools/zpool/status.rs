//! The text form of `zpool status`, one or more pools one after another: the `pool:`/`state:`/
//! `status:`/`action:`/`see:`/`scan:` headers, the `config:` table (indentation gives the vdev tree)
//! and the `errors:` lines. The layout follows `print_status_config()` in OpenZFS's
//! cmd/zpool/zpool_main.c; the quirks handled here were all seen in the recorded outputs under
//! `tests/fixtures/upstream/zpool/` (their README names each source), from Solaris-era message pages
//! to the dRAID Howto's RST blocks.

use super::Scan;
use super::numbers::parse_count;
use super::scan::decode_scan;
use super::{DataErrors, ErrorCounts, PoolStatus, Vdev, VdevClass, VdevKind, VdevSection, VdevState};
use crate::host::ToolError;

const WHAT_STATUS: &str = "zpool status";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Continuation lines belong to the last header.
    Text,
    /// After `config:`, waiting for the `NAME STATE ...` line.
    Config,
    /// Inside the vdev table; the value is the NAME column's indent.
    Table(usize),
    /// After `errors:`, indented lines are file names.
    Errors,
}

struct PoolBuilder {
    name: String,
    first_line: usize,
    state: Option<VdevState>,
    texts: Vec<(String, String, usize)>,
    /// Top-level rows of the config table (depth 0: the pool, then group headers), with their trees.
    stack: Vec<(usize, Vdev)>,
    done: Vec<Vdev>,
    errors: Option<DataErrors>,
}

impl PoolBuilder {
    fn attach(&mut self, node: Vdev) {
        match self.stack.last_mut() {
            Some((_, parent)) => parent.children.push(node),
            None => self.done.push(node),
        }
    }

    /// Pops every open node at `depth` or deeper.
    fn close_to(&mut self, depth: usize) {
        while self.stack.last().is_some_and(|(d, _)| *d >= depth) {
            if let Some((_, node)) = self.stack.pop() {
                self.attach(node);
            }
        }
    }

    fn finish(mut self, text_lines: &[&str]) -> Result<PoolStatus, ToolError> {
        self.close_to(0);
        let Some(state) = self.state else {
            let line = text_lines.get(self.first_line - 1).copied().unwrap_or("");
            return Err(ToolError::parse(WHAT_STATUS, self.first_line, line, "pool without a `state:` line"));
        };
        let mut status = None;
        let mut action = None;
        let mut see = None;
        let mut scan = Scan::None;
        for (key, value, _) in &self.texts {
            match key.as_str() {
                "status" => status = Some(value.clone()),
                "action" => action = Some(value.clone()),
                "see" => see = Some(value.clone()),
                // Old releases print ` scrub:` (ZFS-8000 message pages). Two scan lines can occur;
                // an operation in progress wins over a finished one.
                "scan" | "scrub" => {
                    let s = decode_scan(value);
                    if matches!(scan, Scan::None) || matches!(s, Scan::InProgress(_) | Scan::Paused(_)) {
                        scan = s;
                    }
                }
                _ => {}
            }
        }
        let mut root = None;
        let mut sections = Vec::new();
        for node in self.done {
            match VdevClass::from_section(&node.name) {
                Some(class) if root.is_some() => sections.push(VdevSection {
                    class,
                    state: node.state,
                    errors: node.errors,
                    note: node.note,
                    vdevs: node.children,
                }),
                _ if root.is_none() => root = Some(Vdev { kind: VdevKind::Root, ..node }),
                _ => {}
            }
        }
        Ok(PoolStatus {
            name: self.name,
            state,
            status,
            action,
            see,
            scan,
            root,
            sections,
            errors: self.errors,
        })
    }
}

/// Recognizes a header line: `  pool: x`, ` state: x`, `   see: x`, `config:`. Headers are right
/// aligned to the colon with a few spaces, never a TAB, so vdev and continuation lines (TAB or 8 spaces)
/// never match.
fn header(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 6 || trimmed.starts_with('\t') {
        return None;
    }
    let (key, rest) = trimmed.split_once(':')?;
    if key.is_empty() || !key.bytes().all(|c| c.is_ascii_lowercase() || c == b' ') {
        return None;
    }
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, rest.trim()))
}

/// Indentation width with TABs at 8 columns (zpool prints `\t` + 2 spaces per level; the RST docs
/// print 8 spaces + 2 per level).
pub(super) fn indent_columns(line: &str) -> usize {
    let mut col = 0;
    for c in line.chars() {
        match c {
            '\t' => col = (col / 8 + 1) * 8,
            ' ' => col += 1,
            _ => break,
        }
    }
    col
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// Parses the text form of `zpool status` (one or more pools one after another).
pub fn parse_status(text: &str) -> Result<Vec<PoolStatus>, ToolError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut pools = Vec::new();
    let mut cur: Option<PoolBuilder> = None;
    let mut mode = Mode::Text;
    let mut in_spares = false;
    for (i, &line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            if matches!(mode, Mode::Table(_)) {
                mode = Mode::Text;
            }
            continue;
        }
        if let Some((key, rest)) = header(line) {
            if key == "pool" {
                if let Some(p) = cur.take() {
                    pools.push(p.finish(&lines)?);
                }
                cur = Some(PoolBuilder {
                    name: rest.to_string(),
                    first_line: n,
                    state: None,
                    texts: Vec::new(),
                    stack: Vec::new(),
                    done: Vec::new(),
                    errors: None,
                });
                mode = Mode::Text;
                continue;
            }
            let Some(p) = cur.as_mut() else {
                return Err(ToolError::parse(WHAT_STATUS, n, line, format!("`{key}:` before any `pool:`")));
            };
            match key {
                "state" => {
                    p.state = Some(VdevState::parse(rest));
                    mode = Mode::Text;
                }
                "config" => mode = Mode::Config,
                "errors" => {
                    let errors = p.errors.get_or_insert_with(DataErrors::default);
                    errors.messages.push(rest.to_string());
                    if rest.starts_with("No known data errors") {
                        errors.count = Some(0);
                    } else if let Some(num) = rest.strip_suffix(" data errors, use '-v' for a list") {
                        errors.count = Some(num.trim().parse().map_err(|_| {
                            ToolError::parse(WHAT_STATUS, n, line, format!("`{num}` is not a count"))
                        })?);
                    }
                    mode = Mode::Errors;
                }
                _ => {
                    p.texts.push((key.to_string(), rest.to_string(), n));
                    mode = Mode::Text;
                }
            }
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let Some(p) = cur.as_mut() else {
            // Before the first pool: `no pools available`, a `-T` timestamp and the like.
            continue;
        };
        if !indented {
            return Err(ToolError::parse(WHAT_STATUS, n, line, "unexpected unindented line"));
        }
        match mode {
            Mode::Text => match p.texts.last_mut() {
                Some((key, value, _)) => {
                    let sep = if key == "scan" || key == "scrub" { "\n" } else { " " };
                    if !value.is_empty() {
                        value.push_str(sep);
                    }
                    value.push_str(line.trim());
                }
                None => return Err(ToolError::parse(WHAT_STATUS, n, line, "continuation of no header")),
            },
            Mode::Config => {
                if line.trim_start().starts_with("NAME") {
                    mode = Mode::Table(indent_columns(line));
                    in_spares = false;
                } else {
                    return Err(ToolError::parse(
                        WHAT_STATUS,
                        n,
                        line,
                        "expected the `NAME STATE ...` header",
                    ));
                }
            }
            Mode::Table(base) => {
                let toks = tokens(line);
                let Some(&(_, name)) = toks.first() else { continue };
                let mut depth = indent_columns(line).saturating_sub(base) / 2;
                let have_root = !p.done.is_empty() || p.stack.first().is_some_and(|(d, _)| *d == 0);
                let is_section = depth == 0 && have_root && VdevClass::from_section(name).is_some();
                if depth == 0 && have_root && !is_section {
                    // The dRAID Howto's RST block shifts one spare row left of its group header; a
                    // second depth-0 row that is no group header can only be a group member.
                    depth = 1;
                }
                if is_section {
                    in_spares = name == "spares";
                }
                let (state, errors, note) = vdev_columns(&toks, line, n, in_spares && !is_section)?;
                p.close_to(depth);
                p.stack.push((
                    depth,
                    Vdev {
                        name: name.to_string(),
                        kind: VdevKind::classify(name),
                        state,
                        errors,
                        note,
                        children: Vec::new(),
                    },
                ));
            }
            Mode::Errors => {
                let errors = p.errors.get_or_insert_with(DataErrors::default);
                errors.files.push(line.trim().to_string());
                errors.count = Some(errors.files.len() as u64);
            }
        }
    }
    if let Some(p) = cur.take() {
        pools.push(p.finish(&lines)?);
    }
    if pools.is_empty() {
        let first = lines.iter().position(|l| !l.trim().is_empty());
        if let Some(ix) = first {
            let l = lines[ix].trim();
            if l != "no pools available" && l != "all pools are healthy" {
                return Err(ToolError::parse(WHAT_STATUS, ix + 1, lines[ix], "no `pool:` line"));
            }
        }
    }
    Ok(pools)
}

type VdevColumns = (Option<VdevState>, Option<ErrorCounts>, Option<String>);

/// STATE, READ, WRITE, CKSUM and the trailing note of one config row. Spare rows have no counters:
/// `draid1-0-0  INUSE  currently in use`.
fn vdev_columns(toks: &[(usize, &str)], line: &str, n: usize, spare: bool) -> Result<VdevColumns, ToolError> {
    let Some(&(_, state)) = toks.get(1) else { return Ok((None, None, None)) };
    let state = Some(VdevState::parse(state));
    let note_from = |ix: usize| toks.get(ix).map(|&(off, _)| line[off..].trim().to_string());
    if spare {
        return Ok((state, None, note_from(2)));
    }
    if toks.len() < 5 {
        if toks.len() == 2 {
            return Ok((state, None, None));
        }
        return Err(ToolError::parse(WHAT_STATUS, n, line, "expected READ, WRITE and CKSUM counters"));
    }
    let mut c = [0u64; 3];
    for (k, slot) in c.iter_mut().enumerate() {
        let (_, tok) = toks[2 + k];
        *slot = parse_count(tok).ok_or_else(|| {
            let col = ["READ", "WRITE", "CKSUM"][k];
            ToolError::parse(WHAT_STATUS, n, line, format!("{col} counter `{tok}` is not a number"))
        })?;
    }
    Ok((state, Some(ErrorCounts { read: c[0], write: c[1], checksum: c[2] }), note_from(5)))
}

#[cfg(test)]
mod tests {
    use super::super::ScanFunction;
    use super::super::list::parse_list;
    use super::super::tests::{errs, fixture, leaf, one, status_of};
    use super::*;

    #[test]
    fn degraded_pool_with_unavail_device() {
        let p = one("zse_01-corrupted.txt");
        assert_eq!((p.name.as_str(), &p.state), ("dummy", &VdevState::Degraded));
        assert_eq!(p.see.as_deref(), Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J"));
        assert!(p.status.as_deref().unwrap().contains("label is missing or invalid.  Sufficient"));
        let root = p.root.as_ref().unwrap();
        assert_eq!(root.kind, VdevKind::Root);
        assert_eq!(root.children.len(), 2);
        let m1 = &root.children[1];
        assert_eq!(
            (m1.name.as_str(), &m1.kind, &m1.state),
            ("mirror-1", &VdevKind::Mirror, &Some(VdevState::Degraded))
        );
        let loop3 = &m1.children[1];
        assert_eq!(loop3.state, Some(VdevState::Unavail));
        assert_eq!(loop3.note.as_deref(), Some("corrupted data"));
        assert_eq!(loop3.kind, VdevKind::Device);
        assert_eq!(p.data_errors(), 0);
        assert!(p.errors.is_none(), "zse_01 has no errors: line");
        let Scan::Finished(f) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (f.function, f.repaired, f.errors, f.duration_secs),
            (ScanFunction::Scrub, Some(0), 0, Some(0))
        );
        let ended = f.ended.as_ref().unwrap();
        assert_eq!(ended.text, "Sat Feb 10 20:34:42 2024");
        let local = ended.local.unwrap();
        assert_eq!((local.year, local.month, local.day, local.hour), (2024, 2, 10, 20));
        // zse_01's harness timestamp is 1707688498 (Sun Feb 11 21:54:58 UTC 2024).
        assert_eq!(local.unix_as_if_utc(), 1_707_597_282);

        // A leaf shown by GUID with its former path, and a huge checksum counter.
        let p = one("zse_07-unavail.txt");
        let g = leaf(&p, "12345678901234567890");
        assert_eq!((g.state.clone(), g.errors), (Some(VdevState::Unavail), errs(0, 0, 100_980)));
        assert_eq!(g.was(), Some("/dev/disk/by-id/ata-ST8000DM004-xxxxxx_redacted-part1"));
        assert_eq!(p.root.as_ref().unwrap().children[0].children.len(), 3);

        let p = one("zse_06-removed.txt");
        assert_eq!(leaf(&p, "drive0-part1").state, Some(VdevState::Removed));
        let p = one("zse_11-degraded-no-scan.txt");
        assert_eq!((&p.state, &p.scan), (&VdevState::Degraded, &Scan::None));
        let p = one("ozdocs_msg_2Q_degraded_device_cannot_open.txt");
        let sdb = leaf(&p, "sdb");
        assert_eq!((sdb.state.clone(), sdb.note.as_deref()), (Some(VdevState::Faulted), Some("cannot open")));
        assert_eq!(leaf(&p, "mirror").kind, VdevKind::Mirror, "old unnumbered interior names");
    }

    #[test]
    fn faulted_pools() {
        let p = one("ozdocs_msg_HC_pool_FAULTED_io_failures.txt");
        assert_eq!(p.state, VdevState::Faulted);
        let root = p.root.as_ref().unwrap();
        assert_eq!((root.errors, root.note.as_deref()), (errs(0, 13, 0), Some("insufficient replicas")));
        assert_eq!(leaf(&p, "sda").note.as_deref(), Some("experienced I/O failures"));
        assert_eq!(p.data_errors(), 1);
        assert_eq!(p.scan, Scan::None, "` scrub: none requested`");

        let p = one("ozdocs_msg_K4_pool_FAULTED_bad_intent_log.txt");
        assert_eq!(p.state, VdevState::Faulted);
        let logs = p.section(VdevClass::Logs).unwrap();
        assert_eq!(
            (logs.state.clone(), logs.note.as_deref()),
            (Some(VdevState::Faulted), Some("bad intent log"))
        );
        assert_eq!(logs.vdevs[0].name, "c5t3d0");
        assert_eq!(logs.vdevs[0].state, Some(VdevState::Unavail));
        assert_eq!(p.root.as_ref().unwrap().children.len(), 1);

        let pools = parse_list(&fixture("openzfs_man_zpool-list_faulted_pool.txt")).unwrap();
        let zion = &pools[2];
        assert_eq!(
            (zion.name.as_str(), &zion.health, zion.size, zion.dedup_ratio),
            ("zion", &VdevState::Faulted, None, None)
        );
        assert_eq!(
            (pools[0].frag_percent, pools[0].cap_percent, pools[0].dedup_ratio),
            (Some(33), Some(42), Some(1.0))
        );
        assert_eq!(pools[0].size, Some((19.9 * (1u64 << 30) as f64).round() as u64));
        let pools = parse_list(&fixture("netdata_zpool-list-p_faulted.txt")).unwrap();
        assert_eq!(pools[0].size, Some(21_367_462_298));
        assert_eq!(pools[1].health, VdevState::Faulted);
    }

    #[test]
    fn checksum_errors_and_permanent_error_files() {
        let p = one("ozdocs_msg_9P_cksum_errors_online.txt");
        assert_eq!(leaf(&p, "sda").errors, errs(0, 0, 2));
        assert_eq!(p.data_errors(), 0);

        let p = one("ozdocs_msg_8A_permanent_errors_files_-xv.txt");
        let e = p.errors.as_ref().unwrap();
        assert_eq!(e.files, ["/export/example/foo"]);
        assert_eq!(e.count, Some(1));
        assert_eq!(p.root.as_ref().unwrap().errors, errs(0, 0, 2));
        assert_eq!(p.root.as_ref().unwrap().children.len(), 2, "two striped disks");

        // Abbreviated counters.
        let text = "  pool: t\n state: ONLINE\nconfig:\n\n\tNAME  STATE  READ WRITE CKSUM\n\tt     ONLINE  0 0 0\n\t  sda ONLINE  1.2K 13.4M 7  too many errors\n";
        let p = parse_status(text).unwrap();
        let sda = leaf(&p[0], "sda");
        assert_eq!(sda.errors, errs(1229, 14_050_918, 7));
        assert_eq!(sda.note.as_deref(), Some("too many errors"));
    }

    #[test]
    fn multi_pool_outputs() {
        let pools = status_of("zse_05-features.txt");
        assert_eq!(pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["rpool", "wilbur"]);
        assert!(pools[1].status.as_deref().unwrap().starts_with("Some supported and requested features"));
        assert!(pools.iter().all(|p| p.state == VdevState::Online && p.data_errors() == 0));
        let Scan::Finished(f) = &pools[1].scan else { panic!() };
        assert_eq!(f.duration_secs, Some(6 * 3600 + 35 * 60 + 50));

        // The exporter's state-coverage file: every state word, non-zero counters everywhere.
        let p = one("zse_integration-multi-pool.txt");
        let root = p.root.as_ref().unwrap();
        assert_eq!(root.errors, errs(0, 10, 20));
        assert_eq!(root.children.len(), 3);
        let states: Vec<String> =
            p.vdevs().iter().skip(1).map(|(_, v)| v.state.clone().unwrap().to_string()).collect();
        assert_eq!(
            states,
            [
                "NOTSURE?",
                "ONLINE",
                "OFFLINE",
                "SPLIT",
                "DEGRADED",
                "FAULTED",
                "SUSPENDED",
                "REMOVED",
                "UNAVAIL"
            ]
        );
        assert_eq!(root.children[0].state, Some(VdevState::Other("NOTSURE?".into())));
        assert_eq!(leaf(&p, "ata-6666666666666666666666666666-part1").errors, errs(9, 19, 29));
        assert_eq!(p.vdevs().iter().map(|(d, _)| *d).max(), Some(2));

        let mut text = fixture("zse_03-resilvered.txt");
        text.push('\n');
        text.push_str(&fixture("zse_06-removed.txt"));
        assert_eq!(parse_status(&text).unwrap().len(), 2);
        assert_eq!(parse_status("no pools available\n").unwrap(), []);
    }

    #[test]
    fn malformed_input_names_the_line() {
        let text = "  pool: t\n state: ONLINE\nconfig:\n\n\tNAME  STATE  READ WRITE CKSUM\n\tt     ONLINE  0 0 0\n\t  sda ONLINE  0 x 0\n";
        let err = parse_status(text).unwrap_err();
        let ToolError::Parse { line, text: l, message, .. } = &err else { panic!("{err}") };
        assert_eq!((*line, l.as_str()), (7, "\t  sda ONLINE  0 x 0"));
        assert!(message.contains("WRITE"), "{message}");

        let err = parse_status("  pool: t\nconfig:\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_status("garbage\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_status("  pool: t\n state: ONLINE\nconfig:\n\tbogus\n").unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");

        let err = parse_list("rpool\t12\tx\t1\t-\t-\t9\t17\t1.00\tONLINE\t-\n").unwrap_err();
        assert!(err.to_string().contains("line 1") && err.to_string().contains("ALLOC"), "{err}");
        let err = parse_list("rpool 1 2 3\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
