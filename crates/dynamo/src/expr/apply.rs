//! Applying an [`UpdateExpression`] to an item, with DynamoDB's semantics.
//!
//! Every SET value is computed from the item as it was before the update.
//! SET, ADD and DELETE then run in expression order; REMOVEs run last, deepest
//! and highest list index first, so `REMOVE l[1], l[3]` removes the elements
//! that were at indexes 1 and 3. SET on a list index past the end appends.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use super::path::{DocumentPath, PathElement};
use super::update::{SetValue, UpdateAction, UpdateExpression};
use crate::error::Error;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

const INVALID_PATH: &str = "The document path provided in the update expression is invalid for update";
const INCORRECT_TYPE: &str = "An operand in the update expression has an incorrect data type";
const MISSING_ATTRIBUTE: &str = "The provided expression refers to an attribute that does not exist in the item";

impl UpdateExpression {
    /// The item after this update. For an item that does not exist yet, pass
    /// its key attributes. The caller checks the result's size and keys.
    pub fn apply(&self, item: &Item) -> Result<Item, Error> {
        let set_values = self
            .actions()
            .iter()
            .map(|action| match action {
                UpdateAction::Set { value, .. } => value.evaluate(item).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut updated = item.clone();
        for (action, set_value) in self.actions().iter().zip(set_values) {
            match (action, set_value) {
                (UpdateAction::Set { path, .. }, Some(value)) => Slot::locate(&mut updated, path)?.put(value),
                (UpdateAction::Add { path, value }, _) => add(Slot::locate(&mut updated, path)?, value)?,
                (UpdateAction::Delete { path, value }, _) => delete(Slot::locate(&mut updated, path)?, value)?,
                _ => {}
            }
        }
        let mut removals: Vec<&DocumentPath> = self
            .actions()
            .iter()
            .filter_map(|action| match action {
                UpdateAction::Remove { path } => Some(path),
                _ => None,
            })
            .collect();
        removals.sort_by(|a, b| b.cmp(a));
        for path in removals {
            Slot::locate(&mut updated, path)?.take();
        }
        Ok(updated)
    }
}

impl SetValue {
    /// The value this operand yields for `item`.
    pub fn evaluate(&self, item: &Item) -> Result<AttributeValue, Error> {
        match self {
            SetValue::Path(path) => path.resolve(item).cloned().ok_or_else(|| Error::validation(MISSING_ATTRIBUTE)),
            SetValue::Value(value) => Ok(value.clone()),
            SetValue::IfNotExists(path, fallback) => path
                .resolve(item)
                .map_or_else(|| fallback.evaluate(item), |value| Ok(value.clone())),
            SetValue::ListAppend(first, second) => {
                let mut list = list_operand(first, item)?;
                list.extend(list_operand(second, item)?);
                Ok(AttributeValue::L(list))
            }
            SetValue::Plus(left, right) => Ok(AttributeValue::N(
                number_operand(left, item)?.checked_add(&number_operand(right, item)?)?,
            )),
            SetValue::Minus(left, right) => Ok(AttributeValue::N(
                number_operand(left, item)?.checked_sub(&number_operand(right, item)?)?,
            )),
        }
    }
}

fn number_operand(operand: &SetValue, item: &Item) -> Result<Number, Error> {
    match operand.evaluate(item)? {
        AttributeValue::N(number) => Ok(number),
        _ => Err(Error::validation(INCORRECT_TYPE)),
    }
}

fn list_operand(operand: &SetValue, item: &Item) -> Result<Vec<AttributeValue>, Error> {
    match operand.evaluate(item)? {
        AttributeValue::L(list) => Ok(list),
        _ => Err(Error::validation(INCORRECT_TYPE)),
    }
}

/// ADD: sum numbers, or union sets; creates the attribute if missing.
fn add(slot: Slot, operand: &AttributeValue) -> Result<(), Error> {
    let sum = match (slot.get(), operand) {
        (None, operand) => operand.clone(),
        (Some(AttributeValue::N(current)), AttributeValue::N(increment)) => AttributeValue::N(current.checked_add(increment)?),
        (Some(current), operand) => combine_sets(current, operand, SetOperation::Union).ok_or_else(|| Error::validation(INCORRECT_TYPE))?,
    };
    slot.put(sum);
    Ok(())
}

/// DELETE: remove set elements; removes the attribute when the set empties.
fn delete(slot: Slot, operand: &AttributeValue) -> Result<(), Error> {
    let Some(current) = slot.get() else {
        return Ok(());
    };
    let remaining = combine_sets(current, operand, SetOperation::Difference).ok_or_else(|| Error::validation(INCORRECT_TYPE))?;
    if is_empty_set(&remaining) {
        slot.take();
    } else {
        slot.put(remaining);
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum SetOperation {
    Union,
    Difference,
}

impl SetOperation {
    fn apply<T: Clone + Eq + Hash>(self, current: &[T], operand: &[T]) -> Vec<T> {
        let operand_members: HashSet<&T> = operand.iter().collect();
        match self {
            SetOperation::Union => {
                let current_members: HashSet<&T> = current.iter().collect();
                current
                    .iter()
                    .chain(operand.iter().filter(|element| !current_members.contains(element)))
                    .cloned()
                    .collect()
            }
            SetOperation::Difference => current
                .iter()
                .filter(|element| !operand_members.contains(element))
                .cloned()
                .collect(),
        }
    }
}

/// `current` combined with `operand`, if both are sets of the same type.
fn combine_sets(current: &AttributeValue, operand: &AttributeValue, operation: SetOperation) -> Option<AttributeValue> {
    match (current, operand) {
        (AttributeValue::SS(current), AttributeValue::SS(operand)) => Some(AttributeValue::SS(operation.apply(current, operand))),
        (AttributeValue::NS(current), AttributeValue::NS(operand)) => Some(AttributeValue::NS(operation.apply(current, operand))),
        (AttributeValue::BS(current), AttributeValue::BS(operand)) => Some(AttributeValue::BS(operation.apply(current, operand))),
        _ => None,
    }
}

fn is_empty_set(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::SS(set) => set.is_empty(),
        AttributeValue::NS(set) => set.is_empty(),
        AttributeValue::BS(set) => set.is_empty(),
        _ => false,
    }
}

/// Where a document path's last element lives inside its parent container.
enum Slot<'a> {
    Key(&'a mut BTreeMap<String, AttributeValue>, &'a str),
    Index(&'a mut Vec<AttributeValue>, usize),
}

impl<'a> Slot<'a> {
    /// Finds the slot `path` names; its parent must exist and be a map (for a
    /// key) or a list (for an index).
    fn locate(item: &'a mut Item, path: &'a DocumentPath) -> Result<Slot<'a>, Error> {
        let invalid = || Error::validation(INVALID_PATH);
        let Some((PathElement::Attribute(first), rest)) = path.elements().split_first() else {
            return Err(invalid());
        };
        let Some((last, middle)) = rest.split_last() else {
            return Ok(Slot::Key(item, first));
        };
        let mut container = item.get_mut(first).ok_or_else(invalid)?;
        for element in middle {
            container = child_mut(container, element).ok_or_else(invalid)?;
        }
        Slot::within(container, last).ok_or_else(invalid)
    }

    fn within(container: &'a mut AttributeValue, last: &'a PathElement) -> Option<Slot<'a>> {
        match (container, last) {
            (AttributeValue::M(map), PathElement::Attribute(name)) => Some(Slot::Key(map, name)),
            (AttributeValue::L(list), PathElement::Index(index)) => Some(Slot::Index(list, *index)),
            _ => None,
        }
    }

    fn get(&self) -> Option<&AttributeValue> {
        match self {
            Slot::Key(map, name) => map.get(*name),
            Slot::Index(list, index) => list.get(*index),
        }
    }

    /// Stores `value`; an index past the end of a list appends.
    fn put(self, value: AttributeValue) {
        match self {
            Slot::Key(map, name) => {
                map.insert(name.to_string(), value);
            }
            Slot::Index(list, index) if index < list.len() => list[index] = value,
            Slot::Index(list, _) => list.push(value),
        }
    }

    fn take(self) {
        match self {
            Slot::Key(map, name) => {
                map.remove(name);
            }
            Slot::Index(list, index) if index < list.len() => {
                list.remove(index);
            }
            Slot::Index(..) => {}
        }
    }
}

fn child_mut<'a>(value: &'a mut AttributeValue, element: &PathElement) -> Option<&'a mut AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Attribute(name)) => map.get_mut(name),
        (AttributeValue::L(list), PathElement::Index(index)) => list.get_mut(*index),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::expr::context::ExpressionContext;
    use crate::wire::{item_from_json, item_to_json};

    fn base_item() -> Value {
        json!({
            "id": {"S": "1"},
            "hits": {"N": "5"},
            "title": {"S": "old"},
            "tags": {"SS": ["a", "b"]},
            "seq": {"L": [{"S": "l0"}, {"S": "l1"}, {"S": "l2"}, {"S": "l3"}]},
            "doc": {"M": {"leaf": {"N": "1"}, "keep": {"S": "k"}}}
        })
    }

    fn values() -> Value {
        json!({
            ":one": {"N": "1"}, ":half": {"N": "0.5"}, ":s": {"S": "new"}, ":ab": {"SS": ["a", "b"]}, ":bc": {"SS": ["b", "c"]},
            ":ns": {"NS": ["7"]}, ":more": {"L": [{"S": "m"}]}, ":zero": {"N": "0"}, ":max": {"N": "9.9999999999999999999999999999999999999E+125"}
        })
    }

    fn apply(expression: &str, item: Value) -> Result<Value, String> {
        let mut context = ExpressionContext::from_json(Some(&json!({"#n": "title"})), Some(&values())).unwrap();
        let update = context
            .parse_update(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"));
        let item = item_from_json(&item).unwrap();
        update
            .apply(&item)
            .map(|updated| item_to_json(&updated))
            .map_err(|error| error.message().to_string())
    }

    fn attribute(expression: &str, title: &str) -> Value {
        apply(expression, base_item()).unwrap()[title].clone()
    }

    #[test]
    fn set_supports_arithmetic_and_functions() {
        assert_eq!(attribute("SET #n = :s", "title"), json!({"S": "new"}));
        assert_eq!(attribute("SET hits = hits + :half", "hits"), json!({"N": "5.5"}));
        assert_eq!(attribute("SET hits = :one - hits", "hits"), json!({"N": "-4"}));
        assert_eq!(
            attribute("SET fresh = if_not_exists(fresh, :zero) + :one", "fresh"),
            json!({"N": "1"})
        );
        assert_eq!(attribute("SET hits = if_not_exists(hits, :zero)", "hits"), json!({"N": "5"}));
        assert_eq!(attribute("SET seq = list_append(seq, :more)", "seq")["L"][4], json!({"S": "m"}));
        assert_eq!(attribute("SET seq = list_append(:more, seq)", "seq")["L"][0], json!({"S": "m"}));
        assert_eq!(attribute("SET dup = doc.leaf", "dup"), json!({"N": "1"}));
    }

    #[test]
    fn set_values_read_the_item_before_the_update() {
        let updated = apply("SET a = hits, hits = :one", base_item()).unwrap();
        assert_eq!(
            (updated["a"].clone(), updated["hits"].clone()),
            (json!({"N": "5"}), json!({"N": "1"}))
        );
    }

    #[test]
    fn set_on_nested_paths_and_list_indexes() {
        assert_eq!(
            attribute("SET doc.leaf = :s", "doc"),
            json!({"M": {"leaf": {"S": "new"}, "keep": {"S": "k"}}})
        );
        assert_eq!(attribute("SET seq[1] = :s", "seq")["L"][1], json!({"S": "new"}));
        assert_eq!(attribute("SET seq[99] = :s", "seq")["L"][4], json!({"S": "new"}));
        assert_eq!(apply("SET nothing.leaf = :s", base_item()).unwrap_err(), INVALID_PATH);
        assert_eq!(apply("SET title[0] = :s", base_item()).unwrap_err(), INVALID_PATH);
        assert_eq!(apply("SET doc[0] = :s", base_item()).unwrap_err(), INVALID_PATH);
    }

    #[test]
    fn remove_deletes_attributes_and_original_list_positions() {
        let updated = apply("REMOVE seq[1], seq[3], title, absent", base_item()).unwrap();
        assert_eq!(updated["seq"], json!({"L": [{"S": "l0"}, {"S": "l2"}]}));
        assert!(updated.get("title").is_none());
        assert_eq!(attribute("REMOVE doc.leaf, seq[9]", "doc"), json!({"M": {"keep": {"S": "k"}}}));
    }

    #[test]
    fn add_sums_numbers_and_unions_sets() {
        assert_eq!(attribute("ADD hits :one", "hits"), json!({"N": "6"}));
        assert_eq!(attribute("ADD fresh :one", "fresh"), json!({"N": "1"}));
        assert_eq!(attribute("ADD tags :bc", "tags"), json!({"SS": ["a", "b", "c"]}));
        assert_eq!(attribute("ADD nums :ns", "nums"), json!({"NS": ["7"]}));
    }

    #[test]
    fn delete_removes_set_elements_and_empty_sets() {
        assert_eq!(attribute("DELETE tags :bc", "tags"), json!({"SS": ["a"]}));
        assert!(apply("DELETE tags :ab", base_item()).unwrap().get("tags").is_none());
        assert!(apply("DELETE absent :ab", base_item()).unwrap().get("absent").is_none());
    }

    #[test]
    fn type_mismatches_use_dynamodb_messages() {
        for expression in [
            "SET a = title + :one",
            "SET a = list_append(title, :more)",
            "ADD title :one",
            "ADD tags :ns",
            "DELETE title :ab",
        ] {
            assert_eq!(apply(expression, base_item()).unwrap_err(), INCORRECT_TYPE, "{expression}");
        }
        assert_eq!(apply("SET a = absent", base_item()).unwrap_err(), MISSING_ATTRIBUTE);
        assert_eq!(apply("SET a = absent + :one", base_item()).unwrap_err(), MISSING_ATTRIBUTE);
        assert!(
            apply("SET hits = :max + :max", base_item())
                .unwrap_err()
                .starts_with("Number overflow")
        );
    }

    #[test]
    fn new_items_start_from_their_key() {
        let updated = apply("SET a = :s ADD n :one", json!({"id": {"S": "k"}})).unwrap();
        assert_eq!(updated, json!({"id": {"S": "k"}, "a": {"S": "new"}, "n": {"N": "1"}}));
    }
}
