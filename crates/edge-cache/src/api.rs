//! The types the proxy exchanges with the cache: what the origin returned, what the cache
//! served and how (the `x-cache` outcome).

use bytes::Bytes;
use http::HeaderValue;

/// How a response was served; `name()` is the `x-cache` header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fresh from the cache.
    Hit,
    /// Fetched from the origin (or collapsed onto another viewer's fetch).
    Miss,
    /// Served stale: while revalidating in the background, or because the origin failed.
    Stale,
    /// The entry was expired, the origin answered 304 to the revalidation.
    RefreshHit,
    /// The cache did not take part.
    Bypass,
}

impl Outcome {
    /// The `x-cache` header value.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Hit => "Hit",
            Outcome::Miss => "Miss",
            Outcome::Stale => "Stale",
            Outcome::RefreshHit => "RefreshHit",
            Outcome::Bypass => "Bypass",
        }
    }
}

/// What the proxy's fetch returned: a buffered response the cache may store, or one it
/// streams through untouched (too large, not cacheable).
pub enum Fetched<B> {
    Full(http::Response<Bytes>),
    Passthrough(http::Response<B>),
}

/// The origin could not be reached (connect error, timeout, all origins down).
#[derive(Debug, Clone)]
pub struct OriginFailure {
    pub reason: String,
    /// What the viewer gets when nothing stale can stand in (502, or 504 on a timeout).
    pub status: http::StatusCode,
}

/// Validators to send to the origin (`If-None-Match` / `If-Modified-Since`) when the
/// cache holds an expired copy; both `None` for a plain fetch.
#[derive(Debug, Clone, Default)]
pub struct Revalidate {
    pub if_none_match: Option<HeaderValue>,
    pub if_modified_since: Option<HeaderValue>,
}

/// A served body: bytes from the cache, or the origin's own stream.
pub enum ServedBody<B> {
    Cached(Bytes),
    Origin(B),
}

/// A response for the viewer and how it was produced.
pub struct Served<B> {
    pub response: http::Response<ServedBody<B>>,
    pub outcome: Outcome,
    /// Set when `response` is the cache's plain error for a failed origin (no stale copy),
    /// so the proxy can answer in its own error format instead.
    pub failure: Option<OriginFailure>,
}

impl<B> Served<B> {
    pub fn new(response: http::Response<ServedBody<B>>, outcome: Outcome) -> Served<B> {
        Served {
            response,
            outcome,
            failure: None,
        }
    }
}

/// Counters (since start) and gauges (now) for /metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub stale: u64,
    pub refresh_hits: u64,
    /// Viewers that waited on another viewer's origin fetch instead of fetching.
    pub collapsed: u64,
    /// Entries the memory tier evicted to stay in bounds.
    pub evictions: u64,
    /// Entries removed by invalidations.
    pub invalidated: u64,
    pub memory_bytes: u64,
    pub memory_entries: u64,
    pub disk_bytes: u64,
    pub disk_entries: u64,
}
