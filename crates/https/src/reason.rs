//! Why a request failed, in one line: hyper-util's client error says only
//! "client error (Connect)"; the cause (refused, `invalid peer certificate:
//! UnknownIssuer`, ...) is further down its source chain.

use std::error::Error;

/// Depth of the source chain followed.
const MAX_DEPTH: usize = 8;

/// `err` and its sources, joined by ": ", each message once.
pub fn reason(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    for _ in 0..MAX_DEPTH {
        let Some(e) = next else { break };
        let message = e.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        next = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_cause_is_appended_once() {
        let e = Outer(std::io::Error::other("invalid peer certificate: UnknownIssuer"));
        assert_eq!(reason(&e), "client error (Connect): invalid peer certificate: UnknownIssuer");
        let plain = std::io::Error::other("refused");
        assert_eq!(reason(&plain), "refused");
    }
}
