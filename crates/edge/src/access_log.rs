//! Access log in the combined log format, one line per viewer request, on
//! the tracing target `tandem_edge::access` (`TANDEM_LOG=tandem_edge::access=info`
//! shows it; the default filter does too). The user field is the access key
//! id a request was signed with, never a secret; the credentials a presigned
//! URL carries in its query (session token, signature) are written as `REDACTED`.

use std::net::SocketAddr;

use http::HeaderMap;
use time::OffsetDateTime;
use time::macros::format_description;

const CLF_TIME: &[time::format_description::FormatItem<'static>] =
    format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");

/// What the line says about the request.
pub struct Entry<'a> {
    pub peer: SocketAddr,
    pub method: &'a str,
    pub target: &'a str,
    pub version: http::Version,
    pub headers: &'a HeaderMap,
    pub status: u16,
    pub bytes: Option<u64>,
}

fn quoted(v: Option<&str>) -> String {
    let v = v.unwrap_or("-");
    v.chars().map(|c| if c == '"' || c.is_control() { '_' } else { c }).collect()
}

fn user(headers: &HeaderMap) -> String {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .map(|k| quoted(Some(k)).replace(' ', "_"))
        .unwrap_or_else(|| "-".into())
}

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &["x-amz-security-token", "x-amz-signature", "signature"];

/// The request target with the values of [`SECRET_PARAMS`] replaced.
fn redacted(target: &str) -> std::borrow::Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return target.into();
    };
    let secret = |pair: &str| {
        let name = pair.split('=').next().unwrap_or_default();
        SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
    };
    if !query.split('&').any(secret) {
        return target.into();
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match secret(pair) {
            true => format!("{}=REDACTED", pair.split('=').next().unwrap_or_default()),
            false => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&")).into()
}

/// The combined-format line.
pub fn line(e: &Entry<'_>, at: OffsetDateTime) -> String {
    let header = |n: http::header::HeaderName| e.headers.get(n).and_then(|v| v.to_str().ok());
    format!(
        "{} - {} [{}] \"{} {} {:?}\" {} {} \"{}\" \"{}\"",
        e.peer.ip(),
        user(e.headers),
        at.format(CLF_TIME).unwrap_or_default(),
        quoted(Some(e.method)),
        quoted(Some(&redacted(e.target))),
        e.version,
        e.status,
        e.bytes.map_or_else(|| "-".to_string(), |b| b.to_string()),
        quoted(header(http::header::REFERER)),
        quoted(header(http::header::USER_AGENT)),
    )
}

/// Whether access lines are written (the log filter lets them through).
pub fn enabled() -> bool {
    tracing::enabled!(target: "tandem_edge::access", tracing::Level::INFO)
}

pub fn write(e: &Entry<'_>) {
    tracing::info!(target: "tandem_edge::access", "{}", line(e, OffsetDateTime::now_utc()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_presigned_query_are_redacted() {
        let target = "/b/k?X-Amz-Credential=ASIAX%2F20260101&X-Amz-Security-Token=eyJ.secret&X-Amz-Signature=abc&partNumber=1";
        assert_eq!(
            redacted(target),
            "/b/k?X-Amz-Credential=ASIAX%2F20260101&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED&partNumber=1"
        );
        assert_eq!(
            redacted("/b/k?AWSAccessKeyId=AKID&Signature=xyz&Expires=1"),
            "/b/k?AWSAccessKeyId=AKID&Signature=REDACTED&Expires=1"
        );
        assert_eq!(redacted("/b/k?list-type=2"), "/b/k?list-type=2");
        assert_eq!(redacted("/b/k"), "/b/k");
    }

    #[test]
    fn a_line_is_in_combined_log_format_and_quotes_are_neutralised() {
        let mut h = HeaderMap::new();
        h.insert("user-agent", "curl/8 \"evil\"".parse().unwrap());
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, Signature=abc"
                .parse()
                .unwrap(),
        );
        let e = Entry {
            peer: "127.0.0.1:5000".parse().unwrap(),
            method: "GET",
            target: "/index.html",
            version: http::Version::HTTP_11,
            headers: &h,
            status: 200,
            bytes: Some(12),
        };
        let at = time::macros::datetime!(2026-12-02 03:04:05 UTC);
        assert_eq!(
            line(&e, at),
            "127.0.0.1 - AKID [02/Dec/2026:03:04:05 +0000] \"GET /index.html HTTP/1.1\" 200 12 \"-\" \"curl/8 _evil_\""
        );
    }
}
