//! `100 Continue`: for a request that asks for it but has no body, and the
//! connection after a request whose body waited for it in vain.
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
//!
//! The other way round, a request that expects `100 Continue` and has a body
//! may be answered before its body is read (an error, say). hyper then sends
//! no `100 Continue`, and the client may not send the body at all; hyper
//! would take the first bytes of the client's next request on the
//! connection as the unsent body if the request's body is dropped after
//! the answer went out. Such an answer says `Connection: close`
//! ([`close_if_body_unsent`]): the client sends its next request on a new
//! connection, and this one ends after the answer.

use hyper::header::{self, HeaderMap, HeaderValue};

use crate::progress::BodyEnd;

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

fn declares_no_content(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_LENGTH) {
        Some(v) => v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) == Some(0),
        None => !headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// True for a request that expects `100 Continue` and has no content.
pub fn bodyless_expect(headers: &HeaderMap) -> bool {
    expects_continue(headers) && declares_no_content(headers)
}

/// Whether the connection must write `100 Continue` itself for this request.
pub fn owes_continue<B>(req: &hyper::Request<B>) -> bool {
    req.version() == hyper::Version::HTTP_11 && bodyless_expect(req.headers())
}

/// True for an HTTP/1.1 request whose body waits for `100 Continue`.
pub fn awaits_continue<B>(req: &hyper::Request<B>) -> bool {
    req.version() == hyper::Version::HTTP_11 && expects_continue(req.headers()) && !declares_no_content(req.headers())
}

/// Marks the answer to a request that awaited `100 Continue` with
/// `Connection: close` unless its body was read to the end.
pub fn close_if_body_unsent<B>(resp: &mut hyper::Response<B>, awaited_continue: bool, body: &BodyEnd) {
    if awaited_continue && !body.reached() {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
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

    fn request(pairs: &[(&'static str, &'static str)], version: hyper::Version) -> hyper::Request<()> {
        let mut req = hyper::Request::new(());
        *req.headers_mut() = headers(pairs);
        *req.version_mut() = version;
        req
    }

    #[test]
    fn only_an_http1_request_with_a_body_awaits_a_continue() {
        let with_body = [("expect", "100-continue"), ("content-length", "4")];
        assert!(awaits_continue(&request(&with_body, hyper::Version::HTTP_11)));
        assert!(!awaits_continue(&request(&with_body, hyper::Version::HTTP_2)));
        assert!(awaits_continue(&request(
            &[("expect", "100-continue"), ("transfer-encoding", "chunked")],
            hyper::Version::HTTP_11
        )));
        assert!(!awaits_continue(&request(
            &[("expect", "100-continue"), ("content-length", "0")],
            hyper::Version::HTTP_11
        )));
        assert!(!awaits_continue(&request(&[("content-length", "4")], hyper::Version::HTTP_11)));
    }

    #[test]
    fn an_answer_before_an_awaited_body_closes_the_connection() {
        let unread = BodyEnd::default();
        let mut resp = hyper::Response::new(());
        close_if_body_unsent(&mut resp, false, &unread);
        assert!(resp.headers().get(header::CONNECTION).is_none(), "no continue awaited");
        close_if_body_unsent(&mut resp, true, &unread);
        assert_eq!(resp.headers()[header::CONNECTION], "close");
    }
}
