//! Where bodies larger than [`crate::blobs::INLINE_MAX`] are kept: the
//! boundary between the store and its body backends, files on the local
//! disk ([`crate::blobs::BlobFiles`]) or chunks in PostgreSQL
//! ([`crate::postgres_bodies::PgBodies`]).
//!
//! Every call blocks (the store calls it from the blocking pool). A body is
//! written whole before the metadata that refers to it commits, and removed
//! only after the metadata that referred to it is gone, so no body store
//! needs transactions of its own.

use bytes::Bytes;
use futures::Stream;

use crate::error::StoreError;

/// A place for bodies, addressed by their random 128-bit ids.
pub trait BodyStore: Send + Sync {
    /// What holds the bodies, for logs and status.
    fn describe(&self) -> String;
    /// Starts body `id`.
    fn create(&self, id: u128) -> Result<Box<dyn BodySink>, StoreError>;
    /// Makes body `id`, written without a sync, durable.
    fn sync(&self, id: u128) -> Result<(), StoreError>;
    /// What a commit that makes metadata refer to `ids` must make durable
    /// first (the directory entries of files).
    fn before_commit(&self, ids: &[u128]) -> Result<(), StoreError>;
    /// Opens body `id`. Its bytes stay readable through the reader for at
    /// least [`Self::removal_grace`] after the body is freed.
    fn open(&self, id: u128) -> Result<Box<dyn BodyReader>, StoreError>;
    /// How long a freed body outlives the commit that freed it, so that a
    /// reader that resolved the old version just before can still read it.
    fn removal_grace(&self) -> std::time::Duration;
    /// Removes body `id`; a body already gone is not an error.
    fn remove(&self, id: u128);
    /// Fails when bodies can be neither read nor written (the health check).
    fn check(&self) -> Result<(), StoreError>;
    /// The bodies that would be orphans if no metadata referred to them:
    /// every body, or those old enough not to be still on their way in.
    fn orphan_candidates(&self) -> Result<Vec<u128>, StoreError>;
}

/// A body being written.
pub trait BodySink: Send {
    fn write(&mut self, piece: &[u8]) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> Result<(), StoreError>;
}

/// An opened body.
pub trait BodyReader: Send + Sync {
    /// Fills `buf` with the bytes from `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError>;
}

/// Bytes read per step while streaming a body.
pub const READ_CHUNK: usize = 256 * 1024;

/// Streams `len` bytes of an opened body from `offset`, a [`READ_CHUNK`] at
/// a time, each read on the blocking pool.
pub fn stream(
    reader: Box<dyn BodyReader>,
    offset: u64,
    len: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures::stream::try_unfold((reader, offset, len), |(mut reader, offset, len)| async move {
        if len == 0 {
            return Ok(None);
        }
        let n = READ_CHUNK.min(len as usize);
        let (reader, piece) = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; n];
            let read = reader.read_at(offset, &mut buf);
            (reader, read.map(|()| Bytes::from(buf)))
        })
        .await
        .map_err(std::io::Error::other)?;
        let piece = piece.map_err(std::io::Error::other)?;
        Ok(Some((piece, (reader, offset + n as u64, len - n as u64))))
    })
}
