//! Redaction before a cloud AI provider sees a text: host names and FQDNs, IPv4 and IPv6 addresses,
//! MAC addresses, e-mail addresses and disk serials/WWNs are replaced with stable placeholders
//! (`HOST_1`, `IP_1`, `MAC_1`, `EMAIL_1`, `SERIAL_1`; the same value always gets the same one), and
//! [`Redactions::restore`] puts the originals back into the provider's answer.
//!
//! Written by hand rather than with regexes: the text is cut into tokens (runs of letters, digits and
//! `. : - _ @ % +`), each token is classified whole, and a token that is nothing as a whole is cut at
//! its separators (`@ _ =`, then `:`, then `.`, then `-`) and the pieces are classified in turn, so
//! that `ata-WDC_WD40EFRX_WD-WCC4N1234567`, `UPID:pve1:...` or `10.0.0.5:22` give up the parts that
//! identify. It errs on the side of hiding: a model number that looks like a serial is hidden too,
//! and it is restored afterwards all the same.
//!
//! What counts as a host: the `known` names (the node, the guests, the storages) as whole tokens,
//! case-insensitively, and anything shaped like an FQDN whose last label is a two-letter country
//! code or a common generic/internal suffix (`.com`, `.lan`, `.local`, `.internal`, `.home.arpa`…),
//! but not a file name (`storage.cfg`, `pve-manager.service`, `backup.sh`).
//!
//! A serial is the value after a `serial`/`Serial Number:`/`SN:`/`serial_number` key whatever its
//! shape, a `0x`-prefixed WWN, a bare run of 16+ hex digits (EUI/NAA), or an upper-case
//! letters-and-digits word of 8+ characters with 3+ digits (`WD-WCC4N1234567`, `S3Z9NB0K123456X`).

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Host,
    Ip,
    Mac,
    Email,
    Serial,
}

impl Kind {
    const ALL: [Kind; 5] = [Kind::Host, Kind::Ip, Kind::Mac, Kind::Email, Kind::Serial];

    fn prefix(self) -> &'static str {
        match self {
            Kind::Host => "HOST_",
            Kind::Ip => "IP_",
            Kind::Mac => "MAC_",
            Kind::Email => "EMAIL_",
            Kind::Serial => "SERIAL_",
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::Host => 0,
            Kind::Ip => 1,
            Kind::Mac => 2,
            Kind::Email => 3,
            Kind::Serial => 4,
        }
    }
}

/// The values one redaction replaced, by placeholder. Redact the title and the body of one message
/// with the same `Redactions` ([`Redactions::redact`]) so a value has one placeholder in both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redactions {
    /// `HOST_1` -> `pve1`.
    originals: BTreeMap<String, String>,
    /// (kind, `pve1`) -> `HOST_1`.
    placeholders: HashMap<(Kind, String), String>,
    /// How many placeholders of each kind were handed out.
    counts: [usize; 5],
}

/// Redacts one text; see [`Redactions::redact`] to redact several with shared placeholders.
pub fn redact(text: &str, known: &[String]) -> (String, Redactions) {
    let mut r = Redactions::default();
    let out = r.redact(text, known);
    (out, r)
}

/// Separators a token is cut at when it is nothing as a whole, coarsest first.
const LEVELS: [&[char]; 4] = [&['@', '_', '='], &[':'], &['.'], &['-']];

/// Keys whose next token is a serial whatever it looks like (`Serial Number: X`, `SN: X`,
/// `"serial_number": "X"`, `serial=X`).
const SERIAL_KEYS: [&str; 6] = ["serial", "serial_number", "serialnumber", "serial_no", "sn", "s/n"];

impl Redactions {
    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    /// How many distinct values were replaced.
    pub fn len(&self) -> usize {
        self.originals.len()
    }

