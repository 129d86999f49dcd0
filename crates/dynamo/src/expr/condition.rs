//! Typed conditions (ConditionExpression, FilterExpression and the raw form
//! of a KeyConditionExpression) and how they are built from the syntax tree,
//! with DynamoDB's semantic checks: known functions used in the right place
//! with the right operand count and types, distinct operands, and ordered
//! `BETWEEN` bounds. Evaluation is in [`super::eval`].

use super::ast::{CallAst, ConditionAst, OperandAst};
use super::context::Resolver;
use super::parser::{self, SyntaxError};
use super::path::DocumentPath;
use super::problems::Problem;
use crate::value::{AttributeValue, ValueType};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub fn swapped(self) -> Comparator {
        match self {
            Comparator::Lt => Comparator::Gt,
            Comparator::Le => Comparator::Ge,
            Comparator::Gt => Comparator::Lt,
            Comparator::Ge => Comparator::Le,
            symmetric => symmetric,
        }
    }
}

/// Something that evaluates to a value (or to nothing, if a path is missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// An attribute of the item.
    Path(DocumentPath),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `size(operand)`.
    Size(Box<Operand>),
}

/// A parsed and validated condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `left op right`.
    Compare {
        comparator: Comparator,
        left: Operand,
        right: Operand,
    },
    /// `operand BETWEEN low AND high`.
    Between {
        operand: Operand,
        low: Operand,
        high: Operand,
    },
    /// `operand IN (candidate, ...)`.
    In {
        operand: Operand,
        candidates: Vec<Operand>,
    },
    /// `attribute_exists(path)`.
    AttributeExists(DocumentPath),
    /// `attribute_not_exists(path)`.
    AttributeNotExists(DocumentPath),
    /// `attribute_type(operand, :type)`.
    AttributeType {
        operand: Operand,
        value_type: ValueType,
    },
    /// `begins_with(operand, prefix)`.
    BeginsWith {
        operand: Operand,
        prefix: Operand,
    },
    /// `contains(operand, element)`.
    Contains {
        operand: Operand,
        element: Operand,
    },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// Every document path the condition reads, in order of appearance.
    /// (Query uses this to reject filters on key attributes.)
    pub fn paths(&self) -> Vec<&DocumentPath> {
        let mut paths = Vec::new();
        self.collect_paths(&mut paths);
        paths
    }

    fn collect_paths<'a>(&'a self, paths: &mut Vec<&'a DocumentPath>) {
        let operands: Vec<&Operand> = match self {
            Condition::Compare { left, right, .. } => vec![left, right],
            Condition::Between { operand, low, high } => vec![operand, low, high],
            Condition::In { operand, candidates } => std::iter::once(operand).chain(candidates).collect(),
            Condition::AttributeExists(path) | Condition::AttributeNotExists(path) => {
                paths.push(path);
                vec![]
            }
            Condition::AttributeType { operand, .. } => vec![operand],
            Condition::BeginsWith { operand, prefix: other } | Condition::Contains { operand, element: other } => vec![operand, other],
            Condition::And(left, right) | Condition::Or(left, right) => {
                left.collect_paths(paths);
                right.collect_paths(paths);
                vec![]
            }
            Condition::Not(inner) => {
                inner.collect_paths(paths);
                vec![]
            }
        };
        operands.into_iter().for_each(|operand| operand.collect_paths(paths));
    }
}

impl Operand {
    fn collect_paths<'a>(&'a self, paths: &mut Vec<&'a DocumentPath>) {
        match self {
            Operand::Path(path) => paths.push(path),
            Operand::Value(_) => {}
            Operand::Size(inner) => inner.collect_paths(paths),
        }
    }

    /// The type this operand is known to have before evaluation, if any.
    fn static_type(&self) -> Option<ValueType> {
        match self {
            Operand::Path(_) => None,
            Operand::Value(value) => Some(value.value_type()),
            Operand::Size(_) => Some(ValueType::N),
        }
    }
}

/// The condition functions and how many operands each takes.
/// Most candidates an `IN` comparator takes (DynamoDB's documented limit).
pub const MAX_IN_OPERANDS: usize = 100;

const FUNCTIONS: [(&str, usize); 6] = [
    ("attribute_exists", 1),
    ("attribute_not_exists", 1),
    ("attribute_type", 2),
    ("begins_with", 2),
    ("contains", 2),
    ("size", 1),
];

