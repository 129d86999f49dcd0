//! Whole DynamoDB and Streams requests (`DynamoApi::handle`, what the node
//! calls after the signature check) on a scratch store with two tables:
//! request parsing, validation and every operation. A request may be refused,
//! but never with InternalServerError, and every answer serializes.
//!
//! Input: X-Amz-Target operation NUL JSON body. An operation without a dot is
//! prefixed with `DynamoDB_20120810.`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_dynamo::api_error::ErrorKind;
use tandem_fuzz::input::Fields;

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 2);
    let op = f.text(0);
    let target = if op.contains('.') { op } else { format!("DynamoDB_20120810.{op}") };
    let answer = tandem_fuzz::dynamo::serve(&target, f.raw(1));
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{target}: {:?}", answer.as_ref().map_err(|e| &e.message));
    }
    match answer {
        Ok(answer) => {
            serde_json::to_string(&answer).expect("an answer serializes");
        }
        Err(e) => {
            assert_ne!(e.kind, ErrorKind::InternalServer, "{target}: internal error: {}", e.message);
            let _ = e.to_wire();
        }
    }
});
