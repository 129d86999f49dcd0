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
//!   region it goes to), the viewer's header signature is verified against
//!   the deployment's keys with the payload hash it declares, then signed
//!   again with the same key, region and service; the region checks the body
//!   against that hash as usual. A request that cannot be verified (unknown
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

/// Verifies the viewer's signature for `viewer_uri` and signs the request
/// again for `origin_uri` with the same key. `headers` must hold the `host`
/// the viewer signed; it is replaced by `origin_host`.
pub fn resign_as_viewer(
    method: &Method,
    viewer_uri: &Uri,
    origin_uri: &Uri,
    headers: &mut HeaderMap,
    origin_host: &HeaderValue,
    secrets: &HashMap<String, String>,
) -> Result<(), String> {
    if headers.contains_key("x-amz-security-token") {
        return Err("session credentials cannot be re-signed".into());
    }
    let now = OffsetDateTime::now_utc();
    let signer = tandem_sigv4::verify_declared(method, viewer_uri, headers, now, |k| secrets.get(k).cloned()).map_err(|e| e.to_string())?;
    let secret = secrets.get(&signer.access_key).ok_or("unknown key")?;
    let hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or("no declared payload hash")?;
    headers.insert(http::header::HOST, origin_host.clone());
    tandem_sigv4::sign_with_hash(
        method,
        origin_uri,
        headers,
        &hash,
        &signer.access_key,
        secret,
        &signer.region,
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
        let mut forged = h.clone();
        resign_as_viewer(&m, &viewer, &origin, &mut h, &host, &secrets()).unwrap();
        let s = tandem_sigv4::verify(&m, &origin, &h, b"x", now, |k| secrets().get(k).cloned()).unwrap();
        assert_eq!(s.access_key, "AKID");
        let auth = forged["authorization"].to_str().unwrap().replace("Signature=", "Signature=0");
        forged.insert("authorization", auth.parse().unwrap());
        assert!(resign_as_viewer(&m, &viewer, &origin, &mut forged, &host, &secrets()).is_err());
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
