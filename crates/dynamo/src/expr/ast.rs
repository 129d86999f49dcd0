//! Syntax trees, as written: names and values are still unresolved
//! placeholders and function calls are still generic.
//!
//! The parser builds these and checks syntax only; the builders in
//! `condition`, `update` and `projection` then resolve placeholders, apply
//! DynamoDB's semantic checks, and produce the public typed expressions.

use super::condition::Comparator;

/// One step of a document path as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepAst {
    /// A bare attribute name (`a`); subject to the reserved-word check.
    Name(String),
    /// An expression attribute name (`#a`).
    NamePlaceholder(String),
    /// A list index (`[3]`); saturates at `usize::MAX`.
    Index(usize),
}

/// A document path as written; the first step is never an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathAst {
    pub steps: Vec<StepAst>,
}

/// A function call `name(arg, ...)`, with at least one argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CallAst {
    pub name: String,
    pub args: Vec<OperandAst>,
}

/// A value-producing operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OperandAst {
    Path(PathAst),
    /// An expression attribute value (`:v`).
    Value(String),
    Call(CallAst),
}

/// A condition (ConditionExpression, FilterExpression, KeyConditionExpression).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ConditionAst {
    Compare(Comparator, OperandAst, OperandAst),
    Between(OperandAst, OperandAst, OperandAst),
    In(OperandAst, Vec<OperandAst>),
    /// A function used as a condition, e.g. `attribute_exists(a)`.
    Call(CallAst),
    And(Box<ConditionAst>, Box<ConditionAst>),
    Or(Box<ConditionAst>, Box<ConditionAst>),
    Not(Box<ConditionAst>),
}

/// The right-hand side of a SET action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SetValueAst {
    Operand(OperandAst),
    Plus(OperandAst, OperandAst),
    Minus(OperandAst, OperandAst),
}

/// One action of an update expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ActionAst {
    Set(PathAst, SetValueAst),
    Remove(PathAst),
    /// `ADD path :value`.
    Add(PathAst, String),
    /// `DELETE path :value`.
    Delete(PathAst, String),
}

/// The four clause keywords of an update expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClauseKeyword {
    Set,
    Remove,
    Add,
    Delete,
}

impl ClauseKeyword {
    pub const ALL: [ClauseKeyword; 4] = [ClauseKeyword::Set, ClauseKeyword::Remove, ClauseKeyword::Add, ClauseKeyword::Delete];

    /// The keyword as DynamoDB spells it in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ClauseKeyword::Set => "SET",
            ClauseKeyword::Remove => "REMOVE",
            ClauseKeyword::Add => "ADD",
            ClauseKeyword::Delete => "DELETE",
        }
    }
}

/// One clause of an update expression: a keyword and its actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClauseAst {
    pub keyword: ClauseKeyword,
    pub actions: Vec<ActionAst>,
}
