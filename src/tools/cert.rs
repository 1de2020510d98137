//! Certificate expiry: the first certificate of a PEM file (the leaf of a chain), decoded with
//! `x509-parser`. Used for Proxmox's `pveproxy-ssl.pem` / `pve-ssl.pem` and proxwatch's own.

use serde::Serialize;

use crate::host::ToolError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// Decodes the first `CERTIFICATE` block of `pem`; `what` names the file in errors.
pub fn parse_pem(what: &str, pem: &[u8]) -> Result<CertInfo, ToolError> {
    for (i, block) in x509_parser::pem::Pem::iter_from_buffer(pem).enumerate() {
        let block = block.map_err(|e| ToolError::parse(what, 1, "", format!("PEM block {}: {e}", i + 1)))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| ToolError::parse(what, 1, "", format!("certificate {}: {e}", i + 1)))?;
        let v = cert.validity();
        return Ok(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
        });
    }
    Err(ToolError::parse(what, 1, "", "no CERTIFICATE block"))
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    #[test]
    fn reads_the_expiry_of_a_pem_certificate() {
        let pem = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/health/pve-ssl-expires-2025-01-31.pem"
        ))
        .unwrap();
        let c = parse_pem("pve-ssl.pem", &pem).unwrap();
        assert_eq!(c.not_after, 1_738_281_600, "2025-01-31T00:00:00Z");
        assert_eq!(c.not_before, 1_704_067_200);
        assert!(c.subject.contains("pve1.example.test"), "{}", c.subject);
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(parse_pem("x.pem", b"hello").is_err());
        let bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_pem("x.pem", bad).is_err());
    }
}
