//! Table definitions: what CreateTable declares (key schema, attribute types,
//! secondary indexes, stream, TTL, tags, replicas), validated once and kept in the
//! store's catalog; and the `TableDescription` clients get back.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api_error::{DynamoError, DynamoResult};
use crate::value::Item;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_key_attributes: Option<Vec<String>>,
}

/// A global or local secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    pub stream_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A stream that was replaced by a newer one: its records stay readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousStream {
    pub label: String,
    pub start_seq: u64,
    pub end_seq: u64,
    pub view_type: Option<String>,
}

/// Key attribute names and types of a table or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShape {
    pub hash: (String, String),
    pub range: Option<(String, String)>,
}

/// Everything tandem keeps about a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    #[serde(default)]
    pub global_indexes: Vec<IndexDef>,
    #[serde(default)]
    pub local_indexes: Vec<IndexDef>,
    pub billing_mode: String,
    #[serde(default)]
    pub provisioned: Option<Value>,
    #[serde(default)]
    pub stream: Option<StreamSpecification>,
    /// Label of the current stream (changes when the stream is re-enabled).
    #[serde(default)]
    pub stream_label: Option<String>,
    /// Change-log position when the current stream was enabled: its records
    /// are the table's item changes after it.
    #[serde(default)]
    pub stream_start_seq: u64,
    /// Change-log position when the latest stream was disabled, if it was.
    #[serde(default)]
    pub stream_end_seq: Option<u64>,
    /// Earlier streams, still readable after a new one was enabled (newest last).
    #[serde(default)]
    pub previous_streams: Vec<PreviousStream>,
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Regions holding replicas (global tables), kept for replication.
    #[serde(default)]
    pub replicas: Vec<String>,
    pub created_ms: u64,
    /// Region whose node owns the table.
    pub region: String,
}

fn key_shape(schema: &[KeySchemaElement], defs: &[AttributeDefinition], what: &str) -> DynamoResult<KeyShape> {
    let type_of = |name: &str| -> DynamoResult<String> {
        defs.iter().find(|d| d.attribute_name == name).map(|d| d.attribute_type.clone()).ok_or_else(|| {
            DynamoError::validation(format!(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: [{}]",
                defs.iter().map(|d| d.attribute_name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    };
    let (hash, range) = match schema {
        [h] if h.key_type == "HASH" => (h, None),
        [h, r] if h.key_type == "HASH" && r.key_type == "RANGE" => (h, Some(r)),
        _ => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: {what} KeySchema must have one HASH key, optionally followed by one RANGE key"
            )));
        }
    };
    if range.is_some_and(|r| r.attribute_name == hash.attribute_name) {
        return Err(DynamoError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    Ok(KeyShape {
        hash: (hash.attribute_name.clone(), type_of(&hash.attribute_name)?),
        range: range
            .map(|r| type_of(&r.attribute_name).map(|t| (r.attribute_name.clone(), t)))
            .transpose()?,
    })
}

/// DynamoDB's table and index naming rule.
/// Most NonKeyAttributes all the indexes of a table project together (an
/// attribute projected by two indexes counts twice).
pub const MAX_PROJECTED_ATTRIBUTES: usize = 100;

/// Checks one index's projection; returns how many non-key attributes it names.
fn check_projection(projection: &Projection) -> DynamoResult<usize> {
    let invalid = |m: &str| Err(DynamoError::validation(format!("One or more parameter values were invalid: {m}")));
    let names = projection.non_key_attributes.as_deref();
    match (projection.projection_type.as_deref(), names) {
        (Some("INCLUDE"), Some(names)) if !names.is_empty() => Ok(names.len()),
        (Some("INCLUDE"), _) => invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified"),
        (Some(kind @ ("ALL" | "KEYS_ONLY")), Some(_)) => invalid(&format!("ProjectionType is {kind}, but NonKeyAttributes is specified")),
        (Some("ALL" | "KEYS_ONLY"), None) => Ok(0),
        _ => invalid("Unknown ProjectionType"),
    }
}

pub fn validate_name(name: &str, what: &str) -> DynamoResult<()> {
    let ok = (3..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255"
        )))
    }
}

impl TableDef {
    /// The table's primary key shape.
    pub fn key(&self) -> KeyShape {
        key_shape(&self.key_schema, &self.attribute_definitions, "Table").expect("validated at creation")
    }

    pub fn index(&self, name: &str) -> Option<(&IndexDef, bool)> {
        self.global_indexes
            .iter()
            .map(|i| (i, true))
            .chain(self.local_indexes.iter().map(|i| (i, false)))
            .find(|(i, _)| i.index_name == name)
    }

