//! Control plane: CreateTable, DescribeTable, ListTables, DeleteTable,
//! UpdateTable, tags and time to live.

use serde_json::{Value, json};
use tandem_store::Space;

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::catalog;
use crate::keys;
use crate::params::{optional_str, optional_u64, required_str, typed};
use crate::table::{IndexDef, StreamSpecification, TableDef, Tag};

/// How many replaced streams of a table stay readable.
const MAX_PREVIOUS_STREAMS: usize = 4;

/// Most tables ListTables returns per page.
const LIST_LIMIT: usize = 100;

fn stream_spec(req: &Value) -> DynamoResult<Option<StreamSpecification>> {
    let spec: Option<StreamSpecification> = typed(req, "StreamSpecification")?;
    if let Some(s) = &spec {
        let ok = matches!(
            s.stream_view_type.as_deref(),
            Some("KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")
        );
        if s.stream_enabled && !ok {
            return Err(DynamoError::validation(
                "StreamViewType must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES",
            ));
        }
    }
    Ok(spec)
}

pub(crate) fn stream_label(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn replica_regions(req: &Value) -> Vec<String> {
    req.get("Replicas")
        .or_else(|| req.get("ReplicationGroup"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("RegionName").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl DynamoApi {
    /// Item count and bytes of a table (a scan of its key range).
    fn table_stats(&self, name: &str) -> DynamoResult<(u64, u64)> {
        let read = self.store.read()?;
        let (mut count, mut bytes) = (0u64, 0u64);
        read.item_visit(Space::Items, &keys::table_prefix(name), None, false, |_, v| {
            count += 1;
            bytes += v.len() as u64;
            true
        })?;
        Ok((count, bytes))
    }

    /// CreateTable; `gated`: a client's request, refused like any client
    /// write when the write gate says so (the node's own `apply` is not).
    pub(crate) async fn create_table(&self, req: Value, gated: bool) -> DynamoResult<Value> {
        let name = required_str(&req, "TableName")?.to_string();
        let billing_mode = optional_str(&req, "BillingMode")?.unwrap_or("PROVISIONED").to_string();
        if !matches!(billing_mode.as_str(), "PROVISIONED" | "PAY_PER_REQUEST") {
            return Err(DynamoError::validation("BillingMode must be PROVISIONED or PAY_PER_REQUEST"));
        }
        let provisioned = req.get("ProvisionedThroughput").cloned();
        if billing_mode == "PROVISIONED" && provisioned.is_none() {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        let stream = stream_spec(&req)?;
        let created_ms = tandem_store::now_ms();
        let mut def = TableDef {
            name: name.clone(),
            attribute_definitions: typed(&req, "AttributeDefinitions")?.unwrap_or_default(),
            key_schema: typed(&req, "KeySchema")?.unwrap_or_default(),
            global_indexes: typed::<Vec<IndexDef>>(&req, "GlobalSecondaryIndexes")?.unwrap_or_default(),
            local_indexes: typed::<Vec<IndexDef>>(&req, "LocalSecondaryIndexes")?.unwrap_or_default(),
            billing_mode,
            provisioned,
            stream_label: stream.as_ref().filter(|s| s.stream_enabled).map(|_| stream_label(created_ms)),
            stream,
            stream_start_seq: 0,
            stream_end_seq: None,
            previous_streams: vec![],
            ttl_attribute: None,
            tags: typed::<Vec<Tag>>(&req, "Tags")?.unwrap_or_default(),
            replicas: replica_regions(&req),
            created_ms,
            region: self.region.clone(),
        };
        crate::tags::check_tags(&def.tags)?;
        crate::tags::check_count(def.tags.len())?;
        check_key_names(&def)?;
        if let Some(unknown) = def.replicas.iter().find(|r| !self.regions.contains(r)) {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: {unknown} is not a region of this deployment (regions: {})",
                self.regions.join(", ")
            )));
        }
        def.include_own_region();
        def.validate()?;
        let def = self
            .store
            .write(move |tx| -> DynamoResult<_> {
                if gated {
                    tx.check_write(tandem_store::Resource::Table(&def.name))?;
                }
                if catalog::exists_tx(tx, &def.name)? {
                    return Err(DynamoError::new(
                        ErrorKind::ResourceInUse,
                        format!("Table already exists: {}", def.name),
                    ));
                }
                let mut def = def;
                def.stream_start_seq = tx.next_seq();
                catalog::save(tx, &def)?;
                Ok(def)
            })
            .await?;
        Ok(json!({ "TableDescription": def.describe("ACTIVE", 0, 0) }))
    }

    pub(crate) async fn describe_table(&self, req: Value) -> DynamoResult<Value> {
        let name = required_str(&req, "TableName")?;
        let def = catalog::table(&self.store.read()?, name)?;
        let (count, bytes) = self.table_stats(name)?;
        Ok(json!({ "Table": def.describe("ACTIVE", count, bytes) }))
    }

    pub(crate) async fn list_tables(&self, req: Value) -> DynamoResult<Value> {
        let start = optional_str(&req, "ExclusiveStartTableName")?.unwrap_or_default().to_string();
        let limit = optional_u64(&req, "Limit")?.map_or(LIST_LIMIT, |l| l as usize);
        if !(1..=LIST_LIMIT).contains(&limit) {
            return Err(DynamoError::validation(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and 100",
            ));
        }
        let names: Vec<String> = catalog::tables(&self.store.read()?)?
            .into_iter()
            .map(|t| t.name)
            .filter(|n| *n > start)
            .collect();
        let page: Vec<&String> = names.iter().take(limit).collect();
        let mut out = json!({ "TableNames": page });
        if names.len() > limit {
            out["LastEvaluatedTableName"] = json!(page.last());
        }
        Ok(out)
    }

    pub(crate) async fn delete_table(&self, req: Value) -> DynamoResult<Value> {
        let name = required_str(&req, "TableName")?.to_string();
        let def = catalog::table(&self.store.read()?, &name)?;
        self.store
            .write(move |tx| {
                tx.check_write(tandem_store::Resource::Table(&name))?;
                catalog::drop_table(tx, &name)
            })
            .await?;
        Ok(json!({ "TableDescription": def.describe("DELETING", 0, 0) }))
    }

    /// UpdateTable; `gated` as for CreateTable.
    pub(crate) async fn update_table(&self, req: Value, gated: bool) -> DynamoResult<Value> {
        let name = required_str(&req, "TableName")?.to_string();
        let stream = stream_spec(&req)?;
        let attrs: Option<Vec<crate::table::AttributeDefinition>> = typed(&req, "AttributeDefinitions")?;
        let gsi_updates = req
            .get("GlobalSecondaryIndexUpdates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let replicas = req.get("ReplicaUpdates").and_then(Value::as_array).cloned().unwrap_or_default();
        let regions = std::sync::Arc::clone(&self.regions);
        let billing = optional_str(&req, "BillingMode")?.map(str::to_string);
        let provisioned = req.get("ProvisionedThroughput").cloned();
        let def = self
            .store
            .write(move |tx| -> DynamoResult<TableDef> {
                let mut def = match gated {
                    true => catalog::writable_table_tx(tx, &name)?,
                    false => catalog::table_tx(tx, &name)?,
                };
                let old = def.clone();
                if let Some(s) = stream {
                    let was_on = def.stream.as_ref().is_some_and(|s| s.stream_enabled);
                    if s.stream_enabled && was_on {
                        return Err(DynamoError::validation(format!(
                            "Table already has an enabled stream: {}",
                            def.stream_arn().unwrap_or_default()
                        )));
                    }
                    if !s.stream_enabled && !was_on {
                        return Err(DynamoError::validation("Table already has no enabled stream"));
                    }
                    if s.stream_enabled {
                        if let Some(label) = def.stream_label.take() {
                            let view_type = def.stream.as_ref().and_then(|s| s.stream_view_type.clone());
                            let end_seq = def.stream_end_seq.unwrap_or_else(|| tx.next_seq());
                            def.previous_streams.push(crate::table::PreviousStream {
                                label,
                                start_seq: def.stream_start_seq,
                                end_seq,
                                view_type,
                            });
                            let excess = def.previous_streams.len().saturating_sub(MAX_PREVIOUS_STREAMS);
                            def.previous_streams.drain(..excess);
                        }
                        def.stream_label = Some(stream_label(tandem_store::now_ms()));
                        def.stream_start_seq = tx.next_seq();
                        def.stream_end_seq = None;
                    } else {
                        def.stream_end_seq = Some(tx.next_seq());
                    }
                    def.stream = Some(s);
                }
                if let Some(b) = billing {
                    def.billing_mode = b;
                }
                if provisioned.is_some() {
                    def.provisioned = provisioned;
                }
                if let Some(a) = attrs {
                    for d in a {
                        if !def.attribute_definitions.iter().any(|x| x.attribute_name == d.attribute_name) {
                            def.attribute_definitions.push(d);
                        }
                    }
                }
                apply_gsi_updates(&mut def, &gsi_updates)?;
                check_key_names(&def)?;
                apply_replica_updates(&mut def, &replicas, &regions)?;
                def.include_own_region();
                def.validate()?;
                reindex(tx, &old, &def)?;
                catalog::save(tx, &def)?;
                if def.replicas.iter().any(|r| !old.replicas.contains(r)) {
                    // A new replica gets the items that exist already.
                    crate::replica::announce_items(tx, &def.name, None, usize::MAX)?;
                }
                Ok(def)
            })
            .await?;
        let (count, bytes) = self.table_stats(&def.name)?;
        Ok(json!({ "TableDescription": def.describe("ACTIVE", count, bytes) }))
    }

    pub(crate) async fn tag_resource(&self, req: Value, untag: bool) -> DynamoResult<Value> {
        let arn = required_str(&req, "ResourceArn")?;
        let name = table_of_arn(arn)?;
        let tags: Vec<Tag> = if untag { vec![] } else { typed(&req, "Tags")?.unwrap_or_default() };
        crate::tags::check_tags(&tags)?;
        let remove: Vec<String> = if untag {
            typed(&req, "TagKeys")?.unwrap_or_default()
        } else {
            vec![]
        };
        self.store
            .write(move |tx| -> DynamoResult<()> {
                let mut def = catalog::writable_table_tx(tx, &name)?;
                def.tags
                    .retain(|t| !remove.contains(&t.key) && !tags.iter().any(|n| n.key == t.key));
                def.tags.extend(tags);
                crate::tags::check_count(def.tags.len())?;
                catalog::save(tx, &def)
            })
            .await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_tags(&self, req: Value) -> DynamoResult<Value> {
        let name = table_of_arn(required_str(&req, "ResourceArn")?)?;
        let def = catalog::table(&self.store.read()?, &name)?;
        Ok(json!({ "Tags": def.tags }))
    }

    pub(crate) async fn update_ttl(&self, req: Value) -> DynamoResult<Value> {
        let name = required_str(&req, "TableName")?.to_string();
        let spec = req.get("TimeToLiveSpecification").cloned().unwrap_or(Value::Null);
        let attr = spec.get("AttributeName").and_then(Value::as_str).map(str::to_string);
        let enabled = spec.get("Enabled").and_then(Value::as_bool);
        let (Some(attr), Some(enabled)) = (attr, enabled) else {
            return Err(DynamoError::validation("TimeToLiveSpecification needs AttributeName and Enabled"));
        };
        let answer = json!({ "TimeToLiveSpecification": { "AttributeName": attr, "Enabled": enabled } });
        self.store
            .write(move |tx| -> DynamoResult<()> {
                let mut def = catalog::writable_table_tx(tx, &name)?;
                match (&def.ttl_attribute, enabled) {
                    (Some(_), true) => return Err(DynamoError::validation("TimeToLive is already enabled")),
                    (None, false) => return Err(DynamoError::validation("TimeToLive is already disabled")),
                    _ => {}
                }
                def.ttl_attribute = enabled.then_some(attr);
                catalog::save(tx, &def)
            })
            .await?;
        Ok(answer)
    }

    pub(crate) async fn describe_ttl(&self, req: Value) -> DynamoResult<Value> {
        let def = catalog::table(&self.store.read()?, required_str(&req, "TableName")?)?;
        Ok(match def.ttl_attribute {
            Some(a) => json!({ "TimeToLiveDescription": { "TimeToLiveStatus": "ENABLED", "AttributeName": a } }),
            None => json!({ "TimeToLiveDescription": { "TimeToLiveStatus": "DISABLED" } }),
        })
    }
}

fn table_of_arn(arn: &str) -> DynamoResult<String> {
    arn.split_once(":table/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest).to_string())
        .ok_or_else(|| DynamoError::validation(format!("Invalid TableArn: {arn}")))
}

/// Longest key attribute name, of a table or an index (bytes).
const MAX_KEY_NAME_BYTES: usize = 255;

/// Key attribute names (table and indexes) are at most 255 bytes.
fn check_key_names(def: &TableDef) -> DynamoResult<()> {
    let schemas = std::iter::once(("keySchema".to_string(), &def.key_schema))
        .chain(
            def.global_indexes
                .iter()
                .enumerate()
                .map(|(j, i)| (format!("globalSecondaryIndexes.{}.member.keySchema", j + 1), &i.key_schema)),
        )
        .chain(
            def.local_indexes
                .iter()
                .enumerate()
                .map(|(j, i)| (format!("localSecondaryIndexes.{}.member.keySchema", j + 1), &i.key_schema)),
        );
    for (at, schema) in schemas {
        if let Some((k, element)) = schema.iter().enumerate().find(|(_, e)| e.attribute_name.len() > MAX_KEY_NAME_BYTES) {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at '{at}.{}.member.attributeName' failed to satisfy constraint: Member must have length less than or equal to {MAX_KEY_NAME_BYTES}",
                element.attribute_name,
                k + 1
            )));
        }
    }
    Ok(())
}

fn apply_gsi_updates(def: &mut TableDef, updates: &[Value]) -> DynamoResult<()> {
    for u in updates {
        if let Some(create) = u.get("Create") {
            let index: IndexDef = serde_json::from_value(create.clone())
                .map_err(|e| DynamoError::validation(format!("Invalid GlobalSecondaryIndexUpdates: {e}")))?;
            if def.index(&index.index_name).is_some() {
                return Err(DynamoError::validation(format!(
                    "Attempting to create an index which already exists: {}",
                    index.index_name
                )));
            }
            def.global_indexes.push(index);
        } else if let Some(update) = u.get("Update") {
            let name = update.get("IndexName").and_then(Value::as_str).unwrap_or_default();
            if !def.global_indexes.iter().any(|i| i.index_name == name) {
                return Err(DynamoError::not_found(format!(
                    "Requested resource not found: Index: {name} not found"
                )));
            }
        } else if let Some(delete) = u.get("Delete") {
            let name = delete.get("IndexName").and_then(Value::as_str).unwrap_or_default();
            let before = def.global_indexes.len();
            def.global_indexes.retain(|i| i.index_name != name);
            if def.global_indexes.len() == before {
                return Err(DynamoError::not_found(format!(
                    "Requested resource not found: Index: {name} not found"
                )));
            }
            let used: Vec<String> = def
                .key_schema
                .iter()
                .chain(def.global_indexes.iter().chain(&def.local_indexes).flat_map(|i| &i.key_schema))
                .map(|k| k.attribute_name.clone())
                .collect();
            def.attribute_definitions.retain(|a| used.contains(&a.attribute_name));
        }
    }
    Ok(())
}

fn apply_replica_updates(def: &mut TableDef, updates: &[Value], regions: &[String]) -> DynamoResult<()> {
    for u in updates {
        if let Some(region) = u.get("Create").and_then(|c| c.get("RegionName")).and_then(Value::as_str) {
            if !regions.iter().any(|r| r == region) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: {region} is not a region of this deployment (regions: {})",
                    regions.join(", ")
                )));
            }
            if region == def.region || def.replicas.iter().any(|r| r == region) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: the table already has a replica in {region}"
                )));
            }
            def.replicas.push(region.to_string());
        }
        if let Some(region) = u.get("Delete").and_then(|c| c.get("RegionName")).and_then(Value::as_str) {
            def.replicas.retain(|r| r != region);
        }
    }
    Ok(())
}

/// Builds entries for indexes added by an update and drops those of removed ones.
fn reindex(tx: &mut tandem_store::Tx<'_>, old: &TableDef, new: &TableDef) -> DynamoResult<()> {
    for gone in old.global_indexes.iter().filter(|i| new.index(&i.index_name).is_none()) {
        tx.item_delete_prefix(Space::Index, &keys::index_prefix(&old.name, &gone.index_name))?;
    }
    let added: Vec<&IndexDef> = new.global_indexes.iter().filter(|i| old.index(&i.index_name).is_none()).collect();
    if added.is_empty() {
        return Ok(());
    }
    let mut entries = Vec::new();
    tx.item_visit(Space::Items, &keys::table_prefix(&new.name), None, false, |k, v| {
        entries.push((k.to_vec(), v.to_vec()));
        true
    })?;
    for (primary, raw) in entries {
        let item = crate::storage::decode_item(&raw)?;
        for index in &added {
            if let Some(entry) = crate::storage::index_entry(new, index, &item, &primary)? {
                tx.item_put(Space::Index, &entry, &raw)?;
            }
        }
    }
    Ok(())
}
