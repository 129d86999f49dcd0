//! Access-control lists: canned ACLs and grant headers turned into grants, grants
//! turned into S3's `AccessControlPolicy`, and the question "does this list give
//! this requester that permission".

use s3s::dto;
use s3s::{S3Result, s3_error};
use tandem_store::{Grant, Grantee};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

pub const READ: &str = "READ";
pub const WRITE: &str = "WRITE";
pub const READ_ACP: &str = "READ_ACP";
pub const WRITE_ACP: &str = "WRITE_ACP";
pub const FULL_CONTROL: &str = "FULL_CONTROL";

fn grant(grantee: Grantee, permission: &str) -> Grant {
    Grant {
        grantee,
        permission: permission.to_string(),
    }
}

/// Grants of a canned ACL (`x-amz-acl`), beyond the owner's full control.
pub fn canned(acl: &str, bucket_owner: &str) -> S3Result<Vec<Grant>> {
    Ok(match acl {
        "private" | "log-delivery-write" => vec![],
        "public-read" => vec![grant(Grantee::AllUsers, READ)],
        "public-read-write" => vec![grant(Grantee::AllUsers, READ), grant(Grantee::AllUsers, WRITE)],
        "authenticated-read" => vec![grant(Grantee::AuthenticatedUsers, READ)],
        "bucket-owner-read" => vec![grant(Grantee::User(bucket_owner.into()), READ)],
        "bucket-owner-full-control" => vec![grant(Grantee::User(bucket_owner.into()), FULL_CONTROL)],
        other => return Err(s3_error!(InvalidArgument, "Unknown canned ACL: {other}")),
    })
}

/// Grants from `x-amz-grant-*` headers: `uri="..."`, `id="..."` lists.
pub fn from_grant_headers(headers: &[(&str, Option<&String>)]) -> S3Result<Vec<Grant>> {
    let mut out = Vec::new();
    for (permission, value) in headers {
        let Some(value) = value else { continue };
        for item in value.split(',') {
            let (kind, who) = item
                .trim()
                .split_once('=')
                .ok_or_else(|| s3_error!(InvalidArgument, "Malformed grant header: {item}"))?;
            let who = who.trim().trim_matches('"');
            let grantee = match kind.trim() {
                "uri" => group(who)?,
                "id" => Grantee::User(who.to_string()),
                "emailAddress" => return Err(unresolvable_email()),
                other => return Err(s3_error!(InvalidArgument, "Unknown grantee type: {other}")),
            };
            out.push(grant(grantee, permission));
        }
    }
    Ok(out)
}

/// tandem knows no e-mail addresses, so a grant to one never resolves.
fn unresolvable_email() -> s3s::S3Error {
    s3_error!(
        UnresolvableGrantByEmailAddress,
        "The e-mail address you provided does not match any account on record."
    )
}

/// Refuses a grant to a canonical user id no access key acts as (nor the
/// `owner`'s), as S3 does. Every way of asking for grants (Put*Acl, the
/// `x-amz-grant-*` headers of CreateBucket, PutObject, CopyObject and
/// CreateMultipartUpload) passes its grants here before anything is written.
pub fn check_grantees(grants: &[Grant], owner: &str, principals: &crate::Principals) -> S3Result<()> {
    for g in grants {
        if let Grantee::User(id) = &g.grantee
            && id != owner
            && !principals.knows(id)
        {
            return Err(s3_error!(InvalidArgument, "Invalid id"));
        }
    }
    Ok(())
}

fn group(uri: &str) -> S3Result<Grantee> {
    match uri {
        ALL_USERS => Ok(Grantee::AllUsers),
        AUTHENTICATED_USERS => Ok(Grantee::AuthenticatedUsers),
        other => Err(s3_error!(InvalidArgument, "Unsupported grantee group: {other}")),
    }
}

