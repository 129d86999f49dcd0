//! Bucket policies (tandem-s3 `policy.rs`): parsing any document is an error
//! or a policy, evaluation never panics, and the wildcard matcher agrees with
//! itself on literal patterns.
//!
//! Input: policy JSON NUL action NUL resource NUL principal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_fuzz::input::Fields;
use tandem_s3::policy::{Policy, Requester, Verdict, wildcard};

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 4);
    let (action, resource, principal) = (f.text(1), f.text(2), f.text(3));
    for text in [&action, &resource, &principal] {
        assert!(wildcard(text, text), "{text:?} does not match itself");
        assert!(wildcard("*", text));
        let question_marks: String = text.chars().map(|_| '?').collect();
        assert!(wildcard(&question_marks, text));
    }
    let Ok(policy) = Policy::parse(&f.text(0), "fuzz") else { return };
    let anonymous = Requester {
        principal: None,
        access_key_id: None,
    };
    let named = Requester {
        principal: Some(&principal),
        access_key_id: Some("AKFUZZ"),
    };
    for who in [&anonymous, &named] {
        let verdict = policy.evaluate(who, &action, &resource);
        assert!(matches!(verdict, Verdict::Allow | Verdict::Deny | Verdict::Silent));
    }
});
