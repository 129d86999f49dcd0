//! Object versions: write, delete (markers and versions), metadata edits, reads and
//! ordered scans. S3's versioning rules live here because they decide what one
//! atomic commit contains: which version becomes current, which `null` version is
//! replaced, which bodies are freed, and which change-log entry is appended.

use bytes::Bytes;

use crate::blobs::StagedBody;
use crate::body_store::BodyReader;
use crate::changelog::Change;
use crate::db::{ReadTx, Store, Tx};
use crate::error::StoreError;
use crate::keys::{object_key, prefix_end, split_object_key, split_version_key, version_key, versions_prefix};
use crate::kv::{Table, View, u128_key};
use crate::records::{BucketRecord, ObjectVersion, ReplicationStatus, Segment, Versioning};

/// What a scan visitor wants next.
pub enum Visit {
    Continue,
    Stop,
    /// Skip every remaining key that starts with this prefix (used for delimiters).
    SkipPrefix(String),
}

/// The result of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Version id of the created delete marker or of the removed version.
    pub version_id: Option<String>,
    /// Whether the created or removed version is a delete marker.
    pub delete_marker: bool,
}

/// Where to read a segment of a body from: its bytes, or the body opened in
/// the body store (readable even if the version is deleted meanwhile).
pub enum SegmentSource {
    Bytes(Bytes),
    Stored(Box<dyn BodyReader>),
}

/// A precondition checked against the current version inside the commit.
pub type Precondition = Box<dyn FnOnce(Option<&ObjectVersion>) -> Result<(), StoreError> + Send>;

/// A new, unique version id for a versioned write.
fn new_version_id(hlc: u64) -> String {
    format!("{hlc:016x}{:08x}", rand::random::<u32>())
}

fn decode(raw: &[u8]) -> Result<ObjectVersion, StoreError> {
    Ok(serde_json::from_slice(raw)?)
}

/// A version found in the versions table: its table key and its record.
type Found = (Vec<u8>, ObjectVersion);

/// Finds a version of a key by id in any table holding versions.
pub(crate) fn find_version(versions: &View<'_>, bucket: &str, key: &str, version_id: &str) -> Result<Option<Found>, StoreError> {
    for item in versions.prefixed(&versions_prefix(bucket, key), false)? {
        let (k, v) = item?;
        let version = decode(&v)?;
        if version.version_id == version_id {
            return Ok(Some((k, version)));
        }
    }
    Ok(None)
}

impl ReadTx {
    /// A version of an object: the current one when `version_id` is `None`.
    /// Delete markers are returned as such; the caller decides what they mean.
    pub fn object(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<ObjectVersion, StoreError> {
        if self.bucket(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        match version_id {
            None => {
                let raw = self
                    .table(Table::Current)
                    .get(object_key(bucket, key))?
                    .ok_or(StoreError::NoSuchKey)?;
                decode(&raw)
            }
            Some(id) => find_version(&self.table(Table::Versions), bucket, key, id)?
                .map(|(_, v)| v)
                .ok_or(StoreError::NoSuchVersion),
        }
    }

    /// Where each segment's bytes are, read from this same snapshot.
    pub fn segment_source(&self, segment: &Segment, store: &Store) -> Result<SegmentSource, StoreError> {
        if segment.inline {
            let raw = self
                .table(Table::Inline)
                .get(u128_key(segment.id))?
                .ok_or_else(|| StoreError::Corrupt(format!("inline blob {:x} missing", segment.id)))?;
            Ok(SegmentSource::Bytes(Bytes::from(raw)))
        } else {
            Ok(SegmentSource::Stored(store.blobs().open(segment.id)?))
        }
    }

    /// Visits current versions of a bucket's keys in order, starting at `start`
    /// (inclusive) and staying within `prefix`.
    pub fn scan_current<F>(&self, bucket: &str, prefix: &str, start: &str, mut visit: F) -> Result<(), StoreError>
    where
        F: FnMut(&str, ObjectVersion) -> Visit,
    {
        scan(&self.table(Table::Current), bucket, prefix, start, split_object_key, &mut visit)
    }

    /// Visits every version of a bucket's keys: keys in order, newest version first.
    pub fn scan_versions<F>(&self, bucket: &str, prefix: &str, start: &str, mut visit: F) -> Result<(), StoreError>
    where
        F: FnMut(&str, ObjectVersion) -> Visit,
    {
        scan(&self.table(Table::Versions), bucket, prefix, start, split_version_key, &mut visit)
    }
}

/// The ordered scan shared by current-version and all-version listings.
pub(crate) fn scan<S, F>(table: &View<'_>, bucket: &str, prefix: &str, start: &str, split: S, visit: &mut F) -> Result<(), StoreError>
where
    S: for<'a> Fn(&str, &'a [u8]) -> Option<&'a str>,
    F: FnMut(&str, ObjectVersion) -> Visit,
{
    let scope = object_key(bucket, prefix);
    let scope_end = prefix_end(&scope);
    let mut from = object_key(bucket, if start > prefix { start } else { prefix });
    'outer: loop {
        for item in table.range(&from, scope_end.as_deref(), false)? {
            let (raw, v) = item?;
            let Some(key) = split(bucket, &raw) else { continue };
            match visit(key, decode(&v)?) {
                Visit::Continue => {}
                Visit::Stop => break 'outer,
                Visit::SkipPrefix(p) => match prefix_end(&object_key(bucket, &p)) {
                    Some(end) => {
                        from = end;
                        continue 'outer;
                    }
                    None => break 'outer,
                },
            }
        }
        break;
    }
    Ok(())
}

impl Tx<'_> {
    /// The current version of a key, if any (possibly a delete marker).
    pub fn current(&self, bucket: &str, key: &str) -> Result<Option<ObjectVersion>, StoreError> {
        let raw = self.table(Table::Current).get(object_key(bucket, key))?;
        raw.map(|r| decode(&r)).transpose()
    }

