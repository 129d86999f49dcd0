//! The path of a viewer request through the cache: lookup (memory, then disk), fresh hit,
//! stale-while-revalidate (served stale, refreshed in the background), or an origin fetch
//! that is collapsed per key, revalidates with the stored validators, falls back to the
//! stale copy when the origin fails (stale-if-error), and stores what may be stored.

use crate::api::{Fetched, OriginFailure, Outcome, Revalidate, Served, ServedBody};
use crate::compress::gzip_form;
use crate::config::CacheRule;
use crate::control::{self, Lifetime};
use crate::flight::{self, Answer, Join, Leader};
use crate::key::{self, RequestKey, Vary};
use crate::memory::{Slot, VaryMark};
use crate::object::{State, Stored};
use crate::respond::respond;
use crate::stats::bump;
use crate::{CACHEABLE, EdgeCache};
use bytes::Bytes;
use http::header::{CONTENT_RANGE, CONTENT_TYPE, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Method, Response, StatusCode, request, response};
use std::future::Future;
use std::sync::Arc;

/// Bodies larger than this are gzipped on a blocking thread.
const INLINE_GZIP_BYTES: usize = 256 << 10;

/// What a viewer request looks like to the parts of the path that outlive it.
#[derive(Clone)]
struct Viewer {
    method: Method,
    headers: HeaderMap,
}

impl EdgeCache {
    /// Serves through the cache; see the crate documentation.
    pub async fn serve<B, F, Fut>(&self, rule: &CacheRule, req: &request::Parts, fetch: F) -> Served<B>
    where
        B: Send + 'static,
        F: FnOnce(Revalidate) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Fetched<B>, OriginFailure>> + Send + 'static,
    {
        let Some(key) = key::primary_key(rule, req) else {
            return bypass(fetch).await;
        };
        let since = self.inner.log.current();
        let stored_key = self.flight_key(&key, &req.headers);
        let found = self.lookup(rule, &stored_key, since).await;
        let now = self.inner.clock.now_ms();
        if let Some(obj) = &found {
            match obj.state(now) {
                State::Fresh => {
                    bump(&self.inner.counters.hits);
                    return respond(obj, rule, &req.method, &req.headers, now, Outcome::Hit);
                }
                State::Revalidating => {
                    bump(&self.inner.counters.stale);
                    self.refresh_in_background(rule, &key, obj.clone(), &req.headers, fetch);
                    return respond(obj, rule, &req.method, &req.headers, now, Outcome::Stale);
                }
                State::Expired => {}
            }
        }
        let viewer = Viewer {
            method: req.method.clone(),
            headers: req.headers.clone(),
        };
        match self.inner.flights.join(&stored_key) {
            Join::Lead(leader) => {
                let task = self.clone().settle(rule.clone(), key, viewer, found, fetch, Some(leader));
                match tokio::spawn(task).await {
                    Ok(served) => served,
                    Err(_) => bad_gateway(OriginFailure {
                        reason: "origin fetch task failed".into(),
                        status: StatusCode::BAD_GATEWAY,
                    }),
                }
            }
            Join::Wait(rx) => {
                bump(&self.inner.counters.collapsed);
                match flight::wait(rx).await {
                    Answer::Object(obj, outcome) if fits(&obj, &key, &req.headers) => {
                        self.count(outcome);
                        respond(&obj, rule, &req.method, &req.headers, self.inner.clock.now_ms(), outcome)
                    }
                    Answer::Failed(failure) => {
                        bump(&self.inner.counters.misses);
                        bad_gateway(failure)
                    }
                    _ => self.clone().settle(rule.clone(), key, viewer, found, fetch, None).await,
                }
            }
        }
    }

