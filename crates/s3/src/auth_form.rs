//! Which authentication form a request uses, read the way s3s reads it
//! (POST form, SigV2 query, SigV2 header, SigV4 query, SigV4 header,
//! anonymous), with the parts the checks of `auth_checks` need: the signed
//! header names, the credential scope's date and the request date.

use http::{HeaderMap, Method, Uri};

/// The authentication form of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthForm {
    Anonymous,
    /// `multipart/form-data` POST: the policy form carries its own signature.
    PostForm,
    /// `Authorization: AWS AKID:signature`.
    V2Header,
    /// `?AWSAccessKeyId=&Expires=&Signature=`.
    V2Query,
    /// `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    V4Header(V4Scope),
    /// `?X-Amz-Algorithm=...&X-Amz-SignedHeaders=...&X-Amz-Signature=...`.
    V4Query(V4Scope),
}

/// What a SigV4 signature covers, as the request declares it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct V4Scope {
    /// Lowercase names from `SignedHeaders` / `X-Amz-SignedHeaders`.
    pub signed_headers: Vec<String>,
    /// `YYYYMMDD` of the credential scope (empty when absent or malformed).
    pub credential_date: String,
    /// Region and service of the credential scope (empty when absent).
    pub region: String,
    pub service: String,
    /// `x-amz-date` header (header form) or `X-Amz-Date` parameter (query form).
    pub amz_date: Option<String>,
}

impl AuthForm {
    /// Whether the signature covers header `name` (lowercase).
    pub fn covers(&self, name: &str) -> bool {
        match self {
            AuthForm::V4Header(s) | AuthForm::V4Query(s) => s.signed_headers.iter().any(|h| h == name),
            // SigV2 signs every x-amz-* header (CanonicalizedAmzHeaders) and no other optional one.
            AuthForm::V2Header | AuthForm::V2Query => name.starts_with("x-amz-"),
            AuthForm::Anonymous | AuthForm::PostForm => false,
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The query parameters, decoded.
fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Part `n` of a credential `AKID/YYYYMMDD/region/service/aws4_request`.
fn credential_part(credential: &str, n: usize) -> String {
    credential.split('/').nth(n).unwrap_or_default().to_string()
}

/// Fills the scope's date, region and service from a credential.
fn read_credential(scope: &mut V4Scope, credential: &str) {
    scope.credential_date = credential_part(credential, 1);
    scope.region = credential_part(credential, 2);
    scope.service = credential_part(credential, 3);
}

fn split_signed(list: &str) -> Vec<String> {
    list.split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// The SigV4 header form's scope, from `Credential=` and `SignedHeaders=`.
fn v4_header_scope(authorization: &str, headers: &HeaderMap) -> V4Scope {
    let rest = authorization.trim_start_matches("AWS4-HMAC-SHA256").trim();
    let mut scope = V4Scope {
        amz_date: header(headers, "x-amz-date").map(str::to_string),
        ..V4Scope::default()
    };
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => read_credential(&mut scope, v),
            Some(("SignedHeaders", v)) => scope.signed_headers = split_signed(v),
            _ => {}
        }
    }
    scope
}

fn v4_query_scope(pairs: &[(String, String)]) -> V4Scope {
    let mut scope = V4Scope {
        signed_headers: split_signed(param(pairs, "X-Amz-SignedHeaders").unwrap_or_default()),
        amz_date: param(pairs, "X-Amz-Date").map(str::to_string),
        ..V4Scope::default()
    };
    read_credential(&mut scope, param(pairs, "X-Amz-Credential").unwrap_or_default());
    scope
}

fn is_post_form(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && header(headers, "content-type").is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The form of a request, in the order s3s tries them.
pub fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> AuthForm {
    if is_post_form(method, headers) {
        return AuthForm::PostForm;
    }
    let pairs = query_pairs(uri);
    let authorization = header(headers, "authorization");
    if param(&pairs, "Signature").is_some() {
        return AuthForm::V2Query;
    }
    if authorization.is_some_and(|a| a.starts_with("AWS ") && a.contains(':')) {
        return AuthForm::V2Header;
    }
    if param(&pairs, "X-Amz-Signature").is_some() {
        return AuthForm::V4Query(v4_query_scope(&pairs));
    }
    match authorization {
        Some(a) => AuthForm::V4Header(v4_header_scope(a, headers)),
        None => AuthForm::Anonymous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_header_forms_are_told_apart_and_their_scope_read() {
        let h = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab",
            ),
            ("x-amz-date", "20240102T030405Z"),
        ]);
        let AuthForm::V4Header(scope) = of(&Method::GET, &"/b/k".parse().unwrap(), &h) else {
            panic!("not the V4 header form");
        };
        assert_eq!(scope.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(scope.credential_date, "20240102");
        assert_eq!(scope.amz_date.as_deref(), Some("20240102T030405Z"));
        let h = headers(&[("authorization", "AWS AKID:c2ln")]);
        assert_eq!(of(&Method::GET, &"/b/k".parse().unwrap(), &h), AuthForm::V2Header);
        assert_eq!(of(&Method::GET, &"/b/k".parse().unwrap(), &HeaderMap::new()), AuthForm::Anonymous);
    }

    #[test]
    fn the_query_forms_and_post_forms_are_recognised() {
        let uri: Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240102T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
            .parse()
            .unwrap();
        let form = of(&Method::PUT, &uri, &HeaderMap::new());
        assert!(form.covers("host"));
        assert!(!form.covers("x-amz-acl"));
        let AuthForm::V4Query(scope) = form else { panic!() };
        assert_eq!(scope.credential_date, "20240102");
        let uri: Uri = "/b/k?AWSAccessKeyId=AKID&Expires=1&Signature=c2ln".parse().unwrap();
        let form = of(&Method::GET, &uri, &HeaderMap::new());
        assert_eq!(form, AuthForm::V2Query);
        assert!(form.covers("x-amz-acl") && !form.covers("range"));
        let h = headers(&[("content-type", "multipart/form-data; boundary=x")]);
        assert_eq!(of(&Method::POST, &"/b".parse().unwrap(), &h), AuthForm::PostForm);
    }
}
