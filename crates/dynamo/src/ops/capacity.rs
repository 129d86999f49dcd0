//! `ReturnConsumedCapacity` (TOTAL or INDEXES): the capacity units a request
//! consumed, computed the way DynamoDB computes them. A read costs one unit
//! per started 4 KB (half when eventually consistent; a Query or Scan rounds
//! the total size of the items it read, a batch or transaction each item); a
//! write costs one unit per started KB of the larger of the old and new item,
//! plus a write on every secondary index whose projection of the item changes
//! (two when the index key changes); transactions cost double.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api_error::{DynamoError, DynamoResult};
use crate::table::{IndexDef, TableDef};
use crate::value::{Item, item_size};

/// How much detail the request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    Total,
    Indexes,
}

/// `ReturnConsumedCapacity` of a request (`None` for NONE or absent).
pub(crate) fn requested(req: &Value) -> DynamoResult<Option<Detail>> {
    match req.get("ReturnConsumedCapacity") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "NONE" => Ok(None),
        Some(Value::String(s)) if s == "TOTAL" => Ok(Some(Detail::Total)),
        Some(Value::String(s)) if s == "INDEXES" => Ok(Some(Detail::Indexes)),
        Some(other) => Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{}' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
            other.as_str().unwrap_or_default()
        ))),
    }
}

/// Read units for `bytes` read: one per started 4 KB (at least one), half when eventually consistent.
pub(crate) fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units for an item of `bytes`: one per started KB (at least one).
fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Units {
    read: f64,
    write: f64,
}

impl Units {
    fn total(self) -> f64 {
        self.read + self.write
    }

    fn to_json(self) -> Value {
        let mut out = json!({ "CapacityUnits": self.total() });
        if self.read > 0.0 {
            out["ReadCapacityUnits"] = json!(self.read);
        }
        if self.write > 0.0 {
            out["WriteCapacityUnits"] = json!(self.write);
        }
        out
    }
}

/// The capacity one request consumed on one table and its indexes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Consumed {
    table: String,
    on_table: Units,
    global: BTreeMap<String, Units>,
    local: BTreeMap<String, Units>,
}

impl Consumed {
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_string(),
            on_table: Units::default(),
            global: BTreeMap::new(),
            local: BTreeMap::new(),
        }
    }

    fn units_of(&mut self, index: Option<(&str, bool)>) -> &mut Units {
        match index {
            None => &mut self.on_table,
            Some((name, true)) => self.global.entry(name.to_string()).or_default(),
            Some((name, false)) => self.local.entry(name.to_string()).or_default(),
        }
    }

    /// A read of `units` on the table (`None`) or on an index `(name, global)`.
    pub fn read(&mut self, index: Option<(&str, bool)>, units: f64) {
        self.units_of(index).read += units;
    }

    /// A write changing `old` into `new` (either may be absent), `factor` 2 in transactions.
    pub fn write(&mut self, def: &TableDef, old: Option<&Item>, new: Option<&Item>, factor: f64) {
        let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
        self.on_table.write += factor * write_units(size);
        let indexes = def
            .global_indexes
            .iter()
            .map(|i| (i, true))
            .chain(def.local_indexes.iter().map(|i| (i, false)));
        for (index, global) in indexes {
            let units = index_write_units(def, index, old, new);
            if units > 0.0 {
                self.units_of(Some((&index.index_name, global))).write += factor * units;
            }
        }
    }

    fn total(&self) -> f64 {
        self.on_table.total() + self.global.values().chain(self.local.values()).map(|u| u.total()).sum::<f64>()
    }

    /// The `ConsumedCapacity` member for this table.
    pub fn to_json(&self, detail: Detail) -> Value {
        let read = self.on_table.read + self.global.values().chain(self.local.values()).map(|u| u.read).sum::<f64>();
        let write = self.on_table.write + self.global.values().chain(self.local.values()).map(|u| u.write).sum::<f64>();
        let mut out = Units { read, write }.to_json();
        out["TableName"] = json!(self.table);
        out["CapacityUnits"] = json!(self.total());
        if detail == Detail::Indexes {
            out["Table"] = self.on_table.to_json();
            for (member, indexes) in [("GlobalSecondaryIndexes", &self.global), ("LocalSecondaryIndexes", &self.local)] {
                if !indexes.is_empty() {
                    let map: Map<String, Value> = indexes.iter().map(|(n, u)| (n.clone(), u.to_json())).collect();
                    out[member] = Value::Object(map);
                }
            }
        }
        out
    }
}

