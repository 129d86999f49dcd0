//! Query and Scan over a table or a secondary index: ordered range scans of the
//! store's key space, with key conditions, filters, projections, Limit,
//! pagination keys and parallel-scan segments.

use serde_json::{Value, json};
use tandem_store::Space;

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult};
use crate::catalog;
use crate::expr::{Condition, ExpressionContext, KeyCondition, Projection};
use crate::keys;
use crate::legacy;
use crate::ops::capacity::{self, Consumed};
use crate::ops::items::context;
use crate::params::{item, optional_bool, optional_str, optional_u64, required_str};
use crate::storage::{decode_item, key_item, primary_key};
use crate::table::{IndexDef, KeyShape, TableDef};
use crate::value::{Item, item_size};
use crate::wire::item_to_json;

/// Most bytes one page reads, as in DynamoDB.
const PAGE_BYTES: usize = 1024 * 1024;

/// What to read: the table, or one of its indexes.
struct Source<'a> {
    def: &'a TableDef,
    index: Option<&'a IndexDef>,
    /// Whether `index` is a global secondary index.
    global: bool,
}

impl Source<'_> {
    fn shape(&self) -> KeyShape {
        match self.index {
            Some(i) => self.def.index_key(i),
            None => self.def.key(),
        }
    }

    fn space(&self) -> Space {
        if self.index.is_some() { Space::Index } else { Space::Items }
    }

    fn prefix(&self) -> Vec<u8> {
        match self.index {
            Some(i) => keys::index_prefix(&self.def.name, &i.index_name),
            None => keys::table_prefix(&self.def.name),
        }
    }

    /// The stored key of an item in this source (for ExclusiveStartKey).
    fn encoded_key(&self, item: &Item) -> DynamoResult<Vec<u8>> {
        let primary = primary_key(self.def, item)?;
        match self.index {
            None => Ok(primary),
            Some(i) => {
                let shape = self.def.index_key(i);
                let (h, r) = crate::storage::key_values(&shape, item)?;
                keys::index_key(&self.def.name, &i.index_name, h, r, &primary)
            }
        }
    }

    /// LastEvaluatedKey of an item: the table key, plus the index key for indexes.
    fn last_key(&self, item: &Item) -> DynamoResult<Item> {
        let mut k = key_item(&self.def.key(), item)?;
        if self.index.is_some() {
            k.extend(key_item(&self.shape(), item)?);
        }
        Ok(k)
    }

    /// The size a read of `item` through this source is charged for (its index projection's).
    fn read_size(&self, item: &Item) -> usize {
        match self.index {
            Some(index) if index.projection.projection_type.as_deref() != Some("ALL") => {
                item_size(&self.def.project_for_index(index, item.clone()))
            }
            _ => item_size(item),
        }
    }

    /// Applies an index's projection (KEYS_ONLY / INCLUDE) to an item.
    fn project_index(&self, item: Item) -> Item {
        match self.index {
            Some(index) => self.def.project_for_index(index, item),
            None => item,
        }
    }
}

fn resolve<'a>(def: &'a TableDef, req: &Value) -> DynamoResult<Source<'a>> {
    let mut is_global = false;
    let index = match optional_str(req, "IndexName")? {
        Some(name) => {
            let (index, global) = def
                .index(name)
                .ok_or_else(|| DynamoError::validation(format!("The table does not have the specified index: {name}")))?;
            if global && optional_bool(req, "ConsistentRead")? == Some(true) {
                return Err(DynamoError::validation(
                    "Consistent reads are not supported on global secondary indexes",
                ));
            }
            is_global = global;
            Some(index)
        }
        None => None,
    };
    Ok(Source {
        def,
        index,
        global: is_global,
    })
}

/// Options shared by Query and Scan.
struct Reading {
    filter: Option<Condition>,
    projection: Option<Projection>,
    count_only: bool,
    limit: Option<usize>,
    start: Option<Item>,
}