    /// Makes `version` (with segments already adopted) a new version of the key:
    /// assigns its id per the bucket's versioning, replaces a previous `null`
    /// version, updates the current pointer and logs the change.
    /// A version a replication rule selects starts out PENDING.
    pub fn commit_version(&mut self, record: &BucketRecord, key: &str, mut version: ObjectVersion) -> Result<ObjectVersion, StoreError> {
        let bucket = record.name.as_str();
        version.hlc = self.now();
        version.origin = self.region().to_string();
        version.version_id = match record.versioning {
            Versioning::Enabled => new_version_id(version.hlc),
            Versioning::Unversioned | Versioning::Suspended => "null".to_string(),
        };
        let selected = record
            .replication
            .as_ref()
            .and_then(|config| config.rule_for(key, &version.tags, version.delete_marker));
        version.replication_status = selected.map(|_| ReplicationStatus::Pending);
        self.install_version(bucket, key, &version)?;
        let origin = version.origin.clone();
        self.append(
            &origin,
            version.hlc,
            Change::VersionPut {
                bucket: bucket.into(),
                key: key.into(),
                version: version.clone(),
            },
        )?;
        Ok(version)
    }

    /// Inserts a version, replacing an existing version with the same id, and
    /// points `current` at the newest version of the key.
    pub(crate) fn install_version(&mut self, bucket: &str, key: &str, version: &ObjectVersion) -> Result<(), StoreError> {
        let (existing, newest_other) = self.version_and_newest_other(bucket, key, &version.version_id)?;
        if let Some((raw_key, _)) = &existing {
            self.delete(Table::Versions, raw_key);
        }
        let new_key = version_key(bucket, key, version.hlc, &version.version_id);
        let raw = serde_json::to_vec(version)?;
        self.put(Table::Versions, &new_key, &raw);
        if let Some((_, old)) = existing {
            self.release(&old.segments)?;
        }
        // The usual case, a version newer than every other: it is current,
        // with no second read of the versions.
        match newest_other {
            Some(other) if other < new_key => self.refresh_current(bucket, key),
            _ => {
                self.put(Table::Current, object_key(bucket, key), &raw);
                Ok(())
            }
        }
    }

    /// One scan of a key's versions, newest first: the version with
    /// `version_id` (its table key and record), and the table key of the
    /// newest version with another id.
    fn version_and_newest_other(&self, bucket: &str, key: &str, version_id: &str) -> Result<(Option<Found>, Option<Vec<u8>>), StoreError> {
        let (mut found, mut newest_other) = (None, None);
        for item in self.table(Table::Versions).prefixed(&versions_prefix(bucket, key), false)? {
            let (k, v) = item?;
            let version = decode(&v)?;
            if version.version_id == version_id {
                found = Some((k, version));
            } else if newest_other.is_none() {
                newest_other = Some(k);
            }
            if found.is_some() && newest_other.is_some() {
                break;
            }
        }
        Ok((found, newest_other))
    }

    /// Replaces a version record in place (same id, same clock time) and
    /// refreshes the current pointer.
    pub(crate) fn rewrite_version(&mut self, bucket: &str, key: &str, version: &ObjectVersion) -> Result<(), StoreError> {
        self.put(
            Table::Versions,
            version_key(bucket, key, version.hlc, &version.version_id),
            &serde_json::to_vec(version)?,
        );
        self.refresh_current(bucket, key)
    }

