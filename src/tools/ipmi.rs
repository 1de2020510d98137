//! IPMI sensors and the system event log through `ipmitool` over the local BMC (`/dev/ipmi0`).
//! No maintained Rust crate speaks the OpenIPMI ioctl interface well enough to replace ipmitool, so it
//! runs through the host seam with its own timeout: a wedged BMC makes ipmitool hang for minutes, and
//! the host kills it when the timeout passes.
//!
//! `ipmitool sensor` prints one row per sensor, 10 `|`-separated columns:
//! `name | reading | unit | status | lnr | lcr | lnc | unc | ucr | unr` (`na` where absent, trailing
//! spaces). Threshold sensors have a decimal reading and a status `ok`/`nc`/`cr`/`nr`/`ns`/`na`;
//! discrete sensors print a hex reading (`0x0`), the unit `discrete` and a state mask (`0x0180`) as
//! status. A sensor whose reading and status are both `na` is not populated (an empty CPU socket, a
//! missing PSU) and is dropped. `sel elist` rows are `id | date | time | sensor | event | direction
//! [| detail]`; a BMC whose clock was never set prints `Pre-Init` as the date and the seconds since it
//! started as the time (see `tests/fixtures/upstream/ipmitool/README.md`).

use crate::host::{Host, ToolError};
use std::time::Duration;

pub use crate::model::ipmi::{SelEntry, Sensor, SensorList, Status};

pub const DEVICE: &str = "/dev/ipmi0";
/// SEL entries kept (the newest); a BMC's log holds up to a few thousand.
pub const MAX_SEL: usize = 200;
/// Sensors kept at most.
pub const MAX_SENSORS: usize = 512;

fn num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses `ipmitool sensor`.
pub fn parse_sensor(text: &str) -> Result<SensorList, ToolError> {
    const WHAT: &str = "ipmitool sensor";
    let mut out = SensorList::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() < 4 {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected at least 4 `|`-separated columns"));
        }
        let (name, reading, unit, status) = (cols[0], cols[1], cols[2], cols[3]);
        if name.is_empty() {
            return Err(ToolError::parse(WHAT, i + 1, line, "empty sensor name"));
        }
        if reading == "na" && matches!(status, "na" | "ns" | "") {
            out.unpopulated += 1;
            continue;
        }
        let t = |k: usize| cols.get(k).and_then(|s| num(s));
        let discrete = unit == "discrete" || reading.starts_with("0x");
        let (value, status, state) = if discrete {
            (None, Status::Discrete, Some(format!("{reading} {status}").trim().to_string()))
        } else {
            let status = match status {
                "ok" => Status::Ok,
                "nc" => Status::Nc,
                "cr" => Status::Cr,
                "nr" => Status::Nr,
                "ns" => Status::Ns,
                "na" => Status::Na,
                other => {
                    return Err(ToolError::parse(WHAT, i + 1, line, format!("unknown status {other:?}")));
                }
            };
            let value = match reading {
                "na" => None,
                r => Some(
                    num(r).ok_or_else(|| ToolError::parse(WHAT, i + 1, line, "reading is not a number"))?,
                ),
            };
            (value, status, None)
        };
        if out.sensors.len() < MAX_SENSORS {
            let mut name = name.to_string();
            name.truncate(64);
            out.sensors.push(Sensor {
                name,
                value,
                unit: unit.to_string(),
                status,
                state,
                lnr: t(4),
                lcr: t(5),
                lnc: t(6),
                unc: t(7),
                ucr: t(8),
                unr: t(9),
            });
        }
    }
    Ok(out)
}

/// Parses `ipmitool sel elist` (or `sel list`), keeping the newest [`MAX_SEL`] entries.
pub fn parse_sel(text: &str) -> Result<Vec<SelEntry>, ToolError> {
    const WHAT: &str = "ipmitool sel elist";
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() < 5 {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected at least 5 `|`-separated columns"));
        }
        let id = cols[0];
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ToolError::parse(WHAT, i + 1, line, "record id is not hex"));
        }
        let (time, pre_init_s) = if cols[1] == "Pre-Init" {
            let s = cols[2].parse().map_err(|_| {
                ToolError::parse(WHAT, i + 1, line, "Pre-Init time is not a number of seconds")
            })?;
            (None, Some(s))
        } else {
            (Some(us_date_time(cols[1], cols[2]).unwrap_or_else(|| format!("{} {}", cols[1], cols[2]))), None)
        };
        let opt = |k: usize| cols.get(k).filter(|s| !s.is_empty()).map(|s| s.to_string());
        out.push(SelEntry {
            id: id.to_string(),
            time,
            pre_init_s,
            sensor: cols[3].to_string(),
            event: cols[4].to_string(),
            direction: opt(5),
            detail: if cols.len() > 7 { Some(cols[6..].join(" | ")) } else { opt(6) },
            new: false,
        });
    }
    if out.len() > MAX_SEL {
        out.drain(..out.len() - MAX_SEL);
    }
    Ok(out)
}

/// `07/30/2024` + `10:15:32` -> `2024-07-30 10:15:32`.
fn us_date_time(date: &str, time: &str) -> Option<String> {
    let mut p = date.split('/');
    let (m, d, y) = (p.next()?, p.next()?, p.next()?);
    (m.len() == 2 && d.len() == 2 && y.len() == 4).then(|| format!("{y}-{m}-{d} {time}"))
}

async fn run(host: &Host, argv: &[&str], timeout: Duration) -> Result<String, ToolError> {
    let out = host.run_with_timeout(argv, timeout).await?;
    if out.code != 0 {
        let mut stderr = out.stderr.trim().to_string();
        stderr.truncate(300);
        return Err(ToolError::Failed { tool: argv.join(" "), code: Some(out.code), stderr });
    }
    Ok(out.stdout)
}