/// Grants from an `AccessControlPolicy` body.
pub fn from_policy(policy: &dto::AccessControlPolicy) -> S3Result<Vec<Grant>> {
    let mut out = Vec::new();
    for g in policy.grants.iter().flatten() {
        let permission = g
            .permission
            .as_ref()
            .ok_or_else(|| s3_error!(MalformedACLError, "A grant is missing its Permission"))?;
        let grantee = g
            .grantee
            .as_ref()
            .ok_or_else(|| s3_error!(MalformedACLError, "A grant is missing its Grantee"))?;
        let who = match (&grantee.uri, &grantee.id, &grantee.email_address) {
            (Some(uri), _, _) => group(uri)?,
            (None, Some(id), _) => Grantee::User(id.clone()),
            (None, None, Some(_)) => return Err(unresolvable_email()),
            _ => return Err(s3_error!(MalformedACLError, "A grantee needs an ID or a URI")),
        };
        out.push(grant(who, permission.as_str()));
    }
    Ok(out)
}

pub fn owner_dto(owner: &str) -> dto::Owner {
    dto::Owner {
        display_name: Some(owner.to_string()),
        id: Some(owner.to_string()),
    }
}

/// The full ACL as S3 returns it: the owner's full control, then the grants.
pub fn to_policy(owner: &str, grants: &[Grant]) -> (Option<dto::Owner>, Option<dto::Grants>) {
    let mut list = vec![dto::Grant {
        grantee: Some(user_grantee(owner)),
        permission: Some(dto::Permission::from(FULL_CONTROL.to_string())),
    }];
    for g in grants {
        let grantee = match &g.grantee {
            Grantee::User(id) => user_grantee(id),
            Grantee::AllUsers => group_grantee(ALL_USERS),
            Grantee::AuthenticatedUsers => group_grantee(AUTHENTICATED_USERS),
        };
        list.push(dto::Grant {
            grantee: Some(grantee),
            permission: Some(dto::Permission::from(g.permission.clone())),
        });
    }
    (Some(owner_dto(owner)), Some(list))
}

fn user_grantee(id: &str) -> dto::Grantee {
    dto::Grantee {
        display_name: Some(id.to_string()),
        email_address: None,
        id: Some(id.to_string()),
        type_: dto::Type::from(dto::Type::CANONICAL_USER.to_string()),
        uri: None,
    }
}

fn group_grantee(uri: &str) -> dto::Grantee {
    dto::Grantee {
        display_name: None,
        email_address: None,
        id: None,
        type_: dto::Type::from(dto::Type::GROUP.to_string()),
        uri: Some(uri.to_string()),
    }
}

/// Whether `grants` give `principal` (`None` = anonymous) the permission.
pub fn grants_permit(grants: &[Grant], principal: Option<&str>, permission: &str) -> bool {
    grants.iter().any(|g| {
        let who = match &g.grantee {
            Grantee::AllUsers => true,
            Grantee::AuthenticatedUsers => principal.is_some(),
            Grantee::User(id) => principal == Some(id.as_str()),
        };
        who && (g.permission == permission || g.permission == FULL_CONTROL)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_read_lets_anonymous_read_but_not_write() {
        let g = canned("public-read", "o").unwrap();
        assert!(grants_permit(&g, None, READ));
        assert!(!grants_permit(&g, None, WRITE));
    }

    #[test]
    fn authenticated_read_needs_a_signature() {
        let g = canned("authenticated-read", "o").unwrap();
        assert!(!grants_permit(&g, None, READ));
        assert!(grants_permit(&g, Some("bob"), READ));
    }

    #[test]
    fn grant_headers_parse_groups_and_users() {
        let v = format!("uri=\"{ALL_USERS}\", id=\"bob\"");
        let g = from_grant_headers(&[(READ, Some(&v))]).unwrap();
        assert_eq!(g.len(), 2);
        assert!(grants_permit(&g, Some("bob"), READ));
        assert!(grants_permit(&g, None, READ));
    }
}
