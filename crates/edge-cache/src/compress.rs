//! Gzip of compressible responses for viewers that accept it (the rule's `compress`).
//! The gzip form is made once, when the object is stored, and served from memory.

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use std::io::Write;

/// Smaller bodies are not worth compressing; larger ones are left as they are (as CloudFront).
const MIN_BYTES: usize = 1000;
const MAX_BYTES: usize = 10 << 20;

/// Is this a content type gzip helps (text, JSON, JavaScript, XML, SVG, WASM)?
pub(crate) fn compressible_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/javascript"
                | "application/x-javascript"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
        )
}

/// The gzip form of a body, when the response qualifies.
pub(crate) fn gzip_form(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Option<Bytes> {
    if status != StatusCode::OK
        || headers.contains_key(CONTENT_ENCODING)
        || !(MIN_BYTES..=MAX_BYTES).contains(&body.len())
        || !compressible_type(headers)
    {
        return None;
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::new(6));
    encoder.write_all(body).ok()?;
    let out = encoder.finish().ok()?;
    (out.len() < body.len()).then(|| Bytes::from(out))
}
