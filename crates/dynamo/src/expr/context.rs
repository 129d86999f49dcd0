//! [`ExpressionContext`]: a request's ExpressionAttributeNames and
//! ExpressionAttributeValues, the entry point for parsing its expressions,
//! and the record of which placeholders they used.
//!
//! Also the crate-internal `Resolver` the expression builders use to
//! substitute placeholders and record semantic problems.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ExpressionKind;
use super::ast::{PathAst, StepAst};
use super::condition::{self, Condition};
use super::key_condition::{self, KeyCondition};
use super::operators;
use super::parser::SyntaxError;
use super::path::{DocumentPath, PathClash, PathElement};
use super::problems::{Problem, Problems};
use super::projection::{self, Projection};
use super::reserved::is_reserved;
use super::update::{self, UpdateExpression};
use crate::error::{Error, ErrorKind};
use crate::value::AttributeValue;

const NAMES: &str = "ExpressionAttributeNames";
const VALUES: &str = "ExpressionAttributeValues";
/// Longest expression DynamoDB accepts, in bytes ("Expression parameters":
/// 4 KB). Checked before any parsing, so parse work is bounded by it.
pub const MAX_EXPRESSION_BYTES: usize = 4 * 1024;
/// Longest placeholder (`#name`, `:value`), in bytes.
pub const MAX_PLACEHOLDER_BYTES: usize = 255;
/// Most bytes of all substitutions of a request together: every
/// ExpressionAttributeNames key and name, every ExpressionAttributeValues key
/// and value ("Expression parameters": 2 MB).
pub const MAX_SUBSTITUTION_BYTES: usize = 2 * 1024 * 1024;

/// The placeholders of one request, shared by all its expressions.
///
/// Parse each expression the request carries with the matching `parse_*`
/// method, then call [`ExpressionContext::check_all_used`]; DynamoDB rejects
/// placeholders that no expression uses. DynamoDB validates a request's
/// expressions in the order Update, Condition, KeyCondition, Filter,
/// Projection, and reports the first error.
#[derive(Clone, Debug, Default)]
pub struct ExpressionContext {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl ExpressionContext {
    /// A context from already-parsed maps; `None` means the parameter was
    /// absent. Rejects empty maps and malformed keys as DynamoDB does.
    pub fn new(names: Option<BTreeMap<String, String>>, values: Option<BTreeMap<String, AttributeValue>>) -> Result<Self, Error> {
        check_placeholder_keys(NAMES, '#', names.as_ref().map(|names| names.keys()))?;
        check_placeholder_keys(VALUES, ':', values.as_ref().map(|values| values.keys()))?;
        let names_bytes = names.iter().flatten().map(|(k, v)| k.len() + v.len());
        let values_bytes = values.iter().flatten().map(|(k, v)| k.len() + v.size_bytes());
        let total: usize = names_bytes.chain(values_bytes).sum();
        if total > MAX_SUBSTITUTION_BYTES {
            return Err(Error::validation(format!(
                "Expression attribute names and values together have exceeded the maximum allowed size; \
                 size: {total}, limit: {MAX_SUBSTITUTION_BYTES}"
            )));
        }
        Ok(Self {
            names: names.unwrap_or_default(),
            values: values.unwrap_or_default(),
            ..Self::default()
        })
    }

    /// A context from the request's JSON members (`None` when absent),
    /// validating each value like an item attribute.
    pub fn from_json(names: Option<&Value>, values: Option<&Value>) -> Result<Self, Error> {
        let names = names.map(parse_names).transpose()?;
        check_placeholder_keys(NAMES, '#', names.as_ref().map(|names| names.keys()))?;
        let values = values
            .map(|values| object_members(values, "com.amazonaws.dynamodb.v20120810.AttributeValue"))
            .transpose()?;
        check_placeholder_keys(VALUES, ':', values.map(|values| values.keys()))?;
        let values = values.map(parse_values).transpose()?;
        Self::new(names, values)
    }

    /// Parses a ConditionExpression (PutItem, UpdateItem, DeleteItem, transactions).
    pub fn parse_condition(&mut self, expression: &str) -> Result<Condition, Error> {
        let built = self.build(ExpressionKind::Condition, expression, condition::build)?;
        operators::check(ExpressionKind::Condition, built.operator_count())?;
        Ok(built)
    }

