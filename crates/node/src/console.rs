//! The web console on a node, under `/_tandem/console`: its static files
//! (from `tandem-console`), signing in (`POST .../session`: an access key
//! and its secret, or temporary credentials from the identity service,
//! exchanged for a console session the page keeps in memory and sends in
//! the `x-tandem-console` header), and the data the page shows, under
//! `.../api/`:
//! - `GET overview`: regions and their health, apps with their state and
//!   write region, replication status;
//! - `GET series`: replication lag and backlog per peer over the last hour;
//! - `GET history`: recent state changes of every app (the audit trail);
//! - `GET drills`: the reports `tandem drill` left in this region;
//! - `POST state`: a guarded state change, refused by the same safety rule
//!   as `tandem state set` unless forced.
//!
//! Each data request is authorized as the operator who signed in, with the
//! control API's own operations (`tandem:ListApps`, `tandem:SetAppState`, ...).

use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use s3s::Body;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tandem_console::session::{self, Session};
use tandem_iam::{Caller, Context};

use crate::control_ops::ControlOp;
use crate::{Node, ReqBody};

/// Largest sign-in or state-change body.
const MAX_BODY: usize = 16 * 1024;
/// State changes the console's history shows.
const HISTORY_SHOWN: usize = 50;
/// Drill reports the console shows.
const DRILLS_SHOWN: usize = 20;
/// How long a region's `/health` may take to answer the overview.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Whether a path is the console's.
pub(crate) fn is_console(path: &str) -> bool {
    path == tandem_console::PATH || path.starts_with("/_tandem/console/")
}

/// A JSON answer that no cache keeps.
fn answer(status: StatusCode, body: Value) -> Response<Body> {
    let mut resp = crate::apps::answer(status, body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    answer(status, json!({ "error": code, "message": message.into() }))
}

/// A refused request: status, error code, message.
struct Failure(StatusCode, &'static str, String);

impl Failure {
    fn response(self) -> Response<Body> {
        error(self.0, self.1, self.2)
    }
}

/// The sign-in body: a key and its secret, with the session token of
/// temporary credentials.
#[derive(Deserialize)]
struct SignIn {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    session_token: Option<String>,
}

/// The state-change body.
#[derive(Deserialize)]
struct StateChange {
    app: String,
    state: String,
    #[serde(default)]
    reason: String,
    /// Set anyway, past the safety rule (the CLI's `--force`).
    #[serde(default)]
    force: bool,
}

/// The operator behind a console data request.
struct Operator {
    caller: Arc<Caller>,
    context: Context,
    access_key_id: String,
    remote_addr: String,
}

/// A small JSON body of the shape `T` (described by `shape` in the refusal).
async fn json_body<T: serde::de::DeserializeOwned>(body: ReqBody, shape: &str) -> Result<T, Failure> {
    let invalid = |why: String| Failure(StatusCode::BAD_REQUEST, "InvalidRequest", why);
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|_| invalid(format!("the body must be JSON of at most {MAX_BODY} bytes")))?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(format!("the body must be {shape}: {e}")))
}

