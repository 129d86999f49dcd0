//! Policies (tandem-iam, as bucket policies through tandem-s3 `policy.rs`):
//! parsing any document is an error or a policy, evaluation with any
//! request context never panics, and the wildcard matcher agrees with itself
//! on literal patterns.
//!
//! Input: policy JSON NUL action NUL resource NUL principal NUL condition-key value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_fuzz::input::Fields;
use tandem_iam::pattern::wildcard;
use tandem_iam::{Context, Request, Verdict, Who};

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 5);
    let (action, resource, principal, value) = (f.text(1), f.text(2), f.text(3), f.text(4));
    for text in [&action, &resource, &principal] {
        assert!(wildcard(text, text), "{text:?} does not match itself");
        assert!(wildcard("*", text));
        let question_marks: String = text.chars().map(|_| '?').collect();
        assert!(wildcard(&question_marks, text));
    }
    let doc = f.text(0);
    let bucket_policy = tandem_s3::policy::parse(&doc, "fuzz");
    let identity_policy = tandem_iam::Policy::parse_identity(&doc, &tandem_s3::conditions::is_known);
    let mut context = Context::default();
    for key in ["aws:SourceIp", "aws:CurrentTime", "s3:prefix", "s3:max-keys", "aws:username", "s3:ExistingObjectTag/t"] {
        context.set(key, value.clone());
    }
    context.set_all("s3:RequestObjectTagKeys", value.split('&').map(str::to_string).collect());
    let named = Who {
        name: Some(&principal),
        access_key_id: Some("AKFUZZ"),
        arn: Some("arn:aws:iam::000000000000:user/fuzz"),
    };
    for policy in [bucket_policy.ok(), identity_policy.ok()].into_iter().flatten() {
        for who in [Who::default(), named] {
            let verdict = policy.evaluate(&Request {
                action: &action,
                resource: &resource,
                who,
                context: &context,
            });
            assert!(matches!(verdict, Verdict::Allow | Verdict::Deny | Verdict::Silent));
        }
    }
});
