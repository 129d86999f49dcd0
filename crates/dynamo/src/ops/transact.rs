//! TransactWriteItems and TransactGetItems. A write transaction reads every
//! target item, checks every condition, and only then writes — all inside one
//! store commit — so it either applies whole or changes nothing.

use serde_json::{Map, Value, json};

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::catalog;
use crate::collection;
use crate::expr::{Condition, UpdateExpression};
use crate::ops::capacity::{self, PerTable};
use crate::ops::items::{check_item, context};
use crate::params::{optional_str, required_item, required_str};
use crate::storage::{self, validate_key_param};
use crate::value::{Item, item_size};
use crate::wire::item_to_json;

const MAX_TRANSACT_ITEMS: usize = 100;
/// Transactional reads and writes cost twice the units of plain ones.
const TRANSACTION_FACTOR: f64 = 2.0;
/// How long a ClientRequestToken makes a repeated TransactWriteItems a no-op.
const TOKEN_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// ClientRequestToken → (request fingerprint, when it succeeded). A std mutex:
/// held only for a lookup or an insert, never across an `.await`.
#[derive(Default)]
pub struct TokenCache(std::sync::Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>);

impl TokenCache {
    /// `Some(true)` when this token already succeeded with the same request,
    /// an error when it was used for a different one, `None` when unseen.
    fn seen(&self, token: &str, fingerprint: &str) -> DynamoResult<bool> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < TOKEN_WINDOW);
        match map.get(token) {
            Some((f, _)) if f == fingerprint => Ok(true),
            Some(_) => Err(DynamoError::new(
                ErrorKind::IdempotentParameterMismatch,
                "The request uses the same client token as a previous, but non-identical request.",
            )),
            None => Ok(false),
        }
    }

    fn remember(&self, token: &str, fingerprint: String) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), (fingerprint, std::time::Instant::now()));
    }
}

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
    let mut ctx = context(body, &crate::legacy::TRANSACT)?;
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
            check_item(&item)?;
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

/// Why one element of a transaction could not be applied.
struct Reason {
    code: &'static str,
    message: String,
    item: Option<Item>,
}

/// A write of the transaction that would outgrow its item collection cancels
/// the whole transaction, naming that write's position; other errors pass.
fn cancelled_by_collection(e: DynamoError, position: usize, steps: usize) -> DynamoError {
    if e.kind != ErrorKind::ItemCollectionSizeLimitExceeded {
        return e;
    }
    let mut reasons: Vec<Option<Reason>> = (0..steps).map(|_| None).collect();
    reasons[position] = Some(Reason {
        code: "ItemCollectionSizeLimitExceeded",
        message: e.message,
        item: None,
    });
    cancelled(reasons)
}

