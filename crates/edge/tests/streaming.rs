//! 5 GiB through the edge in each direction, never buffered whole: a PUT
//! streamed to an origin that counts what it receives, and a GET of 5 GiB
//! the origin generates, counted as it arrives. The process's peak memory
//! (client, edge and origin together) must stay far below the payload, and
//! the upload must not be cut by the origin's response timeout (which
//! starts once the body is sent whole).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tandem_edge::EdgeSection;

mod common;
use tokio::net::TcpListener;

const CHUNK: usize = 1 << 20;
const TOTAL: u64 = 5 << 30;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// `total` bytes in 1 MiB chunks, made as they are read.
fn generated(total: u64) -> Body {
    let chunk = Bytes::from(vec![b'z'; CHUNK]);
    let frames = futures::stream::iter((0..total / CHUNK as u64).map(move |_| Ok::<_, BoxError>(Frame::data(chunk.clone()))));
    StreamBody::new(frames).boxed()
}

/// `chunks` chunks of 1 MiB, one every `every`: a slow viewer's upload.
fn trickled(chunks: u64, every: Duration) -> Body {
    let chunk = Bytes::from(vec![b'z'; CHUNK]);
    let frames = futures::stream::unfold(0, move |i| {
        let chunk = chunk.clone();
        async move {
            if i == chunks {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok::<_, BoxError>(Frame::data(chunk)), i + 1))
        }
    });
    StreamBody::new(frames).boxed()
}

/// Counts the bytes of a body as they arrive.
async fn count(mut body: impl http_body::Body<Data = Bytes, Error = impl std::fmt::Debug> + Unpin) -> u64 {
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            n += data.len() as u64;
        }
    }
    n
}

/// PUT: answers with the number of body bytes it read. GET: sends `TOTAL` bytes.
async fn origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let svc = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                let resp = match *req.method() {
                    Method::PUT => {
                        let n = count(req.into_body()).await;
                        hyper::Response::new(Full::new(Bytes::from(n.to_string())).map_err(|e| match e {}).boxed())
                    }
                    _ => {
                        let mut resp = hyper::Response::new(generated(TOTAL));
                        resp.headers_mut().insert(http::header::CONTENT_LENGTH, TOTAL.into());
                        resp
                    }
                };
                Ok::<_, std::convert::Infallible>(resp)
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc));
        }
    });
    addr
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// One distribution whose origin (both members of the group) is `origin`,
/// with a response timeout of 1 s: shorter than the uploads take.
fn section(origin: SocketAddr) -> EdgeSection {
    let text = format!(
        "[edge]\nprobe_interval_ms = 60000\n[[edge.nodes]]\nname = \"t\"\nlisten = \"127.0.0.1:0\"\n\
         [[edge.distributions]]\nname = \"big\"\n[[edge.distributions.behaviors]]\nmethods = [\"GET\", \"PUT\"]\n\
         origin = {{ kind = \"group\", primary = {{ url = \"http://{origin}\" }}, secondary = {{ url = \"http://{origin}\" }}, \
         response_timeout_ms = 1000 }}\n"
    );
    #[derive(serde::Deserialize)]
    struct File {
        edge: EdgeSection,
    }
    toml::from_str::<File>(&text).unwrap().edge
}

async fn edge() -> tandem_edge::RunningEdge {
    let origin = origin().await;
    tandem_edge::start(common::settings(section(origin))).await.unwrap()
}

async fn put(client: &Client<hyper_util::client::legacy::connect::HttpConnector, Body>, url: &str, size: u64, body: Body) -> String {
    let put = Request::put(url).header("content-length", size).body(body).unwrap();
    let resp = client.request(put).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upload_is_not_cut_by_the_response_timeout() {
    let edge = edge().await;
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("http://{}/slow", edge.local_addr);
    let started = Instant::now();
    let got = put(&client, &url, 3 * CHUNK as u64, trickled(3, Duration::from_millis(800))).await;
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the upload took longer than the 1 s response timeout"
    );
    assert_eq!(got, (3 * CHUNK).to_string());
    edge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_gib_stream_through_the_edge_both_ways_in_bounded_memory() {
    let edge = edge().await;
    let before = peak_rss();
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("http://{}/big", edge.local_addr);

    let started = Instant::now();
    assert_eq!(
        put(&client, &url, TOTAL, generated(TOTAL)).await,
        TOTAL.to_string(),
        "the origin got every byte"
    );
    let upload = started.elapsed();

    let started = Instant::now();
    let resp = client
        .request(
            Request::get(&url)
                .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(count(resp.into_body()).await, TOTAL, "the viewer got every byte");
    let download = started.elapsed();

    let grew = peak_rss().saturating_sub(before);
    println!(
        "5 GiB up in {upload:?}, down in {download:?}; peak memory grew by {} MiB",
        grew >> 20
    );
    assert!(
        grew < 256 << 20,
        "peak memory grew by {} MiB: something buffered the body",
        grew >> 20
    );
    edge.shutdown().await;
}
