//! AWS Signature Version 4 over whole (buffered) request bodies.
//!
//! s3s verifies S3 requests, including streaming forms. The JSON APIs (DynamoDB,
//! DynamoDB Streams) send small buffered bodies without `x-amz-content-sha256`,
//! which s3s refuses, so they are verified here. The same canonicalization signs
//! requests made by tandem's own clients (CLI, replication), so both sides agree
//! by construction.

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::macros::format_description;

type HmacSha256 = Hmac<Sha256>;

/// How far a request's `x-amz-date` may be from the server's clock.
pub const MAX_SKEW: time::Duration = time::Duration::minutes(15);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigError {
    #[error("Request is missing Authentication Token")]
    Missing,
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    Mismatch,
    #[error("Signature expired: the request time is too far from the server time.")]
    Skewed,
    #[error("Authorization header is malformed: {0}")]
    Malformed(&'static str),
    #[error("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{date}'")]
    ScopeDate { scope: String, date: String },
    #[error("There were headers present in the request which were not signed: {0}")]
    HeadersNotSigned(String),
}

/// Who signed a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub access_key: String,
    pub region: String,
    pub service: String,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigError> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or(SigError::Malformed("unsupported algorithm"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(SigError::Malformed("expected key=value"))?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return Err(SigError::Malformed("unknown component")),
        }
    }
    let credential = credential.ok_or(SigError::Malformed("missing Credential"))?;
    let mut scope = credential.split('/');
    let (Some(access_key), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(SigError::Malformed("bad credential scope"));
    };
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.ok_or(SigError::Malformed("missing SignedHeaders"))?.split(';').collect(),
        signature: signature.ok_or(SigError::Malformed("missing Signature"))?,
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    hex_simd::encode_to_string(bytes, hex_simd::AsciiCase::Lower)
}

/// Lowercase hex SHA-256 of a payload.
pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// Percent-encodes as SigV4 requires: unreserved characters stay; `/` stays when
/// encoding a path.
fn uri_encode(s: &str, keep_slash: bool, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// A path (an object key with its `/`) percent-encoded as SigV4 and S3 expect.
pub fn uri_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    uri_encode(s, true, &mut out);
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(uri: &Uri) -> String {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), false, &mut ek);
            uri_encode(&percent_decode(v), false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_request(method: &Method, uri: &Uri, headers: &HeaderMap, signed: &[&str], payload_hash: &str) -> String {
    let mut path = String::new();
    let raw_path = if uri.path().is_empty() { "/" } else { uri.path() };
    uri_encode(&percent_decode(raw_path), true, &mut path);
    let mut canonical_headers = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let _ = writeln!(canonical_headers, "{name}:{}", values.join(","));
    }
    format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_query(uri),
        signed.join(";")
    )
}

fn signature(secret: &str, date: &str, region: &str, service: &str, amz_date: &str, canonical: &str) -> String {
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", payload_hash(canonical.as_bytes()));
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, to_sign.as_bytes()))
}

const AMZ_DATE: &[time::format_description::FormatItem<'static>] = format_description!("[year][month][day]T[hour][minute][second]Z");

fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s, AMZ_DATE).ok().map(|t| t.assume_utc())
}

/// Every `x-amz-*` header present must be signed (AWS refuses unsigned ones),
/// except `x-amz-content-sha256`, whose value is the canonical request's
/// payload line anyway.
fn check_signed(headers: &HeaderMap, signed: &[&str]) -> Result<(), SigError> {
    let unsigned: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-amz-") && *k != "x-amz-content-sha256" && !signed.contains(k))
        .collect();
    match unsigned.is_empty() {
        true => Ok(()),
        false => Err(SigError::HeadersNotSigned(unsigned.join(", "))),
    }
}

/// Verifies a header-signed request with a buffered body. `secret_of` looks up
/// the secret of an access key id.
pub fn verify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Signer, SigError> {
    verify_with(method, uri, headers, Payload::Body(body), now, secret_of)
}

