//! The PostgreSQL backend: each table of the store is a relation
//! `tandem_<name> (k bytea PRIMARY KEY, v bytea NOT NULL)`; bytea sorts as
//! unsigned bytes, as the store's keys need.
//!
//! The store's calls are synchronous, so the backend runs tokio-postgres on a
//! small runtime of its own and the caller waits for each answer, inside
//! `block_in_place` on a worker of a multi-threaded runtime so that the
//! worker's other tasks go on meanwhile (every statement is bounded by
//! `statement_timeout`, connecting by `connect_timeout`).
//!
//! - A snapshot is a pooled connection in a `REPEATABLE READ READ ONLY`
//!   transaction, begun at its first read and rolled back, in the background,
//!   when it is dropped.
//! - The writer has a connection of its own. A batch begins with
//!   `SELECT ... FOR UPDATE` of the `last_seq` row of `tandem_meta`: the
//!   batches of every node sharing the database take turns on that row lock,
//!   so each batch reads the last sequence number committed before it and
//!   commits before the next one reads it. The change log stays gap-free and
//!   in commit order with several writers, at the cost of serialising their
//!   commits (each node still commits many writes per batch).
//! - A commit returns once PostgreSQL has committed it with
//!   `synchronous_commit = on`, which every connection sets.
//! - Range reads fetch pages (32 rows, doubling up to 1024), so a scan that
//!   stops early reads little, and a long one holds one page in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::error::StoreError;
use crate::kv::{Backend, Batch, Entry, KvIter, KvRead, Snapshot, Table};

/// Connections kept idle for snapshots.
const MAX_IDLE: usize = 16;
/// Rows of the first page of a range read, and of the largest.
const FIRST_PAGE: i64 = 32;
const MAX_PAGE: i64 = 1024;

/// What a connection sets before it is used: commits durable before they
/// return, and no statement (a lock wait included) longer than 30 s.
const SESSION_SETUP: &str = "SET synchronous_commit = on; SET statement_timeout = '30s'";
/// Connecting gives up after this unless the URL says otherwise.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Idle time before TCP keepalive probes start on every connection.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(15);

pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    StoreError::Db(format!("postgres: {e}"))
}

/// The relation of a table.
fn relation(table: Table) -> String {
    format!("tandem_{}", table.name())
}

/// A connection and the statements prepared on it.
pub(crate) struct Conn {
    pub(crate) client: Client,
    prepared: Mutex<HashMap<String, Statement>>,
}

impl Conn {
    async fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.prepared.lock().unwrap_or_else(|e| e.into_inner()).get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    pub(crate) async fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
        self.client.query(&statement, &refs).await
    }
}

/// An owned statement parameter (the query runs on the backend's runtime).
pub(crate) enum Param {
    Bytes(Vec<u8>),
    Int(i64),
    BytesList(Vec<Vec<u8>>),
    IntList(Vec<i64>),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Bytes(b) => b,
            Param::Int(n) => n,
            Param::BytesList(l) => l,
            Param::IntList(l) => l,
        }
    }
}

/// The runtime the connections live on, and the connection settings.
pub(crate) struct Inner {
    runtime: Option<tokio::runtime::Runtime>,
    config: tokio_postgres::Config,
    idle: Mutex<Vec<Arc<Conn>>>,
}

