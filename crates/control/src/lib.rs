//! The control plane of a region node: application states (`active`,
//! `fenced`, `failover`) stored in the store and replicated like everything
//! else, enforced on every client write by [`gate::AppGate`] inside the write's
//! own transaction, announced as `STATE_UPDATED` events, and — for apps that
//! opt in — changed by [`watch`] when the primary stops answering.

pub mod app;
pub mod audit;
pub mod gate;
pub mod metrics;
pub mod safety;
pub mod state;
pub mod watch;

use std::sync::Arc;

use serde_json::{Value, json};
use tandem_store::replica::Applied;
use tandem_store::{Store, StoreError, Tx};

pub use app::{AppBucket, AppSpec, AppTable, AutoFailover};
pub use audit::{Actor, AuditRecord};
pub use state::{AppState, StateRecord};

/// Why a state change was not made.
#[derive(Debug)]
pub enum ControlError {
    UnknownApp(String),
    Store(StoreError),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::UnknownApp(id) => write!(f, "no application named {id:?}"),
            ControlError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        ControlError::Store(e)
    }
}

/// The outcome of a state change: the record now in force, and the change-log
/// position at which it took effect (every write committed before it has a
/// smaller sequence number).
#[derive(Debug, Clone)]
pub struct Changed {
    pub record: StateRecord,
    pub seq: u64,
}

/// Application states of one region. Cheap to clone.
#[derive(Clone)]
pub struct AppControl {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    region: String,
    /// Shared with the write gate; `tandem apply` adds apps at run time.
    apps: Arc<std::sync::RwLock<Vec<AppSpec>>>,
    /// The apps of the config file.
    configured: Vec<AppSpec>,
    metrics: metrics::AppMetrics,
    /// Client URL of every region, this one too.
    region_urls: std::collections::BTreeMap<String, String>,
}

/// Whether [`with_applied_specs`] logs how the applied specs differ from the
/// config's (at start-up, not on every reload).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Differences {
    Logged,
    Quiet,
}

/// The config's apps merged with the specs `tandem apply` pushed before.
/// When `differences` says so, warns about a config spec that differs from
/// the applied one, and about state records of apps this region has no spec
/// for (nothing to enforce them on: their buckets and tables are not known
/// here).
fn with_applied_specs(store: &Store, mut apps: Vec<AppSpec>, differences: Differences) -> Vec<AppSpec> {
    let logged = differences == Differences::Logged;
    let read = match store.read() {
        Ok(read) => read,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the applied app specs; enforcing the config's apps only");
            return apps;
        }
    };
    for raw in read.app_specs().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the applied app specs");
        vec![]
    }) {
        let Ok(spec) = serde_json::from_value::<AppSpec>(raw) else {
            tracing::error!("an applied app spec does not decode; skipped");
            continue;
        };
        match apps.iter_mut().find(|a| a.id == spec.id) {
            Some(file) if *file != spec => {
                if logged {
                    tracing::warn!(app = %spec.id, "the config's spec differs from the last applied one, which stays in force; run `tandem apply`");
                }
                *file = spec;
            }
            Some(_) => {}
            None => {
                if logged {
                    tracing::warn!(app = %spec.id, "app not in the config: enforcing the spec `tandem apply` pushed last");
                }
                apps.push(spec);
            }
        }
    }
    for id in read.app_record_ids().unwrap_or_default() {
        if logged && !apps.iter().any(|a| a.id == id) {
            tracing::warn!(app = %id, "holding a state record for an app with no spec here; nothing to enforce it on until `tandem apply`");
        }
    }
    apps
}

/// Brings the state-change counters up to the changes in the audit trail,
/// so they count since the region was created, not since it started.
fn count_past_changes(store: &Store, metrics: &metrics::AppMetrics) {
    let past = match store.read().and_then(|r| r.all_app_audit()) {
        Ok(raw) => audit::decode(raw),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the audit trail; state-change counters start at 0");
            return;
        }
    };
    for entry in past {
        let labels = metrics::StateLabels {
            app: entry.app,
            state: entry.to.as_str(),
        };
        metrics.changes.get_or_create(&labels).inc();
    }
}

