//! The memory tier: a quick_cache (S3-FIFO-like eviction: one-hit wonders leave before
//! popular objects, which plain LRU does not do) bounded in bytes by a weighter.
//!
//! A primary key holds either the object itself or, when the response varies, a mark
//! listing the varying headers; the objects then sit under their variant keys.

use crate::config::CacheError;
use crate::invalidation::Patterns;
use crate::object::Stored;
use http::HeaderName;
use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, OptionsBuilder, Weighter};
use std::collections::hash_map::RandomState;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a key holds.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Object(Arc<Stored>),
    Vary(Arc<VaryMark>),
}

/// The varying headers of a primary key's responses.
#[derive(Debug)]
pub(crate) struct VaryMark {
    pub host: String,
    pub path: String,
    pub names: Vec<HeaderName>,
}

#[derive(Debug, Clone)]
struct ByteWeighter;

impl Weighter<String, Slot> for ByteWeighter {
    fn weight(&self, key: &String, val: &Slot) -> u64 {
        let own = match val {
            Slot::Object(o) => o.weight(),
            Slot::Vary(m) => 64 + m.names.iter().map(|n| n.as_str().len() as u64).sum::<u64>(),
        };
        (key.len() as u64 + own).max(1)
    }
}

/// Counts evictions (not removals or replacements).
#[derive(Debug, Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<String, Slot> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: String, _val: Slot) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct Memory {
    cache: Cache<String, Slot, ByteWeighter, RandomState, CountEvictions>,
    evictions: Arc<AtomicU64>,
}

impl Memory {
    /// A tier of `max_bytes`, sharded so that every shard still holds several of the
    /// largest objects (quick_cache refuses an item larger than its shard).
    pub(crate) fn new(max_bytes: u64, max_object_bytes: u64) -> Result<Memory, CacheError> {
        let shards = (max_bytes / max_object_bytes.max(1).saturating_mul(4)).clamp(1, 16) as usize;
        let items = (max_bytes / 4096).clamp(64, 1 << 20) as usize;
        let evictions = Arc::new(AtomicU64::new(0));
        let mut options = OptionsBuilder::new();
        options
            .weight_capacity(max_bytes.max(1))
            .estimated_items_capacity(items)
            .shards(shards);
        let options = options.build().map_err(|e| CacheError::Config(format!("memory tier: {e:?}")))?;
        let cache = Cache::with_options(options, ByteWeighter, RandomState::new(), CountEvictions(evictions.clone()));
        Ok(Memory { cache, evictions })
    }

    pub(crate) fn get(&self, key: &str) -> Option<Slot> {
        self.cache.get(key)
    }

    pub(crate) fn insert(&self, key: String, slot: Slot) {
        self.cache.insert(key, slot);
    }

    pub(crate) fn remove(&self, key: &str) {
        self.cache.remove(key);
    }

    /// Removes the entries matching `patterns`; returns the keys of the objects removed.
    pub(crate) fn invalidate(&self, patterns: &Patterns) -> Vec<String> {
        let removed = parking_lot::Mutex::new(Vec::new());
        self.cache.retain(|key, slot| {
            let (host, path, object) = match slot {
                Slot::Object(o) => (&o.host, &o.path, true),
                Slot::Vary(m) => (&m.host, &m.path, false),
            };
            let hit = patterns.matches(host, path);
            if hit && object {
                removed.lock().push(key.clone());
            }
            !hit
        });
        removed.into_inner()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.cache.weight()
    }

    pub(crate) fn entries(&self) -> u64 {
        self.cache.len() as u64
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}