const ALL_TYPES: &str = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}";

/// Parses and builds a condition.
pub(crate) fn build(source: &str, resolver: &mut Resolver) -> Result<Condition, SyntaxError> {
    let parsed = parser::parse_condition(source)?;
    if parsed.redundant_parens {
        resolver.report(Problem::RedundantParens, "The expression has redundant parentheses;".into());
    }
    Ok(condition(&parsed.condition, resolver))
}

fn condition(ast: &ConditionAst, resolver: &mut Resolver) -> Condition {
    let mut boxed = |ast: &ConditionAst| Box::new(condition(ast, resolver));
    match ast {
        ConditionAst::And(left, right) => Condition::And(boxed(left), boxed(right)),
        ConditionAst::Or(left, right) => Condition::Or(boxed(left), boxed(right)),
        ConditionAst::Not(inner) => Condition::Not(boxed(inner)),
        ConditionAst::Call(call) => function_condition(call, resolver),
        ConditionAst::Compare(comparator, left, right) => {
            let (left, right) = (operand(left, resolver), operand(right, resolver));
            check_distinct(comparator.symbol(), &left, &right, resolver);
            Condition::Compare {
                comparator: *comparator,
                left,
                right,
            }
        }
        ConditionAst::Between(value, low, high) => {
            let (operand_value, low, high) = (operand(value, resolver), operand(low, resolver), operand(high, resolver));
            check_between_bounds(&low, &high, resolver);
            Condition::Between {
                operand: operand_value,
                low,
                high,
            }
        }
        ConditionAst::In(value, candidates) => {
            if candidates.len() > MAX_IN_OPERANDS {
                let message = format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    candidates.len()
                );
                resolver.report(Problem::OperandCount, message);
            }
            Condition::In {
                operand: operand(value, resolver),
                candidates: candidates.iter().map(|candidate| operand(candidate, resolver)).collect(),
            }
        }
    }
}

/// Builds an operand; of the functions only `size` yields a value.
fn operand(ast: &OperandAst, resolver: &mut Resolver) -> Operand {
    match ast {
        OperandAst::Path(path) => Operand::Path(resolver.path(path)),
        OperandAst::Value(placeholder) => Operand::Value(resolver.value(placeholder).unwrap_or(AttributeValue::NULL)),
        OperandAst::Call(call) => {
            let args = checked_args(call, resolver);
            if call.name != "size" {
                report_misused(&call.name, resolver);
                return Operand::Value(AttributeValue::NULL);
            }
            match args.and_then(|args| <[Operand; 1]>::try_from(args).ok()) {
                Some([inner]) => {
                    check_operand_type(
                        "size",
                        &inner,
                        |value_type| !matches!(value_type, ValueType::N | ValueType::BOOL | ValueType::NULL),
                        resolver,
                    );
                    Operand::Size(Box::new(inner))
                }
                None => Operand::Value(AttributeValue::NULL),
            }
        }
    }
}

/// Builds a function used as a condition.
fn function_condition(call: &CallAst, resolver: &mut Resolver) -> Condition {
    let args = checked_args(call, resolver);
    if call.name == "size" {
        report_misused(&call.name, resolver);
    }
    let Some(args) = args else {
        return stand_in();
    };
    if let [first, second] = args.as_slice() {
        check_distinct(&call.name, first, second, resolver);
    }
    let mut args = args.into_iter();
    let mut next = || args.next().unwrap_or(Operand::Value(AttributeValue::NULL));
    match call.name.as_str() {
        "attribute_exists" => document_path(&call.name, next(), resolver).map_or_else(stand_in, Condition::AttributeExists),
        "attribute_not_exists" => document_path(&call.name, next(), resolver).map_or_else(stand_in, Condition::AttributeNotExists),
        "attribute_type" => {
            let operand = next();
            attribute_type_name(&next(), resolver).map_or_else(stand_in, |value_type| Condition::AttributeType { operand, value_type })
        }
        "begins_with" => {
            let (operand, prefix) = (next(), next());
            for argument in [&operand, &prefix] {
                check_operand_type(
                    "begins_with",
                    argument,
                    |value_type| matches!(value_type, ValueType::S | ValueType::B),
                    resolver,
                );
            }
            Condition::BeginsWith { operand, prefix }
        }
        "contains" => Condition::Contains {
            operand: next(),
            element: next(),
        },
        _ => stand_in(),
    }
}

