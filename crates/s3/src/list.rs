//! Listings: ListObjectsV2, ListObjects (v1) and ListObjectVersions, with
//! prefix, delimiter (common prefixes), markers and continuation tokens.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::{ObjectVersion, Visit};

use crate::S3Api;
use crate::acl::owner_dto;
use crate::convert::{etag, timestamp};
use crate::error::OrS3;

/// Most entries one listing page returns, as in S3.
const MAX_KEYS: i32 = 1000;

/// One page of a current-version listing.
struct Page {
    objects: Vec<(String, ObjectVersion)>,
    prefixes: Vec<String>,
    /// Last key or common prefix returned, when there are more.
    next_marker: Option<String>,
}

impl Page {
    /// The page's objects as listing entries, keys encoded as asked.
    fn contents(&self, enc: &KeyEncoding, with_owner: bool) -> Vec<Object> {
        self.objects
            .iter()
            .map(|(k, v)| object_entry(&enc.apply(k.clone()), v, with_owner))
            .collect()
    }

    /// The page's common prefixes, encoded as asked.
    fn common_prefixes(&self, enc: &KeyEncoding) -> Vec<CommonPrefix> {
        self.prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc.apply(p.clone())),
            })
            .collect()
    }
}

fn page_size(max_keys: Option<i32>) -> S3Result<usize> {
    match max_keys {
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must be a non-negative integer")),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
        None => Ok(MAX_KEYS as usize),
    }
}

/// The common prefix `key` rolls up into under `delimiter`, if any.
fn common_prefix(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    rest.find(d).map(|at| key[..prefix.len() + at + d.len()].to_string())
}

