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
        }
    }

    /// Sends a signed request to a peer and returns the status and whole answer.
    pub async fn send(&self, peer: &Peer, method: Method, path: &str, body: RequestBody) -> Result<(StatusCode, Bytes), ReplicationError> {
        let unreachable = |e: &dyn std::fmt::Display| ReplicationError::Peer(format!("{} unreachable: {e}", peer.name));
        let uri: Uri = format!("{}{path}", peer.url.trim_end_matches('/'))
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