impl Inner {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.as_ref().expect("the runtime lives as long as the backend").handle()
    }

    /// Runs `fut` on the backend's runtime and waits for its answer.
    pub(crate) fn run<R: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<R, StoreError>> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(fut.await);
        });
        let wait = move || {
            rx.recv()
                .unwrap_or_else(|_| Err(StoreError::Db("postgres: the query task was dropped".into())))
        };
        // On a worker of a multi-threaded runtime, `block_in_place` hands the
        // worker's other tasks to another thread for the round trip. (A task
        // that resumes from it while its runtime shuts down panics on its
        // next timer, so `tandem` exits without dropping its runtime.)
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }

    /// Runs work in the background, answering no one (a rollback on drop).
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.handle().spawn(fut);
    }

    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// A new connection, not from the pool.
    pub(crate) fn connect(&self) -> Result<Arc<Conn>, StoreError> {
        self.run(Self::connect_on(self.config.clone(), self.handle().clone()))
    }

    /// Opens a connection whose driver task runs on `handle`.
    async fn connect_on(config: tokio_postgres::Config, handle: tokio::runtime::Handle) -> Result<Arc<Conn>, StoreError> {
        let (client, connection) = config.connect(NoTls).await.map_err(pg_error)?;
        handle.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection ended");
            }
        });
        client.batch_execute(SESSION_SETUP).await.map_err(pg_error)?;
        Ok(Arc::new(Conn {
            client,
            prepared: Mutex::new(HashMap::new()),
        }))
    }

    fn idle_conn(&self) -> Option<Arc<Conn>> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        idle.filter(|conn| !conn.client.is_closed())
    }

    pub(crate) fn checkout(&self) -> Result<Arc<Conn>, StoreError> {
        match self.idle_conn() {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    /// [`Self::checkout`] for a task on the backend's own runtime.
    pub(crate) async fn checkout_async(&self) -> Result<Arc<Conn>, StoreError> {
        match self.idle_conn() {
            Some(conn) => Ok(conn),
            None => Self::connect_on(self.config.clone(), self.handle().clone()).await,
        }
    }

    pub(crate) fn give_back(&self, conn: Arc<Conn>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if !conn.client.is_closed() && idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs a statement on `conn` and waits for its rows.
    pub(crate) fn query(&self, conn: &Arc<Conn>, sql: String, params: Vec<Param>) -> Result<Vec<Row>, StoreError> {
        let conn = Arc::clone(conn);
        self.run(async move { conn.query(&sql, &params).await.map_err(pg_error) })
    }

    /// Runs statements that return no rows (simple query protocol).
    pub(crate) fn execute(&self, conn: &Arc<Conn>, sql: impl Into<String>) -> Result<(), StoreError> {
        let (conn, sql) = (Arc::clone(conn), sql.into());
        self.run(async move { conn.client.batch_execute(&sql).await.map_err(pg_error) })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which an async caller may
        // not do; stopping it in the background is allowed anywhere.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

pub(crate) struct PostgresBackend {
    inner: Arc<Inner>,
    /// The writer's own connection; `None` until first used or after it broke.
    writer: Mutex<Option<Arc<Conn>>>,
    described: String,
    coordination: Arc<crate::postgres_coordination::PgCoordination>,
}

impl PostgresBackend {
    /// Connects to `url` and creates the tables that do not exist yet.
    pub(crate) fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Db(format!("the postgres URL does not parse: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A lease's connection to a database host that vanished must be
        // noticed as lost within about a minute, not TCP's two hours.
        config.keepalives_idle(KEEPALIVE_IDLE);
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        let described = describe(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres")
            .enable_all()
            .build()?;
        let inner = Arc::new(Inner {
            runtime: Some(runtime),
            config,
            idle: Mutex::new(Vec::new()),
        });
        let conn = inner
            .connect()
            .map_err(|e| StoreError::Db(format!("cannot connect to {described}: {e}")))?;
        create_schema(&inner, &conn)?;
        let coordination = crate::postgres_coordination::PgCoordination::new(Arc::clone(&inner), &conn)?;
        Ok(Self {
            coordination: Arc::new(coordination),
            inner,
            writer: Mutex::new(Some(conn)),
            described,
        })
    }

    /// The body store in the same database ([`crate::postgres_bodies`]).
    pub(crate) fn bodies(&self) -> Result<crate::postgres_bodies::PgBodies, StoreError> {
        crate::postgres_bodies::PgBodies::open(Arc::clone(&self.inner), &self.described)
    }

    fn writer_conn(&self) -> Result<Arc<Conn>, StoreError> {
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(conn) if !conn.client.is_closed() => Ok(Arc::clone(conn)),
            _ => {
                let conn = self.inner.connect()?;
                *slot = Some(Arc::clone(&conn));
                Ok(conn)
            }
        }
    }
}

/// `url` with its password, if any, replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}")
        }
        None => url.to_string(),
    }
}

/// Host, port, database and user of a connection (never its password).
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(default)");
    let user = config.get_user().unwrap_or("(default)");
    format!("postgres://{user}@{host}:{port}/{db}")
}

/// Creates every relation and the `last_seq` row the writers lock, under an
/// advisory lock so that nodes starting together do not race.
fn create_schema(inner: &Inner, conn: &Arc<Conn>) -> Result<(), StoreError> {
    let mut sql = String::from("BEGIN; SELECT pg_advisory_xact_lock(7263951);\n");
    for table in Table::ALL {
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} (k bytea PRIMARY KEY, v bytea NOT NULL);\n",
            relation(table)
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO {} (k, v) VALUES ('last_seq'::bytea, '\\x0000000000000000'::bytea) ON CONFLICT DO NOTHING;\nCOMMIT;",
        relation(Table::Meta)
    ));
    inner.execute(conn, sql)
}

