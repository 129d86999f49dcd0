//! TLS for viewers: rustls with the ring provider (aws-lc needs cmake),
//! HTTP/2 and HTTP/1.1 offered by ALPN, the certificate chosen by SNI among
//! the distributions' (the first one when the name is unknown or absent, as
//! for `https://127.0.0.1`). [`self_signed`] makes the certificate of `tandem dev`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{Distribution, TlsFiles};

#[derive(Debug)]
struct BySni {
    /// (host names, certificate); the first is the default.
    certs: Vec<(Vec<String>, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello.server_name().and_then(|sni| {
            self.certs
                .iter()
                .find(|(hosts, _)| hosts.iter().any(|h| h.eq_ignore_ascii_case(sni)))
        });
        named.or_else(|| self.certs.first()).map(|(_, c)| c.clone())
    }
}

fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read the certificates of {}: {e}", files.cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("cannot read the key {}: {e}", files.key.display()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| format!("{}: {e}", files.key.display()))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing)))
}

/// The server config of a node, or `None` when no distribution has TLS.
pub fn server_config(distributions: &[Distribution]) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    let mut certs = Vec::new();
    for d in distributions {
        if let Some(files) = &d.tls {
            certs.push((d.hosts.clone(), load(files).map_err(|e| format!("distribution {:?}: {e}", d.name))?));
        }
    }
    if certs.is_empty() {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { certs }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// Writes a self-signed certificate for `names` (and its key) into `dir`.
pub fn self_signed(names: &[&str], dir: &Path) -> Result<TlsFiles, String> {
    let made = rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let files = TlsFiles {
        cert: dir.join("edge-cert.pem"),
        key: dir.join("edge-key.pem"),
    };
    std::fs::write(&files.cert, made.cert.pem()).map_err(|e| format!("cannot write {}: {e}", files.cert.display()))?;
    std::fs::write(&files.key, made.signing_key.serialize_pem()).map_err(|e| format!("cannot write {}: {e}", files.key.display()))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_loads_and_offers_h2_first() {
        let dir = tempfile::tempdir().unwrap();
        let files = self_signed(&["localhost", "127.0.0.1"], dir.path()).unwrap();
        let d = Distribution {
            name: "d".into(),
            hosts: vec!["localhost".into()],
            tls: Some(files),
            default_root_object: None,
            behaviors: vec![],
        };
        let config = server_config(&[d]).unwrap().unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
        let none = server_config(&[]).unwrap();
        assert!(none.is_none());
    }
}
