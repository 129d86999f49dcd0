//! PutObject, and the parts of a new version shared with copy and multipart:
//! metadata from request headers, ACL, tags, and write preconditions.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::{Grant, ObjectVersion, Precondition, StoreError};

use crate::S3Api;
use crate::acl;
use crate::body::{self, checksum_dto, with_checksums};
use crate::convert::{etag, parse_tagging_header, validate_key};
use crate::error::OrS3;

/// The grants of a new object from any input with `acl` and `grant_*` members
/// (PutObject, CopyObject, CreateMultipartUpload), checked against the
/// bucket's Block Public Access and Object Ownership settings and refused
/// when a grantee does not resolve.
macro_rules! new_object_grants {
    ($i:expr, $bucket:expr, $principals:expr) => {
        $crate::put::object_grants(
            $i.acl.as_ref(),
            &[
                ($crate::acl::READ, $i.grant_read.as_ref()),
                ($crate::acl::READ_ACP, $i.grant_read_acp.as_ref()),
                ($crate::acl::WRITE_ACP, $i.grant_write_acp.as_ref()),
                ($crate::acl::FULL_CONTROL, $i.grant_full_control.as_ref()),
            ],
            $bucket,
            $principals,
        )
    };
}
pub(crate) use new_object_grants;

/// The descriptive headers of any input that carries them (moves them out).
macro_rules! descriptive_of {
    ($i:ident) => {
        $crate::put::Descriptive {
            content_type: $i.content_type,
            content_encoding: $i.content_encoding,
            content_disposition: $i.content_disposition,
            content_language: $i.content_language,
            cache_control: $i.cache_control,
            expires: $i.expires,
            metadata: $i.metadata,
        }
    };
}
pub(crate) use descriptive_of;

/// The checksum claim of any input with `checksum_*` members (PutObject, UploadPart).
macro_rules! checksum_claim_of {
    ($i:ident) => {
        $crate::body::ChecksumClaim::new(
            [
                $i.checksum_crc32.as_ref(),
                $i.checksum_crc32c.as_ref(),
                $i.checksum_sha1.as_ref(),
                $i.checksum_sha256.as_ref(),
                $i.checksum_crc64nvme.as_ref(),
            ],
            $i.checksum_algorithm.as_ref(),
        )
    };
}
pub(crate) use checksum_claim_of;

/// The descriptive headers of a new object.
#[derive(Default)]
pub struct Descriptive {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<Timestamp>,
    pub metadata: Option<Metadata>,
}

/// A version-to-be with everything but its body, id and clock.
pub fn template(owner: &str, d: Descriptive, tags: Vec<(String, String)>, grants: Vec<Grant>) -> S3Result<ObjectVersion> {
    let expires = d.expires.map(|t| {
        let mut buf = Vec::new();
        let _ = t.format(TimestampFormat::HttpDate, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    let metadata: BTreeMap<String, String> = d
        .metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), crate::metadata_text::decode(&v)))
        .collect();
    if metadata.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > 2048 {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size of 2 KB"
        ));
    }
    Ok(ObjectVersion {
        content_type: Some(d.content_type.unwrap_or_else(|| "binary/octet-stream".to_string())),
        content_encoding: stored_encoding(d.content_encoding),
        content_disposition: d.content_disposition,
        content_language: d.content_language,
        cache_control: d.cache_control,
        expires,
        metadata,
        tags,
        grants,
        ..ObjectVersion::empty(owner, String::new())
    })
}

/// The `Content-Encoding` to store: `aws-chunked` describes the upload's
/// framing, not the object, and S3 drops it (`gzip, aws-chunked` is `gzip`).
fn stored_encoding(value: Option<String>) -> Option<String> {
    let kept: Vec<&str> = value
        .as_deref()?
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// Grants of a new object from `x-amz-acl` and `x-amz-grant-*`.
pub fn object_grants(
    canned: Option<&ObjectCannedACL>,
    headers: &[(&str, Option<&String>)],
    bucket: &tandem_store::BucketRecord,
    principals: &crate::Principals,
) -> S3Result<Vec<Grant>> {
    let mut grants = match canned {
        Some(c) => acl::canned(c.as_str(), &bucket.owner)?,
        None => vec![],
    };
    grants.extend(acl::from_grant_headers(headers)?);
    acl::check_grantees(&grants, &bucket.owner, principals)?;
    crate::public_access::check_new_acl(bucket, canned.map(|c| c.as_str()), &grants)?;
    Ok(grants)
}

/// S3 takes only `*` in a write's If-None-Match; an ETag there is 501 NotImplemented.
pub fn check_write_conditions(if_none_match: Option<&ETagCondition>) -> S3Result<()> {
    match if_none_match {
        Some(ETagCondition::ETag(_)) => Err(s3_error!(
            NotImplemented,
            "A header you provided implies functionality that is not implemented"
        )),
        _ => Ok(()),
    }
}

/// If-Match / If-None-Match on a write, checked inside the commit.
pub fn write_precondition(if_match: Option<ETagCondition>, if_none_match: Option<ETagCondition>) -> Precondition {
    Box::new(move |current: Option<&ObjectVersion>| {
        if let Some(cond) = &if_none_match {
            let hit = match (cond, current) {
                (ETagCondition::Any, Some(_)) => true,
                (ETagCondition::ETag(e), Some(cur)) => e.value() == cur.etag,
                _ => false,
            };
            if hit {
                return Err(StoreError::PreconditionFailed(
                    "At least one of the pre-conditions you specified did not hold".into(),
                ));
            }
        }
        if let Some(cond) = &if_match {
            // S3: If-Match on a key with no current version (or a delete marker) is 404.
            let Some(cur) = current else {
                return Err(StoreError::NoSuchKey);
            };
            let ok = match cond {
                ETagCondition::Any => true,
                ETagCondition::ETag(e) => e.value() == cur.etag,
            };
            if !ok {
                return Err(StoreError::PreconditionFailed(
                    "At least one of the pre-conditions you specified did not hold".into(),
                ));
            }
        }
        Ok(())
    })
}

impl S3Api {
    pub(crate) async fn op_put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let owner = self.principal_or_anonymous(&req);
        let form = req.extensions.get::<crate::post_form::PostForm>().cloned();
        let trailers = req.trailing_headers;
        let i = req.input;
        validate_key(&i.key)?;
        check_write_conditions(i.if_none_match.as_ref())?;
        let record = self.bucket(&i.bucket)?;
        let claim = checksum_claim_of!(i)?;
        let tags = parse_tagging_header(i.tagging.as_ref())?;
        let grants = new_object_grants!(i, &record, &self.principals)?;
        let owner = crate::public_access::new_object_owner(&record, owner);
        let descriptive = descriptive_of!(i);
        let mut version = template(&owner, descriptive, tags, grants)?;
        let received = body::receive(&self.store, i.body, i.content_length, i.content_md5.as_deref(), claim, trailers).await?;
        version.etag = received.md5_hex;
        version.checksums = received.checksums;
        let precondition = write_precondition(i.if_match, i.if_none_match);
        let written = self
            .store
            .put_object(&i.bucket, &i.key, version, received.staged, precondition)
            .await
            .or_s3()?;
        if let Some(form) = form {
            form.stored(&i.bucket, &written.etag);
        }
        Ok(S3Response::new(with_checksums!(
            PutObjectOutput {
                e_tag: Some(etag(&written.etag)),
                version_id: (written.version_id != "null").then(|| written.version_id.clone()),
                size: Some(written.size as i64),
            },
            checksum_dto(&written.checksums)
        )))
    }
}
