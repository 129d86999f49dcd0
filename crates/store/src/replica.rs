//! The store's side of cross-region replication: applying object versions that
//! arrive from a peer (last writer wins by hybrid-logical-clock time, version
//! ids preserved), the replication status of source versions, the deployment-
//! wide bucket registry, and the shippers' durable cursors.
//!
//! Applying is idempotent: a change delivered twice, or after a newer one, is
//! recognised as stale and changes nothing.

use serde::{Deserialize, Serialize};

use crate::blobs::StagedBody;
use crate::changelog::Change;
use crate::db::{ReadTx, Store, Tx};
use crate::error::StoreError;
use crate::keys::split_version_key;
use crate::kv::{Table, View, u64_key};
use crate::objects::{Visit, find_version, scan};
use crate::records::{EditStamp, ObjectVersion, ReplicationStatus};

/// Who holds a bucket name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub region: String,
    pub owner: String,
    /// Clock time of the creation; the earliest creation keeps a contested name.
    pub hlc: u64,
}

impl RegistryEntry {
    /// Whether this claim beats `other` for the same name: the earlier
    /// creation wins, the region name breaks an exact tie. Every region
    /// decides the same way, whatever order the claims arrive in.
    pub fn beats(&self, other: &RegistryEntry) -> bool {
        (self.hlc, &self.region) < (other.hlc, &other.region)
    }
}

/// One page of a resync: what was announced again, and where to go on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResyncPage {
    /// Versions the rules select, now queued to ship again.
    pub queued: u64,
    /// Versions looked at.
    pub scanned: u64,
    /// The last key of this page, to pass as `after` for the next one.
    pub next: Option<String>,
}

/// What applying a replicated change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change was newer than what this region had, and is now in place.
    Applied,
    /// This region already had the change or something newer.
    Stale,
}

fn cursor_key(peer: &str) -> String {
    format!("cursor/{peer}")
}

impl ReadTx {
    /// Which region holds a bucket name, as far as this region knows.
    pub fn registry(&self, name: &str) -> Result<Option<RegistryEntry>, StoreError> {
        self.table(Table::Registry).json(name)
    }

    /// The last change-log sequence number a peer has durably applied.
    pub fn cursor(&self, peer: &str) -> Result<u64, StoreError> {
        self.table(Table::Meta).counter(&cursor_key(peer))
    }
}

impl Tx<'_> {
    pub fn registry(&self, name: &str) -> Result<Option<RegistryEntry>, StoreError> {
        self.table(Table::Registry).json(name)
    }

    pub(crate) fn put_registry(&mut self, name: &str, entry: &RegistryEntry) -> Result<(), StoreError> {
        self.put(Table::Registry, name, &serde_json::to_vec(entry)?);
        Ok(())
    }

    pub(crate) fn remove_registry(&mut self, name: &str) -> Result<(), StoreError> {
        self.delete(Table::Registry, name);
        Ok(())
    }

    /// Records a peer's claim on a bucket name; the earliest claim wins.
    pub fn apply_registry_claim(&mut self, name: &str, claim: RegistryEntry) -> Result<Applied, StoreError> {
        self.observe_clock(claim.hlc);
        match self.registry(name)? {
            Some(held) if held == claim || !claim.beats(&held) => Ok(Applied::Stale),
            _ => {
                self.put_registry(name, &claim)?;
                Ok(Applied::Applied)
            }
        }
    }

    /// Forgets a peer's claim on a bucket name after that peer deleted the bucket.
    pub fn apply_registry_release(&mut self, name: &str, region: &str) -> Result<Applied, StoreError> {
        match self.registry(name)? {
            Some(held) if held.region == region => {
                self.remove_registry(name)?;
                Ok(Applied::Applied)
            }
            _ => Ok(Applied::Stale),
        }
    }

    /// Moves a peer's cursor forward (never back).
    pub fn advance_cursor(&mut self, peer: &str, seq: u64) -> Result<(), StoreError> {
        let key = cursor_key(peer);
        if seq > self.table(Table::Meta).counter(&key)? {
            self.put(Table::Meta, &key, &u64_key(seq));
        }
        Ok(())
    }

    /// Installs a version received from another region, keeping its id, clock
    /// time and origin, unless this region already has that version at the same
    /// or a newer time. `body` is the staged body of a non-delete-marker version.
    /// The version lands in this region's change log (for streams and status)
    /// with its origin, so it is never shipped back there.
    pub fn apply_replica_version(
        &mut self,
        bucket: &str,
        key: &str,
        mut version: ObjectVersion,
        body: Option<&mut StagedBody>,
    ) -> Result<Applied, StoreError> {
        self.require_bucket(bucket)?;
        self.observe_clock(version.hlc);
        if let Some((_, held)) = find_version(&self.table(Table::Versions), bucket, key, &version.version_id)?
            && (held.hlc, &held.origin) >= (version.hlc, &version.origin)
        {
            return Ok(Applied::Stale);
        }
        version.replication_status = Some(ReplicationStatus::Replica);
        version.segments = match body {
            Some(body) => vec![self.adopt(body)?],
            None => vec![],
        };
        self.install_version(bucket, key, &version)?;
        let (origin, hlc) = (version.origin.clone(), version.hlc);
        self.append(
            &origin,
            hlc,
            Change::VersionPut {
                bucket: bucket.into(),
                key: key.into(),
                version,
            },
        )?;
        Ok(Applied::Applied)
    }

    /// Applies a metadata edit (tags, ACL) made in another region to a version
    /// this region holds, if it is later than the last edit here (last writer
    /// wins). A version it does not hold yet is left to its own put.
    pub fn apply_replica_edit(
        &mut self,
        bucket: &str,
        key: &str,
        edited: &ObjectVersion,
        origin: &str,
        hlc: u64,
    ) -> Result<Applied, StoreError> {
        self.require_bucket(bucket)?;
        self.observe_clock(hlc);
        let Some((_, mut held)) = find_version(&self.table(Table::Versions), bucket, key, &edited.version_id)? else {
            return Ok(Applied::Stale);
        };
        let stamp_of = |v: &ObjectVersion, hlc: u64, origin: &str| {
            v.edited.clone().unwrap_or_else(|| EditStamp {
                hlc,
                origin: origin.to_string(),
            })
        };
        let incoming = stamp_of(edited, hlc, origin);
        if incoming <= stamp_of(&held, held.hlc, &held.origin) {
            return Ok(Applied::Stale);
        }
        held.tags = edited.tags.clone();
        held.grants = edited.grants.clone();
        held.edited = Some(incoming);
        self.rewrite_version(bucket, key, &held)?;
        self.append(
            origin,
            hlc,
            Change::VersionUpdated {
                bucket: bucket.into(),
                key: key.into(),
                version: held,
            },
        )?;
        Ok(Applied::Applied)
    }

    /// Sets the replication status of a source version. Local bookkeeping: it
    /// is not a change of the object and is not logged.
    pub fn set_replication_status(
        &mut self,
        bucket: &str,
        key: &str,
        version_id: &str,
        status: ReplicationStatus,
    ) -> Result<(), StoreError> {
        let found = find_version(&self.table(Table::Versions), bucket, key, version_id)?;
        let Some((_, mut version)) = found else { return Ok(()) };
        if version.replication_status.is_none() || version.replication_status == Some(status) {
            return Ok(());
        }
        version.replication_status = Some(status);
        self.rewrite_version(bucket, key, &version)
    }
}

