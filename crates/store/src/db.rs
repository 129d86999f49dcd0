//! The store handle and its group-commit writer.
//!
//! All mutations go through one writer thread. Each mutation is a closure that
//! runs inside a write batch; the writer takes every closure that is waiting,
//! runs them all in one backend transaction, fsyncs the blob directories they
//! touched, commits once, and only then answers each caller. Concurrent
//! writers therefore share commits, and nothing is acknowledged before it is
//! durable. Readers use the backend's snapshots and never wait for the writer.
//!
//! Each closure is all or nothing although its batch is shared: its writes go
//! to the batch's [`Overlay`], which logs them for undo, and a closure that
//! returns an error or panics is rolled back before the next one runs, so its
//! neighbours in the batch still commit and nothing of it does.
//!
//! The batch reads the last sequence number and clock floor from the backend
//! when it begins, so a backend shared by several nodes (which makes their
//! batches take turns) keeps one gap-free change log in commit order.
//!
//! A full disk: each batch first checks the volume's free-space reserve
//! ([`crate::space`]) and is refused as a whole below it. If a commit fails
//! anyway, the writer has the backend recover ([`Backend::recover`]),
//! retrying until it succeeds, and reloads the sequence counter from it.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::blobs::{BlobFiles, Bodies, StagedBody};
use crate::body_store::BodyStore;
use crate::changelog::{Change, ChangeEntry};
use crate::error::StoreError;
use crate::hlc::HybridClock;
use crate::kv::{Backend, Batch, KvIter, KvRead, Snapshot, Table, View, u64_key, u128_key};
use crate::overlay::Overlay;
use crate::records::Segment;
use crate::space::DiskSpace;

const META_LAST_SEQ: &str = "last_seq";
const META_HLC: &str = "hlc";
const META_OBJECT_BYTES: &str = "object_bytes";

/// Most mutations committed together in one transaction.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A mutation that ran: who to tell once the batch is committed, and whether
/// the closure succeeded (a failed one is rolled back).
struct Ran {
    done: Completion,
    ok: bool,
}
/// A mutation waiting for the writer. Called with the error when no batch
/// could be opened; it then reports the failure itself.
type Job = Box<dyn FnOnce(Result<&mut Tx<'_>, &StoreError>) -> Option<Ran> + Send>;

/// State shared by store handles and the writer thread.
pub(crate) struct Shared {
    backend: Box<dyn Backend>,
    /// Set when a commit failed in a way that needs [`Backend::recover`].
    needs_recovery: AtomicBool,
    pub(crate) blobs: Bodies,
    pub(crate) region: String,
    pub(crate) clock: HybridClock,
    /// Last committed change sequence number in the region (this node's
    /// commits, and those other nodes sharing the backend announce);
    /// readers of the change log wait on it.
    last_seq: watch::Sender<u64>,
    /// Counts the commits to the app specs heard from the nodes sharing the
    /// backend (this one included), for [`Store::watch_app_specs`].
    app_specs: watch::Sender<u64>,
    /// The control plane's say on client writes (see [`crate::control`]).
    pub(crate) gate: std::sync::RwLock<Option<Arc<dyn crate::control::WriteGate>>>,
}

/// A handle on a region's store. Cheap to clone; the writer thread stops when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    jobs: mpsc::Sender<Job>,
}

/// Where a region's tables live (`backend` in tandem.toml).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StoreBackend {
    /// The embedded database in the data directory.
    #[default]
    Embedded,
    /// A PostgreSQL database, by connection URL (`postgres://...`). A URL
    /// without a password takes it from `PGPASSWORD`.
    Postgres(String),
}

impl StoreBackend {
    /// Reads `backend` of tandem.toml: `embedded`, or a `postgres://` URL.
    /// Errors never repeat the URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "embedded" => Ok(Self::Embedded),
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                url.parse::<tokio_postgres::Config>()
                    .map_err(|e| format!("the postgres URL of backend does not parse: {e}"))?;
                Ok(Self::Postgres(url.to_string()))
            }
            other => Err(format!(
                "backend must be \"embedded\" or a postgres:// URL (it starts with {:?})",
                other.split("://").next().unwrap_or_default().chars().take(16).collect::<String>()
            )),
        }
    }
}

/// Where a region's bodies above the inline size live (`bodies` in
/// tandem.toml).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyBackend {
    /// Files under the data directory.
    #[default]
    Files,
    /// Chunks in the PostgreSQL database of the `postgres` backend.
    Postgres,
}

impl BodyBackend {
    /// Reads `bodies` of tandem.toml.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "files" => Ok(Self::Files),
            "postgres" => Ok(Self::Postgres),
            other => Err(format!("bodies must be \"files\" or \"postgres\", not {other:?}")),
        }
    }
}

impl std::fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded => f.write_str("Embedded"),
            Self::Postgres(url) => write!(f, "Postgres({})", crate::postgres_backend::redact(url)),
        }
    }
}