impl AppControl {
    /// Installs the write gate for `apps` on the store. `region_urls` are
    /// the client URLs of the regions, named in refusals.
    ///
    /// The apps enforced are those of the config file plus every spec a
    /// `tandem apply` pushed earlier (kept in the store): a restart with an
    /// older file does not forget an app, and the last applied spec of an
    /// app wins over the file's.
    pub fn new(store: Store, apps: Vec<AppSpec>, region_urls: std::collections::BTreeMap<String, String>) -> Self {
        let region = store.region().to_string();
        let configured = apps.clone();
        let apps = Arc::new(std::sync::RwLock::new(with_applied_specs(&store, apps, Differences::Logged)));
        let metrics = metrics::AppMetrics::default();
        store.set_write_gate(Arc::new(gate::AppGate {
            region: region.clone(),
            apps: Arc::clone(&apps),
            region_urls: region_urls.clone(),
            refused: metrics.refused.clone(),
        }));
        count_past_changes(&store, &metrics);
        Self {
            inner: Arc::new(Inner {
                store,
                region,
                apps,
                configured,
                metrics,
                region_urls,
            }),
        }
    }

    /// The apps this region knows, as of now.
    pub fn apps(&self) -> Vec<AppSpec> {
        self.inner.apps.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The client URL of every region, this one too.
    pub fn region_urls(&self) -> &std::collections::BTreeMap<String, String> {
        &self.inner.region_urls
    }

    /// Why [`safety`]'s rule refuses setting `id` to `state` now, if it
    /// does: the write region it would leave is probed at its client URL.
    pub async fn safety_refusal(&self, id: &str, state: AppState) -> Result<Option<String>, ControlError> {
        let spec = self.app(id)?;
        let region = match safety::region_to_probe(&spec, state) {
            Ok(region) => region,
            Err(why) => return Ok(Some(why)),
        };
        let health = match self.inner.region_urls.get(region) {
            Some(url) => watch::probe(url, std::time::Duration::from_secs(2)).await,
            None => safety::Health::Unreachable(format!("no URL is known for region {region}")),
        };
        Ok(safety::refusal(&spec, region, &health))
    }

    /// Adds or replaces app definitions (from `tandem apply`) and keeps them
    /// in the store; apps not named are kept, as removing config never
    /// removes anything.
    pub async fn upsert(&self, specs: &[AppSpec]) -> Result<(), ControlError> {
        let encoded: Vec<(String, Value)> = specs
            .iter()
            .map(|spec| Ok((spec.id.clone(), serde_json::to_value(spec)?)))
            .collect::<Result<_, serde_json::Error>>()
            .map_err(|e| ControlError::Store(e.into()))?;
        self.inner
            .store
            .write(move |tx| -> Result<(), StoreError> {
                for (id, spec) in &encoded {
                    tx.put_app_spec(id, spec)?;
                }
                Ok(())
            })
            .await?;
        let mut apps = self.inner.apps.write().unwrap_or_else(|e| e.into_inner());
        for spec in specs {
            match apps.iter_mut().find(|a| a.id == spec.id) {
                Some(held) => *held = spec.clone(),
                None => apps.push(spec.clone()),
            }
        }
        Ok(())
    }

    /// Stops knowing an app (`tandem destroy`, `tandem apply --forget`): its
    /// resources are no longer gated, here and after a restart.
    pub async fn forget(&self, id: &str) -> Result<(), ControlError> {
        let app = id.to_string();
        self.inner.store.write(move |tx| tx.delete_app_spec(&app)).await?;
        self.inner.apps.write().unwrap_or_else(|e| e.into_inner()).retain(|a| a.id != id);
        Ok(())
    }

    pub fn app(&self, id: &str) -> Result<AppSpec, ControlError> {
        self.apps()
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| ControlError::UnknownApp(id.to_string()))
    }

    /// The state record this region holds for an app.
    pub fn record(&self, id: &str) -> Result<StateRecord, ControlError> {
        self.app(id)?;
        match self.inner.store.read()?.app_record(id)? {
            Some(raw) => serde_json::from_value(raw).map_err(|e| ControlError::Store(e.into())),
            None => Ok(StateRecord::initial()),
        }
    }

    /// The routing view of an app (`GET /_tandem/apps/{id}/state`).
    pub fn view(&self, id: &str) -> Result<Value, ControlError> {
        let app = self.app(id)?;
        let r = self.record(id)?;
        Ok(json!({
            "AppId": app.id,
            "State": r.state.as_str(),
            "Version": r.version,
            "WriteRegion": app.write_region(r.state),
            "PrimaryRegion": app.primary,
            "SecondaryRegion": app.secondary,
            "ChangedAt": r.changed_ms,
            "ChangedBy": r.changed_by,
            "ChangedIn": r.region,
            "Reason": r.reason,
            "Hlc": r.hlc,
            "ServedBy": self.inner.region,
        }))
    }

    /// Every app with its regions, resources and state (`GET /_tandem/apps`).
    pub fn list(&self) -> Result<Value, ControlError> {
        let mut apps = Vec::new();
        for app in &self.apps() {
            let mut entry = json!(app);
            entry["state"] = self.view(&app.id)?;
            apps.push(entry);
        }
        Ok(json!({ "region": self.inner.region, "apps": apps }))
    }

