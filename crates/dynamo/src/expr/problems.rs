//! Semantic problems found while building an expression.
//!
//! DynamoDB parses a whole expression before it reports anything, then reports
//! one problem chosen by category (for a condition, redundant parentheses
//! before an unknown function before a reserved word, ...). Builders record
//! every problem here; [`Problems::most_important`] picks the one to report.

use std::collections::BTreeMap;

use super::ExpressionKind;

/// A category of semantic problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    RedundantParens,
    UnknownFunction,
    MisusedFunction,
    ReservedWord,
    DuplicateClause,
    UndefinedName,
    UndefinedValue,
    PathOverlap,
    PathConflict,
    /// An ADD or DELETE value of a type the action does not take.
    ActionOperandType,
    OperandCount,
    DistinctOperands,
    /// A function or operator applied to an operand of the wrong type.
    OperandType,
}

impl Problem {
    /// Reporting precedence within an expression kind; lower wins.
    fn rank(self, kind: ExpressionKind) -> u8 {
        use Problem::*;
        let order: &[&[Problem]] = match kind {
            ExpressionKind::Condition | ExpressionKind::Filter | ExpressionKind::KeyCondition => &[
                &[RedundantParens],
                &[UnknownFunction],
                &[MisusedFunction],
                &[ReservedWord],
                &[UndefinedName, UndefinedValue],
                &[OperandCount],
                &[DistinctOperands],
                &[OperandType],
            ],
            ExpressionKind::Update => &[
                &[ReservedWord],
                &[UnknownFunction],
                &[DuplicateClause],
                &[UndefinedName],
                &[UndefinedValue],
                &[PathOverlap],
                &[PathConflict],
                &[ActionOperandType],
                &[OperandCount, OperandType],
            ],
            ExpressionKind::Projection => &[&[ReservedWord], &[UndefinedName], &[PathOverlap], &[PathConflict]],
        };
        order.iter().position(|group| group.contains(&self)).unwrap_or(order.len()) as u8
    }
}

/// The problems recorded so far: the first message of each rank.
pub(crate) struct Problems {
    kind: ExpressionKind,
    first_by_rank: BTreeMap<u8, String>,
}

impl Problems {
    pub fn new(kind: ExpressionKind) -> Self {
        Self {
            kind,
            first_by_rank: BTreeMap::new(),
        }
    }

    /// Records a problem; only the first of each rank is kept.
    pub fn report(&mut self, problem: Problem, message: String) {
        self.first_by_rank.entry(problem.rank(self.kind)).or_insert(message);
    }

    /// The message DynamoDB would report, if any problem was found.
    pub fn most_important(self) -> Option<String> {
        self.first_by_rank.into_values().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_highest_ranked_problem_first_seen() {
        let mut problems = Problems::new(ExpressionKind::Condition);
        problems.report(Problem::OperandType, "type".into());
        problems.report(Problem::UndefinedValue, "value one".into());
        problems.report(Problem::UndefinedName, "name".into());
        assert_eq!(problems.most_important().as_deref(), Some("value one"));
    }

    #[test]
    fn precedence_depends_on_the_expression_kind() {
        let mut condition = Problems::new(ExpressionKind::Filter);
        let mut update = Problems::new(ExpressionKind::Update);
        for problems in [&mut condition, &mut update] {
            problems.report(Problem::UnknownFunction, "function".into());
            problems.report(Problem::ReservedWord, "reserved".into());
        }
        assert_eq!(condition.most_important().as_deref(), Some("function"));
        assert_eq!(update.most_important().as_deref(), Some("reserved"));
        assert_eq!(Problems::new(ExpressionKind::Projection).most_important(), None);
    }
}
