//! Which changes of the local log ship to one peer, and as what.
//!
//! - Buckets: creations and deletions ship to every peer (the name registry).
//! - Object versions: a version written here that a replication rule selected
//!   when it was written ships to the peer holding the rule's destination
//!   bucket, with the version's current record (tags, status). Metadata edits
//!   ship the same way; edits of replicas only when the rule allows
//!   ReplicaModifications. Deletes by version id never ship (as in S3).
//! - Tables: definitions and item changes made here ship to the peers a global
//!   table lists as replicas.
//! - Application states go to every peer.
//!
//! Changes that arrived from another region are never shipped again.

use bytes::Bytes;
use std::collections::HashMap;
use tandem_dynamo::table::TableDef;
use tandem_store::body_store::BodyReader;
use tandem_store::{BucketRecord, Change, ChangeEntry, ObjectVersion, ReadTx, SegmentSource, Store, StoreError};

use crate::error::ReplicationError;
use crate::frame::{Op, Shipped};

/// Where a piece of an object body is read from while it ships. Stored
/// bodies are opened while the version is known to exist, so a later delete
/// cannot pull the bytes away mid-batch.
pub enum BodyPiece {
    Bytes(Bytes),
    Stored { body: Box<dyn BodyReader>, len: u64 },
}

/// A source version: bucket, key, version id.
pub type VersionRef = (String, String, String);

/// One change on its way to the peer.
pub struct Outgoing {
    pub shipped: Shipped,
    pub body: Vec<BodyPiece>,
    /// The source version (bucket, key, version id) whose replication status
    /// follows this delivery.
    pub source: Option<VersionRef>,
}

/// A version that should replicate but cannot be routed anywhere.
#[derive(Debug, Clone)]
pub struct Unroutable {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub reason: String,
}

/// A change that can never ship as it stands: its entry does not decode, or
/// what it names is damaged. The shipper counts and shows it, then moves
/// past it instead of retrying it forever; `tandem replication diff` shows
/// the divergence and `resync` repairs it once the cause is fixed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedChange {
    pub seq: u64,
    pub resource: String,
    pub reason: String,
}

/// What routing one change decided. Built and matched once per entry, never
/// stored in bulk, so the size of `Ship` does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Route {
    Skip,
    Ship(Outgoing),
    Unroutable(Unroutable),
    Quarantine(RejectedChange),
}

