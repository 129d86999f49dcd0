//! The operator side of `tandem edge invalidate`: one signed POST to one
//! edge node, over HTTP or HTTPS. HTTPS trusts the certificates of the
//! config's distributions (the same files the edge serves, self-signed in
//! `tandem dev`), not the system roots: edge nodes are the operator's own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Uri};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::body::full;
use crate::sign::EdgeKey;

/// Longest wait for one node.
const TIMEOUT: Duration = Duration::from_secs(5);

fn tls_config(certs: &[PathBuf]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for path in certs {
        let chain = CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for c in chain {
            roots
                .add(c.map_err(|e| format!("{}: {e}", path.display()))?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Sends `body` as an admin-signed POST to `url` + `path`; the status and answer text.
pub async fn post(url: &str, path: &str, body: String, key: &EdgeKey, certs: &[PathBuf]) -> Result<(u16, String), String> {
    let base: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let authority = base.authority().ok_or_else(|| format!("{url} has no host"))?.clone();
    let https = base.scheme_str() == Some("https");
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let uri: Uri = path.parse().map_err(|e| format!("{path}: {e}"))?;
    let mut req = Request::post(uri.clone()).body(full(body.clone())).map_err(|e| e.to_string())?;
    let headers = req.headers_mut();
    headers.insert(http::header::HOST, authority.as_str().parse().map_err(|e| format!("{e}"))?);
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    tandem_sigv4::sign(
        &http::Method::POST,
        &uri,
        headers,
        body.as_bytes(),
        &key.access_key_id,
        &key.secret_access_key,
        "us-east-1",
        "s3",
        time::OffsetDateTime::now_utc(),
    );
    let exchange = async {
        let tcp = TcpStream::connect((authority.host(), port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let resp = match https {
            false => send(TokioIo::new(tcp), req).await?,
            true => {
                let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
                let name = ServerName::try_from(host).map_err(|e| e.to_string())?;
                let tls = tokio_rustls::TlsConnector::from(tls_config(certs)?)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                send(TokioIo::new(tls), req).await?
            }
        };
        Ok::<_, String>(resp)
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
}

async fn send<T>(io: TokioIo<T>, req: Request<crate::body::EdgeBody>) -> Result<(u16, String), String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
