//! The writes of one group-commit batch, kept in memory until the batch
//! commits, and the undo log that makes each write closure all or nothing
//! inside that shared batch.
//!
//! Reads inside the batch see the backend's last commit with the overlay laid
//! over it ([`Overlay::get`], [`Overlay::merge`]). Every write a closure makes
//! records what the overlay held for that key before (not what the backend
//! holds, which never changes during the batch), so taking a failed closure
//! back costs no read. When the closure returns an error or panics, the
//! writer replays its log backwards and the other closures of the batch still
//! commit.
//!
//! The log is bounded: a closure whose log passes [`MAX_UNDO_BYTES`] (one that
//! overwrites, many times over, large values written earlier in the same
//! batch) keeps going without a log, and if it then fails, the whole batch is
//! refused instead — every caller of the batch gets the error, nothing is
//! committed.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;

use crate::error::StoreError;
use crate::kv::{Entry, KvIter, Table};

/// Bytes of keys and replaced values one closure's log may hold (1 MiB in
/// unit tests, to test the overflow cheaply).
pub(crate) const MAX_UNDO_BYTES: usize = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// Accounted per entry on top of its bytes (the entry itself).
const ENTRY_OVERHEAD: usize = 64;

/// A key's state in the overlay: a new value, or removed.
type Pending = Option<Vec<u8>>;

/// One undo entry: the key, and what the overlay held for it before
/// (`None`: the overlay did not have the key).
type Restore = (Table, Vec<u8>, Option<Pending>);

#[derive(Default)]
pub(crate) struct Overlay {
    tables: BTreeMap<Table, BTreeMap<Vec<u8>, Pending>>,
    undo: Vec<Restore>,
    undo_bytes: usize,
    overflowed: bool,
}

impl Overlay {
    /// What the overlay says of a key: `None` when it has not touched it.
    pub(crate) fn get(&self, table: Table, key: &[u8]) -> Option<&Pending> {
        self.tables.get(&table)?.get(key)
    }

    pub(crate) fn put(&mut self, table: Table, key: &[u8], value: &[u8]) {
        self.set(table, key, Some(value.to_vec()));
    }

    pub(crate) fn delete(&mut self, table: Table, key: &[u8]) {
        self.set(table, key, None);
    }

    fn set(&mut self, table: Table, key: &[u8], value: Pending) {
        let old = self.tables.entry(table).or_default().insert(key.to_vec(), value);
        self.record(table, key, old);
    }

    fn record(&mut self, table: Table, key: &[u8], old: Option<Pending>) {
        if self.overflowed {
            return;
        }
        let old_len = old.as_ref().and_then(|o| o.as_ref()).map_or(0, Vec::len);
        self.undo_bytes += ENTRY_OVERHEAD + key.len() + old_len;
        if self.undo_bytes > MAX_UNDO_BYTES {
            self.overflowed = true;
            self.undo = Vec::new();
            return;
        }
        self.undo.push((table, key.to_vec(), old));
    }

    /// Starts the log of the next closure.
    pub(crate) fn mark(&mut self) {
        self.undo.clear();
        self.undo_bytes = 0;
        self.overflowed = false;
    }

    /// Undoes the running closure's writes, newest first. Fails when the log
    /// overflowed: the overlay then holds part of the closure and the batch
    /// must not be committed.
    pub(crate) fn roll_back(&mut self) -> Result<(), StoreError> {
        if self.overflowed {
            return Err(StoreError::Db(format!(
                "a failed write replaced more than {} MiB; its batch was refused as a whole",
                MAX_UNDO_BYTES >> 20
            )));
        }
        for (table, key, old) in std::mem::take(&mut self.undo).into_iter().rev() {
            let writes = self.tables.entry(table).or_default();
            match old {
                Some(value) => writes.insert(key, value),
                None => writes.remove(&key),
            };
        }
        self.mark();
        Ok(())
    }

    /// The batch's writes, table by table, for [`crate::kv::Batch::apply`].
    pub(crate) fn into_writes(self) -> impl Iterator<Item = (Table, Vec<(Vec<u8>, Pending)>)> {
        self.tables
            .into_iter()
            .map(|(table, writes)| (table, writes.into_iter().collect::<Vec<_>>()))
            .filter(|(_, writes)| !writes.is_empty())
    }

