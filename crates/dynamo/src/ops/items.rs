//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem. Each write
//! evaluates its condition against the current item inside the commit, so a
//! condition and the write it guards are atomic.

use serde_json::{Map, Value, json};

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::catalog;
use crate::collection::{self, Collection};
use crate::expr::ExpressionContext;
use crate::legacy;
use crate::ops::capacity::{self, Consumed};
use crate::params::{optional_str, required_item, required_str, return_values};
use crate::storage::{self, validate_key_param};
use crate::value::{Item, MAX_ITEM_SIZE, MAX_NESTING_DEPTH, item_size, nesting_depth};
use crate::wire::item_to_json;

/// What a single-item write needs besides the item: its parsed condition and
/// how to report a failed condition.
pub(crate) struct Guard {
    pub condition: Option<crate::expr::Condition>,
    pub return_old_on_failure: bool,
}

impl Guard {
    /// Checks the condition against the current item, building the
    /// ConditionalCheckFailedException DynamoDB returns.
    pub fn check(&self, current: Option<&Item>) -> DynamoResult<()> {
        match &self.condition {
            Some(c) if !c.evaluate(current) => {
                let mut e = DynamoError::new(ErrorKind::ConditionalCheckFailed, "The conditional request failed");
                if let (true, Some(item)) = (self.return_old_on_failure, current) {
                    let mut extra = Map::new();
                    extra.insert("Item".into(), item_to_json(item));
                    e.extra = Some(extra);
                }
                Err(e)
            }
            _ => Ok(()),
        }
    }
}

/// The expression context of a request (names and values), from its JSON,
/// after refusing a mix of expression and legacy `members`.
pub(crate) fn context(req: &Value, members: &legacy::Members) -> DynamoResult<ExpressionContext> {
    legacy::check_members(req, members)?;
    Ok(ExpressionContext::from_json(
        req.get("ExpressionAttributeNames"),
        req.get("ExpressionAttributeValues"),
    )?)
}

pub(crate) fn guard(req: &Value, ctx: &mut ExpressionContext) -> DynamoResult<Guard> {
    let condition = match optional_str(req, "ConditionExpression")? {
        Some(e) => Some(ctx.parse_condition(e)?),
        None => legacy::conditions::expected(req)?,
    };
    let on_failure = optional_str(req, "ReturnValuesOnConditionCheckFailure")?.unwrap_or("NONE");
    Ok(Guard {
        condition,
        return_old_on_failure: on_failure == "ALL_OLD",
    })
}

/// DynamoDB's limits on an item about to be written: its size and how deep
/// its maps and lists nest. Every write path (put, update result, batch,
/// transactions) calls this before storing, so nothing is stored that the
/// store's decoders cannot read back.
pub(crate) fn check_item(item: &Item) -> DynamoResult<()> {
    if item_size(item) > MAX_ITEM_SIZE {
        return Err(DynamoError::validation("Item size has exceeded the maximum allowed size"));
    }
    if nesting_depth(item) > MAX_NESTING_DEPTH {
        return Err(DynamoError::validation(
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
        ));
    }
    Ok(())
}

/// What a single-item write reports besides its attributes: the capacity it
/// consumed and, for a table with local indexes, its item collection.
struct Written {
    consumed: Consumed,
    collection: Option<Collection>,
}

impl Written {
    fn attach(&self, out: &mut Value, detail: Option<capacity::Detail>, metrics: bool) {
        capacity::attach(out, detail, &self.consumed);
        if let (true, Some(c)) = (metrics, &self.collection) {
            out["ItemCollectionMetrics"] = c.to_json();
        }
    }
}

fn attributes(out: &mut Value, item: Option<Item>) {
    if let Some(item) = item.filter(|i| !i.is_empty()) {
        out["Attributes"] = item_to_json(&item);
    }
}

