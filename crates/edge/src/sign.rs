//! Signatures on the way to the origin (origin access control).
//!
//! - A viewer request that is not signed is signed with the edge's own key
//!   (`[edge] access_key_id`), so a bucket can stay private to everyone but
//!   the edge. The viewer's own `x-amz-*` headers are dropped first, except
//!   object metadata, checksums and the DynamoDB target: the edge's key must
//!   not lend a viewer powers (a copy source, an ACL) the behaviour does not
//!   offer.
//! - A request the viewer signed goes through unchanged ("no override").
//!   When the path must change (an app bucket named differently in the
//!   region it goes to) or the region it goes to signs for another AWS
//!   region than the viewer's scope, the viewer's header signature is
//!   verified against the deployment's keys with the payload hash it
//!   declares (or its in-memory body, for DynamoDB), then signed again with
//!   the same key and service for the origin's signing region; the region
//!   checks the body against that hash as usual. A request that cannot be verified (unknown
//!   key, session token, presigned URL) goes unchanged.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue, Method, Uri};
use time::OffsetDateTime;

/// The edge's own credential.
#[derive(Clone)]
pub struct EdgeKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for EdgeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Whether the viewer signed the request (header, presigned query, or SigV2).
pub fn viewer_signed(headers: &HeaderMap, uri: &Uri) -> bool {
    let query = uri.query().unwrap_or_default();
    headers.contains_key(http::header::AUTHORIZATION)
        || query.contains("X-Amz-Signature=")
        || (query.contains("Signature=") && query.contains("AWSAccessKeyId="))
}

/// The SigV4 service of a request: DynamoDB's JSON API names its operation in `x-amz-target`.
fn service(headers: &HeaderMap) -> &'static str {
    match headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(t) if t.starts_with("DynamoDBStreams_") => "dynamodb",
        Some(t) if t.starts_with("DynamoDB_") => "dynamodb",
        _ => "s3",
    }
}

fn kept_from_viewer(name: &str) -> bool {
    name == "x-amz-target" || name.starts_with("x-amz-meta-") || name.starts_with("x-amz-checksum-")
}

/// Signs an unsigned viewer request with the edge's key. The body is streamed: `UNSIGNED-PAYLOAD`.
pub fn sign_as_edge(method: &Method, uri: &Uri, headers: &mut HeaderMap, key: &EdgeKey, region: &str) {
    let dropped: Vec<_> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-amz-") && !kept_from_viewer(k.as_str()))
        .cloned()
        .collect();
    for k in dropped {
        headers.remove(k);
    }
    let service = service(headers);
    tandem_sigv4::sign_unsigned_payload(
        method,
        uri,
        headers,
        &key.access_key_id,
        &key.secret_access_key,
        region,
        service,
        OffsetDateTime::now_utc(),
    );
}

/// Where a re-signed request goes: its path, host and the signing region of
/// the origin, and the body when it is in memory (DynamoDB sends no
/// `x-amz-content-sha256`, so its body is the payload hash).
pub struct Resign<'a> {
    pub origin_uri: &'a Uri,
    pub origin_host: &'a HeaderValue,
    pub region: &'a str,
    pub body: Option<&'a [u8]>,
}

/// The region of a header signature's credential scope.
pub fn scope_region(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    auth.split("Credential=").nth(1)?.split(['/', ',']).nth(2)
}

