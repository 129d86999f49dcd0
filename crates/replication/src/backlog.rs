//! What is waiting to ship to a peer: the changes after the peer's cursor that
//! route to it, counted per bucket and table, with their bytes and the age of
//! the oldest one (replication lag as the origin sees it).
//!
//! The counts are kept, not recomputed ([`PeerBacklog`], over a
//! [`crate::tally::Tally`]): each change is routed once, soon after its
//! commit, by [`follow`] (woken by [`Store::subscribe`]) or by whichever
//! reader finds new changes first, reading the log from where counting
//! stopped; the changes a cursor move covers are taken off as the shipper
//! saves it (and as any reader finds the stored cursor further on). A status
//! request, a scrape or a heartbeat then costs the number of buckets and
//! tables waiting, not the number of changes.
//!
//! - **Restart**: nothing is kept on disk. A new node starts at the peer's
//!   durable cursor and counts what follows once, a page at a time, in the
//!   background; meanwhile (and while counting is paused at
//!   [`crate::tally::TRACKED`] changes) `truncated` says the backlog is
//!   larger than shown.
//! - **Rule changes**: a change is routed with the rules, registry and table
//!   definitions of the moment it is counted, as a fresh scan would route it
//!   then. When the log shows a change of those (a bucket created, updated or
//!   deleted, a table defined or deleted) or a peer's batch changes the
//!   registry or a table's replicas, while older changes still wait, the
//!   waiting changes are **recounted**: [`follow`] rebuilds the counts from
//!   the cursor aside and swaps them in (spaced by [`recount_spacing`]),
//!   so readers never see a partial count. Until then those changes show as
//!   first counted; either way they leave the counts when the cursor passes them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use tandem_store::{Change, Store};

use crate::error::ReplicationError;
use crate::route::{Route, Router};
use crate::tally::{Page, Routed, Tally};

/// Entries read from the log per page while counting.
const PAGE: usize = 1000;
/// Entries a status request or heartbeat counts itself at most when it finds
/// changes not counted yet (normally a few at most: [`follow`] keeps up).
const INLINE: usize = 10 * PAGE;
/// Recounts are at least this far apart, and [`follow`] looks this often.
pub const RECOUNT_SPACING: Duration = Duration::from_secs(1);

