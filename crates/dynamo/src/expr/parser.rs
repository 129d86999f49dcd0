//! Recursive-descent parser for condition, update and projection expressions.
//!
//! It checks syntax only and builds the trees of [`super::ast`]. Alternatives
//! are tried in order with backtracking; like a PEG parser it remembers the
//! furthest token at which any expectation failed and reports that one, with
//! DynamoDB's context window (previous, offending and next token):
//! `Syntax error; token: "-", near: "a-b"`.
//!
//! Grammar (keywords are case-insensitive and cannot be attribute names):
//!
//! ```text
//! condition  := and (OR and)*
//! and        := not (AND not)*
//! not        := NOT not | predicate | '(' condition ')'
//! predicate  := operand' comparator operand'
//!             | operand' BETWEEN operand' AND operand'
//!             | operand' IN '(' operand' (',' operand')* ')'
//!             | call
//! operand'   := '(' operand' ')' | operand
//! operand    := call | :value | path
//! call       := name '(' operand' (',' operand')* ')'
//! path       := name-or-#name ('.' name-or-#name | '[' integer ']')*
//!
//! update     := clause+
//! clause     := SET path '=' set-value (',' ...)* | REMOVE path (',' path)*
//!             | ADD path :value (',' ...)*     | DELETE path :value (',' ...)*
//! set-value  := operand' (('+' | '-') operand')? | '(' set-value ')'
//!
//! projection := path (',' path)*
//! ```

use super::ast::{ActionAst, CallAst, ClauseAst, ClauseKeyword, ConditionAst, OperandAst, PathAst, SetValueAst, StepAst};
use super::condition::Comparator;
use super::lexer::{Token, TokenKind, tokenize};

/// Words that cannot be attribute or function names in condition expressions.
const CONDITION_KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN"];
/// Words that cannot be attribute or function names in update expressions.
const UPDATE_KEYWORDS: &[&str] = &["SET", "REMOVE", "ADD", "DELETE"];
/// Deepest nesting of parentheses and `NOT`s accepted, to bound recursion.
const MAX_NESTING: usize = 100;

/// A syntax error: the offending token and the text around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub token: String,
    pub near: String,
}

impl SyntaxError {
    /// DynamoDB's wording, without the `Invalid <Kind>: ` prefix.
    pub fn message(&self) -> String {
        format!("Syntax error; token: \"{}\", near: \"{}\"", self.token, self.near)
    }
}

/// A parsed condition and whether it wraps something in two pairs of
/// parentheses, which DynamoDB rejects as redundant.
pub(crate) struct ParsedCondition {
    pub condition: ConditionAst,
    pub redundant_parens: bool,
}

/// Parses a ConditionExpression, FilterExpression or KeyConditionExpression.
pub(crate) fn parse_condition(source: &str) -> Result<ParsedCondition, SyntaxError> {
    let mut parser = Parser::new(source, CONDITION_KEYWORDS);
    let condition = parser.run(Parser::condition)?;
    Ok(ParsedCondition {
        condition,
        redundant_parens: parser.has_redundant_parens(),
    })
}

/// Parses an UpdateExpression into its clauses, in order.
pub(crate) fn parse_update(source: &str) -> Result<Vec<ClauseAst>, SyntaxError> {
    Parser::new(source, UPDATE_KEYWORDS).run(Parser::update)
}

/// Parses a ProjectionExpression into its paths, in order.
pub(crate) fn parse_projection(source: &str) -> Result<Vec<PathAst>, SyntaxError> {
    Parser::new(source, &[]).run(|parser| parser.comma_list(Parser::path))
}

/// A failed alternative; where it failed is tracked in [`Parser::furthest`].
struct Backtrack;

type Parsed<T> = Result<T, Backtrack>;

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    at: usize,
    /// Furthest token index at which an expectation failed.
    furthest: usize,
    keywords: &'static [&'static str],
    nesting: usize,
}

