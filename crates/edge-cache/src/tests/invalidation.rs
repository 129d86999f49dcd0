//! Invalidation by wildcard patterns, and memory-bound eviction.

use super::*;
use crate::invalidation::glob_match;

#[test]
fn glob_matches_star_runs_and_literals() {
    assert!(glob_match(b"/img/*", b"/img/a.png"));
    assert!(glob_match(b"/img/*", b"/img/"));
    assert!(glob_match(b"*", b"/anything"));
    assert!(glob_match(b"/a*b*c", b"/axxbyyc"));
    assert!(glob_match(b"/exact", b"/exact"));
    assert!(!glob_match(b"/exact", b"/exact2"));
    assert!(!glob_match(b"/img/*.png", b"/img/a.jpg"));
    assert!(!glob_match(b"/a*b*c", b"/axxbyy"));
    let hostile = "*a".repeat(500);
    assert!(!glob_match(
        hostile.as_bytes(),
        "a".repeat(1000)
            .as_bytes()
            .iter()
            .chain(b"b")
            .copied()
            .collect::<Vec<_>>()
            .as_slice()
    ));
}

#[tokio::test]
async fn a_wildcard_invalidation_removes_matching_entries_at_once() {
    let cache = cache();
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=600")], "v1");
    for path in ["/img/a.png", "/img/b.png", "/css/c.css"] {
        serve(&cache, &rule, &get(path, &[]), &origin).await;
    }
    assert_eq!(cache.invalidate(None, &["/img/*".to_string()]), 2);
    assert_eq!(serve(&cache, &rule, &get("/img/a.png", &[]), &origin).await.outcome, Outcome::Miss);
    assert_eq!(serve(&cache, &rule, &get("/css/c.css", &[]), &origin).await.outcome, Outcome::Hit);
    assert_eq!(cache.invalidate(Some("other.test"), &["/*".to_string()]), 0);
    assert_eq!(cache.invalidate(Some("SITE.test:443"), &["css/c.css".to_string()]), 1);
    assert_eq!(cache.stats().invalidated, 3);
}

#[tokio::test]
async fn an_invalidation_during_a_fetch_keeps_the_old_answer_out_of_the_cache() {
    let cache = cache();
    let rule = rule();
    let mut origin = Origin::ok(&[("cache-control", "max-age=600")], "before");
    origin.delay = Duration::from_millis(100);
    let pending = {
        let (cache, rule, origin) = (cache.clone(), rule.clone(), origin.clone());
        tokio::spawn(async move { serve(&cache, &rule, &get("/doc", &[]), &origin).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    cache.invalidate(None, &["/doc".to_string()]);
    assert_eq!(pending.await.expect("task").body, "before");
    origin.delay = Duration::ZERO;
    origin.set(ok(&[("cache-control", "max-age=600")], "after"));
    let got = serve(&cache, &rule, &get("/doc", &[]), &origin).await;
    assert_eq!((got.outcome, got.body.as_ref()), (Outcome::Miss, b"after".as_ref()));
}

#[tokio::test]
async fn the_memory_tier_stays_within_its_byte_bound_by_evicting() {
    let cache = cache_with(crate::CacheConfig {
        max_memory_bytes: 64 << 10,
        max_object_bytes: 8 << 10,
        ..crate::CacheConfig::default()
    });
    let rule = rule();
    let origin = Origin::ok(&[("cache-control", "max-age=600")], &"z".repeat(4096));
    for i in 0..100 {
        serve(&cache, &rule, &get(&format!("/o/{i}"), &[]), &origin).await;
    }
    let stats = cache.stats();
    assert!(stats.memory_bytes <= 64 << 10, "{stats:?}");
    assert!(stats.evictions >= 80, "{stats:?}");
    assert!(stats.memory_entries >= 5, "{stats:?}");
    let too_big = Origin::ok(&[("cache-control", "max-age=600")], &"z".repeat(9000));
    serve(&cache, &rule, &get("/huge", &[]), &too_big).await;
    serve(&cache, &rule, &get("/huge", &[]), &too_big).await;
    assert_eq!(too_big.calls(), 2);
}