    /// Is a cached object there for this request (memory or disk)? Range requests only.
    pub(crate) fn holds(&self, key: &RequestKey, headers: &HeaderMap) -> bool {
        let stored_key = self.flight_key(key, headers);
        if let Some(Slot::Object(_)) = self.inner.memory.get(&stored_key) {
            return true;
        }
        self.inner.disk.as_ref().is_some_and(|d| d.contains(&stored_key))
    }

    /// The key the object for this request is (or would be) stored under: the variant
    /// key when a Vary mark is known, else the primary key.
    fn flight_key(&self, key: &RequestKey, headers: &HeaderMap) -> String {
        let names = match self.inner.memory.get(&key.primary) {
            Some(Slot::Vary(mark)) => Some(mark.names.clone()),
            Some(Slot::Object(_)) => None,
            None => self.inner.disk.as_ref().and_then(|d| d.mark(&key.primary)),
        };
        match names {
            Some(names) => key::variant_key(&key.primary, &names, headers).unwrap_or_else(|| key.primary.clone()),
            None => key.primary.clone(),
        }
    }

    /// The object stored under `stored_key`: memory, else disk (promoted to memory).
    async fn lookup(&self, rule: &CacheRule, stored_key: &str, since: u64) -> Option<Arc<Stored>> {
        if let Some(Slot::Object(obj)) = self.inner.memory.get(stored_key) {
            return Some(obj);
        }
        let disk = self.inner.disk.clone()?;
        if !disk.contains(stored_key) {
            return None;
        }
        let stored_key = stored_key.to_string();
        let mut obj = tokio::task::spawn_blocking(move || disk.load(&stored_key)).await.ok()??;
        if rule.compress {
            obj.gzip = gzip_form(obj.status, &obj.headers, &obj.body);
        }
        let obj = Arc::new(obj);
        self.remember(obj.clone(), since);
        Some(obj)
    }

    /// Puts an object in memory unless an invalidation since `since` covers it.
    fn remember(&self, obj: Arc<Stored>, since: u64) -> bool {
        let memory = &self.inner.memory;
        self.inner.log.store_unless_invalidated(since, &obj.host, &obj.path, || {
            if !obj.vary.is_empty() {
                let mark = VaryMark {
                    host: obj.host.clone(),
                    path: obj.path.clone(),
                    names: obj.vary.clone(),
                };
                memory.insert(obj.primary.clone(), Slot::Vary(Arc::new(mark)));
            }
            memory.insert(obj.key.clone(), Slot::Object(obj.clone()));
        })
    }

    /// Stores in memory and, in the background, on disk.
    fn store(&self, obj: Arc<Stored>, since: u64) {
        if !self.remember(obj.clone(), since) || obj.negative {
            return;
        }
        let Some(disk) = self.inner.disk.clone() else { return };
        let cache = self.clone();
        tokio::task::spawn_blocking(move || {
            let Some(pending) = disk.prepare(&obj) else { return };
            let mut pending = Some(pending);
            cache.inner.log.store_unless_invalidated(since, &obj.host, &obj.path, || {
                if let Some(p) = pending.take() {
                    disk.commit(p);
                }
            });
            if let Some(p) = pending {
                disk.discard(p);
            }
        });
    }

    /// Stale-while-revalidate: one background refresh per key.
    fn refresh_in_background<B, F, Fut>(&self, rule: &CacheRule, key: &RequestKey, obj: Arc<Stored>, headers: &HeaderMap, fetch: F)
    where
        B: Send + 'static,
        F: FnOnce(Revalidate) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Fetched<B>, OriginFailure>> + Send + 'static,
    {
        let Some(leader) = self.inner.flights.lead_if_idle(&obj.key) else {
            return;
        };
        let viewer = Viewer {
            method: Method::GET,
            headers: headers.clone(),
        };
        let task = self
            .clone()
            .settle(rule.clone(), key.clone(), viewer, Some(obj), fetch, Some(leader));
        tokio::spawn(async move {
            drop(task.await);
        });
    }

