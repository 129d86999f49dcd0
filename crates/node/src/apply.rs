//! `POST /_tandem/apply`: make this region match the apps of `tandem.toml` —
//! versioned buckets, replication rules both ways (so failover-era writes flow
//! back), global tables with replicas in both regions — and start enforcing
//! their state. Only ever creates or enables; removing an app or a resource
//! from the file deletes nothing. With `dry_run` it only says what it would do.
//! `POST /_tandem/destroy` is the one way to delete an app's data: it stops
//! gating the app, then deletes every version of its buckets, the buckets, and
//! its tables in this region.

use serde::Deserialize;
use serde_json::{Value, json};
use tandem_control::{AppBucket, AppSpec, AppTable};
use tandem_dynamo::authorize::Authority;
use tandem_dynamo::operation::DynamoOp;
use tandem_store::{BucketRecord, ReplicationConfig, ReplicationFilter, ReplicationRule, StoreError, Versioning};

use crate::Node;

/// The body of an apply request.
#[derive(Debug, Deserialize)]
pub struct ApplyRequest {
    pub apps: Vec<AppSpec>,
    #[serde(default)]
    pub dry_run: bool,
    /// Apps to stop enforcing (gone from the file; their data stays).
    #[serde(default)]
    pub forget: Vec<String>,
}

fn control_failure(e: tandem_control::ControlError) -> StoreError {
    match e {
        tandem_control::ControlError::Store(e) => e,
        other => StoreError::Db(other.to_string()),
    }
}

/// One change apply makes (or would make), or waits for.
fn step(app: &str, action: &str, detail: String) -> Value {
    json!({ "app": app, "action": action, "detail": detail })
}

/// The replication rule of an app's bucket pair, as apply writes it.
fn app_rule(app: &AppSpec, destination: &str) -> ReplicationRule {
    ReplicationRule {
        id: Some(format!("tandem-app-{}", app.id)),
        priority: Some(1),
        enabled: true,
        filter: ReplicationFilter::default(),
        destination_bucket: format!("arn:aws:s3:::{destination}"),
        delete_marker_replication: true,
        replica_modifications: true,
        ..Default::default()
    }
}

impl Node {
    /// Plans (and unless `dry_run`, makes) the changes for every app.
    pub(crate) async fn apply_apps(&self, req: ApplyRequest, owner: &str) -> Result<Value, StoreError> {
        let region = self.inner.region.clone();
        let mut steps = Vec::new();
        for app in req.apps.iter().filter(|a| a.primary == region || a.secondary == region) {
            for pair in &app.buckets {
                self.apply_bucket(app, pair, owner, req.dry_run, &mut steps).await?;
            }
            for table in &app.tables {
                self.apply_table(app, table, req.dry_run, &mut steps).await;
            }
        }
        let control = &self.inner.control;
        if !req.dry_run {
            control.upsert(&req.apps).await.map_err(control_failure)?;
            for id in &req.forget {
                control.forget(id).await.map_err(control_failure)?;
                steps.push(step(
                    id,
                    "forget",
                    "no longer enforced here; its buckets and tables are kept".into(),
                ));
            }
        }
        // Apps this region enforces that the request neither lists nor forgets:
        // the CLI refuses to go on rather than leave them silently unfenced.
        let unlisted: Vec<String> = control
            .apps()
            .into_iter()
            .map(|a| a.id)
            .filter(|id| !req.apps.iter().any(|a| &a.id == id) && !req.forget.contains(id))
            .collect();
        let pending = steps.iter().any(|s| s["action"] == "wait");
        Ok(json!({ "region": region, "dry_run": req.dry_run, "steps": steps, "pending": pending, "unlisted": unlisted }))
    }

