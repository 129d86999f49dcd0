//! SigV4 (tandem-sigv4): `verify` of arbitrary requests never panics, and any
//! request `sign` signs verifies as its signer, while a changed body or
//! method does not.
//!
//! Input: method NUL path?query NUL header lines NUL body NUL region.
#![no_main]

use http::{HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use tandem_fuzz::input::Fields;
use tandem_fuzz::s3::parse_headers;
use tandem_sigv4::{SigError, Signer, sign, verify};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn secret_of(key: &str) -> Option<String> {
    (key == "AKID").then(|| "secret".to_string())
}

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 5);
    let method = Method::from_bytes(f.raw(0)).unwrap_or(Method::POST);
    let uri: Uri = f.text(1).parse().unwrap_or_else(|_| Uri::from_static("/"));
    let mut headers = parse_headers(&f.text(2));
    let body = f.raw(3);
    // Whatever arrives: an error or a signer, never a panic.
    let _ = verify(&method, &uri, &headers, body, NOW, secret_of);

    // Region names come from the operator's config; keep them header-safe.
    let region: String = f
        .text(4)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    let region = if region.is_empty() { "us-east-1".to_string() } else { region };
    headers.remove(http::header::AUTHORIZATION);
    headers.insert(http::header::HOST, HeaderValue::from_static("127.0.0.1:9000"));
    sign(&method, &uri, &mut headers, body, "AKID", "secret", &region, "dynamodb", NOW);
    let signer = Signer {
        access_key: "AKID".into(),
        region: region.clone(),
        service: "dynamodb".into(),
    };
    assert_eq!(
        verify(&method, &uri, &headers, body, NOW, secret_of),
        Ok(signer),
        "a signed request does not verify"
    );
    let mut tampered = body.to_vec();
    tampered.push(b'x');
    assert_eq!(verify(&method, &uri, &headers, &tampered, NOW, secret_of), Err(SigError::Mismatch));
    let other = if method == Method::PUT { Method::POST } else { Method::PUT };
    assert_eq!(verify(&other, &uri, &headers, body, NOW, secret_of), Err(SigError::Mismatch));
});