    /// Fetches from the origin and turns the answer into the viewer's response, telling
    /// the waiters (if leading) what they may serve.
    async fn settle<B, F, Fut>(
        self,
        rule: CacheRule,
        key: RequestKey,
        viewer: Viewer,
        stale: Option<Arc<Stored>>,
        fetch: F,
        leader: Option<Leader>,
    ) -> Served<B>
    where
        F: FnOnce(Revalidate) -> Fut,
        Fut: Future<Output = Result<Fetched<B>, OriginFailure>>,
    {
        let since = self.inner.log.current();
        let revalidate = stale.as_ref().and_then(|s| s.validators()).unwrap_or_default();
        let result = fetch(revalidate).await;
        let now = self.inner.clock.now_ms();
        let fallback = stale.clone().filter(|s| s.usable_on_error(now));
        let (answer, served) = match result {
            Err(failure) => match fallback {
                Some(s) => self.answer_with(s, Outcome::Stale, &rule, &viewer, now),
                None => {
                    tracing::debug!(reason = %failure.reason, "edge cache: origin failed, nothing stale");
                    (Answer::Failed(failure.clone()), bad_gateway(failure))
                }
            },
            Ok(Fetched::Passthrough(resp)) => match fallback {
                Some(s) if resp.status().is_server_error() => self.answer_with(s, Outcome::Stale, &rule, &viewer, now),
                _ => (Answer::Alone, passthrough(resp)),
            },
            Ok(Fetched::Full(resp)) => {
                let (parts, body) = resp.into_parts();
                match (stale, fallback) {
                    (Some(s), _) if parts.status == StatusCode::NOT_MODIFIED => {
                        let refreshed = self.refreshed(&rule, &s, &parts.headers, now, since);
                        self.answer_with(refreshed, Outcome::RefreshHit, &rule, &viewer, now)
                    }
                    (_, Some(s)) if parts.status.is_server_error() => self.answer_with(s, Outcome::Stale, &rule, &viewer, now),
                    _ => match self.admit(&rule, &key, &viewer.headers, &parts, body.clone(), now).await {
                        Some(obj) => {
                            self.store(obj.clone(), since);
                            self.answer_with(obj, Outcome::Miss, &rule, &viewer, now)
                        }
                        None => {
                            bump(&self.inner.counters.misses);
                            (
                                Answer::Alone,
                                Served::new(Response::from_parts(parts, ServedBody::Cached(body)), Outcome::Miss),
                            )
                        }
                    },
                }
            }
        };
        if let Some(leader) = leader {
            leader.finish(answer);
        }
        served
    }

    /// Serves `obj` to this viewer and shares it with the waiters.
    fn answer_with<B>(&self, obj: Arc<Stored>, outcome: Outcome, rule: &CacheRule, viewer: &Viewer, now: u64) -> (Answer, Served<B>) {
        self.count(outcome);
        let served = respond(&obj, rule, &viewer.method, &viewer.headers, now, outcome);
        (Answer::Object(obj, outcome), served)
    }

    fn count(&self, outcome: Outcome) {
        let c = &self.inner.counters;
        match outcome {
            Outcome::Hit => bump(&c.hits),
            Outcome::Stale => bump(&c.stale),
            Outcome::RefreshHit => bump(&c.refresh_hits),
            Outcome::Miss | Outcome::Bypass => bump(&c.misses),
        }
    }

    /// The stored object after a 304: new headers and lifetime, stored again.
    fn refreshed(&self, rule: &CacheRule, old: &Stored, not_modified: &HeaderMap, now: u64, since: u64) -> Arc<Stored> {
        let mut obj = old.refreshed(not_modified, old.life, now);
        match control::lifetime(rule, &obj.headers, self.inner.clock.now()) {
            Some(life) => {
                obj.life = life;
                let obj = Arc::new(obj);
                self.store(obj.clone(), since);
                obj
            }
            // The origin now says no-store: serve this once, drop the entry.
            None => {
                self.inner.memory.remove(&obj.key);
                if let Some(d) = &self.inner.disk {
                    d.remove(&obj.key);
                }
                Arc::new(obj)
            }
        }
    }

