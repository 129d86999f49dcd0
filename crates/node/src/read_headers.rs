//! Range and conditional headers as RFC 9110 and S3 treat them: on GET and
//! HEAD, a `Range` that does not parse (`bytes=abc`, `items=0-1`, several
//! ranges, first > last) or an `If-Modified-Since` / `If-Unmodified-Since`
//! that is not a date is ignored (200 with the whole object), where s3s 0.14
//! would answer 400 while parsing the operation's input. A date in an
//! obsolete but valid form (`+0000`, RFC 850) is rewritten as IMF-fixdate.
//!
//! Removing or rewriting a header the client signed would break its SigV4
//! signature, so such a request is first verified here (header form, with the
//! deployment's keys), then fixed and signed again with the same key, region
//! and service; s3s then verifies that signature as usual. A request whose
//! signature does not verify here is passed on untouched, and s3s reports it.
//! A presigned URL that signs one of these headers is passed on untouched too.

use http::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request};
use s3s::dto::{Range, Timestamp, TimestampFormat};
use tandem_s3::Principals;
use tandem_s3::auth_form::{self, AuthForm};

/// What to do with one header.
enum Fix {
    Remove(HeaderName),
    Replace(HeaderName, HeaderValue),
}

impl Fix {
    fn name(&self) -> &HeaderName {
        match self {
            Fix::Remove(n) | Fix::Replace(n, _) => n,
        }
    }

    fn apply(self, headers: &mut http::HeaderMap) {
        match self {
            Fix::Remove(n) => {
                headers.remove(n);
            }
            Fix::Replace(n, v) => {
                headers.insert(n, v);
            }
        }
    }
}

/// The fix a conditional date header needs, if any.
fn date_fix(name: HeaderName, headers: &http::HeaderMap) -> Option<Fix> {
    let mut values = headers.get_all(&name).iter();
    let (first, second) = (values.next()?, values.next());
    let Some(text) = first.to_str().ok().filter(|_| second.is_none()) else {
        return Some(Fix::Remove(name));
    };
    if text.is_empty() || Timestamp::parse(TimestampFormat::HttpDate, text).is_ok() {
        return None;
    }
    let normalised = tandem_s3::auth_checks::parse_http_date(text).and_then(|t| {
        let mut out = Vec::new();
        Timestamp::from(t).format(TimestampFormat::HttpDate, &mut out).ok()?;
        HeaderValue::from_bytes(&out).ok()
    });
    Some(match normalised {
        Some(v) => Fix::Replace(name, v),
        None => Fix::Remove(name),
    })
}

/// One RFC 9110 byte range: `first-`, `first-last` or `-suffix`, digits only
/// (s3s also takes `bytes=-`, an empty suffix, and would answer 416).
fn single_byte_range(text: &str) -> bool {
    let Some((first, last)) = text.strip_prefix("bytes=").and_then(|r| r.split_once('-')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(first) && (last.is_empty() || digits(last))) || (first.is_empty() && digits(last))
}

/// The fix a `Range` header needs, if any: one that is not a single byte
/// range s3s can parse is dropped.
fn range_fix(headers: &http::HeaderMap) -> Option<Fix> {
    let mut values = headers.get_all(header::RANGE).iter();
    let (first, second) = (values.next()?, values.next());
    let parses = second.is_none()
        && first
            .to_str()
            .is_ok_and(|t| t.is_empty() || (single_byte_range(t) && Range::parse(t).is_ok()));
    (!parses).then_some(Fix::Remove(header::RANGE))
}

