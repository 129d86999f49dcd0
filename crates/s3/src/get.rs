//! GetObject and HeadObject: version resolution (delete markers answer 404 with
//! `x-amz-delete-marker`), conditional headers, ranges and part numbers.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tandem_store::{ObjectVersion, StoreError};

use crate::S3Api;
use crate::body::{checksum_dto, open_range};
use crate::convert::{etag, millis, timestamp};
use crate::error::s3_err;

/// The conditional headers of a GetObject or HeadObject input.
macro_rules! conditions {
    ($i:ident) => {
        ReadConditions {
            if_match: $i.if_match,
            if_none_match: $i.if_none_match,
            if_modified_since: $i.if_modified_since,
            if_unmodified_since: $i.if_unmodified_since,
        }
    };
}

/// The read plan of a GetObject or HeadObject input.
macro_rules! plan_of {
    ($api:ident, $i:ident) => {
        $api.plan_read(
            &$i.bucket,
            &$i.key,
            $i.version_id.as_deref(),
            conditions!($i),
            $i.range.as_ref(),
            $i.part_number,
            $i.checksum_mode.is_some(),
        )
    };
}

/// Fills the fields GetObject and HeadObject share from a read plan.
macro_rules! describe {
    ($out:ident, $plan:ident) => {
        let v = &$plan.version;
        $out.content_length = Some(($plan.bytes.end - $plan.bytes.start) as i64);
        $out.content_range = $plan
            .range
            .as_ref()
            .map(|r| format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), v.size));
        $out.checksum_crc32 = $plan.sums.checksum_crc32.clone();
        $out.checksum_crc32c = $plan.sums.checksum_crc32c.clone();
        $out.checksum_sha1 = $plan.sums.checksum_sha1.clone();
        $out.checksum_sha256 = $plan.sums.checksum_sha256.clone();
        $out.checksum_crc64nvme = $plan.sums.checksum_crc64nvme.clone();
        $out.parts_count = $plan.parts_count;
        $out.e_tag = Some(etag(&v.etag));
        $out.last_modified = Some(timestamp(v.modified_ms));
        $out.content_type = v.content_type.clone();
        $out.content_encoding = v.content_encoding.clone();
        $out.content_disposition = v.content_disposition.clone();
        $out.content_language = v.content_language.clone();
        $out.cache_control = v.cache_control.clone();
        $out.expires = v
            .expires
            .as_deref()
            .and_then(|s| Timestamp::parse(TimestampFormat::HttpDate, s).ok());
        $out.metadata = (!v.metadata.is_empty()).then(|| {
            v.metadata
                .iter()
                .map(|(k, val)| (k.clone(), crate::metadata_text::encode(val)))
                .collect()
        });
        $out.version_id = (v.version_id != "null").then(|| v.version_id.clone());
        $out.accept_ranges = Some("bytes".to_string());
        $out.replication_status = v
            .replication_status
            .map(|s| s3s::dto::ReplicationStatus::from(s.as_str().to_string()));
    };
}

/// Applies the `response-*` query overrides of a (usually presigned) read.
macro_rules! override_headers {
    ($out:ident, $i:ident) => {
        if let Some(v) = $i.response_content_type {
            $out.content_type = Some(v);
        }
        if let Some(v) = $i.response_content_disposition {
            $out.content_disposition = Some(v);
        }
        if let Some(v) = $i.response_content_encoding {
            $out.content_encoding = Some(v);
        }
        if let Some(v) = $i.response_content_language {
            $out.content_language = Some(v);
        }
        if let Some(v) = $i.response_cache_control {
            $out.cache_control = Some(v);
        }
        if let Some(v) = $i.response_expires {
            $out.expires = Some(v);
        }
    };
}

/// The conditional headers of a read.
pub struct ReadConditions {
    pub if_match: Option<ETagCondition>,
    pub if_none_match: Option<ETagCondition>,
    pub if_modified_since: Option<Timestamp>,
    pub if_unmodified_since: Option<Timestamp>,
}

/// Applies RFC 9110 conditional-request rules as S3 does.
pub fn check_conditions(c: &ReadConditions, v: &ObjectVersion) -> S3Result<()> {
    let matches = |cond: &ETagCondition| match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == v.etag,
    };
    let modified_secs = v.modified_ms / 1000;
    let failed = || s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
    let not_modified = || not_modified(v);
    if let Some(c) = &c.if_match {
        if !matches(c) {
            return Err(failed());
        }
    } else if let Some(t) = &c.if_unmodified_since
        && modified_secs > millis(t) / 1000
    {
        return Err(failed());
    }
    if let Some(c) = &c.if_none_match {
        if matches(c) {
            return Err(not_modified());
        }
    } else if let Some(t) = &c.if_modified_since
        && modified_secs <= millis(t) / 1000
    {
        return Err(not_modified());
    }
    Ok(())
}

