//! The DNS server's own small HTTP port: `GET /metrics` (Prometheus text)
//! and `GET /status` (health of each region and app write regions, JSON,
//! read by `tandem status`). Few connections, short deadlines.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::state::State;

const MAX_CONNECTIONS: usize = 64;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole life of one connection.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until the task is aborted.
pub async fn serve(listener: TcpListener, state: Arc<State>, metrics: Arc<Metrics>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // over the cap: the connection is closed at once
        };
        let (state, metrics) = (state.clone(), metrics.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (state, metrics) = (state.clone(), metrics.clone());
                async move { Ok::<_, Infallible>(route(&req, &state, &metrics)) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
            drop(slot);
        });
    }
}

fn route(req: &Request<Incoming>, state: &State, metrics: &Metrics) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.render(state),
        ),
        (&Method::GET, "/status") => reply(StatusCode::OK, "application/json", state.status_json().to_string()),
        (&Method::GET, _) => reply(StatusCode::NOT_FOUND, "text/plain", "not found: use /metrics or /status\n".into()),
        _ => reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use GET\n".into()),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}
