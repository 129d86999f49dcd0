//! Free space on the data volume, and the reserve that keeps a full disk from
//! breaking the store.
//!
//! A commit of the metadata database that fails for want of space leaves redb
//! refusing every later operation until it is reopened (see `db.rs`), so the
//! store keeps a reserve: when the volume's free space falls below
//! `min_free_bytes` (default [`DEFAULT_MIN_FREE_BYTES`]) every write is refused
//! with [`StoreError::InsufficientStorage`] before it touches the disk — body
//! files as they are written, and each group commit before it begins — while
//! reads go on. Writes succeed again as soon as space is freed; nothing needs
//! a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;

/// Free space a volume keeps by default: room for a full group commit (up to
/// 512 inline bodies of 64 KiB) with copy-on-write pages to spare.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// The reserve of one data directory's volume.
#[derive(Debug)]
pub struct DiskSpace {
    dir: PathBuf,
    min_free: AtomicU64,
}

impl DiskSpace {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            min_free: AtomicU64::new(DEFAULT_MIN_FREE_BYTES),
        }
    }

    /// Sets the reserve (0 turns the check off; a full disk then surfaces as
    /// the write's own out-of-space error).
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.min_free.store(bytes, Ordering::Relaxed);
    }

    pub fn min_free_bytes(&self) -> u64 {
        self.min_free.load(Ordering::Relaxed)
    }

    /// Bytes an unprivileged writer can still use on the volume.
    pub fn free_bytes(&self) -> std::io::Result<u64> {
        let st = rustix::fs::statvfs(&self.dir)?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Refuses a write when the volume is below its reserve. A volume whose
    /// free space cannot be read is not refused (the write reports its own error).
    pub fn check(&self) -> Result<(), StoreError> {
        let min = self.min_free_bytes();
        if min == 0 {
            return Ok(());
        }
        match self.free_bytes() {
            Ok(free) if free < min => Err(StoreError::InsufficientStorage(format!(
                "the data volume has {} free, below its reserve of {}; the write was not stored \
                 (free space on the volume to resume writes)",
                mib(free),
                mib(min)
            ))),
            _ => Ok(()),
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// True for the errors of a full volume or an exhausted quota.
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_above_the_free_space_refuses_and_zero_turns_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let space = DiskSpace::new(dir.path());
        let free = space.free_bytes().unwrap();
        assert!(free > 0);
        space.set_min_free_bytes(free.saturating_mul(2).max(1));
        let err = space.check().unwrap_err();
        assert!(
            matches!(err, StoreError::InsufficientStorage(ref m) if m.contains("below its reserve")),
            "{err}"
        );
        space.set_min_free_bytes(0);
        space.check().unwrap();
        space.set_min_free_bytes(1);
        space.check().unwrap();
    }

    #[test]
    fn out_of_space_errors_are_recognised() {
        assert!(is_out_of_space(&std::io::Error::from(std::io::ErrorKind::StorageFull)));
        assert!(is_out_of_space(&std::io::Error::from_raw_os_error(28))); // ENOSPC
        assert!(!is_out_of_space(&std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
}
