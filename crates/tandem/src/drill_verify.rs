//! After a drill: which acknowledged writes a region holds, looked up in
//! the region directly with one listing of the run's object prefix and one
//! query of its item partition (paged), not one request per write. A write
//! is missing only when the region answered and it was not there; a region
//! that could not be asked is an error, reported apart.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use crate::config::Config;
use crate::control_client::{ControlClient, Endpoint, query_pair};
use crate::drill_load::{Kind, Workload, Write};
use crate::drill_report::write_name;

/// What one region holds of the run.
struct Held {
    objects: HashSet<String>,
    items: HashSet<String>,
}

/// The acknowledged writes of `writes` that `region` lacks (as `kind/id`),
/// or why the region could not be checked.
pub async fn missing_in(
    config: &Config,
    spec: &tandem_control::AppSpec,
    region: &str,
    load: &Workload,
    writes: &[Write],
) -> Result<Vec<String>, String> {
    let client = ControlClient::new(config)?.with_timeout(Duration::from_secs(10));
    let at = Endpoint::region(config.region(region).map_err(|e| e.to_string())?);
    let bucket = spec
        .buckets
        .first()
        .map(|b| if region == spec.primary { &b.primary } else { &b.secondary });
    let held = Held {
        objects: match bucket {
            Some(b) => objects(&client, &at, b, &format!("drill/{}/", load.run)).await?,
            None => HashSet::new(),
        },
        items: items(&client, &at, load).await?,
    };
    Ok(writes
        .iter()
        .filter(|w| w.acknowledged)
        .filter(|w| match w.kind {
            Kind::Object => !held.objects.contains(&w.id),
            Kind::Item => !held.items.contains(&w.id),
        })
        .map(|w| format!("{} in {region}", write_name(w)))
        .collect())
}

/// Every key under `prefix` (ListObjectsV2, every page).
async fn objects(client: &ControlClient, at: &Endpoint, bucket: &str, prefix: &str) -> Result<HashSet<String>, String> {
    let mut keys = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/{bucket}?list-type=2&{}", query_pair("prefix", prefix));
        if let Some(t) = &token {
            path.push('&');
            path.push_str(&query_pair("continuation-token", t));
        }
        let answer = client
            .s3_at(at, Method::GET, &path, Bytes::new())
            .await
            .map_err(|e| format!("listing {bucket} in {}: {e}", at.name))?;
        let xml = String::from_utf8_lossy(&answer.body);
        keys.extend(elements(&xml, "Key"));
        token = elements(&xml, "NextContinuationToken").into_iter().next();
        if token.is_none() {
            return Ok(keys);
        }
    }
}

/// The texts of every `<tag>…</tag>` of an XML answer (the drill's keys
/// and tokens need no unescaping).
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.to_string()))
        .collect()
}

/// The sequence numbers of the run's items (a paged Query of its partition).
async fn items(client: &ControlClient, at: &Endpoint, load: &Workload) -> Result<HashSet<String>, String> {
    let Some((table, hash, range)) = &load.table else {
        return Ok(HashSet::new());
    };
    let failed = |e: crate::control_client::CallError| format!("reading {table} in {}: {e}", at.name);
    let mut seqs = HashSet::new();
    let mut start: Option<Value> = None;
    loop {
        let mut query = json!({
            "TableName": table,
            "KeyConditionExpression": "#h = :run",
            "ExpressionAttributeNames": {"#h": hash},
            "ExpressionAttributeValues": {":run": {"S": format!("drill-{}", load.run)}},
            "ConsistentRead": true,
        });
        if let Some(s) = start.take() {
            query["ExclusiveStartKey"] = s;
        }
        let answer = client.dynamodb_at(at, "Query", &query).await.map_err(failed)?;
        let page: Value = serde_json::from_slice(&answer.body).map_err(|e| format!("reading {table} in {}: {e}", at.name))?;
        for item in page["Items"].as_array().into_iter().flatten() {
            if let Some(seq) = item[range.as_str()]["S"].as_str() {
                seqs.insert(seq.to_string());
            }
        }
        match page.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => return Ok(seqs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_keys_and_tokens_are_read_from_the_xml() {
        let xml = "<ListBucketResult><Contents><Key>drill/1/000001</Key></Contents><Contents><Key>drill/1/000002</Key></Contents>\
                   <NextContinuationToken>abc</NextContinuationToken></ListBucketResult>";
        assert_eq!(elements(xml, "Key"), ["drill/1/000001", "drill/1/000002"]);
        assert_eq!(elements(xml, "NextContinuationToken"), ["abc"]);
        assert!(elements("<ListBucketResult/>", "Key").is_empty());
    }
}
