//! BatchGetItem and BatchWriteItem. A batch write is validated whole and then
//! committed in one store transaction, so tandem never returns
//! `UnprocessedItems` (the member is always present and empty, as clients expect).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult};
use crate::catalog;
use crate::collection;
use crate::expr::ExpressionContext;
use crate::ops::capacity::{self, PerTable};
use crate::ops::items::check_item;
use crate::storage::{self, validate_key_param};
use crate::value::{Item, item_size};
use crate::wire::{item_from_json, item_to_json};

const MAX_GET_KEYS: usize = 100;
const MAX_WRITES: usize = 25;

fn request_items(req: &Value) -> DynamoResult<&Map<String, Value>> {
    match req.get("RequestItems") {
        Some(Value::Object(m)) if !m.is_empty() => Ok(m),
        _ => Err(DynamoError::validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
        )),
    }
}

fn parse_item(v: &Value) -> DynamoResult<Item> {
    item_from_json(v).map_err(DynamoError::from)
}

/// One write of a BatchWriteItem: the item to put, or the key to delete.
enum Write {
    Put(Item),
    Delete(Item),
}

fn parse_write(v: &Value) -> DynamoResult<Write> {
    match (
        v.get("PutRequest").and_then(|p| p.get("Item")),
        v.get("DeleteRequest").and_then(|d| d.get("Key")),
    ) {
        (Some(item), None) => Ok(Write::Put(parse_item(item)?)),
        (None, Some(key)) => Ok(Write::Delete(parse_item(key)?)),
        _ => Err(DynamoError::validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes: each write request needs exactly one of PutRequest or DeleteRequest",
        )),
    }
}

impl DynamoApi {
    pub(crate) async fn batch_get_item(&self, req: Value) -> DynamoResult<Value> {
        let tables = request_items(&req)?;
        let total: usize = tables
            .values()
            .map(|t| t.get("Keys").and_then(Value::as_array).map_or(0, Vec::len))
            .sum();
        if total > MAX_GET_KEYS {
            return Err(DynamoError::validation("Too many items requested for the BatchGetItem call"));
        }
        let detail = capacity::requested(&req)?;
        let read = self.store.read()?;
        let mut responses = Map::new();
        let mut consumed = PerTable::default();
        for (name, spec) in tables {
            let def = catalog::table(&read, name)?;
            crate::legacy::check_members(spec, &crate::legacy::GET)?;
            let mut ctx = ExpressionContext::from_json(spec.get("ExpressionAttributeNames"), None)?;
            let projection = match spec.get("ProjectionExpression").and_then(Value::as_str) {
                Some(e) => Some(ctx.parse_projection(e)?),
                None => crate::legacy::updates::attributes_to_get(spec)?,
            };
            ctx.check_all_used()?;
            let keys = spec
                .get("Keys")
                .and_then(Value::as_array)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| DynamoError::validation("1 validation error detected: Keys must have length greater than or equal to 1"))?;
            let mut seen = Vec::new();
            let mut found = Vec::new();
            let consistent = spec.get("ConsistentRead").and_then(Value::as_bool).unwrap_or(false);
            for key in keys {
                let key = parse_item(key)?;
                validate_key_param(&def.key(), &key)?;
                let encoded = storage::primary_key(&def, &key)?;
                if seen.contains(&encoded) {
                    return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
                }
                let item = storage::read_item(&read, &encoded)?;
                let units = capacity::read_units(item.as_ref().map_or(0, item_size), consistent);
                consumed.table(name).read(None, units);
                if let Some(item) = item {
                    found.push(item_to_json(&projection.as_ref().map_or(item.clone(), |p| p.apply(&item))));
                }
                seen.push(encoded);
            }
            responses.insert(name.clone(), Value::Array(found));
        }
        let mut out = json!({ "Responses": responses, "UnprocessedKeys": {} });
        if let Some(detail) = detail {
            out["ConsumedCapacity"] = consumed.to_json(detail);
        }
        Ok(out)
    }

    pub(crate) async fn batch_write_item(&self, req: Value) -> DynamoResult<Value> {
        let tables = request_items(&req)?;
        let mut writes: BTreeMap<String, Vec<Write>> = BTreeMap::new();
        let mut count = 0;
        for (name, list) in tables {
            let list = list.as_array().filter(|l| !l.is_empty()).ok_or_else(|| {
                DynamoError::validation(
                    "1 validation error detected: the list of write requests must have length greater than or equal to 1",
                )
            })?;
            count += list.len();
            writes.insert(name.clone(), list.iter().map(parse_write).collect::<DynamoResult<_>>()?);
        }
        if count > MAX_WRITES {
            return Err(DynamoError::validation("Too many items requested for the BatchWriteItem call"));
        }
        for w in writes.values().flatten() {
            if let Write::Put(item) = w {
                check_item(item)?;
            }
        }
        let (detail, metrics) = (capacity::requested(&req)?, collection::requested(&req)?);
        let limit = self.limits.item_collection_max_bytes;
        let (consumed, collections) = self
            .store
            .write(move |tx| -> DynamoResult<(PerTable, collection::PerTable)> {
                let mut planned = Vec::new();
                for (name, list) in &writes {
                    let def = catalog::table_tx(tx, name)?;
                    tx.check_write(tandem_store::Resource::Table(name))?;
                    for w in list {
                        let key = match w {
                            Write::Put(item) => {
                                storage::check_index_keys(&def, item)?;
                                storage::key_item(&def.key(), item)?
                            }
                            Write::Delete(key) => {
                                validate_key_param(&def.key(), key)?;
                                key.clone()
                            }
                        };
                        let encoded = storage::primary_key(&def, &key)?;
                        if planned.iter().any(|(_, _, e, _): &(_, _, Vec<u8>, _)| *e == encoded) {
                            return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
                        }
                        let old = storage::read_item_tx(tx, &encoded)?;
                        planned.push((def.clone(), key, encoded, (old, w)));
                    }
                }
                let mut consumed = PerTable::default();
                let mut collections = collection::PerTable::default();
                for (def, key, _, (old, w)) in planned {
                    let new = match w {
                        Write::Put(item) => Some(item),
                        Write::Delete(_) => None,
                    };
                    let written = storage::write_item(tx, &def, &key, old.as_ref(), new, limit)?;
                    collections.record(&def.name, written);
                    consumed.table(&def.name).write(&def, old.as_ref(), new, 1.0);
                }
                Ok((consumed, collections))
            })
            .await?;
        let mut out = json!({ "UnprocessedItems": {} });
        if let Some(detail) = detail {
            out["ConsumedCapacity"] = consumed.to_json(detail);
        }
        collections.attach(&mut out, metrics);
        Ok(out)
    }
}
