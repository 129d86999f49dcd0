//! UpdateExpression: typed SET, REMOVE, ADD and DELETE actions, built from
//! the syntax tree with DynamoDB's checks (each clause at most once, known
//! functions with the right operands, ADD/DELETE value types, no two target
//! paths overlapping). Applying an update to an item is in `apply`.

use super::ast::{ActionAst, CallAst, ClauseAst, OperandAst, SetValueAst};
use super::context::Resolver;
use super::parser::{self, SyntaxError};
use super::path::DocumentPath;
use super::problems::Problem;
use super::projection::Projection;
use crate::value::{AttributeValue, ValueType};

/// A parsed and validated UpdateExpression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateExpression {
    actions: Vec<UpdateAction>,
}

/// One action of an update, on one document path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateAction {
    /// `SET path = value`.
    Set { path: DocumentPath, value: SetValue },
    /// `REMOVE path`.
    Remove { path: DocumentPath },
    /// `ADD path :value`: add to a number, or add elements to a set.
    Add { path: DocumentPath, value: AttributeValue },
    /// `DELETE path :value`: remove elements from a set.
    Delete { path: DocumentPath, value: AttributeValue },
}

/// The right-hand side of a SET action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetValue {
    /// The current value of an attribute.
    Path(DocumentPath),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `if_not_exists(path, fallback)`.
    IfNotExists(DocumentPath, Box<SetValue>),
    /// `list_append(first, second)`.
    ListAppend(Box<SetValue>, Box<SetValue>),
    /// `a + b` on numbers.
    Plus(Box<SetValue>, Box<SetValue>),
    /// `a - b` on numbers.
    Minus(Box<SetValue>, Box<SetValue>),
}

impl UpdateAction {
    /// The document path this action changes.
    pub fn path(&self) -> &DocumentPath {
        match self {
            UpdateAction::Set { path, .. }
            | UpdateAction::Remove { path }
            | UpdateAction::Add { path, .. }
            | UpdateAction::Delete { path, .. } => path,
        }
    }
}

impl UpdateExpression {
    /// An update of these actions, built without parsing (the legacy
    /// `AttributeUpdates` translation; its paths are distinct top-level names).
    pub(crate) fn from_actions(actions: Vec<UpdateAction>) -> Self {
        Self { actions }
    }

    /// The actions, in expression order.
    pub fn actions(&self) -> &[UpdateAction] {
        &self.actions
    }

    /// Every path the update changes (for key-attribute checks).
    pub fn target_paths(&self) -> impl Iterator<Item = &DocumentPath> {
        self.actions.iter().map(UpdateAction::path)
    }

    /// The projection of the changed paths, for `ReturnValues` `UPDATED_OLD`
    /// and `UPDATED_NEW`.
    pub fn updated_projection(&self) -> Projection {
        Projection::new(self.target_paths().cloned().collect())
    }
}

/// Parses and builds an update expression.
pub(crate) fn build(source: &str, resolver: &mut Resolver) -> Result<UpdateExpression, SyntaxError> {
    let clauses = parser::parse_update(source)?;
    report_repeated_clauses(&clauses, resolver);
    let actions: Vec<UpdateAction> = clauses
        .iter()
        .flat_map(|clause| &clause.actions)
        .map(|ast| action(ast, resolver))
        .collect();
    resolver.report_path_clashes(&actions.iter().map(UpdateAction::path).collect::<Vec<_>>());
    Ok(UpdateExpression { actions })
}

fn report_repeated_clauses(clauses: &[ClauseAst], resolver: &mut Resolver) {
    for (position, clause) in clauses.iter().enumerate() {
        if clauses[..position].iter().any(|earlier| earlier.keyword == clause.keyword) {
            let message = format!(
                "The \"{}\" section can only be used once in an update expression;",
                clause.keyword.as_str()
            );
            resolver.report(Problem::DuplicateClause, message);
        }
    }
}

