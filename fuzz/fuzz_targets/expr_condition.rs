//! ConditionExpression and FilterExpression (tandem-dynamo `expr/`): lexing,
//! parsing, placeholder resolution, semantic checks and evaluation. Any text
//! is an error or a condition; a condition evaluates against any item (or
//! none), is accepted the same as a filter, and prints to text that parses
//! back to the same condition.
//!
//! Input: expression NUL ExpressionAttributeNames JSON NUL
//! ExpressionAttributeValues JSON NUL item JSON. Expressions over 4 KB are
//! skipped (DynamoDB's limit; tandem is adding it, see issue #10).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_fuzz::expr::{ExprInput, expression_input};
use tandem_fuzz::input::Fields;
use tandem_fuzz::print;

fuzz_target!(|data: &[u8]| {
    let Some(ExprInput {
        expression,
        mut context,
        item,
    }) = expression_input(&Fields::split(data, 4), Some(2), 3)
    else {
        return;
    };
    let mut as_filter = context.clone();
    let parsed = context.parse_condition(&expression);
    let filter = as_filter.parse_filter(&expression);
    assert_eq!(parsed.is_ok(), filter.is_ok(), "condition and filter disagree on {expression:?}");
    let Ok(condition) = parsed else { return };
    assert_eq!(filter.ok().as_ref(), Some(&condition));
    let _ = condition.evaluate(Some(&item));
    let _ = condition.evaluate(None);
    let _ = condition.paths();
    let _ = context.check_all_used();
    print::assert_reparses(&condition, print::condition(&condition), |c, text| c.parse_condition(text));
});
