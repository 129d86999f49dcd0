//! Multipart uploads: create, upload part, complete (multipart ETag), abort,
//! list parts, list uploads.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::{PartRecord, Segment, UploadRecord};

use crate::S3Api;
use crate::acl::owner_dto;
use crate::body::{self, checksum_dto, multipart_etag, with_checksums};
use crate::convert::{etag, parse_tagging_header, timestamp, validate_key};
use crate::error::OrS3;
use crate::list::{KeyEncoding, url_encoded};
use crate::put::{check_write_conditions, checksum_claim_of, descriptive_of, new_object_grants, template, write_precondition};

/// Highest part number S3 accepts.
const MAX_PART_NUMBER: i32 = 10_000;

/// A part number S3 accepts (UploadPart, UploadPartCopy).
pub(crate) fn check_part_number(n: i32) -> S3Result<()> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(())
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

impl S3Api {
    pub(crate) async fn op_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let owner = self.principal_or_anonymous(&req);
        let i = req.input;
        validate_key(&i.key)?;
        let record = self.bucket(&i.bucket)?;
        let tags = parse_tagging_header(i.tagging.as_ref())?;
        let grants = new_object_grants!(i, &record, &self.principals)?;
        let owner = crate::public_access::new_object_owner(&record, owner);
        let descriptive = descriptive_of!(i);
        let upload_id = format!("{:032x}", rand::random::<u128>());
        let upload = UploadRecord {
            upload_id: upload_id.clone(),
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            initiated_ms: tandem_store::now_ms(),
            owner: owner.clone(),
            template: template(&owner, descriptive, tags, grants)?,
            checksum_algorithm: i.checksum_algorithm.as_ref().map(|a| a.as_str().to_ascii_uppercase()),
        };
        self.store.create_upload(upload).await.or_s3()?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(upload_id),
            checksum_algorithm: i.checksum_algorithm,
            ..Default::default()
        }))
    }

    pub(crate) async fn op_upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let trailers = req.trailing_headers;
        let i = req.input;
        check_part_number(i.part_number)?;
        let upload = self.upload(&i.bucket, &i.key, &i.upload_id)?;
        let mut claim = checksum_claim_of!(i)?;
        if let Some(alg) = &upload.checksum_algorithm {
            claim.requested.push(alg.clone());
        }
        let received = body::receive(&self.store, i.body, i.content_length, i.content_md5.as_deref(), claim, trailers).await?;
        let part = self.store_part(&i.upload_id, i.part_number, received).await?;
        Ok(S3Response::new(with_checksums!(
            UploadPartOutput {
                e_tag: Some(etag(&part.etag)),
            },
            checksum_dto(&part.checksums)
        )))
    }

    pub(crate) async fn op_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = req.input;
        check_write_conditions(i.if_none_match.as_ref())?;
        let listed = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if listed.is_empty() {
            return Err(s3_error!(MalformedXML, "You must specify at least one part"));
        }
        let chosen = listed
            .iter()
            .map(|p| match (p.part_number, &p.e_tag) {
                (Some(n), Some(e)) if n >= 1 => Ok((n as u32, e.value().to_string())),
                _ => Err(s3_error!(InvalidPart, "Each part needs a PartNumber and an ETag")),
            })
            .collect::<S3Result<Vec<_>>>()?;
        if let Err(e) = self.upload(&i.bucket, &i.key, &i.upload_id) {
            return self.completed_again(&i.bucket, &i.key, &i.upload_id, &chosen).ok_or(e);
        }
        let retry_key = chosen.clone();
        let finalize: tandem_store::Finalize = Box::new(|upload: &UploadRecord, parts: &[PartRecord]| {
            let mut v = upload.template.clone();
            v.etag = multipart_etag(&parts.iter().map(|p| p.etag.clone()).collect::<Vec<_>>())
                .map_err(|_| tandem_store::StoreError::InvalidPart(0))?;
            v.modified_ms = tandem_store::now_ms();
            v.checksums = composite_checksums(parts);
            Ok(v)
        });
        let completed = self
            .store
            .complete_upload(&i.upload_id, chosen, write_precondition(i.if_match, i.if_none_match), finalize)
            .await;
        match completed {
            Ok((bucket, key, written)) => Ok(completion_answer(
                bucket,
                key,
                &written.etag,
                &written.version_id,
                &written.checksums,
            )),
            // A concurrent retry of the same completion committed first.
            Err(tandem_store::StoreError::NoSuchUpload) => self
                .completed_again(&i.bucket, &i.key, &i.upload_id, &retry_key)
                .ok_or_else(|| crate::error::s3_err(tandem_store::StoreError::NoSuchUpload)),
            Err(e) => Err(crate::error::s3_err(e)),
        }
    }

    /// The answer of an upload already completed with the same parts, as S3
    /// gives to a retried CompleteMultipartUpload.
    fn completed_again(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        chosen: &[(u32, String)],
    ) -> Option<S3Response<CompleteMultipartUploadOutput>> {
        let done = self.store.read().ok()?.completed_upload(upload_id).ok()??;
        let listed = multipart_etag(&chosen.iter().map(|(_, e)| e.trim_matches('"').to_string()).collect::<Vec<_>>()).ok()?;
        (done.bucket == bucket && done.key == key && done.etag == listed)
            .then(|| completion_answer(done.bucket.clone(), done.key.clone(), &done.etag, &done.version_id, &done.checksums))
    }

    pub(crate) async fn op_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        self.upload(&i.bucket, &i.key, &i.upload_id)?;
        self.store.abort_upload(&i.upload_id).await.or_s3()?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn op_list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let upload = self.upload(&i.bucket, &i.key, &i.upload_id)?;
        let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let all = self.store.read().or_s3()?.parts(&i.upload_id).or_s3()?;
        let mut rest = all.into_iter().filter(|p| p.part_number > after).peekable();
        let page: Vec<PartRecord> = rest.by_ref().take(max).collect();
        let truncated = rest.peek().is_some();
        let parts = page
            .iter()
            .map(|p| {
                let sums = checksum_dto(&p.checksums);
                Part {
                    part_number: Some(p.part_number as i32),
                    e_tag: Some(etag(&p.etag)),
                    size: Some(p.size as i64),
                    last_modified: Some(timestamp(p.modified_ms)),
                    checksum_crc32: sums.checksum_crc32,
                    checksum_crc32c: sums.checksum_crc32c,
                    checksum_sha1: sums.checksum_sha1,
                    checksum_sha256: sums.checksum_sha256,
                    checksum_crc64nvme: sums.checksum_crc64nvme,
                }
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: truncated.then(|| page.last().map(|p| p.part_number as i32)).flatten(),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            parts: Some(parts),
            owner: Some(owner_dto(&upload.owner)),
            initiator: Some(Initiator {
                display_name: Some(upload.owner.clone()),
                id: Some(upload.owner),
            }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    pub(crate) async fn op_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        self.bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let key_marker = i.key_marker.clone().unwrap_or_default();
        let max = i.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
        let all = self.store.read().or_s3()?.uploads(&i.bucket).or_s3()?;
        let mut rest = all
            .into_iter()
            .filter(|u| u.key.starts_with(&prefix))
            .filter(|u| match &i.upload_id_marker {
                Some(m) if !key_marker.is_empty() => u.key > key_marker || (u.key == key_marker && u.upload_id.as_str() > m.as_str()),
                _ => key_marker.is_empty() || u.key > key_marker,
            })
            .peekable();
        let page: Vec<UploadRecord> = rest.by_ref().take(max).collect();
        let truncated = rest.peek().is_some();
        let enc = KeyEncoding(url_encoded(i.encoding_type.as_ref()));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: enc.opt(i.prefix),
            key_marker: enc.opt(i.key_marker),
            upload_id_marker: i.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: enc.opt(truncated.then(|| page.last().map(|u| u.key.clone())).flatten()),
            next_upload_id_marker: truncated.then(|| page.last().map(|u| u.upload_id.clone())).flatten(),
            uploads: Some(
                page.into_iter()
                    .map(|u| MultipartUpload {
                        key: Some(enc.apply(u.key)),
                        upload_id: Some(u.upload_id),
                        initiated: Some(timestamp(u.initiated_ms)),
                        owner: Some(owner_dto(&u.owner)),
                        initiator: Some(Initiator {
                            display_name: Some(u.owner.clone()),
                            id: Some(u.owner),
                        }),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        checksum_algorithm: u.checksum_algorithm.map(ChecksumAlgorithm::from),
                        checksum_type: None,
                    })
                    .collect(),
            ),
            delimiter: enc.opt(i.delimiter),
            encoding_type: i.encoding_type,
            common_prefixes: None,
            request_charged: None,
        }))
    }

    /// Records a received body as part `number` of an upload (UploadPart, UploadPartCopy).
    pub(crate) async fn store_part(&self, upload_id: &str, number: i32, received: body::Received) -> S3Result<PartRecord> {
        let part = PartRecord {
            part_number: number as u32,
            etag: received.md5_hex,
            size: 0,
            modified_ms: tandem_store::now_ms(),
            segment: Segment {
                id: 0,
                len: 0,
                inline: true,
            },
            checksums: received.checksums,
        };
        self.store.put_part(upload_id, part, received.staged).await.or_s3()
    }

    /// The upload, checked to belong to this bucket and key.
    pub(crate) fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<UploadRecord> {
        self.bucket(bucket)?;
        let upload = self.store.read().or_s3()?.upload(upload_id).or_s3()?;
        if upload.bucket != bucket || upload.key != key {
            return Err(s3_error!(NoSuchUpload, "The specified multipart upload does not exist."));
        }
        Ok(upload)
    }
}