impl ReadTx {
    /// One version by id, with its status (used to ship the freshest record).
    pub fn version(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<ObjectVersion>, StoreError> {
        Ok(find_version(&self.table(Table::Versions), bucket, key, version_id)?.map(|(_, v)| v))
    }
}

impl Store {
    /// Announces existing versions of a bucket again so that replication
    /// ships them (S3 replication is not retroactive; this is its batch
    /// replication). Covers whole keys after `after`, about `limit` versions
    /// per call; versions written in this region that a rule selects are
    /// marked PENDING and appended to the change log as `VersionResync`.
    pub async fn resync_bucket(&self, bucket: &str, after: Option<String>, limit: usize) -> Result<ResyncPage, StoreError> {
        let bucket = bucket.to_string();
        self.write(move |tx| {
            let record = tx.require_bucket(&bucket)?;
            let Some(config) = record.replication.clone() else {
                return Ok(ResyncPage::default());
            };
            let (versions, next) = versions_page(&tx.table(Table::Versions), &bucket, after.as_deref(), limit)?;
            let mut page = ResyncPage {
                scanned: versions.len() as u64,
                next,
                ..Default::default()
            };
            for (key, mut version) in versions {
                let selected = config.rule_for(&key, &version.tags, version.delete_marker).is_some();
                if version.origin != tx.region() || !selected {
                    continue;
                }
                if matches!(version.replication_status, None | Some(ReplicationStatus::Failed)) {
                    version.replication_status = Some(ReplicationStatus::Pending);
                    tx.rewrite_version(&bucket, &key, &version)?;
                }
                let (origin, hlc) = (tx.region().to_string(), tx.now());
                tx.append(
                    &origin,
                    hlc,
                    Change::VersionResync {
                        bucket: bucket.clone(),
                        key,
                        version,
                    },
                )?;
                page.queued += 1;
            }
            Ok(page)
        })
        .await
    }
}

/// A page of versions: whole keys after `after`, stopping at the first key
/// boundary past `limit` versions, and the last key when more may follow.
type VersionsPage = (Vec<(String, ObjectVersion)>, Option<String>);

fn versions_page(table: &View<'_>, bucket: &str, after: Option<&str>, limit: usize) -> Result<VersionsPage, StoreError> {
    let mut out: Vec<(String, ObjectVersion)> = Vec::new();
    let mut more = false;
    scan(table, bucket, "", after.unwrap_or(""), split_version_key, &mut |key, version| {
        if Some(key) == after {
            return Visit::Continue;
        }
        if out.len() >= limit && out.last().is_some_and(|(k, _)| k != key) {
            more = true;
            return Visit::Stop;
        }
        out.push((key.to_string(), version));
        Visit::Continue
    })?;
    let next = more.then(|| out.last().map(|(k, _)| k.clone())).flatten();
    Ok((out, next))
}

impl ReadTx {
    /// Every version of a bucket, a page at a time (for inventories and diffs).
    pub fn versions_page(&self, bucket: &str, after: Option<&str>, limit: usize) -> Result<VersionsPage, StoreError> {
        if self.bucket(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        versions_page(&self.table(Table::Versions), bucket, after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BucketRecord, Versioning};

    fn bucket(name: &str, region: &str) -> BucketRecord {
        serde_json::from_value(serde_json::json!({
            "name": name, "owner": "o", "region": region, "created_ms": 0,
            "versioning": "Enabled", "hlc": 0
        }))
        .unwrap()
    }

    fn replica(id: &str, hlc: u64, origin: &str, etag: &str) -> ObjectVersion {
        serde_json::from_value(serde_json::json!({
            "version_id": id, "delete_marker": true, "size": 0, "etag": etag, "content_type": null,
            "owner": "o", "modified_ms": 0, "hlc": hlc, "origin": origin, "segments": []
        }))
        .unwrap()
    }

    async fn apply(store: &Store, v: ObjectVersion) -> Applied {
        store.write(move |tx| tx.apply_replica_version("b", "k", v, None)).await.unwrap()
    }

    fn open(dir: &tempfile::TempDir, region: &str) -> Store {
        crate::test_backend::open(dir.path(), region).unwrap()
    }

    #[tokio::test]
    async fn a_redelivered_or_older_version_is_stale_and_a_newer_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, "tokyo");
        store.create_bucket(bucket("b", "tokyo")).await.unwrap();
        assert_eq!(apply(&store, replica("v1", 100, "east", "a")).await, Applied::Applied);
        assert_eq!(apply(&store, replica("v1", 100, "east", "a")).await, Applied::Stale);
        assert_eq!(apply(&store, replica("v1", 90, "east", "old")).await, Applied::Stale);
        assert_eq!(apply(&store, replica("v1", 110, "east", "new")).await, Applied::Applied);
        let held = store.read().unwrap().version("b", "k", "v1").unwrap().unwrap();
        assert_eq!(
            (held.etag.as_str(), held.replication_status),
            ("new", Some(ReplicationStatus::Replica))
        );
        // The clock moved past what was applied: a local write now wins.
        assert!(store.clock().now() > 110);
    }