fn action(ast: &ActionAst, resolver: &mut Resolver) -> UpdateAction {
    match ast {
        ActionAst::Set(path, value) => UpdateAction::Set {
            path: resolver.path(path),
            value: set_value(value, resolver),
        },
        ActionAst::Remove(path) => UpdateAction::Remove { path: resolver.path(path) },
        ActionAst::Add(path, placeholder) => {
            let path = resolver.path(path);
            let value = action_value(
                "ADD",
                placeholder,
                &[ValueType::N, ValueType::SS, ValueType::NS, ValueType::BS],
                resolver,
            );
            UpdateAction::Add { path, value }
        }
        ActionAst::Delete(path, placeholder) => {
            let path = resolver.path(path);
            let value = action_value("DELETE", placeholder, &[ValueType::SS, ValueType::NS, ValueType::BS], resolver);
            UpdateAction::Delete { path, value }
        }
    }
}

/// The value of an ADD or DELETE action, which must be of an allowed type.
fn action_value(action: &str, placeholder: &str, allowed: &[ValueType], resolver: &mut Resolver) -> AttributeValue {
    let Some(value) = resolver.value(placeholder) else {
        return AttributeValue::NULL;
    };
    if !allowed.contains(&value.value_type()) {
        let type_name = match value.value_type() {
            ValueType::S => "STRING",
            ValueType::N => "NUMBER",
            ValueType::B => "BINARY",
            ValueType::BOOL => "BOOLEAN",
            ValueType::L => "LIST",
            ValueType::M => "MAP",
            other => other.as_str(),
        };
        let message = format!("Incorrect operand type for operator or function; operator: {action}, operand type: {type_name}");
        resolver.report(Problem::ActionOperandType, message);
    }
    value
}

fn set_value(ast: &SetValueAst, resolver: &mut Resolver) -> SetValue {
    let mut arithmetic = |operator: &str, left: &OperandAst, right: &OperandAst| {
        let (left, right) = (operand(left, resolver), operand(right, resolver));
        for side in [&left, &right] {
            check_constant_type(operator, side, ValueType::N, resolver);
        }
        (Box::new(left), Box::new(right))
    };
    match ast {
        SetValueAst::Operand(operand_ast) => operand(operand_ast, resolver),
        SetValueAst::Plus(left, right) => {
            let (left, right) = arithmetic("+", left, right);
            SetValue::Plus(left, right)
        }
        SetValueAst::Minus(left, right) => {
            let (left, right) = arithmetic("-", left, right);
            SetValue::Minus(left, right)
        }
    }
}

fn operand(ast: &OperandAst, resolver: &mut Resolver) -> SetValue {
    match ast {
        OperandAst::Path(path) => SetValue::Path(resolver.path(path)),
        OperandAst::Value(placeholder) => SetValue::Value(resolver.value(placeholder).unwrap_or(AttributeValue::NULL)),
        OperandAst::Call(call) => function(call, resolver),
    }
}

/// `if_not_exists(path, value)` or `list_append(a, b)`.
fn function(call: &CallAst, resolver: &mut Resolver) -> SetValue {
    let args: Vec<SetValue> = call.args.iter().map(|arg| operand(arg, resolver)).collect();
    let stand_in = SetValue::Value(AttributeValue::NULL);
    if !matches!(call.name.as_str(), "if_not_exists" | "list_append") {
        // Condition functions exist, but not in SET; anything else is unknown.
        let known_elsewhere = matches!(
            call.name.as_str(),
            "attribute_exists" | "attribute_not_exists" | "attribute_type" | "begins_with" | "contains" | "size"
        );
        let message = if known_elsewhere {
            format!("The function is not allowed in an update expression; function: {}", call.name)
        } else {
            format!("Invalid function name; function: {}", call.name)
        };
        resolver.report(Problem::UnknownFunction, message);
        return stand_in;
    }
    let Ok([first, second]) = <[SetValue; 2]>::try_from(args) else {
        let message = format!(
            "Incorrect number of operands for operator or function; operator or function: {}, number of operands: {}",
            call.name,
            call.args.len()
        );
        resolver.report(Problem::OperandCount, message);
        return stand_in;
    };
    if call.name == "list_append" {
        for side in [&first, &second] {
            check_constant_type("list_append", side, ValueType::L, resolver);
        }
        return SetValue::ListAppend(Box::new(first), Box::new(second));
    }
    match first {
        SetValue::Path(path) => SetValue::IfNotExists(path, Box::new(second)),
        _ => {
            resolver.report(
                Problem::OperandType,
                "Operator or function requires a document path; operator or function: if_not_exists".into(),
            );
            stand_in
        }
    }
}

