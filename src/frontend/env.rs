//! Environment variables as every front end lists and checks them: a table of [`Variable`]s
//! (each service keeps its own, shown by `--help`), the error naming the variable whose value
//! cannot be used ([`EnvError`]), the check that every listed variable that is set holds text
//! ([`check_utf8`]) and the `Environment:` section of `--help` ([`help_section`]). What each
//! value must be is the service's business.

use std::ffi::OsString;

/// One environment variable: its name and what it holds (one line of `--help`).
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub help: &'static str,
}

/// A variable whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={shown} is not valid: {expected}")]
pub struct EnvError {
    pub name: &'static str,
    /// The value as typed (quoted); `(hidden)` for a key, `(not UTF-8)` for bytes that are not
    /// text, a URL without its userinfo.
    pub shown: String,
    pub expected: String,
}

/// What a value that is not UTF-8 is refused with.
pub const NOT_UTF8: &str = "expected UTF-8 text, but the value holds bytes that are not (check \
                            the encoding of the file or script that sets it)";

/// Checks that every variable of `vars` that `lookup` finds set is UTF-8 text: a value that
/// is not would otherwise read as unset, and a default would silently apply.
pub fn check_utf8(
    vars: &[Variable],
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Result<(), EnvError> {
    for var in vars {
        if lookup(var.name).is_some_and(|v| v.to_str().is_none()) {
            return Err(EnvError {
                name: var.name,
                shown: "(not UTF-8)".into(),
                expected: NOT_UTF8.into(),
            });
        }
    }
    Ok(())
}

/// The `Environment:` section of `--help`: one aligned line per variable.
pub fn help_section(vars: &[Variable]) -> String {
    let width = vars.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut out = String::from("Environment:");
    for v in vars {
        out.push_str(&format!("\n  {:width$}  {}", v.name, v.help));
    }
    out
}
