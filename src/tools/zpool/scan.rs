//! The `scan:` line of `zpool status`: the last or current scrub, resilver or error scrub, in
//! progress, paused, finished or canceled, with amounts, rates, percentage, ETA and the times
//! printed (ctime text, or Unix seconds from `-j --json-int`). The layouts per
//! `print_scan_scrub_resilver_status()` across releases are listed at [`decode_scan`].

use super::{CivilTime, Scan, ScanFinished, ScanFunction, ScanProgress, ScanTime};

use super::numbers::{parse_duration, parse_size};

impl ScanTime {
    pub(super) fn from_text(text: &str) -> Self {
        let text = text.trim().to_string();
        ScanTime { local: parse_ctime(&text), unix: None, text }
    }
}

/// Decodes the `scan:` text (first line and continuation lines joined by `\n`). Layouts per
/// `print_scan_scrub_resilver_status()` across releases:
///
/// * `scrub repaired 0B in 00:15:42 with 0 errors on Sun Feb 11 04:00:01 2024`
/// * `resilvered 21K in 00:00:00 with 0 errors on ...`
/// * `scrub canceled on Sun Jan 18 12:18:11 2026`
/// * `scrub in progress since ...` + `704G / 1.66T scanned at 5.67G/s, 0B / 1.66T issued` (2.2+) or
///   `6.13T scanned at 7.82G/s, 6.10T issued at 7.78G/s, 6.13T total` (0.8–2.1) or
///   `626G scanned out of 1.75T at 122M/s, 2h43m to go` (0.7) + `0B repaired, 0.00% done, ...`
/// * `resilver (draid1:4d:11c:1s-0) in progress since ...` (sequential dRAID resilver)
/// * `scrub: resilver in progress, 0.14% done, 0h0m to go` (Solaris-era, ZFS-8000-9P)
/// * `scrub paused since ...`, `none requested`
pub fn decode_scan(text: &str) -> Scan {
    let text = text.trim();
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() || first == "none requested" {
        return Scan::None;
    }
    let (function, rest) = if let Some(r) = first.strip_prefix("error scrub") {
        (ScanFunction::ErrorScrub, r.trim_start())
    } else if let Some(r) = first.strip_prefix("scrub") {
        (ScanFunction::Scrub, r.trim_start())
    } else if let Some(r) = first.strip_prefix("resilvered") {
        // `resilvered 21K in ...`: the verb doubles as the amount's label.
        (ScanFunction::Resilver, r.trim_start())
    } else if let Some(r) = first.strip_prefix("resilver") {
        (ScanFunction::Resilver, r.trim_start())
    } else {
        return Scan::Other { text: text.to_string() };
    };
    // `resilver (draid1:4d:11c:1s-0) in progress`: the vdev being sequentially rebuilt.
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')').map(|(_, after)| after.trim_start()).unwrap_or(r),
        None => rest,
    };
    if let Some(r) = rest.strip_prefix("in progress").or_else(|| rest.strip_prefix("paused")) {
        let paused = rest.starts_with("paused");
        let mut p = ScanProgress { function: Some(function), ..Default::default() };
        let mut segments: Vec<&str> = Vec::new();
        if let Some(since) = r.trim_start().strip_prefix("since ") {
            p.since = Some(ScanTime::from_text(since));
        } else {
            segments.extend(r.split(','));
        }
        for l in text.lines().skip(1) {
            segments.extend(l.split(','));
        }
        for seg in segments {
            progress_segment(seg.trim(), &mut p);
        }
        return if paused { Scan::Paused(p) } else { Scan::InProgress(p) };
    }
    if let Some(at) = rest.strip_prefix("canceled on ") {
        return Scan::Canceled { function, at: Some(ScanTime::from_text(at)) };
    }
    // `repaired 0B in 00:15:42 with 0 errors on <date>` (scrub) or `21K in ... on <date>` (resilver);
    // Solaris: `completed after 0h0m with 0 errors on <date>`.
    let rest = rest.strip_prefix("repaired ").unwrap_or(rest);
    let (amount, after) = match rest.strip_prefix("completed after ") {
        Some(r) => (None, r),
        None => match rest.split_once(" in ") {
            Some((a, r)) => (Some(a.trim()), r),
            None => return Scan::Other { text: text.to_string() },
        },
    };
    let Some((duration, after)) = after.split_once(" with ") else {
        return Scan::Other { text: text.to_string() };
    };
    let Some((errors, ended)) = after.split_once(" errors on ") else {
        return Scan::Other { text: text.to_string() };
    };
    let Ok(errors) = errors.trim().parse::<u64>() else {
        return Scan::Other { text: text.to_string() };
    };
    Scan::Finished(ScanFinished {
        function,
        repaired: amount.and_then(parse_size),
        duration: Some(duration.trim().to_string()),
        duration_secs: parse_duration(duration),
        errors,
        ended: Some(ScanTime::from_text(ended)),
    })
}

