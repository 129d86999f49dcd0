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
//!   checks the body against that hash as usual. Session credentials (an
//!   STS or identity-pool session, as a browser app holds) verify the same
//!   way when the edge knows the deployment's `[sts] signing_key`: the token
//!   is checked and the session's secret derived from it, and the token goes
//!   on to the region, which checks it again. A request that cannot be
//!   verified (unknown key, presigned URL) goes unchanged.
//! - Cognito requests (`AWSCognito...` targets) are never signed by the
//!   edge: their public operations carry their own proof (a password, an
//!   SRP answer, a token) and their admin operations need the viewer's own
//!   signature.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue, Method, Uri};
use tandem_sts::SessionKey;
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

/// The secrets a viewer may sign with: the deployment's access keys, and
/// the sessions minted under its STS key.
#[derive(Default)]
pub struct ViewerKeys {
    pub keys: HashMap<String, String>,
    pub sessions: Option<SessionKey>,
}

impl ViewerKeys {
    /// The secret of `access_key`: a deployment key, or a session's when
    /// `token` is a valid, unexpired session token for that key.
    fn secret(&self, access_key: &str, token: Option<&str>, now: i64) -> Option<String> {
        match (token, &self.sessions) {
            (None, _) => self.keys.get(access_key).cloned(),
            (Some(token), Some(sessions)) => {
                sessions.verify(token, access_key, now).ok()?;
                Some(sessions.secret_of(access_key))
            }
            (Some(_), None) => None,
        }
    }
}

/// Whether a request is for one of Cognito's APIs (user pools, identity pools).
fn is_cognito(headers: &HeaderMap) -> bool {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("AWSCognito"))
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

/// Signs an unsigned viewer request with the edge's key (but a Cognito
/// request, which goes unsigned). The body is streamed: `UNSIGNED-PAYLOAD`.
pub fn sign_as_edge(method: &Method, uri: &Uri, headers: &mut HeaderMap, key: &EdgeKey, region: &str) {
    if is_cognito(headers) {
        return;
    }
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
    viewers: &ViewerKeys,
) -> Result<(), String> {
    let now = OffsetDateTime::now_utc();
    let token = headers
        .get("x-amz-security-token")
        .map(|v| v.to_str().map(str::to_string).map_err(|_| "unreadable session token"))
        .transpose()?;
    let secret_of = |k: &str| viewers.secret(k, token.as_deref(), now.unix_timestamp());
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
    let secret = secret_of(&signer.access_key).ok_or("unknown key")?;
    headers.insert(http::header::HOST, to.origin_host.clone());
    tandem_sigv4::sign_with_hash(
        method,
        to.origin_uri,
        headers,
        &hash,
        &signer.access_key,
        &secret,
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

    /// Where the tests' re-signed requests go: a region signing as ap-northeast-1.
    fn to_tokyo<'a>(origin: &'a Uri, host: &'a HeaderValue, body: Option<&'a [u8]>) -> Resign<'a> {
        Resign {
            origin_uri: origin,
            origin_host: host,
            region: "ap-northeast-1",
            body,
        }
    }

    fn viewers() -> ViewerKeys {
        ViewerKeys {
            keys: secrets(),
            sessions: Some(SessionKey::new(b"sts-key")),
        }
    }

    fn session(key: &SessionKey, exp: i64) -> tandem_sts::Minted {
        key.mint(tandem_sts::token::Claims {
            v: 1,
            ak: String::new(),
            parent: "us-east-1:pool".into(),
            role: Some("photos-user".into()),
            name: "web".into(),
            exp,
            policy: None,
            web: None,
        })
    }

    #[test]
    fn a_session_signature_is_verified_with_its_token_and_signed_again_keeping_the_token() {
        let m = Method::PUT;
        let viewer: Uri = "/photos-east/k".parse().unwrap();
        let origin: Uri = "/photos-tokyo/k".parse().unwrap();
        let host = HeaderValue::from_static("127.0.0.1:9001");
        let to = to_tokyo(&origin, &host, None);
        let now = OffsetDateTime::now_utc();
        let hash = tandem_sigv4::payload_hash(b"x");
        let signed = |minted: &tandem_sts::Minted, token: &str| {
            let mut h = HeaderMap::new();
            h.insert("host", "edge.test".parse().unwrap());
            h.insert("x-amz-security-token", token.parse().unwrap());
            let (ak, sk) = (&minted.access_key_id, &minted.secret_access_key);
            tandem_sigv4::sign_with_hash(&m, &viewer, &mut h, &hash, ak, sk, "us-east-1", "s3", now);
            h
        };
        let keys = viewers();
        let key = keys.sessions.clone().unwrap();
        let live = session(&key, now.unix_timestamp() + 600);
        let mut h = signed(&live, &live.session_token);
        resign_as_viewer(&m, &viewer, &mut h, &to, &keys).unwrap();
        assert_eq!(
            h["x-amz-security-token"],
            live.session_token.as_str(),
            "the token goes on to the region"
        );
        let secret = |k: &str| (k == live.access_key_id).then(|| live.secret_access_key.clone());
        let s = tandem_sigv4::verify(&m, &origin, &h, b"x", now, secret).unwrap();
        assert_eq!(s.region, "ap-northeast-1");
        // An expired session, a token of another session, and a deployment
        // without the STS key are not re-signed.
        let expired = session(&key, now.unix_timestamp() - 1);
        assert!(resign_as_viewer(&m, &viewer, &mut signed(&expired, &expired.session_token), &to, &keys).is_err());
        let other = session(&key, now.unix_timestamp() + 600);
        assert!(resign_as_viewer(&m, &viewer, &mut signed(&live, &other.session_token), &to, &keys).is_err());
        let no_sts = ViewerKeys {
            keys: secrets(),
            sessions: None,
        };
        assert!(resign_as_viewer(&m, &viewer, &mut signed(&live, &live.session_token), &to, &no_sts).is_err());
    }

    #[test]
    fn a_cognito_request_is_not_signed_by_the_edge() {
        let key = EdgeKey {
            access_key_id: "EDGE".into(),
            secret_access_key: "edge-secret".into(),
        };
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth".parse().unwrap());
        h.insert("x-amz-user-agent", "aws-amplify/6".parse().unwrap());
        sign_as_edge(&Method::POST, &"/".parse().unwrap(), &mut h, &key, "us-east-1");
        assert!(!h.contains_key(http::header::AUTHORIZATION));
        assert!(
            h.contains_key("x-amz-user-agent"),
            "a Cognito request goes on as the viewer sent it"
        );
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
        let to = to_tokyo(&origin, &host, None);
        let mut forged = h.clone();
        assert_eq!(scope_region(&h), Some("us-east-1"));
        resign_as_viewer(&m, &viewer, &mut h, &to, &viewers()).unwrap();
        let s = tandem_sigv4::verify(&m, &origin, &h, b"x", now, |k| secrets().get(k).cloned()).unwrap();
        assert_eq!((s.access_key.as_str(), s.region.as_str()), ("AKID", "ap-northeast-1"));
        let auth = forged["authorization"].to_str().unwrap().replace("Signature=", "Signature=0");
        forged.insert("authorization", auth.parse().unwrap());
        assert!(resign_as_viewer(&m, &viewer, &mut forged, &to, &viewers()).is_err());
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
        let to = to_tokyo(&uri, &host, Some(b"{}"));
        resign_as_viewer(&m, &uri, &mut h, &to, &viewers()).unwrap();
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