/// 304 Not Modified, with the `ETag` and `Last-Modified` S3 sends on it.
fn not_modified(v: &ObjectVersion) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    e.set_status_code(http::StatusCode::NOT_MODIFIED);
    let mut h = http::HeaderMap::new();
    if let Ok(tag) = http::HeaderValue::from_str(&format!("\"{}\"", v.etag)) {
        h.insert(http::header::ETAG, tag);
    }
    let mut date = Vec::new();
    if timestamp(v.modified_ms).format(TimestampFormat::HttpDate, &mut date).is_ok()
        && let Ok(value) = http::HeaderValue::from_bytes(&date)
    {
        h.insert(http::header::LAST_MODIFIED, value);
    }
    e.set_headers(h);
    e
}

/// 416 for a `partNumber` the object does not have.
fn part_not_satisfiable() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    e
}

/// The error for a read that lands on a delete marker.
fn delete_marker_error(v: &ObjectVersion, by_version: bool) -> S3Error {
    let mut e = if by_version {
        s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource.")
    } else {
        s3_error!(NoSuchKey, "The specified key does not exist.")
    };
    let mut h = http::HeaderMap::new();
    h.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(id) = http::HeaderValue::from_str(&v.version_id) {
        h.insert("x-amz-version-id", id);
    }
    e.set_headers(h);
    e
}

impl S3Api {
    /// The version a read refers to, or the S3 error for it.
    pub(crate) fn resolve(&self, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<ObjectVersion> {
        let read = self.store.read().map_err(s3_err)?;
        let v = read.object(bucket, key, version_id).map_err(|e| match e {
            // S3 says NoSuchKey for a missing version of a key that has none at all.
            StoreError::NoSuchVersion if read.object(bucket, key, None).is_err() && version_id != Some("null") => {
                s3_error!(NoSuchVersion, "The specified version does not exist.")
            }
            other => s3_err(other),
        })?;
        if v.delete_marker {
            return Err(delete_marker_error(&v, version_id.is_some()));
        }
        Ok(v)
    }

    /// Resolves the version of a GET or HEAD, checks its conditions and works
    /// out the bytes and checksums to answer with.
    #[allow(clippy::too_many_arguments)]
    fn plan_read(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: ReadConditions,
        range: Option<&Range>,
        part_number: Option<i32>,
        checksum_mode: bool,
    ) -> S3Result<ReadPlan> {
        let version = self.resolve(bucket, key, version_id)?;
        check_conditions(&conditions, &version)?;
        let range = byte_range(&version, range, part_number)?;
        let sums = if range.is_none() && checksum_mode {
            checksum_dto(&version.checksums)
        } else {
            Checksum::default()
        };
        let parts_count = (part_number.is_some() && !version.part_sizes.is_empty()).then_some(version.part_sizes.len() as i32);
        Ok(ReadPlan {
            bytes: range.clone().unwrap_or(0..version.size),
            range,
            sums,
            parts_count,
            version,
        })
    }

    pub(crate) async fn op_get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let plan = plan_of!(self, i)?;
        let mut out = GetObjectOutput {
            body: Some(open_range(&self.store, &plan.version, plan.bytes.clone()).await?),
            tag_count: (!plan.version.tags.is_empty()).then_some(plan.version.tags.len() as i32),
            ..Default::default()
        };
        describe!(out, plan);
        override_headers!(out, i);
        Ok(answer(out, plan.range.is_some()))
    }

    pub(crate) async fn op_head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let plan = plan_of!(self, i)?;
        let mut out = HeadObjectOutput::default();
        describe!(out, plan);
        override_headers!(out, i);
        let mut resp = answer(out, plan.range.is_some());
        // S3 sends the tag count on HEAD too; s3s's HeadObjectOutput has no field for it.
        if !plan.version.tags.is_empty() {
            resp.headers
                .insert("x-amz-tagging-count", http::HeaderValue::from(plan.version.tags.len()));
        }
        Ok(resp)
    }
}

/// What a GET or HEAD answers with.
struct ReadPlan {
    version: ObjectVersion,
    /// The requested range, if the read was ranged.
    range: Option<std::ops::Range<u64>>,
    /// The bytes to send (the whole object when not ranged).
    bytes: std::ops::Range<u64>,
    sums: Checksum,
    parts_count: Option<i32>,
}

/// A response, 206 when it carries a range.
fn answer<T>(out: T, ranged: bool) -> S3Response<T> {
    let mut resp = S3Response::new(out);
    if ranged {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    resp
}

/// The byte range a read asks for (`Range` header or `partNumber`), or `None`
/// for the whole object.
fn byte_range(v: &ObjectVersion, range: Option<&Range>, part_number: Option<i32>) -> S3Result<Option<std::ops::Range<u64>>> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        if v.part_sizes.is_empty() {
            return if n == 1 { Ok(None) } else { Err(part_not_satisfiable()) };
        }
        let idx = usize::try_from(n - 1)
            .ok()
            .filter(|&i| i < v.part_sizes.len())
            .ok_or_else(part_not_satisfiable)?;
        let start: u64 = v.part_sizes[..idx].iter().sum();
        return Ok(Some(start..start + v.part_sizes[idx]));
    }
    match range {
        None => Ok(None),
        Some(r) => match r.check(v.size) {
            Ok(r) => Ok(Some(r)),
            Err(_) => Err(s3_error!(InvalidRange, "The requested range is not satisfiable")),
        },
    }
}
