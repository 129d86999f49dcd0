//! Small conversions between store records and s3s DTOs shared by the operations.

use s3s::dto::{self, ETag, Timestamp};
use s3s::{S3Result, s3_error};

/// A store time (ms since the epoch) as an S3 timestamp.
pub fn timestamp(ms: u64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// An S3 timestamp as store time (ms since the epoch).
pub fn millis(ts: &Timestamp) -> u64 {
    let t: time::OffsetDateTime = ts.clone().into();
    (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64
}

pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_string())
}

/// Parses the `x-amz-tagging` header (URL-encoded `k=v&k2=v2`).
pub fn parse_tagging_header(header: Option<&String>) -> S3Result<Vec<(String, String)>> {
    let Some(h) = header else { return Ok(vec![]) };
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(h)
        .ok_or_else(|| s3_error!(InvalidArgument, "The x-amz-tagging header is not valid URL-encoded key=value pairs"))?;
    validate_tags(&pairs)?;
    Ok(pairs)
}

fn serde_urlencoded_pairs(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for kv in s.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        out.push((percent_decode(k)?, percent_decode(v)?));
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// S3's limits on object tags.
pub fn validate_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > 10 {
        return Err(s3_error!(InvalidTag, "Object tags cannot be greater than 10"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(s3_error!(InvalidTag, "The TagKey or TagValue you have provided is invalid"));
        }
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(s3_error!(InvalidTag, "Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

pub fn tags_from_dto(set: &[dto::Tag]) -> S3Result<Vec<(String, String)>> {
    let tags: Vec<(String, String)> = set
        .iter()
        .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
        .collect();
    validate_tags(&tags)?;
    Ok(tags)
}

pub fn tags_to_dto(tags: &[(String, String)]) -> Vec<dto::Tag> {
    tags.iter()
        .map(|(k, v)| dto::Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

/// Object keys tandem refuses: longer than S3's limit, or containing NUL (which
/// S3's XML listings cannot carry either).
pub fn validate_key(key: &str) -> S3Result<()> {
    if key.len() > 1024 {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    if key.is_empty() || key.contains('\0') {
        return Err(s3_error!(
            InvalidArgument,
            "Object keys must be 1 to 1024 bytes of UTF-8 without NUL"
        ));
    }
    Ok(())
}