/// Verifies the viewer's signature for `viewer_uri` and signs the request
/// again for the origin with the same key and service. `headers` must hold
/// the `host` the viewer signed; it is replaced by the origin's.
pub fn resign_as_viewer(
    method: &Method,
    viewer_uri: &Uri,
    headers: &mut HeaderMap,
    to: &Resign<'_>,
    secrets: &HashMap<String, String>,
) -> Result<(), String> {
    if headers.contains_key("x-amz-security-token") {
        return Err("session credentials cannot be re-signed".into());
    }
    let now = OffsetDateTime::now_utc();
    let secret_of = |k: &str| secrets.get(k).cloned();
    let declared = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (signer, hash) = match (declared, to.body) {
        (Some(hash), _) => (tandem_sigv4::verify_declared(method, viewer_uri, headers, now, secret_of), hash),
        (None, Some(body)) => (
            tandem_sigv4::verify(method, viewer_uri, headers, body, now, secret_of),
            tandem_sigv4::payload_hash(body),
        ),
        (None, None) => return Err("no declared payload hash and the body is streamed".into()),
    };
    let signer = signer.map_err(|e| e.to_string())?;
    let secret = secrets.get(&signer.access_key).ok_or("unknown key")?;
    headers.insert(http::header::HOST, to.origin_host.clone());
    tandem_sigv4::sign_with_hash(
        method,
        to.origin_uri,
        headers,
        &hash,
        &signer.access_key,
        secret,
        to.region,
        &signer.service,
        now,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> HashMap<String, String> {
        HashMap::from([("AKID".to_string(), "secret-key".to_string())])
    }

    #[test]
    fn a_viewer_signature_is_verified_and_moved_to_the_regions_bucket() {
        let m = Method::PUT;
        let viewer: Uri = "/photos-east/k".parse().unwrap();
        let origin: Uri = "/photos-tokyo/k".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", "edge.test:8443".parse().unwrap());
        let hash = tandem_sigv4::payload_hash(b"x");
        let now = OffsetDateTime::now_utc();
        tandem_sigv4::sign_with_hash(&m, &viewer, &mut h, &hash, "AKID", "secret-key", "us-east-1", "s3", now);
        let host = HeaderValue::from_static("127.0.0.1:9001");
        let to = Resign {
            origin_uri: &origin,
            origin_host: &host,
            region: "ap-northeast-1",
            body: None,
        };
        let mut forged = h.clone();
        assert_eq!(scope_region(&h), Some("us-east-1"));
        resign_as_viewer(&m, &viewer, &mut h, &to, &secrets()).unwrap();
        let s = tandem_sigv4::verify(&m, &origin, &h, b"x", now, |k| secrets().get(k).cloned()).unwrap();
        assert_eq!((s.access_key.as_str(), s.region.as_str()), ("AKID", "ap-northeast-1"));
        let auth = forged["authorization"].to_str().unwrap().replace("Signature=", "Signature=0");
        forged.insert("authorization", auth.parse().unwrap());
        assert!(resign_as_viewer(&m, &viewer, &mut forged, &to, &secrets()).is_err());
    }

    #[test]
    fn a_dynamodb_request_is_signed_again_for_the_origins_region_keeping_its_service() {
        let m = Method::POST;
        let uri: Uri = "/".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", "edge.test".parse().unwrap());
        h.insert("x-amz-target", "DynamoDB_20120810.PutItem".parse().unwrap());
        let now = OffsetDateTime::now_utc();
        tandem_sigv4::sign(&m, &uri, &mut h, b"{}", "AKID", "secret-key", "us-east-1", "dynamodb", now);
        let host = HeaderValue::from_static("127.0.0.1:9001");
        let to = Resign {
            origin_uri: &uri,
            origin_host: &host,
            region: "ap-northeast-1",
            body: Some(b"{}"),
        };
        resign_as_viewer(&m, &uri, &mut h, &to, &secrets()).unwrap();
        let s = tandem_sigv4::verify(&m, &uri, &h, b"{}", now, |k| secrets().get(k).cloned()).unwrap();
        assert_eq!((s.region.as_str(), s.service.as_str()), ("ap-northeast-1", "dynamodb"));
    }

    #[test]
    fn the_edge_signature_drops_viewer_amz_headers_that_would_borrow_its_powers() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        h.insert("x-amz-copy-source", "/secret/obj".parse().unwrap());
        h.insert("x-amz-meta-colour", "blue".parse().unwrap());
        let key = EdgeKey {
            access_key_id: "EDGE".into(),
            secret_access_key: "edge-secret".into(),
        };
        let uri: Uri = "/site/index.html".parse().unwrap();
        sign_as_edge(&Method::GET, &uri, &mut h, &key, "us-east-1");
        assert!(!h.contains_key("x-amz-copy-source"));
        assert_eq!(h["x-amz-meta-colour"], "blue");
        assert!(h["authorization"].to_str().unwrap().contains("Credential=EDGE/"));
        assert!(viewer_signed(&h, &uri));
    }
}