    /// Points `current` at the newest remaining version of the key, or removes it.
    pub(crate) fn refresh_current(&mut self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let newest = self.table(Table::Versions).first_with(&versions_prefix(bucket, key))?;
        let ck = object_key(bucket, key);
        match newest {
            Some((_, raw)) => self.put(Table::Current, ck, &raw),
            None => self.delete(Table::Current, ck),
        }
        Ok(())
    }

    /// Removes one version for good and logs it.
    fn remove_version(&mut self, bucket: &str, key: &str, version_id: &str) -> Result<Option<ObjectVersion>, StoreError> {
        let Some((raw_key, removed)) = find_version(&self.table(Table::Versions), bucket, key, version_id)? else {
            return Ok(None);
        };
        self.delete(Table::Versions, raw_key);
        self.release(&removed.segments)?;
        self.refresh_current(bucket, key)?;
        let hlc = self.now();
        let origin = self.region().to_string();
        self.append(
            &origin,
            hlc,
            Change::VersionDeleted {
                bucket: bucket.into(),
                key: key.into(),
                version_id: version_id.into(),
            },
        )?;
        Ok(Some(removed))
    }
}

impl Store {
    /// Writes a new object version with a staged body, after checking the
    /// bucket exists and `precondition` holds against the current version.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        template: ObjectVersion,
        mut body: StagedBody,
        precondition: Precondition,
    ) -> Result<ObjectVersion, StoreError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.write(move |tx| {
            let record = tx.writable_bucket(&bucket)?;
            let current = tx.current(&bucket, &key)?;
            precondition(current.as_ref().filter(|v| !v.delete_marker))?;
            let mut version = template;
            version.segments = vec![tx.adopt(&mut body)?];
            version.size = body.segment.len;
            tx.commit_version(&record, &key, version)
        })
        .await
    }

    /// Deletes as S3 does: by version id removes that version; otherwise an
    /// unversioned bucket drops the object and a versioned one gets a delete marker.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<String>,
        owner: &str,
    ) -> Result<DeleteOutcome, StoreError> {
        let (bucket, key, owner) = (bucket.to_string(), key.to_string(), owner.to_string());
        self.write(move |tx| {
            let record = tx.writable_bucket(&bucket)?;
            if let Some(id) = version_id {
                let removed = tx.remove_version(&bucket, &key, &id)?;
                return Ok(DeleteOutcome {
                    version_id: Some(id),
                    delete_marker: removed.is_some_and(|v| v.delete_marker),
                });
            }
            if record.versioning == Versioning::Unversioned {
                tx.remove_version(&bucket, &key, "null")?;
                return Ok(DeleteOutcome {
                    version_id: None,
                    delete_marker: false,
                });
            }
            let marker = delete_marker(&owner);
            let marker = tx.commit_version(&record, &key, marker)?;
            Ok(DeleteOutcome {
                version_id: Some(marker.version_id),
                delete_marker: true,
            })
        })
        .await
    }

    /// Edits metadata of one version (tags, ACL) without touching its body.
    pub async fn update_version<F>(&self, bucket: &str, key: &str, version_id: Option<String>, edit: F) -> Result<ObjectVersion, StoreError>
    where
        F: FnOnce(&mut ObjectVersion) -> Result<(), StoreError> + Send + 'static,
    {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.write(move |tx| {
            tx.writable_bucket(&bucket)?;
            let mut version = match &version_id {
                None => tx
                    .current(&bucket, &key)?
                    .filter(|v| !v.delete_marker)
                    .ok_or(StoreError::NoSuchKey)?,
                Some(id) => find_version(&tx.table(Table::Versions), &bucket, &key, id)?
                    .map(|(_, v)| v)
                    .ok_or(StoreError::NoSuchVersion)?,
            };
            edit(&mut version)?;
            let (hlc, origin) = (tx.now(), tx.region().to_string());
            version.edited = Some(crate::records::EditStamp {
                hlc,
                origin: origin.clone(),
            });
            tx.rewrite_version(&bucket, &key, &version)?;
            tx.append(
                &origin,
                hlc,
                Change::VersionUpdated {
                    bucket,
                    key,
                    version: version.clone(),
                },
            )?;
            Ok(version)
        })
        .await
    }
}

/// A delete marker written by `owner` (id and clock are set at commit).
fn delete_marker(owner: &str) -> ObjectVersion {
    ObjectVersion {
        delete_marker: true,
        ..ObjectVersion::empty(owner, String::new())
    }
}