/// Verifies a header-signed S3 request against the payload hash it declares
/// in `x-amz-content-sha256` (the body itself is streamed on, and its
/// receiver checks it against that hash). A proxy that must change the path
/// verifies this way, then signs again with [`sign_with_hash`].
pub fn verify_declared(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    now: OffsetDateTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Signer, SigError> {
    verify_with(method, uri, headers, Payload::Declared, now, secret_of)
}

/// What the payload line of the canonical request comes from.
enum Payload<'a> {
    Body(&'a [u8]),
    Declared,
}

fn verify_with(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: Payload<'_>,
    now: OffsetDateTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Signer, SigError> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or(SigError::Missing)?;
    let auth = parse_authorization(value.to_str().map_err(|_| SigError::Malformed("not ASCII"))?)?;
    if !auth.signed_headers.contains(&"host") {
        return Err(SigError::Malformed("the host header must be signed"));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or(SigError::Malformed("missing x-amz-date"))?;
    let when = parse_amz_date(amz_date).ok_or(SigError::Malformed("bad x-amz-date"))?;
    let date = amz_date.get(..8).unwrap_or_default();
    if auth.date != date {
        return Err(SigError::ScopeDate {
            scope: auth.date.to_string(),
            date: date.to_string(),
        });
    }
    check_signed(headers, &auth.signed_headers)?;
    if (now - when).abs() > MAX_SKEW {
        return Err(SigError::Skewed);
    }
    let secret = secret_of(auth.access_key).ok_or(SigError::UnknownKey)?;
    let declared = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok());
    let hash = match (declared, payload) {
        (Some("UNSIGNED-PAYLOAD"), _) => "UNSIGNED-PAYLOAD".to_string(),
        (_, Payload::Body(body)) => payload_hash(body),
        (Some(d), Payload::Declared) => d.to_string(),
        (None, Payload::Declared) => return Err(SigError::Malformed("missing x-amz-content-sha256")),
    };
    let canonical = canonical_request(method, uri, headers, &auth.signed_headers, &hash);
    let expected = signature(&secret, auth.date, auth.region, auth.service, amz_date, &canonical);
    if expected.as_bytes().ct_eq(auth.signature.as_bytes()).into() {
        Ok(Signer {
            access_key: auth.access_key.to_string(),
            region: auth.region.to_string(),
            service: auth.service.to_string(),
        })
    } else {
        Err(SigError::Mismatch)
    }
}

/// Signs a request in place: sets `x-amz-date`, `x-amz-content-sha256` and
/// `Authorization`. `headers` must already hold `host`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    body: &[u8],
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) {
    let hash = payload_hash(body);
    sign_with_hash(method, uri, headers, &hash, access_key, secret, region, service, now)
}

/// Signs a request whose body is streamed, not buffered: the payload is
/// declared `UNSIGNED-PAYLOAD` (the transport protects the body).
#[allow(clippy::too_many_arguments)]
pub fn sign_unsigned_payload(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) {
    sign_with_hash(method, uri, headers, "UNSIGNED-PAYLOAD", access_key, secret, region, service, now)
}

