//! The counts behind one peer's backlog, kept as the log grows and the
//! peer's cursor moves instead of being recomputed: every waiting change that
//! routes to the peer (or to no region at all), oldest first, and their sums
//! in total and per bucket/table. Adding a routed page and moving the cursor
//! touch only the changes concerned; reading the counts costs the number of
//! buckets and tables waiting. What the log says and how it routes is
//! [`crate::backlog`]'s concern; this is plain bookkeeping.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::backlog::{Backlog, Pending, Waiting};

/// Waiting changes tracked one by one at most (32 bytes each, so 32 MiB per
/// peer). Beyond it counting pauses until the peer catches up, and the
/// backlog says it is larger than shown (`truncated`).
pub const TRACKED: usize = 1 << 20;
/// A drained tally gives back memory it grew beyond this many changes.
const KEEP_CAPACITY: usize = 1 << 14;

/// One change of a routed page of the log, as the tally keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub seq: u64,
    /// Commit time at this region (ms).
    pub ms: u64,
    pub bytes: u64,
    /// The bucket or table it ships to; `None` when no region can take it.
    pub resource: Option<String>,
}

/// A page of the log after the tally's position, routed for the peer.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Where reading started (the page holds the entries after it).
    pub after: u64,
    /// The last entry read: the tally has seen everything up to it.
    pub through: u64,
    /// Entries read (routed or not).
    pub read: usize,
    /// The entries that wait for the peer, oldest first.
    pub routed: Vec<Routed>,
    /// The page holds a change of what routes where (a bucket's rules, the
    /// bucket registry, a table's replicas).
    pub rerouting: bool,
}

/// A waiting change, compact: its resource is an index into the tally's names.
#[derive(Debug, Clone, Copy)]
struct Counted {
    seq: u64,
    ms: u64,
    bytes: u64,
    resource: Option<u32>,
}

#[derive(Debug, Default)]
pub struct Tally {
    /// Every entry up to here has been routed and, if it waits, counted.
    counted_through: u64,
    /// The peer's durable cursor as last seen: nothing up to it is counted.
    cursor: u64,
    waiting: VecDeque<Counted>,
    changes: u64,
    bytes: u64,
    unroutable: u64,
    /// Resource names, and what waits for each (same index).
    names: Vec<String>,
    pending: Vec<Pending>,
    ids: HashMap<String, u32>,
}

impl Tally {
    /// An empty tally for a peer whose cursor stands at `cursor`.
    pub fn at(cursor: u64) -> Self {
        Self {
            counted_through: cursor,
            cursor,
            ..Default::default()
        }
    }

    pub fn counted_through(&self) -> u64 {
        self.counted_through
    }

    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Whether counting must pause until the peer catches up.
    pub fn is_full(&self) -> bool {
        self.waiting.len() >= TRACKED
    }

    /// Whether anything waits (unroutable changes included).
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// What waits, in changes and bytes (for sizing batches).
    pub fn totals(&self) -> (u64, u64) {
        (self.changes, self.bytes)
    }

    /// Counts a page read after what was counted when reading started.
    /// Entries counted meanwhile (by another reader of the log) or passed by
    /// the cursor are left out; a page that starts beyond what is counted
    /// (counting was reset meanwhile) is dropped. Returns whether changes
    /// counted before the page may now route differently (a recount is due).
    pub fn add(&mut self, page: Page) -> bool {
        if page.after > self.counted_through {
            return false;
        }
        let stale = page.rerouting && self.has_waiting();
        let floor = self.counted_through;
        for routed in page.routed.into_iter().filter(|r| r.seq > floor) {
            self.push(routed);
        }
        self.counted_through = self.counted_through.max(page.through);
        stale
    }

    fn push(&mut self, routed: Routed) {
        let resource = routed.resource.map(|name| self.id(name));
        match resource {
            Some(id) => {
                let slot = &mut self.pending[id as usize];
                slot.changes += 1;
                slot.bytes += routed.bytes;
                self.changes += 1;
                self.bytes += routed.bytes;
            }
            None => self.unroutable += 1,
        }
        self.waiting.push_back(Counted {
            seq: routed.seq,
            ms: routed.ms,
            bytes: routed.bytes,
            resource,
        });
    }

