//! The cache between viewers and origins, for GET/HEAD of behaviours with a cache rule:
//! connects the `tandem-edge-cache` crate to the proxy. It turns a behaviour's
//! `cache = { ... }` into a cache rule, asks the origin for the whole object (GET, no
//! Range, no viewer conditionals: the cache answers those itself), buffers an origin
//! response the cache wants to store (up to `max_object_bytes`, else it streams on), and
//! exports the cache's counters to the edge's /metrics.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::header::{self, HeaderName};
use http::{Method, Response, StatusCode, request};
use http_body_util::{BodyExt, BodyStream, StreamBody};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tandem_edge_cache::{CacheConfig, CacheRule, CookieKey, EdgeCache, Fetched, OriginFailure, QueryKey, Revalidate, ServedBody};

use crate::body::{BoxError, EdgeBody, boxed, full};
use crate::config::{CacheSection, CacheSettings, KeyMode, KeySelect};
use crate::fetch::{Fetch, FetchFailure};

/// Viewer headers never sent to the origin for a cached request: the cache fetches the
/// whole object and answers ranges and conditionals from it.
const VIEWER_ONLY: [HeaderName; 6] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
];

/// What the closure handed to the cache returns.
type OriginFuture = Pin<Box<dyn Future<Output = Result<Fetched<EdgeBody>, OriginFailure>> + Send>>;

/// The cache of one edge process (cheap to share: keep it in an `Arc`).
pub struct Cache {
    cache: EdgeCache,
}

/// A response and what the cache did (`Hit`, `Miss`, `Stale`, `RefreshHit`,
/// `Bypass`), for the `x-cache` header.
pub struct Served {
    pub response: Response<EdgeBody>,
    pub outcome: &'static str,
}

impl Cache {
    pub fn new(config: &CacheSection) -> Result<Self, String> {
        let cache = EdgeCache::new(CacheConfig {
            max_memory_bytes: config.max_memory_bytes,
            disk_dir: config.disk_dir.clone(),
            max_disk_bytes: config.max_disk_bytes,
            max_object_bytes: config.max_object_bytes,
            negative_ttl: Duration::from_millis(config.negative_ttl_ms),
            ..CacheConfig::default()
        })
        .map_err(|e| e.to_string())?;
        Ok(Cache { cache })
    }

    /// Serves a GET/HEAD of a behaviour with cache settings: from the cache,
    /// or through `fetch` (called at most once).
    pub async fn serve(&self, settings: &CacheSettings, req: request::Parts, fetch: Fetch) -> Served {
        let rule = rule_of(settings);
        if !self.cache.accepts(&rule, &req) {
            // A Range the cache does not hold goes to the origin as it is (large media is
            // never fetched whole for it); credentials or an unkeyable request bypass.
            let outcome = if req.headers.contains_key(header::RANGE) {
                "Miss"
            } else {
                "Bypass"
            };
            let response = fetch(req).await.unwrap_or_else(|failure| failure.response());
            return Served { response, outcome };
        }
        let origin_fetch = self.origin_fetch(&rule, &req, fetch);
        let served = self.cache.serve(&rule, &req, origin_fetch).await;
        let outcome = served.outcome.name();
        let response = match served.failure {
            Some(failure) => FetchFailure {
                reason: failure.reason,
                status: failure.status,
            }
            .response(),
            None => served.response.map(|body| match body {
                ServedBody::Cached(bytes) => full(bytes),
                ServedBody::Origin(body) => body,
            }),
        };
        Served { response, outcome }
    }

    /// The closure the cache runs for a miss or a revalidation: the viewer's head as a
    /// GET without viewer-only headers, plus the cache's validators; the answer buffered
    /// when the cache wants to store it.
    fn origin_fetch(
        &self,
        rule: &CacheRule,
        req: &request::Parts,
        fetch: Fetch,
    ) -> impl FnOnce(Revalidate) -> OriginFuture + Send + 'static {
        let (cache, rule, viewer) = (self.cache.clone(), rule.clone(), req.clone());
        move |revalidate: Revalidate| {
            Box::pin(async move {
                let mut head = viewer.clone();
                head.method = Method::GET;
                for name in &VIEWER_ONLY {
                    head.headers.remove(name);
                }
                if let Some(etag) = revalidate.if_none_match {
                    head.headers.insert(header::IF_NONE_MATCH, etag);
                }
                if let Some(date) = revalidate.if_modified_since {
                    head.headers.insert(header::IF_MODIFIED_SINCE, date);
                }
                let response = fetch(head).await.map_err(|f| OriginFailure {
                    reason: f.reason,
                    status: f.status,
                })?;
                let (parts, body) = response.into_parts();
                if !cache.wants_body(&rule, &viewer, &parts) {
                    return Ok(Fetched::Passthrough(Response::from_parts(parts, body)));
                }
                match buffer(body, cache.max_object_bytes()).await {
                    Ok(Buffered::Whole(bytes)) => Ok(Fetched::Full(Response::from_parts(parts, bytes))),
                    Ok(Buffered::TooBig(body)) => Ok(Fetched::Passthrough(Response::from_parts(parts, body))),
                    Err(e) => Err(OriginFailure {
                        reason: format!("origin body: {e}"),
                        status: StatusCode::BAD_GATEWAY,
                    }),
                }
            })
        }
    }

    /// Removes the entries whose path matches one of `patterns` (`*`: any
    /// run of characters), on `host` or every host; returns how many.
    pub fn invalidate(&self, host: Option<&str>, patterns: &[String]) -> u64 {
        self.cache.invalidate(host, patterns)
    }

    /// Adds the cache's metrics (hits, misses, bytes, ...) to the edge's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(CacheMetrics(self.cache.clone())));
    }
}

