//! The request engine of `s3-load`: signed S3 PUT/GET requests over
//! keep-alive HTTP/1.1 connections, and the closed-loop workers. Each worker
//! owns one persistent connection (reconnecting only if the server closes it)
//! and keeps exactly one request in flight, so `--concurrency` = connections =
//! requests in flight. A dedicated connection per worker is what a pooled
//! client converges to under closed-loop load, minus the pool bookkeeping.
//! With a [`Pacer`] (`--rate`) the workers instead take request start times
//! from one shared schedule, so the offered load is a fixed rate as long as
//! fewer than `concurrency` requests are outstanding.

use crate::sigv4::{self, Signer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Everything shared by the workers of one run.
pub struct Target {
    addr: SocketAddr,
    /// `host:port`, sent as the (signed) Host header.
    host: String,
    pub bucket: String,
    signer: Signer,
    /// Body sent by every PUT (the same bytes each time; only keys differ).
    payload: Bytes,
    /// `x-amz-content-sha256` for `payload`, computed once.
    payload_hash: String,
    empty_hash: String,
    timeout: Duration,
    error_printed: AtomicBool,
}

/// Outcome of one request: `Ok(bytes received)` for 2xx, otherwise a
/// description of the failure (status + body, or transport error).
pub type Outcome = Result<usize, String>;

impl Target {
    pub fn new(
        endpoint: &str,
        (access_key, secret_key, region): (&str, &str, &str),
        bucket: &str,
        size: usize,
        unsigned_payload: bool,
        timeout: Duration,
    ) -> Result<Self, String> {
        let uri: Uri = endpoint.parse().map_err(|e| format!("bad --endpoint {endpoint:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// endpoints are supported".into());
        }
        let host = uri.authority().ok_or("endpoint has no host:port")?.as_str().to_owned();
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&host)
            .map_err(|e| format!("resolving {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to nothing"))?;
        // Deterministic, non-constant payload (some servers special-case zeros).
        let payload: Bytes = (0..size).map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8).collect::<Vec<u8>>().into();
        let hash = |body: &[u8]| {
            if unsigned_payload {
                sigv4::UNSIGNED_PAYLOAD.to_owned()
            } else {
                sigv4::payload_hash(body)
            }
        };
        Ok(Target {
            addr,
            host,
            bucket: bucket.to_owned(),
            signer: Signer::new(access_key, secret_key, region),
            payload_hash: hash(&payload),
            empty_hash: hash(b""),
            payload,
            timeout,
            error_printed: AtomicBool::new(false),
        })
    }

    pub fn size(&self) -> usize {
        self.payload.len()
    }

    /// A new client session (own signer cache, connection opened lazily).
    pub fn session(self: &Arc<Self>) -> Session {
        Session {
            target: self.clone(),
            signer: self.signer.clone(),
            conn: None,
        }
    }

    /// Prints the first failure of the process to stderr (later ones are only counted).
    pub fn report_error(&self, what: &str, err: &str) {
        if !self.error_printed.swap(true, Ordering::Relaxed) {
            eprintln!("s3-load: first error ({what}): {err}");
        }
    }
}