    fn id(&mut self, name: String) -> u32 {
        if let Some(id) = self.ids.get(&name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.pending.push(Pending::default());
        self.ids.insert(name, id);
        id
    }

    /// The peer's cursor moved to `cursor`: what it covers no longer waits.
    pub fn advance(&mut self, cursor: u64) {
        if cursor <= self.cursor {
            return;
        }
        self.cursor = cursor;
        self.counted_through = self.counted_through.max(cursor);
        while let Some(front) = self.waiting.front().copied().filter(|c| c.seq <= cursor) {
            self.waiting.pop_front();
            self.remove(front);
        }
        if self.waiting.is_empty() && self.waiting.capacity() > KEEP_CAPACITY {
            self.waiting.shrink_to(KEEP_CAPACITY);
        }
    }

    fn remove(&mut self, counted: Counted) {
        match counted.resource {
            Some(id) => {
                let slot = &mut self.pending[id as usize];
                slot.changes -= 1;
                slot.bytes -= counted.bytes;
                self.changes -= 1;
                self.bytes -= counted.bytes;
            }
            None => self.unroutable -= 1,
        }
    }

    /// The backlog as of `now_ms`, the log ending at `last_seq`.
    pub fn backlog(&self, last_seq: u64, now_ms: u64) -> Backlog {
        let by_resource: BTreeMap<String, Pending> = self
            .names
            .iter()
            .zip(&self.pending)
            .filter(|(_, p)| p.changes > 0)
            .map(|(name, p)| (name.clone(), p.clone()))
            .collect();
        Backlog {
            cursor: self.cursor,
            last_seq,
            changes: self.changes,
            bytes: self.bytes,
            oldest_age_seconds: self.waiting.front().map_or(0.0, |c| now_ms.saturating_sub(c.ms) as f64 / 1000.0),
            unroutable: self.unroutable,
            truncated: self.counted_through < last_seq,
            by_resource,
        }
    }

    /// The first `detail` changes that ship, oldest first, as a heartbeat lists them.
    pub fn waiting(&self, detail: usize) -> Vec<Waiting> {
        self.waiting
            .iter()
            .filter(|c| c.resource.is_some())
            .take(detail)
            .map(|c| [c.seq, c.bytes, c.ms])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(seq: u64, bytes: u64, resource: Option<&str>) -> Routed {
        Routed {
            seq,
            ms: 1_000 + seq,
            bytes,
            resource: resource.map(str::to_string),
        }
    }

    fn page(through: u64, routed: Vec<Routed>) -> Page {
        Page {
            after: 0,
            through,
            read: through as usize,
            routed,
            rerouting: false,
        }
    }

    #[test]
    fn counts_follow_what_is_added_and_what_the_cursor_passes() {
        let mut t = Tally::at(0);
        t.add(page(
            4,
            vec![routed(1, 10, Some("bucket/a")), routed(2, 0, None), routed(4, 5, Some("table/t"))],
        ));
        let b = t.backlog(4, 2_000);
        assert_eq!((b.changes, b.bytes, b.unroutable, b.truncated), (2, 15, 1, false));
        assert_eq!(b.by_resource.len(), 2);
        assert!((b.oldest_age_seconds - 0.999).abs() < 1e-9, "{}", b.oldest_age_seconds);
        t.advance(2);
        let b = t.backlog(4, 2_000);
        assert_eq!((b.cursor, b.changes, b.bytes, b.unroutable), (2, 1, 5, 0));
        assert_eq!(
            b.by_resource.keys().collect::<Vec<_>>(),
            ["table/t"],
            "a drained resource is left out"
        );
        assert_eq!(t.waiting(10), vec![[4, 5, 1_004]]);
    }

    #[test]
    fn entries_the_cursor_passed_are_not_counted_and_nothing_goes_back() {
        let mut t = Tally::at(0);
        t.advance(3);
        t.add(page(5, vec![routed(2, 1, Some("r")), routed(5, 1, Some("r"))]));
        assert_eq!(t.backlog(5, 0).changes, 1);
        t.advance(1);
        assert_eq!((t.cursor(), t.counted_through()), (3, 5));
    }

    #[test]
    fn a_page_read_before_another_reader_counted_adds_only_what_is_new() {
        let mut t = Tally::at(0);
        t.add(page(2, vec![routed(1, 1, Some("r")), routed(2, 1, Some("r"))]));
        t.add(page(
            3,
            vec![routed(1, 1, Some("r")), routed(2, 1, Some("r")), routed(3, 1, Some("r"))],
        ));
        assert_eq!((t.backlog(3, 0).changes, t.counted_through()), (3, 3));
        let beyond = Page {
            after: 5,
            ..page(6, vec![routed(6, 1, Some("r"))])
        };
        t.add(beyond);
        assert_eq!((t.backlog(6, 0).changes, t.counted_through()), (3, 3), "a gap is never skipped");
    }

    #[test]
    fn an_uncounted_tail_is_reported_as_truncated() {
        let mut t = Tally::at(0);
        t.add(page(3, vec![routed(3, 1, Some("r"))]));
        assert!(t.backlog(9, 0).truncated);
        assert!(!t.backlog(3, 0).truncated);
    }

    #[test]
    fn a_rerouting_page_asks_for_a_recount_only_when_something_waits() {
        let mut t = Tally::at(0);
        let rerouting = |through| Page {
            rerouting: true,
            ..page(through, vec![])
        };
        assert!(!t.add(rerouting(1)), "nothing counted yet");
        t.add(page(2, vec![routed(2, 1, Some("r"))]));
        assert!(t.add(rerouting(3)));
    }
}
