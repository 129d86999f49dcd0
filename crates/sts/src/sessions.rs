//! Roles and the callers behind temporary credentials. A session's rights are
//! looked up when it is used, never stored in its token: an assumed role
//! has the role's policy of the deployment's current `tandem.toml`,
//! narrowed by the session policy in the token; a GetSessionToken session
//! has its parent key's rights. Removing a role or the parent key revokes
//! its sessions at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tandem_iam::decide::ACCOUNT;
use tandem_iam::{Caller, Policy, WebIdentity};

use crate::token::{Claims, Minted, SessionKey, TokenError, WebClaims};

/// A role of `tandem.toml` that trusted keys may assume.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    /// What the role may do (always a policy: a role has no other rights).
    pub policy: Arc<Policy>,
    /// Access key ids or principals that may assume it (`*`: any signed key).
    pub trust: Vec<String>,
    /// Longest session, in seconds (900..=43200).
    pub max_session_secs: i64,
}

impl Role {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{}", self.name)
    }

    /// Whether the role's trust list names the caller.
    pub fn trusts(&self, caller: &Caller) -> bool {
        self.trust
            .iter()
            .any(|t| t == "*" || *t == caller.access_key_id || *t == caller.principal || *t == caller.arn)
    }
}

/// Sessions cached at most (then the cache starts over).
const MAX_CACHED: usize = 10_000;

/// The deployment's token key and roles, and a cache of resolved sessions.
pub struct Sessions {
    key: SessionKey,
    roles: HashMap<String, Role>,
    /// Condition keys a session policy may use.
    known_key: fn(&str) -> bool,
    cache: Mutex<HashMap<String, Arc<Caller>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("roles", &self.roles.len()).finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(key: SessionKey, roles: Vec<Role>, known_key: fn(&str) -> bool) -> Self {
        Self {
            key,
            roles: roles.into_iter().map(|r| (r.name.clone(), r)).collect(),
            known_key,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// The role an ARN (`arn:aws:iam::ACCOUNT:role/NAME`) names.
    pub fn role_by_arn(&self, arn: &str) -> Option<&Role> {
        let name = arn.strip_prefix("arn:aws:iam::")?.split_once(":role/")?.1;
        self.roles.get(name)
    }

    /// Parses a session policy as a session may carry it.
    pub fn parse_session_policy(&self, doc: &str) -> Result<Policy, String> {
        Policy::parse_identity(doc, &self.known_key)
    }

    /// The caller of temporary credentials: `token` presented with
    /// `access_key_id` at `now` (epoch seconds); `parent` finds a long-term key.
    pub fn caller(
        &self,
        access_key_id: &str,
        token: &str,
        now: i64,
        parent: impl Fn(&str) -> Option<Arc<Caller>>,
    ) -> Result<Arc<Caller>, TokenError> {
        let claims = self.key.verify(token, access_key_id, now)?;
        if let Some(hit) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(token) {
            return Ok(hit.clone());
        }
        // A web identity's session has no parent key: its rights are the role's.
        let parent = match &claims.web {
            Some(_) => None,
            None => Some(parent(&claims.parent).ok_or(TokenError::Invalid)?),
        };
        let caller = Arc::new(self.session_caller(&claims, parent.as_deref())?);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(token.to_string(), caller.clone());
        Ok(caller)
    }

    /// Mints the credentials of a Cognito identity: a session of `role`
    /// (the identity pool's authenticated role) for `secs` seconds.
    pub fn mint_web_identity(&self, role: &str, web: WebClaims, now: i64, secs: i64) -> Option<Minted> {
        let role = self.roles.get(role)?;
        Some(self.key.mint(Claims {
            v: 1,
            ak: String::new(),
            parent: web.pool.clone(),
            role: Some(role.name.clone()),
            name: "CognitoIdentityCredentials".into(),
            exp: now + secs,
            policy: None,
            web: Some(web),
        }))
    }

    fn session_caller(&self, claims: &Claims, parent: Option<&Caller>) -> Result<Caller, TokenError> {
        let session_policy = match &claims.policy {
            Some(doc) => Some(Arc::new(self.parse_session_policy(doc).map_err(|_| TokenError::Invalid)?)),
            None => None,
        };
        let caller = match &claims.role {
            Some(name) => {
                let role = self.roles.get(name).ok_or(TokenError::Invalid)?;
                Caller {
                    access_key_id: claims.ak.clone(),
                    principal: role.name.clone(),
                    arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/{}", role.name, claims.name),
                    userid: format!("{}:{}", role.name, claims.name),
                    admin: false,
                    policy: Some(role.policy.clone()),
                    session_policy,
                    temporary: true,
                    web_identity: claims.web.as_ref().map(|w| WebIdentity {
                        identity_id: w.id.clone(),
                        identity_pool: w.pool.clone(),
                    }),
                }
            }
            None => Caller {
                access_key_id: claims.ak.clone(),
                session_policy,
                temporary: true,
                ..parent.ok_or(TokenError::Invalid)?.clone()
            },
        };
        Ok(caller)
    }
}