/// How a store is opened (`[store]` in tandem.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Free space the data volume keeps; writes are refused below it (0: off).
    pub min_free_bytes: u64,
    /// How far a remote timestamp may lead this node's wall clock.
    pub max_clock_lead_ms: u64,
    pub backend: StoreBackend,
    pub bodies: BodyBackend,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            min_free_bytes: crate::space::DEFAULT_MIN_FREE_BYTES,
            max_clock_lead_ms: crate::hlc::DEFAULT_MAX_LEAD_MS,
            backend: StoreBackend::Embedded,
            bodies: BodyBackend::Files,
        }
    }
}

impl Store {
    /// Opens (or creates) the store under `data_dir` for region `region`, with
    /// the default limits.
    pub fn open(data_dir: &Path, region: &str) -> Result<Self, StoreError> {
        Self::open_with(data_dir, region, &StoreOptions::default())
    }

    /// Opens (or creates) the store with the given limits and backend.
    pub fn open_with(data_dir: &Path, region: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let (backend, body_store) = open_backends(data_dir, options)?;
        let blobs = Bodies::new(body_store, DiskSpace::new(data_dir));
        let (last_seq, hlc_floor) = {
            let snap = backend.snapshot()?;
            let meta = View::new(&*snap, Table::Meta);
            let counters = (meta.counter(META_LAST_SEQ)?, meta.counter(META_HLC)?);
            sweep_orphan_blobs(&*snap, &blobs)?;
            counters
        };
        blobs.space().set_min_free_bytes(options.min_free_bytes);
        tracing::debug!(backend = %backend.describe(), bodies = %blobs.describe(), last_seq, "store opened");
        let shared = Arc::new(Shared {
            backend,
            needs_recovery: AtomicBool::new(false),
            blobs,
            region: region.to_string(),
            clock: HybridClock::new(hlc_floor),
            last_seq: watch::Sender::new(last_seq),
            app_specs: watch::Sender::new(0),
            gate: std::sync::RwLock::new(None),
        });
        let heard = Arc::downgrade(&shared);
        shared.backend.coordination().listen(Arc::new(move |notice| {
            if let Some(shared) = heard.upgrade() {
                shared.hear(&notice);
            }
        }))?;
        shared.clock.set_max_lead_ms(options.max_clock_lead_ms);
        let (jobs, rx) = mpsc::channel::<Job>();
        let writer_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run_writer(writer_shared, rx))?;
        Ok(Self { shared, jobs })
    }

    /// Name of the region this store belongs to.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    pub fn clock(&self) -> &HybridClock {
        &self.shared.clock
    }

    pub fn blobs(&self) -> &Bodies {
        &self.shared.blobs
    }

    /// Runs `f` inside a shared write transaction and returns its result once the
    /// transaction is durable. `f` may fail with its own error type (an API's
    /// error); failures of the store itself convert into it.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<R, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, E>>();
        let job: Job = Box::new(move |txn: Result<&mut Tx<'_>, &StoreError>| {
            let txn = match txn {
                Ok(txn) => txn,
                Err(e) => {
                    let _ = tx.send(Err(E::from(copy_error(e))));
                    return None;
                }
            };
            let outcome = f(txn);
            let ok = outcome.is_ok();
            let done: Completion = Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(match (commit, outcome) {
                    (_, Err(e)) => Err(e),
                    (Err(e), Ok(_)) => Err(E::from(e)),
                    (Ok(()), Ok(v)) => Ok(v),
                });
            });
            Some(Ran { done, ok })
        });
        self.jobs.send(job).map_err(|_| E::from(StoreError::ShuttingDown))?;
        rx.await
            .map_err(|_| E::from(StoreError::Db("the write was abandoned by the writer".into())))?
    }

    /// A consistent read-only snapshot.
    pub fn read(&self) -> Result<ReadTx, StoreError> {
        Ok(ReadTx {
            snap: self.shared.backend.snapshot()?,
        })
    }

    /// Sequence number of the last committed change.
    pub fn last_seq(&self) -> u64 {
        *self.shared.last_seq.borrow()
    }

    /// Wakes up whenever new changes are committed, by this node or another
    /// node of the region.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.last_seq.subscribe()
    }

    /// Changes when a node sharing the backend (this one too) commits a
    /// change to the app specs: time to read them again. Never changes on
    /// the embedded backend, whose one node knows what it wrote.
    pub fn watch_app_specs(&self) -> watch::Receiver<u64> {
        self.shared.app_specs.subscribe()
    }

    /// Runs `job` while this node holds the region-wide lease `name` (see
    /// [`crate::coordination`]): on one node of the region at a time, and
    /// on another once that node is gone. `holding` says whether this node
    /// holds it now.
    pub async fn run_leased<F, Fut>(&self, name: &str, holding: crate::coordination::LeaseFlag, job: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        crate::coordination::run_leased(self.shared.backend.coordination(), name.to_string(), holding, job).await
    }

    /// Change-log entries with a sequence number above `after`, at most
    /// `limit`. An entry that does not decode comes back as
    /// [`Change::Unreadable`](crate::Change::Unreadable), never as an error.
    pub fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<ChangeEntry>, StoreError> {
        let read = self.read()?;
        let mut out = Vec::new();
        for item in read.table(Table::Changes).from(u64_key(after.saturating_add(1)))?.take(limit) {
            let (k, v) = item?;
            let seq = crate::kv::u64_of(&k).ok_or_else(|| StoreError::Corrupt("a change-log key is not 8 bytes".into()))?;
            out.push(crate::changelog::decode_entry(seq, &v));
        }
        Ok(out)
    }

    /// Size of the metadata and total bytes of stored object versions.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let read = self.read()?;
        Ok(StoreStats {
            metadata_bytes: self.shared.backend.size_bytes()?,
            object_bytes: read.table(Table::Meta).counter(META_OBJECT_BYTES)?,
        })
    }

    /// A deep health check: a read of the metadata and a look at the body
    /// store. Fails when the store is unusable.
    pub fn check_health(&self) -> Result<(), StoreError> {
        self.read()?.table(Table::Meta).get(META_LAST_SEQ)?;
        self.shared.blobs.store().check()?;
        Ok(())
    }
}

