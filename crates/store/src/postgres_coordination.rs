//! Coordination of the nodes sharing one PostgreSQL database and schema
//! ([`crate::coordination`]). Advisory locks and notification channels are
//! per database, and several regions may keep their tables in schemas of
//! one database, so lock keys and the channel name are derived from the
//! database and schema (the region's *scope*):
//! - a lease is a session advisory lock, held on a connection of its own.
//!   A node that dies takes its connection with it, and PostgreSQL frees the
//!   lock at once, so another node's next try (every half second) takes it;
//! - a commit notice is a `NOTIFY tandem_commits_<scope hash>` sent in the committing
//!   transaction, so it is delivered only if the transaction commits, and
//!   heard by every node on a `LISTEN` connection of its own. A listener that
//!   loses its connection reconnects and then reports every table changed,
//!   since it may have missed notices meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{AsyncMessage, NoTls};

use crate::coordination::{CommitNotice, Coordination, Hear, LeaseHold};
use crate::error::StoreError;
use crate::kv::Table;
use crate::postgres_backend::{Conn, Inner, Param, pg_error};

/// How long a lost listener waits before it connects again.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct PgCoordination {
    inner: Arc<Inner>,
    /// `<database>/<schema>` of the region's tables.
    scope: String,
    /// The channel of the scope's commit notices.
    channel: String,
    /// Per lease this node does not hold, the connection it tries it on
    /// (kept, so that standing by does not open a connection per try).
    candidates: Mutex<HashMap<String, Arc<Conn>>>,
}

impl PgCoordination {
    /// Coordination of the region whose tables `conn` sees.
    pub(crate) fn new(inner: Arc<Inner>, conn: &Arc<Conn>) -> Result<Self, StoreError> {
        let rows = inner.query(
            conn,
            "SELECT current_database() || '/' || coalesce(current_schema(), '')".into(),
            vec![],
        )?;
        let scope: String = rows.first().map(|r| r.get(0)).unwrap_or_default();
        Ok(Self {
            channel: format!("tandem_commits_{:016x}", fnv1a(&scope)),
            scope,
            inner,
            candidates: Mutex::new(HashMap::new()),
        })
    }

    /// The channel commits of this region notify.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }
}

/// A lease held: its lock lives as long as this connection.
struct PgLease {
    conn: Arc<Conn>,
}

impl LeaseHold for PgLease {
    fn held(&self) -> bool {
        !self.conn.client.is_closed()
    }
}

/// FNV-1a, 64 bits: stable across builds, unlike std's hasher.
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The advisory-lock key of the lease `name` in `scope`, as a signed 64-bit
/// number (PostgreSQL's key type).
fn lease_key(scope: &str, name: &str) -> i64 {
    fnv1a(&format!("tandem lease {scope} {name}")) as i64
}

impl Coordination for PgCoordination {
    fn try_lease(&self, name: &str) -> Result<Option<Box<dyn LeaseHold>>, StoreError> {
        let kept = self.candidates.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
        let conn = match kept.filter(|c| !c.client.is_closed()) {
            Some(conn) => conn,
            None => self.inner.connect()?,
        };
        let rows = self.inner.query(
            &conn,
            "SELECT pg_try_advisory_lock($1)".into(),
            vec![Param::Int(lease_key(&self.scope, name))],
        )?;
        let taken = rows.first().is_some_and(|row| row.get::<_, bool>(0));
        if taken {
            return Ok(Some(Box::new(PgLease { conn })));
        }
        self.candidates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), conn);
        Ok(None)
    }

    fn listen(&self, hear: Hear) -> Result<(), StoreError> {
        // The first LISTEN is in place before this returns: whatever the
        // store reads after opening, a later commit is heard.
        let config = self.inner.config().clone();
        let channel = self.channel.clone();
        let first = self.inner.run(start_listening(config.clone(), channel.clone()))?;
        self.inner.spawn(async move {
            let mut listening = Some(first);
            loop {
                let outcome = match listening.take() {
                    Some(listener) => listener.hear_until_lost(&hear).await,
                    None => match start_listening(config.clone(), channel.clone()).await {
                        Ok(listener) => {
                            // Notices may have gone out while no one listened.
                            hear(CommitNotice {
                                last_seq: 0,
                                tables: Table::ALL.to_vec(),
                            });
                            listener.hear_until_lost(&hear).await
                        }
                        Err(e) => e,
                    },
                };
                tracing::warn!(error = %outcome, "lost the postgres commit notices; listening again");
                tokio::time::sleep(RELISTEN_AFTER).await;
            }
        });
        Ok(())
    }
}

/// A connection that has run `LISTEN`, with the notices that came with it.
struct Listener {
    _client: tokio_postgres::Client,
    connection: tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
    early: Vec<CommitNotice>,
}