/// `legacy_filter` names the operation's legacy filter member (`QueryFilter`, `ScanFilter`).
fn reading(req: &Value, ctx: &mut ExpressionContext, legacy_filter: &str) -> DynamoResult<Reading> {
    let filter = match optional_str(req, "FilterExpression")? {
        Some(e) => Some(ctx.parse_filter(e)?),
        None => legacy::conditions::filter(req, legacy_filter)?,
    };
    let projection = match optional_str(req, "ProjectionExpression")? {
        Some(e) => Some(ctx.parse_projection(e)?),
        None => legacy::updates::attributes_to_get(req)?,
    };
    let projection_member = if req.get("AttributesToGet").is_some_and(|v| !v.is_null()) {
        "AttributesToGet"
    } else {
        "ProjectionExpression"
    };
    let select = optional_str(req, "Select")?.unwrap_or(if projection.is_some() {
        "SPECIFIC_ATTRIBUTES"
    } else {
        "ALL_ATTRIBUTES"
    });
    if !matches!(
        select,
        "ALL_ATTRIBUTES" | "ALL_PROJECTED_ATTRIBUTES" | "SPECIFIC_ATTRIBUTES" | "COUNT"
    ) {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{select}' at 'select' failed to satisfy constraint"
        )));
    }
    if select == "SPECIFIC_ATTRIBUTES" && projection.is_none() {
        return Err(DynamoError::validation("SPECIFIC_ATTRIBUTES requires a ProjectionExpression"));
    }
    if select == "COUNT" && projection.is_some() {
        return Err(DynamoError::validation(format!(
            "Cannot specify the {projection_member} when choosing to get only the Count"
        )));
    }
    let limit = optional_u64(req, "Limit")?.map(|l| l as usize);
    if limit == Some(0) {
        return Err(DynamoError::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    Ok(Reading {
        filter,
        projection,
        count_only: select == "COUNT",
        limit,
        start: item(req, "ExclusiveStartKey")?,
    })
}

/// One page of a Query or Scan.
struct Page {
    /// Items that passed the filter.
    items: Vec<Item>,
    scanned: usize,
    last: Option<Item>,
    /// Total size of the items read (what capacity is charged for).
    read_bytes: usize,
}

/// Reads entries of `prefix` in order, calling `keep` on each decoded item;
/// stops at Limit or the page size.
fn read_page(
    api: &DynamoApi,
    source: &Source<'_>,
    prefix: &[u8],
    forward: bool,
    opts: &Reading,
    mut keep: impl FnMut(&Item) -> bool,
) -> DynamoResult<Page> {
    let read = api.store.read()?;
    let start = opts.start.as_ref().map(|s| starting_key(source, s)).transpose()?;
    let (mut items, mut scanned, mut bytes, mut last, mut failure) = (Vec::new(), 0usize, 0usize, None, None);
    let mut read_bytes = 0usize;
    read.item_visit(source.space(), prefix, start.as_deref(), !forward, |k, v| {
        if forward && start.as_deref() == Some(k) {
            return true;
        }
        let item = match decode_item(v) {
            Ok(i) => i,
            Err(e) => {
                failure = Some(e);
                return false;
            }
        };
        if !keep(&item) {
            return true;
        }
        scanned += 1;
        bytes += v.len();
        read_bytes += source.read_size(&item);
        let matched = opts.filter.as_ref().is_none_or(|f| f.evaluate(Some(&item)));
        let stop = opts.limit.is_some_and(|l| scanned >= l) || bytes >= PAGE_BYTES;
        if stop {
            last = Some(item.clone());
        }
        if matched {
            items.push(item);
        }
        !stop
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let last = last.map(|i| source.last_key(&i)).transpose()?;
    Ok(Page {
        items,
        scanned,
        last,
        read_bytes,
    })
}

/// The stored key an ExclusiveStartKey names, checked against the schema.
fn starting_key(source: &Source<'_>, start: &Item) -> DynamoResult<Vec<u8>> {
    let invalid = || DynamoError::validation("The provided starting key is invalid: The provided key element does not match the schema");
    let mut names: std::collections::BTreeSet<String> = key_item(&source.def.key(), start).map_err(|_| invalid())?.into_keys().collect();
    if source.index.is_some() {
        names.extend(key_item(&source.shape(), start).map_err(|_| invalid())?.into_keys());
    }
    if start.len() != names.len() {
        return Err(invalid());
    }
    source
        .encoded_key(start)
        .map_err(|e| DynamoError::validation(format!("The provided starting key is invalid: {}", e.message)))
}

/// Query filters may not name the key attributes of what is queried
/// (`member` is how DynamoDB names the filter in the message).
fn check_filter_keys(filter: Option<&Condition>, shape: &KeyShape, member: &str) -> DynamoResult<()> {
    let Some(filter) = filter else { return Ok(()) };
    for path in filter.paths() {
        let name = path.attribute_name();
        if name == shape.hash.0 || shape.range.as_ref().is_some_and(|r| r.0 == name) {
            return Err(DynamoError::validation(format!(
                "{member} can only contain non-primary key attributes: Primary key attribute: {name}"
            )));
        }
    }
    Ok(())
}

fn respond(source: &Source<'_>, opts: &Reading, page: Page, req: &Value) -> DynamoResult<Value> {
    let Page {
        items,
        scanned,
        last,
        read_bytes,
    } = page;
    let count = items.len();
    let mut out = json!({ "Count": count, "ScannedCount": scanned });
    if !opts.count_only {
        let shaped: Vec<Value> = items
            .into_iter()
            .map(|i| source.project_index(i))
            .map(|i| match &opts.projection {
                Some(p) => p.apply(&i),
                None => i,
            })
            .map(|i| item_to_json(&i))
            .collect();
        out["Items"] = Value::Array(shaped);
    }
    if let Some(k) = last {
        out["LastEvaluatedKey"] = item_to_json(&k);
    }
    let mut consumed = Consumed::new(&source.def.name);
    let units = capacity::read_units(read_bytes, optional_bool(req, "ConsistentRead")?.unwrap_or(false));
    consumed.read(source.index.map(|i| (i.index_name.as_str(), source.global)), units);
    capacity::attach(&mut out, capacity::requested(req)?, &consumed);
    Ok(out)
}

impl DynamoApi {
    pub(crate) async fn query(&self, req: Value) -> DynamoResult<Value> {
        let table = required_str(&req, "TableName")?;
        let def = catalog::table(&self.store.read()?, table)?;
        let source = resolve(&def, &req)?;
        let shape = source.shape();
        let mut ctx = context(&req, &legacy::QUERY)?;
        let range_key = shape.range.as_ref().map(|r| r.0.as_str());
        let key: KeyCondition = match optional_str(&req, "KeyConditionExpression")? {
            Some(expr) => ctx.parse_key_condition(expr, &shape.hash.0, range_key)?,
            None => legacy::conditions::key_conditions(&req, &shape.hash.0, range_key)?.ok_or_else(|| {
                DynamoError::validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
            })?,
        };
        let opts = reading(&req, &mut ctx, "QueryFilter")?;
        ctx.check_all_used()?;
        let filter_member = if req.get("QueryFilter").is_some_and(|v| !v.is_null()) {
            "QueryFilter"
        } else {
            "Filter Expression"
        };
        check_filter_keys(opts.filter.as_ref(), &shape, filter_member)?;
        let range_type = shape.range.as_ref().map(|r| r.1.as_str()).unwrap_or_default();
        let range_types_ok = key
            .range
            .as_ref()
            .is_none_or(|r| r.condition.values().iter().all(|v| v.type_name() == range_type));
        if key.hash_value.type_name() != shape.hash.1 || !range_types_ok {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
        let forward = optional_bool(&req, "ScanIndexForward")?.unwrap_or(true);
        let prefix = keys::partition_prefix(&source.prefix(), &key.hash_value)?;
        let range = key.range.clone();
        let page = read_page(self, &source, &prefix, forward, &opts, |item| match &range {
            Some(r) => item.get(&r.key).is_some_and(|v| r.condition.matches(v)),
            None => true,
        })?;
        respond(&source, &opts, page, &req)
    }

    pub(crate) async fn scan(&self, req: Value) -> DynamoResult<Value> {
        let table = required_str(&req, "TableName")?;
        let def = catalog::table(&self.store.read()?, table)?;
        let source = resolve(&def, &req)?;
        let mut ctx = context(&req, &legacy::SCAN)?;
        let opts = reading(&req, &mut ctx, "ScanFilter")?;
        ctx.check_all_used()?;
        let segment = optional_u64(&req, "Segment")?;
        let total = optional_u64(&req, "TotalSegments")?;
        let segments = match (segment, total) {
            (Some(s), Some(t)) if (1..=1_000_000).contains(&t) && s < t => Some((s, t)),
            (None, None) => None,
            _ => {
                return Err(DynamoError::validation(
                    "The Segment parameter must be less than TotalSegments, and both must be given together",
                ));
            }
        };
        let shape = source.shape();
        let page = read_page(self, &source, &source.prefix(), true, &opts, |item| match segments {
            Some((s, t)) => item.get(&shape.hash.0).is_some_and(|h| segment_of(h, t) == s),
            None => true,
        })?;
        respond(&source, &opts, page, &req)
    }
}

/// Which parallel-scan segment a partition key belongs to (stable FNV-1a hash).
fn segment_of(hash: &crate::value::AttributeValue, total: u64) -> u64 {
    let bytes = keys::sort_bytes(hash).unwrap_or_default();
    let h = bytes
        .iter()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3));
    h % total
}