impl PgSnapshot {
    /// A snapshot, begun at its first read.
    fn new(inner: &Arc<Inner>) -> Self {
        Self {
            inner: Arc::clone(inner),
            conn: Mutex::new(None),
        }
    }
}

impl Backend for PostgresBackend {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        Ok(Box::new(PgSnapshot::new(&self.inner)))
    }

    fn begin(&self) -> Result<Box<dyn Batch + '_>, StoreError> {
        let conn = self.writer_conn()?;
        let lock = format!(
            "BEGIN; SELECT 1 FROM {} WHERE k = 'last_seq'::bytea FOR UPDATE",
            relation(Table::Meta)
        );
        self.inner.execute(&conn, lock)?;
        Ok(Box::new(PgBatch {
            inner: &self.inner,
            channel: self.coordination.channel(),
            conn,
            open: true,
            read_cache: Default::default(),
        }))
    }

    fn recover(&self) -> Result<(), StoreError> {
        let fresh = self.inner.connect()?;
        *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
        Ok(())
    }

    fn needs_recovery(&self) -> bool {
        let slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().is_none_or(|c| c.client.is_closed())
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        let conn = self.inner.checkout()?;
        let rows = self.inner.query(
            &conn,
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c \
             WHERE c.relkind = 'r' AND c.relname LIKE 'tandem\\_%' AND pg_table_is_visible(c.oid)"
                .into(),
            vec![],
        );
        self.inner.give_back(conn);
        Ok(rows?.first().map_or(0, |r| r.get::<_, i64>(0).max(0) as u64))
    }

    fn describe(&self) -> String {
        self.described.clone()
    }

    fn coordination(&self) -> Arc<dyn crate::coordination::Coordination> {
        Arc::clone(&self.coordination) as Arc<dyn crate::coordination::Coordination>
    }
}

/// Reads on one connection: the statements shared by snapshots and batches.
trait Reader {
    fn rows(&self, sql: String, params: Vec<Param>) -> Result<Vec<Row>, StoreError>;
}

fn get(reader: &dyn Reader, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let sql = format!("SELECT v FROM {} WHERE k = $1", relation(table));
    let rows = reader.rows(sql, vec![Param::Bytes(key.to_vec())])?;
    Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
}

fn range<'a>(reader: &'a dyn Reader, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
    if to.is_some_and(|to| to <= from) {
        return Box::new(std::iter::empty());
    }
    Box::new(Pages {
        reader,
        table,
        lower: from.to_vec(),
        lower_inclusive: true,
        upper: to.map(<[u8]>::to_vec),
        reverse,
        page: FIRST_PAGE,
        buffered: VecDeque::new(),
        done: false,
    })
}

/// A range read a page at a time, each page continuing after the last key of
/// the one before.
struct Pages<'a> {
    reader: &'a dyn Reader,
    table: Table,
    lower: Vec<u8>,
    lower_inclusive: bool,
    upper: Option<Vec<u8>>,
    reverse: bool,
    page: i64,
    buffered: VecDeque<Entry>,
    done: bool,
}