    async fn apply_bucket(
        &self,
        app: &AppSpec,
        pair: &AppBucket,
        owner: &str,
        dry_run: bool,
        steps: &mut Vec<Value>,
    ) -> Result<(), StoreError> {
        let region = &self.inner.region;
        let (Some(name), Some(other)) = (app.bucket_in(pair, region), app.bucket_in(pair, self.other_region(app))) else {
            return Ok(());
        };
        let store = &self.inner.store;
        let read = store.read()?;
        let record = read.bucket(&name)?;
        if record.is_none() {
            steps.push(step(&app.id, "create", format!("bucket {name} (versioned)")));
            if !dry_run {
                store
                    .create_bucket(BucketRecord {
                        name: name.clone(),
                        owner: owner.to_string(),
                        region: region.clone(),
                        created_ms: tandem_store::now_ms(),
                        versioning: Versioning::Enabled,
                        grants: vec![],
                        policy: None,
                        cors: None,
                        replication: None,
                        access: Default::default(),
                        hlc: 0,
                    })
                    .await?;
            }
        } else if record.as_ref().is_some_and(|r| r.versioning != Versioning::Enabled) {
            steps.push(step(&app.id, "update", format!("enable versioning on bucket {name}")));
            if !dry_run {
                store
                    .update_bucket(&name, |b| {
                        b.versioning = Versioning::Enabled;
                        Ok(())
                    })
                    .await?;
            }
        }
        let rule = app_rule(app, &other);
        let has_rule = record
            .as_ref()
            .and_then(|r| r.replication.as_ref())
            .is_some_and(|c| c.rules.contains(&rule));
        if has_rule {
            return Ok(());
        }
        if read.registry(&other)?.is_none() {
            steps.push(step(
                &app.id,
                "wait",
                format!("bucket {other} must exist before {name} can replicate to it"),
            ));
            return Ok(());
        }
        steps.push(step(
            &app.id,
            "update",
            format!("replicate bucket {name} to {other} (both ways, delete markers, replica edits)"),
        ));
        if !dry_run {
            store
                .update_bucket(&name, move |b| {
                    let config = b.replication.get_or_insert_with(|| ReplicationConfig {
                        role: "tandem".into(),
                        rules: vec![],
                    });
                    config.rules.retain(|r| r.id != rule.id);
                    config.rules.push(rule);
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    async fn apply_table(&self, app: &AppSpec, table: &AppTable, dry_run: bool, steps: &mut Vec<Value>) {
        let region = self.inner.region.as_str();
        let api = &self.inner.dynamo;
        let described = api
            .handle(
                DynamoOp::DescribeTable,
                json!({ "TableName": table.name }).to_string().as_bytes(),
                &Authority::Node,
            )
            .await;
        let replicas: Vec<String> = match &described {
            Ok(d) => d["Table"]["Replicas"]
                .as_array()
                .map(|a| a.iter().filter_map(|r| r["RegionName"].as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            Err(_) => vec![],
        };
        let (action, detail, request) = match (described.is_ok(), region == app.primary) {
            (false, true) => (
                "create",
                format!("global table {} (replicas {}, {})", table.name, app.primary, app.secondary),
                Some((DynamoOp::CreateTable, create_table_request(app, table))),
            ),
            (false, false) => (
                "wait",
                format!("table {} comes from {} by replication", table.name, app.primary),
                None,
            ),
            (true, true) if !replicas.contains(&app.secondary) => (
                "update",
                format!("add a replica of table {} in {}", table.name, app.secondary),
                Some((
                    DynamoOp::UpdateTable,
                    json!({ "TableName": table.name, "ReplicaUpdates": [{ "Create": { "RegionName": app.secondary } }] }),
                )),
            ),
            _ => return,
        };
        steps.push(step(&app.id, action, detail));
        if let (false, Some((op, body))) = (dry_run, request)
            && let Err(e) = api.handle(op, body.to_string().as_bytes(), &Authority::Node).await
        {
            steps.push(step(&app.id, "failed", format!("{} {}: {}", op.name(), table.name, e.message)));
        }
    }

    /// Deletes an app's buckets (every version) and tables in this region.
    pub(crate) async fn destroy_app(&self, app: &AppSpec) -> Result<Value, StoreError> {
        self.inner.control.forget(&app.id).await.map_err(control_failure)?;
        let store = &self.inner.store;
        let mut steps = Vec::new();
        for name in app.buckets.iter().filter_map(|pair| app.bucket_in(pair, &self.inner.region)) {
            if store.read()?.bucket(&name)?.is_none() {
                continue;
            }
            let mut removed = 0u64;
            loop {
                let (versions, _) = store.read()?.versions_page(&name, None, 1000)?;
                if versions.is_empty() {
                    break;
                }
                for (key, version) in versions {
                    store.delete_object(&name, &key, Some(version.version_id), "tandem-destroy").await?;
                    removed += 1;
                }
            }
            store.delete_bucket(&name).await?;
            steps.push(step(&app.id, "delete", format!("bucket {name} and its {removed} version(s)")));
        }
        for table in &app.tables {
            let body = json!({ "TableName": table.name }).to_string();
            if self
                .inner
                .dynamo
                .handle(DynamoOp::DeleteTable, body.as_bytes(), &Authority::Node)
                .await
                .is_ok()
            {
                steps.push(step(&app.id, "delete", format!("table {}", table.name)));
            }
        }
        Ok(json!({ "region": self.inner.region, "steps": steps }))
    }

    fn other_region<'a>(&self, app: &'a AppSpec) -> &'a str {
        if self.inner.region == app.primary {
            &app.secondary
        } else {
            &app.primary
        }
    }
}

fn create_table_request(app: &AppSpec, table: &AppTable) -> Value {
    let split = |k: &str| {
        let (name, ty) = k.rsplit_once(':').unwrap_or((k, "S"));
        (name.to_string(), ty.to_string())
    };
    let keys: Vec<((String, String), &str)> = std::iter::once((split(&table.hash_key), "HASH"))
        .chain(table.range_key.as_deref().map(|r| (split(r), "RANGE")))
        .collect();
    json!({
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": keys.iter().map(|((n, t), _)| json!({ "AttributeName": n, "AttributeType": t })).collect::<Vec<_>>(),
        "KeySchema": keys.iter().map(|((n, _), k)| json!({ "AttributeName": n, "KeyType": k })).collect::<Vec<_>>(),
        "StreamSpecification": { "StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES" },
        "Replicas": [{ "RegionName": app.primary }, { "RegionName": app.secondary }],
    })
}
