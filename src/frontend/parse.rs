//! Generic parsers for values users type into any front end (a flag, an action input, an
//! environment variable). Each error says what was expected; the caller names the field.
//! Values whose rules belong to one service are parsed in that service's slice.

use std::time::Duration;

/// Parses a humantime duration, with a message that says what a valid value looks like.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("expected a duration such as 30s, 5m or 1h30m, got {s:?} ({e})"))
}

/// `text` with the userinfo of every URL in it (`scheme://user:password@host`) replaced by
/// `***`: for text this program did not compose (an argument parser's error echoing what was
/// typed), where a URL's password could otherwise be printed.
pub fn redact_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first `/`, `?`, `#`, quote or blank; its userinfo (if
        // any) at the last `@` before that.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '\'' | '"' | '`') || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_wherever_a_url_appears() {
        assert_eq!(
            redact_url_userinfo("invalid value 'http://u:hunter2@h.test:8/x' for '--x'"),
            "invalid value 'http://***@h.test:8/x' for '--x'"
        );
        assert_eq!(
            redact_url_userinfo("a https://h/ b ftp://p@q c"),
            "a https://h/ b ftp://***@q c"
        );
        assert_eq!(redact_url_userinfo("no url at all"), "no url at all");
        assert_eq!(redact_url_userinfo("x://"), "x://");
    }
}
