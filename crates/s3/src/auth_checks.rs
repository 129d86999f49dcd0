//! Authentication rules of S3 that s3s 0.14 does not enforce, checked before a
//! request reaches it:
//! - **signed headers**: in both SigV4 forms, `host` and every `x-amz-*`
//!   header present must be among the signed headers, except
//!   `x-amz-content-sha256` (its value is the payload line of the canonical
//!   request in the header form, and clients send it unsigned with presigned
//!   URLs). Otherwise 403 `AccessDenied` "There were headers present in the
//!   request which were not signed" with `HeadersNotSigned`, as AWS answers.
//!   SigV2 signs every `x-amz-*` header by construction.
//! - **credential date**: the SigV4 credential scope's date must be the date of
//!   `x-amz-date` (AWS: 400 `AuthorizationHeaderMalformed` in the header form,
//!   `AuthorizationQueryParametersError` in the query form; s3s would answer
//!   `SignatureDoesNotMatch`).
//! - **credential region and service**: the scope must name this region's
//!   signing region (`[[regions]] signing_region`) and `s3`; otherwise 400
//!   `AuthorizationHeaderMalformed` (header form) or
//!   `AuthorizationQueryParametersError` (query form) with a `<Region>`
//!   element naming the expected region, as S3 and MinIO answer (s3cmd and
//!   other clients read it and retry with that region).
//! - **SigV2 request time**: `x-amz-date`, else `Date`, must parse and be within
//!   15 minutes of the server clock (403 `RequestTimeTooSkewed`), as SigV4's.

use http::{HeaderMap, Method, Uri};
use s3s::dto::{Timestamp, TimestampFormat};
use time::OffsetDateTime;

use crate::auth_form::{self, AuthForm, V4Scope};
use crate::refusal::Refusal;

/// How far a SigV2 request's date may be from the server's clock.
pub const MAX_SKEW: time::Duration = time::Duration::minutes(15);

/// Checks a request's authentication form against the rules above.
pub fn check(method: &Method, uri: &Uri, headers: &HeaderMap, now: OffsetDateTime, signing_region: &str) -> Result<(), Refusal> {
    match auth_form::of(method, uri, headers) {
        AuthForm::V4Header(scope) => {
            let (code, prefix) = ("AuthorizationHeaderMalformed", "The authorization header is malformed; ");
            check_scope(&scope, signing_region, code, prefix)?;
            check_credential_date(&scope, code, prefix)?;
            check_signed(&AuthForm::V4Header(scope), headers)
        }
        AuthForm::V4Query(scope) => {
            let (code, prefix) = (
                "AuthorizationQueryParametersError",
                "Error parsing the X-Amz-Credential parameter; ",
            );
            check_scope(&scope, signing_region, code, prefix)?;
            check_credential_date(&scope, code, "")?;
            check_signed(&AuthForm::V4Query(scope), headers)
        }
        AuthForm::V2Header => check_v2_time(headers, now),
        AuthForm::V2Query | AuthForm::PostForm | AuthForm::Anonymous => Ok(()),
    }
}

/// `host` and every `x-amz-*` header (but the payload hash) must be signed.
fn check_signed(form: &AuthForm, headers: &HeaderMap) -> Result<(), Refusal> {
    let mut unsigned: Vec<&str> = Vec::new();
    if !form.covers("host") {
        unsigned.push("host");
    }
    unsigned.extend(
        headers
            .keys()
            .map(|k| k.as_str())
            .filter(|k| k.starts_with("x-amz-") && *k != "x-amz-content-sha256" && !form.covers(k)),
    );
    if unsigned.is_empty() {
        return Ok(());
    }
    Err(Refusal::new(
        403,
        "AccessDenied",
        "There were headers present in the request which were not signed",
    )
    .with("HeadersNotSigned", unsigned.join(", ")))
}

