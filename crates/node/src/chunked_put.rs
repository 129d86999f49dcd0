//! A header-signed PUT (PutObject, UploadPart) sent with `Transfer-Encoding:
//! chunked` and no `Content-Length`, with a plain payload hash
//! (`UNSIGNED-PAYLOAD` or the hex SHA-256): s3s 0.14 needs the length to verify
//! such a body and answers 411 without it. The node gives it one: it verifies
//! the signature first (so an anonymous or forged request makes the node store
//! nothing), then spools the body through the store's [`BodyWriter`] — memory
//! while small, a blob file beyond, at most [`MAX_PUT_SIZE`] bytes — sets
//! `Content-Length` (never a signed header here: the client sent none) and
//! hands s3s the spooled bytes, which it verifies against the declared hash as
//! for any PUT. `aws-chunked` bodies carry `x-amz-decoded-content-length` and
//! are left to s3s; anything that does not verify is passed on untouched.

use http_body_util::BodyExt;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request};
use s3s::Body;
use tandem_s3::MAX_PUT_SIZE;
use tandem_s3::Principals;
use tandem_s3::refusal::Refusal;
use tandem_store::body_store;
use tandem_store::{BodyWriter, StagedBody, Store, StoreError};

/// Whether the request is a header-signed PUT of unknown length whose payload
/// hash is not a streaming one.
fn needs_length(req: &Request<Body>) -> bool {
    let h = req.headers();
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    let plain_hash = header("x-amz-content-sha256")
        .is_some_and(|v| v == "UNSIGNED-PAYLOAD" || (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())));
    req.method() == Method::PUT
        && !h.contains_key(header::CONTENT_LENGTH)
        && http_body::Body::size_hint(req.body()).exact().is_none()
        && header("authorization").is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "))
        && plain_hash
}

fn too_large(limit: u64) -> Refusal {
    Refusal::new(
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed object size.",
    )
    .with("MaxSizeAllowed", limit.to_string())
}

fn store_failure(e: StoreError) -> Refusal {
    match e {
        StoreError::InsufficientStorage(message) => Refusal::new(507, "InsufficientStorage", message),
        other => {
            tracing::error!(error = %other, "spooling a chunked body failed");
            Refusal::new(500, "InternalError", "We encountered an internal error. Please try again.")
        }
    }
}

/// Reads the whole body into the store's staging, at most `limit` bytes.
async fn spool(store: &Store, mut body: Body, limit: u64) -> Result<StagedBody, Refusal> {
    let mut writer = BodyWriter::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refusal::new(400, "IncompleteBody", format!("The request body could not be read: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if writer.len() + data.len() as u64 > limit {
            return Err(too_large(limit));
        }
        writer.write(store.blobs(), &data).await.map_err(store_failure)?;
    }
    writer.finish_unsynced(store.blobs()).await.map_err(store_failure)
}

/// The spooled body as s3s reads it; the staged body goes when it is dropped.
async fn replay(staged: StagedBody) -> Result<Body, Refusal> {
    if let Some(bytes) = &staged.inline {
        return Ok(Body::from(bytes.clone()));
    }
    let len = staged.segment.len;
    let reader = match staged.open() {
        Ok(Some(reader)) => reader,
        Ok(None) => {
            return Err(store_failure(StoreError::Corrupt(
                "a spooled body is neither inline nor stored".into(),
            )));
        }
        Err(e) => return Err(store_failure(e)),
    };
    // The stream keeps the staged body, so it is removed once s3s is done.
    let pieces = futures::StreamExt::map(body_store::stream(reader, 0, len), move |piece| {
        let _staged = &staged;
        piece.map(http_body::Frame::data)
    });
    Ok(Body::http_body_unsync(http_body_util::StreamBody::new(Box::pin(pieces))))
}

/// Gives a verified chunked PUT its length (see the module comment); any
/// other request is returned as it came.
pub(crate) async fn with_length(req: Request<Body>, store: &Store, principals: &Principals) -> Result<Request<Body>, Refusal> {
    if !needs_length(&req) {
        return Ok(req);
    }
    let now = time::OffsetDateTime::now_utc();
    if tandem_sigv4::verify_declared(req.method(), req.uri(), req.headers(), now, |k| principals.secret_of(k)).is_err() {
        return Ok(req);
    }
    let (mut parts, body) = req.into_parts();
    let staged = spool(store, body, MAX_PUT_SIZE).await?;
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(staged.segment.len));
    Ok(Request::from_parts(parts, replay(staged).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn pieces(n: usize, size: usize) -> Body {
        let frames = (0..n).map(move |i| Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(vec![i as u8; size]))));
        Body::http_body_unsync(http_body_util::StreamBody::new(futures::stream::iter(frames)))
    }

    async fn replayed(staged: StagedBody) -> Vec<u8> {
        replay(staged).await.unwrap().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn small_and_large_bodies_are_spooled_and_replayed_as_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "us-east").unwrap();
        let small = spool(&store, pieces(3, 10), 1 << 30).await.unwrap();
        assert!(small.inline.is_some() && small.segment.len == 30);
        assert_eq!(replayed(small).await, [vec![0u8; 10], vec![1; 10], vec![2; 10]].concat());
        let large = spool(&store, pieces(5, 700 * 1024), 1 << 30).await.unwrap();
        assert_eq!(store.blobs().orphan_candidates().unwrap(), [large.segment.id]);
        assert_eq!(large.segment.len, 5 * 700 * 1024);
        let bytes = replayed(large).await;
        assert_eq!(bytes.len(), 5 * 700 * 1024);
        assert!(bytes[..700 * 1024].iter().all(|b| *b == 0) && bytes[4 * 700 * 1024..].iter().all(|b| *b == 4));
        assert!(
            store.blobs().orphan_candidates().unwrap().is_empty(),
            "the spooled body goes with it"
        );
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_before_it_is_all_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "us-east").unwrap();
        let e = spool(&store, pieces(100, 1000), 5000).await.unwrap_err();
        assert_eq!((e.status, e.code), (400, "EntityTooLarge"));
        assert_eq!(e.details, vec![("MaxSizeAllowed", "5000".to_string())]);
    }

    fn put(headers: &[(&str, &str)], body: Body) -> Request<Body> {
        let mut b = Request::builder().method(Method::PUT).uri("/b/k");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body).unwrap()
    }

    #[test]
    fn only_header_signed_puts_of_unknown_length_with_a_plain_hash_need_one() {
        let auth = ("authorization", "AWS4-HMAC-SHA256 Credential=x");
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(needs_length(&put(
            &[auth, ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
            pieces(1, 1)
        )));
        assert!(needs_length(&put(&[auth, ("x-amz-content-sha256", hex)], pieces(1, 1))));
        let streaming = ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
        assert!(!needs_length(&put(&[auth, streaming], pieces(1, 1))));
        let unsigned = ("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        assert!(!needs_length(&put(&[auth, unsigned, ("content-length", "1")], pieces(1, 1))));
        assert!(!needs_length(&put(&[auth, unsigned], Body::from(Bytes::from_static(b"x")))));
        assert!(!needs_length(&put(&[unsigned], pieces(1, 1))), "anonymous");
    }
}