/// The TransactionCanceledException for per-item reasons (`None` = no problem).
fn cancelled(reasons: Vec<Option<Reason>>) -> DynamoError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.as_ref().map_or("None", |r| r.code)).collect();
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
            Some(r) => {
                let mut v = json!({ "Code": r.code, "Message": r.message });
                if let Some(item) = r.item {
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

/// The new image a step produces, or why it cannot: the condition failed, or
/// applying the update is invalid for this item.
fn outcome(step: &Step, key: &Item, old: Option<&Item>) -> Result<Option<Item>, Reason> {
    if let Some(c) = &step.condition
        && !c.evaluate(old)
    {
        let item = old.cloned().filter(|_| step.return_old_on_failure);
        return Err(Reason {
            code: "ConditionalCheckFailed",
            message: "The conditional request failed".into(),
            item,
        });
    }
    let invalid = |e: DynamoError| Reason {
        code: "ValidationError",
        message: e.message,
        item: None,
    };
    match &step.action {
        Action::Check | Action::Delete => Ok(None),
        Action::Put(item) => Ok(Some(item.clone())),
        Action::Update(u) => {
            let base = old.cloned().unwrap_or_else(|| key.clone());
            let new = match u {
                Some(u) => u.apply(&base).map_err(|e| invalid(e.into()))?,
                None => base,
            };
            check_item(&new).map_err(invalid)?;
            Ok(Some(new))
        }
    }
}

impl DynamoApi {
    pub(crate) async fn transact_write_items(&self, req: Value) -> DynamoResult<Value> {
        let steps = transact_items(&req)?.iter().map(parse_step).collect::<DynamoResult<Vec<_>>>()?;
        let token = optional_str(&req, "ClientRequestToken")?.map(str::to_string);
        let fingerprint = req.get("TransactItems").map(Value::to_string).unwrap_or_default();
        if let Some(t) = &token
            && self.tokens.seen(t, &fingerprint)?
        {
            return Ok(json!({}));
        }
        let (detail, metrics) = (capacity::requested(&req)?, collection::requested(&req)?);
        let limit = self.limits.item_collection_max_bytes;
        let (consumed, collections) = self
            .store
            .write(move |tx| -> DynamoResult<(PerTable, collection::PerTable)> {
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
                let outcomes: Vec<Result<Option<Item>, Reason>> = steps
                    .iter()
                    .zip(&planned)
                    .map(|(step, (_, key, _, old))| outcome(step, key, old.as_ref()))
                    .collect();
                if outcomes.iter().any(Result::is_err) {
                    return Err(cancelled(outcomes.into_iter().map(Result::err).collect()));
                }
                let mut writes = Vec::new();
                let mut consumed = PerTable::default();
                for (position, ((step, (def, key, _, old)), new)) in steps.iter().zip(&planned).zip(outcomes).enumerate() {
                    if matches!(step.action, Action::Check) {
                        let units = TRANSACTION_FACTOR * capacity::read_units(old.as_ref().map_or(0, item_size), true);
                        consumed.table(&def.name).read(None, units);
                        continue;
                    }
                    let new = new.unwrap_or(None);
                    consumed.table(&def.name).write(def, old.as_ref(), new.as_ref(), TRANSACTION_FACTOR);
                    writes.push((position, def, key, old, new));
                }
                for (_, def, _, _, new) in &writes {
                    tx.check_write(tandem_store::Resource::Table(&def.name))?;
                    if let Some(item) = new {
                        storage::check_index_keys(def, item)?;
                    }
                }
                let mut collections = collection::PerTable::default();
                for (position, def, key, old, new) in writes {
                    let written = storage::write_item(tx, def, key, old.as_ref(), new.as_ref(), limit)
                        .map_err(|e| cancelled_by_collection(e, position, steps.len()))?;
                    collections.record(&def.name, written);
                }
                Ok((consumed, collections))
            })
            .await?;
        if let Some(t) = token {
            self.tokens.remember(&t, fingerprint);
        }
        let mut out = json!({});
        if let Some(detail) = detail {
            out["ConsumedCapacity"] = consumed.to_json(detail);
        }
        collections.attach(&mut out, metrics);
        Ok(out)
    }

    pub(crate) async fn transact_get_items(&self, req: Value) -> DynamoResult<Value> {
        let entries = transact_items(&req)?;
        let detail = capacity::requested(&req)?;
        let read = self.store.read()?;
        let mut responses = Vec::with_capacity(entries.len());
        let mut consumed = PerTable::default();
        let mut seen: Vec<Vec<u8>> = Vec::new();
        for entry in entries {
            let get = entry
                .get("Get")
                .ok_or_else(|| DynamoError::validation("TransactGetItems can only contain Get operations"))?;
            let def = catalog::table(&read, required_str(get, "TableName")?)?;
            let key = required_item(get, "Key")?;
            validate_key_param(&def.key(), &key)?;
            let mut ctx = context(get, &crate::legacy::TRANSACT)?;
            let projection = optional_str(get, "ProjectionExpression")?
                .map(|e| ctx.parse_projection(e))
                .transpose()?;
            ctx.check_all_used()?;
            let encoded = storage::primary_key(&def, &key)?;
            if seen.contains(&encoded) {
                return Err(DynamoError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            let item = storage::read_item(&read, &encoded)?;
            let units = TRANSACTION_FACTOR * capacity::read_units(item.as_ref().map_or(0, item_size), true);
            consumed.table(&def.name).read(None, units);
            seen.push(encoded);
            responses.push(match item {
                Some(i) => json!({ "Item": item_to_json(&projection.as_ref().map_or(i.clone(), |p| p.apply(&i))) }),
                None => json!({}),
            });
        }
        let mut out = json!({ "Responses": responses });
        if let Some(detail) = detail {
            out["ConsumedCapacity"] = consumed.to_json(detail);
        }
        Ok(out)
    }
}
