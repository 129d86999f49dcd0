//! Splits expression text into tokens.
//!
//! The lexer never fails: a character that starts no token becomes a one-char
//! [`TokenKind::Unknown`] token, so the parser reports it as a syntax error
//! with DynamoDB's `token: "…", near: "…"` context. Keywords (`AND`, `SET`,
//! ...) are ordinary identifiers here; the parser recognizes them.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// `[A-Za-z_][A-Za-z0-9_]*`: an attribute name, function name or keyword.
    Identifier,
    /// `#` followed by `[A-Za-z0-9_]+`.
    NamePlaceholder,
    /// `:` followed by `[A-Za-z0-9_]+`.
    ValuePlaceholder,
    /// `[0-9]+`, used as a list index.
    Integer,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Plus,
    Minus,
    /// Any other character.
    Unknown,
    /// End of input; always the last token.
    End,
}

/// A token and the byte range of its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's source text.
    pub fn text(self, source: &str) -> &str {
        &source[self.start..self.end]
    }
}

/// Tokenizes `source`; the result always ends with one [`TokenKind::End`].
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
            continue;
        }
        let (kind, len) = scan_token(source, at);
        tokens.push(Token {
            kind,
            start: at,
            end: at + len,
        });
        at += len;
    }
    tokens.push(Token {
        kind: TokenKind::End,
        start: source.len(),
        end: source.len(),
    });
    tokens
}

/// The kind and byte length of the token starting at `at` (not whitespace).
fn scan_token(source: &str, at: usize) -> (TokenKind, usize) {
    let rest = &source.as_bytes()[at..];
    let word_len = |from: usize| from + rest[from..].iter().take_while(|&&byte| is_word_byte(byte)).count();
    match rest[0] {
        byte if byte.is_ascii_alphabetic() || byte == b'_' => (TokenKind::Identifier, word_len(1)),
        byte if byte.is_ascii_digit() => (TokenKind::Integer, rest.iter().take_while(|byte| byte.is_ascii_digit()).count()),
        b'#' if word_len(1) > 1 => (TokenKind::NamePlaceholder, word_len(1)),
        b':' if word_len(1) > 1 => (TokenKind::ValuePlaceholder, word_len(1)),
        b'<' if rest.get(1) == Some(&b'>') => (TokenKind::NotEqual, 2),
        b'<' if rest.get(1) == Some(&b'=') => (TokenKind::LessOrEqual, 2),
        b'>' if rest.get(1) == Some(&b'=') => (TokenKind::GreaterOrEqual, 2),
        b'<' => (TokenKind::Less, 1),
        b'>' => (TokenKind::Greater, 1),
        b'=' => (TokenKind::Equal, 1),
        b'(' => (TokenKind::LeftParen, 1),
        b')' => (TokenKind::RightParen, 1),
        b'[' => (TokenKind::LeftBracket, 1),
        b']' => (TokenKind::RightBracket, 1),
        b',' => (TokenKind::Comma, 1),
        b'.' => (TokenKind::Dot, 1),
        b'+' => (TokenKind::Plus, 1),
        b'-' => (TokenKind::Minus, 1),
        _ => (TokenKind::Unknown, source[at..].chars().next().map_or(1, char::len_utf8)),
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_and_texts(source: &str) -> Vec<(TokenKind, &str)> {
        tokenize(source).into_iter().map(|token| (token.kind, token.text(source))).collect()
    }

    #[test]
    fn splits_paths_placeholders_and_operators() {
        use TokenKind::*;
        assert_eq!(
            kinds_and_texts("a.b[12] <> :v1 AND #n_2>=size(x)"),
            vec![
                (Identifier, "a"),
                (Dot, "."),
                (Identifier, "b"),
                (LeftBracket, "["),
                (Integer, "12"),
                (RightBracket, "]"),
                (NotEqual, "<>"),
                (ValuePlaceholder, ":v1"),
                (Identifier, "AND"),
                (NamePlaceholder, "#n_2"),
                (GreaterOrEqual, ">="),
                (Identifier, "size"),
                (LeftParen, "("),
                (Identifier, "x"),
                (RightParen, ")"),
                (End, ""),
            ]
        );
    }

    #[test]
    fn stray_characters_become_single_unknown_tokens() {
        use TokenKind::*;
        assert_eq!(
            kinds_and_texts("!é#"),
            vec![(Unknown, "!"), (Unknown, "é"), (Unknown, "#"), (End, "")]
        );
        assert_eq!(kinds_and_texts(": x"), vec![(Unknown, ":"), (Identifier, "x"), (End, "")]);
    }

    #[test]
    fn whitespace_only_input_is_just_the_end() {
        assert_eq!(kinds_and_texts(" \t\r\n"), vec![(TokenKind::End, "")]);
    }
}
