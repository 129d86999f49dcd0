//! Coordination between the nodes of one region that share a backend:
//! - what a commit tells the other nodes ([`CommitNotice`]), so their
//!   change-log watches wake and their caches of the tables it wrote reload;
//! - leases, so that exactly one node runs a region-wide job (the shipper
//!   towards a peer, the TTL reaper), and another takes it over when that
//!   node dies ([`run_leased`]).
//!
//! On the embedded backend a region is one node: it always holds every
//! lease and hears only its own commits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::kv::Table;

/// What one commit changed, as other nodes hear of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitNotice {
    /// The region's last sequence number after the commit.
    pub(crate) last_seq: u64,
    /// The tables the commit wrote.
    pub(crate) tables: Vec<Table>,
}

impl CommitNotice {
    /// The notice as a NOTIFY payload: `<last_seq> <table>,<table>...`
    /// (numbers and table names only, so it needs no quoting).
    pub(crate) fn encode(&self) -> String {
        let tables: Vec<&str> = self.tables.iter().map(|t| t.name()).collect();
        format!("{} {}", self.last_seq, tables.join(","))
    }

    /// Reads a payload of [`Self::encode`]; `None` for anything else.
    pub(crate) fn decode(payload: &str) -> Option<Self> {
        let (seq, tables) = payload.split_once(' ')?;
        let tables = tables
            .split(',')
            .filter(|name| !name.is_empty())
            .map(|name| Table::ALL.iter().copied().find(|t| t.name() == name))
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            last_seq: seq.parse().ok()?,
            tables,
        })
    }
}

/// Called with every notice heard from the nodes sharing the backend. After
/// a lost connection to the notices, the backend calls it once with every
/// table (notices may have been missed meanwhile).
pub(crate) type Hear = Arc<dyn Fn(CommitNotice) + Send + Sync>;

/// The backend's means of coordination.
pub(crate) trait Coordination: Send + Sync {
    /// Takes the lease `name` for this node, or `None` while another node
    /// holds it.
    fn try_lease(&self, name: &str) -> Result<Option<Box<dyn LeaseHold>>, StoreError>;

    /// Starts delivering the notices of commits (this node's included) to
    /// `hear`, in the background, until the backend is dropped.
    fn listen(&self, hear: Hear) -> Result<(), StoreError>;
}

/// A held lease; dropping it gives the lease up.
pub(crate) trait LeaseHold: Send + Sync {
    /// Whether the lease is still this node's (false once the connection
    /// that holds it is lost: another node may hold it now).
    fn held(&self) -> bool;
}

/// The embedded backend's coordination: the only node.
pub(crate) struct SingleNode;

struct AlwaysHeld;

impl LeaseHold for AlwaysHeld {
    fn held(&self) -> bool {
        true
    }
}

impl Coordination for SingleNode {
    fn try_lease(&self, _name: &str) -> Result<Option<Box<dyn LeaseHold>>, StoreError> {
        Ok(Some(Box::new(AlwaysHeld)))
    }

    fn listen(&self, _hear: Hear) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How often a node that does not hold a lease tries to take it, and how
/// often a holder checks that it still does.
pub const LEASE_POLL: Duration = Duration::from_millis(500);

/// Whether this node holds a lease now, for status pages.
pub type LeaseFlag = Arc<std::sync::atomic::AtomicBool>;

/// Runs `job` on this node while it holds the lease `name`, and only then:
/// waits for the lease, runs a fresh `job()` once it has it, and stops that
/// run when the lease is lost (then waits to take it again). `holding` says
/// at any time whether this node holds it. Returns when a run of `job` ends
/// by itself.
pub(crate) async fn run_leased<F, Fut>(coordination: Arc<dyn Coordination>, name: String, holding: LeaseFlag, job: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    use std::sync::atomic::Ordering;
    loop {
        let lease = wait_for_lease(&*coordination, &name).await;
        tracing::info!(lease = %name, "this node holds the lease; running its job");
        holding.store(true, Ordering::Release);
        let lost = async {
            while lease.held() {
                tokio::time::sleep(LEASE_POLL).await;
            }
        };
        tokio::select! {
            () = job() => {
                holding.store(false, Ordering::Release);
                return;
            }
            () = lost => {
                holding.store(false, Ordering::Release);
                tracing::warn!(lease = %name, "lost the lease; its job stops here until this node holds it again");
            }
        }
    }
}

/// Tries the lease every [`LEASE_POLL`] until this node holds it.
async fn wait_for_lease(coordination: &dyn Coordination, name: &str) -> Box<dyn LeaseHold> {
    let mut told = false;
    loop {
        match coordination.try_lease(name) {
            Ok(Some(lease)) => return lease,
            Ok(None) if !told => {
                tracing::info!(lease = %name, "another node holds the lease; standing by");
                told = true;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(lease = %name, error = %e, "cannot try the lease"),
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_survives_its_payload() {
        let notice = CommitNotice {
            last_seq: 42,
            tables: vec![Table::Changes, Table::AppSpecs],
        };
        assert_eq!(CommitNotice::decode(&notice.encode()), Some(notice));
        let empty = CommitNotice {
            last_seq: 7,
            tables: vec![],
        };
        assert_eq!(CommitNotice::decode(&empty.encode()), Some(empty));
        assert_eq!(CommitNotice::decode("x changes"), None);
        assert_eq!(CommitNotice::decode("3 no_such_table"), None);
        assert_eq!(CommitNotice::decode(""), None);
    }

    /// A lease that is lost after a while, then taken again.
    struct Flaky {
        tries: std::sync::atomic::AtomicUsize,
    }

    struct Until(std::time::Instant);

    impl LeaseHold for Until {
        fn held(&self) -> bool {
            std::time::Instant::now() < self.0
        }
    }

    impl Coordination for Flaky {
        fn try_lease(&self, _name: &str) -> Result<Option<Box<dyn LeaseHold>>, StoreError> {
            let n = self.tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Refused once, then held for 200 ms each time.
            Ok((n > 0).then(|| Box::new(Until(std::time::Instant::now() + Duration::from_millis(200))) as Box<dyn LeaseHold>))
        }

        fn listen(&self, _hear: Hear) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_leased_job_runs_only_while_held_and_restarts_when_taken_again() {
        let coordination: Arc<dyn Coordination> = Arc::new(Flaky { tries: Default::default() });
        let starts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let holding: LeaseFlag = Default::default();
        let counted = Arc::clone(&starts);
        let task = tokio::spawn(run_leased(coordination, "job".into(), Arc::clone(&holding), move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::pending::<()>()
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 0, "refused at first: not started");
        assert!(!holding.load(std::sync::atomic::Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(holding.load(std::sync::atomic::Ordering::SeqCst));
        // Held 200 ms, noticed lost within a poll, taken again at once.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            starts.load(std::sync::atomic::Ordering::SeqCst) >= 2,
            "the job starts again once the lease is back"
        );
        task.abort();
    }
}
