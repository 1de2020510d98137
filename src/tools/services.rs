//! systemd unit states from one `systemctl show -p Id,LoadState,ActiveState,SubState,Result <units…>`
//! call. `systemctl show` prints `Key=Value` lines, one block per unit separated by a blank line; the
//! property order is systemd's, not the `-p` order, so the keys are read rather than positions
//! (which is why `--value` is not used). A unit that does not exist is `LoadState=not-found` —
//! not installed, which is not the same as failed.

use crate::host::{Host, ToolError};

pub use crate::model::services::UnitState;

const WHAT: &str = "systemctl show";

pub fn argv<'a>(units: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["systemctl", "show", "-p", "Id,LoadState,ActiveState,SubState,Result"];
    v.extend_from_slice(units);
    v
}

/// Parses the blocks; the result has one entry per block, in order (the order of the units asked).
pub fn parse(text: &str) -> Result<Vec<UnitState>, ToolError> {
    let mut out = Vec::new();
    let mut cur: Option<UnitState> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            out.extend(cur.take());
            continue;
        }
        let (k, v) =
            line.split_once('=').ok_or_else(|| ToolError::parse(WHAT, i + 1, line, "expected Key=Value"))?;
        let u = cur.get_or_insert_with(UnitState::default);
        let v = v.to_string();
        match k {
            "Id" => u.id = v,
            "LoadState" => u.load = v,
            "ActiveState" => u.active = v,
            "SubState" => u.sub = v,
            "Result" => u.result = v,
            _ => {}
        }
    }
    out.extend(cur);
    Ok(out)
}

/// Reads the states of `units` (names with `.service`); units missing from the answer are reported
/// as not found.
pub async fn states(host: &Host, units: &[&str]) -> Result<Vec<UnitState>, ToolError> {
    let out = host.run(&argv(units)).await?;
    if out.code != 0 && out.stdout.trim().is_empty() {
        // The first line says why (`System has not been booted with systemd ...`).
        let stderr: String = out.stderr.trim().lines().next().unwrap_or("").chars().take(300).collect();
        return Err(ToolError::Failed { tool: WHAT.into(), code: Some(out.code), stderr });
    }
    let parsed = parse(&out.stdout)?;
    Ok(units
        .iter()
        .map(|name| {
            parsed.iter().find(|u| u.id == *name).cloned().unwrap_or_else(|| UnitState {
                id: (*name).to_string(),
                load: "not-found".into(),
                active: "inactive".into(),
                sub: "dead".into(),
                result: String::new(),
            })
        })
        .collect())
}

/// systemd's cgroup v2 slice of system services.
pub const SYSTEM_SLICE: &str = "/sys/fs/cgroup/system.slice";

/// Whether each unit's cgroup holds processes (`cgroup.events` says `populated 1`; a unit that is not
/// running has no cgroup): a file read per unit, where asking systemd is a process. `None` on a host
/// without systemd's cgroup v2 hierarchy.
pub fn populated(host: &Host, units: &[&str]) -> Option<Vec<bool>> {
    if !host.exists(SYSTEM_SLICE) {
        return None;
    }
    Some(
        units
            .iter()
            .map(|u| {
                host.read(&format!("{SYSTEM_SLICE}/{u}/cgroup.events"))
                    .is_ok_and(|t| t.lines().any(|l| l.trim() == "populated 1"))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "Id=pveproxy.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n\n\
Result=exit-code\nId=pvescheduler.service\nActiveState=failed\nSubState=failed\nLoadState=loaded\n\n\
Id=chrony.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\n";

    #[test]
    fn blocks_are_read_by_key_not_by_position() {
        let units = parse(SHOW).unwrap();
        assert_eq!(units.len(), 3);
        assert!(units[0].is_active() && units[0].installed());
        assert_eq!(units[1].id, "pvescheduler.service");
        assert!(units[1].is_failed());
        assert_eq!(units[1].result, "exit-code");
        assert!(!units[2].installed(), "not-found is not installed");
        assert!(!units[2].is_failed(), "and not failed");
    }

    #[test]
    fn garbage_names_the_line() {
        let err = parse("Id=a.service\nwhat\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
