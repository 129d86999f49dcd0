//! Bucket operations: create, read, update configuration, delete. Each mutation
//! lands in the change log in the same transaction; creation and deletion also
//! claim and release the name in the deployment-wide registry.

use crate::changelog::Change;
use crate::db::{ReadTx, Store, Tx};
use crate::error::StoreError;
use crate::keys::bucket_prefix;
use crate::kv::Table;
use crate::records::{BucketRecord, UploadRecord};
use crate::replica::RegistryEntry;

impl ReadTx {
    pub fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        self.table(Table::Buckets).json(name)
    }

    pub fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        self.table(Table::Buckets).all_json()
    }
}

impl Tx<'_> {
    pub fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        self.table(Table::Buckets).json(name)
    }

    /// The bucket, or `NoSuchBucket`.
    pub fn require_bucket(&self, name: &str) -> Result<BucketRecord, StoreError> {
        self.bucket(name)?.ok_or(StoreError::NoSuchBucket)
    }

    /// The bucket, if it exists and this region may take a client write to it now.
    pub fn writable_bucket(&self, name: &str) -> Result<BucketRecord, StoreError> {
        let record = self.require_bucket(name)?;
        self.check_write(crate::control::Resource::Bucket(name))?;
        Ok(record)
    }

    pub(crate) fn put_bucket_record(&mut self, record: &BucketRecord) -> Result<(), StoreError> {
        self.put(Table::Buckets, &record.name, &serde_json::to_vec(record)?);
        Ok(())
    }
}

impl Store {
    /// Creates a bucket for a client: refused, like any client write, when
    /// the write gate says this region may not take it.
    pub async fn create_client_bucket(&self, record: BucketRecord) -> Result<BucketRecord, StoreError> {
        self.create_bucket_as(record, true).await
    }

    /// Creates a bucket (the node's own write, e.g. `tandem apply`: not gated).
    /// Fails with `BucketExists` (naming the owner) if the name is taken.
    pub async fn create_bucket(&self, record: BucketRecord) -> Result<BucketRecord, StoreError> {
        self.create_bucket_as(record, false).await
    }

    async fn create_bucket_as(&self, mut record: BucketRecord, gated: bool) -> Result<BucketRecord, StoreError> {
        self.write(move |tx| {
            if gated {
                tx.check_write(crate::control::Resource::Bucket(&record.name))?;
            }
            if let Some(existing) = tx.bucket(&record.name)? {
                return Err(StoreError::BucketExists { owner: existing.owner });
            }
            if let Some(held) = tx.registry(&record.name)? {
                return Err(StoreError::BucketExists { owner: held.owner });
            }
            record.hlc = tx.now();
            tx.put_bucket_record(&record)?;
            let claim = RegistryEntry {
                region: record.region.clone(),
                owner: record.owner.clone(),
                hlc: record.hlc,
            };
            tx.put_registry(&record.name, &claim)?;
            let origin = tx.region().to_string();
            tx.append(&origin, record.hlc, Change::BucketCreated { bucket: record.clone() })?;
            Ok(record)
        })
        .await
    }

    /// Changes a bucket's configuration for a client (gated like any client
    /// write) with `edit`, which may refuse by returning an error (nothing is
    /// written then).
    pub async fn update_client_bucket<F>(&self, name: &str, edit: F) -> Result<BucketRecord, StoreError>
    where
        F: FnOnce(&mut BucketRecord) -> Result<(), StoreError> + Send + 'static,
    {
        self.update_bucket_as(name, edit, true).await
    }

    /// Changes a bucket's configuration (the node's own write: not gated).
    pub async fn update_bucket<F>(&self, name: &str, edit: F) -> Result<BucketRecord, StoreError>
    where
        F: FnOnce(&mut BucketRecord) -> Result<(), StoreError> + Send + 'static,
    {
        self.update_bucket_as(name, edit, false).await
    }

    async fn update_bucket_as<F>(&self, name: &str, edit: F, gated: bool) -> Result<BucketRecord, StoreError>
    where
        F: FnOnce(&mut BucketRecord) -> Result<(), StoreError> + Send + 'static,
    {
        let name = name.to_string();
        self.write(move |tx| {
            let mut record = match gated {
                true => tx.writable_bucket(&name)?,
                false => tx.require_bucket(&name)?,
            };
            edit(&mut record)?;
            record.hlc = tx.now();
            tx.put_bucket_record(&record)?;
            let origin = tx.region().to_string();
            tx.append(&origin, record.hlc, Change::BucketUpdated { bucket: record.clone() })?;
            Ok(record)
        })
        .await
    }

    /// Deletes an empty bucket (no versions, no delete markers). In-progress
    /// multipart uploads are aborted with it.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            tx.writable_bucket(&name)?;
            let prefix = bucket_prefix(&name);
            if tx.table(Table::Versions).first_with(&prefix)?.is_some() {
                return Err(StoreError::BucketNotEmpty);
            }
            let uploads: Vec<UploadRecord> = tx.table(Table::Uploads).all_json()?;
            let uploads = uploads.into_iter().filter(|upload| upload.bucket == name);
            for upload in uploads {
                tx.remove_upload(&upload.upload_id)?;
            }
            tx.delete(Table::Buckets, &name);
            if tx.registry(&name)?.is_some_and(|held| held.region == tx.region()) {
                tx.remove_registry(&name)?;
            }
            let hlc = tx.now();
            let origin = tx.region().to_string();
            tx.append(&origin, hlc, Change::BucketDeleted { name })?;
            Ok(())
        })
        .await
    }
}