    /// The replaced values, by placeholder (for the UI's "what was hidden").
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.originals.iter().map(|(p, o)| (p.as_str(), o.as_str()))
    }

    /// Replaces what identifies in `text`, numbering on from what this `Redactions` already holds.
    pub fn redact(&mut self, text: &str, known: &[String]) -> String {
        let known: Vec<String> =
            known.iter().map(|k| k.trim().to_ascii_lowercase()).filter(|k| k.len() >= 2).collect();
        let mut out = String::with_capacity(text.len() + 16);
        let mut rest = text;
        // A serial key was just seen: the next token is its value.
        let mut serial_next = false;
        // The previous token, lower-cased, to see `Serial Number`.
        let mut prev = String::new();
        while !rest.is_empty() {
            let gap_end = rest.find(is_token_char).unwrap_or(rest.len());
            let gap = &rest[..gap_end];
            // Only blanks, quotes, `:` and `=` may stand between a key and its value.
            if !gap.chars().all(|c| matches!(c, ' ' | '\t' | ':' | '=' | '"' | '\'')) {
                serial_next = false;
            }
            out.push_str(gap);
            rest = &rest[gap_end..];
            if rest.is_empty() {
                break;
            }
            let tok_end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
            let tok = &rest[..tok_end];
            rest = &rest[tok_end..];

            let lower = tok.trim_end_matches([':', '=']).to_ascii_lowercase();
            let is_key = SERIAL_KEYS.contains(&lower.as_str())
                || (prev == "serial" && (lower == "number" || lower == "no"))
                || (prev == "s" && lower == "n" && gap == "/");
            if is_key {
                out.push_str(tok);
                serial_next = true;
            } else if serial_next {
                let core = tok.trim_end_matches(['.', ',', ';']);
                out.push_str(&self.placeholder(Kind::Serial, core));
                out.push_str(&tok[core.len()..]);
                serial_next = false;
            } else if let Some((key, value)) = tok
                .split_once(':')
                .filter(|(k, v)| SERIAL_KEYS.contains(&k.to_ascii_lowercase().as_str()) && !v.is_empty())
            {
                // `SN:S3Z9NB0K123456X`, one token.
                out.push_str(key);
                out.push(':');
                out.push_str(&self.placeholder(Kind::Serial, value));
            } else if let Some((model, serial, tail)) = split_by_id(tok) {
                // `ata-WDC_WD40EFRX-68N32N0_WD-WCC4N1234567-part3`: the model stays readable.
                out.push_str(model);
                out.push_str(&self.placeholder(Kind::Serial, serial));
                out.push_str(tail);
            } else {
                out.push_str(&self.token(tok, &known, 0));
            }
            prev = lower;
        }
        out
    }

    /// Puts the originals back where `text` (the provider's answer) has their placeholders. A
    /// placeholder this redaction did not hand out is left as it is.
    pub fn restore(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if starts_word {
                for kind in Kind::ALL {
                    let prefix = kind.prefix();
                    if !text[i..].starts_with(prefix) {
                        continue;
                    }
                    let digits_at = i + prefix.len();
                    let digits = bytes[digits_at..].iter().take_while(|b| b.is_ascii_digit()).count();
                    let end = digits_at + digits;
                    let ends_word = end == text.len() || !bytes[end].is_ascii_alphanumeric();
                    if digits > 0 && ends_word {
                        if let Some(original) = self.originals.get(&text[i..end]) {
                            out.push_str(original);
                            i = end;
                            continue 'outer;
                        }
                    }
                }
            }
            // Not a placeholder: copy one character.
            let Some(c) = text[i..].chars().next() else { break };
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    /// The placeholder for `value`, the same one each time it is seen.
    fn placeholder(&mut self, kind: Kind, value: &str) -> String {
        if let Some(p) = self.placeholders.get(&(kind, value.to_string())) {
            return p.clone();
        }
        let n = &mut self.counts[kind.index()];
        *n += 1;
        let p = format!("{}{}", kind.prefix(), n);
        self.placeholders.insert((kind, value.to_string()), p.clone());
        self.originals.insert(p.clone(), value.to_string());
        p
    }

    /// One token (or piece of one) at separator `level`: replaced whole if it is something, else
    /// without its trailing punctuation, else cut at the level's separators.
    fn token(&mut self, tok: &str, known: &[String], level: usize) -> String {
        if tok.is_empty() {
            return String::new();
        }
        if let Some(kind) = classify(tok, known) {
            return self.placeholder(kind, tok);
        }
        // `pve1.`, `sdb:`, `fe80::1,` at the end of a sentence or a field.
        let core = tok.trim_end_matches(['.', ':', '-', '_', ',']);
        if core.len() != tok.len() {
            if core.is_empty() {
                return tok.to_string();
            }
            let mut out = self.token(core, known, level);
            out.push_str(&tok[core.len()..]);
            return out;
        }
        let mut level = level;
        while let Some(seps) = LEVELS.get(level) {
            level += 1;
            if tok.contains(*seps) {
                let mut out = String::with_capacity(tok.len());
                let mut piece_start = 0;
                for (i, c) in tok.char_indices() {
                    if seps.contains(&c) {
                        out.push_str(&self.token(&tok[piece_start..i], known, level));
                        out.push(c);
                        piece_start = i + c.len_utf8();
                    }
                }
                out.push_str(&self.token(&tok[piece_start..], known, level));
                return out;
            }
        }
        tok.to_string()
    }
}

