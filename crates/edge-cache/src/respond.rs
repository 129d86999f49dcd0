//! The viewer's response from a stored object: 304 for a matching If-None-Match /
//! If-Modified-Since, 206 / 416 for a Range, gzip for viewers that accept it, no body
//! for HEAD, and an `Age` header.

use crate::api::{Outcome, Served, ServedBody};
use crate::compress::compressible_type;
use crate::config::CacheRule;
use crate::control::http_date;
use crate::key::accepts_gzip;
use crate::object::Stored;
use crate::range::{self, RangeAsk};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};

/// Headers a 304 carries over from the stored response.
const NOT_MODIFIED_KEEP: [header::HeaderName; 6] = [
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::EXPIRES,
    header::VARY,
    header::CONTENT_LOCATION,
];

/// Longest conditional header compared.
const MAX_CONDITION_BYTES: usize = 2048;

/// Serves `obj` to the viewer of `req`.
pub(crate) fn respond<B>(obj: &Stored, rule: &CacheRule, method: &Method, viewer: &HeaderMap, now_ms: u64, outcome: Outcome) -> Served<B> {
    let (status, mut headers, body) = if obj.negative || !obj.status.is_success() {
        (obj.status, obj.headers.clone(), obj.body.clone())
    } else if not_modified(obj, viewer) {
        (StatusCode::NOT_MODIFIED, not_modified_headers(obj), Bytes::new())
    } else {
        full_or_range(obj, rule, viewer)
    };
    let age = obj.age(now_ms).as_secs();
    headers.insert(header::AGE, HeaderValue::from(age));
    if status != StatusCode::NOT_MODIFIED {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    }
    let body = if *method == Method::HEAD { Bytes::new() } else { body };
    let mut response = Response::new(ServedBody::Cached(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Served::new(response, outcome)
}

/// The full object (gzip when asked and allowed), or the asked byte range.
fn full_or_range(obj: &Stored, rule: &CacheRule, viewer: &HeaderMap) -> (StatusCode, HeaderMap, Bytes) {
    let mut headers = obj.headers.clone();
    if rule.compress && compressible_type(&obj.headers) {
        add_vary_accept_encoding(&mut headers);
    }
    let len = obj.body.len() as u64;
    let ask = match viewer.get(header::RANGE) {
        Some(r) if obj.status == StatusCode::OK && if_range_holds(obj, viewer) => range::parse(r, len),
        _ => RangeAsk::Whole,
    };
    match ask {
        RangeAsk::Part { start, end } => {
            let content_range = format!("bytes {start}-{end}/{len}");
            if let Ok(v) = HeaderValue::from_str(&content_range) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            let body = obj.body.slice(start as usize..=end as usize);
            (StatusCode::PARTIAL_CONTENT, headers, body)
        }
        RangeAsk::Unsatisfiable => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            headers.remove(header::CONTENT_TYPE);
            (StatusCode::RANGE_NOT_SATISFIABLE, headers, Bytes::new())
        }
        RangeAsk::Whole => match &obj.gzip {
            Some(gz) if rule.compress && accepts_gzip(viewer) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                weaken_etag(&mut headers);
                (obj.status, headers, gz.clone())
            }
            _ => (obj.status, headers, obj.body.clone()),
        },
    }
}

fn add_vary_accept_encoding(headers: &mut HeaderMap) {
    let already = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|n| n.trim().eq_ignore_ascii_case("accept-encoding")))
    });
    if !already {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// A gzip body is not byte-identical to the stored one: its ETag becomes weak.
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(header::ETAG) else { return };
    if etag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = b"W/".to_vec();
    weak.extend_from_slice(etag.as_bytes());
    if let Ok(v) = HeaderValue::from_bytes(&weak) {
        headers.insert(header::ETAG, v);
    }
}

/// Does the viewer's If-None-Match (or, without it, If-Modified-Since) say it has this?
fn not_modified(obj: &Stored, viewer: &HeaderMap) -> bool {
    if let Some(inm) = viewer.get(header::IF_NONE_MATCH) {
        let Some(etag) = obj.headers.get(header::ETAG) else { return false };
        return inm.len() <= MAX_CONDITION_BYTES && etag_listed(inm, etag);
    }
    let (Some(ims), Some(lm)) = (viewer.get(header::IF_MODIFIED_SINCE), obj.headers.get(header::LAST_MODIFIED)) else {
        return false;
    };
    matches!((http_date(ims), http_date(lm)), (Some(since), Some(modified)) if modified <= since)
}

/// Weak comparison of an entity tag against an If-None-Match list (or `*`).
fn etag_listed(list: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(list), Ok(etag)) = (list.to_str(), etag.to_str()) else {
        return false;
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = bare(etag);
    list.split(',').take(64).any(|t| t.trim() == "*" || bare(t) == ours)
}

/// If-Range: the range applies only when the validator is the stored one.
fn if_range_holds(obj: &Stored, viewer: &HeaderMap) -> bool {
    let Some(cond) = viewer.get(header::IF_RANGE) else { return true };
    let strong_etag = obj.headers.get(header::ETAG).filter(|e| !e.as_bytes().starts_with(b"W/"));
    if strong_etag.is_some_and(|e| e == cond) {
        return true;
    }
    match (http_date(cond), obj.headers.get(header::LAST_MODIFIED).and_then(http_date)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn not_modified_headers(obj: &Stored) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in &NOT_MODIFIED_KEEP {
        for value in obj.headers.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}
