//! The S3 condition keys of a request (`s3:prefix`, `s3:x-amz-acl`,
//! `s3:RequestObjectTag/<key>`, ...), added to the global keys of
//! `tandem-iam`, and the list of keys a bucket policy may use.
//!
//! `s3:RequestObjectTag/*` and `s3:RequestObjectTagKeys` come from the
//! `x-amz-tagging` header (PutObject, CopyObject, CreateMultipartUpload);
//! `s3:ExistingObjectTag/*` from the stored object, when the request names one.

use http::{HeaderMap, Uri};
use tandem_iam::Context;

/// Query parameters that are condition keys.
const QUERY_KEYS: [(&str, &str); 4] = [
    ("prefix", "s3:prefix"),
    ("delimiter", "s3:delimiter"),
    ("max-keys", "s3:max-keys"),
    ("versionId", "s3:VersionId"),
];

/// Headers that are condition keys, as `s3:<header>`.
const HEADER_KEYS: [&str; 9] = [
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-server-side-encryption",
];

/// Tag-key families (`s3:ExistingObjectTag/<key>`).
const TAG_PREFIXES: [&str; 2] = ["s3:ExistingObjectTag/", "s3:RequestObjectTag/"];

/// Whether a bucket policy may use `key`.
pub fn is_known(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    tandem_iam::keys::is_global(key)
        || QUERY_KEYS.iter().any(|(_, k)| k.eq_ignore_ascii_case(key))
        || HEADER_KEYS.iter().any(|h| lower.strip_prefix("s3:") == Some(h))
        || lower == "s3:requestobjecttagkeys"
        || TAG_PREFIXES
            .iter()
            .any(|p| lower.starts_with(&p.to_ascii_lowercase()) && key.len() > p.len())
}

/// Adds the S3 keys of a request to `cx`.
pub fn add_request_keys(cx: &mut Context, uri: &Uri, headers: &HeaderMap) {
    if let Some(q) = uri.query() {
        for (name, value) in form_urlencoded::parse(q.as_bytes()) {
            if let Some((_, key)) = QUERY_KEYS.iter().find(|(n, _)| *n == name) {
                cx.set(key, value.into_owned());
            }
        }
    }
    for h in HEADER_KEYS {
        if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
            cx.set(&format!("s3:{h}"), v.to_string());
        }
    }
    if let Some(tagging) = headers.get("x-amz-tagging").and_then(|v| v.to_str().ok()) {
        let tags: Vec<(String, String)> = form_urlencoded::parse(tagging.as_bytes()).into_owned().collect();
        for (k, v) in &tags {
            cx.set(&format!("s3:RequestObjectTag/{k}"), v.clone());
        }
        cx.set_all("s3:RequestObjectTagKeys", tags.into_iter().map(|(k, _)| k).collect());
    }
}

/// Adds `s3:ExistingObjectTag/<key>` for each tag of the stored object.
pub fn add_object_tags(cx: &mut Context, tags: &[(String, String)]) {
    for (k, v) in tags {
        cx.set(&format!("s3:ExistingObjectTag/{k}"), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys() {
        assert!(is_known("s3:prefix"));
        assert!(is_known("S3:x-amz-acl"));
        assert!(is_known("aws:SourceIp"));
        assert!(is_known("s3:ExistingObjectTag/team"));
        assert!(!is_known("s3:ExistingObjectTag/"));
        assert!(!is_known("s3:object-lock-mode"));
        assert!(!is_known("dynamodb:LeadingKeys"));
    }

    #[test]
    fn request_keys_come_from_the_query_and_headers() {
        let uri: Uri = "/b?list-type=2&prefix=home%2Falice%2F&max-keys=5".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-acl", "public-read".parse().unwrap());
        headers.insert("x-amz-tagging", "team=blue&cost=1".parse().unwrap());
        let mut cx = Context::default();
        add_request_keys(&mut cx, &uri, &headers);
        assert_eq!(cx.get("s3:prefix").unwrap(), ["home/alice/"]);
        assert_eq!(cx.get("s3:max-keys").unwrap(), ["5"]);
        assert_eq!(cx.get("s3:x-amz-acl").unwrap(), ["public-read"]);
        assert_eq!(cx.get("s3:RequestObjectTag/team").unwrap(), ["blue"]);
        assert_eq!(cx.get("s3:RequestObjectTagKeys").unwrap(), ["team", "cost"]);
    }
}
