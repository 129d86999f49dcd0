//! A request refused before s3s sees it (by `auth_checks` or `xml_text`), and
//! its S3 XML error document, escaped so that it always parses.

/// A refusal in S3's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Extra elements of the `<Error>` (`HeadersNotSigned`, `RequestTime`, ...).
    pub details: Vec<(&'static str, String)>,
}

impl Refusal {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn with(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.details.push((element, value.into()));
        self
    }

    /// The S3 XML error document.
    pub fn xml(&self) -> String {
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code,
            xml_escape(&self.message)
        );
        for (name, value) in &self.details {
            out.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
        }
        out.push_str("</Error>");
        out
    }
}

/// Escapes text for an XML element; characters XML 1.0 cannot hold become `?`.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if crate::xml_text::allowed(c) => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_document_escapes_markup_and_drops_what_xml_cannot_hold() {
        let r = Refusal::new(400, "InvalidArgument", "a<b>&\"c\"\u{0}").with("ArgumentName", "x'y");
        assert_eq!(
            r.xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code>\
             <Message>a&lt;b&gt;&amp;&quot;c&quot;?</Message><ArgumentName>x&apos;y</ArgumentName></Error>"
        );
    }
}
