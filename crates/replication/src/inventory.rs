//! What a region holds for one bucket or table, a page at a time, and resync
//! pages that announce existing data again. `tandem replication diff` compares
//! inventories of two regions; `tandem replication resync` walks resync pages.

use serde_json::{Value, json};
use tandem_store::Store;

use crate::error::ReplicationError;

/// Versions (or items) per page.
const PAGE: usize = 1000;

/// What an inventory or resync is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Bucket(String),
    Table(String),
}

/// Announces one page of existing data again so that replication ships it.
pub async fn resync(store: &Store, subject: Subject, after: Option<String>) -> Result<Value, ReplicationError> {
    match subject {
        Subject::Bucket(bucket) => Ok(json!(store.resync_bucket(&bucket, after, PAGE).await?)),
        Subject::Table(table) => {
            let after = after.as_deref().map(tandem_dynamo::replica::parse_position).transpose()?;
            let (queued, next) = store
                .write(move |tx| tandem_dynamo::replica::announce_items(tx, &table, after.as_deref(), PAGE))
                .await?;
            Ok(json!({ "queued": queued, "next": next }))
        }
    }
}

/// One page of what this region holds.
pub fn inventory(store: &Store, subject: Subject, after: Option<String>) -> Result<Value, ReplicationError> {
    let read = store.read()?;
    match subject {
        Subject::Bucket(bucket) => {
            let (versions, next) = read.versions_page(&bucket, after.as_deref(), PAGE)?;
            let config = read.bucket(&bucket)?.and_then(|b| b.replication);
            let destinations: Vec<&str> = config.iter().flat_map(|c| c.rules.iter().map(|r| r.destination_name())).collect();
            let versions: Vec<Value> = versions
                .iter()
                .map(|(key, v)| {
                    let rule = config.as_ref().and_then(|c| c.rule_for(key, &v.tags, v.delete_marker));
                    json!({
                        "key": key,
                        "version_id": v.version_id,
                        "etag": v.etag,
                        "size": v.size,
                        "delete_marker": v.delete_marker,
                        "hlc": v.hlc,
                        "origin": v.origin,
                        "status": v.replication_status.map(|s| s.as_str()),
                        "destination": rule.map(|r| r.destination_name()),
                    })
                })
                .collect();
            Ok(json!({
                "region": store.region(),
                "bucket": bucket,
                "destinations": destinations,
                "versions": versions,
                "next": next,
            }))
        }
        Subject::Table(table) => {
            let after = after.as_deref().map(tandem_dynamo::replica::parse_position).transpose()?;
            let (items, next) = tandem_dynamo::replica::inventory(&read, &table, after.as_deref(), PAGE)?;
            Ok(json!({ "region": store.region(), "table": table, "items": items, "next": next }))
        }
    }
}
