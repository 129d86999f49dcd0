//! Prints parsed DynamoDB expressions back to expression text, every name and
//! value through a placeholder, with the fewest parentheses that keep the tree
//! (DynamoDB refuses redundant ones). The targets parse the printed text again
//! and require the same expression: the parser and the builder agree with the
//! typed trees they produce.

use std::collections::BTreeMap;
use std::fmt::Debug;

use tandem_dynamo::expr::update::SetValue;
use tandem_dynamo::{
    AttributeValue, Condition, DocumentPath, Error, ExpressionContext, KeyCondition, Operand, PathElement, Projection, RangeCondition,
    UpdateAction, UpdateExpression,
};

/// Longest printed expression that is parsed again (DynamoDB's limit is 4 KB).
const MAX_PRINTED: usize = 4096;

/// The placeholders a printed expression uses.
#[derive(Default)]
pub struct Placeholders {
    names: BTreeMap<String, String>,
    by_name: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
}

impl Placeholders {
    fn name(&mut self, name: &str) -> String {
        if let Some(p) = self.by_name.get(name) {
            return p.clone();
        }
        let p = format!("#n{}", self.by_name.len());
        self.by_name.insert(name.to_string(), p.clone());
        self.names.insert(p.clone(), name.to_string());
        p
    }

    fn value(&mut self, value: &AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), value.clone());
        p
    }

    /// A context holding exactly these placeholders.
    pub fn context(self) -> ExpressionContext {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        ExpressionContext::new(names, values).expect("printed placeholders are well formed")
    }

    fn path(&mut self, path: &DocumentPath) -> String {
        let mut out = String::new();
        for element in path.elements() {
            match element {
                PathElement::Attribute(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&self.name(name));
                }
                PathElement::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn operand(&mut self, operand: &Operand) -> String {
        match operand {
            Operand::Path(path) => self.path(path),
            Operand::Value(value) => self.value(value),
            Operand::Size(inner) => format!("size({})", self.operand(inner)),
        }
    }

    fn call(&mut self, function: &str, args: &[&Operand]) -> String {
        let args: Vec<String> = args.iter().map(|a| self.operand(a)).collect();
        format!("{function}({})", args.join(", "))
    }

    /// `condition` as text; `context` is the binding strength around it
    /// (0 = OR, 1 = AND, 2 = NOT, 3 = an operand of nothing).
    fn condition(&mut self, condition: &Condition, context: u8) -> String {
        let (level, text) = match condition {
            Condition::Or(a, b) => (0, format!("{} OR {}", self.condition(a, 0), self.condition(b, 1))),
            Condition::And(a, b) => (1, format!("{} AND {}", self.condition(a, 1), self.condition(b, 2))),
            Condition::Not(a) => (2, format!("NOT {}", self.condition(a, 2))),
            Condition::Compare { comparator, left, right } => {
                (3, format!("{} {} {}", self.operand(left), comparator.symbol(), self.operand(right)))
            }
            Condition::Between { operand, low, high } => (
                3,
                format!("{} BETWEEN {} AND {}", self.operand(operand), self.operand(low), self.operand(high)),
            ),
            Condition::In { operand, candidates } => {
                let list: Vec<String> = candidates.iter().map(|c| self.operand(c)).collect();
                (3, format!("{} IN ({})", self.operand(operand), list.join(", ")))
            }
            Condition::AttributeExists(path) => (3, format!("attribute_exists({})", self.path(path))),
            Condition::AttributeNotExists(path) => (3, format!("attribute_not_exists({})", self.path(path))),
            Condition::AttributeType { operand, value_type } => {
                let o = self.operand(operand);
                let t = self.value(&AttributeValue::S(value_type.as_str().to_string()));
                (3, format!("attribute_type({o}, {t})"))
            }
            Condition::BeginsWith { operand, prefix } => (3, self.call("begins_with", &[operand, prefix])),
            Condition::Contains { operand, element } => (3, self.call("contains", &[operand, element])),
        };
        if level < context { format!("({text})") } else { text }
    }

    fn set_value(&mut self, value: &SetValue) -> String {
        match value {
            SetValue::Path(path) => self.path(path),
            SetValue::Value(value) => self.value(value),
            SetValue::IfNotExists(path, fallback) => format!("if_not_exists({}, {})", self.path(path), self.set_value(fallback)),
            SetValue::ListAppend(a, b) => format!("list_append({}, {})", self.set_value(a), self.set_value(b)),
            SetValue::Plus(a, b) => format!("{} + {}", self.set_value(a), self.set_value(b)),
            SetValue::Minus(a, b) => format!("{} - {}", self.set_value(a), self.set_value(b)),
        }
    }

    fn action(&mut self, action: &UpdateAction) -> (&'static str, String) {
        match action {
            UpdateAction::Set { path, value } => ("SET", format!("{} = {}", self.path(path), self.set_value(value))),
            UpdateAction::Remove { path } => ("REMOVE", self.path(path)),
            UpdateAction::Add { path, value } => ("ADD", format!("{} {}", self.path(path), self.value(value))),
            UpdateAction::Delete { path, value } => ("DELETE", format!("{} {}", self.path(path), self.value(value))),
        }
    }
}

/// A condition (or filter) as text, and its placeholders.
pub fn condition(condition: &Condition) -> (String, Placeholders) {
    let mut p = Placeholders::default();
    let text = p.condition(condition, 0);
    (text, p)
}

/// An update expression as text: consecutive actions of one kind form a clause.
pub fn update(update: &UpdateExpression) -> (String, Placeholders) {
    let mut p = Placeholders::default();
    let mut text = String::new();
    let mut clause = "";
    for action in update.actions() {
        let (keyword, printed) = p.action(action);
        if keyword == clause {
            text.push_str(", ");
        } else {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(keyword);
            text.push(' ');
            clause = keyword;
        }
        text.push_str(&printed);
    }
    (text, p)
}

/// A projection as text.
pub fn projection(projection: &Projection) -> (String, Placeholders) {
    let mut p = Placeholders::default();
    let paths: Vec<String> = projection.paths().iter().map(|path| p.path(path)).collect();
    (paths.join(", "), p)
}

/// A key condition as text.
pub fn key_condition(key: &KeyCondition) -> (String, Placeholders) {
    let mut p = Placeholders::default();
    let mut text = format!("{} = {}", p.name(&key.hash_key), p.value(&key.hash_value));
    if let Some(range) = &key.range {
        let name = p.name(&range.key);
        let compare = |p: &mut Placeholders, op: &str, v: &AttributeValue| format!("{name} {op} {}", p.value(v));
        let printed = match &range.condition {
            RangeCondition::Eq(v) => compare(&mut p, "=", v),
            RangeCondition::Lt(v) => compare(&mut p, "<", v),
            RangeCondition::Le(v) => compare(&mut p, "<=", v),
            RangeCondition::Gt(v) => compare(&mut p, ">", v),
            RangeCondition::Ge(v) => compare(&mut p, ">=", v),
            RangeCondition::Between(low, high) => format!("{name} BETWEEN {} AND {}", p.value(low), p.value(high)),
            RangeCondition::BeginsWith(prefix) => format!("begins_with({name}, {})", p.value(prefix)),
        };
        text.push_str(" AND ");
        text.push_str(&printed);
    }
    (text, p)
}

/// Parses `printed` again with its placeholders and panics unless it gives
/// back `original` and uses every placeholder. Printed texts over 4 KB are
/// skipped: the placeholders may make a valid expression longer than the limit.
pub fn assert_reparses<T: PartialEq + Debug>(
    original: &T,
    (printed, placeholders): (String, Placeholders),
    parse: impl FnOnce(&mut ExpressionContext, &str) -> Result<T, Error>,
) {
    if printed.len() > MAX_PRINTED {
        return;
    }
    let mut context = placeholders.context();
    match parse(&mut context, &printed) {
        Ok(again) => assert_eq!(&again, original, "printed as {printed:?}, it parses to something else"),
        Err(e) => panic!("printed as {printed:?}, the expression is refused: {e}"),
    }
    if let Err(e) = context.check_all_used() {
        panic!("printed as {printed:?}: {e}");
    }
}