/// Signs a request in place with a given payload hash line (a real hash,
/// `UNSIGNED-PAYLOAD`, or a streaming form the body then follows).
#[allow(clippy::too_many_arguments)]
pub fn sign_with_hash(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    hash: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) {
    let amz_date = now.format(AMZ_DATE).unwrap_or_default();
    headers.insert("x-amz-date", http::HeaderValue::from_str(&amz_date).expect("ASCII date"));
    headers.insert("x-amz-content-sha256", http::HeaderValue::from_str(hash).expect("hex"));
    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k == "host" || k.starts_with("x-amz-") || k == "content-type")
        .collect();
    signed.sort();
    signed.dedup();
    let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
    let canonical = canonical_request(method, uri, headers, &signed_refs, hash);
    let date = &amz_date[..8];
    let sig = signature(secret, date, region, service, &amz_date, &canonical);
    let value = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
        signed.join(";")
    );
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&value).expect("ASCII header"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> (Method, Uri, HeaderMap) {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        h.insert("content-type", "application/x-amz-json-1.0".parse().unwrap());
        h.insert("x-amz-target", "DynamoDB_20120810.ListTables".parse().unwrap());
        (Method::POST, "/".parse().unwrap(), h)
    }

    fn secrets(k: &str) -> Option<String> {
        (k == "AKID").then(|| "secret-key".to_string())
    }

    #[test]
    fn a_signed_request_verifies_and_names_its_signer() {
        let (m, u, mut h) = request();
        let now = OffsetDateTime::now_utc();
        sign(&m, &u, &mut h, b"{}", "AKID", "secret-key", "us-east-1", "dynamodb", now);
        let who = verify(&m, &u, &h, b"{}", now, secrets).unwrap();
        assert_eq!(
            who,
            Signer {
                access_key: "AKID".into(),
                region: "us-east-1".into(),
                service: "dynamodb".into()
            }
        );
    }

    #[test]
    fn tampering_with_the_body_or_secret_fails() {
        let (m, u, mut h) = request();
        let now = OffsetDateTime::now_utc();
        sign(&m, &u, &mut h, b"{}", "AKID", "secret-key", "us-east-1", "dynamodb", now);
        h.remove("x-amz-content-sha256");
        assert_eq!(verify(&m, &u, &h, b"{\"x\":1}", now, secrets), Err(SigError::Mismatch));
        let (m, u, mut h) = request();
        sign(&m, &u, &mut h, b"{}", "AKID", "wrong", "us-east-1", "dynamodb", now);
        assert_eq!(verify(&m, &u, &h, b"{}", now, secrets), Err(SigError::Mismatch));
    }

    #[test]
    fn unknown_keys_missing_headers_and_skew_are_reported() {
        let (m, u, mut h) = request();
        let now = OffsetDateTime::now_utc();
        assert_eq!(verify(&m, &u, &h, b"", now, secrets), Err(SigError::Missing));
        sign(&m, &u, &mut h, b"", "NOPE", "x", "us-east-1", "dynamodb", now);
        assert_eq!(verify(&m, &u, &h, b"", now, secrets), Err(SigError::UnknownKey));
        let (m, u, mut h) = request();
        sign(
            &m,
            &u,
            &mut h,
            b"",
            "AKID",
            "secret-key",
            "us-east-1",
            "dynamodb",
            now - time::Duration::hours(1),
        );
        assert_eq!(verify(&m, &u, &h, b"", now, secrets), Err(SigError::Skewed));
    }

    #[test]
    fn an_unsigned_x_amz_header_is_refused_and_the_payload_hash_may_be_unsigned() {
        let (m, u, mut h) = request();
        let now = OffsetDateTime::now_utc();
        sign(&m, &u, &mut h, b"{}", "AKID", "secret-key", "us-east-1", "dynamodb", now);
        h.insert("x-amz-security-token", "forged".parse().unwrap());
        h.insert("x-amz-meta-x", "1".parse().unwrap());
        assert_eq!(
            verify(&m, &u, &h, b"{}", now, secrets),
            Err(SigError::HeadersNotSigned("x-amz-security-token, x-amz-meta-x".into()))
        );
        let (_, _, mut h) = request();
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        assert_eq!(check_signed(&h, &["host", "x-amz-target"]), Ok(()));
        h.insert("x-amz-date", "20240101T000000Z".parse().unwrap());
        assert_eq!(
            check_signed(&h, &["host", "x-amz-target"]),
            Err(SigError::HeadersNotSigned("x-amz-date".into()))
        );
    }

    #[test]
    fn the_credential_scope_date_must_be_the_request_date() {
        let (m, u, mut h) = request();
        let now = OffsetDateTime::now_utc();
        sign(&m, &u, &mut h, b"{}", "AKID", "secret-key", "us-east-1", "dynamodb", now);
        let date = h["x-amz-date"].to_str().unwrap()[..8].to_string();
        for scope in ["", "2001010", "20010101"] {
            let auth = h["authorization"]
                .to_str()
                .unwrap()
                .replace(&format!("/{date}/"), &format!("/{scope}/"));
            let mut forged = h.clone();
            forged.insert("authorization", auth.parse().unwrap());
            assert_eq!(
                verify(&m, &u, &forged, b"{}", now, secrets),
                Err(SigError::ScopeDate {
                    scope: scope.into(),
                    date: date.clone()
                }),
                "scope date {scope:?}"
            );
        }
    }

    #[test]
    fn a_request_verifies_against_its_declared_payload_hash_and_signs_again_after_a_path_change() {
        let (m, _, mut h) = request();
        let u: Uri = "/bucket-a/key".parse().unwrap();
        let now = OffsetDateTime::now_utc();
        let hash = payload_hash(b"streamed body");
        sign_with_hash(&m, &u, &mut h, &hash, "AKID", "secret-key", "us-east-1", "s3", now);
        assert_eq!(verify_declared(&m, &u, &h, now, secrets).unwrap().service, "s3");
        let moved: Uri = "/bucket-b/key".parse().unwrap();
        assert_eq!(verify_declared(&m, &moved, &h, now, secrets), Err(SigError::Mismatch));
        sign_with_hash(&m, &moved, &mut h, &hash, "AKID", "secret-key", "us-east-1", "s3", now);
        assert!(verify(&m, &moved, &h, b"streamed body", now, secrets).is_ok());
        h.remove("x-amz-content-sha256");
        assert!(verify_declared(&m, &moved, &h, now, secrets).is_err());
    }

    #[test]
    fn query_strings_are_canonicalized_sorted_and_encoded() {
        let u: Uri = "/_tandem/changes?limit=5&after=1".parse().unwrap();
        assert_eq!(canonical_query(&u), "after=1&limit=5");
        let u: Uri = "/?a=b%20c&a=x".parse().unwrap();
        assert_eq!(canonical_query(&u), "a=b%20c&a=x");
    }
}
