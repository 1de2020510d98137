//! Secrets at rest (TOTP secrets now, channel credentials later) are sealed with XChaCha20-Poly1305
//! under a key kept in `<data-dir>/secret.key` (mode 0600), apart from the database: a copied
//! database alone reveals no secret. The same key file also derives the session-signing key.

use std::path::Path;

use anyhow::Context;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct Keys {
    master: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Loads the key file, creating it (0600) on first start.
    // proxwatch's own secret in its data dir, not the host's state: read directly.
    #[allow(clippy::disallowed_methods)]
    pub fn load_or_create(path: &Path) -> anyhow::Result<Keys> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let master: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key file", path.display()))?;
                Ok(Keys { master })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let master = super::random_bytes::<32>();
                write_private(path, &master)?;
                Ok(Keys { master })
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// A throwaway key (tests).
    pub fn ephemeral() -> Keys {
        Keys { master: super::random_bytes::<32>() }
    }

    /// A key for one purpose, derived with HMAC-SHA256 so purposes never share key material.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.master).unwrap_or_else(|_| unreachable!());
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.derive("seal").into())
    }

    /// nonce (24 bytes) || ciphertext+tag.
    pub fn seal(&self, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce = super::random_bytes::<24>();
        let ct = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plain)
            .map_err(|_| anyhow::anyhow!("seal failed"))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    pub fn open(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 24 + 16 {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ct) = sealed.split_at(24);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key (secret.key replaced?)"))
    }
}

/// Writes a file readable by root only.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let k = Keys::load_or_create(&path).unwrap();
        let sealed = k.seal(b"totp secret").unwrap();
        assert_ne!(&sealed[24..], b"totp secret");
        let again = Keys::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), b"totp secret");
        assert!(Keys::ephemeral().open(&sealed).is_err());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_ne!(k.derive("jwt"), k.derive("seal"));
    }
}