impl Shared {
    /// Takes in a commit notice of a node sharing the backend.
    fn hear(&self, notice: &crate::coordination::CommitNotice) {
        self.advance_last_seq(notice.last_seq);
        if notice.tables.contains(&Table::AppSpecs) {
            self.app_specs.send_modify(|n| *n += 1);
        }
    }

    /// Moves the last sequence number forward (never back: notices and this
    /// node's own commits arrive in any order) and wakes its watchers.
    fn advance_last_seq(&self, seq: u64) {
        self.last_seq.send_if_modified(|last| {
            let newer = seq > *last;
            if newer {
                *last = seq;
            }
            newer
        });
    }

    /// Has the backend recover after a failed commit and reloads the
    /// sequence counter from it.
    fn recover(&self) -> Result<(), StoreError> {
        self.backend.recover()?;
        let durable = self.backend.snapshot()?;
        let on_disk = View::new(&*durable, Table::Meta).counter(META_LAST_SEQ)?;
        let in_memory = *self.last_seq.borrow();
        if on_disk > in_memory {
            // The failed commit reached the disk after all: its callers were
            // told it failed, but its sequence numbers are taken.
            self.advance_last_seq(on_disk);
        } else if on_disk < in_memory {
            tracing::error!(on_disk, in_memory, "the recovered database is behind the last acknowledged commit");
        }
        self.needs_recovery.store(false, Ordering::Release);
        tracing::info!("writes resume after the failed commit");
        Ok(())
    }
}

/// Removes blob files no committed metadata points at: bodies staged by writes
/// that crashed before their commit. Runs before the writer starts.
fn sweep_orphan_blobs(snap: &dyn KvRead, blobs: &Bodies) -> Result<(), StoreError> {
    let on_disk = blobs.orphan_candidates()?;
    if on_disk.is_empty() {
        return Ok(());
    }
    let mut referenced = std::collections::HashSet::new();
    for table in [Table::Versions, Table::Parts] {
        for item in View::new(snap, table).all(false)? {
            let (_, v) = item?;
            let refs: SegmentRefs = serde_json::from_slice(&v)?;
            referenced.extend(
                refs.segments
                    .iter()
                    .chain(refs.segment.as_ref())
                    .filter(|s| !s.inline)
                    .map(|s| s.id),
            );
        }
    }
    let orphans: Vec<u128> = on_disk.into_iter().filter(|id| !referenced.contains(id)).collect();
    if !orphans.is_empty() {
        tracing::info!(count = orphans.len(), "removing blob files left by interrupted writes");
    }
    for id in orphans {
        blobs.remove(id);
    }
    Ok(())
}

/// The body segments a version record (`segments`) or part record (`segment`) holds.
#[derive(serde::Deserialize)]
struct SegmentRefs {
    #[serde(default)]
    segments: Vec<Segment>,
    #[serde(default)]
    segment: Option<Segment>,
}

/// Sizes reported on `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct StoreStats {
    pub metadata_bytes: u64,
    pub object_bytes: u64,
}

/// A read-only snapshot of the store.
pub struct ReadTx {
    snap: Box<dyn Snapshot>,
}

impl ReadTx {
    /// One table of the snapshot.
    pub(crate) fn table(&self, table: Table) -> View<'_> {
        View::new(&*self.snap, table)
    }
}

