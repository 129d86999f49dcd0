//! The viewer's side: Range from a cached object, conditional requests, HEAD, Vary, gzip.

use super::*;
use std::io::Read;

async fn cached_digits(cache: &EdgeCache, rule: &CacheRule) -> Origin {
    let body: String = (0..100).map(|i| char::from(b'0' + (i % 10) as u8)).collect();
    let origin = Origin::ok(&[("cache-control", "max-age=60"), ("etag", "\"d1\"")], &body);
    serve(cache, rule, &get("/digits", &[]), &origin).await;
    origin
}

#[tokio::test]
async fn a_range_is_answered_from_the_cached_full_object() {
    let cache = cache();
    let rule = rule();
    assert!(!cache.accepts(&rule, &get("/digits", &[("range", "bytes=0-1")])));
    let origin = cached_digits(&cache, &rule).await;
    assert!(cache.accepts(&rule, &get("/digits", &[("range", "bytes=0-1")])));
    let part = serve(&cache, &rule, &get("/digits", &[("range", "bytes=10-19")]), &origin).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.header("content-range"), Some("bytes 10-19/100"));
    assert_eq!(part.header("content-length"), Some("10"));
    assert_eq!(part.body, "0123456789");
    let suffix = serve(&cache, &rule, &get("/digits", &[("range", "bytes=-3")]), &origin).await;
    assert_eq!(
        (suffix.status, suffix.body.as_ref()),
        (StatusCode::PARTIAL_CONTENT, b"789".as_ref())
    );
    let open = serve(&cache, &rule, &get("/digits", &[("range", "bytes=95-")]), &origin).await;
    assert_eq!(open.header("content-range"), Some("bytes 95-99/100"));
    let past = serve(&cache, &rule, &get("/digits", &[("range", "bytes=200-300")]), &origin).await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.header("content-range"), Some("bytes */100"));
    let multi = serve(&cache, &rule, &get("/digits", &[("range", "bytes=0-1,5-6")]), &origin).await;
    assert_eq!((multi.status, multi.body.len()), (StatusCode::OK, 100));
    let wrong_if_range = serve(
        &cache,
        &rule,
        &get("/digits", &[("range", "bytes=0-1"), ("if-range", "\"other\"")]),
        &origin,
    )
    .await;
    assert_eq!(wrong_if_range.status, StatusCode::OK);
    assert_eq!(origin.calls(), 1);
}

#[tokio::test]
async fn if_none_match_and_if_modified_since_get_304_from_the_cache() {
    let cache = cache();
    let rule = rule();
    let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    let origin = Origin::ok(
        &[("cache-control", "max-age=60"), ("etag", "\"v9\""), ("last-modified", lm)],
        "content",
    );
    serve(&cache, &rule, &get("/c", &[]), &origin).await;
    let same = serve(&cache, &rule, &get("/c", &[("if-none-match", "\"x\", \"v9\"")]), &origin).await;
    assert_eq!((same.status, same.body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(same.header("etag"), Some("\"v9\""));
    let other = serve(&cache, &rule, &get("/c", &[("if-none-match", "\"v8\"")]), &origin).await;
    assert_eq!(other.status, StatusCode::OK);
    let later = serve(
        &cache,
        &rule,
        &get("/c", &[("if-modified-since", "Thu, 22 Oct 2015 07:28:00 GMT")]),
        &origin,
    )
    .await;
    assert_eq!(later.status, StatusCode::NOT_MODIFIED);
    let earlier = serve(
        &cache,
        &rule,
        &get("/c", &[("if-modified-since", "Tue, 20 Oct 2015 07:28:00 GMT")]),
        &origin,
    )
    .await;
    assert_eq!(earlier.status, StatusCode::OK);
    assert_eq!(origin.calls(), 1);
}

#[tokio::test]
async fn head_is_answered_without_a_body() {
    let cache = cache();
    let rule = rule();
    let origin = cached_digits(&cache, &rule).await;
    let mut head = get("/digits", &[]);
    head.method = http::Method::HEAD;
    let got = serve(&cache, &rule, &head, &origin).await;
    assert_eq!(
        (got.status, got.body.len(), got.header("content-length")),
        (StatusCode::OK, 0, Some("100"))
    );
}

#[tokio::test]
async fn vary_keeps_one_variant_per_header_value() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=60"), ("vary", "X-Lang")], "en");
    let en = serve(&cache, &rule, &get("/v", &[("x-lang", "en")]), &origin).await;
    assert_eq!(en.body, "en");
    origin.set(ok(&[("cache-control", "max-age=60"), ("vary", "X-Lang")], "fr"));
    let fr = serve(&cache, &rule, &get("/v", &[("x-lang", "fr")]), &origin).await;
    assert_eq!((fr.outcome, fr.body.as_ref()), (Outcome::Miss, b"fr".as_ref()));
    let en2 = serve(&cache, &rule, &get("/v", &[("x-lang", "en")]), &origin).await;
    assert_eq!((en2.outcome, en2.body.as_ref()), (Outcome::Hit, b"en".as_ref()));
    let fr2 = serve(&cache, &rule, &get("/v", &[("x-lang", "fr")]), &origin).await;
    assert_eq!((fr2.outcome, fr2.body.as_ref()), (Outcome::Hit, b"fr".as_ref()));
    assert_eq!(origin.calls(), 2);
}

#[tokio::test]
async fn compress_gzips_text_for_viewers_that_accept_it() {
    let cache = cache();
    let mut rule = rule();
    rule.compress = true;
    let text = "hello edge cache ".repeat(200);
    let origin = Origin::ok(
        &[("cache-control", "max-age=60"), ("content-type", "text/html"), ("etag", "\"t\"")],
        &text,
    );
    let plain = serve(&cache, &rule, &get("/t.html", &[]), &origin).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body.len(), text.len());
    let gz = serve(&cache, &rule, &get("/t.html", &[("accept-encoding", "br, gzip")]), &origin).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gz.header("etag"), Some("W/\"t\""));
    assert!(gz.body.len() < text.len() / 5);
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(gz.body.as_ref())
        .read_to_string(&mut unzipped)
        .expect("gunzip");
    assert_eq!(unzipped, text);
    let refused = serve(&cache, &rule, &get("/t.html", &[("accept-encoding", "gzip;q=0")]), &origin).await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(origin.calls(), 1);
}

#[tokio::test]
async fn binary_content_is_not_compressed() {
    let cache = cache();
    let mut rule = rule();
    rule.compress = true;
    let origin = Origin::ok(&[("cache-control", "max-age=60"), ("content-type", "image/png")], &"x".repeat(5000));
    let got = serve(&cache, &rule, &get("/i.png", &[("accept-encoding", "gzip")]), &origin).await;
    assert_eq!(got.header("content-encoding"), None);
}
