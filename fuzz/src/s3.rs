//! The S3 stack of a node in process: s3s (routing, SigV2/SigV4 checks, XML
//! bodies) over `tandem_s3::S3Api` with tandem's auth, access control, host
//! parsing and name validation, on a scratch store that is replaced every few
//! thousand inputs so it does not grow without bound. Requests can be sent
//! as they are or signed here (SigV2 header or query form, SigV4 header form).

use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::BodyExt;
use s3s::service::{S3Service, S3ServiceBuilder};
use tandem_s3::{AccessKey, Principals, S3Api};
use tandem_store::Store;
use time::OffsetDateTime;

use crate::runtime::block_on;
use crate::sigv2;

pub const ACCESS_KEY: &str = "FUZZACCESSKEY";
pub const SECRET: &str = "fuzz-secret-key-0123456789";
pub const REGION: &str = "us-east-1";
/// A bucket (with one object, `k`) that exists in every scratch store.
pub const BUCKET: &str = "fuzz";
const HOST: &str = "127.0.0.1:9000";
/// `<bucket>.s3.fuzz.local` is virtual-host style.
const DOMAIN: &str = "s3.fuzz.local";

thread_local! {
    static DOMAINS: tandem_node::host::BucketDomains = tandem_node::host::BucketDomains::new([DOMAIN.to_string()]);
}
/// Inputs served by one scratch store before it is replaced.
const STORE_LIFETIME: usize = 5000;

/// How a request is authenticated.
#[derive(Clone, Copy, Debug)]
pub enum Signing {
    /// As sent (whatever Authorization or query the input holds).
    AsIs,
    V2Header,
    V2Query,
    V4Header,
}

impl Signing {
    pub fn from_selector(b: u8) -> Self {
        match b % 4 {
            0 => Signing::AsIs,
            1 => Signing::V2Header,
            2 => Signing::V2Query,
            _ => Signing::V4Header,
        }
    }
}

/// One request as a target builds it.
pub struct S3Input {
    pub method: Method,
    /// Path and query, as in the request line.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub signing: Signing,
}

/// What came back.
pub struct S3Output {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

struct Scratch {
    _dir: tempfile::TempDir,
    service: S3Service,
    served: usize,
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    match shm.is_dir() {
        true => tempfile::tempdir_in(shm),
        false => tempfile::tempdir(),
    }
    .expect("a scratch directory")
}

fn new_scratch() -> Scratch {
    let dir = scratch_dir();
    let store = Store::open(dir.path(), "us-east").expect("a scratch store");
    let principals = Principals::new([AccessKey {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET.into(),
        principal: "fuzzer".into(),
        admin: false,
        policy: None,
    }]);
    let api = S3Api::new(store, principals.clone());
    let mut builder = S3ServiceBuilder::new(api.clone());
    builder.set_auth(principals);
    builder.set_access(api.access_control());
    builder.set_host(tandem_node::host::BucketDomains::new([DOMAIN.to_string()]));
    builder.set_validation(tandem_node::http::ControlAwareValidation);
    let scratch = Scratch {
        _dir: dir,
        service: builder.build(),
        served: 0,
    };
    for (method, target, body) in [
        (Method::PUT, format!("/{BUCKET}"), &b""[..]),
        (Method::PUT, format!("/{BUCKET}/k"), b"hello"),
    ] {
        let out = scratch.serve(S3Input {
            method,
            target,
            headers: HeaderMap::new(),
            body: body.to_vec(),
            signing: Signing::V4Header,
        });
        assert_eq!(out.status, 200, "setting up the scratch store failed: {:?}", out.body);
    }
    scratch
}

/// Serves one request on the shared scratch store.
pub fn serve(input: S3Input) -> S3Output {
    static SCRATCH: Mutex<Option<Scratch>> = Mutex::new(None);
    let mut guard = SCRATCH.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if guard.as_ref().is_none_or(|s| s.served >= STORE_LIFETIME) {
        *guard = None;
        *guard = Some(new_scratch());
    }
    let scratch = guard.as_mut().expect("just set");
    scratch.served += 1;
    scratch.serve(input)
}

impl Scratch {
    fn serve(&self, input: S3Input) -> S3Output {
        let S3Input {
            method,
            target,
            mut headers,
            body,
            signing,
        } = input;
        if !headers.contains_key(http::header::HOST) {
            headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        }
        // What hyper sees for a buffered body.
        if !body.is_empty() && !headers.contains_key(http::header::CONTENT_LENGTH) {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let target = sign(&method, &target, &mut headers, &body, signing);
        let Ok(uri) = target.parse::<Uri>() else {
            return S3Output {
                status: 400,
                headers: HeaderMap::new(),
                body: Bytes::new(),
            };
        };
        let mut req = Request::new(s3s::Body::from(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(tandem_s3::OpSlot::default());
        block_on(async {
            match self.service.call(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    S3Output {
                        status: parts.status.as_u16(),
                        headers: parts.headers,
                        body,
                    }
                }
                // The node answers these 500 InternalError.
                Err(e) => S3Output {
                    status: 500,
                    headers: HeaderMap::new(),
                    body: Bytes::from(format!("{e:?}")),
                },
            }
        })
    }
}

/// Signs the request as asked; returns the (possibly extended) request target.
fn sign(method: &Method, target: &str, headers: &mut HeaderMap, body: &[u8], signing: Signing) -> String {
    let now = OffsetDateTime::now_utc();
    let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
    // SigV2 names a virtual-host bucket in the resource it signs.
    let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let path = match DOMAINS.with(|d| d.bucket_of(host)) {
        Some(bucket) => format!("/{bucket}{raw_path}"),
        None => raw_path.to_string(),
    };
    let path = path.as_str();
    match signing {
        Signing::AsIs => target.to_string(),
        Signing::V2Header => {
            if !headers.contains_key("date") && !headers.contains_key("x-amz-date") {
                let date = now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
                if let Ok(v) = HeaderValue::from_str(&date) {
                    headers.insert(http::header::DATE, v);
                }
            }
            let date = match headers.contains_key("x-amz-date") {
                true => String::new(),
                false => headers.get("date").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
            };
            let to_sign = sigv2::string_to_sign(method, path, query, headers, &date);
            let auth = format!("AWS {ACCESS_KEY}:{}", sigv2::signature(SECRET, &to_sign));
            if let Ok(v) = HeaderValue::from_str(&auth) {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            target.to_string()
        }
        Signing::V2Query => {
            let expires = (now.unix_timestamp() + 600).to_string();
            let to_sign = sigv2::string_to_sign(method, path, query, headers, &expires);
            let sig = sigv2::query_encode(&sigv2::signature(SECRET, &to_sign));
            let sep = if query.is_empty() { "" } else { "&" };
            format!("{raw_path}?{query}{sep}AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={sig}")
        }
        Signing::V4Header => {
            if let Ok(uri) = target.parse::<Uri>() {
                tandem_sigv4::sign(method, &uri, headers, body, ACCESS_KEY, SECRET, REGION, "s3", now);
            }
            target.to_string()
        }
    }
}

/// Headers from `name: value` lines; lines that are not valid headers are skipped.
pub fn parse_headers(text: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim())) {
            headers.append(n, v);
        }
    }
    headers
}