    /// `base` (the backend's entries of `[from, to)`) with the overlay's
    /// writes of that range laid over it, in the same order.
    pub(crate) fn merge<'a>(&'a self, table: Table, base: KvIter<'a>, from: &[u8], to: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        let Some(writes) = self.tables.get(&table).filter(|w| !w.is_empty()) else {
            return base;
        };
        let upper = to.map_or(Bound::Unbounded, |t| Bound::Excluded(t.to_vec()));
        let range = writes.range::<Vec<u8>, _>((Bound::Included(from.to_vec()), upper));
        let pending: PendingIter<'a> = if reverse { Box::new(range.rev()) } else { Box::new(range) };
        Box::new(Merged {
            base: base.peekable(),
            pending: pending.peekable(),
            reverse,
        })
    }
}

/// The overlay's writes of a range, in order.
type PendingIter<'a> = Box<dyn Iterator<Item = (&'a Vec<u8>, &'a Pending)> + 'a>;

/// Two ordered streams of entries as one; the overlay's entry wins a tie,
/// and a removed key is left out.
struct Merged<'a> {
    base: Peekable<KvIter<'a>>,
    pending: Peekable<PendingIter<'a>>,
    reverse: bool,
}

impl Iterator for Merged<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_pending = match (self.base.peek(), self.pending.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return self.base.next(),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(Ok((bk, _))), Some((pk, _))) => {
                    let ord = pk.as_slice().cmp(bk.as_slice());
                    if ord == std::cmp::Ordering::Equal {
                        self.base.next(); // shadowed by the overlay
                        true
                    } else {
                        (ord == std::cmp::Ordering::Less) != self.reverse
                    }
                }
            };
            if !take_pending {
                return self.base.next();
            }
            let (key, value) = self.pending.next()?;
            if let Some(value) = value {
                return Some(Ok((key.clone(), value.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(entries: &[(&str, &str)]) -> KvIter<'static> {
        let owned: Vec<Result<Entry, StoreError>> = entries
            .iter()
            .map(|(k, v)| Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec())))
            .collect();
        Box::new(owned.into_iter())
    }

    fn keys(iter: KvIter<'_>) -> Vec<String> {
        iter.map(|e| {
            let (k, v) = e.unwrap();
            format!("{}={}", String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
        })
        .collect()
    }

    #[test]
    fn the_overlay_shadows_adds_and_removes_in_both_directions() {
        let mut o = Overlay::default();
        o.put(Table::Items, b"b", b"new");
        o.delete(Table::Items, b"c");
        o.put(Table::Items, b"d", b"added");
        o.put(Table::Items, b"z", b"outside");
        let on_disk = [("a", "1"), ("b", "2"), ("c", "3"), ("e", "5")];
        let up = o.merge(Table::Items, base(&on_disk), b"a", Some(b"f"), false);
        assert_eq!(keys(up), ["a=1", "b=new", "d=added", "e=5"]);
        let rev: Vec<_> = on_disk.iter().rev().copied().collect();
        let down = o.merge(Table::Items, base(&rev), b"a", Some(b"f"), true);
        assert_eq!(keys(down), ["e=5", "d=added", "b=new", "a=1"]);
    }

    #[test]
    fn rolling_back_restores_what_the_overlay_held_before_the_closure() {
        let mut o = Overlay::default();
        o.put(Table::Items, b"kept", b"1");
        o.mark();
        o.put(Table::Items, b"kept", b"2");
        o.delete(Table::Items, b"kept");
        o.put(Table::Items, b"fresh", b"x");
        o.roll_back().unwrap();
        assert_eq!(o.get(Table::Items, b"kept"), Some(&Some(b"1".to_vec())));
        assert_eq!(o.get(Table::Items, b"fresh"), None);
    }

    #[test]
    fn a_log_past_its_bound_refuses_the_rollback() {
        let mut o = Overlay::default();
        let big = vec![0u8; 64 << 10];
        o.put(Table::Items, b"k", &big);
        o.mark();
        for _ in 0..20 {
            o.put(Table::Items, b"k", &big);
        }
        assert!(o.roll_back().is_err());
    }
}
