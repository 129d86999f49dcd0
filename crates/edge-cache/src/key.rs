//! Cache keys: host + path + the rule's query parameters, headers and cookies (the primary
//! key), and the variant key a response's `Vary` adds to it. Every input is bounded: a
//! request whose key would be too large is simply not cached.

use crate::config::{CacheRule, CookieKey, QueryKey};
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, COOKIE, HOST, VARY};
use http::{HeaderMap, HeaderName, request};

/// Longest key the cache builds; past it the request is not cacheable.
pub(crate) const MAX_KEY_BYTES: usize = 4096;
/// Longest single header value that may enter a key.
const MAX_KEY_VALUE_BYTES: usize = 1024;
/// Most headers one `Vary` may name before the response is not cached.
pub(crate) const MAX_VARY_HEADERS: usize = 8;
/// Longest `Vary` header value read.
const MAX_VARY_BYTES: usize = 512;
/// Most query parameters or cookies looked at.
const MAX_PARTS: usize = 64;

/// Where a request points, and its primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestKey {
    /// host \n path \n query \n headers \n cookies
    pub primary: String,
    /// Lowercase host without port (what invalidations name).
    pub host: String,
    /// The path, without the query.
    pub path: String,
}

/// The request's host, lowercase, without port.
pub(crate) fn host_of(parts: &request::Parts) -> Option<String> {
    let raw = match parts.headers.get(HOST) {
        Some(h) => h.to_str().ok()?,
        None => parts.uri.authority()?.as_str(),
    };
    if raw.len() > 255 {
        return None;
    }
    Some(strip_port(raw).to_ascii_lowercase())
}

/// `example.com:8443` -> `example.com`; `[::1]:80` -> `[::1]`.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Does the viewer send credentials (Authorization, presigned query, session token)?
pub(crate) fn is_authenticated(parts: &request::Parts) -> bool {
    if parts.headers.contains_key(AUTHORIZATION) || parts.headers.contains_key("x-amz-security-token") {
        return true;
    }
    let query = parts.uri.query().unwrap_or("");
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        name.eq_ignore_ascii_case("X-Amz-Signature")
            || name.eq_ignore_ascii_case("X-Amz-Credential")
            || name.eq_ignore_ascii_case("Signature")
    })
}

/// The primary key of a viewer request under `rule`, or `None` when it is not cacheable.
pub(crate) fn primary_key(rule: &CacheRule, parts: &request::Parts) -> Option<RequestKey> {
    let host = host_of(parts)?;
    let path = parts.uri.path().to_string();
    let mut key = String::with_capacity(host.len() + path.len() + 8);
    key.push_str(&host);
    key.push('\n');
    key.push_str(&path);
    key.push('\n');
    push_query(&mut key, &rule.key_query, parts.uri.query().unwrap_or(""))?;
    key.push('\n');
    for name in &rule.key_headers {
        key.push_str(name.as_str());
        key.push('=');
        for value in parts.headers.get_all(name).iter().take(MAX_PARTS) {
            push_bounded(&mut key, value.as_bytes())?;
            key.push(',');
        }
        key.push(';');
    }
    key.push('\n');
    push_cookies(&mut key, &rule.key_cookies, &parts.headers)?;
    (key.len() <= MAX_KEY_BYTES).then_some(RequestKey { primary: key, host, path })
}

fn push_query(key: &mut String, rule: &QueryKey, query: &str) -> Option<()> {
    let wanted = |name: &str| match rule {
        QueryKey::None => false,
        QueryKey::All => true,
        QueryKey::Only(names) => names.iter().any(|n| n == name),
    };
    if *rule == QueryKey::None || query.is_empty() {
        return Some(());
    }
    let mut pairs: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() >= MAX_PARTS {
            return None;
        }
        if wanted(pair.split('=').next().unwrap_or("")) {
            pairs.push(pair);
        }
    }
    pairs.sort_unstable();
    push_joined(key, &pairs)
}

fn push_cookies(key: &mut String, rule: &CookieKey, headers: &HeaderMap) -> Option<()> {
    if *rule == CookieKey::None {
        return Some(());
    }
    let mut cookies: Vec<&str> = Vec::new();
    for header in headers.get_all(COOKIE).iter().take(MAX_PARTS) {
        let Ok(text) = header.to_str() else { continue };
        for cookie in text.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            if cookies.len() >= MAX_PARTS {
                return None;
            }
            let name = cookie.split('=').next().unwrap_or("");
            let keep = match rule {
                CookieKey::None => false,
                CookieKey::All => true,
                CookieKey::Only(names) => names.iter().any(|n| n == name),
            };
            if keep {
                cookies.push(cookie);
            }
        }
    }
    cookies.sort_unstable();
    push_joined(key, &cookies)
}

fn push_joined(key: &mut String, items: &[&str]) -> Option<()> {
    for item in items {
        push_bounded(key, item.as_bytes())?;
        key.push('&');
    }
    Some(())
}

/// Appends a value (lossy UTF-8) unless it, or the key, grows past the bounds.
fn push_bounded(key: &mut String, value: &[u8]) -> Option<()> {
    if value.len() > MAX_KEY_VALUE_BYTES || key.len() + value.len() > MAX_KEY_BYTES {
        return None;
    }
    key.push_str(&String::from_utf8_lossy(value));
    Some(())
}

/// What a response's `Vary` means for caching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Vary {
    /// Not varying (or varying only on headers already in the key).
    None,
    /// Varies on these request headers.
    On(Vec<HeaderName>),
    /// `Vary: *`, too many names, or unreadable: do not cache.
    Uncacheable,
}

/// Reads the `Vary` headers of a response.
pub(crate) fn parse_vary(headers: &HeaderMap) -> Vary {
    let mut names: Vec<HeaderName> = Vec::new();
    let mut total = 0usize;
    for value in headers.get_all(VARY) {
        total += value.len();
        let Ok(text) = value.to_str() else {
            return Vary::Uncacheable;
        };
        if total > MAX_VARY_BYTES {
            return Vary::Uncacheable;
        }
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                return Vary::Uncacheable;
            }
            let Ok(name) = HeaderName::from_bytes(item.as_bytes()) else {
                return Vary::Uncacheable;
            };
            if !names.contains(&name) {
                names.push(name);
            }
            if names.len() > MAX_VARY_HEADERS {
                return Vary::Uncacheable;
            }
        }
    }
    if names.is_empty() {
        Vary::None
    } else {
        names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        Vary::On(names)
    }
}

/// The variant key: primary key plus the request's values of the varying headers.
/// `Accept-Encoding` is normalised to whether gzip is accepted, so browsers' many
/// spellings do not split the cache.
pub(crate) fn variant_key(primary: &str, vary: &[HeaderName], headers: &HeaderMap) -> Option<String> {
    let mut key = String::with_capacity(primary.len() + 32);
    key.push_str(primary);
    key.push('\u{1}');
    for name in vary {
        key.push_str(name.as_str());
        key.push('=');
        if *name == ACCEPT_ENCODING {
            key.push_str(if accepts_gzip(headers) { "gzip" } else { "-" });
        } else {
            for value in headers.get_all(name).iter().take(MAX_PARTS) {
                push_bounded(&mut key, value.as_bytes())?;
                key.push(',');
            }
        }
        key.push(';');
    }
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

/// Does the viewer accept gzip (`gzip` or `*` with a non-zero q)?
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT_ENCODING).iter().take(MAX_PARTS).any(|value| {
        let Ok(text) = value.to_str() else { return false };
        text.split(',').take(MAX_PARTS).any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero_q = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero_q
        })
    })
}