    /// Parses a FilterExpression (Query, Scan).
    pub fn parse_filter(&mut self, expression: &str) -> Result<Condition, Error> {
        let built = self.build(ExpressionKind::Filter, expression, condition::build)?;
        operators::check(ExpressionKind::Filter, built.operator_count())?;
        Ok(built)
    }

    /// Parses a Query's KeyConditionExpression against the key schema of the
    /// table or index queried.
    pub fn parse_key_condition(&mut self, expression: &str, hash_key: &str, range_key: Option<&str>) -> Result<KeyCondition, Error> {
        let condition = self.build(ExpressionKind::KeyCondition, expression, condition::build)?;
        key_condition::from_condition(&condition, hash_key, range_key)
    }

    /// Parses an UpdateExpression.
    pub fn parse_update(&mut self, expression: &str) -> Result<UpdateExpression, Error> {
        let built = self.build(ExpressionKind::Update, expression, update::build)?;
        operators::check(ExpressionKind::Update, built.operator_count())?;
        Ok(built)
    }

    /// Parses a ProjectionExpression.
    pub fn parse_projection(&mut self, expression: &str) -> Result<Projection, Error> {
        self.build(ExpressionKind::Projection, expression, projection::build)
    }

    /// Fails if some name or value placeholder was used by no expression
    /// parsed so far (names are checked first).
    pub fn check_all_used(&self) -> Result<(), Error> {
        for (parameter, unused) in [(NAMES, self.unused_names()), (VALUES, self.unused_values())] {
            if !unused.is_empty() {
                return Err(Error::validation(format!(
                    "Value provided in {parameter} unused in expressions: keys: {{{}}}",
                    unused.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Name placeholders no parsed expression used, sorted.
    pub fn unused_names(&self) -> Vec<&str> {
        self.names
            .keys()
            .filter(|name| !self.used_names.contains(*name))
            .map(String::as_str)
            .collect()
    }

    /// Value placeholders no parsed expression used, sorted.
    pub fn unused_values(&self) -> Vec<&str> {
        self.values
            .keys()
            .filter(|value| !self.used_values.contains(*value))
            .map(String::as_str)
            .collect()
    }

    /// Parses and builds one expression, reporting errors with its kind.
    fn build<T>(&mut self, kind: ExpressionKind, expression: &str, builder: Builder<T>) -> Result<T, Error> {
        if expression.is_empty() {
            return Err(kind.error("The expression can not be empty;"));
        }
        if expression.len() > MAX_EXPRESSION_BYTES {
            return Err(kind.error(&format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                expression.len()
            )));
        }
        let mut resolver = Resolver {
            context: self,
            problems: Problems::new(kind),
        };
        let built = builder(expression, &mut resolver).map_err(|syntax| kind.error(&syntax.message()))?;
        match resolver.problems.most_important() {
            Some(message) => Err(kind.error(&message)),
            None => Ok(built),
        }
    }
}

/// Parses expression text and builds a typed expression with a [`Resolver`].
pub(crate) type Builder<T> = fn(&str, &mut Resolver) -> Result<T, SyntaxError>;

/// Substitutes placeholders for the expression builders and collects problems.
pub(crate) struct Resolver<'c> {
    context: &'c mut ExpressionContext,
    problems: Problems,
}

impl Resolver<'_> {
    /// Records a semantic problem; the most important one is reported.
    pub fn report(&mut self, problem: Problem, message: String) {
        self.problems.report(problem, message);
    }

    /// Resolves a written path: substitutes `#name`s and checks reserved words.
    pub fn path(&mut self, path: &PathAst) -> DocumentPath {
        DocumentPath::from_elements(path.steps.iter().map(|step| self.path_element(step)).collect())
    }

    /// Reports the first overlapping and the first conflicting pair of `paths`.
    pub fn report_path_clashes(&mut self, paths: &[&DocumentPath]) {
        for (clash, problem) in [
            (PathClash::Overlap, Problem::PathOverlap),
            (PathClash::Conflict, Problem::PathConflict),
        ] {
            if let Some((one, two)) = clash.first_pair(paths) {
                self.report(problem, clash.message(one, two));
            }
        }
    }

    /// The value of a `:value` placeholder, or `None` (and a problem) if undefined.
    pub fn value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        match self.context.values.get(placeholder) {
            Some(value) => {
                self.context.used_values.insert(placeholder.to_string());
                Some(value.clone())
            }
            None => {
                let message = format!("An expression attribute value used in expression is not defined; attribute value: {placeholder}");
                self.report(Problem::UndefinedValue, message);
                None
            }
        }
    }

    fn path_element(&mut self, step: &StepAst) -> PathElement {
        match step {
            StepAst::Name(name) => {
                if is_reserved(name) {
                    self.report(
                        Problem::ReservedWord,
                        format!("Attribute name is a reserved keyword; reserved keyword: {name}"),
                    );
                }
                PathElement::Attribute(name.clone())
            }
            StepAst::NamePlaceholder(placeholder) => PathElement::Attribute(self.name(placeholder)),
            StepAst::Index(index) => PathElement::Index(*index),
        }
    }

    fn name(&mut self, placeholder: &str) -> String {
        match self.context.names.get(placeholder) {
            Some(name) => {
                self.context.used_names.insert(placeholder.to_string());
                name.clone()
            }
            None => {
                let message =
                    format!("An expression attribute name used in the document path is not defined; attribute name: {placeholder}");
                self.report(Problem::UndefinedName, message);
                placeholder.to_string()
            }
        }
    }
}

/// Rejects an empty map or a key that is not `sigil` + `[A-Za-z0-9_]+`.
fn check_placeholder_keys<'k>(parameter: &str, sigil: char, keys: Option<impl ExactSizeIterator<Item = &'k String>>) -> Result<(), Error> {
    let Some(mut keys) = keys else {
        return Ok(());
    };
    if keys.len() == 0 {
        return Err(Error::validation(format!("{parameter} must not be empty")));
    }
    let well_formed = |key: &str| {
        key.strip_prefix(sigil)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'))
    };
    match keys.find(|key| !well_formed(key) || key.len() > MAX_PLACEHOLDER_BYTES) {
        Some(key) if key.len() > MAX_PLACEHOLDER_BYTES => Err(Error::validation(format!(
            "{parameter} contains invalid key: the key is longer than {MAX_PLACEHOLDER_BYTES} bytes; key: \"{}...\"",
            key.chars().take(16).collect::<String>()
        ))),
        Some(key) => Err(Error::validation(format!(
            "{parameter} contains invalid key: Syntax error; key: \"{key}\""
        ))),
        None => Ok(()),
    }
}

fn object_members<'v>(json: &'v Value, element_class: &str) -> Result<&'v serde_json::Map<String, Value>, Error> {
    match json {
        Value::Object(members) => Ok(members),
        Value::Array(_) => Err(Error::serialization(format!(
            "Unrecognized collection type java.util.Map<java.lang.String, {element_class}>"
        ))),
        _ => Err(Error::serialization("Unexpected field type")),
    }
}

