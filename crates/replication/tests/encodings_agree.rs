//! Property tests: every item the DynamoDB API accepts — random items up to
//! the 32-level nesting limit, with every attribute type — decodes back from
//! every encoding it passes through on its way to a peer: the wire JSON, the
//! change-log entry, the replication frame, and the peer's store after a real
//! `apply_batch` (read back through the API). A mismatch here is what once
//! made a "poison item" that wedged replication.

use std::collections::BTreeMap;
use tandem_dynamo::authorize::Authority;
use tandem_dynamo::operation::DynamoOp;

use bytes::BytesMut;
use http_body_util::Full;
use proptest::prelude::*;
use serde_json::{Value, json};
use tandem_dynamo::{AttributeValue, DynamoApi, Item, MAX_NESTING_DEPTH, item_to_json, nesting_depth, wire::item_from_json};
use tandem_replication::frame::{FrameReader, Op, Shipped, encode_header};
use tandem_store::{Change, ChangeEntry, Store};

const TABLE: &str = "props";

fn number() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        "-?[1-9][0-9]{0,30}(\\.[0-9]{1,7})?",
        "-?0\\.[0-9]{0,20}[1-9]",
        "[1-9]\\.[0-9]{0,5}E[+-]?[0-9]{1,2}",
        Just("0".to_string()),
    ]
    .prop_map(|text| AttributeValue::N(text.parse().expect("generated numbers are valid")))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{0,12}", "\\PC{0,24}", Just("\u{0}nul\u{1f}ctl\"quote\\".to_string())]
}

fn scalar() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        text().prop_map(AttributeValue::S),
        number(),
        prop::collection::vec(any::<u8>(), 0..32).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::BOOL),
        Just(AttributeValue::NULL),
        prop::collection::btree_set("[a-z0-9]{1,8}", 1..5).prop_map(|s| AttributeValue::SS(s.into_iter().collect())),
        prop::collection::btree_set(0u32..1000, 1..5)
            .prop_map(|s| AttributeValue::NS(s.into_iter().map(|n| n.to_string().parse().expect("valid number")).collect())),
        prop::collection::btree_set(prop::collection::vec(any::<u8>(), 1..6), 1..4)
            .prop_map(|s| AttributeValue::BS(s.into_iter().collect())),
    ]
}

/// Values of any shape, nested up to `depth` maps/lists.
fn value(depth: u32) -> impl Strategy<Value = AttributeValue> {
    scalar().prop_recursive(depth, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4).prop_map(AttributeValue::M),
        ]
    })
}

/// A value exactly `depth` containers deep (the deepest the API accepts when
/// `depth` is the limit), with random siblings and leaf.
fn chain(depth: usize) -> impl Strategy<Value = AttributeValue> {
    (scalar(), prop::collection::vec((any::<bool>(), value(2)), depth)).prop_map(|(leaf, levels)| {
        levels.into_iter().fold(leaf, |inner, (as_list, sibling)| {
            let fits = sibling.nesting_depth() < inner.nesting_depth() + 1;
            match as_list {
                true => AttributeValue::L(if fits { vec![inner, sibling] } else { vec![inner] }),
                false => {
                    let mut map = BTreeMap::from([("in".to_string(), inner)]);
                    if fits {
                        map.insert("sib".to_string(), sibling);
                    }
                    AttributeValue::M(map)
                }
            }
        })
    })
}

/// Items with a string key `pk` and attributes at every depth up to the limit.
fn item() -> impl Strategy<Value = Item> {
    let deep = prop_oneof![value(6), chain(MAX_NESTING_DEPTH)];
    ("[a-z0-9]{1,10}", prop::collection::btree_map("[a-z]{1,8}", deep, 0..4)).prop_map(|(pk, mut attrs)| {
        attrs.remove("pk");
        attrs.insert("pk".to_string(), AttributeValue::S(pk));
        attrs
    })
}

fn item_change(seq: u64, item: &Item) -> ChangeEntry {
    ChangeEntry {
        seq,
        origin: "west".into(),
        hlc: 1 << 20,
        change: Change::ItemChanged {
            table: TABLE.into(),
            keys: json!({ "pk": item_to_json(item)["pk"] }),
            old: Some(item_to_json(item)),
            new: Some(item_to_json(item)),
            by_service: false,
        },
    }
}

