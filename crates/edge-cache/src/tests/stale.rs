//! Stale content: stale-while-revalidate, stale-if-error, and revalidation with validators.

use super::*;

#[tokio::test]
async fn stale_while_revalidate_serves_stale_and_refreshes_in_the_background() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=1, stale-while-revalidate=30")], "old");
    serve(&cache, &rule, &get("/s", &[]), &origin).await;
    advance(&cache, Duration::from_secs(2));
    origin.set(ok(&[("cache-control", "max-age=60")], "new"));
    let stale = serve(&cache, &rule, &get("/s", &[]), &origin).await;
    assert_eq!((stale.outcome, stale.body.as_ref()), (Outcome::Stale, b"old".as_ref()));
    assert!(eventually(|| origin.calls() == 2).await);
    assert!(eventually(|| cache.inner.flights.in_flight() == 0).await);
    let fresh = serve(&cache, &rule, &get("/s", &[]), &origin).await;
    assert_eq!((fresh.outcome, fresh.body.as_ref()), (Outcome::Hit, b"new".as_ref()));
    assert_eq!(origin.calls(), 2);
}

#[tokio::test]
async fn past_stale_while_revalidate_the_viewer_waits_for_the_origin() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=1, stale-while-revalidate=5")], "old");
    serve(&cache, &rule, &get("/s", &[]), &origin).await;
    advance(&cache, Duration::from_secs(10));
    origin.set(ok(&[("cache-control", "max-age=60")], "new"));
    let got = serve(&cache, &rule, &get("/s", &[]), &origin).await;
    assert_eq!((got.outcome, got.body.as_ref()), (Outcome::Miss, b"new".as_ref()));
}

#[tokio::test]
async fn stale_if_error_serves_the_stale_copy_when_the_origin_fails() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=1, stale-if-error=60")], "kept");
    serve(&cache, &rule, &get("/e", &[]), &origin).await;
    advance(&cache, Duration::from_secs(5));
    origin.set(Answer::Fail);
    let got = serve(&cache, &rule, &get("/e", &[]), &origin).await;
    assert_eq!(
        (got.status, got.outcome, got.body.as_ref()),
        (StatusCode::OK, Outcome::Stale, b"kept".as_ref())
    );
    origin.set(full(503, &[], "unavailable"));
    let got = serve(&cache, &rule, &get("/e", &[]), &origin).await;
    assert_eq!((got.status, got.outcome), (StatusCode::OK, Outcome::Stale));
    origin.set(Answer::Passthrough(502, vec![]));
    let got = serve(&cache, &rule, &get("/e", &[]), &origin).await;
    assert_eq!((got.status, got.outcome), (StatusCode::OK, Outcome::Stale));
    advance(&cache, Duration::from_secs(60));
    origin.set(Answer::Fail);
    let got = serve(&cache, &rule, &get("/e", &[]), &origin).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn without_stale_if_error_an_origin_failure_is_a_502() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=1")], "gone");
    serve(&cache, &rule, &get("/e", &[]), &origin).await;
    advance(&cache, Duration::from_secs(5));
    origin.set(Answer::Fail);
    assert_eq!(serve(&cache, &rule, &get("/e", &[]), &origin).await.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn an_expired_entry_is_revalidated_with_its_etag_and_a_304_is_a_refresh_hit() {
    let cache = cache();
    let rule = rule();
    let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    let origin = Origin::ok(
        &[("cache-control", "max-age=1"), ("etag", "\"abc\""), ("last-modified", lm)],
        "body",
    );
    serve(&cache, &rule, &get("/r", &[]), &origin).await;
    advance(&cache, Duration::from_secs(2));
    origin.set(full(304, &[("cache-control", "max-age=100"), ("etag", "\"abc\"")], ""));
    let got = serve(&cache, &rule, &get("/r", &[]), &origin).await;
    assert_eq!(
        (got.status, got.outcome, got.body.as_ref()),
        (StatusCode::OK, Outcome::RefreshHit, b"body".as_ref())
    );
    let sent = origin.revalidations.lock()[1].clone();
    assert_eq!(sent.if_none_match.as_ref().map(|v| v.as_bytes()), Some(b"\"abc\"".as_ref()));
    assert_eq!(sent.if_modified_since.as_ref().map(|v| v.as_bytes()), Some(lm.as_bytes()));
    advance(&cache, Duration::from_secs(50));
    assert_eq!(serve(&cache, &rule, &get("/r", &[]), &origin).await.outcome, Outcome::Hit);
    assert_eq!(cache.stats().refresh_hits, 1);
}
