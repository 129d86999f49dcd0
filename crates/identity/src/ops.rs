//! The typed operations of the two Cognito APIs (user pools:
//! `AWSCognitoIdentityProviderService.*`; identity pools:
//! `AWSCognitoIdentityService.*`): each one's IAM action and whether it needs
//! a SigV4-signed request (the admin operations) or is public (sign-in and
//! the user's own operations, authenticated by the pool's tokens).

/// `X-Amz-Target` prefix of the user pool API.
pub const USER_POOL_TARGET: &str = "AWSCognitoIdentityProviderService.";
/// `X-Amz-Target` prefix of the identity pool API.
pub const IDENTITY_POOL_TARGET: &str = "AWSCognitoIdentityService.";

/// How a caller proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A SigV4 signature by a key allowed the IAM action.
    Signed,
    /// Nothing (an app client id, a password, a token in the body).
    Public,
}

/// One operation's row: IAM action, access, whether it writes.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    pub action: &'static str,
    pub access: Access,
    pub writes: bool,
}

const fn signed(action: &'static str, writes: bool) -> OpInfo {
    OpInfo {
        action,
        access: Access::Signed,
        writes,
    }
}

const fn public(action: &'static str, writes: bool) -> OpInfo {
    OpInfo {
        action,
        access: Access::Public,
        writes,
    }
}

tandem_iam::operations! {
    /// One user pool operation.
    pub enum UserPoolOp: OpInfo {
        AdminCreateUser => signed("cognito-idp:AdminCreateUser", true),
        AdminGetUser => signed("cognito-idp:AdminGetUser", false),
        ListUsers => signed("cognito-idp:ListUsers", false),
        AdminSetUserPassword => signed("cognito-idp:AdminSetUserPassword", true),
        AdminResetUserPassword => signed("cognito-idp:AdminResetUserPassword", true),
        AdminDisableUser => signed("cognito-idp:AdminDisableUser", true),
        AdminEnableUser => signed("cognito-idp:AdminEnableUser", true),
        AdminDeleteUser => signed("cognito-idp:AdminDeleteUser", true),
        AdminUpdateUserAttributes => signed("cognito-idp:AdminUpdateUserAttributes", true),
        AdminUserGlobalSignOut => signed("cognito-idp:AdminUserGlobalSignOut", true),
        AdminAddUserToGroup => signed("cognito-idp:AdminAddUserToGroup", true),
        AdminRemoveUserFromGroup => signed("cognito-idp:AdminRemoveUserFromGroup", true),
        AdminListGroupsForUser => signed("cognito-idp:AdminListGroupsForUser", false),
        AdminInitiateAuth => signed("cognito-idp:AdminInitiateAuth", false),
        AdminRespondToAuthChallenge => signed("cognito-idp:AdminRespondToAuthChallenge", true),
        DescribeUserPool => signed("cognito-idp:DescribeUserPool", false),
        ListUserPools => signed("cognito-idp:ListUserPools", false),
        DescribeUserPoolClient => signed("cognito-idp:DescribeUserPoolClient", false),
        ListUserPoolClients => signed("cognito-idp:ListUserPoolClients", false),
        InitiateAuth => public("cognito-idp:InitiateAuth", false),
        RespondToAuthChallenge => public("cognito-idp:RespondToAuthChallenge", true),
        GetTokensFromRefreshToken => public("cognito-idp:GetTokensFromRefreshToken", false),
        GetUser => public("cognito-idp:GetUser", false),
        ChangePassword => public("cognito-idp:ChangePassword", true),
        GlobalSignOut => public("cognito-idp:GlobalSignOut", true),
        RevokeToken => public("cognito-idp:RevokeToken", true),
        SignUp => public("cognito-idp:SignUp", true),
    }
}

tandem_iam::operations! {
    /// One identity pool operation (all public, as Amplify sends them).
    pub enum IdentityPoolOp: OpInfo {
        GetId => public("cognito-identity:GetId", false),
        GetCredentialsForIdentity => public("cognito-identity:GetCredentialsForIdentity", false),
        GetOpenIdToken => public("cognito-identity:GetOpenIdToken", false),
    }
}

impl UserPoolOp {
    /// The operation an `X-Amz-Target` names (`Unknown` for anything else).
    pub fn from_target(target: &str) -> Self {
        target.strip_prefix(USER_POOL_TARGET).map_or(Self::Unknown, Self::from_name)
    }
}

impl IdentityPoolOp {
    pub fn from_target(target: &str) -> Self {
        target.strip_prefix(IDENTITY_POOL_TARGET).map_or(Self::Unknown, Self::from_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_operation_is_signed_and_every_action_is_its_name() {
        for op in UserPoolOp::ALL {
            let info = op.info().unwrap();
            assert_eq!(info.action, format!("cognito-idp:{}", op.name()));
            assert_eq!(
                info.access == Access::Signed,
                op.name().starts_with("Admin") || op.name().contains("UserPool") || *op == UserPoolOp::ListUsers,
                "{op:?}"
            );
        }
        assert_eq!(
            UserPoolOp::from_target("AWSCognitoIdentityProviderService.InitiateAuth"),
            UserPoolOp::InitiateAuth
        );
        assert_eq!(
            UserPoolOp::from_target("AWSCognitoIdentityProviderService.Nope"),
            UserPoolOp::Unknown
        );
        assert_eq!(
            IdentityPoolOp::from_target("AWSCognitoIdentityService.GetId"),
            IdentityPoolOp::GetId
        );
    }
}
