//! ProjectionExpression (tandem-dynamo `expr/projection.rs`): any text is an
//! error or a projection; projecting an item keeps only attributes it has,
//! a projected path without list indexes reads the same value from the
//! projection as from the item, and the projection prints to text that parses
//! back to the same projection.
//!
//! Input: expression NUL names JSON NUL item JSON. Expressions over 4 KB are
//! skipped (DynamoDB's limit; tandem is adding it, see issue #10).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_dynamo::PathElement;
use tandem_fuzz::expr::{ExprInput, expression_input};
use tandem_fuzz::input::Fields;
use tandem_fuzz::print;

fuzz_target!(|data: &[u8]| {
    let Some(ExprInput {
        expression,
        mut context,
        item,
    }) = expression_input(&Fields::split(data, 3), None, 2)
    else {
        return;
    };
    let Ok(projection) = context.parse_projection(&expression) else {
        return;
    };
    let projected = projection.apply(&item);
    assert!(projected.keys().all(|k| item.contains_key(k)), "a projection invented an attribute");
    for path in projection.paths() {
        // List elements are compacted (`l[3]` alone becomes `l[0]`), so only
        // paths of map keys read back at the same place.
        if path.elements().iter().all(|e| matches!(e, PathElement::Attribute(_))) {
            assert_eq!(
                path.resolve(&projected),
                path.resolve(&item),
                "{path:?} reads differently after projecting"
            );
        }
    }
    print::assert_reparses(&projection, print::projection(&projection), |c, text| c.parse_projection(text));
});
