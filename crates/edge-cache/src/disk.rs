//! The optional disk tier: one file per entry under a directory, bounded in total bytes
//! (oldest written leaves first). A file is `TEC1 | meta length u32 | body length u64 |
//! sha256(meta ‖ body) | meta (JSON) | body`, written to a temporary name and renamed, so
//! a crash leaves either the whole entry or none. At start the directory is indexed from
//! the metadata alone; the checksum is verified when an entry is read, and any file that
//! is truncated, corrupt or unreadable is deleted and treated as a miss.

use crate::config::CacheError;
use crate::control::Lifetime;
use crate::invalidation::Patterns;
use crate::object::Stored;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAGIC: &[u8; 4] = b"TEC1";
const HEAD_LEN: usize = 4 + 4 + 8 + 32;
/// Longest metadata block read.
const MAX_META_BYTES: u64 = 256 << 10;

#[derive(Serialize, Deserialize)]
struct Meta {
    key: String,
    primary: String,
    host: String,
    path: String,
    vary: Vec<String>,
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    stored_ms: u64,
    ttl_ms: u64,
    swr_ms: u64,
    sie_ms: u64,
}

struct DiskEntry {
    file: PathBuf,
    size: u64,
    host: String,
    path: String,
    order: u64,
}

#[derive(Default)]
struct Index {
    entries: HashMap<String, DiskEntry>,
    /// primary key -> varying headers, for entries stored under variant keys.
    marks: HashMap<String, Vec<HeaderName>>,
    order: BTreeMap<u64, String>,
    next: u64,
    total: u64,
}

pub(crate) struct Disk {
    dir: PathBuf,
    max_bytes: u64,
    max_object_bytes: u64,
    index: Mutex<Index>,
}

/// An entry written to its temporary file, not yet visible.
pub(crate) struct Pending {
    tmp: PathBuf,
    file: PathBuf,
    key: String,
    primary: String,
    vary: Vec<HeaderName>,
    host: String,
    path: String,
    size: u64,
}

impl Disk {
    /// Opens (creating) the directory and indexes the entries it holds.
    pub(crate) fn open(dir: &Path, max_bytes: u64, max_object_bytes: u64) -> Result<Disk, CacheError> {
        let err = |source| CacheError::Disk {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(err)?;
        let disk = Disk {
            dir: dir.to_path_buf(),
            max_bytes,
            max_object_bytes,
            index: Mutex::new(Index::default()),
        };
        let mut found: Vec<(u64, Meta, PathBuf, u64)> = Vec::new();
        for item in fs::read_dir(dir).map_err(err)?.flatten() {
            let path = item.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("ent") => match disk.read_meta(&path) {
                    Some((meta, size)) => found.push((meta.stored_ms, meta, path, size)),
                    None => remove_file(&path),
                },
                Some("tmp") => remove_file(&path),
                _ => {}
            }
        }
        found.sort_by_key(|f| f.0);
        let mut index = disk.index.lock();
        for (_, meta, file, size) in found {
            let vary = parse_names(&meta.vary);
            disk.add(&mut index, meta.key, meta.primary, vary, meta.host, meta.path, file, size);
        }
        disk.shrink(&mut index);
        drop(index);
        Ok(disk)
    }

    /// The varying headers recorded for a primary key.
    pub(crate) fn mark(&self, primary: &str) -> Option<Vec<HeaderName>> {
        self.index.lock().marks.get(primary).cloned()
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.index.lock().entries.contains_key(key)
    }

    /// Reads and verifies an entry (blocking); a bad file is deleted.
    pub(crate) fn load(&self, key: &str) -> Option<Stored> {
        let file = self.index.lock().entries.get(key)?.file.clone();
        let stored = self.read_entry(&file).filter(|s| s.key == key);
        if stored.is_none() {
            self.remove(key);
        }
        stored
    }

