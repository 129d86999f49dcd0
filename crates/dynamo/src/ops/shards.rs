//! The shards of a table's stream: consecutive ranges of change-log sequence
//! numbers after the stream was enabled. Shard `k` covers `SHARD_BASE * 2^k`
//! sequence numbers, so a stream starts with small shards (consumers see
//! shards close and children open early) and the shard count only grows with
//! the logarithm of the log. The shard holding the next sequence number is
//! open; every earlier one is closed, as is every shard of a disabled stream.
//!
//! Shard ids embed the first sequence number zero-padded, so they sort
//! lexically in creation order, and each shard's parent is the one before it.

use crate::table::TableDef;

/// Sequence numbers in the first shard; each next shard doubles.
pub(crate) const SHARD_BASE: u64 = 128;
/// Highest shard index (its span would overflow a u64 beyond this).
const MAX_INDEX: u32 = 48;

/// One shard of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: u32,
    /// First sequence number the shard covers.
    pub first: u64,
    /// Last sequence number it covers; `None` while it is open.
    pub last: Option<u64>,
    /// Its last sequence number once closed (the nominal end while open).
    pub end: u64,
}

/// The shards of one stream, given the log's last sequence number.
pub(crate) struct Shards {
    /// Sequence number just before the stream's first.
    start: u64,
    /// Last sequence number of a disabled stream.
    ended_at: Option<u64>,
    /// Index of the newest shard.
    newest: u32,
    suffix: String,
}

/// Offset (from the stream start) of the first sequence number of shard `k`.
fn first_offset(k: u32) -> u64 {
    SHARD_BASE.saturating_mul((1u64 << k.min(MAX_INDEX)) - 1)
}

/// The shard index holding the sequence number at `offset` (0-based) from the stream start.
fn index_of(offset: u64) -> u32 {
    (offset / SHARD_BASE + 1).ilog2().min(MAX_INDEX)
}

impl Shards {
    pub fn of(def: &TableDef, last_seq: u64) -> Self {
        let start = def.stream_start_seq;
        let ended_at = def.stream_end_seq.map(|end| end.saturating_sub(1).max(start));
        // The newest shard holds the next sequence number (or the last one of a disabled stream).
        let newest = match ended_at {
            Some(last) if last > start => index_of(last - start - 1),
            Some(_) => 0,
            None => index_of(last_seq.max(start) - start),
        };
        let suffix = def.stream_label.clone().unwrap_or_default().replace([':', '.', '-'], "");
        Self {
            start,
            ended_at,
            newest,
            suffix,
        }
    }

    /// Shard `k` (which must be at most the newest).
    pub fn shard(&self, k: u32) -> Shard {
        let first = self.start.saturating_add(first_offset(k)).saturating_add(1);
        let nominal_end = self.start.saturating_add(first_offset(k + 1));
        let closed = self.ended_at.is_some() || k < self.newest;
        let end = match self.ended_at {
            Some(last) => nominal_end.min(last),
            None => nominal_end,
        };
        Shard {
            index: k,
            first,
            last: closed.then_some(end),
            end,
        }
    }

    pub fn newest(&self) -> u32 {
        self.newest
    }

    pub fn id(&self, shard: &Shard) -> String {
        format!("shardId-{:020}-{}", shard.first, self.suffix)
    }

    /// The shard starting at this sequence number, if the stream has it.
    pub fn starting_at(&self, first: u64) -> Option<Shard> {
        let k = index_of(first.checked_sub(self.start.checked_add(1)?)?);
        let shard = self.shard(k);
        (k <= self.newest && shard.first == first).then_some(shard)
    }

    /// The shard with this id, if the stream has it.
    pub fn find(&self, id: &str) -> Option<Shard> {
        let first: u64 = id.strip_prefix("shardId-")?.split_once('-')?.0.parse().ok()?;
        self.starting_at(first).filter(|shard| self.id(shard) == id)
    }

    /// Index of the first shard whose id sorts after `id` (`newest + 1`: none).
    pub fn first_after(&self, id: &str) -> u32 {
        let (mut low, mut high) = (0, self.newest + 1);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.id(&self.shard(mid)).as_str() > id {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(start: u64, end: Option<u64>) -> TableDef {
        let mut def: TableDef = serde_json::from_value(serde_json::json!({
            "name": "t", "attribute_definitions": [], "key_schema": [],
            "billing_mode": "PAY_PER_REQUEST", "created_ms": 0, "region": "r"
        }))
        .unwrap();
        def.stream_label = Some("2026-01-01T00:00:00.000".into());
        def.stream_start_seq = start;
        def.stream_end_seq = end;
        def
    }

    #[test]
    fn shards_double_and_tile_the_log_after_the_stream_start() {
        let shards = Shards::of(&stream(1000, None), 1000 + 128 + 256 + 1);
        assert_eq!(shards.newest(), 2);
        let all: Vec<Shard> = (0..=2).map(|k| shards.shard(k)).collect();
        assert_eq!((all[0].first, all[0].last), (1001, Some(1128)));
        assert_eq!((all[1].first, all[1].last), (1129, Some(1384)));
        assert_eq!((all[2].first, all[2].last), (1385, None));
        let ids: Vec<String> = all.iter().map(|s| shards.id(s)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "ids sort in creation order");
        assert_eq!(shards.find(&ids[1]), Some(all[1].clone()));
        assert_eq!(shards.find("shardId-00000000000000001129-other"), None);
        assert_eq!(shards.first_after(&ids[0]), 1);
        assert_eq!(shards.first_after(&ids[2]), 3);
        assert_eq!(shards.first_after("shardId-0"), 0);
    }

    #[test]
    fn a_new_stream_has_one_open_shard_and_a_disabled_one_closes_it() {
        let open = Shards::of(&stream(50, None), 50);
        assert_eq!((open.newest(), open.shard(0).last), (0, None));
        let closed = Shards::of(&stream(50, Some(60)), 500);
        assert_eq!((closed.newest(), closed.shard(0).last), (0, Some(59)));
        let empty = Shards::of(&stream(50, Some(51)), 500);
        assert_eq!(empty.shard(0).last, Some(50));
    }

    #[test]
    fn shard_arithmetic_saturates_at_the_top_of_the_log() {
        let shards = Shards::of(&stream(0, None), u64::MAX - 1);
        assert!(shards.newest() <= MAX_INDEX);
        let _ = shards.shard(shards.newest());
    }
}