/// Stands in for a function that failed its checks. Never reaches callers:
/// the failure was reported, so building the expression fails.
fn stand_in() -> Condition {
    Condition::AttributeExists(DocumentPath::new(""))
}

/// Builds a call's arguments after checking the function exists and gets the
/// right number of them; `None` if it does not.
fn checked_args(call: &CallAst, resolver: &mut Resolver) -> Option<Vec<Operand>> {
    let args: Vec<Operand> = call.args.iter().map(|arg| operand(arg, resolver)).collect();
    let Some(&(_, expected)) = FUNCTIONS.iter().find(|(name, _)| *name == call.name) else {
        resolver.report(Problem::UnknownFunction, format!("Invalid function name; function: {}", call.name));
        return None;
    };
    if args.len() != expected {
        let message = format!(
            "Incorrect number of operands for operator or function; operator or function: {}, number of operands: {}",
            call.name,
            args.len()
        );
        resolver.report(Problem::OperandCount, message);
        return None;
    }
    Some(args)
}

fn report_misused(function: &str, resolver: &mut Resolver) {
    if FUNCTIONS.iter().any(|(name, _)| *name == function) {
        resolver.report(
            Problem::MisusedFunction,
            format!("The function is not allowed to be used this way in an expression; function: {function}"),
        );
    }
}

fn document_path(function: &str, operand: Operand, resolver: &mut Resolver) -> Option<DocumentPath> {
    match operand {
        Operand::Path(path) => Some(path),
        _ => {
            resolver.report(
                Problem::OperandType,
                format!("Operator or function requires a document path; operator or function: {function}"),
            );
            None
        }
    }
}

/// The type named by `attribute_type`'s second operand, which must be a string value.
fn attribute_type_name(operand: &Operand, resolver: &mut Resolver) -> Option<ValueType> {
    let name = match operand {
        Operand::Value(AttributeValue::S(name)) => name,
        other => {
            let found = other
                .static_type()
                .map_or(ALL_TYPES.to_string(), |value_type| value_type.to_string());
            report_operand_type("attribute_type", &found, resolver);
            return None;
        }
    };
    let value_type = ValueType::from_descriptor(name);
    if value_type.is_none() {
        let message = format!("Invalid attribute type name found; type: {name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}");
        resolver.report(Problem::OperandType, message);
    }
    value_type
}

fn check_operand_type(function: &str, operand: &Operand, allowed: impl Fn(ValueType) -> bool, resolver: &mut Resolver) {
    if let Some(value_type) = operand.static_type().filter(|&value_type| !allowed(value_type)) {
        report_operand_type(function, value_type.as_str(), resolver);
    }
}

fn report_operand_type(function: &str, found: &str, resolver: &mut Resolver) {
    let message = format!("Incorrect operand type for operator or function; operator or function: {function}, operand type: {found}");
    resolver.report(Problem::OperandType, message);
}

/// DynamoDB rejects comparing a path with itself (`a = a`, `contains(a, a)`).
fn check_distinct(operator: &str, first: &Operand, second: &Operand, resolver: &mut Resolver) {
    if let (Operand::Path(one), Operand::Path(two)) = (first, second)
        && one == two
    {
        let message = format!(
            "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {}",
            one.listed()
        );
        resolver.report(Problem::DistinctOperands, message);
    }
}

/// Constant `BETWEEN` bounds must have one type and be in order.
fn check_between_bounds(low: &Operand, high: &Operand, resolver: &mut Resolver) {
    let (Operand::Value(low), Operand::Value(high)) = (low, high) else {
        return;
    };
    let problem = if low.value_type() != high.value_type() {
        "requires same data type for lower and upper bounds"
    } else if low.compare_scalar(high) == Some(std::cmp::Ordering::Greater) {
        "requires upper bound to be greater than or equal to lower bound"
    } else {
        return;
    };
    let message = format!(
        "The BETWEEN operator {problem}; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
        describe(low),
        describe(high)
    );
    resolver.report(Problem::OperandType, message);
}