fn parse_names(json: &Value) -> Result<BTreeMap<String, String>, Error> {
    let members = object_members(json, "java.lang.String")?;
    members
        .iter()
        .map(|(key, name)| match name {
            Value::String(name) => Ok((key.clone(), name.clone())),
            _ => Err(Error::serialization("Unexpected value type in payload")),
        })
        .collect()
}

fn parse_values(members: &serde_json::Map<String, Value>) -> Result<BTreeMap<String, AttributeValue>, Error> {
    members
        .iter()
        .map(|(key, value)| match AttributeValue::from_json(value) {
            Ok(value) => Ok((key.clone(), value)),
            Err(error) if error.kind() == ErrorKind::Serialization => Err(error),
            Err(error) => Err(Error::validation(format!(
                "{VALUES} contains invalid value: {} for key {key}",
                error.message()
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context(names: Value, values: Value) -> ExpressionContext {
        ExpressionContext::from_json(Some(&names), Some(&values)).unwrap()
    }

    fn context_error(names: Option<Value>, values: Option<Value>) -> String {
        ExpressionContext::from_json(names.as_ref(), values.as_ref())
            .unwrap_err()
            .message()
            .to_string()
    }

    #[test]
    fn placeholders_of_255_bytes_are_accepted_and_256_refused() {
        let name = |len: usize| format!("#{}", "n".repeat(len - 1));
        assert!(ExpressionContext::from_json(Some(&json!({ name(255): "a" })), None).is_ok());
        let err = context_error(Some(json!({ name(256): "a" })), None);
        assert!(err.contains("longer than 255 bytes"), "{err}");
        let err = context_error(Some(json!({ format!("#é{}", "n".repeat(300)): "a" })), None);
        assert!(err.contains("longer than 255 bytes"), "{err}");
    }

    #[test]
    fn substitutions_are_bounded_to_2_mb_in_all() {
        let values = |n: usize, len: usize| {
            let map: serde_json::Map<String, Value> = (0..n).map(|i| (format!(":v{i}"), json!({ "S": "x".repeat(len) }))).collect();
            Value::Object(map)
        };
        assert!(ExpressionContext::from_json(None, Some(&values(4, 500_000))).is_ok());
        let err = context_error(None, Some(values(5, 500_000)));
        assert!(err.contains("exceeded the maximum allowed size"), "{err}");
    }

    #[test]
    fn rejects_empty_maps_and_malformed_keys() {
        assert_eq!(context_error(Some(json!({})), None), "ExpressionAttributeNames must not be empty");
        assert_eq!(context_error(None, Some(json!({}))), "ExpressionAttributeValues must not be empty");
        assert_eq!(
            context_error(Some(json!({"a": "x"})), None),
            r#"ExpressionAttributeNames contains invalid key: Syntax error; key: "a""#
        );
        assert_eq!(
            context_error(Some(json!({"#": "x"})), None),
            r##"ExpressionAttributeNames contains invalid key: Syntax error; key: "#""##
        );
        assert_eq!(
            context_error(None, Some(json!({"b": {"S": "x"}}))),
            r#"ExpressionAttributeValues contains invalid key: Syntax error; key: "b""#
        );
    }

    #[test]
    fn wraps_invalid_values_with_their_key() {
        assert_eq!(
            context_error(None, Some(json!({":v": {"SS": []}}))),
            "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :v"
        );
        let error = ExpressionContext::from_json(None, Some(&json!({":v": {"S": 1}}))).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Serialization);
    }

    #[test]
    fn reports_unused_names_before_unused_values() {
        let mut context = context(json!({"#a": "a", "#b": "b"}), json!({":x": {"S": "x"}, ":y": {"S": "y"}}));
        context.parse_condition("#a = :x").unwrap();
        assert_eq!(
            context.check_all_used().unwrap_err().message(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
        );
        context.parse_projection("#b").unwrap();
        assert_eq!(
            context.check_all_used().unwrap_err().message(),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
        );
        context.parse_filter("b = :y").unwrap();
        assert!(context.check_all_used().is_ok());
    }

    #[test]
    fn reports_undefined_placeholders() {
        let mut context = ExpressionContext::default();
        assert_eq!(
            context.parse_update("SET a = :v").unwrap_err().message(),
            "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :v"
        );
        assert_eq!(
            context.parse_filter("#missing = :fv").unwrap_err().message(),
            "Invalid FilterExpression: An expression attribute name used in the document path is not defined; attribute name: #missing"
        );
    }

    #[test]
    fn empty_expressions_are_rejected_by_kind() {
        let mut context = ExpressionContext::default();
        assert_eq!(
            context.parse_update("").unwrap_err().message(),
            "Invalid UpdateExpression: The expression can not be empty;"
        );
        assert_eq!(
            context.parse_key_condition("", "pk", None).unwrap_err().message(),
            "Invalid KeyConditionExpression: The expression can not be empty;"
        );
    }

    #[test]
    fn reserved_words_must_be_substituted() {
        let mut context = context(json!({"#s": "status"}), json!({":v": {"S": "x"}}));
        assert_eq!(
            context.parse_condition("status = :v").unwrap_err().message(),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
        );
        assert_eq!(
            context.parse_projection("a.Name").unwrap_err().message(),
            "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: Name"
        );
        assert!(context.parse_condition("#s = :v").is_ok());
    }

    #[test]
    fn syntax_errors_carry_the_expression_kind() {
        let mut context = ExpressionContext::default();
        assert_eq!(
            context.parse_projection("a,,b").unwrap_err().message(),
            r#"Invalid ProjectionExpression: Syntax error; token: ",", near: ",,b""#
        );
    }
}
