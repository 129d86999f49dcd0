//! The request engine of `s3-load`: a keep-alive hyper client pool, signed
//! S3 PUT/GET requests, and the closed-loop workers (each worker keeps exactly
//! one request in flight, so `--concurrency` = requests in flight).

use crate::sigv4::{self, Signer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri, http::uri::Authority};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Everything shared by the workers of one run.
pub struct Target {
    http: Client<HttpConnector, Full<Bytes>>,
    authority: Authority,
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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        bucket: &str,
        size: usize,
        unsigned_payload: bool,
        concurrency: usize,
        timeout: Duration,
    ) -> Result<Self, String> {
        let uri: Uri = endpoint.parse().map_err(|e| format!("bad --endpoint {endpoint:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// endpoints are supported".into());
        }
        let authority = uri.authority().ok_or("endpoint has no host:port")?.clone();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(concurrency)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        // Deterministic, non-constant payload (some servers special-case zeros).
        let payload: Bytes = (0..size).map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8).collect::<Vec<u8>>().into();
        let payload_hash = if unsigned_payload {
            sigv4::UNSIGNED_PAYLOAD.to_owned()
        } else {
            sigv4::payload_hash(&payload)
        };
        let empty_hash = if unsigned_payload {
            sigv4::UNSIGNED_PAYLOAD.to_owned()
        } else {
            sigv4::payload_hash(b"")
        };
        Ok(Target {
            http,
            authority,
            bucket: bucket.to_owned(),
            signer: Signer::new(access_key, secret_key, region),
            payload,
            payload_hash,
            empty_hash,
            timeout,
            error_printed: AtomicBool::new(false),
        })
    }

    pub fn signer(&self) -> Signer {
        self.signer.clone()
    }

    pub fn size(&self) -> usize {
        self.payload.len()
    }

    /// Sends one signed request. `key = None` addresses the bucket itself.
    pub async fn send(&self, signer: &mut Signer, method: Method, key: Option<&str>) -> Outcome {
        let path = match key {
            Some(k) => sigv4::encode_path(&format!("/{}/{}", self.bucket, k)),
            None => sigv4::encode_path(&format!("/{}", self.bucket)),
        };
        let with_body = method == Method::PUT && key.is_some();
        let (body, hash) = if with_body {
            (self.payload.clone(), self.payload_hash.as_str())
        } else {
            (Bytes::new(), self.empty_hash.as_str())
        };
        let signed = signer.sign(method.as_str(), self.authority.as_str(), &path, hash);
        let uri = Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| e.to_string())?;
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", self.authority.as_str())
            .header("x-amz-date", signed.amz_date)
            .header("x-amz-content-sha256", hash)
            .header("authorization", signed.authorization)
            .header("content-length", body.len())
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.timeout, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(format!("request timed out after {:?}", self.timeout)),
        }
    }

    async fn exchange(&self, req: Request<Full<Bytes>>) -> Outcome {
        let resp = self.http.request(req).await.map_err(|e| format!("transport error: {e:?}"))?;
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

    /// Prints the first failure of the process to stderr (later ones are only counted).
    pub fn report_error(&self, what: &str, err: &str) {
        if !self.error_printed.swap(true, Ordering::Relaxed) {
            eprintln!("s3-load: first error ({what}): {err}");
        }
    }

    /// Creates the bucket; "already exists/owned" answers are fine.
    pub async fn create_bucket(&self) -> Result<(), String> {
        let mut signer = self.signer();
        match self.send(&mut signer, Method::PUT, None).await {
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
            let mut signer = target.signer();
            for idx in (w..keys).step_by(concurrency) {
                target.send(&mut signer, Method::PUT, Some(&key_name(&prefix, idx))).await?;
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
}

/// Closed loop for worker `w`: issue `plan.method` on keys `w, w+N, w+2N, ...
/// (mod keys)` until `plan.end`; only requests *started* in
/// `[measure_from, end)` are recorded.
pub async fn worker(target: Arc<Target>, plan: Arc<Plan>, w: usize) -> WorkerStats {
    let Plan { ref method, ref prefix, concurrency, keys, measure_from, end } = *plan;
    let mut stats = WorkerStats { latencies_us: Vec::with_capacity(1 << 14), ..Default::default() };
    let mut signer = target.signer();
    let is_get = *method == Method::GET;
    let mut i = 0usize;
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        let key = key_name(prefix, (w + i * concurrency) % keys);
        i += 1;
        let outcome = match target.send(&mut signer, method.clone(), Some(&key)).await {
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
