//! The session of a signed-in console operator: a console token of the
//! deployment (`tandem_sts::token::TokenKind::Console`: an `ASIA...` key id
//! and its self-contained token, signed with `[sts] signing_key`), so every
//! node of every region, and the edge, accepts it without a lookup. Signing
//! in answers it in the body; the page keeps it in memory only (never in a
//! cookie or in storage) and sends it in the [`HEADER`] of each data
//! request. So no other page can act with it: not another site's, and not
//! another page of the same origin (an object a user uploaded to a bucket
//! the same host serves), since the console page cannot be framed and does
//! not share its window (`frame-ancestors 'none'`,
//! `Cross-Origin-Opener-Policy: same-origin`). A console token is not an
//! STS session token: it does not sign AWS API requests, and no STS token
//! stands for a console session.

/// Header every console data request carries its session in.
pub const HEADER: &str = "x-tandem-console";
/// How long a console session lasts at most.
pub const SESSION_SECS: i64 = 8 * 3600;
/// Longest header value read (a session token is at most 8 KiB).
const MAX_VALUE: usize = 8 * 1024 + 64;

/// The credentials of a console session.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub access_key_id: String,
    pub session_token: String,
}

impl std::fmt::Debug for Session {
    // The token is a credential: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The session a [`HEADER`] value carries (`KEYID:TOKEN`), if it is one.
    pub fn from_header(value: &str) -> Option<Session> {
        if value.len() > MAX_VALUE {
            return None;
        }
        let (access_key_id, session_token) = value.split_once(':')?;
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        (valid(access_key_id) && valid(session_token)).then(|| Session {
            access_key_id: access_key_id.to_string(),
            session_token: session_token.to_string(),
        })
    }

    /// The session a request carries in its [`HEADER`], if any.
    pub fn of_request(headers: &http::HeaderMap) -> Option<Session> {
        Self::from_header(headers.get(HEADER)?.to_str().ok()?)
    }

    /// The [`HEADER`] value of the session.
    pub fn header_value(&self) -> String {
        format!("{}:{}", self.access_key_id, self.session_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            access_key_id: "ASIA0123456789ABCDEF".into(),
            session_token: "eyJ2IjoxfQ.c2lnbmF0dXJl".into(),
        }
    }

    #[test]
    fn a_header_value_reads_back() {
        assert_eq!(Session::from_header(&session().header_value()), Some(session()));
    }

    #[test]
    fn malformed_or_oversized_values_are_no_session() {
        for bad in ["", "ASIA", ":token", "ASIA:", "AS IA:token", "ASIA:tok\"en", "ASIA:to;ken", "1"] {
            assert_eq!(Session::from_header(bad), None, "{bad}");
        }
        let huge = format!("ASIA:{}", "a".repeat(MAX_VALUE));
        assert_eq!(Session::from_header(&huge), None);
    }

    #[test]
    fn the_debug_form_hides_the_token() {
        assert!(!format!("{:?}", session()).contains("c2lnbmF0dXJl"));
    }
}
