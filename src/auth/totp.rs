//! TOTP second factor (RFC 6238 via totp-rs: SHA-1, 6 digits, 30 s steps, ±1 step of skew) with
//! replay refusal: a code is accepted only for a step later than the last accepted one, so neither the
//! same code nor an earlier one can be used twice. Plus the QR code (SVG) and single-use backup codes.

use totp_rs::{Algorithm, TOTP};

pub const DIGITS: usize = 6;
pub const STEP_S: u64 = 30;
pub const BACKUP_CODES: usize = 10;

fn totp(secret: &[u8], account: &str) -> anyhow::Result<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_S, secret.to_vec(), Some("proxwatch".into()), account.into())
        .map_err(|e| anyhow::anyhow!("TOTP: {e}"))
}

/// A new random 160-bit secret (RFC 4226 recommends the HMAC output size).
pub fn new_secret() -> [u8; 20] {
    super::random_bytes::<20>()
}

/// The `otpauth://` URI authenticator apps scan.
pub fn otpauth_uri(secret: &[u8], account: &str, host: &str) -> anyhow::Result<String> {
    let mut t = totp(secret, account)?;
    t.issuer = Some(format!("proxwatch {host}"));
    Ok(t.get_url())
}

/// The URI as an SVG QR code.
pub fn qr_svg(uri: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The code for a given step.
pub fn code_at_step(secret: &[u8], step: u64) -> anyhow::Result<String> {
    Ok(totp(secret, "x")?.generate(step * STEP_S))
}

/// Checks `code` at unix time `now`. Returns the step it matched when that step is later than
/// `last_step`; `None` for a wrong, malformed, or replayed code.
pub fn check(secret: &[u8], code: &str, now: u64, last_step: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP_S;
    let mut matched = None;
    // Check every candidate (no early exit) so timing does not tell which step matched.
    for step in current.saturating_sub(1)..=current + 1 {
        if let Ok(expected) = code_at_step(secret, step) {
            if super::ct_eq(&expected, code) && step > last_step {
                matched = Some(step);
            }
        }
    }
    matched
}

/// Ten fresh backup codes like `k3f9q-x7m2p`, to show once.
pub fn new_backup_codes() -> Vec<String> {
    (0..BACKUP_CODES)
        .map(|_| {
            let raw = data_encoding::BASE32_NOPAD.encode(&super::random_bytes::<7>()).to_lowercase();
            format!("{}-{}", &raw[..5], &raw[5..10])
        })
        .collect()
}

/// The stored form of a backup code (hyphens, spaces and case do not matter when typed).
pub fn backup_code_hash(code: &str) -> String {
    let norm: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    super::sha256_hex(&norm)
}

/// The stored form of a backup code since schema 6: HMAC-SHA256 under a key derived from the sealing
/// key (kept apart from the database), over the user and the normalised code, so a copied database
/// alone cannot be used to test guesses, and equal codes of two users do not look equal.
pub fn backup_code_mac(key: &[u8; 32], user: &str, code: &str) -> String {
    use hmac::Mac;
    let norm: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(user.as_bytes());
    mac.update(&[0]);
    mac.update(norm.as_bytes());
    format!("h1:{}", data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()))
}

/// Whether something typed looks like a backup code rather than a 6-digit TOTP code.
pub fn looks_like_backup_code(code: &str) -> bool {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 10
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows, secret "12345678901234567890".
    #[test]
    fn rfc6238_test_vectors() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new(Algorithm::SHA1, 8, 1, 30, secret, None, "x".into()).unwrap();
        for (time, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(t.generate(time), code, "T={time}");
        }
    }

    #[test]
    fn codes_are_single_use_and_never_older_than_the_last() {
        let secret = new_secret();
        let now = 1_800_000_015;
        let step = now / STEP_S;
        let code = code_at_step(&secret, step).unwrap();
        let accepted = check(&secret, &code, now, 0).unwrap();
        assert_eq!(accepted, step);
        assert_eq!(check(&secret, &code, now, accepted), None, "replay refused");
        let previous = code_at_step(&secret, step - 1).unwrap();
        assert_eq!(check(&secret, &previous, now, accepted), None, "an earlier step is refused too");
        let next = code_at_step(&secret, step + 1).unwrap();
        assert_eq!(check(&secret, &next, now + 30, accepted), Some(step + 1));
        // ±1 step of skew, not 2.
        let old = code_at_step(&secret, step - 2).unwrap();
        assert_eq!(check(&secret, &old, now, 0), None);
        assert_eq!(check(&secret, "12345", now, 0), None);
        assert_eq!(check(&secret, "abcdef", now, 0), None);
    }

    #[test]
    fn uri_qr_and_backup_codes() {
        let secret = new_secret();
        let uri = otpauth_uri(&secret, "alice", "pve1").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains("secret=") && uri.contains("alice"));
        assert!(qr_svg(&uri).unwrap().contains("<svg"));
        let codes = new_backup_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 11 && looks_like_backup_code(c)));
        assert_eq!(backup_code_hash(&codes[0]), backup_code_hash(&codes[0].to_uppercase().replace('-', " ")));
    }
}