/// Smallest string greater than every key starting with `p` — where a listing
/// resumes after a common prefix.
fn after_prefix(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

impl S3Api {
    /// Lists current versions after `marker` (exclusive), skipping delete markers.
    fn list_page(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, marker: &str, limit: usize) -> S3Result<Page> {
        let read = self.store.read().or_s3()?;
        if read.bucket(bucket).or_s3()?.is_none() {
            return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist"));
        }
        // A marker that is itself a common prefix (as NextMarker is) resumes after all of it.
        let rolled_up = delimiter.is_some_and(|d| !d.is_empty() && marker.ends_with(d) && marker.starts_with(prefix));
        let owned_marker = if rolled_up { after_prefix(marker) } else { marker.to_string() };
        let marker = owned_marker.as_str();
        let mut page = Page {
            objects: vec![],

            prefixes: vec![],
            next_marker: None,
        };
        let mut count = 0usize;
        let mut truncated = false;
        read.scan_current(bucket, prefix, marker, |key, v| {
            if key <= marker || v.delete_marker {
                return Visit::Continue;
            }
            if count == limit {
                truncated = true;
                return Visit::Stop;
            }
            count += 1;
            if let Some(cp) = common_prefix(key, prefix, delimiter) {
                page.prefixes.push(cp.clone());
                return Visit::SkipPrefix(cp);
            }
            page.objects.push((key.to_string(), v));
            Visit::Continue
        })
        .or_s3()?;
        if truncated {
            let last_obj = page.objects.last().map(|(k, _)| k.clone());
            let last_cp = page.prefixes.last().map(|p| after_prefix(p));
            page.next_marker = last_obj.into_iter().chain(last_cp).max();
        }
        Ok(page)
    }

    pub(crate) async fn op_list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let limit = page_size(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let marker = match &i.continuation_token {
            Some(t) => decode_token(t)?,
            None => i.start_after.clone().unwrap_or_default(),
        };
        let page = self.list_page(&i.bucket, &prefix, i.delimiter.as_deref(), &marker, limit)?;
        let fetch_owner = i.fetch_owner.unwrap_or(false);
        let enc = KeyEncoding(url_encoded(i.encoding_type.as_ref()));
        let key_count = (page.objects.len() + page.prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: enc.opt(i.prefix),
            delimiter: enc.opt(i.delimiter.filter(|d| !d.is_empty())),
            max_keys: Some(limit as i32),
            key_count: Some(key_count),
            continuation_token: i.continuation_token,
            start_after: enc.opt(i.start_after),
            is_truncated: Some(page.next_marker.is_some()),
            next_continuation_token: page.next_marker.as_deref().map(encode_token),
            contents: Some(page.contents(&enc, fetch_owner)),
            common_prefixes: Some(page.common_prefixes(&enc)),
            encoding_type: i.encoding_type,
            request_charged: None,
        }))
    }

    pub(crate) async fn op_list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let limit = page_size(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let marker = i.marker.clone().unwrap_or_default();
        let page = self.list_page(&i.bucket, &prefix, i.delimiter.as_deref(), &marker, limit)?;
        // v1 only returns NextMarker when a delimiter is used; clients use the last key otherwise.
        let next_marker = page
            .next_marker
            .as_ref()
            .and(i.delimiter.as_ref())
            .and(page.next_marker.clone())
            .map(|m| m.trim_end_matches('\u{10FFFF}').to_string());
        let enc = KeyEncoding(url_encoded(i.encoding_type.as_ref()));
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: enc.opt(i.prefix),
            // S3 always returns Marker in a v1 listing, empty when none was given.
            marker: Some(enc.apply(i.marker.unwrap_or_default())),
            delimiter: enc.opt(i.delimiter.filter(|d| !d.is_empty())),
            max_keys: Some(limit as i32),
            is_truncated: Some(page.next_marker.is_some()),
            next_marker: enc.opt(next_marker),
            contents: Some(page.contents(&enc, true)),
            common_prefixes: Some(page.common_prefixes(&enc)),
            encoding_type: i.encoding_type,
            request_charged: None,
        }))
    }

    pub(crate) async fn op_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let i = req.input;
        let limit = page_size(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let key_marker = i.key_marker.clone().unwrap_or_default();
        let version_marker = i.version_id_marker.clone().filter(|v| !v.is_empty());
        let delimiter = i.delimiter.as_deref();
        let read = self.store.read().or_s3()?;
        if read.bucket(&i.bucket).or_s3()?.is_none() {
            return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist"));
        }
        let (mut versions, mut markers, mut prefixes) = (Vec::new(), Vec::new(), Vec::<String>::new());
        let mut count = 0usize;
        let mut truncated = false;
        // Key and version id of the last entry returned: where the next page resumes.
        let mut last: (Option<String>, Option<String>) = (None, None);
        // Still skipping versions of the key marker up to and including the version marker.
        let mut skipping = version_marker.is_some();
        let mut last_key: Option<String> = None;
        read.scan_versions(&i.bucket, &prefix, &key_marker, |key, v| {
            let is_latest = last_key.as_deref() != Some(key);
            last_key = Some(key.to_string());
            if key < key_marker.as_str() || (key == key_marker && version_marker.is_none()) {
                return Visit::Continue;
            }
            if key == key_marker && skipping {
                if Some(&v.version_id) == version_marker.as_ref() {
                    skipping = false;
                }
                return Visit::Continue;
            }
            if count == limit {
                truncated = true;
                return Visit::Stop;
            }
            count += 1;
            if let Some(cp) = common_prefix(key, &prefix, delimiter) {
                last = (Some(after_prefix(&cp)), None);
                prefixes.push(cp.clone());
                return Visit::SkipPrefix(cp);
            }
            last = (Some(key.to_string()), Some(v.version_id.clone()));
            if v.delete_marker {
                markers.push(DeleteMarkerEntry {
                    key: Some(key.to_string()),
                    version_id: Some(v.version_id.clone()),
                    is_latest: Some(is_latest),
                    last_modified: Some(timestamp(v.modified_ms)),
                    owner: Some(owner_dto(&v.owner)),
                });
            } else {
                versions.push(version_entry(key, &v, is_latest));
            }
            Visit::Continue
        })
        .or_s3()?;
        let (next_key, next_version) = if truncated { last } else { (None, None) };
        let enc = KeyEncoding(url_encoded(i.encoding_type.as_ref()));
        for v in &mut versions {
            v.key = enc.opt(v.key.take());
        }
        for m in &mut markers {
            m.key = enc.opt(m.key.take());
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(i.bucket),
            prefix: enc.opt(i.prefix),
            delimiter: enc.opt(i.delimiter.filter(|d| !d.is_empty())),
            key_marker: enc.opt(i.key_marker),
            version_id_marker: i.version_id_marker,
            max_keys: Some(limit as i32),
            is_truncated: Some(truncated),
            next_key_marker: enc.opt(next_key),
            next_version_id_marker: next_version,
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(enc.apply(p)),
                    })
                    .collect(),
            ),
            encoding_type: i.encoding_type,
            request_charged: None,
        }))
    }
}

