//! The connector of hyper-util's client for tandem's clients: plain TCP for
//! `http://` URLs, TLS (HTTP/1.1 by ALPN) for `https://` ones, with the
//! server certificate verified against the given client config's roots and
//! the URL's host name (or IP address).

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::ClientConfig;

pub type Connector = HttpsConnector<HttpConnector>;

/// A connector whose TCP connects give up after `connect_timeout`.
pub fn connector(tls: ClientConfig, connect_timeout: Duration) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::net::TcpListener;

    use super::*;
    use crate::{client_config, reason};

    /// Writes a self-signed certificate for `names` to `dir/<file>` (and its key beside it).
    fn certificate(dir: &Path, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let (cert, key) = (dir.join(file), dir.join(format!("{file}.key")));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    /// An HTTPS server on a free loopback port answering every request with 200 "ok".
    async fn https_server(cert: &Path, key: &Path) -> u16 {
        let chain = vec![CertificateDer::from_pem_file(cert).unwrap()];
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        port
    }

    async fn get(ca_files: &[PathBuf], url: &str) -> Result<(u16, Bytes), String> {
        let connector = connector(client_config(ca_files)?, Duration::from_secs(2));
        let client: Client<Connector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let response = client.get(url.parse().unwrap()).await.map_err(|e| reason(&e))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }

    #[tokio::test]
    async fn https_verifies_the_server_against_the_ca_file_and_the_url_host() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate(dir.path(), "server.pem", &["127.0.0.1", "localhost"]);
        let (other, _) = certificate(dir.path(), "other.pem", &["127.0.0.1"]);
        let port = https_server(&cert, &key).await;
        let url = format!("https://127.0.0.1:{port}/health");

        let trusted = get(std::slice::from_ref(&cert), &url).await.unwrap();
        assert_eq!(trusted, (200, Bytes::from_static(b"ok")));
        let by_name = get(std::slice::from_ref(&cert), &format!("https://localhost:{port}/")).await;
        assert_eq!(by_name.unwrap().0, 200);

        let public_roots = get(&[], &url).await.unwrap_err();
        assert!(public_roots.contains("invalid peer certificate: UnknownIssuer"), "{public_roots}");
        // Same issuer name (rcgen's default), another key: the signature does not verify.
        let another_ca = get(&[other], &url).await.unwrap_err();
        assert!(another_ca.contains("invalid peer certificate: BadSignature"), "{another_ca}");
    }

    #[tokio::test]
    async fn a_certificate_for_another_name_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate(dir.path(), "named.pem", &["region.example.test"]);
        let port = https_server(&cert, &key).await;
        let err = get(&[cert], &format!("https://127.0.0.1:{port}/")).await.unwrap_err();
        assert!(err.contains("certificate not valid for name \"127.0.0.1\""), "{err}");
    }

    #[tokio::test]
    async fn plain_http_urls_still_work_and_a_refusal_says_why() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = get(&[], &format!("http://127.0.0.1:{port}/")).await.unwrap_err();
        assert!(err.contains("Connect") && err.to_lowercase().contains("refused"), "{err}");
    }
}
