//! The operator side of `tandem edge invalidate`: one signed POST to one
//! edge node, over HTTP or HTTPS (tandem-https's connector). HTTPS trusts the
//! certificates of the config's distributions (the same files the edge
//! serves, self-signed in `tandem dev`), not the public roots: edge nodes are
//! the operator's own.

use std::path::PathBuf;
use std::time::Duration;

use http::{Request, Uri};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::body::{EdgeBody, full};
use crate::sign::EdgeKey;

/// Longest wait for one node.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends `body` as an admin-signed POST to `url` + `path`; the status and answer text.
pub async fn post(url: &str, path: &str, body: String, key: &EdgeKey, certs: &[PathBuf]) -> Result<(u16, String), String> {
    let base: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let authority = base.authority().ok_or_else(|| format!("{url} has no host"))?.clone();
    let scheme = base.scheme_str().unwrap_or("http");
    let uri: Uri = format!("{scheme}://{authority}{path}")
        .parse()
        .map_err(|e| format!("{path}: {e}"))?;
    let mut req = Request::post(uri.clone()).body(full(body.clone())).map_err(|e| e.to_string())?;
    let headers = req.headers_mut();
    headers.insert(http::header::HOST, authority.as_str().parse().map_err(|e| format!("{e}"))?);
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    tandem_sigv4::sign(
        &http::Method::POST,
        &uri,
        headers,
        body.as_bytes(),
        &key.access_key_id,
        &key.secret_access_key,
        "us-east-1",
        "s3",
        time::OffsetDateTime::now_utc(),
    );
    // An https:// node has distributions with TLS, so `certs` is never empty there.
    let tls = tandem_https::client_config(certs)?;
    let client: Client<tandem_https::Connector, EdgeBody> =
        Client::builder(TokioExecutor::new()).build(tandem_https::connector(tls, TIMEOUT));
    tokio::time::timeout(TIMEOUT, send(&client, req))
        .await
        .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
}

async fn send(client: &Client<tandem_https::Connector, EdgeBody>, req: Request<EdgeBody>) -> Result<(u16, String), String> {
    let resp = client.request(req).await.map_err(|e| tandem_https::reason(&e))?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
