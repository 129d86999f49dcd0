//! GetObjectAttributes: the ETag, checksum, parts, storage class and size of
//! an object version, each only when asked for, parts paginated.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::ObjectVersion;

use crate::S3Api;
use crate::body::checksum_dto;
use crate::convert::{etag, timestamp};

/// Most parts one answer lists.
const MAX_PARTS: i32 = 1000;

/// The `ObjectParts` page of a multipart object: parts after `marker`, at most `max`.
fn parts_page(v: &ObjectVersion, max: i32, marker: i32) -> GetObjectAttributesParts {
    let total = v.part_sizes.len() as i32;
    let start = marker.clamp(0, total);
    let end = start.saturating_add(max).min(total);
    let parts: Vec<ObjectPart> = (start..end)
        .map(|n| ObjectPart {
            part_number: Some(n + 1),
            size: Some(v.part_sizes[n as usize] as i64),
            ..Default::default()
        })
        .collect();
    let truncated = end < total;
    GetObjectAttributesParts {
        is_truncated: Some(truncated),
        max_parts: Some(max),
        next_part_number_marker: truncated.then_some(end),
        part_number_marker: Some(marker),
        parts: Some(parts),
        total_parts_count: Some(total),
    }
}

/// The object's checksum as GetObjectAttributes gives it (with its type).
fn checksum_of(v: &ObjectVersion) -> Option<Checksum> {
    if v.checksums.is_empty() {
        return None;
    }
    let mut sums = checksum_dto(&v.checksums);
    let composite = v.checksums.values().any(|s| s.contains('-'));
    sums.checksum_type = Some(ChecksumType::from_static(if composite {
        ChecksumType::COMPOSITE
    } else {
        ChecksumType::FULL_OBJECT
    }));
    Some(sums)
}

impl S3Api {
    pub(crate) async fn op_get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = req.input;
        // The header is a comma-separated list (s3s may hand it over whole).
        let wanted: Vec<String> = i
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        const KNOWN: [&str; 5] = [
            ObjectAttributes::ETAG,
            ObjectAttributes::CHECKSUM,
            ObjectAttributes::OBJECT_PARTS,
            ObjectAttributes::STORAGE_CLASS,
            ObjectAttributes::OBJECT_SIZE,
        ];
        if wanted.is_empty() || wanted.iter().any(|a| !KNOWN.contains(&a.as_str())) {
            return Err(s3_error!(InvalidArgument, "Invalid attribute name specified."));
        }
        let max = match i.max_parts {
            Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-parts must be a non-negative integer")),
            Some(n) => n.min(MAX_PARTS),
            None => MAX_PARTS,
        };
        let marker = i.part_number_marker.unwrap_or(0);
        if marker < 0 {
            return Err(s3_error!(InvalidArgument, "part-number-marker must be a non-negative integer"));
        }
        let v = self.resolve(&i.bucket, &i.key, i.version_id.as_deref())?;
        let asked = |name: &str| wanted.iter().any(|a| a == name);
        Ok(S3Response::new(GetObjectAttributesOutput {
            e_tag: asked(ObjectAttributes::ETAG).then(|| etag(&v.etag)),
            checksum: asked(ObjectAttributes::CHECKSUM).then(|| checksum_of(&v)).flatten(),
            object_parts: (asked(ObjectAttributes::OBJECT_PARTS) && !v.part_sizes.is_empty()).then(|| parts_page(&v, max, marker)),
            storage_class: asked(ObjectAttributes::STORAGE_CLASS).then(|| StorageClass::from_static(StorageClass::STANDARD)),
            object_size: asked(ObjectAttributes::OBJECT_SIZE).then_some(v.size as i64),
            last_modified: Some(timestamp(v.modified_ms)),
            version_id: (v.version_id != "null").then(|| v.version_id.clone()),
            delete_marker: None,
            request_charged: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(sizes: &[u64]) -> ObjectVersion {
        let mut v: ObjectVersion = serde_json::from_str(
            r#"{"version_id":"null","delete_marker":false,"size":0,"etag":"e","content_type":null,"content_encoding":null,
            "content_disposition":null,"content_language":null,"cache_control":null,"expires":null,"metadata":{},
            "checksums":{},"tags":[],"grants":[],"owner":"o","modified_ms":0,"hlc":0,"origin":"r","segments":[],
            "part_sizes":[]}"#,
        )
        .unwrap();
        v.part_sizes = sizes.to_vec();
        v
    }

    #[test]
    fn parts_are_paged_after_the_marker_with_the_next_marker_when_truncated() {
        let v = multipart(&[5, 6, 7]);
        let p = parts_page(&v, 2, 0);
        assert_eq!(
            p.parts.as_ref().unwrap().iter().map(|p| p.part_number.unwrap()).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(
            (p.is_truncated, p.next_part_number_marker, p.total_parts_count),
            (Some(true), Some(2), Some(3))
        );
        let p = parts_page(&v, 2, 2);
        assert_eq!(p.parts.as_ref().unwrap()[0].size, Some(7));
        assert_eq!((p.is_truncated, p.next_part_number_marker), (Some(false), None));
        assert!(parts_page(&v, 5, 9).parts.unwrap().is_empty());
    }
}