    /// Changes an app's state (a new version of its record), or confirms the
    /// state it already has.
    pub async fn set(&self, id: &str, new: AppState, actor: &Actor, reason: &str) -> Result<Changed, ControlError> {
        self.app(id)?;
        let (app, actor, reason) = (id.to_string(), actor.clone(), reason.to_string());
        let changed = self
            .inner
            .store
            .write(move |tx| -> Result<Option<Changed>, StoreError> {
                let held = gate::record_in(tx, &app)?;
                if held.state == new {
                    return Ok(None);
                }
                let record = StateRecord {
                    state: new,
                    version: held.version + 1,
                    changed_ms: tandem_store::now_ms(),
                    changed_by: actor.principal,
                    reason,
                    region: tx.region().to_string(),
                    hlc: tx.now(),
                    access_key_id: actor.access_key_id,
                    remote_addr: actor.remote_addr,
                };
                let (origin, hlc) = (record.region.clone(), record.hlc);
                let seq = tx.put_app_record(&app, serde_json::to_value(&record)?, &origin, hlc)?;
                audit::record(tx, &app, seq, &held, &record)?;
                Ok(Some(Changed { record, seq }))
            })
            .await?;
        match changed {
            Some(c) => {
                self.announce(id, &c.record);
                Ok(c)
            }
            None => Ok(Changed {
                record: self.record(id)?,
                seq: self.inner.store.last_seq(),
            }),
        }
    }

    /// The last `limit` state changes this region applied for an app, oldest first.
    pub fn history(&self, id: &str, limit: usize) -> Result<Vec<AuditRecord>, ControlError> {
        self.app(id)?;
        Ok(audit::decode(self.inner.store.read()?.app_audit(id, limit)?))
    }

    /// Emits `STATE_UPDATED` (log line and metrics) for a state now in force here.
    pub fn announce(&self, app: &str, record: &StateRecord) {
        tracing::info!(
            event = "STATE_UPDATED",
            app,
            state = record.state.as_str(),
            version = record.version,
            by = %record.changed_by,
            region = %record.region,
            reason = %record.reason,
            "STATE_UPDATED"
        );
        let labels = |state: AppState| metrics::StateLabels {
            app: app.to_string(),
            state: state.as_str(),
        };
        self.inner.metrics.changes.get_or_create(&labels(record.state)).inc();
        for state in AppState::ALL {
            self.inner
                .metrics
                .current
                .get_or_create(&labels(state))
                .set(i64::from(state == record.state));
        }
    }

    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.metrics.register(registry);
    }

    /// Refreshes the current-state gauges before a scrape.
    pub fn refresh_metrics(&self) {
        for app in &self.apps() {
            if let Ok(r) = self.record(&app.id) {
                for state in AppState::ALL {
                    let labels = metrics::StateLabels {
                        app: app.id.clone(),
                        state: state.as_str(),
                    };
                    self.inner.metrics.current.get_or_create(&labels).set(i64::from(state == r.state));
                }
            }
        }
    }

    /// Brings app states up to date from peers that answer (`url`s of their
    /// nodes) before this node serves writes, so a region back from an outage
    /// does not take writes under a state the others have moved past. Peers
    /// that do not answer within `timeout` are skipped: replication delivers
    /// their states later.
    pub async fn sync_from_peers(&self, urls: &[String], timeout: std::time::Duration) {
        for url in urls {
            for app in self.apps() {
                let Some(record) = watch::fetch_state(url, &app.id, timeout).await else {
                    continue;
                };
                let (app_id, raw, origin, hlc) = (app.id.clone(), serde_json::to_value(&record), record.region.clone(), record.hlc);
                let Ok(raw) = raw else { continue };
                let outcome = self
                    .inner
                    .store
                    .write(move |tx| apply_replicated(tx, &app_id, &raw, &origin, hlc))
                    .await;
                if let Ok((Applied::Applied, Some(state))) = outcome {
                    tracing::info!(app = %app.id, peer = %url, state = state.state.as_str(), "learned a newer application state at startup");
                    self.announce(&app.id, &state);
                }
            }
        }
    }

    /// Starts automatic failover for the apps this region is secondary for
    /// (`peers` maps region names to node URLs), and the reloading of the
    /// app specs another node of the region commits.
    pub fn spawn_watchers(&self, peers: Vec<(String, String)>) -> Vec<tokio::task::JoinHandle<()>> {
        vec![watch::spawn(self, peers), tokio::spawn(self.clone().follow_specs())]
    }

    /// Reads the app specs again whenever a node of the region commits a
    /// change to them (`tandem apply` or `destroy` through another node), so
    /// every node gates the same buckets and tables. The apps become what a
    /// restart of this node would enforce: the config's, with the applied
    /// specs over them.
    async fn follow_specs(self) {
        let mut changes = self.inner.store.watch_app_specs();
        while changes.changed().await.is_ok() {
            let apps = with_applied_specs(&self.inner.store, self.inner.configured.clone(), Differences::Quiet);
            *self.inner.apps.write().unwrap_or_else(|e| e.into_inner()) = apps;
        }
    }

    pub(crate) fn region(&self) -> &str {
        &self.inner.region
    }
}

