//! The cache between viewers and origins, for GET/HEAD of behaviours with a
//! cache rule. This version passes every request through to the origin; the
//! edge-cache crate replaces the body of this file (and only this file).

use http::Response;
use prometheus_client::registry::Registry;

use crate::body::EdgeBody;
use crate::config::{CacheSection, CacheSettings};
use crate::fetch::Fetch;

/// The cache of one edge process (cheap to share: keep it in an `Arc`).
pub struct Cache {}

/// A response and what the cache did (`Hit`, `Miss`, `Stale`, `RefreshHit`,
/// `Bypass`), for the `x-cache` header.
pub struct Served {
    pub response: Response<EdgeBody>,
    pub outcome: &'static str,
}

impl Cache {
    pub fn new(_config: &CacheSection) -> Result<Self, String> {
        Ok(Cache {})
    }

    /// Serves a GET/HEAD of a behaviour with cache settings: from the cache,
    /// or through `fetch` (called at most once).
    pub async fn serve(&self, rule: &CacheSettings, req: http::request::Parts, fetch: Fetch) -> Served {
        let outcome = match req.headers.contains_key(http::header::AUTHORIZATION) && !rule.cache_authenticated {
            true => "Bypass",
            false => "Miss",
        };
        let response = match fetch(req).await {
            Ok(r) => r,
            Err(failure) => failure.response(),
        };
        Served { response, outcome }
    }

    /// Removes the entries whose path matches one of `patterns` (`*`: any
    /// run of characters), on `host` or every host; returns how many.
    pub fn invalidate(&self, _host: Option<&str>, _patterns: &[String]) -> u64 {
        0
    }

    /// Adds the cache's metrics (hits, misses, bytes, ...) to the edge's registry.
    pub fn register(&self, _registry: &mut Registry) {}
}
