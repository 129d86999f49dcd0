//! DynamoDB Streams, read from the node's change log: ListStreams,
//! DescribeStream, GetShardIterator, GetRecords. Each table stream has one
//! shard; sequence numbers are change-log sequence numbers, so records come in
//! commit order and a shard iterator is just a position in the log.

use serde_json::{Value, json};
use tandem_store::Change;

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::catalog;
use crate::params::{optional_str, optional_u64, required_str};
use crate::table::TableDef;

/// Most records one GetRecords returns.
const MAX_RECORDS: usize = 1000;
/// Most change-log entries one GetRecords looks at (other tables' changes included).
const SCAN_WINDOW: usize = 10_000;

fn shard_id(def: &TableDef) -> String {
    format!(
        "shardId-{:020}-{}",
        def.created_ms,
        def.stream_label.clone().unwrap_or_default().replace([':', '.', '-'], "")
    )
}

fn sequence(seq: u64) -> String {
    format!("{seq:021}")
}

fn parse_sequence(s: &str) -> DynamoResult<u64> {
    s.parse()
        .map_err(|_| DynamoError::validation(format!("Invalid SequenceNumber: {s}")))
}

/// The sequence numbers a stream's shard covers (closed once disabled).
fn shard_range(def: &TableDef) -> Value {
    let mut range = json!({ "StartingSequenceNumber": sequence(def.stream_start_seq + 1) });
    if let Some(end) = def.stream_end_seq {
        range["EndingSequenceNumber"] = json!(sequence(end));
    }
    range
}

/// An opaque iterator: the stream ARN and the log position to read after.
fn encode_iterator(arn: &str, after: u64) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(format!("{after}|{arn}").as_bytes())
}

pub(crate) fn decode_iterator(it: &str) -> DynamoResult<(String, u64)> {
    let raw = base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(it)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let (after, arn) = raw
        .as_deref()
        .and_then(|r| r.split_once('|'))
        .ok_or_else(|| DynamoError::validation("Invalid ShardIterator"))?;
    Ok((
        arn.to_string(),
        after.parse().map_err(|_| DynamoError::validation("Invalid ShardIterator"))?,
    ))
}

impl DynamoApi {
    /// The table whose current stream has this ARN.
    fn stream_table(&self, arn: &str) -> DynamoResult<TableDef> {
        let not_found = || DynamoError::not_found(format!("Requested resource not found: Stream: {arn} not found"));
        let (table, label) = arn
            .split_once(":table/")
            .and_then(|(_, rest)| rest.split_once("/stream/"))
            .ok_or_else(not_found)?;
        let def = catalog::table(&self.store.read()?, table).map_err(|_| not_found())?;
        def.as_of_stream(label).ok_or_else(not_found)
    }

    pub(crate) async fn list_streams(&self, req: Value) -> DynamoResult<Value> {
        let only = optional_str(&req, "TableName")?;
        let read = self.store.read()?;
        if let Some(name) = only {
            catalog::table(&read, name)?;
        }
        let after = optional_str(&req, "ExclusiveStartStreamArn")?.unwrap_or_default().to_string();
        let limit = optional_u64(&req, "Limit")?.map_or(100, |l| (l as usize).clamp(1, 100));
        let all: Vec<Value> = catalog::tables(&read)?
            .iter()
            .filter(|t| only.is_none_or(|n| n == t.name))
            .filter_map(|t| {
                t.stream_arn()
                    .map(|arn| json!({ "StreamArn": arn, "TableName": t.name, "StreamLabel": t.stream_label }))
            })
            .filter(|s| s["StreamArn"].as_str().unwrap_or_default() > after.as_str())
            .collect();
        let page: Vec<Value> = all.iter().take(limit).cloned().collect();
        let mut out = json!({ "Streams": page });
        if all.len() > limit {
            out["LastEvaluatedStreamArn"] = page.last().map(|s| s["StreamArn"].clone()).unwrap_or(Value::Null);
        }
        Ok(out)
    }

