//! The input every expression target shares: the expression text (at most
//! 4 KB, DynamoDB's limit), the request's placeholders, and an item.

use tandem_dynamo::{ExpressionContext, Item, item_from_json};

use crate::input::Fields;

/// Longest expression fuzzed (DynamoDB's limit; longer ones overflowed the
/// stack before tandem enforced it, see issue #10).
pub const MAX_EXPRESSION: usize = 4096;

pub struct ExprInput {
    pub expression: String,
    pub context: ExpressionContext,
    pub item: Item,
}

/// Field 0 is the expression, field 1 the ExpressionAttributeNames JSON,
/// `values` (if any) the ExpressionAttributeValues JSON, `item` the item JSON.
/// `None` when the expression is too long or the placeholders are refused.
pub fn expression_input(f: &Fields<'_>, values: Option<usize>, item: usize) -> Option<ExprInput> {
    let expression = f.text(0);
    if expression.len() > MAX_EXPRESSION {
        return None;
    }
    let names = f.json(1);
    let values = values.and_then(|i| f.json(i));
    let context = ExpressionContext::from_json(names.as_ref(), values.as_ref()).ok()?;
    let item = f.json(item).and_then(|j| item_from_json(&j).ok()).unwrap_or_default();
    Some(ExprInput { expression, context, item })
}