/// The answer of a completed upload.
fn completion_answer(
    bucket: String,
    key: String,
    object_etag: &str,
    version_id: &str,
    checksums: &std::collections::BTreeMap<String, String>,
) -> S3Response<CompleteMultipartUploadOutput> {
    S3Response::new(with_checksums!(
        CompleteMultipartUploadOutput {
            location: Some(format!("/{bucket}/{key}")),
            bucket: Some(bucket),
            key: Some(key),
            e_tag: Some(etag(object_etag)),
            version_id: (version_id != "null").then(|| version_id.to_string()),
        },
        checksum_dto(checksums)
    ))
}

/// Composite checksums of a multipart object: for each algorithm every part
/// carries, the checksum of the concatenated part checksums, then `-N` (as S3).
fn composite_checksums(parts: &[PartRecord]) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let Some(first) = parts.first() else { return out };
    for alg in first.checksums.keys() {
        let raw: Option<Vec<Vec<u8>>> = parts
            .iter()
            .map(|p| p.checksums.get(alg).and_then(|v| base64_simd::STANDARD.decode_to_vec(v).ok()))
            .collect();
        let Some(raw) = raw else { continue };
        if alg == "CRC64NVME" {
            continue;
        }
        let mut h = body::hasher_for(std::iter::once(alg.as_str()));
        for r in &raw {
            h.update(r);
        }
        let sums = body::checksum_map(h.finalize());
        if let Some(v) = sums.get(alg) {
            out.insert(alg.clone(), format!("{v}-{}", parts.len()));
        }
    }
    out
}
