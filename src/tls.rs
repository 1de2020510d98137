//! Optional HTTPS (rustls). By default it uses the Proxmox certificate the admin already manages:
//! `/etc/pve/local/pveproxy-ssl.pem` (a custom or ACME certificate) if present, else the cluster-
//! signed `pve-ssl.pem`; or the configured paths. The files are re-read every minute and a changed
//! certificate is used for new connections without a restart (ACME renewals). Reads go through the
//! host seam like every other file under `/etc`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

use crate::config::TlsCfg;
use crate::host::Host;

/// Proxmox's certificate pairs, in order of preference.
const PVE_PAIRS: &[(&str, &str)] = &[
    ("/etc/pve/local/pveproxy-ssl.pem", "/etc/pve/local/pveproxy-ssl.key"),
    ("/etc/pve/local/pve-ssl.pem", "/etc/pve/local/pve-ssl.key"),
];

#[derive(Debug)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    pub cert_path: String,
    fingerprint: Vec<u8>,
}

fn candidates(cfg: &TlsCfg) -> Vec<(String, String)> {
    if cfg.cert.is_empty() {
        PVE_PAIRS.iter().map(|(c, k)| (c.to_string(), k.to_string())).collect()
    } else {
        vec![(cfg.cert.clone(), cfg.key.clone())]
    }
}

/// Parses a PEM certificate chain and private key into a rustls signing key.
pub fn parse_pair(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .context("reading the certificate PEM")?;
    if certs.is_empty() {
        bail!("no certificate in the PEM file");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).context("reading the private key PEM")?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).context("unsupported private key type")?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

/// Loads the first certificate pair that exists.
pub fn load(host: &Host, cfg: &TlsCfg) -> anyhow::Result<Loaded> {
    let mut tried = Vec::new();
    for (cert, key) in candidates(cfg) {
        let (Ok(c), Ok(k)) = (host.read_bytes(&cert), host.read_bytes(&key)) else {
            tried.push(cert);
            continue;
        };
        let parsed = parse_pair(&c, &k).with_context(|| format!("TLS certificate {cert} / key {key}"))?;
        let fingerprint = [c, k].concat();
        return Ok(Loaded { key: parsed, cert_path: cert, fingerprint });
    }
    bail!("TLS is enabled but no certificate was found (tried {})", tried.join(", "))
}

/// Hands rustls the current certificate; swapped in place on reload.
#[derive(Debug)]
pub struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

pub fn server_config(resolver: Arc<Resolver>) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    // HTTP/1.1 only: the terminal's websocket upgrade and server-sent events need nothing more.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Loads the certificate, builds the acceptor, and re-reads the certificate every minute until
/// `cancel` (a changed one is used for new connections: ACME renewals need no restart).
// The reload loop is not on the app's tracker (app::run does not hand it over): it ends with
// `cancel` and leaves nothing that shutdown must wait for.
#[allow(clippy::disallowed_methods)]
pub fn acceptor(
    host: Arc<Host>,
    cfg: TlsCfg,
    cancel: CancellationToken,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let first = load(&host, &cfg)?;
    tracing::info!(cert = %first.cert_path, "serving HTTPS");
    let resolver = Arc::new(Resolver { current: RwLock::new(first.key.clone()) });
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(resolver.clone())?));
    let mut fingerprint = first.fingerprint;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            match load(&host, &cfg) {
                Ok(l) if l.fingerprint != fingerprint => {
                    fingerprint = l.fingerprint;
                    *resolver.current.write().unwrap_or_else(|p| p.into_inner()) = l.key;
                    tracing::info!(cert = %l.cert_path, "TLS certificate reloaded");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot reload the TLS certificate; keeping the old one")
                }
            }
        }
    });
    Ok(acceptor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_pem_with_a_clear_error() {
        let err = parse_pair(b"not a pem", b"nor this").unwrap_err();
        assert!(format!("{err:#}").contains("no certificate"), "{err:#}");
    }
}