/// A constant operand of `operator` must have type `expected`.
fn check_constant_type(operator: &str, operand: &SetValue, expected: ValueType, resolver: &mut Resolver) {
    if let SetValue::Value(value) = operand
        && value.value_type() != expected
    {
        let message = format!(
            "Incorrect operand type for operator or function; operator or function: {operator}, operand type: {}",
            value.type_name()
        );
        resolver.report(Problem::OperandType, message);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::context::ExpressionContext;

    fn context() -> ExpressionContext {
        let values = json!({":n": {"N": "1"}, ":s": {"S": "x"}, ":ss": {"SS": ["a"]}, ":l": {"L": []}, ":b": {"BOOL": true}});
        ExpressionContext::from_json(Some(&json!({"#n": "name"})), Some(&values)).unwrap()
    }

    fn parse(expression: &str) -> UpdateExpression {
        context()
            .parse_update(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    fn error(expression: &str) -> String {
        let message = context().parse_update(expression).expect_err(expression).message().to_string();
        message.strip_prefix("Invalid UpdateExpression: ").unwrap_or(&message).to_string()
    }

    #[test]
    fn builds_actions_of_every_clause_in_order() {
        let update = parse("SET a = if_not_exists(a, :n) + :n, #n = list_append(:l, l) REMOVE r[1] ADD c :n DELETE s :ss");
        let paths: Vec<String> = update.target_paths().map(ToString::to_string).collect();
        assert_eq!(paths, ["a", "name", "r[1]", "c", "s"]);
        assert!(matches!(
            &update.actions()[0],
            UpdateAction::Set {
                value: SetValue::Plus(..),
                ..
            }
        ));
        assert!(matches!(
            &update.actions()[1],
            UpdateAction::Set {
                value: SetValue::ListAppend(..),
                ..
            }
        ));
        assert_eq!(update.updated_projection().paths().len(), 5);
    }

    #[test]
    fn each_clause_may_appear_once() {
        assert_eq!(
            error("SET a = :n SET b = :n"),
            r#"The "SET" section can only be used once in an update expression;"#
        );
        assert_eq!(
            error("REMOVE a ADD c :n remove b"),
            r#"The "REMOVE" section can only be used once in an update expression;"#
        );
    }

    #[test]
    fn target_paths_may_not_overlap_or_conflict() {
        assert_eq!(
            error("SET a = :n REMOVE a.b"),
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
        assert_eq!(
            error("SET a[1] = :n, a.b = :n"),
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a, b]"
        );
        assert!(matches!(parse("SET a.b = :n, a.c = :n").actions().len(), 2));
    }

    #[test]
    fn checks_functions_and_operand_types() {
        assert_eq!(
            error("SET a = size(b)"),
            "The function is not allowed in an update expression; function: size"
        );
        assert_eq!(
            error("SET a = if_not_exists(a)"),
            "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"
        );
        assert_eq!(
            error("SET a = if_not_exists(:n, a)"),
            "Operator or function requires a document path; operator or function: if_not_exists"
        );
        assert_eq!(
            error("SET a = list_append(a, :s)"),
            "Incorrect operand type for operator or function; operator or function: list_append, operand type: S"
        );
        assert_eq!(
            error("SET a = b + :s"),
            "Incorrect operand type for operator or function; operator or function: +, operand type: S"
        );
        assert_eq!(
            error("ADD a :s"),
            "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
        );
        assert_eq!(
            error("ADD a :b"),
            "Incorrect operand type for operator or function; operator: ADD, operand type: BOOLEAN"
        );
        assert_eq!(
            error("DELETE a :n"),
            "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"
        );
    }

    #[test]
    fn reserved_words_outrank_other_problems() {
        assert_eq!(
            error("SET name = :missing, a = foo(b)"),
            "Attribute name is a reserved keyword; reserved keyword: name"
        );
        assert_eq!(error("SET a = foo(b) SET c = :n"), "Invalid function name; function: foo");
    }
}