/// One client "user": a signer and one keep-alive connection.
pub struct Session {
    target: Arc<Target>,
    signer: Signer,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl Session {
    async fn connection(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if let Some(c) = &mut self.conn
            && c.ready().await.is_ok()
        {
            return Ok(self.conn.as_mut().unwrap());
        }
        self.conn = None;
        let stream = TcpStream::connect(self.target.addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(self.conn.insert(sender))
    }

    /// Sends one signed request. `key = None` addresses the bucket itself.
    pub async fn send(&mut self, method: Method, key: Option<&str>) -> Outcome {
        let t = self.target.clone();
        let path = match key {
            Some(k) => sigv4::encode_path(&format!("/{}/{}", t.bucket, k)),
            None => sigv4::encode_path(&format!("/{}", t.bucket)),
        };
        let with_body = method == Method::PUT && key.is_some();
        let (body, hash) = if with_body {
            (t.payload.clone(), t.payload_hash.as_str())
        } else {
            (Bytes::new(), t.empty_hash.as_str())
        };
        let signed = self.signer.sign(method.as_str(), &t.host, &path, hash);
        let req = Request::builder()
            .method(method)
            .uri(path) // origin-form: the connection is already to the endpoint
            .header("host", t.host.as_str())
            .header("x-amz-date", signed.amz_date)
            .header("x-amz-content-sha256", hash)
            .header("authorization", signed.authorization)
            .header("content-length", body.len())
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let outcome = match tokio::time::timeout(t.timeout, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(format!("request timed out after {:?}", t.timeout)),
        };
        if outcome.is_err() {
            self.conn = None; // never reuse a connection in an unknown state
        }
        outcome
    }

    async fn exchange(&mut self, req: Request<Full<Bytes>>) -> Outcome {
        let conn = self.connection().await?;
        let resp = conn.send_request(req).await.map_err(|e| format!("transport error: {e}"))?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
        }
        // Drain (and count) the body without concatenating it.
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("body error: {e}"))?;
            if let Some(d) = frame.data_ref() {
                n += d.len();
            }
        }
        Ok(n)
    }

    /// Creates the bucket; "already exists/owned" answers are fine.
    pub async fn create_bucket(&mut self) -> Result<(), String> {
        match self.send(Method::PUT, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.starts_with(&format!("HTTP {}", StatusCode::CONFLICT)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

pub fn key_name(prefix: &str, idx: usize) -> String {
    format!("{prefix}{idx:08}")
}

/// Uploads objects `prefix00000000 .. prefix{keys-1}` with `concurrency` workers.
pub async fn populate(target: Arc<Target>, prefix: String, keys: usize, concurrency: usize) -> Result<(), String> {
    let prefix = Arc::new(prefix);
    let mut tasks = Vec::new();
    for w in 0..concurrency.min(keys) {
        let (target, prefix) = (target.clone(), prefix.clone());
        tasks.push(tokio::spawn(async move {
            let mut session = target.session();
            for idx in (w..keys).step_by(concurrency) {
                session.send(Method::PUT, Some(&key_name(&prefix, idx))).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Per-worker results for the measured window.
#[derive(Default)]
pub struct WorkerStats {
    /// Latencies (µs) of successful requests.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    /// When this worker's last measured request completed.
    pub last_done: Option<Instant>,
}

/// Paces requests to a target rate across all workers: slot *n* of the run
/// is due at `start + n / rate`, and each request claims the next slot and
/// waits for it. A worker that is late (its previous request was slow) sends
/// at once, so slots missed while the server stalls are caught up and the
/// average offered rate stays at the target ("open loop" within the limit of
/// `concurrency` requests in flight).
pub struct Pacer {
    start: Instant,
    interval_ns: f64,
    next_slot: AtomicU64,
}

impl Pacer {
    pub fn new(start: Instant, rate_per_sec: f64) -> Self {
        Pacer {
            start,
            interval_ns: 1e9 / rate_per_sec,
            next_slot: AtomicU64::new(0),
        }
    }

    /// Claims the next slot and sleeps until it is due (or until `end`).
    async fn wait_turn(&self, end: Instant) {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let due = self.start + Duration::from_nanos((slot as f64 * self.interval_ns) as u64);
        tokio::time::sleep_until(due.min(end)).await;
    }
}

/// What the workers of the measured phase do.
pub struct Plan {
    pub method: Method,
    /// Key prefix; keys are `prefix` + 8-digit index.
    pub prefix: String,
    pub concurrency: usize,
    pub keys: usize,
    /// Requests started before this are warm-up and not recorded.
    pub measure_from: Instant,
    /// No request is started at or after this.
    pub end: Instant,
    /// Rate limit shared by all workers (`None` = closed loop, as fast as possible).
    pub pacer: Option<Pacer>,
}

/// Closed loop for worker `w` of N: GET keys `w, w+N, w+2N, ... (mod keys)`
/// or PUT (overwrite) keys of the worker's own slice, until `plan.end`; only
/// requests *started* in `[measure_from, end)` are recorded. With a pacer,
/// each request first waits for its slot of the shared schedule.
pub async fn worker(target: Arc<Target>, plan: Arc<Plan>, w: usize) -> WorkerStats {
    let Plan {
        ref method,
        ref prefix,
        concurrency,
        keys,
        measure_from,
        end,
        ref pacer,
    } = *plan;
    let mut stats = WorkerStats {
        latencies_us: Vec::with_capacity(1 << 14),
        ..Default::default()
    };
    let mut session = target.session();
    let is_get = *method == Method::GET;
    let mut i = 0usize;
    loop {
        if let Some(p) = pacer {
            p.wait_turn(end).await;
        }
        let start = Instant::now();
        if start >= end {
            break;
        }
        let idx = if is_get {
            (w + i * concurrency) % keys
        } else {
            // PUT: each worker overwrites its own slice of the key space, so
            // no two requests ever race on one key (some servers fail then).
            let per_worker = (keys / concurrency).max(1);
            w * per_worker + i % per_worker
        };
        let key = key_name(prefix, idx);
        i += 1;
        let outcome = match session.send(method.clone(), Some(&key)).await {
            Ok(n) if is_get && n != target.size() => Err(format!("got {n} body bytes, expected {}", target.size())),
            other => other,
        };
        let done = Instant::now();
        if let Err(e) = &outcome {
            target.report_error(&format!("{method} {key}"), e);
        }
        if start < measure_from {
            continue; // warm-up
        }
        stats.last_done = Some(done);
        match outcome {
            Ok(_) => stats.latencies_us.push((done - start).as_micros().min(u32::MAX as u128) as u32),
            Err(_) => stats.errors += 1,
        }
    }
    stats
}
