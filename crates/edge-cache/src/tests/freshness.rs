//! TTLs: Cache-Control from the origin clamped by the rule, Expires, what is never stored,
//! negative caching, and which viewer requests the cache accepts.

use super::*;
use crate::CacheConfig;

/// Serves `/x` twice with `advance` between; returns the origin's call count.
async fn calls_after(rule: &CacheRule, headers: &[(&'static str, &str)], advance_by: Duration) -> usize {
    let cache = cache();
    let origin = Origin::ok(headers, "body");
    let first = serve(&cache, rule, &get("/x", &[]), &origin).await;
    assert_eq!(first.outcome, Outcome::Miss);
    advance(&cache, advance_by);
    serve(&cache, rule, &get("/x", &[]), &origin).await;
    origin.calls()
}

#[tokio::test]
async fn max_age_keeps_an_object_fresh_until_it_expires() {
    let rule = rule();
    assert_eq!(
        calls_after(&rule, &[("cache-control", "max-age=10")], Duration::from_secs(9)).await,
        1
    );
    assert_eq!(
        calls_after(&rule, &[("cache-control", "max-age=10")], Duration::from_secs(11)).await,
        2
    );
}

#[tokio::test]
async fn s_maxage_wins_over_max_age() {
    let rule = rule();
    let cc = [("cache-control", "max-age=1, s-maxage=100")];
    assert_eq!(calls_after(&rule, &cc, Duration::from_secs(50)).await, 1);
}

#[tokio::test]
async fn the_rule_clamps_the_origin_lifetime() {
    let mut rule = rule();
    rule.max_ttl = Duration::from_secs(5);
    assert_eq!(
        calls_after(&rule, &[("cache-control", "max-age=100")], Duration::from_secs(6)).await,
        2
    );
    rule.max_ttl = Duration::from_secs(1000);
    rule.min_ttl = Duration::from_secs(20);
    assert_eq!(
        calls_after(&rule, &[("cache-control", "max-age=1")], Duration::from_secs(10)).await,
        1
    );
}

#[tokio::test]
async fn default_ttl_applies_when_the_origin_says_nothing() {
    let mut rule = rule();
    rule.default_ttl = Duration::from_secs(30);
    assert_eq!(calls_after(&rule, &[], Duration::from_secs(29)).await, 1);
    assert_eq!(calls_after(&rule, &[], Duration::from_secs(31)).await, 2);
}

#[tokio::test]
async fn expires_is_the_fallback_for_max_age() {
    let rule = rule();
    let now = std::time::SystemTime::now();
    let expires = httpdate::fmt_http_date(now + Duration::from_secs(60));
    let date = httpdate::fmt_http_date(now);
    let headers = [("expires", expires.as_str()), ("date", date.as_str())];
    assert_eq!(calls_after(&rule, &headers, Duration::from_secs(30)).await, 1);
    assert_eq!(calls_after(&rule, &headers, Duration::from_secs(90)).await, 2);
    let garbage = [("expires", "0")];
    assert_eq!(calls_after(&rule, &garbage, Duration::from_secs(1)).await, 2);
}

#[tokio::test]
async fn no_store_private_and_set_cookie_are_never_stored() {
    let rule = rule();
    for headers in [
        vec![("cache-control", "no-store, max-age=100")],
        vec![("cache-control", "private, max-age=100")],
        vec![("cache-control", "max-age=100"), ("set-cookie", "session=1")],
    ] {
        assert_eq!(calls_after(&rule, &headers, Duration::ZERO).await, 2, "{headers:?}");
    }
}

#[tokio::test]
async fn cache_authenticated_stores_private_responses() {
    let mut rule = rule();
    rule.cache_authenticated = true;
    assert_eq!(
        calls_after(&rule, &[("cache-control", "private, max-age=100")], Duration::ZERO).await,
        1
    );
}

#[tokio::test]
async fn no_cache_stores_but_revalidates_every_time() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "no-cache"), ("etag", "\"v1\"")], "body");
    serve(&cache, &rule, &get("/x", &[]), &origin).await;
    origin.set(full(304, &[("etag", "\"v1\"")], ""));
    let again = serve(&cache, &rule, &get("/x", &[]), &origin).await;
    assert_eq!(again.outcome, Outcome::RefreshHit);
    assert_eq!(again.body, "body");
    assert_eq!(origin.calls(), 2);
}

