//! `Secret`: a credential (private key, reimport key) that never prints, and the scrubbing
//! helper that removes known secrets from text that came from elsewhere (server messages,
//! transport error chains) before it can reach an error message or a log line.

use std::fmt;

/// A credential. `Debug` and `Display` print `***`; only [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the credential is the empty string (after trimming whitespace).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of each (non-trivial) secret in `text` by `***`.
///
/// Secrets shorter than four characters are skipped: replacing them would mangle ordinary
/// words and such a value is no real credential anyway.
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        let value = secret.expose();
        if value.len() >= 4 && out.contains(value) {
            out = out.replace(value, "***");
        }
        // A key in a URL path may appear percent-encoded.
        let encoded = percent_encode(value);
        if encoded != value && encoded.len() >= 4 && out.contains(&encoded) {
            out = out.replace(&encoded, "***");
        }
    }
    out
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("super-secret-key");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert_eq!(s.expose(), "super-secret-key");
    }

    #[test]
    fn scrub_removes_plain_and_encoded() {
        let s = Secret::new("a b/c-key");
        let text = "url /hooks/a%20b%2Fc-key and raw a b/c-key";
        let out = scrub(text, &[&s]);
        assert!(!out.contains("a b/c-key"));
        assert!(!out.contains("a%20b%2Fc-key"));
        assert_eq!(out, "url /hooks/*** and raw ***");
        // short values are left alone
        assert_eq!(scrub("abc", &[&Secret::new("a")]), "abc");
    }
}
