//! Multipart uploads: parts are staged bodies recorded per upload; completion
//! turns the chosen parts into the segments of one new object version, in one
//! commit, and frees the parts that were not used.

use crate::blobs::StagedBody;
use crate::completed::CompletedUpload;
use crate::db::{ReadTx, Store, Tx};
use crate::error::StoreError;
use crate::keys::{part_key, parts_prefix};
use crate::kv::{Table, View};
use crate::objects::Precondition;
use crate::records::{ObjectVersion, PartRecord, UploadRecord};

/// Smallest part S3 accepts, except for the last one.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Builds the object version from the upload and the parts chosen, in order.
pub type Finalize = Box<dyn FnOnce(&UploadRecord, &[PartRecord]) -> Result<ObjectVersion, StoreError> + Send>;

fn read_parts(table: &View<'_>, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
    let mut out = Vec::new();
    for item in table.prefixed(&parts_prefix(upload_id), false)? {
        out.push(serde_json::from_slice(&item?.1)?);
    }
    Ok(out)
}

fn upload_in(table: &View<'_>, upload_id: &str) -> Result<UploadRecord, StoreError> {
    table.json(upload_id)?.ok_or(StoreError::NoSuchUpload)
}

impl ReadTx {
    pub fn upload(&self, upload_id: &str) -> Result<UploadRecord, StoreError> {
        upload_in(&self.table(Table::Uploads), upload_id)
    }

    /// Uploads in progress in a bucket, ordered by key then initiation time.
    pub fn uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError> {
        let mut out: Vec<UploadRecord> = self.table(Table::Uploads).all_json()?;
        out.retain(|upload| upload.bucket == bucket);
        out.sort_by(|a, b| {
            (a.key.as_str(), a.initiated_ms, a.upload_id.as_str()).cmp(&(b.key.as_str(), b.initiated_ms, b.upload_id.as_str()))
        });
        Ok(out)
    }

    pub fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
        read_parts(&self.table(Table::Parts), upload_id)
    }
}

impl Tx<'_> {
    fn require_upload(&self, upload_id: &str) -> Result<UploadRecord, StoreError> {
        upload_in(&self.table(Table::Uploads), upload_id)
    }

    /// Removes an upload and frees its parts' bodies.
    pub(crate) fn remove_upload(&mut self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
        let parts = read_parts(&self.table(Table::Parts), upload_id)?;
        for part in &parts {
            self.delete(Table::Parts, part_key(upload_id, part.part_number));
        }
        self.delete(Table::Uploads, upload_id);
        Ok(parts)
    }
}

impl Store {
    pub async fn create_upload(&self, upload: UploadRecord) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.writable_bucket(&upload.bucket)?;
            tx.put(Table::Uploads, &upload.upload_id, &serde_json::to_vec(&upload)?);
            Ok(())
        })
        .await
    }

    /// Records a part, replacing an earlier upload of the same part number.
    pub async fn put_part(&self, upload_id: &str, mut part: PartRecord, mut body: StagedBody) -> Result<PartRecord, StoreError> {
        let upload_id = upload_id.to_string();
        self.write(move |tx| {
            let upload = tx.require_upload(&upload_id)?;
            tx.writable_bucket(&upload.bucket)?;
            let pk = part_key(&upload_id, part.part_number);
            let old: Option<PartRecord> = tx.table(Table::Parts).json(&pk)?;
            part.segment = tx.adopt(&mut body)?;
            part.size = part.segment.len;
            tx.put(Table::Parts, &pk, &serde_json::to_vec(&part)?);
            if let Some(old) = old {
                tx.release(&[old.segment])?;
            }
            Ok(part)
        })
        .await
    }

    /// Aborts an upload and frees its parts.
    pub async fn abort_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        let upload_id = upload_id.to_string();
        self.write(move |tx| {
            let upload = tx.require_upload(&upload_id)?;
            tx.writable_bucket(&upload.bucket)?;
            let parts = tx.remove_upload(&upload_id)?;
            let segments: Vec<_> = parts.into_iter().map(|p| p.segment).collect();
            tx.release(&segments)
        })
        .await
    }

    /// Completes an upload with the parts the client listed (number and ETag, in
    /// ascending order). Every listed part must exist with that ETag, and every
    /// part but the last must be at least [`MIN_PART_SIZE`].
    pub async fn complete_upload(
        &self,
        upload_id: &str,
        chosen: Vec<(u32, String)>,
        precondition: Precondition,
        finalize: Finalize,
    ) -> Result<(String, String, ObjectVersion), StoreError> {
        let upload_id = upload_id.to_string();
        self.write(move |tx| {
            let upload = tx.require_upload(&upload_id)?;
            let record = tx.writable_bucket(&upload.bucket)?;
            let stored = read_parts(&tx.table(Table::Parts), &upload_id)?;
            let parts = select_parts(&stored, &chosen)?;
            let current = tx.current(&upload.bucket, &upload.key)?;
            precondition(current.as_ref().filter(|v| !v.delete_marker))?;
            let mut version = finalize(&upload, &parts)?;
            version.segments = parts.iter().map(|p| p.segment.clone()).collect();
            version.size = parts.iter().map(|p| p.size).sum();
            version.part_sizes = parts.iter().map(|p| p.size).collect();
            // Parts become the object's body; only the unused ones are freed.
            let used: Vec<u32> = parts.iter().map(|p| p.part_number).collect();
            tx.remove_upload(&upload_id)?;
            let unused: Vec<_> = stored
                .into_iter()
                .filter(|p| !used.contains(&p.part_number))
                .map(|p| p.segment)
                .collect();
            tx.release(&unused)?;
            let version = tx.commit_version(&record, &upload.key, version)?;
            tx.remember_completion(&CompletedUpload {
                upload_id: upload_id.clone(),
                bucket: upload.bucket.clone(),
                key: upload.key.clone(),
                etag: version.etag.clone(),
                version_id: version.version_id.clone(),
                checksums: version.checksums.clone(),
                completed_ms: crate::now_ms(),
            })?;
            Ok((upload.bucket, upload.key, version))
        })
        .await
    }
}

/// Checks the client's part list against what was uploaded.
fn select_parts(stored: &[PartRecord], chosen: &[(u32, String)]) -> Result<Vec<PartRecord>, StoreError> {
    let mut out: Vec<PartRecord> = Vec::with_capacity(chosen.len());
    for (i, (number, etag)) in chosen.iter().enumerate() {
        if i > 0 && *number <= chosen[i - 1].0 {
            return Err(StoreError::InvalidPartOrder);
        }
        let part = stored
            .iter()
            .find(|p| p.part_number == *number)
            .ok_or(StoreError::InvalidPart(*number))?;
        if part.etag.trim_matches('"') != etag.trim_matches('"') {
            return Err(StoreError::InvalidPart(*number));
        }
        out.push(part.clone());
    }
    if let Some((_, head)) = out.split_last()
        && let Some(small) = head.iter().find(|p| p.size < MIN_PART_SIZE)
    {
        return Err(StoreError::EntityTooSmall(small.part_number));
    }
    Ok(out)
}
