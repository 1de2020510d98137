//! Proxmox VE identity: `pveversion` prints one line such as
//! `pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)`.

use crate::host::{Host, ToolError};

/// The manager version line, or `Ok(None)` when this is not a Proxmox VE host (`pveversion` missing).
pub async fn version(host: &Host) -> Result<Option<String>, ToolError> {
    match host.run_ok(&["pveversion"]).await {
        Ok(out) => parse_version(&out).map(Some),
        Err(ToolError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn parse_version(out: &str) -> Result<String, ToolError> {
    let line = out.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !line.starts_with("pve-manager/") {
        return Err(ToolError::parse("pveversion output", 1, line, "expected `pve-manager/<version>/...`"));
    }
    Ok(line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_manager_line() {
        let v = parse_version("pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)\n").unwrap();
        assert_eq!(v, "pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)");
        let err = parse_version("bash: pveversion: command not found\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
