//! S3's answers to a POST Object form it refuses, where s3s answers otherwise:
//! a missing `file` part or `key` field, a signed form missing one of its
//! signature fields (400 `InvalidArgument`, naming the field), a broken policy
//! condition (403 `AccessDenied`) and a file outside the policy's
//! `content-length-range` (400 `EntityTooLarge` / `EntityTooSmall` with the
//! allowed size). Decided from the form's fields as the node saw them and the
//! code of s3s's error, never from the file's bytes.

use crate::post_form::FormFields;
use crate::refusal::Refusal;

/// The fields a SigV4-signed form needs, in the order S3 asks for them.
const SIGV4_FIELDS: [&str; 5] = ["policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"];
/// The fields a SigV2-signed form needs, as S3 spells them in its messages.
const SIGV2_FIELDS: [&str; 3] = ["policy", "AWSAccessKeyId", "signature"];

fn missing(name: &str) -> Refusal {
    Refusal::new(
        400,
        "InvalidArgument",
        format!("Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."),
    )
    .with("ArgumentName", name)
    .with("ArgumentValue", "")
}

/// The first field the form lacks: the file part, the key, then the fields of
/// its signature if it carries any (a form with none is anonymous).
pub fn missing_field(form: &FormFields) -> Option<Refusal> {
    if !form.file && form.complete {
        return Some(
            Refusal::new(400, "InvalidArgument", "POST requires exactly one file upload per request.")
                .with("ArgumentName", "file")
                .with("ArgumentValue", "0"),
        );
    }
    if form.file && form.get("key").is_none() {
        return Some(missing("key"));
    }
    let has = |name: &str| form.get(&name.to_ascii_lowercase()).is_some();
    let sigv4 = ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"].iter().any(|f| has(f));
    let sigv2 = ["awsaccesskeyid", "signature"].iter().any(|f| has(f));
    let required: &[&str] = match (sigv4, sigv2 || has("policy")) {
        (true, _) => &SIGV4_FIELDS,
        (false, true) => &SIGV2_FIELDS,
        (false, false) => &[],
    };
    required.iter().find(|f| !has(f)).map(|f| missing(f))
}

/// The `<Code>` of an S3 XML error body.
fn error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    Some(&body[start..start + len])
}

/// The `content-length-range` bounds of the form's policy.
fn length_range(form: &FormFields) -> Option<(u64, u64)> {
    let raw = base64_simd::STANDARD.decode_to_vec(form.get("policy")?.trim()).ok()?;
    let policy: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    policy.get("conditions")?.as_array()?.iter().find_map(|c| {
        let c = c.as_array()?;
        let bound = |v: &serde_json::Value| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok());
        (c.first()?.as_str()? == "content-length-range").then_some((bound(c.get(1)?)?, bound(c.get(2)?)?))
    })
}

/// A file outside the policy's size range, naming the bound it broke.
fn size_refusal(code: &'static str, message: &str, element: &'static str, bound: Option<u64>) -> Refusal {
    let r = Refusal::new(400, code, message);
    match bound {
        Some(b) => r.with(element, b.to_string()),
        None => r,
    }
}

/// S3's answer to a form s3s refused with `s3s_body` (its XML error), if it
/// differs from s3s's.
pub fn refusal(form: &FormFields, s3s_body: &[u8]) -> Option<Refusal> {
    if let Some(r) = missing_field(form) {
        return Some(r);
    }
    let body = std::str::from_utf8(s3s_body).ok()?;
    match error_code(body)? {
        "InvalidPolicyDocument" if body.contains("<Message>Policy condition") => Some(Refusal::new(
            403,
            "AccessDenied",
            "Invalid according to Policy: Policy Condition failed",
        )),
        "EntityTooLarge" => Some(size_refusal(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            "MaxSizeAllowed",
            length_range(form).map(|(_, max)| max),
        )),
        "EntityTooSmall" => Some(size_refusal(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            "MinSizeAllowed",
            length_range(form).map(|(min, _)| min),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)], file: bool) -> FormFields {
        FormFields {
            fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            file,
            filename: None,
            complete: !file,
        }
    }

    fn named(r: Option<Refusal>) -> Option<String> {
        r.map(|r| r.details[0].1.clone())
    }

    #[test]
    fn the_file_then_the_key_then_the_signature_fields_are_required() {
        assert_eq!(named(missing_field(&form(&[("key", "k")], false))).as_deref(), Some("file"));
        assert_eq!(named(missing_field(&form(&[], true))).as_deref(), Some("key"));
        assert_eq!(missing_field(&form(&[("key", "k")], true)), None, "anonymous");
        let v4 = [
            ("key", "k"),
            ("x-amz-credential", "c"),
            ("x-amz-algorithm", "a"),
            ("x-amz-date", "d"),
        ];
        assert_eq!(named(missing_field(&form(&v4, true))).as_deref(), Some("policy"));
        let v4 = [v4.as_slice(), &[("policy", "p")]].concat();
        assert_eq!(named(missing_field(&form(&v4, true))).as_deref(), Some("x-amz-signature"));
        let v2 = [("key", "k"), ("policy", "p"), ("signature", "s")];
        assert_eq!(named(missing_field(&form(&v2, true))).as_deref(), Some("AWSAccessKeyId"));
        let v2 = [("key", "k"), ("awsaccesskeyid", "a"), ("policy", "p")];
        assert_eq!(named(missing_field(&form(&v2, true))).as_deref(), Some("signature"));
    }

    #[test]
    fn size_errors_carry_the_policy_bounds_and_policy_failures_are_403() {
        let policy = base64_simd::STANDARD.encode_to_string(r#"{"conditions":[["content-length-range", 2, "5"]]}"#);
        let f = form(
            &[
                ("key", "k"),
                ("policy", &policy),
                ("x-amz-algorithm", "a"),
                ("x-amz-credential", "c"),
                ("x-amz-date", "d"),
                ("x-amz-signature", "s"),
            ],
            true,
        );
        let big = refusal(&f, b"<Error><Code>EntityTooLarge</Code><Message>x</Message></Error>").unwrap();
        assert_eq!(
            (big.status, big.code, big.details.clone()),
            (400, "EntityTooLarge", vec![("MaxSizeAllowed", "5".to_string())])
        );
        let small = refusal(&f, b"<Error><Code>EntityTooSmall</Code></Error>").unwrap();
        assert_eq!(small.details, vec![("MinSizeAllowed", "2".to_string())]);
        let denied = refusal(
            &f,
            b"<Error><Code>InvalidPolicyDocument</Code><Message>Policy condition failed</Message></Error>",
        );
        assert_eq!(denied.map(|r| (r.status, r.code)), Some((403, "AccessDenied")));
        assert_eq!(refusal(&f, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"), None);
        assert_eq!(refusal(&f, b"\xff<Code>"), None);
    }
}
