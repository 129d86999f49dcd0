//! Embedded durable storage for a tandem region node.
//!
//! One redb database holds bucket and object metadata, small object bodies, and
//! the change log; larger bodies are files. Every mutation is appended to the
//! change log in the same transaction as the mutation, and a mutation is
//! acknowledged only after its transaction (and any body file) is fsynced. See
//! [`db`] for the group-commit writer.
//!
//! This crate knows nothing of HTTP or of any API's wire format.

pub mod blobs;
pub mod buckets;
pub mod changelog;
pub mod completed;
pub mod control;
pub mod db;
pub mod error;
pub mod hlc;
pub mod identity;
pub mod items;
pub mod keys;
pub mod objects;
pub mod records;
pub mod replica;
pub mod rules;
pub mod space;
pub(crate) mod undo;
pub mod uploads;

pub use blobs::{BodyWriter, StagedBody};
pub use changelog::{Change, ChangeEntry};
pub use completed::CompletedUpload;
pub use control::{Resource, WriteGate};
pub use db::{ReadTx, Store, StoreOptions, StoreStats, Tx};
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