    /// What an index stores of an item: the table and index keys, plus the
    /// projected attributes (all of them for `ALL`).
    pub fn project_for_index(&self, index: &IndexDef, item: Item) -> Item {
        if index.projection.projection_type.as_deref() == Some("ALL") {
            return item;
        }
        let (table, idx) = (self.key(), self.index_key(index));
        let extra = index.projection.non_key_attributes.as_deref().unwrap_or_default();
        let is_key = |shape: &KeyShape, n: &str| shape.hash.0 == n || shape.range.as_ref().is_some_and(|r| r.0 == n);
        item.into_iter()
            .filter(|(n, _)| is_key(&table, n) || is_key(&idx, n) || extra.contains(n))
            .collect()
    }

    /// The item as an index stores it, if it is in the index (has the
    /// index's key attributes, with their types).
    pub fn index_view(&self, index: &IndexDef, item: &Item) -> Option<Item> {
        let shape = self.index_key(index);
        let typed = |(name, ty): &(String, String)| item.get(name).is_some_and(|v| v.type_name() == ty);
        (typed(&shape.hash) && shape.range.as_ref().is_none_or(typed)).then(|| self.project_for_index(index, item.clone()))
    }

    /// The key shape of an index.
    pub fn index_key(&self, index: &IndexDef) -> KeyShape {
        key_shape(&index.key_schema, &self.attribute_definitions, "Index").expect("validated at creation")
    }

