//! Markdown for the job summary (`$GITHUB_STEP_SUMMARY`): escaping text that comes from a
//! server so that it cannot break a table or inject HTML.

/// Text inside a table cell or code span: no pipe, backtick or line break.
pub fn cell(s: &str) -> String {
    s.replace(['|', '`', '\n', '\r'], " ")
}

/// Free text: HTML-escaped, one line, pipes escaped.
pub fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}