    /// Writes an entry to a temporary file (blocking); `commit` makes it visible.
    pub(crate) fn prepare(&self, stored: &Stored) -> Option<Pending> {
        let meta = Meta {
            key: stored.key.clone(),
            primary: stored.primary.clone(),
            host: stored.host.clone(),
            path: stored.path.clone(),
            vary: stored.vary.iter().map(|n| n.as_str().to_string()).collect(),
            status: stored.status.as_u16(),
            headers: stored
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            stored_ms: stored.stored_ms,
            ttl_ms: stored.life.ttl.as_millis() as u64,
            swr_ms: stored.life.stale_while_revalidate.as_millis() as u64,
            sie_ms: stored.life.stale_if_error.as_millis() as u64,
        };
        let meta = serde_json::to_vec(&meta).ok()?;
        let mut hash = Sha256::new();
        hash.update(&meta);
        hash.update(&stored.body);
        let mut out = Vec::with_capacity(HEAD_LEN + meta.len() + stored.body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&(stored.body.len() as u64).to_le_bytes());
        out.extend_from_slice(&hash.finalize());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&stored.body);
        let name = file_name(&stored.key);
        let file = self.dir.join(format!("{name}.ent"));
        let tmp = self.dir.join(format!("{name}.{}.tmp", std::process::id()));
        if let Err(e) = fs::write(&tmp, &out) {
            tracing::warn!(error = %e, "edge cache: disk write failed");
            remove_file(&tmp);
            return None;
        }
        Some(Pending {
            tmp,
            file,
            key: stored.key.clone(),
            primary: stored.primary.clone(),
            vary: stored.vary.clone(),
            host: stored.host.clone(),
            path: stored.path.clone(),
            size: out.len() as u64,
        })
    }

    /// Renames a prepared entry into place and indexes it.
    pub(crate) fn commit(&self, p: Pending) {
        if fs::rename(&p.tmp, &p.file).is_err() {
            remove_file(&p.tmp);
            return;
        }
        let mut index = self.index.lock();
        if let Some(old) = index.entries.remove(&p.key) {
            index.order.remove(&old.order);
            index.total = index.total.saturating_sub(old.size);
        }
        self.add(&mut index, p.key, p.primary, p.vary, p.host, p.path, p.file, p.size);
        self.shrink(&mut index);
    }

    /// Drops a prepared entry that must not become visible.
    pub(crate) fn discard(&self, p: Pending) {
        remove_file(&p.tmp);
    }

    pub(crate) fn remove(&self, key: &str) {
        drop_entry(&mut self.index.lock(), key);
    }

    /// Removes the entries matching `patterns` (through the index); returns their keys.
    pub(crate) fn invalidate(&self, patterns: &Patterns) -> Vec<String> {
        let mut index = self.index.lock();
        let gone: Vec<String> = index
            .entries
            .iter()
            .filter(|(_, e)| patterns.matches(&e.host, &e.path))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &gone {
            drop_entry(&mut index, key);
        }
        gone
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.index.lock().total
    }

    pub(crate) fn entries(&self) -> u64 {
        self.index.lock().entries.len() as u64
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        index: &mut Index,
        key: String,
        primary: String,
        vary: Vec<HeaderName>,
        host: String,
        path: String,
        file: PathBuf,
        size: u64,
    ) {
        index.next += 1;
        let order = index.next;
        if !vary.is_empty() {
            index.marks.insert(primary, vary);
        }
        index.order.insert(order, key.clone());
        index.total += size;
        index.entries.insert(
            key,
            DiskEntry {
                file,
                size,
                host,
                path,
                order,
            },
        );
    }

    /// Deletes the oldest entries until the tier is within its bound.
    fn shrink(&self, index: &mut Index) {
        while index.total > self.max_bytes {
            let Some((_, key)) = index.order.first_key_value() else { break };
            let key = key.clone();
            drop_entry(index, &key);
        }
    }

    /// Reads the head and metadata of a file; `None` when it is not a sound entry.
    fn read_meta(&self, file: &Path) -> Option<(Meta, u64)> {
        let mut f = fs::File::open(file).ok()?;
        let size = f.metadata().ok()?.len();
        let mut head = [0u8; HEAD_LEN];
        f.read_exact(&mut head).ok()?;
        let (meta_len, body_len) = lengths(&head, self.max_object_bytes)?;
        if size != HEAD_LEN as u64 + meta_len + body_len {
            return None;
        }
        let mut meta = vec![0u8; meta_len as usize];
        f.read_exact(&mut meta).ok()?;
        Some((serde_json::from_slice(&meta).ok()?, size))
    }

    /// Reads a whole entry and checks its checksum.
    fn read_entry(&self, file: &Path) -> Option<Stored> {
        let bytes = fs::read(file).ok()?;
        let head: &[u8; HEAD_LEN] = bytes.get(..HEAD_LEN)?.try_into().ok()?;
        let (meta_len, body_len) = lengths(head, self.max_object_bytes)?;
        if bytes.len() as u64 != HEAD_LEN as u64 + meta_len + body_len {
            return None;
        }
        let rest = &bytes[HEAD_LEN..];
        if Sha256::digest(rest).as_slice() != &head[16..48] {
            return None;
        }
        let (meta, body) = rest.split_at(meta_len as usize);
        let meta: Meta = serde_json::from_slice(meta).ok()?;
        stored_from(meta, Bytes::copy_from_slice(body))
    }
}

/// Removes an entry from the index and deletes its file.
fn drop_entry(index: &mut Index, key: &str) {
    if let Some(entry) = index.entries.remove(key) {
        index.order.remove(&entry.order);
        index.total = index.total.saturating_sub(entry.size);
        remove_file(&entry.file);
    }
}

/// Meta and body lengths from a file head, bounded.
fn lengths(head: &[u8; HEAD_LEN], max_object_bytes: u64) -> Option<(u64, u64)> {
    if &head[..4] != MAGIC {
        return None;
    }
    let meta_len = u32::from_le_bytes(head[4..8].try_into().ok()?) as u64;
    let body_len = u64::from_le_bytes(head[8..16].try_into().ok()?);
    (meta_len <= MAX_META_BYTES && body_len <= max_object_bytes).then_some((meta_len, body_len))
}

fn stored_from(meta: Meta, body: Bytes) -> Option<Stored> {
    let mut headers = HeaderMap::new();
    for (name, value) in meta.headers {
        headers.append(HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_bytes(&value).ok()?);
    }
    Some(Stored {
        key: meta.key,
        primary: meta.primary,
        host: meta.host,
        path: meta.path,
        vary: parse_names(&meta.vary),
        status: StatusCode::from_u16(meta.status).ok()?,
        headers,
        body,
        stored_ms: meta.stored_ms,
        life: Lifetime {
            ttl: Duration::from_millis(meta.ttl_ms),
            stale_while_revalidate: Duration::from_millis(meta.swr_ms),
            stale_if_error: Duration::from_millis(meta.sie_ms),
        },
        negative: false,
        gzip: None,
    })
}

fn parse_names(names: &[String]) -> Vec<HeaderName> {
    names.iter().filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()).collect()
}

/// A file name from the key's hash (keys hold any bytes; names must not).
fn file_name(key: &str) -> String {
    Sha256::digest(key.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn remove_file(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, file = %path.display(), "edge cache: cannot remove file");
    }
}