/// The capacity of several tables (batches, transactions), in table order.
#[derive(Default)]
pub(crate) struct PerTable(BTreeMap<String, Consumed>);

impl PerTable {
    pub fn table(&mut self, name: &str) -> &mut Consumed {
        self.0.entry(name.to_string()).or_insert_with(|| Consumed::new(name))
    }

    pub fn to_json(&self, detail: Detail) -> Value {
        Value::Array(self.0.values().map(|c| c.to_json(detail)).collect())
    }
}

/// Write units one index consumes for a change: nothing when its view of the
/// item is unchanged, a put or delete of the entry, or both when its key changes.
fn index_write_units(def: &TableDef, index: &IndexDef, old: Option<&Item>, new: Option<&Item>) -> f64 {
    let (old, new) = (
        old.and_then(|i| def.index_view(index, i)),
        new.and_then(|i| def.index_view(index, i)),
    );
    let shape = def.index_key(index);
    let key_of = |item: &Item| {
        std::iter::once(&shape.hash)
            .chain(shape.range.as_ref())
            .map(|(n, _)| item.get(n).cloned())
            .collect::<Vec<_>>()
    };
    match (old, new) {
        (None, None) => 0.0,
        (Some(o), None) => write_units(item_size(&o)),
        (None, Some(n)) => write_units(item_size(&n)),
        (Some(o), Some(n)) if o == n => 0.0,
        (Some(o), Some(n)) if key_of(&o) != key_of(&n) => write_units(item_size(&o)) + write_units(item_size(&n)),
        (Some(o), Some(n)) => write_units(item_size(&o).max(item_size(&n))),
    }
}

/// Adds `ConsumedCapacity` to a single-table response when the request asked for it.
pub(crate) fn attach(out: &mut Value, detail: Option<Detail>, consumed: &Consumed) {
    if let Some(detail) = detail {
        out["ConsumedCapacity"] = consumed.to_json(detail);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::item_from_json;

    fn table() -> TableDef {
        let mut def: TableDef = serde_json::from_value(json!({
            "name": "t", "billing_mode": "PAY_PER_REQUEST", "created_ms": 0, "region": "r",
            "attribute_definitions": [
                {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
            "key_schema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        }))
        .unwrap();
        def.global_indexes = vec![
            serde_json::from_value(json!({
                "IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}
            }))
            .unwrap(),
        ];
        def
    }

    fn item(v: Value) -> Item {
        item_from_json(&v).unwrap()
    }

    #[test]
    fn reads_round_up_to_4_kb_and_halve_when_eventually_consistent() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
    }

    #[test]
    fn writes_count_the_larger_image_and_changed_index_entries() {
        let def = table();
        let big = item(json!({"pk": {"S": "a"}, "g": {"S": "x"}, "blob": {"S": "z".repeat(1500)}}));
        let mut c = Consumed::new("t");
        c.write(&def, None, Some(&big), 1.0);
        // 2 KB on the table, one KEYS_ONLY entry on the index.
        let j = c.to_json(Detail::Indexes);
        assert_eq!(j["CapacityUnits"], json!(3.0));
        assert_eq!(j["Table"], json!({"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}));
        assert_eq!(
            j["GlobalSecondaryIndexes"]["byG"],
            json!({"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0})
        );
        // A change the KEYS_ONLY index does not see costs it nothing; a key change costs two.
        let mut c = Consumed::new("t");
        let touched = item(json!({"pk": {"S": "a"}, "g": {"S": "x"}, "blob": {"S": "y"}}));
        c.write(&def, Some(&big), Some(&touched), 2.0);
        assert_eq!(
            c.to_json(Detail::Total),
            json!({"TableName": "t", "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0})
        );
        let mut c = Consumed::new("t");
        let moved = item(json!({"pk": {"S": "a"}, "g": {"S": "other"}}));
        c.write(&def, Some(&touched), Some(&moved), 1.0);
        assert_eq!(
            c.to_json(Detail::Indexes)["GlobalSecondaryIndexes"]["byG"]["CapacityUnits"],
            json!(2.0)
        );
    }
}
