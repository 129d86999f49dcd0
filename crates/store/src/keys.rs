//! How records are keyed in the metadata tables. Bucket names never contain `/`
//! and object keys never contain NUL, so `bucket/key` and `bucket/key\0<ts>` sort
//! the way listings need: by key, and newest version first within a key.

/// Key of the current-version table and prefix of the versions table.
pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(b'/');
    k.extend_from_slice(key.as_bytes());
    k
}

/// Prefix shared by every object key of a bucket.
pub fn bucket_prefix(bucket: &str) -> Vec<u8> {
    object_key(bucket, "")
}

/// Prefix shared by all versions of one object.
pub fn versions_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k
}

/// Key of one version: newest first, because the timestamp is inverted.
pub fn version_key(bucket: &str, key: &str, hlc: u64, version_id: &str) -> Vec<u8> {
    let mut k = versions_prefix(bucket, key);
    k.extend_from_slice(&(u64::MAX - hlc).to_be_bytes());
    k.extend_from_slice(version_id.as_bytes());
    k
}

/// Splits a versions-table key back into the object key (without bucket).
pub fn split_version_key<'a>(bucket: &str, raw: &'a [u8]) -> Option<&'a str> {
    let rest = raw.get(bucket.len() + 1..)?;
    let nul = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..nul]).ok()
}

/// Splits a current-table key back into the object key (without bucket).
pub fn split_object_key<'a>(bucket: &str, raw: &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(raw.get(bucket.len() + 1..)?).ok()
}

/// Key of a part of a multipart upload.
pub fn part_key(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 5);
    k.extend_from_slice(upload_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

/// Prefix of all parts of an upload.
pub fn parts_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` when there is none (all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_sort_first() {
        assert!(version_key("b", "k", 200, "x") < version_key("b", "k", 100, "y"));
        assert!(version_key("b", "k", 100, "a") < version_key("b", "k", 100, "b"));
    }

    #[test]
    fn versions_of_a_key_sort_before_longer_keys() {
        assert!(version_key("b", "a", 1, "z") < version_key("b", "a/b", u64::MAX, "a"));
        assert!(version_key("b", "a", 1, "z") < version_key("b", "a0", u64::MAX, "a"));
    }

    #[test]
    fn split_round_trips() {
        let raw = version_key("bucket", "dir/file.txt", 42, "null");
        assert_eq!(split_version_key("bucket", &raw), Some("dir/file.txt"));
        let raw = object_key("bucket", "dir/file.txt");
        assert_eq!(split_object_key("bucket", &raw), Some("dir/file.txt"));
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
    }
}
