//! The administrators' user pool operations (SigV4-signed, authorized by
//! `cognito-idp:*` actions on the pool's ARN): creating users with a
//! temporary password, reading and listing them, passwords, enabling,
//! disabling, deleting, attributes, groups and sign-out; and describing the
//! pools and app clients of `tandem.toml`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::error::{CognitoError, CognitoResult};
use crate::fields::{self, attribute_list, user_view};
use crate::record::{Stamp, UserRecord, UserStatus, users_prefix};
use crate::service::Identity;

/// Most users ListUsers returns in one page (Cognito's limit).
const MAX_LIST: usize = 60;
/// Records read from the store at a time while listing.
const PAGE: usize = 256;

fn exists_error() -> CognitoError {
    CognitoError::new("UsernameExistsException", "User account already exists")
}

impl Identity {
    /// The pool a request names, and the user it names in `Username`.
    fn pool_and_user<'a>(&'a self, req: &Value) -> CognitoResult<(&'a crate::config::UserPoolConfig, String)> {
        let pool = self.pool(fields::required(req, "UserPoolId", 55)?)?;
        Ok((pool, fields::username(req, "Username")?))
    }

    /// Applies `change` to an existing user (UserNotFoundException otherwise).
    async fn change_user<F>(&self, req: &Value, change: F) -> CognitoResult<UserRecord>
    where
        F: FnOnce(&mut UserRecord) -> CognitoResult<()> + Send + 'static,
    {
        let (pool, username) = self.pool_and_user(req)?;
        let pool = pool.id.clone();
        self.edit_user(&pool, &username, move |held, now| {
            let mut user = held.ok_or_else(CognitoError::user_not_found)?;
            change(&mut user)?;
            user.modified_ms = now;
            Ok(user)
        })
        .await
    }

    pub(crate) async fn admin_create_user(&self, req: &Value) -> CognitoResult<Value> {
        let (pool, username) = self.pool_and_user(req)?;
        if let Some(action) = fields::optional(req, "MessageAction", 16)?
            && action != "SUPPRESS"
            && action != "RESEND"
        {
            return Err(CognitoError::invalid("MessageAction must be SUPPRESS or RESEND"));
        }
        let temporary = match fields::optional(req, "TemporaryPassword", 256)? {
            Some(p) => {
                crate::password::check_policy(&pool.password_policy, p).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
                p.to_string()
            }
            None => crate::password::temporary(pool.password_policy.min_length),
        };
        let attributes: BTreeMap<String, String> = fields::attributes(req, "UserAttributes")?.into_iter().collect();
        if self.user(&pool.id, &username)?.is_some() {
            return Err(exists_error());
        }
        let expires = tandem_store::now_ms() + u64::from(pool.temporary_password_days) * 86_400_000;
        let secret = crate::password::secret(pool.srp_name(), &username, &temporary, Some(expires)).await;
        let name = username.clone();
        let user = self
            .edit_user(&pool.id.clone(), &username, move |held, now| {
                if held.is_some() {
                    return Err(exists_error());
                }
                Ok(UserRecord {
                    stamp: Stamp {
                        hlc: 0,
                        origin: String::new(),
                    },
                    username: name,
                    sub: crate::tokens::new_id(),
                    attributes,
                    status: UserStatus::ForceChangePassword,
                    enabled: true,
                    secret: Some(secret),
                    groups: BTreeSet::new(),
                    generation: 0,
                    created_ms: now,
                    modified_ms: now,
                    deleted: false,
                })
            })
            .await?;
        tracing::info!(pool = %pool.id, user = %user.username, "user created");
        Ok(json!({ "User": user_view(&user, "Attributes") }))
    }

    pub(crate) fn admin_get_user(&self, req: &Value) -> CognitoResult<Value> {
        let (pool, username) = self.pool_and_user(req)?;
        let user = self.user(&pool.id, &username)?.ok_or_else(CognitoError::user_not_found)?;
        Ok(user_view(&user, "UserAttributes"))
    }

    pub(crate) fn list_users(&self, req: &Value) -> CognitoResult<Value> {
        let pool = self.pool(fields::required(req, "UserPoolId", 55)?)?;
        let limit = match req.get("Limit") {
            None => MAX_LIST,
            Some(v) => match v.as_u64() {
                Some(n @ 0..=60) => n as usize,
                _ => return Err(CognitoError::invalid("Limit must be between 0 and 60")),
            },
        };
        let filter = fields::optional(req, "Filter", 256)?
            .map(crate::filter::Filter::parse)
            .transpose()?;
        let prefix = users_prefix(&pool.id);
        let mut after = fields::optional(req, "PaginationToken", 512)?.map(|t| format!("{prefix}{t}"));
        let read = self.inner.store.read()?;
        let mut users = Vec::new();
        // Scan pages until the page is full or the pool ends (filters skip users).
        'scan: loop {
            let page = read.identity_records(&prefix, after.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            for (key, raw) in page {
                let Ok(user) = serde_json::from_value::<UserRecord>(raw) else {
                    continue;
                };
                if user.deleted || filter.as_ref().is_some_and(|f| !f.matches(&user)) {
                    after = Some(key);
                    continue;
                }
                if users.len() == limit {
                    break 'scan;
                }
                users.push(user_view(&user, "Attributes"));
                after = Some(key);
            }
            if !full {
                after = None;
                break;
            }
        }
        let mut answer = json!({ "Users": users });
        if let Some(token) = after.as_deref().and_then(|a| a.strip_prefix(&prefix)) {
            answer["PaginationToken"] = json!(token);
        }
        Ok(answer)
    }

    pub(crate) async fn admin_set_user_password(&self, req: &Value) -> CognitoResult<Value> {
        let (pool, username) = self.pool_and_user(req)?;
        let password = fields::required(req, "Password", 256)?;
        crate::password::check_policy(&pool.password_policy, password).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        let permanent = req.get("Permanent").and_then(Value::as_bool).unwrap_or(false);
        self.user(&pool.id, &username)?.ok_or_else(CognitoError::user_not_found)?;
        let expires = (!permanent).then(|| tandem_store::now_ms() + u64::from(pool.temporary_password_days) * 86_400_000);
        let secret = crate::password::secret(pool.srp_name(), &username, password, expires).await;
        self.change_user(req, move |user| {
            user.secret = Some(secret);
            user.status = if permanent {
                UserStatus::Confirmed
            } else {
                UserStatus::ForceChangePassword
            };
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_reset_user_password(&self, req: &Value) -> CognitoResult<Value> {
        self.change_user(req, |user| {
            user.status = UserStatus::ResetRequired;
            user.generation += 1;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_set_enabled(&self, req: &Value, enabled: bool) -> CognitoResult<Value> {
        self.change_user(req, move |user| {
            if user.enabled && !enabled {
                // A disabled user's refresh tokens stop working at once.
                user.generation += 1;
            }
            user.enabled = enabled;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_delete_user(&self, req: &Value) -> CognitoResult<Value> {
        self.change_user(req, |user| {
            user.deleted = true;
            user.enabled = false;
            user.secret = None;
            user.attributes.clear();
            user.groups.clear();
            user.generation += 1;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_update_user_attributes(&self, req: &Value) -> CognitoResult<Value> {
        let attributes = fields::attributes(req, "UserAttributes")?;
        self.change_user(req, move |user| {
            if user.attributes.len() + attributes.len() > 50 {
                return Err(CognitoError::invalid("A user has at most 50 attributes"));
            }
            user.attributes.extend(attributes);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_user_global_sign_out(&self, req: &Value) -> CognitoResult<Value> {
        self.change_user(req, |user| {
            user.generation += 1;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_group_membership(&self, req: &Value, add: bool) -> CognitoResult<Value> {
        let (pool, _) = self.pool_and_user(req)?;
        let group = fields::required(req, "GroupName", 128)?.to_string();
        if !pool.groups.contains(&group) {
            return Err(CognitoError::not_found("Group not found."));
        }
        self.change_user(req, move |user| {
            match add {
                true => user.groups.insert(group),
                false => user.groups.remove(&group),
            };
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) fn admin_list_groups_for_user(&self, req: &Value) -> CognitoResult<Value> {
        let (pool, username) = self.pool_and_user(req)?;
        let user = self.user(&pool.id, &username)?.ok_or_else(CognitoError::user_not_found)?;
        let groups: Vec<Value> = user
            .groups
            .iter()
            .map(|g| json!({ "GroupName": g, "UserPoolId": pool.id }))
            .collect();
        Ok(json!({ "Groups": groups }))
    }

    pub(crate) fn describe_user_pool(&self, req: &Value) -> CognitoResult<Value> {
        let pool = self.pool(fields::required(req, "UserPoolId", 55)?)?;
        let p = &pool.password_policy;
        Ok(json!({ "UserPool": {
            "Id": pool.id,
            "Name": pool.name,
            "Arn": format!("arn:aws:cognito-idp:{}:{}:userpool/{}", self.inner.signing_region, tandem_iam::decide::ACCOUNT, pool.id),
            "Policies": { "PasswordPolicy": {
                "MinimumLength": p.min_length, "RequireUppercase": p.require_uppercase,
                "RequireLowercase": p.require_lowercase, "RequireNumbers": p.require_numbers,
                "RequireSymbols": p.require_symbols, "TemporaryPasswordValidityDays": pool.temporary_password_days,
            }},
            "AdminCreateUserConfig": { "AllowAdminCreateUserOnly": true },
            "MfaConfiguration": "OFF",
        }}))
    }

    pub(crate) fn list_user_pools(&self) -> Value {
        let mut pools: Vec<Value> = self
            .inner
            .config
            .user_pools
            .iter()
            .map(|p| json!({ "Id": p.id, "Name": p.name }))
            .collect();
        pools.sort_by(|a, b| a["Id"].as_str().cmp(&b["Id"].as_str()));
        json!({ "UserPools": pools })
    }

    fn client_view(pool: &crate::config::UserPoolConfig, client: &crate::config::ClientConfig) -> Value {
        json!({
            "UserPoolId": pool.id, "ClientId": client.id, "ClientName": client.name,
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "AccessTokenValidity": pool.token_minutes, "IdTokenValidity": pool.token_minutes,
            "RefreshTokenValidity": pool.refresh_days,
            "TokenValidityUnits": { "AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days" },
            "EnableTokenRevocation": true,
        })
    }

    pub(crate) fn describe_user_pool_client(&self, req: &Value) -> CognitoResult<Value> {
        let pool = self.pool(fields::required(req, "UserPoolId", 55)?)?;
        let id = fields::required(req, "ClientId", 128)?;
        let client = pool
            .clients
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| CognitoError::not_found(format!("User pool client {id} does not exist.")))?;
        Ok(json!({ "UserPoolClient": Self::client_view(pool, client) }))
    }

    pub(crate) fn list_user_pool_clients(&self, req: &Value) -> CognitoResult<Value> {
        let pool = self.pool(fields::required(req, "UserPoolId", 55)?)?;
        let clients: Vec<Value> = pool
            .clients
            .iter()
            .map(|c| json!({ "UserPoolId": pool.id, "ClientId": c.id, "ClientName": c.name }))
            .collect();
        Ok(json!({ "UserPoolClients": clients }))
    }

    /// A user's attributes as GetUser shows them.
    pub(crate) fn own_view(user: &UserRecord) -> Value {
        json!({ "Username": user.username, "UserAttributes": attribute_list(user) })
    }
}