type ObjectVersionEntry = s3s::dto::ObjectVersion;

fn object_entry(key: &str, v: &ObjectVersion, with_owner: bool) -> Object {
    Object {
        key: Some(key.to_string()),
        e_tag: Some(etag(&v.etag)),
        last_modified: Some(timestamp(v.modified_ms)),
        size: Some(v.size as i64),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        owner: with_owner.then(|| owner_dto(&v.owner)),
        checksum_algorithm: (!v.checksums.is_empty()).then(|| v.checksums.keys().map(|k| ChecksumAlgorithm::from(k.clone())).collect()),
        checksum_type: None,
        restore_status: None,
    }
}

fn version_entry(key: &str, v: &ObjectVersion, is_latest: bool) -> ObjectVersionEntry {
    ObjectVersionEntry {
        key: Some(key.to_string()),
        version_id: Some(v.version_id.clone()),
        is_latest: Some(is_latest),
        e_tag: Some(etag(&v.etag)),
        last_modified: Some(timestamp(v.modified_ms)),
        size: Some(v.size as i64),
        storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
        owner: Some(owner_dto(&v.owner)),
        checksum_algorithm: None,
        checksum_type: None,
        restore_status: None,
    }
}

/// Whether the client asked for URL-encoded keys (`encoding-type=url`).
pub(crate) fn url_encoded(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str().eq_ignore_ascii_case("url"))
}

/// Encodes a key as S3 does for `encoding-type=url`: unreserved characters and
/// `/` stay, everything else (a space too: `%20`, not `+`) is percent-encoded.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Applies `encoding-type=url` to the strings of a listing response.
pub(crate) struct KeyEncoding(pub(crate) bool);

impl KeyEncoding {
    pub(crate) fn apply(&self, s: String) -> String {
        if self.0 { url_encode(&s) } else { s }
    }

    pub(crate) fn opt(&self, s: Option<String>) -> Option<String> {
        s.map(|s| self.apply(s))
    }
}

/// Continuation tokens are the marker, base64-encoded so clients treat them as opaque.
pub(crate) fn encode_token(marker: &str) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(marker.as_bytes())
}

pub(crate) fn decode_token(token: &str) -> S3Result<String> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_rolls_up_at_the_first_delimiter_after_the_prefix() {
        assert_eq!(common_prefix("a/b/c", "a/", Some("/")), Some("a/b/".to_string()));
        assert_eq!(common_prefix("a/b", "a/", Some("/")), None);
        assert_eq!(common_prefix("a/b", "", None), None);
    }

    #[test]
    fn url_encoding_matches_s3() {
        assert_eq!(url_encode("sp ace/plus+pct%.txt"), "sp%20ace/plus%2Bpct%25.txt");
        assert_eq!(url_encode("ctl\u{1}\t"), "ctl%01%09");
        assert_eq!(url_encode("ünï"), "%C3%BCn%C3%AF");
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode_token(&encode_token("dir/\u{10FFFF}")).unwrap(), "dir/\u{10FFFF}");
        assert!(decode_token("!!").is_err());
    }
}