/// A `/dev/disk/by-id` name, `<bus>-<model>_<serial>[-partN]` (udev's `60-persistent-storage.rules`
/// joins the model's words with `_` too, so the serial is what follows the last `_`): the parts
/// before the serial, the serial, and what follows it.
fn split_by_id(tok: &str) -> Option<(&str, &str, &str)> {
    const BUSES: [&str; 7] = ["ata-", "scsi-", "nvme-", "usb-", "sata-", "mmc-", "virtio-"];
    let lower = tok.to_ascii_lowercase();
    if !BUSES.iter().any(|b| lower.starts_with(b)) {
        return None;
    }
    let core = tok.trim_end_matches(['.', ':', ',']);
    let body = match core.rfind("-part") {
        Some(i) if core.len() > i + 5 && core[i + 5..].chars().all(|c| c.is_ascii_digit()) => &core[..i],
        _ => core,
    };
    let cut = body.rfind('_')? + 1;
    let serial = &body[cut..];
    (!serial.is_empty()).then(|| (&tok[..cut], serial, &tok[body.len()..]))
}

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '@' | '%' | '+')
}

fn classify(tok: &str, known: &[String]) -> Option<Kind> {
    let lower = tok.to_ascii_lowercase();
    if known.contains(&lower) {
        return Some(Kind::Host);
    }
    if is_email(tok) {
        return Some(Kind::Email);
    }
    if is_mac(tok) {
        return Some(Kind::Mac);
    }
    if is_ip(tok) {
        return Some(Kind::Ip);
    }
    if is_host_name(&lower, known) {
        return Some(Kind::Host);
    }
    if is_serial(tok) {
        return Some(Kind::Serial);
    }
    None
}

fn is_ip(tok: &str) -> bool {
    if tok.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    // IPv6, maybe with a zone (`fe80::1%vmbr0`). `::` alone or a time (`10:23:45`) is not one.
    let addr = tok.split_once('%').map_or(tok, |(a, _)| a);
    addr.matches(':').count() >= 2
        && addr.chars().any(|c| c.is_ascii_hexdigit())
        && addr.parse::<Ipv6Addr>().is_ok()
}

/// `52:54:00:12:34:56`, `52-54-00-12-34-56` or Cisco's `5254.0012.3456`.
fn is_mac(tok: &str) -> bool {
    let hex = |g: &str, n: usize| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let groups: Vec<&str> = tok.split(sep).collect();
        if groups.len() == 6 && groups.iter().all(|g| hex(g, 2)) {
            return true;
        }
    }
    let groups: Vec<&str> = tok.split('.').collect();
    groups.len() == 3 && groups.iter().all(|g| hex(g, 4))
}

fn is_email(tok: &str) -> bool {
    let Some((local, domain)) = tok.split_once('@') else { return false };
    !local.is_empty()
        && local.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'))
        && dns_labels(domain).is_some_and(|labels| {
            labels.len() >= 2
                && labels
                    .last()
                    .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        })
}

/// The labels of `name` if it is a syntactically valid DNS name (letters, digits, inner hyphens).
fn dns_labels(name: &str) -> Option<Vec<&str>> {
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let ok = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    ok.then_some(labels)
}

