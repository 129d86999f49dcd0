//! Tests of the cache with a counting origin closure (no network): each file covers one
//! area of behaviour.

mod collapsing;
mod disk_tier;
mod freshness;
mod hostile;
mod invalidation;
mod stale;
mod viewer;

use crate::{CacheConfig, CacheRule, EdgeCache, Fetched, OriginFailure, Outcome, Revalidate, Served, ServedBody};
use bytes::Bytes;
use http::{Request, Response, StatusCode, request};
use parking_lot::Mutex;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The passthrough body type in tests.
pub(crate) type Body = Vec<u8>;

type FetchFuture = std::pin::Pin<Box<dyn Future<Output = Result<Fetched<Body>, OriginFailure>> + Send>>;

/// An origin the tests script: what it answers, how often it was asked, what it was sent.
#[derive(Clone)]
pub(crate) struct Origin {
    pub calls: Arc<AtomicUsize>,
    pub answer: Arc<Mutex<Answer>>,
    pub revalidations: Arc<Mutex<Vec<Revalidate>>>,
    pub delay: Duration,
}

#[derive(Clone)]
pub(crate) enum Answer {
    Full(u16, Vec<(&'static str, String)>, Bytes),
    Passthrough(u16, Vec<(&'static str, String)>),
    Fail,
}

impl Origin {
    pub fn new(answer: Answer) -> Origin {
        Origin {
            calls: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
            revalidations: Arc::default(),
            delay: Duration::ZERO,
        }
    }

    /// 200 with these headers and body.
    pub fn ok(headers: &[(&'static str, &str)], body: &str) -> Origin {
        Origin::new(ok(headers, body))
    }

    pub fn set(&self, answer: Answer) {
        *self.answer.lock() = answer;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The fetch closure the proxy would pass.
    pub fn fetch(&self) -> impl FnOnce(Revalidate) -> FetchFuture + Send + 'static {
        let origin = self.clone();
        move |reval| {
            Box::pin(async move {
                origin.calls.fetch_add(1, Ordering::SeqCst);
                origin.revalidations.lock().push(reval);
                if !origin.delay.is_zero() {
                    tokio::time::sleep(origin.delay).await;
                }
                let answer = origin.answer.lock().clone();
                match answer {
                    Answer::Full(status, headers, body) => Ok(Fetched::Full(response(status, &headers, body))),
                    Answer::Passthrough(status, headers) => Ok(Fetched::Passthrough(response(status, &headers, b"streamed".to_vec()))),
                    Answer::Fail => Err(OriginFailure {
                        reason: "connect refused".into(),
                        status: StatusCode::BAD_GATEWAY,
                    }),
                }
            })
        }
    }
}

pub(crate) fn ok(headers: &[(&'static str, &str)], body: &str) -> Answer {
    full(200, headers, body)
}

pub(crate) fn full(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
    Answer::Full(
        status,
        headers.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        Bytes::from(body.to_string()),
    )
}

fn response<T>(status: u16, headers: &[(&'static str, String)], body: T) -> Response<T> {
    let mut builder = Response::builder().status(status);
    for (n, v) in headers {
        builder = builder.header(*n, v.as_str());
    }
    builder.body(body).expect("test response")
}

pub(crate) fn cache() -> EdgeCache {
    cache_with(CacheConfig {
        max_memory_bytes: 8 << 20,
        max_object_bytes: 1 << 20,
        ..CacheConfig::default()
    })
}

pub(crate) fn cache_with(config: CacheConfig) -> EdgeCache {
    EdgeCache::new(config).expect("cache")
}

pub(crate) fn rule() -> CacheRule {
    CacheRule::default()
}

/// A GET for `path` on host `site.test` with extra headers.
pub(crate) fn get(path: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut builder = Request::builder().uri(path).header("host", "site.test");
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    builder.body(()).expect("test request").into_parts().0
}

/// Serves one request; returns (status, outcome, body, response headers).
pub(crate) async fn serve(cache: &EdgeCache, rule: &CacheRule, req: &request::Parts, origin: &Origin) -> Got {
    let served: Served<Body> = cache.serve(rule, req, origin.fetch()).await;
    Got::from(served)
}

pub(crate) struct Got {
    pub status: StatusCode,
    pub outcome: Outcome,
    pub body: Bytes,
    pub headers: http::HeaderMap,
    /// The cache's own error for a failed origin.
    pub failed: bool,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl From<Served<Body>> for Got {
    fn from(served: Served<Body>) -> Got {
        let failed = served.failure.is_some();
        let (parts, body) = served.response.into_parts();
        let body = match body {
            ServedBody::Cached(b) => b,
            ServedBody::Origin(v) => Bytes::from(v),
        };
        Got {
            status: parts.status,
            outcome: served.outcome,
            body,
            headers: parts.headers,
            failed,
        }
    }
}

/// Serves `n` concurrent GETs of `path`.
pub(crate) async fn serve_concurrently(cache: &EdgeCache, rule: &CacheRule, path: &str, origin: &Origin, n: usize) -> Vec<Got> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (cache, rule, origin, path) = (cache.clone(), rule.clone(), origin.clone(), path.to_string());
            tokio::spawn(async move { serve(&cache, &rule, &get(&path, &[]), &origin).await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

/// Moves the cache's clock forward.
pub(crate) fn advance(cache: &EdgeCache, by: Duration) {
    cache.inner.clock.advance(by);
}

/// Waits (bounded) until `cond` holds; lets background tasks run.
pub(crate) async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
