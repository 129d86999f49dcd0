//! What `dynamo-load` asks of a server: the table (hash key `pk` S, range key
//! `sk` N), the items, the prepared PutItem / GetItem / Query request bodies,
//! the check of each answer, and the closed-loop worker.
//!
//! Item `i` (of `--items`) lives in partition `p{i / 10}` with `sk = i % 10`,
//! so a Query on one partition (`pk = :p`) returns 10 items. Its `data`
//! attribute is an `--item-size`-byte string. All request bodies are built
//! once, before the load starts, so the loop only signs and sends.

use crate::client::{Client, Endpoint};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

pub const TABLE: &str = "tandem_bench";
/// Items per partition, i.e. what one Query returns.
pub const PER_PARTITION: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    Put,
    Get,
    Query,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Query => "query",
        }
    }
    fn target(self) -> &'static str {
        match self {
            Op::Put => "PutItem",
            Op::Get => "GetItem",
            Op::Query => "Query",
        }
    }
}

fn partition(idx: usize) -> String {
    format!("p{:06}", idx / PER_PARTITION)
}

fn put_body(idx: usize, item_size: usize) -> String {
    // Printable, item-specific filler (no JSON escaping needed).
    let data: String = (0..item_size).map(|j| (b'a' + ((idx + j) % 26) as u8) as char).collect();
    format!(
        r#"{{"TableName":"{TABLE}","Item":{{"pk":{{"S":"{}"}},"sk":{{"N":"{}"}},"data":{{"S":"{data}"}}}}}}"#,
        partition(idx),
        idx % PER_PARTITION
    )
}

fn get_body(idx: usize) -> String {
    format!(
        r#"{{"TableName":"{TABLE}","Key":{{"pk":{{"S":"{}"}},"sk":{{"N":"{}"}}}}}}"#,
        partition(idx),
        idx % PER_PARTITION
    )
}

fn query_body(part: usize) -> String {
    format!(
        r#"{{"TableName":"{TABLE}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"{}"}}}}}}"#,
        partition(part * PER_PARTITION)
    )
}

/// The request bodies one run cycles through, and what each answer must hold.
pub struct Requests {
    pub op: Op,
    pub bodies: Vec<Bytes>,
    /// Items each Query must return (by partition); empty for other ops.
    expected_counts: Vec<usize>,
}

impl Requests {
    pub fn new(op: Op, items: usize, item_size: usize) -> Self {
        let partitions = items.div_ceil(PER_PARTITION);
        let (bodies, expected_counts): (Vec<String>, Vec<usize>) = match op {
            Op::Put => ((0..items).map(|i| put_body(i, item_size)).collect(), vec![]),
            Op::Get => ((0..items).map(get_body).collect(), vec![]),
            Op::Query => (
                (0..partitions).map(query_body).collect(),
                (0..partitions).map(|p| (items - p * PER_PARTITION).min(PER_PARTITION)).collect(),
            ),
        };
        Requests {
            op,
            bodies: bodies.into_iter().map(Bytes::from).collect(),
            expected_counts,
        }
    }

    /// Checks a 2xx answer to request `i`: GetItem must find its item, Query
    /// must return the whole partition.
    fn check(&self, i: usize, body: &[u8]) -> Result<(), String> {
        #[derive(Deserialize)]
        struct GetOut {
            #[serde(rename = "Item")]
            item: Option<IgnoredAny>,
        }
        #[derive(Deserialize)]
        struct QueryOut {
            #[serde(rename = "Count")]
            count: usize,
        }
        let bad = |e: serde_json::Error| format!("unexpected answer ({e}): {}", String::from_utf8_lossy(body));
        match self.op {
            Op::Put => Ok(()),
            Op::Get => match serde_json::from_slice::<GetOut>(body).map_err(bad)?.item {
                Some(_) => Ok(()),
                None => Err(format!("GetItem found no item: {}", String::from_utf8_lossy(body))),
            },
            Op::Query => {
                let count = serde_json::from_slice::<QueryOut>(body).map_err(bad)?.count;
                let want = self.expected_counts[i];
                if count == want {
                    Ok(())
                } else {
                    Err(format!("Query returned {count} items, expected {want}"))
                }
            }
        }
    }
}