impl<'s> Parser<'s> {
    fn new(source: &'s str, keywords: &'static [&'static str]) -> Self {
        Self {
            source,
            tokens: tokenize(source),
            at: 0,
            furthest: 0,
            keywords,
            nesting: 0,
        }
    }

    /// Applies `rule` to the whole input.
    fn run<T>(&mut self, rule: impl FnOnce(&mut Self) -> Parsed<T>) -> Result<T, SyntaxError> {
        let parsed = rule(self).and_then(|value| self.expect(TokenKind::End).map(|_| value));
        parsed.map_err(|Backtrack| self.syntax_error())
    }

    // ---- conditions ----

    fn condition(&mut self) -> Parsed<ConditionAst> {
        let mut left = self.and_condition()?;
        while self.eat_keyword("OR") {
            left = ConditionAst::Or(Box::new(left), Box::new(self.and_condition()?));
        }
        Ok(left)
    }

    fn and_condition(&mut self) -> Parsed<ConditionAst> {
        let mut left = self.not_condition()?;
        while self.eat_keyword("AND") {
            left = ConditionAst::And(Box::new(left), Box::new(self.not_condition()?));
        }
        Ok(left)
    }

    fn not_condition(&mut self) -> Parsed<ConditionAst> {
        if self.eat_keyword("NOT") {
            return Ok(ConditionAst::Not(Box::new(self.nested(Self::not_condition)?)));
        }
        if let Some(predicate) = self.attempt(Self::predicate) {
            return Ok(predicate);
        }
        self.parenthesized(Self::condition)
    }

    fn predicate(&mut self) -> Parsed<ConditionAst> {
        let bare_call = self.at_call();
        let left = self.operand_in_parens()?;
        if let Some(comparator) = self.eat_comparator() {
            return Ok(ConditionAst::Compare(comparator, left, self.operand_in_parens()?));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.operand_in_parens()?;
            self.expect_keyword("AND")?;
            return Ok(ConditionAst::Between(left, low, self.operand_in_parens()?));
        }
        if self.eat_keyword("IN") {
            let candidates = self.parenthesized(|parser| parser.comma_list(Self::operand_in_parens))?;
            return Ok(ConditionAst::In(left, candidates));
        }
        match left {
            OperandAst::Call(call) if bare_call => Ok(ConditionAst::Call(call)),
            _ => self.fail(),
        }
    }

    fn eat_comparator(&mut self) -> Option<Comparator> {
        let comparator = match self.peek().kind {
            TokenKind::Equal => Comparator::Eq,
            TokenKind::NotEqual => Comparator::Ne,
            TokenKind::Less => Comparator::Lt,
            TokenKind::LessOrEqual => Comparator::Le,
            TokenKind::Greater => Comparator::Gt,
            TokenKind::GreaterOrEqual => Comparator::Ge,
            _ => {
                self.note_failure();
                return None;
            }
        };
        self.at += 1;
        Some(comparator)
    }

    // ---- operands and paths ----

    fn operand_in_parens(&mut self) -> Parsed<OperandAst> {
        if self.peek().kind == TokenKind::LeftParen {
            return self.parenthesized(Self::operand_in_parens);
        }
        self.operand()
    }

    fn operand(&mut self) -> Parsed<OperandAst> {
        if self.peek().kind == TokenKind::ValuePlaceholder {
            return Ok(OperandAst::Value(self.advance_text()));
        }
        if self.at_call() {
            let name = self.advance_text();
            let args = self.parenthesized(|parser| parser.comma_list(Self::operand_in_parens))?;
            return Ok(OperandAst::Call(CallAst { name, args }));
        }
        self.path().map(OperandAst::Path)
    }

    fn path(&mut self) -> Parsed<PathAst> {
        let mut steps = vec![self.path_name()?];
        loop {
            if self.eat(TokenKind::Dot) {
                steps.push(self.path_name()?);
            } else if self.eat(TokenKind::LeftBracket) {
                steps.push(self.list_index()?);
                self.expect(TokenKind::RightBracket)?;
            } else {
                return Ok(PathAst { steps });
            }
        }
    }

    fn path_name(&mut self) -> Parsed<StepAst> {
        match self.peek().kind {
            TokenKind::Identifier if !self.at_keyword() => Ok(StepAst::Name(self.advance_text())),
            TokenKind::NamePlaceholder => Ok(StepAst::NamePlaceholder(self.advance_text())),
            _ => self.fail(),
        }
    }

    fn list_index(&mut self) -> Parsed<StepAst> {
        let digits = self.expect(TokenKind::Integer)?.text(self.source);
        Ok(StepAst::Index(digits.parse().unwrap_or(usize::MAX)))
    }

    fn value_placeholder(&mut self) -> Parsed<String> {
        self.expect(TokenKind::ValuePlaceholder)?;
        Ok(self.tokens[self.at - 1].text(self.source).to_string())
    }

    // ---- update expressions ----

    fn update(&mut self) -> Parsed<Vec<ClauseAst>> {
        let mut clauses = vec![self.clause()?];
        while self.peek().kind != TokenKind::End {
            clauses.push(self.clause()?);
        }
        Ok(clauses)
    }

    fn clause(&mut self) -> Parsed<ClauseAst> {
        let Some(keyword) = ClauseKeyword::ALL.into_iter().find(|keyword| self.eat_keyword(keyword.as_str())) else {
            return self.fail();
        };
        let actions = self.comma_list(|parser| parser.action(keyword))?;
        Ok(ClauseAst { keyword, actions })
    }

    fn action(&mut self, keyword: ClauseKeyword) -> Parsed<ActionAst> {
        let path = self.path()?;
        Ok(match keyword {
            ClauseKeyword::Set => {
                self.expect(TokenKind::Equal)?;
                ActionAst::Set(path, self.set_value()?)
            }
            ClauseKeyword::Remove => ActionAst::Remove(path),
            ClauseKeyword::Add => ActionAst::Add(path, self.value_placeholder()?),
            ClauseKeyword::Delete => ActionAst::Delete(path, self.value_placeholder()?),
        })
    }

    fn set_value(&mut self) -> Parsed<SetValueAst> {
        if let Some(value) = self.attempt(Self::arithmetic) {
            return Ok(value);
        }
        self.parenthesized(Self::set_value)
    }

    fn arithmetic(&mut self) -> Parsed<SetValueAst> {
        let left = self.operand_in_parens()?;
        if self.eat(TokenKind::Plus) {
            return Ok(SetValueAst::Plus(left, self.operand_in_parens()?));
        }
        if self.eat(TokenKind::Minus) {
            return Ok(SetValueAst::Minus(left, self.operand_in_parens()?));
        }
        Ok(SetValueAst::Operand(left))
    }

    // ---- combinators and token helpers ----

    /// `item (',' item)*`.
    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Parsed<T>) -> Parsed<Vec<T>> {
        let mut items = vec![item(self)?];
        while self.eat(TokenKind::Comma) {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// `'(' rule ')'`.
    fn parenthesized<T>(&mut self, rule: impl FnOnce(&mut Self) -> Parsed<T>) -> Parsed<T> {
        self.expect(TokenKind::LeftParen)?;
        let inner = self.nested(rule)?;
        self.expect(TokenKind::RightParen)?;
        Ok(inner)
    }

    /// Runs `rule` one nesting level deeper, failing past [`MAX_NESTING`].
    fn nested<T>(&mut self, rule: impl FnOnce(&mut Self) -> Parsed<T>) -> Parsed<T> {
        if self.nesting >= MAX_NESTING {
            return self.fail();
        }
        self.nesting += 1;
        let result = rule(self);
        self.nesting -= 1;
        result
    }

    /// Runs `rule`, rewinding to where it started if it fails.
    fn attempt<T>(&mut self, rule: impl FnOnce(&mut Self) -> Parsed<T>) -> Option<T> {
        let start = self.at;
        let parsed = rule(self);
        if parsed.is_err() {
            self.at = start;
        }
        parsed.ok()
    }

    fn peek(&self) -> Token {
        self.tokens[self.at]
    }

    fn note_failure(&mut self) {
        self.furthest = self.furthest.max(self.at);
    }

    fn fail<T>(&mut self) -> Parsed<T> {
        self.note_failure();
        Err(Backtrack)
    }

    fn eat(&mut self, kind: TokenKind) -> bool {
        let matched = self.peek().kind == kind;
        if matched {
            self.at += 1;
        } else {
            self.note_failure();
        }
        matched
    }

    fn expect(&mut self, kind: TokenKind) -> Parsed<Token> {
        let token = self.peek();
        if self.eat(kind) { Ok(token) } else { Err(Backtrack) }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let token = self.peek();
        let matched = token.kind == TokenKind::Identifier && token.text(self.source).eq_ignore_ascii_case(keyword);
        if matched {
            self.at += 1;
        } else {
            self.note_failure();
        }
        matched
    }

    fn expect_keyword(&mut self, keyword: &str) -> Parsed<()> {
        if self.eat_keyword(keyword) { Ok(()) } else { Err(Backtrack) }
    }

    fn at_keyword(&self) -> bool {
        let text = self.peek().text(self.source);
        self.keywords.iter().any(|keyword| keyword.eq_ignore_ascii_case(text))
    }

    /// Whether the next tokens are a function name and its `(`.
    fn at_call(&self) -> bool {
        self.peek().kind == TokenKind::Identifier && !self.at_keyword() && self.tokens[self.at + 1].kind == TokenKind::LeftParen
    }

    fn advance_text(&mut self) -> String {
        self.at += 1;
        self.tokens[self.at - 1].text(self.source).to_string()
    }

    fn syntax_error(&self) -> SyntaxError {
        let index = self.furthest.min(self.tokens.len() - 1);
        let token = self.tokens[index];
        let start = index.checked_sub(1).map_or(token.start, |previous| self.tokens[previous].start);
        let end = self.tokens.get(index + 1).map_or(token.end, |next| next.end);
        let text = if token.kind == TokenKind::End {
            "<EOF>"
        } else {
            token.text(self.source)
        };
        SyntaxError {
            token: text.to_string(),
            near: self.source[start..end].to_string(),
        }
    }

    /// Whether some `(` directly wraps another parenthesized group, as in
    /// `((a = :v))`. Call and `IN` parentheses do not count as wrappers.
    fn has_redundant_parens(&self) -> bool {
        let closers = matching_closers(&self.tokens);
        (0..self.tokens.len()).any(|open| {
            let (Some(outer_close), Some(inner_close)) = (closers[open], closers.get(open + 1).copied().flatten()) else {
                return false;
            };
            !self.opens_call_or_list(open) && inner_close + 1 == outer_close
        })
    }

    fn opens_call_or_list(&self, open: usize) -> bool {
        let Some(previous) = open.checked_sub(1).map(|index| self.tokens[index]) else {
            return false;
        };
        let text = previous.text(self.source);
        previous.kind == TokenKind::Identifier && !["AND", "OR", "NOT", "BETWEEN"].iter().any(|word| word.eq_ignore_ascii_case(text))
    }
}

/// For each `(` token, the index of its matching `)`; `None` elsewhere.
fn matching_closers(tokens: &[Token]) -> Vec<Option<usize>> {
    let mut closers = vec![None; tokens.len()];
    let mut open = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        match token.kind {
            TokenKind::LeftParen => open.push(index),
            TokenKind::RightParen => {
                if let Some(opener) = open.pop() {
                    closers[opener] = Some(index);
                }
            }
            _ => {}
        }
    }
    closers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> StepAst {
        StepAst::Name(text.to_string())
    }

    fn path(steps: Vec<StepAst>) -> OperandAst {
        OperandAst::Path(PathAst { steps })
    }

    fn value(text: &str) -> OperandAst {
        OperandAst::Value(text.to_string())
    }

    fn condition(source: &str) -> ConditionAst {
        parse_condition(source)
            .unwrap_or_else(|error| panic!("{source}: {}", error.message()))
            .condition
    }

    fn condition_error(source: &str) -> String {
        parse_condition(source).err().unwrap_or_else(|| panic!("{source} parsed")).message()
    }

    #[test]
    fn parses_nested_paths_and_placeholders() {
        let parsed = condition("a.#b[2].c = :v");
        let expected_path = path(vec![name("a"), StepAst::NamePlaceholder("#b".into()), StepAst::Index(2), name("c")]);
        assert_eq!(parsed, ConditionAst::Compare(Comparator::Eq, expected_path, value(":v")));
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let parsed = condition("NOT a = :a AND b = :b OR c = :c");
        let compare = |n: &str, v: &str| ConditionAst::Compare(Comparator::Eq, path(vec![name(n)]), value(v));
        let expected = ConditionAst::Or(
            Box::new(ConditionAst::And(
                Box::new(ConditionAst::Not(Box::new(compare("a", ":a")))),
                Box::new(compare("b", ":b")),
            )),
            Box::new(compare("c", ":c")),
        );
        assert_eq!(parsed, expected);
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert!(matches!(condition("a between :x and :y or not b in (:z)"), ConditionAst::Or(..)));
    }

    #[test]
    fn parentheses_group_conditions_and_operands() {
        assert!(matches!(condition("(a = :v)"), ConditionAst::Compare(..)));
        assert!(matches!(condition("(size(a)) > :v"), ConditionAst::Compare(..)));
        assert!(matches!(condition("(attribute_exists(a))"), ConditionAst::Call(..)));
        assert!(matches!(condition("a = :v AND (b = :w OR c = :x)"), ConditionAst::And(..)));
    }

    #[test]
    fn flags_doubled_parentheses_only() {
        let redundant = |source: &str| parse_condition(source).ok().unwrap().redundant_parens;
        assert!(redundant("((a = :v))"));
        assert!(redundant("((a)) = :v"));
        assert!(redundant("NOT ((a = :v))"));
        assert!(!redundant("(a = :v) AND (b = :v)"));
        assert!(!redundant("((a = :v) AND b = :w)"));
        assert!(!redundant("attribute_exists((a))"));
        assert!(!redundant("a IN ((:x), :y)"));
    }

    #[test]
    fn syntax_errors_name_the_furthest_bad_token_and_its_neighbours() {
        assert_eq!(condition_error("a-b"), r#"Syntax error; token: "-", near: "a-b""#);
        assert_eq!(
            condition_error("attribute_exists(car_id) AND NOT #flag"),
            r##"Syntax error; token: "<EOF>", near: "#flag""##
        );
        assert_eq!(condition_error("()"), r#"Syntax error; token: ")", near: "()""#);
        assert_eq!(
            condition_error("tenant:abc123-"),
            r#"Syntax error; token: ":abc123", near: "tenant:abc123-""#
        );
        assert_eq!(condition_error("a = :v :w"), r#"Syntax error; token: ":w", near: ":v :w""#);
        assert_eq!(condition_error("a = "), r#"Syntax error; token: "<EOF>", near: "= ""#);
        assert_eq!(condition_error("and = :v"), r#"Syntax error; token: "and", near: "and =""#);
        assert_eq!(condition_error("a[x] = :v"), r#"Syntax error; token: "x", near: "[x]""#);
        assert_eq!(condition_error(""), r#"Syntax error; token: "<EOF>", near: """#);
    }

    #[test]
    fn parses_update_clauses_in_order() {
        let clauses = parse_update("SET a = b + :one, c = list_append(c, :l) REMOVE d[1] add e :n DELETE f :s")
            .ok()
            .unwrap();
        let keywords: Vec<_> = clauses.iter().map(|clause| clause.keyword).collect();
        assert_eq!(
            keywords,
            [ClauseKeyword::Set, ClauseKeyword::Remove, ClauseKeyword::Add, ClauseKeyword::Delete]
        );
        assert_eq!(clauses[0].actions.len(), 2);
        assert!(matches!(&clauses[0].actions[0], ActionAst::Set(_, SetValueAst::Plus(..))));
    }

    #[test]
    fn set_values_accept_parentheses_around_or_inside_arithmetic() {
        for source in [
            "SET a = (b + :c)",
            "SET a = (b) + :c",
            "SET a = (:c)",
            "SET a = if_not_exists(a, :z) - :one",
        ] {
            assert!(parse_update(source).is_ok(), "{source}");
        }
    }

    #[test]
    fn update_syntax_errors_match_dynamodb() {
        let message = |source: &str| parse_update(source).err().unwrap().message();
        assert_eq!(
            message("INVALID SYNTAX HERE"),
            r#"Syntax error; token: "INVALID", near: "INVALID SYNTAX""#
        );
        assert_eq!(message("SET a = :v,"), r#"Syntax error; token: "<EOF>", near: ",""#);
        assert_eq!(message("SET a = b + c + d"), r#"Syntax error; token: "+", near: "c + d""#);
        assert_eq!(message("ADD a b"), r#"Syntax error; token: "b", near: "a b""#);
        assert_eq!(message("SET set = :v"), r#"Syntax error; token: "set", near: "SET set =""#);
    }

    #[test]
    fn parses_projection_lists() {
        let paths = parse_projection("a, b.c , d[0]").ok().unwrap();
        assert_eq!(paths.len(), 3);
        assert_eq!(
            parse_projection("!!! INVALID !!!").err().unwrap().message(),
            r#"Syntax error; token: "!", near: "!!""#
        );
    }

    #[test]
    fn deep_nesting_is_a_syntax_error_not_a_stack_overflow() {
        let deep = format!("{}a = :v{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse_condition(&deep).is_err());
        let nots = format!("{}a = :v", "NOT ".repeat(5000));
        assert!(parse_condition(&nots).is_err());
        let shallow = format!("{}a = :v{}", "(".repeat(50), ")".repeat(50));
        assert!(parse_condition(&shallow).is_ok());
    }

    #[test]
    fn huge_list_indexes_saturate() {
        let paths = parse_projection("a[99999999999999999999999]").ok().unwrap();
        assert_eq!(paths[0].steps[1], StepAst::Index(usize::MAX));
    }
}