/// Applies an app state record that arrived from another region, if it
/// supersedes the one held here. Returns the record when it was applied.
pub fn apply_replicated(
    tx: &mut Tx<'_>,
    app: &str,
    raw: &Value,
    origin: &str,
    hlc: u64,
) -> Result<(Applied, Option<StateRecord>), StoreError> {
    let incoming: StateRecord = serde_json::from_value(raw.clone())?;
    tx.observe_clock(hlc);
    let held = gate::record_in(tx, app)?;
    if !incoming.supersedes(&held) {
        return Ok((Applied::Stale, None));
    }
    let seq = tx.put_app_record(app, raw.clone(), origin, hlc)?;
    audit::record(tx, app, seq, &held, &incoming)?;
    Ok((Applied::Applied, Some(incoming)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_store::{BucketRecord, StoreError};

    fn spec() -> AppSpec {
        AppSpec {
            id: "photos".into(),
            primary: "east".into(),
            secondary: "west".into(),
            buckets: vec![AppBucket {
                primary: "p-east".into(),
                secondary: "p-west".into(),
            }],
            tables: vec![],
            auto_failover: None,
        }
    }

    fn bucket(name: &str) -> BucketRecord {
        serde_json::from_value(json!({
            "name": name, "owner": "o", "region": "east", "created_ms": 0, "versioning": "Enabled", "hlc": 0
        }))
        .unwrap()
    }

    async fn delete(store: &Store, bucket: &str) -> Result<(), StoreError> {
        store.delete_object(bucket, "k", None, "o").await.map(|_| ())
    }

    fn refused_with(r: Result<(), StoreError>) -> Option<&'static str> {
        match r {
            Err(StoreError::WriteRefused { code, .. }) => Some(code),
            _ => None,
        }
    }

    #[tokio::test]
    async fn writes_follow_the_state_and_other_buckets_are_never_gated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "east").unwrap();
        for b in ["p-east", "other"] {
            store.create_bucket(bucket(b)).await.unwrap();
        }
        let control = AppControl::new(store.clone(), vec![spec()], Default::default());
        assert!(delete(&store, "p-east").await.is_ok());
        let fenced = control
            .set("photos", AppState::Fenced, &Actor::internal("t"), "test")
            .await
            .unwrap();
        assert_eq!(fenced.record.version, 1);
        assert_eq!(refused_with(delete(&store, "p-east").await), Some("AppFenced"));
        control
            .set("photos", AppState::Failover, &Actor::internal("t"), "test")
            .await
            .unwrap();
        assert_eq!(refused_with(delete(&store, "p-east").await), Some("NotWriteRegion"));
        assert!(delete(&store, "other").await.is_ok());
        // Setting the state it already has changes nothing.
        let again = control
            .set("photos", AppState::Failover, &Actor::internal("t"), "again")
            .await
            .unwrap();
        assert_eq!(again.record.version, 2);
    }

    #[tokio::test]
    async fn a_replicated_record_applies_only_when_it_supersedes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "east").unwrap();
        let control = AppControl::new(store.clone(), vec![spec()], Default::default());
        control
            .set("photos", AppState::Fenced, &Actor::internal("t"), "local")
            .await
            .unwrap();
        let record = |version, state| {
            serde_json::to_value(StateRecord {
                state,
                version,
                changed_ms: 0,
                changed_by: "peer".into(),
                reason: "remote".into(),
                region: "west".into(),
                hlc: 1,
                access_key_id: String::new(),
                remote_addr: String::new(),
            })
            .unwrap()
        };
        let old = record(1, AppState::Failover);
        let (applied, _) = store
            .write(move |tx| apply_replicated(tx, "photos", &old, "west", 1))
            .await
            .unwrap();
        assert_eq!(applied, Applied::Stale, "same version, older clock");
        let newer = record(2, AppState::Failover);
        let (applied, _) = store
            .write(move |tx| apply_replicated(tx, "photos", &newer, "west", 1))
            .await
            .unwrap();
        assert_eq!(applied, Applied::Applied);
        assert_eq!(control.record("photos").unwrap().state, AppState::Failover);
    }
}
