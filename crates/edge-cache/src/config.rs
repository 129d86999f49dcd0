//! Configuration of the cache (one per edge process) and of one cache behaviour (a rule).

use std::path::PathBuf;
use std::time::Duration;

/// Sizes and tiers of one edge's cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Bound on the memory tier, in bytes (bodies, headers and keys).
    pub max_memory_bytes: u64,
    /// Directory of the disk tier; `None` keeps the cache in memory only.
    pub disk_dir: Option<PathBuf>,
    /// Bound on the disk tier, in bytes of entry files.
    pub max_disk_bytes: u64,
    /// Responses larger than this are never cached (they stream through).
    pub max_object_bytes: u64,
    /// How long a negative answer (404 and `negative_statuses`) is kept.
    pub negative_ttl: Duration,
    /// Status codes cached for `negative_ttl` as negative answers.
    pub negative_statuses: Vec<u16>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_memory_bytes: 256 << 20,
            disk_dir: None,
            max_disk_bytes: 1 << 30,
            max_object_bytes: 16 << 20,
            negative_ttl: Duration::from_secs(1),
            negative_statuses: vec![404],
        }
    }
}

/// Which query-string parameters form the cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueryKey {
    /// The query string is not part of the key.
    #[default]
    None,
    /// Every parameter (sorted, so order does not split the cache).
    All,
    /// Only the named parameters.
    Only(Vec<String>),
}

/// Which cookies form the cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CookieKey {
    #[default]
    None,
    All,
    Only(Vec<String>),
}

/// Per cache behaviour (from the distribution's config).
#[derive(Debug, Clone)]
pub struct CacheRule {
    /// Floor of the origin's max-age / s-maxage / Expires (also applied to `no-cache`).
    pub min_ttl: Duration,
    /// TTL when the origin says nothing.
    pub default_ttl: Duration,
    /// Ceiling of the origin's freshness lifetime.
    pub max_ttl: Duration,
    /// Viewer request headers that form the cache key.
    pub key_headers: Vec<http::HeaderName>,
    pub key_query: QueryKey,
    pub key_cookies: CookieKey,
    /// Cache requests with viewer credentials and `private` / `Set-Cookie` responses.
    pub cache_authenticated: bool,
    /// Gzip compressible content types for viewers that accept gzip.
    pub compress: bool,
}

impl Default for CacheRule {
    fn default() -> Self {
        CacheRule {
            min_ttl: Duration::ZERO,
            default_ttl: Duration::from_secs(86_400),
            max_ttl: Duration::from_secs(31_536_000),
            key_headers: Vec::new(),
            key_query: QueryKey::None,
            key_cookies: CookieKey::None,
            cache_authenticated: false,
            compress: false,
        }
    }
}

/// Why the cache could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache disk directory {path}: {source}")]
    Disk { path: PathBuf, source: std::io::Error },
    #[error("cache configuration: {0}")]
    Config(String),
}
