//! Whole S3 requests through s3s and tandem's S3 API on a scratch store:
//! SigV2 (header and query forms) and SigV4 verification, routing, the XML
//! bodies of every operation, and the operations themselves. A request may be
//! refused, but never with a 5xx other than 501 NotImplemented or a 503
//! refusal, and every XML answer parses.
//!
//! Input: signing selector NUL method NUL path?query NUL header lines NUL body.
#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use tandem_fuzz::input::Fields;
use tandem_fuzz::s3::{S3Input, Signing, parse_headers, serve};

fn assert_well_formed_xml(body: &[u8]) {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) => return,
            Ok(_) => buf.clear(),
            Err(e) => panic!("an XML answer does not parse ({e}): {:?}", String::from_utf8_lossy(body)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 5);
    let method = Method::from_bytes(f.raw(1)).unwrap_or(Method::GET);
    let target = f.text(2);
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprint!("{method} {target} -> ");
    }
    let out = serve(S3Input {
        signing: Signing::from_selector(f.selector(0)),
        method,
        target,
        headers: parse_headers(&f.text(3)),
        body: f.raw(4).to_vec(),
    });
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{} {:?}", out.status, String::from_utf8_lossy(&out.body[..out.body.len().min(300)]));
    }
    assert!(
        out.status < 500 || out.status == 501 || out.status == 503,
        "answered {}: {}",
        out.status,
        String::from_utf8_lossy(&out.body)
    );
    let xml = out
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().ends_with(b"xml"));
    if xml {
        assert_well_formed_xml(&out.body);
    }
});
