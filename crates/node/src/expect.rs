//! Closes the connection after answering a request that asked for `Expect:
//! 100-continue` but has no body.
//!
//! hyper, as RFC 9110 allows, sends no `100 Continue` when the framing says
//! there is no content, and answers with the final status at once. botocore
//! (boto3, the aws CLI) then keeps the final status it read while waiting for
//! `100 Continue` as the status of every later response on that connection:
//! the next request that also expects `100 Continue` (any PutObject with a
//! body) has its answer misparsed and hangs until the client's read timeout.
//! Closing the connection after such an answer makes the client start the
//! next request on a fresh connection; the cost is one reconnect after a
//! zero-byte upload.

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response};

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

impl crate::Node {
    /// Serves one request ([`crate::Node::handle`]), closing the connection
    /// after the answer to a bodyless `Expect: 100-continue` request.
    pub async fn serve(&self, req: Request<crate::ReqBody>) -> Response<s3s::Body> {
        let close = bodyless_expect(req.headers());
        let mut resp = self.handle(req).await;
        if close {
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn only_a_bodyless_expect_request_closes() {
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
