//! Request collapsing: concurrent misses of one key make one origin fetch.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_misses_make_one_origin_fetch() {
    let cache = cache();
    let mut origin = Origin::ok(&[("cache-control", "max-age=60")], "shared body");
    origin.delay = Duration::from_millis(100);
    let rule = rule();
    for got in serve_concurrently(&cache, &rule, "/page", &origin, 100).await {
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body, "shared body");
    }
    assert_eq!(origin.calls(), 1);
    assert_eq!(cache.stats().collapsed, 99);
    assert_eq!(cache.inner.flights.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_fetch_on_their_own_when_the_answer_streams_through() {
    let cache = cache();
    let mut origin = Origin::new(Answer::Passthrough(200, vec![]));
    origin.delay = Duration::from_millis(50);
    let rule = rule();
    for got in serve_concurrently(&cache, &rule, "/big", &origin, 5).await {
        assert_eq!(got.body, "streamed");
        assert_eq!(got.outcome, Outcome::Miss);
    }
    assert_eq!(origin.calls(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_goes_away_still_answers_its_waiters() {
    let cache = cache();
    let mut origin = Origin::ok(&[("cache-control", "max-age=60")], "kept");
    origin.delay = Duration::from_millis(100);
    let rule = rule();
    let leader = {
        let (cache, rule, origin) = (cache.clone(), rule.clone(), origin.clone());
        tokio::spawn(async move { serve(&cache, &rule, &get("/p", &[]), &origin).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let waiter = {
        let (cache, rule, origin) = (cache.clone(), rule.clone(), origin.clone());
        tokio::spawn(async move { serve(&cache, &rule, &get("/p", &[]), &origin).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    leader.abort();
    let got = waiter.await.expect("waiter");
    assert_eq!(got.body, "kept");
    assert_eq!(origin.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_of_a_failed_fetch_get_502_without_fetching_again() {
    let cache = cache();
    let mut origin = Origin::new(Answer::Fail);
    origin.delay = Duration::from_millis(50);
    let rule = rule();
    for got in serve_concurrently(&cache, &rule, "/down", &origin, 10).await {
        assert_eq!((got.status, got.failed), (StatusCode::BAD_GATEWAY, true));
    }
    assert_eq!(origin.calls(), 1);
}
