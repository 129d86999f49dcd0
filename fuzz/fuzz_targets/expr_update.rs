//! UpdateExpression (tandem-dynamo `expr/update.rs`, `expr/apply.rs`): any
//! text is an error or an update; an update applies to any item or fails with
//! an error, the updated item can be stored and read back, and the update
//! prints to text that parses back to the same update.
//!
//! Input: expression NUL names JSON NUL values JSON NUL item JSON.
//! Expressions over 4 KB are skipped (DynamoDB's limit; tandem is adding it,
//! see issue #10).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_fuzz::expr::{ExprInput, expression_input};
use tandem_fuzz::input::Fields;
use tandem_fuzz::items::assert_stored_round_trip;
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
    let Ok(update) = context.parse_update(&expression) else { return };
    let _ = context.check_all_used();
    let _ = update.updated_projection().apply(&item);
    if let Ok(updated) = update.apply(&item) {
        assert_stored_round_trip(&updated);
    }
    print::assert_reparses(&update, print::update(&update), |c, text| c.parse_update(text));
});
