//! The replication wire format (tandem-replication `frame.rs`): a batch body,
//! cut into chunks where the input says, read frame by frame. Every outcome
//! is a header, a body chunk, a clean end or an error; a header that was read
//! encodes and decodes back to the same header.
//!
//! Input: chunk sizes byte NUL batch bytes (the sizes cycle through the batch).
#![no_main]

use bytes::Bytes;
use futures::stream;
use http_body_util::StreamBody;
use libfuzzer_sys::fuzz_target;
use tandem_fuzz::input::Fields;
use tandem_fuzz::runtime::block_on;
use tandem_replication::frame::{FrameReader, Shipped, encode_header};

type Chunk = Result<http_body::Frame<Bytes>, std::io::Error>;

fn chunks(batch: &[u8], sizes: &[u8]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut rest = batch;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes.get(i % sizes.len().max(1)).map_or(rest.len(), |&s| usize::from(s).max(1));
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        out.push(Ok(http_body::Frame::data(Bytes::copy_from_slice(chunk))));
        rest = tail;
        i += 1;
    }
    out
}

fn assert_header_round_trips(header: &Shipped) {
    let encoded = encode_header(header);
    let json = &encoded[4..];
    assert_eq!(
        u32::from_be_bytes([encoded[0], encoded[1], encoded[2], encoded[3]]) as usize,
        json.len()
    );
    let again: Shipped = serde_json::from_slice(json).expect("an encoded header decodes");
    assert_eq!(
        serde_json::to_value(&again).expect("a header is JSON"),
        serde_json::to_value(header).expect("a header is JSON")
    );
}

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 2);
    let body = StreamBody::new(stream::iter(chunks(f.raw(1), f.raw(0))));
    block_on(async {
        let mut reader = FrameReader::new(body);
        for _ in 0..64 {
            let Ok(Some(header)) = reader.next_header().await else { return };
            assert_header_round_trips(&header);
            let mut remaining = header.body_len;
            while remaining > 0 {
                let before = remaining;
                if reader.body_chunk(&mut remaining).await.is_err() {
                    return;
                }
                assert!(remaining < before, "a body chunk made no progress");
            }
        }
    });
});
