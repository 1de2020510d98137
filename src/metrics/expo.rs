//! The Prometheus text exposition format 0.0.4 (prometheus/docs `exposition_formats.md`), written so
//! that what promtool does not check holds by construction: every family is one group with one HELP
//! and one TYPE before its samples, whatever order the renderer adds samples in; label values and
//! HELP are escaped; the output ends with a newline. A series added twice is dropped and counted
//! (tests assert the count is zero).

use std::collections::HashMap;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
        }
    }
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: Type,
    body: String,
    /// Hashes of the label sets written, to refuse a duplicate series (a hash, not a copy of each
    /// label set: this runs for every series of every rendering).
    seen: std::collections::HashSet<u64>,
}

/// An exposition being built.
#[derive(Default)]
pub struct Expo {
    families: Vec<Family>,
    index: HashMap<&'static str, usize>,
    series: usize,
    duplicates: usize,
    label_buf: String,
}

impl Expo {
    pub fn new() -> Expo {
        Expo::default()
    }

    /// Adds one sample of `name`; the family is declared on its first sample. `labels` are
    /// `(name, value)` pairs, written in the given order.
    pub fn add(
        &mut self,
        name: &'static str,
        kind: Type,
        help: &'static str,
        labels: &[(&str, &str)],
        v: f64,
    ) {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(Family {
                    name,
                    help,
                    kind,
                    body: String::new(),
                    seen: Default::default(),
                });
                self.index.insert(name, self.families.len() - 1);
                self.families.len() - 1
            }
        };
        debug_assert!(self.families[i].kind == kind, "{name} declared with two types");
        self.label_buf.clear();
        if !labels.is_empty() {
            self.label_buf.push('{');
            for (n, (k, val)) in labels.iter().enumerate() {
                if n > 0 {
                    self.label_buf.push(',');
                }
                self.label_buf.push_str(k);
                self.label_buf.push_str("=\"");
                escape_label(&mut self.label_buf, val);
                self.label_buf.push('"');
            }
            self.label_buf.push('}');
        }
        let f = &mut self.families[i];
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&self.label_buf, &mut h);
        if !f.seen.insert(std::hash::Hasher::finish(&h)) {
            self.duplicates += 1;
            return;
        }
        f.body.push_str(name);
        f.body.push_str(&self.label_buf);
        f.body.push(' ');
        write_value(&mut f.body, v);
        f.body.push('\n');
        self.series += 1;
    }

    pub fn gauge(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.add(name, Type::Gauge, help, labels, v);
    }

    pub fn counter(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.add(name, Type::Counter, help, labels, v);
    }

    /// A gauge when the value is known; nothing when it is not (never a made-up 0).
    pub fn gauge_opt(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        v: Option<f64>,
    ) {
        if let Some(v) = v {
            self.gauge(name, help, labels, v);
        }
    }

    pub fn series(&self) -> usize {
        self.series
    }

    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// The text, families in the order they were first added.
    pub fn finish(self) -> String {
        let size: usize =
            self.families.iter().map(|f| f.body.len() + f.help.len() + 2 * f.name.len() + 24).sum();
        let mut out = String::with_capacity(size);
        for f in &self.families {
            out.push_str("# HELP ");
            out.push_str(f.name);
            out.push(' ');
            escape_help(&mut out, f.help);
            out.push('\n');
            out.push_str("# TYPE ");
            out.push_str(f.name);
            out.push(' ');
            out.push_str(f.kind.as_str());
            out.push('\n');
            out.push_str(&f.body);
        }
        out
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Go's ParseFloat reads what Rust's `Display` writes (shortest round-trip, no exponent); the
/// specials are spelled the Prometheus way.
fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_stay_grouped_and_escaped() {
        let mut e = Expo::new();
        e.gauge("a_bytes", "A.", &[("x", "1")], 1.0);
        e.counter("b_total", "B with \\ and\nnewline.", &[], 2.5);
        e.gauge("a_bytes", "A.", &[("x", "q\"u\\o\nte")], f64::NAN);
        e.gauge("a_bytes", "A.", &[("x", "1")], 9.0);
        assert_eq!(e.duplicates(), 1);
        assert_eq!(e.series(), 3);
        assert_eq!(
            e.finish(),
            "# HELP a_bytes A.\n# TYPE a_bytes gauge\na_bytes{x=\"1\"} 1\na_bytes{x=\"q\\\"u\\\\o\\nte\"} NaN\n\
             # HELP b_total B with \\\\ and\\nnewline.\n# TYPE b_total counter\nb_total 2.5\n"
        );
    }

    #[test]
    fn values() {
        let mut s = String::new();
        for v in [0.0, 1e21, 0.1, -3.0, f64::INFINITY, f64::NEG_INFINITY, 123456789.0] {
            write_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "0 1000000000000000000000 0.1 -3 +Inf -Inf 123456789 ");
    }
}
