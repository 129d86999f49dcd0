//! UploadPartCopy: a part of a multipart upload copied from (a byte range of)
//! an existing object version, which the requester must be able to read.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::S3Api;
use crate::body::{self, ChecksumClaim, checksum_dto, open_range, with_checksums};
use crate::convert::{etag, timestamp};
use crate::copy::source_of;
use crate::get::ReadConditions;
use crate::multipart::check_part_number;

/// Largest part S3 accepts (a copied part too).
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The bytes `x-amz-copy-source-range` selects from an object of `size` bytes.
///
/// S3 takes only the `bytes=first-last` form here: anything else is 400
/// `InvalidArgument`, and a range the source cannot satisfy is 400
/// `InvalidArgument` naming the source's size.
pub fn copy_range(spec: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(spec) = spec else { return Ok(0..size) };
    let malformed = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = spec
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(malformed)?;
    let digits = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (Some(first), Some(last)) = (digits(first), digits(last)) else {
        return Err(malformed());
    };
    if first > last {
        return Err(malformed());
    }
    if last >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Range specified is not valid for source object of size: {size}"),
        ));
    }
    Ok(first..last + 1)
}

impl S3Api {
    pub(crate) async fn op_upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let ask = self.ask(&req)?;
        let i = req.input;
        check_part_number(i.part_number)?;
        let upload = self.upload(&i.bucket, &i.key, &i.upload_id)?;
        let src = self.copy_source(
            &ask,
            source_of(&i.copy_source)?,
            ReadConditions {
                if_match: i.copy_source_if_match,
                if_none_match: i.copy_source_if_none_match,
                if_modified_since: i.copy_source_if_modified_since,
                if_unmodified_since: i.copy_source_if_unmodified_since,
            },
        )?;
        let range = copy_range(i.copy_source_range.as_deref(), src.size)?;
        if range.end - range.start > MAX_PART_SIZE {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size."
            ));
        }
        let claim = ChecksumClaim {
            requested: upload.checksum_algorithm.clone().into_iter().collect(),
            ..Default::default()
        };
        let stream = open_range(&self.store, &src, range.clone()).await?;
        let length = (range.end - range.start) as i64;
        let received = body::receive(&self.store, Some(stream), Some(length), None, claim, None).await?;
        let part = self.store_part(&i.upload_id, i.part_number, received).await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(with_checksums!(
                CopyPartResult {
                    e_tag: Some(etag(&part.etag)),
                    last_modified: Some(timestamp(part.modified_ms)),
                },
                checksum_dto(&part.checksums)
            )),
            copy_source_version_id: (src.version_id != "null").then(|| src.version_id.clone()),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_take_only_first_last_within_the_source() {
        assert_eq!(copy_range(None, 10).unwrap(), 0..10);
        assert_eq!(copy_range(Some("bytes=0-0"), 10).unwrap(), 0..1);
        assert_eq!(copy_range(Some("bytes=2-9"), 10).unwrap(), 2..10);
        for bad in [
            "bytes=-",
            "bytes=1-",
            "bytes=-5",
            "bytes=0--1",
            "bytes=5-2",
            "0-5",
            "bytes=a-b",
            "bytes=0-1,3-4",
        ] {
            let e = copy_range(Some(bad), 10).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::InvalidArgument, "{bad}");
        }
        let e = copy_range(Some("bytes=0-10"), 10).unwrap_err();
        assert!(e.message().unwrap_or_default().contains("size: 10"));
    }
}