/// The credential scope must be this region's and S3's (a missing scope is
/// left to s3s, which reports it).
fn check_scope(scope: &V4Scope, signing_region: &str, code: &'static str, prefix: &str) -> Result<(), Refusal> {
    if scope.region.is_empty() {
        return Ok(());
    }
    if scope.region != signing_region {
        return Err(Refusal::new(
            400,
            code,
            format!("{prefix}the region '{}' is wrong; expecting '{signing_region}'", scope.region),
        )
        .with("Region", signing_region.to_string()));
    }
    if scope.service != "s3" {
        return Err(Refusal::new(
            400,
            code,
            format!("{prefix}incorrect service '{}'. This endpoint belongs to 's3'.", scope.service),
        ));
    }
    Ok(())
}

fn check_credential_date(scope: &V4Scope, code: &'static str, prefix: &str) -> Result<(), Refusal> {
    // A missing or malformed date is left to s3s, which reports it.
    let Some(amz_date) = scope.amz_date.as_deref().filter(|d| d.len() >= 8 && d.is_char_boundary(8)) else {
        return Ok(());
    };
    if scope.credential_date == amz_date[..8] {
        return Ok(());
    }
    Err(Refusal::new(
        400,
        code,
        format!("{prefix}Invalid credential date. Date is not the same as X-Amz-Date."),
    ))
}

/// An HTTP date as clients send it: IMF-fixdate (`GMT`) or RFC 2822 (`+0000`).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse(TimestampFormat::HttpDate, s) {
        return Some(t.into());
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822).ok()
}