/// Connects and listens on `channel`.
async fn start_listening(config: tokio_postgres::Config, channel: String) -> Result<Listener, StoreError> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(pg_error)?;
    let mut early = Vec::new();
    {
        let sql = format!("LISTEN {channel}");
        let mut listen = std::pin::pin!(client.batch_execute(&sql));
        loop {
            tokio::select! {
                answer = &mut listen => {
                    answer.map_err(pg_error)?;
                    break;
                }
                message = std::future::poll_fn(|cx| connection.poll_message(cx)) => {
                    if let Some(notice) = notice_of(message)? {
                        early.push(notice);
                    }
                }
            }
        }
    }
    Ok(Listener {
        _client: client,
        connection,
        early,
    })
}

/// The commit notice in a message from the server, if it is one; an error
/// once the connection is lost.
fn notice_of(message: Option<Result<AsyncMessage, tokio_postgres::Error>>) -> Result<Option<CommitNotice>, StoreError> {
    match message {
        Some(Ok(AsyncMessage::Notification(n))) => {
            let notice = CommitNotice::decode(n.payload());
            if notice.is_none() {
                tracing::warn!(payload = %n.payload(), "a commit notice does not decode; ignored");
            }
            Ok(notice)
        }
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(pg_error(e)),
        None => Err(StoreError::Db("postgres: the listening connection closed".into())),
    }
}

impl Listener {
    /// Hands every notice to `hear` until the connection is lost; returns why.
    async fn hear_until_lost(mut self, hear: &Hear) -> StoreError {
        for notice in self.early.drain(..) {
            hear(notice);
        }
        loop {
            match notice_of(std::future::poll_fn(|cx| self.connection.poll_message(cx)).await) {
                Ok(Some(notice)) => hear(notice),
                Ok(None) => {}
                Err(e) => return e,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::Change;
    use crate::coordination::LeaseFlag;
    use crate::db::{Store, StoreBackend, StoreOptions};
    use std::sync::atomic::Ordering;

    async fn until(what: &str, flag: &LeaseFlag, value: bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while flag.load(Ordering::Acquire) != value {
            assert!(tokio::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Two nodes of one region on one database: each hears the other's
    /// commits (the change-log watch, the app specs), and a lease is held by
    /// one of them at a time and passes to the other when its holder goes.
    #[tokio::test(flavor = "multi_thread")]
    async fn nodes_of_one_database_hear_each_other_and_share_leases() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::test_backend::backend_for(dir.path());
        if backend == StoreBackend::Embedded {
            return; // one node per embedded store (see two_writers_on_one_database_keep_one_gap_free_log)
        }
        let options = StoreOptions {
            backend,
            ..StoreOptions::default()
        };
        let a = Store::open_with(&dir.path().join("a"), "r", &options).unwrap();
        let b = Store::open_with(&dir.path().join("b"), "r", &options).unwrap();

        let mut commits = b.subscribe();
        let mut specs = b.watch_app_specs();
        specs.borrow_and_update();
        a.write(|tx| {
            let hlc = tx.now();
            tx.append("a", hlc, Change::BucketDeleted { name: "x".into() })
        })
        .await
        .unwrap();
        let seq = a.last_seq();
        tokio::time::timeout(Duration::from_secs(5), commits.wait_for(|s| *s >= seq))
            .await
            .expect("b hears a's commit")
            .unwrap();
        assert!(!specs.has_changed().unwrap(), "no app spec was written");
        a.write(|tx| tx.put_app_spec("app", &serde_json::json!({"id": "app"})))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), specs.changed())
            .await
            .expect("b hears that the app specs changed")
            .unwrap();

        let (held_by_a, held_by_b) = (LeaseFlag::default(), LeaseFlag::default());
        let first = {
            let (a, flag) = (a.clone(), Arc::clone(&held_by_a));
            tokio::spawn(async move { a.run_leased("job", flag, std::future::pending::<()>).await })
        };
        until("a takes the free lease", &held_by_a, true).await;
        let second = {
            let (b, flag) = (b.clone(), Arc::clone(&held_by_b));
            tokio::spawn(async move { b.run_leased("job", flag, std::future::pending::<()>).await })
        };
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(!held_by_b.load(Ordering::Acquire), "b stands by while a holds the lease");
        first.abort();
        until("b takes the lease a gave up", &held_by_b, true).await;
        second.abort();
    }

    #[test]
    fn lease_keys_differ_by_name() {
        assert_ne!(lease_key("db/a", "shipper us-west"), lease_key("db/a", "shipper eu-central"));
        assert_ne!(
            lease_key("db/a", "jobs"),
            lease_key("db/b", "jobs"),
            "regions in two schemas of one database"
        );
        assert_eq!(lease_key("db/a", "jobs"), lease_key("db/a", "jobs"));
    }
}