/// Whether a store error while routing is a property of the data (it will
/// fail the same way every time) rather than of the moment.
fn is_permanent(e: &StoreError) -> bool {
    match e {
        StoreError::Corrupt(_) => true,
        StoreError::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// Routes changes to one peer, reading buckets, tables and versions from one
/// snapshot (cached per batch).
pub struct Router<'a> {
    read: &'a ReadTx,
    store: &'a Store,
    peer: &'a str,
    /// Open body files (for shipping) or only measure them (for status).
    with_bodies: bool,
    buckets: HashMap<String, Option<BucketRecord>>,
    /// Table name → whether it replicates to the peer.
    tables: HashMap<String, bool>,
}

impl<'a> Router<'a> {
    pub fn new(read: &'a ReadTx, store: &'a Store, peer: &'a str, with_bodies: bool) -> Self {
        Self {
            read,
            store,
            peer,
            with_bodies,
            buckets: HashMap::new(),
            tables: HashMap::new(),
        }
    }

    fn local(&self) -> &str {
        self.store.region()
    }

    fn bucket(&mut self, name: &str) -> Result<Option<BucketRecord>, ReplicationError> {
        if !self.buckets.contains_key(name) {
            let record = self.read.bucket(name)?;
            self.buckets.insert(name.to_string(), record);
        }
        Ok(self.buckets[name].clone())
    }

    /// Whether a table is a global table with a replica in the peer's region.
    fn replicated_to_peer(&mut self, table: &str) -> Result<bool, ReplicationError> {
        if !self.tables.contains_key(table) {
            let def: Option<TableDef> = match self.read.catalog_get(table)? {
                Some(raw) => serde_json::from_slice(&raw).ok(),
                None => None,
            };
            let replicated = def.is_some_and(|d| d.replicas.iter().any(|r| r == self.peer));
            self.tables.insert(table.to_string(), replicated);
        }
        Ok(self.tables[table])
    }

    /// Decides what one change-log entry means for the peer. Entries that
    /// can never ship are quarantined; only errors of the moment (the store
    /// is busy, a file cannot be opened now) are errors, and are retried.
    pub fn route(&mut self, entry: &ChangeEntry) -> Result<Route, ReplicationError> {
        let quarantine = |reason: String| {
            Route::Quarantine(RejectedChange {
                seq: entry.seq,
                resource: entry.change.resource(),
                reason,
            })
        };
        if let Change::Unreadable { reason } = &entry.change {
            return Ok(quarantine(reason.clone()));
        }
        match self.route_entry(entry) {
            Err(ReplicationError::Store(e)) if is_permanent(&e) => Ok(quarantine(e.to_string())),
            routed => routed,
        }
    }

    fn route_entry(&mut self, entry: &ChangeEntry) -> Result<Route, ReplicationError> {
        let local_origin = entry.origin == self.local();
        let op = match &entry.change {
            Change::BucketCreated { bucket } if local_origin => Op::BucketClaim {
                name: bucket.name.clone(),
                claim: tandem_store::replica::RegistryEntry {
                    region: bucket.region.clone(),
                    owner: bucket.owner.clone(),
                    hlc: bucket.hlc,
                },
            },
            Change::BucketDeleted { name } if local_origin => Op::BucketRelease { name: name.clone() },
            Change::AppState { app, record } if local_origin => Op::AppState {
                app: app.clone(),
                record: record.clone(),
            },
            Change::IdentityRecord { key, record } if local_origin => Op::Identity {
                key: key.clone(),
                record: record.clone(),
            },
            Change::VersionPut { bucket, key, version } | Change::VersionResync { bucket, key, version } => {
                return self.route_version(entry, bucket, key, version, false);
            }
            Change::VersionUpdated { bucket, key, version } if local_origin => {
                return self.route_version(entry, bucket, key, version, true);
            }
            Change::TableDefined { name, definition } if local_origin && self.replicated_to_peer(name)? => Op::Table {
                definition: definition.clone(),
            },
            Change::ItemChanged {
                table,
                keys,
                new,
                by_service,
                ..
            } if local_origin && self.replicated_to_peer(table)? => Op::Item {
                table: table.clone(),
                keys: keys.clone(),
                new: new.clone(),
                by_service: *by_service,
            },
            Change::TableDeleted { name, replicas } if local_origin && replicas.iter().any(|r| r == self.peer) => {
                Op::ReplicaDropped { table: name.clone() }
            }
            Change::ItemTombstone { table, keys } if local_origin && self.replicated_to_peer(table)? => Op::Item {
                table: table.clone(),
                keys: keys.clone(),
                new: None,
                by_service: false,
            },
            Change::ItemResync { table, keys, item } if local_origin && self.replicated_to_peer(table)? => Op::Item {
                table: table.clone(),
                keys: keys.clone(),
                new: Some(item.clone()),
                by_service: false,
            },
            _ => return Ok(Route::Skip),
        };
        Ok(Route::Ship(Outgoing {
            shipped: Shipped {
                seq: entry.seq,
                origin: entry.origin.clone(),
                hlc: entry.hlc,
                op,
                body_len: 0,
            },
            body: vec![],
            source: None,
        }))
    }

    /// Routes a version (new, re-synced, or edited) by its bucket's rules.
    fn route_version(
        &mut self,
        entry: &ChangeEntry,
        bucket: &str,
        key: &str,
        logged: &ObjectVersion,
        edit: bool,
    ) -> Result<Route, ReplicationError> {
        // Cheap checks first, on what the entry itself says (a version's origin
        // never changes; a version no rule selected when it was written is
        // only announced again by a resync entry that says so).
        let written_here = logged.origin == self.local();
        if !edit && (!written_here || logged.replication_status.is_none()) {
            return Ok(Route::Skip);
        }
        let Some(config) = self.bucket(bucket)?.and_then(|b| b.replication) else {
            return Ok(Route::Skip);
        };
        let Some(version) = self.read.version(bucket, key, &logged.version_id)? else {
            return Ok(Route::Skip); // removed since: nothing left to ship
        };
        let Some(rule) = config.rule_for(key, &version.tags, version.delete_marker && !edit) else {
            return Ok(Route::Skip);
        };
        if edit && !written_here && !rule.replica_modifications {
            return Ok(Route::Skip);
        }
        let dest = rule.destination_name().to_string();
        let unroutable = |reason: String| {
            Route::Unroutable(Unroutable {
                bucket: bucket.to_string(),
                key: key.to_string(),
                version_id: version.version_id.clone(),
                reason,
            })
        };
        match self.read.registry(&dest)? {
            Some(held) if held.region == self.peer => {}
            Some(held) if held.region == self.local() => {
                return Ok(unroutable(format!(
                    "destination bucket {dest} is in this region; rules must name a bucket in another region"
                )));
            }
            Some(_) => return Ok(Route::Skip),
            None => return Ok(unroutable(format!("destination bucket {dest} does not exist in any region"))),
        }
        let (body, body_len) = match edit || version.delete_marker {
            true => (vec![], 0),
            false => (self.body_of(&version)?, version.size),
        };
        let source = (!edit).then(|| (bucket.to_string(), key.to_string(), version.version_id.clone()));
        let op = match edit {
            true => Op::VersionEdit {
                bucket: dest,
                key: key.to_string(),
                version,
            },
            false => Op::Version {
                bucket: dest,
                key: key.to_string(),
                version,
            },
        };
        Ok(Route::Ship(Outgoing {
            shipped: Shipped {
                seq: entry.seq,
                origin: self.local().to_string(),
                hlc: entry.hlc,
                op,
                body_len,
            },
            body,
            source,
        }))
    }

    fn body_of(&self, version: &ObjectVersion) -> Result<Vec<BodyPiece>, ReplicationError> {
        if !self.with_bodies {
            return Ok(vec![]);
        }
        let mut pieces = Vec::with_capacity(version.segments.len());
        for segment in &version.segments {
            pieces.push(match self.read.segment_source(segment, self.store)? {
                SegmentSource::Bytes(b) => BodyPiece::Bytes(b),
                SegmentSource::Stored(body) => BodyPiece::Stored { body, len: segment.len },
            });
        }
        Ok(pieces)
    }
}
