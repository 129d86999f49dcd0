//! The operator CLI's client for the control API of region nodes, and for
//! their Cognito user pool API: SigV4-signed requests (with a user access
//! key, like any S3 request) that return JSON.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

use crate::config::{Config, RegionConfig};

/// A signed-request client for every region of a config.
pub struct ControlClient {
    /// Plain HTTP or TLS by the URL's scheme.
    http: Client<tandem_https::Connector, Full<Bytes>>,
    access_key_id: String,
    secret: String,
    /// How long one request may take, connect to last body byte.
    timeout: Duration,
}

/// Where a request goes and which region it is signed for: a region, or
/// any other URL that takes the deployment's signatures (an edge).
pub struct Endpoint {
    pub name: String,
    pub url: String,
    pub signing_region: String,
}

impl Endpoint {
    pub fn region(region: &RegionConfig) -> Self {
        Self {
            name: region.name.clone(),
            url: region.url(),
            signing_region: region.signing_region(),
        }
    }
}

/// A successful answer with its headers.
pub struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One request to sign and send: what goes to which path, for which SigV4 service.
struct Outgoing<'a> {
    method: Method,
    path_and_query: &'a str,
    body: Bytes,
    service: &'a str,
    headers: &'a [(&'a str, &'a str)],
}

impl<'a> Outgoing<'a> {
    /// A request of the S3 (and control) API, with no extra headers.
    fn s3(method: Method, path_and_query: &'a str, body: Bytes) -> Self {
        Self {
            method,
            path_and_query,
            body,
            service: "s3",
            headers: &[],
        }
    }
}

/// What a control request can end in.
#[derive(Debug)]
pub enum CallError {
    /// The region could not be reached.
    Unreachable(String),
    /// The region answered with an error (status, S3 error code, message).
    Refused { status: u16, code: String, message: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(e) => write!(f, "unreachable: {e}"),
            CallError::Refused { status, code, message } => write!(f, "{code} ({status}): {message}"),
        }
    }
}

/// The text between `<tag>` and `</tag>` of an S3 XML error.
fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    xml.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default()
}

impl ControlClient {
    /// Signs with `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` when set, else
    /// with the config's first access key.
    pub fn new(config: &Config) -> Result<Self, String> {
        Self::trusting(config, &[])
    }

