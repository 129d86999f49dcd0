//! Object bodies on the wire: receiving a streamed body into the store while
//! computing its MD5 and any requested checksums (verified against headers or
//! trailers), and streaming stored segments back, whole or by range.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::{self, StreamingBlob};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders, s3_error};
use tandem_store::body_store::{self, BodyReader};
use tandem_store::{BodyWriter, ObjectVersion, SegmentSource, StagedBody, Store};
use transform_stream::AsyncTryStream;

use crate::error::OrS3;

/// Largest object a single PUT may carry, as in S3.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Checksum algorithms by their S3 name, in the order S3 lists them.
pub const ALGORITHMS: [&str; 5] = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"];

/// The checksums a client sent (headers or trailers) and the ones it asked for.
#[derive(Default)]
pub struct ChecksumClaim {
    /// Algorithm name → base64 value claimed by the client.
    pub claimed: BTreeMap<String, String>,
    /// Algorithms to compute even without a claimed value (`x-amz-checksum-algorithm`).
    pub requested: Vec<String>,
}

impl ChecksumClaim {
    /// Builds the claim from the five `x-amz-checksum-*` values and the algorithm header.
    pub fn new(values: [Option<&String>; 5], algorithm: Option<&dto::ChecksumAlgorithm>) -> S3Result<Self> {
        let mut claim = ChecksumClaim::default();
        for (name, value) in ALGORITHMS.iter().zip(values) {
            if let Some(v) = value {
                claim.claimed.insert((*name).to_string(), v.clone());
            }
        }
        if let Some(alg) = algorithm {
            let name = alg.as_str().to_ascii_uppercase();
            if !ALGORITHMS.contains(&name.as_str()) {
                return Err(s3_error!(InvalidRequest, "Unsupported checksum algorithm: {}", alg.as_str()));
            }
            claim.requested.push(name);
        }
        Ok(claim)
    }

    fn hasher(&self) -> ChecksumHasher {
        hasher_for(self.claimed.keys().chain(self.requested.iter()).map(String::as_str))
    }

    /// Adds checksums that arrived as trailers after the body.
    fn absorb_trailers(&mut self, trailers: Option<TrailingHeaders>) -> S3Result<()> {
        let Some(map) = trailers.and_then(|t| t.take()) else {
            return Ok(());
        };
        for name in ALGORITHMS {
            let header = format!("x-amz-checksum-{}", name.to_ascii_lowercase());
            if let Some(v) = map.get(header.as_str()) {
                let v = v.to_str().map_err(|_| s3_error!(InvalidArgument, "Malformed trailer {header}"))?;
                self.claimed.insert(name.to_string(), v.to_string());
            }
        }
        Ok(())
    }
}

/// Builds an s3s output struct whose five `checksum_*` members come from a
/// [`dto::Checksum`]; the other members are given, the rest default.
macro_rules! with_checksums {
    ($ty:ident { $($field:ident: $value:expr),* $(,)? }, $sums:expr) => {{
        let sums: s3s::dto::Checksum = $sums;
        // Some outputs have no members beyond these (CopyPartResult).
        #[allow(clippy::needless_update)]
        let out = $ty {
            $($field: $value,)*
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            ..Default::default()
        };
        out
    }};
}
pub(crate) use with_checksums;

/// A hasher computing the named algorithms.
pub fn hasher_for<'a>(names: impl Iterator<Item = &'a str>) -> ChecksumHasher {
    let mut h = ChecksumHasher::default();
    for name in names {
        match name {
            "CRC32" => h.crc32 = Some(Default::default()),
            "CRC32C" => h.crc32c = Some(Default::default()),
            "SHA1" => h.sha1 = Some(Default::default()),
            "SHA256" => h.sha256 = Some(Default::default()),
            "CRC64NVME" => h.crc64nvme = Some(Default::default()),
            _ => {}
        }
    }
    h
}

/// Checksums by algorithm, as a DTO.
pub fn checksum_dto(sums: &BTreeMap<String, String>) -> dto::Checksum {
    let get = |n: &str| sums.get(n).cloned();
    dto::Checksum {
        checksum_crc32: get("CRC32"),
        checksum_crc32c: get("CRC32C"),
        checksum_sha1: get("SHA1"),
        checksum_sha256: get("SHA256"),
        checksum_crc64nvme: get("CRC64NVME"),
        checksum_type: None,
    }
}

pub fn checksum_map(c: dto::Checksum) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (name, v) in ALGORITHMS.iter().zip([
        c.checksum_crc32,
        c.checksum_crc32c,
        c.checksum_sha1,
        c.checksum_sha256,
        c.checksum_crc64nvme,
    ]) {
        if let Some(v) = v {
            m.insert((*name).to_string(), v);
        }
    }
    m
}

/// A body received and made durable, with its digests.
pub struct Received {
    pub staged: StagedBody,
    pub md5_hex: String,
    pub checksums: BTreeMap<String, String>,
}