#[tokio::test]
async fn a_404_is_cached_for_the_negative_ttl_only() {
    let cache = cache_with(CacheConfig {
        negative_ttl: Duration::from_secs(1),
        ..CacheConfig::default()
    });
    let rule = rule();
    let origin = Origin::new(full(404, &[("cache-control", "max-age=3600")], "missing"));
    assert_eq!(serve(&cache, &rule, &get("/nope", &[]), &origin).await.outcome, Outcome::Miss);
    let hit = serve(&cache, &rule, &get("/nope", &[]), &origin).await;
    assert_eq!((hit.status, hit.outcome), (StatusCode::NOT_FOUND, Outcome::Hit));
    advance(&cache, Duration::from_millis(1100));
    assert_eq!(serve(&cache, &rule, &get("/nope", &[]), &origin).await.outcome, Outcome::Miss);
    assert_eq!(origin.calls(), 2);
}

#[tokio::test]
async fn configured_error_codes_are_cached_negatively_and_others_are_not() {
    let cache = cache_with(CacheConfig {
        negative_statuses: vec![404, 503],
        ..CacheConfig::default()
    });
    let rule = rule();
    let origin = Origin::new(full(503, &[], "busy"));
    serve(&cache, &rule, &get("/busy", &[]), &origin).await;
    assert_eq!(serve(&cache, &rule, &get("/busy", &[]), &origin).await.outcome, Outcome::Hit);
    let other = Origin::new(full(500, &[], "boom"));
    serve(&cache, &rule, &get("/boom", &[]), &other).await;
    serve(&cache, &rule, &get("/boom", &[]), &other).await;
    assert_eq!(other.calls(), 2);
}

#[test]
fn authenticated_viewer_requests_are_not_accepted_unless_the_rule_says_so() {
    let cache = cache();
    let mut rule = rule();
    let signed = get("/x", &[("authorization", "AWS4-HMAC-SHA256 Credential=AK/...")]);
    let presigned = get("/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc", &[]);
    assert!(cache.accepts(&rule, &get("/x", &[])));
    assert!(!cache.accepts(&rule, &signed));
    assert!(!cache.accepts(&rule, &presigned));
    rule.cache_authenticated = true;
    assert!(cache.accepts(&rule, &signed));
    assert!(cache.accepts(&rule, &presigned));
    let put = Request::builder()
        .method("PUT")
        .uri("/x")
        .header("host", "h")
        .body(())
        .expect("req")
        .into_parts()
        .0;
    assert!(!cache.accepts(&rule, &put));
}

#[tokio::test]
async fn the_key_takes_only_the_query_strings_and_cookies_the_rule_names() {
    let cache = cache();
    let mut rule = rule();
    rule.key_query = crate::QueryKey::Only(vec!["v".into()]);
    rule.key_cookies = crate::CookieKey::Only(vec!["lang".into()]);
    let origin = Origin::ok(&[("cache-control", "max-age=60")], "b");
    serve(&cache, &rule, &get("/k?v=1&utm=a", &[("cookie", "lang=fr; track=1")]), &origin).await;
    serve(&cache, &rule, &get("/k?utm=b&v=1", &[("cookie", "track=2; lang=fr")]), &origin).await;
    assert_eq!(origin.calls(), 1);
    serve(&cache, &rule, &get("/k?v=2", &[("cookie", "lang=fr")]), &origin).await;
    serve(&cache, &rule, &get("/k?v=1", &[("cookie", "lang=de")]), &origin).await;
    assert_eq!(origin.calls(), 3);
}

#[test]
fn wants_body_follows_status_size_and_cache_control() {
    let cache = cache();
    let rule = rule();
    let req = get("/x", &[]);
    let parts = |status: u16, headers: &[(&str, &str)]| {
        let mut b = Response::builder().status(status);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).expect("resp").into_parts().0
    };
    assert!(cache.wants_body(&rule, &req, &parts(200, &[("content-length", "10")])));
    assert!(cache.wants_body(&rule, &req, &parts(304, &[])));
    assert!(!cache.wants_body(&rule, &req, &parts(200, &[("content-length", "999999999")])));
    assert!(!cache.wants_body(&rule, &req, &parts(200, &[("cache-control", "no-store")])));
    assert!(!cache.wants_body(&rule, &req, &parts(206, &[])));
    assert!(!cache.wants_body(&rule, &req, &parts(500, &[])));
    assert!(!cache.wants_body(&rule, &req, &parts(200, &[("vary", "*")])));
}
