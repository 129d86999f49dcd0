//! The lifetime of a SigV4 presigned URL: `X-Amz-Expires` must be 1 to
//! 604800 seconds (a week). s3s 0.14 checks the expiry but not the bound; S3
//! refuses a URL outside it with 403 `AccessDenied`.

use http::Uri;

use crate::refusal::Refusal;

/// Longest lifetime S3 accepts for a presigned URL.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// Refuses a presigned URL whose `X-Amz-Expires` is outside 1..=604800.
pub fn check(uri: &Uri) -> Result<(), Refusal> {
    let Some(value) = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "X-Amz-Expires")
        .map(|(_, v)| v.into_owned())
    else {
        return Ok(());
    };
    match value.parse::<u64>() {
        Ok(n) if n > MAX_EXPIRES_SECS => Err(Refusal::new(
            403,
            "AccessDenied",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )),
        Ok(0) => Err(Refusal::new(403, "AccessDenied", "Request has expired")),
        Ok(_) => Ok(()),
        Err(_) => Err(Refusal::new(403, "AccessDenied", "X-Amz-Expires should be a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(q: &str) -> Result<(), Refusal> {
        check(&format!("/b/k?{q}").parse().unwrap())
    }

    #[test]
    fn expires_must_be_one_second_to_a_week() {
        assert!(at("X-Amz-Expires=1").is_ok() && at("X-Amz-Expires=604800").is_ok() && at("a=b").is_ok());
        for bad in ["X-Amz-Expires=604801", "X-Amz-Expires=0", "X-Amz-Expires=-5", "X-Amz-Expires=x"] {
            let r = at(bad).unwrap_err();
            assert_eq!((r.status, r.code), (403, "AccessDenied"), "{bad}");
        }
    }
}