/// A mutation's view of the shared write batch. Tables are read through
/// [`Tx::table`] (which sees this batch's writes) and written with
/// [`Tx::put`] and [`Tx::delete`] (logged for undo).
pub struct Tx<'a> {
    batch: &'a dyn Batch,
    overlay: Overlay,
    pub(crate) shared: &'a Shared,
    next_seq: u64,
    /// Stored bodies this batch makes metadata refer to.
    stored: Vec<u128>,
    garbage: Vec<u128>,
    object_bytes_delta: i64,
    /// Blob files the running closure made part of this transaction (see [`Tx::adopt`]).
    adopted: Vec<u128>,
}

/// Where a closure started: what rolling it back returns the [`Tx`] to.
struct Mark {
    next_seq: u64,
    garbage: usize,
    object_bytes_delta: i64,
}

impl KvRead for Tx<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.overlay.get(table, key) {
            Some(pending) => Ok(pending.clone()),
            None => self.batch.get(table, key),
        }
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'_>, StoreError> {
        let base = self.batch.range(table, from, to, reverse)?;
        Ok(self.overlay.merge(table, base, from, to, reverse))
    }
}

impl<'a> Tx<'a> {
    /// One table as this batch sees it.
    pub(crate) fn table(&self, table: Table) -> View<'_> {
        View::new(self, table)
    }

    /// Sets `key` of `table` (logged for undo).
    pub(crate) fn put(&mut self, table: Table, key: impl AsRef<[u8]>, value: &[u8]) {
        self.overlay.put(table, key.as_ref(), value);
    }

    /// Removes `key` of `table` if it exists (logged for undo).
    pub(crate) fn delete(&mut self, table: Table, key: impl AsRef<[u8]>) {
        self.overlay.delete(table, key.as_ref());
    }

    /// Sets a counter of the meta table.
    pub(crate) fn put_counter(&mut self, key: &str, value: u64) {
        self.put(Table::Meta, key, &u64_key(value));
    }

    fn mark(&mut self) -> Mark {
        self.overlay.mark();
        self.adopted.clear();
        Mark {
            next_seq: self.next_seq,
            garbage: self.garbage.len(),
            object_bytes_delta: self.object_bytes_delta,
        }
    }

    /// Takes back everything the closure since `mark` did: its table writes,
    /// its change-log sequence numbers and its byte accounting. Blob files it
    /// adopted are freed after the commit like any other garbage.
    fn roll_back(&mut self, mark: Mark) -> Result<(), StoreError> {
        self.overlay.roll_back()?;
        self.next_seq = mark.next_seq;
        self.garbage.truncate(mark.garbage);
        self.object_bytes_delta = mark.object_bytes_delta;
        self.garbage.append(&mut self.adopted);
        Ok(())
    }

    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// A fresh hybrid-logical-clock timestamp.
    pub fn now(&self) -> u64 {
        self.shared.clock.now()
    }

    /// Moves this node's clock past a timestamp received from another region,
    /// so local writes that follow always win over what was applied.
    pub fn observe_clock(&self, remote: u64) {
        self.shared.clock.observe(remote)
    }

    /// Checks a remote timestamp against the clock guard before anything is
    /// written (see [`crate::hlc`]).
    pub fn admit_clock(&self, remote: u64) -> Result<(), crate::hlc::ClockAhead> {
        self.shared.clock.admit(remote)
    }

    /// The sequence number the next appended change will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends a change to the log in this transaction; returns its sequence number.
    pub fn append(&mut self, origin: &str, hlc: u64, change: Change) -> Result<u64, StoreError> {
        let entry = ChangeEntry {
            seq: self.next_seq,
            origin: origin.to_string(),
            hlc,
            change,
        };
        self.append_raw_entry(&serde_json::to_vec(&entry)?)
    }

    fn append_raw_entry(&mut self, raw: &[u8]) -> Result<u64, StoreError> {
        let seq = self.next_seq;
        self.put(Table::Changes, u64_key(seq), raw);
        self.next_seq += 1;
        Ok(seq)
    }

    /// Appends `raw` to the log as it is, not as an encoded [`ChangeEntry`]:
    /// for tests of readers facing an entry they cannot decode.
    #[cfg(feature = "fault-injection")]
    pub fn append_raw(&mut self, raw: &[u8]) -> Result<u64, StoreError> {
        self.append_raw_entry(raw)
    }

    /// Makes a staged body part of this transaction: inline bytes are inserted,
    /// a stored body is made durable where its store asks before the commit
    /// (a file's directory entry).
    pub fn adopt(&mut self, body: &mut StagedBody) -> Result<Segment, StoreError> {
        let segment = body.segment.clone();
        match body.inline.take() {
            Some(bytes) => self.put(Table::Inline, u128_key(segment.id), bytes.as_ref()),
            None => {
                self.stored.push(segment.id);
                self.adopted.push(segment.id);
            }
        }
        body.defuse();
        self.object_bytes_delta += segment.len as i64;
        Ok(segment)
    }

    /// Frees body segments no longer referenced once this transaction commits.
    pub fn release(&mut self, segments: &[Segment]) -> Result<(), StoreError> {
        for seg in segments {
            if seg.inline {
                self.delete(Table::Inline, u128_key(seg.id));
            } else {
                self.garbage.push(seg.id);
            }
            self.object_bytes_delta -= seg.len as i64;
        }
        Ok(())
    }
}

