//! Path patterns of behaviours: `*` matches any run of characters
//! (slashes included), everything else matches itself.

/// Whether `path` matches `pattern`. Linear in the sizes (no backtracking blow-up).
pub fn matches(pattern: &str, path: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), path.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_any_run_and_the_rest_matches_exactly() {
        assert!(matches("*", "/anything/at/all"));
        assert!(matches("/api/*", "/api/v1/x"));
        assert!(!matches("/api/*", "/apix"));
        assert!(matches("/img/*.jpg", "/img/a/b.jpg"));
        assert!(!matches("/img/*.jpg", "/img/a/b.png"));
        assert!(matches("/exact", "/exact"));
        assert!(!matches("/exact", "/exact/"));
        let long = "a".repeat(5000);
        assert!(!matches("*a*a*a*a*a*b", &long), "no exponential backtracking");
    }
}
