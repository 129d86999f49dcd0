//! ProjectionExpression: which attributes (or nested parts of them) a read
//! returns. Projecting keeps the nesting of each path, as DynamoDB does:
//! `a.b` yields `{a: {b: …}}`, and list elements keep their relative order
//! (`l[3], l[1]` yields `{l: [l1, l3]}`).

use std::collections::BTreeMap;

use super::context::Resolver;
use super::parser::{self, SyntaxError};
use super::path::{DocumentPath, PathElement};
use crate::value::{AttributeValue, Item};

/// The paths a read returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<DocumentPath>,
}

impl Projection {
    /// A projection of these paths (for example from legacy AttributesToGet).
    pub fn new(paths: Vec<DocumentPath>) -> Self {
        Self { paths }
    }

    /// The projected paths, in expression order.
    pub fn paths(&self) -> &[DocumentPath] {
        &self.paths
    }

    /// The parts of `item` this projection selects; missing paths are skipped.
    pub fn apply(&self, item: &Item) -> Item {
        let mut root = BTreeMap::new();
        for path in &self.paths {
            if let (Some(value), [PathElement::Attribute(name), rest @ ..]) = (path.resolve(item), path.elements()) {
                insert_projected(root.entry(name.clone()).or_insert(Node::Empty), rest, value);
            }
        }
        root.into_iter()
            .filter_map(|(name, node)| Some((name, node.into_value()?)))
            .collect()
    }
}

/// A partially built projection of one value.
enum Node {
    Empty,
    Whole(AttributeValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> Option<AttributeValue> {
        match self {
            Node::Empty => None,
            Node::Whole(value) => Some(value),
            Node::Map(entries) => Some(AttributeValue::M(
                entries
                    .into_iter()
                    .filter_map(|(key, node)| Some((key, node.into_value()?)))
                    .collect(),
            )),
            Node::List(elements) => Some(AttributeValue::L(elements.into_values().filter_map(Node::into_value).collect())),
        }
    }
}

/// Records `value` at `rest` below `node`, creating containers on the way.
fn insert_projected(node: &mut Node, rest: &[PathElement], value: &AttributeValue) {
    let Some((element, deeper)) = rest.split_first() else {
        *node = Node::Whole(value.clone());
        return;
    };
    if matches!(node, Node::Empty) {
        *node = match element {
            PathElement::Attribute(_) => Node::Map(BTreeMap::new()),
            PathElement::Index(_) => Node::List(BTreeMap::new()),
        };
    }
    let next = match (node, element) {
        (Node::Map(entries), PathElement::Attribute(key)) => entries.entry(key.clone()).or_insert(Node::Empty),
        (Node::List(elements), PathElement::Index(index)) => elements.entry(*index).or_insert(Node::Empty),
        _ => return,
    };
    insert_projected(next, deeper, value);
}

/// Parses and builds a projection, rejecting overlapping or conflicting paths.
pub(crate) fn build(source: &str, resolver: &mut Resolver) -> Result<Projection, SyntaxError> {
    let paths: Vec<DocumentPath> = parser::parse_projection(source)?.iter().map(|path| resolver.path(path)).collect();
    resolver.report_path_clashes(&paths.iter().collect::<Vec<_>>());
    Ok(Projection { paths })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::context::ExpressionContext;
    use crate::wire::{item_from_json, item_to_json};

    fn project(expression: &str, item: serde_json::Value) -> serde_json::Value {
        let mut context = ExpressionContext::from_json(Some(&json!({"#s": "status"})), None).unwrap();
        let projection = context
            .parse_projection(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"));
        item_to_json(&projection.apply(&item_from_json(&item).unwrap()))
    }

    fn error(expression: &str) -> String {
        ExpressionContext::default()
            .parse_projection(expression)
            .unwrap_err()
            .message()
            .to_string()
    }

    #[test]
    fn keeps_only_projected_top_level_attributes() {
        let item = json!({"a": {"S": "1"}, "b": {"N": "2"}, "status": {"S": "ok"}});
        assert_eq!(project("a, #s, absent", item), json!({"a": {"S": "1"}, "status": {"S": "ok"}}));
    }

    #[test]
    fn nested_paths_keep_their_structure() {
        let item = json!({"m": {"M": {"x": {"N": "1"}, "y": {"N": "2"}, "z": {"M": {"deep": {"S": "d"}, "other": {"S": "o"}}}}}});
        assert_eq!(
            project("m.x, m.z.deep", item),
            json!({"m": {"M": {"x": {"N": "1"}, "z": {"M": {"deep": {"S": "d"}}}}}})
        );
    }

    #[test]
    fn list_elements_are_compacted_in_index_order() {
        let item = json!({"l": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}, {"M": {"k": {"S": "3k"}, "j": {"S": "3j"}}}]}});
        assert_eq!(
            project("l[3].k, l[1], l[9]", item),
            json!({"l": {"L": [{"S": "1"}, {"M": {"k": {"S": "3k"}}}]}})
        );
    }

    #[test]
    fn paths_into_missing_or_wrongly_typed_values_are_skipped() {
        let item = json!({"a": {"S": "x"}, "l": {"L": []}});
        assert_eq!(project("a.b, l[0], nothing.here", item.clone()), json!({}));
        assert_eq!(project("a[0]", item), json!({}));
    }

    #[test]
    fn rejects_overlapping_and_conflicting_paths() {
        assert_eq!(
            error("a, a.b"),
            "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
        assert_eq!(
            error("a.b, a[0]"),
            "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]"
        );
        assert_eq!(
            error("a, #x"),
            "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
        );
    }

    #[test]
    fn projections_can_be_built_from_paths() {
        let projection = Projection::new(vec![DocumentPath::new("id")]);
        let item = Item::from([
            ("id".to_string(), AttributeValue::from("1")),
            ("x".to_string(), AttributeValue::NULL),
        ]);
        assert_eq!(projection.apply(&item).len(), 1);
        assert_eq!(projection.paths().len(), 1);
    }
}
