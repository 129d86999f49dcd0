//! Embedded durable storage for a tandem region node.
//!
//! Bucket and object metadata, small object bodies, items and the change log
//! are tables of a backend ([`kv`]): an embedded redb database by default, or
//! PostgreSQL; larger bodies are files or PostgreSQL chunks ([`body_store`]). Every mutation is appended to the
//! change log in the same transaction as the mutation, and a mutation is
//! acknowledged only after its transaction (and any body file) is durable. See
//! [`db`] for the group-commit writer.
//!
//! This crate knows nothing of HTTP or of any API's wire format.

pub mod blobs;
pub mod body_store;
pub mod buckets;
pub mod changelog;
pub mod completed;
pub mod control;
pub mod coordination;
pub mod db;
pub mod error;
pub mod hlc;
pub mod identity;
pub mod items;
pub mod keys;
pub(crate) mod kv;
pub mod objects;
pub(crate) mod overlay;
pub(crate) mod postgres_backend;
pub(crate) mod postgres_bodies;
pub(crate) mod postgres_coordination;
pub mod records;
pub(crate) mod redb_backend;
pub(crate) mod redb_migrate;
pub mod replica;
pub mod rules;
pub mod space;
#[cfg(test)]
pub(crate) mod test_backend;
pub mod uploads;

pub use blobs::{BodyWriter, StagedBody};
pub use changelog::{Change, ChangeEntry};
pub use completed::CompletedUpload;
pub use control::{Resource, WriteGate};
pub use db::{BodyBackend, ReadTx, Store, StoreBackend, StoreOptions, StoreStats, Tx};
pub use error::StoreError;
pub use items::Space;

pub use objects::{DeleteOutcome, Precondition, SegmentSource, Visit};
pub use records::*;
pub use uploads::{Finalize, MIN_PART_SIZE};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
