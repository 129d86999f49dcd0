//! Identity records — user pools' users, group memberships and token
//! revocations (JSON owned by the identity crate) — kept beside the data and
//! logged, so they replicate through the change log like everything else.
//! Keys are paths (`POOL/user/NAME`, `POOL/revoked/ID`): one prefix scan lists
//! a pool's users in name order.

use crate::changelog::Change;
use crate::db::{ReadTx, Tx};
use crate::error::StoreError;
use crate::kv::{Table, View};

/// At most `limit` records whose keys start with `prefix` and sort after `after`.
fn scan_in(table: &View<'_>, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let mut out = Vec::new();
    let start = after.filter(|a| a.starts_with(prefix)).unwrap_or(prefix);
    let end = crate::keys::prefix_end(prefix.as_bytes());
    for entry in table.range(start.as_bytes(), end.as_deref(), false)? {
        let (key, value) = entry?;
        if out.len() >= limit {
            break;
        }
        if Some(key.as_slice()) == after.map(str::as_bytes) {
            continue;
        }
        out.push((String::from_utf8_lossy(&key).into_owned(), serde_json::from_slice(&value)?));
    }
    Ok(out)
}

impl ReadTx {
    pub fn identity_record(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.table(Table::Identity).json(key)
    }

    /// At most `limit` records under `prefix`, in key order, after the key `after`.
    pub fn identity_records(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        scan_in(&self.table(Table::Identity), prefix, after, limit)
    }
}

impl Tx<'_> {
    pub fn identity_record(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.table(Table::Identity).json(key)
    }

    /// Stores a record and logs it (origin and clock time as given: local, or
    /// those of the region that made the change).
    pub fn put_identity_record(&mut self, key: &str, record: serde_json::Value, origin: &str, hlc: u64) -> Result<u64, StoreError> {
        self.put(Table::Identity, key, &serde_json::to_vec(&record)?);
        self.append(
            origin,
            hlc,
            Change::IdentityRecord {
                key: key.to_string(),
                record,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[tokio::test]
    async fn records_scan_by_prefix_in_key_order_and_are_logged() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "east").unwrap();
        store
            .write(|tx| {
                for name in ["carol", "alice", "bob"] {
                    let hlc = tx.now();
                    tx.put_identity_record(&format!("p1/user/{name}"), json!({ "name": name }), "east", hlc)?;
                }
                let hlc = tx.now();
                tx.put_identity_record("p2/user/zed", json!({}), "east", hlc)?;
                Ok::<_, crate::StoreError>(())
            })
            .await
            .unwrap();
        let read = store.read().unwrap();
        let names = |after| -> Vec<String> {
            read.identity_records("p1/user/", after, 2)
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(names(None), ["p1/user/alice", "p1/user/bob"]);
        assert_eq!(names(Some("p1/user/bob")), ["p1/user/carol"]);
        assert_eq!(read.identity_record("p1/user/bob").unwrap(), Some(json!({ "name": "bob" })));
        let logged = store.changes_after(0, 10).unwrap();
        assert_eq!(logged.len(), 4);
        assert_eq!(logged[0].change.resource(), "identity/p1/user/carol");
    }
}