fn shipped(seq: u64, item: &Item) -> Shipped {
    Shipped {
        seq,
        origin: "west".into(),
        hlc: (1 << 30) + seq,
        op: Op::Item {
            table: TABLE.into(),
            keys: json!({ "pk": item_to_json(item)["pk"] }),
            new: Some(item_to_json(item)),
            by_service: false,
        },
        body_len: 0,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn items_round_trip_through_wire_json_and_the_change_log(item in item()) {
        prop_assert!(nesting_depth(&item) <= MAX_NESTING_DEPTH);
        let wire = serde_json::to_vec(&item_to_json(&item)).expect("encode");
        let back = item_from_json(&serde_json::from_slice::<Value>(&wire).expect("decode wire")).expect("valid item");
        prop_assert_eq!(&back, &item);

        let entry = item_change(9, &item);
        let raw = serde_json::to_vec(&entry).expect("encode entry");
        let decoded = tandem_store::changelog::decode_entry(9, &raw);
        prop_assert_eq!(decoded, entry);
    }

    #[test]
    fn items_round_trip_through_replication_frames(item in item()) {
        let frame = shipped(3, &item);
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&encode_header(&frame));
        let decoded = runtime().block_on(async {
            let mut reader = FrameReader::new(Full::new(wire.freeze()));
            reader.next_header().await
        });
        let decoded = decoded.expect("the frame decodes").expect("one frame");
        prop_assert_eq!(serde_json::to_value(decoded).expect("json"), serde_json::to_value(frame).expect("json"));
    }
}

/// Items applied by a peer through the real receive path read back equal
/// through the DynamoDB API, and stay readable after the store reopens.
#[test]
fn items_at_the_limit_survive_replication_apply_and_read_back() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = runtime();
    let store = rt.block_on(async { Store::open(dir.path(), "east") }).expect("open store");
    let api = DynamoApi::new(store.clone());
    let create = json!({
        "TableName": TABLE,
        "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
        "AttributeDefinitions": [{ "AttributeName": "pk", "AttributeType": "S" }],
        "BillingMode": "PAY_PER_REQUEST",
    });
    rt.block_on(api.handle(DynamoOp::CreateTable, create.to_string().as_bytes(), &Authority::Node))
        .expect("create table");
    let lag = tandem_replication::stats::lag_histogram();
    // The runner takes an `Fn`: state across cases lives in cells.
    let seq = std::cell::Cell::new(0u64);
    let applied = std::cell::RefCell::new(Vec::new());
    runner
        .run(&prop::collection::vec(item(), 1..4), |items| {
            let mut wire = BytesMut::new();
            for item in &items {
                seq.set(seq.get() + 1);
                wire.extend_from_slice(&encode_header(&shipped(seq.get(), item)));
            }
            let summary = rt
                .block_on(tandem_replication::apply::apply_batch(
                    &store,
                    "west",
                    Full::new(wire.freeze()),
                    &lag,
                    None,
                ))
                .map_err(|e| TestCaseError::fail(format!("apply failed: {e}")))?;
            prop_assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
            for item in items {
                let got = get(&rt, &api, &item)?;
                prop_assert_eq!(&got, &item);
                applied.borrow_mut().push(item);
            }
            Ok(())
        })
        .expect("property holds");
    let log = store.changes_after(0, 10_000).expect("the log reads");
    assert!(log.iter().all(|e| !matches!(e.change, Change::Unreadable { .. })));
    drop(api);
    drop(store);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let store = rt.block_on(async { Store::open(dir.path(), "east") }).expect("reopen store");
    let api = DynamoApi::new(store);
    let last: BTreeMap<String, Item> = applied.into_inner().into_iter().map(|i| (format!("{:?}", i["pk"]), i)).collect();
    for item in last.values() {
        assert_eq!(&get(&rt, &api, item).expect("read"), item);
    }
}

fn get(rt: &tokio::runtime::Runtime, api: &DynamoApi, item: &Item) -> Result<Item, TestCaseError> {
    let req = json!({ "TableName": TABLE, "Key": { "pk": item_to_json(item)["pk"] }, "ConsistentRead": true });
    let out = rt
        .block_on(api.handle(DynamoOp::GetItem, req.to_string().as_bytes(), &Authority::Node))
        .map_err(|e| TestCaseError::fail(format!("GetItem failed: {e:?}")))?;
    let mut got = item_from_json(&out["Item"]).map_err(|e| TestCaseError::fail(format!("bad item: {e:?}")))?;
    got.retain(|name, _| !name.starts_with("aws:rep:"));
    Ok(got)
}