/// Runs `ipmitool sensor`, killed at `timeout`.
/// `program` is `ipmitool` (tests pass a stand-in).
pub async fn sensors(host: &Host, program: &str, timeout: Duration) -> Result<SensorList, ToolError> {
    parse_sensor(&run(host, &[program, "sensor"], timeout).await?)
}

/// Runs `ipmitool sel elist`, killed at `timeout`. An empty log prints nothing on stdout.
pub async fn sel(host: &Host, program: &str, timeout: Duration) -> Result<Vec<SelEntry>, ToolError> {
    parse_sel(&run(host, &[program, "sel", "elist"], timeout).await?)
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/ipmitool/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
    }

    #[test]
    fn sensor_healthy_and_warn() {
        let l = parse_sensor(&fixture("ipmisim_sensor_healthy.txt")).unwrap();
        assert_eq!(l.sensors.len(), 3);
        let cpu = &l.sensors[0];
        assert_eq!(
            (cpu.name.as_str(), cpu.value, cpu.unit.as_str(), cpu.status),
            ("CPU Temp", Some(45.0), "degrees C", Status::Ok)
        );
        assert_eq!((cpu.lnc, cpu.unc, cpu.ucr, cpu.unr), (None, Some(85.0), Some(95.0), Some(100.0)));
        assert_eq!(
            (l.sensors[1].lnr, l.sensors[1].lcr, l.sensors[1].lnc),
            (Some(300.0), Some(500.0), Some(700.0))
        );

        let l = parse_sensor(&fixture("ipmisim_sensor_warn_cpu_unc_fan_lnc.txt")).unwrap();
        let st: Vec<(&str, Status, Option<f64>)> =
            l.sensors.iter().map(|s| (s.name.as_str(), s.status, s.value)).collect();
        assert_eq!(
            st,
            vec![
                ("CPU Temp", Status::Nc, Some(88.0)),
                ("System Fan1", Status::Ok, Some(4200.0)),
                ("System Fan2", Status::Nc, Some(600.0))
            ]
        );
    }

    /// Discrete sensors and unpopulated rows, in the layout ipmitool prints on server boards.
    #[test]
    fn sensor_discrete_unpopulated_and_states() {
        let text = "\
CPU1 Temp        | 45.000     | degrees C  | ok    | na        | 0.000     | 0.000     | 93.000    | 98.000    | 98.000    \n\
CPU2 Temp        | na         |            | na    | na        | na        | na        | na        | na        | na        \n\
PS1 Status       | 0x1        | discrete   | 0x0100| na        | na        | na        | na        | na        | na        \n\
FAN3             | 300.000    | RPM        | cr    | 300.000   | 500.000   | 700.000   | na        | na        | na        \n\
Vcore            | 1.900      | Volts      | nr    | na        | na        | na        | 1.5       | 1.6       | 1.7       \n\
Chassis Intru    | na         | discrete   | na    | na        | na        | na        | na        | na        | na        \n";
        let l = parse_sensor(text).unwrap();
        assert_eq!(l.unpopulated, 2);
        let ps = &l.sensors[1];
        assert_eq!((ps.status, ps.value, ps.state.as_deref()), (Status::Discrete, None, Some("0x1 0x0100")));
        assert_eq!((l.sensors[2].status, l.sensors[3].status), (Status::Cr, Status::Nr));
        let err = parse_sensor("CPU Temp | 45 | degrees C | weird | na\n").unwrap_err();
        assert!(err.to_string().contains("line 1") && err.to_string().contains("weird"), "{err}");
        assert!(parse_sensor("garbage\n").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn sel_pre_init_and_recovery() {
        let s = parse_sel(&fixture("ipmisim_sel_elist_after_recovery.txt")).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].pre_init_s, Some(826));
        assert_eq!(s[0].time, None);
        assert_eq!(s[0].sensor, "Temperature CPU Temp");
        assert_eq!(s[0].event, "Upper Non-critical going high");
        assert_eq!(s[0].direction.as_deref(), Some("Asserted"));
        assert_eq!(s[0].detail.as_deref(), Some("Reading 88 > Threshold 85 degrees C"));
        assert_eq!(s[3].direction.as_deref(), Some("Deasserted"));
        let l = parse_sel(&fixture("ipmisim_sel_list_warn.txt")).unwrap();
        assert_eq!((l.len(), l[1].sensor.as_str(), l[1].detail.clone()), (2, "Fan #0x42", None));
        assert!(parse_sel(&fixture("ipmisim_sel_list_empty.txt")).unwrap().is_empty());
    }

    #[test]
    fn sel_dated_entries_hex_ids_and_bounds() {
        let s = parse_sel(
            "  1a | 07/30/2024 | 10:15:32 | Power Supply PS2 Status | Power Supply AC lost | Asserted\n",
        )
        .unwrap();
        assert_eq!((s[0].id.as_str(), s[0].time.as_deref()), ("1a", Some("2024-07-30 10:15:32")));
        let many: String = (1..=250)
            .map(|i| {
                format!("{i:4x} |  Pre-Init  |0000000001| Fan F | Lower Critical going low | Asserted\n")
            })
            .collect();
        let s = parse_sel(&many).unwrap();
        assert_eq!((s.len(), s[0].id.as_str()), (MAX_SEL, "33"), "the newest are kept");
        let err = parse_sel("  1 | Pre-Init | soon | x | y | Asserted\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[tokio::test]
    async fn a_hung_ipmitool_is_killed_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("ipmitool");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        let mut perms = std::fs::metadata(&script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).unwrap();
        let host = Host::system(Duration::from_secs(60));
        let path = script.to_str().unwrap();
        let err = sensors(&host, path, Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, ToolError::Timeout { .. }), "{err}");
    }
}
