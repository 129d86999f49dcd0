//! Roles and the callers behind temporary credentials. A session's rights are
//! looked up when it is used, never stored in its token: an assumed role
//! has the role's policy of the deployment's current `tandem.toml`,
//! narrowed by the session policy in the token; a GetSessionToken session
//! has its parent key's rights; a Cognito identity's session (an identity
//! pool's credentials) has its pool's role's. Removing a role, the parent
//! key or the identity pool revokes its sessions at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tandem_iam::decide::ACCOUNT;
use tandem_iam::{Caller, Policy, WebIdentity};

use crate::token::{Claims, Minted, SessionKey, TokenError, TokenKind, WebClaims};

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
    /// The role of each identity pool: what a web identity's session may be.
    web_roles: HashMap<String, String>,
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
            web_roles: HashMap::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Accepts sessions of Cognito identities: `(identity pool, role)` pairs.
    /// A session whose pool is gone, or now names another role, is refused.
    pub fn with_web_identities(mut self, pools: impl IntoIterator<Item = (String, String)>) -> Self {
        self.web_roles = pools.into_iter().collect();
        self
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
        self.caller_as(TokenKind::Sts, access_key_id, token, now, parent)
    }

    /// [`Sessions::caller`] of a token of `kind`.
    pub fn caller_as(
        &self,
        kind: TokenKind,
        access_key_id: &str,
        token: &str,
        now: i64,
        parent: impl Fn(&str) -> Option<Arc<Caller>>,
    ) -> Result<Arc<Caller>, TokenError> {
        let claims = self.key.verify_as(kind, token, access_key_id, now)?;
        if let Some(hit) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(token) {
            return Ok(hit.clone());
        }
        // A web identity's session has no parent key: its identity pool
        // must still exist and still name the role.
        let parent = match &claims.web {
            Some(_) if self.web_roles.get(&claims.parent) != claims.role.as_ref() => return Err(TokenError::Invalid),
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
    /// (the identity pool's authenticated role) for `secs` seconds, or the
    /// role's longest session if shorter.
    pub fn mint_web_identity(&self, role: &str, web: WebClaims, now: i64, secs: i64) -> Option<Minted> {
        let role = self.roles.get(role)?;
        let secs = secs.min(role.max_session_secs);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(web: &[(&str, &str)]) -> Sessions {
        let policy = Policy::parse_identity(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            &|_| true,
        )
        .unwrap();
        let role = Role {
            name: "app-user".into(),
            policy: Arc::new(policy),
            trust: Vec::new(),
            max_session_secs: 900,
        };
        Sessions::new(SessionKey::new(b"shared"), vec![role], |_| true)
            .with_web_identities(web.iter().map(|(p, r)| (p.to_string(), r.to_string())))
    }

    #[test]
    fn a_web_identity_session_lives_as_long_as_its_pool_names_its_role() {
        let web = WebClaims {
            id: "us-east-1:abc".into(),
            pool: "us-east-1:app".into(),
        };
        let minted = sessions(&[("us-east-1:app", "app-user")])
            .mint_web_identity("app-user", web, 1_000, 3_600)
            .unwrap();
        assert_eq!(minted.claims.exp, 1_900, "no longer than the role's longest session");
        let no_parent = |_: &str| None;
        let caller = sessions(&[("us-east-1:app", "app-user")])
            .caller(&minted.access_key_id, &minted.session_token, 1_500, no_parent)
            .unwrap();
        assert_eq!(caller.web_identity.as_ref().unwrap().identity_id, "us-east-1:abc");
        assert!(!caller.admin && caller.temporary);
        for gone in [vec![], vec![("us-east-1:app", "other-role")]] {
            let refused = sessions(&gone).caller(&minted.access_key_id, &minted.session_token, 1_500, no_parent);
            assert_eq!(refused.unwrap_err(), TokenError::Invalid);
        }
    }
}
