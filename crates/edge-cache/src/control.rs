//! Freshness from the origin's response: Cache-Control (max-age, s-maxage, no-store,
//! private, no-cache, stale-while-revalidate, stale-if-error), Expires as a fallback,
//! clamped by the rule's min/default/max TTL. The parser is bounded and never fails:
//! an unreadable Cache-Control is treated as `no-store`.

use crate::config::CacheRule;
use http::HeaderMap;
use http::header::{AGE, CACHE_CONTROL, DATE, EXPIRES};
use std::time::{Duration, SystemTime};

/// Longest Cache-Control (all lines together) that is read.
const MAX_CACHE_CONTROL_BYTES: usize = 2048;
/// Most directives read.
const MAX_DIRECTIVES: usize = 32;
/// Longest lifetime any directive may say (ten years).
const MAX_SECONDS: u64 = 10 * 365 * 86_400;

/// The directives the cache acts on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CacheControl {
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

impl CacheControl {
    /// Parses every Cache-Control header of `headers`.
    pub(crate) fn parse(headers: &HeaderMap) -> CacheControl {
        let mut cc = CacheControl::default();
        let mut total = 0usize;
        let mut count = 0usize;
        for value in headers.get_all(CACHE_CONTROL) {
            total += value.len();
            let Ok(text) = value.to_str() else {
                return CacheControl::unreadable();
            };
            if total > MAX_CACHE_CONTROL_BYTES {
                return CacheControl::unreadable();
            }
            for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                count += 1;
                if count > MAX_DIRECTIVES {
                    return CacheControl::unreadable();
                }
                cc.apply(directive);
            }
        }
        cc
    }

    fn unreadable() -> CacheControl {
        CacheControl {
            no_store: true,
            ..CacheControl::default()
        }
    }

    fn apply(&mut self, directive: &str) {
        let (name, arg) = match directive.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
            None => (directive, None),
        };
        let seconds = arg.and_then(|a| a.parse::<u64>().ok()).map(|s| s.min(MAX_SECONDS));
        match name.to_ascii_lowercase().as_str() {
            "max-age" => self.max_age = seconds.or(Some(0)),
            "s-maxage" => self.s_maxage = seconds.or(Some(0)),
            "no-store" => self.no_store = true,
            // `no-cache="Set-Cookie"` (field-limited) is treated as plain no-cache.
            "no-cache" => self.no_cache = true,
            "private" => self.private = true,
            "stale-while-revalidate" => self.stale_while_revalidate = seconds,
            "stale-if-error" => self.stale_if_error = seconds,
            _ => {}
        }
    }
}

/// How long a stored response is fresh, and may then be served stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    pub ttl: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
}

/// The lifetime of a response under `rule`, or `None` when it must not be stored.
pub(crate) fn lifetime(rule: &CacheRule, headers: &HeaderMap, now: SystemTime) -> Option<Lifetime> {
    let cc = CacheControl::parse(headers);
    if cc.no_store || (cc.private && !rule.cache_authenticated) {
        return None;
    }
    let origin = cc
        .s_maxage
        .or(cc.max_age)
        .map(Duration::from_secs)
        .or_else(|| expires_in(headers, now));
    let ttl = match origin {
        _ if cc.no_cache => rule.min_ttl,
        Some(t) => t.saturating_sub(age(headers)),
        None => rule.default_ttl,
    };
    Some(Lifetime {
        ttl: clamp(ttl, rule.min_ttl, rule.max_ttl),
        stale_while_revalidate: Duration::from_secs(cc.stale_while_revalidate.unwrap_or(0)),
        stale_if_error: Duration::from_secs(cc.stale_if_error.unwrap_or(0)),
    })
}

fn clamp(ttl: Duration, min: Duration, max: Duration) -> Duration {
    ttl.max(min).min(max.max(min))
}

/// Seconds the origin's `Age` says the response already spent in a cache.
fn age(headers: &HeaderMap) -> Duration {
    headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, |s| Duration::from_secs(s.min(MAX_SECONDS)))
}

/// `Expires - Date` (or `- now`); an unreadable Expires means already expired.
fn expires_in(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let expires = headers.get(EXPIRES)?;
    let Some(at) = http_date(expires) else {
        return Some(Duration::ZERO);
    };
    let base = headers.get(DATE).and_then(http_date).unwrap_or(now);
    Some(at.duration_since(base).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP date, bounded in length.
pub(crate) fn http_date(value: &http::HeaderValue) -> Option<SystemTime> {
    if value.len() > 64 {
        return None;
    }
    httpdate::parse_http_date(value.to_str().ok()?).ok()
}
