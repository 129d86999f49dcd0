//! DynamoDB Streams, read from the node's change log: ListStreams,
//! DescribeStream (shards paged with `Limit` and `ExclusiveStartShardId`),
//! GetShardIterator, GetRecords. Sequence numbers are change-log sequence
//! numbers, so records come in commit order; shards are ranges of the log
//! (`shards.rs`) and a shard iterator is a position in one, valid 15 minutes.
//! Writes that changed nothing produce no record.

use serde_json::{Value, json};
use tandem_store::Change;

use crate::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::catalog;
use crate::ops::shards::{Shard, Shards};
use crate::params::{optional_str, optional_u64, required_str};
use crate::table::TableDef;

/// Most records one GetRecords returns.
const MAX_RECORDS: usize = 1000;
/// Most change-log entries one GetRecords looks at (other tables' changes included).
const SCAN_WINDOW: usize = 10_000;
/// Most shards one DescribeStream returns.
const MAX_SHARDS: usize = 100;

fn sequence(seq: u64) -> String {
    format!("{seq:021}")
}

fn parse_sequence(s: &str) -> DynamoResult<u64> {
    s.parse()
        .map_err(|_| DynamoError::validation(format!("Invalid SequenceNumber: {s}")))
}

/// How long a shard iterator stays valid, as in DynamoDB.
const ITERATOR_LIFETIME_MS: u64 = 15 * 60 * 1000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Where a shard iterator points: a stream, one of its shards, the log
/// position to read after, and when it was issued.
#[derive(Debug, PartialEq, Eq)]
struct Position {
    arn: String,
    shard_first: u64,
    after: u64,
    issued_ms: u64,
}

impl Position {
    /// An opaque iterator.
    fn encode(&self) -> String {
        let raw = format!("{}|{}|{}|{}", self.issued_ms, self.shard_first, self.after, self.arn);
        base64_simd::URL_SAFE_NO_PAD.encode_to_string(raw.as_bytes())
    }

    /// Reads an iterator back, refusing one older than its lifetime at `now`.
    fn decode(it: &str, now: u64) -> DynamoResult<Position> {
        let position = Self::parse(it)?;
        if now.saturating_sub(position.issued_ms) > ITERATOR_LIFETIME_MS {
            return Err(DynamoError::new(
                ErrorKind::ExpiredIterator,
                format!(
                    "Iterator expired. The iterator was created at time {} ms while right now it's {now} ms. The iterator is valid for 15 minutes.",
                    position.issued_ms
                ),
            ));
        }
        Ok(position)
    }

    /// Reads an iterator back, whatever its age.
    fn parse(it: &str) -> DynamoResult<Position> {
        let invalid = || DynamoError::validation("Invalid ShardIterator");
        let raw = base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec(it)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        let mut parts = raw.splitn(4, '|');
        let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok()).ok_or_else(invalid);
        let (issued_ms, shard_first, after) = (number()?, number()?, number()?);
        let arn = parts.next().ok_or_else(invalid)?.to_string();
        Ok(Position {
            arn,
            shard_first,
            after,
            issued_ms,
        })
    }
}

/// The stream ARN and log position of an iterator (authorization names the stream by it).
pub(crate) fn decode_iterator(it: &str) -> DynamoResult<(String, u64)> {
    Position::parse(it).map(|p| (p.arn, p.after))
}

/// `Limit` between 1 and `max` (DynamoDB's constraint message otherwise), `max` when absent.
fn limit(req: &Value, max: usize) -> DynamoResult<usize> {
    match optional_u64(req, "Limit")? {
        None => Ok(max),
        Some(0) => Err(DynamoError::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        Some(l) if l > max as u64 => Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))),
        Some(l) => Ok(l as usize),
    }
}

fn shard_json(shards: &Shards, shard: &Shard) -> Value {
    let mut range = json!({ "StartingSequenceNumber": sequence(shard.first) });
    if let Some(last) = shard.last {
        range["EndingSequenceNumber"] = json!(sequence(last));
    }
    let mut out = json!({ "ShardId": shards.id(shard), "SequenceNumberRange": range });
    if shard.index > 0 {
        out["ParentShardId"] = json!(shards.id(&shards.shard(shard.index - 1)));
    }
    out
}

fn no_shard() -> DynamoError {
    DynamoError::not_found("Requested resource not found: Shard does not exist".to_string())
}