/// The cache rule of a behaviour's settings.
fn rule_of(settings: &CacheSettings) -> CacheRule {
    let select = |s: &KeySelect| match s {
        KeySelect::Mode(KeyMode::None) => None,
        KeySelect::Mode(KeyMode::All) => Some(None),
        KeySelect::Only(names) => Some(Some(names.clone())),
    };
    CacheRule {
        min_ttl: Duration::from_secs(settings.min_ttl_secs),
        default_ttl: Duration::from_secs(settings.default_ttl_secs),
        max_ttl: Duration::from_secs(settings.max_ttl_secs),
        key_headers: settings
            .key_headers
            .iter()
            .filter_map(|h| HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok())
            .collect(),
        key_query: match select(&settings.key_query) {
            None => QueryKey::None,
            Some(None) => QueryKey::All,
            Some(Some(names)) => QueryKey::Only(names),
        },
        key_cookies: match select(&settings.key_cookies) {
            None => CookieKey::None,
            Some(None) => CookieKey::All,
            Some(Some(names)) => CookieKey::Only(names),
        },
        cache_authenticated: settings.cache_authenticated,
        compress: settings.compress,
    }
}

enum Buffered {
    Whole(Bytes),
    /// Larger than the limit: what was read, then the rest of the stream.
    TooBig(EdgeBody),
}

/// Reads a body up to `limit` bytes.
async fn buffer(mut body: EdgeBody, limit: u64) -> Result<Buffered, BoxError> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        total += data.len() as u64;
        chunks.push(data);
        if total > limit {
            let read = futures::stream::iter(chunks.into_iter().map(|c| Ok::<_, BoxError>(http_body::Frame::data(c))));
            return Ok(Buffered::TooBig(boxed(StreamBody::new(read.chain(BodyStream::new(body))))));
        }
    }
    Ok(Buffered::Whole(match chunks.len() {
        1 => chunks.swap_remove(0),
        _ => chunks.concat().into(),
    }))
}

/// The cache's counters and gauges, read at each scrape.
#[derive(Debug)]
struct CacheMetrics(EdgeCache);

impl Collector for CacheMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let counters = [
            ("tandem_edge_cache_hits", "Viewer requests served fresh from the cache", s.hits),
            ("tandem_edge_cache_misses", "Viewer requests that needed the origin", s.misses),
            (
                "tandem_edge_cache_stale",
                "Viewer requests served stale (revalidating or origin failed)",
                s.stale,
            ),
            (
                "tandem_edge_cache_refresh_hits",
                "Expired entries the origin confirmed with 304",
                s.refresh_hits,
            ),
            (
                "tandem_edge_cache_collapsed",
                "Viewers that waited on another viewer's origin fetch",
                s.collapsed,
            ),
            (
                "tandem_edge_cache_evictions",
                "Entries evicted from memory to stay in bounds",
                s.evictions,
            ),
            ("tandem_edge_cache_invalidated", "Entries removed by invalidations", s.invalidated),
        ];
        for (name, help, value) in counters {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        let gauges = [
            ("tandem_edge_cache_memory_bytes", "Bytes held by the memory tier", s.memory_bytes),
            ("tandem_edge_cache_memory_entries", "Entries in the memory tier", s.memory_entries),
            ("tandem_edge_cache_disk_bytes", "Bytes held by the disk tier", s.disk_bytes),
            ("tandem_edge_cache_disk_entries", "Entries in the disk tier", s.disk_entries),
        ];
        for (name, help, value) in gauges {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> EdgeBody {
        let frames = parts
            .iter()
            .map(|p| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from_static(p))));
        boxed(StreamBody::new(futures::stream::iter(frames.collect::<Vec<_>>())))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_buffered_and_a_larger_one_streams_on_intact() {
        let Ok(Buffered::Whole(bytes)) = buffer(chunked(&[b"ab", b"cd"]), 4).await else {
            panic!("expected a whole body");
        };
        assert_eq!(bytes, "abcd");
        let Ok(Buffered::TooBig(rest)) = buffer(chunked(&[b"ab", b"cd", b"ef"]), 3).await else {
            panic!("expected a streamed body");
        };
        assert_eq!(rest.collect().await.expect("body").to_bytes(), "abcdef");
    }

    #[test]
    fn the_rule_follows_the_behaviour_settings() {
        let settings = CacheSettings {
            min_ttl_secs: 1,
            default_ttl_secs: 2,
            max_ttl_secs: 3,
            key_headers: vec!["X-Lang".into(), "bad header".into()],
            key_query: KeySelect::Mode(KeyMode::All),
            key_cookies: KeySelect::Only(vec!["session".into()]),
            cache_authenticated: true,
            compress: true,
        };
        let rule = rule_of(&settings);
        assert_eq!(
            (rule.min_ttl, rule.default_ttl, rule.max_ttl),
            (Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(3))
        );
        assert_eq!(rule.key_headers, vec![HeaderName::from_static("x-lang")]);
        assert_eq!(rule.key_query, QueryKey::All);
        assert_eq!(rule.key_cookies, CookieKey::Only(vec!["session".into()]));
        assert!(rule.cache_authenticated && rule.compress);
    }
}