fn fixes(headers: &http::HeaderMap) -> Vec<Fix> {
    [
        range_fix(headers),
        date_fix(header::IF_MODIFIED_SINCE, headers),
        date_fix(header::IF_UNMODIFIED_SINCE, headers),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Ignores (or normalises) malformed range and date conditions of a GET or HEAD.
pub(crate) fn ignore_malformed<B>(req: &mut Request<B>, principals: &Principals) {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return;
    }
    let fixes = fixes(req.headers());
    if fixes.is_empty() {
        return;
    }
    let form = auth_form::of(req.method(), req.uri(), req.headers());
    if !fixes.iter().any(|f| form.covers(f.name().as_str())) {
        fixes.into_iter().for_each(|f| f.apply(req.headers_mut()));
        return;
    }
    if matches!(form, AuthForm::V4Header(_)) {
        resign_without(req, fixes, principals);
    }
}

/// Verifies a header-signed request, applies the fixes and signs it again.
fn resign_without<B>(req: &mut Request<B>, fixes: Vec<Fix>, principals: &Principals) {
    let now = time::OffsetDateTime::now_utc();
    let Ok(signer) = tandem_sigv4::verify(req.method(), req.uri(), req.headers(), b"", now, |k| principals.secret_of(k)) else {
        return;
    };
    let Some(secret) = principals.secret_of(&signer.access_key) else {
        return;
    };
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let headers = req.headers_mut();
    fixes.into_iter().for_each(|f| f.apply(headers));
    for name in [header::AUTHORIZATION.as_str(), "x-amz-date", "x-amz-content-sha256"] {
        headers.remove(name);
    }
    if !headers.contains_key(header::HOST)
        && let Some(authority) = uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(header::HOST, authority);
    }
    tandem_sigv4::sign(
        &method,
        &uri,
        headers,
        b"",
        &signer.access_key,
        &secret,
        &signer.region,
        &signer.service,
        now,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_s3::AccessKey;

    fn principals() -> Principals {
        Principals::new([AccessKey {
            access_key_id: "AKID".into(),
            secret_access_key: "secret-key-1".into(),
            principal: "alice".into(),
            admin: false,
            policy: None,
        }])
    }

    fn get(headers: &[(&'static str, &str)]) -> Request<()> {
        let mut req = Request::get("/b/k").body(()).unwrap();
        req.headers_mut().insert(header::HOST, "127.0.0.1:9000".parse().unwrap());
        for (k, v) in headers {
            req.headers_mut().append(*k, v.parse().unwrap());
        }
        req
    }

    fn signed(headers: &[(&'static str, &str)]) -> Request<()> {
        let mut req = get(headers);
        let (m, u) = (req.method().clone(), req.uri().clone());
        let now = time::OffsetDateTime::now_utc();
        tandem_sigv4::sign(&m, &u, req.headers_mut(), b"", "AKID", "secret-key-1", "us-east-1", "s3", now);
        req
    }

    #[test]
    fn unparsable_ranges_and_dates_of_unsigned_requests_are_dropped() {
        for (name, value) in [
            ("range", "bytes=abc"),
            ("range", "items=0-1"),
            ("range", "bytes=0-1,3-4"),
            ("range", "bytes=5-2"),
            ("range", "bytes=-"),
            ("range", "bytes=--1"),
            ("range", "bytes=+1-2"),
            ("range", "bytes=99999999999999999999-"),
            ("if-modified-since", "yesterday"),
            ("if-unmodified-since", "Mon, 32 Foo 2024 99:00:00 GMT"),
        ] {
            let mut req = get(&[(name, value)]);
            ignore_malformed(&mut req, &principals());
            assert!(req.headers().get(name).is_none(), "{name}: {value}");
        }
        let mut req = get(&[("range", "bytes=0-1"), ("range", "bytes=2-3")]);
        ignore_malformed(&mut req, &principals());
        assert!(req.headers().get("range").is_none(), "two Range headers");
    }

    #[test]
    fn valid_headers_stay_and_obsolete_dates_are_normalised() {
        let mut req = get(&[("range", "bytes=0-9"), ("if-modified-since", "Tue, 02 Jan 2024 03:04:05 GMT")]);
        ignore_malformed(&mut req, &principals());
        assert_eq!(req.headers()["range"], "bytes=0-9");
        for valid in ["bytes=5-", "bytes=-3", "bytes=100-200"] {
            let mut req = get(&[("range", valid)]);
            ignore_malformed(&mut req, &principals());
            assert_eq!(req.headers()["range"], valid);
        }
        assert_eq!(req.headers()["if-modified-since"], "Tue, 02 Jan 2024 03:04:05 GMT");
        let mut req = get(&[("if-unmodified-since", "Tue, 02 Jan 2024 03:04:05 +0000")]);
        ignore_malformed(&mut req, &principals());
        assert_eq!(req.headers()["if-unmodified-since"], "Tue, 02 Jan 2024 03:04:05 GMT");
    }

    #[test]
    fn a_signed_malformed_range_is_dropped_and_the_request_signed_again() {
        let mut req = signed(&[("range", "bytes=abc")]);
        let found = fixes(req.headers());
        resign_without(&mut req, found, &principals());
        assert!(req.headers().get("range").is_none());
        let now = time::OffsetDateTime::now_utc();
        let who = tandem_sigv4::verify(req.method(), req.uri(), req.headers(), b"", now, |k| principals().secret_of(k)).unwrap();
        assert_eq!((who.access_key.as_str(), who.service.as_str()), ("AKID", "s3"));
    }

    #[test]
    fn a_request_with_a_bad_signature_is_left_for_s3s_to_refuse() {
        let mut req = signed(&[("range", "bytes=abc")]);
        req.headers_mut().insert("x-amz-date", "20000101T000000Z".parse().unwrap());
        let before = req.headers().clone();
        resign_without(&mut req, fixes(&before), &principals());
        assert_eq!(req.headers(), &before);
    }

    #[test]
    fn other_methods_are_untouched() {
        let mut req = get(&[("range", "bytes=abc")]);
        *req.method_mut() = Method::PUT;
        ignore_malformed(&mut req, &principals());
        assert!(req.headers().get("range").is_some());
    }
}