fn run_writer(shared: Arc<Shared>, rx: mpsc::Receiver<Job>) {
    let mut graveyard: VecDeque<(Instant, u128)> = VecDeque::new();
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                reap(&shared, &mut graveyard, false);
                if shared.needs_recovery.load(Ordering::Acquire)
                    && let Err(e) = shared.recover()
                {
                    tracing::warn!(error = %e, "cannot recover the database yet");
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        graveyard.extend(commit_batch(&shared, jobs).into_iter().map(|id| (now, id)));
        reap(&shared, &mut graveyard, false);
    }
    reap(&shared, &mut graveyard, true);
    tracing::debug!("store writer stopped");
}

/// Removes freed bodies whose grace period ([`BodyStore::removal_grace`]) is over (all of them when `all`).
fn reap(shared: &Shared, graveyard: &mut VecDeque<(Instant, u128)>, all: bool) {
    while let Some((freed, id)) = graveyard.front().copied() {
        if !all && freed.elapsed() < shared.blobs.store().removal_grace() {
            break;
        }
        shared.blobs.remove(id);
        graveyard.pop_front();
    }
}

/// Runs a batch of mutations in one transaction and commits it durably.
/// Returns the blob files the batch freed.
fn commit_batch(shared: &Shared, jobs: Vec<Job>) -> Vec<u128> {
    let (batch, last_seq) = match begin_batch(shared) {
        Ok(begun) => begun,
        Err(e) => {
            if !matches!(e, StoreError::InsufficientStorage(_)) {
                tracing::error!(error = %e, "cannot begin write transaction");
            }
            for job in jobs {
                job(Err(&e));
            }
            return Vec::new();
        }
    };
    let mut tx = Tx {
        batch: &*batch,
        overlay: Overlay::default(),
        shared,
        next_seq: last_seq + 1,
        stored: Vec::new(),
        garbage: Vec::new(),
        object_bytes_delta: 0,
        adopted: Vec::new(),
    };
    let mut completions = Vec::with_capacity(jobs.len());
    let mut abandoned: Option<StoreError> = None;
    for job in jobs {
        if let Some(e) = &abandoned {
            job(Err(e));
            continue;
        }
        if let Err(e) = run_job(&mut tx, job, &mut completions) {
            tracing::error!(error = %e, "cannot roll back a failed write; refusing its batch");
            abandoned = Some(e);
        }
    }
    let last_seq = tx.next_seq - 1;
    let counted = match abandoned {
        Some(e) => Err(e),
        None => finish_counters(&mut tx, last_seq),
    };
    // The batch ends here, committed or dropped (rolled back): recovery
    // below needs the backend's writer free.
    let result = match counted {
        Ok(()) => {
            let Tx {
                overlay, stored, garbage, ..
            } = tx;
            finish_commit(batch, overlay, last_seq, shared.blobs.store(), &stored).map(|()| garbage)
        }
        Err(e) => {
            drop(tx);
            drop(batch);
            Err(e)
        }
    };
    match &result {
        Ok(_) => shared.advance_last_seq(last_seq),
        Err(e) => {
            tracing::error!(error = %e, "write batch failed");
            if shared.backend.needs_recovery() {
                shared.needs_recovery.store(true, Ordering::Release);
                if let Err(e) = shared.recover() {
                    tracing::error!(error = %e, "cannot recover the database yet; retrying with the next write");
                }
            }
        }
    }
    for done in completions {
        done(result.as_ref().map(|_| ()).map_err(copy_error));
    }
    result.unwrap_or_default()
}

/// Runs one closure of a batch and rolls it back when it fails or panics (a
/// panicking closure's caller is told through its dropped answer channel).
/// An error means the rollback itself failed: the batch must not commit.
fn run_job(tx: &mut Tx<'_>, job: Job, completions: &mut Vec<Completion>) -> Result<(), StoreError> {
    let mark = tx.mark();
    match std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(&mut *tx)))) {
        Ok(Some(Ran { done, ok })) => {
            completions.push(done);
            if !ok {
                tx.roll_back(mark)?;
            }
        }
        Ok(None) => {}
        Err(_) => {
            tracing::error!("a write closure panicked; its writes were rolled back");
            tx.roll_back(mark)?;
        }
    }
    Ok(())
}

