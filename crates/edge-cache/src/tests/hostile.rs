//! Hostile or odd headers: bounded parsers, no panics, nothing stored that should not be.

use super::*;

#[tokio::test]
async fn oversized_or_garbled_headers_are_not_cached_and_do_not_panic() {
    let cache = cache();
    let rule = rule();
    let long_cc = format!("max-age=60, {}", "x-ext=1, ".repeat(400));
    let many_vary = (0..20).map(|i| format!("x-h{i}")).collect::<Vec<_>>().join(", ");
    for headers in [
        vec![("cache-control", long_cc.as_str())],
        vec![("cache-control", "max-age=60"), ("vary", "*")],
        vec![("cache-control", "max-age=60"), ("vary", many_vary.as_str())],
    ] {
        let origin = Origin::ok(&headers, "b");
        serve(&cache, &rule, &get("/h", &[]), &origin).await;
        serve(&cache, &rule, &get("/h", &[]), &origin).await;
        assert_eq!(origin.calls(), 2, "{headers:?}");
    }
    let odd = Origin::ok(&[("cache-control", "max-age=99999999999999999999999, stale-if-error=-1")], "b");
    serve(&cache, &rule, &get("/odd", &[]), &odd).await;
    let weird = [
        ("range", "bytes=99999999999999999999999-"),
        ("if-none-match", "\"é\""),
        ("if-modified-since", "yesterday"),
        ("accept-encoding", "gzip;q=abc"),
    ];
    for (name, value) in weird {
        let got = serve(&cache, &rule, &get("/odd", &[(name, value)]), &odd).await;
        assert_eq!(got.status, StatusCode::OK, "{name}: {value}");
    }
}

#[test]
fn a_key_past_its_bound_is_not_accepted() {
    let cache = cache();
    let mut rule = rule();
    rule.key_headers = vec![http::HeaderName::from_static("x-big")];
    let big = "v".repeat(2000);
    assert!(!cache.accepts(&rule, &get("/k", &[("x-big", &big)])));
    rule.key_query = crate::QueryKey::All;
    let long_query = format!("/k?{}", (0..100).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&"));
    assert!(!cache.accepts(&rule, &get(&long_query, &[])));
    assert!(cache.accepts(&rule, &get("/k?a=1", &[("x-big", "small")])));
}

#[test]
fn range_parser_handles_every_shape() {
    use crate::range::{RangeAsk, parse};
    let v = |s: &str| http::HeaderValue::from_str(s).expect("value");
    assert_eq!(parse(&v("bytes=0-0"), 10), RangeAsk::Part { start: 0, end: 0 });
    assert_eq!(parse(&v("bytes=5-100"), 10), RangeAsk::Part { start: 5, end: 9 });
    assert_eq!(parse(&v("bytes=-100"), 10), RangeAsk::Part { start: 0, end: 9 });
    assert_eq!(parse(&v("bytes=-0"), 10), RangeAsk::Unsatisfiable);
    assert_eq!(parse(&v("bytes=0-"), 0), RangeAsk::Unsatisfiable);
    assert_eq!(parse(&v("bytes=10-"), 10), RangeAsk::Unsatisfiable);
    assert_eq!(parse(&v("bytes=5-1"), 10), RangeAsk::Whole);
    assert_eq!(parse(&v("items=0-1"), 10), RangeAsk::Whole);
    assert_eq!(parse(&v("bytes=+1-2"), 10), RangeAsk::Whole);
    assert_eq!(parse(&v("bytes=-"), 10), RangeAsk::Whole);
}
