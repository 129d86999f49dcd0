//! `100 Continue` for a request that asks for it but has no body.
//!
//! hyper, as RFC 9110 allows, sends no `100 Continue` when the framing says
//! there is no content, and answers with the final status at once. botocore
//! (boto3, the aws CLI) sends `Expect: 100-continue` with zero-byte uploads
//! too, and then keeps the final status it read while waiting for `100
//! Continue` as the status of every later response on that connection: the
//! next request that also expects `100 Continue` has its answer misparsed
//! and hangs until the client's read timeout. S3 answers `100 Continue` to
//! every request that asks, so the node does too: on HTTP/1.1 the connection
//! is told to write the interim answer ahead of the final one
//! ([`crate::conn::Activity::owe_continue`]), and the connection stays open.
//! Requests with a body get theirs from hyper when the body is first read.

use hyper::header::{self, HeaderMap};

/// True for a request that expects `100 Continue` and has no content.
pub fn bodyless_expect(headers: &HeaderMap) -> bool {
    let expects = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let empty = match headers.get(header::CONTENT_LENGTH) {
        Some(v) => v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) == Some(0),
        None => !headers.contains_key(header::TRANSFER_ENCODING),
    };
    expects && empty
}

/// Whether the connection must write `100 Continue` itself for this request.
pub fn owes_continue<B>(req: &hyper::Request<B>) -> bool {
    req.version() == hyper::Version::HTTP_11 && bodyless_expect(req.headers())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn only_a_bodyless_expect_request_is_owed_a_continue() {
        assert!(bodyless_expect(&headers(&[("expect", "100-continue"), ("content-length", "0")])));
        assert!(bodyless_expect(&headers(&[("expect", "100-Continue")])));
        assert!(!bodyless_expect(&headers(&[("expect", "100-continue"), ("content-length", "443")])));
        assert!(!bodyless_expect(&headers(&[
            ("expect", "100-continue"),
            ("transfer-encoding", "chunked")
        ])));
        assert!(!bodyless_expect(&headers(&[("content-length", "0")])));
    }
}