/// Opens the batch's transaction (after recovering a backend a failed commit
/// left unusable, and refusing the batch below the free-space reserve) and
/// reads the last committed sequence number and clock floor from it.
fn begin_batch(shared: &Shared) -> Result<(Box<dyn Batch + '_>, u64), StoreError> {
    if shared.needs_recovery.load(Ordering::Acquire) {
        shared.recover()?;
    }
    shared.blobs.space().check()?;
    let batch = shared.backend.begin()?;
    let meta = View::new(&*batch, Table::Meta);
    let last_seq = meta.counter(META_LAST_SEQ)?;
    shared.clock.observe(meta.counter(META_HLC)?);
    Ok((batch, last_seq))
}

/// Writes the batch's counters: last sequence number, clock floor, stored bytes.
fn finish_counters(tx: &mut Tx<'_>, last_seq: u64) -> Result<(), StoreError> {
    let bytes = tx.table(Table::Meta).counter(META_OBJECT_BYTES)?;
    tx.overlay.mark(); // nothing after this is rolled back
    tx.put_counter(META_LAST_SEQ, last_seq);
    tx.put_counter(META_HLC, tx.shared.clock.last());
    tx.put_counter(META_OBJECT_BYTES, bytes.saturating_add_signed(tx.object_bytes_delta));
    Ok(())
}

/// The tables' backend and the body store of a store.
type Backends = (Box<dyn Backend>, Arc<dyn BodyStore>);

/// Opens the tables' backend and the body store `options` choose.
fn open_backends(data_dir: &Path, options: &StoreOptions) -> Result<Backends, StoreError> {
    let files = || -> Result<Arc<dyn BodyStore>, StoreError> { Ok(Arc::new(BlobFiles::open(&data_dir.join("blobs"))?)) };
    Ok(match (&options.backend, options.bodies) {
        (StoreBackend::Embedded, BodyBackend::Files) => (
            Box::new(crate::redb_backend::RedbBackend::open(&data_dir.join("meta.redb"))?),
            files()?,
        ),
        (StoreBackend::Embedded, BodyBackend::Postgres) => {
            return Err(StoreError::Db(
                "bodies = \"postgres\" keeps bodies in the postgres backend's database; set backend to a postgres:// URL".into(),
            ));
        }
        (StoreBackend::Postgres(url), bodies) => {
            let backend = crate::postgres_backend::PostgresBackend::open(url)?;
            let body_store = match bodies {
                BodyBackend::Files => files()?,
                BodyBackend::Postgres => Arc::new(backend.bodies()?),
            };
            (Box::new(backend), body_store)
        }
    })
}

/// Hands the batch's writes to the backend, makes the stored bodies it
/// refers to durable where the body store asks (directory entries), and
/// commits: all of it is durable once it returns.
fn finish_commit(
    mut batch: Box<dyn Batch + '_>,
    overlay: Overlay,
    last_seq: u64,
    bodies: &Arc<dyn BodyStore>,
    stored: &[u128],
) -> Result<(), StoreError> {
    let mut tables = Vec::new();
    for (table, writes) in overlay.into_writes() {
        tables.push(table);
        batch.apply(table, writes)?;
    }
    bodies.before_commit(stored)?;
    batch.commit(&crate::coordination::CommitNotice { last_seq, tables })
}