/// Prints the first failure of the run to stderr; later ones are only counted.
pub struct ErrorLog(AtomicBool);

impl ErrorLog {
    pub fn new() -> Self {
        ErrorLog(AtomicBool::new(false))
    }
    pub fn report(&self, what: &str, err: &str) {
        if !self.0.swap(true, Ordering::Relaxed) {
            eprintln!("dynamo-load: first error ({what}): {err}");
        }
    }
}

/// Creates the table (an existing one is fine) and waits until it is ACTIVE
/// (dynalite keeps new tables CREATING for a while).
pub async fn create_table(endpoint: Arc<Endpoint>) -> Result<(), String> {
    let mut client = Client::new(endpoint);
    let create = format!(
        r#"{{"TableName":"{TABLE}","KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}],"AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"sk","AttributeType":"N"}}],"ProvisionedThroughput":{{"ReadCapacityUnits":10000,"WriteCapacityUnits":10000}}}}"#
    );
    match client.call("CreateTable", create.into()).await {
        Ok(_) => {}
        Err(e) if e.contains("ResourceInUseException") => {}
        Err(e) => return Err(format!("CreateTable: {e}")),
    }
    let describe = Bytes::from(format!(r#"{{"TableName":"{TABLE}"}}"#));
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client
            .call("DescribeTable", describe.clone())
            .await
            .map_err(|e| format!("DescribeTable: {e}"))?;
        let v: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| format!("DescribeTable: {e}"))?;
        if v["Table"]["TableStatus"] == "ACTIVE" {
            return Ok(());
        }
        if Instant::now() > give_up {
            return Err(format!("table not ACTIVE after 30 s: {v}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes every item once (for GetItem / Query runs), `concurrency` at a time.
pub async fn populate(endpoint: Arc<Endpoint>, puts: Arc<Requests>, concurrency: usize) -> Result<(), String> {
    let n = puts.bodies.len();
    let tasks: Vec<_> = (0..concurrency.min(n))
        .map(|w| {
            let (endpoint, puts) = (endpoint.clone(), puts.clone());
            tokio::spawn(async move {
                let mut client = Client::new(endpoint);
                for i in (w..n).step_by(concurrency) {
                    client
                        .call("PutItem", puts.bodies[i].clone())
                        .await
                        .map_err(|e| format!("PutItem #{i}: {e}"))?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// The measured window shared by all workers.
pub struct Window {
    /// Requests started before this are warm-up, not recorded.
    pub start: Instant,
    /// No request is started at or after this.
    pub end: Instant,
}

/// What one worker measured.
#[derive(Default)]
pub struct Tally {
    /// Latency (µs) of each successful measured request.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    /// Completion time of the worker's last measured request.
    pub last_done: Option<Instant>,
}

/// Closed loop of worker `w` of `n`: one request in flight, cycling through
/// the bodies `w, w+n, w+2n, ...` (mod their number) until the window ends.
pub async fn worker(endpoint: Arc<Endpoint>, reqs: Arc<Requests>, window: Arc<Window>, errors: Arc<ErrorLog>, w: usize, n: usize) -> Tally {
    let mut client = Client::new(endpoint);
    let mut tally = Tally {
        latencies_us: Vec::with_capacity(1 << 15),
        ..Tally::default()
    };
    let count = reqs.bodies.len();
    let mut i = w % count;
    loop {
        let sent = Instant::now();
        if sent >= window.end {
            return tally;
        }
        let outcome = match client.call(reqs.op.target(), reqs.bodies[i].clone()).await {
            Ok(body) => reqs.check(i, &body),
            Err(e) => Err(e),
        };
        let done = Instant::now();
        if let Err(e) = &outcome {
            errors.report(&format!("{} #{i}", reqs.op.target()), e);
        }
        i = (i + n) % count;
        if sent < window.start {
            continue;
        }
        tally.last_done = Some(done);
        match outcome {
            Ok(()) => tally.latencies_us.push((done - sent).as_micros().min(u128::from(u32::MAX)) as u32),
            Err(_) => tally.errors += 1,
        }
    }
}
