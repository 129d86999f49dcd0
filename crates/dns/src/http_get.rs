//! A small HTTP/1.1 GET client for health checks and app-state reads, over
//! HTTP or HTTPS by the URL's scheme (tandem-https: the certificate must
//! verify against the CA file or the webpki roots): one deadline for the
//! whole exchange and a cap on the body it reads.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tandem_https::Connector;

/// Largest body read from a region (health and state answers are tiny).
const MAX_BODY: usize = 64 * 1024;

/// A reply: status, body and how long the exchange took.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct HttpGet {
    client: Client<Connector, Empty<Bytes>>,
    timeout: Duration,
}

impl HttpGet {
    /// A client trusting the certificates of `ca_files` (none: the webpki
    /// roots); an unreadable CA file is an error here, before any check runs.
    pub fn new(timeout: Duration, ca_files: &[PathBuf]) -> Result<Self, String> {
        let tls = tandem_https::client_config(ca_files).map_err(|e| format!("[dns] ca_file: {e}"))?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            .build(tandem_https::connector(tls, timeout));
        Ok(Self { client, timeout })
    }

    /// GETs `url`; any failure (refused, timeout, oversized body) is an error text.
    pub async fn get(&self, url: &str) -> Result<Reply, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
        let started = Instant::now();
        let exchange = async {
            let response = self
                .client
                .get(uri)
                .await
                .map_err(|e| format!("request failed: {}", tandem_https::reason(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("body unreadable: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((status, body))) => Ok(Reply {
                status,
                body,
                elapsed: started.elapsed(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_ca_file_stops_the_server_before_any_check() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("regions-ca.pem");
        let err = HttpGet::new(Duration::from_secs(1), &[missing]).err().unwrap();
        assert!(err.starts_with("[dns] ca_file: CA file") && err.contains("regions-ca.pem"), "{err}");
        assert!(HttpGet::new(Duration::from_secs(1), &[]).is_ok(), "no ca_file: the webpki roots");
    }
}
