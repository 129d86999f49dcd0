//! Applying identity records replicated from another region: last writer
//! wins by the record's own clock time, ties broken by region name, so every
//! region ends with the same record whatever order changes arrive in.

use serde_json::Value;
use tandem_store::replica::Applied;
use tandem_store::{StoreError, Tx};

use crate::record::Stamp;

/// Checks a replicated record before anything is written: it must carry its stamp.
pub fn check(key: &str, record: &Value) -> Result<(), String> {
    if key.is_empty() || key.len() > crate::record::MAX_KEY_BYTES {
        return Err(format!("bad identity record key ({} bytes)", key.len()));
    }
    Stamp::of(record)
        .map(|_| ())
        .ok_or_else(|| format!("identity record {key} has no clock stamp"))
}

/// Stores a replicated record unless this region holds a newer one.
pub fn apply(tx: &mut Tx<'_>, key: &str, record: Value, origin: &str, hlc: u64) -> Result<Applied, StoreError> {
    tx.observe_clock(hlc);
    let incoming = Stamp::of(&record).unwrap_or(Stamp {
        hlc,
        origin: origin.to_string(),
    });
    if let Some(held) = tx.identity_record(key)?.as_ref().and_then(Stamp::of)
        && !incoming.supersedes(&held)
    {
        return Ok(Applied::Stale);
    }
    tx.put_identity_record(key, record, origin, hlc)?;
    Ok(Applied::Applied)
}