fn progress_segment(seg: &str, p: &mut ScanProgress) {
    let size_rate = |s: &str| s.trim().strip_suffix("/s").and_then(parse_size);
    if let Some(eta) = seg.strip_suffix(" to go") {
        // 0.7 packs the ETA into the scanned segment: `626G scanned out of 1.75T at 122M/s, 2h43m to go`.
        p.eta = Some(eta.trim().to_string());
        p.eta_secs = parse_duration(eta);
    } else if seg == "no estimated completion time" {
        p.eta = None;
    } else if let Some(pct) = seg.strip_suffix("% done") {
        p.percent_done = pct.trim().parse().ok();
    } else if let Some(a) = seg.strip_suffix(" repaired").or_else(|| seg.strip_suffix(" resilvered")) {
        p.repaired = parse_size(a.trim());
    } else if let Some(t) = seg.strip_suffix(" total") {
        p.total = parse_size(t.trim());
    } else if let Some((amount, after)) = seg.split_once(" scanned") {
        // `704G / 1.66T scanned at 5.67G/s` | `6.13T scanned at 7.82G/s` |
        // `626G scanned out of 1.75T at 122M/s`
        let (done, total) = amount.split_once('/').map_or((amount, None), |(d, t)| (d, Some(t)));
        p.scanned = parse_size(done.trim());
        if let Some(t) = total {
            p.total = parse_size(t.trim()).or(p.total);
        }
        let after = after.trim();
        let after = match after.strip_prefix("out of ") {
            Some(r) => {
                let (t, r) = r.split_once(' ').unwrap_or((r, ""));
                p.total = parse_size(t).or(p.total);
                r.trim()
            }
            None => after,
        };
        if let Some(rate) = after.strip_prefix("at ") {
            p.scan_rate = size_rate(rate);
        }
    } else if let Some((amount, after)) = seg.split_once(" issued") {
        // `0B / 1.66T issued` | `6.10T issued at 7.78G/s` | `1.59T issued 6.07G/s` (dRAID Howto)
        let (done, total) = amount.split_once('/').map_or((amount, None), |(d, t)| (d, Some(t)));
        p.issued = parse_size(done.trim());
        if let Some(t) = total {
            p.total = parse_size(t.trim()).or(p.total);
        }
        let after = after.trim();
        let rate = after.strip_prefix("at ").unwrap_or(after);
        if !rate.is_empty() {
            p.issue_rate = size_rate(rate);
        }
    }
}

/// `Sun Feb 11 04:00:01 2024` (ctime) and `Wed Jan  7 02:35:05 AM PST 2026` (the `%c`-like string of
/// `zpool status -j` without `--json-int`).
pub(super) fn parse_ctime(s: &str) -> Option<CivilTime> {
    use crate::civil::MONTHS;
    let toks: Vec<&str> = s.split_whitespace().collect();
    let mi = toks.iter().position(|t| MONTHS.contains(t))?;
    let month = MONTHS.iter().position(|m| *m == toks[mi])? as u32 + 1;
    let day: u32 = toks.get(mi + 1)?.parse().ok()?;
    let hms: Vec<u32> = toks.get(mi + 2)?.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let &[mut hour, minute, second] = hms.as_slice() else { return None };
    match toks.get(mi + 3).copied() {
        Some("PM") if hour < 12 => hour += 12,
        Some("AM") if hour == 12 => hour = 0,
        _ => {}
    }
    let year: i32 = toks.iter().rev().find_map(|t| (t.len() == 4).then(|| t.parse().ok()).flatten())?;
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(CivilTime { year, month, day, hour, minute, second })
}

#[cfg(test)]
mod tests {
    use super::super::status::parse_status;
    use super::super::tests::{errs, leaf, one};
    use super::super::{VdevClass, VdevKind, VdevState};
    use super::*;