/// SigV2 header auth: the request time must be valid and recent.
fn check_v2_time(headers: &HeaderMap, now: OffsetDateTime) -> Result<(), Refusal> {
    let raw = headers
        .get("x-amz-date")
        .or_else(|| headers.get(http::header::DATE))
        .and_then(|v| v.to_str().ok());
    let Some(when) = raw.and_then(parse_http_date) else {
        return Err(Refusal::new(
            403,
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        ));
    };
    if (now - when).abs() <= MAX_SKEW {
        return Ok(());
    }
    let fmt = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    Err(Refusal::new(
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    )
    .with("RequestTime", raw.unwrap_or_default())
    .with("ServerTime", fmt(now))
    .with("MaxAllowedSkewMilliseconds", MAX_SKEW.whole_milliseconds().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2024-01-02 03:04:05 UTC)
    }

    fn v4(signed: &str, extra: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/s3/aws4_request, SignedHeaders={signed}, Signature=ab")
                .parse()
                .unwrap(),
        );
        h.insert("x-amz-date", "20240102T030405Z".parse().unwrap());
        for (k, v) in extra {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn put() -> (Method, Uri) {
        (Method::PUT, "/b/k".parse().unwrap())
    }

    #[test]
    fn every_x_amz_header_must_be_signed_but_the_payload_hash() {
        let (m, u) = put();
        let h = v4("host;x-amz-date", &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
        assert_eq!(check(&m, &u, &h, now(), "us-east-1"), Ok(()));
        let h = v4("host;x-amz-date", &[("x-amz-acl", "public-read"), ("x-amz-grant-read", "uri=x")]);
        let e = check(&m, &u, &h, now(), "us-east-1").unwrap_err();
        assert_eq!((e.status, e.code), (403, "AccessDenied"));
        assert_eq!(e.details, [("HeadersNotSigned", "x-amz-acl, x-amz-grant-read".to_string())]);
        assert!(e.xml().contains("<HeadersNotSigned>x-amz-acl, x-amz-grant-read</HeadersNotSigned>"));
        let h = v4("x-amz-date", &[]);
        assert_eq!(check(&m, &u, &h, now(), "us-east-1").unwrap_err().details[0].1, "host");
    }

    #[test]
    fn a_presigned_url_signs_only_what_it_lists() {
        let (m, _) = put();
        let u: Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
            .parse()
            .unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        assert_eq!(check(&m, &u, &h, now(), "us-east-1"), Ok(()));
        h.insert("x-amz-acl", "public-read".parse().unwrap());
        assert_eq!(check(&m, &u, &h, now(), "us-east-1").unwrap_err().details[0].1, "x-amz-acl");
    }

    #[test]
    fn the_credential_date_must_be_the_request_date() {
        let (m, u) = put();
        let mut h = v4("host;x-amz-date", &[]);
        h.insert("x-amz-date", "20240103T000001Z".parse().unwrap());
        let e = check(&m, &u, &h, now(), "us-east-1").unwrap_err();
        assert_eq!((e.status, e.code), (400, "AuthorizationHeaderMalformed"));
        let q: Uri = "/b/k?X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
            .parse()
            .unwrap();
        let e = check(&m, &q, &HeaderMap::new(), now(), "us-east-1").unwrap_err();
        assert_eq!((e.status, e.code), (400, "AuthorizationQueryParametersError"));
    }

    #[test]
    fn sigv2_header_auth_needs_a_recent_valid_date() {
        let (m, u) = put();
        let v2 = |date: (&'static str, &str)| {
            let mut h = HeaderMap::new();
            h.insert("authorization", "AWS AKID:c2ln".parse().unwrap());
            h.insert(date.0, date.1.parse().unwrap());
            h
        };
        assert_eq!(
            check(&m, &u, &v2(("date", "Tue, 02 Jan 2024 03:10:00 GMT")), now(), "us-east-1"),
            Ok(())
        );
        assert_eq!(
            check(&m, &u, &v2(("date", "Tue, 02 Jan 2024 02:55:00 +0000")), now(), "us-east-1"),
            Ok(())
        );
        assert_eq!(
            check(&m, &u, &v2(("x-amz-date", "Tue, 02 Jan 2024 03:00:00 GMT")), now(), "us-east-1"),
            Ok(())
        );
        let e = check(&m, &u, &v2(("date", "Mon, 01 Jan 2001 00:00:00 GMT")), now(), "us-east-1").unwrap_err();
        assert_eq!((e.status, e.code), (403, "RequestTimeTooSkewed"));
        assert!(e.xml().contains("<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"));
        let e = check(&m, &u, &v2(("date", "yesterday")), now(), "us-east-1").unwrap_err();
        assert_eq!((e.status, e.code), (403, "AccessDenied"));
        // x-amz-date wins over Date, as in the string to sign.
        let mut h = v2(("date", "Tue, 02 Jan 2024 03:04:05 GMT"));
        h.insert("x-amz-date", "Mon, 01 Jan 2001 00:00:00 GMT".parse().unwrap());
        assert_eq!(check(&m, &u, &h, now(), "us-east-1").unwrap_err().code, "RequestTimeTooSkewed");
    }

    #[test]
    fn anonymous_requests_and_post_forms_are_left_alone() {
        let (m, u) = put();
        let mut h = HeaderMap::new();
        h.insert("x-amz-acl", "public-read".parse().unwrap());
        assert_eq!(check(&m, &u, &h, now(), "us-east-1"), Ok(()));
    }

    #[test]
    fn a_scope_for_another_region_or_service_names_the_expected_region() {
        let m = Method::GET;
        let u: Uri = "/b/k".parse().unwrap();
        let scoped = |region: &str, service: &str| {
            let mut h = HeaderMap::new();
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20240102/{region}/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab"
            );
            h.insert("authorization", auth.parse().unwrap());
            h.insert("x-amz-date", "20240102T030405Z".parse().unwrap());
            h
        };
        assert_eq!(check(&m, &u, &scoped("us-east-1", "s3"), now(), "us-east-1"), Ok(()));
        let e = check(&m, &u, &scoped("eu-west-9", "s3"), now(), "us-east-1").unwrap_err();
        assert_eq!((e.status, e.code), (400, "AuthorizationHeaderMalformed"));
        assert!(e.details.contains(&("Region", "us-east-1".to_string())), "{:?}", e.details);
        let e = check(&m, &u, &scoped("us-east-1", "dynamodb"), now(), "us-east-1").unwrap_err();
        assert!(e.message.contains("incorrect service"), "{}", e.message);
        let q: Uri = "/b/k?X-Amz-Credential=AKID%2F20240102%2FUS%2Fs3%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
            .parse()
            .unwrap();
        let e = check(&m, &q, &HeaderMap::new(), now(), "us-east-1").unwrap_err();
        assert_eq!(e.code, "AuthorizationQueryParametersError");
    }
}