impl Node {
    /// Serves everything under `/_tandem/console`.
    pub(crate) async fn console(&self, req: Request<ReqBody>) -> Response<Body> {
        let path = req.uri().path().to_string();
        if let Some(file) = tandem_console::assets::response(req.method(), &path) {
            return file.map(Body::from);
        }
        let rest = path.strip_prefix(tandem_console::PATH).unwrap_or_default();
        match (req.method().clone(), rest) {
            (Method::POST, "/session") => self.console_sign_in(req).await,
            (_, api) if api.starts_with("/api/") => match self.console_operator(&req) {
                Ok(operator) => self.console_api(req, &api["/api/".len()..], operator).await,
                Err(f) => f.response(),
            },
            (Method::GET | Method::HEAD, _) => error(StatusCode::NOT_FOUND, "NotFound", format!("the console has no {path}")),
            (method, _) => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} {path} is not a console request"),
            ),
        }
    }

    /// Checks a key's secret (or temporary credentials) and answers with a
    /// console session; a key that may not read the deployment is refused.
    async fn console_sign_in(&self, req: Request<ReqBody>) -> Response<Body> {
        let source = req
            .extensions()
            .get::<tandem_iam::SourceAddr>()
            .map(|s| s.0.to_string())
            .unwrap_or_default();
        let sign_in: SignIn = match json_body(req.into_body(), "{\"access_key_id\", \"secret_access_key\", \"session_token\"?}").await {
            Ok(s) => s,
            Err(f) => return f.response(),
        };
        let principals = &self.inner.principals;
        let Some(sessions) = principals.sessions() else {
            return error(
                StatusCode::NOT_IMPLEMENTED,
                "ConsoleUnavailable",
                "the console signs its sessions with the deployment's session key: set [sts] signing_key in tandem.toml",
            );
        };
        let refused = || {
            tracing::warn!(access_key_id = %sign_in.access_key_id, %source, "console sign-in refused");
            error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "the access key id, its secret or its session token is wrong",
            )
        };
        let secret_matches = principals
            .secret_of(&sign_in.access_key_id)
            .is_some_and(|secret| bool::from(secret.as_bytes().ct_eq(sign_in.secret_access_key.as_bytes())));
        if !secret_matches {
            return refused();
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let Ok(caller) = principals.resolve(&sign_in.access_key_id, sign_in.session_token.as_deref(), now) else {
            return refused();
        };
        // A token sent with a long-term key is a mistake, not something to ignore.
        if !caller.temporary && sign_in.session_token.is_some() {
            return refused();
        }
        let context = tandem_iam::keys::global_context(Some(&caller), None, false, time::OffsetDateTime::now_utc());
        let op = ControlOp::ListApps;
        if let Err(why) = op.authorize(&caller, &op.resource(&self.inner.region, None), &context) {
            return error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!("this key may not use the console: {why}"),
            );
        }
        // The console session stands for what signed in: the key itself, or
        // the very session of the temporary credentials (no longer than it lasts).
        let claims = match &sign_in.session_token {
            Some(token) => match sessions.key().verify(token, &sign_in.access_key_id, now) {
                Ok(claims) => claims,
                Err(_) => return refused(),
            },
            None => tandem_sts::token::Claims {
                v: 1,
                ak: String::new(),
                parent: sign_in.access_key_id.clone(),
                role: None,
                name: "console".into(),
                exp: now + session::SESSION_SECS,
                policy: None,
                web: None,
            },
        };
        let exp = claims.exp.min(now + session::SESSION_SECS);
        let minted = sessions
            .key()
            .mint_as(tandem_sts::token::TokenKind::Console, tandem_sts::token::Claims { exp, ..claims });
        let session = Session {
            access_key_id: minted.access_key_id,
            session_token: minted.session_token,
        };
        tracing::info!(principal = %caller.principal, access_key_id = %sign_in.access_key_id, "console sign-in");
        answer(
            StatusCode::OK,
            json!({
                "signed_in": true,
                "principal": caller.principal,
                "expires_in": exp - now,
                "session": session.header_value(),
            }),
        )
    }

    /// The signed-in operator of a data request: the console session in
    /// its header (nothing else stands for one).
    fn console_operator(&self, req: &Request<ReqBody>) -> Result<Operator, Failure> {
        let signed_out = || Failure(StatusCode::UNAUTHORIZED, "SignInRequired", "sign in to the console first".into());
        let session = Session::of_request(req.headers()).ok_or_else(signed_out)?;
        let now = time::OffsetDateTime::now_utc();
        let principals = &self.inner.principals;
        let caller = principals
            .console_caller(&session.access_key_id, &session.session_token, now.unix_timestamp())
            .map_err(|_| signed_out())?;
        // The audit names the key (or identity pool) that signed in.
        let signed_in_with = principals
            .sessions()
            .and_then(|s| {
                s.key()
                    .verify_as(
                        tandem_sts::token::TokenKind::Console,
                        &session.session_token,
                        &session.access_key_id,
                        now.unix_timestamp(),
                    )
                    .ok()
            })
            .map_or(session.access_key_id.clone(), |claims| claims.parent);
        let source = req.extensions().get::<tandem_iam::SourceAddr>().map(|s| s.0);
        let context = tandem_iam::keys::global_context(Some(&caller), source.map(|s| s.ip()), false, now);
        Ok(Operator {
            caller,
            context,
            access_key_id: signed_in_with,
            remote_addr: source.map(|s| s.to_string()).unwrap_or_default(),
        })
    }

    async fn console_api(&self, req: Request<ReqBody>, api: &str, operator: Operator) -> Response<Body> {
        let (op, app) = match (req.method().clone(), api) {
            (Method::GET, "overview") => (ControlOp::ListApps, None),
            (Method::GET, "series") => (ControlOp::ReplicationStatus, None),
            (Method::GET, "history") => (ControlOp::GetAppHistory, None),
            (Method::GET, "drills") => (ControlOp::ListDrills, None),
            (Method::POST, "state") => return self.console_set_state(req, operator).await,
            // The edge answers this one with its cache figures; a node has none.
            (Method::GET, "edge") => return answer(StatusCode::OK, json!({ "edge": false })),
            (method, _) => return error(StatusCode::NOT_FOUND, "NotFound", format!("the console has no {method} api/{api}")),
        };
        if let Err(why) = op.authorize(&operator.caller, &op.resource(&self.inner.region, app), &operator.context) {
            return error(StatusCode::FORBIDDEN, "AccessDenied", why);
        }
        let data = match api {
            "overview" => self.console_overview(&operator).await,
            "series" => Ok(json!({ "region": self.inner.region, "series": self.inner.series.to_json() })),
            "history" => self.console_history(),
            _ => self
                .inner
                .store
                .read()
                .and_then(|r| r.drills(DRILLS_SHOWN))
                .map(|drills| json!({ "region": self.inner.region, "drills": drills }))
                .map_err(|e| e.to_string()),
        };
        match data {
            Ok(data) => answer(StatusCode::OK, data),
            Err(e) => {
                tracing::error!(error = %e, api, "console data unavailable");
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    format!("this region could not answer: {e}"),
                )
            }
        }
    }

    /// Regions with their health, apps with their states, replication.
    async fn console_overview(&self, operator: &Operator) -> Result<Value, String> {
        let inner = &self.inner;
        let probes = inner.control.region_urls().iter().map(|(name, url)| async move {
            let health = match name == &inner.region {
                true => match inner.store.check_health() {
                    Ok(()) => tandem_control::safety::Health::Ok,
                    Err(e) => tandem_control::safety::Health::Unhealthy(e.to_string()),
                },
                false => tandem_control::watch::probe(url, PROBE_TIMEOUT).await,
            };
            let (status, detail) = match health {
                tandem_control::safety::Health::Ok => ("ok", String::new()),
                tandem_control::safety::Health::Unhealthy(d) => ("unhealthy", d),
                tandem_control::safety::Health::Unreachable(d) => ("unreachable", d),
            };
            json!({ "name": name, "url": url, "status": status, "detail": detail })
        });
        let regions = futures::future::join_all(probes).await;
        let apps = inner.control.list().map_err(|e| e.to_string())?;
        let replication = inner.replication.clone();
        let status = tokio::task::spawn_blocking(move || replication.status())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(json!({
            "region": inner.region,
            "signed_in": { "principal": operator.caller.principal, "arn": operator.caller.arn },
            "regions": regions,
            "apps": apps["apps"],
            "replication": status,
        }))
    }

    /// The newest state changes of every app, newest first.
    fn console_history(&self) -> Result<Value, String> {
        let control = &self.inner.control;
        let mut records = Vec::new();
        for app in control.apps() {
            records.extend(control.history(&app.id, HISTORY_SHOWN).map_err(|e| e.to_string())?);
        }
        records.sort_by(|a, b| b.changed_ms.cmp(&a.changed_ms).then(b.seq.cmp(&a.seq)));
        records.truncate(HISTORY_SHOWN);
        Ok(json!({ "region": self.inner.region, "history": records }))
    }

    /// A state change from the console: authorized as `tandem:SetAppState`
    /// on the app, then refused by the safety rule unless forced.
    async fn console_set_state(&self, req: Request<ReqBody>, operator: Operator) -> Response<Body> {
        let change: StateChange = match json_body(req.into_body(), "{\"app\", \"state\", \"reason\"?, \"force\"?}").await {
            Ok(c) => c,
            Err(f) => return f.response(),
        };
        let op = ControlOp::SetAppState;
        if let Err(why) = op.authorize(
            &operator.caller,
            &op.resource(&self.inner.region, Some(&change.app)),
            &operator.context,
        ) {
            return error(StatusCode::FORBIDDEN, "AccessDenied", why);
        }
        let Some(state) = tandem_control::AppState::parse(&change.state) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "state must be one of active, fenced, failover",
            );
        };
        let control = &self.inner.control;
        if !change.force {
            match control.safety_refusal(&change.app, state).await {
                Ok(None) => {}
                Ok(Some(why)) => {
                    return answer(
                        StatusCode::CONFLICT,
                        json!({
                            "error": "RefusedBySafetyRule",
                            "message": format!("{why}; nothing was changed"),
                            "fix": format!("Use `tandem failover {} --planned` to move writes without losing any, or tick force to change it anyway", change.app),
                        }),
                    );
                }
                Err(e) => return crate::apps::control_error(e),
            }
        }
        let reason = match change.reason.trim() {
            "" => "set in the console",
            reason => reason,
        };
        let actor = tandem_control::Actor {
            principal: operator.caller.principal.clone(),
            access_key_id: operator.access_key_id,
            remote_addr: operator.remote_addr,
        };
        tracing::info!(app = %change.app, state = state.as_str(), principal = %actor.principal, force = change.force, "state change from the console");
        match control.set(&change.app, state, &actor, reason).await {
            Ok(changed) => match control.view(&change.app) {
                Ok(mut view) => {
                    view["Seq"] = json!(changed.seq);
                    answer(StatusCode::OK, view)
                }
                Err(e) => crate::apps::control_error(e),
            },
            Err(e) => crate::apps::control_error(e),
        }
    }
}