/// Top-level attributes whose value differs between two images.
fn changed(old: &Item, new: &Item) -> Vec<String> {
    let mut names: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

fn subset(item: &Item, names: &[String]) -> Item {
    names.iter().filter_map(|n| item.get(n).map(|v| (n.clone(), v.clone()))).collect()
}

impl DynamoApi {
    pub(crate) async fn put_item(&self, req: Value) -> DynamoResult<Value> {
        let table = required_str(&req, "TableName")?.to_string();
        let item = required_item(&req, "Item")?;
        let returns = return_values(&req, &["NONE", "ALL_OLD"])?.to_string();
        let mut ctx = context(&req, &legacy::PUT_DELETE)?;
        let guard = guard(&req, &mut ctx)?;
        ctx.check_all_used()?;
        check_item(&item)?;
        let (detail, metrics) = (capacity::requested(&req)?, collection::requested(&req)?);
        let limit = self.limits.item_collection_max_bytes;
        let (old, written) = self
            .store
            .write(move |tx| -> DynamoResult<(Option<Item>, Written)> {
                let def = catalog::table_tx(tx, &table)?;
                let key = storage::key_item(&def.key(), &item)?;
                let old = storage::read_item_tx(tx, &storage::primary_key(&def, &key)?)?;
                guard.check(old.as_ref())?;
                let collection = storage::write_item(tx, &def, &key, old.as_ref(), Some(&item), limit)?;
                let mut consumed = Consumed::new(&def.name);
                consumed.write(&def, old.as_ref(), Some(&item), 1.0);
                Ok((old, Written { consumed, collection }))
            })
            .await?;
        let mut out = json!({});
        if returns == "ALL_OLD" {
            attributes(&mut out, old);
        }
        written.attach(&mut out, detail, metrics);
        Ok(out)
    }

    pub(crate) async fn get_item(&self, req: Value) -> DynamoResult<Value> {
        let table = required_str(&req, "TableName")?;
        let key = required_item(&req, "Key")?;
        let mut ctx = context(&req, &legacy::GET)?;
        let projection = match optional_str(&req, "ProjectionExpression")? {
            Some(e) => Some(ctx.parse_projection(e)?),
            None => legacy::updates::attributes_to_get(&req)?,
        };
        ctx.check_all_used()?;
        let read = self.store.read()?;
        let def = catalog::table(&read, table)?;
        validate_key_param(&def.key(), &key)?;
        let item = storage::read_item(&read, &storage::primary_key(&def, &key)?)?;
        let consistent = crate::params::optional_bool(&req, "ConsistentRead")?.unwrap_or(false);
        let mut consumed = Consumed::new(table);
        consumed.read(None, capacity::read_units(item.as_ref().map_or(0, item_size), consistent));
        let mut out = json!({});
        if let Some(item) = item {
            let item = match &projection {
                Some(p) => p.apply(&item),
                None => item,
            };
            out["Item"] = item_to_json(&item);
        }
        capacity::attach(&mut out, capacity::requested(&req)?, &consumed);
        Ok(out)
    }

    pub(crate) async fn delete_item(&self, req: Value) -> DynamoResult<Value> {
        let table = required_str(&req, "TableName")?.to_string();
        let key = required_item(&req, "Key")?;
        let returns = return_values(&req, &["NONE", "ALL_OLD"])?.to_string();
        let mut ctx = context(&req, &legacy::PUT_DELETE)?;
        let guard = guard(&req, &mut ctx)?;
        ctx.check_all_used()?;
        let (detail, metrics) = (capacity::requested(&req)?, collection::requested(&req)?);
        let limit = self.limits.item_collection_max_bytes;
        let (old, written) = self
            .store
            .write(move |tx| -> DynamoResult<(Option<Item>, Written)> {
                let def = catalog::table_tx(tx, &table)?;
                validate_key_param(&def.key(), &key)?;
                let old = storage::read_item_tx(tx, &storage::primary_key(&def, &key)?)?;
                guard.check(old.as_ref())?;
                let collection = storage::write_item(tx, &def, &key, old.as_ref(), None, limit)?;
                let mut consumed = Consumed::new(&def.name);
                consumed.write(&def, old.as_ref(), None, 1.0);
                Ok((old, Written { consumed, collection }))
            })
            .await?;
        let mut out = json!({});
        if returns == "ALL_OLD" {
            attributes(&mut out, old);
        }
        written.attach(&mut out, detail, metrics);
        Ok(out)
    }

    pub(crate) async fn update_item(&self, req: Value) -> DynamoResult<Value> {
        let table = required_str(&req, "TableName")?.to_string();
        let key = required_item(&req, "Key")?;
        let returns = return_values(&req, &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?.to_string();
        let mut ctx = context(&req, &legacy::UPDATE)?;
        let update = match optional_str(&req, "UpdateExpression")? {
            Some(e) => Some(ctx.parse_update(e)?),
            None => legacy::updates::attribute_updates(&req)?,
        };
        let guard = guard(&req, &mut ctx)?;
        ctx.check_all_used()?;
        let (detail, metrics) = (capacity::requested(&req)?, collection::requested(&req)?);
        let limit = self.limits.item_collection_max_bytes;
        let (old, new, written) = self
            .store
            .write(move |tx| -> DynamoResult<(Option<Item>, Item, Written)> {
                let def = catalog::table_tx(tx, &table)?;
                let shape = def.key();
                validate_key_param(&shape, &key)?;
                let old = storage::read_item_tx(tx, &storage::primary_key(&def, &key)?)?;
                guard.check(old.as_ref())?;
                let base = old.clone().unwrap_or_else(|| key.clone());
                let new = match &update {
                    Some(u) => u.apply(&base)?,
                    None => base,
                };
                for (name, _) in std::iter::once(&shape.hash).chain(shape.range.as_ref()) {
                    if new.get(name) != key.get(name) {
                        return Err(DynamoError::validation(format!(
                            "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                        )));
                    }
                }
                check_item(&new)?;
                let collection = storage::write_item(tx, &def, &key, old.as_ref(), Some(&new), limit)?;
                let mut consumed = Consumed::new(&def.name);
                consumed.write(&def, old.as_ref(), Some(&new), 1.0);
                Ok((old, new, Written { consumed, collection }))
            })
            .await?;
        let mut out = json!({});
        let empty = Item::new();
        let names = changed(old.as_ref().unwrap_or(&empty), &new);
        match returns.as_str() {
            "ALL_OLD" => attributes(&mut out, old),
            "ALL_NEW" => attributes(&mut out, Some(new)),
            "UPDATED_OLD" => attributes(&mut out, old.map(|o| subset(&o, &names))),
            "UPDATED_NEW" => attributes(&mut out, Some(subset(&new, &names))),
            _ => {}
        }
        written.attach(&mut out, detail, metrics);
        Ok(out)
    }
}
