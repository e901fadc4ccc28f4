//! GitHub workflow commands (`::name key=value::data` lines on stdout) and their escaping.
//!
//! The runner decodes `%25`, `%0D`, `%0A` in a command's data, and additionally `%3A`, `%2C`
//! in its property values; everything we put in a command goes through [`escape_data`] or
//! [`escape_property`]. Text we only log (server-supplied entry details, step names) goes
//! through [`neutralize`], so that it can never start a line that the runner would read as a
//! command.

/// Escapes a command's data: `%` → `%25`, `\r` → `%0D`, `\n` → `%0A`.
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a property value: as [`escape_data`], plus `:` → `%3A` and `,` → `%2C`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::value`: the runner replaces the value with `***` in every later log line.
pub fn add_mask(value: &str) -> String {
    format!("::add-mask::{}", escape_data(value))
}

/// `::group::title`: the following lines fold under the title until [`end_group`].
pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

/// `::endgroup::`.
pub fn end_group() -> &'static str {
    "::endgroup::"
}

/// `::error title=…::message`: an error annotation on the run's summary page.
pub fn error(title: Option<&str>, message: &str) -> String {
    match title {
        Some(t) => format!(
            "::error title={}::{}",
            escape_property(t),
            escape_data(message)
        ),
        None => format!("::error::{}", escape_data(message)),
    }
}

/// Makes text safe to print as one plain log line: line breaks become spaces, a line that
/// would start with `::` (the runner ignores leading blanks) gets `> ` in front, and the legacy
/// `##[` command marker is broken up.
pub fn neutralize(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let safe = one_line.replace("##[", "# #[");
    if safe.trim_start().starts_with("::") {
        format!("> {safe}")
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_per_the_workflow_command_rules() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a: b, c%"), "a%3A b%2C c%25");
        assert_eq!(
            error(Some("Import failed: x, y"), "line1\nline2 100%"),
            "::error title=Import failed%3A x%2C y::line1%0Aline2 100%25"
        );
        assert_eq!(error(None, "m"), "::error::m");
        assert_eq!(add_mask("k%1"), "::add-mask::k%251");
        assert_eq!(group("a\nb"), "::group::a%0Ab");
    }

    #[test]
    fn neutralized_text_is_never_a_command() {
        assert_eq!(neutralize("ok\n::add-mask::x"), "ok ::add-mask::x");
        assert_eq!(neutralize("  ::error::x"), ">   ::error::x");
        assert_eq!(neutralize("a ##[error]b"), "a # #[error]b");
    }
}
