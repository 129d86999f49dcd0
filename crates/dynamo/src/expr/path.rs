//! Document paths such as `a.b[2].c`: the resolved form of a path in an
//! expression (placeholders substituted), reading one from an item, and the
//! overlap/conflict rules between paths used by update and projection
//! expressions.

use std::collections::HashMap;
use std::fmt;

use crate::value::{AttributeValue, Item};

/// One step of a [`DocumentPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A map key (or, first, a top-level attribute name).
    Attribute(String),
    /// A list index.
    Index(usize),
}

/// A path to a value inside an item; always starts with an attribute name.
/// Ordered element by element (keys by name, indexes numerically).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentPath {
    elements: Vec<PathElement>,
}

impl DocumentPath {
    /// The path to a top-level attribute.
    pub fn new(attribute: impl Into<String>) -> Self {
        Self {
            elements: vec![PathElement::Attribute(attribute.into())],
        }
    }

    /// This path extended by a map key.
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.elements.push(PathElement::Attribute(name.into()));
        self
    }

    /// This path extended by a list index.
    pub fn index(mut self, index: usize) -> Self {
        self.elements.push(PathElement::Index(index));
        self
    }

    /// A path from its steps; the first must be an attribute name.
    pub(crate) fn from_elements(elements: Vec<PathElement>) -> Self {
        debug_assert!(matches!(elements.first(), Some(PathElement::Attribute(_))));
        Self { elements }
    }

    /// The steps, first to last.
    pub fn elements(&self) -> &[PathElement] {
        &self.elements
    }

    /// The top-level attribute this path starts at.
    pub fn attribute_name(&self) -> &str {
        match self.elements.first() {
            Some(PathElement::Attribute(name)) => name,
            _ => "",
        }
    }

    /// Whether the path names a top-level attribute only (no `.` or `[]`).
    pub fn is_top_level(&self) -> bool {
        self.elements.len() == 1
    }

    /// The value at this path in `item`, if there is one.
    pub fn resolve<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let (first, rest) = self.elements.split_first()?;
        let PathElement::Attribute(name) = first else {
            return None;
        };
        rest.iter().try_fold(item.get(name)?, |value, element| child(value, element))
    }

    /// DynamoDB's rendering in error messages: `[a, b, [2]]`.
    pub(crate) fn listed(&self) -> String {
        let parts: Vec<String> = self
            .elements
            .iter()
            .map(|element| match element {
                PathElement::Attribute(name) => name.clone(),
                PathElement::Index(index) => format!("[{index}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// The element of a map or list `value` that `element` selects.
pub(crate) fn child<'a>(value: &'a AttributeValue, element: &PathElement) -> Option<&'a AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Attribute(name)) => map.get(name),
        (AttributeValue::L(list), PathElement::Index(index)) => list.get(*index),
        _ => None,
    }
}

/// Expression syntax: `a.b[2]`.
impl fmt::Display for DocumentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, element) in self.elements.iter().enumerate() {
            match element {
                PathElement::Attribute(name) if position == 0 => f.write_str(name)?,
                PathElement::Attribute(name) => write!(f, ".{name}")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// How two paths of one expression collide, which DynamoDB rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathClash {
    /// One path is a prefix of (or equal to) the other: `a` and `a.b`.
    Overlap,
    /// The paths use a key and an index at the same place: `a.b` and `a[0]`.
    Conflict,
}

impl PathClash {
    /// How `one` and `two` collide, if they do.
    pub fn between(one: &DocumentPath, two: &DocumentPath) -> Option<PathClash> {
        for (a, b) in one.elements.iter().zip(&two.elements) {
            match (a, b) {
                (PathElement::Attribute(_), PathElement::Index(_)) | (PathElement::Index(_), PathElement::Attribute(_)) => {
                    return Some(PathClash::Conflict);
                }
                _ if a != b => return None,
                _ => {}
            }
        }
        Some(PathClash::Overlap)
    }

    /// The first pair (in expression order) of `paths` that collides this way.
    ///
    /// Only paths that start with the same attribute can collide, so each
    /// path is compared with the earlier paths of its own attribute: linear
    /// for distinct attributes instead of quadratic in the number of paths.
    pub fn first_pair<'p>(self, paths: &[&'p DocumentPath]) -> Option<(&'p DocumentPath, &'p DocumentPath)> {
        let mut earlier: HashMap<Option<&PathElement>, Vec<&'p DocumentPath>> = HashMap::new();
        for &two in paths {
            let same_start = earlier.entry(two.elements.first()).or_default();
            if let Some(&one) = same_start.iter().find(|&&one| PathClash::between(one, two) == Some(self)) {
                return Some((one, two));
            }
            same_start.push(two);
        }
        None
    }

    /// DynamoDB's message for this collision.
    pub fn message(self, one: &DocumentPath, two: &DocumentPath) -> String {
        let verb = match self {
            PathClash::Overlap => "overlap",
            PathClash::Conflict => "conflict",
        };
        format!(
            "Two document paths {verb} with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
            one.listed(),
            two.listed()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        let inner = Item::from([("c".to_string(), AttributeValue::from("deep"))]);
        let list = AttributeValue::L(vec![AttributeValue::NULL, AttributeValue::M(inner)]);
        Item::from([("a".to_string(), AttributeValue::M(Item::from([("b".to_string(), list)])))])
    }

    #[test]
    fn resolves_nested_maps_and_lists() {
        let path = DocumentPath::new("a").field("b").index(1).field("c");
        assert_eq!(path.resolve(&item()), Some(&AttributeValue::from("deep")));
        assert_eq!(DocumentPath::new("a").field("b").index(5).resolve(&item()), None);
        assert_eq!(DocumentPath::new("a").index(0).resolve(&item()), None);
        assert_eq!(DocumentPath::new("missing").resolve(&item()), None);
    }

    #[test]
    fn renders_as_expression_syntax_and_as_dynamodb_lists() {
        let path = DocumentPath::new("a").field("b").index(2);
        assert_eq!(path.to_string(), "a.b[2]");
        assert_eq!(path.listed(), "[a, b, [2]]");
        assert_eq!(path.attribute_name(), "a");
        assert!(!path.is_top_level());
    }

    #[test]
    fn detects_overlapping_and_conflicting_paths() {
        let a = DocumentPath::new("a");
        let ab = DocumentPath::new("a").field("b");
        let a0 = DocumentPath::new("a").index(0);
        let ac = DocumentPath::new("a").field("c");
        assert_eq!(PathClash::between(&a, &ab), Some(PathClash::Overlap));
        assert_eq!(PathClash::between(&ab, &ab), Some(PathClash::Overlap));
        assert_eq!(PathClash::between(&ab, &a0), Some(PathClash::Conflict));
        assert_eq!(PathClash::between(&ab, &ac), None);
        assert_eq!(PathClash::Overlap.first_pair(&[&ac, &ab, &a]), Some((&ac, &a)));
        assert_eq!(
            PathClash::Overlap.message(&a, &ab),
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
    }
}