/// The same failure for another caller of the batch (a full disk stays one).
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::InsufficientStorage(m) => StoreError::InsufficientStorage(m.clone()),
        other => StoreError::Db(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::Space;
    use crate::records::BucketRecord;

    fn bucket(name: &str) -> BucketRecord {
        BucketRecord {
            name: name.into(),
            owner: "o".into(),
            region: "r".into(),
            created_ms: 0,
            versioning: Default::default(),
            grants: vec![],
            policy: None,
            cors: None,
            replication: None,
            access: Default::default(),
            hlc: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_writes_all_land_in_the_change_log_without_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
        let mut handles = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        let hlc = tx.now();
                        tx.append(
                            "r",
                            hlc,
                            Change::BucketCreated {
                                bucket: bucket(&format!("b{i}")),
                            },
                        )
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut seqs = Vec::new();
        for h in handles {
            seqs.push(h.await.unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
        let log = store.changes_after(0, 1000).unwrap();
        assert_eq!(log.len(), 200);
        assert!(log.windows(2).all(|w| w[0].seq + 1 == w[1].seq && w[0].hlc < w[1].hlc));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sequence_numbers_continue_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = crate::test_backend::open(dir.path(), "r").unwrap();
            store
                .write(|tx| tx.append("r", 1, Change::BucketDeleted { name: "x".into() }))
                .await
                .unwrap();
        }
        // The writer thread exits when the last handle drops and releases the file.
        let store = reopen(dir.path());
        let seq = store
            .write(|tx| tx.append("r", 2, Change::BucketDeleted { name: "y".into() }))
            .await
            .unwrap();
        assert_eq!(seq, 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn orphan_blob_files_are_swept_at_open_and_committed_ones_kept() {
        if std::env::var("TANDEM_TEST_BODIES").as_deref() == Ok("postgres") {
            // Bodies in PostgreSQL become sweepable only after 15 minutes
            // (postgres_bodies tests that a young one is not).
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let kept = {
            let store = crate::test_backend::open(dir.path(), "r").unwrap();
            let mut orphan = crate::BodyWriter::new();
            orphan.write(store.blobs(), &vec![1u8; crate::blobs::INLINE_MAX + 1]).await.unwrap();
            let orphan = orphan.finish(store.blobs()).await.unwrap();
            std::mem::forget(orphan); // as if the process died before committing
            store.create_bucket(bucket("b")).await.unwrap();
            let mut body = crate::BodyWriter::new();
            body.write(store.blobs(), &vec![2u8; crate::blobs::INLINE_MAX + 1]).await.unwrap();
            let body = body.finish(store.blobs()).await.unwrap();
            let v = store.put_object("b", "k", version(), body, Box::new(|_| Ok(()))).await.unwrap();
            assert_eq!(store.blobs().orphan_candidates().unwrap().len(), 2);
            v.segments[0].id
        };
        let store = reopen(dir.path());
        assert_eq!(store.blobs().orphan_candidates().unwrap(), vec![kept]);
    }

    fn version() -> crate::ObjectVersion {
        serde_json::from_value(serde_json::json!({
            "version_id": "", "delete_marker": false, "size": 0, "etag": "x", "content_type": null,
            "owner": "o", "modified_ms": 0, "hlc": 0, "origin": "", "segments": []
        }))
        .unwrap()
    }

    fn reopen(path: &Path) -> Store {
        for _ in 0..100 {
            if let Ok(s) = crate::test_backend::open(path, "r") {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("store did not reopen");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn writes_below_the_free_space_reserve_are_refused_and_resume_once_it_is_met() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
        store.create_bucket(bucket("b")).await.unwrap();
        let seq = store.last_seq();
        store.blobs().space().set_min_free_bytes(u64::MAX);
        let refused = store.create_bucket(bucket("c")).await.unwrap_err();
        assert!(matches!(refused, StoreError::InsufficientStorage(_)), "{refused}");
        // A large body is refused before its file is written.
        let mut body = crate::BodyWriter::new();
        body.write(store.blobs(), &vec![3u8; crate::blobs::INLINE_MAX + 1]).await.unwrap();
        assert!(matches!(body.finish(store.blobs()).await, Err(StoreError::InsufficientStorage(_))));
        assert!(store.blobs().orphan_candidates().unwrap().is_empty());
        assert_eq!(store.last_seq(), seq, "nothing was committed");
        // Reads go on.
        assert!(store.read().unwrap().bucket("b").unwrap().is_some());
        store.blobs().space().set_min_free_bytes(1);
        store.create_bucket(bucket("c")).await.unwrap();
        assert_eq!(store.last_seq(), seq + 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reopening_the_database_keeps_every_commit_and_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
        store.create_bucket(bucket("b")).await.unwrap();
        store.shared.recover().unwrap();
        assert!(store.read().unwrap().bucket("b").unwrap().is_some());
        store.create_bucket(bucket("c")).await.unwrap();
        assert_eq!(store.last_seq(), 2);
        assert_eq!(store.changes_after(0, 10).unwrap().len(), 2);
    }

    /// Holds the writer thread for a while, so that the writes submitted
    /// meanwhile queue up and run as one batch after it.
    fn hold_the_writer(store: &Store) -> tokio::task::JoinHandle<()> {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(|_tx| -> Result<(), StoreError> {
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .await
                .unwrap()
        })
    }

    /// A test write answering (changes pending before it, its change's sequence number).
    type TestClosure = Box<dyn FnOnce(&mut Tx<'_>) -> Result<(u64, u64), StoreError> + Send>;

    /// How many changes earlier closures of the running batch appended.
    fn pending_in_batch(tx: &Tx<'_>) -> u64 {
        tx.next_seq() - 1 - *tx.shared.last_seq.borrow()
    }

    fn append_marker(tx: &mut Tx<'_>, name: &str) -> Result<u64, StoreError> {
        let hlc = tx.now();
        tx.append("r", hlc, Change::BucketDeleted { name: name.into() })
    }

    /// A closure that writes (overwrites, deletes, inserts, appends to the log)
    /// and then fails or panics leaves nothing of itself; the closures before
    /// and after it in the same batch commit.
    async fn a_closure_that_writes_then_fails_commits_nothing(panics: bool) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.item_put(Space::Items, b"overwritten", b"old")?;
                tx.item_put(Space::Items, b"deleted", b"kept")?;
                tx.catalog_put("table", b"v1")
            })
            .await
            .unwrap();
        let before_seq = store.last_seq();
        let holder = hold_the_writer(&store);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let spawn = |f: TestClosure| {
            let store = store.clone();
            tokio::spawn(async move { store.write(f).await })
        };
        let first = spawn(Box::new(|tx| {
            tx.item_put(Space::Items, b"first", b"1")?;
            Ok((pending_in_batch(tx), append_marker(tx, "first")?))
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let failing_saw = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let saw = failing_saw.clone();
        let failing = spawn(Box::new(move |tx| {
            saw.store(pending_in_batch(tx), Ordering::SeqCst);
            tx.item_put(Space::Items, b"overwritten", b"new")?;
            tx.item_put(Space::Items, b"overwritten", b"newer")?;
            tx.item_delete(Space::Items, b"deleted")?;
            tx.item_put(Space::Items, b"inserted", b"x")?;
            tx.catalog_delete("table")?;
            append_marker(tx, "failing-1")?;
            append_marker(tx, "failing-2")?;
            if panics {
                panic!("a bug in a write closure");
            }
            Err(StoreError::NoSuchBucket)
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let last = spawn(Box::new(|tx| {
            tx.item_put(Space::Items, b"last", b"3")?;
            Ok((pending_in_batch(tx), append_marker(tx, "last")?))
        }));
        holder.await.unwrap();
        let mut results = Vec::new();
        for job in [first, failing, last] {
            results.push(job.await.unwrap());
        }
        assert_eq!(
            failing_saw.load(Ordering::SeqCst),
            1,
            "the failing closure ran in the first one's batch"
        );
        let (first_pending, first_seq) = results[0].as_ref().map(|r| *r).unwrap();
        assert_eq!(first_pending, 0);
        assert_eq!(first_seq, before_seq + 1);
        assert!(results[1].is_err(), "the failing closure's caller is told");
        // The last closure saw the first one's change pending, not the failed
        // one's, and took the sequence number the failed one gave back.
        assert_eq!(results[2].as_ref().map(|r| *r).unwrap(), (1, before_seq + 2));
        assert_eq!(store.last_seq(), before_seq + 2);

        let read = store.read().unwrap();
        assert_eq!(read.item_get(Space::Items, b"overwritten").unwrap().as_deref(), Some(&b"old"[..]));
        assert_eq!(read.item_get(Space::Items, b"deleted").unwrap().as_deref(), Some(&b"kept"[..]));
        assert_eq!(read.item_get(Space::Items, b"inserted").unwrap(), None);
        assert_eq!(read.catalog_get("table").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(read.item_get(Space::Items, b"first").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(read.item_get(Space::Items, b"last").unwrap().as_deref(), Some(&b"3"[..]));
        let log: Vec<String> = store
            .changes_after(before_seq, 10)
            .unwrap()
            .into_iter()
            .map(|e| match e.change {
                Change::BucketDeleted { name } => name,
                other => panic!("unexpected change {other:?}"),
            })
            .collect();
        assert_eq!(log, ["first", "last"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_closure_that_writes_then_returns_an_error_commits_nothing_and_its_neighbours_commit() {
        a_closure_that_writes_then_fails_commits_nothing(false).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_closure_that_writes_then_panics_commits_nothing_and_its_neighbours_commit() {
        a_closure_that_writes_then_fails_commits_nothing(true).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_closure_too_big_to_undo_fails_its_whole_batch_and_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
        let big = vec![7u8; 64 << 10];
        let keys: Vec<Vec<u8>> = (0..32u8).map(|i| vec![b'k', i]).collect();
        let (k, b) = (keys.clone(), big.clone());
        store
            .write(move |tx| -> Result<(), StoreError> { k.iter().try_for_each(|key| tx.item_put(Space::Items, key, &b)) })
            .await
            .unwrap();
        let before_seq = store.last_seq();
        let holder = hold_the_writer(&store);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let neighbour = {
            let store = store.clone();
            tokio::spawn(async move { store.write(|tx| append_marker(tx, "neighbour")).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let huge = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| -> Result<(), StoreError> {
                        // Writes 2 MiB, then replaces it: the second pass
                        // logs 2 MiB of the batch's own values, more than
                        // the undo log holds in tests.
                        let other = vec![8u8; 64 << 10];
                        for _ in 0..2 {
                            keys.iter().try_for_each(|key| tx.item_put(Space::Items, key, &other))?;
                        }
                        Err(StoreError::NoSuchBucket)
                    })
                    .await
            })
        };
        holder.await.unwrap();
        assert!(neighbour.await.unwrap().is_err(), "the batch was refused as a whole");
        assert!(huge.await.unwrap().is_err());
        assert_eq!(store.last_seq(), before_seq);
        let read = store.read().unwrap();
        assert_eq!(read.item_get(Space::Items, &[b'k', 31]).unwrap(), Some(big));
        drop(read);
        // The store takes writes again afterwards.
        store.write(|tx| append_marker(tx, "after")).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_mutation_reports_its_error_and_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
        let err = store.write(|_tx| -> Result<(), StoreError> { Err(StoreError::NoSuchBucket) }).await;
        assert!(matches!(err, Err(StoreError::NoSuchBucket)));
        assert_eq!(store.last_seq(), 0);
    }
}