/// Receives a body into the store, verifying Content-MD5 and checksums.
/// Memory use is bounded by the inline threshold, whatever the body size.
pub async fn receive(
    store: &Store,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
    content_md5: Option<&str>,
    mut claim: ChecksumClaim,
    trailers: Option<TrailingHeaders>,
) -> S3Result<Received> {
    if content_length.is_some_and(|n| n as u64 > MAX_PUT_SIZE) {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size."
        ));
    }
    let mut writer = BodyWriter::new();
    let mut md5 = Md5::new();
    let mut hasher = claim.hasher();
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| body_error(&e.to_string()))?;
            if writer.len() + chunk.len() as u64 > MAX_PUT_SIZE {
                return Err(s3_error!(
                    EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed object size."
                ));
            }
            md5.update(&chunk);
            hasher.update(&chunk);
            writer.write(store.blobs(), &chunk).await.or_s3()?;
        }
    }
    if let Some(n) = content_length
        && n as u64 != writer.len()
    {
        return Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ));
    }
    let digest = md5.finalize();
    verify_md5(content_md5, &digest)?;
    claim.absorb_trailers(trailers)?;
    let computed = checksum_map(hasher.finalize());
    for (name, value) in &claim.claimed {
        if computed.get(name) != Some(value) {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!("The {name} you specified did not match the calculated checksum."),
            ));
        }
    }
    let staged = writer.finish(store.blobs()).await.or_s3()?;
    Ok(Received {
        staged,
        md5_hex: hex_simd::encode_to_string(digest, hex_simd::AsciiCase::Lower),
        checksums: computed,
    })
}

/// The S3 error for a body that failed while streaming: s3s reports signature
/// and payload-hash failures of signed bodies through the stream.
fn body_error(cause: &str) -> S3Error {
    if cause.contains("Sha256Mismatch") {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        e
    } else if cause.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided."
        )
    } else if cause.starts_with("RequestTimeout") {
        // The node's body-progress timeout: the client stopped sending.
        s3_error!(
            RequestTimeout,
            "Your socket connection to the server was not read from or written to within the timeout period."
        )
    } else {
        S3Error::with_message(S3ErrorCode::IncompleteBody, format!("The request body could not be read: {cause}"))
    }
}

fn verify_md5(content_md5: Option<&str>, digest: &[u8]) -> S3Result<()> {
    let Some(claimed) = content_md5 else { return Ok(()) };
    let claimed = base64_simd::STANDARD
        .decode_to_vec(claimed)
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    if claimed != digest {
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }
    Ok(())
}

/// One piece of a response body: a slice of an inline body or of a stored one.
enum Piece {
    Bytes(Bytes),
    Stored { body: Box<dyn BodyReader>, offset: u64, len: u64 },
}

/// Opens the bytes `range` of a version for streaming. Stored bodies are
/// opened now, so a concurrent delete of the version cannot cut the
/// response short.
pub async fn open_range(store: &Store, version: &ObjectVersion, range: std::ops::Range<u64>) -> S3Result<StreamingBlob> {
    let read = store.read().or_s3()?;
    let mut pieces = Vec::new();
    let mut seg_start = 0u64;
    for seg in &version.segments {
        let seg_end = seg_start + seg.len;
        let (from, to) = (range.start.max(seg_start), range.end.min(seg_end));
        if from < to {
            let (offset, len) = (from - seg_start, to - from);
            match read.segment_source(seg, store).or_s3()? {
                SegmentSource::Bytes(b) => pieces.push(Piece::Bytes(b.slice(offset as usize..(offset + len) as usize))),
                SegmentSource::Stored(body) => pieces.push(Piece::Stored { body, offset, len }),
            }
        }
        seg_start = seg_end;
    }
    Ok(StreamingBlob::wrap(stream_pieces(pieces)))
}

fn stream_pieces(pieces: Vec<Piece>) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    AsyncTryStream::<Bytes, std::io::Error, _>::new(|mut y| async move {
        for piece in pieces {
            match piece {
                Piece::Bytes(b) => y.yield_ok(b).await,
                Piece::Stored { body, offset, len } => {
                    let mut bytes = std::pin::pin!(body_store::stream(body, offset, len));
                    while let Some(b) = bytes.try_next().await? {
                        y.yield_ok(b).await;
                    }
                }
            }
        }
        Ok(())
    })
}

/// The multipart ETag: MD5 of the concatenated part MD5s, then `-N`.
pub fn multipart_etag(part_etags: &[String]) -> S3Result<String> {
    let mut md5 = Md5::new();
    for etag in part_etags {
        let raw = hex_simd::decode_to_vec(etag.trim_matches('"')).map_err(|_| s3_error!(InvalidPart, "Malformed part ETag"))?;
        md5.update(&raw);
    }
    Ok(format!(
        "{}-{}",
        hex_simd::encode_to_string(md5.finalize(), hex_simd::AsciiCase::Lower),
        part_etags.len()
    ))
}
