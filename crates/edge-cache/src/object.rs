//! One stored response and its freshness: fresh, stale but revalidating in the
//! background, usable only when the origin fails, or expired.

use crate::api::Revalidate;
use crate::control::Lifetime;
use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, StatusCode};
use std::time::Duration;

/// Response headers never stored (hop-by-hop, or recomputed when serving).
const NOT_STORED: [HeaderName; 8] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::AGE,
    header::SET_COOKIE,
];

/// A cached response.
#[derive(Debug)]
pub(crate) struct Stored {
    /// The key it is stored under (variant key when it varies).
    pub key: String,
    pub primary: String,
    pub host: String,
    pub path: String,
    pub vary: Vec<HeaderName>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it was fetched or last revalidated (unix ms).
    pub stored_ms: u64,
    pub life: Lifetime,
    /// A negative answer (404 …): never served stale, never revalidated.
    pub negative: bool,
    /// The gzip form (computed when stored, under a `compress` rule).
    pub gzip: Option<Bytes>,
}

/// Where an entry is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Fresh,
    /// Past its TTL but inside stale-while-revalidate.
    Revalidating,
    /// Past both; still useful for a conditional request or stale-if-error.
    Expired,
}

impl Stored {
    /// Builds an entry, dropping the headers that are never stored.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        key: String,
        primary: String,
        host: String,
        path: String,
        vary: Vec<HeaderName>,
        parts: &http::response::Parts,
        body: Bytes,
        stored_ms: u64,
        life: Lifetime,
        negative: bool,
    ) -> Stored {
        let mut headers = parts.headers.clone();
        for name in &NOT_STORED {
            headers.remove(name);
        }
        Stored {
            key,
            primary,
            host,
            path,
            vary,
            status: parts.status,
            headers,
            body,
            stored_ms,
            life,
            negative,
            gzip: None,
        }
    }

    pub(crate) fn age(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.stored_ms))
    }

    pub(crate) fn state(&self, now_ms: u64) -> State {
        let age = self.age(now_ms);
        if age < self.life.ttl {
            State::Fresh
        } else if !self.negative && age < self.life.ttl + self.life.stale_while_revalidate {
            State::Revalidating
        } else {
            State::Expired
        }
    }

    /// May it stand in for an origin that failed?
    pub(crate) fn usable_on_error(&self, now_ms: u64) -> bool {
        !self.negative && self.age(now_ms) < self.life.ttl + self.life.stale_if_error
    }

    /// Worth keeping once expired: it can be revalidated or served on error.
    pub(crate) fn worth_keeping(&self) -> bool {
        !self.negative
            && (self.validators().is_some()
                || !self.life.ttl.is_zero()
                || !self.life.stale_if_error.is_zero()
                || !self.life.stale_while_revalidate.is_zero())
    }

    /// The conditional headers to revalidate with, if it has validators.
    pub(crate) fn validators(&self) -> Option<Revalidate> {
        if self.negative {
            return None;
        }
        let reval = Revalidate {
            if_none_match: self.headers.get(header::ETAG).cloned(),
            if_modified_since: self.headers.get(header::LAST_MODIFIED).cloned(),
        };
        (reval.if_none_match.is_some() || reval.if_modified_since.is_some()).then_some(reval)
    }

    /// The entry after the origin answered 304: headers of the 304 replace the stored
    /// ones (except the body's framing), the clock restarts.
    pub(crate) fn refreshed(&self, not_modified: &HeaderMap, life: Lifetime, now_ms: u64) -> Stored {
        let mut headers = self.headers.clone();
        for (name, value) in not_modified {
            let framing = *name == header::CONTENT_LENGTH
                || *name == header::CONTENT_TYPE
                || *name == header::CONTENT_ENCODING
                || *name == header::CONTENT_RANGE
                || NOT_STORED.contains(name);
            if !framing {
                headers.insert(name.clone(), value.clone());
            }
        }
        Stored {
            key: self.key.clone(),
            primary: self.primary.clone(),
            host: self.host.clone(),
            path: self.path.clone(),
            vary: self.vary.clone(),
            status: self.status,
            headers,
            body: self.body.clone(),
            stored_ms: now_ms,
            life,
            negative: self.negative,
            gzip: self.gzip.clone(),
        }
    }

    /// Bytes it takes in memory (body, headers, keys, a fixed overhead).
    pub(crate) fn weight(&self) -> u64 {
        let headers: usize = self.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 32).sum();
        let gzip = self.gzip.as_ref().map_or(0, Bytes::len);
        (self.body.len() + headers + self.key.len() + self.primary.len() + gzip + 256) as u64
    }
}
