//! The retry rules of `retry.rs` against real sockets: an origin that takes
//! requests and never answers, a port where nothing listens, and a good
//! origin that counts what reaches it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tandem_edge::EdgeSection;

mod common;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers `/health` with 200 and never answers anything else.
async fn black_hole() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut seen = Vec::new();
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.starts_with(b"GET /health ") {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                        seen.clear();
                    }
                }
            });
        }
    });
    addr
}

/// Counts the non-probe requests it answers (200, body = method and bytes received).
async fn good(count: Arc<AtomicUsize>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let count = count.clone();
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let count = count.clone();
                async move {
                    let method = req.method().clone();
                    if req.uri().path() != "/health" {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    let n = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(format!("{method} {n}")))))
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc));
        }
    });
    addr
}

fn unused_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn section(hole: SocketAddr, hole2: SocketAddr, closed: SocketAddr, good: SocketAddr) -> EdgeSection {
    let group = |host: &str, primary: SocketAddr| {
        format!(
            "[[edge.distributions]]\nname = \"{host}\"\nhosts = [\"{host}\"]\n[[edge.distributions.behaviors]]\n\
             methods = [\"GET\", \"POST\", \"PUT\"]\n\
             origin = {{ kind = \"group\", primary = {{ url = \"http://{primary}\" }}, secondary = {{ url = \"http://{good}\" }}, \
             connect_timeout_ms = 300, response_timeout_ms = 400 }}\n"
        )
    };
    let text = format!(
        "[edge]\nprobe_interval_ms = 60000\n[[edge.nodes]]\nname = \"t\"\nlisten = \"127.0.0.1:0\"\n{}{}{}",
        group("hang-post", hole),
        group("hang-get", hole2),
        group("closed", closed)
    );
    #[derive(serde::Deserialize)]
    struct File {
        edge: EdgeSection,
    }
    toml::from_str::<File>(&text).unwrap().edge
}

type Body = http_body_util::combinators::BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

async fn send(edge: SocketAddr, method: Method, host: &str, body: Body) -> (StatusCode, String, Duration) {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{edge}/x"))
        .header("host", host)
        .body(body)
        .unwrap();
    let t = Instant::now();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let text = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, text, t.elapsed())
}

fn full(s: &'static str) -> Body {
    Full::new(Bytes::from(s)).map_err(|e| match e {}).boxed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_retry_only_when_certainly_not_processed_and_reads_always() {
    let count = Arc::new(AtomicUsize::new(0));
    let (hole, hole2, good) = (black_hole().await, black_hole().await, good(count.clone()).await);
    let edge = tandem_edge::start(common::settings(section(hole, hole2, unused_port(), good)))
        .await
        .unwrap();
    let at = edge.local_addr;

    // Sent, then no answer: a POST may have been applied; it is not sent again.
    let (status, _, took) = send(at, Method::POST, "hang-post", full("order")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(count.load(Ordering::SeqCst), 0, "the POST never reached the secondary");

    // The same failure for a GET: retried on the secondary.
    let (status, text, _) = send(at, Method::GET, "hang-get", full("")).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "GET 0"));
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // Connection refused: nothing was sent, so even a streamed POST body goes on.
    let chunks: Vec<Result<http_body::Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> = (0..32)
        .map(|_| Ok(http_body::Frame::data(Bytes::from(vec![b'x'; 65536]))))
        .collect();
    let streamed = StreamBody::new(futures::stream::iter(chunks)).boxed();
    let (status, text, _) = send(at, Method::POST, "closed", streamed).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "POST 2097152"));
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // The breaker of the refusing origin is open now: the next POST goes straight on.
    let (status, _, took) = send(at, Method::POST, "closed", full("again")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(took < Duration::from_millis(200), "{took:?}");
    edge.shutdown().await;
}
