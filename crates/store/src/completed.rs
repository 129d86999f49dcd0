//! What a completed multipart upload answered, kept for a day so that a
//! retried CompleteMultipartUpload (an SDK whose response was lost) gets the
//! same answer instead of `NoSuchUpload`, as S3 gives.
//!
//! Local bookkeeping of this region, like the uploads themselves: nothing here
//! is in the change log or replicated (the object version it describes is).
//! Records are written in the completion's own commit and pruned, a bounded
//! number per completion, once older than [`KEEP_MS`].

use serde::{Deserialize, Serialize};

use crate::db::{ReadTx, Tx};
use crate::error::StoreError;
use crate::kv::{Table, u64_of};

/// How long a completion is remembered.
pub const KEEP_MS: u64 = 24 * 60 * 60 * 1000;
/// Most expired records one completion prunes.
const PRUNE_BATCH: usize = 64;

/// The answer a completed upload gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    /// The object's ETag (the multipart ETag, without quotes).
    pub etag: String,
    pub version_id: String,
    #[serde(default)]
    pub checksums: std::collections::BTreeMap<String, String>,
    pub completed_ms: u64,
}

fn time_key(ms: u64, upload_id: &str) -> Vec<u8> {
    let mut k = ms.to_be_bytes().to_vec();
    k.extend_from_slice(upload_id.as_bytes());
    k
}

impl ReadTx {
    /// The answer of an upload completed within the last [`KEEP_MS`], if any.
    pub fn completed_upload(&self, upload_id: &str) -> Result<Option<CompletedUpload>, StoreError> {
        let Some(done) = self.table(Table::Completed).json::<CompletedUpload>(upload_id)? else {
            return Ok(None);
        };
        Ok((crate::now_ms().saturating_sub(done.completed_ms) < KEEP_MS).then_some(done))
    }
}

impl Tx<'_> {
    /// Remembers a completion and forgets a few expired ones.
    pub(crate) fn remember_completion(&mut self, done: &CompletedUpload) -> Result<(), StoreError> {
        let cutoff = done.completed_ms.saturating_sub(KEEP_MS);
        let mut expired: Vec<(Vec<u8>, String)> = Vec::new();
        for item in self.table(Table::CompletedAt).all(false)?.take(PRUNE_BATCH) {
            let (k, _) = item?;
            let Some(ms) = u64_of(&k) else { continue };
            if ms >= cutoff {
                break;
            }
            let id = String::from_utf8_lossy(&k[8..]).into_owned();
            expired.push((k, id));
        }
        for (k, id) in &expired {
            self.delete(Table::CompletedAt, k);
            self.delete(Table::Completed, id);
        }
        self.put(Table::CompletedAt, time_key(done.completed_ms, &done.upload_id), &[]);
        self.put(Table::Completed, &done.upload_id, &serde_json::to_vec(done)?);
        Ok(())
    }
}