/// Where an iterator of `kind` starts in `shard` (the position to read after).
fn starting_point(shards: &Shards, shard: &Shard, kind: &str, seq: Option<u64>, last_seq: u64) -> DynamoResult<u64> {
    let within = |n: u64| -> DynamoResult<u64> {
        if n < shards.shard(0).first {
            return Err(DynamoError::new(
                ErrorKind::TrimmedDataAccess,
                format!("The requested sequence number {n} is beyond the trim horizon of the stream"),
            ));
        }
        if n < shard.first || shard.last.is_some_and(|last| n > last) {
            return Err(DynamoError::validation(format!(
                "Invalid SequenceNumber {n}: it does not belong to shard {}",
                shards.id(shard)
            )));
        }
        Ok(n)
    };
    match (kind, seq) {
        ("TRIM_HORIZON", _) => Ok(shard.first - 1),
        ("LATEST", _) => Ok(shard.last.unwrap_or(last_seq.max(shard.first - 1))),
        ("AT_SEQUENCE_NUMBER", Some(n)) => Ok(within(n)? - 1),
        ("AFTER_SEQUENCE_NUMBER", Some(n)) => within(n),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            Err(DynamoError::validation("SequenceNumber is required for this ShardIteratorType"))
        }
        (t, _) => Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{t}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
        ))),
    }
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
        let limit = limit(&req, MAX_SHARDS)?;
        let shards = Shards::of(&def, self.store.last_seq());
        let first = optional_str(&req, "ExclusiveStartShardId")?.map_or(0, |id| shards.first_after(id));
        let page: Vec<Shard> = (first..=shards.newest()).take(limit).map(|k| shards.shard(k)).collect();
        let mut description = json!({
            "StreamArn": arn,
            "StreamLabel": def.stream_label,
            "StreamStatus": if def.stream_enabled() { "ENABLED" } else { "DISABLED" },
            "StreamViewType": def.stream.as_ref().and_then(|s| s.stream_view_type.clone()),
            "TableName": def.name,
            "KeySchema": def.key_schema,
            "CreationRequestDateTime": def.created_ms as f64 / 1000.0,
            "Shards": page.iter().map(|s| shard_json(&shards, s)).collect::<Vec<_>>(),
        });
        if let Some(last) = page.last().filter(|s| s.index < shards.newest()) {
            description["LastEvaluatedShardId"] = json!(shards.id(last));
        }
        Ok(json!({ "StreamDescription": description }))
    }

    pub(crate) async fn get_shard_iterator(&self, req: Value) -> DynamoResult<Value> {
        let arn = required_str(&req, "StreamArn")?;
        let def = self.stream_table(arn)?;
        let last_seq = self.store.last_seq();
        let shards = Shards::of(&def, last_seq);
        let shard = shards.find(required_str(&req, "ShardId")?).ok_or_else(no_shard)?;
        let seq = optional_str(&req, "SequenceNumber")?.map(parse_sequence).transpose()?;
        let kind = required_str(&req, "ShardIteratorType")?;
        let after = starting_point(&shards, &shard, kind, seq, last_seq)?;
        let position = Position {
            arn: arn.to_string(),
            shard_first: shard.first,
            after,
            issued_ms: now_ms(),
        };
        Ok(json!({ "ShardIterator": position.encode() }))
    }

    pub(crate) async fn get_records(&self, req: Value) -> DynamoResult<Value> {
        let Position {
            arn, shard_first, after, ..
        } = Position::decode(required_str(&req, "ShardIterator")?, now_ms())?;
        let def = self.stream_table(&arn).map_err(|_| {
            DynamoError::new(
                ErrorKind::ExpiredIterator,
                "The shard iterator refers to a stream that no longer exists",
            )
        })?;
        let limit = limit(&req, MAX_RECORDS)?;
        let shards = Shards::of(&def, self.store.last_seq());
        let shard = shards.starting_at(shard_first).ok_or_else(|| {
            DynamoError::new(
                ErrorKind::ExpiredIterator,
                "The shard iterator refers to a shard that no longer exists",
            )
        })?;
        let view = def
            .stream
            .as_ref()
            .and_then(|s| s.stream_view_type.clone())
            .unwrap_or_else(|| "KEYS_ONLY".into());
        let entries = self.store.changes_after(after, SCAN_WINDOW)?;
        let window_full = entries.len() >= SCAN_WINDOW;
        let mut records = Vec::new();
        let (mut position, mut limited, mut passed_end) = (after, false, false);
        for entry in entries {
            if entry.seq > shard.end {
                passed_end = true;
                break;
            }
            if records.len() >= limit {
                limited = true;
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
            // A write that changed nothing (same old and new image) has no stream record.
            if table != def.name || old == new {
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
        let mut out = json!({ "Records": records });
        // A closed shard read to its end has no next iterator: consumers move on to its child.
        let exhausted = shard.last.is_some() && !limited && (passed_end || !window_full);
        if !exhausted {
            let next = Position {
                arn,
                shard_first,
                after: position,
                issued_ms: now_ms(),
            };
            out["NextShardIterator"] = json!(next.encode());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterators_round_trip_and_expire_after_fifteen_minutes() {
        let p = Position {
            arn: "arn:aws:dynamodb:r:0:table/t/stream/x|y".into(),
            shard_first: 7,
            after: 42,
            issued_ms: 1_000,
        };
        let it = p.encode();
        assert_eq!(Position::decode(&it, 1_000 + ITERATOR_LIFETIME_MS).unwrap(), p);
        let e = Position::decode(&it, 1_001 + ITERATOR_LIFETIME_MS).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ExpiredIterator);
        assert!(Position::decode("not an iterator", 0).is_err());
    }
}