/// How long to wait after a recount that took `took` before the next one:
/// [`RECOUNT_SPACING`], or ten times as long as it took, so recounting a
/// large backlog over and over (routing changes arriving all the time) costs
/// at most a tenth of a core.
pub fn recount_spacing(took: Duration) -> Duration {
    RECOUNT_SPACING.max(took * 10)
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Pending {
    pub changes: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Backlog {
    /// The peer's cursor: every change up to it has been applied there.
    pub cursor: u64,
    /// The newest change in the local log.
    pub last_seq: u64,
    pub changes: u64,
    pub bytes: u64,
    /// Seconds since the oldest waiting change was committed (0 when none waits).
    pub oldest_age_seconds: f64,
    /// Waiting versions no rule destination can take.
    pub unroutable: u64,
    /// Not every change up to `last_seq` is counted yet (counting after a
    /// restart, or paused at its limit): the true backlog is larger.
    pub truncated: bool,
    pub by_resource: BTreeMap<String, Pending>,
}

/// One waiting change as a heartbeat lists it: `[seq, body bytes, commit ms]`.
pub type Waiting = [u64; 3];

/// The kept backlog of one peer. Shared by the shipper (which takes off what
/// it shipped), the heartbeat, the status surfaces and [`follow`].
///
/// Counting takes no lock while it reads and routes the log: a page goes in
/// only if nothing before its start is missing by then, so two readers that
/// count at once (a status request and [`follow`]) at worst route the same
/// entries twice, and neither waits for the other.
pub struct PeerBacklog {
    peer: String,
    tally: Mutex<Tally>,
    /// A routing change was seen while older changes waited.
    recount: AtomicBool,
    /// Log entries read for counting, in all (a reader that finds everything
    /// counted reads none).
    entries_read: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a change can alter where other changes route: a bucket's rules
/// or the registry (bucket records), or a table's replicas.
fn reroutes(change: &Change) -> bool {
    matches!(
        change,
        Change::BucketCreated { .. }
            | Change::BucketUpdated { .. }
            | Change::BucketDeleted { .. }
            | Change::TableDefined { .. }
            | Change::TableDeleted { .. }
    )
}

impl PeerBacklog {
    pub fn new(peer: &str) -> Self {
        Self {
            peer: peer.to_string(),
            tally: Mutex::default(),
            recount: AtomicBool::new(false),
            entries_read: AtomicU64::new(0),
        }
    }

    /// The backlog as of now (status, metrics).
    pub fn backlog(&self, store: &Store) -> Result<Backlog, ReplicationError> {
        self.view(store, |tally, last_seq| tally.backlog(last_seq, tandem_store::now_ms()))
    }

    /// [`Self::backlog`], with the first `detail` waiting changes one by one
    /// (oldest first) for the peer's heartbeat.
    pub fn with_waiting(&self, store: &Store, detail: usize) -> Result<(Backlog, Vec<Waiting>), ReplicationError> {
        self.view(store, |tally, last_seq| {
            (tally.backlog(last_seq, tandem_store::now_ms()), tally.waiting(detail))
        })
    }

    /// What waits, in changes and bytes, as counted so far (reads nothing).
    pub fn totals(&self) -> (u64, u64) {
        lock(&self.tally).totals()
    }

    /// The shipper made the peer's cursor durable at `cursor`.
    pub fn shipped_through(&self, cursor: u64) {
        lock(&self.tally).advance(cursor);
    }

    /// Something outside the log (a peer's batch) changed what routes where.
    pub fn routing_changed(&self) {
        self.recount.store(true, Ordering::Relaxed);
    }

    /// Log entries read for counting since the node started.
    pub fn entries_read(&self) -> u64 {
        self.entries_read.load(Ordering::Relaxed)
    }

    /// Counts what is new (at most [`INLINE`] entries), then reads the counts.
    fn view<R>(&self, store: &Store, read: impl FnOnce(&Tally, u64) -> R) -> Result<R, ReplicationError> {
        let last_seq = store.last_seq();
        self.catch_up(store, INLINE)?;
        Ok(read(&lock(&self.tally), last_seq))
    }

    /// Brings the counts up to date: the stored cursor, then the log after
    /// what is counted, at most `budget` entries.
    fn catch_up(&self, store: &Store, budget: usize) -> Result<(), ReplicationError> {
        let cursor = store.read()?.cursor(&self.peer)?;
        lock(&self.tally).advance(cursor);
        if self.count_into(store, &self.tally, store.last_seq(), budget)? {
            self.recount.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Adds the log after where `tally` stands, up to `until` or `budget`
    /// entries, a page at a time (the lock is held only to add a page).
    /// Returns whether a page asked for a recount.
    fn count_into(&self, store: &Store, tally: &Mutex<Tally>, until: u64, budget: usize) -> Result<bool, ReplicationError> {
        let (mut left, mut stale) = (budget, false);
        loop {
            let (from, full) = {
                let t = lock(tally);
                (t.counted_through(), t.is_full())
            };
            if full || left == 0 || from >= until {
                return Ok(stale);
            }
            let page = self.read_page(store, from, PAGE.min(left).min((until - from) as usize))?;
            if page.read == 0 {
                return Ok(stale);
            }
            left = left.saturating_sub(page.read);
            stale |= lock(tally).add(page);
        }
    }

    /// Reads and routes up to `limit` entries after `after`.
    fn read_page(&self, store: &Store, after: u64, limit: usize) -> Result<Page, ReplicationError> {
        let entries = store.changes_after(after, limit)?;
        self.entries_read.fetch_add(entries.len() as u64, Ordering::Relaxed);
        let Some(last) = entries.last() else {
            return Ok(Page::default());
        };
        let read = store.read()?;
        let mut router = Router::new(&read, store, &self.peer, false);
        let mut page = Page {
            after,
            through: last.seq,
            read: entries.len(),
            ..Default::default()
        };
        for entry in &entries {
            page.rerouting |= reroutes(&entry.change);
            let (bytes, resource) = match router.route(entry)? {
                Route::Skip | Route::Quarantine(_) => continue,
                Route::Unroutable(_) => (0, None),
                Route::Ship(o) => (o.shipped.body_len, Some(o.shipped.op.resource())),
            };
            page.routed.push(Routed {
                seq: entry.seq,
                ms: tandem_store::hlc::hlc_millis(entry.hlc),
                bytes,
                resource,
            });
        }
        Ok(page)
    }

    /// Counts the waiting changes again with today's routing, aside, and
    /// swaps the result in once it has caught up with the live counts;
    /// readers keep the old counts meanwhile.
    fn recount(&self, store: &Store) -> Result<(), ReplicationError> {
        let (cursor, mut target) = {
            let t = lock(&self.tally);
            (t.cursor(), t.counted_through())
        };
        let fresh = Mutex::new(Tally::at(cursor));
        loop {
            self.count_into(store, &fresh, target, usize::MAX)?;
            let mut live = lock(&self.tally);
            let mut done = lock(&fresh);
            if done.is_full() || done.counted_through() >= live.counted_through() {
                done.advance(live.cursor());
                std::mem::swap(&mut *live, &mut *done);
                tracing::debug!(peer = %self.peer, waiting = live.totals().0, "backlog recounted");
                return Ok(());
            }
            target = live.counted_through();
        }
    }

    /// One step of [`follow`]: counts everything new, then recounts if one
    /// is due and `may_recount` (and something waits: with nothing counted,
    /// there is nothing to route again). Returns whether it recounted.
    pub fn keep_up(&self, store: &Store, may_recount: bool) -> Result<bool, ReplicationError> {
        self.catch_up(store, usize::MAX)?;
        if !may_recount || !self.recount.swap(false, Ordering::Relaxed) || !lock(&self.tally).has_waiting() {
            return Ok(false);
        }
        self.recount(store).inspect_err(|_| self.routing_changed())?;
        Ok(true)
    }
}

/// Keeps a peer's backlog counted as changes commit, until the task is
/// aborted: a commit wakes it, and it also looks once per
/// [`RECOUNT_SPACING`] (for a recount that was not due yet).
pub async fn follow(backlog: Arc<PeerBacklog>, store: Store) {
    let mut commits = store.subscribe();
    let mut next_recount = Instant::now();
    loop {
        let may_recount = Instant::now() >= next_recount;
        let (held, s, started) = (Arc::clone(&backlog), store.clone(), Instant::now());
        match tokio::task::spawn_blocking(move || held.keep_up(&s, may_recount)).await {
            Ok(Ok(true)) => next_recount = Instant::now() + recount_spacing(started.elapsed()),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(peer = %backlog.peer, error = %e, "cannot count the backlog"),
            Err(e) => tracing::warn!(peer = %backlog.peer, error = %e, "backlog task failed"),
        }
        if let Ok(Err(_)) = tokio::time::timeout(RECOUNT_SPACING, commits.changed()).await {
            tokio::time::sleep(RECOUNT_SPACING).await; // the store is closing
        }
    }
}