impl Pages<'_> {
    fn fetch(&mut self) -> Result<(), StoreError> {
        let lower_op = if self.lower_inclusive { ">=" } else { ">" };
        let mut sql = format!("SELECT k, v FROM {} WHERE k {lower_op} $1", relation(self.table));
        let mut params = vec![Param::Bytes(self.lower.clone())];
        if let Some(upper) = &self.upper {
            sql.push_str(" AND k < $2");
            params.push(Param::Bytes(upper.clone()));
        }
        let order = if self.reverse { "DESC" } else { "ASC" };
        sql.push_str(&format!(" ORDER BY k {order} LIMIT ${}", params.len() + 1));
        params.push(Param::Int(self.page));
        let rows = self.reader.rows(sql, params)?;
        if (rows.len() as i64) < self.page {
            self.done = true;
        }
        self.page = (self.page * 2).min(MAX_PAGE);
        for row in rows {
            self.buffered.push_back((row.get(0), row.get(1)));
        }
        if let Some((last, _)) = self.buffered.back() {
            if self.reverse {
                self.upper = Some(last.clone());
            } else {
                self.lower = last.clone();
                self.lower_inclusive = false;
            }
        }
        Ok(())
    }
}

impl Iterator for Pages<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffered.is_empty()
            && !self.done
            && let Err(e) = self.fetch()
        {
            self.done = true;
            return Some(Err(e));
        }
        self.buffered.pop_front().map(Ok)
    }
}

/// A pooled connection in a read-only snapshot transaction, begun lazily.
struct PgSnapshot {
    inner: Arc<Inner>,
    conn: Mutex<Option<Arc<Conn>>>,
}

impl Reader for PgSnapshot {
    /// The first read checks a connection out and begins the snapshot
    /// transaction, sending `BEGIN` and the query together (tokio-postgres
    /// pipelines requests polled in order): one round trip, not two.
    fn rows(&self, sql: String, params: Vec<Param>) -> Result<Vec<Row>, StoreError> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = slot.as_ref() {
            return self.inner.query(conn, sql, params);
        }
        let conn = self.inner.checkout()?;
        let c = Arc::clone(&conn);
        let rows = self.inner.run(async move {
            let (begun, rows) = tokio::join!(
                c.client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                c.query(&sql, &params)
            );
            begun.map_err(pg_error)?;
            rows.map_err(pg_error)
        });
        // Kept even after an error: dropping the snapshot rolls it back.
        *slot = Some(conn);
        rows
    }
}

impl KvRead for PgSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        get(self, table, key)
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'_>, StoreError> {
        Ok(range(self, table, from, to, reverse))
    }
}

impl Drop for PgSnapshot {
    fn drop(&mut self) {
        let Some(conn) = self.conn.get_mut().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let inner = Arc::clone(&self.inner);
        self.inner.spawn(async move {
            if conn.client.batch_execute("ROLLBACK").await.is_ok() {
                inner.give_back(conn);
            }
        });
    }
}

/// The writer's transaction, holding the `last_seq` row lock.
struct PgBatch<'a> {
    inner: &'a Arc<Inner>,
    /// Where the commit's notice goes.
    channel: &'a str,
    conn: Arc<Conn>,
    /// Not yet committed (rolled back if dropped).
    open: bool,
    /// Values this batch has read. While it holds the lock no other batch
    /// commits, and its own writes come only at the end, so they hold until
    /// the commit: the many writes of a batch that read the same bucket
    /// record read it once, not once per write (a round trip each).
    read_cache: std::cell::RefCell<ReadCache>,
}

/// The values a batch has read, bounded in count and value size.
#[derive(Default)]
struct ReadCache {
    values: HashMap<Table, HashMap<Vec<u8>, Option<Vec<u8>>>>,
    entries: usize,
}

impl ReadCache {
    const MAX_ENTRIES: usize = 4096;
    const MAX_VALUE: usize = 16 * 1024;

    fn get(&self, table: Table, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.values.get(&table)?.get(key).cloned()
    }

    fn keep(&mut self, table: Table, key: &[u8], value: &Option<Vec<u8>>) {
        if self.entries < Self::MAX_ENTRIES && value.as_ref().is_none_or(|v| v.len() <= Self::MAX_VALUE) {
            self.values.entry(table).or_default().insert(key.to_vec(), value.clone());
            self.entries += 1;
        }
    }
}

