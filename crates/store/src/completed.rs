//! What a completed multipart upload answered, kept for a day so that a
//! retried CompleteMultipartUpload (an SDK whose response was lost) gets the
//! same answer instead of `NoSuchUpload`, as S3 gives.
//!
//! Local bookkeeping of this region, like the uploads themselves: nothing here
//! is in the change log or replicated (the object version it describes is).
//! Records are written in the completion's own commit and pruned, a bounded
//! number per completion, once older than [`KEEP_MS`].

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::db::{ReadTx, Tx};
use crate::error::StoreError;

/// Upload id → [`CompletedUpload`] (JSON).
pub(crate) const COMPLETED: TableDefinition<&str, &[u8]> = TableDefinition::new("completed_uploads");
/// Big-endian completion ms ++ upload id → nothing: the pruning order.
pub(crate) const COMPLETED_AT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("completed_uploads_by_time");

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
        let table = self.table(COMPLETED)?;
        let Some(raw) = table.get(upload_id)? else { return Ok(None) };
        let done: CompletedUpload = serde_json::from_slice(raw.value())?;
        Ok((crate::now_ms().saturating_sub(done.completed_ms) < KEEP_MS).then_some(done))
    }
}

impl Tx<'_> {
    /// Remembers a completion and forgets a few expired ones.
    pub(crate) fn remember_completion(&mut self, done: &CompletedUpload) -> Result<(), StoreError> {
        let cutoff = done.completed_ms.saturating_sub(KEEP_MS);
        let expired: Vec<(Vec<u8>, String)> = {
            let by_time = self.table(COMPLETED_AT)?;
            let mut out = Vec::new();
            for item in by_time.iter()?.take(PRUNE_BATCH) {
                let (k, _) = item?;
                let k = k.value();
                let Some(ms) = k.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes) else {
                    continue;
                };
                if ms >= cutoff {
                    break;
                }
                out.push((k.to_vec(), String::from_utf8_lossy(&k[8..]).into_owned()));
            }
            out
        };
        {
            let mut by_time = self.writer(COMPLETED_AT)?;
            for (k, _) in &expired {
                by_time.remove(k.as_slice())?;
            }
            by_time.insert(time_key(done.completed_ms, &done.upload_id).as_slice(), [].as_slice())?;
        }
        let mut table = self.writer(COMPLETED)?;
        for (_, id) in &expired {
            table.remove(id.as_str())?;
        }
        table.insert(done.upload_id.as_str(), serde_json::to_vec(done)?.as_slice())?;
        Ok(())
    }
}
