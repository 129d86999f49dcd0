//! KeyConditionExpression (tandem-dynamo `expr/key_condition.rs`) against a
//! key schema from the input: any text is an error or a key condition; a key
//! condition matches or not any item, and prints to text that parses back to
//! the same key condition.
//!
//! Input: expression NUL names JSON NUL values JSON NUL hash key name NUL
//! range key name (empty: none) NUL item JSON. Expressions over 4 KB are
//! skipped (DynamoDB's limit; tandem is adding it, see issue #10).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_fuzz::expr::{ExprInput, expression_input};
use tandem_fuzz::input::Fields;
use tandem_fuzz::print;

fuzz_target!(|data: &[u8]| {
    let f = Fields::split(data, 6);
    let Some(ExprInput {
        expression,
        mut context,
        item,
    }) = expression_input(&f, Some(2), 5)
    else {
        return;
    };
    let hash = f.opt_text(3).unwrap_or_else(|| "id".into());
    let range = f.opt_text(4);
    let Ok(key) = context.parse_key_condition(&expression, &hash, range.as_deref()) else {
        return;
    };
    assert_eq!(key.hash_key, hash);
    if let Some(r) = &key.range {
        assert_eq!(Some(&r.key), range.as_ref(), "a range condition on a key that is not the range key");
        let _ = r.condition.operator_name();
        let _ = r.condition.values();
    }
    let _ = key.matches(&item);
    print::assert_reparses(&key, print::key_condition(&key), |c, text| {
        c.parse_key_condition(text, &hash, range.as_deref())
    });
});