/// A value as DynamoDB shows it in messages: `{N:10}`, `{S:abc}`.
fn describe(value: &AttributeValue) -> String {
    let json = value.to_json();
    let body = &json[value.type_name()];
    let text = body.as_str().map_or_else(|| body.to_string(), str::to_string);
    format!("{{{}:{text}}}", value.type_name())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::context::ExpressionContext;

    fn context() -> ExpressionContext {
        let values = json!({
            ":s": {"S": "x"}, ":n": {"N": "1"}, ":ten": {"N": "10"}, ":t": {"S": "N"}, ":bad": {"S": "Z"}, ":l": {"L": []}
        });
        ExpressionContext::from_json(Some(&json!({"#a": "a"})), Some(&values)).unwrap()
    }

    fn parse(expression: &str) -> Condition {
        context()
            .parse_condition(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    fn error(expression: &str) -> String {
        let message = context().parse_condition(expression).expect_err(expression).message().to_string();
        message
            .strip_prefix("Invalid ConditionExpression: ")
            .unwrap_or(&message)
            .to_string()
    }

    #[test]
    fn builds_typed_conditions_with_substituted_names() {
        let parsed = parse("#a.b = :s AND attribute_exists(c[1])");
        let expected = Condition::And(
            Box::new(Condition::Compare {
                comparator: Comparator::Eq,
                left: Operand::Path(DocumentPath::new("a").field("b")),
                right: Operand::Value("x".into()),
            }),
            Box::new(Condition::AttributeExists(DocumentPath::new("c").index(1))),
        );
        assert_eq!(parsed, expected);
        assert_eq!(parse("size(a) > :n").paths(), vec![&DocumentPath::new("a")]);
        assert!(matches!(
            parse("attribute_type(a, :t)"),
            Condition::AttributeType {
                value_type: ValueType::N,
                ..
            }
        ));
    }

    #[test]
    fn rejects_unknown_and_misplaced_functions() {
        assert_eq!(error("foo(a)"), "Invalid function name; function: foo");
        assert_eq!(error("Attribute_Exists(a)"), "Invalid function name; function: Attribute_Exists");
        assert_eq!(
            error("attribute_exists(a) = :s"),
            "The function is not allowed to be used this way in an expression; function: attribute_exists"
        );
        assert_eq!(
            error("size(a)"),
            "The function is not allowed to be used this way in an expression; function: size"
        );
        assert_eq!(
            error("begins_with(contains(a, :s), :s)"),
            "The function is not allowed to be used this way in an expression; function: contains"
        );
    }

    #[test]
    fn checks_operand_counts_and_types() {
        assert_eq!(
            error("attribute_exists(a, b)"),
            "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"
        );
        assert_eq!(
            error("attribute_exists(:s)"),
            "Operator or function requires a document path; operator or function: attribute_exists"
        );
        assert_eq!(
            error("begins_with(a, :n)"),
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
        );
        assert_eq!(
            error("size(:n) > :n"),
            "Incorrect operand type for operator or function; operator or function: size, operand type: N"
        );
        assert_eq!(
            error("attribute_type(a, :n)"),
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"
        );
        assert_eq!(
            error("attribute_type(a, b)"),
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
        );
        assert_eq!(
            error("attribute_type(a, :bad)"),
            "Invalid attribute type name found; type: Z, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
        );
    }

    #[test]
    fn rejects_comparing_a_path_with_itself() {
        assert_eq!(
            error("a.b = a.b"),
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a, b]"
        );
        assert_eq!(
            error("contains(#a, a)"),
            "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a]"
        );
    }

    #[test]
    fn checks_constant_between_bounds() {
        assert_eq!(
            error("a BETWEEN :ten AND :n"),
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}"
        );
        assert_eq!(
            error("a BETWEEN :s AND :n"),
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {S:x}, upper bound operand: AttributeValue: {N:1}"
        );
        assert!(matches!(parse("a BETWEEN :n AND :ten"), Condition::Between { .. }));
    }

    #[test]
    fn rejects_redundant_parentheses_before_other_problems() {
        assert_eq!(error("((a = :s))"), "The expression has redundant parentheses;");
        assert_eq!(error("((foo(a)))"), "The expression has redundant parentheses;");
        assert!(matches!(parse("(a = :s) AND (b = :n)"), Condition::And(..)));
    }

    #[test]
    fn unknown_functions_outrank_reserved_words_and_undefined_values() {
        assert_eq!(error("status = :missing AND foo(a)"), "Invalid function name; function: foo");
        assert_eq!(
            error("status = :missing"),
            "Attribute name is a reserved keyword; reserved keyword: status"
        );
    }
}