    /// Checks key schemas, attribute definitions and indexes as CreateTable does.
    pub fn validate(&self) -> DynamoResult<()> {
        validate_name(&self.name, "tableName")?;
        for d in &self.attribute_definitions {
            if !matches!(d.attribute_type.as_str(), "S" | "N" | "B") {
                return Err(DynamoError::validation(format!(
                    "1 validation error detected: Value '{}' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                    d.attribute_type
                )));
            }
        }
        let table_key = key_shape(&self.key_schema, &self.attribute_definitions, "Table")?;
        if !self.local_indexes.is_empty() && table_key.range.is_none() {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        let mut used = vec![table_key.hash.0.clone()];
        used.extend(table_key.range.iter().map(|r| r.0.clone()));
        let mut index_names: Vec<&str> = Vec::new();
        let mut projected = 0;
        for (index, global) in self
            .global_indexes
            .iter()
            .map(|i| (i, true))
            .chain(self.local_indexes.iter().map(|i| (i, false)))
        {
            validate_name(&index.index_name, "indexName")?;
            if index_names.contains(&index.index_name.as_str()) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Duplicate index name: {}",
                    index.index_name
                )));
            }
            index_names.push(&index.index_name);
            let k = key_shape(&index.key_schema, &self.attribute_definitions, "Index")?;
            if !global && (k.hash != table_key.hash || k.range.is_none()) {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Index KeySchema does not have a range key for index",
                ));
            }
            projected += check_projection(&index.projection)?;
            used.push(k.hash.0);
            used.extend(k.range.map(|r| r.0));
        }
        if projected > MAX_PROJECTED_ATTRIBUTES {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Number of projected attributes in all indexes exceeds limit of {MAX_PROJECTED_ATTRIBUTES}, provided: {projected}"
            )));
        }
        used.sort();
        used.dedup();
        if used.len() != self.attribute_definitions.len() {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        Ok(())
    }

    pub fn arn(&self) -> String {
        format!("arn:aws:dynamodb:{}:000000000000:table/{}", self.region, self.name)
    }

    pub fn stream_arn(&self) -> Option<String> {
        let label = self.stream_label.as_ref()?;
        Some(format!("{}/stream/{label}", self.arn()))
    }

    /// This definition as seen through one of its streams: the current one, or
    /// a previous one by label (whose fields then stand in for the current ones).
    pub fn as_of_stream(&self, label: &str) -> Option<TableDef> {
        if self.stream_label.as_deref() == Some(label) {
            return Some(self.clone());
        }
        let p = self.previous_streams.iter().find(|p| p.label == label)?;
        let mut view = self.clone();
        view.stream_label = Some(p.label.clone());
        view.stream_start_seq = p.start_seq;
        view.stream_end_seq = Some(p.end_seq);
        view.stream = Some(StreamSpecification {
            stream_enabled: false,
            stream_view_type: p.view_type.clone(),
        });
        Some(view)
    }

    /// Whether the latest stream is currently enabled.
    /// Whether the table is a global table (has replicas in other regions).
    pub fn is_global(&self) -> bool {
        self.replicas.iter().any(|r| r != &self.region)
    }

    /// Lists the table's own region among the replicas of a global table, as
    /// DescribeTable does in every replica region.
    pub fn include_own_region(&mut self) {
        if self.is_global() && !self.replicas.contains(&self.region) {
            self.replicas.insert(0, self.region.clone());
        }
    }

    pub fn stream_enabled(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.stream_enabled)
    }

    /// The `TableDescription` object of DescribeTable/CreateTable/DeleteTable.
    pub fn describe(&self, status: &str, item_count: u64, size_bytes: u64) -> Value {
        let throughput = json!({
            "ReadCapacityUnits": self.provisioned.as_ref().and_then(|p| p.get("ReadCapacityUnits")).cloned().unwrap_or(json!(0)),
            "WriteCapacityUnits": self.provisioned.as_ref().and_then(|p| p.get("WriteCapacityUnits")).cloned().unwrap_or(json!(0)),
            "NumberOfDecreasesToday": 0,
        });
        let index = |i: &IndexDef, global: bool| {
            let mut v = json!({
                "IndexName": i.index_name,
                "KeySchema": i.key_schema,
                "Projection": i.projection,
                "IndexArn": format!("{}/index/{}", self.arn(), i.index_name),
                "IndexSizeBytes": 0,
                "ItemCount": 0,
            });
            if global {
                v["IndexStatus"] = json!("ACTIVE");
                v["ProvisionedThroughput"] = throughput.clone();
            }
            v
        };
        let mut d = json!({
            "TableName": self.name,
            "TableStatus": status,
            "TableArn": self.arn(),
            "TableId": format!("{:x}", self.created_ms),
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "CreationDateTime": self.created_ms as f64 / 1000.0,
            "ItemCount": item_count,
            "TableSizeBytes": size_bytes,
            "ProvisionedThroughput": throughput,
            "BillingModeSummary": { "BillingMode": self.billing_mode },
        });
        if !self.global_indexes.is_empty() {
            d["GlobalSecondaryIndexes"] = Value::Array(self.global_indexes.iter().map(|i| index(i, true)).collect());
        }
        if !self.local_indexes.is_empty() {
            d["LocalSecondaryIndexes"] = Value::Array(self.local_indexes.iter().map(|i| index(i, false)).collect());
        }
        if let Some(s) = &self.stream {
            d["StreamSpecification"] = json!(s);
            if let (Some(arn), Some(label)) = (self.stream_arn(), &self.stream_label) {
                d["LatestStreamArn"] = json!(arn);
                d["LatestStreamLabel"] = json!(label);
            }
        }
        if !self.replicas.is_empty() {
            d["Replicas"] = Value::Array(
                self.replicas
                    .iter()
                    .map(|r| json!({ "RegionName": r, "ReplicaStatus": "ACTIVE" }))
                    .collect(),
            );
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(attrs: &[(&str, &str)], keys: &[(&str, &str)]) -> TableDef {
        TableDef {
            name: "tickets".into(),
            attribute_definitions: attrs
                .iter()
                .map(|(n, t)| AttributeDefinition {
                    attribute_name: (*n).into(),
                    attribute_type: (*t).into(),
                })
                .collect(),
            key_schema: keys
                .iter()
                .map(|(n, t)| KeySchemaElement {
                    attribute_name: (*n).into(),
                    key_type: (*t).into(),
                })
                .collect(),
            global_indexes: vec![],
            local_indexes: vec![],
            billing_mode: "PAY_PER_REQUEST".into(),
            provisioned: None,
            stream: None,
            stream_label: None,
            stream_start_seq: 0,
            stream_end_seq: None,
            previous_streams: vec![],

            ttl_attribute: None,
            tags: vec![],
            replicas: vec![],
            created_ms: 0,
            region: "us-east".into(),
        }
    }

    #[test]
    fn a_hash_and_range_table_validates() {
        let d = def(&[("id", "S"), ("ts", "N")], &[("id", "HASH"), ("ts", "RANGE")]);
        d.validate().unwrap();
        assert_eq!(d.key().range, Some(("ts".into(), "N".into())));
    }

    #[test]
    fn attribute_definitions_must_match_the_keys() {
        let extra = def(&[("id", "S"), ("other", "S")], &[("id", "HASH")]);
        assert!(extra.validate().unwrap_err().message.contains("does not exactly match"));
        let missing = def(&[("id", "S")], &[("id", "HASH"), ("ts", "RANGE")]);
        assert!(
            missing
                .validate()
                .unwrap_err()
                .message
                .contains("not defined in AttributeDefinitions")
        );
        let bad_type = def(&[("id", "X")], &[("id", "HASH")]);
        assert!(bad_type.validate().is_err());
    }

    #[test]
    fn names_follow_dynamodb_rules() {
        assert!(validate_name("ok_name-1.2", "tableName").is_ok());
        assert!(validate_name("ab", "tableName").is_err());
        assert!(validate_name("bad name", "tableName").is_err());
    }
}
