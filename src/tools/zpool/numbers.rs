//! Numbers as `zpool` prints them: sizes and counters in `zfs_nicenum()` units (`21K`, `1.66T`,
//! `58.5K`, powers of 1024) or exact with `-p`, and durations (`00:15:42`, `14h7m`,
//! `1 days 02:55:32`).

/// `21K`, `1.66T`, `0B`, `58.5K`, `1916279144448` → bytes. ZFS's `zfs_nicenum()` uses powers of 1024
/// and one-letter suffixes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix("iB").or_else(|| s.strip_suffix('B')).unwrap_or(s);
    if s.is_empty() {
        // `0B` stripped of its unit.
        return None;
    }
    let (num, mult) = match s.as_bytes()[s.len() - 1] {
        b'K' | b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        b'T' => (&s[..s.len() - 1], 1 << 40),
        b'P' => (&s[..s.len() - 1], 1 << 50),
        b'E' => (&s[..s.len() - 1], 1 << 60),
        _ => (s, 1),
    };
    if let Ok(v) = num.parse::<u64>() {
        return v.checked_mul(mult);
    }
    let f: f64 = num.parse().ok()?;
    (f.is_finite() && f >= 0.0).then(|| (f * mult as f64).round() as u64)
}

/// An error counter: `0`, `100980`, `1.88K`, `13.4M`.
pub(super) fn parse_count(s: &str) -> Option<u64> {
    if !s.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    parse_size(s).or_else(|| (s == "0B").then_some(0))
}

/// `00:15:42`, `14h7m`, `1 days 02:55:32`, `0h0m`, `00:00:04` → seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let mut total = 0u64;
    let mut rest = s;
    if let Some((d, r)) = s.split_once(" days ").or_else(|| s.split_once(" day ")) {
        total += d.trim().parse::<u64>().ok()? * 86_400;
        rest = r.trim();
    }
    if rest.contains(':') {
        let parts: Vec<u64> = rest.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        let secs = match parts.as_slice() {
            [h, m, s] => h * 3600 + m * 60 + s,
            [m, s] => m * 60 + s,
            _ => return None,
        };
        return Some(total + secs);
    }
    // `14h7m`, `0h0m`, `1h18m`.
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let v: u64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'd' => v * 86_400,
            'h' => v * 3600,
            'm' => v * 60,
            's' => v,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::super::scan::parse_ctime;
    use super::super::{Scan, ScanFunction};
    use super::super::{VdevKind, VdevState};
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("21K"), Some(21_504));
        assert_eq!(parse_size("1916279144448"), Some(1_916_279_144_448));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_count("-"), None);
        assert_eq!(parse_duration("00:15:42"), Some(942));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(VdevKind::classify("raidz3-2"), VdevKind::Raidz { parity: 3 });
        assert_eq!(VdevKind::classify("indirect-0"), VdevKind::Indirect);
        assert_eq!(VdevKind::classify("draid2-1-0"), VdevKind::DraidSpare);
        assert_eq!(
            VdevKind::classify("draid2"),
            VdevKind::Draid { parity: 2, data: None, children: None, spares: None }
        );
        assert_eq!(VdevKind::classify("wwn-0x5000c500af8ec287-part2"), VdevKind::Device);
        assert_eq!(VdevKind::classify("nvme-Samsung_SSD-2"), VdevKind::Device);
        let t = parse_ctime("Wed Jan  7 03:42:23 PM PST 2026").unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour), (2026, 1, 7, 15));
        assert_eq!(serde_json::to_value(VdevState::Inuse).unwrap(), "INUSE");
        let v = serde_json::to_value(Scan::Canceled { function: ScanFunction::Scrub, at: None }).unwrap();
        assert_eq!(v["state"], "canceled");
    }
}
