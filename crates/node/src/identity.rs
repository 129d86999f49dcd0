//! The Cognito APIs on the node's port: user pools
//! (`X-Amz-Target: AWSCognitoIdentityProviderService.*`) and identity pools
//! (`AWSCognitoIdentityService.*`), JSON 1.1 with errors in `__type` form,
//! and each pool's public JWKS and OpenID configuration under
//! `/{userPoolId}/.well-known/`. A request that carries a SigV4 signature is
//! verified (service `cognito-idp`) and runs as its signer; the sign-in
//! operations are public, as Cognito's are.

use http_body_util::{BodyExt, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response};
use s3s::Body;
use tandem_identity::{CognitoError, CognitoResult, Identity, IdentityPoolOp, Urls, UserPoolOp};

use crate::dynamo::{allow_cors, json_answer};
use crate::json_auth::{Failure, Refusal};
use crate::{Node, NodeConfig, ReqBody};

/// Largest request body (the largest Cognito request, 50 attributes, fits).
const MAX_BODY: usize = 64 * 1024;
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Builds the node's identity service; tokens name this region's URL as issuer.
pub(crate) fn open(
    config: &NodeConfig,
    store: tandem_store::Store,
    region_urls: &std::collections::BTreeMap<String, String>,
) -> Result<Identity, String> {
    let own = region_urls
        .get(&config.region)
        .cloned()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let urls = Urls {
        own,
        all: region_urls.values().cloned().collect(),
    };
    Identity::new(store, config.identity.clone(), &config.region, &config.signing_region, urls)
}

/// Which of the two Cognito APIs a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CognitoApi {
    /// `AWSCognitoIdentityProviderService.*`
    UserPool,
    /// `AWSCognitoIdentityService.*`
    IdentityPool,
}

impl CognitoApi {
    /// The API a POST's `X-Amz-Target` names, if it is one of them.
    pub fn of(method: &Method, target: Option<&str>) -> Option<Self> {
        let target = target.filter(|_| method == Method::POST)?;
        if target.starts_with(tandem_identity::ops::USER_POOL_TARGET) {
            Some(Self::UserPool)
        } else if target.starts_with(tandem_identity::ops::IDENTITY_POOL_TARGET) {
            Some(Self::IdentityPool)
        } else {
            None
        }
    }

    /// The `api` label of its metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::UserPool => "cognito-idp",
            Self::IdentityPool => "cognito-identity",
        }
    }
}

/// The request body, at most [`MAX_BODY`] bytes.
async fn read_body(body: ReqBody) -> CognitoResult<bytes::Bytes> {
    Ok(Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            CognitoError::new(
                "SerializationException",
                format!("The request body could not be read (at most 64 KiB): {e}"),
            )
        })?
        .to_bytes())
}

/// The answer to a Cognito request, with CORS headers for a browser.
fn answer(result: CognitoResult<serde_json::Value>, cors: bool) -> Response<Body> {
    let mut resp = match result {
        Ok(v) => json_answer(200, v.to_string(), CONTENT_TYPE),
        Err(e) => error_answer(&e),
    };
    if cors {
        allow_cors(resp.headers_mut());
    }
    resp
}

/// The pool and document of `GET /{pool}/.well-known/{jwks.json|openid-configuration}`.
fn well_known(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (pool, doc) = rest.split_once("/.well-known/")?;
    (!pool.contains('/') && (doc == "jwks.json" || doc == "openid-configuration")).then_some((pool, doc))
}

/// Cognito's error for a signed request that was not authenticated.
fn refused(r: Refusal) -> CognitoError {
    let code = match r.failure {
        Failure::Missing => "MissingAuthenticationTokenException",
        Failure::UnknownKey => "UnrecognizedClientException",
        Failure::BadSignature => "InvalidSignatureException",
        Failure::Expired => "ExpiredTokenException",
    };
    CognitoError::new(code, r.message)
}

fn error_answer(e: &CognitoError) -> Response<Body> {
    let mut resp = json_answer(e.status(), e.body(), CONTENT_TYPE);
    if let Ok(v) = HeaderValue::from_str(e.code) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

impl Node {
    /// Answers a pool's JWKS or OpenID configuration (`None`: not such a request).
    pub(crate) fn identity_document<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        if req.method() != Method::GET {
            return None;
        }
        let (pool, doc) = well_known(req.uri().path())?;
        let identity = &self.inner.identity;
        let body = match doc {
            "jwks.json" => identity.jwks(pool)?,
            _ => identity.openid_configuration(pool)?,
        };
        let mut resp = json_answer(200, body.to_string(), "application/json");
        allow_cors(resp.headers_mut());
        Some(resp)
    }

    /// Serves one Cognito request; returns the response and its operation's metrics label.
    pub(crate) async fn cognito(&self, req: Request<ReqBody>, api: CognitoApi, target: &str) -> (Response<Body>, &'static str) {
        match api {
            CognitoApi::UserPool => self.user_pool(req, target).await,
            CognitoApi::IdentityPool => self.identity_pool(req, target).await,
        }
    }

    /// Serves one user pool request; returns the response and its metrics label.
    async fn user_pool(&self, req: Request<ReqBody>, target: &str) -> (Response<Body>, &'static str) {
        let op = UserPoolOp::from_target(target);
        let cors = req.headers().contains_key(header::ORIGIN);
        let result = async {
            let (parts, body) = req.into_parts();
            let bytes = read_body(body).await?;
            if !parts.headers.contains_key(header::AUTHORIZATION) {
                return self.inner.identity.user_pool(op, &bytes, None).await;
            }
            let (caller, context) =
                crate::json_auth::authenticate(&self.inner.principals, &parts, &bytes, "cognito-idp", &self.inner.signing_region)
                    .map_err(refused)?;
            self.inner.identity.user_pool(op, &bytes, Some((&caller, &context))).await
        }
        .await;
        (answer(result, cors), op.name())
    }

    /// Serves one identity pool request (unsigned: the logins in the body are
    /// the credential); returns the response and its metrics label.
    async fn identity_pool(&self, req: Request<ReqBody>, target: &str) -> (Response<Body>, &'static str) {
        let op = IdentityPoolOp::from_target(target);
        let cors = req.headers().contains_key(header::ORIGIN);
        let result = async {
            let bytes = read_body(req.into_body()).await?;
            let sessions = self.inner.principals.sessions();
            self.inner.identity.identity_pool(op, &bytes, sessions).await
        }
        .await;
        (answer(result, cors), op.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_paths_name_one_pool_and_one_document() {
        assert_eq!(well_known("/us-east-1_p/.well-known/jwks.json"), Some(("us-east-1_p", "jwks.json")));
        assert_eq!(
            well_known("/p/.well-known/openid-configuration"),
            Some(("p", "openid-configuration"))
        );
        assert_eq!(well_known("/a/b/.well-known/jwks.json"), None);
        assert_eq!(well_known("/p/.well-known/other"), None);
    }
}
