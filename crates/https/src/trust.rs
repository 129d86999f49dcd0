//! The certificates a client accepts: the webpki (Mozilla) roots, or, when
//! CA files are given, exactly the certificates in them (PEM; a self-signed
//! server certificate may be its own CA).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Largest CA file read (a bundle of every public root is about 250 KB).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// A client config (ring provider, TLS 1.2 and 1.3) trusting `ca_files`, or
/// the webpki roots when there are none.
pub fn client_config(ca_files: &[PathBuf]) -> Result<ClientConfig, String> {
    let roots = match ca_files.is_empty() {
        true => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        false => roots_from(ca_files)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn roots_from(ca_files: &[PathBuf]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for path in ca_files {
        let name = path.display();
        let size = std::fs::metadata(path).map_err(|e| format!("CA file {name}: {e}"))?.len();
        if size > MAX_CA_FILE {
            return Err(format!("CA file {name} is larger than {MAX_CA_FILE} bytes"));
        }
        let text = std::fs::read(path).map_err(|e| format!("CA file {name}: {e}"))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CA file {name}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("CA file {name} holds no certificate"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("CA file {name}: {e}"))?;
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_or_missing_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(std::slice::from_ref(&empty)).unwrap_err();
        assert!(err.contains("empty.pem") && err.contains("no certificate"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = client_config(&[missing]).unwrap_err();
        assert!(err.contains("missing.pem"), "{err}");
    }

    #[test]
    fn a_pem_bundle_adds_every_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("ca.pem");
        let pems: String = ["a.test", "b.test"]
            .iter()
            .map(|n| rcgen::generate_simple_self_signed(vec![n.to_string()]).unwrap().cert.pem())
            .collect();
        std::fs::write(&bundle, pems).unwrap();
        assert_eq!(roots_from(&[bundle]).unwrap().len(), 2);
        assert!(client_config(&[]).is_ok(), "the webpki roots");
    }
}