/// Suffixes that make a dotted word a host name besides the two-letter country codes: common
/// generic TLDs and the names home and company networks use (RFC 6762 `.local`, RFC 8375
/// `.home.arpa`, ICANN's reserved `.internal`, `fritz.box`, and the usual `.lan`/`.corp`).
const HOST_SUFFIXES: &[&str] = &[
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "name",
    "pro",
    "io",
    "dev",
    "app",
    "cloud",
    "xyz",
    "online",
    "site",
    "tech",
    "host",
    "email",
    "systems",
    "network",
    "digital",
    "group",
    "lan",
    "local",
    "localdomain",
    "home",
    "internal",
    "intranet",
    "intra",
    "corp",
    "private",
    "priv",
    "arpa",
    "box",
    "lab",
    "test",
    "example",
    "invalid",
    "localhost",
];

/// Last labels that are file types or systemd units, not domains: `storage.cfg`, `backup.sh`,
/// `pve-manager.service` (some, like `.sh`, `.rs` and `.md`, are also country codes).
const FILE_SUFFIXES: &[&str] = &[
    "service", "socket", "timer", "target", "mount", "path", "slice", "scope", "device", "swap", "conf",
    "cfg", "log", "txt", "json", "yaml", "yml", "xml", "toml", "ini", "db", "sh", "py", "pl", "pm", "rs",
    "go", "js", "ts", "so", "ko", "md", "img", "iso", "raw", "vmdk", "vma", "gz", "zst", "xz", "bz2", "lzo",
    "tar", "tgz", "zip", "pem", "key", "crt", "csr", "der", "pid", "lock", "tmp", "bak", "old", "list",
    "sources", "gpg", "asc", "deb", "html", "htm", "css", "png", "jpg", "svg", "pdf", "csv", "sock", "lst",
    "new", "d",
];

/// An FQDN-shaped word (see [`HOST_SUFFIXES`]), or a dotted name whose first label is a known name
/// (`pve1.mycorp`).
fn is_host_name(lower: &str, known: &[String]) -> bool {
    let Some(labels) = dns_labels(lower) else { return false };
    if labels.len() < 2 {
        return false;
    }
    if known.iter().any(|k| k == labels[0]) {
        return true;
    }
    let Some(tld) = labels.last() else { return false };
    tld.chars().all(|c| c.is_ascii_alphabetic())
        && !FILE_SUFFIXES.contains(tld)
        && (tld.len() == 2 || HOST_SUFFIXES.contains(tld))
}

