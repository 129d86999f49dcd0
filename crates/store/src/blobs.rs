//! Object bodies. Small bodies are kept inline in the metadata store; larger ones
//! are written to one file per blob under `blobs/<2 hex>/<32 hex>`, fsynced before
//! the metadata that points at them is committed.
//!
//! A body is first *staged* (buffered in memory or streamed to its file) and then
//! *adopted* by a write transaction. A staged body that is never adopted removes
//! its file when dropped, so a failed or refused write leaves nothing behind.
//! Below the volume's free-space reserve ([`crate::space`]) no body file is
//! written or extended.

use bytes::{Bytes, BytesMut};
use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::records::Segment;
use crate::space::DiskSpace;

/// Bodies up to this size live inline in the metadata store: one fsync for
/// metadata and body together, shared with concurrent writers.
pub const INLINE_MAX: usize = 64 * 1024;

/// The directory tree of blob files.
#[derive(Debug)]
pub struct BlobFiles {
    root: PathBuf,
    space: DiskSpace,
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
        Ok(Self {
            root: root.to_path_buf(),
            space: DiskSpace::new(root),
        })
    }

    /// The free-space reserve of the volume holding the store.
    pub fn space(&self) -> &DiskSpace {
        &self.space
    }

    pub fn path(&self, id: u128) -> PathBuf {
        self.shard_dir(id).join(format!("{id:032x}"))
    }

    pub fn shard_dir(&self, id: u128) -> PathBuf {
        self.root.join(format!("{:02x}", (id & 0xff) as u8))
    }

    /// Removes a blob file; a missing file is not an error (removal is retried
    /// after crashes and may find it already gone).
    pub fn remove(&self, id: u128) {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(blob = %format!("{id:032x}"), error = %e, "could not remove blob file"),
        }
    }

    /// Every blob id that has a file, for the startup sweep of orphans.
    pub fn list_ids(&self) -> Result<Vec<u128>, StoreError> {
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

/// Fsyncs a directory so that entries created in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// A fresh random blob id.
pub fn new_blob_id() -> u128 {
    rand::random::<u128>()
}

/// Bytes gathered before each write to a body file: large writes keep the
/// number of blocking-pool hops per object small.
const WRITE_CHUNK: usize = 1024 * 1024;

/// A body being received: in memory while small; past [`INLINE_MAX`] it goes
/// to its file in [`WRITE_CHUNK`] pieces, so memory stays bounded whatever the
/// object size.
pub struct BodyWriter {
    id: u128,
    buf: BytesMut,
    /// The body file, once the first piece has been written.
    file: Option<(std::fs::File, PathBuf)>,
    len: u64,
}

impl BodyWriter {
    pub fn new() -> Self {
        Self {
            id: new_blob_id(),
            buf: BytesMut::new(),
            file: None,
            len: 0,
        }
    }

    /// Appends a chunk of the body.
    pub async fn write(&mut self, blobs: &BlobFiles, chunk: &[u8]) -> Result<(), StoreError> {
        self.len += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush(blobs, false).await?;
        }
        Ok(())
    }

    /// Writes the buffered bytes to the body file (creating it first), and
    /// fsyncs it when `sync`. Runs on the blocking pool in one hop.
    async fn flush(&mut self, blobs: &BlobFiles, sync: bool) -> Result<(), StoreError> {
        blobs.space().check()?;
        let piece = std::mem::take(&mut self.buf).freeze();
        let (file, path) = match self.file.take() {
            Some(f) => (Some(f.0), f.1),
            None => (None, blobs.path(self.id)),
        };
        let task_path = path.clone();
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            use std::io::Write;
            let mut file = match file {
                Some(f) => f,
                None => std::fs::OpenOptions::new().write(true).create_new(true).open(&task_path)?,
            };
            file.write_all(&piece)?;
            if sync {
                file.sync_data()?;
            }
            Ok(file)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        match file {
            Ok(f) => {
                self.file = Some((f, path));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e.into())
            }
        }
    }

    /// Finishes the body: a file body is written out and fsynced; the result is
    /// ready to be adopted by a write transaction.
    pub async fn finish(self, blobs: &BlobFiles) -> Result<StagedBody, StoreError> {
        self.finish_with(blobs, true).await
    }

    /// Finishes the body without fsyncing its file: the caller must pass it
    /// to [`sync_all`] before a transaction adopts it. Lets a batch of bodies
    /// be made durable together instead of one fsync after another.
    pub async fn finish_unsynced(self, blobs: &BlobFiles) -> Result<StagedBody, StoreError> {
        self.finish_with(blobs, false).await
    }

    async fn finish_with(mut self, blobs: &BlobFiles, sync: bool) -> Result<StagedBody, StoreError> {
        let len = self.len;
        if self.file.is_none() && self.buf.len() <= INLINE_MAX {
            let bytes = std::mem::take(&mut self.buf).freeze();
            return Ok(StagedBody {
                segment: Segment {
                    id: self.id,
                    len,
                    inline: true,
                },
                inline: Some(bytes),
                file: None,
            });
        }
        self.flush(blobs, sync).await?;
        let (_, path) = self.file.take().expect("flush leaves the file open");
        Ok(StagedBody {
            segment: Segment {
                id: self.id,
                len,
                inline: false,
            },
            inline: None,
            file: Some(path),
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for BodyWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        if let Some((_, path)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A complete, durable body waiting for the metadata that will point at it.
#[derive(Debug)]
pub struct StagedBody {
    pub segment: Segment,
    /// The bytes, for an inline body.
    pub inline: Option<Bytes>,
    /// The file, for a file body; removed on drop unless adopted.
    file: Option<PathBuf>,
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
            file: None,
        }
    }

    /// The body file, for a file body (readable until this is dropped).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Marks the file as owned by committed metadata: it is no longer removed on drop.
    pub(crate) fn defuse(&mut self) {
        self.file = None;
    }
}

/// Fsyncs the files of staged bodies, all at once on the blocking pool.
pub async fn sync_all<'a>(bodies: impl IntoIterator<Item = &'a StagedBody>) -> Result<(), StoreError> {
    let mut syncs = tokio::task::JoinSet::new();
    for path in bodies.into_iter().filter_map(|b| b.file.clone()) {
        syncs.spawn_blocking(move || std::fs::File::open(path)?.sync_data());
    }
    while let Some(done) = syncs.join_next().await {
        done.map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
    }
    Ok(())
}

impl Drop for StagedBody {
    fn drop(&mut self) {
        if let Some(path) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