    #[tokio::test]
    async fn versions_from_two_regions_at_the_same_clock_reading_are_both_kept_in_one_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, "tokyo");
        store.create_bucket(bucket("b", "tokyo")).await.unwrap();
        apply(&store, replica("vb", 500, "west", "x")).await;
        apply(&store, replica("va", 500, "east", "y")).await;
        let read = store.read().unwrap();
        let (versions, _) = read.versions_page("b", None, 10).unwrap();
        let ids: Vec<&str> = versions.iter().map(|(_, v)| v.version_id.as_str()).collect();
        assert_eq!(ids, ["va", "vb"]);
        assert_eq!(read.object("b", "k", None).unwrap().version_id, "va");
    }

    #[tokio::test]
    async fn the_earliest_claim_on_a_bucket_name_wins_in_any_order() {
        let claim = |region: &str, hlc| RegistryEntry {
            region: region.into(),
            owner: "o".into(),
            hlc,
        };
        for order in [[("east", 5), ("west", 7)], [("west", 7), ("east", 5)]] {
            let dir = tempfile::tempdir().unwrap();
            let store = open(&dir, "tokyo");
            for (region, hlc) in order {
                let c = claim(region, hlc);
                store.write(move |tx| tx.apply_registry_claim("photos", c)).await.unwrap();
            }
            assert_eq!(store.read().unwrap().registry("photos").unwrap().unwrap().region, "east");
            let refused = store.create_bucket(bucket("photos", "tokyo")).await;
            assert!(matches!(refused, Err(StoreError::BucketExists { .. })));
            let released = store.write(|tx| tx.apply_registry_release("photos", "east")).await.unwrap();
            assert_eq!(released, Applied::Applied);
            assert!(store.create_bucket(bucket("photos", "tokyo")).await.is_ok());
        }
    }

    #[tokio::test]
    async fn resync_queues_only_local_versions_the_rules_select() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, "east");
        let mut record = bucket("b", "east");
        record.versioning = Versioning::Enabled;
        record.replication = Some(crate::records::ReplicationConfig {
            role: String::new(),
            rules: vec![crate::records::ReplicationRule {
                enabled: true,
                delete_marker_replication: true,
                filter: crate::records::ReplicationFilter {
                    prefix: Some("k".into()),
                    ..Default::default()
                },
                destination_bucket: "arn:aws:s3:::d".into(),
                ..Default::default()
            }],
        });
        store.create_bucket(record).await.unwrap();
        apply(&store, replica("from-peer", 10, "west", "p")).await;
        store.delete_object("b", "k", None, "o").await.unwrap();
        store.delete_object("b", "other", None, "o").await.unwrap();
        let page = store.resync_bucket("b", None, 100).await.unwrap();
        assert_eq!((page.scanned, page.queued, page.next), (3, 1, None));
    }
}
