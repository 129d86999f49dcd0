//! CopyObject: reads a source version (checking the requester may read it),
//! copies its bytes into a new durable body, and writes the destination version
//! with copied or replaced metadata.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::BodyWriter;

use futures::StreamExt;

use crate::S3Api;
use crate::access::authorize;
use crate::body::{checksum_dto, open_range};
use crate::convert::{etag, parse_tagging_header, timestamp, validate_key};
use crate::error::OrS3;
use crate::get::{ReadConditions, check_conditions};
use crate::ops::S3Op;
use crate::put::{Descriptive, descriptive_of, new_object_grants, template, write_precondition};

/// The bucket, key and version id of a `x-amz-copy-source`.
pub(crate) fn source_of(source: &CopySource) -> S3Result<(&str, &str, Option<&str>)> {
    match source {
        CopySource::Bucket { bucket, key, version_id } => Ok((bucket, key, version_id.as_deref())),
        _ => Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported")),
    }
}

impl S3Api {
    /// The source version of a copy (CopyObject, UploadPartCopy), checked to
    /// be readable by the requester (`ask`, as GetObject) and to meet the
    /// `x-amz-copy-source-if-*` conditions (a 304 there is 412, as S3 answers).
    pub(crate) fn copy_source(
        &self,
        ask: &crate::access::Ask,
        (bucket, key, version): (&str, &str, Option<&str>),
        conditions: ReadConditions,
    ) -> S3Result<tandem_store::ObjectVersion> {
        let src = self.resolve(bucket, key, version)?;
        let record = self.bucket(bucket)?;
        let ask = ask.for_op(S3Op::GetObject).at_version(version);
        authorize(&ask, &self.access.policies, &record, Some(key), Some(&src))?;
        check_conditions(&conditions, &src).map_err(|e| {
            if e.code() == &s3s::S3ErrorCode::NotModified {
                s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
            } else {
                e
            }
        })?;
        Ok(src)
    }

    pub(crate) async fn op_copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let owner = self.principal_or_anonymous(&req);
        let ask = self.ask(&req)?;
        let i = req.input;
        validate_key(&i.key)?;
        let (src_bucket, src_key, src_version) = source_of(&i.copy_source)?;
        let src = self.copy_source(
            &ask,
            (src_bucket, src_key, src_version),
            ReadConditions {
                if_match: i.copy_source_if_match,
                if_none_match: i.copy_source_if_none_match,
                if_modified_since: i.copy_source_if_modified_since,
                if_unmodified_since: i.copy_source_if_unmodified_since,
            },
        )?;
        let dest = self.bucket(&i.bucket)?;
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let same = src_bucket == i.bucket && src_key == i.key && src_version.is_none();
        if same && !replace {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let descriptive = if replace {
            descriptive_of!(i)
        } else {
            Descriptive {
                content_type: src.content_type.clone(),
                content_encoding: src.content_encoding.clone(),
                content_disposition: src.content_disposition.clone(),
                content_language: src.content_language.clone(),
                cache_control: src.cache_control.clone(),
                expires: src
                    .expires
                    .as_deref()
                    .and_then(|s| Timestamp::parse(TimestampFormat::HttpDate, s).ok()),
                metadata: Some(src.metadata.clone().into_iter().collect()),
            }
        };
        let tags = match i.tagging_directive.as_ref().map(|d| d.as_str()) {
            Some(TaggingDirective::REPLACE) => parse_tagging_header(i.tagging.as_ref())?,
            _ => src.tags.clone(),
        };
        let grants = new_object_grants!(i, &dest, &self.principals)?;
        let owner = crate::public_access::new_object_owner(&dest, owner);
        let mut version = template(&owner, descriptive, tags, grants)?;
        version.etag = src.etag.clone();
        version.checksums = src.checksums.clone();
        version.part_sizes = src.part_sizes.clone();
        let mut body = open_range(&self.store, &src, 0..src.size).await?;
        let mut writer = BodyWriter::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(InternalError, "Reading the copy source failed: {e}"))?;
            writer.write(self.store.blobs(), &chunk).await.or_s3()?;
        }
        let staged = writer.finish(self.store.blobs()).await.or_s3()?;
        let written = self
            .store
            .put_object(&i.bucket, &i.key, version, staged, write_precondition(None, None))
            .await
            .or_s3()?;
        let sums = checksum_dto(&written.checksums);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&written.etag)),
                last_modified: Some(timestamp(written.modified_ms)),
                checksum_crc32: sums.checksum_crc32,
                checksum_crc32c: sums.checksum_crc32c,
                checksum_sha1: sums.checksum_sha1,
                checksum_sha256: sums.checksum_sha256,
                checksum_crc64nvme: sums.checksum_crc64nvme,
                checksum_type: None,
            }),
            copy_source_version_id: (src.version_id != "null").then(|| src.version_id.clone()),
            version_id: (written.version_id != "null").then(|| written.version_id.clone()),
            ..Default::default()
        }))
    }
}
