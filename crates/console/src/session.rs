//! The cookie of a signed-in console operator. It carries temporary
//! credentials of the deployment (an `ASIA...` key id and its self-contained
//! session token, see `tandem-sts`), so every node of every region, and the
//! edge in front of them, accepts it without a lookup, and each request is
//! authorized as the key or identity that signed in. The cookie is
//! `HttpOnly` and `SameSite=Strict`, and is only read from requests that
//! also carry the [`HEADER`] header, which a page of another origin cannot
//! send without a CORS preflight the node refuses: together they keep other
//! sites from acting with an operator's session.

/// Name of the cookie.
pub const COOKIE: &str = "tandem_console";
/// Header every console data request sends (the cross-site guard).
pub const HEADER: &str = "x-tandem-console";
/// How long a console session lasts.
pub const SESSION_SECS: i64 = 8 * 3600;
/// Longest cookie value read (a session token is at most 8 KiB).
const MAX_VALUE: usize = 8 * 1024 + 64;

/// The credentials a console cookie carries.
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

/// The session in a request's `Cookie` header values, if one is there.
pub fn from_cookies<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Session> {
    let value = headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)?;
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

/// The `Set-Cookie` value that signs a browser in for `max_age` seconds;
/// `secure` when the console is served over TLS.
pub fn set_cookie(session: &Session, max_age: i64, secure: bool) -> String {
    cookie(&format!("{}:{}", session.access_key_id, session.session_token), max_age, secure)
}

/// The `Set-Cookie` value that signs a browser out.
pub fn clear_cookie(secure: bool) -> String {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        crate::PATH
    )
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
    fn a_cookie_set_is_read_back() {
        let set = set_cookie(&session(), 60, true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"));
        let value = set.split(';').next().unwrap();
        let header = format!("other=1; {value}; last=2");
        assert_eq!(from_cookies([header.as_str()]), Some(session()));
    }

    #[test]
    fn malformed_or_oversized_cookies_are_no_session() {
        for bad in [
            "tandem_console=",
            "tandem_console=ASIA",
            "tandem_console=:token",
            "tandem_console=AS IA:token",
            "tandem_console=ASIA:tok\"en",
            "tandem_consolex=ASIA:token",
        ] {
            assert_eq!(from_cookies([bad]), None, "{bad}");
        }
        let huge = format!("tandem_console=ASIA:{}", "a".repeat(MAX_VALUE));
        assert_eq!(from_cookies([huge.as_str()]), None);
    }

    #[test]
    fn the_debug_form_hides_the_token() {
        assert!(!format!("{:?}", session()).contains("c2lnbmF0dXJl"));
    }
}