    pub(crate) async fn describe_stream(&self, req: Value) -> DynamoResult<Value> {
        let arn = required_str(&req, "StreamArn")?;
        let def = self.stream_table(arn)?;
        Ok(json!({ "StreamDescription": {
            "StreamArn": arn,
            "StreamLabel": def.stream_label,
            "StreamStatus": if def.stream_enabled() { "ENABLED" } else { "DISABLED" },
            "StreamViewType": def.stream.as_ref().and_then(|s| s.stream_view_type.clone()),
            "TableName": def.name,
            "KeySchema": def.key_schema,
            "CreationRequestDateTime": def.created_ms as f64 / 1000.0,
            "Shards": [{ "ShardId": shard_id(&def), "SequenceNumberRange": shard_range(&def) }],
        }}))
    }

    pub(crate) async fn get_shard_iterator(&self, req: Value) -> DynamoResult<Value> {
        let arn = required_str(&req, "StreamArn")?;
        let def = self.stream_table(arn)?;
        if required_str(&req, "ShardId")? != shard_id(&def) {
            return Err(DynamoError::not_found(
                "Requested resource not found: Shard does not exist".to_string(),
            ));
        }
        let seq = optional_str(&req, "SequenceNumber")?.map(parse_sequence).transpose()?;
        let after = match (required_str(&req, "ShardIteratorType")?, seq) {
            ("TRIM_HORIZON", _) => def.stream_start_seq,
            ("LATEST", _) => self.store.last_seq(),
            ("AT_SEQUENCE_NUMBER", Some(n)) => n.saturating_sub(1).max(def.stream_start_seq),
            ("AFTER_SEQUENCE_NUMBER", Some(n)) => n.max(def.stream_start_seq),
            (t, None) if t.ends_with("SEQUENCE_NUMBER") => {
                return Err(DynamoError::validation("SequenceNumber is required for this ShardIteratorType"));
            }
            (t, _) => return Err(DynamoError::validation(format!("Invalid ShardIteratorType: {t}"))),
        };
        Ok(json!({ "ShardIterator": encode_iterator(arn, after) }))
    }

    pub(crate) async fn get_records(&self, req: Value) -> DynamoResult<Value> {
        let (arn, after) = decode_iterator(required_str(&req, "ShardIterator")?)?;
        let def = self.stream_table(&arn).map_err(|_| {
            DynamoError::new(
                ErrorKind::ExpiredIterator,
                "The shard iterator refers to a stream that no longer exists",
            )
        })?;
        let limit = optional_u64(&req, "Limit")?.map_or(MAX_RECORDS, |l| (l as usize).clamp(1, MAX_RECORDS));
        let view = def
            .stream
            .as_ref()
            .and_then(|s| s.stream_view_type.clone())
            .unwrap_or_else(|| "KEYS_ONLY".into());
        let entries = self.store.changes_after(after, SCAN_WINDOW)?;
        let mut records = Vec::new();
        let mut position = after;
        for entry in entries {
            if records.len() >= limit || def.stream_end_seq.is_some_and(|end| entry.seq >= end) {
                break;
            }
            position = entry.seq;
            let Change::ItemChanged {
                table,
                keys,
                old,
                new,
                by_service,
            } = entry.change
            else {
                continue;
            };
            if table != def.name {
                continue;
            }
            let event = match (&old, &new) {
                (None, Some(_)) => "INSERT",
                (Some(_), Some(_)) => "MODIFY",
                _ => "REMOVE",
            };
            let mut body = json!({
                "ApproximateCreationDateTime": (tandem_store::hlc::hlc_millis(entry.hlc) / 1000) as f64,
                "Keys": keys,
                "SequenceNumber": sequence(entry.seq),
                "SizeBytes": old.as_ref().or(new.as_ref()).map_or(0, |v| v.to_string().len()),
                "StreamViewType": view,
            });
            if matches!(view.as_str(), "NEW_IMAGE" | "NEW_AND_OLD_IMAGES")
                && let Some(n) = new
            {
                body["NewImage"] = n;
            }
            if matches!(view.as_str(), "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")
                && let Some(o) = old
            {
                body["OldImage"] = o;
            }
            let mut record = json!({
                "eventID": format!("{:032x}", u128::from(entry.seq) << 64 | u128::from(entry.hlc)),
                "eventName": event,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": self.region,
                "dynamodb": body,
            });
            if by_service {
                record["userIdentity"] = json!({ "Type": "Service", "PrincipalId": "dynamodb.amazonaws.com" });
            }
            records.push(record);
        }
        Ok(json!({ "Records": records, "NextShardIterator": encode_iterator(&arn, position) }))
    }
}
