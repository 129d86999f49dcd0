//! The edge's HTTP cache (`tandem edge`, issue 13): a library that knows nothing of
//! origins. The proxy asks whether a viewer request is one the cache may answer
//! (`accepts`), whether to buffer an origin response (`wants_body`), and serves through
//! it (`serve`) with a fetch closure the cache runs at most once per key at a time.
//!
//! Map: `key` (cache keys, Vary), `control` (Cache-Control and TTLs), `object` (a stored
//! response and its freshness), `memory` / `disk` (the two tiers), `flight` (request
//! collapsing), `serve` (the lookup / fetch / store path), `respond` and `range` (the
//! viewer's response: 304, 206, 416, HEAD), `compress` (gzip), `invalidation`.

mod api;
mod clock;
mod compress;
mod config;
mod control;
mod disk;
mod flight;
mod invalidation;
mod key;
mod memory;
mod object;
mod range;
mod respond;
mod serve;
mod stats;
#[cfg(test)]
mod tests;

pub use api::{CacheStats, Fetched, OriginFailure, Outcome, Revalidate, Served, ServedBody};
pub use config::{CacheConfig, CacheError, CacheRule, CookieKey, QueryKey};
pub use invalidation::{MAX_PATTERN_BYTES, MAX_PATTERNS};

use clock::Clock;
use disk::Disk;
use flight::Flights;
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE, SET_COOKIE};
use http::{Method, StatusCode, request, response};
use invalidation::{Log, Patterns};
use memory::Memory;
use stats::{Counters, read};
use std::sync::Arc;

/// Statuses stored for their full lifetime (negative ones come from the config).
const CACHEABLE: [u16; 7] = [200, 203, 204, 300, 301, 308, 410];
/// Longest request target the cache looks at.
const MAX_URI_BYTES: usize = 8192;

/// One cache per edge process; clones share it.
#[derive(Clone)]
pub struct EdgeCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EdgeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeCache").field("stats", &self.stats()).finish()
    }
}

struct Inner {
    config: CacheConfig,
    memory: Memory,
    disk: Option<Arc<Disk>>,
    flights: Arc<Flights>,
    log: Log,
    clock: Clock,
    counters: Counters,
}

impl EdgeCache {
    /// Builds the cache; with a disk directory, indexes the entries already there.
    pub fn new(config: CacheConfig) -> Result<Self, CacheError> {
        if config.max_object_bytes > config.max_memory_bytes {
            return Err(CacheError::Config("max_object_bytes is larger than max_memory_bytes".into()));
        }
        let memory = Memory::new(config.max_memory_bytes, config.max_object_bytes)?;
        let disk = match &config.disk_dir {
            Some(dir) => Some(Arc::new(Disk::open(dir, config.max_disk_bytes, config.max_object_bytes)?)),
            None => None,
        };
        Ok(EdgeCache {
            inner: Arc::new(Inner {
                config,
                memory,
                disk,
                flights: Arc::default(),
                log: Log::default(),
                clock: Clock::default(),
                counters: Counters::default(),
            }),
        })
    }

    /// May the cache answer this viewer request? GET/HEAD, a key that fits the bounds,
    /// no viewer credentials unless the rule caches authenticated requests. A Range
    /// request is accepted only when the object is already stored (a miss goes to the
    /// origin with its Range, so large media never has to be fetched whole).
    pub fn accepts(&self, rule: &CacheRule, req: &request::Parts) -> bool {
        if !(req.method == Method::GET || req.method == Method::HEAD) {
            return false;
        }
        let uri_len = req.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if uri_len > MAX_URI_BYTES || (!rule.cache_authenticated && key::is_authenticated(req)) {
            return false;
        }
        let Some(key) = key::primary_key(rule, req) else {
            return false;
        };
        !req.headers.contains_key(RANGE) || self.holds(&key, &req.headers)
    }

    /// Should the proxy buffer this origin response and return `Fetched::Full`? Yes when
    /// the cache could store it (status, size, Cache-Control, cookies, Vary) or when it
    /// is the 304 of a revalidation.
    pub fn wants_body(&self, rule: &CacheRule, _req: &request::Parts, resp: &response::Parts) -> bool {
        if resp.status == StatusCode::NOT_MODIFIED {
            return true;
        }
        let code = resp.status.as_u16();
        if !(CACHEABLE.contains(&code) || self.inner.config.negative_statuses.contains(&code)) {
            return false;
        }
        let too_big = resp
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|len| len > self.inner.config.max_object_bytes);
        !too_big
            && !resp.headers.contains_key(CONTENT_RANGE)
            && (rule.cache_authenticated || !resp.headers.contains_key(SET_COOKIE))
            && key::parse_vary(&resp.headers) != key::Vary::Uncacheable
            && control::lifetime(rule, &resp.headers, self.inner.clock.now()).is_some()
    }

    /// The largest body the proxy should buffer for `Fetched::Full`.
    pub fn max_object_bytes(&self) -> u64 {
        self.inner.config.max_object_bytes
    }

    /// Removes the entries (both tiers) whose path matches any pattern (`*` matches any
    /// run of characters), on `host` or every host; returns how many were removed. See
    /// `invalidation` for why later lookups need no pattern check.
    pub fn invalidate(&self, host: Option<&str>, patterns: &[String]) -> u64 {
        let patterns = Patterns::new(host, patterns);
        self.inner.log.record(patterns.clone());
        let mut removed = self.inner.memory.invalidate(&patterns);
        if let Some(disk) = &self.inner.disk {
            // An entry in both tiers counts once.
            removed.extend(disk.invalidate(&patterns));
            removed.sort_unstable();
            removed.dedup();
        }
        let removed = removed.len() as u64;
        stats::add(&self.inner.counters.invalidated, removed);
        removed
    }

    /// Counters and gauges for /metrics.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        let (disk_bytes, disk_entries) = self.inner.disk.as_ref().map_or((0, 0), |d| (d.bytes(), d.entries()));
        CacheStats {
            hits: read(&c.hits),
            misses: read(&c.misses),
            stale: read(&c.stale),
            refresh_hits: read(&c.refresh_hits),
            collapsed: read(&c.collapsed),
            evictions: self.inner.memory.evictions(),
            invalidated: read(&c.invalidated),
            memory_bytes: self.inner.memory.bytes(),
            memory_entries: self.inner.memory.entries(),
            disk_bytes,
            disk_entries,
        }
    }
}
