//! A minimal DynamoDB JSON-protocol client for `dynamo-load`: every call is a
//! SigV4-signed (`tandem_sigv4::sign`, service `dynamodb`) `POST /` with
//! `X-Amz-Target: DynamoDB_20120810.<Op>`, sent over one keep-alive HTTP/1.1
//! connection that the client owns (TCP_NODELAY; reopened only after the
//! server closes it or a call fails). One `Client` per worker, so
//! concurrency = connections = requests in flight.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where and as whom to send; shared by all clients of a run.
pub struct Endpoint {
    addr: SocketAddr,
    host: HeaderValue,
    access_key: String,
    secret_key: String,
    region: String,
    timeout: Duration,
}

impl Endpoint {
    pub fn new(url: &str, access_key: &str, secret_key: &str, region: &str, timeout: Duration) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad --endpoint {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--endpoint {url:?}: only http:// is supported"));
        }
        let authority = uri.authority().ok_or("--endpoint has no host:port")?.as_str();
        let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
            .map_err(|e| format!("resolving {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority} resolves to no address"))?;
        Ok(Endpoint {
            addr,
            host: HeaderValue::from_str(authority).map_err(|e| e.to_string())?,
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: region.into(),
            timeout,
        })
    }
}

/// One user of the endpoint: a lazily opened keep-alive connection.
pub struct Client {
    endpoint: Arc<Endpoint>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Client { endpoint, conn: None }
    }

    /// Calls operation `op` with a JSON `body`; `Ok` carries the body of a 2xx
    /// answer, `Err` describes anything else (status and body, or the
    /// transport failure).
    pub async fn call(&mut self, op: &str, body: Bytes) -> Result<Bytes, String> {
        let req = self.signed_request(op, body)?;
        let result = match tokio::time::timeout(self.endpoint.timeout, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {:?}", self.endpoint.timeout)),
        };
        if result.is_err() {
            self.conn = None; // its state is unknown: start afresh next time
        }
        result
    }

    fn signed_request(&self, op: &str, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
        let ep = &*self.endpoint;
        let uri = Uri::from_static("/");
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(http::header::HOST, ep.host.clone());
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
        let target = format!("DynamoDB_20120810.{op}");
        headers.insert("x-amz-target", HeaderValue::from_str(&target).map_err(|e| e.to_string())?);
        tandem_sigv4::sign(
            &Method::POST,
            &uri,
            &mut headers,
            &body,
            &ep.access_key,
            &ep.secret_key,
            &ep.region,
            "dynamodb",
            time::OffsetDateTime::now_utc(),
        );
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Ok(req)
    }

    async fn exchange(&mut self, req: Request<Full<Bytes>>) -> Result<Bytes, String> {
        let sender = self.ready_connection().await?;
        let resp = sender.send_request(req).await.map_err(|e| format!("transport: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading body: {e}"))?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
        }
    }

    async fn ready_connection(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let reusable = match self.conn.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            let tcp = TcpStream::connect(self.endpoint.addr).await.map_err(|e| format!("connect: {e}"))?;
            tcp.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
            let (sender, driver) = handshake(TokioIo::new(tcp)).await.map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
            tokio::spawn(driver);
            self.conn = Some(sender);
        }
        Ok(self.conn.as_mut().expect("connection just ensured"))
    }
}
