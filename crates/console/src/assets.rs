//! The console's static files, compiled into the binary so a node or an edge
//! serves its console with nothing to install and nothing fetched from the
//! internet. `vendor/` holds the chart library (see its README for the
//! version and how it is checked).

/// One static file: its content type and bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const fn asset(content_type: &'static str, body: &'static [u8]) -> Asset {
    Asset { content_type, body }
}

/// Every file, by its path under [`crate::PATH`].
const FILES: &[(&str, Asset)] = &[
    ("/", asset("text/html; charset=utf-8", include_bytes!("../assets/index.html"))),
    (
        "/console.js",
        asset("text/javascript; charset=utf-8", include_bytes!("../assets/console.js")),
    ),
    (
        "/console.css",
        asset("text/css; charset=utf-8", include_bytes!("../assets/console.css")),
    ),
    (
        "/vendor/uPlot.iife.min.js",
        asset(
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/vendor/uPlot.iife.min.js"),
        ),
    ),
    (
        "/vendor/uPlot.min.css",
        asset("text/css; charset=utf-8", include_bytes!("../assets/vendor/uPlot.min.css")),
    ),
];

/// The file a request path names (`/_tandem/console/` is the page), if any.
pub fn lookup(path: &str) -> Option<Asset> {
    let rest = path.strip_prefix(crate::PATH)?;
    FILES.iter().find(|(name, _)| *name == rest).map(|(_, a)| *a)
}

/// Headers every console file is served with: no caching across versions
/// of the binary, no framing, a window of its own, and scripts only from
/// the console itself.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    ),
];

/// What a node or an edge answers to a `GET`/`HEAD` of the console's path:
/// the page's files, and a redirect of `/_tandem/console` to the page;
/// `None` for anything else (the data API, unknown files).
pub fn response(method: &http::Method, path: &str) -> Option<http::Response<bytes::Bytes>> {
    let head = *method == http::Method::HEAD;
    if !head && *method != http::Method::GET {
        return None;
    }
    if path == crate::PATH {
        return http::Response::builder()
            .status(http::StatusCode::MOVED_PERMANENTLY)
            .header(http::header::LOCATION, "/_tandem/console/")
            .body(bytes::Bytes::new())
            .ok();
    }
    let asset = lookup(path)?;
    let mut builder = http::Response::builder()
        .header(http::header::CONTENT_TYPE, asset.content_type)
        .header(http::header::CONTENT_LENGTH, asset.body.len());
    for (name, value) in SECURITY_HEADERS {
        builder = builder.header(*name, *value);
    }
    let body = if head {
        bytes::Bytes::new()
    } else {
        bytes::Bytes::from_static(asset.body)
    };
    builder.body(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_found_and_nothing_else() {
        let page = lookup("/_tandem/console/").expect("page");
        assert!(page.content_type.starts_with("text/html"));
        assert!(std::str::from_utf8(page.body).unwrap().contains("console.js"));
        assert!(lookup("/_tandem/console/vendor/uPlot.iife.min.js").is_some());
        assert!(lookup("/_tandem/console/../meta.redb").is_none());
        assert!(lookup("/_tandem/console/api/overview").is_none());
        assert!(lookup("/_tandem/consolex/").is_none());
    }

    #[test]
    fn the_page_is_answered_with_its_headers_and_the_bare_path_redirects() {
        let page = response(&http::Method::GET, "/_tandem/console/").unwrap();
        assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
        assert_eq!(page.headers()["content-length"], page.body().len().to_string().as_str());
        let head = response(&http::Method::HEAD, "/_tandem/console/console.js").unwrap();
        assert!(head.body().is_empty() && head.headers()["content-length"] != "0");
        let moved = response(&http::Method::HEAD, "/_tandem/console").unwrap();
        assert_eq!(moved.status(), 301);
        assert!(response(&http::Method::POST, "/_tandem/console/").is_none());
        assert!(response(&http::Method::GET, "/_tandem/console/api/overview").is_none());
    }

    #[test]
    fn the_page_loads_only_files_the_console_serves() {
        let page = std::str::from_utf8(lookup("/_tandem/console/").unwrap().body).unwrap();
        for reference in page
            .split(['"', '\''])
            .filter(|s| s.starts_with("/_tandem/") || s.starts_with("http"))
        {
            assert!(lookup(reference).is_some(), "{reference} is not served by the console");
        }
    }
}