    /// [`ControlClient::new`] whose https:// endpoints must present a
    /// certificate of `ca_files` (none: the webpki roots).
    pub fn trusting(config: &Config, ca_files: &[std::path::PathBuf]) -> Result<Self, String> {
        let (access_key_id, secret) = match (std::env::var("AWS_ACCESS_KEY_ID"), std::env::var("AWS_SECRET_ACCESS_KEY")) {
            (Ok(id), Ok(secret)) => (id, secret),
            _ => {
                let key = config
                    .access_keys
                    .first()
                    .ok_or("no access key: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or add [[access_keys]] to tandem.toml")?;
                (key.access_key_id.clone(), key.secret_access_key.clone())
            }
        };
        let connector = tandem_https::connector(tandem_https::client_config(ca_files)?, Duration::from_secs(3));
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            access_key_id,
            secret,
            timeout: Duration::from_secs(30),
        })
    }

    /// The same client with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An S3 request (signed for `s3`, with its payload hash) to any endpoint.
    pub async fn s3_at(&self, to: &Endpoint, method: Method, path_and_query: &str, body: Bytes) -> Result<Answer, CallError> {
        self.exchange(to, Outgoing::s3(method, path_and_query, body)).await
    }

    /// One DynamoDB operation (`X-Amz-Target DynamoDB_20120810.OP`) to any endpoint.
    pub async fn dynamodb_at(&self, to: &Endpoint, op: &str, body: &Value) -> Result<Answer, CallError> {
        let target = format!("DynamoDB_20120810.{op}");
        let headers = [("x-amz-target", target.as_str()), ("content-type", "application/x-amz-json-1.0")];
        let call = Outgoing {
            method: Method::POST,
            path_and_query: "/",
            body: Bytes::from(body.to_string()),
            service: "dynamodb",
            headers: &headers,
        };
        self.exchange(to, call).await
    }

    /// Sends a signed request to a region and parses its JSON answer.
    pub async fn call(&self, region: &RegionConfig, method: Method, path_and_query: &str) -> Result<Value, CallError> {
        self.call_with(region, method, path_and_query, None).await
    }

    /// [`ControlClient::call`] with a JSON body.
    pub async fn call_with(
        &self,
        region: &RegionConfig,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let body = Bytes::from(body.map(Value::to_string).unwrap_or_default());
        self.send(region, Outgoing::s3(method, path_and_query, body)).await
    }

    /// One operation of the Cognito user pool API (`X-Amz-Target`
    /// `AWSCognitoIdentityProviderService.OP`), signed for `cognito-idp`.
    pub async fn cognito(&self, region: &RegionConfig, op: &str, body: &Value) -> Result<Value, CallError> {
        let target = format!("{}{op}", tandem_identity::ops::USER_POOL_TARGET);
        let headers = [("x-amz-target", target.as_str()), ("content-type", "application/x-amz-json-1.1")];
        let body = Bytes::from(body.to_string());
        let call = Outgoing {
            method: Method::POST,
            path_and_query: "/",
            body,
            service: "cognito-idp",
            headers: &headers,
        };
        self.send(region, call).await
    }

    /// PUT of one object (a site file), signed for `s3` with its payload hash.
    pub async fn put_object(
        &self,
        region: &RegionConfig,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), CallError> {
        let path = format!("/{bucket}/{}", tandem_sigv4::uri_encode_path(key));
        let call = Outgoing {
            method: Method::PUT,
            path_and_query: &path,
            body,
            service: "s3",
            headers: &[("content-type", content_type)],
        };
        self.send_raw(region, call).await.map(drop)
    }

    /// Signs and sends a request, and parses its JSON answer.
    async fn send(&self, region: &RegionConfig, call: Outgoing<'_>) -> Result<Value, CallError> {
        let answer = self.send_raw(region, call).await?;
        serde_json::from_slice(&answer)
            .map_err(|e| CallError::Unreachable(format!("{} ({}): answer is not JSON: {e}", region.name, region.url())))
    }

    /// Signs and sends a request and returns its body, or its error (the
    /// control API's `{error, message}`, Cognito's `{__type, message}` or
    /// S3's XML).
    async fn send_raw(&self, region: &RegionConfig, call: Outgoing<'_>) -> Result<Bytes, CallError> {
        self.exchange(&Endpoint::region(region), call).await.map(|a| a.body)
    }

    /// Signs and sends a request to an endpoint; its answer, or its error.
    async fn exchange(&self, to: &Endpoint, call: Outgoing<'_>) -> Result<Answer, CallError> {
        let Outgoing {
            method,
            path_and_query,
            body,
            service,
            headers: extra,
        } = call;
        let unreachable = |e: &dyn std::fmt::Display| CallError::Unreachable(format!("{} ({}): {e}", to.name, to.url));
        let uri: Uri = format!("{}{path_and_query}", to.url.trim_end_matches('/'))
            .parse()
            .map_err(|e| unreachable(&e))?;
        let mut headers = HeaderMap::new();
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        headers.insert(http::header::HOST, HeaderValue::from_str(&host).map_err(|e| unreachable(&e))?);
        for (name, value) in extra {
            let name = http::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| unreachable(&e))?;
            headers.insert(name, HeaderValue::from_str(value).map_err(|e| unreachable(&e))?);
        }
        tandem_sigv4::sign(
            &method,
            &uri,
            &mut headers,
            &body,
            &self.access_key_id,
            &self.secret,
            &to.signing_region,
            service,
            time::OffsetDateTime::now_utc(),
        );
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| unreachable(&e))?;
        *request.headers_mut() = headers;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| unreachable(&e))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| unreachable(&e))?.to_bytes();
            Ok::<_, CallError>((parts.status, parts.headers, body))
        };
        let (status, headers, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(&format!("no answer within {:.1} s", self.timeout.as_secs_f64())))??;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let (code, message) = match serde_json::from_slice::<Value>(&body) {
                Ok(v) => (
                    v["error"].as_str().or(v["__type"].as_str()).unwrap_or_default().to_string(),
                    v["message"].as_str().unwrap_or_default().to_string(),
                ),
                Err(_) => (xml_field(&text, "Code"), xml_field(&text, "Message")),
            };
            return Err(CallError::Refused {
                status: status.as_u16(),
                code,
                message,
            });
        }
        Ok(Answer { headers, body })
    }

    /// `GET /health` (unauthenticated, but signing does no harm).
    pub async fn health(&self, region: &RegionConfig) -> Result<Value, CallError> {
        self.call(region, Method::GET, "/health").await
    }
}

/// `name=value` with the value percent-encoded for a query string.
pub fn query_pair(name: &str, value: &str) -> String {
    format!("{name}={}", form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>())
}