impl Reader for PgBatch<'_> {
    fn rows(&self, sql: String, params: Vec<Param>) -> Result<Vec<Row>, StoreError> {
        self.inner.query(&self.conn, sql, params)
    }
}

impl KvRead for PgBatch<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(cached) = self.read_cache.borrow().get(table, key) {
            return Ok(cached);
        }
        let value = get(self, table, key)?;
        self.read_cache.borrow_mut().keep(table, key, &value);
        Ok(value)
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'_>, StoreError> {
        Ok(range(self, table, from, to, reverse))
    }
}

impl Batch for PgBatch<'_> {
    fn apply(&mut self, table: Table, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StoreError> {
        let (mut keys, mut values, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        for (key, value) in writes {
            match value {
                Some(v) => {
                    keys.push(key);
                    values.push(v);
                }
                None => removed.push(key),
            }
        }
        let rel = relation(table);
        if !removed.is_empty() {
            let sql = format!("DELETE FROM {rel} WHERE k = ANY($1)");
            self.rows(sql, vec![Param::BytesList(removed)])?;
        }
        if !keys.is_empty() {
            let sql = format!(
                "INSERT INTO {rel} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            );
            self.rows(sql, vec![Param::BytesList(keys), Param::BytesList(values)])?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>, notice: &crate::coordination::CommitNotice) -> Result<(), StoreError> {
        self.open = false;
        // One round trip; the notice goes out only if the commit does.
        let sql = format!("NOTIFY {}, '{}'; COMMIT", self.channel, notice.encode());
        self.inner.execute(&self.conn, sql)
    }
}

impl Drop for PgBatch<'_> {
    fn drop(&mut self) {
        // Synchronously: the writer's next batch uses the same connection.
        if self.open
            && let Err(e) = self.inner.execute(&self.conn, "ROLLBACK")
        {
            tracing::warn!(error = %e, "rolling back an abandoned write batch");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::Change;
    use crate::db::{Store, StoreBackend, StoreOptions};

    /// Two nodes of one region: two stores on one database, each with its
    /// own writer, writing at once. On PostgreSQL their batches take turns,
    /// and the change log is gap-free with each node's changes in the order
    /// it committed them. The embedded backend has one writer per file: a
    /// second store on the same directory is refused.
    #[tokio::test(flavor = "multi_thread")]
    async fn two_writers_on_one_database_keep_one_gap_free_log() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::test_backend::backend_for(dir.path());
        let options = StoreOptions {
            backend: backend.clone(),
            ..StoreOptions::default()
        };
        let first = Store::open_with(&dir.path().join("a"), "r", &options).unwrap();
        let second = match backend {
            StoreBackend::Embedded => {
                let refused = Store::open_with(&dir.path().join("a"), "r", &options)
                    .err()
                    .expect("a second writer is refused");
                assert!(refused.to_string().contains("locked by another process"), "{refused}");
                return;
            }
            StoreBackend::Postgres(_) => Store::open_with(&dir.path().join("b"), "r", &options).unwrap(),
        };
        let mut tasks = Vec::new();
        for (node, store) in [("a", first.clone()), ("b", second.clone())] {
            for i in 0..100 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let name = format!("{node}{i:03}");
                    store
                        .write(move |tx| {
                            let hlc = tx.now();
                            tx.append(node, hlc, Change::BucketDeleted { name })
                        })
                        .await
                        .unwrap()
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let log = first.changes_after(0, 1000).unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>());
        for node in ["a", "b"] {
            let mine: Vec<u64> = log.iter().filter(|e| e.origin == node).map(|e| e.hlc).collect();
            assert_eq!(mine.len(), 100);
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "node {node}'s changes are in its commit order"
            );
        }
        assert_eq!(second.changes_after(0, 1000).unwrap().len(), 200, "both read the one log");
    }

    #[test]
    fn a_password_never_leaves_the_url() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert!(!format!("{:?}", crate::StoreBackend::Postgres("postgres://u:pw@h/db".into())).contains("pw"));
        let refused = crate::StoreBackend::parse("mysql://u:secret@h/db").unwrap_err();
        assert!(!refused.contains("secret"), "{refused}");
    }
}
