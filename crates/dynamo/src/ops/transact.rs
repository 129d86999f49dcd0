//! TransactWriteItems and TransactGetItems. A write transaction reads every
//! target item, checks every condition, and only then writes — all inside one
//! store commit — so it either applies whole or changes nothing.

use serde_json::{Map, Value, json};

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::catalog;
use crate::expr::{Condition, UpdateExpression};
use crate::ops::items::{check_size, context};
use crate::params::{optional_str, required_item, required_str};
use crate::storage::{self, validate_key_param};
use crate::value::Item;
use crate::wire::item_to_json;

const MAX_TRANSACT_ITEMS: usize = 100;

/// What one element of TransactItems does.
enum Action {
    Check,
    Put(Item),
    Delete,
    Update(Option<UpdateExpression>),
}

/// One parsed element of TransactItems.
struct Step {
    table: String,
    key_or_item: Item,
    action: Action,
    condition: Option<Condition>,
    return_old_on_failure: bool,
}

fn parse_step(entry: &Value) -> DynamoResult<Step> {
    let (kind, body) = ["ConditionCheck", "Put", "Delete", "Update"]
        .iter()
        .find_map(|k| entry.get(*k).map(|b| (*k, b)))
        .ok_or_else(|| DynamoError::validation("TransactItems can only contain one of Check, Put, Update or Delete"))?;
    let mut ctx = context(body)?;
    let condition = optional_str(body, "ConditionExpression")?
        .map(|e| ctx.parse_condition(e))
        .transpose()?;
    if kind == "ConditionCheck" && condition.is_none() {
        return Err(DynamoError::validation(
            "The ConditionCheck operation requires a ConditionExpression",
        ));
    }
    let (key_or_item, action) = match kind {
        "Put" => {
            let item = required_item(body, "Item")?;
            check_size(&item)?;
            (item.clone(), Action::Put(item))
        }
        "Update" => {
            let update = optional_str(body, "UpdateExpression")?.map(|e| ctx.parse_update(e)).transpose()?;
            (required_item(body, "Key")?, Action::Update(update))
        }
        "Delete" => (required_item(body, "Key")?, Action::Delete),
        _ => (required_item(body, "Key")?, Action::Check),
    };
    ctx.check_all_used()?;
    Ok(Step {
        table: required_str(body, "TableName")?.to_string(),
        key_or_item,
        action,
        condition,
        return_old_on_failure: optional_str(body, "ReturnValuesOnConditionCheckFailure")? == Some("ALL_OLD"),
    })
}

fn transact_items(req: &Value) -> DynamoResult<&Vec<Value>> {
    let items = req.get("TransactItems").and_then(Value::as_array).ok_or_else(|| {
        DynamoError::validation(
            "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if items.is_empty() || items.len() > MAX_TRANSACT_ITEMS {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and {MAX_TRANSACT_ITEMS}"
        )));
    }
    Ok(items)
}

/// The TransactionCanceledException for per-item reasons (`None` = no problem).
fn cancelled(reasons: Vec<Option<(String, Option<Item>)>>) -> DynamoError {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r.as_ref().map_or("None", |_| "ConditionalCheckFailed"))
        .collect();
    let mut e = DynamoError::new(
        ErrorKind::TransactionCanceled,
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    let list: Vec<Value> = reasons
        .into_iter()
        .map(|r| match r {
            None => json!({ "Code": "None" }),
            Some((message, item)) => {
                let mut v = json!({ "Code": "ConditionalCheckFailed", "Message": message });
                if let Some(item) = item {
                    v["Item"] = item_to_json(&item);
                }
                v
            }
        })
        .collect();
    let mut extra = Map::new();
    extra.insert("CancellationReasons".into(), Value::Array(list));
    e.extra = Some(extra);
    e
}

impl DynamoApi {
    pub(crate) async fn transact_write_items(&self, req: Value) -> DynamoResult<Value> {
        let steps = transact_items(&req)?.iter().map(parse_step).collect::<DynamoResult<Vec<_>>>()?;
        self.store
            .write(move |tx| -> DynamoResult<()> {
                let mut planned = Vec::with_capacity(steps.len());
                for step in &steps {
                    let def = catalog::table_tx(tx, &step.table)?;
                    let key = match &step.action {
                        Action::Put(item) => storage::key_item(&def.key(), item)?,
                        _ => {
                            validate_key_param(&def.key(), &step.key_or_item)?;
                            step.key_or_item.clone()
                        }
                    };
                    let encoded = storage::primary_key(&def, &key)?;
                    if planned.iter().any(|(_, _, e, _): &(_, _, Vec<u8>, _)| *e == encoded) {
                        return Err(DynamoError::validation(
                            "Transaction request cannot include multiple operations on one item",
                        ));
                    }
                    let old = storage::read_item_tx(tx, &encoded)?;
                    planned.push((def, key, encoded, old));
                }
                let reasons: Vec<Option<(String, Option<Item>)>> = steps
                    .iter()
                    .zip(&planned)
                    .map(|(step, (_, _, _, old))| match &step.condition {
                        Some(c) if !c.evaluate(old.as_ref()) => Some((
                            "The conditional request failed".to_string(),
                            old.clone().filter(|_| step.return_old_on_failure),
                        )),
                        _ => None,
                    })
                    .collect();
                if reasons.iter().any(Option::is_some) {
                    return Err(cancelled(reasons));
                }
                let mut writes = Vec::new();
                for (step, (def, key, _, old)) in steps.iter().zip(&planned) {
                    let new = match &step.action {
                        Action::Check => continue,
                        Action::Put(item) => Some(item.clone()),
                        Action::Delete => None,
                        Action::Update(u) => {
                            let base = old.clone().unwrap_or_else(|| key.clone());
                            let new = match u {
                                Some(u) => u.apply(&base)?,
                                None => base,
                            };
                            check_size(&new)?;
                            Some(new)
                        }
                    };
                    writes.push((def, key, old, new));
                }
                for (def, key, old, new) in writes {
                    if new.is_some() || old.is_some() {
                        storage::write_item(tx, def, key, old.as_ref(), new.as_ref())?;
                    }
                }
                Ok(())
            })
            .await?;
        Ok(json!({}))
    }

    pub(crate) async fn transact_get_items(&self, req: Value) -> DynamoResult<Value> {
        let entries = transact_items(&req)?;
        let read = self.store.read()?;
        let mut responses = Vec::with_capacity(entries.len());
        for entry in entries {
            let get = entry
                .get("Get")
                .ok_or_else(|| DynamoError::validation("TransactGetItems can only contain Get operations"))?;
            let def = catalog::table(&read, required_str(get, "TableName")?)?;
            let key = required_item(get, "Key")?;
            validate_key_param(&def.key(), &key)?;
            let mut ctx = context(get)?;
            let projection = optional_str(get, "ProjectionExpression")?
                .map(|e| ctx.parse_projection(e))
                .transpose()?;
            ctx.check_all_used()?;
            let item = storage::read_item(&read, &storage::primary_key(&def, &key)?)?;
            responses.push(match item {
                Some(i) => json!({ "Item": item_to_json(&projection.as_ref().map_or(i.clone(), |p| p.apply(&i))) }),
                None => json!({}),
            });
        }
        Ok(json!({ "Responses": responses }))
    }
}
