//! DynamoDB's limit of 300 operators and functions in one expression:
//! every comparison, `BETWEEN`, `IN`, `AND`, `OR`, `NOT`, function call and
//! `+`/`-` counts one, as does each update action. Checked on the typed
//! expression, so it counts what the parser accepted.

use super::ExpressionKind;
use super::condition::{Condition, Operand};
use super::update::{SetValue, UpdateAction, UpdateExpression};
use crate::error::Error;

/// Most operators and functions in one expression.
pub const MAX_OPERATORS: usize = 300;

/// Refuses an expression of `kind` with more than [`MAX_OPERATORS`] operators.
pub(crate) fn check(kind: ExpressionKind, count: usize) -> Result<(), Error> {
    if count > MAX_OPERATORS {
        return Err(kind.error(&format!("The expression contains too many operators; operator count: {count}")));
    }
    Ok(())
}

impl Condition {
    /// Operators and functions in the condition.
    pub fn operator_count(&self) -> usize {
        1 + match self {
            Condition::Compare { left, right, .. } => left.operator_count() + right.operator_count(),
            Condition::Between { operand, low, high } => operand.operator_count() + low.operator_count() + high.operator_count(),
            Condition::In { operand, candidates } => {
                operand.operator_count() + candidates.iter().map(Operand::operator_count).sum::<usize>()
            }
            Condition::AttributeExists(_) | Condition::AttributeNotExists(_) => 0,
            Condition::AttributeType { operand, .. } => operand.operator_count(),
            Condition::BeginsWith { operand, prefix: other } | Condition::Contains { operand, element: other } => {
                operand.operator_count() + other.operator_count()
            }
            Condition::And(left, right) | Condition::Or(left, right) => left.operator_count() + right.operator_count(),
            Condition::Not(inner) => inner.operator_count(),
        }
    }
}

impl Operand {
    fn operator_count(&self) -> usize {
        match self {
            Operand::Path(_) | Operand::Value(_) => 0,
            Operand::Size(inner) => 1 + inner.operator_count(),
        }
    }
}

impl SetValue {
    fn operator_count(&self) -> usize {
        match self {
            SetValue::Path(_) | SetValue::Value(_) => 0,
            SetValue::IfNotExists(_, fallback) => 1 + fallback.operator_count(),
            SetValue::ListAppend(a, b) | SetValue::Plus(a, b) | SetValue::Minus(a, b) => 1 + a.operator_count() + b.operator_count(),
        }
    }
}

impl UpdateExpression {
    /// Operators and functions in the update: one per action plus those of SET values.
    pub fn operator_count(&self) -> usize {
        self.actions()
            .iter()
            .map(|action| match action {
                UpdateAction::Set { value, .. } => 1 + value.operator_count(),
                _ => 1,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::ExpressionContext;

    fn filter_of(terms: usize) -> String {
        vec!["a = :v"; terms].join(" AND ")
    }

    #[test]
    fn three_hundred_operators_pass_and_the_next_is_refused() {
        let values = json!({":v": {"N": "1"}});
        let mut ctx = ExpressionContext::from_json(None, Some(&values)).unwrap();
        // n comparisons joined by n - 1 ANDs: 150 -> 299 operators, 151 -> 301.
        assert!(ctx.parse_filter(&filter_of(150)).is_ok());
        assert_eq!(
            ctx.parse_filter(&filter_of(151)).unwrap_err().message(),
            "Invalid FilterExpression: The expression contains too many operators; operator count: 301"
        );
        let update = (0..301).map(|i| format!("a{i} = :v")).collect::<Vec<_>>().join(", ");
        assert!(
            ctx.parse_update(&format!("SET {update}"))
                .unwrap_err()
                .message()
                .ends_with("operator count: 301")
        );
    }
}
