//! Peers — the other regions of a deployment — and how regions talk to each
//! other: HTTP requests signed with SigV4 under a replication credential that
//! is distinct from every user key and only opens the replication endpoints.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

use crate::error::ReplicationError;

/// SigV4 service name of region-to-region requests.
pub const SERVICE: &str = "tandem-replication";
/// Header naming the sending region (must match the signature's region).
pub const ORIGIN_HEADER: &str = "x-tandem-origin";

/// Another region, as this region reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    /// Base URL of the peer's node, e.g. `http://10.0.0.2:9000`.
    pub url: String,
    /// Base URLs of the peer region's other nodes (`[[regions.nodes]]`),
    /// tried in turn when a request to the one in use fails.
    pub other_urls: Vec<String>,
}

impl Peer {
    /// Every node URL of the peer, `url` first.
    fn urls(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str()).chain(self.other_urls.iter().map(String::as_str))
    }
}

/// The credential regions sign replication requests with.
#[derive(Clone)]
pub struct ReplicationKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for ReplicationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

pub type RequestBody = BoxBody<Bytes, std::io::Error>;

/// An HTTP client for one region's requests to its peers.
#[derive(Clone)]
pub struct PeerClient {
    client: Client<HttpConnector, RequestBody>,
    key: ReplicationKey,
    region: String,
    /// Per peer, which of its node URLs requests go to: the next one after
    /// a failure, so a shipper's retry reaches another node of the region.
    in_use: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

/// How long a peer may take to answer before the attempt counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl PeerClient {
    pub fn new(region: &str, key: ReplicationKey) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            client,
            key,
            region: region.to_string(),
            in_use: Default::default(),
        }
    }

    fn in_use(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, usize>> {
        self.in_use.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node URL of `peer` requests go to now.
    pub fn url_in_use<'p>(&self, peer: &'p Peer) -> &'p str {
        let index = self.in_use().get(&peer.name).copied().unwrap_or(0);
        peer.urls().nth(index).unwrap_or(&peer.url)
    }

    /// After a failed request to `url`: the next request to `peer` goes to
    /// its next node (unless another failure moved it on already).
    fn move_on(&self, peer: &Peer, url: &str) {
        let count = peer.urls().count();
        if count < 2 {
            return;
        }
        let mut in_use = self.in_use();
        let index = in_use.entry(peer.name.clone()).or_insert(0);
        if peer.urls().nth(*index) == Some(url) {
            *index = (*index + 1) % count;
            tracing::info!(peer = %peer.name, from = url, to = peer.urls().nth(*index).unwrap_or_default(), "trying the peer's next node");
        }
    }

    /// Sends a signed request to a peer and returns the status and whole
    /// answer. A request that gets no answer, or a 5xx, sends the next one
    /// to the peer's next node.
    pub async fn send(&self, peer: &Peer, method: Method, path: &str, body: RequestBody) -> Result<(StatusCode, Bytes), ReplicationError> {
        let url = self.url_in_use(peer);
        let answer = self.send_to(peer, url, method, path, body).await;
        if answer.as_ref().map_or(true, |(status, _)| status.is_server_error()) {
            self.move_on(peer, url);
        }
        answer
    }

    async fn send_to(
        &self,
        peer: &Peer,
        url: &str,
        method: Method,
        path: &str,
        body: RequestBody,
    ) -> Result<(StatusCode, Bytes), ReplicationError> {
        let unreachable = |e: &dyn std::fmt::Display| ReplicationError::Peer(format!("{} unreachable at {url}: {e}", peer.name));
        let uri: Uri = format!("{}{path}", url.trim_end_matches('/'))
            .parse()
            .map_err(|e| ReplicationError::Peer(format!("bad URL for peer {}: {e}", peer.name)))?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_str(&host).map_err(|e| unreachable(&e))?);
        headers.insert(ORIGIN_HEADER, HeaderValue::from_str(&self.region).map_err(|e| unreachable(&e))?);
        tandem_sigv4::sign_unsigned_payload(
            &method,
            &uri,
            &mut headers,
            &self.key.access_key_id,
            &self.key.secret_access_key,
            &self.region,
            SERVICE,
            time::OffsetDateTime::now_utc(),
        );
        let mut request = Request::builder().method(method).uri(uri).body(body).map_err(|e| unreachable(&e))?;
        *request.headers_mut() = headers;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| unreachable(&e))?;
            let status = response.status();
            let bytes = response.into_body().collect().await.map_err(|e| unreachable(&e))?.to_bytes();
            Ok::<_, ReplicationError>((status, bytes))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| ReplicationError::Peer(format!("{} did not answer within {REQUEST_TIMEOUT:?}", peer.name)))?
    }
}

/// Checks that a request comes from `peers` under the replication credential;
/// returns the sending region.
pub fn authenticate(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    key: &ReplicationKey,
    peers: &[Peer],
) -> Result<String, ReplicationError> {
    let signer = tandem_sigv4::verify(method, uri, headers, &[], time::OffsetDateTime::now_utc(), |id| {
        (id == key.access_key_id).then(|| key.secret_access_key.clone())
    })
    .map_err(|e| ReplicationError::Unauthorized(format!("replication request refused: {e}")))?;
    let origin = headers.get(ORIGIN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if signer.service != SERVICE || signer.region != origin {
        return Err(ReplicationError::Unauthorized(
            "replication request refused: the signature's scope does not name the sending region".into(),
        ));
    }
    if !peers.iter().any(|p| p.name == origin) {
        return Err(ReplicationError::Unauthorized(format!(
            "replication request refused: {origin:?} is not a peer"
        )));
    }
    Ok(origin.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReplicationKey {
        ReplicationKey {
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
        }
    }

    #[tokio::test]
    async fn a_failed_request_sends_the_next_one_to_the_peers_next_node() {
        // Two ports nothing listens on, then one that answers 200.
        let dead = [dead_port(), dead_port()];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let alive = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                });
            }
        });
        let peer = Peer {
            name: "west".into(),
            url: format!("http://{}", dead[0]),
            other_urls: vec![format!("http://{}", dead[1]), format!("http://{alive}")],
        };
        let client = PeerClient::new("east", key());
        let empty = || http_body_util::Empty::new().map_err(|e| match e {}).boxed();
        assert_eq!(client.url_in_use(&peer), peer.url);
        assert!(client.send(&peer, Method::GET, "/x", empty()).await.is_err());
        assert_eq!(client.url_in_use(&peer), peer.other_urls[0]);
        assert!(client.send(&peer, Method::GET, "/x", empty()).await.is_err());
        let (status, body) = client.send(&peer, Method::GET, "/x", empty()).await.unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        assert_eq!(client.url_in_use(&peer), peer.other_urls[1], "a node that answers is kept");

        let single = Peer {
            name: "solo".into(),
            url: peer.url.clone(),
            other_urls: vec![],
        };
        client.move_on(&single, &single.url);
        assert_eq!(client.url_in_use(&single), single.url, "a peer of one node stays on it");
    }

    /// A local port nothing listens on (bound, then released).
    fn dead_port() -> std::net::SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }
}
