//! Object bodies. Small bodies are kept inline in the metadata store; larger
//! ones go to the region's body store ([`crate::body_store`]): by default one
//! file per blob under `blobs/<2 hex>/<32 hex>` ([`BlobFiles`]), fsynced
//! before the metadata that points at them is committed.
//!
//! A body is first *staged* (buffered in memory or streamed to the body
//! store) and then *adopted* by a write transaction. A staged body that is
//! never adopted is removed when dropped, so a failed or refused write
//! leaves nothing behind. Below the volume's free-space reserve
//! ([`crate::space`]) no body is written or extended.

use bytes::{Bytes, BytesMut};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::body_store::{BodyReader, BodySink, BodyStore};
use crate::error::StoreError;
use crate::records::Segment;
use crate::space::DiskSpace;

/// Bodies up to this size live inline in the metadata store: one fsync for
/// metadata and body together, shared with concurrent writers.
pub const INLINE_MAX: usize = 64 * 1024;

/// The region's body store, and the free-space reserve of the local volume.
pub struct Bodies {
    store: Arc<dyn BodyStore>,
    space: DiskSpace,
}

impl Bodies {
    pub(crate) fn new(store: Arc<dyn BodyStore>, space: DiskSpace) -> Self {
        Self { store, space }
    }

    /// The free-space reserve of the volume holding the store.
    pub fn space(&self) -> &DiskSpace {
        &self.space
    }

    pub(crate) fn store(&self) -> &Arc<dyn BodyStore> {
        &self.store
    }

    /// Opens a stored body (see [`BodyStore::open`]).
    pub fn open(&self, id: u128) -> Result<Box<dyn BodyReader>, StoreError> {
        self.store.open(id)
    }

    pub fn remove(&self, id: u128) {
        self.store.remove(id)
    }

    /// Bodies the startup sweep may remove if nothing refers to them.
    pub fn orphan_candidates(&self) -> Result<Vec<u128>, StoreError> {
        self.store.orphan_candidates()
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }
}

/// The directory tree of blob files.
#[derive(Debug)]
pub struct BlobFiles {
    root: PathBuf,
}

impl BlobFiles {
    /// Opens (and creates if needed) the blob tree, with all 256 shard
    /// directories made durable up front so that a blob's directory entry is the
    /// only thing a commit has to fsync.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        for shard in 0..=255u8 {
            let dir = root.join(format!("{shard:02x}"));
            if !dir.exists() {
                std::fs::create_dir(&dir)?;
            }
        }
        sync_dir(root)?;
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn path(&self, id: u128) -> PathBuf {
        self.shard_dir(id).join(format!("{id:032x}"))
    }

    pub fn shard_dir(&self, id: u128) -> PathBuf {
        self.root.join(format!("{:02x}", (id & 0xff) as u8))
    }
}

impl BodyStore for BlobFiles {
    fn describe(&self) -> String {
        format!("files under {}", self.root.display())
    }

    fn create(&self, id: u128) -> Result<Box<dyn BodySink>, StoreError> {
        let path = self.path(id);
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(Box::new(file))
    }

    fn sync(&self, id: u128) -> Result<(), StoreError> {
        std::fs::File::open(self.path(id))?.sync_data()?;
        Ok(())
    }

    fn before_commit(&self, ids: &[u128]) -> Result<(), StoreError> {
        let dirs: std::collections::BTreeSet<PathBuf> = ids.iter().map(|&id| self.shard_dir(id)).collect();
        dirs.iter().try_for_each(|dir| sync_dir(dir))
    }

    fn open(&self, id: u128) -> Result<Box<dyn BodyReader>, StoreError> {
        let path = self.path(id);
        match std::fs::File::open(&path) {
            Ok(file) => Ok(Box::new(file)),
            Err(e) => Err(StoreError::Corrupt(format!("blob file {} cannot be opened: {e}", path.display()))),
        }
    }

    /// An open file outlives its unlink; the grace covers a reader that
    /// resolved the version but has not opened the file yet.
    fn removal_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }

    /// A missing file is not an error (removal is retried after crashes and
    /// may find it already gone).
    fn remove(&self, id: u128) {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(blob = %format!("{id:032x}"), error = %e, "could not remove blob file"),
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        std::fs::metadata(self.shard_dir(0))?;
        Ok(())
    }

    /// Every blob that has a file: the store sweeps at startup, before any
    /// body of this process is on its way in.
    fn orphan_candidates(&self) -> Result<Vec<u128>, StoreError> {
        let mut ids = Vec::new();
        for shard in std::fs::read_dir(&self.root)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(shard.path())? {
                let name = entry?.file_name();
                if let Some(id) = name.to_str().and_then(|n| u128::from_str_radix(n, 16).ok()) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }
}

impl BodySink for std::fs::File {
    fn write(&mut self, piece: &[u8]) -> Result<(), StoreError> {
        std::io::Write::write_all(self, piece)?;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.sync_data()?;
        Ok(())
    }
}

impl BodyReader for std::fs::File {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        self.read_exact_at(buf, offset)?;
        Ok(())
    }
}

/// Fsyncs a directory so that entries created in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// A fresh random blob id.
pub fn new_blob_id() -> u128 {
    rand::random::<u128>()
}

/// Bytes gathered before each write to the body store: large writes keep
/// the number of blocking-pool hops per object small.
const WRITE_CHUNK: usize = 1024 * 1024;