    /// The object to store for an origin response, or `None` when it must not be stored.
    async fn admit(
        &self,
        rule: &CacheRule,
        key: &RequestKey,
        viewer: &HeaderMap,
        parts: &response::Parts,
        body: Bytes,
        now: u64,
    ) -> Option<Arc<Stored>> {
        let config = &self.inner.config;
        let code = parts.status.as_u16();
        let negative = !CACHEABLE.contains(&code) && config.negative_statuses.contains(&code);
        let storable = (CACHEABLE.contains(&code) || negative)
            && body.len() as u64 <= config.max_object_bytes
            && !parts.headers.contains_key(CONTENT_RANGE)
            && (rule.cache_authenticated || !parts.headers.contains_key(SET_COOKIE));
        if !storable {
            return None;
        }
        let mut life = control::lifetime(rule, &parts.headers, self.inner.clock.now())?;
        if negative {
            life = Lifetime {
                ttl: config.negative_ttl,
                stale_while_revalidate: Default::default(),
                stale_if_error: Default::default(),
            };
        }
        let (stored_key, vary) = match key::parse_vary(&parts.headers) {
            Vary::Uncacheable => return None,
            Vary::None => (key.primary.clone(), Vec::new()),
            Vary::On(names) => (key::variant_key(&key.primary, &names, viewer)?, names),
        };
        let mut obj = Stored::new(
            stored_key,
            key.primary.clone(),
            key.host.clone(),
            key.path.clone(),
            vary,
            parts,
            body,
            now,
            life,
            negative,
        );
        if !negative && !obj.worth_keeping() {
            return None;
        }
        if rule.compress {
            obj.gzip = gzip_off_thread(obj.status, &obj.headers, &obj.body).await;
        }
        Some(Arc::new(obj))
    }
}

/// Gzip, on a blocking thread when the body is large.
async fn gzip_off_thread(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Option<Bytes> {
    if body.len() <= INLINE_GZIP_BYTES {
        return gzip_form(status, headers, body);
    }
    let (headers, body) = (headers.clone(), body.clone());
    tokio::task::spawn_blocking(move || gzip_form(status, &headers, &body)).await.ok()?
}

/// Does a collapsed answer fit this waiter's variant?
fn fits(obj: &Stored, key: &RequestKey, headers: &HeaderMap) -> bool {
    obj.primary == key.primary
        && (obj.vary.is_empty() || key::variant_key(&key.primary, &obj.vary, headers).as_deref() == Some(obj.key.as_str()))
}

/// A request the cache cannot key: straight to the origin.
async fn bypass<B, F, Fut>(fetch: F) -> Served<B>
where
    F: FnOnce(Revalidate) -> Fut,
    Fut: Future<Output = Result<Fetched<B>, OriginFailure>>,
{
    let mut served = match fetch(Revalidate::default()).await {
        Ok(Fetched::Full(resp)) => Served::new(resp.map(ServedBody::Cached), Outcome::Bypass),
        Ok(Fetched::Passthrough(resp)) => passthrough(resp),
        Err(failure) => bad_gateway(failure),
    };
    served.outcome = Outcome::Bypass;
    served
}

fn passthrough<B>(resp: Response<B>) -> Served<B> {
    Served::new(resp.map(ServedBody::Origin), Outcome::Miss)
}

/// The origin could not be reached and nothing stale may stand in.
fn bad_gateway<B>(failure: OriginFailure) -> Served<B> {
    let mut response = Response::new(ServedBody::Cached(Bytes::from_static(b"origin unavailable\n")));
    *response.status_mut() = failure.status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let mut served = Served::new(response, Outcome::Miss);
    served.failure = Some(failure);
    served
}
