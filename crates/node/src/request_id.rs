//! Request ids of S3 answers, as S3 gives them: every answer carries
//! `x-amz-request-id` and `x-amz-id-2`, and an error body carries the same two
//! values as `<RequestId>` and `<HostId>` (SDKs read them from the body, and
//! support cases quote them).

use std::sync::atomic::{AtomicU64, Ordering};

use hyper::Response;
use hyper::header::{self, HeaderValue};
use s3s::Body;

/// The two ids of one request.
pub(crate) struct RequestIds {
    pub request_id: String,
    pub host_id: String,
}

/// SplitMix64: spreads a counter into a well-mixed 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RequestIds {
    /// Fresh ids, unique within this process and unlikely to repeat across restarts.
    pub(crate) fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let a = mix(nanos ^ mix(n));
        let b = mix(a ^ 0x5bd1_e995);
        let c = mix(b);
        Self {
            request_id: format!("{a:016X}"),
            host_id: format!("{b:016x}{c:016x}"),
        }
    }

    /// Adds the id headers to an answer and the ids to its XML error body.
    pub(crate) fn stamp(&self, resp: &mut Response<Body>) {
        for (name, value) in [("x-amz-request-id", &self.request_id), ("x-amz-id-2", &self.host_id)] {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(header::HeaderName::from_static(name), v);
            }
        }
        // A 304 or 204 has no body to carry them (and must not get a length).
        if matches!(resp.status().as_u16(), 204 | 304) {
            return;
        }
        let Some(body) = resp.body().bytes() else { return };
        let Some(text) = std::str::from_utf8(&body).ok().and_then(|t| self.with_ids(t)) else {
            return;
        };
        if let Ok(len) = HeaderValue::from_str(&text.len().to_string()) {
            resp.headers_mut().insert(header::CONTENT_LENGTH, len);
        }
        *resp.body_mut() = Body::from(text);
    }

    /// An `<Error>` document with `RequestId` and `HostId`, if it lacked them.
    fn with_ids(&self, text: &str) -> Option<String> {
        let trimmed = text.trim_end();
        if !trimmed.ends_with("</Error>") || !text.contains("<Error>") || text.contains("<RequestId>") {
            return None;
        }
        let at = trimmed.len() - "</Error>".len();
        Some(format!(
            "{}<RequestId>{}</RequestId><HostId>{}</HostId></Error>",
            &trimmed[..at],
            self.request_id,
            self.host_id
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_gets_the_ids_of_its_headers_and_its_length_follows() {
        let ids = RequestIds::new();
        let xml = "<?xml version=\"1.0\"?>\n<Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        let mut resp = Response::new(Body::from(xml.to_string()));
        ids.stamp(&mut resp);
        let body = String::from_utf8(resp.body().bytes().unwrap().to_vec()).unwrap();
        let rid = resp.headers()["x-amz-request-id"].to_str().unwrap().to_string();
        let hid = resp.headers()["x-amz-id-2"].to_str().unwrap().to_string();
        assert!(
            body.ends_with(&format!("<RequestId>{rid}</RequestId><HostId>{hid}</HostId></Error>")),
            "{body}"
        );
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], body.len().to_string().as_str());
    }

    #[test]
    fn other_bodies_are_untouched_and_ids_differ_per_request() {
        let ids = RequestIds::new();
        let mut resp = Response::new(Body::from("<ListBucketResult></ListBucketResult>".to_string()));
        ids.stamp(&mut resp);
        assert_eq!(resp.body().bytes().unwrap(), "<ListBucketResult></ListBucketResult>".as_bytes());
        let with = "<Error><Code>X</Code><RequestId>A</RequestId></Error>";
        assert_eq!(ids.with_ids(with), None);
        assert_ne!(RequestIds::new().request_id, RequestIds::new().request_id);
    }
}