/// A body being received: in memory while small; past [`INLINE_MAX`] it goes
/// to the body store in [`WRITE_CHUNK`] pieces, so memory stays bounded
/// whatever the object size.
pub struct BodyWriter {
    id: u128,
    buf: BytesMut,
    /// The body in the body store, once the first piece has been written.
    sink: Option<Box<dyn BodySink>>,
    /// The store the body was started in, to remove it if it is not finished.
    started: Option<Arc<dyn BodyStore>>,
    len: u64,
}

impl BodyWriter {
    pub fn new() -> Self {
        Self {
            id: new_blob_id(),
            buf: BytesMut::new(),
            sink: None,
            started: None,
            len: 0,
        }
    }

    /// Appends a chunk of the body.
    pub async fn write(&mut self, bodies: &Bodies, chunk: &[u8]) -> Result<(), StoreError> {
        self.len += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush(bodies, false).await?;
        }
        Ok(())
    }

    /// Writes the buffered bytes to the body store (starting the body
    /// first), and makes them durable when `sync`. Runs on the blocking pool
    /// in one hop.
    async fn flush(&mut self, bodies: &Bodies, sync: bool) -> Result<(), StoreError> {
        bodies.space().check()?;
        let piece = std::mem::take(&mut self.buf).freeze();
        let store = Arc::clone(bodies.store());
        self.started = Some(Arc::clone(&store));
        let (id, sink) = (self.id, self.sink.take());
        let written = tokio::task::spawn_blocking(move || -> Result<Box<dyn BodySink>, StoreError> {
            let mut sink = match sink {
                Some(sink) => sink,
                None => store.create(id)?,
            };
            sink.write(&piece)?;
            if sync {
                sink.sync()?;
            }
            Ok(sink)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        match written {
            Ok(sink) => {
                self.sink = Some(sink);
                Ok(())
            }
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Finishes the body: a stored body is written out and made durable; the
    /// result is ready to be adopted by a write transaction.
    pub async fn finish(self, bodies: &Bodies) -> Result<StagedBody, StoreError> {
        self.finish_with(bodies, true).await
    }

    /// Finishes the body without syncing it: the caller must pass it to
    /// [`sync_all`] before a transaction adopts it. Lets a batch of bodies
    /// be made durable together instead of one fsync after another.
    pub async fn finish_unsynced(self, bodies: &Bodies) -> Result<StagedBody, StoreError> {
        self.finish_with(bodies, false).await
    }

    async fn finish_with(mut self, bodies: &Bodies, sync: bool) -> Result<StagedBody, StoreError> {
        let len = self.len;
        if self.sink.is_none() && self.buf.len() <= INLINE_MAX {
            let bytes = std::mem::take(&mut self.buf).freeze();
            return Ok(StagedBody {
                segment: Segment {
                    id: self.id,
                    len,
                    inline: true,
                },
                inline: Some(bytes),
                stored: None,
            });
        }
        self.flush(bodies, sync).await?;
        self.sink = None;
        Ok(StagedBody {
            segment: Segment {
                id: self.id,
                len,
                inline: false,
            },
            inline: None,
            stored: self.started.take(),
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes the body from the store it was started in, if any.
    fn discard(&mut self) {
        self.sink = None;
        if let Some(store) = self.started.take() {
            store.remove(self.id);
        }
    }
}

impl Default for BodyWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        self.discard();
    }
}

/// A complete body waiting for the metadata that will point at it.
pub struct StagedBody {
    pub segment: Segment,
    /// The bytes, for an inline body.
    pub inline: Option<Bytes>,
    /// The body store holding it, for a stored body; removed from there on
    /// drop unless adopted.
    stored: Option<Arc<dyn BodyStore>>,
}

impl std::fmt::Debug for StagedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedBody")
            .field("segment", &self.segment)
            .field("stored", &self.stored.is_some())
            .finish()
    }
}

impl StagedBody {
    /// An inline body from bytes already in memory.
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self {
            segment: Segment {
                id: new_blob_id(),
                len: bytes.len() as u64,
                inline: true,
            },
            inline: Some(bytes),
            stored: None,
        }
    }

    /// Opens a stored body (readable until this is dropped); `None` for an
    /// inline one.
    pub fn open(&self) -> Result<Option<Box<dyn BodyReader>>, StoreError> {
        self.stored.as_ref().map(|store| store.open(self.segment.id)).transpose()
    }

    /// Marks the body as owned by committed metadata: it is no longer removed on drop.
    pub(crate) fn defuse(&mut self) {
        self.stored = None;
    }
}

/// Makes staged bodies durable, all at once on the blocking pool.
pub async fn sync_all<'a>(bodies: impl IntoIterator<Item = &'a StagedBody>) -> Result<(), StoreError> {
    let mut syncs = tokio::task::JoinSet::new();
    for body in bodies {
        if let Some(store) = &body.stored {
            let (store, id) = (Arc::clone(store), body.segment.id);
            syncs.spawn_blocking(move || store.sync(id));
        }
    }
    while let Some(done) = syncs.join_next().await {
        done.map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
    }
    Ok(())
}

impl Drop for StagedBody {
    fn drop(&mut self) {
        if let Some(store) = self.stored.take() {
            store.remove(self.segment.id);
        }
    }
}
