//! Time to live: a background task that deletes items whose TTL attribute (a
//! number of epoch seconds) is in the past. Deletes go through the normal write
//! path, so indexes, streams and replication see them like any other delete.

use std::time::Duration;

use tandem_store::Space;

use crate::DynamoApi;
use crate::api_error::DynamoResult;
use crate::catalog;
use crate::keys;
use crate::storage;
use crate::value::{AttributeValue, Item};

/// How often tables are checked for expired items.
const PERIOD: Duration = Duration::from_secs(2);
/// Most items deleted per table per round (one commit each round).
const BATCH: usize = 500;

/// Whether an item's TTL attribute says it has expired at `now` (epoch seconds).
fn expired(item: &Item, attribute: &str, now: u64) -> bool {
    match item.get(attribute) {
        Some(AttributeValue::N(n)) => n
            .to_string()
            .split('.')
            .next()
            .and_then(|s| s.parse::<i64>().ok())
            .is_some_and(|t| t >= 0 && (t as u64) <= now),
        _ => false,
    }
}

impl DynamoApi {
    /// Runs the reaper until the returned handle is aborted.
    /// On one node of the region at a time (the holder of its lease).
    pub fn spawn_ttl_reaper(&self) -> tokio::task::JoinHandle<()> {
        let api = self.clone();
        tokio::spawn(async move {
            let store = api.store.clone();
            store.run_leased("ttl reaper", Default::default(), || api.reap_forever()).await
        })
    }

    async fn reap_forever(&self) {
        loop {
            tokio::time::sleep(PERIOD).await;
            if let Err(e) = self.reap_expired().await {
                tracing::warn!(error = %e.message, "TTL reaper round failed; will retry");
            }
        }
    }

    /// One round: for every table with TTL enabled, delete up to [`BATCH`] expired items.
    pub async fn reap_expired(&self) -> DynamoResult<usize> {
        let now = tandem_store::now_ms() / 1000;
        let tables: Vec<_> = catalog::tables(&self.store.read()?)?
            .into_iter()
            .filter(|t| t.ttl_attribute.is_some())
            .collect();
        let mut total = 0;
        for def in tables {
            let attribute = def.ttl_attribute.clone().unwrap_or_default();
            let mut victims = Vec::new();
            self.store
                .read()?
                .item_visit(Space::Items, &keys::table_prefix(&def.name), None, false, |_, raw| {
                    if let Ok(item) = storage::decode_item(raw)
                        && expired(&item, &attribute, now)
                    {
                        victims.push(item);
                    }
                    victims.len() < BATCH
                })?;
            if victims.is_empty() {
                continue;
            }
            let name = def.name.clone();
            total += self
                .store
                .write(move |tx| -> DynamoResult<usize> {
                    let Ok(def) = catalog::table_tx(tx, &name) else { return Ok(0) };
                    let mut deleted = 0;
                    for item in victims {
                        let key = storage::key_item(&def.key(), &item)?;
                        // Re-read inside the commit: the item may have been rewritten since.
                        let current = storage::read_item_tx(tx, &storage::primary_key(&def, &key)?)?;
                        if current.as_ref().is_some_and(|c| expired(c, &attribute, now)) {
                            storage::write_item_stamped(tx, &def, &key, current.as_ref(), None, storage::Stamp::local(tx, true))?;
                            deleted += 1;
                        }
                    }
                    Ok(deleted)
                })
                .await?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;

    #[test]
    fn only_numeric_past_timestamps_expire() {
        let mut item = Item::new();
        item.insert("exp".into(), AttributeValue::N(Number::parse("100").unwrap()));
        assert!(expired(&item, "exp", 100));
        assert!(!expired(&item, "exp", 99));
        item.insert("exp".into(), AttributeValue::S("100".into()));
        assert!(!expired(&item, "exp", 1000));
        assert!(!expired(&Item::new(), "exp", 1000));
    }
}
