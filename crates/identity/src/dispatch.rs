//! Which handler serves each user pool operation.

use serde_json::{Value, json};

use crate::error::{CognitoError, CognitoResult};
use crate::ops::UserPoolOp as Op;
use crate::service::Identity;

pub(crate) async fn user_pool(id: &Identity, op: Op, req: &Value) -> CognitoResult<Value> {
    match op {
        Op::AdminCreateUser => id.admin_create_user(req).await,
        Op::AdminGetUser => id.admin_get_user(req),
        Op::ListUsers => id.list_users(req),
        Op::AdminSetUserPassword => id.admin_set_user_password(req).await,
        Op::AdminResetUserPassword => id.admin_reset_user_password(req).await,
        Op::AdminDisableUser => id.admin_set_enabled(req, false).await,
        Op::AdminEnableUser => id.admin_set_enabled(req, true).await,
        Op::AdminDeleteUser => id.admin_delete_user(req).await,
        Op::AdminUpdateUserAttributes => id.admin_update_user_attributes(req).await,
        Op::AdminUserGlobalSignOut => id.admin_user_global_sign_out(req).await,
        Op::AdminAddUserToGroup => id.admin_group_membership(req, true).await,
        Op::AdminRemoveUserFromGroup => id.admin_group_membership(req, false).await,
        Op::AdminListGroupsForUser => id.admin_list_groups_for_user(req),
        Op::AdminInitiateAuth => id.initiate_auth(req, true).await,
        Op::AdminRespondToAuthChallenge => id.respond_to_auth_challenge(req, true).await,
        Op::DescribeUserPool => id.describe_user_pool(req),
        Op::ListUserPools => Ok(id.list_user_pools()),
        Op::DescribeUserPoolClient => id.describe_user_pool_client(req),
        Op::ListUserPoolClients => id.list_user_pool_clients(req),
        Op::InitiateAuth => id.initiate_auth(req, false).await,
        Op::RespondToAuthChallenge => id.respond_to_auth_challenge(req, false).await,
        Op::GetTokensFromRefreshToken => id.get_tokens_from_refresh_token(req),
        Op::GetUser => id.get_user(req).await,
        Op::ChangePassword => id.change_password(req).await,
        Op::GlobalSignOut => id.global_sign_out(req).await,
        Op::RevokeToken => id.revoke_token(req).await,
        Op::SignUp => Err(CognitoError::not_authorized("SignUp is not permitted for this user pool")),
        Op::Unknown => Ok(json!({})),
    }
}