    #[test]
    fn resilver_in_progress_with_percent_and_eta() {
        let p = one("ozdocs_draid_healing_resilver_replacing.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(s.function, Some(ScanFunction::Resilver));
        assert_eq!(s.percent_done, Some(99.44));
        assert_eq!((s.eta.as_deref(), s.eta_secs), (Some("00:00:04"), Some(4)));
        assert_eq!(s.repaired, parse_size("565G"));
        assert_eq!(
            (s.scanned, s.issued, s.total),
            (parse_size("6.13T"), parse_size("6.10T"), parse_size("6.13T"))
        );
        assert_eq!((s.scan_rate, s.issue_rate), (parse_size("7.82G"), parse_size("7.78G")));
        assert_eq!(s.since.as_ref().unwrap().text, "Tue Nov 24 14:45:16 2020");
        // replacing-0 nested in spare-6 nested in the dRAID vdev.
        let draid = &p.root.as_ref().unwrap().children[0];
        assert_eq!(
            draid.kind,
            VdevKind::Draid { parity: 1, data: Some(4), children: Some(11), spares: Some(1) }
        );
        let spare = draid.children.iter().find(|c| c.name == "spare-6").unwrap();
        assert_eq!(spare.kind, VdevKind::Spare);
        let replacing = &spare.children[0];
        assert_eq!((replacing.name.as_str(), &replacing.kind), ("replacing-0", &VdevKind::Replacing));
        assert_eq!(replacing.children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["sdg", "sdl"]);
        assert_eq!(replacing.children[1].note.as_deref(), Some("(resilvering)"));
        assert_eq!(spare.children[1].kind, VdevKind::DraidSpare);
        assert_eq!(draid.leaves().len(), 13);
        // The RST block shifts the spare row left of `spares`; it still lands in the group.
        let spares = p.section(VdevClass::Spares).unwrap();
        assert_eq!(spares.vdevs.len(), 1);
        assert_eq!(spares.vdevs[0].state, Some(VdevState::Inuse));
        assert_eq!(spares.vdevs[0].note.as_deref(), Some("currently in use"));
        assert_eq!(spares.vdevs[0].errors, None);

        // Sequential rebuild: `resilver (draid1:4d:11c:1s-0) in progress`, `issued 6.07G/s` without "at".
        let p = one("ozdocs_draid_sequential_resilver_spare_inuse.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!((s.percent_done, s.eta_secs), (Some(57.17), Some(201)));
        assert_eq!(s.issue_rate, parse_size("6.07G"));

        // Solaris-era one-liner.
        let p = one("ozdocs_msg_9P_replacing_resilver_old_scrub_line.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (s.function, s.percent_done, s.eta.as_deref(), s.eta_secs),
            (Some(ScanFunction::Resilver), Some(0.14), Some("0h0m"), Some(0))
        );
        let r = leaf(&p, "replacing");
        assert_eq!(r.kind, VdevKind::Replacing);
        assert_eq!(r.children[0].errors, errs(0, 0, 3));
        assert_eq!(r.children[1].note.as_deref(), Some("58.5K resilvered"));
    }

    #[test]
    fn scrub_in_progress_canceled_and_repaired() {
        let p = one("zse_04-scrub-progress.txt");
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(s.function, Some(ScanFunction::Scrub));
        assert_eq!((s.scanned, s.total, s.issued), (parse_size("704G"), parse_size("1.66T"), Some(0)));
        assert_eq!(
            (s.scan_rate, s.repaired, s.percent_done, s.eta.as_deref()),
            (parse_size("5.67G"), Some(0), Some(0.0), None)
        );

        let p = one("zse_09-scrub-cancel.txt");
        let Scan::Canceled { function, at } = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (*function, at.as_ref().unwrap().text.as_str()),
            (ScanFunction::Scrub, "Sun Jan 18 12:18:11 2026")
        );

        let p = one("zse_03-resilvered.txt");
        let Scan::Finished(f) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!((f.function, f.repaired), (ScanFunction::Resilver, Some(21 * 1024)));

        let p = one("zse_02-online-data-corruption.txt");
        assert_eq!(p.state, VdevState::Online);
        let Scan::Finished(f) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (f.errors, f.duration.as_deref(), f.duration_secs),
            (1, Some("14h7m"), Some(14 * 3600 + 7 * 60))
        );
        let e = p.errors.as_ref().unwrap();
        assert_eq!(e.count, Some(1), "ONLINE yet one data error");
        assert_eq!(e.messages[0], "List of errors unavailable: permission denied");
        assert_eq!(p.see.as_deref(), Some("http://zfsonlinux.org/msg/ZFS-8000-8A"));

        let demo = parse_status(include_str!("../../../scenarios/demo/commands/zpool/status.txt")).unwrap();
        let Scan::Finished(f) = &demo[1].scan else { panic!() };
        assert_eq!((f.repaired, f.duration_secs), (Some(384 * 1024), Some(9 * 3600 + 41 * 60 + 17)));

        assert_eq!(
            p.scan,
            decode_scan("scrub repaired 0B in 14h7m with 1 errors on Sun Feb  4 20:54:25 2024")
        );
        let Scan::InProgress(s) = decode_scan(
            "scrub in progress since Sun Feb  4 12:04:33 2018\n626G scanned out of 1.75T at 122M/s, 2h43m to go\n0B repaired, 34.86% done",
        ) else {
            panic!()
        };
        assert_eq!(
            (s.scanned, s.total, s.scan_rate, s.eta_secs, s.percent_done),
            (
                parse_size("626G"),
                parse_size("1.75T"),
                parse_size("122M"),
                Some(2 * 3600 + 43 * 60),
                Some(34.86)
            )
        );
        let Scan::Finished(f) =
            decode_scan("resilvered 2.31T in 1 days 02:55:32 with 0 errors on Sat Dec 24 02:33:08 2022")
        else {
            panic!()
        };
        assert_eq!(f.duration_secs, Some(86_400 + 2 * 3600 + 55 * 60 + 32));
        assert!(matches!(
            decode_scan(
                "scrub paused since Mon Jan  1 00:00:00 2024\nscrub started on Sun Dec 31 00:00:00 2023\n1.2T scanned, 800G issued, 2.0T total\n0B repaired, 40.00% done"
            ),
            Scan::Paused(ScanProgress { percent_done: Some(40.0), .. })
        ));
        assert!(matches!(decode_scan("something new"), Scan::Other { .. }));
    }
}