/// A disk serial or WWN by its shape alone (see the module's notes).
fn is_serial(tok: &str) -> bool {
    let all_hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(hex) = tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
        return hex.len() >= 12 && all_hex(hex);
    }
    let digits = tok.chars().filter(|c| c.is_ascii_digit()).count();
    let letters = tok.chars().filter(|c| c.is_ascii_alphabetic()).count();
    // An EUI-64/NAA identifier (`nvme-eui.0025388b91b2c3d4`).
    if tok.len() >= 16 && all_hex(tok) && digits > 0 && letters > 0 {
        return true;
    }
    (8..=40).contains(&tok.len())
        && tok.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && !tok.starts_with('-')
        && !tok.ends_with('-')
        && letters >= 2
        && digits >= 3
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        vec!["pve1".to_string(), "web-frontend".to_string(), "db".to_string()]
    }

    /// Asserts none of `secrets` is left in `text`.
    fn assert_gone(text: &str, secrets: &[&str]) {
        for s in secrets {
            assert!(!text.contains(s), "{s:?} survived in {text:?}");
        }
    }

    #[test]
    fn a_smart_finding_hides_the_serials_and_the_host() {
        let text = "Disk /dev/sdb (WDC WD40EFRX-68N32N0, serial WD-WCC4N1234567) on pve1.example.com: \
                    5 reallocated sectors (was 0). by-id: ata-WDC_WD40EFRX-68N32N0_WD-WCC4N1234567, \
                    wwn-0x5000c500a1b2c3d4. Samsung SN: S3Z9NB0K123456X, Serial Number: ABC12.";
        let (out, r) = redact(text, &known());
        assert_gone(
            &out,
            &["WD-WCC4N1234567", "0x5000c500a1b2c3d4", "S3Z9NB0K123456X", "ABC12", "pve1", "example.com"],
        );
        // One value, one placeholder: the serial appears twice.
        let (placeholder, _) = r.iter().find(|(_, v)| *v == "WD-WCC4N1234567").unwrap();
        assert_eq!(out.matches(placeholder).count(), 2, "{out}");
        assert!(out.contains("ata-WDC_WD40EFRX-68N32N0_SERIAL_"), "a by-id name keeps its model: {out}");
        assert!(out.contains("/dev/sdb"), "device names stay: {out}");
        assert!(out.contains("5 reallocated sectors (was 0)"), "facts stay: {out}");
        assert_eq!(r.restore(&out), text);
    }

    #[test]
    fn a_zpool_reason_hides_the_by_id_serials() {
        let text = "pool 'tank' is DEGRADED: nvme-eui.0025388b91b2c3d4 FAULTED (too many errors), \
                    ata-ST4000VN008-2DR166_ZGY1ABCD resilvering on db.";
        let (out, r) = redact(text, &known());
        assert_gone(&out, &["0025388b91b2c3d4", "ZGY1ABCD", " db."]);
        assert!(out.contains("DEGRADED") && out.contains("FAULTED") && out.contains("'tank'"), "{out}");
        assert!(out.contains("ata-ST4000VN008-2DR166_SERIAL_"), "{out}");
        assert_eq!(r.restore(&out), text);
    }

    #[test]
    fn a_journal_line_hides_addresses() {
        let text = "Mar 03 10:23:45 pve1 kernel: vmbr0: port 2(tap101i0) entered forwarding state; \
                    DHCPACK(vmbr0) 192.168.1.50 52:54:00:12:34:56 web-frontend; sshd[1234]: Accepted \
                    publickey for root from 2001:db8::17 port 52222; rhost=::ffff:198.51.100.23 \
                    fe80::1%vmbr0 10.0.0.5:22 mail to admin@example.org failed (MAC 52-54-00-AB-CD-EF).";
        let (out, r) = redact(text, &known());
        assert_gone(
            &out,
            &[
                "pve1",
                "192.168.1.50",
                "52:54:00:12:34:56",
                "web-frontend",
                "2001:db8::17",
                "198.51.100.23",
                "fe80::1",
                "10.0.0.5",
                "admin@example.org",
                "52-54-00-AB-CD-EF",
            ],
        );
        // The time, the interface and the port are not addresses.
        assert!(out.starts_with("Mar 03 10:23:45 HOST_1 kernel: vmbr0: port 2(tap101i0)"), "{out}");
        assert!(out.contains("IP_5:22"), "the port stays: {out}");
        assert!(out.contains("EMAIL_1"), "{out}");
        assert_eq!(r.restore(&out), text);
    }

    #[test]
    fn placeholders_are_stable_across_title_and_body() {
        let mut r = Redactions::default();
        let title = r.redact("pve1: backup of 10.1.2.3 failed", &known());
        let body = r.redact("host pve1 could not reach 10.1.2.3 or 10.1.2.4", &known());
        assert_eq!(title, "HOST_1: backup of IP_1 failed");
        assert_eq!(body, "host HOST_1 could not reach IP_1 or IP_2");
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.restore("HOST_1 and IP_2, not IP_9 or MYHOST_1"),
            "pve1 and 10.1.2.4, not IP_9 or MYHOST_1"
        );
    }

    #[test]
    fn ordinary_words_files_and_numbers_stay() {
        let text = "pve-manager.service restarted; /etc/pve/storage.cfg changed; zfs_arc_max=8589934592; \
                    kernel 6.8.12-4-pve; load 1.25; 42% used; CPU 3; UPS on battery, e.g. 10 min left.";
        let (out, r) = redact(text, &known());
        assert_eq!(out, text);
        assert!(r.is_empty());
    }

    #[test]
    fn known_names_inside_compound_tokens() {
        let text = "UPID:pve1:0002A1B3:task; root@pam on pve1.lan; PVE1 down";
        let (out, r) = redact(text, &known());
        assert_gone(&out, &["pve1", "PVE1"]);
        assert!(out.contains("root@pam"), "a realm is not an e-mail: {out}");
        assert_eq!(r.restore(&out), text);
    }
}
