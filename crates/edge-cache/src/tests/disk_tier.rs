//! The disk tier: entries survive a restart, corrupt files are ignored and removed, and
//! the tier stays within its byte bound.

use super::*;
use crate::CacheConfig;

fn disk_cache(dir: &std::path::Path, max_disk_bytes: u64) -> EdgeCache {
    cache_with(CacheConfig {
        max_memory_bytes: 1 << 20,
        max_object_bytes: 64 << 10,
        disk_dir: Some(dir.to_path_buf()),
        max_disk_bytes,
        ..CacheConfig::default()
    })
}

fn entry_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ent"))
        .collect()
}

#[tokio::test]
async fn entries_are_read_back_from_disk_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = rule();
    let origin = Origin::ok(
        &[("cache-control", "max-age=600"), ("etag", "\"e\""), ("content-type", "text/plain")],
        "on disk",
    );
    {
        let cache = disk_cache(dir.path(), 1 << 20);
        serve(&cache, &rule, &get("/d", &[]), &origin).await;
        assert!(eventually(|| cache.stats().disk_entries == 1).await);
    }
    let restarted = disk_cache(dir.path(), 1 << 20);
    assert_eq!(restarted.stats().disk_entries, 1);
    let got = serve(&restarted, &rule, &get("/d", &[]), &origin).await;
    assert_eq!((got.outcome, got.body.as_ref()), (Outcome::Hit, b"on disk".as_ref()));
    assert_eq!(got.header("etag"), Some("\"e\""));
    assert_eq!(origin.calls(), 1);
    assert_eq!(restarted.invalidate(None, &["/d".into()]), 1);
    assert!(entry_files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_corrupt_entry_file_is_ignored_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=600")], "precious bytes");
    {
        let cache = disk_cache(dir.path(), 1 << 20);
        serve(&cache, &rule, &get("/a", &[]), &origin).await;
        serve(&cache, &rule, &get("/b", &[]), &origin).await;
        assert!(eventually(|| cache.stats().disk_entries == 2).await);
    }
    let files = entry_files(dir.path());
    // One file loses its tail (indexing refuses it), the other has a flipped body byte
    // (the checksum refuses it when read).
    let truncated = std::fs::read(&files[0]).expect("read");
    std::fs::write(&files[0], &truncated[..truncated.len() - 3]).expect("write");
    let mut flipped = std::fs::read(&files[1]).expect("read");
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    std::fs::write(&files[1], &flipped).expect("write");
    std::fs::write(dir.path().join("junk.ent"), b"not an entry").expect("write");
    let restarted = disk_cache(dir.path(), 1 << 20);
    assert_eq!(restarted.stats().disk_entries, 1);
    for path in ["/a", "/b"] {
        let got = serve(&restarted, &rule, &get(path, &[]), &origin).await;
        assert_eq!((got.outcome, got.body.as_ref()), (Outcome::Miss, b"precious bytes".as_ref()));
    }
    assert_eq!(origin.calls(), 4);
}

#[tokio::test]
async fn the_disk_tier_stays_within_its_byte_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = rule();
    let cache = disk_cache(dir.path(), 40 << 10);
    let origin = Origin::ok(&[("cache-control", "max-age=600")], &"q".repeat(8 << 10));
    for i in 0..20 {
        serve(&cache, &rule, &get(&format!("/f/{i}"), &[]), &origin).await;
    }
    assert!(eventually(|| cache.stats().disk_entries >= 3).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = cache.stats();
    assert!(stats.disk_bytes <= 40 << 10, "{stats:?}");
    let on_disk: u64 = entry_files(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    assert!(on_disk <= 40 << 10, "{on_disk}");
}
